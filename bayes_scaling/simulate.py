"""Synthetic benchmark tables drawn from known parameters of the capability model.

:func:`simulate` follows the parametrisation of :mod:`bayes_scaling.model` exactly::

    alpha_f = tau * z_f                  z zero-sum over families, per capability
    x_m     = log10 FLOPs_m - mean(log10 FLOPs over models with known compute)
    S_m1    = alpha_f1 + x_m + sigma * e_m1    general axis, decades of effective compute
    S_mk    = alpha_fk + sqrt(1 - tau_k^2) e_mk  specialisations, k = 2..K (unit variance)
    p_mj    = floor_j + (1 - floor_j) * sigmoid(b_j + lambda_j . (S_m - mean_m S))
    counts  ~ BetaBinomial(n_j, p, rho_j),     rho_j = (2 * noise_j)^2
    score   = counts / n_j                     (Beta(p, rho_j) for a continuous column)

The first K benchmarks are the anchors, in order: anchor a loads on the general axis and
its own axis only, and its own loading is positive, which is the sign convention the estimator reports (see
:func:`bayes_scaling.estimator.align_signs`). Benchmarks are named after the count
benchmarks of the packaged registry (``MMLU``, ``GSM8K``, ...) with *their* chance floors
and item counts, so a simulated CSV read back by ``read_table`` or ``bayes-scaling data
validate`` gets the true floors and items; past the 13 registry names, extra benchmarks
``SIM-14``, ... are unknown to the registry (see ``docs/simulation.md``).

Examples
--------
>>> sim = simulate(n_models=12, n_families=3, n_benchmarks=4, capabilities=2, seed=1)
>>> sim.table.columns[:6].tolist()
['Model', 'Model Family', 'Model Size (B)', 'Pretraining Data Size (T)', 'FLOPs (1E21)', 'MMLU']
>>> sim.anchors
('MMLU', 'GSM8K')
>>> dict(sim.params["S"].sizes)
{'model': 12, 'capability': 2}
>>> simulate(12, 3, 4, seed=1).table.equals(simulate(12, 3, 4, seed=1).table)
True
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import xarray as xr

from bayes_scaling.capability_prior import family_dates
from bayes_scaling.data import FAMILY, FLOPS, MODEL, PARAMS, RELEASE, TOKENS, from_wide
from bayes_scaling.errors import BayesScalingError
from bayes_scaling.io import atomic_path, atomic_write_text
from bayes_scaling.measurement import draw, expected_score, linear_predictor, precision
from bayes_scaling.model import capability_names
from bayes_scaling.registry import Registry
from bayes_scaling.specs import ModelSpec, load_spec

__all__ = [
    "SimulatedTarget",
    "Simulation",
    "benchmark_catalogue",
    "read_params",
    "simulate",
    "simulate_target",
]

#: Registry count benchmarks used as simulated column names, in order (first K = anchors).
#: A mix of floors (0.25, 0, 0.5, 0.29, 0.34, 0.1) and item counts (164 to 14042).
REGISTRY_NAMES: tuple[str, ...] = (
    "MMLU",
    "GSM8K",
    "HumanEval",
    "Winograd",
    "ARC-C",
    "HellaSwag",
    "XWinograd",
    "BBH",
    "GPQA",
    "MATH Lvl 5",
    "IFEval",
    "MUSR",
    "MMLU-PRO",
)
#: The registry's continuous benchmark, used for ``continuous=True`` (never an anchor).
CONTINUOUS_NAME = "TruthfulQA"
# Benchmarks past the registry's names: floors and items cycle through these.
_EXTRA_FLOORS = (0.25, 0.5, 0.0, 0.2)
_EXTRA_ITEMS = (500, 1000, 2000, 300, 4000)
# log10 of the smallest training compute (FLOPs) drawn: 3e21, a ~100M-parameter model.
_LOG10_FLOPS_MIN = 21.5


@dataclasses.dataclass(frozen=True)
class Simulation:
    """A synthetic table and the parameters that generated it.

    Attributes
    ----------
    table : pandas.DataFrame
        The bundled wide format: ``Model``, ``Model Family``, ``Model Size (B)``,
        ``Pretraining Data Size (T)``, ``FLOPs (1E21)`` (``FLOPs = 6 N D``), then one score
        column per benchmark on [0, 1] (NaN = missing); with a time trend, a
        ``Release Date`` column (decimal years) before the scores.
    data : xarray.Dataset
        ``table`` read by :func:`bayes_scaling.data.from_wide` with :attr:`registry`.
    params : xarray.Dataset
        True parameters named as in the posterior: ``S`` (model, capability; general axis
        centred on the mean log10 FLOPs of models with known compute, as in the
        posterior), ``alpha`` (family, capability), ``loadings`` (benchmark, capability),
        ``b``, ``noise`` (benchmark), ``sigma``, ``tau`` (capability); plus ``x`` (true
        centred log10 FLOPs, known even where the table hides it) and ``p`` (the expected
        score of every cell); with a time trend, ``time_trend`` (decades per year, and
        ``alpha`` includes it). ``attrs``: ``anchors`` (JSON list), ``x_mean``, ``seed``
        (and ``t_mean``, the mean release date, with a time trend).
    anchors : tuple of str
        Anchor benchmark of each capability axis (the first K benchmarks).
    registry : Registry
        The packaged registry with the simulated benchmarks' floors and item counts.
    """

    table: pd.DataFrame
    data: xr.Dataset
    params: xr.Dataset
    anchors: tuple[str, ...]
    registry: Registry

    @property
    def capabilities(self) -> int:
        """Number K of simulated capability axes."""
        return int(self.params.sizes["capability"])

    def spec(self, base: str | ModelSpec | None = None) -> ModelSpec:
        """A model spec pinned to the true anchors (``k{K}`` by default).

        The name gets a ``-sim`` suffix: the spec differs from the bundled one (its
        anchors), and a results file must not pass for a fit of the bundled spec.

        Examples
        --------
        >>> sim = simulate(12, 3, 4, capabilities=2, seed=1)
        >>> spec = sim.spec()
        >>> spec.name, spec.anchors
        ('k2-sim', ('MMLU', 'GSM8K'))
        """
        spec = load_spec(base if base is not None else f"k{self.capabilities}")
        k = spec.n_capabilities
        if k > len(self.anchors):
            raise BayesScalingError(
                f"spec {spec.name!r} has {k} capabilities but the simulation only "
                f"{len(self.anchors)} anchors"
            )
        return dataclasses.replace(spec, name=f"{spec.name}-sim", anchors=self.anchors[:k])

    def save(
        self, table_path: str | Path, params_path: str | Path | None = None
    ) -> tuple[Path, Path | None]:
        """Write the table as CSV and, optionally, the true parameters, atomically.

        Parameters
        ----------
        table_path : path-like
            CSV destination (wide format; empty cells are missing).
        params_path : path-like, optional
            ``.json`` writes JSON (``xarray.Dataset.to_dict``); anything else netCDF
            (h5netcdf). Read either back with :func:`read_params`.

        Returns
        -------
        tuple of Path
            The table path and the params path (None when not written).

        Examples
        --------
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> sim = simulate(12, 3, 4, seed=1)
        >>> _ = sim.save(d / "sim.csv", d / "truth.nc")
        >>> float(read_params(d / "truth.nc")["sigma"]) == float(sim.params["sigma"])
        True
        """
        table_path = Path(table_path)
        with atomic_path(table_path) as tmp:
            # repr-precision floats: the CSV reads back to exactly the same numbers.
            self.table.to_csv(tmp, index=False)
        if params_path is None:
            return table_path, None
        params_path = Path(params_path)
        if params_path.suffix.lower() == ".json":
            atomic_write_text(params_path, json.dumps(self.params.to_dict(), indent=1))
        else:
            with atomic_path(params_path) as tmp:
                self.params.to_netcdf(tmp, engine="h5netcdf")
        return table_path, params_path


def read_params(path: str | Path) -> xr.Dataset:
    """Read true parameters written by :meth:`Simulation.save` (netCDF or JSON).

    Raises
    ------
    BayesScalingError
        Missing or unreadable file.
    """
    path = Path(path)
    if not path.is_file():
        raise BayesScalingError(f"{path}: no such parameters file")
    try:
        if path.suffix.lower() == ".json":
            return xr.Dataset.from_dict(json.loads(path.read_text(encoding="utf-8")))
        return xr.load_dataset(path, engine="h5netcdf")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BayesScalingError(
            f"{path}: not a simulation parameters file ({type(exc).__name__})"
        ) from None


def benchmark_catalogue(
    n_benchmarks: int, *, continuous: bool = False
) -> list[tuple[str, float, float]]:
    """Names, chance floors and item counts (NaN = continuous) of simulated benchmarks.

    Registry names first, with the registry's floors and items; then ``SIM-14``, ...;
    with ``continuous`` the last column is the registry's continuous ``TruthfulQA``.

    Examples
    --------
    >>> benchmark_catalogue(3)
    [('MMLU', 0.25, 14042.0), ('GSM8K', 0.0, 1319.0), ('HumanEval', 0.0, 164.0)]
    >>> benchmark_catalogue(2, continuous=True)[-1]
    ('TruthfulQA', 0.0, nan)
    """
    reg = Registry.default()
    n_count = n_benchmarks - int(continuous)
    out: list[tuple[str, float, float]] = []
    for j in range(n_count):
        if j < len(REGISTRY_NAMES):
            info = reg[REGISTRY_NAMES[j]]
            out.append((info.name, info.floor, float(info.n_items or math.nan)))
        else:
            k = j - len(REGISTRY_NAMES)
            out.append(
                (
                    f"SIM-{j + 1:02d}",
                    _EXTRA_FLOORS[k % len(_EXTRA_FLOORS)],
                    float(_EXTRA_ITEMS[k % len(_EXTRA_ITEMS)]),
                )
            )
    if continuous:
        out.append((CONTINUOUS_NAME, reg[CONTINUOUS_NAME].floor, math.nan))
    return out


def simulate(
    n_models: int = 60,
    n_families: int = 8,
    n_benchmarks: int = 8,
    capabilities: int = 2,
    missing: float = 0.0,
    seed: int = 0,
    compute_missing: float = 0.0,
    *,
    sigma: float = 0.3,
    tau: float | Sequence[float] = 0.5,
    decades: float = 4.0,
    continuous: bool = False,
    measurement: Literal["beta-binomial", "binomial"] = "beta-binomial",
    time_trend: float | None = None,
    years: tuple[float, float] = (2020.0, 2025.0),
) -> Simulation:
    """Draw a complete synthetic benchmark table from known model parameters.

    Parameters
    ----------
    n_models, n_families, n_benchmarks : int
        Table size. Every family gets at least ``min(2, n_models // n_families)`` models.
    capabilities : int
        Number K of latent capabilities (1 to 4, at most the number of count benchmarks).
    missing : float
        Share of score cells blanked at random, in [0, 1). Cells are skipped when
        blanking them would leave a benchmark with fewer than 3 models or a model with
        no score, so a large share may not be reached exactly.
    seed : int
        Same seed, same table and parameters.
    compute_missing : float
        Share of models whose tokens and FLOPs are hidden (their size stays). Below one,
        at least two models keep their compute; one hides every model's (a table with no
        compute at all, as frontier leaderboards are).
    sigma : float
        Residual sd (decades) of a model's general capability around its family line.
    tau : float or sequence of float
        Sd of the family effects, one value or one per capability. A specialisation has
        unit total variance, so its ``tau`` must be below one; its within-family sd is
        ``sqrt(1 - tau**2)``.
    decades : float
        Span of log10 training FLOPs, drawn uniformly from ``[21.5, 21.5 + decades]``.
    continuous : bool
        Make the last benchmark the continuous ``TruthfulQA`` (Beta-distributed score).
    measurement : {"beta-binomial", "binomial"}
        Measurement layer of count benchmarks (``binomial``: no protocol noise).
    time_trend : float, optional
        Add a ``Release Date`` column and a time trend in family efficiency of this many
        decades of effective compute per year: each family is released at a date drawn
        uniformly from ``years`` (its models within a month of it), and its general effect
        is ``time_trend * (t_f - t_mean) + tau * z_f``, where ``t_f`` is the mean of its
        models' dates and ``t_mean`` the mean over models, as the fit centres them.
    years : (float, float)
        Range of the families' release dates (decimal years), with ``time_trend``.

    Returns
    -------
    Simulation

    Raises
    ------
    BayesScalingError
        Impossible sizes or shares.

    Examples
    --------
    >>> sim = simulate(n_models=20, n_families=4, n_benchmarks=6, capabilities=2,
    ...                missing=0.1, seed=3)
    >>> sim.data.sizes["model"], sim.data.sizes["benchmark"]
    (20, 6)
    >>> bool((sim.params["loadings"].sel(capability="general") > 0).all())
    True
    """
    _check(n_models, n_families, n_benchmarks, capabilities, missing, compute_missing, continuous)
    if sigma <= 0 or decades <= 0:
        raise BayesScalingError("sigma and decades must be positive")
    k = capabilities
    taus = np.asarray(tau, dtype=float)
    if taus.shape not in ((), (k,)) or (taus < 0).any():
        raise BayesScalingError(f"tau must be one non-negative value or {k} of them")
    taus = np.broadcast_to(taus, (k,)).copy()
    if (taus[1:] >= 1).any():
        raise BayesScalingError("tau of a specialisation must be below 1 (unit total variance)")
    rng = np.random.default_rng(seed)
    m, f, j = n_models, n_families, n_benchmarks

    # --- models, families, compute ---------------------------------------------------
    families = [f"F{i + 1:02d}" for i in range(f)]  # zero-padded: sorted = index order
    base = min(2, m // f)
    counts = np.full(f, base) + rng.multinomial(m - base * f, np.full(f, 1.0 / f))
    fi = np.repeat(np.arange(f), counts)
    models = [f"{families[g]}-{i + 1:03d}" for i, g in enumerate(fi)]
    log_c = _LOG10_FLOPS_MIN + decades * rng.uniform(size=m)
    log_ratio = rng.uniform(np.log10(5.0), np.log10(200.0), size=m)  # tokens per parameter
    # C = 6 N D with D = r N; rounded to 4 significant digits as a table would print them,
    # and FLOPs recomputed from the rounded values so the metadata is exactly consistent.
    n_params = _round_sig(np.sqrt(10.0**log_c / (6.0 * 10.0**log_ratio)) / 1e9)  # billions
    n_tokens = _round_sig(n_params * 1e9 * 10.0**log_ratio / 1e12)  # trillions
    flops_col = 6.0 * n_params * n_tokens  # units of 1e21 (1e9 * 1e12 / 1e21 = 1)
    # Same arithmetic as data.from_wide (column * 1e21), so x matches the model's inputs.
    logf = np.log10(flops_col * 1e21)
    hidden = np.zeros(m, dtype=bool)
    # Short of "no compute at all" (a frontier table), two models keep theirs.
    n_hidden = m if compute_missing == 1.0 else min(round(compute_missing * m), m - 2)
    if n_hidden > 0:
        hidden[rng.choice(m, n_hidden, replace=False)] = True
    x_mean = float(np.mean(logf[~hidden] if (~hidden).any() else logf))
    x = logf - x_mean

    # --- capabilities ------------------------------------------------------------------
    z = rng.normal(size=(f, k))
    z -= z.mean(axis=0, keepdims=True)  # zero-sum over families, as pm.ZeroSumNormal
    alpha = z * taus[None, :]
    release = None
    if time_trend is not None:
        # Drawn after everything above, so a seed's table without a trend is unchanged.
        fam_date = rng.uniform(years[0], years[1], size=f)
        release = np.round(fam_date[fi] + rng.uniform(-1 / 24, 1 / 24, size=m), 4)
        t_mean = float(release.mean())
        alpha[:, 0] += time_trend * family_dates(release, fi, f, t_mean)
    e = rng.normal(size=(m, k))
    s = alpha[fi] + e * np.sqrt(1.0 - taus[None, :] ** 2)
    s[:, 0] = alpha[fi, 0] + x + sigma * e[:, 0]

    # --- benchmarks ----------------------------------------------------------------------
    catalogue = benchmark_catalogue(j, continuous=continuous)
    names = [c[0] for c in catalogue]
    floor = np.array([c[1] for c in catalogue])
    n_items = np.array([c[2] for c in catalogue])
    loadings = np.zeros((j, k))
    loadings[:, 0] = rng.lognormal(np.log(1.4), 0.25, size=j)
    if k > 1:
        # Non-anchor specialisation loadings are kept below the anchors' (>= 1) so that
        # each anchor is clearly its axis's purest benchmark, as choose_anchors assumes.
        loadings[:, 1:] = np.clip(rng.normal(0.0, 0.4, size=(j, k - 1)), -0.8, 0.8)
        for a in range(k):
            loadings[a, 1:] = 0.0  # an anchor loads on the general axis and its own only
            if a > 0:
                loadings[a, a] = rng.uniform(1.0, 1.4)  # positive: the reported sign
    b = rng.normal(0.0, 1.0, size=j)
    noise = 0.005 + rng.lognormal(np.log(0.015), 0.3, size=j)

    centred = s - s.mean(axis=0, keepdims=True)
    eta = linear_predictor(b, loadings, centred)
    p = expected_score(eta, floor, 1.0)
    # The model's own measurement layer: counts of items, Beta where continuous.
    score = draw(p, precision(noise), n_items, rng, measurement)
    score = _blank(score, missing, rng)

    table = pd.DataFrame(
        {
            MODEL: models,
            FAMILY: [families[g] for g in fi],
            PARAMS: n_params,
            TOKENS: np.where(hidden, np.nan, n_tokens),
            FLOPS: np.where(hidden, np.nan, flops_col),
        }
    )
    if release is not None:
        table[RELEASE] = release
    table = pd.concat([table, pd.DataFrame(score, columns=names)], axis=1)
    registry = Registry.default().with_overrides(
        {
            name: {
                "floor": float(fl),
                "n_items": int(n) if np.isfinite(n) else None,
                "continuous": not np.isfinite(n),
            }
            for name, fl, n in catalogue
        }
    )
    data = from_wide(table, source=f"<simulation seed={seed}>", registry=registry)
    anchors = tuple(names[:k])
    caps = capability_names(k)
    params = xr.Dataset(
        {
            "S": (("model", "capability"), s),
            "alpha": (("family", "capability"), alpha),
            "loadings": (("benchmark", "capability"), loadings),
            "b": ("benchmark", b),
            "noise": ("benchmark", noise),
            "sigma": ((), float(sigma)),
            "tau": ("capability", taus),
            "x": ("model", x),
            "p": (("model", "benchmark"), p),
            **({} if time_trend is None else {"time_trend": ((), float(time_trend))}),
        },
        coords={
            "model": models,
            "family": families,
            "model_family": ("model", [families[g] for g in fi]),
            "compute_known": ("model", (~hidden).astype(np.int8)),
            "benchmark": names,
            "floor": ("benchmark", floor),
            "n_items": ("benchmark", n_items),
            "capability": caps,
        },
        attrs={
            "anchors": json.dumps(list(anchors)),
            "x_mean": x_mean,
            "seed": int(seed),
            "measurement": measurement,
            **({} if release is None else {"t_mean": float(release.mean())}),
        },
    )
    return Simulation(table=table, data=data, params=params, anchors=anchors, registry=registry)


def _check(
    m: int, f: int, j: int, k: int, missing: float, compute_missing: float, continuous: bool
) -> None:
    if m < 3:
        raise BayesScalingError(f"need at least 3 models, got {m}")
    if not 1 <= f <= m:
        raise BayesScalingError(f"families must be between 1 and the {m} models, got {f}")
    if not 1 <= k <= 4:
        raise BayesScalingError(f"capabilities must be 1 to 4, got {k}")
    n_count = j - int(continuous)
    if n_count < k:
        raise BayesScalingError(
            f"{k} capabilities need at least {k} count benchmarks (anchors), got {n_count}"
        )
    if not 0.0 <= missing < 1.0:
        raise BayesScalingError(f"missing must be in [0, 1), got {missing}")
    if not 0.0 <= compute_missing <= 1.0:
        raise BayesScalingError(f"compute_missing must be in [0, 1], got {compute_missing}")


def _round_sig(values: np.ndarray, digits: int = 4) -> np.ndarray:
    """Round to ``digits`` significant digits (positive values)."""
    scale = 10.0 ** (digits - 1 - np.floor(np.log10(values)))
    return np.round(values * scale) / scale


def _blank(score: np.ndarray, missing: float, rng: np.random.Generator) -> np.ndarray:
    """Blank a ``missing`` share of cells, keeping >= 3 models per benchmark, >= 1 per model."""
    out = score.copy()
    target = round(missing * out.size)
    if target == 0:
        return out
    per_model = np.full(out.shape[0], out.shape[1])
    per_bench = np.full(out.shape[1], out.shape[0])
    done = 0
    for cell in rng.permutation(out.size):
        if done == target:
            break
        i, jj = divmod(int(cell), out.shape[1])
        if per_model[i] > 1 and per_bench[jj] > 3:
            out[i, jj] = np.nan
            per_model[i] -= 1
            per_bench[jj] -= 1
            done += 1
    return out


@dataclasses.dataclass(frozen=True)
class SimulatedTarget:
    """A downstream metric drawn from known target parameters over a :class:`Simulation`.

    Attributes
    ----------
    values : pandas.Series
        Share of ``n_items`` items correct per model (index: model names).
    params : xarray.Dataset
        ``intercept``, ``weights`` (capability), ``residual_weights`` (benchmark),
        ``family_deviation`` (family), ``deviation`` (model), ``spread``,
        ``family_spread``, ``floor`` and ``p`` (model; the expected share).
    n_items : int
        Items behind each value.
    """

    values: pd.Series
    params: xr.Dataset
    n_items: int


def simulate_target(
    sim: Simulation,
    *,
    name: str = "target",
    n_items: int = 2000,
    intercept: float = -1.0,
    general_weight: float = 2.0,
    residual_weight: float = 0.0,
    residual_benchmark: str | None = None,
    spread: float = 0.3,
    family_spread: float = 0.5,
    floor: float = 0.0,
    noise: float = 0.02,
    deviation_dof: float | None = None,
    seed: int = 0,
) -> SimulatedTarget:
    """Draw a downstream metric from the target layer of :mod:`bayes_scaling.model`.

    ``p_m = floor + (1 - floor) * sigmoid(eta_m)``, where
    ``eta_m = intercept + w . (S_m - mean S) + v . r_m + d_f(m) + e_m`` and ``floor`` is the
    effective floor the model learns as ``target_floor``: ``w`` has ``general_weight`` on
    the general axis and 0.3 on each specialisation,
    ``r_m`` are the model's benchmark residual logits (observed score against the true
    capabilities' prediction, squeezed as in the model), ``v`` is ``residual_weight`` on
    ``residual_benchmark`` (default: the first non-anchor benchmark) and zero elsewhere,
    ``d`` family offsets with sd
    ``family_spread``, ``e`` model deviations with scale ``spread`` (normal, or Student-t
    with ``deviation_dof`` degrees of freedom, as a ``tails = "student-t"`` spec's
    graph has them: :func:`~bayes_scaling.model.target_deviation_draws`); the value is a
    beta-binomial share of ``n_items`` with noise sd ``noise`` at p = 0.5 (default two
    points, as the simulated benchmarks'; the model's floor is half a point).

    Examples
    --------
    >>> sim = simulate(20, 4, 5, capabilities=2, seed=1)
    >>> t = simulate_target(sim, seed=2)
    >>> t.values.between(0, 1).all(), t.n_items
    (np.True_, 2000)
    """
    from bayes_scaling.model import benchmark_residual, target_deviation_draws

    rng = np.random.default_rng(seed)
    prm = sim.params
    s = prm["S"].transpose("model", "capability").to_numpy()
    k = s.shape[1]
    w = np.full(k, 0.3)
    w[0] = general_weight
    centred = s - s.mean(axis=0, keepdims=True)
    names = [str(b) for b in prm["benchmark"].to_numpy()]
    v = np.zeros(len(names))
    if residual_benchmark is not None:
        if residual_benchmark not in names:
            raise BayesScalingError(f"no benchmark {residual_benchmark!r} in the simulation")
        v[names.index(residual_benchmark)] = residual_weight
    elif len(names) > k:
        v[k] = residual_weight
    score = sim.data["score"].transpose("model", "benchmark").sel(benchmark=names).to_numpy()
    bench_floor = prm["floor"].to_numpy()
    eta_b = linear_predictor(prm["b"].to_numpy(), prm["loadings"].to_numpy(), centred)
    resid = benchmark_residual((score - bench_floor) / (1 - bench_floor), eta_b)
    resid = np.where(np.isfinite(score), resid, 0.0)
    families = [str(f) for f in prm["family"].to_numpy()]
    fam_of = [families.index(str(f)) for f in prm["model_family"].to_numpy()]
    d_fam = rng.normal(size=len(families)) * family_spread
    e = target_deviation_draws(np.asarray(spread), (s.shape[0],), rng, deviation_dof)
    eta = intercept + centred @ w + resid @ v + d_fam[fam_of] + e
    if not 0.0 <= floor < 1.0:
        raise BayesScalingError(f"a target's floor must be in [0, 1), got {floor}")
    p = expected_score(eta, floor, 1.0)
    # Counts of ``n_items`` items with protocol noise above the model's floor.
    phi = precision(np.array([noise]))
    values = draw(p[:, None], phi, np.array([float(n_items)]), rng, "beta-binomial")[:, 0]
    models = [str(m) for m in prm["model"].to_numpy()]
    params = xr.Dataset(
        {
            "intercept": ((), intercept),
            "weights": ("capability", w),
            "residual_weights": ("benchmark", v),
            "family_deviation": ("family", d_fam),
            "deviation": ("model", e),
            "spread": ((), spread),
            "family_spread": ((), family_spread),
            "floor": ((), floor),
            "noise": ((), noise),
            "p": ("model", p),
        },
        coords={
            "model": models,
            "family": families,
            "benchmark": names,
            "capability": prm["capability"].to_numpy(),
        },
    )
    return SimulatedTarget(
        values=pd.Series(values, index=models, name=name), params=params, n_items=n_items
    )
