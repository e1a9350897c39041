"""``bayes-scaling compare``: model specs side by side by PSIS-LOO.

``compare DATA --specs k1,k2,...`` fits each spec on the same observations and prints the
leave-one-model-out PSIS-LOO table (see :mod:`bayes_scaling.compare`). ``backtest`` lives
in :mod:`bayes_scaling.cli.backtest`.

Examples
--------
>>> from bayes_scaling.cli import run
>>> run(["compare", "base-llm", "--specs", "k1,k2", "--json"])  # doctest: +SKIP
0
"""

from __future__ import annotations

import json
import math
from enum import StrEnum
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bayes_scaling.cli._common import app, split_list
from bayes_scaling.cli.data import DATA_HELP, open_table
from bayes_scaling.errors import BayesScalingError


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
    data: Annotated[str, typer.Argument(metavar="DATA", help=DATA_HELP)],
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

    spec_list = split_list(specs, "specs")
    bench = open_table(data, percent)
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
