"""Place new models into a fitted run without refitting it.

A run (``bayes-scaling fit``) holds posterior draws of every population-level parameter:
family effects, their scale, the spread around the family lines, the benchmarks'
intercepts, loadings and noise, and the downstream targets' read-outs. A model the run has
not seen is *placed* by conditioning on those draws: for each draw its capabilities get the
prior the model gives a new model (its family's line at its compute, the population for an
unseen family, the population marginal without compute) and the likelihood of its observed
scores under that draw's benchmark parameters. The joint posterior of (run parameters,
new capabilities) is then drawn by importance sampling, which also re-weights the run's
draws by how well they predict the new model: what a full refit including the model would
do, up to Monte Carlo error (``tests/test_place.py`` checks it against a refit; method and
limits in ``docs/place.md``).

Each placement reports the model's capabilities (general axis in decades of effective
compute, absolute log10 FLOPs), its percentile among the run's models, its family's compute
efficiency, forecasts with intervals of every downstream target and benchmark of the run,
the scores the run finds implausible, and warnings (extrapolation, unseen family, low
importance ESS).

Examples
--------
>>> from bayes_scaling.estimator import FitResults
>>> from bayes_scaling.place import place, read_new_models
>>> fit = FitResults.load("runs/k1.nc")  # doctest: +SKIP
>>> new = read_new_models("pythia.csv")  # doctest: +SKIP
>>> [p.percentile for p in place(fit, new)]  # doctest: +SKIP
[41.4, 47.7, 52.3]
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import logsumexp

from bayes_scaling.capability_prior import (
    capability_prior,
    family_dates,
    mixture_sd_multipliers,
)
from bayes_scaling.data import read_table
from bayes_scaling.errors import BayesScalingError
from bayes_scaling.estimator import FitResults
from bayes_scaling.intervals import equal_tailed, tail_probabilities
from bayes_scaling.measurement import linear_predictor, log_density_eta, precision
from bayes_scaling.outliers import _subset
from bayes_scaling.predictive import column_params

#: Posterior draws of the run used by default (thinned evenly when the run has more).
DEFAULT_DRAWS = 1000
#: Importance proposals per run draw.
DEFAULT_PROPOSALS = 128
#: A score is implausible outside this central posterior predictive interval.
IMPLAUSIBLE_LEVEL = 0.99
#: Warn when the importance ESS over the run's draws falls below this.
ESS_WARN = 100.0
#: Warn when the Pareto k of the draw weights exceeds this (PSIS diagnostic).
PARETO_K_WARN = 0.7
#: Tuning steps of an exact refit (``refit_if_unreliable``), at least the run's draws.
REFIT_TUNE = 1000
#: Share of proposals drawn from the prior (defensive mixture: bounded weights).
_DEFENSIVE = 0.1
#: Degrees of freedom and scale inflation of the Student-t proposal around each mode.
_T_DF = 5.0
_INFLATE = 1.2


@dataclasses.dataclass(frozen=True)
class Placement:
    """One new model placed into a fitted run.

    Attributes
    ----------
    model, family : str
        The model and its family (as in the table of new models).
    family_in_run : bool
        Whether the run has the family; otherwise its effect is drawn from the population.
    log10_flops : float or None
        Training compute, if known.
    capability : pandas.DataFrame
        Index ``capability`` (``general``, ``spec1``, ...), columns ``mean``, ``median``,
        ``lower``, ``upper``; the general axis on the absolute log10-FLOPs scale, as
        :meth:`~bayes_scaling.estimator.FitResults.capabilities`.
    percentile : float
        Share (in %) of the run's models whose posterior-mean general capability is below
        this model's.
    percentile_interval : tuple of float
        ``level`` interval of the same share computed per posterior draw.
    efficiency : dict or None
        Compute efficiency of the model's family against ``reference`` (``mean``,
        ``median``, ``lower``, ``upper`` of the multiplier, ``log10_multiplier``, ``basis``
        ``"family in run"`` or ``"new family"``); ``None`` without compute.
    forecasts : pandas.DataFrame
        One row per target, then per benchmark, of the run: ``column``, ``kind``
        (``target``/``benchmark``), ``observed`` (the new table's value, NaN if absent),
        ``mean``, ``median``, ``lower``, ``upper`` of the posterior predictive (measurement
        noise included), in the run's raw units of the column.
    implausible : list of dict
        Observed scores outside the central 99% posterior predictive interval:
        ``column``, ``observed``, ``median``, ``lower``, ``upper``, ``tail``.
    extrapolation : bool
        The general capability or the compute lies outside the run's range.
    warnings : list of str
        Extrapolation, implausible scores, unseen family, no compute, ignored columns,
        low importance ESS.
    ess : float
        Importance effective sample size over the run's draws (at most ``n_draws``).
    proposal_ess : float
        Median effective number of proposals per draw (quality of the proposal).
    pareto_k : float
        Pareto k of the draw weights (PSIS's diagnostic, ``arviz_stats`` ``psislw``): above
        0.7 the re-weighting of the run's draws is unreliable. NaN after an exact refit.
    refit : bool
        The placement comes from an exact refit of the run with the model included
        (``refit_if_unreliable``), not from importance sampling.
    n_draws : int
        Run draws used (after thinning) and posterior draws returned.
    level : float
        Mass of the reported intervals.
    seconds : float
        Wall time of this placement.
    capability_draws : xarray.DataArray
        Posterior draws (``sample``, ``capability``) in the posterior's units (decades,
        general axis relative to the run's mean log10 FLOPs).
    sample_index : numpy.ndarray
        For each draw, the index of the run draw it belongs to (in ``fit.draws`` order).
    predictive : xarray.DataArray
        Posterior predictive draws (``sample``, ``column``) on the [0, 1] scale.
    """

    model: str
    family: str
    family_in_run: bool
    log10_flops: float | None
    capability: pd.DataFrame
    percentile: float
    percentile_interval: tuple[float, float]
    efficiency: dict[str, Any] | None
    forecasts: pd.DataFrame
    implausible: list[dict[str, Any]]
    extrapolation: bool
    warnings: list[str]
    ess: float
    proposal_ess: float
    pareto_k: float
    refit: bool
    n_draws: int
    level: float
    seconds: float
    capability_draws: xr.DataArray = dataclasses.field(repr=False)
    sample_index: np.ndarray = dataclasses.field(repr=False)
    predictive: xr.DataArray = dataclasses.field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (what ``bayes-scaling place --json`` prints for one model).

        Non-finite numbers become ``None``.
        """
        cap = {
            str(axis): {k: _num(v) for k, v in row.items()}
            for axis, row in self.capability.iterrows()
        }
        forecasts = [
            {k: (_num(v) if isinstance(v, float) else v) for k, v in row.items()}
            for row in self.forecasts.to_dict(orient="records")
        ]
        eff = None
        if self.efficiency is not None:
            eff = {k: (_num(v) if isinstance(v, float) else v) for k, v in self.efficiency.items()}
        return {
            "model": self.model,
            "family": self.family,
            "family_in_run": self.family_in_run,
            "log10_flops": _num(self.log10_flops),
            "capability": cap,
            "percentile": _num(self.percentile),
            "percentile_interval": [_num(v) for v in self.percentile_interval],
            "efficiency": eff,
            "forecasts": forecasts,
            "implausible": [
                {k: (_num(v) if isinstance(v, float) else v) for k, v in d.items()}
                for d in self.implausible
            ],
            "extrapolation": self.extrapolation,
            "warnings": list(self.warnings),
            "ess": _num(self.ess),
            "proposal_ess": _num(self.proposal_ess),
            "pareto_k": _num(self.pareto_k),
            "refit": self.refit,
            "n_draws": self.n_draws,
            "level": self.level,
            "seconds": _num(self.seconds),
        }


def _num(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


# ------------------------------------------------------------------------------ input
def read_new_models(
    path: str | os.PathLike[str],
    *,
    percent: bool = False,
    ranges: dict[str, tuple[float, float]] | None = None,
) -> xr.Dataset:
    """Read a table of models to place (any size: one model is fine).

    Same formats and checks as :func:`bayes_scaling.data.read_table` (including the
    ``TABLE.n_items.csv`` that ``bayes-scaling data import`` writes), except that a
    benchmark need not be observed for three models.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "new.csv"
    >>> _ = p.write_text("Model,Model Family,FLOPs (1E21),MMLU\\nmine,Llama-2,100,0.5\\n")
    >>> read_new_models(p).sizes["model"]
    1
    """
    return read_table(path, percent=percent, ranges=ranges, min_models=0)


# ------------------------------------------------------------------------------ run arrays
@dataclasses.dataclass(frozen=True)
class _Run:
    """The run's thinned posterior as arrays, draw first (``S`` draws)."""

    pick: np.ndarray  # (S,) indices into fit.draws order
    capabilities: list[str]
    benchmarks: list[str]
    families: list[str]
    b: np.ndarray  # (S, J)
    loadings: np.ndarray  # (S, J, K)
    phi: np.ndarray  # (S, J)
    centre: np.ndarray  # (S, K)
    alpha: np.ndarray  # (S, F, K)
    tau: np.ndarray  # (S, K)
    resid: np.ndarray  # (S, K)
    slope: np.ndarray | None  # (S, F)
    tau_slope: np.ndarray | None  # (S,)
    s_general: np.ndarray  # (S, M) the run's models' general capability
    s_general_mean: np.ndarray  # (M,) posterior means over all draws
    floor: np.ndarray  # (J,)
    ceiling: np.ndarray
    n_items: np.ndarray
    linear: np.ndarray  # (J,) bool: linear columns (z-scores on the run's standardisation)
    lower: np.ndarray
    upper: np.ndarray
    x_mean: float
    x_sd: float
    x_range: tuple[float, float]
    models: frozenset[str]
    measurement: str
    compute_only: bool
    # The time trend in family efficiency (release dates; None without): decades per year,
    # the fit's mean date, the spread of its family dates, and each family's date (years
    # from the mean; NaN = undated).
    time_trend: np.ndarray | None = None  # (S,)
    t_mean: float = 0.0
    t_sd: float = 0.0
    family_t: np.ndarray | None = None  # (F,)
    # Student-t tails (None: normal): degrees of freedom, and the posterior scale-mixture
    # weights of the run's models (S, M).
    tail_dof: float | None = None
    resid_weight: np.ndarray | None = None

    def family_trend(self, family: str) -> np.ndarray:
        """Per draw, the trend at a fit family's date (an undated one at the mean): (S,)."""
        if self.time_trend is None or self.family_t is None:
            return np.zeros(len(self.pick))
        return self.time_trend * np.nan_to_num(self.family_t[self.families.index(family)])


def _run_arrays(fit: FitResults, draws: int) -> _Run:
    post = fit.posterior.stack(sample=("chain", "draw")).transpose("sample", ...)
    n_total = post.sizes["sample"]
    n = max(1, min(int(draws), n_total))
    pick = np.unique(np.round(np.linspace(0, n_total - 1, n)).astype(np.int64))

    def arr(name: str, *dims: str) -> np.ndarray:
        return post[name].transpose("sample", *dims).to_numpy()[pick].astype(float)

    caps = [str(c) for c in post["capability"].to_numpy()]
    s_all = post["S"].transpose("sample", "model", "capability").to_numpy()
    s_pick = s_all[pick]
    benchmarks = [str(b) for b in post["benchmark"].to_numpy()]
    # The one read-back of per-column posterior arrays (predictive draws use it too).
    columns = column_params(fit, benchmarks)
    tau = arr("tau", "capability")
    resid = np.zeros_like(tau) if fit.spec.compute_only else arr("resid_sd", "capability")
    data = fit.data

    def coord(name: str) -> np.ndarray:
        return data[name].sel(benchmark=benchmarks).to_numpy().astype(float)

    flops = data["flops"].to_numpy().astype(float)
    logf = np.log10(flops[np.isfinite(flops) & (flops > 0)])
    families = [str(f) for f in post["family"].to_numpy()]
    trend = fit.time_trend
    family_t = None
    if trend is not None:
        index = [families.index(str(f)) for f in data["family"].to_numpy()]
        release = data["release"].to_numpy().astype(float)
        family_t = family_dates(release, np.array(index), len(families), trend[0])
    return _Run(
        pick=pick,
        capabilities=caps,
        benchmarks=benchmarks,
        families=families,
        b=columns["intercept"][pick],
        loadings=columns["weights"][pick],
        phi=precision(columns["noise"][pick]),
        centre=s_pick.mean(axis=1),
        alpha=arr("alpha", "family", "capability"),
        tau=tau,
        resid=resid,
        slope=arr("slope", "family") if "slope" in post else None,
        tau_slope=post["tau_slope"].to_numpy()[pick].astype(float) if "tau_slope" in post else None,
        s_general=s_pick[:, :, 0],
        s_general_mean=s_all[:, :, 0].mean(axis=0),
        floor=columns["floor"][0],
        ceiling=columns["ceiling"],
        n_items=columns["n_items"],
        linear=columns["linear"],
        lower=coord("lower"),
        upper=coord("upper"),
        x_mean=fit.x_mean,
        x_sd=float(fit.tree.attrs.get("x_sd", np.nanstd(logf) if logf.size else 1.0)),
        x_range=(float(logf.min()), float(logf.max())) if logf.size else (np.nan, np.nan),
        models=frozenset(str(m) for m in post["model"].to_numpy()),
        measurement=fit.spec.measurement,
        compute_only=fit.spec.compute_only,
        time_trend=None if trend is None else arr("time_trend"),
        t_mean=0.0 if trend is None else trend[0],
        t_sd=0.0 if trend is None else trend[1],
        family_t=family_t,
        tail_dof=fit.spec.priors.tail_dof if fit.spec.robust else None,
        resid_weight=arr("resid_weight", "model") if fit.spec.robust else None,
    )


# ------------------------------------------------------------------------------ likelihood
@dataclasses.dataclass(frozen=True)
class _Obs:
    """The new model's observed benchmark scores, as the run's likelihood sees them."""

    columns: list[str]
    index: np.ndarray  # (J_obs,) into the run's benchmarks
    score: np.ndarray  # (J_obs,) on [0, 1]
    counted: np.ndarray  # (J_obs,) bool
    n_items: np.ndarray  # (J_obs,) item counts, NaN where continuous
    floor: np.ndarray
    ceiling: np.ndarray
    linear: np.ndarray  # (J_obs,) bool


def _loglik(
    eta: np.ndarray, obs: _Obs, phi: np.ndarray, measurement: str, derivs: bool = False
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Log-likelihood summed over observed columns, and per-column d/d eta and curvature.

    The measurement layer's own density and its derivatives by automatic differentiation
    (:func:`bayes_scaling.measurement.log_density_eta`). ``eta`` has the columns last;
    ``phi`` broadcasts against it. The curvature is the observed information
    ``-d^2/d eta^2``, floored at zero so that a Newton step never climbs down.
    """
    ll, d1, d2 = log_density_eta(
        obs.score, obs.n_items, eta, obs.floor, obs.ceiling, phi, measurement, obs.linear
    )
    if not derivs:
        return ll.sum(axis=-1), None, None
    return ll.sum(axis=-1), d1, np.maximum(-d2, 0.0)


def _eta(run: _Run, obs: _Obs, s: np.ndarray) -> np.ndarray:
    """Linear predictor for capabilities ``s`` of shape (S, ..., K): (S, ..., J_obs).

    Capabilities are centred on the run's mean per draw, as in the model and in
    :meth:`~bayes_scaling.estimator.FitResults.predictive_draws`.
    """
    extra = (1,) * (s.ndim - 2)
    n_s = run.centre.shape[0]
    centred = s - run.centre.reshape((n_s, *extra, -1))
    b = run.b[:, obs.index].reshape((n_s, *extra, len(obs.index)))
    lam = run.loadings[:, obs.index, :]
    lam = lam.reshape((n_s, *extra, *lam.shape[1:]))
    return linear_predictor(b, lam, centred)


def _log_normal(s: np.ndarray, mu: np.ndarray, sd: np.ndarray) -> np.ndarray:
    z = (s - mu) / sd
    return (-0.5 * z**2 - np.log(sd) - 0.5 * np.log(2 * np.pi)).sum(axis=-1)


def _log_t(s: np.ndarray, loc: np.ndarray, chol: np.ndarray, df: float) -> np.ndarray:
    """Multivariate Student-t log density; ``s`` (S, M, K), ``loc`` (S, K), ``chol`` (S, K, K)."""
    k = s.shape[-1]
    diff = s - loc[:, None, :]
    # Solve L z = diff for each draw.
    z = np.linalg.solve(chol[:, None, :, :], diff[..., None])[..., 0]
    maha = (z**2).sum(axis=-1)
    logdet = np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(axis=-1)[:, None]
    return (
        math.lgamma((df + k) / 2)
        - math.lgamma(df / 2)
        - 0.5 * k * np.log(df * np.pi)
        - logdet
        - 0.5 * (df + k) * np.log1p(maha / df)
    )


def _mode(run: _Run, obs: _Obs, mu: np.ndarray, sd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mode and Fisher-scoring precision of the capabilities, per draw."""
    lam = run.loadings[:, obs.index, :]
    phi = run.phi[:, obs.index]
    prec = 1.0 / sd**2

    def logpost(s: np.ndarray) -> np.ndarray:
        return _loglik(_eta(run, obs, s), obs, phi, run.measurement)[0] + _log_normal(s, mu, sd)

    s = mu.copy()
    current = logpost(s)
    eye = np.eye(mu.shape[1])
    for _ in range(50):
        _, dlde, info = _loglik(_eta(run, obs, s), obs, phi, run.measurement, derivs=True)
        grad = np.einsum("sj,sjk->sk", dlde, lam) - (s - mu) * prec
        hess = np.einsum("sj,sjk,sjl->skl", info, lam, lam) + eye * prec[:, None, :]
        step = np.linalg.solve(hess, grad[..., None])[..., 0]
        moved = np.zeros(len(s), dtype=bool)
        t = np.ones(len(s))
        for _ in range(8):
            trial = s + t[:, None] * step
            value = logpost(trial)
            ok = (value >= current - 1e-10) & ~moved
            s = np.where(ok[:, None], trial, s)
            current = np.where(ok, value, current)
            moved |= ok
            if moved.all():
                break
            t = np.where(moved, t, t / 2)
        if np.max(np.abs(t[:, None] * step)) < 1e-4:
            break
    _, _, info = _loglik(_eta(run, obs, s), obs, phi, run.measurement, derivs=True)
    hess = np.einsum("sj,sjk,sjl->skl", info, lam, lam) + eye * prec[:, None, :]
    return s, hess


# ------------------------------------------------------------------------------ integral
def importance_draws(
    run: _Run,
    obs: _Obs,
    mu: np.ndarray,
    sd: np.ndarray,
    exact: bool,
    proposals: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Importance weights of one model's capabilities, per run draw.

    The integral over a model's capabilities that placing a new model and the
    leave-one-model-out check (:func:`bayes_scaling.compare.integrated_log_likelihood`) share:
    per draw ``s``, proposals from a Student-t around the mode of prior x likelihood (10%
    from the prior, a defensive mixture) weighted by prior x likelihood / proposal, so that
    ``logsumexp(logw[s]) - log(P)`` estimates ``log p(y | theta_s)``, the capabilities
    integrated out.

    Parameters
    ----------
    run, obs
        The run's draws (:func:`_run_arrays`) and the model's observed scores.
    mu, sd : numpy.ndarray
        Per-draw prior mean and sd of the capabilities, shape (S, K) (:func:`_prior`).
    exact : bool
        The prior is a point (compute-only law, known family): one "proposal", the line.
    proposals : int
        Proposals per draw.
    rng : numpy.random.Generator
        Source of the proposals.

    Returns
    -------
    logw : numpy.ndarray
        Log weights, shape (S, P) (P = 1 when ``exact``).
    s_draws : numpy.ndarray
        The proposals, shape (S, P, K).

    Examples
    --------
    >>> logw, s = importance_draws(run, obs, mu, sd, False, 64, rng)  # doctest: +SKIP
    >>> log_marginal = logsumexp(logw, axis=1) - np.log(logw.shape[1])  # doctest: +SKIP
    """
    n_s, k = mu.shape
    phi = run.phi[:, obs.index]
    if exact:
        # Compute-only law, family in the run: the capabilities are its line exactly.
        s_draws = mu[:, None, :]
        logw = _loglik(_eta(run, obs, s_draws), obs, phi[:, None, :], run.measurement)[0]
        return logw, s_draws
    mode, hess = _mode(run, obs, mu, sd)
    cov = np.linalg.inv(hess) * _INFLATE**2
    chol = np.linalg.cholesky(cov)
    n_prior = max(1, round(_DEFENSIVE * proposals))
    n_t = proposals - n_prior
    z = rng.standard_normal((n_s, n_t, k))
    scale = np.sqrt(_T_DF / rng.chisquare(_T_DF, size=(n_s, n_t, 1)))
    from_t = mode[:, None, :] + np.einsum("skl,sml->smk", chol, z) * scale
    from_prior = mu[:, None, :] + sd[:, None, :] * rng.standard_normal((n_s, n_prior, k))
    s_draws = np.concatenate([from_t, from_prior], axis=1)
    log_prior = _log_normal(s_draws, mu[:, None, :], sd[:, None, :])
    log_q = np.logaddexp(
        np.log1p(-n_prior / proposals) + _log_t(s_draws, mode, chol, _T_DF),
        np.log(n_prior / proposals) + log_prior,
    )
    ll = _loglik(_eta(run, obs, s_draws), obs, phi[:, None, :], run.measurement)[0]
    return log_prior + ll - log_q, s_draws


# ------------------------------------------------------------------------------ placement
def place(
    fit: FitResults,
    new: xr.Dataset,
    models: Sequence[str] | None = None,
    *,
    draws: int = DEFAULT_DRAWS,
    proposals: int = DEFAULT_PROPOSALS,
    level: float = 0.9,
    reference: str | None = None,
    seed: int = 0,
    check_run: bool = True,
    refit_if_unreliable: bool = False,
    on_refit: Any = None,
) -> list[Placement]:
    """Place new models into a fitted run, conditioning on its posterior draws.

    Every placement warns when the run is not converged (``check_run``), and when the
    Pareto k of its importance weights over the run's draws exceeds
    :data:`PARETO_K_WARN`. With ``refit_if_unreliable``, the models with such weights are
    placed instead by an **exact refit**: the run's spec refitted on its data plus those
    models (same chains and draws; ``tune`` = ``max(draws, REFIT_TUNE)``), their capabilities read
    off the refit's draws and everything else computed as for a placement (``refit`` is
    then true). More draws of the run would not help: a high k says that the posterior
    with the model differs from the run's, which more draws of the run do not fix.

    Parameters
    ----------
    fit : FitResults
        The run.
    new : xarray.Dataset
        Tidy dataset of the new models (:func:`read_new_models`); its benchmarks that the
        run has are used, others are ignored with a warning; columns named like the run's
        downstream targets are shown next to their forecasts (not conditioned on).
    models : sequence of str, optional
        Which models of ``new`` to place (default: all).
    draws : int
        Run draws to condition on (thinned evenly; default 1000).
    proposals : int
        Importance proposals per run draw (default 128).
    level : float
        Mass of the reported intervals.
    reference : str, optional
        Family the efficiency multiplier is relative to (default: the spec's reference
        family, or the run's largest family when it lacks it).
    seed : int
        Same seed, same numbers.
    check_run : bool
        Warn in every placement when the run is not converged.
    refit_if_unreliable : bool
        Refit exactly for models whose importance weights have Pareto k > 0.7 (minutes).
    on_refit : callable, optional
        Called with the refit's :class:`~bayes_scaling.diagnostics.Diagnostics` (the CLI
        prints its diagnostics line).

    Returns
    -------
    list of Placement
        In the order of ``models`` (or of the table).

    Raises
    ------
    BayesScalingError
        A model already in the run, a model with no score on the run's benchmarks, an
        unknown model name or reference family, a compute-only run and a model without
        compute, or bad ``draws``/``proposals``/``level``.

    Examples
    --------
    >>> from bayes_scaling import datasets
    >>> from bayes_scaling.estimator import CapabilityModel
    >>> base = datasets.load("base-llm")
    >>> held = "meta-llama/Llama-2-13b-hf"
    >>> fit = CapabilityModel("k1").fit(base.drop_sel(model=[held]), draws=300,
    ...                                 tune=300, chains=2)  # doctest: +SKIP
    >>> (p,) = place(fit, base.sel(model=[held]))  # doctest: +SKIP
    >>> p.capability.loc["general", ["lower", "upper"]]  # doctest: +SKIP
    """
    if not 0 < level < 1:
        raise BayesScalingError(f"level must be between 0 and 1, got {level}")
    if draws < 1 or proposals < 2:
        raise BayesScalingError(
            f"draws must be at least 1 and proposals at least 2, got {draws} and {proposals}"
        )
    names = [str(m) for m in new["model"].to_numpy()]
    chosen = names if models is None else [str(m) for m in models]
    unknown = [m for m in chosen if m not in names]
    if unknown:
        raise BayesScalingError(f"model {unknown[0]!r} is not in the table of new models")
    run = _run_arrays(fit, draws)
    seen = [m for m in chosen if m in run.models]
    if seen:
        raise BayesScalingError(
            f"model {seen[0]!r} is already in the run; place models the run has not seen "
            f"(or refit to update it)"
        )
    ref = _resolve_reference(fit, run, reference)
    children = np.random.SeedSequence(seed).spawn(len(chosen))
    out = []
    for name, child in zip(chosen, children, strict=True):
        out.append(
            _place_one(
                fit,
                run,
                new.sel(model=name),
                proposals=proposals,
                level=level,
                reference=ref,
                rng=np.random.default_rng(child),
                all_columns=[str(b) for b in new["benchmark"].to_numpy()],
            )
        )
    if refit_if_unreliable:
        unreliable = [p.model for p in out if p.pareto_k > PARETO_K_WARN]
        if unreliable:
            redone = _refit_placements(
                fit,
                new,
                unreliable,
                draws=draws,
                level=level,
                reference=ref,
                seed=seed,
                on_refit=on_refit,
            )
            out = [redone.get(p.model, p) for p in out]
    if check_run:
        from bayes_scaling.diagnostics import diagnostics_line

        d = fit.diagnostics
        if not d.ok:
            message = (
                f"the run is not converged ({diagnostics_line(d)}): its placements inherit "
                f"its errors; refit it with more draws"
            )
            out = [dataclasses.replace(p, warnings=[message, *p.warnings]) for p in out]
    return out


def _with_models(fit: FitResults, new: xr.Dataset, names: Sequence[str]) -> xr.Dataset:
    """The run's data plus the named new models (their scores on the run's benchmarks)."""
    base = fit.data
    bench = base["benchmark"]
    rows = new.sel(model=list(names))
    score = rows["score"].reindex(benchmark=bench).transpose("model", "benchmark")
    added = base.isel(model=[0] * len(names)).copy(deep=True)
    added = added.assign_coords(model=list(names))
    added["score"] = (("model", "benchmark"), score.to_numpy().astype(float))
    for coord in ("family", "params", "tokens", "flops"):
        if coord not in base.coords:
            continue
        if coord in rows.coords:
            values = rows[coord].to_numpy()
        elif coord == "family":
            values = np.asarray(list(names), dtype=object)
        else:
            values = np.full(len(names), np.nan)
        added = added.assign_coords({coord: ("model", values.astype(base[coord].dtype))})
    return xr.concat([base, added], dim="model")


def _refit_placements(
    fit: FitResults,
    new: xr.Dataset,
    names: Sequence[str],
    *,
    draws: int,
    level: float,
    reference: str,
    seed: int,
    on_refit: Any = None,
) -> dict[str, Placement]:
    """Place ``names`` by refitting the run's spec with them (the exact answer)."""
    from bayes_scaling.diagnostics import diagnostics_line
    from bayes_scaling.estimator import CapabilityModel

    data = _with_models(fit, new, names)
    targets = fit.targets
    if targets is not None and "model" in targets.dims:
        targets = targets.reindex(model=data["model"].to_numpy())
    post = fit.posterior
    n_draw, n_chain = int(post.sizes["draw"]), int(post.sizes["chain"])
    refit = CapabilityModel(fit.spec).fit(
        data,
        targets,
        draws=n_draw,
        tune=max(n_draw, REFIT_TUNE),
        chains=n_chain,
        seed=seed,
        warn=False,
    )
    d = refit.diagnostics
    if on_refit is not None:
        on_refit(d)
    run = _run_arrays(refit, draws)
    order = [str(m) for m in refit.posterior["model"].to_numpy()]
    s_all = (
        refit.posterior["S"]
        .stack(sample=("chain", "draw"))
        .transpose("sample", "model", "capability")
    )
    old_families = set(_run_arrays(fit, 1).families)
    out = {}
    children = np.random.SeedSequence(seed).spawn(len(names))
    for name, child in zip(names, children, strict=True):
        i = order.index(name)
        others = dataclasses.replace(
            run,
            s_general=np.delete(run.s_general, i, axis=1),
            s_general_mean=np.delete(run.s_general_mean, i),
        )
        fixed = s_all.isel(model=i).to_numpy()[run.pick]
        row = new.sel(model=name)
        family = str(row["family"].to_numpy()) if "family" in row.coords else name
        p = _place_one(
            refit,
            others,
            row,
            proposals=2,
            level=level,
            reference=reference,
            rng=np.random.default_rng(child),
            all_columns=[str(b) for b in new["benchmark"].to_numpy()],
            fixed=fixed,
            family_in_run=family in old_families,
        )
        note = f"placed by an exact refit of the run with it ({diagnostics_line(d)})"
        out[name] = dataclasses.replace(p, warnings=[note, *p.warnings])
    return out


def _resolve_reference(fit: FitResults, run: _Run, reference: str | None) -> str:
    if reference is not None:
        if reference not in run.families:
            raise BayesScalingError(
                f"reference family {reference!r} is not in the run; families: "
                f"{', '.join(run.families[:8])}..."
            )
        return reference
    if fit.spec.reference_family in run.families:
        return fit.spec.reference_family
    counts = Counter(str(f) for f in fit.data["family"].to_numpy())
    return min(run.families, key=lambda f: (-counts[f], f))


def _observations(run: _Run, row: xr.Dataset, name: str) -> _Obs:
    score = row["score"]
    observed = [str(c) for c in score["benchmark"].to_numpy()[np.isfinite(score.to_numpy())]]
    cols = [c for c in observed if c in run.benchmarks]
    if not cols:
        raise BayesScalingError(
            f"model {name!r} has no score on a benchmark of the run (the run's benchmarks: "
            f"{', '.join(run.benchmarks)}; the model's: {', '.join(observed) or 'none'})"
        )
    index = np.array([run.benchmarks.index(c) for c in cols])
    values = np.array([float(score.sel(benchmark=c)) for c in cols])
    linear = run.linear[index]
    if linear.any():
        # A linear score is a z-score on its own table's standardisation: back to raw
        # units, then onto the run's.
        lo = np.array([float(row["lower"].sel(benchmark=c)) for c in cols])
        hi = np.array([float(row["upper"].sel(benchmark=c)) for c in cols])
        raw = lo + values * (hi - lo)
        z = (raw - run.lower[index]) / (run.upper[index] - run.lower[index])
        values = np.where(linear, z, values)
    run_n = run.n_items[index]
    new_n = np.array(
        [
            float(row["n_items"].sel(benchmark=c)) if "n_items" in row.coords else np.nan
            for c in cols
        ]
    )
    counted = np.isfinite(run_n)
    # A count keeps the run's likelihood; its size is what the new model was scored on.
    n_items = np.where(counted, np.where(np.isfinite(new_n), new_n, run_n), np.nan)
    return _Obs(
        columns=cols,
        index=index,
        score=values,
        counted=counted,
        n_items=n_items,
        floor=run.floor[index],
        ceiling=run.ceiling[index],
        linear=linear,
    )


def _prior(
    run: _Run,
    family: str,
    x: float | None,
    *,
    new_family: bool = False,
    release: float = math.nan,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Per-draw prior mean and sd of the new model's capabilities, and whether it is exact.

    The model's own prior (:func:`bayes_scaling.capability_prior.capability_prior`).
    ``new_family`` treats a family of the run as one it has not seen (its effect drawn from
    the population): leaving out the only model of a family sends the effect back there.
    With a time trend, a family the run does not hold is placed at ``release`` (decimal
    years; NaN = unknown), and a run's family treated as new at the family's own date.
    A Student-t run draws the model's scale-mixture weight (and a new family's) from their
    prior with ``rng``, one per draw: normal given the weights, a Student-t over the draws.
    """
    if x is None and run.compute_only:
        raise BayesScalingError(
            "the run is a compute-only law: a model without training compute cannot be placed in it"
        )
    t = release - run.t_mean
    if family in run.families and run.family_t is not None and not math.isfinite(t):
        t = float(run.family_t[run.families.index(family)])
    loc, scale = capability_prior(
        x=np.array([np.nan if x is None else x]),
        family_index=np.array(
            [run.families.index(family) if family in run.families and not new_family else -1]
        ),
        alpha=run.alpha,
        tau=run.tau,
        resid_sd=run.resid,
        x_sd=run.x_sd,
        slope=run.slope,
        tau_slope=run.tau_slope,
        t=np.array([t]),
        t_sd=run.t_sd,
        per_year=run.time_trend,
        **_tail_mults(run, rng),
    )
    mu, sd = loc[:, 0, :], scale[:, 0, :]
    exact = bool(np.all(sd == 0))
    return mu, np.where(sd > 0, sd, 1e-12), exact


def _tail_mults(run: _Run, rng: np.random.Generator | None) -> dict[str, np.ndarray]:
    """A new model's Student-t weights as sd multipliers, drawn per draw (normal: none)."""
    if run.tail_dof is None:
        return {}
    if rng is None:
        raise BayesScalingError("a Student-t run's prior of a new model needs an rng")
    shape = (len(run.pick), 1)
    return {
        "resid_mult": mixture_sd_multipliers(run.tail_dof, shape, rng),
        "tau_mult": mixture_sd_multipliers(run.tail_dof, shape, rng),
    }


def _place_one(
    fit: FitResults,
    run: _Run,
    row: xr.Dataset,
    *,
    proposals: int,
    level: float,
    reference: str,
    rng: np.random.Generator,
    all_columns: list[str],
    fixed: np.ndarray | None = None,
    family_in_run: bool | None = None,
) -> Placement:
    """Place one model; with ``fixed`` (S, K), take its capability draws from a refit."""
    start = time.perf_counter()
    name = str(row["model"].to_numpy())
    # A table without families makes each model its own; without compute, NaN.
    family = str(row["family"].to_numpy()) if "family" in row.coords else name
    flops = float(row["flops"].to_numpy()) if "flops" in row.coords else np.nan
    log10_flops = math.log10(flops) if np.isfinite(flops) and flops > 0 else None
    x = None if log10_flops is None else log10_flops - run.x_mean
    release = float(row["release"].to_numpy()) if "release" in row.coords else math.nan
    obs = _observations(run, row, name)
    warn: list[str] = []
    if fixed is None:
        mu, sd, exact = _prior(run, family, x, release=release, rng=rng)
        logw, s_draws = importance_draws(run, obs, mu, sd, exact, proposals, rng)
    else:
        # An exact refit: its draws of the model, equally weighted.
        exact = True
        s_draws = fixed[:, None, :]
        logw = np.zeros((fixed.shape[0], 1))
    n_s, k = s_draws.shape[0], s_draws.shape[2]

    # Per draw: marginal likelihood of the new model (re-weights the run's draws) and the
    # within-draw weights of the proposals.
    log_z = logsumexp(logw, axis=1) - np.log(logw.shape[1])
    within = np.exp(logw - logsumexp(logw, axis=1, keepdims=True))
    proposal_ess = float(np.median(1.0 / (within**2).sum(axis=1)))
    w = np.exp(log_z - logsumexp(log_z))
    ess = float(1.0 / (w**2).sum())
    pareto_k = _pareto_k(log_z) if fixed is None else math.nan
    # Systematic resampling of draws, then one proposal per resampled draw.
    positions = (rng.random() + np.arange(n_s)) / n_s
    draw_idx = np.minimum(np.searchsorted(np.cumsum(w), positions), n_s - 1)
    cum = np.cumsum(within[draw_idx], axis=1)
    u = rng.random(n_s)[:, None] * cum[:, -1:]
    prop_idx = np.minimum((cum < u).sum(axis=1), s_draws.shape[1] - 1)
    s_new = s_draws[draw_idx, prop_idx]  # (n_s, K)
    sample_index = run.pick[draw_idx]

    # Summaries from every weighted proposal (lower Monte Carlo error than the resample).
    lo_q, hi_q = tail_probabilities(level)
    absolute = s_draws.reshape(-1, k).copy()
    absolute[:, 0] += run.x_mean
    joint = (w[:, None] * within).reshape(-1)
    capability = pd.DataFrame(
        [
            [joint @ absolute[:, i], *_weighted_quantiles(absolute[:, i], joint, [0.5, lo_q, hi_q])]
            for i in range(k)
        ],
        columns=["mean", "median", "lower", "upper"],
        index=pd.Index(run.capabilities, name="capability"),
    )

    # Percentile among the run's models: of the posterior means, and per draw.
    mean_g = float(capability.loc[run.capabilities[0], "mean"]) - run.x_mean
    ref_g = run.s_general_mean
    percentile = 100.0 * (float((ref_g < mean_g).sum()) + 0.5 * float((ref_g == mean_g).sum()))
    percentile /= len(ref_g)
    per_draw = 100.0 * (run.s_general[draw_idx] < s_new[:, None, 0]).mean(axis=1)
    pct_interval = tuple(float(v) for v in equal_tailed(per_draw, level))

    if family_in_run is None:
        family_in_run = family in run.families
    efficiency = _efficiency(run, family, x, s_new, draw_idx, reference, level, rng)

    # Posterior predictive of every target and benchmark of the run.
    sub = _subset(fit, sample_index)
    cap = xr.DataArray(
        s_new[:, None, :],
        dims=("sample", "model", "capability"),
        coords={"model": [name], "capability": run.capabilities},
    )
    targets = fit.targets
    target_cols = [str(t) for t in targets["benchmark"].to_numpy()] if targets is not None else []
    columns = target_cols + run.benchmarks
    # The model's own scores (targets read its benchmark residuals) and family (its
    # family's target offsets, or a fresh draw for a new family).
    scores = row["score"].expand_dims(model=[name]).reset_coords(drop=True)
    pred = sub.predictive_draws(cap, columns, rng, scores=scores, families=[family]).isel(model=0)
    forecasts, implausible = _forecasts(run, obs, row, targets, target_cols, pred, level)

    # Warnings.
    if not family_in_run:
        warn.append(f"family {family!r} is not in the run: its effect is drawn from the population")
    if x is None:
        warn.append("no training compute: placed by its benchmark scores alone")
    ignored = [
        c
        for c in all_columns
        if np.isfinite(float(row["score"].sel(benchmark=c)))
        and c not in run.benchmarks
        and c not in target_cols
    ]
    if ignored:
        warn.append(f"ignored columns the run was not fitted with: {', '.join(ignored)}")
    extrapolation = False
    lo_g, hi_g = float(ref_g.min()), float(ref_g.max())
    if mean_g < lo_g or mean_g > hi_g:
        extrapolation = True
        side = "below" if mean_g < lo_g else "above"
        warn.append(
            f"extrapolation: general capability {mean_g + run.x_mean:.2f} is {side} every "
            f"model of the run ({lo_g + run.x_mean:.2f} to {hi_g + run.x_mean:.2f}); "
            f"forecasts extrapolate"
        )
    if log10_flops is not None and (log10_flops < run.x_range[0] or log10_flops > run.x_range[1]):
        extrapolation = True
        side = "below" if log10_flops < run.x_range[0] else "above"
        warn.append(
            f"extrapolation: training compute 10^{log10_flops:.2f} FLOPs is {side} the "
            f"run's range (10^{run.x_range[0]:.2f} to 10^{run.x_range[1]:.2f})"
        )
    if implausible:
        shown = ", ".join(
            f"{d['column']} = {d['observed']:.4g} (99% interval {d['lower']:.4g} to "
            f"{d['upper']:.4g})"
            for d in implausible
        )
        warn.append(f"implausible scores for the run: {shown}")
    if ess < min(ESS_WARN, 0.5 * n_s):
        warn.append(
            f"low importance ESS ({ess:.0f} of {n_s} draws): the run's posterior barely "
            f"covers this model; refit with it for reliable intervals"
        )
    if pareto_k > PARETO_K_WARN:
        warn.append(
            f"unreliable importance weights (Pareto k {pareto_k:.2f} > {PARETO_K_WARN:g}): "
            f"the run's posterior differs too much from one that includes this model; "
            f"use --refit-if-unreliable for an exact refit"
        )
    if not exact and proposal_ess < 5:
        warn.append(
            f"poor proposal (median {proposal_ess:.1f} effective of {proposals} proposals "
            f"per draw): raise --proposals"
        )
    return Placement(
        model=name,
        family=family,
        family_in_run=family_in_run,
        log10_flops=log10_flops,
        capability=capability,
        percentile=percentile,
        percentile_interval=(pct_interval[0], pct_interval[1]),
        efficiency=efficiency,
        forecasts=forecasts,
        implausible=implausible,
        extrapolation=extrapolation,
        warnings=warn,
        ess=ess,
        proposal_ess=proposal_ess,
        pareto_k=pareto_k,
        refit=fixed is not None,
        n_draws=n_s,
        level=level,
        seconds=time.perf_counter() - start,
        capability_draws=xr.DataArray(
            s_new, dims=("sample", "capability"), coords={"capability": run.capabilities}
        ),
        sample_index=sample_index,
        predictive=pred.drop_vars("model", errors="ignore"),
    )


def _pareto_k(log_ratios: np.ndarray) -> float:
    """Pareto k of importance log-ratios (``arviz_stats`` PSIS, r_eff = 1).

    Examples
    --------
    >>> _pareto_k(np.zeros(1000)) < 0.7
    True
    """
    from arviz_stats.base import array_stats

    if log_ratios.size < 10 or np.ptp(log_ratios) == 0:
        return 0.0 if log_ratios.size >= 10 else math.nan
    _, k = array_stats.psislw(np.asarray(log_ratios, dtype=float), r_eff=1.0)
    return float(k)


def _weighted_quantiles(
    values: np.ndarray, weights: np.ndarray, qs: Sequence[float]
) -> list[float]:
    """Quantiles of a weighted sample (weights summing to one), interpolated at mid-masses.

    Examples
    --------
    >>> _weighted_quantiles(np.array([3.0, 1.0, 2.0]), np.full(3, 1 / 3), [0.5])
    [2.0]
    """
    order = np.argsort(values)
    v, cw = values[order], np.cumsum(weights[order])
    mid = cw - 0.5 * weights[order]
    return [float(np.interp(q, mid, v)) for q in qs]


def _efficiency(
    run: _Run,
    family: str,
    x: float | None,
    s_new: np.ndarray,
    draw_idx: np.ndarray,
    reference: str,
    level: float,
    rng: np.random.Generator,
) -> dict[str, Any] | None:
    """Compute multiplier of the model's family vs ``reference`` over the placed draws."""
    if x is None:
        return None
    ref = run.alpha[draw_idx, run.families.index(reference), 0]
    if family in run.families:
        alpha = run.alpha[draw_idx, run.families.index(family), 0]
        basis = "family in run"
    else:
        # The new family's effect given this model: prior Normal(0, tau), and the model's
        # offset from the compute line, S - x = alpha + residual.
        tau2 = run.tau[draw_idx, 0] ** 2
        v = run.resid[draw_idx, 0] ** 2
        if run.tau_slope is not None:
            v = v + (x * run.tau_slope[draw_idx]) ** 2
        offset = s_new[:, 0] - x
        shrink = tau2 / (tau2 + v)
        post_sd = np.sqrt(tau2 * v / np.maximum(tau2 + v, 1e-300))
        alpha = shrink * offset + post_sd * rng.standard_normal(len(offset))
        basis = "new family"
    log_mult = alpha - ref
    lower, upper = equal_tailed(log_mult, level)
    return {
        "family": family,
        "reference": reference,
        "basis": basis,
        "mean": float(np.mean(10.0**log_mult)),
        "median": float(10.0 ** np.quantile(log_mult, 0.5)),
        "lower": float(10.0**lower),
        "upper": float(10.0**upper),
        "log10_multiplier": float(np.mean(log_mult)),
    }


def _forecasts(
    run: _Run,
    obs: _Obs,
    row: xr.Dataset,
    targets: xr.Dataset | None,
    target_cols: list[str],
    pred: xr.DataArray,
    level: float,
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    tail = (1 - IMPLAUSIBLE_LEVEL) / 2
    new_cols = [str(c) for c in row["benchmark"].to_numpy()]
    rows = []
    implausible = []
    for c in map(str, pred["column"].to_numpy()):
        if c in target_cols:
            kind = "target"
            low = float(targets["lower"].sel(benchmark=c))
            high = float(targets["upper"].sel(benchmark=c))
        else:
            kind = "benchmark"
            j = run.benchmarks.index(c)
            low, high = float(run.lower[j]), float(run.upper[j])
        d = pred.sel(column=c).to_numpy()
        unit_obs = float(row["score"].sel(benchmark=c)) if c in new_cols else np.nan
        raw = low + d * (high - low)
        observed = low + unit_obs * (high - low)
        median = float(np.quantile(raw, 0.5))
        lower, upper = equal_tailed(raw, level)
        rows.append(
            {
                "column": c,
                "kind": kind,
                "observed": observed,
                "mean": float(raw.mean()),
                "median": median,
                "lower": float(lower),
                "upper": float(upper),
            }
        )
        if np.isfinite(unit_obs):
            below = float(np.mean(d < unit_obs)) + 0.5 * float(np.mean(d == unit_obs))
            p_tail = min(below, 1 - below)
            if p_tail < tail:
                lower99, upper99 = equal_tailed(raw, IMPLAUSIBLE_LEVEL)
                implausible.append(
                    {
                        "column": c,
                        "observed": float(observed),
                        "median": median,
                        "lower": float(lower99),
                        "upper": float(upper99),
                        "tail": round(p_tail, 4),
                    }
                )
    frame = pd.DataFrame(
        rows, columns=["column", "kind", "observed", "mean", "median", "lower", "upper"]
    )
    return frame, implausible
