"""``bayes-scaling --help`` and ``--version``: fast, complete, documented.

The command modules keep PyMC, ArviZ, nutpie and the estimator out of import time (they
are imported by the commands that need them), so ``--help`` shows the defaults from copies
in ``cli/_common.py``; these tests pin each copy to its source and check that
``docs/cli.md`` documents every command ``--help`` lists.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

import bayes_scaling
from bayes_scaling.cli import _common, app, run

DOCS = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def commands() -> list[str]:
    """Every command ``bayes-scaling --help`` lists, sub-commands as ``data show``."""
    names = [c.name or c.callback.__name__ for c in app.registered_commands]
    for group in app.registered_groups:
        sub = group.typer_instance
        names += [f"{group.name} {c.name}" for c in sub.registered_commands]
    return names


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--version"]) == 0
    assert capsys.readouterr().out == f"bayes-scaling {bayes_scaling.__version__}\n"


def test_help_defaults_match_their_sources() -> None:
    # import_module: ``bayes_scaling.forecast`` etc. are also functions of the lazy API
    estimator, forecast, place, simulate = (
        importlib.import_module(f"bayes_scaling.{m}")
        for m in ("estimator", "forecast", "place", "simulate")
    )

    assert _common.SAMPLERS == estimator.SAMPLERS
    assert (_common.FIT_DRAWS, _common.FIT_TUNE) == (
        estimator.DEFAULT_DRAWS,
        estimator.DEFAULT_TUNE,
    )
    assert _common.FORECAST_SPEC == forecast.DEFAULT_FORECAST_SPEC
    assert (_common.PLACE_DRAWS, _common.PLACE_PROPOSALS) == (
        place.DEFAULT_DRAWS,
        place.DEFAULT_PROPOSALS,
    )
    assert _common.N_REGISTRY_NAMES == len(simulate.REGISTRY_NAMES)
    from bayes_scaling.cli.complete import COMPLETE_SPEC

    assert COMPLETE_SPEC == importlib.import_module("bayes_scaling.complete").DEFAULT_SPEC


def test_help_does_not_import_the_sampling_stack() -> None:
    code = (
        "import sys; from bayes_scaling.cli import run; run(['--help']); "
        "heavy = ['pymc', 'arviz', 'nutpie', 'pytensor', 'matplotlib', 'bayes_scaling.estimator']; "
        "print('HEAVY:' + ','.join(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "HEAVY:\n" in out, out.splitlines()[-1]


def test_docs_list_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--help"]) == 0
    listed = capsys.readouterr().out
    text = DOCS.read_text(encoding="utf-8")
    names = commands()
    assert {"fit", "summary", "compare", "backtest", "forecast", "simulate", "data show"} <= set(
        names
    )
    for name in names:
        assert name.split()[0] in listed
        # a row of the command table and a usage line or example
        assert re.search(rf"^\| \[?`{name}`", text, re.M) or f"`{name}`" in text, name
        assert f"bayes-scaling {name}" in text, name
