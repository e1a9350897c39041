"""Which evaluation to run next: rank a model's unobserved benchmarks by what they would teach.

For a model of a fitted run and each benchmark it has no score on (a *probe*), the
expected reduction in the posterior predictive variance of the model's *other* unobserved
benchmarks (or of one ``target`` benchmark) if that probe were run, computed from the
fit's posterior draws without refitting. A preposterior analysis by importance weights:

1. thin the fit to ``draws`` posterior draws ``theta_1..theta_S`` (each holds the model's
   capabilities and every benchmark's parameters);
2. per draw, the expected score ``m_sc`` of each unobserved column ``c``
   (:func:`bayes_scaling.predictive.predictive_draws`, the model's own read-out) and
   ``replicates`` noisy scores around it (:func:`bayes_scaling.measurement.draw`, the
   measurement layer); ``v_sc`` is their mean squared deviation from ``m_sc``, the
   measurement variance given the draw;
3. for a probe ``j`` and ``simulations`` evenly spaced draws ``s``: the simulated score
   ``y_s`` of ``j`` under draw ``s``; weight every *other* draw ``t`` by the likelihood
   ``p(y_s | theta_t)`` (:func:`bayes_scaling.measurement.log_density`, the density the
   graph observes), which is importance sampling of the posterior after also seeing
   ``y_s``; the conditional predictive variance of column ``c`` is
   ``sum_t w_st (v_tc + m_tc^2) - (sum_t w_st m_tc)^2``;
4. the expected variance after the probe is the average over the simulated scores; the
   reduction is the current variance minus it.

The result is exact up to Monte Carlo error (no linearisation, no Gaussian approximation)
for the fit's own model. Leaving draw ``s`` out of its own weights makes the weighted draws
independent of the simulated score, so a sharp probe is not flattered by the one draw
that produced it. Each simulated score gets an importance effective sample size (ESS); a
probe whose median ESS falls below ``ESS_MIN`` is recomputed on up to ``max_draws`` draws,
and flagged when it stays low: its reduction is then optimistic (a weighted variance over
few draws is too small).

Variances are on the [0, 1] score scale of each column (the tidy dataset's ``score``) and
are summed over the columns scored.

Examples
--------
>>> from bayes_scaling.estimator import FitResults
>>> fit = FitResults.load("runs/k2.nc")  # doctest: +SKIP
>>> ranking = rank_probes(fit, "EleutherAI/pythia-1.4b")  # doctest: +SKIP
>>> ranking.table.head(3)[["benchmark", "reduction", "fraction"]]  # doctest: +SKIP
   benchmark  reduction  fraction
0      GSM8K   0.00311     0.41
1  HumanEval   0.00120     0.16
2       MMLU   0.00093     0.12
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from bayes_scaling.errors import BayesScalingError
from bayes_scaling.measurement import draw, log_density, precision
from bayes_scaling.outliers import _subset
from bayes_scaling.predictive import column_params, predictive_draws

if TYPE_CHECKING:
    from bayes_scaling.estimator import FitResults

__all__ = [
    "DEFAULT_DRAWS",
    "DEFAULT_REPLICATES",
    "DEFAULT_SIMULATIONS",
    "ESS_MIN",
    "MAX_DRAWS",
    "ProbeRanking",
    "rank_probes",
]

#: Posterior draws used by default (thinned evenly): a few seconds for a hundred probes.
DEFAULT_DRAWS = 400
#: Noisy predictive draws per posterior draw, for the measurement variance given a draw.
DEFAULT_REPLICATES = 8
#: Scores simulated per probe: the preposterior average is over these.
DEFAULT_SIMULATIONS = 200
#: A probe is recomputed on more draws, then flagged, below this median importance ESS.
ESS_MIN = 50.0
#: Most draws the low-ESS fallback uses (the cost grows as the square of the draws).
MAX_DRAWS = 2000

TABLE_COLUMNS = ("benchmark", "reduction", "fraction", "variance", "ess", "draws", "low_ess")


@dataclasses.dataclass(frozen=True)
class ProbeRanking:
    """A model's unobserved benchmarks ranked by expected reduction of predictive variance.

    Attributes
    ----------
    model : str
        The model of the fit.
    target : str or None
        The one benchmark whose variance is scored; ``None``: each probe is scored on all
        the model's other unobserved benchmarks.
    table : pandas.DataFrame
        One row per probe, best first: ``benchmark``; ``reduction``, the expected
        reduction of the predictive variance (summed over the scored columns, [0, 1]
        scale); ``fraction``, that reduction over the current variance; ``variance``, the
        current variance of the scored columns; ``ess``, the median importance ESS over
        simulated scores; ``draws``, the posterior draws used; ``low_ess``, the ESS stayed
        below :data:`ESS_MIN` (the reduction is then optimistic).
    per_column : pandas.DataFrame
        Expected reduction of each scored column's variance (index: probes in the order of
        ``table``; columns: the model's unobserved benchmarks; NaN for the probe itself).
    current : pandas.Series
        Current posterior predictive variance of each unobserved benchmark of the model.
    observed : list of str
        Benchmarks the model has a score on.
    n_draws : int
        Posterior draws used (before any low-ESS fallback).
    seed : int
    seconds : float
        Wall time.
    warnings : list of str
        Probes whose ESS stayed low; linear columns summed with shares (their z-score
        variance dominates).
    """

    model: str
    target: str | None
    table: pd.DataFrame
    per_column: pd.DataFrame
    current: pd.Series
    observed: list[str]
    n_draws: int
    seed: int
    seconds: float
    warnings: list[str]

    def to_dict(self, k: int | None = None) -> dict[str, Any]:
        """JSON-safe dict of the ranking's top ``k`` probes (all by default).

        Non-finite numbers become ``None``.
        """
        rows = self.table if k is None else self.table.head(k)
        probes = [
            {key: _jsonable(value) for key, value in row.items()}
            for row in rows.to_dict(orient="records")
        ]
        return {
            "model": self.model,
            "target": self.target,
            "scored": self.scored(),
            "observed": list(self.observed),
            "probes": probes,
            "n_probes": len(self.table),
            "n_draws": self.n_draws,
            "seed": self.seed,
            "seconds": _jsonable(self.seconds),
            "warnings": list(self.warnings),
        }

    def scored(self) -> list[str]:
        """The columns whose variance is scored: the target, or every unobserved benchmark."""
        return [self.target] if self.target is not None else [str(c) for c in self.current.index]


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def rank_probes(
    fit: FitResults,
    model: str,
    target: str | None = None,
    *,
    draws: int = DEFAULT_DRAWS,
    replicates: int = DEFAULT_REPLICATES,
    simulations: int = DEFAULT_SIMULATIONS,
    max_draws: int = MAX_DRAWS,
    seed: int = 0,
) -> ProbeRanking:
    """Rank a model's unobserved benchmarks by the expected reduction of predictive variance.

    Parameters
    ----------
    fit : FitResults
        A fitted run holding ``model``.
    model : str
        The model whose next evaluation is chosen.
    target : str, optional
        Score each probe by the variance of this unobserved benchmark only (default: the
        summed variance of the model's other unobserved benchmarks).
    draws : int
        Posterior draws to use, thinned evenly (all when the fit has fewer).
    replicates : int
        Noisy predictive draws per posterior draw.
    simulations : int
        Scores simulated per probe (from evenly spaced draws among those used).
    max_draws : int
        Most draws of the fallback for probes whose median ESS is below :data:`ESS_MIN`
        (no fallback when not above ``draws``).
    seed : int
        Same seed, same ranking.

    Returns
    -------
    ProbeRanking

    Raises
    ------
    BayesScalingError
        An unknown model or target, a target the model has a score on, a model with no
        unobserved benchmark, or nothing left to score (a single unobserved benchmark and no
        target).

    Examples
    --------
    >>> r = rank_probes(fit, "F01-003")  # doctest: +SKIP
    >>> r.table["benchmark"].iloc[0], bool(r.table["fraction"].iloc[0] > 0)  # doctest: +SKIP
    ('ARC-C', True)
    """
    start = time.perf_counter()
    if draws < 2:
        raise BayesScalingError(f"draws must be at least 2, got {draws}")
    if replicates < 1:
        raise BayesScalingError(f"replicates must be at least 1, got {replicates}")
    if simulations < 1:
        raise BayesScalingError(f"simulations must be at least 1, got {simulations}")
    observed, unobserved = probe_columns(fit, model, target)
    candidates = [c for c in unobserved if c != target]
    n_total = fit.posterior.sizes["chain"] * fit.posterior.sizes["draw"]
    base = _evaluate(
        fit, model, unobserved, candidates, target, draws, replicates, simulations, seed
    )
    n_used = base["draws"]
    rows = base["rows"]
    per_col = base["per_column"]
    low = [c for c in candidates if rows[c]["ess"] < ESS_MIN]
    bigger = min(max_draws, n_total)
    if low and bigger > n_used:
        more = _evaluate(fit, model, unobserved, low, target, bigger, replicates, simulations, seed)
        for c in low:
            rows[c] = more["rows"][c]
            per_col[c] = more["per_column"][c]
    warnings = []
    linear = [c for c in base["linear"] if target is None or c == target]
    if linear and target is None and len(linear) < len(unobserved):
        # A z-score's variance dwarfs a share's: the sum would rank for those columns.
        warnings.append(
            f"linear columns {', '.join(linear)} are scored on their standardised scale (sd 1 "
            "among the table's models), shares on [0, 1]: their variance dominates the sum; "
            "give a target to rank for one column"
        )
    for c in candidates:
        rows[c]["low_ess"] = bool(rows[c]["ess"] < ESS_MIN)
        if rows[c]["low_ess"]:
            warnings.append(
                f"probe {c!r}: median importance ESS {rows[c]['ess']:.0f} of "
                f"{rows[c]['draws']} draws is below {ESS_MIN:.0f}; its reduction is optimistic "
                "(a fit with more draws makes it reliable)"
            )
    table = pd.DataFrame([rows[c] for c in candidates], columns=list(TABLE_COLUMNS))
    table = table.sort_values(
        ["reduction", "benchmark"], ascending=[False, True], kind="stable"
    ).reset_index(drop=True)
    order = list(table["benchmark"])
    per_column = pd.DataFrame([per_col[c] for c in order], index=order, columns=unobserved)
    per_column.index.name = "probe"
    return ProbeRanking(
        model=model,
        target=target,
        table=table,
        per_column=per_column,
        current=pd.Series(base["current"], index=unobserved, name="variance"),
        observed=observed,
        n_draws=n_used,
        seed=seed,
        seconds=time.perf_counter() - start,
        warnings=warnings,
    )


def probe_columns(
    fit: FitResults, model: str, target: str | None = None
) -> tuple[list[str], list[str]]:
    """The benchmarks ``model`` has a score on, and those it has none on, in the fit's order.

    Checks what :func:`rank_probes` needs (one-line :class:`BayesScalingError` otherwise).

    Examples
    --------
    >>> observed, unobserved = probe_columns(fit, "F01-003")  # doctest: +SKIP
    """
    return check_probe_request(
        fit.data, model, target, list(map(str, fit.draws("b")["benchmark"].to_numpy()))
    )


def check_probe_request(
    data: Any, model: str, target: str | None, benchmarks: Sequence[str] | None = None
) -> tuple[list[str], list[str]]:
    """Observed and unobserved benchmarks of ``model`` in a tidy dataset, or a one-line error.

    Used before fitting a table (cheap refusals) and on a fit's own data.

    Parameters
    ----------
    data : xarray.Dataset
        Tidy dataset (``score`` over model, benchmark).
    model : str
    target : str, optional
    benchmarks : sequence of str, optional
        The benchmarks that count (default: all of ``data``).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"score": (("model", "benchmark"), [[0.5, np.nan, np.nan]])},
    ...                 coords={"model": ["m"], "benchmark": ["A", "B", "C"]})
    >>> check_probe_request(ds, "m", None)
    (['A'], ['B', 'C'])
    """
    names = [str(m) for m in data["model"].to_numpy()]
    if model not in names:
        raise BayesScalingError(
            f"model {model!r} is not in the {'fit' if benchmarks is not None else 'table'} "
            f"({len(names)} models)"
        )
    bench = (
        [str(b) for b in data["benchmark"].to_numpy()] if benchmarks is None else list(benchmarks)
    )
    row = data["score"].sel(model=model).sel(benchmark=bench).to_numpy().astype(float)
    observed = [b for b, y in zip(bench, row, strict=True) if np.isfinite(y)]
    unobserved = [b for b, y in zip(bench, row, strict=True) if not np.isfinite(y)]
    if target is not None:
        if target not in bench:
            raise BayesScalingError(
                f"--target {target!r} is not a benchmark of the "
                f"{'fit' if benchmarks is not None else 'table'} ({', '.join(bench)})"
            )
        if target in observed:
            raise BayesScalingError(
                f"model {model!r} already has a score on --target {target!r}; "
                "name a benchmark it lacks"
            )
    if not unobserved:
        raise BayesScalingError(
            f"model {model!r} has a score on every benchmark: no evaluation left to choose"
        )
    if target is None and len(unobserved) < 2:
        raise BayesScalingError(
            f"model {model!r} lacks only {unobserved[0]!r}: no other benchmark for a probe "
            "to inform (run it, or give --target)"
        )
    if target is not None and len(unobserved) < 2:
        raise BayesScalingError(
            f"model {model!r} lacks only --target {target!r}: no other benchmark to probe"
        )
    return observed, unobserved


def _evaluate(
    fit: FitResults,
    model: str,
    unobserved: list[str],
    candidates: list[str],
    target: str | None,
    draws: int,
    replicates: int,
    simulations: int,
    seed: int,
) -> dict[str, Any]:
    """Expected reductions of ``candidates`` on ``draws`` evenly thinned posterior draws."""
    n_total = fit.posterior.sizes["chain"] * fit.posterior.sizes["draw"]
    n = max(2, min(int(draws), n_total))
    pick = np.unique(np.round(np.linspace(0, n_total - 1, n)).astype(np.int64))
    sub = _subset(fit, pick)
    rng = np.random.default_rng(seed)
    cap = sub.draws("S").sel(model=[model])
    m = predictive_draws(sub, cap, unobserved, rng, noise=False).to_numpy()[:, 0, :]  # (S, C)
    params = column_params(sub, unobserved)
    phi = precision(params["noise"])  # (S, C)
    n_items = params["n_items"]
    # The measurement layer's draws around each expected score, as predictive_draws makes
    # them for a benchmark (drawn here to read the posterior per column once, not twice).
    y = draw(
        np.broadcast_to(m[:, None, :], (m.shape[0], replicates, m.shape[1])),
        phi[:, None, :],
        n_items,
        rng,
        fit.spec.measurement,
        params["linear"],
    )  # (S, R, C)
    v = ((y - m[:, None, :]) ** 2).mean(axis=1)
    second = v + m**2  # E[y^2 | draw]
    current = second.mean(axis=0) - m.mean(axis=0) ** 2
    scored = (
        np.array([c == target for c in unobserved])
        if target is not None
        else np.ones(len(unobserved), dtype=bool)
    )
    # One product per probe gives both weighted moments. A BLAS product: its last bits may
    # depend on the thread count, which a ranking (unlike a sampler's path) does not amplify.
    moments = np.concatenate([second, m], axis=1)
    n_cols = len(unobserved)
    rows: dict[str, dict[str, Any]] = {}
    per_column: dict[str, np.ndarray] = {}
    s = len(pick)
    outer = np.unique(np.round(np.linspace(0, s - 1, min(simulations, s))).astype(np.int64))
    for cand in candidates:
        j = unobserved.index(cand)
        # ll[t, o]: log density of the score simulated under draw outer[o], under draw t.
        ll = log_density(
            y[outer, 0, j],
            np.full(len(outer), n_items[j]),
            m[:, j][:, None],
            phi[:, j][:, None],
            fit.spec.measurement,
            np.full(len(outer), params["linear"][j]),
        )
        lw = ll.T.copy()
        lw[np.arange(len(outer)), outer] = -np.inf
        w = np.exp(lw - logsumexp(lw, axis=1, keepdims=True))
        ess = 1.0 / (w**2).sum(axis=1)
        weighted = w @ moments
        cond = weighted[:, :n_cols] - weighted[:, n_cols:] ** 2
        reduction = current - cond.mean(axis=0)
        reduction[j] = np.nan
        keep = scored.copy()
        keep[j] = False
        total_now = float(current[keep].sum())
        total_red = float(reduction[keep].sum())
        rows[cand] = {
            "benchmark": cand,
            "reduction": total_red,
            "fraction": total_red / total_now if total_now > 0 else math.nan,
            "variance": total_now,
            "ess": float(np.median(ess)),
            "draws": s,
            "low_ess": False,
        }
        per_column[cand] = reduction
    linear = [c for c, lin in zip(unobserved, params["linear"], strict=True) if lin]
    return {
        "rows": rows,
        "per_column": per_column,
        "current": current,
        "draws": s,
        "linear": linear,
    }
