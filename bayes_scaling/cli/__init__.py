"""The ``bayes-scaling`` command line.

Each command module (``cli/data.py``, ``cli/fit.py``, ``cli/forecast.py``,
``cli/backtest.py``, ...) registers its commands on :data:`app` (defined in
``cli/_common.py``) and is imported here. :func:`main` is the console entry
point: it turns a :class:`~bayes_scaling.errors.BayesScalingError` into one line on stderr
and exit status 2, never a traceback. Ctrl-C or SIGTERM end a command with one line saying
what was saved (nothing, unless a complete output had already been published) and exit
status 130 or 143 (:mod:`bayes_scaling.interrupts`). Python warnings, the sampler's
included, are printed as one ``warning: ...`` line each, once.

Examples
--------
>>> from bayes_scaling.cli import run
>>> run(["--help"])  # doctest: +SKIP
0
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated

import typer

try:  # typer >= 0.29 vendors click; older releases use the click package itself
    from typer._click.exceptions import ClickException as _ClickException
except ImportError:  # pragma: no cover - depends on the installed typer
    from click import ClickException as _ClickException

from bayes_scaling import interrupts
from bayes_scaling.cli._common import app, routed_warnings
from bayes_scaling.errors import BayesScalingError

# Each command module registers its commands on ``app``; imported for that side effect, in
# the order ``--help`` lists them (backtest used to be part of compare, and stays after it).
# isort: off
from bayes_scaling.cli import compare as _compare  # noqa: F401
from bayes_scaling.cli import complete as _complete  # noqa: F401
from bayes_scaling.cli import backtest as _backtest  # noqa: F401
from bayes_scaling.cli import data as _data  # noqa: F401
from bayes_scaling.cli import fit as _fit  # noqa: F401
from bayes_scaling.cli import forecast as _forecast  # noqa: F401
from bayes_scaling.cli import next as _next  # noqa: F401
from bayes_scaling.cli import place as _place  # noqa: F401
from bayes_scaling.cli import simulate as _simulate  # noqa: F401
# isort: on

__all__ = ["app", "main", "run"]


def _print_version(value: bool) -> None:
    if value:
        from bayes_scaling import __version__

        typer.echo(f"bayes-scaling {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print 'bayes-scaling VERSION' and exit.",
        ),
    ] = False,
) -> None:
    """Bayesian observational scaling laws for language models."""


def run(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` and return the exit status instead of exiting.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; ``sys.argv[1:]`` when omitted.

    Returns
    -------
    int
        0 on success, 2 for a user error, click's own code for usage errors.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    with interrupts.cli_signals(), routed_warnings():
        try:
            result = app(args=args, prog_name="bayes-scaling", standalone_mode=False)
        except BayesScalingError as exc:
            typer.echo(f"error: {exc}", err=True)
            return 2
        except typer.Exit as exc:
            return int(exc.exit_code)
        except _ClickException as exc:
            exc.show()
            return int(exc.exit_code)
        except interrupts.Interrupted as exc:
            _say_interrupted()
            return exc.exit_code
        except (KeyboardInterrupt, typer.Abort):
            # Outside the main thread (no handler installed), or a sampler's own check.
            _say_interrupted()
            return 130
    return int(result) if isinstance(result, int) else 0


def _say_interrupted() -> None:
    typer.echo(interrupts.interrupted_message(), err=True)


def main() -> None:
    """Console-script entry point."""
    sys.exit(run())
