"""``bayes-scaling fit | summary | report | demo``: fit the model and read the results.

``fit`` samples a spec on a table and writes one results file; ``summary`` and ``report``
read such a file (refusing an altered one, or one of another spec with ``--spec``);
``demo`` does both on the bundled base-model table. Every user error (bad table, unknown
spec or sampler, altered results file) is a
:class:`~bayes_scaling.errors.BayesScalingError`, printed by the CLI as one line on
stderr with exit status 2, and leaves no output file behind.

Examples
--------
>>> from bayes_scaling.cli import run
>>> run(["fit", "base-llm", "--spec", "k1", "--out", "runs/k1.nc"])  # doctest: +SKIP
0
>>> run(["summary", "runs/k1.nc", "--json"])  # doctest: +SKIP
0
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bayes_scaling.cli._common import FIT_DRAWS, FIT_TUNE, SAMPLERS, app, warn
from bayes_scaling.cli.data import DATA_HELP, PercentOption, RangeOption, open_table, parse_ranges
from bayes_scaling.diagnostics import CHECK, NOT_MEASURED, OK, Diagnostics, diagnostics_line
from bayes_scaling.errors import BayesScalingError
from bayes_scaling.interrupts import expect_output
from bayes_scaling.io import check_output
from bayes_scaling.progress import report as report_progress
from bayes_scaling.progress import reporting
from bayes_scaling.specs import DEFAULT_SPEC, available_specs

if TYPE_CHECKING:  # PyMC and ArviZ are imported by the commands that sample or read fits
    import pandas as pd
    import xarray as xr

    from bayes_scaling.estimator import CapabilityModel, FitResults

#: What ``bayes-scaling demo`` fits: the default spec on the bundled base-model table.
DEMO_DATA = "base-llm"
#: Demo sampling budget: enough for R-hat and ESS checks to be meaningful on 4 chains,
#: small enough to finish in a few minutes on a laptop.
DEMO_DRAWS = FIT_DRAWS
DEMO_TUNE = 1000
DEMO_CHAINS = 4

_SPEC_HELP = f"Model spec: a bundled name ({', '.join(sorted(available_specs()))}) or a TOML file."
_RUN_HELP = "Results file written by 'bayes-scaling fit'."
_SPEC_CHECK_HELP = "Refuse the file unless it was fitted with this spec."


# ---------------------------------------------------------------------------- fit
@app.command("fit")
def fit_command(
    data: Annotated[
        str,
        typer.Argument(
            metavar="DATA",
            help=DATA_HELP,
            show_default=False,
        ),
    ],
    out: Annotated[
        Path,
        typer.Option("--out", "-o", metavar="RUN.nc", help="Results file to write (netCDF)."),
    ],
    spec: Annotated[str, typer.Option("--spec", help=_SPEC_HELP)] = DEFAULT_SPEC,
    sampler: Annotated[
        str,
        typer.Option(
            "--sampler", help=f"{', '.join(SAMPLERS)}: NUTS, or advi (approximate, seconds)."
        ),
    ] = "nutpie",
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    draws: Annotated[int, typer.Option("--draws", help="Posterior draws per chain.")] = FIT_DRAWS,
    tune: Annotated[int, typer.Option("--tune", help="Tuning steps per chain.")] = FIT_TUNE,
    chains: Annotated[int, typer.Option("--chains", help="Number of chains.")] = 4,
    percent: PercentOption = False,
    range_: RangeOption = None,
) -> None:
    """Fit a model spec to a table and write the results file atomically.

    Prints the convergence diagnostics, and a warning naming the parameters when
    R-hat, ESS or divergences are off.

    Example: bayes-scaling fit base-llm --spec k3 --out run.nc
    """
    from bayes_scaling.estimator import CapabilityModel

    _check_sampling(sampler, draws, tune, chains)
    _check_out_file(out)
    model = CapabilityModel(spec)
    table = open_table(data, percent, parse_ranges(range_ or []))
    console = Console(stderr=True, soft_wrap=True)
    fit = _sample(console, model, table, sampler, seed, draws, tune, chains)
    fit.save(out)
    stdout = Console(soft_wrap=True)
    _print_diagnostics(stdout, fit.diagnostics)
    stdout.print(Text(f"wrote {out}"), highlight=False)


def _check_sampling(sampler: str, draws: int, tune: int, chains: int) -> None:
    # Checked before the (slow) data read and compilation, and as one-line errors rather
    # than click's multi-line usage message.
    if sampler not in SAMPLERS:
        raise BayesScalingError(f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")
    for name, value, least in (("--draws", draws, 1), ("--tune", tune, 0), ("--chains", chains, 1)):
        if value < least:
            raise BayesScalingError(f"{name} must be at least {least}, got {value}")


def _check_out_file(out: Path) -> None:
    """Refuse an --out that could not be written, before the (slow) fit, not after."""
    if out.is_dir():
        raise BayesScalingError(f"{out}: is a folder; --out names the results file to write")
    if out.suffix.lower() != ".nc":
        # A results file is netCDF: 'run.csv' would be a netCDF file under a CSV name.
        raise BayesScalingError(
            f"--out {out}: a results file is netCDF, named *.nc (e.g. {out.with_suffix('.nc')})"
        )
    check_output(out)
    expect_output(out)


def _sample(
    console: Console,
    model: CapabilityModel,
    table: xr.Dataset,
    sampler: str,
    seed: int,
    draws: int,
    tune: int,
    chains: int,
) -> FitResults:
    """Fit with a progress bar on a terminal, a plain line about every 10 s elsewhere."""
    n_models, n_bench = table.sizes["model"], table.sizes["benchmark"]
    console.print(
        Text(
            f"fitting spec {model.spec.name!r} to {table.attrs.get('source', 'data')} "
            f"({n_models} models, {n_bench} benchmarks): {chains} chains x {draws} draws "
            f"after {tune} tuning steps, sampler {sampler}, seed {seed}"
        ),
        highlight=False,
    )
    # On a terminal, a bar; elsewhere a plain line about every 10 s (bayes_scaling.progress).
    with reporting("fit", stream=console.file):
        fit = model.fit(
            table,
            draws=draws,
            tune=tune,
            chains=chains,
            sampler=sampler,  # type: ignore[arg-type]
            seed=seed,
            warn=False,  # reported by the caller, once, as a table
        )
    return fit


# ---------------------------------------------------------------------------- summary
@app.command("summary")
def summary_command(
    run_file: Annotated[Path, typer.Argument(metavar="RUN.nc", help=_RUN_HELP, show_default=False)],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of tables.")
    ] = False,
    spec: Annotated[str | None, typer.Option("--spec", help=_SPEC_CHECK_HELP)] = None,
    reference: Annotated[
        str | None,
        typer.Option("--reference", help="Family efficiency is relative to (default: spec's)."),
    ] = None,
    top: Annotated[int, typer.Option("--top", help="Most and least efficient families shown.")] = 5,
) -> None:
    """Summarise a results file: diagnostics, outliers, family efficiency.

    Example: bayes-scaling summary run.nc --json
    """
    from bayes_scaling.estimator import FitResults
    from bayes_scaling.report import family_efficiency_table, jsonable
    from bayes_scaling.summaries import resolve_reference

    if top < 1:
        raise BayesScalingError(f"--top must be at least 1, got {top}")
    fit = FitResults.load(run_file, spec=spec)
    # Everything that can fail is done before the first line is printed: a bad
    # --reference is one error line, not tables followed by an error.
    ref = resolve_reference(fit, reference)
    eff = family_efficiency_table(fit, ref)
    summary = jsonable(fit.summary_dict(ref))
    if as_json:
        typer.echo(json.dumps(summary, allow_nan=False))
        return
    _print_summary(fit, summary, ref, eff, top)


def _print_summary(
    fit: FitResults, summary: dict[str, Any], ref: str, eff: pd.DataFrame, top: int
) -> None:
    console = Console(soft_wrap=True)
    stamp = Table(title=Text(f"fit of spec {summary['spec']}"), show_header=False)
    stamp.add_column("what")
    stamp.add_column("value")
    attrs = fit.attrs
    rows = [
        ("data", str(fit.data.attrs.get("source", ""))),
        (
            "size",
            f"{summary['n_models']} models, {summary['n_families']} families, "
            f"{summary['n_benchmarks']} benchmarks, {summary['n_obs']} scores",
        ),
        (
            "sampling",
            f"{summary['sampler']}, seed {summary['seed']}, "
            f"{_int(attrs.get('chains'))} chains x {_int(attrs.get('draws'))} draws "
            f"({_int(attrs.get('tune'))} tune), {_num(summary['seconds'], '.1f')} s",
        ),
        ("anchors", ", ".join(summary["anchors"])),
        ("version", str(summary["version"])),
    ]
    for key, value in rows:
        stamp.add_row(key, Text(value))
    console.print(stamp)
    _print_diagnostics(console, fit.diagnostics)

    outliers = Table(title="Outlying models (far from their family's compute line)")
    outliers.add_column("model", overflow="fold")
    detail = fit.outliers()
    for o in detail["models"]:
        outliers.add_row(Text(f"{o['model']} ({o['family']}, z = {o['z']:+.1f})"))
    if detail["models"]:
        console.print(outliers)
    else:
        console.print("No outlying models.")
    n_obs = len(summary["outlier_observations"])
    if n_obs:
        shown = ", ".join(summary["outlier_observations"][:5])
        more = f" and {n_obs - 5} more" if n_obs > 5 else ""
        console.print(Text(f"{n_obs} outlying observations: {shown}{more}"), highlight=False)

    trend = summary.get("time_trend")
    if trend is not None:
        d, x = trend["decades_per_year"], trend["multiplier_per_year"]
        console.print(
            Text(
                f"Time trend in family efficiency: {d['mean']:+.2f} decades of compute per "
                f"year [{d['lower']:+.2f}, {d['upper']:+.2f}], i.e. {x['mean']:.2f}x "
                f"[{x['lower']:.2f}, {x['upper']:.2f}] less compute per year of release "
                "date (90% interval)"
            ),
            highlight=False,
        )
    table = Table(title=Text(f"Family compute efficiency vs {ref} (median, 90% interval)"))
    for name, justify in (("family", "left"), ("models", "right"), ("multiplier", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    head = eff.head(top)
    tail = eff.tail(top) if len(eff) > 2 * top else eff.iloc[len(head) :]
    for frame, gap in ((head, len(tail) > 0 and len(eff) > 2 * top), (tail, False)):
        for _, r in frame.iterrows():
            table.add_row(
                Text(r["family"]),
                str(r["n_models"]),
                f"{r['median']:.2f} [{r['q0.05']:.2f}, {r['q0.95']:.2f}]",
            )
        if gap:
            table.add_row("...", "", "")
    console.print(table)


def _int(value: Any) -> str:
    try:
        return str(int(value))
    except (TypeError, ValueError):
        return "?"


def _num(value: Any, spec: str) -> str:
    return "n/a" if value is None or not math.isfinite(float(value)) else format(value, spec)


def _print_diagnostics(console: Console, d: Diagnostics) -> None:
    title = (
        f"APPROXIMATE posterior ({d.approximate}): MCMC diagnostics do not apply"
        if d.approximate
        else f"Convergence diagnostics: NOT MEASURED ({d.unmeasured})"
        if d.unmeasured
        else "Convergence diagnostics"
    )
    table = Table(title=Text(title))
    for name, justify in (("quantity", "left"), ("value", "right"), ("wanted", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    table.add_column("status")
    colour = {OK: "green", CHECK: "red", NOT_MEASURED: "yellow"}
    for check in d.checks():
        value = str(check.value) if check.spec == "d" else _num(check.value, check.spec)
        status = f"[{colour[check.status]}]{check.status}[/]"
        table.add_row(check.quantity, value, check.wanted, status)
    table.add_row("seconds", _num(d.seconds, ".1f"), "", "")
    console.print(table)
    # The one line every fit prints (a log or a notebook greps for it).
    console.print(Text(diagnostics_line(d)), highlight=False)
    for message in d.messages():
        warn(message)  # once, even where the library warned already


# ---------------------------------------------------------------------------- report
@app.command("report")
def report_command(
    run_file: Annotated[Path, typer.Argument(metavar="RUN.nc", help=_RUN_HELP, show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", metavar="DIR", help="Folder for the report.")],
    spec: Annotated[str | None, typer.Option("--spec", help=_SPEC_CHECK_HELP)] = None,
    reference: Annotated[
        str | None,
        typer.Option("--reference", help="Family efficiency is relative to (default: spec's)."),
    ] = None,
    level: Annotated[float, typer.Option("--level", help="Interval mass.")] = 0.9,
    seed: Annotated[int, typer.Option("--seed", help="Seed of predictive draws.")] = 0,
) -> None:
    """Write the HTML report (index.html, PNGs, summary.json, CSV tables) of a results file.

    Example: bayes-scaling report run.nc --out report/
    """
    from bayes_scaling.estimator import FitResults
    from bayes_scaling.report import write_report

    check_output(out, folder=True)
    expect_output(out)
    fit = FitResults.load(run_file, spec=spec)
    with reporting("report", stream=sys.stderr):
        report_progress("writing the report")
        index = write_report(fit, out, level=level, reference=reference, seed=seed)
    typer.echo(f"report: {index}")


# ---------------------------------------------------------------------------- demo
@app.command("demo")
def demo_command(
    out: Annotated[
        Path,
        typer.Option("--out", "-o", metavar="DIR", help="Folder for RUN.nc and the report."),
    ] = Path("runs/demo"),
    draws: Annotated[int, typer.Option("--draws", help="Posterior draws per chain.")] = DEMO_DRAWS,
    tune: Annotated[int, typer.Option("--tune", help="Tuning steps per chain.")] = DEMO_TUNE,
    chains: Annotated[int, typer.Option("--chains", help="Number of chains.")] = DEMO_CHAINS,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    sampler: Annotated[
        str,
        typer.Option(
            "--sampler", help=f"{', '.join(SAMPLERS)}: NUTS, or advi (approximate, seconds)."
        ),
    ] = "nutpie",
) -> None:
    """Fit the default spec on the bundled base-model table; write RUN.nc and the report.

    Example: bayes-scaling demo --out runs/demo
    """
    from bayes_scaling import datasets
    from bayes_scaling.estimator import CapabilityModel, FitResults
    from bayes_scaling.report import write_report

    _check_sampling(sampler, draws, tune, chains)
    check_output(out, folder=True)
    run_file = out / "RUN.nc"
    expect_output(out)
    model = CapabilityModel(DEFAULT_SPEC)
    table = datasets.load(DEMO_DATA)
    console = Console(stderr=True, soft_wrap=True)
    fit = _sample(console, model, table, sampler, seed, draws, tune, chains)
    fit.save(run_file)
    stdout = Console(soft_wrap=True)
    _print_diagnostics(stdout, fit.diagnostics)
    # Report from the file as written, so the page shows its content hash.
    with reporting("demo", stream=sys.stderr):
        report_progress("writing the report")
        index = write_report(FitResults.load(run_file), out, seed=seed)
    stdout.print(Text(f"results: {run_file}"), highlight=False)
    stdout.print(Text(f"report:  {index}"), highlight=False)
