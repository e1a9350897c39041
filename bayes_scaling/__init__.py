"""Bayesian observational scaling laws for language models.

The package fits one hierarchical PyMC model that explains standard benchmark scores with
a few latent capabilities per model, family compute-efficiency random effects and sigmoid
links with chance floors, and forecasts downstream metrics with posterior predictive
intervals.

The curated API is available from the package itself and loaded on first use, so that
``import bayes_scaling`` (and ``bayes-scaling --help``) does not import PyMC:

=====================  ==========================================================
``CapabilityModel``    a model spec to fit (:mod:`bayes_scaling.estimator`)
``FitResults``         a fit: draws, diagnostics, predictions, save/load
``load``               ``FitResults.load``: read a results file written by a fit
``datasets``           the bundled tables by name (:mod:`bayes_scaling.datasets`)
``read_table``         a CSV/Parquet table as the tidy dataset
``simulate``           a synthetic table from known parameters
``forecast``           held-out forecasts of a downstream metric
``place``              new models placed into a fitted run, without refitting
``compare_specs``      model specs compared by PSIS-LOO
=====================  ==========================================================

Examples
--------
>>> import bayes_scaling as bs
>>> data = bs.datasets.load("base-llm")
>>> data.sizes["model"]
128
>>> fit = bs.CapabilityModel("k1").fit(data)  # doctest: +SKIP
>>> path = fit.save("runs/k1.nc")  # doctest: +SKIP
>>> bs.load(path).spec.name  # doctest: +SKIP
'k1'
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

__version__ = "0.13.0"

# Public name -> (module, attribute path in it; "" for the module itself). Resolved on
# first access: the estimator, the model and everything that samples import PyMC, which
# takes seconds, and most uses of the package (the CLI's --help, reading a table) need none.
_LAZY: dict[str, tuple[str, str]] = {
    "CapabilityModel": ("bayes_scaling.estimator", "CapabilityModel"),
    "FitResults": ("bayes_scaling.estimator", "FitResults"),
    "load": ("bayes_scaling.estimator", "FitResults.load"),
    "datasets": ("bayes_scaling.datasets", ""),
    "read_table": ("bayes_scaling.data", "read_table"),
    "simulate": ("bayes_scaling.simulate", "simulate"),
    "forecast": ("bayes_scaling.forecast", "forecast"),
    "place": ("bayes_scaling.place", "place"),
    "compare_specs": ("bayes_scaling.compare", "compare_specs"),
}

__all__ = ["__version__", *_LAZY]


def _resolve(name: str) -> Any:
    module, path = _LAZY[name]
    obj: Any = importlib.import_module(module)
    for part in filter(None, path.split(".")):
        obj = getattr(obj, part)
    return obj


def __getattr__(name: str) -> Any:
    """Load a name of the curated API on first access (PEP 562).

    Examples
    --------
    >>> import bayes_scaling
    >>> bayes_scaling.read_table.__module__
    'bayes_scaling.data'
    """
    if name in _LAZY:
        return _resolve(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


# ``simulate``, ``forecast`` and ``place`` are functions named like their own submodules.
# Importing a submodule sets it as an attribute of the package, so with __getattr__ alone
# ``bs.forecast`` would be the function or the module depending on what was imported first.
# A property on the package's module class wins over that attribute: the names are always
# the functions, as after an eager ``from bayes_scaling.forecast import forecast``, and the
# submodules stay importable by their dotted names (``from bayes_scaling.forecast import
# make_target``). The setter keeps the import system's assignment without complaint.
_SHADOWED = ("simulate", "forecast", "place")


def _api_property(name: str) -> property:
    def get(self: types.ModuleType) -> Any:
        return _resolve(name)

    def set_(self: types.ModuleType, value: Any) -> None:
        self.__dict__[name] = value

    return property(get, set_, doc=f"``bayes_scaling.{name}``: see :data:`_LAZY`.")


class _Package(types.ModuleType):
    pass


for _name in _SHADOWED:
    setattr(_Package, _name, _api_property(_name))
del _name

sys.modules[__name__].__class__ = _Package
