"""The approximate fast path (``sampler="advi"``) against NUTS on the same forecasts.

One line per case and sampler: wall time (compilation included) and, for ADVI, how far
its 90% forecast intervals are from NUTS's on the same data: the mean ratio of interval
widths, and the mean and largest distance between interval centres in units of NUTS's
width. Issue 7's goal: widths within 10%, centres within a quarter of the width.

Cases: GSM8K with chain-of-thought from benchmarks (base-llm, the 20% largest-compute
models held out), and every benchmark of those models from family and compute alone.
``--sizes`` adds ADVI fits of simulated leaderboards (k3, 12 benchmarks, 30% missing).

Run: ``python bench/fast_path.py [--draws 500 --tune 1000 --spec k2 --sizes 500,5000]``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bayes_scaling import datasets
from bayes_scaling.estimator import CapabilityModel
from bayes_scaling.forecast import forecast, make_target
from bayes_scaling.simulate import simulate

DATA = Path(__file__).resolve().parents[1] / "data" / "obsscaling"
METRIC = "gsm8k_cot_8_exact_match,flexible-extract"


def _largest(bench, models: list[str], share: float = 0.2) -> list[str]:
    flops = bench["flops"].to_series().reindex(models).dropna()
    n = max(1, round(share * len(flops)))
    return list(flops.sort_values(ascending=False).index[:n])


def _compare(nuts: pd.DataFrame, approx: pd.DataFrame) -> dict[str, float]:
    key = ["model", "metric"]
    a = nuts[nuts["split"] == "test"].set_index(key)
    b = approx[approx["split"] == "test"].set_index(key).reindex(a.index)
    width_a = (a["upper"] - a["lower"]).to_numpy()
    width_b = (b["upper"] - b["lower"]).to_numpy()
    centre = np.abs(((b["upper"] + b["lower"]) - (a["upper"] + a["lower"])).to_numpy() / 2)
    return {
        "width_ratio": float(np.mean(width_b / width_a)),
        "centre_mean": float(np.mean(centre / width_a)),
        "centre_max": float(np.max(centre / width_a)),
    }


def main() -> None:
    """Print one line per case."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--spec", default="k2")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sizes", default="", help="Simulated leaderboard sizes for ADVI.")
    args = parser.parse_args()

    bench = datasets.load("base-llm")
    models = [str(m) for m in bench["model"].to_numpy()]
    raw = pd.read_csv(DATA / "base_llm_post_training_eval.csv").set_index("Model")[METRIC]
    target = make_target(raw, METRIC, 0.0, 1.0, n_items=500)
    with_target = [m for m in target.values.dropna().index if m in models]
    cases = {
        "gsm8k-cot/benchmarks": (target, _largest(bench, with_target), "benchmarks"),
        "benchmarks/compute": (None, _largest(bench, models, 0.1), "compute"),
    }
    for name, (tgt, test, route) in cases.items():
        tables = {}
        for sampler in ("nutpie", "advi"):
            t0 = time.perf_counter()
            result = forecast(
                bench,
                tgt,
                test,
                route=route,  # type: ignore[arg-type]
                spec=args.spec,
                seed=args.seed,
                draws=args.draws,
                tune=args.tune,
                chains=args.chains,
                sampler=sampler,  # type: ignore[arg-type]
            )
            seconds = time.perf_counter() - t0
            tables[sampler] = result.table
            line = f"{name:<22} {args.spec:<4} {sampler:<7} {seconds:7.1f} s"
            if sampler == "advi":
                c = _compare(tables["nutpie"], result.table)
                line += (
                    f"  width ratio {c['width_ratio']:.2f}  centre shift mean "
                    f"{c['centre_mean']:.2f} max {c['centre_max']:.2f} (NUTS widths)"
                )
            else:
                d = result.fit.diagnostics
                line += f"  R-hat {d.max_rhat:.3f} ESS {d.min_ess_bulk:.0f} div {d.divergences}"
            print(line, flush=True)

    for size in [int(s) for s in args.sizes.split(",") if s]:
        sim = simulate(size, 100, 12, capabilities=3, missing=0.3, seed=args.seed)
        n_obs = int(np.isfinite(sim.data["score"]).sum())
        t0 = time.perf_counter()
        CapabilityModel(sim.spec("k3")).fit(
            sim.data,
            draws=args.draws,
            chains=args.chains,
            sampler="advi",
            seed=args.seed,
            warn=False,
        )
        print(
            f"sim-{size:<17} k3   advi    {time.perf_counter() - t0:7.1f} s  {n_obs} scores",
            flush=True,
        )


if __name__ == "__main__":
    main()
