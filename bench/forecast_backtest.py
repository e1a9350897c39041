"""Held-out forecasts of downstream metrics on the bundled tables, next to the baseline.

One line per target: held-out 50%/90% coverage and MSE of the Bayesian forecast, and the
MSE of the published least-squares method (PCA + sigmoid) on the same split. The cases
are those of issue 4; results go to docs/forecasts.md.

Run: ``python bench/forecast_backtest.py [--draws 500 --tune 500 --chains 4 --spec k2]``
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bayes_scaling import datasets
from bayes_scaling.baseline import baseline_forecast
from bayes_scaling.forecast import forecast, make_target, split_top_share

DATA = Path(__file__).resolve().parents[1] / "data" / "obsscaling"


@dataclass(frozen=True)
class Case:
    """One backtest case."""

    bench: str
    table: str
    metric: str
    floor: float
    ceiling: float
    split: str  # "top10" (by target) or "compute20" (largest compute)
    # Items behind each value: every value of the emergent tasks is a multiple of
    # 1/2000 and of the GSM8K runs a multiple of 1/500 (checked in tests/test_bench_cases).
    n_items: int | None = None


CASES = (
    Case("instruct-llm", "instruct_llm_agent_eval.csv", "ABench-OA", 0.0, 10.0, "top10"),
    Case("instruct-llm", "instruct_llm_agent_eval.csv", "ABoard-Avg_SR", 0.0, 100.0, "top10"),
    Case(
        "base-llm",
        "base_llm_emergent_capability_eval.csv",
        "arithmetic_3ds_2_acc",
        0.0,
        1.0,
        "compute20",
        2000,
    ),
    Case(
        "base-llm",
        "base_llm_emergent_capability_eval.csv",
        "word_unscrambling_2_exact_match",
        0.0,
        1.0,
        "compute20",
        2000,
    ),
    Case(
        "base-llm",
        "base_llm_post_training_eval.csv",
        "gsm8k_cot_8_exact_match,flexible-extract",
        0.0,
        1.0,
        "compute20",
        500,
    ),
    Case(
        "base-llm",
        "base_llm_post_training_eval.csv",
        "gsm8k_5_exact_match,flexible-extract",
        0.0,
        1.0,
        "compute20",
        500,
    ),
)


def run_case(case: Case, args: argparse.Namespace) -> dict[str, object]:
    """Fit, forecast and score one case; returns a row of the results table."""
    bench = datasets.load(case.bench)
    raw = pd.read_csv(DATA / case.table).set_index("Model")[case.metric]
    target = make_target(
        raw, case.metric, case.floor, case.ceiling, source=case.table, n_items=case.n_items
    )
    models = [str(m) for m in bench["model"].to_numpy()]
    with_target = [m for m in target.values.dropna().index if m in models]
    if case.split == "top10":
        test = split_top_share(target, 0.1, models=with_target)
    else:
        flops = bench["flops"].to_series().reindex(with_target).dropna()
        n = max(1, round(0.2 * len(flops)))
        test = list(flops.sort_values(ascending=False).index[:n])
    t0 = time.perf_counter()
    result = forecast(
        bench,
        target,
        test,
        spec=args.spec,
        seed=args.seed,
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
    )
    seconds = time.perf_counter() - t0
    table = result.table
    held = table[(table["split"] == "test") & table["observed"].notna()]
    draws = result.draws.sel(column=case.metric, model=list(held["model"]))
    draws_raw = target.from_unit(draws.transpose("sample", "model").to_numpy())
    ours = _score(held["observed"].to_numpy(), draws_raw, case)
    base = baseline_forecast(
        bench,
        target.values.reindex(models).rename_axis("model").to_xarray(),
        test,
        floor=case.floor,
        ceiling=case.ceiling,
    )
    b = base.to_dataframe()
    b = b[(b["split"] == "test") & b["observed"].notna()]
    mse_base = float((((b["mean"] - b["observed"]) / (case.ceiling - case.floor)) ** 2).mean())
    d = result.fit.diagnostics
    # The learnt effective floor in the metric's units (median over draws).
    floor_share = float(result.fit.posterior["target_floor"].sel(target=case.metric).median())
    return {
        "target": case.metric,
        "split": case.split,
        "n_train": int(((table["split"] == "train") & table["observed"].notna()).sum()),
        "n_test": len(held),
        **ours,
        "mse_baseline": mse_base,
        "ratio": ours["mse"] / mse_base if mse_base > 0 else float("nan"),
        "floor": round(case.floor + floor_share * (case.ceiling - case.floor), 4),
        "max_rhat": round(d.max_rhat, 3),
        "divergences": d.divergences,
        "seconds": round(seconds, 1),
    }


def _score(observed: np.ndarray, draws: np.ndarray, case: Case) -> dict[str, float]:
    scale = case.ceiling - case.floor
    mean = draws.mean(0)
    out = {"mse": float((((mean - observed) / scale) ** 2).mean())}
    for level in (0.5, 0.9):
        lo, hi = np.quantile(draws, [(1 - level) / 2, 1 - (1 - level) / 2], axis=0)
        out[f"coverage{int(level * 100)}"] = float(((observed >= lo) & (observed <= hi)).mean())
    return out


def main() -> None:
    """Print one line per case and write a JSON file of the rows."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--spec", default="k2")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default=None, help="Run only cases whose metric contains this.")
    parser.add_argument("--json", type=Path, default=None, help="Also write the rows here.")
    args = parser.parse_args()
    rows = []
    for case in CASES:
        if args.only and args.only not in case.metric:
            continue
        row = run_case(case, args)
        rows.append(row)
        print(
            f"{row['target']:<45} {row['split']:<9} train={row['n_train']:<3} test={row['n_test']:<3} "
            f"cov50={row['coverage50']:.2f} cov90={row['coverage90']:.2f} mse={row['mse']:.5f} "
            f"baseline={row['mse_baseline']:.5f} ratio={row['ratio']:.2f} floor={row['floor']:g} "
            f"rhat={row['max_rhat']} "
            f"div={row['divergences']} {row['seconds']}s",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
