"""Yardsticks for held-out forecasts: accuracy, calibration, predictive density.

How forecasts are judged (see the design notes): the mean squared error of the point
forecast on the target normalised to ``(y - floor) / (ceiling - floor)``, as a ratio to the
least-squares baseline's on the same split, summarised by the geometric mean of the ratios
over targets and the count of targets where the model wins; and the share of held-out
values inside their 50% and 90% equal-tailed posterior predictive intervals.

Everything takes numpy arrays or xarray objects and returns plain numbers; nothing plots.

Examples
--------
>>> import numpy as np
>>> s = score_forecasts(np.array([0.2, 0.4]), np.array([0.3, 0.4]), floor=0.0)
>>> round(s.mse, 3), round(s.mae, 3), s.n
(0.005, 0.05, 2)
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import ArrayLike
from scipy.special import logsumexp

from bayes_scaling.intervals import check_level, equal_tailed

__all__ = [
    "PIT_BINS",
    "BaselineComparison",
    "ForecastScore",
    "area_under_error_curve",
    "calibration",
    "compare_to_baseline",
    "coverage",
    "crps_gaussian",
    "crps_sample",
    "gaussian_interval",
    "gaussian_log_score",
    "interval",
    "log_predictive_density",
    "normalised",
    "pit_counts",
    "pit_gaussian",
    "pit_sample",
    "residual_sd",
    "score_forecasts",
]

#: Bins of a PIT histogram: ten of width 0.1 on [0, 1].
PIT_BINS = 10

#: Sample dimensions of ArviZ-style draws, in the order they are looked for.
SAMPLE_DIMS: tuple[str, ...] = ("chain", "draw", "sample")


def normalised[T: (np.ndarray, xr.DataArray, float)](y: T, floor: float, ceiling: float = 1.0) -> T:
    """Map ``y`` to ``(y - floor) / (ceiling - floor)``: 0 at chance, 1 at the ceiling.

    Parameters
    ----------
    y : float, numpy.ndarray or xarray.DataArray
        Values in the target's units.
    floor, ceiling : float
        Chance level and best attainable value, ``ceiling > floor``.

    Returns
    -------
    Same type as ``y``.

    Examples
    --------
    >>> normalised(0.625, floor=0.25)
    0.5
    >>> normalised(np.array([0.0, 5.0]), floor=0.0, ceiling=10.0)
    array([0. , 0.5])
    """
    if not ceiling > floor:
        raise ValueError(f"ceiling ({ceiling}) must exceed floor ({floor})")
    return (y - floor) / (ceiling - floor)


def interval(
    draws: ArrayLike | xr.DataArray,
    level: float,
    dim: str | Sequence[str] | int | None = None,
) -> tuple[Any, Any]:
    """Equal-tailed interval: the ``(1 - level) / 2`` and ``1 - (1 - level) / 2`` quantiles.

    :func:`bayes_scaling.intervals.equal_tailed` with the sample dimensions found here.

    Parameters
    ----------
    draws : numpy.ndarray or xarray.DataArray
        Samples. For a DataArray, ``dim`` names the sample dimension(s) (default: those of
        ``chain``, ``draw``, ``sample`` it has); for an array, ``dim`` is the sample axis
        (default 0).
    level : float
        Nominal coverage in (0, 1), e.g. 0.9.
    dim : str, sequence of str or int, optional
        Sample dimension(s) or axis.

    Returns
    -------
    (lower, upper)
        Arrays (or DataArrays) without the sample dimension(s).

    Examples
    --------
    >>> lo, hi = interval(np.arange(101.0), 0.9)
    >>> float(lo), float(hi)
    (5.0, 95.0)
    """
    check_level(level)
    if isinstance(draws, xr.DataArray):
        return equal_tailed(draws, level, _sample_dims(draws, dim))
    axis = 0 if dim is None else dim
    if not isinstance(axis, int):
        raise TypeError("for a numpy array, dim must be an integer axis")
    return equal_tailed(np.asarray(draws, dtype=float), level, axis)


def _sample_dims(draws: xr.DataArray, dim: str | Sequence[str] | int | None) -> list[Hashable]:
    if dim is None:
        dims: list[Hashable] = [d for d in SAMPLE_DIMS if d in draws.dims]
        if not dims:
            raise ValueError(f"no sample dimension among {SAMPLE_DIMS} in dims {draws.dims}")
        return dims
    if isinstance(dim, int):
        raise TypeError("for a DataArray, dim must be a dimension name")
    return [dim] if isinstance(dim, str) else list(dim)


def _flat(x: Any) -> np.ndarray:
    return np.asarray(x.values if isinstance(x, xr.DataArray) else x, dtype=float).ravel()


def _aligned(observed: Any, *others: Any) -> list[np.ndarray]:
    """Flatten ``observed`` and same-shaped companions, aligning DataArrays by coordinate."""
    if isinstance(observed, xr.DataArray):
        others = tuple(
            o.transpose(*observed.dims).reindex_like(observed) if isinstance(o, xr.DataArray) else o
            for o in others
        )
    flat = [_flat(observed), *(_flat(o) for o in others)]
    for f in flat[1:]:
        if f.shape != flat[0].shape:
            raise ValueError(f"shapes differ: {flat[0].shape} observed vs {f.shape}")
    return flat


def coverage(observed: Any, lower: Any, upper: Any) -> float:
    """Share of observed values inside ``[lower, upper]`` (ends included).

    NaN observations are skipped; NaN bounds where an observation exists are an error.

    Examples
    --------
    >>> coverage(np.array([0.1, 0.5, 0.9]), np.zeros(3), np.full(3, 0.6))
    0.6666666666666666
    """
    y, lo, hi = _aligned(observed, lower, upper)
    keep = np.isfinite(y)
    if not np.isfinite(lo[keep]).all() or not np.isfinite(hi[keep]).all():
        raise ValueError("interval bounds are missing for some observed values")
    if not keep.any():
        return math.nan
    inside = (lo[keep] <= y[keep]) & (y[keep] <= hi[keep])
    return float(inside.mean())


def calibration(
    observed: Any, lower50: Any, upper50: Any, lower90: Any, upper90: Any
) -> dict[str, float]:
    """Shares of observed values inside their 50% and 90% intervals.

    Returns
    -------
    dict
        ``{"n": number of observed values, "coverage50": ..., "coverage90": ...}``; a
        calibrated forecast gives about 0.5 and 0.9.

    Examples
    --------
    >>> y = np.array([0.1, 0.5, 0.9, 0.3])
    >>> calibration(y, np.full(4, 0.2), np.full(4, 0.6), np.zeros(4), np.full(4, 0.95))
    {'n': 4.0, 'coverage50': 0.5, 'coverage90': 1.0}
    """
    n = float(np.isfinite(_flat(observed)).sum())
    return {
        "n": n,
        "coverage50": coverage(observed, lower50, upper50),
        "coverage90": coverage(observed, lower90, upper90),
    }


def log_predictive_density(loglik_draws: ArrayLike, axis: int = 0) -> np.ndarray:
    """Pointwise log predictive density: ``log mean_s exp(loglik[s, i])``.

    Parameters
    ----------
    loglik_draws : array_like
        Pointwise log-likelihood of each held-out observation under each posterior draw.
    axis : int, default 0
        The draw axis.

    Returns
    -------
    numpy.ndarray
        One value per observation (the draw axis removed), computed stably with
        :func:`scipy.special.logsumexp`.

    Examples
    --------
    >>> ll = np.log(np.array([[0.2], [0.6]]))
    >>> round(float(np.exp(log_predictive_density(ll))[0]), 12)
    0.4
    """
    ll = np.asarray(loglik_draws, dtype=float)
    return logsumexp(ll, axis=axis) - math.log(ll.shape[axis])


def _kde_log_density(draws: np.ndarray, y: np.ndarray, min_bandwidth: float) -> np.ndarray:
    """Gaussian-kernel log density of ``y[i]`` given draws ``draws[:, i]`` (Silverman)."""
    s = draws.shape[0]
    sd = draws.std(axis=0, ddof=1) if s > 1 else np.zeros(draws.shape[1])
    iqr = np.subtract(*np.quantile(draws, [0.75, 0.25], axis=0))
    spread = np.minimum(sd, iqr / 1.349)
    spread = np.where(spread > 0, spread, sd)
    # The floor on the bandwidth keeps a point mass (all draws equal) from giving +-inf.
    h = np.maximum(0.9 * spread * s ** (-0.2), min_bandwidth)
    z = (y[None, :] - draws) / h[None, :]
    return logsumexp(-0.5 * z**2, axis=0) - math.log(s) - np.log(h * math.sqrt(2 * math.pi))


@dataclass(frozen=True)
class ForecastScore:
    """Scores of one set of held-out forecasts (normalised target scale).

    Attributes
    ----------
    n : int
        Held-out observations scored (non-NaN).
    mse, mae : float
        Mean squared / absolute error of the point forecast on the normalised scale.
    coverage50, coverage90 : float
        Shares inside the 50% / 90% intervals (NaN when no interval was given).
    lpd : float
        Mean pointwise log predictive density (NaN without draws or log-likelihoods).
    """

    n: int
    mse: float
    mae: float
    coverage50: float = math.nan
    coverage90: float = math.nan
    lpd: float = math.nan

    def as_dict(self) -> dict[str, float]:
        """The scores as a flat dict (for a row of a backtest table)."""
        return {k: float(v) for k, v in asdict(self).items()}


def _draws_matrix(draws: Any, observed: Any, sample_dims: Sequence[str] | None) -> np.ndarray:
    """Draws as (S, n), columns in the order of the flattened ``observed``."""
    if isinstance(draws, xr.DataArray):
        dims = _sample_dims(draws, None if sample_dims is None else list(sample_dims))
        stacked = draws.stack(__sample__=dims)
        if isinstance(observed, xr.DataArray):
            stacked = stacked.transpose("__sample__", *observed.dims).reindex_like(observed)
        else:
            stacked = stacked.transpose("__sample__", ...)
        values = np.asarray(stacked.values, dtype=float)
        return values.reshape(values.shape[0], -1)
    arr = np.asarray(draws, dtype=float)
    return arr.reshape(arr.shape[0], -1)


def score_forecasts(
    observed: Any,
    mean: Any,
    draws: Any = None,
    lower: Mapping[float, Any] | None = None,
    upper: Mapping[float, Any] | None = None,
    *,
    floor: float,
    ceiling: float = 1.0,
    loglik: Any = None,
    sample_dims: Sequence[str] | None = None,
    min_bandwidth: float = 1e-3,
) -> ForecastScore:
    """Score held-out forecasts: MSE/MAE of the mean, interval coverage, log density.

    Parameters
    ----------
    observed : array_like or xarray.DataArray
        Held-out true values (target units); NaN entries are skipped everywhere.
    mean : array_like or xarray.DataArray
        Point forecasts, same shape (DataArrays are aligned by coordinate).
    draws : array_like or xarray.DataArray, optional
        Posterior predictive draws. Arrays: shape ``(S, *observed.shape)``, draws first.
        DataArrays: sample dims ``sample_dims`` (default chain/draw/sample) plus the dims
        of ``observed``. Used for intervals when ``lower``/``upper`` are not given, and for
        ``lpd`` (Gaussian kernel density on the normalised scale) when ``loglik`` is not.
    lower, upper : mapping of level to array_like, optional
        Precomputed interval bounds keyed by level, e.g. ``{0.5: lo50, 0.9: lo90}``; they
        take precedence over ``draws`` for coverage.
    floor, ceiling : float
        Normalisation of the target.
    loglik : array_like, optional
        Pointwise log-likelihood draws ``(S, *observed.shape)`` of the held-out values; the
        preferred route to ``lpd`` (exact, no kernel). Taken as given: its density is on
        whatever scale the caller's likelihood uses.
    sample_dims : sequence of str, optional
        Sample dimensions of DataArray ``draws``.
    min_bandwidth : float, default 1e-3
        Smallest kernel bandwidth (normalised scale) for the kernel-density ``lpd``.

    Returns
    -------
    ForecastScore
        ``lpd`` is the mean over held-out points of the pointwise log predictive density;
        ``n * lpd`` is the summed lpd.

    Examples
    --------
    >>> y = np.array([0.5, 0.7])
    >>> rng = np.random.default_rng(0)
    >>> d = y + rng.normal(0, 0.1, size=(4000, 2))
    >>> s = score_forecasts(y, d.mean(axis=0), d, floor=0.0)
    >>> s.coverage90, bool(abs(s.lpd - 1.38) < 0.1)  # log N(0; 0, 0.1) = 1.38
    (1.0, True)
    """
    y_raw, m_raw = _aligned(observed, mean)
    y = normalised(y_raw, floor, ceiling)
    m = normalised(m_raw, floor, ceiling)
    keep = np.isfinite(y)
    if not np.isfinite(m[keep]).all():
        raise ValueError("point forecasts are missing for some observed values")
    n = int(keep.sum())
    err = m[keep] - y[keep]
    mse = float(np.mean(err**2)) if n else math.nan
    mae = float(np.mean(np.abs(err))) if n else math.nan

    d = None if draws is None else _draws_matrix(draws, observed, sample_dims)
    if d is not None and d.shape[1] != y.size:
        raise ValueError(f"draws hold {d.shape[1]} points per sample, observed has {y.size}")
    cov: dict[float, float] = {}
    for level in (0.5, 0.9):
        if lower is not None and upper is not None and level in lower and level in upper:
            cov[level] = coverage(observed, lower[level], upper[level])
        elif d is not None:
            lo, hi = interval(d, level, dim=0)
            cov[level] = coverage(y_raw, lo, hi)
        else:
            cov[level] = math.nan

    if loglik is not None:
        ll = _draws_matrix(loglik, observed, sample_dims)
        lpd = float(np.mean(log_predictive_density(ll[:, keep]))) if n else math.nan
    elif d is not None and n:
        dn = normalised(d[:, keep], floor, ceiling)
        lpd = float(np.mean(_kde_log_density(dn, y[keep], min_bandwidth)))
    else:
        lpd = math.nan
    return ForecastScore(n=n, mse=mse, mae=mae, coverage50=cov[0.5], coverage90=cov[0.9], lpd=lpd)


@dataclass(frozen=True)
class BaselineComparison:
    """MSE ratios of a model to the baseline, per target, and their summaries.

    Attributes
    ----------
    ratios : pandas.Series
        ``mse / mse_baseline`` per target (index: the group keys); < 1 means the model wins.
    geometric_mean : float
        Geometric mean of the ratios over targets.
    wins : int
        Number of targets with ratio < 1.
    n_targets : int
        Number of targets compared.
    """

    ratios: pd.Series
    geometric_mean: float
    wins: int
    n_targets: int


def compare_to_baseline(
    table: pd.DataFrame,
    *,
    by: str | Sequence[str] = "target",
    model_col: str = "mse",
    baseline_col: str = "mse_baseline",
    weight_col: str | None = "n",
) -> BaselineComparison:
    """Compare a model's MSE with the baseline's, target by target.

    Rows are grouped by ``by``; within a group (several splits of one target) each MSE is
    averaged, weighted by ``weight_col`` (held-out count) when that column exists, so a
    group's MSE is the MSE over all its held-out points. A ratio of 0/0 counts as 1 (a tie).

    Parameters
    ----------
    table : pandas.DataFrame
        One row per (target[, split]) with columns ``by``, ``model_col``, ``baseline_col``
        and optionally ``weight_col``.
    by : str or sequence of str, default "target"
    model_col, baseline_col : str
        Columns with the model's and the baseline's MSE on the same held-out points.
    weight_col : str or None, default "n"
        Weights for pooling rows of a group; ignored when absent.

    Returns
    -------
    BaselineComparison

    Examples
    --------
    >>> t = pd.DataFrame({"target": ["a", "b"], "mse": [0.01, 0.04],
    ...                   "mse_baseline": [0.04, 0.01]})
    >>> c = compare_to_baseline(t)
    >>> c.ratios.tolist(), c.geometric_mean, c.wins
    ([0.25, 4.0], 1.0, 1)
    """
    keys = [by] if isinstance(by, str) else list(by)
    needed = [*keys, model_col, baseline_col]
    absent = [c for c in needed if c not in table.columns]
    if absent:
        raise ValueError(f"table lacks column(s): {', '.join(absent)}")
    if table.empty:
        raise ValueError("table has no rows")
    df = table[needed].copy()
    if weight_col is not None and weight_col in table.columns:
        df["_w"] = table[weight_col].astype(float)
    else:
        df["_w"] = 1.0
    for col in (model_col, baseline_col):
        df[f"_{col}"] = df[col].astype(float) * df["_w"]
    grouped = df.groupby(keys, sort=False)
    wsum = grouped["_w"].sum()
    ours = grouped[f"_{model_col}"].sum() / wsum
    base = grouped[f"_{baseline_col}"].sum() / wsum
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = ours / base
    ratios = ratios.where(~((ours == 0) & (base == 0)), 1.0)
    ratios.name = "mse_ratio"
    valid = ratios.to_numpy(dtype=float)
    # log(0) = -inf and log(inf) = inf carry through: a perfect target gives 0, a baseline
    # with zero error gives inf, both together NaN.
    with np.errstate(divide="ignore", invalid="ignore"):
        geo = float(np.exp(np.mean(np.log(valid))))
    return BaselineComparison(
        ratios=ratios,
        geometric_mean=geo,
        wins=int((valid < 1).sum()),
        n_targets=int(valid.size),
    )


def area_under_error_curve(cutoffs: ArrayLike, errors: ArrayLike) -> float:
    """Trapezoid area under an error-vs-cutoff curve, cutoffs rescaled to [0, 1].

    The cutoffs (e.g. log10 training-compute thresholds of a backtest) are sorted and
    mapped linearly onto [0, 1], so the area is the average error over the cutoff range
    and comparable between grids of different span. One cutoff gives its error.

    Parameters
    ----------
    cutoffs : array_like
        Cutoff positions (distinct, finite).
    errors : array_like
        Error at each cutoff (finite).

    Returns
    -------
    float

    Examples
    --------
    >>> area_under_error_curve([10.0, 20.0, 30.0], [0.0, 1.0, 0.0])
    0.5
    """
    x = np.asarray(cutoffs, dtype=float).ravel()
    e = np.asarray(errors, dtype=float).ravel()
    if x.shape != e.shape or x.size == 0:
        raise ValueError("cutoffs and errors must be non-empty and of equal length")
    if not (np.isfinite(x).all() and np.isfinite(e).all()):
        raise ValueError("cutoffs and errors must be finite")
    if np.unique(x).size != x.size:
        raise ValueError("cutoffs must be distinct")
    if x.size == 1:
        return float(e[0])
    order = np.argsort(x)
    x, e = x[order], e[order]
    pos = (x - x[0]) / (x[-1] - x[0])
    return float(np.trapezoid(e, pos))


# ------------------------------------------------------------------- proper scoring rules
def crps_sample(draws: ArrayLike, observed: ArrayLike) -> np.ndarray:
    """Continuous ranked probability score of each observation under its predictive draws.

    ``CRPS = E|X - y| - E|X - X'| / 2`` with ``X, X'`` independent draws of the predictive
    (Gneiting & Raftery 2007, eq. 21), computed exactly for the empirical distribution of
    the draws from the sorted draws in O(S log S). Lower is better; it is in the units of
    ``y`` and equals the absolute error for a point forecast.

    Parameters
    ----------
    draws : array_like
        Predictive draws, shape (S, n): draws first.
    observed : array_like
        Observations, shape (n,).

    Returns
    -------
    numpy.ndarray
        One CRPS per observation (NaN where the observation is NaN).

    Examples
    --------
    >>> crps_sample(np.array([[0.0], [1.0]]), np.array([0.0])).tolist()  # 1/2 - 1/4
    [0.25]
    """
    x = np.sort(np.asarray(draws, dtype=float), axis=0)
    y = np.asarray(observed, dtype=float)
    if x.ndim != 2 or y.shape != (x.shape[1],):
        raise ValueError(f"draws must be (S, n) and observed (n,), got {x.shape} and {y.shape}")
    s = x.shape[0]
    term1 = np.abs(x - y[None, :]).mean(axis=0)
    # sum_{i,j} |x_i - x_j| over sorted draws = 2 sum_i (2 i - S + 1) x_(i) (0-based i).
    w = 2.0 * np.arange(s) - s + 1.0
    term2 = (w[:, None] * x).sum(axis=0) / (s * s)
    return term1 - term2


def crps_gaussian(mean: ArrayLike, sd: ArrayLike, observed: ArrayLike) -> np.ndarray:
    """Closed-form CRPS of ``Normal(mean, sd)`` at each observation.

    ``sd * (z (2 Phi(z) - 1) + 2 phi(z) - 1 / sqrt(pi))`` with ``z = (y - mean) / sd``
    (Gneiting & Raftery 2007, eq. 5).

    Examples
    --------
    >>> round(float(crps_gaussian(0.0, 1.0, 0.0)), 6)  # (sqrt(2) - 1) / sqrt(pi)
    0.233695
    """
    from scipy import stats

    m, sd, y = (np.asarray(a, dtype=float) for a in (mean, sd, observed))
    z = (y - m) / sd
    return sd * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / math.sqrt(math.pi))


def gaussian_log_score(mean: ArrayLike, sd: ArrayLike, observed: ArrayLike) -> np.ndarray:
    """Log density of ``Normal(mean, sd)`` at each observation (higher is better).

    Examples
    --------
    >>> round(float(gaussian_log_score(0.0, 1.0, 0.0)), 6)  # -log(2 pi) / 2
    -0.918939
    """
    from scipy import stats

    return stats.norm.logpdf(np.asarray(observed, float), np.asarray(mean, float), sd)


def gaussian_interval(
    mean: ArrayLike, sd: ArrayLike, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """Equal-tailed ``level`` interval of ``Normal(mean, sd)``.

    Examples
    --------
    >>> lo, hi = gaussian_interval(0.0, 1.0, 0.9)
    >>> round(float(lo), 4), round(float(hi), 4)
    (-1.6449, 1.6449)
    """
    from scipy import stats

    check_level(level)
    z = stats.norm.ppf(0.5 + level / 2)
    m, s = np.asarray(mean, dtype=float), np.asarray(sd, dtype=float)
    return m - z * s, m + z * s


def residual_sd(residuals: ArrayLike, n_params: int) -> float:
    """Residual standard deviation ``sqrt(sum r^2 / (n - p))`` of a least-squares fit.

    The degrees of freedom are at least one, so a fit with as many parameters as points
    still gets a finite spread.

    Examples
    --------
    >>> round(residual_sd([0.1, -0.1, 0.2, -0.2], n_params=2), 6)  # sqrt(0.1 / 2)
    0.223607
    """
    r = np.asarray(residuals, dtype=float)
    r = r[np.isfinite(r)]
    return math.sqrt(float((r**2).sum()) / max(r.size - n_params, 1))


def pit_sample(draws: ArrayLike, observed: ArrayLike, rng: np.random.Generator) -> np.ndarray:
    """Probability integral transform of each observation under its predictive draws.

    The share of draws below ``y``, plus a uniform share of the draws equal to it (a
    randomised PIT: discrete predictives stay uniform when calibrated).

    Parameters
    ----------
    draws : array_like
        Predictive draws, (S, n).
    observed : array_like
        Observations, (n,).
    rng : numpy.random.Generator
        Breaks ties.

    Examples
    --------
    >>> pit_sample(np.arange(10.0)[:, None], np.array([4.5]), np.random.default_rng(0))
    array([0.5])
    """
    x = np.asarray(draws, dtype=float)
    y = np.asarray(observed, dtype=float)
    below = (x < y[None, :]).sum(axis=0)
    ties = (x == y[None, :]).sum(axis=0)
    return (below + rng.uniform(size=y.shape) * ties) / x.shape[0]


def pit_gaussian(mean: ArrayLike, sd: ArrayLike, observed: ArrayLike) -> np.ndarray:
    """PIT of each observation under ``Normal(mean, sd)``: its CDF at ``y``.

    Examples
    --------
    >>> float(pit_gaussian(0.0, 1.0, 0.0))
    0.5
    """
    from scipy import stats

    return stats.norm.cdf(np.asarray(observed, float), np.asarray(mean, float), sd)


def pit_counts(pit: ArrayLike, bins: int = PIT_BINS) -> np.ndarray:
    """Histogram counts of PIT values in ``bins`` equal bins of [0, 1] (1 in the last).

    A calibrated forecast gives flat counts; a U shape means intervals too narrow, a hump
    too wide, a slope a bias.

    Examples
    --------
    >>> pit_counts([0.0, 0.05, 0.5, 1.0], bins=4).tolist()
    [2, 0, 1, 1]
    """
    u = np.asarray(pit, dtype=float).ravel()
    u = u[np.isfinite(u)]
    idx = np.minimum((u * bins).astype(int), bins - 1)
    return np.bincount(idx, minlength=bins)
