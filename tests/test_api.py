"""The curated top-level API: ``import bayes_scaling as bs`` and its lazily loaded names."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import bayes_scaling as bs

API = [
    "CapabilityModel",
    "FitResults",
    "load",
    "datasets",
    "read_table",
    "simulate",
    "forecast",
    "place",
    "compare_specs",
]


def _python(code: str) -> str:
    """Run ``code`` in a fresh interpreter (own ``sys.modules``); return its stdout."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return done.stdout


def test_version_is_a_literal_line() -> None:
    """hatch reads the version from this very line of ``__init__.py``."""
    source = Path(bs.__file__).read_text(encoding="utf-8")
    assert re.search(r'^__version__ = "\d+\.\d+\.\d+"$', source, flags=re.MULTILINE)
    assert bs.__version__ in source


def test_import_does_not_load_pymc_or_the_estimator() -> None:
    out = _python(
        """
        import json, sys
        import bayes_scaling
        heavy = ("pymc", "pytensor", "arviz", "bayes_scaling.estimator", "bayes_scaling.model")
        print(json.dumps([m for m in heavy if m in sys.modules]))
        """
    )
    assert json.loads(out) == []


def test_names_resolve() -> None:
    from bayes_scaling import compare, data, datasets, estimator, forecast, place, simulate

    assert set(API) <= set(bs.__all__) and set(API) <= set(dir(bs))
    assert bs.CapabilityModel is estimator.CapabilityModel
    assert bs.FitResults is estimator.FitResults
    assert bs.load == estimator.FitResults.load
    assert bs.datasets is datasets
    assert bs.read_table is data.read_table
    assert bs.compare_specs is compare.compare_specs
    # The functions, not their modules: ``from bayes_scaling import forecast`` above went
    # through the package attribute too.
    assert bs.simulate is sys.modules["bayes_scaling.simulate"].simulate
    assert bs.forecast is sys.modules["bayes_scaling.forecast"].forecast
    assert bs.place is sys.modules["bayes_scaling.place"].place
    assert forecast is bs.forecast and simulate is bs.simulate and place is bs.place


def test_unknown_name_is_an_attribute_error() -> None:
    try:
        bs.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("bs.no_such_name resolved")


def test_functions_named_like_submodules_do_not_depend_on_import_order() -> None:
    """Importing ``bayes_scaling.forecast`` first must not turn ``bs.forecast`` into it."""
    out = _python(
        """
        import json, types
        import bayes_scaling.forecast, bayes_scaling.place, bayes_scaling.simulate
        from bayes_scaling.forecast import make_target  # submodules stay importable
        import bayes_scaling as bs
        names = ("simulate", "forecast", "place")
        print(json.dumps([isinstance(getattr(bs, n), types.FunctionType) for n in names]))
        """
    )
    assert json.loads(out) == [True, True, True]
