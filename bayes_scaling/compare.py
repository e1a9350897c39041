"""Model comparison: leave-one-model-out cross-validation and leave-future-out checks.

Which spec (K = 1..4 capabilities, the compute-only law, ...) predicts *new models* best?

- :func:`loo_table` ranks fitted specs by PSIS-LOO (ArviZ) where one point is one language
  model (default ``by="model"``). A model left out takes its capabilities back to their
  prior, so its point is the *integrated* likelihood ``log p(y_i | theta)``: for each
  posterior draw, the model's capabilities (and the effect of a family it is the only
  model of) are integrated out against the capability prior
  (:func:`integrated_log_likelihood`, the importance integral of
  :mod:`bayes_scaling.place`). Conditioning on the model's own fitted capabilities instead
  makes the importance ratios explode (most Pareto k > 0.7) and biases the elpd upward.
  ``by="obs"`` is the usual leave-one-*observation*-out, conditional on the capabilities.
- Points still above Pareto k :data:`BAD_K` can be replaced by exact refits
  (:func:`kfold_elpd`: the models' scores hidden, by model or by family); leave-one-family-out
  is :func:`kfold_elpd` with every family a fold (:func:`family_folds`).
- :func:`leave_future_out` refits a spec with every model above a compute cutoff hidden and
  scores each hidden model's scores *jointly* (their capabilities integrated out), with the
  standard error over models.
- :func:`compare_specs` fits several specs on the same observations, refuses to rank
  unconverged fits or unreliable LOO (:class:`ComparisonRefused`, ``force=True`` overrides
  with a warning in the table) and stacks converged fits only.

Examples
--------
>>> from bayes_scaling import datasets
>>> table = compare_specs(datasets.load("base-llm"), ["k1", "k2"], draws=1000, tune=1000,
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
from scipy.special import logsumexp

from bayes_scaling.diagnostics import Diagnostics, diagnostics_line
from bayes_scaling.errors import BayesScalingError
from bayes_scaling.estimator import (
    DEFAULT_DRAWS,
    DEFAULT_TUNE,
    CapabilityModel,
    FitResults,
    Sampler,
)
from bayes_scaling.measurement import log_density, precision
from bayes_scaling.specs import ModelSpec, load_spec

__all__ = [
    "BAD_K",
    "BAD_SHARE",
    "LOO_COLUMNS",
    "LOO_PROPOSALS",
    "ComparisonRefused",
    "compare_specs",
    "family_folds",
    "heldout_log_likelihood",
    "integrated_log_likelihood",
    "kfold_elpd",
    "leave_future_out",
    "loo_table",
    "pointwise_log_likelihood",
    "relative_efficiency",
    "restrict_to_compute",
]

By = Literal["model", "obs"]
KFold = Literal["none", "model", "family"]

#: Pareto k above which a PSIS-LOO point is unreliable (Vehtari et al. 2017/2024).
BAD_K = 0.7
#: ``compare_specs`` refuses to rank when more than this share of points stays above BAD_K.
BAD_SHARE = 0.10
#: Importance proposals per posterior draw when integrating a left-out model's capabilities.
LOO_PROPOSALS = 32

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
    "max_pareto_k",
    "n_refit",
)


class ComparisonRefused(BayesScalingError):
    """The comparison would rank from unconverged fits or unreliable LOO estimates."""


# ----------------------------------------------------------------------------- integral
def _cells(fit: FitResults) -> pd.DataFrame:
    obs = fit.tree["observed_data"]
    return pd.DataFrame(
        {
            "model": obs["obs_model"].to_numpy().astype(str),
            "column": obs["obs_column"].to_numpy().astype(str),
            "score": obs["score"].to_numpy().astype(float),
        }
    )


def integrated_log_likelihood(
    fit: FitResults,
    cells: pd.DataFrame | None = None,
    *,
    proposals: int = LOO_PROPOSALS,
    seed: int = 0,
) -> xr.DataArray:
    """Each model's log-likelihood per posterior draw with its capabilities integrated out.

    For draw ``s`` and model ``i``, ``log p(y_i | theta_s) = log int p(y_i | S, theta_s)
    p(S | theta_s) dS``, where ``p(S | theta_s)`` is the prior the model gives ``i`` as if
    it were not in the fit (:func:`bayes_scaling.capability_prior.capability_prior`): its
    family's line at its compute, or, when no *other* model of its family has scores in
    the fit, a fresh family effect from the population (the effect of a family with one
    model goes back to its prior too). The integral is the importance sampler of
    :func:`bayes_scaling.place.importance_draws`: per draw, ``proposals`` draws from a
    Student-t around the Laplace mode (10% from the prior), weighted by prior x likelihood
    / proposal. The linear predictor centres capabilities on the fit's per-draw mean over
    models, as placing a model does (the left-out model's share of that mean, 1/M, is kept).

    Parameters
    ----------
    fit : FitResults
        The fit.
    cells : pandas.DataFrame, optional
        Columns ``model``, ``column`` (a benchmark of the fit), ``score`` (on [0, 1]): the
        observations to score (default: the fit's own observations). Models may be ones
        whose scores the fit did not see (leave-future-out, K-fold refits).
    proposals : int
        Importance proposals per draw.
    seed : int
        Same seed, same numbers.

    Returns
    -------
    xarray.DataArray
        Dims (``chain``, ``draw``, ``model``), models sorted by name; coordinate
        ``proposal_ess`` (median effective number of proposals per draw, per model).

    Examples
    --------
    >>> ll = integrated_log_likelihood(fit)  # doctest: +SKIP
    >>> ll.dims  # doctest: +SKIP
    ('chain', 'draw', 'model')
    """
    from bayes_scaling.capability_prior import member_conditional_prior
    from bayes_scaling.place import _Obs, _prior, _run_arrays, importance_draws

    if proposals < 2:
        raise BayesScalingError(f"proposals must be at least 2, got {proposals}")
    post = fit.posterior
    n_chain, n_draw = int(post.sizes["chain"]), int(post.sizes["draw"])
    run = _run_arrays(fit, n_chain * n_draw)
    cells = _cells(fit) if cells is None else cells
    unknown = sorted(set(cells["column"]) - set(run.benchmarks))
    if unknown:
        raise BayesScalingError(f"column {unknown[0]!r} is not a benchmark of the fit")
    data = fit.data
    names = [str(m) for m in data["model"].to_numpy()]
    families = (
        [str(f) for f in data["family"].to_numpy()] if "family" in data.coords else list(names)
    )
    family_of = dict(zip(names, families, strict=True))
    flops = dict(zip(names, data["flops"].to_numpy().astype(float), strict=True))
    x_of = {
        m: math.log10(f) - run.x_mean if np.isfinite(f) and f > 0 else math.nan
        for m, f in flops.items()
    }
    s_all = (
        post["S"]
        .stack(sample=("chain", "draw"))
        .transpose("sample", "model", "capability")
        .to_numpy()[run.pick]
        .astype(float)
    )
    s_models = [str(v) for v in post["model"].to_numpy()]
    seen = _cells(fit)["model"].unique()
    members: dict[str, set[str]] = {}
    for m in seen:
        members.setdefault(family_of[str(m)], set()).add(str(m))
    models = sorted(cells["model"].unique())
    missing = [m for m in models if m not in family_of]
    if missing:
        raise BayesScalingError(f"model {missing[0]!r} is not in the fit's data")
    children = np.random.SeedSequence(seed).spawn(len(models))
    out = np.empty((n_chain * n_draw, len(models)))
    prop_ess = np.empty(len(models))
    for i, (m, child) in enumerate(zip(models, children, strict=True)):
        rows = cells[cells["model"] == m]
        index = np.array([run.benchmarks.index(c) for c in rows["column"]])
        n_items = run.n_items[index]
        obs = _Obs(
            columns=list(rows["column"]),
            index=index,
            score=rows["score"].to_numpy(dtype=float),
            counted=np.isfinite(n_items),
            n_items=n_items,
            floor=run.floor[index],
            ceiling=run.ceiling[index],
            # Scores of the fit (and of held-out cells) are already on the fit's scale.
            linear=run.linear[index],
        )
        x = None if math.isnan(x_of[m]) else x_of[m]
        fam = family_of[m]
        # Without this model, does the fit still see the family through another model?
        others = sorted(members.get(fam, set()) - {m})
        if m in members.get(fam, set()) and others and not run.compute_only:
            # The fit's family effect learnt from this model too: integrate it out given
            # the other members' capabilities (halves the Pareto k > 0.7 count of k3 on
            # the base table, 14 -> 7).
            j = [s_models.index(o) for o in others]
            slope = 1.0 if run.slope is None else run.slope[:, run.families.index(fam)]
            mu, sd = member_conditional_prior(
                x,
                s_all[:, j, :],
                np.array([x_of[o] for o in others]),
                run.tau,
                run.resid,
                run.x_sd,
                slope=slope,
                alpha_mean=run.family_trend(fam)[:, None] * (np.arange(len(run.tau[0])) == 0),
                **_member_tail_mults(run, fam, j, child),
            )
            exact = False
        else:
            mu, sd, exact = _prior(
                run, fam, x, new_family=not others, rng=np.random.default_rng(child.spawn(1)[0])
            )
        logw, _ = importance_draws(run, obs, mu, sd, exact, proposals, np.random.default_rng(child))
        out[:, i] = logsumexp(logw, axis=1) - np.log(logw.shape[1])
        within = np.exp(logw - logsumexp(logw, axis=1, keepdims=True))
        prop_ess[i] = float(np.median(1.0 / (within**2).sum(axis=1)))
    return xr.DataArray(
        out.reshape(n_chain, n_draw, len(models)),
        dims=("chain", "draw", "model"),
        coords={
            "chain": post["chain"].to_numpy(),
            "draw": post["draw"].to_numpy(),
            "model": models,
            "proposal_ess": ("model", prop_ess),
        },
        name="score",
    )


def _member_tail_mults(
    run: Any, family: str, members: list[int], seed: np.random.SeedSequence
) -> dict[str, np.ndarray]:
    """Student-t runs: weights of the members, the family and the left-out model.

    The other members' weights are the run's draws. The left-out model's own weight learnt
    from its data, so it is drawn from its prior, from a stream of its own (apart from the
    importance draws'). The family's weight is not a parameter of the graph (its effect is a
    t variate): it is drawn from its conditional given the effect,
    ``Gamma((nu + 1) / 2, (nu + z^2) / 2)`` with ``z = (alpha - trend) / tau`` on the general
    axis (the effect's centring on the families' mean is ignored; PSIS absorbs it).
    """
    if run.tail_dof is None:
        return {}
    from bayes_scaling.capability_prior import mixture_sd_multipliers

    nu = run.tail_dof
    rng = np.random.default_rng(seed.spawn(1)[0])
    own_mult = mixture_sd_multipliers(nu, len(run.pick), rng)
    f = run.families.index(family)
    z = (run.alpha[:, f, 0] - run.family_trend(family)) / run.tau[:, 0]
    family_w = rng.gamma((nu + 1.0) / 2.0, 2.0 / (nu + z**2))
    return {
        "members_mult": 1.0 / np.sqrt(run.resid_weight[:, members]),
        "own_mult": own_mult,
        "tau_mult": 1.0 / np.sqrt(family_w),
    }


# ----------------------------------------------------------------------------- LOO
def pointwise_log_likelihood(
    fit: FitResults, by: By = "model", *, integrated: bool = False
) -> xr.DataArray:
    """Pointwise log-likelihood of a fit, per observation or per language model.

    Parameters
    ----------
    fit : FitResults
        A fit; its ``log_likelihood`` group holds ``score`` over ``obs``.
    by : {"model", "obs"}
        ``"model"``: one point per model (dim ``model``, sorted by name); ``"obs"``: the
        observations (dim ``obs``).
    integrated : bool
        With ``by="model"``, the model's capabilities integrated out
        (:func:`integrated_log_likelihood`, what leave-one-model-out needs); otherwise the
        sum of its observations' terms given its fitted capabilities.

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
    ll = _stored_log_likelihood(fit)
    if by == "obs":
        return ll
    if by != "model":
        raise BayesScalingError(f"by must be 'model' or 'obs', got {by!r}")
    if integrated:
        return integrated_log_likelihood(fit)
    # Scores of one model are conditionally independent given the parameters.
    grouped = ll.groupby("obs_model").sum()
    return grouped.rename(obs_model="model").transpose("chain", "draw", "model")


def relative_efficiency(ll: xr.DataArray) -> xr.DataArray:
    """Per-point relative MCMC efficiency of the likelihood, ``ess(exp(ll)) / n``.

    What the R package loo's ``relative_eff`` computes and PSIS's tail length needs. ArviZ's
    default instead averages the ESS of *every posterior variable*, so the Pareto k of a
    point moved when a raw sampling variable was dropped from the posterior (the base
    table's compute-only law: 11 -> 13 of 112 models above 0.7 with the same draws).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> ll = xr.DataArray(rng.normal(size=(4, 500, 3)), dims=("chain", "draw", "model"))
    >>> r = relative_efficiency(ll)
    >>> bool(((r > 0.7) & (r < 1.3)).all())
    True
    """
    import arviz_stats  # noqa: F401  (registers the .azstats accessor)

    n = ll.sizes["chain"] * ll.sizes["draw"]
    # Scaled per point: the ESS of exp(ll) does not depend on a constant factor.
    lik = np.exp(ll - ll.max(("chain", "draw")))
    ess = lik.azstats.ess(sample_dims=["chain", "draw"], method="mean")
    return ess / n


def _psis(fit: FitResults, ll: xr.DataArray) -> Any:
    """ArviZ PSIS-LOO (pointwise) of a fit on the given pointwise log-likelihood.

    Each point's tail is fitted with its own relative efficiency
    (:func:`relative_efficiency`), not ArviZ's average over posterior variables.
    """
    import arviz as az
    import arviz_stats  # noqa: F401

    ll = ll.reset_coords(drop=True)
    point = next(d for d in ll.dims if d not in ("chain", "draw"))
    reff = relative_efficiency(ll)
    # The posterior goes along because ArviZ reads sample sizes from it.
    tree = xr.DataTree.from_dict(
        {"posterior": fit.posterior, "log_likelihood": xr.Dataset({"score": ll})}
    )
    with warnings.catch_warnings():
        # The Pareto-k warning is reported in the table (n_bad_pareto_k, bad_models).
        warnings.simplefilter("ignore", UserWarning)
        weights, ks = [], []
        for i in range(ll.sizes[point]):
            lw, k = ll.isel({point: i}).azstats.psislw(
                r_eff=float(reff.isel({point: i})), dim=["chain", "draw"]
            )
            weights.append(lw)
            ks.append(k)
        log_weights = xr.concat(weights, dim=point).transpose(*ll.dims)
        pareto_k = xr.concat(ks, dim=point)
        return az.loo(
            tree,
            var_name="score",
            pointwise=True,
            reff=float(reff.mean()),
            log_weights=log_weights,
            pareto_k=pareto_k,
        )


def _stored_log_likelihood(fit: FitResults) -> xr.DataArray:
    """The fit's pointwise log-likelihood (``score`` over ``obs``), or a one-line error."""
    if "log_likelihood" not in fit.tree.children:
        raise BayesScalingError(
            "this fit has no pointwise log-likelihood (it was fitted with "
            "pointwise=False); refit it with the default pointwise=True"
        )
    return fit.tree["log_likelihood"]["score"]


def _same_observations(fits: Mapping[str, FitResults]) -> None:
    names = list(fits)
    ref = names[0]
    ref_obs = set(map(str, _stored_log_likelihood(fits[ref])["obs"].to_numpy()))
    for name in names[1:]:
        obs = set(map(str, _stored_log_likelihood(fits[name])["obs"].to_numpy()))
        if obs != ref_obs:
            only = sorted(obs ^ ref_obs)
            raise BayesScalingError(
                f"specs {ref!r} and {name!r} were fitted to different observations "
                f"({len(only)} differ, e.g. {only[0]!r}); refit them on the same data "
                f"(compare_specs does, restricting to models with compute when needed)"
            )


def _replace(res: Any, ll: xr.DataArray, values: Mapping[str, float]) -> None:
    """Put exact (refit) elpd values into a PSIS result and recompute its totals."""
    if not values:
        return
    owners = [str(m) for m in np.asarray(res.elpd_i["model"]).ravel()]
    elpd_i = np.asarray(res.elpd_i, dtype=float).copy()
    k = np.asarray(res.pareto_k, dtype=float).copy()
    for m, v in values.items():
        j = owners.index(m)
        elpd_i[j] = v
        k[j] = np.nan  # exact: no Pareto k any more
    res.elpd_i = res.elpd_i.copy(data=elpd_i)
    res.pareto_k = res.pareto_k.copy(data=k)
    n = elpd_i.size
    lppd = float(
        (
            logsumexp(ll.stack(s=("chain", "draw")).transpose("model", "s").to_numpy(), axis=1)
            - np.log(ll.sizes["chain"] * ll.sizes["draw"])
        ).sum()
    )
    res.elpd = float(elpd_i.sum())
    res.se = float(math.sqrt(n * np.var(elpd_i))) if n > 1 else 0.0
    res.p = lppd - res.elpd


def _stacking(results: Mapping[str, Any]) -> dict[str, float]:
    """ArviZ's stacking weights (Yao et al. 2018) of the given PSIS results."""
    import arviz as az

    if len(results) == 1:
        return dict.fromkeys(results, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        cmp = az.compare(dict(results), method="stacking", round_to="none")
    return {str(n): float(cmp.loc[n, "weight"]) for n in cmp.index}


def loo_table(
    fits: Mapping[str, FitResults],
    *,
    by: By = "model",
    integrated: bool = True,
    refits: Mapping[str, Mapping[str, float]] | None = None,
    stack: Sequence[str] | None = None,
    proposals: int = LOO_PROPOSALS,
    seed: int = 0,
) -> pd.DataFrame:
    """Rank fitted specs by PSIS-LOO with stacking weights.

    Parameters
    ----------
    fits : mapping of str to FitResults
        Fits to compare, keyed by the name shown in the ``spec`` column. All must have
        been fitted to the same observations.
    by : {"model", "obs"}
        Leave-one-*model*-out (default) or leave-one-observation-out.
    integrated : bool
        With ``by="model"``: integrate each left-out model's capabilities out per draw
        (:func:`integrated_log_likelihood`; default and the right thing for new models).
        ``False`` conditions on them (the old estimate, biased upward, most Pareto k high).
    refits : mapping, optional
        Spec -> {model: exact elpd} (:func:`kfold_elpd`): these points replace PSIS's and
        no longer count as bad.
    stack : sequence of str, optional
        The specs stacking may weigh (default all); the others get weight NaN. Stacking on
        unconverged fits is refused this way.
    proposals, seed
        Of the integral.

    Returns
    -------
    pandas.DataFrame
        One row per spec, best first, columns :data:`LOO_COLUMNS`: ``elpd`` and ``se``,
        ``elpd_diff`` and ``dse`` (to the best spec, SE of the pointwise differences),
        ``weight`` (stacking), ``p_loo``, ``n_bad_pareto_k`` (points still with Pareto k >
        :data:`BAD_K`), ``bad_models``, ``n_points``, ``max_pareto_k``, ``n_refit``
        (points replaced by refits). ``attrs``: ``by``, ``integrated``, ``pareto_k``
        (spec -> {model: k}), ``elpd_i`` (spec -> {model: elpd}).

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
    if not fits:
        raise BayesScalingError("loo_table needs at least one fit")
    if by not in ("model", "obs"):
        raise BayesScalingError(f"by must be 'model' or 'obs', got {by!r}")
    _same_observations(fits)
    refits = refits or {}
    stack = list(fits) if stack is None else [s for s in stack if s in fits]
    integrate = integrated and by == "model"
    rows: dict[str, dict[str, Any]] = {}
    pointwise: dict[str, np.ndarray] = {}
    results: dict[str, Any] = {}
    owners_of: dict[str, list[str]] = {}
    ks: dict[str, dict[str, float]] = {}
    for name, fit in fits.items():
        if integrate:
            ll = integrated_log_likelihood(fit, proposals=proposals, seed=seed)
        else:
            ll = pointwise_log_likelihood(fit, by)
        res = _psis(fit, ll)
        if by == "model":
            owners = [str(m) for m in ll["model"].to_numpy()]
            _replace(res, ll, refits.get(name, {}))
        else:
            owners = [str(m) for m in ll["obs_model"].to_numpy()]
        k = np.asarray(res.pareto_k, dtype=float).ravel()
        bad = k > BAD_K  # NaN (refit) is not bad
        pointwise[name] = np.asarray(res.elpd_i, dtype=float).ravel()
        results[name] = res
        owners_of[name] = owners
        ks[name] = {o: float(v) for o, v in zip(owners, k, strict=True)}
        rows[name] = {
            "spec": name,
            "elpd": float(res.elpd),
            "se": float(res.se),
            "p_loo": float(res.p),
            "n_bad_pareto_k": int(bad.sum()),
            "bad_models": sorted(set(np.asarray(owners, dtype=object)[bad].tolist())),
            "n_points": int(k.size),
            "max_pareto_k": float(np.nanmax(k)) if np.isfinite(k).any() else math.nan,
            "n_refit": len(refits.get(name, {})),
        }
    order = sorted(rows, key=lambda n: -rows[n]["elpd"])
    best = order[0]
    weights = dict.fromkeys(fits, math.nan)
    if stack:
        weights.update(_stacking({s: results[s] for s in stack}))
    out = []
    for name in order:
        diff = pointwise[best] - pointwise[name]
        n = diff.size
        out.append(
            {
                **rows[name],
                "elpd_diff": float(diff.sum()),
                "dse": float(math.sqrt(n * np.var(diff))) if name != best else 0.0,
                "weight": weights[name],
            }
        )
    table = pd.DataFrame(out, columns=list(LOO_COLUMNS))
    table.attrs.update(
        by=by,
        integrated=integrate,
        pareto_k=ks,
        elpd_i={n: dict(zip(owners_of[n], map(float, pointwise[n]), strict=True)) for n in fits},
    )
    return table


# ----------------------------------------------------------------------------- K-fold
def family_folds(data: xr.Dataset, models: Sequence[str] | None = None) -> list[list[str]]:
    """Group models into folds by family (each family with models in ``models`` is a fold).

    Examples
    --------
    >>> from bayes_scaling import datasets
    >>> folds = family_folds(datasets.load("base-llm"), ["meta-llama/Llama-2-7b-hf",
    ...                      "meta-llama/Llama-2-13b-hf", "EleutherAI/pythia-1b-deduped"])
    >>> sorted(len(f) for f in folds)
    [1, 2]
    """
    names = [str(m) for m in data["model"].to_numpy()]
    fams = [str(f) for f in data["family"].to_numpy()] if "family" in data.coords else list(names)
    keep = set(names if models is None else map(str, models))
    unknown = sorted(keep - set(names))
    if unknown:
        raise BayesScalingError(f"model {unknown[0]!r} is not in the data")
    groups: dict[str, list[str]] = {}
    for m, f in zip(names, fams, strict=True):
        if m in keep:
            groups.setdefault(f, []).append(m)
    return [sorted(groups[f]) for f in sorted(groups)]


def kfold_elpd(
    data: xr.Dataset,
    spec: str | ModelSpec,
    folds: Sequence[Sequence[str]],
    *,
    draws: int = DEFAULT_DRAWS,
    tune: int = DEFAULT_TUNE,
    chains: int = 4,
    seed: int = 0,
    sampler: Sampler = "nutpie",
    proposals: int = LOO_PROPOSALS,
    retries: int = 1,
) -> tuple[dict[str, float], list[Diagnostics]]:
    """Exact held-out elpd of models by refitting with each fold's scores hidden.

    For each fold the spec is refitted with the fold's models kept in the data but their
    scores blanked (their capabilities, and a family effect no other model informs, come
    from the prior); each held-out model's scores are then scored jointly,
    ``log mean_s p(y_i | theta_s)`` with its capabilities integrated out
    (:func:`integrated_log_likelihood`). One fold per model is exact leave-one-model-out;
    whole families per fold (:func:`family_folds`) is leave-one-family-out.

    A refit that does not converge is run again with twice the draws and tuning steps, up
    to ``retries`` times (a refit hides a model's scores, so its posterior differs from the
    full fit's, and the full fit's settings may fall just short).

    Returns
    -------
    elpd : dict
        Model -> elpd of its scores.
    diagnostics : list of Diagnostics
        Of each fold's last refit (a refit that did not converge gives no result to trust).

    Examples
    --------
    >>> from bayes_scaling import datasets
    >>> base = datasets.load("base-llm")
    >>> elpd, diag = kfold_elpd(base, "k1", [["EleutherAI/pythia-70m"]])  # doctest: +SKIP
    """
    spec = load_spec(spec)
    data = data.transpose("model", "benchmark")
    names = [str(m) for m in data["model"].to_numpy()]
    benches = [str(b) for b in data["benchmark"].to_numpy()]
    score = data["score"].to_numpy()
    elpd: dict[str, float] = {}
    diags: list[Diagnostics] = []
    for i, fold in enumerate(folds):
        fold = [str(m) for m in fold]
        unknown = [m for m in fold if m not in names]
        if unknown:
            raise BayesScalingError(f"model {unknown[0]!r} of a fold is not in the data")
        train = data.copy(deep=True)
        train["score"].loc[{"model": fold}] = np.nan
        for attempt in range(retries + 1):
            fit = CapabilityModel(spec).fit(
                train,
                draws=draws * 2**attempt,
                tune=tune * 2**attempt,
                chains=chains,
                seed=seed + i,
                sampler=sampler,
                warn=False,
            )
            # More draws cannot fix an approximation or a check that could not be made.
            if fit.diagnostics.ok or not fit.diagnostics.measured:
                break
        diags.append(fit.diagnostics)
        mi = np.array([names.index(m) for m in fold])
        rows, cols = np.nonzero(np.isfinite(score[mi]))
        cells = pd.DataFrame(
            {
                "model": [fold[r] for r in rows],
                "column": [benches[c] for c in cols],
                "score": score[mi[rows], cols],
            }
        )
        if cells.empty:
            continue
        ll = integrated_log_likelihood(fit, cells, proposals=proposals, seed=seed)
        flat = ll.stack(s=("chain", "draw")).transpose("model", "s").to_numpy()
        lpd = logsumexp(flat, axis=1) - np.log(flat.shape[1])
        elpd.update(zip(map(str, ll["model"].to_numpy()), map(float, lpd), strict=True))
    return elpd, diags


# ----------------------------------------------------------------------------- LFO
def heldout_log_likelihood(
    y: np.ndarray,
    p: np.ndarray,
    noise: np.ndarray,
    n_items: np.ndarray,
    measurement: str = "beta-binomial",
    linear: np.ndarray | None = None,
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
    linear : numpy.ndarray of bool, optional
        Linear columns, shape (n,): ``y`` and ``p`` are z-scores there.

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
    return log_density(y, n, p, precision(noise), measurement, linear)


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
        np.asarray(y, dtype=float), p, noise, n_items, fit.spec.measurement, params["linear"][ci]
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
    proposals: int = LOO_PROPOSALS,
) -> dict[str, Any]:
    """Refit with every model above a compute cutoff hidden; score each hidden model jointly.

    Models with training FLOPs above ``10 ** cutoff_log10_flops`` stay in the data with
    their benchmark scores blanked, so the fit places them from their family and compute
    alone. Each hidden model's observed scores are scored *jointly*,
    ``log mean_s p(y_i | theta_s)`` with its capabilities integrated out
    (:func:`integrated_log_likelihood`): the scores of one model share one capability
    error, so they are one point, and the standard error is over models.

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
    proposals : int
        Of the integral over each hidden model's capabilities.

    Returns
    -------
    dict
        ``spec``, ``cutoff_log10_flops``, ``elpd_lfo`` (sum over hidden models),
        ``se`` (``sqrt(n * var)`` over models), ``n_heldout`` (scores),
        ``n_heldout_models``, ``models`` (held out), ``pointwise`` (DataFrame: model,
        n_scores, lpd), ``diagnostics`` and ``fit``.

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
    cells = pd.DataFrame({"model": models[mi], "column": benches[ci], "score": score[mi, ci]})
    ll = integrated_log_likelihood(fit, cells, proposals=proposals, seed=seed)
    flat = ll.stack(s=("chain", "draw")).transpose("model", "s").to_numpy()
    lpd = logsumexp(flat, axis=1) - np.log(flat.shape[1])
    per_model = [str(m) for m in ll["model"].to_numpy()]
    counts = cells.groupby("model").size()
    n = int(lpd.size)
    se = float(math.sqrt(n * np.var(lpd, ddof=1))) if n > 1 else math.nan
    return {
        "spec": spec.name,
        "cutoff_log10_flops": float(cutoff_log10_flops),
        "elpd_lfo": float(lpd.sum()),
        "se": se,
        "n_heldout": len(cells),
        "n_heldout_models": len(held),
        "models": held,
        "pointwise": pd.DataFrame(
            {"model": per_model, "n_scores": [int(counts[m]) for m in per_model], "lpd": lpd}
        ),
        "diagnostics": fit.diagnostics,
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
    draws: int = DEFAULT_DRAWS,
    tune: int = DEFAULT_TUNE,
    chains: int = 4,
    seed: int = 0,
    by: By = "model",
    kfold: KFold = "none",
    lofo: bool = False,
    lfo_cutoff: float | None = None,
    sampler: Sampler = "nutpie",
    proposals: int = LOO_PROPOSALS,
    force: bool = False,
    on_fit: Any = None,
) -> pd.DataFrame:
    """Fit each spec (one after another) on the same observations and rank them.

    When the compute-only law is among ``specs``, every spec is fitted to the models with
    known compute only (that law cannot place the others), so all are compared on the same
    observations; ``attrs["note"]`` says so.

    The comparison is **refused** (:class:`ComparisonRefused`) when a fit has not converged
    (:attr:`bayes_scaling.diagnostics.Diagnostics.ok`: R-hat <= 1.01, ESS >= 400, no
    divergence; checked right after the fits, before anything else is spent), or when more
    than :data:`BAD_SHARE` of the points of a spec still have Pareto k > :data:`BAD_K` after
    the ``kfold`` fallback, or when a refit of that fallback has not converged. ``force=True`` ranks anyway and lists the reasons in
    ``attrs["refusals"]`` and the ``warning`` column. Stacking weighs converged fits only
    (others get weight NaN).

    Parameters
    ----------
    data : xarray.Dataset
        Tidy benchmark dataset.
    specs : sequence of str or ModelSpec
        Specs to compare (distinct names).
    draws, tune, chains, seed, sampler
        Sampler settings, the same for every spec (and every refit).
    by : {"model", "obs"}
        Grouping of the pointwise log-likelihood (see :func:`loo_table`).
    kfold : {"none", "model", "family"}
        Fallback for points with Pareto k > :data:`BAD_K` (``by="model"`` only): refit
        without each such model (``"model"``: one refit per model) or without the bad models
        of each family together (``"family"``), and use the exact elpd (:func:`kfold_elpd`).
    lofo : bool
        Also run leave-one-family-out by refits (one refit per family: slow) and add
        columns ``elpd_lofo``, ``se_lofo`` (SE over models).
    lfo_cutoff : float, optional
        Also run :func:`leave_future_out` at this log10-FLOPs cutoff for every spec and add
        columns ``elpd_lfo``, ``se_lfo`` (SE over held-out models), ``n_heldout``.
    proposals : int
        Importance proposals per draw of the integral over a left-out model's capabilities.
    force : bool
        Rank even when the comparison would be refused (with a warning in the table).
    on_fit : callable, optional
        Called as ``on_fit(spec_name, diagnostics)`` after each fit (the CLI prints the
        diagnostics line).

    Returns
    -------
    pandas.DataFrame
        :func:`loo_table`'s columns, then ``max_rhat``, ``min_ess_bulk``, ``min_ess_tail``,
        ``divergences``, ``converged``, ``seconds`` of each fit, ``warning`` (empty, or why
        the row would have been refused), and the LFO/LOFO columns. ``attrs``: ``by``,
        ``note``, ``n_models``, ``n_obs``, ``warnings`` (spec -> diagnostics messages),
        ``refusals`` (reasons overridden by ``force``), ``kfold``.

    Raises
    ------
    ComparisonRefused
        See above (unless ``force``).
    BayesScalingError
        No spec, a spec given twice, unknown ``kfold``.

    Examples
    --------
    >>> from bayes_scaling import datasets
    >>> t = compare_specs(datasets.load("base-llm"), ["k1", "compute-only"])  # doctest: +SKIP
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
    if kfold not in ("none", "model", "family"):
        raise BayesScalingError(f"kfold must be 'none', 'model' or 'family', got {kfold!r}")
    note = ""
    if any(s.compute_only for s in loaded):
        data, dropped = restrict_to_compute(data)
        if dropped:
            note = (
                f"compute-only is among the specs: all specs are compared on the "
                f"{data.sizes['model']} models with known compute ({len(dropped)} without "
                f"compute left out)"
            )
    settings = {"draws": draws, "tune": tune, "chains": chains, "seed": seed, "sampler": sampler}
    fits: dict[str, FitResults] = {}
    diag: dict[str, Diagnostics] = {}
    messages: dict[str, list[str]] = {}
    refusals: list[str] = []
    row_warn: dict[str, list[str]] = {s.name: [] for s in loaded}
    for spec in loaded:
        fit = CapabilityModel(spec).fit(data, warn=False, **settings)
        d = fit.diagnostics
        fits[spec.name] = fit
        diag[spec.name] = d
        messages[spec.name] = list(d.messages())
        if on_fit is not None:
            on_fit(spec.name, d)
    unconverged = [n for n in names if not diag[n].ok]
    for n in unconverged:
        reason = f"{n} is not converged ({diagnostics_line(diag[n])})"
        refusals.append(reason)
        row_warn[n].append("not converged")
    if unconverged and not force:
        raise ComparisonRefused(
            "refusing to rank: "
            + "; ".join(refusals)
            + "; refit with more --draws/--tune, or --force to rank anyway"
        )
    converged = [n for n in names if diag[n].ok]
    refits: dict[str, dict[str, float]] = {}
    kw = {"proposals": proposals, "seed": seed}
    table = loo_table(fits, by=by, stack=converged, **kw)
    if kfold != "none" and by == "model":
        for _, r in table.iterrows():
            bad = list(r["bad_models"])
            if not bad:
                continue
            folds = [[m] for m in bad] if kfold == "model" else family_folds(data, bad)
            values, refit_diag = kfold_elpd(data, r["spec"], folds, proposals=proposals, **settings)
            refits[r["spec"]] = values
            n_bad_refits = sum(not d.ok for d in refit_diag)
            if n_bad_refits:
                # An exact elpd from an unconverged refit is no better than the PSIS
                # estimate it replaces: the verdict would rest on it.
                worst = max(refit_diag, key=lambda d: d.max_rhat)
                refusals.append(
                    f"{r['spec']}: {n_bad_refits} of {len(refit_diag)} K-fold refits are not "
                    f"converged (worst: {diagnostics_line(worst)})"
                )
                row_warn[r["spec"]].append(f"{n_bad_refits} K-fold refits not converged")
                messages[r["spec"]].append(
                    f"{n_bad_refits} of {len(refit_diag)} K-fold refits are not converged"
                )
        table = loo_table(fits, by=by, stack=converged, refits=refits, **kw)
    for _, r in table.iterrows():
        if r["n_bad_pareto_k"] > BAD_SHARE * r["n_points"]:
            refusals.append(
                f"{r['spec']}: {r['n_bad_pareto_k']} of {r['n_points']} points have Pareto k > "
                f"{BAD_K:g} (more than {BAD_SHARE:.0%})"
            )
            row_warn[r["spec"]].append("unreliable LOO")
    if refusals and not force:
        raise ComparisonRefused(
            "refusing to rank: "
            + "; ".join(refusals)
            + "; try --kfold model, more --draws, or --force"
        )
    for col in ("max_rhat", "min_ess_bulk", "min_ess_tail", "divergences", "seconds"):
        table[col] = [getattr(diag[s], col) for s in table["spec"]]
    table["converged"] = [diag[s].ok for s in table["spec"]]
    table["warning"] = ["; ".join(row_warn[s]) for s in table["spec"]]
    if lfo_cutoff is not None:
        lfo = {
            s.name: leave_future_out(data, s, lfo_cutoff, proposals=proposals, **settings)
            for s in loaded
        }
        table["elpd_lfo"] = [lfo[s]["elpd_lfo"] for s in table["spec"]]
        table["se_lfo"] = [lfo[s]["se"] for s in table["spec"]]
        table["n_heldout"] = [lfo[s]["n_heldout"] for s in table["spec"]]
        table.attrs["lfo_cutoff"] = float(lfo_cutoff)
        table.attrs["lfo_models"] = lfo[loaded[0].name]["models"]
        for s in loaded:
            if not lfo[s.name]["diagnostics"].ok:
                messages[s.name].append("the leave-future-out refit is not converged")
    if lofo:
        folds = family_folds(data)
        lofo_out = {}
        for s in loaded:
            values, refit_diag = kfold_elpd(data, s, folds, proposals=proposals, **settings)
            v = np.array(list(values.values()))
            lofo_out[s.name] = (float(v.sum()), float(math.sqrt(v.size * np.var(v))))
            n_bad_refits = sum(not d.ok for d in refit_diag)
            if n_bad_refits:
                messages[s.name].append(
                    f"{n_bad_refits} of {len(refit_diag)} leave-one-family-out refits are not "
                    f"converged"
                )
        table["elpd_lofo"] = [lofo_out[s][0] for s in table["spec"]]
        table["se_lofo"] = [lofo_out[s][1] for s in table["spec"]]
    first = next(iter(fits.values()))
    table.attrs.update(
        note=note,
        n_models=int(data.sizes["model"]),
        n_obs=int(first.tree["observed_data"]["score"].size),
        warnings=messages,
        refusals=refusals if force else [],
        kfold=kfold,
    )
    return table
