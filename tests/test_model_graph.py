"""The PyMC graph of the capability model, without sampling.

Shapes, coordinates and dims of every bundled spec on the bundled base table and on a
simulated table, finite log densities at the initial point, the anchor zeros, a prior
predictive check and the user errors. Graphs are compiled in pytensor's FAST_COMPILE
mode: these checks need correct numbers, not fast ones, and it saves ~5 s per graph.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pymc as pm
import pytest
import xarray as xr
from scipy.special import expit
from scipy.stats import norm

from bayes_scaling import datasets
from bayes_scaling.errors import BayesScalingError
from bayes_scaling.model import ModelInputs, build_inputs, build_model, choose_anchors
from bayes_scaling.simulate import Simulation, simulate
from bayes_scaling.specs import ModelSpec, load_spec

MODE = "FAST_COMPILE"
SPECS = (
    "k1",
    "k2",
    "k3",
    "k4",
    "compute-only",
    "k3-slopes",
    "k3-binomial",
    "k3-robust",
    "k3-exact",
)


@pytest.fixture(scope="module")
def base() -> xr.Dataset:
    return datasets.load("base-llm")


@pytest.fixture(scope="module")
def sim() -> Simulation:
    # 10% of models without compute and 10% of scores missing, like the real tables.
    return simulate(30, 5, 8, capabilities=3, missing=0.1, seed=5, compute_missing=0.1)


def with_compute(data: xr.Dataset) -> xr.Dataset:
    """Models with known compute only (what the compute-only law needs)."""
    return data.isel(model=np.flatnonzero(np.isfinite(data["flops"].to_numpy())))


def graph(data: xr.Dataset, spec: ModelSpec) -> tuple[ModelInputs, pm.Model]:
    if spec.compute_only:
        data = with_compute(data)
    inputs = build_inputs(data, spec)
    return inputs, build_model(inputs, spec)


@pytest.fixture(params=["base", "sim"])
def table(request: pytest.FixtureRequest, base: xr.Dataset, sim: Simulation) -> xr.Dataset:
    return base if request.param == "base" else sim.data


@pytest.mark.parametrize("name", SPECS)
def test_shapes_coords_and_dims(table: xr.Dataset, name: str) -> None:
    spec = load_spec(name)
    inputs, model = graph(table, spec)
    k = spec.n_capabilities
    m, f, j = len(inputs.models), len(inputs.families), len(inputs.benchmarks)
    assert list(model.coords["capability"]) == ["general"] + [f"spec{i}" for i in range(1, k)]
    assert list(model.coords["model"]) == list(inputs.models)
    assert list(model.coords["benchmark"]) == [str(b) for b in table["benchmark"].to_numpy()]
    assert len(model.coords["family"]) == f == len(set(inputs.families))
    dims = model.named_vars_to_dims
    assert dims["S"] == ("model", "capability")
    assert dims["alpha"] == ("family", "capability")
    assert dims["loadings"] == ("benchmark", "capability")
    assert dims["b"] == ("benchmark",) and dims["noise"] == ("benchmark",)
    assert dims["tau"] == ("capability",)
    s, alpha, lam = pm.draw([model["S"], model["alpha"], model["loadings"]], mode=MODE)
    assert s.shape == (m, k) and alpha.shape == (f, k) and lam.shape == (j, k)
    # Every observed cell is in the likelihood exactly once.
    n_obs = int(np.isfinite(inputs.y).sum())
    assert len(model.coords["obs"]) == n_obs == inputs.y.size
    n_count = len(model.coords.get("obs_count", ()))
    n_cont = len(model.coords.get("obs_cont", ()))
    assert n_count + n_cont == n_obs
    assert n_count == int(inputs.is_count.sum())
    rv = {
        "binomial": "BinomialRV",
        "beta-binomial": "BetaBinomialRV",
        "beta-binomial-normal": "CustomDist_y_count",
    }[spec.measurement]
    assert type(model["y_count"].owner.op).__name__ == rv
    assert ("slope" in model.named_vars) == spec.family_slopes
    if spec.family_slopes:
        assert dims["slope"] == ("family",)
    assert ("sigma" in model.named_vars) == (not spec.compute_only)


@pytest.mark.parametrize(
    ("which", "name"),
    [
        ("base", "k3"),
        ("base", "k3-binomial"),
        ("sim", "k2"),
        ("sim", "compute-only"),
        ("sim", "k3-slopes"),
    ],
)
def test_point_logps_are_finite(base: xr.Dataset, sim: Simulation, which: str, name: str) -> None:
    _, model = graph(base if which == "base" else sim.data, load_spec(name))
    logps = model.point_logps(mode=MODE)
    assert logps and all(np.isfinite(v) for v in logps.values()), logps


@pytest.mark.parametrize("k", [2, 3, 4])
def test_loadings_are_zero_above_the_anchor_diagonal(base: xr.Dataset, k: int) -> None:
    spec = load_spec(f"k{k}")
    inputs, model = graph(base, spec)
    lam = pm.draw(model["loadings"], draws=20, random_seed=3, mode=MODE)
    rows = [inputs.benchmarks.index(a) for a in inputs.anchors]
    for axis, row in enumerate(rows):
        assert (lam[:, row, axis + 1 :] == 0).all()  # anchor of axis a: nothing beyond a
    others = np.setdiff1d(np.arange(len(inputs.benchmarks)), rows)
    assert (lam[:, others, 1:] != 0).all()
    assert (lam[:, :, 0] > 0).all()  # general loadings are positive


def test_explicit_anchors_are_used(sim: Simulation) -> None:
    inputs, model = graph(sim.data, sim.spec("k3"))
    assert inputs.anchors == ("MMLU", "GSM8K", "HumanEval")
    lam = pm.draw(model["loadings"], draws=5, random_seed=1, mode=MODE)
    assert (lam[:, 0, 1:] == 0).all() and (lam[:, 1, 2:] == 0).all()


def prior_scores(inputs: ModelInputs, model: pm.Model, draws: int = 300) -> np.ndarray:
    """Prior predictive expected scores of every observed cell, (draw, obs)."""
    prior = pm.sample_prior_predictive(
        draws=draws,
        model=model,
        random_seed=2,
        var_names=["S", "b", "loadings"],
        compile_kwargs={"mode": MODE},
    )["prior"]
    s = prior["S"].to_numpy()[0]
    lam = prior["loadings"].to_numpy()[0]
    b = prior["b"].to_numpy()[0]
    centred = s - s.mean(axis=1, keepdims=True)
    eta = b[:, None, :] + np.einsum("dmk,djk->dmj", centred, lam)
    eta = eta[:, inputs.obs_model, inputs.obs_column]
    floor = inputs.floor[inputs.obs_column]
    return floor + (1 - floor) * expit(eta)


@pytest.mark.parametrize(
    ("which", "name"), [("base", "k2"), ("sim", "k3"), ("sim", "compute-only")]
)
def test_prior_predictive_spreads_scores_over_floor_to_one(
    base: xr.Dataset, sim: Simulation, which: str, name: str
) -> None:
    """Implied scores cover [floor, 1] without piling up at either edge.

    Fails if the priors on loadings, intercepts or capability spread are so wide that
    the sigmoid saturates for most cells (mass at the floor and at 1).
    """
    inputs, model = graph(base if which == "base" else sim.data, load_spec(name))
    p = prior_scores(inputs, model)
    floor = inputs.floor[inputs.obs_column]
    near_floor = float(np.mean(p < floor + 0.02))
    near_one = float(np.mean(p > 0.98))
    assert near_floor < 0.25, near_floor
    assert near_one < 0.25, near_one
    u = (p - floor) / (1 - floor)  # position between floor and 1
    q1, q2, q3 = np.quantile(u, [0.25, 0.5, 0.75])
    assert 0.02 < q1 < q2 < q3 < 0.98, (q1, q2, q3)
    assert 0.3 < q2 < 0.7  # centred: neither prior direction favoured


def test_prior_predictive_of_observed_scores_can_be_sampled(base: xr.Dataset) -> None:
    spec = load_spec("k1")
    _, model = graph(base, spec)
    pp = pm.sample_prior_predictive(
        draws=300, model=model, random_seed=1, compile_kwargs={"mode": MODE}
    )["prior_predictive"]
    assert np.isfinite(pp["y_count"].to_numpy()).all()


def test_choose_anchors_finds_the_simulated_specialisation_anchors() -> None:
    """PCA anchors on K=2 simulations: the true specialisation anchor, and a general
    anchor that loads (almost) purely on the general axis.

    The general anchor itself is a convention: the loading rotation
    ``g' = g + t s, lambda_spec' = lambda_spec - t lambda_general`` is absorbed by
    ``sigma`` and the family effects, so any nearly pure benchmark is a valid choice
    (see docs/simulation.md). The specialisation anchor is not: it is the benchmark
    that defines the second axis.
    """
    for seed in range(5):
        sim = simulate(60, 8, 8, capabilities=2, missing=0.1, seed=seed)
        general, spec1 = choose_anchors(sim.data, 2)
        assert spec1 == sim.anchors[1] == "GSM8K", seed
        lam = sim.params["loadings"].sel(benchmark=general).to_numpy()
        assert abs(lam[1]) < 0.35 * lam[0], (seed, general, lam)


def test_choose_anchors_skips_continuous_and_sparse_benchmarks() -> None:
    sim = simulate(40, 5, 6, capabilities=2, seed=1, continuous=True)
    assert "TruthfulQA" not in choose_anchors(sim.data, 3)


def test_unknown_anchor_is_a_user_error(sim: Simulation) -> None:
    spec = dataclasses.replace(load_spec("k2"), anchors=("MMLU", "NoSuchBench"))
    with pytest.raises(BayesScalingError, match="anchor 'NoSuchBench' is not a benchmark"):
        build_inputs(sim.data, spec)


def test_too_few_anchors_is_a_user_error(sim: Simulation) -> None:
    spec = dataclasses.replace(load_spec("k3"), anchors=("MMLU",))
    with pytest.raises(BayesScalingError, match="needs 3 anchors"):
        build_inputs(sim.data, spec)


def test_compute_only_without_compute_is_a_user_error(sim: Simulation) -> None:
    with pytest.raises(BayesScalingError, match="compute-only law needs training compute"):
        build_inputs(sim.data, load_spec("compute-only"))


def general_prior_logp(model, point) -> float:
    """The graph's prior log density of the general capabilities at ``point``.

    Without compute they are sampled as a zero-sum part and a mean
    (``model._without_shift``); their density is then ``Normal(loc, scale)``'s
    less ``0.5 log sum(1 / scale**2)``, the volume of the shift's non-centring.
    """
    names = ["g"] if "g" in model else ["g_centred", "g_shift_z", "g_centred_density"]
    return graph_logp(model, point, names)


def graph_logp(model, point, names) -> float:
    """The graph's log density of the variables ``names`` at ``point`` (no Jacobians)."""
    return float(
        model.compile_fn(
            model.logp(vars=[model[n] for n in names], jacobian=False, sum=True),
            inputs=model.value_vars,
            on_unused_input="ignore",
        )(point)
    )


def test_a_table_without_compute_has_no_compute_trend(sim: Simulation) -> None:
    """No compute at all: beta is fixed at one and a model's prior is its family's effect."""
    data = sim.data.assign_coords(flops=("model", np.full(sim.data.sizes["model"], np.nan)))
    inputs = build_inputs(data, load_spec("k2"))
    assert (inputs.x_mean, inputs.x_sd) == (0.0, 0.0)
    model = build_model(inputs, load_spec("k2"))
    assert "beta" not in {v.name for v in model.free_RVs}
    rng = np.random.default_rng(0)
    for _ in range(3):
        point = {k: v + rng.normal(0, 0.5, np.shape(v)) for k, v in model.initial_point(0).items()}
        point["g_centred_zerosum__"] = rng.normal(0, 1, point["g_centred_zerosum__"].shape)
        beta, alpha, s, sigma = model.compile_fn(
            model.replace_rvs_by_values([model[n] for n in ("beta", "alpha", "S", "sigma")]),
            inputs=model.value_vars,
            on_unused_input="ignore",
        )(point)
        assert float(beta) == 1.0
        # The prior of g is Normal(its family's effect, sigma): decades = logits here.
        loc = alpha[inputs.family_index, 0]
        ours = norm.logpdf(s[:, 0], loc, sigma).sum()
        n = len(inputs.models)
        np.testing.assert_allclose(
            ours, general_prior_logp(model, point) + 0.5 * np.log(n / sigma**2), rtol=1e-10
        )


def test_a_wide_table_samples_specialisations_centred_without_their_mean() -> None:
    """A median model with 20 or more scores: specialisations centred, as for g without compute.

    Their density is ``Normal(family effect, within-family sd)``'s less
    ``0.5 log sum(1 / scale**2)`` per axis (the shift's non-centring), and the
    specialisation loadings' raw unit normals, sampled as a zero-sum part plus a mean,
    keep their iid density up to the constant ``0.5 log n``.
    """
    sim = simulate(n_models=24, n_families=4, n_benchmarks=24, capabilities=3, missing=0.0, seed=3)
    spec = load_spec("k3")
    inputs = build_inputs(sim.data, spec)
    assert np.bincount(inputs.family_index).min() > 1  # no lone family: a plain prior
    model = build_model(inputs, spec)
    free = {v.name for v in model.free_RVs}
    assert {"s_spec_centred", "s_spec_shift_z", "loading_raw_mean"} <= free
    assert "s_spec_z" not in free
    # The base table's 12 benchmarks keep the non-centred graph.
    narrow = build_model(build_inputs(sim.data.isel(benchmark=slice(0, 12)), spec), spec)
    assert {"s_spec_z"} <= {v.name for v in narrow.free_RVs}
    rng = np.random.default_rng(0)
    n, n_bench = len(inputs.models), len(inputs.benchmarks)
    for _ in range(3):
        point = {k: v + rng.normal(0, 0.5, np.shape(v)) for k, v in model.initial_point(0).items()}
        alpha, s, resid_sd, zs, mean = model.compile_fn(
            model.replace_rvs_by_values(
                [model[n] for n in ("alpha", "S", "resid_sd", "loading_raw", "loading_raw_mean")]
            ),
            inputs=model.value_vars,
            on_unused_input="ignore",
        )(point)
        loc, scale = alpha[inputs.family_index, 1:], resid_sd[1:]
        ours = norm.logpdf(s[:, 1:], loc, scale).sum()
        spec_logp = graph_logp(
            model, point, ["s_spec_centred", "s_spec_shift_z", "s_spec_centred_density"]
        )
        shift = 0.5 * np.log(n / scale**2).sum()
        np.testing.assert_allclose(ours, spec_logp + shift, rtol=1e-10)
        raw = zs.T + mean
        raw_logp = graph_logp(model, point, ["loading_raw", "loading_raw_mean"])
        np.testing.assert_allclose(norm.logpdf(raw).sum(), raw_logp - np.log(n_bench), rtol=1e-10)


def test_without_compute_the_loadings_set_the_general_scale(sim: Simulation) -> None:
    """No compute: the general loadings have geometric mean one; g's sds are free."""
    data = sim.data.assign_coords(flops=("model", np.full(sim.data.sizes["model"], np.nan)))
    inputs = build_inputs(data, load_spec("k1"))
    model = build_model(inputs, load_spec("k1"))
    free = {v.name for v in model.free_RVs}
    assert {"tau_general", "sigma_general", "log_loading"} <= free
    assert not {"mu_l", "general_share", "g"} & free
    point = model.initial_point(0)
    point["log_loading_zerosum__"] = np.random.default_rng(1).normal(
        size=point["log_loading_zerosum__"].shape
    )
    (lam,) = model.compile_fn(
        model.replace_rvs_by_values([model["loadings"]]),
        inputs=model.value_vars,
        on_unused_input="ignore",
    )(point)
    assert lam.shape == (len(inputs.benchmarks), 1) and np.ptp(lam) > 0.1
    np.testing.assert_allclose(np.log(lam[:, 0]).sum(), 0.0, atol=1e-10)
    # With compute the scale anchor's loading stays fixed: one fewer free loading.
    with_compute = build_model(build_inputs(sim.data, load_spec("k1")), load_spec("k1"))
    n_free = with_compute.initial_point()["log_loading"].shape
    assert n_free == (len(inputs.benchmarks) - 1,)


def _evaluate(model, point, names):
    """Values of named variables and the prior location of ``g`` at a point."""
    if "g" in model:
        outs = model.replace_rvs_by_values(
            [model[n] for n in names] + [model["g"].owner.inputs[-2]]
        )
        return model.compile_fn(outs, inputs=model.value_vars, on_unused_input="ignore")(point)
    # Non-centred (model.general_noncentred): g = loc + scale * g_z, so g at g_z = 0 is its
    # location (S's general column is g / beta).
    fn = model.compile_fn(
        model.replace_rvs_by_values([model[n] for n in [*names, "S", "beta"]]),
        inputs=model.value_vars,
        on_unused_input="ignore",
    )
    values = fn(point)[: len(names)]
    s, beta = fn({**point, "g_z": np.zeros_like(point["g_z"])})[len(names) :]
    return (*values, s[:, 0] * beta)


def test_a_model_without_compute_keeps_its_family_effect(sim: Simulation) -> None:
    """Unknown compute is missing data: the prior is centred on the family's effect."""
    inputs = build_inputs(sim.data, load_spec("k2"))
    assert (~inputs.has_compute).any() and inputs.has_compute.any()
    model = build_model(inputs, load_spec("k2"))
    point = model.initial_point(0)
    key = next(k for k in point if k.startswith("z_alpha"))
    point[key] = np.random.default_rng(0).normal(size=point[key].shape)
    alpha, beta, loc = _evaluate(model, point, ["alpha", "beta"])
    closed = ~inputs.has_compute
    np.testing.assert_allclose(loc[closed], beta * alpha[inputs.family_index[closed], 0])


def test_more_capabilities_than_benchmarks_is_a_user_error() -> None:
    sim = simulate(20, 4, 3, capabilities=2, seed=1)
    with pytest.raises(BayesScalingError, match="at least 4 benchmarks"):
        build_inputs(sim.data, load_spec("k4"))


@pytest.mark.parametrize("continuous", [False, True])
def test_likelihood_matches_a_per_score_computation(sim: Simulation, continuous: bool) -> None:
    """The dense linear predictor and its flat gather equal the per-score formula.

    At a random point, each observed score's log density (benchmarks and a target with
    benchmark residuals, family offsets and deviations) is recomputed in numpy from the
    point's deterministics, one (model, column) cell at a time, with scipy's densities.
    """
    from scipy import stats

    from bayes_scaling.forecast import make_target
    from bayes_scaling.measurement import EPS
    from bayes_scaling.model import benchmark_residual, effective_floor
    from bayes_scaling.simulate import simulate_target

    spec = sim.spec("k2")
    truth = simulate_target(sim, residual_weight=0.8, seed=2)
    models = list(truth.values.index)
    target = make_target(truth.values, "t", 0.0, 1.0, n_items=None if continuous else truth.n_items)
    inputs = build_inputs(sim.data, spec, target.dataset(models, hidden=models[:5]))
    model = build_model(inputs, spec)
    rng = np.random.default_rng(0)
    point = {k: v + rng.normal(0, 0.3, np.shape(v)) for k, v in model.initial_point(0).items()}
    names = [
        "S",
        "loadings",
        "b",
        "noise",
        "target_intercept",
        "target_weights",
        "target_residual_weights",
        "target_family_deviation",
        "target_spread",
        "target_noise",
        "target_floor",
    ]
    # Deterministics as functions of the value variables (compile_fn alone would draw
    # the random variables beneath them).
    outs = model.replace_rvs_by_values([model[n] for n in names])
    det_fn = model.compile_fn(outs, inputs=model.value_vars, mode=MODE, on_unused_input="ignore")
    det = dict(zip(names, det_fn(point), strict=True))
    z_dev = point["target_deviation_z"]
    s_c = det["S"] - det["S"].mean(0)
    nb = len(inputs.benchmarks)
    y_by_cell = {
        (m, c): y for m, c, y in zip(inputs.obs_model, inputs.obs_column, inputs.y, strict=True)
    }
    assert spec.measurement == "beta-binomial-normal"
    expected_count, expected_cont, t_i, n_normal = [], [], 0, 0
    for m, c, y in zip(inputs.obs_model, inputs.obs_column, inputs.y, strict=True):
        if c < nb:
            eta = det["b"][c] + det["loadings"][c] @ s_c[m]
            noise = det["noise"][c]
        else:
            eta = det["target_intercept"][0] + det["target_weights"][0] @ s_c[m]
            for j in range(nb):
                if (m, j) in y_by_cell:
                    lo, hi = inputs.floor[j], inputs.ceiling[j]
                    eta_j = det["b"][j] + det["loadings"][j] @ s_c[m]
                    r = benchmark_residual(np.array((y_by_cell[m, j] - lo) / (hi - lo)), eta_j)
                    eta += det["target_residual_weights"][0, j] * r
            eta += det["target_family_deviation"][0, inputs.family_index[m]]
            eta += det["target_spread"][0] * z_dev[t_i]
            t_i += 1
            noise = det["target_noise"][0]
        lo = inputs.floor[c]
        if c >= nb:
            # The learnt effective floor: a share of [0, ceiling].
            lo = effective_floor(det["target_floor"][0], lo, inputs.ceiling[c])
        p = lo + (inputs.ceiling[c] - lo) * expit(eta)
        phi = max(1 / (2 * noise) ** 2 - 1, 1.0)
        n = inputs.n_items[c]
        if np.isfinite(n):
            k = np.clip(np.round(y * n), 0, n)
            if min(k, n - k) >= 10 and 0.1 <= k / n <= 0.9:
                # beta-binomial-normal: the moment-matched normal, variance at k / n.
                sd = np.sqrt(n * (k / n) * (1 - k / n) * (phi + n) / (phi + 1))
                expected_count.append(stats.norm.logpdf(k, n * p, sd))
                n_normal += 1
            else:
                expected_count.append(stats.betabinom.logpmf(k, n, p * phi, (1 - p) * phi))
        else:
            yc = np.clip(y, EPS, 1 - EPS)
            expected_cont.append(stats.beta.logpdf(yc, p * phi, (1 - p) * phi))
    logp_fn = model.compile_fn(
        [model.logp(vars=[model[v]], sum=True) for v in ("y_count", "y_cont") if v in model],
        inputs=model.value_vars,
        on_unused_input="ignore",
        mode=MODE,
    )
    values = logp_fn(point)
    want = [np.sum(expected_count)] + ([np.sum(expected_cont)] if expected_cont else [])
    np.testing.assert_allclose(values, want, rtol=1e-9)
    assert t_i == len(z_dev)
    # Both branches of the count likelihood are exercised.
    assert 0 < n_normal < len(expected_count)


def test_target_floor_prior_has_its_mode_at_the_declared_floor(sim: Simulation) -> None:
    import dataclasses

    from scipy import stats

    from bayes_scaling.forecast import make_target
    from bayes_scaling.model import effective_floor
    from bayes_scaling.simulate import simulate_target

    truth = simulate_target(sim, seed=2)
    models = list(truth.values.index)
    exact = make_target(truth.values, "exact", 0.0, 1.0).dataset(models)
    two_way = make_target(truth.values, "two_way", 0.5, 1.0).dataset(models)
    targets = xr.concat([exact, two_way], dim="benchmark")
    spec = sim.spec("k2")
    b = spec.priors.target_floor_b
    share = np.array([0.03, 0.41])
    half = 1 + 0.5 * (b - 1)
    around = dataclasses.replace(spec, target_floor="around-chance")
    for s, want, floors in (
        # The default: Beta(1, b) above the declared floor, so never below chance.
        (spec, stats.beta(1.0, b).logpdf(share), [0.03, 0.5 + 0.5 * 0.41]),
        # Around chance: exact match keeps Beta(1, b); two-way's mode is chance.
        (around, [stats.beta(1.0, b).logpdf(0.03), stats.beta(half, half).logpdf(0.41)], share),
    ):
        model = build_model(build_inputs(sim.data, s, targets), s)
        assert np.allclose(pm.logp(model["target_floor"], share).eval(), want), s.target_floor
        got = effective_floor(share, np.array([0.0, 0.5]), 1.0, s.target_floor == "around-chance")
        assert np.allclose(got, floors)


def test_target_floor_is_checked_and_defaults_to_above_chance() -> None:
    from bayes_scaling.errors import SpecError
    from bayes_scaling.specs import spec_from_dict

    with pytest.raises(SpecError, match="target_floor must be one of above-chance, around"):
        spec_from_dict({"name": "x", "target_floor": "below"})
    for name in ("k1", "k2", "k3", "k3-robust"):
        assert load_spec(name).target_floor == "above-chance"
    spec = spec_from_dict({"name": "x", "target_floor": "around-chance"})
    assert spec_from_dict(spec.to_dict()).target_floor == "around-chance"
