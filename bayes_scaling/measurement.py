"""The measurement layer of the capability model, in one place.

Every consumer of the model's link and likelihood calls this module: the PyMC graph
(:mod:`bayes_scaling.model`), the posterior predictive draws
(:mod:`bayes_scaling.predictive`), the held-out log-likelihood
(:mod:`bayes_scaling.compare`), placing a new model (:mod:`bayes_scaling.place`), the
simulator (:mod:`bayes_scaling.simulate`) and the plots. Changing the measurement
distribution is a change here and nowhere else; ``tests/test_consistency.py`` checks every
consumer against the graph's log density.

The layer, for a cell of column ``c`` with linear predictor ``eta``::

    p      = floor_c + (ceiling_c - floor_c) * sigmoid(eta)     the floored sigmoid link
    phi_c  = max(1 / (2 noise_c)^2 - 1, 1)                       Beta precision
    counts ~ BetaBinomial(n_c, p phi, (1 - p) phi)               a column with n_c items
             (Binomial(n_c, p) for the "binomial" measurement; for the default
             "beta-binomial-normal", a count of >= 10 successes and failures with a
             share in [0.1, 0.9] is scored by its moment-matched normal, see
             approx_counts_logp, and drawn exactly)
    score  ~ Beta(p phi, (1 - p) phi)                            a continuous column
    z      ~ Normal(eta, 2 / sqrt(phi + 1))                      a linear column

A linear column (an Elo rating, dollars; ``linear`` below) is not a bounded share: its
score is the z-score of the raw value (see :func:`bayes_scaling.data.read_table`), the
link is the identity, and the measurement normal, with sd ``4 noise``: the logit-scale
sd that the same noise gives a share at its midpoint, so one noise prior serves both.

``noise`` is the sd of a score at p = 0.5 beyond item sampling: ``rho = (2 noise)^2`` is the
beta-binomial's intra-class correlation. A noise above 0.5 would make an impossible Beta,
so ``phi`` is floored at 1.

The log densities are PyTensor expressions (``pm.logp`` of the same distributions the
graph observes), compiled once per process into numpy-callable kernels; ``place`` gets its
gradient and curvature in ``eta`` from them by automatic differentiation. Random draws use
numpy with the caller's generator, so the same seed gives the same numbers.

Examples
--------
>>> import numpy as np
>>> p = expected_score(np.array([0.0]), np.array([0.25]), np.array([1.0]))
>>> p.tolist()
[0.625]
>>> round(float(precision(np.array(0.05))), 6)
99.0
>>> ll = log_density(np.array([0.5]), np.array([10.0]), np.array([[0.5]]), np.array([[99.0]]))
>>> ll.shape
(1, 1)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
from pytensor.compile.mode import Mode
from scipy.special import expit

#: Continuous scores are squeezed into (EPS, 1 - EPS) so that exact 0 and 1 stay finite.
EPS = 1e-3
#: Expected scores are kept in (P_CLIP, 1 - P_CLIP) so that (1 - p) phi stays positive in
#: float64 when eta is large (prior predictive draws reach that corner).
P_CLIP = 1e-9

#: Kernels run on PyTensor's C backend: compiled once per machine (disk cache), and the
#: numba backend runs trigamma (the curvature of the Beta terms) in object mode, 500x slower.
_KERNEL_MODE = Mode(linker="cvm", optimizer="fast_run")

Measurement = Literal["beta-binomial", "binomial", "beta-binomial-normal"]
MEASUREMENTS: tuple[str, ...] = ("beta-binomial", "binomial", "beta-binomial-normal")
#: ``beta-binomial-normal`` fits a count by its moment-matched normal when it has at least
#: this many successes and this many failures (the textbook rule for a binomial's normal
#: approximation) ...
NORMAL_MIN_COUNT = 10
#: ... and its share is at least this far from 0 and 1: near a bound the Beta part of the
#: beta-binomial is skewed however many items there are (at 10 of GSM8K's 1,319 items
#: the normal moved GSM8K's intercept by 1.2 posterior sds), and by the exact one otherwise.
NORMAL_MIN_SHARE = 0.1


def _is_tensor(*values: Any) -> bool:
    return any(isinstance(v, pt.Variable) for v in values)


# ------------------------------------------------------------------------------ link
def expected_score(eta: Any, floor: Any, ceiling: Any, linear: Any = None) -> Any:
    """The floored sigmoid link: expected score on the [0, 1] scale.

    Works on numpy arrays and on PyTensor tensors alike (the graph calls it).

    Parameters
    ----------
    eta : array or tensor
        Linear predictor (logit scale).
    floor, ceiling : array or tensor
        The column's floor (chance level, or a target's learnt floor) and ceiling,
        broadcasting against ``eta``.
    linear : numpy.ndarray of bool, optional
        Columns (last axis) that are linear: there the link is the identity, ``eta``.

    Returns
    -------
    array or tensor
        ``floor + (ceiling - floor) * sigmoid(eta)``, clipped to ``(P_CLIP, 1 - P_CLIP)``;
        ``eta`` in linear columns.

    Examples
    --------
    >>> expected_score(np.array([-50.0, 50.0]), 0.25, 1.0).round(6).tolist()
    [0.25, 1.0]
    >>> expected_score(np.array([-50.0, 2.0]), 0.0, 1.0, np.array([False, True])).tolist()
    [1e-09, 2.0]
    """
    if _is_tensor(eta, floor, ceiling):
        p = pt.clip(floor + (ceiling - floor) * pt.sigmoid(eta), P_CLIP, 1 - P_CLIP)
        return p if linear is None or not np.any(linear) else pt.where(linear, eta, p)
    p = np.clip(floor + (ceiling - floor) * expit(eta), P_CLIP, 1 - P_CLIP)
    return p if linear is None or not np.any(linear) else np.where(linear, eta, p)


def linear_sd(phi: Any) -> Any:
    """Sd of a linear column's z-score around its expected value: ``2 / sqrt(phi + 1)``.

    That is ``4 noise`` for the precision ``phi`` of :func:`precision`.

    Examples
    --------
    >>> round(float(linear_sd(precision(np.array(0.05)))), 6)
    0.2
    """
    return 2.0 / (pt.sqrt(phi + 1.0) if _is_tensor(phi) else np.sqrt(np.asarray(phi) + 1.0))


def precision(noise: Any) -> Any:
    """Beta precision ``phi = max(1 / (2 noise)^2 - 1, 1)`` of a column's noise sd.

    Examples
    --------
    >>> float(precision(np.array(0.6)))
    1.0
    """
    if _is_tensor(noise):
        return pt.maximum(1.0 / (2.0 * noise) ** 2 - 1.0, 1.0)
    return np.maximum(1.0 / (2.0 * np.asarray(noise, dtype=float)) ** 2 - 1.0, 1.0)


def linear_predictor(intercept: Any, weights: Any, capability: Any) -> Any:
    """``intercept + sum_k capability_k * weights_k`` by broadcasting over the last axis.

    ``capability`` has the capability axis last and is already centred (the model reads
    ``S_m - mean_m S``); ``weights`` has (column, capability) as its last two axes and
    ``intercept`` the column axis last. A broadcast sum, not a BLAS product: a BLAS
    product's last bits depend on its thread count, and a fit must not.

    Examples
    --------
    >>> linear_predictor(np.array([1.0, 0.0]), np.array([[1.0], [2.0]]), np.array([[0.5]]))
    array([[1.5, 1. ]])
    """
    if _is_tensor(intercept, weights, capability) or np.shape(capability)[-1] >= 8:
        return intercept + (capability[..., None, :] * weights).sum(axis=-1)
    # In numpy, one capability at a time: the broadcast product is (sample, model, column,
    # capability) at once, 2.9 GB for 2,000 draws of 5,000 models on 12 benchmarks.
    # Below 8 terms numpy's sum adds them in order, so this keeps every bit of it.
    capability = np.asarray(capability)
    weights = np.asarray(weights)
    total = capability[..., None, 0] * weights[..., 0]
    for k in range(1, capability.shape[-1]):
        total = total + capability[..., None, k] * weights[..., k]
    return intercept + total


# ------------------------------------------------------------------------------ values
def observed_value(
    y: np.ndarray, n_items: np.ndarray, linear: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """What the likelihood sees of scores ``y``: counts of items, or squeezed scores.

    Parameters
    ----------
    y : numpy.ndarray
        Scores on the [0, 1] scale.
    n_items : numpy.ndarray
        Item count of each score's column (broadcasting against ``y``); NaN = continuous.
    linear : numpy.ndarray of bool, optional
        Linear columns (broadcasting against ``y``): their z-scores are taken as they are.

    Returns
    -------
    value : numpy.ndarray
        ``round(y * n)`` clipped to ``[0, n]`` where counted, ``y`` where linear,
        ``clip(y, EPS, 1 - EPS)`` elsewhere (float).
    n : numpy.ndarray
        Item counts as float, 1 where continuous.

    Examples
    --------
    >>> observed_value(np.array([0.52, 1.0]), np.array([10.0, np.nan]))[0].tolist()
    [5.0, 0.999]
    """
    y = np.asarray(y, dtype=float)
    n_items = np.broadcast_to(np.asarray(n_items, dtype=float), y.shape)
    counted = np.isfinite(n_items)
    n = np.where(counted, n_items, 1.0)
    value = np.where(counted, np.clip(np.round(y * n), 0, n), np.clip(y, EPS, 1 - EPS))
    if linear is not None:
        value = np.where(np.broadcast_to(linear, y.shape), y, value)
    return value, n


# ------------------------------------------------------------------------------ graph
#: The three kinds of cell: counts of items, continuous shares, linear z-scores.
Kind = Literal["count", "share", "linear"]
KINDS: tuple[Kind, ...] = ("count", "share", "linear")


def cell_kinds(n_items: np.ndarray, linear: np.ndarray | None = None) -> np.ndarray:
    """The kind of each column (or cell) from its item count and linear flag.

    Examples
    --------
    >>> cell_kinds(np.array([10.0, np.nan, np.nan]), np.array([False, False, True])).tolist()
    ['count', 'share', 'linear']
    """
    n_items = np.asarray(n_items, dtype=float)
    kinds = np.where(np.isfinite(n_items), "count", "share").astype(object)
    if linear is not None:
        kinds = np.where(np.broadcast_to(linear, n_items.shape), "linear", kinds)
    return kinds


def _distribution(
    kind: Kind, measurement: str, p: Any, phi: Any, n: Any
) -> tuple[Any, dict[str, Any]]:
    if kind == "count":
        if measurement == "binomial":
            return pm.Binomial, {"n": n, "p": p}
        if measurement == "beta-binomial-normal":
            return _ApproxCounts, {"p": p, "phi": phi, "n": n}
        return pm.BetaBinomial, {"alpha": p * phi, "beta": (1 - p) * phi, "n": n}
    if kind == "linear":
        return pm.Normal, {"mu": p, "sigma": linear_sd(phi)}
    return pm.Beta, {"alpha": p * phi, "beta": (1 - p) * phi}


def approx_counts_logp(value: Any, p: Any, phi: Any, n: Any) -> pt.TensorVariable:
    """Log density of counts under ``beta-binomial-normal`` (PyTensor).

    A count with at least :data:`NORMAL_MIN_COUNT` successes and as many failures, and
    a share ``y`` in ``[NORMAL_MIN_SHARE, 1 - NORMAL_MIN_SHARE]``, is scored by the
    normal with the beta-binomial's mean ``n p`` and its variance
    ``n y (1 - y) (phi + n) / (phi + 1)`` at the observed share, evaluated at the count
    (a unit-width bin, so it approximates the probability of that count); every other
    count by the exact beta-binomial. Which cells are approximated depends on the
    observed counts only. The exact terms' log-gamma functions and their digamma
    gradients were half of a gradient's cost; on the bundled base table 725 of 857
    counts take the normal.

    Examples
    --------
    >>> from scipy import stats
    >>> v = pt.as_tensor(np.array([500, 3]))
    >>> ll = approx_counts_logp(v, pt.as_tensor(np.array([0.45, 0.5])), 99.0,
    ...                         pt.as_tensor(np.array([1000, 10]))).eval()
    >>> sd = np.sqrt(1000 * 0.25 * (99 + 1000) / 100)
    >>> bool(np.isclose(ll[0], stats.norm.logpdf(500, 450, sd)))
    True
    >>> bool(np.isclose(ll[1], stats.betabinom.logpmf(3, 10, 49.5, 49.5)))
    True
    """
    value, p, phi, n = pt.broadcast_arrays(value, p, phi, n)
    lo, hi = NORMAL_MIN_SHARE * n, (1 - NORMAL_MIN_SHARE) * n
    big = (
        (value >= NORMAL_MIN_COUNT)
        & (n - value >= NORMAL_MIN_COUNT)
        & (value >= lo)
        & (value <= hi)
    )
    (small_i,) = pt.nonzero(~big)
    (big_i,) = pt.nonzero(big)
    ps, phis = p[small_i], phi[small_i]
    exact = pm.logp(
        pm.BetaBinomial.dist(alpha=ps * phis, beta=(1 - ps) * phis, n=n[small_i]),
        value[small_i],
    )
    pb, phib, nb, vb = p[big_i], phi[big_i], n[big_i], value[big_i]
    # The variance at the observed share, not at p: a variance that shrinks with p puts
    # a 1/p wall in the tails, where the exact density's wall is log p, and a chain
    # started there stalls (1,023 leapfrog steps a draw on the base table).
    share = vb / nb
    var = nb * share * (1 - share) * (phib + nb) / (phib + 1)
    z = vb - nb * pb
    normal = -0.5 * (z * z / var + pt.log(var) + np.log(2 * np.pi))
    ll = pt.zeros(value.shape, dtype="float64")
    ll = pt.set_subtensor(ll[small_i], exact)
    return pt.set_subtensor(ll[big_i], normal)


def _exact_counts(p: Any, phi: Any, n: Any, size: Any) -> Any:
    """Draws of ``beta-binomial-normal`` counts: the exact beta-binomial."""
    return pm.BetaBinomial.dist(alpha=p * phi, beta=(1 - p) * phi, n=n, size=size)


class _ApproxCounts:
    """``beta-binomial-normal`` counts as a PyMC distribution.

    The log density is :func:`approx_counts_logp`; random draws (prior and posterior
    predictive) are the exact beta-binomial's, as in :func:`draw`.
    """

    @staticmethod
    def _kwargs() -> dict[str, Any]:
        return {"dist": _exact_counts, "logp": approx_counts_logp, "dtype": "int64"}

    def __new__(cls, name: str, *, p: Any, phi: Any, n: Any, **kwargs: Any) -> Any:
        return pm.CustomDist(name, p, phi, n, **cls._kwargs(), **kwargs)

    @classmethod
    def dist(cls, *, p: Any, phi: Any, n: Any) -> Any:
        return pm.CustomDist.dist(p, phi, n, **cls._kwargs())


def observe(
    name: str,
    kind: Kind,
    measurement: str,
    p: pt.TensorVariable,
    phi: pt.TensorVariable,
    y: np.ndarray,
    n_items: np.ndarray,
    dims: str,
) -> pt.TensorVariable:
    """Register observed scores in the current PyMC model.

    Parameters
    ----------
    name : str
        Variable name (``y_count``, ``y_cont`` or ``y_lin`` in the capability model).
    kind : {"count", "share", "linear"}
        What all the cells are: counts of items, continuous shares or linear z-scores.
    measurement : {"beta-binomial", "binomial", "beta-binomial-normal"}
        The spec's measurement of counts; continuous cells are Beta in both.
    p, phi : tensor
        Expected score and precision of each cell.
    y : numpy.ndarray
        Observed scores on the [0, 1] scale (z-scores where linear).
    n_items : numpy.ndarray
        Item counts of the cells (ignored when continuous).
    dims : str
        The observation dim.
    """
    counted = kind == "count"
    value, n = observed_value(
        y, n_items if counted else np.full(len(y), np.nan), np.full(len(y), kind == "linear")
    )
    if counted:
        value, n = value.astype(np.int64), n.astype(np.int64)
    cls, params = _distribution(kind, measurement, p, phi, n)
    return cls(name, **params, observed=value, dims=dims)


# ------------------------------------------------------------------------------ kernels
def _logp_expr(
    kind: Kind, measurement: str, value: Any, n: Any, p: Any, phi: Any
) -> pt.TensorVariable:
    cls, params = _distribution(kind, measurement, p, phi, n)
    return pm.logp(cls.dist(**params), value)


@functools.cache
def _kernel(kind: Kind, measurement: str, derivatives: bool) -> Callable[..., Any]:
    """A compiled elementwise log density, in ``p`` or (with derivatives) in ``eta``."""
    value = pt.lvector("value") if kind == "count" else pt.dvector("value")
    n = pt.lvector("n")
    phi = pt.dvector("phi")
    if not derivatives:
        p = pt.dvector("p")
        ll = _logp_expr(kind, measurement, value, n, p, phi)
        return pytensor.function(
            [value, n, p, phi], ll, on_unused_input="ignore", mode=_KERNEL_MODE
        )
    eta = pt.dvector("eta")
    floor = pt.dvector("floor")
    ceiling = pt.dvector("ceiling")
    p = eta if kind == "linear" else expected_score(eta, floor, ceiling)
    ll = _logp_expr(kind, measurement, value, n, p, phi)
    # Each cell's density depends on its own eta only: the gradient of the sum is the
    # vector of first derivatives, and its gradient the diagonal of second derivatives.
    d1 = pt.grad(ll.sum(), eta)
    d2 = pt.grad(d1.sum(), eta)
    return pytensor.function(
        [value, n, eta, floor, ceiling, phi],
        [ll, d1, d2],
        on_unused_input="ignore",
        mode=_KERNEL_MODE,
    )


def log_density(
    y: np.ndarray,
    n_items: np.ndarray,
    p: np.ndarray,
    phi: np.ndarray,
    measurement: str = "beta-binomial",
    linear: np.ndarray | None = None,
) -> np.ndarray:
    """Log density of observed scores given expected scores and precisions (numpy).

    The same densities the graph observes (``pm.logp`` of the same distributions),
    including their normalising constants.

    Parameters
    ----------
    y : numpy.ndarray
        Scores on the [0, 1] scale, shape (n,).
    n_items : numpy.ndarray
        Item count of each score's column, shape (n,); NaN = continuous.
    p, phi : numpy.ndarray
        Expected scores (already through the link) and precisions, broadcasting to
        (..., n): one row per posterior draw, say.
    measurement : {"beta-binomial", "binomial", "beta-binomial-normal"}
        The spec's measurement of counts.
    linear : numpy.ndarray of bool, optional
        Linear columns, shape (n,): ``y`` and ``p`` are z-scores there.

    Returns
    -------
    numpy.ndarray
        The broadcast shape of ``p`` and ``phi`` against (n,).

    Examples
    --------
    >>> from scipy import stats
    >>> ll = log_density(np.array([0.5]), np.array([10.0]), np.array([[0.5]]), np.array([[24.0]]))
    >>> bool(np.isclose(ll[0, 0], stats.betabinom.logpmf(5, 10, 12.0, 12.0)))
    True
    """
    p = np.asarray(p, dtype=float)
    share = np.clip(p, P_CLIP, 1 - P_CLIP)
    p = share if linear is None else np.where(linear, p, share)
    shape = np.broadcast_shapes(np.shape(p), np.shape(phi), np.shape(y))
    (ll,) = _by_kind(y, n_items, linear, measurement, False, shape, p, phi)
    return ll


def log_density_eta(
    y: np.ndarray,
    n_items: np.ndarray,
    eta: np.ndarray,
    floor: np.ndarray,
    ceiling: np.ndarray,
    phi: np.ndarray,
    measurement: str = "beta-binomial",
    linear: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log density in the linear predictor, with its first and second derivatives.

    Derivatives by automatic differentiation of the same expression as
    :func:`log_density`; ``place`` uses them to find each draw's posterior mode.

    Parameters
    ----------
    y, n_items : numpy.ndarray
        Scores and item counts, shape (n,) (see :func:`log_density`).
    eta : numpy.ndarray
        Linear predictor, shape (..., n).
    floor, ceiling, phi : numpy.ndarray
        Broadcasting against ``eta``.
    measurement : {"beta-binomial", "binomial", "beta-binomial-normal"}
    linear : numpy.ndarray of bool, optional
        Linear columns, shape (n,) (identity link, normal measurement).

    Returns
    -------
    tuple of numpy.ndarray
        Elementwise log density, d/d eta and d^2/d eta^2, each shaped like ``eta``.

    Examples
    --------
    >>> ll, d1, d2 = log_density_eta(np.array([0.5]), np.array([10.0]), np.array([0.0]),
    ...                              np.array([0.0]), np.array([1.0]), np.array([24.0]))
    >>> round(float(d1[0]), 9), bool(d2[0] < 0)
    (0.0, True)
    """
    eta = np.asarray(eta, dtype=float)
    ll, d1, d2 = _by_kind(
        y, n_items, linear, measurement, True, eta.shape, eta, floor, ceiling, phi
    )
    return ll, d1, d2


def _by_kind(
    y: np.ndarray,
    n_items: np.ndarray,
    linear: np.ndarray | None,
    measurement: str,
    derivatives: bool,
    shape: tuple[int, ...],
    *args: Any,
) -> list[np.ndarray]:
    """Run the compiled kernels on each kind of cell, broadcast to ``shape``.

    ``args`` are the kernel's inputs after the observed values and item counts (``p, phi``,
    or ``eta, floor, ceiling, phi``); the kernels take flat vectors of one kind each.
    """
    y = np.asarray(y, dtype=float)
    n_items = np.asarray(n_items, dtype=float)
    value, n = observed_value(y, n_items, linear)
    args_b = [np.broadcast_to(np.asarray(a, dtype=float), shape) for a in args]
    outs = [np.empty(shape) for _ in range(3 if derivatives else 1)]
    kinds = cell_kinds(n_items, linear)
    for kind in KINDS:
        sel = kinds == kind
        if not sel.any():
            continue
        v = np.broadcast_to(value[sel], (*shape[:-1], int(sel.sum())))
        nn = np.broadcast_to(n[sel], v.shape)
        fn = _kernel(kind, measurement, derivatives)
        res = fn(
            v.ravel().astype(np.int64) if kind == "count" else v.ravel(),
            nn.ravel().astype(np.int64),
            *(np.ascontiguousarray(a[..., sel]).ravel() for a in args_b),
        )
        res = [res] if not derivatives else res
        for out, r in zip(outs, res, strict=True):
            out[..., sel] = np.asarray(r).reshape(v.shape)
    return outs


# ------------------------------------------------------------------------------ draws
def draw(
    p: np.ndarray,
    phi: np.ndarray,
    n_items: np.ndarray,
    rng: np.random.Generator,
    measurement: str = "beta-binomial",
    linear: np.ndarray | None = None,
) -> np.ndarray:
    """Random scores on the [0, 1] scale from the measurement layer (numpy).

    Parameters
    ----------
    p, phi : numpy.ndarray
        Expected scores and precisions, broadcasting to (..., n).
    n_items : numpy.ndarray
        Item count of each column, shape (n,); NaN = continuous.
    rng : numpy.random.Generator
        Source of randomness (same seed, same draws).
    measurement : {"beta-binomial", "binomial", "beta-binomial-normal"}
    linear : numpy.ndarray of bool, optional
        Linear columns, shape (n,): normal z-scores around ``p`` there.

    Returns
    -------
    numpy.ndarray
        Counts divided by their items where counted, normal draws where linear, Beta
        draws elsewhere.

    Examples
    --------
    >>> s = draw(np.full((4000, 1), 0.5), np.array([99.0]), np.array([100.0]),
    ...          np.random.default_rng(0))
    >>> bool(abs(s.mean() - 0.5) < 0.01)
    True
    """
    n_items = np.asarray(n_items, dtype=float)
    shape = np.broadcast_shapes(np.shape(p), np.shape(phi), n_items.shape)
    if linear is not None and np.any(linear):
        lin = np.broadcast_to(linear, n_items.shape)
        share = draw(np.where(lin, 0.5, p), phi, n_items, rng, measurement)
        # Every cell goes through the share draw (linear ones at a dummy p), so its random
        # stream does not depend on which columns are linear.
        z = np.asarray(p, dtype=float) + linear_sd(phi) * rng.normal(size=shape)
        return np.where(lin, z, share)
    pp = np.broadcast_to(np.clip(np.asarray(p, dtype=float), P_CLIP, 1 - P_CLIP), shape)
    phi = np.broadcast_to(np.asarray(phi, dtype=float), shape)
    counted = np.isfinite(n_items)
    binomial = measurement == "binomial"
    if binomial and counted.all():
        latent = pp
    else:
        # The Beta step: a score's own deviation beyond item sampling.
        latent = rng.beta(pp * phi, (1 - pp) * phi)
    if not counted.any():
        return latent
    n_int = np.where(counted, n_items, 1).astype(np.int64)
    q = np.where(counted, pp, latent) if binomial else latent
    counts = rng.binomial(np.broadcast_to(n_int, shape), q)
    return np.where(counted, counts / n_int, latent)


def count_as_density(loglik: Any, n_items: float | None) -> Any:
    """A count's log probability as a log density on the [0, 1] scale of its share.

    ``k`` of ``n`` items stands for the share ``k / n`` and the bin of width ``1 / n``
    around it, so its probability is a density times ``1 / n``: adding ``log n`` makes a
    count target's log score comparable with a share's (and with a Gaussian's). Shares
    (``n_items`` None) pass through.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import stats
    >>> n, p = 2000, 0.3
    >>> ll = count_as_density(stats.binom.logpmf(600, n, p), n)
    >>> bool(np.isclose(ll, stats.norm.logpdf(0.3, p, np.sqrt(p * (1 - p) / n)), atol=1e-3))
    True
    """
    if n_items is None or not np.isfinite(n_items):
        return loglik
    return loglik + np.log(float(n_items))
