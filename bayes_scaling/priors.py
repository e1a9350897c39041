"""Every prior of the capability model, in one place.

The model (see :mod:`bayes_scaling.model` and ``docs/model.md``) is

.. code-block:: text

    p_mj    = floor_j + (ceiling_j - floor_j) * sigmoid(b_j + lambda_j . (S_m - mean(S)))
    S_m1    ~ Normal(alpha_f(m),1 + x_m, sigma)           (x_m = centred log10 FLOPs)
    S_mk    ~ Normal(alpha_f(m),k, sqrt(1 - share_k))   (k = 2..K, specialisations)
    S_m     ~ population marginal                       (models without compute)
    alpha_f = tau * z_f,  z ~ ZeroSumNormal over families (new families: Normal(0, tau))
    tau_k   = sqrt(share_k), share_k ~ Beta(a, b)       (k = 2..K)

The general capability S_1 is measured in *decades of effective compute*: its slope on
log10 FLOPs is fixed to one, so ``alpha_f`` is directly a family's compute efficiency in
decades, and ``sigma`` is the spread of models around their family's line. The
specialisation axes 2..K have unit total variance, split between families (``share``)
and models. These choices pin the scale of every axis, and the loadings carry the units. Every default below is *weakly informative on the logit
scale*: a prior predictive check (``tests/test_model_graph.py``) shows the implied
scores spread over [floor, 1] without piling up at either edge.

Examples
--------
>>> Priors().sigma_sd
1.0
>>> Priors(noise_median=0.01).noise_median
0.01
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Priors:
    """Hyper-parameters of the capability model's priors.

    Attributes
    ----------
    sigma_sd : float
        Half-normal scale of ``sigma``, the residual sd (decades) of a model's general
        capability around its family's compute line.
    tau_sd : float
        Half-normal scale of ``tau``, the sd of family intercepts (per capability; decades
        of compute for the general axis).
    family_share_a, family_share_b : float
        Beta prior of a specialisation's share of variance between families (the rest is
        between models of a family); ``tau`` of a specialisation is its square root.
    time_trend_sd : float
        Normal scale (around zero) of the time trend in family efficiency, in decades of
        effective compute per year of release date; used only when the data have a
        ``Release Date`` column. Measured algorithmic progress in language models is about
        0.5 decades per year (compute efficiency tripling yearly), one prior sd.
    tail_dof : float
        Degrees of freedom of the Student-t family effects and model deviations of
        ``tails = "student-t"`` specs. At 4 the variance is finite and a deviation of five
        scale units costs 5.0 nats of log density against 12.5 under a normal, so one
        odd value is explained as an outlier rather than by a wider spread.
    target_slope_dof : float
        Degrees of freedom of a downstream target's log general weight around the
        benchmarks' loading population in ``target_slopes = "student-t"`` specs. At 3 a
        target five population sds from the mean costs 4.5 nats of prior log density
        against 12.5 under a normal.
    tau_slope_sd : float
        Half-normal scale of the sd of family-specific slopes (``family_slopes`` specs).
    intercept_mu_sd : float
        Normal scale of the mean benchmark intercept ``mu_b`` (logit units).
    intercept_sd : float
        Half-normal scale of the spread ``sd_b`` of benchmark intercepts around ``mu_b``.
    loading_median : float
        Prior median of the general-capability loadings, logit units per decade of
        effective compute (log-normal, pooled across benchmarks and downstream targets;
        positive so that every benchmark rises with the general axis).
    loading_log_sd : float
        Half-normal scale of the spread of log general loadings across benchmarks.
    specific_loading_sd : float
        Normal scale of the loadings on capabilities 2..K other than the axes' anchors
        (shrinks them to 0), and of downstream targets' weights on those axes.
    anchor_loading_sd : float
        Normal scale of a specialisation anchor's loading on its own axis (logit units
        per sd of the specialisation).
    noise_median : float
        Prior median of the per-benchmark protocol noise: the sd of a score at p = 0.5
        beyond binomial sampling, from prompt formats and harness versions (2 points).
    noise_floor : float
        Smallest protocol noise allowed (half a point): without it one benchmark can be
        "explained perfectly" by a specialisation axis (a Heywood case) and chains split.
    noise_log_sd : float
        Normal scale of each benchmark's log noise (beyond the floor) around
        ``log(noise_median)``: one unit spans roughly 0.7 to 5.4 points at two sd.
    target_intercept_sd : float
        Normal scale of a downstream target's intercept (logit units).
    target_noise_median : float
        Prior median of a downstream target's noise sd (on its [0, 1] scale); the part
        above ``noise_floor`` is log-normal with scale 0.7. Must exceed ``noise_floor``.
    target_spread_sd : float
        Half-normal scale of a target's per-model deviation from its sigmoid, on the logit
        scale (what the target measures beyond the capabilities).
    target_residual_sd : float
        Half-normal scale of the shared sd of a target's weights on the benchmarks'
        residual logits (what a model scores on each benchmark beyond its capabilities).
    target_floor_b : float
        A target's effective floor sits above its declared one by a share of the range
        with prior ``Beta(1, target_floor_b)`` (mean ``1 / (1 + b)``): answer extraction
        or guessing gives the weakest models a few points that no capability explains. In
        a ``target_floor = "around-chance"`` spec the floor is a share of ``[0, ceiling]``
        with prior ``Beta(1 + c (b - 1), 1 + (1 - c) (b - 1))``, ``c`` the declared floor's
        share, so its mode is the declared floor and it may sit below chance
        (:func:`bayes_scaling.model.target_floor_prior`).
    """

    sigma_sd: float = 1.0
    tau_sd: float = 1.0
    tau_slope_sd: float = 0.5
    time_trend_sd: float = 0.5
    tail_dof: float = 4.0
    target_slope_dof: float = 3.0
    family_share_a: float = 2.0
    family_share_b: float = 2.0
    intercept_mu_sd: float = 1.5
    intercept_sd: float = 1.5
    loading_median: float = 1.5
    loading_log_sd: float = 0.7
    specific_loading_sd: float = 0.5
    anchor_loading_sd: float = 1.0
    noise_median: float = 0.02
    noise_log_sd: float = 1.0
    noise_floor: float = 0.005
    target_intercept_sd: float = 2.0
    target_noise_median: float = 0.03
    target_spread_sd: float = 0.5
    target_residual_sd: float = 0.3
    target_floor_b: float = 30.0

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not value > 0:
                raise ValueError(f"prior {field.name} must be positive, got {value}")
        if not self.target_noise_median > self.noise_floor:
            raise ValueError(
                f"prior target_noise_median ({self.target_noise_median}) must exceed "
                f"noise_floor ({self.noise_floor})"
            )
