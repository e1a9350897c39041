"""Scores of forecasts from compute for held-out models, shared by the simulation benches.

``bench/time_trend.py`` and ``bench/robust_tails.py`` forecast held-out models' benchmark
scores from family, compute (and release date) alone and score them the same way:
:func:`forecast_errors` per held-out score, :func:`convergence_note` per fit and
:func:`pooled_line` over seeds. Those two, ``bench/target_slopes.py`` and
``bench/target_jump.py`` share their command line (:func:`seeds_parser`), and two
fit through :func:`timed_fit`: ``robust_tails.py`` and ``target_jump.py``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import numpy as np
import xarray as xr

from bayes_scaling.diagnostics import Diagnostics
from bayes_scaling.estimator import CapabilityModel, FitResults
from bayes_scaling.specs import ModelSpec

#: (absolute error of the forecast mean, inside the 90% interval?, interval width).
Errors = tuple[np.ndarray, np.ndarray, np.ndarray]


def seeds_parser(
    doc: str, *, seeds: Sequence[int] = (0, 1, 2), tune: int = 1500
) -> argparse.ArgumentParser:
    """The simulation benches' command line: ``--seeds``, ``--draws``, ``--tune``, ``--chains``.

    Examples
    --------
    >>> args = seeds_parser("A bench.", tune=1000).parse_args(["--seeds", "4"])
    >>> args.seeds, args.draws, args.tune, args.chains
    ([4], 2000, 1000, 4)
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(seeds))
    parser.add_argument("--draws", type=int, default=2000)
    parser.add_argument("--tune", type=int, default=tune)
    parser.add_argument("--chains", type=int, default=4)
    return parser


def timed_fit(
    spec: ModelSpec, data: xr.Dataset, args: argparse.Namespace, targets: xr.Dataset | None = None
) -> tuple[FitResults, float]:
    """A fit at the command line's ``--draws/--tune/--chains`` (sampler seed 0), and its seconds."""
    start = time.perf_counter()
    fit = CapabilityModel(spec).fit(
        data,
        targets,
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        seed=0,
        warn=False,
    )
    return fit, time.perf_counter() - start


def forecast_errors(
    fit: FitResults, held: xr.Dataset, p: xr.DataArray, seed: int = 0, dated: bool = False
) -> Errors:
    """Per observed held-out score: error of the forecast mean vs the true expected score
    ``p``, whether the 90% predictive interval holds the score, and the interval's width.

    ``dated`` passes the held-out models' ``release`` coordinate (a time-trend fit).
    """
    cap = fit.capability_from_compute(
        list(held["family"].to_numpy()),
        np.log10(held["flops"].to_numpy()),
        np.random.default_rng(seed),
        names=list(held["model"].to_numpy()),
        release=list(held["release"].to_numpy()) if dated else None,
    )
    pred = fit.predict(cap, seed=seed)["predictions"]["score"]
    pred = pred.stack(sample=("chain", "draw")).rename(column="benchmark")
    lo, hi = pred.quantile(0.05, "sample"), pred.quantile(0.95, "sample")
    obs = held["score"]
    keep = np.isfinite(obs.to_numpy()).ravel()
    return (
        abs(pred.mean("sample") - p).to_numpy().ravel()[keep],
        ((obs >= lo) & (obs <= hi)).to_numpy().ravel()[keep],
        (hi - lo).to_numpy().ravel()[keep],
    )


def fit_text(d: Diagnostics, seconds: float, what: str = "") -> str:
    """The end of a bench line: convergence summary, seconds, and the unconverged note.

    Examples
    --------
    >>> d = Diagnostics(max_rhat=1.004, min_ess_bulk=900.0, min_ess_tail=1500.0,
    ...                 divergences=0, min_bfmi=0.9, seconds=61.2, offending={})
    >>> fit_text(d, d.seconds, "both fits ")
    'R-hat 1.004 ESS 900/1500 div 0 | both fits 61 s'
    """
    return (
        f"R-hat {d.max_rhat:.3f} ESS {d.min_ess_bulk:.0f}/{d.min_ess_tail:.0f} "
        f"div {d.divergences} | {what}{seconds:.0f} s" + convergence_note(d)
    )


def convergence_note(d: Diagnostics) -> str:
    """``""`` for a converged fit, else `` NOT CONVERGED (its slowest parameters)``."""
    if d.ok:
        return ""
    return f" NOT CONVERGED (slowest: {', '.join((d.offending['rhat'] or d.offending['ess'])[:3])})"


def pooled_line(
    label: str, parts: Sequence[Errors], unconverged: int, squared: bool = False
) -> str:
    """One line pooling a fit's held-out scores over seeds.

    The first array of each part is absolute errors (``mae``, in points), or squared errors
    with ``squared`` (``mse``, x 1000).

    Examples
    --------
    >>> one = (np.array([0.1]), np.array([True]), np.array([0.3]))
    >>> pooled_line("dates", [one, one], 0)
    'pooled over 2 seeds | dates | mae 10.0 pts | cov90 1.00 | width 30.0 pts | 2 values'
    >>> pooled_line("t", [one], 1, squared=True)
    'pooled over 1 seeds | t | mse 100.00 | cov90 1.00 | width 30.0 pts | 1 values | 1 fits NOT CONVERGED'
    """
    err, inside, width = (np.concatenate([part[i] for part in parts]) for i in range(3))
    error = f"mse {1000 * err.mean():.2f}" if squared else f"mae {100 * err.mean():.1f} pts"
    return (
        f"pooled over {len(parts)} seeds | {label} | {error} | "
        f"cov90 {inside.mean():.2f} | width {100 * width.mean():.1f} pts | {len(err)} values"
        + (f" | {unconverged} fits NOT CONVERGED" if unconverged else "")
    )
