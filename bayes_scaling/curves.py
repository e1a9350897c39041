"""Scores as functions of general capability, their crossings, and what a target tracks.

Read-outs of a fitted model (:class:`~bayes_scaling.estimator.FitResults`) used by the
analyses: the expected score of a benchmark or downstream target along the general axis
(:func:`expected_curve`), where such a curve (or the difference of two: the gain of a
prompting method) first rises above a value (:func:`first_crossing`), posterior summaries
of draws (:func:`summarise_samples`), how closely each standard benchmark tracks a target
across the fitted models (:func:`benchmark_alignment`), and benchmark scores implied by
capability draws in the benchmarks' own units (:func:`predict_scores`).

General capability is always on the absolute scale of
:meth:`FitResults.capabilities`: decades of effective compute, i.e. the log10 training
FLOPs of a model of average family efficiency.

Examples
--------
>>> import numpy as np, xarray as xr
>>> curves = xr.DataArray([[0.0, 0.2, 0.6, 0.9]], dims=("sample", "general"),
...                       coords={"general": [20.0, 21.0, 22.0, 23.0]})
>>> float(first_crossing(curves, 0.5)[0])
21.75
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from bayes_scaling.errors import BayesScalingError
from bayes_scaling.intervals import equal_tailed, summarise

if TYPE_CHECKING:
    from bayes_scaling.estimator import FitResults

__all__ = [
    "benchmark_alignment",
    "column_range",
    "credibly_above_from",
    "expected_curve",
    "first_crossing",
    "predict_scores",
    "predictive_curve",
    "summarise_samples",
]

GENERAL = "general"


def column_range(fit: FitResults, column: str) -> tuple[float, float]:
    """``(lower, upper)``: a column's raw units are ``lower + unit * (upper - lower)``.

    Benchmarks take them from the fitted data; targets from the fitted targets
    (``(0, 1)`` when the targets carry no ``lower``/``upper`` coordinates).
    """
    data = fit.data
    if column in data["benchmark"].to_numpy():
        row = data.sel(benchmark=column)
    else:
        targets = fit.targets
        if targets is None or column not in targets["benchmark"].to_numpy():
            raise BayesScalingError(
                f"column {column!r} is neither a benchmark nor a target of this fit"
            )
        row = targets.sel(benchmark=column)
    if "lower" in row.coords and "upper" in row.coords:
        return float(row["lower"]), float(row["upper"])
    return 0.0, 1.0


def _weights(fit: FitResults, column: str) -> xr.DataArray:
    """Draws of a column's weights on the capabilities, dims (sample, capability)."""
    weights = fit._column_params([column])["weights"][:, 0, :]
    caps = fit.posterior["capability"].to_numpy()
    return xr.DataArray(weights, dims=("sample", "capability"), coords={"capability": caps})


def expected_curve(fit: FitResults, column: str, general: Sequence[float]) -> xr.DataArray:
    """Posterior draws of a column's expected score along the general axis, in raw units.

    The specialisation axes are held at the fitted models' mean, as in
    :func:`bayes_scaling.plots.scaling_curve_plot`; no measurement noise.

    Parameters
    ----------
    fit : FitResults
        A fit; ``column`` is one of its benchmarks or downstream targets.
    column : str
        The benchmark or target.
    general : sequence of float
        Grid of general capability (decades of effective compute, log10 FLOPs).

    Returns
    -------
    xarray.DataArray
        Dims (``sample``, ``general``), in the column's own units (see
        :func:`column_range`).
    """
    xs = np.asarray(general, dtype=float)
    s = fit.draws("S").transpose("sample", "model", "capability")
    caps = [str(c) for c in s["capability"].to_numpy()]
    centre = s.mean("model").to_numpy()  # (sample, capability)
    cap = np.repeat(centre[:, None, :], xs.size, axis=1)
    cap[:, :, caps.index(GENERAL)] = xs[None, :] - fit.x_mean
    labels = [f"x{i}" for i in range(xs.size)]
    da = xr.DataArray(
        cap, dims=("sample", "model", "capability"), coords={"model": labels, "capability": caps}
    )
    p = fit.predictive_draws(da, [column], np.random.default_rng(0), noise=False)
    lower, upper = column_range(fit, column)
    raw = lower + p.sel(column=column).to_numpy() * (upper - lower)
    return xr.DataArray(
        raw,
        dims=("sample", GENERAL),
        coords={GENERAL: xs},
        name=column,
        attrs={"column": column, "units": f"raw ({lower:g} to {upper:g})"},
    )


def predictive_curve(
    fit: FitResults, column: str, general: Sequence[float], seed: int = 0
) -> xr.DataArray:
    """Posterior predictive draws of one new model's score along the general axis, raw units.

    Where :func:`expected_curve` is the uncertainty of the *mean* score of models at a
    general capability, this is the score a single model there may get: a model of a
    family the fit has not seen, with exactly that general capability, specialisations
    drawn from their population prior (:meth:`FitResults.capability_from_compute`), and
    everything :func:`bayes_scaling.predictive.predictive_draws` adds for a new model
    (a fresh family offset and per-model deviation of a downstream target, its benchmark
    residuals, measurement noise). Its band is what the fitted models' scores scatter in.

    Parameters
    ----------
    fit : FitResults
        A fit; ``column`` is one of its benchmarks or downstream targets.
    column : str
        The benchmark or target.
    general : sequence of float
        Grid of general capability (decades of effective compute, log10 FLOPs).
    seed : int
        Seed of the specialisation and noise draws (same seed, same curve).

    Returns
    -------
    xarray.DataArray
        Dims (``sample``, ``general``), in the column's own units.

    Examples
    --------
    >>> band = predictive_curve(fit, "GSM8K", np.linspace(21, 25, 41))  # doctest: +SKIP
    >>> band.quantile([0.05, 0.95], "sample")  # doctest: +SKIP
    """
    xs = np.asarray(general, dtype=float)
    rng = np.random.default_rng(seed)
    # "" is no family of a fit (tables refuse empty family names): a new family.
    cap = fit.capability_from_compute([""] * xs.size, xs, rng, [f"x{i}" for i in range(xs.size)])
    cap.loc[{"capability": GENERAL}] = np.broadcast_to(xs - fit.x_mean, cap.shape[:2])
    p = fit.predictive_draws(cap, [column], rng, noise=True, families=[""] * xs.size)
    lower, upper = column_range(fit, column)
    raw = lower + p.sel(column=column).to_numpy() * (upper - lower)
    return xr.DataArray(
        raw,
        dims=("sample", GENERAL),
        coords={GENERAL: xs},
        name=column,
        attrs={"column": column, "units": f"raw ({lower:g} to {upper:g})", "seed": seed},
    )


def first_crossing(curves: xr.DataArray, value: float, dim: str = GENERAL) -> xr.DataArray:
    """Where each draw of a curve first reaches ``value``, interpolated linearly.

    Parameters
    ----------
    curves : xarray.DataArray
        Draws over ``dim`` (increasing coordinate) and any other dims (e.g. ``sample``).
    value : float
        Level to reach.
    dim : str
        The axis along which to search.

    Returns
    -------
    xarray.DataArray
        The ``dim`` coordinate of the first grid point at or above ``value``
        (interpolated from the point before); ``-inf`` where the curve starts at or above
        ``value`` (it crossed below the grid), ``+inf`` where it never reaches it on the grid.

    Examples
    --------
    >>> c = xr.DataArray([[1.0, 2.0], [-1.0, -0.5]], dims=("sample", "general"),
    ...                  coords={"general": [0.0, 1.0]})
    >>> first_crossing(c, 0.0).values.tolist()
    [-inf, inf]
    """
    xs = curves[dim].to_numpy().astype(float)
    if xs.size < 2 or np.any(np.diff(xs) <= 0):
        raise BayesScalingError(f"the {dim!r} grid must be increasing with at least two points")
    arr = curves.transpose(..., dim)
    y = arr.to_numpy().astype(float)
    flat = y.reshape(-1, xs.size)
    above = flat >= value
    first = np.argmax(above, axis=1)
    out = np.full(flat.shape[0], np.inf)
    reached = above.any(axis=1)
    out[reached & (first == 0)] = -np.inf
    inner = reached & (first > 0)
    i = first[inner]
    rows = np.flatnonzero(inner)
    y0, y1 = flat[rows, i - 1], flat[rows, i]
    frac = (value - y0) / (y1 - y0)
    out[inner] = xs[i - 1] + frac * (xs[i] - xs[i - 1])
    other = [d for d in arr.dims if d != dim]
    return xr.DataArray(
        out.reshape(y.shape[:-1]), dims=other, coords={d: arr[d] for d in other if d in arr.coords}
    )


def credibly_above_from(
    curves: xr.DataArray, value: float, prob: float = 0.95, dim: str = GENERAL
) -> float:
    """The lowest grid point from which ``P(curve > value) >= prob`` up to the grid's end.

    Parameters
    ----------
    curves : xarray.DataArray
        Draws over (``sample``, ``dim``), e.g. the gain of one prompting method over another.
    value : float
        Level the curve must exceed.
    prob : float
        Posterior probability required at every grid point from there on.
    dim : str
        The grid dimension (increasing).

    Returns
    -------
    float
        That grid coordinate; ``inf`` when the condition fails at the grid's last point.

    Examples
    --------
    >>> c = xr.DataArray([[-1.0, 0.5, 1.0], [-1.0, -0.5, 1.0]], dims=("sample", "general"),
    ...                  coords={"general": [0.0, 1.0, 2.0]})
    >>> credibly_above_from(c, 0.0, prob=0.9), credibly_above_from(c, 0.0, prob=0.5)
    (2.0, 1.0)
    """
    xs = curves[dim].to_numpy().astype(float)
    p = (curves > value).mean("sample").transpose(dim).to_numpy()
    ok = p >= prob
    if not ok[-1]:
        return float("inf")
    # Last grid point where the condition fails; the answer is the point after it.
    failing = np.flatnonzero(~ok)
    return float(xs[failing[-1] + 1]) if failing.size else float(xs[0])


def summarise_samples(da: xr.DataArray, level: float = 0.9, dim: str = "sample") -> xr.Dataset:
    """Mean, median and equal-tailed ``level`` interval over ``dim``.

    Quantiles are nearest-rank (actual draws), so infinite draws from
    :func:`first_crossing` give infinite bounds rather than NaN.

    Examples
    --------
    >>> s = summarise_samples(xr.DataArray(np.arange(101.0), dims="sample"), 0.9)
    >>> float(s["median"]), float(s["lower"]), float(s["upper"])
    (50.0, 5.0, 95.0)
    """
    return summarise(da, level, dim, median=True, method="nearest")


def benchmark_alignment(fit: FitResults, column: str, level: float = 0.9) -> pd.DataFrame:
    """How closely each benchmark's latent score tracks ``column``'s across the fitted models.

    Per posterior draw, the correlation over models between the benchmark's linear
    predictor ``loadings_j . S_m`` and the column's ``w . S_m`` (the arguments of their
    sigmoids). 1 means the benchmark sorts models exactly as the target's forecast does:
    its scores carry the forecast; lower values mean it measures other capabilities too.

    Returns
    -------
    pandas.DataFrame
        Indexed by benchmark, sorted from most to least aligned: ``mean``, ``lower``,
        ``upper`` of the correlation (equal-tailed ``level`` interval), and the benchmark's
        mean ``general_loading``.
    """
    s = fit.draws("S").transpose("sample", "model", "capability").to_numpy()
    w = _weights(fit, column).transpose("sample", "capability").to_numpy()
    loadings = fit.draws("loadings").transpose("sample", "benchmark", "capability")
    lam = loadings.to_numpy()
    eta_t = np.einsum("smk,sk->sm", s, w)
    eta_b = np.einsum("smk,sbk->sbm", s, lam)
    dt = eta_t - eta_t.mean(axis=1, keepdims=True)
    db = eta_b - eta_b.mean(axis=2, keepdims=True)
    num = np.einsum("sbm,sm->sb", db, dt)
    den = np.sqrt((db**2).sum(axis=2) * (dt**2).sum(axis=1)[:, None])
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = num / den
    lower, upper = equal_tailed(corr, level, skipna=True)
    caps = [str(c) for c in loadings["capability"].to_numpy()]
    table = pd.DataFrame(
        {
            "mean": np.nanmean(corr, axis=0),
            "lower": lower,
            "upper": upper,
            "general_loading": lam[:, :, caps.index(GENERAL)].mean(axis=0),
        },
        index=pd.Index([str(b) for b in loadings["benchmark"].to_numpy()], name="benchmark"),
    )
    table.attrs.update(column=column, level=level)
    return table.sort_values("mean", ascending=False)


def predict_scores(
    fit: FitResults,
    capability: xr.DataArray,
    columns: Sequence[str] | None = None,
    *,
    level: float = 0.9,
    seed: int = 0,
    noise: bool = True,
) -> pd.DataFrame:
    """Predicted scores of models given capability draws, in each column's own units.

    Parameters
    ----------
    fit : FitResults
        The fit the capability draws belong to.
    capability : xarray.DataArray
        Draws over (``sample``, ``model``, ``capability``), e.g. from
        :meth:`FitResults.capability_from_compute`.
    columns : sequence of str, optional
        Benchmarks and/or targets (default: every benchmark of the fit).
    level : float
        Equal-tailed interval level.
    seed : int
        Seed of the measurement noise.
    noise : bool
        Posterior predictive (with measurement noise) or the expected score.

    Returns
    -------
    pandas.DataFrame
        One row per (model, column): ``model``, ``column``, ``mean``, ``median``,
        ``lower``, ``upper``.
    """
    if columns is None:
        columns = [str(b) for b in fit.data["benchmark"].to_numpy()]
    columns = list(columns)
    pred = fit.predictive_draws(capability, columns, np.random.default_rng(seed), noise=noise)
    rows = []
    for c in columns:
        low, high = column_range(fit, c)
        raw = low + pred.sel(column=c).transpose("sample", "model").to_numpy() * (high - low)
        median = np.quantile(raw, 0.5, axis=0)
        lower, upper = equal_tailed(raw, level)
        for i, m in enumerate(map(str, pred["model"].to_numpy())):
            rows.append(
                {
                    "model": m,
                    "column": c,
                    "mean": float(raw[:, i].mean()),
                    "median": float(median[i]),
                    "lower": float(lower[i]),
                    "upper": float(upper[i]),
                }
            )
    return pd.DataFrame(rows, columns=["model", "column", "mean", "median", "lower", "upper"])
