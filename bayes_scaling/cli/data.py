"""``bayes-scaling data ...``: validate, describe and import benchmark tables.

``data validate FILE`` checks a user table and prints a one-line summary; ``data show``
describes a table (a file or a bundled table's name) as rich tables or JSON; ``data import``
turns lm-evaluation-harness results JSON into a wide table (:mod:`bayes_scaling.harness`).
Problems with the input raise :class:`~bayes_scaling.errors.DataError`, which the CLI prints
as one line with exit status 2.

Examples
--------
>>> from bayes_scaling.cli import run
>>> run(["data", "show", "base-llm", "--json"])  # doctest: +SKIP
0
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
import xarray as xr
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bayes_scaling import datasets, harness
from bayes_scaling.cli._common import app
from bayes_scaling.data import n_items_path, read_table, summarize
from bayes_scaling.errors import BayesScalingError
from bayes_scaling.registry import UnknownBenchmarkWarning

data_app = typer.Typer(help="Validate, describe and import benchmark tables.", no_args_is_help=True)
app.add_typer(data_app, name="data")

#: Help of every argument or option that takes a table (resolved by :func:`open_table`).
DATA_HELP = f"A bundled table ({', '.join(datasets.names())}) or a CSV/Parquet file."

_PERCENT_HELP = "Every score column is on 0-100 rather than 0-1."
_RANGE_HELP = (
    "Raw range of one score column, e.g. 'ABench-OA=0:10' (repeatable; overrides --percent)."
)
_RANGE_METAVAR = "COLUMN=LOWER:UPPER"

# The table-reading options every fitting command shares, declared once.
PercentOption = Annotated[bool, typer.Option("--percent", help=_PERCENT_HELP)]
RangeOption = Annotated[
    list[str] | None, typer.Option("--range", metavar=_RANGE_METAVAR, help=_RANGE_HELP)
]
LinearOption = Annotated[
    list[str] | None,
    typer.Option(
        "--linear",
        metavar="COLUMN",
        help="A column that is not a bounded share (Elo, rating, dollars): standardised, "
        "normal measurement (repeatable).",
    ),
]


@data_app.command("validate")
def validate(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="CSV or Parquet table, wide or long format.")
    ],
    percent: PercentOption = False,
    range_: RangeOption = None,
) -> None:
    """Check a table against every validation rule; print a one-line summary."""
    ranges = parse_ranges(range_ or [])
    ds = read_reporting_warnings(lambda: read_table(file, percent=percent, ranges=ranges))
    s = summarize(ds)
    counts = n_items_path(file)
    typer.echo(
        f"OK {file}: {s['n_models']} models, {s['n_families']} families, "
        f"{s['n_benchmarks']} benchmarks, {s['missing']:.1%} of scores missing, "
        f"{len(s['models_without_compute'])} models without compute"
        + (f"; item counts from {counts}" if counts.is_file() else "")
    )


@data_app.command("import")
def import_command(
    files: Annotated[
        list[Path],
        typer.Argument(
            metavar="FILE",
            help="lm-evaluation-harness results JSON files (v0.4 layout); files of one "
            "model are merged.",
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            metavar="TABLE.csv",
            help="Wide CSV table to write; the item counts go to TABLE.n_items.csv beside it.",
        ),
    ],
    family: Annotated[
        str | None, typer.Option("--family", metavar="F", help="Model Family of every model.")
    ] = None,
    params_b: Annotated[
        float | None,
        typer.Option("--params-b", metavar="P", help="Parameters in billions (one model only)."),
    ] = None,
    tokens_t: Annotated[
        float | None,
        typer.Option(
            "--tokens-t", metavar="T", help="Pretraining tokens in trillions (one model only)."
        ),
    ] = None,
) -> None:
    """Turn lm-evaluation-harness results into a wide table (see docs/data.md)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", harness.HarnessWarning)
        table = harness.import_files(files, family=family, params_b=params_b, tokens_t=tokens_t)
        counts = harness.write_table(table, out)
    for warning in caught:
        if isinstance(warning.message, harness.HarnessWarning):
            typer.echo(f"warning: {warning.message}", err=True)
        else:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    n_models, n_columns = len(table.frame), len(table.frame.columns) - 5
    typer.echo(
        f"wrote {out}: {n_models} model{'s' * (n_models != 1)}, {n_columns} "
        f"benchmark{'s' * (n_columns != 1)}; item counts for {len(table.n_items)} in {counts}"
    )


@data_app.command("show")
def show(
    table: Annotated[
        str,
        typer.Argument(
            metavar="NAME_OR_FILE",
            help=DATA_HELP,
        ),
    ],
    percent: Annotated[
        bool, typer.Option("--percent", help=_PERCENT_HELP + " Files only.")
    ] = False,
    range_: Annotated[
        list[str] | None,
        typer.Option("--range", metavar=_RANGE_METAVAR, help=_RANGE_HELP + " Files only."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Describe a table: models, families, benchmarks, missing scores, compute."""
    ds = open_table(table, percent, parse_ranges(range_ or []))
    s = summarize(ds)
    if as_json:
        typer.echo(json.dumps(s, indent=2))
        return
    _print_summary(s)


def parse_ranges(specs: list[str]) -> dict[str, tuple[float, float]]:
    """``--range COLUMN=LOWER:UPPER`` values as a mapping of column to (lower, upper).

    Raises
    ------
    BayesScalingError
        A value not of that form (one line).

    Examples
    --------
    >>> parse_ranges(["ABench-OA=0:10"])
    {'ABench-OA': (0.0, 10.0)}
    """
    ranges = {}
    for spec in specs:
        # rpartition: the column name may itself contain '='.
        name, sep, bounds = spec.rpartition("=")
        lower, colon, upper = bounds.partition(":")
        try:
            if not (sep and colon and name.strip()):
                raise ValueError
            ranges[name.strip()] = (float(lower), float(upper))
        except ValueError:
            # A BayesScalingError, not a click usage error: one line and exit 2 either way.
            raise BayesScalingError(f"--range {spec!r} is not {_RANGE_METAVAR}") from None
    return ranges


def open_table(
    table: str | Path,
    percent: bool = False,
    ranges: dict[str, tuple[float, float]] | None = None,
    **options: Any,
) -> xr.Dataset:
    """The tidy dataset of a bundled table name or a file, as every command reads a table.

    :func:`bayes_scaling.datasets.resolve_table` (which decides name or path; ``options``
    are its ``linear`` and ``min_models``), with unknown-benchmark warnings reported as
    one line on stderr.

    Raises
    ------
    DataError
        One line: no such bundled table or file, ``--percent``/``--range`` with a bundled
        table, or a table failing validation.

    Examples
    --------
    >>> int(open_table("base-llm").sizes["model"])
    128
    """
    return read_reporting_warnings(
        lambda: datasets.resolve_table(table, percent=percent, ranges=ranges, **options)
    )


def read_reporting_warnings(read: Callable[[], xr.Dataset]) -> xr.Dataset:
    """Run ``read``; report unknown benchmarks on stderr, only if it succeeds.

    A rejected table thus prints exactly one line (the error), and a table with many
    unregistered columns gets one warning line rather than one per column.

    Examples
    --------
    >>> from bayes_scaling import datasets
    >>> int(read_reporting_warnings(lambda: datasets.load("agent")).sizes["model"])
    27
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnknownBenchmarkWarning)
        ds = read()
    unknown = []
    for warning in caught:
        if isinstance(warning.message, UnknownBenchmarkWarning):
            unknown.append(warning.message)
        else:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    if len(unknown) == 1:
        typer.echo(f"warning: {unknown[0]}", err=True)
    elif unknown:
        typer.echo(
            f"warning: {len(unknown)} benchmarks are not in the registry (assuming chance "
            f"floor 0, no item count, continuous score): "
            + ", ".join(repr(w.benchmark) for w in unknown),
            err=True,
        )
    return ds


def _print_summary(s: dict[str, Any]) -> None:
    console = Console(soft_wrap=False)
    overview = Table(title=Text(s["source"]), show_header=False)
    overview.add_column("what")
    overview.add_column("value", justify="right")
    overview.add_row("models", str(s["n_models"]))
    overview.add_row("families", str(s["n_families"]))
    overview.add_row("benchmarks", str(s["n_benchmarks"]))
    overview.add_row("scores missing", f"{s['missing']:.1%}")
    overview.add_row("models without compute", str(len(s["models_without_compute"])))
    overview.add_row("models without scores", str(len(s["models_without_scores"])))
    console.print(overview)

    benchmarks = Table(title="Benchmarks")
    benchmarks.add_column("benchmark", overflow="fold")
    for heading in ("observed", "missing", "floor", "items", "raw range"):
        benchmarks.add_column(heading, justify="right")
    for name, b in s["benchmarks"].items():
        # Text(): names come from the user's file and must not be read as rich markup.
        benchmarks.add_row(
            Text(name),
            str(b["observed"]),
            f"{b['missing']:.1%}",
            f"{b['floor']:.3g}",
            "-" if b["n_items"] is None else str(b["n_items"]),
            f"{b['lower']:g} to {b['upper']:g}",
        )
    console.print(benchmarks)

    families = Table(title="Families")
    families.add_column("family", overflow="fold")
    families.add_column("models", justify="right")
    for family, count in sorted(s["families"].items(), key=lambda kv: (-kv[1], kv[0])):
        families.add_row(Text(family), str(count))
    console.print(families)

    for key, label in (
        ("models_without_compute", "Models without compute"),
        ("models_without_scores", "Models without scores"),
    ):
        if s[key]:
            line = Text.assemble((f"{label}: ", "bold"), ", ".join(s[key]))
            console.print(line, highlight=False)
