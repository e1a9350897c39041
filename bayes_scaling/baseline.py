"""The published least-squares observational-scaling method, as the reference baseline.

A re-implementation of the method of Ruan, Maddison and Hashimoto (2024), *Observational
Scaling Laws and the Predictability of Language Model Performance* (arXiv 2405.10938), in
the form every forecast report compares against:

1. impute the missing cells of the benchmark matrix with an iterative low-rank SVD
   (:func:`impute_low_rank`);
2. standardise the columns and take the first three principal components
   (:func:`principal_components`), with a fixed sign convention so results reproduce;
3. fit ``y = floor + (ceiling - floor) * sigmoid(a + w . pc)`` to the training models by
   least squares (:func:`fit_sigmoid`);
4. predict the held-out models (:func:`baseline_forecast`).

:func:`baseline_compute_forecast` is the paper's simple compute scaling law,
``y = floor + (ceiling - floor) * sigmoid(a + b * log10(FLOPs))``, for when only training
compute is known.

Everything here is deterministic: no random starts, no random initialisation.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(30, 1))
>>> y = 0.25 + 0.75 / (1 + np.exp(-(0.5 + 2.0 * x[:, 0])))
>>> fit = fit_sigmoid(x, y, floor=0.25)
>>> bool(np.allclose(fit.predict(x), y, atol=1e-4))
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import xarray as xr
from scipy import optimize
from scipy.special import expit, logit

from bayes_scaling.errors import DataError

__all__ = [
    "PCAResult",
    "SigmoidFit",
    "baseline_compute_forecast",
    "baseline_forecast",
    "fit_sigmoid",
    "impute_low_rank",
    "principal_components",
]


# --------------------------------------------------------------------------------------
# Imputation
# --------------------------------------------------------------------------------------


def _column_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Observed column means and standard deviations (sd 1 where it is 0 or undefined)."""
    # Callers guarantee every column has an observed value, so no empty-slice warnings.
    mean = np.nanmean(x, axis=0)
    sd = np.nanstd(x, axis=0)
    # A constant or single-value column carries no scale; 1 keeps it finite and leaves
    # its (constant) values untouched by the standardisation.
    sd = np.where(np.isfinite(sd) & (sd > 0), sd, 1.0)
    return mean, sd


def impute_low_rank(
    scores: np.ndarray, rank: int = 2, iters: int = 500, tol: float = 1e-7
) -> np.ndarray:
    """Fill the missing cells of a benchmark matrix by iterative truncated SVD.

    Columns are standardised with their observed mean and standard deviation, missing cells
    start at the column mean, and then, sweep after sweep, the column means of the completed
    matrix plus the rank-``rank`` SVD reconstruction of the centred matrix are written into
    the missing cells (observed cells are kept) until the relative change falls below
    ``tol`` or ``iters`` sweeps are done (iterative PCA / "hard impute" with centring). A
    matrix that is exactly column offsets plus rank ``rank`` is recovered exactly.

    Parameters
    ----------
    scores : numpy.ndarray
        Matrix of shape (M, J), models by benchmarks; NaN marks a missing cell.
    rank : int, default 2
        Rank of the reconstruction. Two components carry most of the variance of standard
        benchmarks; a higher rank lets the few observed cells of a sparse column overfit.
        Clipped to ``min(M, J) - 1``: a full-rank reconstruction reproduces the matrix
        exactly and would leave the missing cells at their starting values.
    iters : int, default 500
        Maximum number of sweeps.
    tol : float, default 1e-7
        Convergence tolerance on the relative change of the standardised matrix.

    Returns
    -------
    numpy.ndarray
        A copy of ``scores`` with every NaN replaced; observed cells are bit-for-bit equal
        to the input.

    Raises
    ------
    ValueError
        If the matrix is not 2-D, ``rank < 1``, or a column has no observed value.

    Examples
    --------
    >>> x = np.outer([1.0, 2.0, 3.0, 4.0], [1.0, 0.5, 2.0])
    >>> x[1, 2] = np.nan
    >>> filled = impute_low_rank(x, rank=1)
    >>> round(float(filled[1, 2]), 3)
    4.0
    """
    x = np.asarray(scores, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"scores must be a 2-D matrix, got shape {x.shape}")
    if rank < 1:
        raise ValueError(f"rank must be at least 1, got {rank}")
    observed = np.isfinite(x)
    empty = np.flatnonzero(~observed.any(axis=0))
    if empty.size:
        raise ValueError(f"column(s) {empty.tolist()} have no observed value to impute from")
    if observed.all():
        return x.copy()

    mean, sd = _column_stats(x)
    z_obs = (x - mean) / sd
    z = np.where(observed, z_obs, 0.0)
    k = max(1, min(rank, min(x.shape) - 1))
    for _ in range(iters):
        # Re-centre on the completed matrix each sweep (iterative PCA): the observed-cell
        # means are biased when cells are missing not at random, and a fixed centre would
        # add a constant offset that a rank-r reconstruction cannot represent.
        centre = z.mean(axis=0)
        u, s, vt = np.linalg.svd(z - centre, full_matrices=False)
        recon = centre + (u[:, :k] * s[:k]) @ vt[:k]
        z_new = np.where(observed, z_obs, recon)
        change = np.linalg.norm(z_new - z) / max(np.linalg.norm(z), 1e-12)
        z = z_new
        if change < tol:
            break
    # Write back through np.where so observed cells are the caller's exact floats rather
    # than values that went through (x - mean) / sd * sd + mean.
    return np.where(observed, x, z * sd + mean)


# --------------------------------------------------------------------------------------
# PCA
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PCAResult:
    """Principal components of a standardised, complete benchmark matrix.

    Attributes
    ----------
    mean, scale : numpy.ndarray
        Column means and standard deviations (J,) used to standardise.
    components : numpy.ndarray
        Loadings (K, J); row k is the unit direction of PC k+1.
    explained_variance_ratio : numpy.ndarray
        Share of the total variance of the standardised matrix per component (K,).
    scores : numpy.ndarray
        Component scores (M, K) of the rows the PCA was fitted on.
    """

    mean: np.ndarray
    scale: np.ndarray
    components: np.ndarray
    explained_variance_ratio: np.ndarray
    scores: np.ndarray

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Project complete rows (N, J) onto the components, giving (N, K) scores.

        Examples
        --------
        >>> x = np.array([[0.1, 0.2], [0.4, 0.5], [0.9, 0.7]])
        >>> pca = principal_components(x, n_components=1)
        >>> bool(np.allclose(pca.transform(x), pca.scores))
        True
        """
        x = np.asarray(x, dtype=float)
        if not np.isfinite(x).all():
            raise ValueError("transform needs a complete matrix; impute it first")
        return ((x - self.mean) / self.scale) @ self.components.T


def principal_components(x: np.ndarray, n_components: int = 3) -> PCAResult:
    """PCA of a complete benchmark matrix, standardised column by column.

    Sign convention (so results reproduce across platforms and library versions): PC1 is
    oriented to correlate positively with the row mean of the standardised matrix (a better
    model has a higher PC1); every other component is oriented so that its largest
    absolute loading is positive.

    Parameters
    ----------
    x : numpy.ndarray
        Complete matrix (M, J), e.g. the output of :func:`impute_low_rank`.
    n_components : int, default 3
        Number of components K, at most ``min(M, J)``.

    Returns
    -------
    PCAResult

    Examples
    --------
    >>> x = np.array([[0.2, 0.3, 0.1], [0.5, 0.6, 0.3], [0.8, 0.7, 0.6], [0.4, 0.2, 0.5]])
    >>> pca = principal_components(x, n_components=2)
    >>> pca.scores.shape
    (4, 2)
    >>> bool(np.corrcoef(pca.scores[:, 0], x.mean(axis=1))[0, 1] > 0)
    True
    """
    x = np.asarray(x, dtype=float)
    if x.ndim != 2 or not np.isfinite(x).all():
        raise ValueError("principal_components needs a complete 2-D matrix; impute it first")
    m, j = x.shape
    if not 1 <= n_components <= min(m, j):
        raise ValueError(f"n_components must be in 1..{min(m, j)} for a {m}x{j} matrix")
    mean, scale = _column_stats(x)
    z = (x - mean) / scale
    _, s, vt = np.linalg.svd(z, full_matrices=False)
    comps = vt[:n_components].copy()
    # PC1: positive correlation with the average standardised score.
    general = z.mean(axis=1)
    if float((z @ comps[0]) @ (general - general.mean())) < 0:
        comps[0] *= -1
    for k in range(1, n_components):
        if comps[k, np.argmax(np.abs(comps[k]))] < 0:
            comps[k] *= -1
    total = float((s**2).sum())
    evr = (s[:n_components] ** 2) / total if total > 0 else np.zeros(n_components)
    return PCAResult(
        mean=mean,
        scale=scale,
        components=comps,
        explained_variance_ratio=evr,
        scores=z @ comps.T,
    )


# --------------------------------------------------------------------------------------
# Sigmoid fit
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SigmoidFit:
    """A fitted ``y = floor + (ceiling - floor) * sigmoid(intercept + x . weights)``.

    Attributes
    ----------
    intercept : float
    weights : numpy.ndarray
        One weight per predictor column.
    floor, ceiling : float
        The fixed asymptotes, in the units of ``y``.
    loss : float
        Sum of squared residuals on the normalised scale plus the L2 penalty.
    success : bool
        Whether the optimiser reported convergence for the chosen start.
    """

    intercept: float
    weights: np.ndarray
    floor: float
    ceiling: float
    loss: float
    success: bool = True

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predicted ``y`` for predictors ``x`` of shape (N, K) (or (N,) when K = 1).

        Examples
        --------
        >>> fit = SigmoidFit(0.0, np.array([1.0]), floor=0.0, ceiling=1.0, loss=0.0)
        >>> fit.predict(np.array([[0.0]]))
        array([0.5])
        """
        x = _as_2d(x)
        return self.floor + (self.ceiling - self.floor) * expit(self.intercept + x @ self.weights)


def _as_2d(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    return x[:, None] if x.ndim == 1 else x


def fit_sigmoid(
    pcs_train: np.ndarray,
    y_train: np.ndarray,
    floor: float,
    ceiling: float = 1.0,
    *,
    l2: float = 1e-6,
    bound: float = 100.0,
) -> SigmoidFit:
    """Least-squares fit of ``y = floor + (ceiling - floor) * sigmoid(a + w . x)``.

    Residuals are taken on the normalised scale ``(y - floor) / (ceiling - floor)`` (the
    scale forecasts are judged on). The predictors are centred internally for
    conditioning; the returned intercept refers to the uncentred predictors. Deterministic
    starts: a ridge regression of ``logit(y)`` on ``x`` (targets clipped to [0.01, 0.99]),
    that start at half and double the slope, and the flat start ``w = 0``; the best final
    loss wins. A light ridge penalty ``l2 * |w|^2`` plus box bounds ``|a|, |w_k| <= bound``
    keep the slope finite when 20-30 training points are (nearly) separable or all near
    the floor, where the unpenalised minimum lies at infinity.

    Parameters
    ----------
    pcs_train : numpy.ndarray
        Predictors (N, K) (or (N,) for one predictor), e.g. principal components.
    y_train : numpy.ndarray
        Targets (N,) in the units of ``floor`` and ``ceiling``; must be finite.
    floor, ceiling : float
        Lower and upper asymptote, ``ceiling > floor``.
    l2 : float, default 1e-6
        Ridge penalty on the weights (not the intercept).
    bound : float, default 100
        Box bound on every parameter, on the centred predictors' scale.

    Returns
    -------
    SigmoidFit

    Raises
    ------
    ValueError
        On mismatched shapes, non-finite values, ``ceiling <= floor`` or no data.

    Examples
    --------
    >>> x = np.linspace(-2, 2, 25)
    >>> y = 10 * (1 / (1 + np.exp(-(1.0 + 1.5 * x))))
    >>> fit = fit_sigmoid(x, y, floor=0.0, ceiling=10.0)
    >>> round(fit.intercept, 2), round(float(fit.weights[0]), 2)
    (1.0, 1.5)
    """
    x = _as_2d(pcs_train)
    y = np.asarray(y_train, dtype=float).ravel()
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"{x.shape[0]} predictor rows but {y.shape[0]} targets")
    if y.size == 0:
        raise ValueError("no training points")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("predictors and targets must be finite")
    if not ceiling > floor:
        raise ValueError(f"ceiling ({ceiling}) must exceed floor ({floor})")
    span = ceiling - floor
    yn = (y - floor) / span
    centre = x.mean(axis=0)
    xc = x - centre
    n, k = xc.shape
    sqrt_l2 = math.sqrt(l2)

    def residuals(theta: np.ndarray) -> np.ndarray:
        fitted = expit(theta[0] + xc @ theta[1:])
        return np.concatenate([fitted - yn, sqrt_l2 * theta[1:]])

    def jacobian(theta: np.ndarray) -> np.ndarray:
        p = expit(theta[0] + xc @ theta[1:])
        d = p * (1 - p)
        top = np.column_stack([d, d[:, None] * xc])
        pen = np.hstack([np.zeros((k, 1)), sqrt_l2 * np.eye(k)])
        return np.vstack([top, pen])

    # Start 1: ridge regression on the logit scale (the "linearised" fit).
    t = logit(np.clip(yn, 0.01, 0.99))
    design = np.column_stack([np.ones(n), xc])
    ridge = np.diag([0.0] + [1e-3] * k)
    start = np.linalg.solve(design.T @ design + ridge, design.T @ t)
    flat = np.concatenate([[logit(np.clip(yn.mean(), 0.01, 0.99))], np.zeros(k)])
    starts = [start, start * np.r_[1.0, [0.5] * k], start * np.r_[1.0, [2.0] * k], flat]

    best: optimize.OptimizeResult | None = None
    for s0 in starts:
        s0 = np.clip(s0, -bound + 1e-9, bound - 1e-9)
        res = optimize.least_squares(
            residuals,
            s0,
            jac=jacobian,
            bounds=(-bound, bound),
            method="trf",
            xtol=1e-12,
            ftol=1e-12,
            gtol=1e-12,
            max_nfev=2000,
        )
        # Ties resolve to the earlier start, so the choice is deterministic.
        if best is None or res.cost < best.cost - 1e-15:
            best = res
    assert best is not None
    w = best.x[1:].copy()
    return SigmoidFit(
        intercept=float(best.x[0] - centre @ w),
        weights=w,
        floor=float(floor),
        ceiling=float(ceiling),
        loss=float(2 * best.cost),
        success=bool(best.success),
    )


# --------------------------------------------------------------------------------------
# High-level forecasts
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Split:
    train: list[str]
    test: list[str]
    dropped: list[str] = field(default_factory=list)


def _source(obj: xr.Dataset | xr.DataArray) -> str:
    return str(obj.attrs.get("source", "<dataset>"))


def _split_models(
    target: xr.DataArray, test_models: Sequence[str], usable: set[str], source: str
) -> _Split:
    """Train = target observed, usable, not a test model; test models must be usable."""
    if "model" not in target.dims or target.ndim != 1:
        raise ValueError(f"target must be 1-D with dim 'model', got dims {target.dims}")
    test = list(dict.fromkeys(str(m) for m in test_models))
    missing = [m for m in test if m not in usable]
    if missing:
        raise DataError(
            source, f"test model(s) without the needed predictors: {', '.join(missing)}"
        )
    test_set = set(test)
    names = [str(m) for m in target["model"].values]
    values = np.asarray(target.values, dtype=float)
    train, dropped = [], []
    for name, value in zip(names, values, strict=True):
        if name in test_set or not np.isfinite(value):
            continue
        (train if name in usable else dropped).append(name)
    return _Split(train=train, test=test, dropped=dropped)


def _target_values(target: xr.DataArray, models: list[str]) -> np.ndarray:
    names = [str(m) for m in target["model"].values]
    index = {n: i for i, n in enumerate(names)}
    values = np.asarray(target.values, dtype=float)
    return np.array([values[index[m]] if m in index else np.nan for m in models])


def _result(
    split: _Split, mean: np.ndarray, target: xr.DataArray, attrs: dict[str, object]
) -> xr.Dataset:
    models = split.train + split.test
    out = xr.Dataset(
        {
            "mean": ("model", mean),
            "split": ("model", np.array(["train"] * len(split.train) + ["test"] * len(split.test))),
            "observed": ("model", _target_values(target, models)),
        },
        coords={"model": np.array(models, dtype=object)},
    )
    out.attrs.update(attrs)
    out.attrs["dropped"] = list(split.dropped)
    return out


def baseline_forecast(
    bench: xr.Dataset,
    target: xr.DataArray,
    test_models: Sequence[str],
    benchmark_cols: Sequence[str] | None = None,
    floor: float = 0.0,
    ceiling: float = 1.0,
    n_components: int = 3,
    *,
    pca_on: Literal["all", "train"] = "all",
    rank: int = 2,
    l2: float = 1e-6,
) -> xr.Dataset:
    """Forecast a downstream target from benchmark principal components (Ruan et al. 2024).

    Steps: select ``benchmark_cols`` of ``bench.score``; keep the models with at least one
    of them observed; impute the rest with :func:`impute_low_rank` (on all those models:
    benchmark scores are inputs, known for a new model too); standardise and take
    ``n_components`` principal components; fit :func:`fit_sigmoid` to the training models'
    targets; predict training and test models.

    The test models' target values are never read by the fit; they only fill ``observed``
    in the output for scoring.

    Parameters
    ----------
    bench : xarray.Dataset
        Tidy dataset (docs/architecture.md) with ``score`` (model, benchmark) on [0, 1].
    target : xarray.DataArray
        Target values, dim ``model``, NaN where unobserved, in the units of ``floor`` and
        ``ceiling``. Models need not match ``bench`` one to one.
    test_models : sequence of str
        Held-out models; each must have benchmark data. Their targets may be NaN.
    benchmark_cols : sequence of str, optional
        Benchmarks to build components from; default all of ``bench``.
    floor, ceiling : float
        Asymptotes of the target's sigmoid, in the target's units.
    n_components : int, default 3
        Number of principal components.
    pca_on : {"all", "train"}, default "all"
        Rows the standardisation and PCA are fitted on. ``"all"`` follows the paper: every
        model with benchmark data, including the held-out ones and models without the
        target (unsupervised use of inputs only). ``"train"`` fits them on the training
        models only and projects the others.
    rank : int, default 2
        Rank of the imputation.
    l2 : float, default 1e-6
        Ridge penalty of the sigmoid fit.

    Returns
    -------
    xarray.Dataset
        Dim ``model`` (training models in ``target`` order, then ``test_models``) with
        ``mean`` (point prediction, target units), ``split`` ("train"/"test") and
        ``observed`` (target value or NaN); attrs hold the fitted intercept, weights,
        explained variance ratios, ``pca_on``, floor, ceiling and ``dropped`` (models with
        a target but no benchmark data).

    Raises
    ------
    DataError
        If a benchmark column is unknown or empty, a test model lacks benchmark data, or
        there are fewer training models than parameters.

    Examples
    --------
    >>> import xarray as xr
    >>> rng = np.random.default_rng(1)
    >>> g = rng.normal(size=12)
    >>> s = 1 / (1 + np.exp(-(g[:, None] + rng.normal(0, 0.1, (12, 4)))))
    >>> names = [f"m{i}" for i in range(12)]
    >>> bench = xr.Dataset({"score": (("model", "benchmark"), s)},
    ...                    coords={"model": names, "benchmark": list("abcd")})
    >>> target = xr.DataArray(1 / (1 + np.exp(-2 * g)), dims="model", coords={"model": names})
    >>> out = baseline_forecast(bench, target, ["m0", "m1"], n_components=1)
    >>> out["split"].values.tolist()[-2:]
    ['test', 'test']
    """
    source = _source(bench)
    if pca_on not in ("all", "train"):
        raise ValueError(f"pca_on must be 'all' or 'train', got {pca_on!r}")
    score = bench["score"].transpose("model", "benchmark")
    all_cols = [str(b) for b in score["benchmark"].values]
    cols = all_cols if benchmark_cols is None else [str(c) for c in benchmark_cols]
    unknown = [c for c in cols if c not in all_cols]
    if unknown:
        raise DataError(source, f"unknown benchmark column(s): {', '.join(unknown)}")
    matrix = np.asarray(score.sel(benchmark=cols).values, dtype=float)
    names = [str(m) for m in score["model"].values]
    has_data = np.isfinite(matrix).any(axis=1)
    rows = [n for n, ok in zip(names, has_data, strict=True) if ok]
    matrix = matrix[has_data]
    empty = [c for c, ok in zip(cols, np.isfinite(matrix).any(axis=0), strict=True) if not ok]
    if empty:
        raise DataError(source, f"benchmark column(s) with no scores: {', '.join(empty)}")
    row_of = {n: i for i, n in enumerate(rows)}

    split = _split_models(target, test_models, set(rows), source)
    if len(split.train) < n_components + 1:
        raise DataError(
            source,
            f"{len(split.train)} training models with target and benchmarks; "
            f"the sigmoid needs at least {n_components + 1}",
        )
    filled = impute_low_rank(matrix, rank=rank)
    train_idx = [row_of[m] for m in split.train]
    test_idx = [row_of[m] for m in split.test]
    pca = principal_components(filled if pca_on == "all" else filled[train_idx], n_components)
    pcs = pca.transform(filled)
    fit = fit_sigmoid(pcs[train_idx], _target_values(target, split.train), floor, ceiling, l2=l2)
    mean = fit.predict(pcs[train_idx + test_idx])
    return _result(
        split,
        mean,
        target,
        {
            "method": "pca-sigmoid least squares (Ruan et al. 2024)",
            "benchmarks": cols,
            "n_components": n_components,
            "pca_on": pca_on,
            "imputation_rank": rank,
            "explained_variance_ratio": pca.explained_variance_ratio.tolist(),
            "intercept": fit.intercept,
            "weights": fit.weights.tolist(),
            "floor": float(floor),
            "ceiling": float(ceiling),
            "loss": fit.loss,
        },
    )


def baseline_compute_forecast(
    flops: xr.Dataset | xr.DataArray,
    target: xr.DataArray,
    test_models: Sequence[str],
    floor: float = 0.0,
    ceiling: float = 1.0,
    *,
    l2: float = 1e-6,
) -> xr.Dataset:
    """Forecast a target from training compute alone: ``sigmoid(a + b * log10(FLOPs))``.

    The paper's simple compute scaling law, fitted by least squares
    (:func:`fit_sigmoid`) on the training models: those with the target observed, FLOPs
    known and not in ``test_models``.

    Parameters
    ----------
    flops : xarray.Dataset or xarray.DataArray
        A tidy dataset (its ``flops`` coordinate is used) or a DataArray of absolute FLOPs
        with dim ``model``; NaN = unknown.
    target : xarray.DataArray
        Target values, dim ``model``, NaN where unobserved.
    test_models : sequence of str
        Held-out models; each must have known FLOPs.
    floor, ceiling : float
        Asymptotes, in the target's units.
    l2 : float, default 1e-6
        Ridge penalty on the slope.

    Returns
    -------
    xarray.Dataset
        Same layout as :func:`baseline_forecast`; attrs hold ``intercept`` and ``slope``
        (per decade of FLOPs).

    Examples
    --------
    >>> import xarray as xr
    >>> names = [f"m{i}" for i in range(6)]
    >>> f = xr.DataArray(10.0 ** np.arange(20, 26), dims="model", coords={"model": names})
    >>> y = xr.DataArray(1 / (1 + np.exp(-(np.arange(6) - 3.0))), dims="model",
    ...                  coords={"model": names})
    >>> out = baseline_compute_forecast(f, y, ["m5"])
    >>> round(float(out["mean"].sel(model="m5")), 3)
    0.881
    """
    if isinstance(flops, xr.Dataset):
        source = _source(flops)
        flops = flops["flops"]
    else:
        source = _source(flops)
    if flops.ndim != 1 or "model" not in flops.dims:
        raise ValueError(f"flops must be 1-D with dim 'model', got dims {flops.dims}")
    names = [str(m) for m in flops["model"].values]
    values = np.asarray(flops.values, dtype=float)
    known = {n: v for n, v in zip(names, values, strict=True) if np.isfinite(v) and v > 0}
    split = _split_models(target, test_models, set(known), source)
    if len(split.train) < 2:
        raise DataError(source, f"{len(split.train)} training models with target and FLOPs")
    x = np.log10([known[m] for m in split.train + split.test])
    n_train = len(split.train)
    fit = fit_sigmoid(x[:n_train], _target_values(target, split.train), floor, ceiling, l2=l2)
    return _result(
        split,
        fit.predict(x),
        target,
        {
            "method": "log10-FLOPs sigmoid least squares (Ruan et al. 2024)",
            "intercept": fit.intercept,
            "slope": float(fit.weights[0]),
            "floor": float(floor),
            "ceiling": float(ceiling),
            "loss": fit.loss,
        },
    )
