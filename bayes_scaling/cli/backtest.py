"""``bayes-scaling backtest``: grids of held-out forecasts, locally or on Dask.

Runs a grid of held-out forecasts (targets x compute cutoffs / left-out families x specs x
seeds) on a local process pool or a Dask cluster, with a resumable disk cache (see
:mod:`bayes_scaling.backtest`, :mod:`bayes_scaling.grid` and ``docs/backtests.md``), writes
the result table and prints the area under the error-vs-cutoff curve per target and spec.

Examples
--------
>>> from bayes_scaling.cli import run
>>> run(["backtest", "--benchmarks", "base-llm", "--target", "emergent",
...      "--metrics", "arithmetic_3ds_2_acc", "--out", "runs/bt/results.csv"])  # doctest: +SKIP
0
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer

from bayes_scaling import datasets
from bayes_scaling.backtest import (
    backtest_worker,
    build_grid,
    data_digest,
    error_curves,
    read_metric,
)
from bayes_scaling.cli._common import app, split_list
from bayes_scaling.cli.data import DATA_HELP, open_table
from bayes_scaling.errors import BayesScalingError, DataError
from bayes_scaling.grid import run_grid, write_table
from bayes_scaling.interrupts import expect_output
from bayes_scaling.io import atomic_path, check_output
from bayes_scaling.progress import reporting


class RouteOption(StrEnum):
    """Where a held-out model's capabilities come from."""

    benchmarks = "benchmarks"
    compute = "compute"


def _parse_metrics(
    entries: list[str], columns: list[str]
) -> list[tuple[str, float | None, float | None]]:
    """``NAME`` or ``NAME:floor:ceiling`` entries, comma-separated, names may hold commas.

    Metric names of the bundled tables contain commas (``gsm8k_5_exact_match,flexible-extract``),
    so a comma only separates two entries where the text before it is not part of a column
    name: the longest run of comma-joined pieces that names a column wins.
    """
    out: list[tuple[str, float | None, float | None]] = []
    known = set(columns)
    for entry in entries:
        pieces = entry.split(",")
        i = 0
        while i < len(pieces):
            if not pieces[i].strip():
                i += 1
                continue
            for j in range(len(pieces), i, -1):
                parsed = _metric_entry(",".join(pieces[i:j]).strip())
                if parsed[0] in known:
                    out.append(parsed)
                    i = j
                    break
            else:
                name = _metric_entry(pieces[i].strip())[0]
                raise BayesScalingError(
                    f"--metrics: unknown metric {name!r}; columns of the target table: "
                    f"{', '.join(columns[:8])}{', ...' if len(columns) > 8 else ''}"
                )
    if not out:
        raise BayesScalingError("--metrics is empty")
    return out


def _metric_entry(text: str) -> tuple[str, float | None, float | None]:
    parts = text.rsplit(":", 2)
    if len(parts) == 3:
        try:
            floor, ceiling = float(parts[1]), float(parts[2])
        except ValueError:
            return text, None, None
        if not ceiling > floor:
            raise BayesScalingError(f"--metrics {text!r}: ceiling must be above floor")
        return parts[0], floor, ceiling
    return text, None, None


def _source(name_or_file: str) -> str:
    """A file as an absolute path (workers may run elsewhere), a bundled name as is."""
    return str(Path(name_or_file).resolve()) if Path(name_or_file).exists() else name_or_file


def _target_columns(target: str, bench: Any, bench_src: str) -> list[str]:
    """Column names of a target table (the benchmark table's own when they are one)."""
    name = datasets.bundled_name(target)
    if name is not None:
        return [str(b) for b in datasets.load(name)["benchmark"].to_numpy()]
    if target == bench_src:
        return [str(b) for b in bench["benchmark"].to_numpy()]
    if not Path(target).is_file():
        raise DataError(target, f"file not found (bundled tables: {', '.join(datasets.names())})")
    return [c for c in pd.read_csv(target, nrows=0).columns if c != "Model"]


def _default_cutoffs(bench: Any, values: list[pd.Series], n: int) -> list[float]:
    """``n`` log10-FLOPs cutoffs at the 50%..90% quantiles of the models with a target.

    The range keeps at least half of the target-bearing models in training at the first
    cutoff and about a tenth held out at the last.
    """
    if n < 1:
        raise BayesScalingError(f"--cutoffs must be at least 1, got {n}")
    models = [str(m) for m in bench["model"].to_numpy()]
    flops = pd.Series(bench["flops"].to_numpy().astype(float), index=models)
    with_target = set().union(*(set(v.dropna().index) for v in values))
    f = flops[flops.index.isin(with_target) & (flops > 0)].dropna()
    if f.empty:
        raise BayesScalingError("no model with a target value has known training compute")
    qs = [0.7] if n == 1 else np.linspace(0.5, 0.9, n)
    cuts = sorted({round(float(np.quantile(np.log10(f), q)), 2) for q in qs})
    return cuts


def _plot(table: pd.DataFrame, curves: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    df = table[table["split"].astype(str).str.startswith("cutoff=") & (table["status"] == "ok")]
    df = df.assign(cutoff=[float(s.partition("=")[2]) for s in df["split"]])
    targets = list(dict.fromkeys(table["target"]))
    fig, axes = plt.subplots(1, len(targets), figsize=(4.5 * len(targets), 3.6), squeeze=False)
    for ax, target in zip(axes[0], targets, strict=True):
        t = df[df["target"] == target]
        for spec, g in t.groupby("spec", sort=False):
            per = g.groupby("cutoff")[["mse", "mse_baseline"]].mean()
            auec = curves[(curves["target"] == target) & (curves["spec"] == spec)]["auec"]
            label = f"{spec} (AUEC {float(auec.iloc[0]):.3g})" if len(auec) else str(spec)
            ax.plot(per.index, per["mse"], marker="o", label=label)
        if not t.empty:
            base = t.groupby("cutoff")["mse_baseline"].mean()
            ax.plot(base.index, base.to_numpy(), "k--", marker="x", label="baseline (LS)")
            if (t["mse"] > 0).all() and (t["mse_baseline"].dropna() > 0).all():
                ax.set_yscale("log")
        ax.set_title(target if len(target) < 40 else target[:37] + "...", fontsize=9)
        ax.set_xlabel("cutoff (log10 training FLOPs)")
        ax.set_ylabel("held-out MSE (normalised)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", dpi=120)
    plt.close(fig)


@app.command("backtest")
def backtest_command(
    benchmarks: Annotated[
        str,
        typer.Option(
            "--benchmarks", metavar="NAME_OR_FILE", help="Predictor benchmarks: " + DATA_HELP
        ),
    ],
    metrics: Annotated[
        list[str],
        typer.Option(
            "--metrics", help="Targets: NAME or NAME:floor:ceiling, comma-separated (repeatable)."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Where to write the result table (CSV).")],
    target: Annotated[
        list[str] | None,
        typer.Option(
            "--target",
            metavar="NAME_OR_FILE",
            help="Table holding the targets (repeatable; default: --benchmarks).",
        ),
    ] = None,
    floor: Annotated[
        float | None,
        typer.Option(
            "--floor",
            help="Floor of targets given without one (default: declared by a bundled table, else 0).",
        ),
    ] = None,
    ceiling: Annotated[
        float | None,
        typer.Option(
            "--ceiling", help="Ceiling of targets given without one (default: declared, else 1)."
        ),
    ] = None,
    cutoffs: Annotated[
        int | None,
        typer.Option(
            "--cutoffs",
            help="Number of compute cutoffs (50%..90% quantiles of the target models' log10 FLOPs); default 5 unless --cutoff-values or --lofo.",
        ),
    ] = None,
    cutoff_values: Annotated[
        str | None, typer.Option("--cutoff-values", help="Comma-separated log10-FLOPs cutoffs.")
    ] = None,
    lofo: Annotated[
        str | None,
        typer.Option("--lofo", help="Comma-separated families to leave out, one split each."),
    ] = None,
    specs: Annotated[str, typer.Option("--specs", help="Comma-separated model specs.")] = "k2",
    seeds: Annotated[str, typer.Option("--seeds", help="Comma-separated seeds.")] = "0",
    route: Annotated[
        RouteOption,
        typer.Option(
            "--from", help="Place held-out models by their benchmarks or by family + compute."
        ),
    ] = RouteOption.benchmarks,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="Dask scheduler address (tcp://host:port); default: local processes.",
        ),
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Local worker processes (default: every core).")
    ] = None,
    cache_dir: Annotated[
        Path | None,
        typer.Option("--cache-dir", help="Result cache (default: OUT's name + .cache beside it)."),
    ] = None,
    plot: Annotated[
        Path | None,
        typer.Option("--plot", help="Write a plot of error against cutoff here (PNG/PDF/SVG)."),
    ] = None,
    percent: Annotated[
        bool, typer.Option("--percent", help="--benchmarks file scores are on 0-100.")
    ] = False,
    draws: Annotated[int, typer.Option("--draws", help="Posterior draws per chain.")] = 500,
    tune: Annotated[int, typer.Option("--tune", help="Tuning steps per chain.")] = 500,
    chains: Annotated[int, typer.Option("--chains", help="Number of chains.")] = 4,
) -> None:
    """Backtest held-out forecasts over compute cutoffs and/or left-out families.

    One fit per target x split x spec x seed, cached under --cache-dir (a rerun only
    computes what is missing). Writes the table (mse, mae, lpd, coverage50, coverage90,
    mse_baseline on the normalised scale, status, error per row) and prints the area under
    the error-vs-cutoff curve per target and spec.
    """
    # Before any fit: a path that cannot be written would lose the whole grid's table.
    check_output(out, suffixes=(".csv",))
    expect_output(out)
    if plot is not None:
        check_output(plot, option="--plot", suffixes=(".png", ".pdf", ".svg"))
        expect_output(plot)
    if cache_dir is not None:
        check_output(cache_dir, option="--cache-dir", folder=True)
    bench_src = _source(benchmarks)
    target_srcs = [_source(t) for t in (target or [benchmarks])]
    bench = open_table(bench_src, percent)
    columns = {src: _target_columns(src, bench, bench_src) for src in target_srcs}
    union = list(dict.fromkeys(c for cols in columns.values() for c in cols))
    declared = _parse_metrics(list(metrics), union)
    targets: dict[str, tuple[float | None, float | None]] = {}
    table_of: dict[str, str] = {}
    values: list[pd.Series] = []
    digests: dict[str, str] = {}
    for name, f, c in declared:
        holders = [src for src in target_srcs if name in columns[src]]
        if len(holders) > 1:
            raise BayesScalingError(
                f"--metrics: {name!r} is a column of several --target tables "
                f"({', '.join(holders)}); run them separately"
            )
        table_of[name] = holders[0]
        declared = read_metric(holders[0], name)
        raw = declared.values
        # Precedence: NAME:floor:ceiling, then --floor/--ceiling, then what a bundled
        # table declares, then 0 and 1.
        lo, hi, _ = declared.settle(f if f is not None else floor, c if c is not None else ceiling)
        targets[name] = (lo, hi)
        values.append(pd.to_numeric(raw, errors="coerce"))
        digests[name] = data_digest(raw)
    if cutoffs is not None and cutoff_values is not None:
        raise BayesScalingError("give --cutoffs or --cutoff-values, not both")
    if cutoff_values is not None:
        try:
            cuts = [float(v) for v in split_list(cutoff_values, "cutoff-values")]
        except ValueError:
            raise BayesScalingError(f"--cutoff-values {cutoff_values!r}: not numbers") from None
    elif cutoffs is not None or lofo is None:
        cuts = _default_cutoffs(bench, values, 5 if cutoffs is None else cutoffs)
    else:
        cuts = []
    families = split_list(lofo, "lofo") if lofo else []
    known_families = set(map(str, bench["family"].to_numpy()))
    for fam in families:
        if fam not in known_families:
            raise BayesScalingError(f"--lofo: no model of family {fam!r}")
    try:
        seed_list = [int(s) for s in split_list(seeds, "seeds")]
    except ValueError:
        raise BayesScalingError(f"--seeds {seeds!r}: not integers") from None
    params = {
        "benchmarks": bench_src,
        "benchmarks_sha256": data_digest(bench),
        "percent": percent,
        "route": route.value,
        "draws": draws,
        "tune": tune,
        "chains": chains,
    }
    tasks = build_grid(targets, cuts, families, split_list(specs, "specs"), seed_list, params)
    # The target's table and digest go in per task: editing one metric re-runs only its
    # tasks, and targets may come from different tables.
    tasks = [
        type(t)(
            t.target,
            t.split,
            t.spec,
            t.seed,
            {**t.params, "target_table": table_of[t.target], "target_sha256": digests[t.target]},
        )
        for t in tasks
    ]
    cache = cache_dir or out.parent / f"{out.stem}.cache"
    # The grid draws its own bar on a terminal; elsewhere a plain line about every 10 s.
    # Finished cells are in the cache as each ends: an interrupted run resumes from them.
    with reporting("backtest", bar=False):
        table = run_grid(
            tasks,
            backtest_worker,
            cache_dir=cache,
            scheduler=scheduler,
            n_workers=workers,
            progress=sys.stderr.isatty(),
        )
    write_table(table, out)
    n_failed = int((table["status"] == "failed").sum())
    typer.echo(f"wrote {out}: {len(table)} rows ({n_failed} failed)")
    curves = error_curves(table) if "mse" in table.columns else pd.DataFrame()
    if plot is not None:
        if "mse" in table.columns:
            _plot(table, curves, plot)
            typer.echo(f"wrote {plot}")
        else:
            typer.echo("warning: no successful task: no plot", err=True)
    if len(curves):
        parts = [
            f"{r['target']} | {r['spec']} {r['auec']:.4g} (baseline {r['auec_baseline']:.4g}, "
            f"{r['n_cutoffs']} cutoffs)"
            for _, r in curves.iterrows()
        ]
        typer.echo("area under the MSE-vs-cutoff curve: " + "; ".join(parts))
