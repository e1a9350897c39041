"""``bayes-scaling forecast``: predict downstream metrics of held-out models.

The command's options and output columns are a stable contract pinned by
``tests/test_cli_forecast.py``.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from bayes_scaling.backtest import read_metric
from bayes_scaling.cli._common import FORECAST_SPEC, SAMPLERS, app, warn
from bayes_scaling.cli.data import DATA_HELP, open_table
from bayes_scaling.errors import BayesScalingError, DataError
from bayes_scaling.interrupts import expect_output
from bayes_scaling.io import atomic_path, check_output
from bayes_scaling.progress import reporting


class RouteOption(StrEnum):
    """Where a held-out model's capabilities come from."""

    benchmarks = "benchmarks"
    compute = "compute"


def forecast(*args: Any, **kwargs: Any) -> Any:
    """:func:`bayes_scaling.forecast.forecast`, imported on the first call.

    That module imports PyMC (seconds), which ``bayes-scaling --help`` should not wait for.
    """
    from bayes_scaling.forecast import forecast as run_forecast

    return run_forecast(*args, **kwargs)


def _read_test_models(path: Path) -> list[str]:
    if not path.is_file():
        raise DataError(str(path), "no such file")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise DataError(str(path), "not a UTF-8 text file (one model name per line)") from None
    models = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    if not models:
        raise DataError(str(path), "no test models listed (one model name per line)")
    return models


@app.command("forecast")
def forecast_command(
    benchmarks: Annotated[
        str,
        typer.Option(
            "--benchmarks", metavar="NAME_OR_FILE", help="Predictor benchmarks: " + DATA_HELP
        ),
    ],
    test_models: Annotated[
        Path, typer.Option("--test-models", help="File with one held-out model name per line.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Where to write PREDS.csv.")],
    target: Annotated[
        str | None,
        typer.Option(
            "--target",
            metavar="NAME_OR_FILE",
            help="Table with the metric column: a bundled table or a CSV file with a Model "
            "column (default: --benchmarks).",
        ),
    ] = None,
    metric: Annotated[
        str | None, typer.Option("--metric", help="Metric column of the --target table.")
    ] = None,
    floor: Annotated[
        float | None,
        typer.Option(
            "--floor",
            help="Chance level of the metric, in its units (default: what a bundled "
            "--target declares, else 0).",
        ),
    ] = None,
    ceiling: Annotated[
        float | None,
        typer.Option(
            "--ceiling",
            help="Top of the metric's scale, e.g. 10 for AgentBench, 100 for % (default: "
            "what a bundled --target declares, else 1).",
        ),
    ] = None,
    items: Annotated[
        int | None,
        typer.Option(
            "--items",
            help="Items behind each value (a share of items correct): a count likelihood "
            "(default: what a bundled --target declares, else none).",
        ),
    ] = None,
    benchmark_cols: Annotated[
        str | None,
        typer.Option(
            "--benchmark-cols", help="Comma-separated predictor benchmarks (default: all)."
        ),
    ] = None,
    route: Annotated[
        RouteOption,
        typer.Option(
            "--from", help="Place test models by their benchmarks or by family + compute."
        ),
    ] = RouteOption.benchmarks,
    interval: Annotated[
        float, typer.Option("--interval", help="Level of the equal-tailed predictive interval.")
    ] = 0.9,
    seed: Annotated[
        int, typer.Option("--seed", help="Random seed; same seed, identical file.")
    ] = 0,
    draws: Annotated[int, typer.Option("--draws", help="Posterior draws per chain.")] = 500,
    tune: Annotated[int, typer.Option("--tune", help="Tuning steps per chain.")] = 500,
    chains: Annotated[int, typer.Option("--chains", help="Number of chains.")] = 4,
    spec: Annotated[
        str, typer.Option("--spec", help="Model spec (models/*.toml).")
    ] = FORECAST_SPEC,
    sampler: Annotated[
        str,
        typer.Option("--sampler", help=f"{', '.join(SAMPLERS)}: NUTS, or advi (approximate)."),
    ] = "nutpie",
    percent: Annotated[
        bool, typer.Option("--percent", help="--benchmarks file scores are on 0-100.")
    ] = False,
    plot: Annotated[
        Path | None,
        typer.Option("--plot", help="Also write the scaling-curve PNG (needs --metric)."),
    ] = None,
) -> None:
    """Forecast a downstream metric (or, --from compute, the benchmarks) of held-out models.

    Writes PREDS.csv with one row per (model, metric): model, metric, split (train/test),
    observed, mean, median, lower, upper, in the metric's own units; the interval includes
    measurement noise.
    """
    from bayes_scaling.forecast import make_target

    if plot is not None and metric is None:
        raise BayesScalingError("--plot needs --metric")
    if sampler not in SAMPLERS:
        raise BayesScalingError(f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")
    # Before the fit, not after it: a path that cannot be written loses nothing yet.
    check_output(out, suffixes=(".csv",))
    expect_output(out)
    if plot is not None:
        check_output(plot, option="--plot", suffixes=(".png",))
        expect_output(plot)
    bench = open_table(benchmarks, percent)
    tests = _read_test_models(test_models)
    cols = [c.strip() for c in benchmark_cols.split(",")] if benchmark_cols else None
    tgt = None
    if metric is not None:
        target_src = target or benchmarks
        # Values in the table's raw units; --floor/--ceiling say what those units are.
        declared = read_metric(target_src, metric)
        lo, hi, n = declared.settle(floor, ceiling, items)
        tgt = make_target(declared.values, metric, lo, hi, source=target_src, n_items=n)
        if Path(target_src) == Path(benchmarks) and cols is None:
            cols = [c for c in map(str, bench["benchmark"].to_numpy()) if c != metric]
    elif target is not None:
        raise BayesScalingError("--target given without --metric")
    elif items is not None:
        raise BayesScalingError("--items given without --metric")
    with reporting("forecast"):
        result = forecast(
            bench,
            tgt,
            tests,
            route=route.value,
            benchmark_cols=cols,
            spec=spec,
            interval=interval,
            seed=seed,
            draws=draws,
            tune=tune,
            chains=chains,
            sampler=sampler,  # type: ignore[arg-type]
        )
    with atomic_path(out) as tmp:
        result.table.to_csv(tmp, index=False, float_format="%.6g")
    if plot is not None:
        from bayes_scaling.plots import scaling_curve_plot

        with atomic_path(plot) as tmp:
            scaling_curve_plot(result).savefig(tmp, format="png", dpi=120)
    d = result.fit.diagnostics
    n_test = int((result.table["split"] == "test").sum())
    typer.echo(
        f"wrote {out}: {len(result.table)} rows ({n_test} test); "
        f"max R-hat {d.max_rhat:.3f}, min ESS {d.min_ess_bulk:.0f}, {d.divergences} divergences, "
        f"{d.seconds:.1f} s sampling"
    )
    for msg in d.messages():
        warn(msg)  # the fit warned already: printed once
