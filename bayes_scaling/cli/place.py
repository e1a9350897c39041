"""``bayes-scaling place RUN.nc --models NEW.csv``: place new models into a fitted run.

Conditions on the run's posterior draws (no refit, see :mod:`bayes_scaling.place`) and
prints, per new model, its capabilities, percentile among the run's models, family
efficiency, forecasts of every downstream target and benchmark of the run, and warnings
(extrapolation, implausible scores, unseen family, low importance ESS, an unconverged run,
importance weights with Pareto k > 0.7) on stderr. ``--refit-if-unreliable`` places the
models whose weights have Pareto k > 0.7 by an exact refit of the run with them instead. ``--json``
prints one JSON object per model, one per line. User errors (a missing or altered run, a
bad table, a model already in the run, no benchmark in common) are one line on stderr
with exit status 2.

Examples
--------
>>> from bayes_scaling.cli import run
>>> run(["place", "runs/k1.nc", "--models", "pythia.csv", "--json"])  # doctest: +SKIP
0
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bayes_scaling.cli._common import PLACE_DRAWS, PLACE_PROPOSALS, app
from bayes_scaling.cli.data import parse_ranges, read_reporting_warnings
from bayes_scaling.errors import BayesScalingError

if TYPE_CHECKING:  # PyMC and ArviZ are imported when the command runs
    from bayes_scaling.estimator import FitResults
    from bayes_scaling.place import Placement


@app.command("place")
def place_command(
    run_file: Annotated[
        Path,
        typer.Argument(
            metavar="RUN.nc",
            help="Results file written by 'bayes-scaling fit'.",
            show_default=False,
        ),
    ],
    models: Annotated[
        Path,
        typer.Option(
            "--models",
            metavar="NEW.csv",
            help="Table of the new models (e.g. from 'bayes-scaling data import'); its "
            "TABLE.n_items.csv is read too.",
        ),
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object per model, one per line.")
    ] = False,
    reference: Annotated[
        str | None,
        typer.Option("--reference", help="Family efficiency is relative to (default: spec's)."),
    ] = None,
    level: Annotated[float, typer.Option("--level", help="Interval mass.")] = 0.9,
    draws: Annotated[
        int, typer.Option("--draws", help="Run draws to condition on (thinned evenly).")
    ] = PLACE_DRAWS,
    proposals: Annotated[
        int, typer.Option("--proposals", help="Importance proposals per run draw.")
    ] = PLACE_PROPOSALS,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    spec: Annotated[
        str | None,
        typer.Option("--spec", help="Refuse the run unless it was fitted with this spec."),
    ] = None,
    percent: Annotated[
        bool, typer.Option("--percent", help="Every score column of NEW.csv is on 0-100.")
    ] = False,
    refit_if_unreliable: Annotated[
        bool,
        typer.Option(
            "--refit-if-unreliable",
            help="Refit the run with the models whose importance weights have Pareto k > 0.7 "
            "(exact, minutes) and place them from the refit.",
        ),
    ] = False,
    range_: Annotated[
        list[str] | None,
        typer.Option(
            "--range",
            metavar="COLUMN=LOWER:UPPER",
            help="Raw range of one score column of NEW.csv (repeatable).",
        ),
    ] = None,
) -> None:
    """Place new models into a fitted run: capabilities, percentile, efficiency, forecasts.

    Example: bayes-scaling place runs/k1.nc --models pythia.csv
    """
    from bayes_scaling.estimator import FitResults
    from bayes_scaling.place import place, read_new_models

    if not 0 < level < 1:
        raise BayesScalingError(f"--level must be between 0 and 1, got {level}")
    if draws < 1:
        raise BayesScalingError(f"--draws must be at least 1, got {draws}")
    if proposals < 2:
        raise BayesScalingError(f"--proposals must be at least 2, got {proposals}")
    ranges = parse_ranges(range_ or [])
    fit = FitResults.load(run_file, spec=spec)
    new = read_reporting_warnings(lambda: read_new_models(models, percent=percent, ranges=ranges))
    from bayes_scaling.diagnostics import diagnostics_line

    placements = place(
        fit,
        new,
        draws=draws,
        proposals=proposals,
        level=level,
        reference=reference,
        seed=seed,
        refit_if_unreliable=refit_if_unreliable,
        on_refit=lambda d: typer.echo(f"refit: {diagnostics_line(d)}", err=True),
    )
    if as_json:
        for p in placements:
            typer.echo(json.dumps(p.to_dict(), allow_nan=False))
    else:
        console = Console(soft_wrap=True)
        for p in placements:
            _print_placement(console, p, fit, run_file)
    err = Console(stderr=True, soft_wrap=True)
    for p in placements:
        for message in p.warnings:
            err.print(Text(f"warning: {p.model}: {message}"), highlight=False)


def _fmt(value: float | None, spec: str = ".3g") -> str:
    return "n/a" if value is None or not math.isfinite(float(value)) else format(value, spec)


def _print_placement(console: Console, p: Placement, fit: FitResults, run_file: Path) -> None:
    pct = round(p.level * 100)
    compute = "compute unknown" if p.log10_flops is None else f"10^{p.log10_flops:.2f} FLOPs"
    family = p.family + ("" if p.family_in_run else ", new family")
    title = Text(f"{p.model} ({family}, {compute}) placed in {run_file.name}")
    head = Table(title=title, show_header=True)
    for name, justify in (("quantity", "left"), ("mean", "right"), (f"{pct}% interval", "right")):
        head.add_column(name, justify=justify)  # type: ignore[arg-type]
    for axis, row in p.capability.iterrows():
        label = (
            "general capability (log10 FLOPs-equivalent)"
            if axis == "general"
            else f"capability {axis}"
        )
        head.add_row(label, f"{row['mean']:.2f}", f"{row['lower']:.2f} to {row['upper']:.2f}")
    head.add_row(
        f"percentile among the run's {len(fit.data['model'])} models",
        f"{p.percentile:.0f}",
        f"{p.percentile_interval[0]:.0f} to {p.percentile_interval[1]:.0f}",
    )
    if p.efficiency is not None:
        e = p.efficiency
        head.add_row(
            Text(f"efficiency of {e['family']} vs {e['reference']} ({e['basis']}), median"),
            f"{e['median']:.2f}x",
            f"{e['lower']:.2f} to {e['upper']:.2f}",
        )
    if p.refit:
        head.add_row("placed by", "exact refit", f"placed in {p.seconds:.2f} s")
    else:
        head.add_row(
            "importance ESS (run draws)",
            f"{p.ess:.0f} of {p.n_draws}",
            f"placed in {p.seconds:.2f} s",
        )
        head.add_row("Pareto k of the weights (reliable <= 0.7)", f"{p.pareto_k:.2f}", "")
    console.print(head)

    table = Table(title=Text(f"Forecasts for {p.model} (posterior predictive, noise included)"))
    flagged = {d["column"] for d in p.implausible}
    headings = [
        ("column", "left"),
        ("kind", "left"),
        ("observed", "right"),
        ("median", "right"),
        (f"{pct}% interval", "right"),
    ]
    if flagged:
        headings.append(("check", "left"))
    for name, justify in headings:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for r in p.forecasts.itertuples(index=False):
        cells = [
            Text(str(r.column)),
            str(r.kind),
            "" if not math.isfinite(r.observed) else _fmt(r.observed, ".4g"),
            _fmt(r.median, ".4g"),
            f"{_fmt(r.lower, '.4g')} to {_fmt(r.upper, '.4g')}",
        ]
        if flagged:
            cells.append("[red]implausible[/]" if r.column in flagged else "")
        table.add_row(*cells)
    console.print(table)
