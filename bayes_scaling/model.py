"""The capability model as a pure function from data and spec to a PyMC graph.

:func:`build_inputs` turns a tidy dataset (and optional downstream targets) into index
arrays; :func:`build_model` builds the graph from those arrays. Nothing here samples.

Structure (priors in :mod:`bayes_scaling.priors`)::

    p_mc   = floor_c + (ceiling_c - floor_c) * sigmoid(b_c + lambda_c . (S_m - mean_m S))
    S_m1   = alpha_f1 + x_m + sigma * e_m1     general capability, decades of effective compute
    S_mk   = alpha_fk + e_mk                   specialisations, k = 2..K
    counts ~ BetaBinomial(n_c, p, rho_c)       (or Binomial) when the column has items
    score  ~ Beta(p, rho_c)                    continuous columns and downstream targets

Identifiability: the general loadings are positive and the general axis has slope one on
log-compute, which fixes its sign, scale and the split between the general axis and the
specialisations; an anchor benchmark per axis with zeros above it (lower-triangular)
removes rotations among axes; the sign of each specialisation axis is fixed after
sampling by making its anchor's loading positive (the posterior is symmetric under that
flip, so relabelling is exact and HMC never has to cross a hard boundary at zero).

Examples
--------
>>> from bayes_scaling import datasets
>>> from bayes_scaling.specs import load_spec
>>> inputs = build_inputs(datasets.load("base-llm"), load_spec("k2"))
>>> inputs.anchors
('MMLU', 'GSM8K')
>>> model = build_model(inputs, load_spec("k2"))
>>> sorted(model.coords)[:3]
['benchmark', 'capability', 'family']
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from bayes_scaling.capability_prior import (
    capability_prior,
    family_dates,
    general_variance_factor,
)
from bayes_scaling.errors import BayesScalingError
from bayes_scaling.measurement import (
    KINDS,
    cell_kinds,
    expected_score,
    linear_predictor,
    observe,
    precision,
)
from bayes_scaling.specs import ModelSpec

#: The graph's observed variable and its dim for each kind of cell (measurement.KINDS).
OBSERVED = {"count": "y_count", "share": "y_cont", "linear": "y_lin"}
OBS_DIMS = {"count": "obs_count", "share": "obs_cont", "linear": "obs_lin"}

#: Benchmark residuals that predict downstream targets are logits of scores squeezed into
#: (RESID_EPS, 1 - RESID_EPS) of their range: a score at chance has no informative logit.
RESID_EPS = 0.02


def residual_logit(frac: np.ndarray) -> np.ndarray:
    """Logit of a score's position in its [floor, ceiling] range, squeezed by RESID_EPS.

    Examples
    --------
    >>> residual_logit(np.array([0.5, 0.0, 1.0])).round(3).tolist()
    [0.0, -3.892, 3.892]
    """
    q = np.clip(np.asarray(frac, dtype=float), RESID_EPS, 1 - RESID_EPS)
    return np.log(q) - np.log1p(-q)


#: The logit of RESID_EPS: predictions are squeezed to [RESID_EDGE, -RESID_EDGE] as scores are.
RESID_EDGE = float(np.log(RESID_EPS) - np.log1p(-RESID_EPS))


def benchmark_residual(frac: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """A benchmark residual: observed score's logit (``frac`` of its range) minus ``eta``.

    Both are squeezed by RESID_EPS; the graph of :func:`build_model` computes the same.

    Examples
    --------
    >>> benchmark_residual(np.array([0.5, 0.0]), np.array([1.0, -9.0])).round(3).tolist()
    [-1.0, 0.0]
    """
    return residual_logit(frac) - np.clip(eta, RESID_EDGE, -RESID_EDGE)


def target_deviation_draws(
    spread: np.ndarray, shape: tuple[int, ...], rng: np.random.Generator, dof: float | None = None
) -> np.ndarray:
    """Draws of a downstream target's own per-model logit deviation, ``spread * z``.

    ``z`` is a unit normal, or a Student-t with ``dof`` degrees of freedom in a spec with
    ``tails = "student-t"``: the distribution of the graph's ``target_deviation_z``
    (:func:`build_model`), for a model the fit has not seen and in the simulator.
    ``spread`` broadcasts against ``shape``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> target_deviation_draws(np.array([0.0, 1.0]), (3, 2), rng).shape
    (3, 2)
    >>> bool(target_deviation_draws(np.zeros(2), (2,), rng, dof=4.0).any())
    False
    """
    z = rng.normal(size=shape) if dof is None else rng.standard_t(dof, size=shape)
    return z * spread


def target_floor_prior(
    declared: np.ndarray, ceiling: np.ndarray, b: float, around: bool = False
) -> tuple[Any, Any]:
    """Beta parameters of a target's effective floor share (see :func:`effective_floor`).

    ``above-chance`` (``around=False``, the default spec): ``Beta(1, b)`` on the share of
    the declared range above the declared floor, a few points up. ``around-chance``: on
    ``[0, ceiling]``, with its mode at the declared floor ``c = declared / ceiling``
    (chance) and concentration ``b - 1``, ``Beta(1 + c (b - 1), 1 + (1 - c) (b - 1))``; at
    ``c = 0`` that is ``Beta(1, b)`` again. Above zero the floor may then sit *below*
    chance: a third of the post-training table's BBH columns have 15-70% of their models
    below chance (answer bias, failed extraction), which a floor at or above chance can
    only read as noise.

    Examples
    --------
    >>> a, b = target_floor_prior(np.array([0.0, 0.5]), np.ones(2), 30.0, around=True)
    >>> a.tolist(), b.tolist()
    ([1.0, 15.5], [30.0, 15.5])
    >>> target_floor_prior(np.array([0.5]), np.ones(1), 30.0)
    (1.0, 30.0)
    """
    if not around:
        return 1.0, b
    c = np.clip(np.asarray(declared, dtype=float) / np.asarray(ceiling, dtype=float), 0.0, 1.0)
    return 1.0 + c * (b - 1.0), 1.0 + (1.0 - c) * (b - 1.0)


def effective_floor(share: Any, declared: Any, ceiling: Any, around: bool = False) -> Any:
    """A target's effective floor from its ``target_floor`` share.

    ``above-chance``: ``declared + (ceiling - declared) * share``; ``around-chance``:
    ``ceiling * share``. The graph (:func:`build_model`), the predictive draws and the
    tests use this one map.

    Examples
    --------
    >>> float(effective_floor(0.4, 0.25, 0.5, around=True))
    0.2
    >>> float(effective_floor(0.4, 0.25, 0.5))
    0.35
    """
    if around:
        return share * ceiling
    return declared + (ceiling - declared) * share


@dataclasses.dataclass(frozen=True)
class ModelInputs:
    """Arrays that define one fit; everything :func:`build_model` needs.

    Columns are the benchmarks followed by the downstream targets (if any). Observations
    are the non-missing (model, column) cells in row-major order.
    """

    models: tuple[str, ...]
    families: tuple[str, ...]
    family_index: np.ndarray
    benchmarks: tuple[str, ...]
    targets: tuple[str, ...]
    floor: np.ndarray
    ceiling: np.ndarray
    n_items: np.ndarray
    x: np.ndarray
    x_mean: float
    x_sd: float
    obs_model: np.ndarray
    obs_column: np.ndarray
    y: np.ndarray
    anchors: tuple[str, ...]
    capabilities: int
    scale_anchor: str = ""
    linear: np.ndarray | None = None
    #: Per family, its release date in years from ``t_mean`` (NaN = undated); None when the
    #: data have no release dates (no time trend).
    t_family: np.ndarray | None = None
    t_mean: float = 0.0
    t_sd: float = 0.0

    @property
    def has_time_trend(self) -> bool:
        """Whether the graph has a time trend in family efficiency (release dates known)."""
        return self.t_family is not None

    @property
    def is_linear(self) -> np.ndarray:
        """Per column: a linear column (z-score, normal measurement)?"""
        if self.linear is None:
            return np.zeros(len(self.columns), dtype=bool)
        return np.asarray(self.linear, dtype=bool)

    @property
    def obs_kind(self) -> np.ndarray:
        """Per observation: ``count``, ``share`` or ``linear`` (see measurement.cell_kinds)."""
        return cell_kinds(self.n_items, self.is_linear)[self.obs_column]

    @property
    def columns(self) -> tuple[str, ...]:
        """Benchmarks then targets."""
        return self.benchmarks + self.targets

    @property
    def has_compute(self) -> np.ndarray:
        """Boolean mask of models with known training compute."""
        return np.isfinite(self.x)

    @property
    def is_count(self) -> np.ndarray:
        """Per observation: is it modelled as a count of items?"""
        return np.isfinite(self.n_items[self.obs_column])

    @property
    def obs_labels(self) -> tuple[np.ndarray, np.ndarray]:
        """(model name, column name) of every observation."""
        return (
            np.asarray(self.models, dtype=object)[self.obs_model],
            np.asarray(self.columns, dtype=object)[self.obs_column],
        )

    def coords(self) -> dict[str, list[str]]:
        """Named coordinates of the graph (ArviZ dims)."""
        out = {
            "model": list(self.models),
            "family": list(self.families),
            "benchmark": list(self.benchmarks),
            "capability": capability_names(self.capabilities),
            "obs": [f"{m} | {c}" for m, c in zip(*self.obs_labels, strict=True)],
        }
        if self.targets:
            out["target"] = list(self.targets)
        return out


def capability_names(k: int) -> list[str]:
    """Names of the capability axes: ``general`` then ``spec1``, ``spec2``, ...

    Examples
    --------
    >>> capability_names(3)
    ['general', 'spec1', 'spec2']
    """
    return ["general"] + [f"spec{i}" for i in range(1, k)]


def _logit_matrix(data: xr.Dataset) -> np.ndarray:
    score = data["score"].transpose("model", "benchmark").to_numpy()
    floor = data["floor"].to_numpy()
    ceiling = data["ceiling"].to_numpy()
    frac = np.clip((score - floor) / (ceiling - floor), 0.02, 0.98)
    return np.log(frac / (1 - frac))


def choose_anchors(data: xr.Dataset, k: int) -> tuple[str, ...]:
    """Pick one anchor benchmark per capability axis from a PCA of the logit scores.

    The general axis is anchored on the benchmark that loads most purely on the first
    component; axis k on the benchmark with the largest loading on component k among
    those not yet used. Only benchmarks observed on at least half the models qualify, so
    an anchor's loading is well determined and sign flips are unambiguous; continuous
    scores are not eligible.

    Parameters
    ----------
    data : xarray.Dataset
        Tidy dataset (see ``docs/architecture.md``).
    k : int
        Number of capability axes.

    Returns
    -------
    tuple of str
        ``k`` benchmark names.

    Examples
    --------
    >>> from bayes_scaling import datasets
    >>> choose_anchors(datasets.load("base-llm"), 3)
    ('MMLU', 'GSM8K', 'HumanEval')
    """
    names = [str(b) for b in data["benchmark"].to_numpy()]
    if k > len(names):
        raise BayesScalingError(f"{k} capabilities need at least {k} benchmarks, got {len(names)}")
    z = _logit_matrix(data)
    observed = np.isfinite(data["score"].transpose("model", "benchmark").to_numpy())
    means = np.nanmean(np.where(observed, z, np.nan), axis=0)
    z = np.where(observed, z, means)
    z = (z - z.mean(0)) / (z.std(0) + 1e-9)
    _, s, vt = np.linalg.svd(z, full_matrices=False)
    loadings = vt.T * s
    # Anchors must be well observed counts: an isolated continuous score (TruthfulQA MC2)
    # gets a principal component of its own without being a common capability.
    eligible = (observed.mean(0) >= 0.5) & np.isfinite(data["n_items"].to_numpy())
    chosen: list[int] = []
    for axis in range(k):
        comm = (loadings[:, : max(k, 3)] ** 2).sum(1) + 1e-12
        purity = loadings[:, axis] ** 2 / comm if axis == 0 else np.abs(loadings[:, axis])
        order = np.argsort(-purity, kind="stable")
        pick = next((j for j in order if eligible[j] and j not in chosen), None)
        if pick is None:
            pick = next(j for j in order if j not in chosen)
        chosen.append(int(pick))
    return tuple(names[j] for j in chosen)


def choose_scale_anchor(data: xr.Dataset, anchors: tuple[str, ...]) -> str:
    """The benchmark whose logit scale measures the general capability while sampling.

    Its loading on the sampled general capability is fixed at one. The best choice is a
    benchmark that resolves weak and strong models alike: among well-observed count
    benchmarks that are not specialisation anchors, the one with the smallest share of
    scores in the bottom or top tenth of its range. A benchmark most models score at
    chance on (MMLU for small models) leaves their capability to the prior, and the
    scale then trades off against the compute slope and the benchmark intercept.

    Examples
    --------
    >>> from bayes_scaling import datasets
    >>> choose_scale_anchor(datasets.load("base-llm"), ("MMLU", "GSM8K", "HumanEval"))
    'HellaSwag'
    """
    data = data.transpose("model", "benchmark")
    names = [str(b) for b in data["benchmark"].to_numpy()]
    score = data["score"].to_numpy()
    floor = data["floor"].to_numpy()
    ceiling = data["ceiling"].to_numpy()
    observed = np.isfinite(score)
    frac = (score - floor) / (ceiling - floor)
    edge = np.where(observed, (frac < 0.1) | (frac > 0.9), False).sum(0) / np.maximum(
        observed.sum(0), 1
    )
    eligible = (observed.mean(0) >= 0.5) & np.isfinite(data["n_items"].to_numpy())
    eligible &= ~np.isin(names, list(anchors[1:]))
    if not eligible.any():
        return anchors[0]
    return names[int(np.argmin(np.where(eligible, edge, np.inf)))]


def build_inputs(
    data: xr.Dataset,
    spec: ModelSpec,
    targets: xr.Dataset | None = None,
) -> ModelInputs:
    """Arrays for one fit from a tidy dataset and optional downstream targets.

    Parameters
    ----------
    data : xarray.Dataset
        Standard benchmarks (tidy dataset). Hidden cells are simply NaN.
    spec : ModelSpec
        Which model.
    targets : xarray.Dataset, optional
        Downstream metrics in the same tidy form (``score`` on [0, 1] with ``floor`` and
        ``ceiling`` coords); its models must be a subset of ``data``'s.

    Returns
    -------
    ModelInputs
    """
    data = data.transpose("model", "benchmark")
    models = tuple(str(m) for m in data["model"].to_numpy())
    fam = np.asarray([str(f) for f in data["family"].to_numpy()])
    families, family_index = np.unique(fam, return_inverse=True)
    flops = data["flops"].to_numpy().astype(float)
    logf = np.log10(np.where(flops > 0, flops, np.nan))
    if spec.compute_only and not np.isfinite(logf).all():
        missing = [m for m, v in zip(models, logf, strict=True) if not np.isfinite(v)]
        raise BayesScalingError(
            f"the compute-only law needs training compute for every model; "
            f"{len(missing)} lack it (e.g. {missing[0]}); drop them first"
        )
    if np.isfinite(logf).any():
        x_mean = float(np.nanmean(logf))
        x_sd = float(np.nanstd(logf)) or 1.0
    else:
        # No compute at all (a frontier leaderboard): no compute trend; the general axis is
        # anchored on the benchmarks alone and families stay random effects.
        x_mean, x_sd = 0.0, 0.0

    score = data["score"].to_numpy()
    floor = data["floor"].to_numpy().astype(float)
    ceiling = data["ceiling"].to_numpy().astype(float)
    n_items = data["n_items"].to_numpy().astype(float)
    target_names: tuple[str, ...] = ()
    if targets is not None:
        targets = targets.transpose("model", "benchmark")
        unknown = sorted(set(map(str, targets["model"].to_numpy())) - set(models))
        if unknown:
            raise BayesScalingError(f"target model {unknown[0]!r} has no benchmark data")
        t = targets.reindex(model=list(models))
        score = np.concatenate([score, t["score"].to_numpy()], axis=1)
        floor = np.concatenate([floor, t["floor"].to_numpy().astype(float)])
        ceiling = np.concatenate([ceiling, t["ceiling"].to_numpy().astype(float)])
        # A downstream metric with a declared item count is a count (beta-binomial), as
        # a benchmark is; without one it is continuous (Beta).
        t_items = (
            t["n_items"].to_numpy().astype(float)
            if "n_items" in t.coords
            else np.full(t.sizes["benchmark"], np.nan)
        )
        n_items = np.concatenate([n_items, t_items])
        target_names = tuple(str(c) for c in t["benchmark"].to_numpy())
    linear = np.zeros(len(n_items), dtype=bool)
    if "linear" in data.coords:
        linear[: data.sizes["benchmark"]] = data["linear"].to_numpy().astype(bool)

    t_family, t_mean, t_sd = None, 0.0, 0.0
    release = data["release"].to_numpy().astype(float) if "release" in data.coords else None
    if release is not None and np.isfinite(release).any() and not spec.compute_only:
        t_mean = float(np.nanmean(release))
        t_family = family_dates(release, family_index, len(families), t_mean)
        t_sd = float(np.nanstd(t_family)) or 1.0

    obs_model, obs_column = np.nonzero(np.isfinite(score))
    y = score[obs_model, obs_column]
    k = spec.n_capabilities
    anchors = spec.anchors[:k] if spec.anchors else choose_anchors(data, k)
    bench_names = tuple(str(b) for b in data["benchmark"].to_numpy())
    for a in anchors:
        if a not in bench_names:
            raise BayesScalingError(
                f"spec {spec.name!r}: anchor {a!r} is not a benchmark of the data"
            )
    if len(anchors) != k:
        raise BayesScalingError(f"spec {spec.name!r} needs {k} anchors, got {len(anchors)}")
    return ModelInputs(
        models=models,
        families=tuple(str(f) for f in families),
        family_index=family_index.astype(np.int64),
        benchmarks=bench_names,
        targets=target_names,
        floor=floor,
        ceiling=ceiling,
        n_items=n_items,
        x=logf - x_mean,
        x_mean=x_mean,
        x_sd=x_sd,
        obs_model=obs_model.astype(np.int64),
        obs_column=obs_column.astype(np.int64),
        y=y.astype(float),
        anchors=anchors,
        capabilities=k,
        scale_anchor=choose_scale_anchor(data, anchors),
        linear=linear,
        t_family=t_family,
        t_mean=t_mean,
        t_sd=t_sd,
    )


def loading_mask(benchmarks: tuple[str, ...], anchors: tuple[str, ...]) -> np.ndarray:
    """Which loadings are free (1) and which are fixed at zero (0).

    Each anchor loads on the general axis and on its own axis only. Zeros above the
    diagonal alone (lower-triangular) leave a second mode in which the last anchor's
    variance moves onto an earlier axis and that axis's anchor into its noise; with
    pure anchors an axis means "what its anchor measures beyond the general capability".

    Examples
    --------
    >>> loading_mask(("MMLU", "GSM8K", "ARC-C", "HumanEval"), ("MMLU", "GSM8K", "HumanEval"))
    array([[1., 0., 0.],
           [1., 1., 0.],
           [1., 1., 1.],
           [1., 0., 1.]])
    """
    mask = np.ones((len(benchmarks), len(anchors)))
    for axis, name in enumerate(anchors):
        j = benchmarks.index(name)
        mask[j, 1:] = 0.0
        mask[j, axis] = 1.0
    return mask


def _without_shift(
    name: str, loc: pt.TensorVariable, scale: pt.TensorVariable, axes: int = 0
) -> pt.TensorVariable:
    """``Normal(loc, scale)`` over models (axis 0) as a zero-sum part and its mean.

    The likelihood reads capabilities only relative to their mean over models, so that
    mean is known from the prior alone. Sampled as a common move of a hundred coordinates
    that the data pin, it is a direction a diagonal mass matrix cannot follow (R-hat 1.8 on
    a 100 x 130 table, for ``g`` without compute). Here the centred part ``c`` (zero-sum,
    ``{name}_centred``) carries the density with the mean integrated out, and the mean is
    drawn from its exact conditional given ``c`` (``{name}_shift_z``): the same
    distribution, with the slow direction a coordinate of its own.

    With precisions ``p = 1 / scale**2`` and ``P = sum(p)`` over models, the mean given
    the centred part ``c`` is Normal(``m``, ``1 / sqrt(P)``) with ``m = sum(p (loc - c)) / P``,
    and ``c``'s density is ``prod Normal(c + m; loc, scale) * sqrt(2 pi / P)``. ``loc`` and
    ``scale`` are (model,) or (model, axis); each axis has its own mean. Variables:
    ``{name}_centred``, ``{name}_centred_density`` and ``{name}_shift_z``.
    """
    if not axes:
        c = pm.ZeroSumNormal(f"{name}_centred", 1.0, dims="model")
        shift = pm.Normal(f"{name}_shift_z", 0.0, 1.0)
    else:
        c = pm.ZeroSumNormal(
            f"{name}_centred", 1.0, dims=("specialisation", "model"), n_zerosum_axes=1
        ).T
        shift = pm.Normal(f"{name}_shift_z", 0.0, 1.0, shape=axes)
    prec = 1.0 / scale**2
    p_sum = prec.sum(axis=0)
    m = ((loc - c) * prec).sum(axis=0) / p_sum
    z = (c + m - loc) / scale
    # c's own density, in place of the unit ZeroSumNormal's (its quadratic is added back).
    pm.Potential(
        f"{name}_centred_density",
        -0.5 * (z**2).sum() - pt.log(scale).sum() - 0.5 * pt.log(p_sum).sum() + 0.5 * (c**2).sum(),
    )
    return c + m + shift / pt.sqrt(p_sum)


#: Below this many within-family degrees of freedom (models minus families), the general
#: capability is sampled non-centred (:func:`general_noncentred`).
NONCENTRED_BELOW = 30


def general_noncentred(family_index: np.ndarray) -> bool:
    """Whether the general capability of a table with compute is sampled non-centred.

    Centred, ``g ~ Normal(family line, sigma)``, the within-family sd ``sigma`` and the
    models' general capabilities form a funnel when few models share a family, because
    ``sigma`` is pinned only by the ``M - F`` within-family deviations. The instruct table
    (27 models, 17 families: 10) diverged for AgentBench centred (21 divergences at target
    acceptance 0.99, R-hat 1.017 on ``sigma``) and converged non-centred (0, R-hat 1.004).
    On the base table (128 models, 40 families: 88) both converge, and centred is 2.3x
    faster (k3: 111 s against 260 s). The cut at 30 lies between the two measured tables;
    nothing between them was measured. The distribution of ``g`` is the same either way.

    Examples
    --------
    >>> general_noncentred(np.array([0, 0, 1, 2, 2]))
    True
    """
    families = np.unique(family_index).size
    return bool(len(family_index) - families < NONCENTRED_BELOW)


#: A table whose median model has at least this many observed scores has its models'
#: specialisations sampled centred (:func:`centred_specialisations`).
CENTRED_SPEC_FROM = 20


def centred_specialisations(obs_model: np.ndarray, n_models: int) -> bool:
    """Whether a table's specialisation capabilities are sampled centred.

    Non-centred, ``S = loc + scale z``, suits models whose specialisations their scores
    barely inform: on the base table (8 benchmarks) a specialisation is seen through
    small loadings, often on one benchmark, and is missing for whole families. A model of
    a wide leaderboard is seen on dozens of benchmarks: on a 100 x 130 table, 23% filled,
    each specialisation's posterior sd was 0.13 against a prior sd of 0.85, and
    non-centred its family effects mixed at bulk ESS 24-153 in 4,000 draws (R-hat 1.15).
    Centred, they are sampled as a zero-sum part and a mean (:func:`_without_shift`), since
    the likelihood reads them relative to their mean. The cut at 20 scores for the median
    model lies between the two tables' 12 and 30.

    Examples
    --------
    >>> centred_specialisations(np.array([0] * 25 + [1] * 25 + [2] * 3), 3)
    True
    """
    counts = np.bincount(obs_model, minlength=n_models)
    return bool(np.median(counts) >= CENTRED_SPEC_FROM)


def lone_families(family_index: np.ndarray, n_families: int) -> np.ndarray:
    """Which families hold exactly one of the fit's models.

    Examples
    --------
    >>> lone_families(np.array([0, 0, 1, 2, 2]), 4).tolist()
    [False, True, False, False]
    """
    return np.bincount(family_index, minlength=n_families) == 1


def _lone_family_effects(
    family_index: np.ndarray,
    lone: np.ndarray,
    caps: pt.TensorVariable,
    loc: pt.TensorVariable,
    scale: pt.TensorVariable,
    tau: pt.TensorVariable,
    capabilities: int,
    t_model: np.ndarray | None = None,
    per_year: pt.TensorVariable | None = None,
    fam_mult: pt.TensorVariable | None = None,
) -> pt.TensorVariable:
    """Effects of families with one model, drawn from their conditional given the model.

    The graph's prior of such a model, ``Normal(loc, scale)`` with
    ``scale**2 = tau**2 + s**2``, has the family effect ``a ~ Normal(0, tau)`` integrated
    out of ``Normal(loc + a, s)``. Given the model's capabilities ``c``, the effect is
    Normal(``tau**2 / scale**2 * (c - loc)``, ``tau * s / scale``), drawn here through a
    unit normal (``alpha_lone_z``) that the likelihood never sees: together the same
    joint distribution as sampling the effect first, without the funnel between it, the
    model's deviation and ``s``. With a time trend the effect's prior mean is the trend at
    the family's date (``per_year * t``, general axis), which ``loc`` holds too; with
    Student-t tails ``tau`` of the general axis is scaled by the family's weight, as in
    ``scale``.
    """
    lone_f = np.flatnonzero(lone)
    members = np.array([np.flatnonzero(family_index == f)[0] for f in lone_f])
    tau2 = tau[None, :] ** 2
    if fam_mult is not None:
        # A Student-t family's effect: its weight scales the general axis's sd.
        tau2 = tau2 * general_variance_factor(fam_mult[lone_f], np.eye(capabilities)[0])
    var = scale[members] ** 2
    within = pt.sqrt(pt.maximum(var - tau2, 0.0))
    z = pm.Normal("alpha_lone_z", 0.0, 1.0, shape=(len(members), capabilities))
    effect = tau2 / var * (caps[members] - loc[members]) + pt.sqrt(tau2) * within / pt.sqrt(var) * z
    if per_year is not None and t_model is not None:
        trend = per_year * np.asarray(t_model, dtype=float)[members]
        effect = pt.concatenate([(effect[:, 0] + trend)[:, None], effect[:, 1:]], axis=1)
    return effect


def build_model(inputs: ModelInputs, spec: ModelSpec) -> pm.Model:
    """Build the PyMC graph of the capability model (no sampling).

    Parameters
    ----------
    inputs : ModelInputs
        From :func:`build_inputs`.
    spec : ModelSpec
        Variant (capabilities, measurement, family slopes, compute-only) and priors.

    Returns
    -------
    pymc.Model
        Observed variables ``y_count`` (dim ``obs_count``) and ``y_cont``
        (dim ``obs_cont``); :mod:`bayes_scaling.estimator` merges them into ``score``
        over ``obs``.
    """
    pri = spec.priors
    k = inputs.capabilities
    n_bench = len(inputs.benchmarks)
    n_fam = len(inputs.families)
    fi = inputs.family_index
    coords = inputs.coords()
    obs_kind = inputs.obs_kind
    for kind in KINDS:
        coords[OBS_DIMS[kind]] = [
            o for o, c in zip(coords["obs"], obs_kind, strict=True) if c == kind
        ]
    if k > 1:
        coords["specialisation"] = coords["capability"][1:]
    wide = k > 1 and centred_specialisations(inputs.obs_model, len(inputs.models))

    with pm.Model(coords=coords) as model:
        # --- capabilities -------------------------------------------------------------
        # Sampling coordinates ("native units"): the general capability ``g`` is on the
        # logit scale of the scale-anchor benchmark, where the data pin it directly,
        # and rises with beta logits per decade of compute; specialisations have unit
        # variance. Sampled in decades, the general axis's scale traded off against the
        # loadings' along a ridge through every model and family that a diagonal mass
        # matrix cannot follow. ``S``, ``alpha``, ``tau``, ``sigma`` and ``loadings`` are
        # reported in decades of effective compute, as deterministics. Priors stated in
        # decades are converted with the prior median of beta.
        if inputs.has_compute.any():
            beta = pm.LogNormal("beta", np.log(pri.loading_median), 0.5)
        else:
            # Without compute "decades" mean nothing: the general axis is on the logit
            # scale of a typical benchmark (loadings with geometric mean one), and a free
            # beta would only be its prior, spreading every capability for nothing.
            beta = pm.Deterministic("beta", pt.constant(1.0, dtype="float64"))
        to_g = pri.loading_median
        # Without compute nothing sets the general axis's scale: no decades, and a scale
        # anchor seen by a quarter of a sparse leaderboard pinned it for a quarter of the
        # models (R-hat 1.3 on the others). The geometric mean of all loadings sets it
        # instead (see the benchmark layer). A unit variance of g, as for a
        # specialisation, left one direction free (all of g times c, all loadings over c)
        # that 130 benchmarks pin only through the prior: R-hat 2.5 on 100 x 130.
        no_compute = not inputs.has_compute.any() and not spec.compute_only
        tau_general = pm.HalfNormal("tau_general", pri.tau_sd * to_g)
        if k == 1:
            tau_u = tau_general[None]
        elif spec.compute_only:
            tau_spec = pm.HalfNormal("tau_specific", pri.tau_sd, dims="specialisation")
            tau_u = pt.concatenate([tau_general[None], tau_spec])
        else:
            # A specialisation has no compute trend to fix its scale, so its total
            # variance is one and the prior splits it between families and models. With a
            # free family sd the scale traded off against the specialisation loadings.
            share = pm.Beta(
                "family_share", pri.family_share_a, pri.family_share_b, dims="specialisation"
            )
            tau_u = pt.concatenate([tau_general[None], pt.sqrt(share)])
        to_decades = pt.concatenate([(1.0 / beta)[None], pt.ones(k - 1)])
        pm.Deterministic("tau", tau_u * to_decades, dims="capability")
        # A family with one model: its effect and the model's deviation from the family
        # line are seen only as their sum, and sampled apart they form a funnel with the
        # within-family sd (300 divergences on the 27-model instruct table, where 11 of 17
        # families have one model). Its effect is integrated out of the model's prior and
        # drawn afterwards from its exact conditional (see :func:`_lone_family_effects`).
        lone = lone_families(fi, n_fam) & (not spec.compute_only) & (not spec.family_slopes)
        pooled = np.flatnonzero(~lone)
        if len(pooled) > 1 and spec.robust:
            # Student-t effects on the general axis, sampled as t variates (centred on their
            # mean, as the zero-sum does for normal ones). As a scale mixture with explicit
            # weights they diverged (tau_general high, one family's weight near zero: a
            # banana between the weight, its z and tau), 6 divergences against 0 here.
            z_t = pm.StudentT(
                "z_alpha_general", nu=pri.tail_dof, mu=0.0, sigma=1.0, shape=len(pooled)
            )
            rows = [(z_t - z_t.mean())[None, :]]
            if k > 1:
                rows.append(
                    pm.ZeroSumNormal("z_alpha", 1.0, shape=(k - 1, len(pooled)), n_zerosum_axes=1)
                )
            z_alpha = pt.concatenate(rows, axis=0)
        elif len(pooled) > 1:
            # ZeroSumNormal constrains its *last* axis: the pooled families.
            z_alpha = pm.ZeroSumNormal("z_alpha", 1.0, shape=(k, len(pooled)), n_zerosum_axes=1)
        else:
            z_alpha = pt.zeros((k, max(len(pooled), 1)))
        a_pooled = (z_alpha * tau_u[:, None]).T
        resid_mult = fam_mult = None
        if spec.robust:
            # Student-t model deviations on the general axis, as scale mixtures of normals:
            # given its weight each is normal, so every consumer's normal algebra holds draw
            # by draw. One model with a wrong compute then gets a small weight instead of
            # widening sigma for every family. A family of one model, whose effect is
            # integrated out of its model's prior (normal algebra again), gets a weight too.
            half = pri.tail_dof / 2.0
            w_model = pm.Gamma("resid_weight", alpha=half, beta=half, dims="model")
            resid_mult = 1.0 / pt.sqrt(w_model)
            fam_mult = pt.ones(n_fam)
            if lone.any():
                w_lone = pm.Gamma(
                    "lone_family_weight", alpha=half, beta=half, shape=int(lone.sum())
                )
                fam_mult = pt.set_subtensor(fam_mult[np.flatnonzero(lone)], 1.0 / pt.sqrt(w_lone))
        per_year = None
        t_model = None
        if inputs.has_time_trend:
            # Newer families turn compute into capability more efficiently: a family's
            # effect is centred on the trend at its release date. In decades per year;
            # the graph's general axis is in beta units per decade.
            time_trend = pm.Normal("time_trend", 0.0, pri.time_trend_sd)
            per_year = time_trend * beta
            # An undated family of the fit sits at the mean date.
            t_fam = np.nan_to_num(np.asarray(inputs.t_family, dtype=float))
            t_pool = np.zeros(max(len(pooled), 1))
            t_pool[: len(pooled)] = t_fam[pooled]
            a_pooled = pt.concatenate(
                [(a_pooled[:, 0] + per_year * t_pool)[:, None], a_pooled[:, 1:]], axis=1
            )
            t_model = t_fam[fi]
        # The graph's family index: -1 (a family the prior does not hold) for a lone one.
        slot = np.full(n_fam, -1, dtype=np.int64)
        slot[pooled] = np.arange(len(pooled))
        fi_graph = slot[fi]
        slope = None
        tau_slope = None
        if spec.family_slopes:
            tau_slope = pm.HalfNormal("tau_slope", pri.tau_slope_sd)
            z_slope = pm.ZeroSumNormal("z_slope", 1.0, dims="family") if n_fam > 1 else pt.zeros(1)
            slope = pm.Deterministic("slope", 1.0 + tau_slope * z_slope, dims="family")
        if spec.compute_only:
            resid_u = pt.zeros(k)
        else:
            sigma_g = pm.HalfNormal("sigma_general", pri.sigma_sd * to_g)
            pm.Deterministic("sigma", sigma_g / beta)
            spec_sd = pt.sqrt(1.0 - share) if k > 1 else pt.ones(0)
            resid_u = pt.concatenate([sigma_g[None], spec_sd])
            pm.Deterministic("resid_sd", resid_u * to_decades, dims="capability")
        # In sampling units: the general axis rises beta logits per decade.
        loc, scale = capability_prior(
            x=inputs.x,
            family_index=fi_graph,
            alpha=a_pooled,
            tau=tau_u,
            resid_sd=resid_u,
            x_sd=inputs.x_sd,
            slope=slope,
            tau_slope=tau_slope,
            per_decade=beta,
            capabilities=k,
            t=t_model,
            per_year=per_year,
            resid_mult=resid_mult,
            tau_mult=None if fam_mult is None else fam_mult[fi],
        )
        if spec.compute_only:
            g, spec_caps = loc[:, 0], loc[:, 1:]
        else:
            if no_compute:
                g = _without_shift("g", loc[:, 0], scale[:, 0])
            elif general_noncentred(fi):
                z_g = pm.Normal("g_z", 0.0, 1.0, dims="model")
                g = loc[:, 0] + scale[:, 0] * z_g
            else:
                g = pm.Normal("g", loc[:, 0], scale[:, 0], dims="model")
            spec_caps = pt.zeros((len(inputs.models), 0))
            if wide:
                spec_caps = _without_shift("s_spec", loc[:, 1:], scale[:, 1:], k - 1)
            elif k > 1:
                # Non-centred: a specialisation is seen through small loadings, often on
                # one benchmark, and is missing for whole families.
                z_spec = pm.Normal("s_spec_z", 0.0, 1.0, dims=("model", "specialisation"))
                spec_caps = loc[:, 1:] + scale[:, 1:] * z_spec
        pm.Deterministic(
            "S",
            pt.concatenate([(g / beta)[:, None], spec_caps], axis=1),
            dims=("model", "capability"),
        )
        a_u = pt.zeros((n_fam, k))
        if len(pooled):
            a_u = pt.set_subtensor(a_u[pooled], a_pooled[: len(pooled)])
        if lone.any():
            caps_now = pt.concatenate([g[:, None], spec_caps], axis=1)
            a_u = pt.set_subtensor(
                a_u[np.flatnonzero(lone)],
                _lone_family_effects(
                    fi, lone, caps_now, loc, scale, tau_u, k, t_model, per_year, fam_mult
                ),
            )
        pm.Deterministic("alpha", a_u * to_decades[None, :], dims=("family", "capability"))

        # --- benchmark layer ------------------------------------------------------------
        mu_b = pm.Normal("mu_b", 0.0, pri.intercept_mu_sd)
        sd_b = pm.HalfNormal("sd_b", pri.intercept_sd)
        b = pm.Normal("b", mu_b, sd_b, dims="benchmark")
        sd_l = pm.HalfNormal("sd_l", pri.loading_log_sd)
        # The scale anchor's loading on g is one (g is measured on its logit scale; see
        # choose_scale_anchor); the others are relative to it. Fixing the scale on a
        # geometric mean instead couples beta to a benchmark barely related to compute
        # (TruthfulQA), whose log loading wanders far below zero.
        if no_compute:
            # The scale is the loadings' geometric mean: every loading free, their logs
            # summing to zero, and their population centred at one.
            mu_l = pt.constant(0.0, dtype="float64")
            log_l = pm.ZeroSumNormal("log_loading", sd_l, shape=n_bench)
        else:
            mu_l = pm.Normal("mu_l", 0.0, 0.5)
            anchor_j = inputs.benchmarks.index(inputs.scale_anchor or inputs.anchors[0])
            others = [j for j in range(n_bench) if j != anchor_j]
            log_l = pt.zeros(n_bench)
            if others:
                # Centred: each loading is pinned by about a hundred scores.
                free = pm.Normal("log_loading", mu_l, sd_l, shape=len(others))
                log_l = pt.concatenate([free[:anchor_j], pt.zeros(1), free[anchor_j:]])
        general_g = pt.exp(log_l)  # loadings on g
        lam_spec = None
        if k > 1:
            # A fixed shrinkage scale, not a hierarchical one: ten or so small loadings
            # determine their own spread poorly, and that spread mixed slowest of all.
            sd_spec = pri.specific_loading_sd
            if wide:
                # The same iid unit normals, as a zero-sum part and a mean per axis: on a
                # wide table the mean of a specialisation's loadings is nearly a prior
                # direction (it trades with the rotation toward the general axis), and a
                # common move of 130 coordinates mixed at bulk ESS 35 in 4,000 draws.
                raw = pm.ZeroSumNormal(
                    "loading_raw", 1.0, shape=(k - 1, n_bench), n_zerosum_axes=1
                ).T + pm.Normal("loading_raw_mean", 0.0, 1.0 / np.sqrt(n_bench), shape=k - 1)
            else:
                raw = pm.Normal("loading_raw", 0.0, 1.0, shape=(n_bench, k - 1))
            mask = loading_mask(inputs.benchmarks, inputs.anchors)[:, 1:]
            anchor_rows = [inputs.benchmarks.index(a) for a in inputs.anchors[1:]]
            pooled = mask.copy()
            pooled[anchor_rows, range(k - 1)] = 0.0
            # An axis's anchor loading defines the axis: its own, centred prior (the data
            # pin it), sign-symmetric and aligned after sampling. The other loadings
            # shrink to zero (non-centred: most are small).
            own = pm.Normal("anchor_loading", 0.0, pri.anchor_loading_sd, shape=k - 1)
            own_rows = np.zeros_like(mask)
            own_rows[anchor_rows, range(k - 1)] = 1.0
            lam_spec = raw * sd_spec * pooled + own_rows * own[None, :]
        cols = [(beta * general_g)[:, None]] + ([lam_spec] if k > 1 else [])
        pm.Deterministic("loadings", pt.concatenate(cols, axis=1), dims=("benchmark", "capability"))
        # Independent per benchmark and centred: each noise is pinned by about a hundred
        # scores. A hierarchy over eight noises (centred: a funnel at log_noise_sd -> 0;
        # non-centred: the slowest direction of the K = 1 fit) bought nothing.
        log_noise = pm.Normal(
            "log_noise", np.log(pri.noise_median), pri.noise_log_sd, dims="benchmark"
        )
        noise_raw = pm.Deterministic("noise_excess", pt.exp(log_noise), dims="benchmark")
        noise = pm.Deterministic("noise", pri.noise_floor + noise_raw, dims="benchmark")

        intercepts, gen_w, spec_w, noises = b, general_g, lam_spec, noise
        if inputs.targets:
            # A downstream target is one more sigmoid of the capabilities whose weights
            # are drawn from the same population as the benchmarks' loadings: the fitted
            # spread of benchmark slopes is the prior that keeps a target seen on 20
            # models from a steep, overconfident extrapolation.
            a_t = pm.Normal("target_intercept", 0.0, pri.target_intercept_sd, dims="target")
            # Centred, like the benchmarks' loadings: a target seen on 20 to 75 models pins
            # its weight, and a non-centred weight made the population mean ``mu_l`` move
            # every target's offset at once (bulk ESS 66 for mu_l in the post-training fit).
            if spec.target_slopes == "student-t":
                # Heavy tails let a target whose data say it is far steeper than the
                # benchmarks (an emergent task) keep its slope, and still shrink one with
                # little data. Opt-in: it moved no forecast measured so far (docs/forecasts.md).
                log_w = pm.StudentT(
                    "target_log_weight", nu=pri.target_slope_dof, mu=mu_l, sigma=sd_l, dims="target"
                )
            else:
                log_w = pm.Normal("target_log_weight", mu_l, sd_l, dims="target")
            w_g = pt.exp(log_w)
            w_cols = [(beta * w_g)[:, None]]
            w_spec = None
            if k > 1:
                w_spec = (
                    pm.Normal("target_weight_raw", 0.0, 1.0, shape=(len(inputs.targets), k - 1))
                    * sd_spec
                )
                w_cols.append(w_spec)
            pm.Deterministic(
                "target_weights", pt.concatenate(w_cols, axis=1), dims=("target", "capability")
            )
            # The benchmarks' noise floor holds for targets too. Without it a target that
            # most models score near its floor (word unscrambling) pushed the noise to 0.002
            # of the range, where the likelihood's curvature outgrows any step size
            # (289 divergences).
            t_excess = pm.LogNormal(
                "target_noise_excess",
                np.log(pri.target_noise_median - pri.noise_floor),
                0.7,
                dims="target",
            )
            t_noise = pm.Deterministic("target_noise", pri.noise_floor + t_excess, dims="target")
            # What a target measures beyond the capabilities: a per-model deviation on
            # the logit scale (the target's unique factor). Measurement noise alone
            # says a model on the fitted curve scores within a point or two of it;
            # the held-out models that matter are exactly the ones that are not.
            t_spread = pm.HalfNormal("target_spread", pri.target_spread_sd, dims="target")
            # Part of that deviation is a family trait (a family good at arithmetic for
            # its capability stays good at larger sizes): non-centred family offsets, so
            # a held-out model of a seen family inherits its family's, and a new family
            # draws one.
            t_fam_spread = pm.HalfNormal(
                "target_family_spread", pri.target_spread_sd, dims="target"
            )
            t_fam_dev = pm.Deterministic(
                "target_family_deviation",
                t_fam_spread[:, None]
                * pm.Normal("target_family_z", 0.0, 1.0, dims=("target", "family")),
                dims=("target", "family"),
            )
            # One learnt scale per target, non-centred: a target seen on 10 to 20 models
            # shrinks all eight weights together (a fixed N(0, 0.5) let noise in the few
            # agent-benchmark models move the forecast), one seen on 60 keeps those it needs.
            r_scale = pm.HalfNormal("target_residual_scale", pri.target_residual_sd, dims="target")
            resid_w = pm.Deterministic(
                "target_residual_weights",
                r_scale[:, None]
                * pm.Normal("target_residual_z", 0.0, 1.0, dims=("target", "benchmark")),
                dims=("target", "benchmark"),
            )
            # Where the weakest models sit a few points above the declared floor (exact
            # match), a floor at 0 bends the sigmoid flat through them and underpredicts
            # the top. An around-chance spec also lets it sit below chance (answer bias).
            floor_a, floor_b = target_floor_prior(
                inputs.floor[n_bench:],
                inputs.ceiling[n_bench:],
                pri.target_floor_b,
                around=spec.floor_around_chance,
            )
            t_floor = pm.Beta("target_floor", floor_a, floor_b, dims="target")
            intercepts = pt.concatenate([b, a_t])
            gen_w = pt.concatenate([general_g, w_g])
            if k > 1:
                spec_w = pt.concatenate([lam_spec, w_spec], axis=0)
            noises = pt.concatenate([noise, t_noise])

        # --- measurement ----------------------------------------------------------------
        # Dense over (model, column), then one flat gather of the observed cells. Lookups
        # per observation (g[model], loadings[column], boolean masks) each become a
        # scatter-add in the gradient, which took half of every gradient's time; products
        # over the full table and one flat index cost a fraction of that.
        mi, ci = inputs.obs_model, inputs.obs_column
        n_models, n_cols = len(inputs.models), len(inputs.columns)
        caps_u = pt.concatenate([g[:, None], spec_caps], axis=1) if k > 1 else g[:, None]
        weights_u = pt.concatenate([gen_w[:, None], spec_w], axis=1) if k > 1 else gen_w[:, None]
        eta_mat = linear_predictor(
            intercepts, weights_u, caps_u - caps_u.mean(axis=0, keepdims=True)
        )
        n_bench_cols = len(inputs.benchmarks)
        is_target = ci >= n_bench_cols
        if inputs.targets and is_target.any():
            # What a model scores on each benchmark beyond its capabilities (the
            # benchmarks' unique factors, on the logit scale) predicts targets too:
            # K capabilities summarise eight benchmarks, and the direction a target
            # needs (GSM8K's, XWinograd's) is often the part they leave out.
            n_t = len(inputs.targets)
            is_b = ~is_target
            frac = np.zeros((n_models, n_bench_cols))
            seen = np.zeros((n_models, n_bench_cols))
            frac[mi[is_b], ci[is_b]] = (inputs.y[is_b] - inputs.floor[ci[is_b]]) / (
                inputs.ceiling[ci[is_b]] - inputs.floor[ci[is_b]]
            )
            # A linear column has no logit residual: targets read shares' residuals only.
            seen[mi[is_b], ci[is_b]] = 1.0 - inputs.is_linear[ci[is_b]]
            eta_b = pt.clip(eta_mat[:, :n_bench_cols], RESID_EDGE, -RESID_EDGE)
            resid = seen * (residual_logit(frac) - eta_b)
            t_idx = ci[is_target] - n_bench_cols
            # Non-centred: twenty to a hundred deviations share one small scale. A robust
            # spec's are Student-t (target_deviation_draws draws the same): one model far
            # off its target's curve (a jump, a data error) then need not widen the spread
            # that every held-out forecast carries.
            n_dev = int(is_target.sum())
            if spec.robust:
                z_dev = pm.StudentT(
                    "target_deviation_z", nu=pri.tail_dof, mu=0.0, sigma=1.0, shape=n_dev
                )
            else:
                z_dev = pm.Normal("target_deviation_z", 0.0, 1.0, shape=n_dev)
            dev = pt.zeros(n_models * n_t)
            dev = pt.inc_subtensor(dev[mi[is_target] * n_t + t_idx], t_spread[t_idx] * z_dev)
            eta_t = (
                eta_mat[:, n_bench_cols:]
                + (resid[:, None, :] * resid_w[None, :, :]).sum(axis=-1)
                + t_fam_dev.T[fi]
                + dev.reshape((n_models, n_t))
            )
            eta_mat = pt.concatenate([eta_mat[:, :n_bench_cols], eta_t], axis=1)
        eta_flat = eta_mat.ravel()
        flat = mi * n_cols + ci
        phi_col = precision(noises)

        # Benchmarks' floors are data; targets' are learnt (target_floor_prior).
        floor_col = inputs.floor
        if inputs.targets:
            t_floor_col = effective_floor(
                t_floor,
                inputs.floor[n_bench_cols:],
                inputs.ceiling[n_bench_cols:],
                around=spec.floor_around_chance,
            )
            floor_col = pt.concatenate([inputs.floor[:n_bench_cols], t_floor_col])

        for kind in KINDS:
            sel = obs_kind == kind
            if sel.any():
                p_sel = expected_score(
                    eta_flat[flat[sel]],
                    floor_col[ci[sel]],
                    inputs.ceiling[ci[sel]],
                    np.full(int(sel.sum()), kind == "linear"),
                )
                observe(
                    OBSERVED[kind],
                    kind,
                    spec.measurement,
                    p_sel,
                    phi_col[ci[sel]],
                    inputs.y[sel],
                    inputs.n_items[ci[sel]],
                    dims=OBS_DIMS[kind],
                )
    return model
