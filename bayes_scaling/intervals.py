"""Equal-tailed posterior intervals, computed in one place.

Every interval the package reports (capability summaries, forecast tables, placements, plot
bands, held-out coverage) is the equal-tailed ``level`` interval: the ``(1 - level) / 2``
and ``1 - (1 - level) / 2`` quantiles of the draws (numpy's default, linear
interpolation), named ``lower`` and ``upper``. :func:`equal_tailed` computes it for numpy
arrays and DataArrays; :func:`summarise` adds the mean (and optionally the median) for a
DataArray.

Why not ArviZ's :func:`arviz.eti` (``arviz_stats.eti``): it is the same numpy quantile,
but at ``(1 - prob) / 2`` as computed in floating point, which for ``prob=0.9`` is
0.04999999999999999, not 0.05; the lower bound then lands a hair below the draw that is
the 5th percentile (4.999999999999999 for ``np.arange(101.0)``, not 5.0). Here the tail
probabilities are rounded to 12 decimals first, so a 90% interval asks for exactly the 5%
and 95% quantiles, as ``evaluation.interval`` (whose tests pin these numbers) always did.

Examples
--------
>>> import numpy as np
>>> lower, upper = equal_tailed(np.arange(101.0), 0.9)
>>> float(lower), float(upper)
(5.0, 95.0)
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import xarray as xr

from bayes_scaling.errors import LevelError

__all__ = ["check_level", "equal_tailed", "summarise", "tail_probabilities"]


def check_level(level: float) -> float:
    """``level`` as a float, or a :class:`~bayes_scaling.errors.LevelError` outside (0, 1).

    Examples
    --------
    >>> check_level(0.9)
    0.9
    >>> check_level(1.0)
    Traceback (most recent call last):
    ...
    bayes_scaling.errors.LevelError: level must be between 0 and 1, got 1.0
    """
    try:
        value = float(level)
    except (TypeError, ValueError):
        raise LevelError(f"level must be a number between 0 and 1, got {level!r}") from None
    if not 0 < value < 1:  # also refuses NaN
        raise LevelError(f"level must be between 0 and 1, got {level}")
    return value


def tail_probabilities(level: float) -> tuple[float, float]:
    """The quantiles that bound the equal-tailed ``level`` interval, rounded to 12 decimals.

    Examples
    --------
    >>> tail_probabilities(0.9)
    (0.05, 0.95)
    """
    q_lo = round((1 - check_level(level)) / 2, 12)
    return q_lo, round(1 - q_lo, 12)


def _dims(dims: Hashable | Sequence[Hashable]) -> list[Hashable]:
    return [dims] if isinstance(dims, str) or not isinstance(dims, Sequence) else list(dims)


def equal_tailed(
    values: Any,
    level: float = 0.9,
    axis: int | Hashable | Sequence[Hashable] = 0,
    *,
    method: str = "linear",
    skipna: bool | None = None,
) -> tuple[Any, Any]:
    """Equal-tailed ``level`` interval of draws along ``axis``.

    Parameters
    ----------
    values : array_like or xarray.DataArray
        Draws.
    level : float
        Probability mass inside the interval, in (0, 1).
    axis : int, or dimension name(s) for a DataArray
        Sample axis (default the first) or, for a DataArray, the sample dimension(s).
    method : str
        Quantile method of :func:`numpy.quantile` (``"nearest"`` keeps actual draws, so
        infinite draws give infinite bounds rather than NaN).
    skipna : bool, optional
        Ignore NaN draws (:func:`numpy.nanquantile`). Default: no for arrays (as
        :func:`numpy.quantile`), yes for a float DataArray (as
        :meth:`xarray.DataArray.quantile`).

    Returns
    -------
    (lower, upper)
        Arrays (or DataArrays) without the sample axis; numpy floats for one-dimensional
        input.

    Raises
    ------
    LevelError
        ``level`` outside (0, 1).

    Examples
    --------
    >>> lower, upper = equal_tailed(np.arange(10.0).reshape(5, 2), 0.5, axis=1)
    >>> lower.tolist(), upper.tolist()
    ([0.25, 2.25, 4.25, 6.25, 8.25], [0.75, 2.75, 4.75, 6.75, 8.75])
    >>> da = xr.DataArray(np.arange(101.0), dims="sample")
    >>> [float(b) for b in equal_tailed(da, 0.9, "sample")]
    [5.0, 95.0]
    """
    q_lo, q_hi = tail_probabilities(level)
    if isinstance(values, xr.DataArray):
        q = values.quantile([q_lo, q_hi], dim=_dims(axis), method=method, skipna=skipna)
        return q.sel(quantile=q_lo, drop=True), q.sel(quantile=q_hi, drop=True)
    if not isinstance(axis, int):
        raise TypeError("for a numpy array, axis must be an integer")
    quantile = np.nanquantile if skipna else np.quantile
    q = quantile(values, [q_lo, q_hi], axis=axis, method=method)
    return q[0], q[1]


def summarise(
    da: xr.DataArray,
    level: float = 0.9,
    dims: Hashable | Sequence[Hashable] = ("chain", "draw"),
    *,
    median: bool = False,
    method: str = "linear",
) -> xr.Dataset:
    """Mean, equal-tailed ``level`` interval (and median) of ``da`` over ``dims``.

    NaN draws are skipped (as by :meth:`xarray.DataArray.quantile` and ``mean``); infinite
    draws make the mean NaN without a warning.

    Parameters
    ----------
    da : xarray.DataArray
        Draws.
    level : float
        Probability mass inside the interval, in (0, 1).
    dims : hashable or sequence of hashable
        Sample dimension(s), reduced (default ``chain`` and ``draw``).
    median : bool
        Also return the median (the 0.5 quantile, same ``method``).
    method : str
        Quantile method (see :func:`equal_tailed`).

    Returns
    -------
    xarray.Dataset
        ``mean``, ``median`` (when asked), ``lower``, ``upper`` over the other dims;
        ``attrs["level"]``.

    Raises
    ------
    LevelError
        ``level`` outside (0, 1).

    Examples
    --------
    >>> da = xr.DataArray(np.arange(101.0), dims="sample")
    >>> s = summarise(da, 0.9, "sample", median=True)
    >>> float(s["mean"]), float(s["median"]), float(s["lower"]), float(s["upper"])
    (50.0, 50.0, 5.0, 95.0)
    """
    reduced = _dims(dims)
    lower, upper = equal_tailed(da, level, reduced, method=method)
    with np.errstate(invalid="ignore"):  # -inf and +inf draws: the mean is NaN
        out = {"mean": da.mean(reduced)}
    if median:
        out["median"] = da.quantile(0.5, dim=reduced, method=method).drop_vars("quantile")
    out["lower"], out["upper"] = lower, upper
    return xr.Dataset(out, attrs={"level": level})
