"""Train/test splits of models: which models a forecast or a backtest holds out.

Two vocabularies, one module. The forecast functions take a tidy benchmark dataset (and,
for :func:`split_top_share`, a :class:`~bayes_scaling.forecast.Target`) and return the
held-out model names. A backtest names its splits as text, so that they can go into a task
and a cache key: ``"cutoff=<log10 FLOPs>"`` or ``"lofo=<family>"``, read by
:func:`parse_split` and applied by :func:`split_test_models`.

Models without known training compute are never held out by a compute split: they can be
neither ranked by compute nor forecast from it.

Examples
--------
>>> from bayes_scaling import datasets
>>> bench = datasets.load("base-llm")
>>> split_family(bench, "Llama-2")
['meta-llama/Llama-2-7b-hf', 'meta-llama/Llama-2-13b-hf', 'meta-llama/Llama-2-70b-hf']
>>> parse_split("cutoff=24.5")
('cutoff', 24.5)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from bayes_scaling.errors import BayesScalingError

if TYPE_CHECKING:  # typing only: forecast imports this module, not the reverse.
    import xarray as xr

    from bayes_scaling.forecast import Target

__all__ = [
    "parse_split",
    "split_compute_above",
    "split_family",
    "split_test_models",
    "split_top_share",
]


# ------------------------------------------------------------------------- forecast splits
def split_compute_above(
    bench: xr.Dataset, threshold: float | None = None, *, quantile: float | None = None
) -> list[str]:
    """Models whose training FLOPs exceed ``threshold`` (or the given quantile).

    Models without known compute are never in the test set of a compute split.

    Parameters
    ----------
    bench : xarray.Dataset
        Tidy benchmark dataset (its ``flops`` coordinate is read).
    threshold : float, optional
        Absolute training FLOPs (e.g. ``1e24``).
    quantile : float, optional
        Used when ``threshold`` is not given: the threshold is this quantile of the known
        FLOPs.

    Returns
    -------
    list of str

    Raises
    ------
    BayesScalingError
        Neither a threshold nor a quantile.

    Examples
    --------
    >>> from bayes_scaling import datasets
    >>> len(split_compute_above(datasets.load("base-llm"), 3e24))
    3
    """
    flops = bench["flops"].to_series()
    known = flops.dropna()
    if threshold is None:
        if quantile is None:
            raise BayesScalingError("give a FLOPs threshold or a quantile")
        threshold = float(known.quantile(quantile))
    return [str(m) for m, v in known.items() if v > threshold]


def split_top_share(target: Target, share: float, models: Sequence[str] | None = None) -> list[str]:
    """The best ``share`` of models by the target's observed value (at least one).

    Parameters
    ----------
    target : Target
        The downstream metric (:func:`bayes_scaling.forecast.make_target`).
    share : float
        Share of the models with a value, rounded, at least one model.
    models : sequence of str, optional
        Rank only these models.

    Returns
    -------
    list of str
        Best first.

    Examples
    --------
    >>> import pandas as pd
    >>> from bayes_scaling.forecast import make_target
    >>> t = make_target(pd.Series({"a": 0.1, "b": 0.9, "c": 0.5}), "acc", 0.0)
    >>> split_top_share(t, 0.5)
    ['b', 'c']
    """
    vals = target.values.dropna()
    if models is not None:
        vals = vals[vals.index.isin(list(models))]
    n = max(1, round(share * len(vals)))
    return [str(m) for m in vals.sort_values(ascending=False).index[:n]]


def split_family(bench: xr.Dataset, family: str) -> list[str]:
    """All models of one family (leave-one-family-out).

    Raises
    ------
    BayesScalingError
        No model of that family.

    Examples
    --------
    >>> from bayes_scaling import datasets
    >>> len(split_family(datasets.load("base-llm"), "Llama-2"))
    3
    """
    fam = bench["family"].to_series()
    out = [str(m) for m, f in fam.items() if f == family]
    if not out:
        raise BayesScalingError(f"no model of family {family!r}")
    return out


# ------------------------------------------------------------------------- backtest splits
def parse_split(split: str) -> tuple[str, str | float]:
    """``"cutoff=23.5"`` -> ``("cutoff", 23.5)``; ``"lofo=Llama-2"`` -> ``("lofo", "Llama-2")``.

    Raises
    ------
    BayesScalingError
        Any other text.

    Examples
    --------
    >>> parse_split("cutoff=22.75"), parse_split("lofo=OPT")
    (('cutoff', 22.75), ('lofo', 'OPT'))
    """
    kind, sep, value = split.partition("=")
    if sep and kind == "cutoff":
        try:
            return kind, float(value)
        except ValueError:
            pass
    elif sep and kind == "lofo" and value:
        return kind, value
    raise BayesScalingError(f"split {split!r} is not 'cutoff=<log10 FLOPs>' or 'lofo=<family>'")


def split_test_models(
    bench: xr.Dataset, split: str, route: str = "benchmarks"
) -> tuple[xr.Dataset, list[str]]:
    """The benchmark data to fit and the held-out models of a split.

    ``cutoff=c``: every model with known compute above ``10**c`` FLOPs (models without
    compute stay in training). ``lofo=F``: every model of family F; with
    ``route="compute"`` those of them without compute are dropped from the data, since they
    can be neither forecast from compute nor left in training.

    Parameters
    ----------
    bench : xarray.Dataset
        Tidy benchmark dataset.
    split : str
        ``"cutoff=<log10 FLOPs>"`` or ``"lofo=<family>"`` (:func:`parse_split`).
    route : {"benchmarks", "compute"}
        See :func:`bayes_scaling.forecast.forecast`.

    Returns
    -------
    (xarray.Dataset, list of str)
        The data to fit (``bench`` itself unless models had to be dropped) and the held-out
        models.

    Raises
    ------
    BayesScalingError
        An unreadable split, or one that holds out no model.

    Examples
    --------
    >>> from bayes_scaling import datasets
    >>> bench, test = split_test_models(datasets.load("base-llm"), "cutoff=24.5")
    >>> len(test)
    3
    """
    kind, value = parse_split(split)
    models = [str(m) for m in bench["model"].to_numpy()]
    flops = bench["flops"].to_numpy().astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        logf = np.log10(np.where(flops > 0, flops, np.nan))
    if kind == "cutoff":
        test = [m for m, lf in zip(models, logf, strict=True) if np.isfinite(lf) and lf > value]
        if not test:
            raise BayesScalingError(f"no model has more than 10^{value:g} training FLOPs")
        return bench, test
    family = split_family(bench, str(value))
    if route != "compute":
        return bench, family
    known = dict(zip(models, np.isfinite(logf), strict=True))
    test = [m for m in family if known[m]]
    if not test:
        raise BayesScalingError(f"no model of family {value!r} has known training compute")
    left_out = set(family) - set(test)
    return bench.sel(model=[m for m in models if m not in left_out]), test
