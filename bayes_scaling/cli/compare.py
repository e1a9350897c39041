"""``bayes-scaling compare``: model specs side by side by PSIS-LOO.

``compare DATA --specs k1,k2,...`` fits each spec on the same observations, prints one
``diagnostics:`` line per fit (stderr) and the leave-one-model-out PSIS-LOO table, each
left-out model's capabilities integrated out (see :mod:`bayes_scaling.compare`). It refuses
to rank (one line, exit 2) unconverged fits or LOO with more than 10% of the models at
Pareto k > 0.7 after the ``--kfold`` fallback; ``--force`` ranks anyway with a warning in the
table. ``backtest`` lives in :mod:`bayes_scaling.cli.backtest`.

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

from bayes_scaling.cli._common import FIT_DRAWS, FIT_TUNE, app, split_list, warn
from bayes_scaling.cli.data import DATA_HELP, open_table
from bayes_scaling.errors import BayesScalingError
from bayes_scaling.progress import reporting


def _finite(v: Any) -> Any:
    """JSON value: NaN/inf become null (strict JSON has no NaN)."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, np.generic):
        return _finite(v.item())
    return v


# ------------------------------------------------------------------------------ compare
class KFoldOption(StrEnum):
    """Exact refits for the points PSIS cannot estimate (Pareto k > 0.7)."""

    none = "none"
    model = "model"
    family = "family"


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
    kfold: Annotated[
        KFoldOption,
        typer.Option(
            "--kfold",
            help="Refit without each model whose Pareto k stays > 0.7 ('model'), or without "
            "those of each family together ('family'), and use the exact elpd.",
        ),
    ] = KFoldOption.none,
    lofo: Annotated[
        bool,
        typer.Option(
            "--lofo",
            help="Also leave one family out by refits (one refit per family and spec: slow).",
        ),
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Rank even unconverged fits or unreliable LOO (the table then warns).",
        ),
    ] = False,
    proposals: Annotated[
        int,
        typer.Option("--proposals", help="Importance proposals per draw and left-out model."),
    ] = 32,
    percent: Annotated[
        bool, typer.Option("--percent", help="DATA file scores are on 0-100.")
    ] = False,
    draws: Annotated[int, typer.Option("--draws", help="Posterior draws per chain.")] = FIT_DRAWS,
    tune: Annotated[int, typer.Option("--tune", help="Tuning steps per chain.")] = FIT_TUNE,
    chains: Annotated[int, typer.Option("--chains", help="Number of chains.")] = 4,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
) -> None:
    """Compare model specs by leave-one-model-out PSIS-LOO (elpd, stacking weights, Pareto k).

    Every spec is fitted to the same observations; with compute-only among the specs, all
    are fitted to the models with known compute. Each left-out model's capabilities are
    integrated out. Unconverged fits, or more than 10% of models with Pareto k > 0.7 after
    --kfold, are refused (exit 2) unless --force.
    """
    from bayes_scaling.compare import BAD_K, compare_specs
    from bayes_scaling.diagnostics import diagnostics_line

    if proposals < 2:
        raise BayesScalingError(f"--proposals must be at least 2, got {proposals}")
    if draws < 1 or tune < 0 or chains < 1:
        raise BayesScalingError("--draws and --chains must be at least 1, --tune at least 0")

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
    with reporting("compare"):  # a bar on a terminal, a plain line every 10 s elsewhere
        table = compare_specs(
            bench,
            spec_list,
            draws=draws,
            tune=tune,
            chains=chains,
            seed=seed,
            by=by.value,
            kfold=kfold.value,
            lofo=lofo,
            lfo_cutoff=cutoff,
            proposals=proposals,
            force=force,
            on_fit=lambda spec, d: typer.echo(f"{spec}: {diagnostics_line(d)}", err=True),
        )
    for reason in table.attrs.get("refusals", []):
        warn(f"--force: {reason}")
    for spec, msgs in table.attrs.get("warnings", {}).items():
        for msg in msgs:
            warn(f"{spec}: {msg}")
    if as_json:
        records = [{k: _finite(v) for k, v in row.items()} for row in table.to_dict("records")]
        for r in records:
            r["by"] = table.attrs["by"]
            r["note"] = table.attrs["note"]
            r["kfold"] = table.attrs.get("kfold", "none")
            r["forced"] = bool(table.attrs.get("refusals"))
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
    how = ", capabilities integrated out" if table.attrs.get("integrated") else ""
    out = Table(
        title=f"PSIS-LOO, leave one {unit} out{how} ({table.attrs['n_models']} models, "
        f"{table.attrs['n_obs']} scores)"
    )
    cols = [
        *LOO_COLUMNS[: LOO_COLUMNS.index("p_loo") + 1],
        f"k>{bad_k:g}",
        "refit",
        "max R-hat",
        "min ESS",
        "div",
    ]
    forced = any(table.get("warning", pd.Series(dtype=str)).astype(bool))
    if cutoff is not None:
        cols += ["elpd_lfo", "se_lfo", "n_lfo"]
    lofo = "elpd_lofo" in table.columns
    if lofo:
        cols += ["elpd_lofo", "se_lofo"]
    if forced:
        cols.append("warning")
    for c in cols:
        out.add_column(c, justify="left" if c == "spec" else "right")
    for _, r in table.iterrows():
        cells = [
            Text(str(r["spec"])),
            f"{r['elpd']:.1f}",
            f"{r['se']:.1f}",
            f"{r['elpd_diff']:.1f}",
            f"{r['dse']:.1f}",
            "n/a" if not math.isfinite(r["weight"]) else f"{r['weight']:.2f}",
            f"{r['p_loo']:.1f}",
            str(int(r["n_bad_pareto_k"])),
            str(int(r.get("n_refit", 0))),
            f"{r['max_rhat']:.3f}",
            f"{r.get('min_ess_bulk', math.nan):.0f}",
            str(int(r["divergences"])),
        ]
        if cutoff is not None:
            cells += [f"{r['elpd_lfo']:.1f}", f"{r['se_lfo']:.1f}", str(int(r["n_heldout"]))]
        if lofo:
            cells += [f"{r['elpd_lofo']:.1f}", f"{r['se_lofo']:.1f}"]
        if forced:
            cells.append(Text(str(r["warning"]), style="bold red"))
        out.add_row(*cells)
    console.print(out)
    if forced:
        console.print(
            Text(
                "WARNING: ranked with --force: the rows marked above are not results "
                "(unconverged fit or unreliable LOO); stacking weighs converged fits only",
                style="bold red",
            ),
            highlight=False,
        )
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
