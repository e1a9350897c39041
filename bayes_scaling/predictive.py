"""The predictive read-out of a fit: from posterior draws to scores of any model.

:func:`column_params` reads the posterior back into per-column arrays once;
:func:`predictive_draws` pushes capability draws through the linear predictor and the
measurement layer of :mod:`bayes_scaling.measurement`; :func:`capability_from_compute`
draws capabilities of unreleased models from
:func:`~bayes_scaling.capability_prior.capability_prior`; :func:`posterior_predictive`
writes replicated scores of the fit's own observations as ArviZ's ``posterior_predictive``
group.

Examples
--------
>>> from bayes_scaling import datasets
>>> from bayes_scaling.estimator import CapabilityModel
>>> fit = CapabilityModel("k1").fit(datasets.load("base-llm"), draws=100, tune=100,
...                                 chains=2)  # doctest: +SKIP
>>> pp = posterior_predictive(fit, np.random.default_rng(0))  # doctest: +SKIP
>>> list(pp.data_vars)  # doctest: +SKIP
['score']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from bayes_scaling.capability_prior import capability_prior, mixture_sd_multipliers
from bayes_scaling.errors import BayesScalingError
from bayes_scaling.measurement import draw, expected_score, linear_predictor, precision
from bayes_scaling.model import benchmark_residual, effective_floor, target_deviation_draws

if TYPE_CHECKING:
    from bayes_scaling.estimator import FitResults


def predictive_draws(
    fit: FitResults,
    capability: xr.DataArray,
    columns: Sequence[str],
    rng: np.random.Generator,
    *,
    noise: bool = True,
    deviation: bool | None = None,
    scores: xr.DataArray | None = None,
    families: Sequence[str] | None = None,
    params: dict[str, np.ndarray] | None = None,
) -> xr.DataArray:
    """Scores implied by capability draws, on the [0, 1] scale of each column.

    Parameters
    ----------
    capability : xarray.DataArray
        Draws over (``sample``, ``model``, ``capability``), ``sample`` aligned with
        :meth:`draws` (general axis centred, as in the posterior).
    columns : sequence of str
        Benchmarks and/or targets of the fit.
    rng : numpy.random.Generator
        Source of measurement noise (only used when ``noise``).
    noise : bool
        Include measurement noise (posterior predictive) or return the expected score.
    deviation : bool, optional
        Add one draw of each downstream target's own per-model logit deviation
        (``target_spread``); default: as ``noise``. A model without a score on a
        benchmark that a target reads a residual from also gets a draw of that
        residual (else zero).
    scores : xarray.DataArray, optional
        Observed benchmark scores (``model``, ``benchmark``) of the capability draws'
        models, whose residuals downstream targets read; default: the fit's data
        (NaN for a model it does not hold).
    families : sequence of str, optional
        Family of each model of ``capability``; default: the fit's data (a model it
        does not hold counts as a new family). A target's offset for a family of the
        fit is its posterior draw; a new family gets a fresh draw (with ``deviation``).
    params : dict, optional
        ``column_params(fit, columns)``, for a caller that reads the same columns for
        several chunks of models.

    Returns
    -------
    xarray.DataArray
        Dims (``sample``, ``model``, ``column``).
    """
    if params is None:
        params = column_params(fit, columns)
    # Positional arithmetic: ``sample`` coords of the caller's draws may be a subset
    # or a relabelling of this fit's, and xarray would align them by label.
    centre = fit.draws("S").mean("model").transpose("sample", "capability").to_numpy()
    cap = capability.transpose("sample", "model", "capability").to_numpy() - centre[:, None, :]
    eta = linear_predictor(params["intercept"][:, None, :], params["weights"][:, None], cap)
    deviate = noise if deviation is None else deviation
    if params["residual_weights"].any():
        models = [str(m) for m in capability["model"].to_numpy()]
        resid = _benchmark_residuals(fit, cap, models, scores, rng if deviate else None)
        eta = linear_predictor(eta, params["residual_weights"][:, None], resid)
    if "target_family_deviation" in fit.posterior and params["spread"].any():
        eta = eta + _family_offsets(fit, capability, columns, families, rng, deviate)
    if deviate and params["spread"].any():
        # A target's own deviation for a model (zero for benchmarks): a fresh draw,
        # as for a model the fit has not seen.
        dof = fit.spec.priors.tail_dof if fit.spec.robust else None
        eta = eta + target_deviation_draws(params["spread"][:, None, :], eta.shape, rng, dof)
    p = expected_score(eta, params["floor"][:, None, :], params["ceiling"], params["linear"])
    if noise:
        p = draw(
            p,
            precision(params["noise"][:, None, :]),
            params["n_items"],
            rng,
            fit.spec.measurement,
            params["linear"],
        )
    return xr.DataArray(
        p,
        dims=("sample", "model", "column"),
        coords={"model": capability["model"].to_numpy(), "column": list(columns)},
    )


def _family_offsets(
    fit: FitResults,
    capability: xr.DataArray,
    columns: Sequence[str],
    families: Sequence[str] | None,
    rng: np.random.Generator,
    fresh: bool,
) -> np.ndarray:
    """Targets' family offsets (sample, model, column); zero for benchmarks."""
    models = [str(m) for m in capability["model"].to_numpy()]
    if families is None:
        fam_of = dict(
            zip(
                map(str, fit.data["model"].to_numpy()),
                map(str, fit.data["family"].to_numpy()),
                strict=True,
            )
        )
        families = [fam_of.get(m, "") for m in models]
    dev = fit.draws("target_family_deviation")
    known = [str(f) for f in dev["family"].to_numpy()]
    targets = [str(t) for t in dev["target"].to_numpy()]
    n_s = dev.sizes["sample"]
    out = np.zeros((n_s, len(models), len(columns)))
    for c_i, c in enumerate(columns):
        if c not in targets:
            continue
        d = dev.sel(target=c).transpose("sample", "family").to_numpy()
        sd = fit.draws("target_family_spread").sel(target=c).to_numpy()
        for m_i, f in enumerate(families):
            if f in known:
                out[:, m_i, c_i] = d[:, known.index(f)]
            elif fresh:
                out[:, m_i, c_i] = rng.normal(size=n_s) * sd
    return out


def _benchmark_residuals(
    fit: FitResults,
    cap: np.ndarray,
    models: Sequence[str],
    scores: xr.DataArray | None,
    rng: np.random.Generator | None,
) -> np.ndarray:
    """Residual logits (sample, model, benchmark) of centred capability draws ``cap``.

    As in the graph (:func:`bayes_scaling.model.build_model`): the logit of a score's
    place in its range minus the capabilities' prediction, both squeezed by
    ``RESID_EPS``. Missing scores get zero, or with ``rng`` a draw from the spread of
    the fit's own residuals on that benchmark.
    """
    b = fit.draws("b").transpose("sample", "benchmark").to_numpy()
    lam = fit.draws("loadings").transpose("sample", "benchmark", "capability").to_numpy()
    bench = [str(c) for c in fit.draws("b")["benchmark"].to_numpy()]
    data = fit.data.transpose("model", "benchmark").sel(benchmark=bench)
    floor = data["floor"].to_numpy().astype(float)
    span = data["ceiling"].to_numpy().astype(float) - floor

    def resid(c: np.ndarray, y: np.ndarray) -> np.ndarray:
        eta = linear_predictor(b[:, None, :], lam[:, None], c)
        return benchmark_residual((y - floor) / span, eta)

    if scores is None:
        fit_models = [str(m) for m in data["model"].to_numpy()]
        y = np.full((len(models), len(bench)), np.nan)
        for i, m in enumerate(models):
            if m in fit_models:
                y[i] = data["score"].sel(model=m).to_numpy()
    else:
        y = scores.transpose("model", "benchmark").reindex(model=list(models), benchmark=bench)
        y = y.to_numpy().astype(float)
    # A linear column has no logit residual (as in the graph): zero, never drawn.
    lin = data["linear"].to_numpy().astype(bool) if "linear" in data.coords else False
    missing = ~np.isfinite(y) | lin
    out = resid(cap, np.where(missing, floor, y))
    if rng is None:
        return np.where(missing[None], 0.0, out)
    # The spread of residuals over the fit's own scores, per draw and benchmark.
    s_fit = fit.draws("S").transpose("sample", "model", "capability").to_numpy()
    s_fit = s_fit - s_fit.mean(axis=1, keepdims=True)
    y_fit = data["score"].to_numpy().astype(float)
    seen = np.isfinite(y_fit)
    r_fit = resid(s_fit, np.where(seen, y_fit, floor))
    rms = np.sqrt((np.where(seen[None], r_fit, 0.0) ** 2).sum(1) / np.maximum(seen.sum(0), 1))
    fresh = np.where(lin, 0.0, rng.normal(size=out.shape) * rms[:, None, :])
    return np.where(missing[None], fresh, out)


def column_params(fit: FitResults, columns: Sequence[str]) -> dict[str, np.ndarray]:
    post_b = fit.draws("b")
    bench = list(post_b["benchmark"].to_numpy())
    targets = list(fit.posterior["target"].to_numpy()) if "target" in fit.posterior.dims else []
    data = fit.data
    tdata = fit.targets
    inter, weights, noise, floor, ceiling, n_items, linear = [], [], [], [], [], [], []
    spread, resid_w = [], []
    n_s = post_b.sizes["sample"]
    has_resid = "target_residual_weights" in fit.posterior
    # A (sample, column, benchmark) block of zeros for a fit without targets is 1.6 GB at
    # 12,000 draws of 130 columns: build it only when some column reads residuals.
    reads_resid = has_resid and any(c in targets for c in columns)
    post_l = fit.draws("loadings") if any(c in bench for c in columns) else None
    post_n = fit.draws("noise") if post_l is not None else None
    for c in columns:
        if reads_resid and c in targets:
            resid_w.append(
                fit.draws("target_residual_weights")
                .sel(target=c)
                .transpose("sample", "benchmark")
                .sel(benchmark=bench)
                .to_numpy()
            )
        elif reads_resid:
            resid_w.append(np.zeros((n_s, len(bench))))
        if c in bench:
            inter.append(post_b.sel(benchmark=c).to_numpy())
            weights.append(post_l.sel(benchmark=c).to_numpy())  # type: ignore[union-attr]
            noise.append(post_n.sel(benchmark=c).to_numpy())  # type: ignore[union-attr]
            spread.append(np.zeros(post_b.sizes["sample"]))
            row = data.sel(benchmark=c)
        elif c in targets:
            inter.append(fit.draws("target_intercept").sel(target=c).to_numpy())
            weights.append(fit.draws("target_weights").sel(target=c).to_numpy())
            noise.append(fit.draws("target_noise").sel(target=c).to_numpy())
            spread.append(
                fit.draws("target_spread").sel(target=c).to_numpy()
                if "target_spread" in fit.posterior
                else np.zeros(post_b.sizes["sample"])
            )
            row = tdata.sel(benchmark=c)  # type: ignore[union-attr]
        else:
            raise BayesScalingError(f"column {c!r} is neither a benchmark nor a target of this fit")
        lo, hi = float(row["floor"]), float(row["ceiling"])
        if c in targets and "target_floor" in fit.posterior:
            share = fit.draws("target_floor").sel(target=c).to_numpy()
            floor.append(effective_floor(share, lo, hi, around=fit.spec.floor_around_chance))
        else:
            floor.append(np.full(n_s, lo))
        ceiling.append(hi)
        n = float(row["n_items"]) if "n_items" in row.coords else np.nan
        n_items.append(n)
        linear.append(bool(row["linear"]) if "linear" in row.coords else False)
    return {
        "intercept": np.stack(inter, axis=-1),
        "weights": np.stack(weights, axis=1),
        "noise": np.stack(noise, axis=-1),
        "spread": np.stack(spread, axis=-1),
        "residual_weights": np.stack(resid_w, axis=1)
        if reads_resid
        else np.zeros((n_s, len(columns), 0)),
        "floor": np.stack(floor, axis=-1),
        "ceiling": np.asarray(ceiling),
        "n_items": np.asarray(n_items),
        "linear": np.asarray(linear, dtype=bool),
    }


def capability_from_compute(
    fit: FitResults,
    family: Sequence[str],
    log10_flops: Sequence[float],
    rng: np.random.Generator,
    names: Sequence[str] | None = None,
    release: Sequence[float] | None = None,
) -> xr.DataArray:
    """Capability draws of (possibly unreleased) models from family and compute alone.

    One draw per posterior draw from :func:`~bayes_scaling.capability_prior.capability_prior`:
    a family of the fit uses its own posterior effect; an unseen family draws its effect
    from the population ``Normal(0, tau)``, which widens the interval honestly.

    Parameters
    ----------
    fit : FitResults
    family : sequence of str
        Family of each model.
    log10_flops : sequence of float
        Training compute of each model (log10 FLOPs; NaN = unknown).
    rng : numpy.random.Generator
    names : sequence of str, optional
        Model labels (default ``family@log10_flops``).
    release : sequence of float, optional
        Release date of each model (decimal years; NaN = unknown). Read only by a fit with
        a time trend (its data had a ``Release Date`` column), for a family the fit does
        not hold; an unknown date there spreads over the fit's family dates.

    Returns
    -------
    xarray.DataArray
        Dims (``sample``, ``model``, ``capability``), general axis centred as in the
        posterior.
    """
    loc, scale = prior_of(fit, family, log10_flops, release=release, rng=rng)
    out = loc + scale * rng.normal(size=loc.shape)
    labels = (
        list(names)
        if names is not None
        else [f"{f}@{lf:.2f}" for f, lf in zip(family, log10_flops, strict=True)]
    )
    return xr.DataArray(
        out,
        dims=("sample", "model", "capability"),
        coords={"model": labels, "capability": fit.posterior["capability"].to_numpy()},
    )


def prior_of(
    fit: FitResults,
    family: Sequence[str],
    log10_flops: Sequence[float],
    pick: np.ndarray | None = None,
    release: Sequence[float] | None = None,
    rng: np.random.Generator | None = None,
    weights: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-draw prior location and scale (sample, model, capability) of new models.

    ``pick`` selects posterior draws (indices into :meth:`FitResults.draws` order);
    ``release`` as in :func:`capability_from_compute`. A Student-t fit
    (``tails = "student-t"``) is normal given each model's scale-mixture weight and its
    family's: ``weights`` (each (sample, model)) gives them, else they are drawn from their
    Gamma prior with ``rng``, one per draw and model.
    """
    sel = slice(None) if pick is None else pick
    if float(fit.tree.attrs["x_sd"]) == 0.0 and np.isfinite(np.asarray(log10_flops, float)).any():
        raise BayesScalingError(
            "the fit has no training compute, so compute cannot place a model; "
            "place it by its benchmarks (forecast --from benchmarks)"
        )

    def arr(name: str, *dims: str) -> np.ndarray:
        return fit.draws(name).transpose("sample", *dims).to_numpy()[sel].astype(float)

    alpha = fit.draws("alpha")
    fams = [str(f) for f in alpha["family"].to_numpy()]
    tau = arr("tau", "capability")
    resid = np.zeros_like(tau) if fit.spec.compute_only else arr("resid_sd", "capability")
    has_slopes = "slope" in fit.posterior
    trend = fit.time_trend
    resid_mult = tau_mult = None
    if fit.spec.robust and weights is not None:
        resid_mult, tau_mult = (1.0 / np.sqrt(np.asarray(w, dtype=float)) for w in weights)
    elif fit.spec.robust:
        if rng is None:
            raise BayesScalingError(
                "a Student-t fit's prior of a new model is a scale mixture: pass an rng"
            )
        dof, shape = fit.spec.priors.tail_dof, (tau.shape[0], len(family))
        resid_mult = mixture_sd_multipliers(dof, shape, rng)
        tau_mult = mixture_sd_multipliers(dof, shape, rng)
    dates = np.full(len(family), np.nan) if release is None else np.asarray(release, float)
    return capability_prior(
        x=np.asarray(log10_flops, dtype=float) - fit.x_mean,
        family_index=np.array([fams.index(f) if f in fams else -1 for f in family]),
        alpha=arr("alpha", "family", "capability"),
        tau=tau,
        resid_sd=resid,
        x_sd=float(fit.tree.attrs["x_sd"]),
        slope=arr("slope", "family") if has_slopes else None,
        tau_slope=arr("tau_slope") if has_slopes else None,
        t=None if trend is None else dates - trend[0],
        t_sd=0.0 if trend is None else trend[1],
        per_year=None if trend is None else arr("time_trend"),
        resid_mult=resid_mult,
        tau_mult=tau_mult,
    )


#: Posterior draws (all chains) per block of :func:`posterior_predictive`, at most.
PREDICTIVE_BLOCK = 500
#: ... and at most this many (draw, model, column) cells per block: each float64 temporary
#: of the expected scores is then 40 MB, whatever the table's size.
PREDICTIVE_CELLS = 5_000_000


def posterior_predictive(fit: FitResults, rng: np.random.Generator) -> xr.Dataset:
    """Replicated scores of the fit's own observations: ArviZ's ``posterior_predictive``.

    Variable ``score`` over (``chain``, ``draw``, ``obs``), aligned with the
    ``observed_data`` group, so ``az.plot_ppc_*``, ``az.loo_pit`` and the arviz-stats
    metrics work on a results file. A downstream target's own per-model logit deviation is
    drawn afresh, as the held-out log-likelihood integrates it out.

    Parameters
    ----------
    fit : FitResults
    rng : numpy.random.Generator

    Returns
    -------
    xarray.Dataset
    """
    obs = fit.tree["observed_data"].to_dataset()
    models = [str(m) for m in obs["obs_model"].to_numpy()]
    columns = [str(c) for c in obs["obs_column"].to_numpy()]
    n_chain, n_draw = fit.posterior.sizes["chain"], fit.posterior.sizes["draw"]
    uniq_m = list(dict.fromkeys(models))
    uniq_c = list(dict.fromkeys(columns))
    mi = np.array([uniq_m.index(m) for m in models], dtype=np.int64)
    ci = np.array([uniq_c.index(c) for c in columns], dtype=np.int64)
    # float32: replicated scores need no more, and the group is as large as the
    # pointwise log-likelihood (a quarter of a default results file).
    values = np.empty((n_chain, n_draw, len(models)), dtype=np.float32)
    # A block of draws at a time, expected scores included: the dense (draws, models,
    # columns) expected scores and the measurement draw's float64 temporaries peaked at
    # 6.2 GiB for 5,000 models.
    cells = len(uniq_m) * len(uniq_c)
    per_block = max(1, min(PREDICTIVE_BLOCK, PREDICTIVE_CELLS // max(cells, 1)) // n_chain)
    for start in range(0, n_draw, per_block):
        block = slice(start, min(start + per_block, n_draw))
        sub = fit.select_draws(block)
        cap = sub.draws("S").sel(model=uniq_m)
        params = column_params(sub, uniq_c)
        p = predictive_draws(
            sub, cap, uniq_c, rng, noise=False, deviation=True, params=params
        ).to_numpy()
        replicated = draw(
            p[:, mi, ci],
            precision(params["noise"][:, ci]),
            params["n_items"][ci],
            rng,
            fit.spec.measurement,
            params["linear"][ci],
        )
        values[:, block] = replicated.reshape(n_chain, -1, len(models))
    return xr.Dataset(
        {"score": (("chain", "draw", "obs"), values)},
        coords={
            "chain": fit.posterior["chain"].to_numpy(),
            "draw": fit.posterior["draw"].to_numpy(),
            **{name: obs[name] for name in ("obs", "obs_model", "obs_column")},
        },
    )


def predictions(
    fit: FitResults,
    capability: xr.DataArray,
    columns: Sequence[str],
    rng: np.random.Generator,
    **kwargs: object,
) -> xr.DataTree:
    """Posterior predictive scores of new models as ArviZ's ``predictions`` group.

    Parameters
    ----------
    fit : FitResults
    capability : xarray.DataArray
        Capability draws of the new models over (``sample``, ``model``, ``capability``),
        one per posterior draw of ``fit`` in :meth:`FitResults.draws` order: from
        :func:`capability_from_compute`, or :func:`bayes_scaling.place.place`'s draws.
    columns : sequence of str
        Benchmarks and/or targets of the fit.
    rng : numpy.random.Generator
    **kwargs
        Passed to :func:`predictive_draws` (``scores``, ``families``, ``noise``, ...).

    Returns
    -------
    xarray.DataTree
        Group ``predictions``: ``score`` over (``chain``, ``draw``, ``model``, ``column``),
        which ``az.summary(tree, group="predictions")`` and arviz-plots read.

    Examples
    --------
    >>> cap = capability_from_compute(fit, ["Llama-2"], [24.0], rng)  # doctest: +SKIP
    >>> tree = predictions(fit, cap, ["MMLU"], rng)  # doctest: +SKIP
    >>> tree["predictions"]["score"].dims  # doctest: +SKIP
    ('chain', 'draw', 'model', 'column')
    """
    n_chain, n_draw = fit.posterior.sizes["chain"], fit.posterior.sizes["draw"]
    if capability.sizes["sample"] != n_chain * n_draw:
        raise BayesScalingError(
            f"capability draws: {capability.sizes['sample']} samples, but the fit has "
            f"{n_chain} x {n_draw} draws"
        )
    reps = predictive_draws(fit, capability, columns, rng, **kwargs)
    values = reps.to_numpy().reshape(n_chain, n_draw, *reps.shape[1:])
    group = xr.Dataset(
        {"score": (("chain", "draw", "model", "column"), values)},
        coords={
            "chain": fit.posterior["chain"].to_numpy(),
            "draw": fit.posterior["draw"].to_numpy(),
            "model": reps["model"].to_numpy(),
            "column": list(columns),
        },
    )
    return xr.DataTree.from_dict({"predictions": group})
