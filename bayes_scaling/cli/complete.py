"""``bayes-scaling complete``: fill every cell of a leaderboard with an interval.

The output columns are a contract pinned by ``tests/test_complete.py``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated

import typer

from bayes_scaling.cli._common import COMPLETE_DRAWS, app, warn
from bayes_scaling.cli.data import (
    DATA_HELP,
    LinearOption,
    PercentOption,
    RangeOption,
    open_table,
    parse_ranges,
)
from bayes_scaling.diagnostics import diagnostics_line
from bayes_scaling.errors import BayesScalingError
from bayes_scaling.interrupts import expect_output
from bayes_scaling.io import atomic_path, check_output
from bayes_scaling.progress import reporting

#: :data:`bayes_scaling.complete.DEFAULT_SPEC` (a copy: ``--help`` must not import PyMC).
COMPLETE_SPEC = "k2"
COMPLETE_SAMPLERS = ("nuts", "advi")


@app.command("complete")
def complete_command(
    table: Annotated[str, typer.Argument(metavar="TABLE", help=DATA_HELP, show_default=False)],
    out: Annotated[
        Path, typer.Option("--out", "-o", metavar="FILLED.csv", help="Completed table to write.")
    ],
    percent: PercentOption = False,
    range_: RangeOption = None,
    linear: LinearOption = None,
    spec: Annotated[str, typer.Option("--spec", help="Model spec (models/*.toml).")] = (
        COMPLETE_SPEC
    ),
    interval: Annotated[
        float, typer.Option("--interval", help="Level of the equal-tailed predictive interval.")
    ] = 0.9,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; same seed, same file.")] = 0,
    draws: Annotated[
        int, typer.Option("--draws", help="Posterior draws per chain.")
    ] = COMPLETE_DRAWS,
    tune: Annotated[int, typer.Option("--tune", help="Tuning steps per chain.")] = 1000,
    chains: Annotated[int, typer.Option("--chains", help="Number of chains.")] = 4,
    sampler: Annotated[
        str, typer.Option("--sampler", help="nuts, or advi (approximate, uncalibrated).")
    ] = "nuts",
) -> None:
    """Fill every (model, benchmark) cell of TABLE with a posterior predictive interval.

    Works with compute on all, some or none of the models, with linear columns (--linear)
    and with benchmarks seen by only one or two models (kept, with a warning). Writes
    FILLED.csv with one row per (model, benchmark): model, benchmark, observed (empty for
    a missing cell), mean, median, lower, upper, in the table's raw units.

    Example: bayes-scaling complete leaderboard.csv --percent --linear "Arena Elo" --out filled.csv
    """
    from bayes_scaling.complete import SparseBenchmarkWarning, complete

    if sampler not in COMPLETE_SAMPLERS:
        raise BayesScalingError(f"unknown sampler {sampler!r}; choose nuts or advi")
    if not 0.0 < interval < 1.0:
        raise BayesScalingError(f"--interval must be in (0, 1), got {interval}")
    for name, value, least in (("--draws", draws, 1), ("--tune", tune, 0), ("--chains", chains, 1)):
        if value < least:
            raise BayesScalingError(f"{name} must be at least {least}, got {value}")
    # Before the fit, not after it: a path that cannot be written loses nothing yet.
    check_output(out, suffixes=(".csv",))
    expect_output(out)
    data = open_table(
        table, percent, parse_ranges(range_ or []), linear=tuple(linear or ()), min_models=1
    )
    with warnings.catch_warnings(record=True) as caught, reporting("complete"):
        warnings.simplefilter("always", SparseBenchmarkWarning)
        frame = complete(
            data,
            spec=spec,
            interval=interval,
            seed=seed,
            draws=draws,
            tune=tune,
            chains=chains,
            sampler=sampler,  # type: ignore[arg-type]
        )
    for w in caught:
        warn(str(w.message))
    with atomic_path(out) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.6g")
    d = frame.attrs["fit"].diagnostics
    n_missing = int(frame["observed"].isna().sum())
    typer.echo(f"wrote {out}: {len(frame)} cells ({n_missing} filled); {diagnostics_line(d)}")
    for msg in d.messages():
        warn(msg)
