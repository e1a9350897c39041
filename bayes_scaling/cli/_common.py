"""The typer application every command module registers on, and helpers they share.

``app`` lives here rather than in ``bayes_scaling/cli/__init__.py`` so that the command
modules (``cli/fit.py``, ``cli/backtest.py``, ...) import it from a module that imports
none of them: the package ``__init__`` imports the command modules to register them, and
they would otherwise import it back (an import cycle, see ``tests/test_imports.py``).

Examples
--------
>>> from bayes_scaling.cli._common import split_list
>>> split_list("k1, k2,,k3", "specs")
['k1', 'k2', 'k3']
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

import typer

from bayes_scaling.errors import BayesScalingError

__all__ = ["app", "routed_warnings", "split_list", "warn"]

# Defaults shown in ``--help``. They are copies, so that ``bayes-scaling --help`` (and
# ``import bayes_scaling.cli``) need not import PyMC, ArviZ and the estimator, which take
# seconds; tests/test_cli_help.py checks each against the module it comes from.
#: :data:`bayes_scaling.estimator.SAMPLERS`
SAMPLERS: tuple[str, ...] = ("nutpie", "pymc", "numpyro", "advi")
#: :data:`bayes_scaling.estimator.DEFAULT_DRAWS` and ``DEFAULT_TUNE``
FIT_DRAWS, FIT_TUNE = 2000, 1000
#: :data:`bayes_scaling.complete.DEFAULT_DRAWS`
COMPLETE_DRAWS = 5000
#: :data:`bayes_scaling.forecast.DEFAULT_FORECAST_SPEC`
FORECAST_SPEC = "k2"
#: :data:`bayes_scaling.place.DEFAULT_DRAWS` and ``DEFAULT_PROPOSALS``
PLACE_DRAWS, PLACE_PROPOSALS = 1000, 128
#: ``len(bayes_scaling.simulate.REGISTRY_NAMES)``
N_REGISTRY_NAMES = 13

app = typer.Typer(
    name="bayes-scaling",
    help="Bayesian observational scaling laws for language models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def split_list(text: str, what: str) -> list[str]:
    """The non-empty, stripped items of the comma-separated option ``--<what>``.

    Parameters
    ----------
    text : str
        The option's value.
    what : str
        The option's name without dashes, for the error message.

    Returns
    -------
    list of str

    Raises
    ------
    BayesScalingError
        No item (one line: ``--specs is empty``).

    Examples
    --------
    >>> split_list("0,1", "seeds")
    ['0', '1']
    """
    items = [s.strip() for s in text.split(",") if s.strip()]
    if not items:
        raise BayesScalingError(f"--{what} is empty")
    return items


_said: set[str] = set()


def warn(message: str) -> None:
    """Print ``warning: <message>`` on stderr, once per command (a repeat is dropped).

    The sampler's convergence warning reaches the command twice (the library emits it as
    a Python warning, the command prints the diagnostics): the user reads it once.

    Examples
    --------
    >>> with routed_warnings():
    ...     warn("3 divergent transitions")  # doctest: +SKIP
    """
    line = " ".join(str(message).split("\n")[0].split())
    if line in _said:
        return
    _said.add(line)
    typer.echo(f"warning: {line}", err=True)


@contextlib.contextmanager
def routed_warnings() -> Iterator[None]:
    """Print Python warnings as one ``warning: ...`` line each, without file paths.

    Python's own format shows the file and line of the code that warned, which means
    nothing to a user of the command line (and repeats for each call site).
    """

    def show(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        warn(str(message))

    _said.clear()
    with warnings.catch_warnings():
        warnings.showwarning = show
        try:
            yield
        finally:
            _said.clear()
