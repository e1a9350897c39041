"""The prior of a model's capabilities given its family and its compute, in one place.

The PyMC graph (:mod:`bayes_scaling.model`), capability draws of unreleased models
(:func:`bayes_scaling.predictive.capability_from_compute`) and placing a new model
(:mod:`bayes_scaling.place`) all call :func:`capability_prior`. In decades of effective
compute (general axis) and unit-variance specialisations::

    known family f, compute x:  S ~ Normal(alpha_f + slope_f * x e_1, resid_sd)
    known family f, no compute: S ~ Normal(alpha_f, sqrt(resid_sd^2 + (slope_f x_sd)^2 e_1))
    new family, compute x:      S ~ Normal(x e_1, sqrt(resid_sd^2 + tau^2 + (x tau_slope)^2 e_1))
    new family, no compute:     S ~ Normal(0, sqrt(resid_sd^2 + tau^2 + x_sd^2 e_1))

where ``e_1`` picks the general axis, ``x`` is centred log10 FLOPs, and a family's effects
average zero over the fit's families of two or more models (a new family's effect is a
fresh draw). With release dates (an optional ``Release Date`` column) family efficiency
has a time trend: a family released ``t`` years after the fit's mean date has effect
``Normal(gamma t e_1, tau)``, ``gamma`` in decades per year (``time_trend``). A known
family's ``alpha`` includes its trend, so only a new family's prior reads ``t``: its
location gains ``gamma t e_1``, and an unknown date is integrated out like unknown compute
(``t ~ Normal(0, t_sd)``, the spread of the fit's family dates, adds ``(gamma t_sd)^2 e_1``
to the variance). :func:`family_dates` gives a family's date: the mean of its dated
members'. The graph places an undated family of the fit at the mean date. The graph gives a family of one model the "new family" prior, with its effect
integrated out, and draws the effect afterwards (:func:`bayes_scaling.model.build_model`):
the same joint distribution, so consumers read ``alpha`` as for any family. Unknown
compute is missing data, integrated out: ``x ~ Normal(0, x_sd)``, the spread of the fit's
known compute. A closed model so keeps its family's efficiency and is otherwise placed by
its benchmarks; it is not shrunk toward the open models' mean capability. A fit with no
compute at all has ``x_sd = 0``: no compute trend, and the general axis is measured by the
benchmarks alone. The graph samples the general axis in other units (the scale anchor's
logit, ``beta`` per decade); ``per_decade`` converts. Leave-one-model-out
(:mod:`bayes_scaling.compare`) reads the same layout with the family effect integrated out
given the family's other members (:func:`member_conditional_prior`).

Examples
--------
>>> import numpy as np
>>> loc, scale = capability_prior(
...     x=np.array([1.0, np.nan]), family_index=np.array([0, 0]),
...     alpha=np.array([[0.5, 0.0]]), tau=np.array([0.3, 0.4]),
...     resid_sd=np.array([0.2, 0.9]), x_sd=1.0)
>>> loc.tolist()
[[1.5, 0.0], [0.5, 0.0]]
>>> scale.round(3).tolist()
[[0.2, 0.9], [1.02, 0.9]]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytensor.tensor as pt


def capability_prior(
    x: np.ndarray,
    family_index: np.ndarray,
    alpha: Any,
    tau: Any,
    resid_sd: Any,
    x_sd: float,
    *,
    slope: Any = None,
    tau_slope: Any = None,
    per_decade: Any = 1.0,
    capabilities: int | None = None,
    t: np.ndarray | None = None,
    t_sd: float = 0.0,
    per_year: Any = None,
    resid_mult: Any = None,
    tau_mult: Any = None,
) -> tuple[Any, Any]:
    """Prior location and scale of models' capabilities.

    Works on numpy arrays (leading draw axes allowed) and on PyTensor tensors (the graph).

    Parameters
    ----------
    x : numpy.ndarray
        Centred log10 training FLOPs per model, shape (M,); NaN = unknown.
    family_index : numpy.ndarray
        Each model's family in ``alpha``, shape (M,); -1 = a family the fit does not hold.
    alpha : array or tensor
        Family effects, shape (..., F, K), in the units of the result.
    tau : array or tensor
        Sd of family effects, shape (..., K).
    resid_sd : array or tensor
        Sd of a model around its family's line, shape (..., K) (zero: compute-only law).
    x_sd : float
        Sd of log10 FLOPs over the fit's models (decades).
    slope : array or tensor, optional
        Family slopes on log-compute, shape (..., F) (``family_slopes`` specs); default one.
    tau_slope : array or tensor, optional
        Sd of family slopes around one, shape (...); used for a new family.
    per_decade : float, array or tensor
        Units of the general axis per decade of compute (one in decades; ``beta`` in the
        graph's sampling units), shape (...).
    capabilities : int, optional
        K, where ``tau``'s static shape does not say it (a graph tensor).
    t : numpy.ndarray, optional
        Per model, its family's release date in years from the fit's mean date, shape (M,);
        NaN = unknown. Read only for a family the fit does not hold.
    t_sd : float
        Sd of the fit's family release dates (years): the spread of an unknown date.
    per_year : array or tensor, optional
        The time trend of family efficiency, in the units of the general axis per year,
        shape (...); None = no trend.
    resid_mult, tau_mult : array or tensor, optional
        Per model, multipliers of the general axis's ``resid_sd`` and ``tau`` (of a family
        the fit does not hold), shape (..., M): a Student-t spec's scale-mixture weights,
        ``1 / sqrt(w)`` with ``w ~ Gamma(nu / 2, nu / 2)``. None = one.

    Returns
    -------
    loc, scale : array or tensor
        Shape (..., M, K).
    """
    xp: Any = pt if any(isinstance(v, pt.Variable) for v in (alpha, tau, resid_sd)) else np
    x = np.asarray(x, dtype=float)
    fi = np.asarray(family_index, dtype=np.int64)
    has = np.isfinite(x)
    known = fi >= 0
    x0 = np.where(has, x, 0.0)
    idx = np.where(known, fi, 0)
    k = capabilities or _last_dim(tau)
    e1 = np.zeros(k)
    e1[0] = 1.0
    if xp is np:
        alpha = np.asarray(alpha, dtype=float)
        alpha_f = np.take(alpha, idx, axis=-2)
        slope_f = 1.0 if slope is None else np.take(np.asarray(slope, dtype=float), idx, axis=-1)
        per_decade = np.asarray(per_decade, dtype=float)[..., None]
        tau_slope = None if tau_slope is None else np.asarray(tau_slope, dtype=float)[..., None]
    else:
        alpha_f = alpha[idx]
        slope_f = 1.0 if slope is None else slope[idx]
    tau2 = (tau**2)[..., None, :]
    resid2 = (resid_sd**2)[..., None, :]
    # Student-t tails: conditionally normal, with the general axis's variance scaled.
    if resid_mult is not None:
        resid2 = resid2 * general_variance_factor(resid_mult, e1)
    if tau_mult is not None:
        tau2 = tau2 * general_variance_factor(tau_mult, e1)
    trend = per_decade * x0  # (..., M)
    loc_known = alpha_f + (slope_f * trend)[..., None] * e1
    loc_new = trend[..., None] * e1
    new_var = resid2 + tau2
    if tau_slope is not None:
        new_var = new_var + ((trend * tau_slope) ** 2)[..., None] * e1
    # Unknown compute is integrated out: x ~ Normal(0, x_sd) adds its spread on the trend.
    spread2 = (per_decade * x_sd) ** 2 * np.ones(len(x))  # (..., M)
    blind_var = resid2 + tau2 + spread2[..., None] * e1
    closed_var = resid2 + (slope_f**2 * spread2)[..., None] * e1
    loc_blind: Any = 0.0
    if per_year is not None and t is not None:
        # A new family's efficiency follows the time trend (a known one's alpha holds it).
        t = np.asarray(t, dtype=float)
        dated = np.isfinite(t)
        if xp is np:
            per_year = np.asarray(per_year, dtype=float)[..., None]
        shift = (per_year * np.where(dated, t, 0.0))[..., None] * e1
        undated = ((per_year * t_sd) ** 2 * (~dated).astype(float))[..., None] * e1
        loc_new = loc_new + shift
        loc_blind = shift
        new_var = new_var + undated
        blind_var = blind_var + undated
    has_k, known_k = has[:, None], known[:, None]
    loc = xp.where(
        known_k, xp.where(has_k, loc_known, alpha_f), xp.where(has_k, loc_new, loc_blind)
    )
    # ``resid2 + 0 * tau2`` only broadcasts resid2 to the draws x models x K shape.
    var = xp.where(
        known_k,
        xp.where(has_k, resid2 + 0.0 * tau2, closed_var),
        xp.where(has_k, new_var, blind_var),
    )
    return loc, xp.sqrt(var)


def family_dates(
    release: np.ndarray, family_index: np.ndarray, n_families: int, centre: float
) -> np.ndarray:
    """Each family's release date: the mean of its dated members', minus ``centre``.

    Parameters
    ----------
    release : numpy.ndarray
        Per model, decimal years; NaN = unknown.
    family_index : numpy.ndarray
        Each model's family, 0 to ``n_families - 1``.
    n_families : int
    centre : float
        The fit's mean release date (decimal years).

    Returns
    -------
    numpy.ndarray
        Shape (n_families,), years from ``centre``; NaN for a family without any date.

    Examples
    --------
    >>> family_dates(np.array([2023.0, 2024.0, np.nan]), np.array([0, 0, 1]), 2, 2023.0)
    array([0.5, nan])
    """
    release = np.asarray(release, dtype=float)
    dated = np.isfinite(release)
    idx = np.asarray(family_index)[dated]
    total = np.bincount(idx, weights=release[dated], minlength=n_families)
    count = np.bincount(idx, minlength=n_families)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1) - centre, np.nan)


def member_conditional_prior(
    x: float | None,
    members: np.ndarray,
    members_x: np.ndarray,
    tau: np.ndarray,
    resid_sd: np.ndarray,
    x_sd: float,
    *,
    slope: np.ndarray | float = 1.0,
    alpha_mean: np.ndarray | float = 0.0,
    members_mult: np.ndarray | None = None,
    own_mult: np.ndarray | float = 1.0,
    tau_mult: np.ndarray | float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Prior of a model's capabilities given the *other* models of its family.

    Leave-one-model-out needs the model's prior without its own data. The family effect
    ``alpha_f`` of the fit's draws was learnt from the model too, so it is integrated out
    given the other members' capabilities, in the layout of :func:`capability_prior`:
    member ``j`` is ``Normal(alpha_f + slope_f x_j e_1, v_j)`` with ``v_j = resid_sd^2``
    (known compute) or ``resid_sd^2 + (slope_f x_sd)^2 e_1`` (unknown), and
    ``alpha_f ~ Normal(a_0, tau)`` per capability (``a_0``: the time trend at the family's
    date, else zero). Then ``alpha_f`` given the members is
    Normal(``m``, ``1 / sqrt(P)``) with ``P = 1 / tau^2 + sum_j 1 / v_j`` and
    ``m = (a_0 / tau^2 + sum_j (S_j - slope_f x_j e_1) / v_j) / P``, and the model is
    ``Normal(m + slope_f x e_1, sqrt(v + 1 / P))``. The fit's family effects sum to zero over
    families; treating ``alpha_f`` as free of the other families is an approximation, which
    PSIS's importance ratios absorb (its prior variance is ``tau^2 (1 - 1/F)`` with ``F``
    families, not ``tau^2``).

    Parameters
    ----------
    x : float or None
        The model's centred log10 FLOPs; None = unknown.
    members : numpy.ndarray
        The other members' capabilities, shape (..., N, K), decades.
    members_x : numpy.ndarray
        Their centred log10 FLOPs, shape (N,); NaN = unknown.
    tau, resid_sd : numpy.ndarray
        Shape (..., K): family-effect sd and sd around the family line (positive).
    x_sd : float
        Sd of log10 FLOPs over the fit's models.
    slope : numpy.ndarray or float
        The family's slope on log-compute, shape (...) (default one).
    alpha_mean : numpy.ndarray or float
        Prior mean of the family effect, shape (..., K) (the time trend at the family's
        release date; default zero).
    members_mult, own_mult, tau_mult : numpy.ndarray or float
        Student-t specs: multipliers of the general axis's ``resid_sd`` for each member,
        shape (..., N), and for the model, shape (...), and of its ``tau`` for the family,
        shape (...) (see :func:`capability_prior`); default one.

    Returns
    -------
    loc, scale : numpy.ndarray
        Shape (..., K).

    Examples
    --------
    >>> loc, scale = member_conditional_prior(
    ...     1.0, np.array([[0.5, 0.2]]), np.array([0.0]),
    ...     tau=np.array([1.0, 1.0]), resid_sd=np.array([1.0, 1.0]), x_sd=1.0)
    >>> loc.tolist(), scale.round(3).tolist()
    ([1.25, 0.1], [1.225, 1.225])
    """
    members = np.asarray(members, dtype=float)
    members_x = np.asarray(members_x, dtype=float)
    tau2 = np.asarray(tau, dtype=float) ** 2
    resid2 = np.asarray(resid_sd, dtype=float) ** 2
    slope = np.asarray(slope, dtype=float)[..., None]
    k = tau2.shape[-1]
    e1 = np.zeros(k)
    e1[0] = 1.0

    tau2 = tau2 * general_variance_factor(np.asarray(tau_mult, dtype=float), e1)
    members_resid2 = resid2[..., None, :]
    if members_mult is not None:
        members_resid2 = members_resid2 * general_variance_factor(
            np.asarray(members_mult, dtype=float), e1
        )
    resid2 = resid2 * general_variance_factor(np.asarray(own_mult, dtype=float), e1)
    has = np.isfinite(members_x)
    # (..., N, K): each member's residual from the family effect and its variance.
    trend = slope[..., None] * np.where(has, members_x, 0.0)[:, None] * e1
    var = members_resid2 + (~has)[:, None] * (slope[..., None] * x_sd) ** 2 * e1
    precision = 1.0 / tau2 + (1.0 / var).sum(axis=-2)
    mean = (np.asarray(alpha_mean, dtype=float) / tau2 + ((members - trend) / var).sum(axis=-2)) / (
        precision
    )
    if x is None:
        own_var = resid2 + (slope * x_sd) ** 2 * e1
        loc = mean
    else:
        own_var = resid2 + 0.0 * tau2
        loc = mean + slope * x * e1
    return loc, np.sqrt(own_var + 1.0 / precision)


def general_variance_factor(mult: Any, e1: np.ndarray) -> Any:
    """Variance factors of an sd multiplier of the general axis: ``mult^2`` there, one elsewhere.

    ``mult`` has shape (..., M) (array or tensor); the result (..., M, K).

    Examples
    --------
    >>> general_variance_factor(np.array([2.0, 1.0]), np.array([1.0, 0.0])).tolist()
    [[4.0, 1.0], [1.0, 1.0]]
    """
    return 1.0 + (mult**2 - 1.0)[..., None] * e1


def mixture_sd_multipliers(
    dof: float, shape: int | tuple[int, ...], rng: np.random.Generator
) -> np.ndarray:
    """Draws of a Student-t's scale-mixture sd multiplier, ``1 / sqrt(w)``.

    ``w ~ Gamma(dof / 2, rate dof / 2)``, the weights a Student-t spec gives a new model or
    a new family (``resid_mult``, ``tau_mult`` of :func:`capability_prior`): normal given
    ``w``, a t with ``dof`` degrees of freedom over the draws.

    Examples
    --------
    >>> mixture_sd_multipliers(4.0, (2, 3), np.random.default_rng(0)).shape
    (2, 3)
    """
    return 1.0 / np.sqrt(rng.gamma(dof / 2.0, 2.0 / dof, shape))


def _last_dim(a: Any) -> int:
    if isinstance(a, pt.Variable):
        return int(a.type.shape[-1])
    return int(np.shape(a)[-1])
