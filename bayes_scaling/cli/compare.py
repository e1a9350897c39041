"""``bayes-scaling compare`` and ``bayes-scaling backtest``.

``compare DATA --specs k1,k2,...`` fits each spec on the same observations and prints the
leave-one-model-out PSIS-LOO table (see :mod:`bayes_scaling.compare`); ``backtest`` runs a
grid of held-out forecasts (targets x compute cutoffs / left-out families x specs x seeds)
on a local process pool or a Dask cluster (see :mod:`bayes_scaling.backtest` and
``docs/backtests.md``).

Examples
--------
>>> from bayes_scaling.cli import run
>>> run(["compare", "base-llm", "--specs", "k1,k2", "--json"])  # doctest: +SKIP
0
"""

from __future__ import annotations

import json
import math
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bayes_scaling import datasets
from bayes_scaling.backtest import (
    build_grid,
    data_digest,
    error_curves,
    load_benchmarks,
    read_metric,
    run_grid,
    write_table,
)
from bayes_scaling.cli import app
from bayes_scaling.errors import BayesScalingError
from bayes_scaling.io import atomic_path

_DATA_HELP = f"A bundled table ({', '.join(datasets.names())}) or a CSV/Parquet file."


def _split_list(text: str, what: str) -> list[str]:
    items = [s.strip() for s in text.split(",") if s.strip()]
    if not items:
        raise BayesScalingError(f"--{what} is empty")
    return items


def _finite(v: Any) -> Any:
    """JSON value: NaN/inf become null (strict JSON has no NaN)."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, np.generic):
        return _finite(v.item())
    return v


# ------------------------------------------------------------------------------ compare
class ByOption(StrEnum):
    """What one PSIS-LOO point is."""

    model = "model"
    obs = "obs"


@app.command("compare")
def compare_command(
    data: Annotated[str, typer.Argument(metavar="DATA", help=_DATA_HELP)],
    specs: Annotated[
        str, typer.Option("--specs", help="Comma-separated specs, e.g. k1,k2,k3,k4,compute-only.")
    ] = "k1,k2,k3,k4",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON list, one object per spec.")
    ] = False,
    by: Annotated[
        ByOption,
        typer.Option("--by", help="Leave one language model out (default) or one observation."),
    ] = ByOption.model,
    lfo_quantile: Annotated[
        float | None,
        typer.Option(
            "--lfo-quantile",
            help="Also refit with the models above this compute quantile hidden and score them (leave-future-out).",
        ),
    ] = None,
    percent: Annotated[
        bool, typer.Option("--percent", help="DATA file scores are on 0-100.")
    ] = False,
    draws: Annotated[int, typer.Option("--draws", help="Posterior draws per chain.")] = 500,
    tune: Annotated[int, typer.Option("--tune", help="Tuning steps per chain.")] = 500,
    chains: Annotated[int, typer.Option("--chains", help="Number of chains.")] = 4,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
) -> None:
    """Compare model specs by leave-one-model-out PSIS-LOO (elpd, stacking weights, Pareto k).

    Every spec is fitted to the same observations; with compute-only among the specs, all
    are fitted to the models with known compute. Models behind observations with Pareto
    k > 0.7 (unreliable LOO) are named.
    """
    from bayes_scaling.compare import BAD_K, compare_specs

    spec_list = _split_list(specs, "specs")
    bench = load_benchmarks(data, percent=percent)
    cutoff = None
    if lfo_quantile is not None:
        if not 0 < lfo_quantile < 1:
            raise BayesScalingError(f"--lfo-quantile must be between 0 and 1, got {lfo_quantile}")
        flops = bench["flops"].to_numpy().astype(float)
        known = np.log10(flops[np.isfinite(flops) & (flops > 0)])
        if known.size == 0:
            raise BayesScalingError("--lfo-quantile needs models with known compute")
        cutoff = float(np.quantile(known, lfo_quantile))
    table = compare_specs(
        bench,
        spec_list,
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        by=by.value,
        lfo_cutoff=cutoff,
    )
    for spec, msgs in table.attrs.get("warnings", {}).items():
        for msg in msgs:
            typer.echo(f"warning: {spec}: {msg}", err=True)
    if as_json:
        records = [{k: _finite(v) for k, v in row.items()} for row in table.to_dict("records")]
        for r in records:
            r["by"] = table.attrs["by"]
            r["note"] = table.attrs["note"]
            if cutoff is not None:
                r["lfo_cutoff_log10_flops"] = cutoff
        typer.echo(json.dumps(records, indent=1))
        return
    _print_compare(table, cutoff, BAD_K)


def _print_compare(table: pd.DataFrame, cutoff: float | None, bad_k: float) -> None:
    from bayes_scaling.compare import LOO_COLUMNS

    console = Console(soft_wrap=False)
    if not console.is_terminal:
        # Piped or captured: rich would assume 80 columns and fold the headers.
        console = Console(soft_wrap=False, width=140)
    unit = "model" if table.attrs["by"] == "model" else "observation"
    out = Table(
        title=f"PSIS-LOO, leave one {unit} out ({table.attrs['n_models']} models, "
        f"{table.attrs['n_obs']} scores)"
    )
    cols = [
        *LOO_COLUMNS[: LOO_COLUMNS.index("p_loo") + 1],
        f"k>{bad_k:g}",
        "max R-hat",
        "div",
    ]
    if cutoff is not None:
        cols += ["elpd_lfo", "se_lfo", "n_lfo"]
    for c in cols:
        out.add_column(c, justify="left" if c == "spec" else "right")
    for _, r in table.iterrows():
        cells = [
            Text(str(r["spec"])),
            f"{r['elpd']:.1f}",
            f"{r['se']:.1f}",
            f"{r['elpd_diff']:.1f}",
            f"{r['dse']:.1f}",
            f"{r['weight']:.2f}",
            f"{r['p_loo']:.1f}",
            str(int(r["n_bad_pareto_k"])),
            f"{r['max_rhat']:.3f}",
            str(int(r["divergences"])),
        ]
        if cutoff is not None:
            cells += [f"{r['elpd_lfo']:.1f}", f"{r['se_lfo']:.1f}", str(int(r["n_heldout"]))]
        out.add_row(*cells)
    console.print(out)
    if table.attrs.get("note"):
        console.print(Text(f"note: {table.attrs['note']}"), highlight=False)
    if cutoff is not None:
        console.print(
            Text(
                f"leave-future-out: models above 10^{cutoff:.2f} FLOPs hidden and "
                f"scored ({len(table.attrs.get('lfo_models', []))} models)"
            ),
            highlight=False,
        )
    parts = [
        f"{r['spec']}: {', '.join(r['bad_models'])}" for _, r in table.iterrows() if r["bad_models"]
    ]
    line = "; ".join(parts) if parts else "none"
    console.print(Text(f"models behind Pareto k > {bad_k:g}: {line}"), highlight=False)


# ------------------------------------------------------------------------------ backtest
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


def _first(*values: float | None) -> float:
    return float(next(v for v in values if v is not None))


def _target_columns(target: str, bench_src: str) -> list[str]:
    if not Path(target).exists() and target in datasets.names():
        return [str(b) for b in datasets.load(target)["benchmark"].to_numpy()]
    if target == bench_src:
        return [str(b) for b in load_benchmarks(target)["benchmark"].to_numpy()]
    if not Path(target).is_file():
        raise BayesScalingError(f"{target}: file not found")
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
            "--benchmarks", metavar="NAME_OR_FILE", help="Predictor benchmarks: " + _DATA_HELP
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
    bench_src = _source(benchmarks)
    target_srcs = [_source(t) for t in (target or [benchmarks])]
    bench = load_benchmarks(bench_src, percent=percent)
    columns = {src: _target_columns(src, bench_src) for src in target_srcs}
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
        raw, d_floor, d_ceiling = read_metric(holders[0], name)
        # Precedence: NAME:floor:ceiling, then --floor/--ceiling, then what a bundled
        # table declares, then 0 and 1.
        targets[name] = (
            _first(f, floor, d_floor, 0.0),
            _first(c, ceiling, d_ceiling, 1.0),
        )
        values.append(pd.to_numeric(raw, errors="coerce"))
        digests[name] = data_digest(raw)
    if cutoffs is not None and cutoff_values is not None:
        raise BayesScalingError("give --cutoffs or --cutoff-values, not both")
    if cutoff_values is not None:
        try:
            cuts = [float(v) for v in _split_list(cutoff_values, "cutoff-values")]
        except ValueError:
            raise BayesScalingError(f"--cutoff-values {cutoff_values!r}: not numbers") from None
    elif cutoffs is not None or lofo is None:
        cuts = _default_cutoffs(bench, values, 5 if cutoffs is None else cutoffs)
    else:
        cuts = []
    families = _split_list(lofo, "lofo") if lofo else []
    known_families = set(map(str, bench["family"].to_numpy()))
    for fam in families:
        if fam not in known_families:
            raise BayesScalingError(f"--lofo: no model of family {fam!r}")
    try:
        seed_list = [int(s) for s in _split_list(seeds, "seeds")]
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
    tasks = build_grid(targets, cuts, families, _split_list(specs, "specs"), seed_list, params)
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
    from bayes_scaling.backtest import backtest_worker

    cache = cache_dir or out.parent / f"{out.stem}.cache"
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
