"""Leave-one-family-out from compute on the base table, smallest model kept (Sloth's protocol).

Issue 16's last goal: for each family of the bundled ``base-llm`` table with at least two
models of known compute, every member but the smallest (by training compute) is removed
from the fit (members without compute too); the fit keeps the smallest one, so it learns
the family's efficiency from it. The removed members' eight benchmark scores are then
forecast from family and compute alone
(:meth:`~bayes_scaling.estimator.FitResults.capability_from_compute` and
:meth:`~bayes_scaling.estimator.FitResults.predict`), on the benchmarks' raw [0, 1] scale.

One line per family: held-out models and scores, mean absolute error (MAE) of the forecast
mean against the observed score, 90% interval coverage and width, and two least-squares
baselines on the same split:

- ``law``: the paper's compute law per benchmark, ``floor + (1 - floor) sigmoid(a + b
  log10 C)``, fitted on the training models (:func:`~bayes_scaling.baseline.baseline_compute_forecast`);
- ``law+shift``: the same law moved, on the logit scale, by the kept smallest model's
  residual: the least-squares analogue of a family-specific intercept learnt from one model.

A fit that misses R-hat <= 1.01, ESS >= 400 or has divergences is marked ``NOT
CONVERGED``: its line is not a result. The last line pools every held-out score (MAE over
scores, and the mean of the families' MAEs). Fits are cached under ``--out`` by the grid
engine, keyed by family, spec, seed, sampler settings and a hash of the package's code, so
an interrupted run resumes.

Run::

    nice -n 5 python bench/sloth_lofo.py [--spec k3] [--out runs/sloth-lofo]
        [--draws 2000 --tune 1000 --chains 4] [--families Pythia OPT]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import xarray as xr

from bayes_scaling import __version__
from bayes_scaling.estimator import DEFAULT_DRAWS, DEFAULT_SPEC, DEFAULT_TUNE, CapabilityModel
from bayes_scaling.grid import Task, run_grid

ROOT: Final = Path(__file__).resolve().parents[1]
TABLE: Final = "base-llm"
#: Logit clipping of normalised scores for the shifted baseline (a score at its floor).
CLIP: Final = 1e-3


def lofo_families(bench: xr.Dataset) -> list[str]:
    """Families with at least two models of known compute, sorted.

    Examples
    --------
    >>> from bayes_scaling import datasets
    >>> fams = lofo_families(datasets.load("base-llm"))
    >>> len(fams), "Pythia" in fams, "TinyLlama" in fams
    (30, True, False)
    """
    flops = bench["flops"].to_numpy().astype(float)
    fam = bench["family"].to_numpy().astype(str)
    known = np.isfinite(flops) & (flops > 0)
    names, counts = np.unique(fam[known], return_counts=True)
    return sorted(str(f) for f, c in zip(names, counts, strict=True) if c >= 2)


def lofo_split(bench: xr.Dataset, family: str) -> tuple[xr.Dataset, list[str], str]:
    """The fit's data, the held-out members and the kept smallest member of ``family``.

    Examples
    --------
    >>> from bayes_scaling import datasets
    >>> train, held, small = lofo_split(datasets.load("base-llm"), "Llama-2")
    >>> small, len(held), any(m in train["model"] for m in held)
    ('meta-llama/Llama-2-7b-hf', 2, False)
    """
    models = bench["model"].to_numpy().astype(str)
    fam = bench["family"].to_numpy().astype(str)
    flops = bench["flops"].to_numpy().astype(float)
    members = np.flatnonzero(fam == family)
    known = [i for i in members if np.isfinite(flops[i]) and flops[i] > 0]
    small = min(known, key=lambda i: (flops[i], models[i]))
    held = [str(models[i]) for i in known if i != small]
    drop = [i for i in members if i != small]
    train = bench.isel(model=np.setdiff1d(np.arange(len(models)), drop))
    return train, held, str(models[small])


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, CLIP, 1 - CLIP)
    return np.log(p) - np.log1p(-p)


def baselines(
    bench: xr.Dataset, train: xr.Dataset, held: Sequence[str], small: str
) -> tuple[np.ndarray, np.ndarray]:
    """The two least-squares forecasts (model, benchmark) of the held-out scores.

    The compute law is fitted on the other families' models; the kept smallest model is
    left out of it, so that its residual, the shift, is an out-of-sample one.
    """
    from bayes_scaling.baseline import baseline_compute_forecast

    names = [str(m) for m in train["model"].to_numpy()]
    law = np.full((len(held), bench.sizes["benchmark"]), np.nan)
    shifted = law.copy()
    for j, b in enumerate(bench["benchmark"].to_numpy()):
        floor = float(bench["floor"].sel(benchmark=b))
        target = train["score"].sel(benchmark=b)
        pool = xr.concat([train["flops"], bench["flops"].sel(model=list(held))], "model")
        values = target.reindex(model=names + list(held))
        out = baseline_compute_forecast(pool, values, [*held, small], floor=floor)
        pred = out["mean"].sel(model=list(held)).to_numpy()
        law[:, j] = pred
        y_small = float(target.sel(model=small))
        if np.isfinite(y_small):
            p_small = float(out["mean"].sel(model=small))
            shift = _logit(np.array((y_small - floor) / (1 - floor))) - _logit(
                np.array((p_small - floor) / (1 - floor))
            )
            z = _logit((pred - floor) / (1 - floor)) + shift
            shifted[:, j] = floor + (1 - floor) / (1 + np.exp(-z))
        else:
            shifted[:, j] = pred
    return law, shifted


def lofo_worker(task: Task) -> dict[str, Any]:
    """Fit one family's split and score its held-out forecasts (one grid row)."""
    from bayes_scaling import datasets

    p = task.params
    bench = datasets.load(TABLE)
    family = task.split.split("=", 1)[1]
    train, held, small = lofo_split(bench, family)
    fit = CapabilityModel(task.spec).fit(
        train,
        draws=int(p["draws"]),
        tune=int(p["tune"]),
        chains=int(p["chains"]),
        seed=task.seed,
        warn=False,
    )
    sub = bench.sel(model=held)
    cap = fit.capability_from_compute(
        [family] * len(held),
        np.log10(sub["flops"].to_numpy()),
        np.random.default_rng(task.seed),
        names=held,
    )
    columns = [str(b) for b in bench["benchmark"].to_numpy()]
    pred = fit.predict(cap, columns, seed=task.seed)["predictions"]["score"]
    pred = pred.stack(sample=("chain", "draw")).rename(column="benchmark")
    pred = pred.transpose("model", "benchmark", "sample").to_numpy()
    obs = sub["score"].transpose("model", "benchmark").to_numpy()
    lo, hi = np.quantile(pred, [0.05, 0.95], axis=-1)
    keep = np.isfinite(obs)
    law, shifted = baselines(bench, train, held, small)
    d = fit.diagnostics
    return {
        "n_models": len(held),
        "n_values": int(keep.sum()),
        "abs_error_sum": float(np.abs(pred.mean(-1) - obs)[keep].sum()),
        "inside90": int(((obs >= lo) & (obs <= hi))[keep].sum()),
        "width_sum": float((hi - lo)[keep].sum()),
        "law_abs_error_sum": float(np.abs(law - obs)[keep].sum()),
        "shift_abs_error_sum": float(np.abs(shifted - obs)[keep].sum()),
        "max_rhat": d.max_rhat,
        "min_ess_bulk": d.min_ess_bulk,
        "min_ess_tail": d.min_ess_tail,
        "divergences": d.divergences,
        "converged": bool(d.ok),
        "slowest": ", ".join((d.offending["rhat"] or d.offending["ess"])[:3]),
        "seconds": float(fit.tree.attrs.get("seconds", np.nan)),
    }


def code_version() -> str:
    """This worker, the package version and a hash of the package's code and specs."""
    import bayes_scaling

    package = Path(bayes_scaling.__file__).resolve().parent
    files = [*sorted(package.rglob("*.py")), *sorted((ROOT / "models").glob("*.toml"))]
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for path in files:
        digest.update(path.relative_to(path.parents[1]).as_posix().encode())
        digest.update(path.read_bytes())
    return f"sloth_lofo@{__version__}+{digest.hexdigest()[:16]}"


def family_line(family: str, row: pd.Series) -> str:
    """One printed line per family (MAE in points of the [0, 1] scale x 100)."""
    if row["status"] != "ok":
        return f"{family:22s} | FAILED: {row['error']}"
    n = row["n_values"]
    note = "" if row["converged"] else f" NOT CONVERGED (slowest: {row['slowest']})"
    return (
        f"{family:22s} | {row['n_models']:.0f} models, {n:.0f} scores | mae "
        f"{100 * row['abs_error_sum'] / n:5.2f} pts | law {100 * row['law_abs_error_sum'] / n:5.2f}"
        f" | law+shift {100 * row['shift_abs_error_sum'] / n:5.2f} | cov90 "
        f"{row['inside90'] / n:.2f} | width {100 * row['width_sum'] / n:5.1f} pts | R-hat "
        f"{row['max_rhat']:.3f} ESS {row['min_ess_bulk']:.0f}/{row['min_ess_tail']:.0f} div "
        f"{row['divergences']:.0f}{note}"
    )


def pooled_line(table: pd.DataFrame) -> str:
    """MAE over all held-out scores and the mean of the families' MAEs, per method.

    Examples
    --------
    >>> t = pd.DataFrame({"status": ["ok", "ok"], "n_values": [2, 6],
    ...     "abs_error_sum": [0.02, 0.12], "law_abs_error_sum": [0.04, 0.24],
    ...     "shift_abs_error_sum": [0.02, 0.18], "inside90": [2, 5], "width_sum": [0.2, 0.6],
    ...     "converged": [True, False]})
    >>> pooled_line(t)  # doctest: +NORMALIZE_WHITESPACE
    'pooled: 2 families, 8 scores | mae 1.75 pts (family mean 1.50) | law 3.50 (3.00) |
     law+shift 2.50 (2.00) | cov90 0.88 | width 10.0 pts | 1 fits NOT CONVERGED (not results)'
    """
    ok = table[table["status"] == "ok"]
    n = ok["n_values"].astype(float)

    def both(col: str) -> str:
        return f"{100 * ok[col].sum() / n.sum():.2f} ({100 * (ok[col] / n).mean():.2f})"

    bad = int((~ok["converged"].astype(bool)).sum())
    return (
        f"pooled: {len(ok)} families, {n.sum():.0f} scores | mae "
        f"{100 * ok['abs_error_sum'].sum() / n.sum():.2f} pts (family mean "
        f"{100 * (ok['abs_error_sum'] / n).mean():.2f}) | law {both('law_abs_error_sum')} | "
        f"law+shift {both('shift_abs_error_sum')} | cov90 {ok['inside90'].sum() / n.sum():.2f}"
        f" | width {100 * ok['width_sum'].sum() / n.sum():.1f} pts"
        + (f" | {bad} fits NOT CONVERGED (not results)" if bad else "")
    )


def main(argv: list[str] | None = None) -> int:
    from bayes_scaling import datasets

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default=DEFAULT_SPEC)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--draws", type=int, default=DEFAULT_DRAWS)
    parser.add_argument("--tune", type=int, default=DEFAULT_TUNE)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--families", nargs="+", help="only these families (default: all)")
    parser.add_argument("--out", type=Path, default=Path("runs/sloth-lofo"))
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    families = lofo_families(datasets.load(TABLE))
    if args.families:
        unknown = sorted(set(args.families) - set(families))
        if unknown:
            parser.error(f"not a family with two models of known compute: {unknown[0]!r}")
        families = [f for f in families if f in args.families]
    params = {"draws": args.draws, "tune": args.tune, "chains": args.chains}
    tasks = [
        Task("benchmarks", f"lofo-smallest={f}", args.spec, args.seed, params) for f in families
    ]
    shown: set[str] = set()

    def show(task: Task, row: Any, error: str | None) -> None:
        shown.add(task.split)
        status = {"status": "ok" if error is None else "failed", "error": error}
        print(family_line(task.split.split("=", 1)[1], pd.Series({**status, **(row or {})})))
        sys.stdout.flush()

    table = run_grid(
        tasks,
        lofo_worker,
        cache_dir=args.out / "cache",
        scheduler="sync",
        progress=False,
        code_version=code_version(),
        on_result=show,
    )
    for _, row in table.iterrows():  # the fits that came from the cache
        if row["split"] not in shown:
            print(family_line(row["split"].split("=", 1)[1], row))
    print(
        f"# bayes_scaling {__version__}, spec {args.spec}, seed {args.seed}, "
        f"{args.chains} x ({args.tune} + {args.draws})"
    )
    print(pooled_line(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
