"""Held-out cells of sparse tables without compute: ``complete`` against the logit baseline.

Issue 17's acceptance test. For each case, a seeded random share of the observed cells is
hidden (:func:`holdout`; every model and every benchmark keeps at least one observed
cell), ``bayes_scaling.complete.complete`` fills the rest of the table, and so does the
rank-2 least-squares completion on logit scores of ``bench/completion_baseline.py``. On
the hidden cells it prints one line per case:

- ``coverage``: share of hidden cells inside ``complete``'s interval (90% by default);
- ``width``: mean width of that interval;
- ``mae``: median absolute error of ``complete``'s ``median``;
- ``baseline mae``: the same of the baseline's fill (its ridge tuned by 5-fold
  cross-validation on the training cells, from 0.01 to 3), and the coverage and width of
  the baseline's cross-conformal interval at the same level;
- the fit's convergence summary (``max_rhat``, ``min_ess_bulk``, ``min_ess_tail``,
  ``divergences``) and ``NOT CONVERGED`` when it fails R-hat <= 1.01, ESS >= 400 or has
  divergences: such a line is not a result.

Errors and widths are in points: 100 x (raw units) / (upper - lower), i.e. percentage
points of the column's declared range. The truth of a hidden cell is its observed value.

Cases:

``sim``
    ``simulate(100 models, 12 families, 30 benchmarks, K=2, missing=0.75,
    compute_missing=1.0)``, parameter counts hidden too.
``instruct``
    The bundled ``instruct-llm`` table (27 models x 9 benchmarks, 90% filled) with its
    compute hidden; three seeded hold-outs, pooled, since one holds only ~33 cells.

Run (converged defaults of ``complete``)::

    nice -n 5 python bench/complete_heldout.py [--case sim --case instruct] [--share 0.15]
        [--seed 0] [--draws N --tune N --chains N] [--models 100 --benchmarks 30]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

BENCH = Path(__file__).resolve().parent
for _path in (BENCH.parent, BENCH):  # run from a checkout without installing
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from completion_baseline import complete_baseline  # noqa: E402

__all__ = [
    "CASES",
    "Result",
    "diagnostics_dict",
    "evaluate",
    "format_line",
    "hide_compute",
    "holdout",
    "instruct_table",
    "main",
    "simulated_table",
]

#: A ``complete``-like function: (data, **settings) -> the completed frame.
CompleteFn = Callable[..., pd.DataFrame]
#: Convergence thresholds of the project (bayes_scaling.diagnostics).
RHAT_MAX, ESS_MIN = 1.01, 400.0
#: Cases and the number of seeded hold-outs pooled in each by default.
CASES: dict[str, int] = {"sim": 1, "instruct": 3}


def hide_compute(data: xr.Dataset) -> xr.Dataset:
    """``data`` with parameters, tokens and FLOPs unknown (NaN) for every model.

    Examples
    --------
    >>> ds = hide_compute(instruct_table())
    >>> bool(ds["flops"].isnull().all() and ds["params"].isnull().all())
    True
    """
    nan = np.full(data.sizes["model"], np.nan)
    return data.assign_coords(
        {name: ("model", nan.copy()) for name in ("params", "tokens", "flops") if name in data}
    )


def simulated_table(
    n_models: int = 100,
    n_benchmarks: int = 30,
    missing: float = 0.75,
    *,
    n_families: int = 12,
    seed: int = 0,
) -> xr.Dataset:
    """A simulated sparse table (K=2) with no compute known.

    ``simulate(compute_missing=1.0)`` hides tokens and FLOPs; :func:`hide_compute` the
    parameter counts too, so nothing about compute is left.

    Examples
    --------
    >>> ds = simulated_table(20, 6, 0.5, n_families=4)
    >>> ds.sizes["model"], ds.sizes["benchmark"], bool(ds["flops"].isnull().all())
    (20, 6, True)
    """
    from bayes_scaling.simulate import simulate

    sim = simulate(
        n_models=n_models,
        n_families=min(n_families, n_models),
        n_benchmarks=n_benchmarks,
        capabilities=2,
        missing=missing,
        seed=seed,
        compute_missing=1.0,
    )
    return hide_compute(sim.data)


def instruct_table() -> xr.Dataset:
    """The bundled ``instruct-llm`` table with its compute hidden."""
    from bayes_scaling import datasets

    return hide_compute(datasets.load("instruct-llm"))


def holdout(data: xr.Dataset, share: float = 0.15, seed: int = 0) -> np.ndarray:
    """A seeded (model, benchmark) mask of observed cells to hide.

    Observed cells are visited in a seeded random order and hidden while the share is not
    reached, skipping a cell whose model or benchmark would be left without an observed
    cell. The share is of the observed cells, rounded.

    Examples
    --------
    >>> ds = xr.Dataset({"score": (("model", "benchmark"), [[0.1, 0.2], [0.3, np.nan]])})
    >>> held = holdout(ds, share=0.5, seed=0)
    >>> int(held.sum()), bool(held[1, 1])
    (1, False)
    """
    if not 0.0 < share < 1.0:
        raise ValueError(f"share must be in (0, 1), got {share}")
    score = data["score"].transpose("model", "benchmark").to_numpy()
    obs = np.isfinite(score)
    per_model = obs.sum(axis=1)
    per_bench = obs.sum(axis=0)
    target = round(share * obs.sum())
    held = np.zeros_like(obs)
    rows, cols = np.nonzero(obs)
    rng = np.random.default_rng(seed)
    done = 0
    for c in rng.permutation(rows.size):
        if done == target:
            break
        i, j = rows[c], cols[c]
        if per_model[i] > 1 and per_bench[j] > 1:
            held[i, j] = True
            per_model[i] -= 1
            per_bench[j] -= 1
            done += 1
    return held


def diagnostics_dict(diag: object) -> dict[str, float]:
    """``max_rhat``, ``min_ess_bulk``, ``min_ess_tail``, ``divergences`` of a fit summary.

    Accepts a mapping or an object with those attributes (a ``Diagnostics``); what is
    absent is NaN.

    Examples
    --------
    >>> diagnostics_dict({"max_rhat": 1.0, "divergences": 0})["min_ess_bulk"]
    nan
    """
    keys = ("max_rhat", "min_ess_bulk", "min_ess_tail", "divergences")
    if isinstance(diag, Mapping):
        return {k: float(diag.get(k, math.nan)) for k in keys}
    return {k: float(getattr(diag, k, math.nan)) for k in keys}


@dataclasses.dataclass(frozen=True)
class Result:
    """Scores of one case on its hidden cells (points: 100 x raw / (upper - lower))."""

    n_cells: int
    coverage: float
    width: float
    mae: float
    baseline_mae: float
    baseline_coverage: float
    baseline_width: float
    diagnostics: tuple[dict[str, float], ...]
    seconds: float
    baseline_ridges: tuple[float, ...] = ()

    @property
    def converged(self) -> bool:
        """Every fit has R-hat <= 1.01, both ESS >= 400 and no divergence."""
        return all(
            d["max_rhat"] <= RHAT_MAX
            and d["min_ess_bulk"] >= ESS_MIN
            and d["min_ess_tail"] >= ESS_MIN
            and d["divergences"] == 0
            for d in self.diagnostics
        )


def _points(frame: pd.DataFrame, data: xr.Dataset, held: np.ndarray) -> pd.DataFrame:
    """The hidden cells of a completed frame with truth and span, keyed by model/benchmark."""
    score = data["score"].transpose("model", "benchmark")
    lower = data["lower"].to_numpy().astype(float)
    span = data["upper"].to_numpy().astype(float) - lower
    i, j = np.nonzero(held)
    truth = pd.DataFrame(
        {
            "model": data["model"].to_numpy().astype(str)[i],
            "benchmark": data["benchmark"].to_numpy().astype(str)[j],
            "truth": lower[j] + score.to_numpy()[i, j] * span[j],
            "span": span[j],
        }
    )
    keyed = frame.astype({"model": str, "benchmark": str})
    out = truth.merge(keyed, on=["model", "benchmark"], how="left", validate="one_to_one")
    if out["median"].isna().any():
        raise ValueError("the completed frame lacks some hidden cells")
    return out


def evaluate(
    data: xr.Dataset,
    *,
    share: float = 0.15,
    seed: int = 0,
    repeats: int = 1,
    interval: float = 0.9,
    complete_fn: CompleteFn | None = None,
    settings: Mapping[str, Any] | None = None,
    baseline_ridge: float | Literal["cv"] = "cv",
) -> Result:
    """Hide cells, complete the rest with ``complete`` and the baseline, score both.

    Parameters
    ----------
    data : xarray.Dataset
        The full tidy dataset (its observed cells are the truth).
    share, seed : float, int
        Share of observed cells hidden and the seed of the first hold-out; hold-out ``r``
        uses ``seed + r`` (for the split and for ``complete``).
    repeats : int
        Seeded hold-outs whose hidden cells are pooled.
    interval : float
        Level of ``complete``'s interval and of the baseline's conformal one.
    complete_fn : callable, optional
        ``bayes_scaling.complete.complete`` by default (tests pass a stand-in).
    settings : mapping, optional
        More keyword arguments of ``complete_fn`` (``draws``, ``tune``, ``chains``, ...).
    baseline_ridge : float or "cv"
        The baseline's ridge; by default tuned by cross-validation on the training cells.

    Returns
    -------
    Result
    """
    if complete_fn is None:
        from bayes_scaling.complete import complete as complete_fn
    parts, base_parts, diags, ridges = [], [], [], []
    t0 = time.perf_counter()
    for r in range(repeats):
        held = holdout(data, share, seed + r)
        train = data.copy()
        train["score"] = data["score"].where(~xr.DataArray(held, dims=("model", "benchmark")))
        with warnings.catch_warnings():
            # One-line warnings of sparse benchmarks and samplers would bury the result line;
            # convergence is reported from the diagnostics instead.
            warnings.simplefilter("ignore")
            frame = complete_fn(train, interval=interval, seed=seed + r, **dict(settings or {}))
        diags.append(diagnostics_dict(frame.attrs.get("diagnostics", {})))
        parts.append(_points(frame, data, held))
        base = complete_baseline(train, ridge=baseline_ridge, conformal=interval, seed=seed + r)
        ridges.append(float(base.attrs["ridge"]))
        base_parts.append(_points(base, data, held))
    seconds = time.perf_counter() - t0
    cells = pd.concat(parts, ignore_index=True)
    base = pd.concat(base_parts, ignore_index=True)

    def pts(values: pd.Series, span: pd.Series) -> np.ndarray:
        return 100.0 * values.to_numpy(float) / span.to_numpy(float)

    def inside(frame: pd.DataFrame) -> float:
        return float(
            ((frame["lower"] <= frame["truth"]) & (frame["truth"] <= frame["upper"])).mean()
        )

    return Result(
        n_cells=len(cells),
        coverage=inside(cells),
        width=float(np.mean(pts(cells["upper"] - cells["lower"], cells["span"]))),
        mae=float(np.median(np.abs(pts(cells["median"] - cells["truth"], cells["span"])))),
        baseline_mae=float(np.median(np.abs(pts(base["median"] - base["truth"], base["span"])))),
        baseline_coverage=inside(base),
        baseline_width=float(np.mean(pts(base["upper"] - base["lower"], base["span"]))),
        diagnostics=tuple(diags),
        seconds=seconds,
        baseline_ridges=tuple(ridges),
    )


def format_line(name: str, data: xr.Dataset, result: Result, interval: float = 0.9) -> str:
    """One line for a case (worst diagnostics over its fits).

    Examples
    --------
    >>> ds = xr.Dataset({"score": (("model", "benchmark"), [[0.5, np.nan]])})
    >>> d = {"max_rhat": 1.002, "min_ess_bulk": 900.0, "min_ess_tail": 800.0, "divergences": 0}
    >>> r = Result(30, 0.9, 20.0, 4.0, 5.0, 0.87, 27.0, (d,), 61.0, (0.3,))
    >>> print(format_line("sim", ds, r))  # doctest: +NORMALIZE_WHITESPACE
    sim: 1 models x 2 benchmarks, 50% filled, 30 held-out cells; complete 90% coverage 0.900
    width 20.0 pts, mae 4.00 pts; baseline mae 5.00 pts (ridge 0.3, conformal coverage 0.870,
    width 27.0 pts);
    max_rhat 1.002, min_ess_bulk 900, min_ess_tail 800, divergences 0; 61 s
    """
    d = result.diagnostics
    worst = {
        "max_rhat": max(x["max_rhat"] for x in d),
        "min_ess_bulk": min(x["min_ess_bulk"] for x in d),
        "min_ess_tail": min(x["min_ess_tail"] for x in d),
        "divergences": sum(x["divergences"] for x in d),
    }
    filled = float(np.isfinite(data["score"].to_numpy()).mean())
    ridges = "/".join(f"{r:g}" for r in result.baseline_ridges) or "?"
    flag = "" if result.converged else " NOT CONVERGED (not a result)"
    return (
        f"{name}: {data.sizes['model']} models x {data.sizes['benchmark']} benchmarks, "
        f"{filled:.0%} filled, {result.n_cells} held-out cells; "
        f"complete {interval:.0%} coverage {result.coverage:.3f} width {result.width:.1f} pts, "
        f"mae {result.mae:.2f} pts; baseline mae {result.baseline_mae:.2f} pts "
        f"(ridge {ridges}, conformal coverage {result.baseline_coverage:.3f}, width {result.baseline_width:.1f} "
        f"pts); max_rhat {worst['max_rhat']:.3f}, min_ess_bulk {worst['min_ess_bulk']:.0f}, "
        f"min_ess_tail {worst['min_ess_tail']:.0f}, divergences {worst['divergences']:.0f}"
        f"{flag}; {result.seconds:.0f} s"
    )


def main(argv: Sequence[str] | None = None, complete_fn: CompleteFn | None = None) -> int:
    """Run the cases; print one line each. Returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", action="append", choices=sorted(CASES))
    parser.add_argument("--share", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, help="Hold-outs pooled (default: per case).")
    parser.add_argument("--interval", type=float, default=0.9)
    parser.add_argument("--spec", default="k2")
    parser.add_argument("--sampler", choices=("nuts", "advi"))
    parser.add_argument("--draws", type=int)
    parser.add_argument("--tune", type=int)
    parser.add_argument("--chains", type=int)
    parser.add_argument("--models", type=int, default=100, help="Models of the sim case.")
    parser.add_argument("--benchmarks", type=int, default=30, help="Benchmarks of the sim case.")
    parser.add_argument("--missing", type=float, default=0.75, help="Missing share (sim).")
    parser.add_argument("--baseline-ridge", default="cv", help="A number, or 'cv' (default).")
    args = parser.parse_args(argv)
    try:
        ridge = "cv" if args.baseline_ridge == "cv" else float(args.baseline_ridge)
    except ValueError:
        parser.error(f"--baseline-ridge must be a number or 'cv', got {args.baseline_ridge!r}")
    settings: dict[str, Any] = {"spec": args.spec}
    settings.update(
        {k: getattr(args, k) for k in ("sampler", "draws", "tune", "chains") if getattr(args, k)}
    )
    for name in args.case or list(CASES):
        if name == "sim":
            data = simulated_table(args.models, args.benchmarks, args.missing, seed=args.seed)
        else:
            data = instruct_table()
        result = evaluate(
            data,
            share=args.share,
            seed=args.seed,
            repeats=args.repeats or CASES[name],
            interval=args.interval,
            complete_fn=complete_fn,
            settings=settings,
            baseline_ridge=ridge,
        )
        print(
            format_line(name, data, result, args.interval) + f", {os.cpu_count()} cores", flush=True
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
