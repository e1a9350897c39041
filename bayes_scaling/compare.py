"""Model comparison: PSIS leave-one-model-out cross-validation and leave-future-out checks.

Which spec (K = 1..4 capabilities, the compute-only law, ...) predicts *new models* best?

- :func:`loo_table` ranks fitted specs by PSIS-LOO (ArviZ). By default the pointwise
  log-likelihood is summed over each model's observations first, so one "point" is one
  language model and the estimate is **leave-one-model-out**: how well a spec predicts all
  benchmark scores of a model it has not seen, which is what a scaling-law user asks. With
  ``by="obs"`` it is the usual leave-one-observation-out.
- :func:`leave_future_out` refits a spec with every model above a compute cutoff hidden
  (its scores blanked; its capabilities then come from family + compute, as in
  ``forecast(route="compute")``) and sums the held-out log predictive density of the
  hidden scores: an honest extrapolation check where PSIS is unreliable.
- :func:`compare_specs` fits several specs on the same observations and returns the table.

Pareto k above :data:`BAD_K` (0.7, the classical threshold; ArviZ 1.x prints a slightly
lower sample-size dependent one) flags a point whose PSIS estimate is unreliable; the
table names the models behind such points.

Examples
--------
>>> from bayes_scaling import datasets
>>> table = compare_specs(datasets.load("base-llm"), ["k1", "k2"], draws=300, tune=300,
...                       chains=4, seed=0)  # doctest: +SKIP
>>> list(table.columns[:6])  # doctest: +SKIP
['spec', 'elpd', 'se', 'elpd_diff', 'dse', 'weight']
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from bayes_scaling.errors import BayesScalingError
from bayes_scaling.estimator import CapabilityModel, FitResults, Sampler
from bayes_scaling.evaluation import log_predictive_density
from bayes_scaling.measurement import log_density, precision
from bayes_scaling.specs import ModelSpec, load_spec

__all__ = [
    "BAD_K",
    "LOO_COLUMNS",
    "compare_specs",
    "heldout_log_likelihood",
    "leave_future_out",
    "loo_table",
    "pointwise_log_likelihood",
    "restrict_to_compute",
]

By = Literal["model", "obs"]

#: Pareto k above which a PSIS-LOO point is unreliable (Vehtari et al. 2017/2024).
BAD_K = 0.7

#: Columns of :func:`loo_table`, in order.
LOO_COLUMNS = (
    "spec",
    "elpd",
    "se",
    "elpd_diff",
    "dse",
    "weight",
    "p_loo",
    "n_bad_pareto_k",
    "bad_models",
    "n_points",
)


# ----------------------------------------------------------------------------- LOO
def pointwise_log_likelihood(fit: FitResults, by: By = "model") -> xr.DataArray:
    """Pointwise log-likelihood of a fit, per observation or summed per language model.

    Parameters
    ----------
    fit : FitResults
        A fit; its ``log_likelihood`` group holds ``score`` over ``obs``.
    by : {"model", "obs"}
        ``"model"`` sums each model's observations into one point (dim ``model``, sorted
        by name); ``"obs"`` returns the observations (dim ``obs``).

    Returns
    -------
    xarray.DataArray
        Dims (``chain``, ``draw``, ``model`` or ``obs``).

    Examples
    --------
    >>> ll = pointwise_log_likelihood(fit, by="model")  # doctest: +SKIP
    >>> ll.dims  # doctest: +SKIP
    ('chain', 'draw', 'model')
    """
    ll = fit.tree["log_likelihood"]["score"]
    if by == "obs":
        return ll
    if by != "model":
        raise BayesScalingError(f"by must be 'model' or 'obs', got {by!r}")
    # The joint log density of a model's scores is the sum of its observations' terms:
    # scores of one model are conditionally independent given the parameters.
    grouped = ll.groupby("obs_model").sum()
    return grouped.rename(obs_model="model").transpose("chain", "draw", "model")


def _loo(fit: FitResults, by: By) -> tuple[Any, xr.DataArray]:
    """ArviZ PSIS-LOO of a fit on the chosen points, and the model name of each point."""
    import arviz as az

    ll = pointwise_log_likelihood(fit, by)
    # The posterior goes along because ArviZ takes the relative efficiency r_eff from it.
    tree = xr.DataTree.from_dict(
        {"posterior": fit.posterior, "log_likelihood": xr.Dataset({"score": ll})}
    )
    with warnings.catch_warnings():
        # The Pareto-k warning is reported in the table (n_bad_pareto_k, bad_models).
        warnings.simplefilter("ignore", UserWarning)
        result = az.loo(tree, var_name="score", pointwise=True)
    if by == "model":
        owners = ll["model"]
    else:
        owners = ll["obs_model"].rename(None)
    return result, owners


def _same_observations(fits: Mapping[str, FitResults]) -> None:
    names = list(fits)
    ref = names[0]
    ref_obs = set(map(str, fits[ref].tree["log_likelihood"]["obs"].to_numpy()))
    for name in names[1:]:
        obs = set(map(str, fits[name].tree["log_likelihood"]["obs"].to_numpy()))
        if obs != ref_obs:
            only = sorted(obs ^ ref_obs)
            raise BayesScalingError(
                f"specs {ref!r} and {name!r} were fitted to different observations "
                f"({len(only)} differ, e.g. {only[0]!r}); refit them on the same data "
                f"(compare_specs does, restricting to models with compute when needed)"
            )


def loo_table(fits: Mapping[str, FitResults], *, by: By = "model") -> pd.DataFrame:
    """Rank fitted specs by PSIS-LOO with stacking weights.

    Parameters
    ----------
    fits : mapping of str to FitResults
        Fits to compare, keyed by the name shown in the ``spec`` column. All must have
        been fitted to the same observations.
    by : {"model", "obs"}
        Leave-one-*model*-out (default: each model's log-likelihood summed over its
        observations) or leave-one-observation-out.

    Returns
    -------
    pandas.DataFrame
        One row per spec, best first, columns :data:`LOO_COLUMNS`: ``elpd`` and ``se`` (the
        PSIS-LOO estimate and its standard error), ``elpd_diff`` and ``dse`` (difference
        to the best spec and its standard error), ``weight`` (stacking weights, summing to
        1), ``p_loo`` (effective number of parameters), ``n_bad_pareto_k`` (points with
        Pareto k > :data:`BAD_K`), ``bad_models`` (sorted names of the models behind them)
        and ``n_points``. ``attrs["by"]`` records the grouping.

    Raises
    ------
    BayesScalingError
        No fits, an unknown ``by``, or fits to different observations.

    Examples
    --------
    >>> table = loo_table({"k1": fit_k1, "k2": fit_k2})  # doctest: +SKIP
    >>> float(table["weight"].sum())  # doctest: +SKIP
    1.0
    """
    import arviz as az

    if not fits:
        raise BayesScalingError("loo_table needs at least one fit")
    if by not in ("model", "obs"):
        raise BayesScalingError(f"by must be 'model' or 'obs', got {by!r}")
    _same_observations(fits)
    results: dict[str, Any] = {}
    extra: dict[str, dict[str, Any]] = {}
    for name, fit in fits.items():
        res, owners = _loo(fit, by)
        k = np.asarray(res.pareto_k, dtype=float).ravel()
        bad = k > BAD_K
        results[name] = res
        extra[name] = {
            "p_loo": float(res.p),
            "n_bad_pareto_k": int(bad.sum()),
            "bad_models": sorted(set(map(str, np.asarray(owners).ravel()[bad]))),
            "n_points": int(res.n_data_points),
        }
    if len(results) == 1:
        ((name, res),) = results.items()
        cmp = pd.DataFrame(
            {
                "elpd": [float(res.elpd)],
                "se": [float(res.se)],
                "elpd_diff": [0.0],
                "dse": [0.0],
                "weight": [1.0],
            },
            index=[name],
        )
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            cmp = az.compare(results, method="stacking", round_to="none")
    rows = []
    for name in cmp.index:
        r = cmp.loc[name]
        rows.append(
            {
                "spec": str(name),
                "elpd": float(r["elpd"]),
                "se": float(r["se"]),
                "elpd_diff": float(r["elpd_diff"]),
                "dse": float(r["dse"]),
                "weight": float(r["weight"]),
                **extra[str(name)],
            }
        )
    table = pd.DataFrame(rows, columns=list(LOO_COLUMNS))
    table.attrs["by"] = by
    return table


# ----------------------------------------------------------------------------- LFO
def heldout_log_likelihood(
    y: np.ndarray,
    p: np.ndarray,
    noise: np.ndarray,
    n_items: np.ndarray,
    measurement: str = "beta-binomial",
) -> np.ndarray:
    """Log-likelihood of observed scores under draws of the expected score and noise.

    The measurement layer's own density (:func:`bayes_scaling.measurement.log_density`,
    the graph's distributions): a column with ``n_items`` items is a count
    ``round(y * n)`` distributed BetaBinomial(n, p phi, (1 - p) phi) (Binomial for the
    ``"binomial"`` measurement), a continuous score Beta(p phi, (1 - p) phi), with
    ``phi = max(1 / (2 noise)^2 - 1, 1)``.

    Parameters
    ----------
    y : numpy.ndarray
        Observed scores on the [0, 1] scale, shape (n,).
    p : numpy.ndarray
        Expected scores (floor/ceiling applied), shape (S, n): one row per draw.
    noise : numpy.ndarray
        Noise scale of each observation's column, shape (S, n).
    n_items : numpy.ndarray
        Item count of each observation's column, shape (n,); NaN = continuous.
    measurement : {"beta-binomial", "binomial"}
        The spec's measurement layer for count columns.

    Returns
    -------
    numpy.ndarray
        Shape (S, n).

    Examples
    --------
    5 of 10 items at p = 0.5 with noise 0.1 (phi = 24):

    >>> ll = heldout_log_likelihood(np.array([0.5]), np.array([[0.5]]), np.array([[0.1]]),
    ...                              np.array([10.0]))
    >>> round(float(ll[0, 0]), 4)
    -1.5793
    """
    y = np.asarray(y, dtype=float)
    n = np.asarray(n_items, dtype=float)
    p = np.asarray(p, dtype=float)
    noise = np.asarray(noise, dtype=float)
    if p.ndim != 2 or p.shape[1] != y.shape[0] or noise.shape != p.shape or n.shape != y.shape:
        raise ValueError(
            f"shapes: y {y.shape}, p {p.shape}, noise {noise.shape}, n_items {n.shape}; "
            "expected (n,), (S, n), (S, n), (n,)"
        )
    return log_density(y, n, p, precision(noise), measurement)


def fit_log_likelihood(
    fit: FitResults, models: Sequence[str], columns: Sequence[str], y: np.ndarray
) -> np.ndarray:
    """Log-likelihood draws (S, n) of scores ``y`` of (model, column) cells of a fit.

    The capabilities are the fit's posterior draws of those models (for a model whose
    scores were hidden: its family + compute prior given everything else), pushed through
    the benchmark layer with :meth:`FitResults.predictive_draws` (no noise) and scored with
    :func:`heldout_log_likelihood`. Columns may be benchmarks or downstream targets of the
    fit (scores on the [0, 1] scale of the fit).

    Examples
    --------
    >>> ll = fit_log_likelihood(fit, ["m1"], ["MMLU"], np.array([0.6]))  # doctest: +SKIP
    """
    models = [str(m) for m in models]
    columns = [str(c) for c in columns]
    uniq_models = list(dict.fromkeys(models))
    uniq_cols = list(dict.fromkeys(columns))
    cap = fit.draws("S").sel(model=uniq_models)
    # noise=False: the expected score p, with one draw of a target's own logit deviation
    # per posterior draw (benchmarks have none), so that averaging over draws integrates
    # it out as the sampler's likelihood does.
    p_all = fit.predictive_draws(
        cap, uniq_cols, np.random.default_rng(0), noise=False, deviation=True
    )
    p_arr = p_all.transpose("sample", "model", "column").to_numpy()
    mi = np.array([uniq_models.index(m) for m in models], dtype=np.int64)
    ci = np.array([uniq_cols.index(c) for c in columns], dtype=np.int64)
    p = p_arr[:, mi, ci]
    # The estimator's own lookup of per-column parameters, so benchmarks and downstream
    # targets (their own noise, no item count) are read exactly as predictive_draws reads them.
    params = fit._column_params(uniq_cols)
    noise = params["noise"][:, ci]
    n_items = params["n_items"][ci]
    return heldout_log_likelihood(
        np.asarray(y, dtype=float), p, noise, n_items, fit.spec.measurement
    )


def leave_future_out(
    data: xr.Dataset,
    spec: str | ModelSpec,
    cutoff_log10_flops: float,
    *,
    draws: int = 500,
    tune: int = 500,
    chains: int = 4,
    seed: int = 0,
    sampler: Sampler = "nutpie",
) -> dict[str, Any]:
    """Refit with every model above a compute cutoff hidden; score its observed scores.

    Models with training FLOPs above ``10 ** cutoff_log10_flops`` stay in the data with
    their benchmark scores blanked, so the fit places them from their family and compute
    alone; each of their observed scores is then scored by its log predictive density
    ``log mean_s p(y | draw s)`` (:func:`heldout_log_likelihood`).

    Parameters
    ----------
    data : xarray.Dataset
        Tidy benchmark dataset.
    spec : str or ModelSpec
        The spec to refit.
    cutoff_log10_flops : float
        Models with ``log10(FLOPs) > cutoff`` are the "future". Models without known
        compute are never held out.
    draws, tune, chains, seed, sampler
        Sampler settings.

    Returns
    -------
    dict
        ``spec``, ``cutoff_log10_flops``, ``elpd_lfo`` (sum of the pointwise log
        predictive densities), ``se`` (``sqrt(n * var)`` of the pointwise values),
        ``n_heldout`` (observations), ``n_heldout_models``, ``models`` (held out),
        ``pointwise`` (DataFrame: model, benchmark, observed, lpd) and ``fit``.

    Raises
    ------
    BayesScalingError
        No model above the cutoff has observed scores, or none is left below it.

    Examples
    --------
    >>> from bayes_scaling import datasets
    >>> out = leave_future_out(datasets.load("base-llm"), "k2", 23.5, draws=300,
    ...                        tune=300)  # doctest: +SKIP
    >>> out["n_heldout"] > 0  # doctest: +SKIP
    True
    """
    spec = load_spec(spec)
    data = data.transpose("model", "benchmark")
    flops = data["flops"].to_numpy().astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        logf = np.log10(np.where(flops > 0, flops, np.nan))
    future = np.isfinite(logf) & (logf > cutoff_log10_flops)
    score = data["score"].to_numpy()
    observed = np.isfinite(score)
    if not (observed[future]).any():
        raise BayesScalingError(
            f"no model above the cutoff 10^{cutoff_log10_flops:g} FLOPs has scores to hold out"
        )
    if not (observed[~future]).any():
        raise BayesScalingError(
            f"no model at or below the cutoff 10^{cutoff_log10_flops:g} FLOPs is left to fit"
        )
    models = np.asarray([str(m) for m in data["model"].to_numpy()], dtype=object)
    benches = np.asarray([str(b) for b in data["benchmark"].to_numpy()], dtype=object)
    held = models[future].tolist()
    train = data.copy(deep=True)
    train["score"].loc[{"model": held}] = np.nan
    fit = CapabilityModel(spec).fit(
        train, draws=draws, tune=tune, chains=chains, seed=seed, sampler=sampler, warn=False
    )
    mi, ci = np.nonzero(observed & future[:, None])
    y = score[mi, ci]
    ll = fit_log_likelihood(fit, models[mi].tolist(), benches[ci].tolist(), y)
    lpd = log_predictive_density(ll, axis=0)
    n = int(lpd.size)
    se = float(math.sqrt(n * np.var(lpd, ddof=1))) if n > 1 else math.nan
    return {
        "spec": spec.name,
        "cutoff_log10_flops": float(cutoff_log10_flops),
        "elpd_lfo": float(lpd.sum()),
        "se": se,
        "n_heldout": n,
        "n_heldout_models": len(held),
        "models": held,
        "pointwise": pd.DataFrame(
            {"model": models[mi], "benchmark": benches[ci], "observed": y, "lpd": lpd}
        ),
        "fit": fit,
    }


# ----------------------------------------------------------------------------- specs
def restrict_to_compute(data: xr.Dataset) -> tuple[xr.Dataset, list[str]]:
    """Keep the models with known training compute; return the data and the dropped names.

    Examples
    --------
    >>> from bayes_scaling import datasets
    >>> kept, dropped = restrict_to_compute(datasets.load("base-llm"))
    >>> kept.sizes["model"] + len(dropped)
    128
    """
    flops = data["flops"].to_numpy().astype(float)
    has = np.isfinite(flops) & (flops > 0)
    models = [str(m) for m in data["model"].to_numpy()]
    dropped = [m for m, h in zip(models, has, strict=True) if not h]
    return data.isel(model=np.flatnonzero(has)), dropped


def compare_specs(
    data: xr.Dataset,
    specs: Sequence[str | ModelSpec],
    *,
    draws: int = 500,
    tune: int = 500,
    chains: int = 4,
    seed: int = 0,
    by: By = "model",
    lfo_cutoff: float | None = None,
    sampler: Sampler = "nutpie",
) -> pd.DataFrame:
    """Fit each spec (one after another) on the same observations and rank them.

    When the compute-only law is among ``specs``, every spec is fitted to the models with
    known compute only (that law cannot place the others), so all are compared on the same
    observations; ``attrs["note"]`` says so.

    Parameters
    ----------
    data : xarray.Dataset
        Tidy benchmark dataset.
    specs : sequence of str or ModelSpec
        Specs to compare (distinct names).
    draws, tune, chains, seed, sampler
        Sampler settings, the same for every spec.
    by : {"model", "obs"}
        Grouping of the pointwise log-likelihood (see :func:`loo_table`).
    lfo_cutoff : float, optional
        Also run :func:`leave_future_out` at this log10-FLOPs cutoff for every spec and add
        columns ``elpd_lfo``, ``se_lfo``, ``n_heldout``.

    Returns
    -------
    pandas.DataFrame
        :func:`loo_table`'s columns, then ``max_rhat``, ``min_ess_bulk``, ``divergences``,
        ``seconds`` of each fit (and the LFO columns). ``attrs``: ``by``, ``note`` (empty or
        the restriction), ``n_models``, ``n_obs``, ``warnings`` (spec -> diagnostics
        messages).

    Examples
    --------
    >>> from bayes_scaling import datasets
    >>> t = compare_specs(datasets.load("base-llm"), ["k1", "compute-only"], draws=200,
    ...                   tune=200, chains=2)  # doctest: +SKIP
    >>> t.attrs["note"]  # doctest: +SKIP
    'compute-only is among the specs: all specs are compared on the 104 models with ...'
    """
    loaded = [load_spec(s) for s in specs]
    if not loaded:
        raise BayesScalingError("give at least one spec to compare")
    names = [s.name for s in loaded]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise BayesScalingError(f"spec {dup[0]!r} is given twice")
    note = ""
    if any(s.compute_only for s in loaded):
        data, dropped = restrict_to_compute(data)
        if dropped:
            note = (
                f"compute-only is among the specs: all specs are compared on the "
                f"{data.sizes['model']} models with known compute ({len(dropped)} without "
                f"compute left out)"
            )
    fits: dict[str, FitResults] = {}
    diag: dict[str, dict[str, Any]] = {}
    messages: dict[str, list[str]] = {}
    for spec in loaded:
        fit = CapabilityModel(spec).fit(
            data, draws=draws, tune=tune, chains=chains, seed=seed, sampler=sampler, warn=False
        )
        d = fit.diagnostics
        fits[spec.name] = fit
        diag[spec.name] = {
            "max_rhat": float(d.max_rhat),
            "min_ess_bulk": float(d.min_ess_bulk),
            "divergences": int(d.divergences),
            "seconds": float(d.seconds),
        }
        messages[spec.name] = list(d.messages())
    table = loo_table(fits, by=by)
    for col in ("max_rhat", "min_ess_bulk", "divergences", "seconds"):
        table[col] = [diag[s][col] for s in table["spec"]]
    if lfo_cutoff is not None:
        lfo = {
            s.name: leave_future_out(
                data,
                s,
                lfo_cutoff,
                draws=draws,
                tune=tune,
                chains=chains,
                seed=seed,
                sampler=sampler,
            )
            for s in loaded
        }
        table["elpd_lfo"] = [lfo[s]["elpd_lfo"] for s in table["spec"]]
        table["se_lfo"] = [lfo[s]["se"] for s in table["spec"]]
        table["n_heldout"] = [lfo[s]["n_heldout"] for s in table["spec"]]
        table.attrs["lfo_cutoff"] = float(lfo_cutoff)
        table.attrs["lfo_models"] = lfo[loaded[0].name]["models"]
    first = next(iter(fits.values()))
    table.attrs.update(
        by=by,
        note=note,
        n_models=int(data.sizes["model"]),
        n_obs=int(first.tree["observed_data"]["score"].size),
        warnings=messages,
    )
    return table
