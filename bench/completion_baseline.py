"""The published-style matrix-completion baseline: rank-r least squares on logit scores.

Leaderboard-completion papers fill a sparse table by a low-rank least-squares fit to the
logits of its scores. This module is that method, as the reference that
``bayes_scaling.complete`` is judged against (issue 17):

1. each cell becomes the squeezed logit of its place in the benchmark's chance range,
   ``logit(clip((score - floor) / (ceiling - floor), eps, 1 - eps))``;
2. the observed logits are fitted by ``y_mj ~ mu_j + u_m . v_j`` (a benchmark offset plus
   rank ``r``) with a small ridge on ``u`` and ``v``, by alternating least squares from a
   deterministic SVD start (:func:`als_complete`); ``ridge="cv"`` tunes the ridge by
   cross-validation on the observed cells (:func:`select_ridge`), as a fair baseline
   should: a fixed tiny ridge over-fits benchmarks seen by a few models;
3. every cell, observed or not, is read off the fit and mapped back to the table's raw
   units (:func:`complete_baseline`).

It returns the frame of ``bayes_scaling.complete.complete`` (``model, benchmark,
observed, mean, median, lower, upper``), with ``mean = median = `` the point fill. The
interval is NaN unless ``conformal=`` asks for a cross-conformal one
(:func:`conformal_halfwidth`): ``K`` refits with a fold of observed cells left out give
absolute errors on the score scale, and their conformal ``level`` quantile is the
half-width of every cell's interval, as published completions report theirs.

Everything is deterministic: same data, same seed, same frame.

Run as a script::

    python bench/completion_baseline.py TABLE [--percent] [--rank 2] [--ridge X|cv] \\
        [--conformal 0.9] [--out FILLED.csv]

Examples
--------
>>> rng = np.random.default_rng(0)
>>> truth = rng.normal(size=(10, 1)) @ rng.normal(size=(1, 6)) + rng.normal(size=6)
>>> y = truth.copy()
>>> y[0, 0] = y[3, 4] = np.nan
>>> fill = als_complete(y, rank=1, ridge=1e-9)
>>> bool(np.allclose(fill.values, truth, atol=1e-5))
True
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import expit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

__all__ = [
    "COLUMNS",
    "EPS",
    "RIDGE_GRID",
    "Completion",
    "als_complete",
    "complete_baseline",
    "conformal_halfwidth",
    "conformal_quantile",
    "fold_errors",
    "linear_columns",
    "logit_matrix",
    "main",
    "select_ridge",
    "squeezed_logit",
]

#: Columns of the completed frame, as ``bayes_scaling.complete.complete`` returns them.
COLUMNS = ("model", "benchmark", "observed", "mean", "median", "lower", "upper")
#: Scores are squeezed into (EPS, 1 - EPS) of their chance range before the logit: a score
#: at or below chance (or a perfect one) would otherwise have an infinite logit.
EPS = 0.01
#: Ridge on the factors: small against a column's sum of squares, but it makes the fit of
#: a model or benchmark seen once well-posed, and fixes the scale split of u and v.
RIDGE = 1e-3
#: Ridges tried by ``ridge="cv"`` (:func:`select_ridge`); 10 already shrinks the factors
#: of a 100 x 30 table to nothing, leaving benchmark means.
RIDGE_GRID = (0.01, 0.1, 0.3, 1.0, 3.0)


def squeezed_logit(frac: np.ndarray, eps: float = EPS) -> np.ndarray:
    """Logit of ``frac`` clipped into ``(eps, 1 - eps)``; NaN stays NaN.

    Examples
    --------
    >>> squeezed_logit(np.array([0.5, 0.0, 1.0, np.nan]), eps=0.01).round(3).tolist()
    [0.0, -4.595, 4.595, nan]
    """
    q = np.clip(np.asarray(frac, dtype=float), eps, 1.0 - eps)
    return np.log(q) - np.log1p(-q)


def linear_columns(data: xr.Dataset) -> np.ndarray:
    """Which benchmarks are linear (the tidy dataset's ``linear`` coord; none without it).

    A linear column's ``score`` is already a z-score, not a share: the baseline fits it
    as it is and reads it back without a link.
    """
    if "linear" in data.coords:
        return data["linear"].to_numpy().astype(bool)
    return np.zeros(data.sizes["benchmark"], dtype=bool)


def logit_matrix(data: xr.Dataset, eps: float = EPS) -> np.ndarray:
    """The (model, benchmark) matrix of squeezed logits of a tidy dataset; NaN = missing.

    A linear column (:func:`linear_columns`) keeps its z-scores.

    Examples
    --------
    >>> ds = xr.Dataset({"score": (("model", "benchmark"), [[0.625, np.nan]])},
    ...                 coords={"floor": ("benchmark", [0.25, 0.0]),
    ...                         "ceiling": ("benchmark", [1.0, 1.0])})
    >>> logit_matrix(ds).round(3).tolist()
    [[0.0, nan]]
    """
    score = data["score"].transpose("model", "benchmark").to_numpy().astype(float)
    floor = data["floor"].to_numpy().astype(float)
    ceiling = data["ceiling"].to_numpy().astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        logits = squeezed_logit((score - floor) / (ceiling - floor), eps)
    return np.where(linear_columns(data), score, logits)


@dataclasses.dataclass(frozen=True)
class Completion:
    """A fitted rank-r completion of a logit matrix.

    Attributes
    ----------
    values : numpy.ndarray
        ``mu_j + u_m . v_j`` for every cell (model, benchmark).
    offset : numpy.ndarray
        ``mu`` (benchmark).
    factors : tuple of numpy.ndarray
        ``u`` (model, rank) and ``v`` (benchmark, rank).
    iterations : int
        Alternating sweeps run.
    converged : bool
        Whether the last sweep moved no fitted cell more than ``tol``.
    """

    values: np.ndarray
    offset: np.ndarray
    factors: tuple[np.ndarray, np.ndarray]
    iterations: int
    converged: bool


def als_complete(
    y: np.ndarray,
    rank: int = 2,
    ridge: float = RIDGE,
    iters: int = 5000,
    tol: float = 1e-7,
) -> Completion:
    """Fit ``y_mj ~ mu_j + u_m . v_j`` to the finite cells of ``y`` by alternating least squares.

    Minimises ``sum_obs (y - mu - u.v)^2 + ridge (|u|^2 + |v|^2)``: each sweep solves every
    model's ``u_m`` given ``(mu, v)``, then every benchmark's ``(mu_j, v_j)`` given ``u``
    (``mu`` unpenalised). The start is the rank-``rank`` SVD of the column-centred matrix
    with missing cells at their column mean, so the fit is deterministic.

    Parameters
    ----------
    y : numpy.ndarray
        (models, benchmarks) matrix; NaN = missing.
    rank : int, default 2
        Rank of the interaction ``u . v`` (0 = benchmark means only).
    ridge : float
        Ridge on the factors.
    iters : int
        Most sweeps.
    tol : float
        Stop when no fitted cell moved more than ``tol`` (logit units) in a sweep.

    Returns
    -------
    Completion

    Raises
    ------
    ValueError
        A benchmark without any finite cell, or a negative rank or ridge.

    Examples
    --------
    >>> y = np.array([[0.0, 1.0], [1.0, np.nan], [2.0, 3.0]])
    >>> als_complete(y, rank=0).values[1].tolist()
    [1.0, 2.0]
    """
    y = np.asarray(y, dtype=float)
    if y.ndim != 2:
        raise ValueError(f"need a (models, benchmarks) matrix, got shape {y.shape}")
    if rank < 0 or ridge < 0:
        raise ValueError(f"rank and ridge must be >= 0, got {rank} and {ridge}")
    obs = np.isfinite(y)
    empty = np.flatnonzero(~obs.any(axis=0))
    if empty.size:
        raise ValueError(f"benchmark column {int(empty[0])} has no observed cell")
    m, j = y.shape
    r = min(rank, m, j)
    yz = np.where(obs, y, 0.0)
    mu = yz.sum(axis=0) / obs.sum(axis=0)
    u0, s, vt = np.linalg.svd(np.where(obs, y, mu) - mu, full_matrices=False)
    u = u0[:, :r] * np.sqrt(s[:r])
    v = vt[:r].T * np.sqrt(s[:r])
    eye = np.eye(r)
    # mu is not shrunk: a benchmark's offset is its level, which the data should set.
    pen = ridge * np.diag(np.r_[0.0, np.ones(r)])
    w = obs.astype(float)
    converged = False
    sweeps = 0
    values = mu + u @ v.T
    while sweeps < iters:
        sweeps += 1
        # Every model's (and then every benchmark's) normal equations at once, batched.
        target = w * (yz - mu)
        a = np.einsum("mj,jk,jl->mkl", w, v, v) + ridge * eye
        u = np.linalg.solve(a, np.einsum("mj,jk->mk", target, v)[..., None])[..., 0]
        x = np.column_stack([np.ones(m), u])
        a = np.einsum("mj,mk,ml->jkl", w, x, x) + pen
        coef = np.linalg.solve(a, np.einsum("mj,mk->jk", w * yz, x)[..., None])[..., 0]
        mu, v = coef[:, 0], coef[:, 1:]
        # Shifting every u_m by c (and mu by -c.v) leaves the fit unchanged; only the
        # ridge, slowly, picks the centred u. Centring and balancing jump to the
        # penalty's optimum along these exact symmetries.
        centre = u.mean(axis=0)
        mu, u = mu + v @ centre, u - centre
        u, v = _balance(u, v)
        new = mu + u @ v.T
        change = float(np.abs(new - values).max())
        values = new
        if change <= tol:
            converged = True
            break
    return Completion(
        values=values,
        offset=mu.copy(),
        factors=(u.copy(), v.copy()),
        iterations=sweeps,
        converged=converged,
    )


def _balance(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The factors of the same product ``u v'`` with the least ``|u|^2 + |v|^2``.

    The ridge's optimum splits the product evenly (``u'u = v'v``); ALS alone creeps
    towards that split over thousands of sweeps, so each sweep jumps to it, which leaves
    the fit unchanged and can only lower the penalty.
    """
    if u.shape[1] == 0:
        return u, v
    qu, ru = np.linalg.qr(u)
    qv, rv = np.linalg.qr(v)
    a, s, bt = np.linalg.svd(ru @ rv.T)
    root = np.sqrt(s)
    return qu @ (a * root), qv @ (bt.T * root)


def _to_score(
    logits: np.ndarray, floor: np.ndarray, ceiling: np.ndarray, linear: np.ndarray
) -> np.ndarray:
    return np.where(linear, logits, floor + (ceiling - floor) * expit(logits))


def fold_errors(
    data: xr.Dataset,
    *,
    rank: int = 2,
    ridge: float = RIDGE,
    eps: float = EPS,
    folds: int = 5,
    seed: int = 0,
) -> np.ndarray:
    """Absolute errors, on the [0, 1] score scale, of observed cells predicted without them.

    The observed cells are split into ``folds`` seeded folds (the same split for every
    ``ridge`` and ``rank``); each fold is refitted without it and its cells are predicted.
    A cell whose removal would leave its benchmark without a cell stays in training and is
    not scored.

    Examples
    --------
    >>> ds = xr.Dataset({"score": (("model", "benchmark"), [[0.2, 0.4], [0.4, 0.6], [0.6, 0.8]])},
    ...                 coords={"floor": ("benchmark", [0.0, 0.0]),
    ...                         "ceiling": ("benchmark", [1.0, 1.0])})
    >>> fold_errors(ds, rank=0, folds=3).size
    6
    """
    y = logit_matrix(data, eps)
    score = data["score"].transpose("model", "benchmark").to_numpy().astype(float)
    floor = data["floor"].to_numpy().astype(float)
    ceiling = data["ceiling"].to_numpy().astype(float)
    linear = linear_columns(data)
    rows, cols = np.nonzero(np.isfinite(y))
    rng = np.random.default_rng(seed)
    fold = rng.permutation(rows.size) % folds
    errors: list[np.ndarray] = []
    for k in range(folds):
        out = fold == k
        train = y.copy()
        train[rows[out], cols[out]] = np.nan
        emptied = ~np.isfinite(train).any(axis=0)
        keep = emptied[cols] & out
        train[rows[keep], cols[keep]] = y[rows[keep], cols[keep]]
        test = out & ~keep
        fill = als_complete(train, rank=rank, ridge=ridge).values
        c = cols[test]
        pred = _to_score(fill[rows[test], c], floor[c], ceiling[c], linear[c])
        errors.append(np.abs(pred - score[rows[test], cols[test]]))
    return np.concatenate(errors)


def select_ridge(
    data: xr.Dataset,
    grid: Sequence[float] = RIDGE_GRID,
    *,
    rank: int = 2,
    eps: float = EPS,
    folds: int = 5,
    seed: int = 0,
) -> tuple[float, np.ndarray]:
    """The ridge of ``grid`` with the least median cross-validated error, and its errors.

    A fixed small ridge over-fits a benchmark seen a few times (three cells fit an offset
    and two loadings exactly), so a fair baseline tunes it as a published method would,
    on the training cells only, by the error the comparison scores.

    Returns
    -------
    tuple
        The chosen ridge and its :func:`fold_errors` (ties: the smaller ridge).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> frac = 1 / (1 + np.exp(-(rng.normal(size=(20, 1)) @ rng.normal(size=(1, 5)))))
    >>> ds = xr.Dataset({"score": (("model", "benchmark"), frac)},
    ...                 coords={"floor": ("benchmark", np.zeros(5)),
    ...                         "ceiling": ("benchmark", np.ones(5))})
    >>> select_ridge(ds, (0.01, 100.0), rank=1)[0]
    0.01
    """
    best: tuple[float, float, np.ndarray] | None = None
    for ridge in grid:
        err = fold_errors(data, rank=rank, ridge=ridge, eps=eps, folds=folds, seed=seed)
        med = float(np.median(err)) if err.size else math.inf
        if best is None or med < best[0]:
            best = (med, float(ridge), err)
    if best is None:
        raise ValueError("an empty grid of ridges")
    return best[1], best[2]


def conformal_quantile(errors: np.ndarray, level: float) -> float:
    """The finite-sample conformal quantile: the ``ceil((n + 1) level)``-th smallest error.

    Infinite when ``n`` is too small for ``level``; NaN without errors.

    Examples
    --------
    >>> conformal_quantile(np.arange(1.0, 20.0), 0.9), conformal_quantile(np.ones(5), 0.9)
    (18.0, inf)
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    err = np.sort(np.asarray(errors, dtype=float))
    n = err.size
    if n == 0:
        return math.nan
    k = math.ceil((n + 1) * level)
    return float(err[k - 1]) if k <= n else math.inf


def conformal_halfwidth(
    data: xr.Dataset,
    level: float = 0.9,
    *,
    rank: int = 2,
    ridge: float = RIDGE,
    eps: float = EPS,
    folds: int = 5,
    seed: int = 0,
) -> float:
    """Half-width, on the [0, 1] score scale, of a ``level`` cross-conformal interval.

    The :func:`conformal_quantile` of the :func:`fold_errors`.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> frac = 1 / (1 + np.exp(-(rng.normal(size=(20, 1)) @ rng.normal(size=(1, 5)))))
    >>> ds = xr.Dataset({"score": (("model", "benchmark"), frac + rng.normal(0, 0.02, frac.shape))},
    ...                 coords={"floor": ("benchmark", np.zeros(5)),
    ...                         "ceiling": ("benchmark", np.ones(5))})
    >>> 0.01 < conformal_halfwidth(ds, rank=1) < 0.1
    True
    """
    errors = fold_errors(data, rank=rank, ridge=ridge, eps=eps, folds=folds, seed=seed)
    return conformal_quantile(errors, level)


def complete_baseline(
    data: xr.Dataset,
    *,
    rank: int = 2,
    ridge: float | Literal["cv"] = RIDGE,
    eps: float = EPS,
    conformal: float | None = None,
    folds: int = 5,
    seed: int = 0,
) -> pd.DataFrame:
    """Fill every cell of a tidy dataset with the rank-``rank`` logit completion.

    Parameters
    ----------
    data : xarray.Dataset
        The tidy dataset (``score`` on [0, 1], coords ``floor``, ``ceiling``, ``lower``,
        ``upper``); compute and families are not used.
    rank : int
        As in :func:`als_complete`.
    ridge : float or "cv"
        As in :func:`als_complete`; ``"cv"`` picks it from :data:`RIDGE_GRID` by
        cross-validation on the observed cells (:func:`select_ridge`).
    eps : float
        Squeeze of the logit (:func:`squeezed_logit`).
    conformal : float, optional
        Level of a cross-conformal interval (:func:`conformal_halfwidth`; with
        ``ridge="cv"``, from the chosen ridge's cross-validation errors); without it
        ``lower`` and ``upper`` are NaN.
    folds, seed : int
        Folds of the cross-validation and conformal refits and the seed that draws them.

    Returns
    -------
    pandas.DataFrame
        One row per (model, benchmark), model-major, with columns :data:`COLUMNS` in the
        table's raw units (``lower + score * (upper - lower)``); ``observed`` is NaN for a
        missing cell, ``mean`` and ``median`` are the point fill. ``attrs``: ``method``,
        ``ridge``, ``iterations``, ``converged``, ``halfwidth`` (score scale; NaN without
        ``conformal``).

    Examples
    --------
    >>> ds = xr.Dataset(
    ...     {"score": (("model", "benchmark"), [[0.2, 0.4], [0.4, np.nan], [0.6, 0.8]])},
    ...     coords={"model": ["a", "b", "c"], "benchmark": ["X", "Y"],
    ...             "floor": ("benchmark", [0.0, 0.0]), "ceiling": ("benchmark", [1.0, 1.0]),
    ...             "lower": ("benchmark", [0.0, 0.0]), "upper": ("benchmark", [100.0, 100.0])})
    >>> frame = complete_baseline(ds, rank=0)
    >>> frame.columns.tolist()
    ['model', 'benchmark', 'observed', 'mean', 'median', 'lower', 'upper']
    >>> round(float(frame.loc[3, "observed"]), 6), round(float(frame.loc[3, "mean"]), 1)
    (nan, 62.0)
    """
    data = data.transpose("model", "benchmark", ...)
    errors = None
    if ridge == "cv":
        ridge, errors = select_ridge(data, rank=rank, eps=eps, folds=folds, seed=seed)
    elif isinstance(ridge, str):
        raise ValueError(f"ridge must be a number or 'cv', got {ridge!r}")
    fit = als_complete(logit_matrix(data, eps), rank=rank, ridge=ridge)
    floor = data["floor"].to_numpy().astype(float)
    ceiling = data["ceiling"].to_numpy().astype(float)
    lower = data["lower"].to_numpy().astype(float)
    span = data["upper"].to_numpy().astype(float) - lower
    linear = linear_columns(data)
    point = _to_score(fit.values, floor, ceiling, linear)
    half = math.nan
    if conformal is not None:
        if errors is None:
            errors = fold_errors(data, rank=rank, ridge=ridge, eps=eps, folds=folds, seed=seed)
        half = conformal_quantile(errors, conformal)
    # The interval lives on the score scale, where a share cannot leave [0, 1] (a linear
    # column's z-score can).
    lo = np.where(linear, point - half, np.clip(point - half, 0.0, 1.0))
    hi = np.where(linear, point + half, np.clip(point + half, 0.0, 1.0))
    score = data["score"].to_numpy().astype(float)
    m, j = score.shape

    def raw(values: np.ndarray) -> np.ndarray:
        return (lower + values * span).ravel()

    frame = pd.DataFrame(
        {
            "model": np.repeat(data["model"].to_numpy().astype(str), j),
            "benchmark": np.tile(data["benchmark"].to_numpy().astype(str), m),
            "observed": raw(score),
            "mean": raw(point),
            "median": raw(point),
            "lower": raw(lo),
            "upper": raw(hi),
        }
    )
    frame.attrs.update(
        method=f"rank-{rank} ALS on squeezed logits (eps={eps}, ridge={ridge:g})",
        ridge=ridge,
        iterations=fit.iterations,
        converged=fit.converged,
        halfwidth=half,
    )
    return frame


def main(argv: Sequence[str] | None = None) -> int:
    """Complete a table with the baseline; print one line; write ``--out`` if given.

    Returns the exit status: 0, or 2 with a one-line ``error:`` for bad input (no file
    written).
    """
    from bayes_scaling.datasets import resolve_table
    from bayes_scaling.errors import BayesScalingError
    from bayes_scaling.io import atomic_path

    parser = argparse.ArgumentParser(
        description="Fill a table's missing cells by rank-r least squares on logit scores."
    )
    parser.add_argument("table", help="A bundled table name or a CSV/Parquet file.")
    parser.add_argument("--percent", action="store_true", help="Scores are on 0-100.")
    parser.add_argument("--rank", type=int, default=2)
    parser.add_argument("--ridge", default=str(RIDGE), help="A number, or 'cv' to tune it.")
    parser.add_argument("--conformal", type=float, help="Level of a cross-conformal interval.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="Write the filled table (CSV).")
    args = parser.parse_args(argv)
    if args.out is not None and args.out.suffix.lower() != ".csv":
        print(f"error: {args.out}: --out must be a .csv file", file=sys.stderr)
        return 2
    try:
        ridge = "cv" if args.ridge == "cv" else float(args.ridge)
    except ValueError:
        print(f"error: --ridge must be a number or 'cv', got {args.ridge!r}", file=sys.stderr)
        return 2
    try:
        data = resolve_table(args.table, percent=args.percent)
        frame = complete_baseline(
            data, rank=args.rank, ridge=ridge, conformal=args.conformal, seed=args.seed
        )
    except (BayesScalingError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.out is not None:
        with atomic_path(args.out) as tmp:
            frame.to_csv(tmp, index=False)
    missing = int(frame["observed"].isna().sum())
    print(
        f"{args.table}: {data.sizes['model']} models x {data.sizes['benchmark']} benchmarks, "
        f"{missing} cells filled; {frame.attrs['method']}, {frame.attrs['iterations']} sweeps"
        f"{'' if frame.attrs['converged'] else ' (not converged)'}, conformal half-width "
        f"{frame.attrs['halfwidth']:.3f} (score scale)",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
