"""``bayes-scaling data ...``: validate and describe tables (placeholder, issue 2)."""

from __future__ import annotations

import typer

from bayes_scaling.cli import app

data_app = typer.Typer(help="Validate and describe benchmark tables.", no_args_is_help=True)
app.add_typer(data_app, name="data")
