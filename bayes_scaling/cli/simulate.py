"""``bayes-scaling simulate``: write a synthetic table drawn from known parameters.

The CSV is in the bundled wide format and passes ``bayes-scaling data validate``; with
``--params`` the true parameters are written beside it (netCDF, or JSON for a ``.json``
name). Bad arguments raise :class:`~bayes_scaling.errors.BayesScalingError`, which the CLI
prints as one line with exit status 2. See ``docs/simulation.md``.

Examples
--------
>>> from bayes_scaling.cli import run
>>> run(["simulate", "--models", "30", "--families", "5", "--benchmarks", "6",
...      "--out", "sim.csv"])  # doctest: +SKIP
0
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bayes_scaling.cli._common import N_REGISTRY_NAMES, app
from bayes_scaling.errors import BayesScalingError


@app.command("simulate")
def simulate_command(
    out: Annotated[
        Path, typer.Option("--out", metavar="FILE.csv", help="Where to write the table (CSV).")
    ],
    models: Annotated[int, typer.Option("--models", min=3, help="Number of models.")] = 60,
    families: Annotated[int, typer.Option("--families", min=1, help="Number of families.")] = 8,
    benchmarks: Annotated[
        int,
        typer.Option(
            "--benchmarks",
            min=1,
            help=f"Number of benchmarks; up to {N_REGISTRY_NAMES} are named after registry "
            "benchmarks (true floors and item counts when read back).",
        ),
    ] = 8,
    capabilities: Annotated[
        int,
        typer.Option(
            "--capabilities",
            min=1,
            max=4,
            help="Latent capabilities K (first K benchmarks anchor them).",
        ),
    ] = 2,
    missing: Annotated[
        float, typer.Option("--missing", help="Share of score cells left empty, in [0, 1).")
    ] = 0.0,
    compute_missing: Annotated[
        float,
        typer.Option("--compute-missing", help="Share of models with unknown tokens and FLOPs."),
    ] = 0.0,
    continuous: Annotated[
        bool,
        typer.Option("--continuous", help="Make the last benchmark continuous (TruthfulQA)."),
    ] = False,
    time_trend: Annotated[
        float | None,
        typer.Option(
            "--time-trend",
            help="Add a Release Date column and a time trend in family efficiency of this "
            "many decades of compute per year (families released 2020-2025).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; same seed, same table.")] = 0,
    params: Annotated[
        Path | None,
        typer.Option(
            "--params",
            metavar="PARAMS.nc",
            help="Also write the true parameters (netCDF; JSON if the name ends in .json).",
        ),
    ] = None,
) -> None:
    """Draw a synthetic benchmark table from known capability-model parameters."""
    from bayes_scaling.simulate import simulate  # PyMC: imported when run

    if out.suffix.lower() != ".csv":
        raise BayesScalingError(f"--out {out} must be a .csv file")
    if params is not None and params.resolve() == out.resolve():
        raise BayesScalingError("--params must differ from --out")
    sim = simulate(
        models,
        families,
        benchmarks,
        capabilities=capabilities,
        missing=missing,
        seed=seed,
        compute_missing=compute_missing,
        continuous=continuous,
        time_trend=time_trend,
    )
    sim.save(out, params)
    share = float(sim.data["score"].isnull().mean())
    written = f" and {params}" if params is not None else ""
    typer.echo(
        f"wrote {out}{written}: {models} models, {families} families, {benchmarks} benchmarks, "
        f"K={capabilities} (anchors {', '.join(sim.anchors)}), {share:.1%} of scores missing"
    )
    extra = [b for b in map(str, sim.data["benchmark"].to_numpy()) if b.startswith("SIM-")]
    if extra:
        # Read back through the default registry these columns get floor 0 and no items.
        typer.echo(
            f"warning: {len(extra)} benchmarks beyond the registry ({extra[0]}, ...) read back "
            "as continuous with floor 0; use bayes_scaling.simulate.simulate(...).data for "
            "their true floors and item counts",
            err=True,
        )
