"""Reference numbers of the least-squares baseline on the bundled tables.

Runs the PCA + sigmoid baseline (and the compute-only law where it applies) of
``bayes_scaling.baseline`` on fixed held-out splits of the bundled observational-scaling
tables and prints one line per case: target, route, split, floor, ceiling (raw units),
n_train, n_test and the MSE on the normalised scale ``(y - floor) / (ceiling - floor)``.
Tables come through ``bayes_scaling.datasets`` (floors from its registry); without it, the
CSVs are read directly with the floors declared below. Everything is deterministic.

Examples
--------
    .venv/bin/python bench/baseline.py
    .venv/bin/python bench/baseline.py --case gsm8k-cot8 --pca-on train
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

from bayes_scaling.baseline import baseline_compute_forecast, baseline_forecast  # noqa: E402
from bayes_scaling.evaluation import score_forecasts  # noqa: E402

DATA = ROOT / "data" / "obsscaling"
# Bundled table names (bayes_scaling.datasets) and the files behind them (for the fallback).
FILES = {
    "base-llm": "base_llm_benchmark_eval.csv",
    "instruct-llm": "instruct_llm_benchmark_eval.csv",
    "post-training": "base_llm_post_training_eval.csv",
    "emergent": "base_llm_emergent_capability_eval.csv",
    "agent": "instruct_llm_agent_eval.csv",
}
# The paper's "standard benchmarks" for instruct models: Arena-Elo and MTBench are
# chat-preference scores, not capability benchmarks, and are left out.
INSTRUCT_BENCHMARKS = [
    "MMLU",
    "ARC-C",
    "HellaSwag",
    "Winogrande",
    "TruthfulQA",
    "GSM8K",
    "HumanEval",
]


# ------------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class Target:
    """A target column in its raw units, with chance floor and ceiling in those units."""

    values: xr.DataArray
    floor: float
    ceiling: float


def _package_loader() -> Callable[[str], xr.Dataset] | None:
    try:
        from bayes_scaling import datasets
    except ImportError:  # the loader is not there: fall back to reading the CSVs
        return None
    return datasets.load


def load_bench(name: str) -> xr.Dataset:
    """The tidy benchmark dataset of a bundled table, via the package when it is there."""
    load = _package_loader()
    return load(name) if load else _read_wide_fallback(DATA / FILES[name])


def load_target(name: str, column: str, floor: float, ceiling: float) -> Target:
    """One target column in raw units (``lower + score * (upper - lower)``).

    With the package, floor and ceiling come from its registry (so the baseline uses the
    same chance floor as the Bayesian model); ``floor``/``ceiling`` are the fallback's.
    """
    load = _package_loader()
    if load is None:
        df = pd.read_csv(DATA / FILES[name])
        values = xr.DataArray(
            df[column].to_numpy(float),
            dims="model",
            coords={"model": df["Model"].astype(str).to_numpy()},
            name=column,
        )
        return Target(values, floor, ceiling)
    col = load(name).sel(benchmark=column)
    lower, span = float(col["lower"]), float(col["upper"] - col["lower"])
    values = (lower + col["score"] * span).drop_vars([c for c in col.coords if c != "model"])
    return Target(
        values.rename(column),
        lower + float(col["floor"]) * span,
        lower + float(col["ceiling"]) * span,
    )


def _read_wide_fallback(path: Path) -> xr.Dataset:
    df = pd.read_csv(path)
    meta = ["Model", "Model Family", "Model Size (B)", "Pretraining Data Size (T)", "FLOPs (1E21)"]
    cols = [c for c in df.columns if c not in meta]
    models = df["Model"].astype(str).tolist()
    m, j = len(models), len(cols)

    def col(name: str) -> np.ndarray:
        return df[name].to_numpy(float) if name in df else np.full(m, np.nan)

    return xr.Dataset(
        {"score": (("model", "benchmark"), df[cols].to_numpy(float))},
        coords={
            "model": models,
            "benchmark": cols,
            "family": ("model", df.get("Model Family", df["Model"]).astype(str).to_numpy()),
            "params": ("model", col("Model Size (B)")),
            "tokens": ("model", col("Pretraining Data Size (T)")),
            "flops": ("model", col("FLOPs (1E21)") * 1e21),
            "floor": ("benchmark", np.zeros(j)),
            "ceiling": ("benchmark", np.ones(j)),
            "n_items": ("benchmark", np.full(j, np.nan)),
            "lower": ("benchmark", np.zeros(j)),
            "upper": ("benchmark", np.ones(j)),
        },
        attrs={"source": str(path)},
    )


# -------------------------------------------------------------------------------- splits


def top_by_flops(
    bench: xr.Dataset, target: xr.DataArray, share: float
) -> tuple[list[str], xr.DataArray]:
    """Hold out the top ``share`` of the models with the target observed, by FLOPs.

    Models with the target but unknown FLOPs cannot be placed on either side of the cutoff
    and are removed from the target (returned as the second element).
    """
    flops = bench["flops"].to_series()
    observed = target.to_series().dropna()
    known = [m for m in observed.index if m in flops.index and np.isfinite(flops[m])]
    n_test = math.ceil(share * len(known))
    cutoff = np.sort(flops[known].to_numpy())[::-1][n_test - 1]
    test = [m for m in known if flops[m] >= cutoff]  # ties at the cutoff are held out too
    kept = target.where(target["model"].isin(known))
    return test, kept


def top_by_target(
    bench: xr.Dataset, target: xr.DataArray, share: float
) -> tuple[list[str], xr.DataArray]:
    """Hold out the top ``share`` of the models with the target and benchmarks, by target."""
    in_bench = set(bench["model"].values.tolist())
    observed = target.to_series().dropna()
    observed = observed[[m in in_bench for m in observed.index]]
    n_test = math.ceil(share * len(observed))
    return observed.sort_values(ascending=False).index[:n_test].tolist(), target


# --------------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    key: str
    bench: str
    target_table: str
    target: str
    split: str
    splitter: Callable[[xr.Dataset, xr.DataArray], tuple[list[str], xr.DataArray]]
    # Used only by the CSV fallback; with the package, the registry's floor and range win.
    floor: float = 0.0
    ceiling: float = 1.0
    benchmarks: tuple[str, ...] | None = None
    compute_route: bool = True


def _flops20(b: xr.Dataset, t: xr.DataArray) -> tuple[list[str], xr.DataArray]:
    return top_by_flops(b, t, 0.2)


def _target10(b: xr.Dataset, t: xr.DataArray) -> tuple[list[str], xr.DataArray]:
    return top_by_target(b, t, 0.1)


CASES = [
    Case(
        "gsm8k-cot8",
        "base-llm",
        "post-training",
        "gsm8k_cot_8_exact_match,flexible-extract",
        "top20%-flops",
        _flops20,
    ),
    Case(
        "gsm8k-cot-sc",
        "base-llm",
        "post-training",
        "gsm8k_cot_self_consistency_8_exact_match,maj@5-flexible-extract",
        "top20%-flops",
        _flops20,
    ),
    Case(
        "bbh-cot",
        "base-llm",
        "post-training",
        "bbh_cot_fewshot_overall_3_exact_match,flexible-extract",
        "top20%-flops",
        _flops20,
    ),
    Case("arith-2da", "base-llm", "emergent", "arithmetic_2da_2_acc", "top20%-flops", _flops20),
    Case("arith-3ds", "base-llm", "emergent", "arithmetic_3ds_2_acc", "top20%-flops", _flops20),
    Case(
        "unscramble",
        "base-llm",
        "emergent",
        "word_unscrambling_2_exact_match",
        "top20%-flops",
        _flops20,
    ),
    Case(
        "agent-oa",
        "instruct-llm",
        "agent",
        "ABench-OA",
        "top10%-target",
        _target10,
        floor=0.0,
        ceiling=10.0,
        benchmarks=tuple(INSTRUCT_BENCHMARKS),
        compute_route=False,  # the held-out (closed) models have no FLOPs
    ),
]


def run_case(case: Case, pca_on: str, n_components: int) -> list[tuple[str, ...]]:
    bench = load_bench(case.bench)
    tgt = load_target(case.target_table, case.target, case.floor, case.ceiling)
    test, values = case.splitter(bench, tgt.values)
    rows = []
    for route in ["pca", "compute"] if case.compute_route else ["pca"]:
        if route == "pca":
            out = baseline_forecast(
                bench,
                values,
                test,
                benchmark_cols=list(case.benchmarks) if case.benchmarks else None,
                floor=tgt.floor,
                ceiling=tgt.ceiling,
                n_components=n_components,
                pca_on=pca_on,  # type: ignore[arg-type]
            )
            label = f"pca{n_components}-{pca_on}"
        else:
            out = baseline_compute_forecast(
                bench, values, test, floor=tgt.floor, ceiling=tgt.ceiling
            )
            label = "compute"
        held = out.sel(model=out["split"] == "test")
        score = score_forecasts(
            held["observed"], held["mean"], floor=tgt.floor, ceiling=tgt.ceiling
        )
        n_train = int((out["split"] == "train").sum())
        rows.append(
            (
                case.target,
                label,
                case.split,
                f"{tgt.floor:g}",
                f"{tgt.ceiling:g}",
                str(n_train),
                str(score.n),
                f"{score.mse:.4g}",
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--case",
        action="append",
        choices=[c.key for c in CASES],
        help="run only these cases (repeatable); default all",
    )
    parser.add_argument(
        "--pca-on",
        choices=["all", "train"],
        default="all",
        help="rows the PCA is fitted on (default: all, as in the paper)",
    )
    parser.add_argument("--n-components", type=int, default=3)
    args = parser.parse_args(argv)
    chosen = [c for c in CASES if args.case is None or c.key in args.case]
    header = ("target", "route", "split", "floor", "ceiling", "n_train", "n_test", "mse_norm")
    print("\t".join(header))
    for case in chosen:
        for row in run_case(case, args.pca_on, args.n_components):
            print("\t".join(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
