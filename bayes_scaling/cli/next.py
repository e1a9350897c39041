"""``bayes-scaling next``: which evaluation of a model to run next.

Ranks the benchmarks a model has no score on by the expected reduction in the posterior
predictive variance of its other unobserved benchmarks (or of one ``--target``), from a
fit's posterior draws without refitting (:mod:`bayes_scaling.probes`). The fit is a
results file (``--fit RUN.nc``, preferred: nothing is sampled) or the TABLE, fitted first
with the usual ``--spec``/``--draws``/``--seed`` options. ``--json`` prints one JSON
object. User errors (an unknown model or target, a model with no unobserved benchmark,
both or neither of TABLE and ``--fit``) are one line on stderr with exit status 2,
checked before any sampling.

Examples
--------
>>> from bayes_scaling.cli import run
>>> run(["next", "--fit", "runs/k2.nc", "--model", "EleutherAI/pythia-1.4b"])  # doctest: +SKIP
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

from bayes_scaling.cli._common import FIT_DRAWS, FIT_TUNE, SAMPLERS, app
from bayes_scaling.cli.data import (
    DATA_HELP,
    LinearOption,
    PercentOption,
    RangeOption,
    open_table,
    parse_ranges,
)
from bayes_scaling.errors import BayesScalingError
from bayes_scaling.specs import DEFAULT_SPEC

if TYPE_CHECKING:  # PyMC and ArviZ are imported when the command runs
    from bayes_scaling.estimator import FitResults
    from bayes_scaling.probes import ProbeRanking

#: :data:`bayes_scaling.probes.DEFAULT_DRAWS` (a copy: ``--help`` must not import PyMC).
PROBE_DRAWS = 400


@app.command("next")
def next_command(
    table: Annotated[
        str | None,
        typer.Argument(
            metavar="TABLE",
            help=DATA_HELP + " Fitted first; omit it with --fit.",
            show_default=False,
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", metavar="MODEL", help="The model to choose a benchmark for."),
    ] = None,
    fit_file: Annotated[
        Path | None,
        typer.Option(
            "--fit",
            metavar="RUN.nc",
            help="Results file written by 'bayes-scaling fit' (no sampling; instead of TABLE).",
        ),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(
            "--target",
            metavar="BENCHMARK",
            help="Score probes by this unobserved benchmark only (default: all the others).",
        ),
    ] = None,
    k: Annotated[int, typer.Option("--k", help="Probes shown, best first.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    probe_draws: Annotated[
        int,
        typer.Option("--probe-draws", help="Posterior draws the ranking uses (thinned evenly)."),
    ] = PROBE_DRAWS,
    spec: Annotated[
        str | None,
        typer.Option(
            "--spec",
            help=f"Spec to fit TABLE with (default {DEFAULT_SPEC}); with --fit, refuse a run "
            "of another spec.",
        ),
    ] = None,
    sampler: Annotated[
        str,
        typer.Option(
            "--sampler", help=f"{', '.join(SAMPLERS)}: NUTS, or advi (approximate, seconds)."
        ),
    ] = "nutpie",
    seed: Annotated[
        int, typer.Option("--seed", help="Random seed of the fit and the ranking.")
    ] = 0,
    draws: Annotated[int, typer.Option("--draws", help="Posterior draws per chain.")] = FIT_DRAWS,
    tune: Annotated[int, typer.Option("--tune", help="Tuning steps per chain.")] = FIT_TUNE,
    chains: Annotated[int, typer.Option("--chains", help="Number of chains.")] = 4,
    percent: PercentOption = False,
    range_: RangeOption = None,
    linear: LinearOption = None,
) -> None:
    """Rank a model's unobserved benchmarks by how much running each would narrow the rest.

    Example: bayes-scaling next --fit runs/k2.nc --model EleutherAI/pythia-1.4b --k 3
    """
    from bayes_scaling.probes import check_probe_request

    if (table is None) == (fit_file is None):
        raise BayesScalingError("give a TABLE to fit or --fit RUN.nc (one of them, not both)")
    if model is None:
        raise BayesScalingError("--model is required: the model to choose a benchmark for")
    if fit_file is not None and (percent or range_ or linear):
        raise BayesScalingError(
            "--percent, --range and --linear describe a TABLE; a --fit has its own"
        )
    if k < 1:
        raise BayesScalingError(f"--k must be at least 1, got {k}")
    if probe_draws < 2:
        raise BayesScalingError(f"--probe-draws must be at least 2, got {probe_draws}")
    if fit_file is not None:
        from bayes_scaling.estimator import FitResults

        fit = FitResults.load(fit_file, spec=spec)
        source = fit_file.name
    else:
        from bayes_scaling.cli.fit import _check_sampling, _sample
        from bayes_scaling.estimator import CapabilityModel

        assert table is not None
        _check_sampling(sampler, draws, tune, chains)
        model_spec = CapabilityModel(spec or DEFAULT_SPEC)
        # As 'complete' reads a leaderboard: a benchmark seen by one model is kept.
        data = open_table(
            table,
            percent,
            parse_ranges(range_ or []),
            linear=tuple(linear or ()),
            min_models=1,
        )
        # Refused before sampling, which takes minutes.
        check_probe_request(data, model, target)
        fit = _sample(
            Console(stderr=True, soft_wrap=True),
            model_spec,
            data,
            sampler,
            seed,
            draws,
            tune,
            chains,
        )
        source = f"a fit of {table}"
    ranking = _rank(fit, model, target, probe_draws, seed)
    if as_json:
        typer.echo(json.dumps(ranking.to_dict(k), allow_nan=False))
    else:
        _print_ranking(Console(soft_wrap=True), ranking, source, k)
    err = Console(stderr=True, soft_wrap=True)
    for message in [*_fit_warnings(fit), *ranking.warnings]:
        err.print(Text(f"warning: {message}"), highlight=False)


def _rank(fit: FitResults, model: str, target: str | None, draws: int, seed: int) -> ProbeRanking:
    from bayes_scaling.probes import rank_probes

    return rank_probes(fit, model, target, draws=draws, seed=seed)


def _fit_warnings(fit: FitResults) -> list[str]:
    """The fit's convergence problems: a ranking from an unconverged fit is no result."""
    d = fit.diagnostics
    messages = list(d.messages())
    if messages:
        messages.append(
            "the ranking comes from a fit that is not converged: refit before trusting it"
        )
    return messages


def _fmt(value: float, spec: str) -> str:
    return "n/a" if not math.isfinite(float(value)) else format(value, spec)


def _print_ranking(console: Console, r: ProbeRanking, source: str, k: int) -> None:
    scored = (
        f"--target {r.target}"
        if r.target is not None
        else f"its other {len(r.current) - 1} unobserved benchmarks"
    )
    title = Text(
        f"Next evaluation for {r.model} ({source}): expected reduction of the posterior "
        f"predictive variance of {scored}"
    )
    table = Table(title=title)
    headings = (
        ("rank", "right"),
        ("benchmark", "left"),
        ("reduction", "right"),
        ("fraction", "right"),
        ("variance now", "right"),
        ("ESS", "right"),
    )
    for name, justify in headings:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for i, row in enumerate(r.table.head(k).itertuples(index=False), start=1):
        ess = f"{row.ess:.0f} of {row.draws}" + (" [red]low[/]" if row.low_ess else "")
        table.add_row(
            str(i),
            Text(str(row.benchmark)),
            _fmt(row.reduction, ".3g"),
            _fmt(100 * row.fraction, ".0f") + "%",
            _fmt(row.variance, ".3g"),
            ess,
        )
    console.print(table)
    shown = min(k, len(r.table))
    console.print(
        Text(
            f"{shown} of {len(r.table)} unobserved benchmarks shown; variances on the [0, 1] "
            f"score scale, summed over the scored benchmarks; {r.n_draws} posterior draws, "
            f"seed {r.seed}, {r.seconds:.1f} s"
        ),
        highlight=False,
    )
