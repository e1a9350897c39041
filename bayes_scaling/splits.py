"""Train/test splits of models: which models a forecast or a backtest holds out.

Two vocabularies, one module. The forecast functions take a tidy benchmark dataset (and,
for :func:`split_top_share`, a :class:`~bayes_scaling.forecast.Target`) and return the
held-out model names. A backtest names its splits as text, so that they can go into a task
and a cache key, read by :func:`parse_split` and applied by :func:`split_test_models`:
``"cutoff=<log10 FLOPs>"`` and ``"lofo=<family>"`` hold out models by the benchmark table
alone; the splits of the backtest suite (``bench/forecast_suite.py``) depend on which
models have the target too: ``"compute-top=<share>"`` (the largest-compute share of the
models with the target), ``"target-top=<share>"`` (the best share by the target) and
``"lofo-smallest=<family>"`` (a family left out but for its smallest model).

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

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from bayes_scaling.errors import BayesScalingError

if TYPE_CHECKING:  # typing only: forecast imports this module, not the reverse.
    import pandas as pd
    import xarray as xr

    from bayes_scaling.forecast import Target

__all__ = [
    "SUITE_SPLIT_KINDS",
    "eligible_lofo_families",
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
#: Split kinds whose held-out models depend on the target's values (the suite's).
SUITE_SPLIT_KINDS = ("compute-top", "target-top", "lofo-smallest")
_SHARE_KINDS = ("compute-top", "target-top")


def parse_split(split: str) -> tuple[str, str | float]:
    """``"cutoff=23.5"`` -> ``("cutoff", 23.5)``; ``"lofo=Llama-2"`` -> ``("lofo", "Llama-2")``.

    Also the suite's ``"compute-top=<share>"``, ``"target-top=<share>"`` (a share in
    (0, 1)) and ``"lofo-smallest=<family>"``.

    Raises
    ------
    BayesScalingError
        Any other text.

    Examples
    --------
    >>> parse_split("cutoff=22.75"), parse_split("lofo=OPT")
    (('cutoff', 22.75), ('lofo', 'OPT'))
    >>> parse_split("compute-top=0.2"), parse_split("lofo-smallest=OPT")
    (('compute-top', 0.2), ('lofo-smallest', 'OPT'))
    """
    kind, sep, value = split.partition("=")
    if sep and kind in ("cutoff", *_SHARE_KINDS):
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if kind == "cutoff" and math.isfinite(number):
            return kind, number
        if kind != "cutoff" and 0 < number < 1:
            return kind, number
    elif sep and kind in ("lofo", "lofo-smallest") and value:
        return kind, value
    raise BayesScalingError(
        f"split {split!r} is not 'cutoff=<log10 FLOPs>', 'lofo=<family>', "
        "'compute-top=<share>', 'target-top=<share>' or 'lofo-smallest=<family>'"
    )


def _log_flops(bench: xr.Dataset) -> dict[str, float]:
    """log10 FLOPs of each model (NaN when unknown)."""
    flops = bench["flops"].to_numpy().astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        logf = np.log10(np.where(flops > 0, flops, np.nan))
    return dict(zip((str(m) for m in bench["model"].to_numpy()), logf, strict=True))


def _smallest(members: Sequence[str], logf: Mapping[str, float]) -> str | None:
    """The member with the least known compute (ties: the first name), or None."""
    known = sorted((logf[m], m) for m in members if np.isfinite(logf[m]))
    return known[0][1] if known else None


def eligible_lofo_families(bench: xr.Dataset, target: pd.Series) -> list[str]:
    """Families a ``lofo-smallest`` split can leave out, sorted.

    Those whose smallest model by training compute has a value of the target, with at
    least one more model of the family that has one (something to forecast).

    Parameters
    ----------
    bench : xarray.Dataset
        Tidy benchmark dataset (family and compute).
    target : pandas.Series
        Target values indexed by model (NaN = not measured).

    Returns
    -------
    list of str

    Examples
    --------
    >>> import pandas as pd
    >>> from bayes_scaling import datasets
    >>> bench = datasets.load("base-llm")
    >>> mmlu = bench["score"].sel(benchmark="MMLU").to_series()
    >>> "Llama-2" in eligible_lofo_families(bench, mmlu)
    True
    """
    logf = _log_flops(bench)
    has = {str(m) for m, v in target.items() if np.isfinite(v)}
    out = []
    for family, members in _families(bench).items():
        small = _smallest(members, logf)
        if small is not None and small in has and any(m in has for m in members if m != small):
            out.append(family)
    return sorted(out)


def _families(bench: xr.Dataset) -> dict[str, list[str]]:
    fam: dict[str, list[str]] = {}
    for m, f in zip(bench["model"].to_numpy(), bench["family"].to_numpy(), strict=True):
        fam.setdefault(str(f), []).append(str(m))
    return fam


def _suite_test_models(
    bench: xr.Dataset, kind: str, value: str | float, target: pd.Series, route: str
) -> list[str]:
    logf = _log_flops(bench)
    in_bench = set(logf)
    has = [str(m) for m, v in target.items() if np.isfinite(v) and str(m) in in_bench]
    if kind == "compute-top":
        ranked = sorted((m for m in has if np.isfinite(logf[m])), key=lambda m: (-logf[m], m))
        if not ranked:
            raise BayesScalingError("no model with the target has known training compute")
        return ranked[: max(1, round(float(value) * len(ranked)))]
    if kind == "target-top":
        pool = [m for m in has if route != "compute" or np.isfinite(logf[m])]
        ranked = sorted(pool, key=lambda m: (-float(target[m]), m))
        if not ranked:
            raise BayesScalingError("no model has the target")
        return ranked[: max(1, round(float(value) * len(ranked)))]
    family = str(value)
    if family not in eligible_lofo_families(bench, target):
        raise BayesScalingError(
            f"family {family!r} cannot be left out with its smallest model kept: it needs a "
            "smallest model (by compute) with the target and another model with it"
        )
    members = _families(bench)[family]
    small = _smallest(members, logf)
    return [m for m in members if m != small]


def split_test_models(
    bench: xr.Dataset,
    split: str,
    route: str = "benchmarks",
    target: pd.Series | None = None,
) -> tuple[xr.Dataset, list[str]]:
    """The benchmark data to fit and the held-out models of a split.

    ``cutoff=c``: every model with known compute above ``10**c`` FLOPs (models without
    compute stay in training). ``lofo=F``: every model of family F; with
    ``route="compute"`` those of them without compute are dropped from the data, since they
    can be neither forecast from compute nor left in training.

    The suite's splits read ``target`` (values by model; only models of ``bench`` with a
    value count). ``compute-top=q``: the ``q`` share (rounded, at least one) of the models
    with the target and known compute, largest compute first. ``target-top=q``: the best
    ``q`` share by the target (from compute: among models with known compute).
    ``lofo-smallest=F``: every model of family F but its smallest by compute, which stays
    in training (the Sloth protocol); with ``route="compute"`` the held-out models without
    compute are dropped from the data, as for ``lofo``.

    Parameters
    ----------
    bench : xarray.Dataset
        Tidy benchmark dataset.
    split : str
        See :func:`parse_split`.
    route : {"benchmarks", "compute"}
        See :func:`bayes_scaling.forecast.forecast`.
    target : pandas.Series, optional
        The target's values by model; required by the suite's splits.

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
    logf = np.array(list(_log_flops(bench).values()))
    if kind == "cutoff":
        test = [m for m, lf in zip(models, logf, strict=True) if np.isfinite(lf) and lf > value]
        if not test:
            raise BayesScalingError(f"no model has more than 10^{value:g} training FLOPs")
        return bench, test
    if kind in SUITE_SPLIT_KINDS:
        if target is None:
            raise BayesScalingError(f"split {split!r} needs the target's values")
        family = _suite_test_models(bench, kind, value, target, route)
        if kind != "lofo-smallest":
            return bench, family
    else:
        family = split_family(bench, str(value))
    if route != "compute":
        return bench, family
    known = dict(zip(models, np.isfinite(logf), strict=True))
    test = [m for m in family if known[m]]
    if not test:
        raise BayesScalingError(f"no model of family {value!r} has known training compute")
    left_out = set(family) - set(test)
    return bench.sel(model=[m for m in models if m not in left_out]), test
