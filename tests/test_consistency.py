"""Every consumer of the model agrees with the PyMC graph's log density.

The model is written once (:mod:`bayes_scaling.measurement`,
:mod:`bayes_scaling.capability_prior`, :mod:`bayes_scaling.model`); this module checks
that each consumer reads it back as the graph does, for every spec in ``models/``:

- at a random point of the graph, a one-draw :class:`FitResults` is made of the point's
  values; the held-out log-likelihood of every observed cell (the read-out through
  :func:`bayes_scaling.predictive.predictive_draws`), and the likelihood ``place`` uses
  for a model at its own capabilities, equal the graph's pointwise log density;
- posterior predictive draws (:func:`bayes_scaling.measurement.draw`, used by the
  simulator too) have the moments of the graph's own draws at that point (``pm.do`` +
  ``pm.draw``);
- the capability prior of :mod:`bayes_scaling.capability_prior`, as ``place`` and
  ``capability_from_compute`` use it, equals the graph's prior density of a model's
  capabilities.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
from pathlib import Path
from unittest import mock

import numpy as np
import pymc as pm
import pytest
import xarray as xr

import bayes_scaling.model as model_mod
from bayes_scaling.compare import fit_log_likelihood
from bayes_scaling.estimator import FitResults, _assemble
from bayes_scaling.forecast import make_target
from bayes_scaling.measurement import draw, log_density
from bayes_scaling.model import build_inputs, build_model, lone_families
from bayes_scaling.predictive import prior_of
from bayes_scaling.simulate import simulate, simulate_target

# The module, not the top-level function of the same name.
place_mod = importlib.import_module("bayes_scaling.place")

MODE = "FAST_COMPILE"
SPECS = sorted(p.stem for p in (Path(__file__).parents[1] / "models").glob("*.toml"))
#: Every spec, a table without any compute (a frontier leaderboard: no compute trend), and
#: one with a linear column (an Elo-like rating: identity link, normal measurement).
#: And tables whose families include some with one model (their effect is integrated out
#: of the graph's prior and drawn from its conditional), with and without compute.
#: The simulated table is small (24 models, 4 families), so its general capability is sampled
#: non-centred (model.general_noncentred); "@centred" forces the large-table parametrisation.
#: "dated" tables have release dates (a time trend in family efficiency), one model undated.
#: "@wide" samples the specialisations centred, as on a table whose median model has 20 or
#: more scores (model.centred_specialisations).
#: "@chance" declares the target's floor at 0.3 (chance) instead of 0; "-around" with
#: ``target_floor = "around-chance"`` (model.effective_floor's two maps).
CASES = [
    *SPECS,
    "k2@no-compute",
    "k2@linear",
    "k2@lone",
    "k2@lone-no-compute",
    "k3@centred",
    "k2@lone-centred",
    "k2@dated",
    "k2@lone-dated",
    "k2@lone-no-compute-dated",
    "k3-robust@lone-dated",
    "k3@wide",
    "k2@chance",
    "k2@chance-around",
]


@functools.cache
def _sim():
    # Count and continuous benchmarks, some models without compute, some scores missing.
    return simulate(
        24, 4, 8, capabilities=4, missing=0.1, seed=3, compute_missing=0.15, continuous=True
    )


def _with_lone_families(data: xr.Dataset, n: int) -> xr.Dataset:
    """The first ``n`` models, a closed one among them, each given a family of its own."""
    fam = data["family"].to_numpy().astype(object).copy()
    closed = np.flatnonzero(~np.isfinite(data["flops"].to_numpy().astype(float)))
    movers = sorted({0, 1, int(closed[0])} if len(closed) else set(range(n)))[:n]
    for i in movers:
        fam[i] = f"lone-{i}"
    return data.assign_coords(family=("model", fam.astype(str)))


def _with_release_dates(data: xr.Dataset) -> xr.Dataset:
    """Release dates per family (2021 + its index), the last model's date unknown."""
    fams = sorted(set(map(str, data["family"].to_numpy())))
    release = np.array([2021.0 + 0.7 * fams.index(str(f)) for f in data["family"].to_numpy()])
    release[-1] = np.nan
    return data.assign_coords(release=("model", release))


def _with_linear_column(data: xr.Dataset, name: str) -> xr.Dataset:
    """``name`` turned into a linear column (z-scores of 1000 + 400 * its share)."""
    raw = 1000.0 + 400.0 * data["score"].sel(benchmark=name)
    centre, spread = float(raw.mean()), float(raw.std())
    data = data.copy(deep=True)
    data["score"].loc[{"benchmark": name}] = (raw - centre) / spread
    j = [str(b) for b in data["benchmark"].to_numpy()].index(name)

    def put(coord: str, value: float) -> np.ndarray:
        out = data[coord].to_numpy().astype(float).copy()
        out[j] = value
        return out

    linear = np.zeros(data.sizes["benchmark"], dtype=bool)
    linear[j] = True
    return data.assign_coords(
        linear=("benchmark", linear),
        floor=("benchmark", put("floor", 0.0)),
        ceiling=("benchmark", put("ceiling", 1.0)),
        n_items=("benchmark", put("n_items", np.nan)),
        lower=("benchmark", put("lower", centre)),
        upper=("benchmark", put("upper", centre + spread)),
    )


@pytest.fixture(scope="module")
def sim():
    return _sim()


def _fit_at_point(sim, spec_name: str):
    """A graph, a random point of it, and a one-draw FitResults holding that point."""
    assert sim is _sim()
    return _cached_point(spec_name)


@functools.cache
def _cached_point(spec_name: str, seed: int = 0):
    sim = _sim()
    spec_name, _, variant = spec_name.partition("@")
    spec = sim.spec(spec_name)
    if variant == "chance-around":
        spec = dataclasses.replace(spec, target_floor="around-chance")
    data = sim.data
    if variant.startswith("lone"):
        data = _with_lone_families(data, 3)
    if "no-compute" in variant:
        data = data.assign_coords(flops=("model", np.full(data.sizes["model"], np.nan)))
    if variant == "linear":
        data = _with_linear_column(data, "ARC-C")
    if "dated" in variant:
        data = _with_release_dates(data)
    if spec.compute_only:
        data = data.isel(model=np.flatnonzero(np.isfinite(data["flops"].to_numpy())))
    targets = None
    if not spec.compute_only:
        truth = simulate_target(sim, residual_weight=0.8, seed=2)
        models = [m for m in truth.values.index if m in set(map(str, data["model"].to_numpy()))]
        declared = 0.3 if variant.startswith("chance") else 0.0
        target = make_target(truth.values[models], "t", declared, 1.0, n_items=truth.n_items)
        targets = target.dataset(models, hidden=models[:4])
    inputs = build_inputs(data, spec, targets)
    centred = variant.endswith("centred")
    threshold = 0 if centred else model_mod.NONCENTRED_BELOW
    wide = 0 if variant == "wide" else model_mod.CENTRED_SPEC_FROM
    with (
        mock.patch.object(model_mod, "NONCENTRED_BELOW", threshold),
        mock.patch.object(model_mod, "CENTRED_SPEC_FROM", wide),
    ):
        model = build_model(inputs, spec)
    assert ("s_spec_centred" in model) == (variant == "wide" and spec.n_capabilities > 1)
    if not spec.compute_only and "no-compute" not in variant:
        assert ("g_z" in model) != centred
    assert ("time_trend" in model) == ("dated" in variant and not spec.compute_only)
    rng = np.random.default_rng(seed)
    point = {k: v + rng.normal(0, 0.3, np.shape(v)) for k, v in model.initial_point(0).items()}
    if "target_spread_log__" in point:
        # The consumers integrate a target's own per-model deviation out (or draw it
        # afresh); with its scale at zero the graph's conditional density is the same.
        point["target_spread_log__"] = np.full_like(point["target_spread_log__"], -60.0)
    names = [v.name for v in model.free_RVs + model.deterministics]
    outs = model.replace_rvs_by_values([model[n] for n in names])
    fn = model.compile_fn(outs, inputs=model.value_vars, mode=MODE, on_unused_input="ignore")
    values = dict(zip(names, fn(point), strict=True))
    obs_vars = [v for v in ("y_count", "y_cont", "y_lin") if v in model]
    ll_fn = model.compile_fn(
        model.logp(vars=[model[v] for v in obs_vars], sum=False),
        inputs=model.value_vars,
        mode=MODE,
        on_unused_input="ignore",
    )
    ll = dict(zip(obs_vars, ll_fn(point), strict=True))
    dims = model.named_vars_to_dims
    coords = {k: list(v) for k, v in model.coords.items()}

    def group(vals: dict[str, np.ndarray]) -> xr.Dataset:
        return xr.Dataset(
            {
                n: (
                    ("chain", "draw", *dims.get(n, [f"{n}_dim_{i}" for i in range(np.ndim(v))])),
                    np.asarray(v)[None, None],
                )
                for n, v in vals.items()
            },
            coords={"chain": [0], "draw": [0]},
        ).assign_coords(
            {d: c for d, c in coords.items() if d in {dd for n in vals for dd in dims.get(n, ())}}
        )

    tree = xr.DataTree.from_dict(
        {
            "posterior": group(values),
            "log_likelihood": group(ll),
            "sample_stats": xr.Dataset(),
        }
    )
    assembled = _assemble(tree, inputs, data, targets, spec, sampler="point", seed=0, seconds=0.0)
    fit = FitResults(tree=assembled, spec=spec)
    return model, point, inputs, fit


@pytest.mark.parametrize("spec_name", CASES)
def test_heldout_log_likelihood_equals_the_graph(sim, spec_name: str) -> None:
    _, _, inputs, fit = _fit_at_point(sim, spec_name)
    models, columns = inputs.obs_labels
    ll = fit_log_likelihood(fit, list(models), list(columns), inputs.y)[0]
    graph = fit.tree["log_likelihood"]["score"].to_numpy()[0, 0]
    # A target reads each benchmark's residual; where a model lacks that benchmark the
    # graph sets the residual to zero, while the held-out score draws it (the model's
    # score there is unknown). Those cells are compared in their own test below.
    score = fit.data["score"].transpose("model", "benchmark").to_pandas()
    complete = set(score.index[score.notna().all(axis=1)])
    keep = np.isin(columns, inputs.benchmarks) | np.isin(models, list(complete))
    assert keep.sum() > 0.8 * keep.size and (~np.isin(columns, inputs.benchmarks)).any() == (
        not fit.spec.compute_only
    )
    np.testing.assert_allclose(ll[keep], graph[keep], rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("spec_name", CASES)
def test_place_likelihood_equals_the_graph(sim, spec_name: str) -> None:
    _, _, inputs, fit = _fit_at_point(sim, spec_name)
    run = place_mod._run_arrays(fit, 1)
    graph = fit.tree["log_likelihood"]["score"].to_numpy()[0, 0]
    obs_model, obs_column = inputs.obs_labels
    s = fit.posterior["S"].to_numpy()[0, 0]
    checked = 0
    for i, m in enumerate(inputs.models[:8]):
        obs = place_mod._observations(run, fit.data.sel(model=m), m)
        ll, d1, curv = place_mod._loglik(
            place_mod._eta(run, obs, s[None, i]),
            obs,
            run.phi[:, obs.index],
            run.measurement,
            derivs=True,
        )
        cells = (obs_model == m) & np.isin(obs_column, inputs.benchmarks)
        np.testing.assert_allclose(ll[0], graph[cells].sum(), rtol=1e-8)
        assert np.isfinite(d1).all() and (curv >= 0).all()
        checked += 1
    assert checked == 8


@pytest.mark.parametrize("spec_name", SPECS)
def test_place_gradient_is_the_derivative_of_its_likelihood(sim, spec_name: str) -> None:
    _, _, inputs, fit = _fit_at_point(sim, spec_name)
    run = place_mod._run_arrays(fit, 1)
    m = inputs.models[0]
    obs = place_mod._observations(run, fit.data.sel(model=m), m)
    s = fit.posterior["S"].to_numpy()[0, 0][None]
    eta = place_mod._eta(run, obs, s)
    phi = run.phi[:, obs.index]
    _, d1, _curv = place_mod._loglik(eta, obs, phi, run.measurement, derivs=True)
    h = 1e-5
    for j in range(eta.shape[-1]):
        step = np.zeros_like(eta)
        step[..., j] = h
        up = place_mod._loglik(eta + step, obs, phi, run.measurement)[0]
        down = place_mod._loglik(eta - step, obs, phi, run.measurement)[0]
        np.testing.assert_allclose(d1[..., j], (up - down) / (2 * h), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("spec_name", CASES)
def test_capability_prior_equals_the_graph(sim, spec_name: str) -> None:
    """The prior ``place`` and ``capability_from_compute`` use is the graph's."""
    model, point, _inputs, fit = _fit_at_point(sim, spec_name)
    spec = fit.spec
    data = fit.data
    fams = [str(f) for f in data["family"].to_numpy()]
    flops = data["flops"].to_numpy().astype(float)
    # A Student-t spec is normal given the scale-mixture weights: the graph's own, here.
    weights = None
    fam_w = np.ones(len(_inputs.families))
    if spec.robust:
        # The graph's families of one model have weights; the others' effects are t variates.
        if "lone_family_weight" in fit.posterior:
            lone_f = np.flatnonzero(lone_families(_inputs.family_index, len(_inputs.families)))
            fam_w[lone_f] = fit.posterior["lone_family_weight"].to_numpy()[0, 0]
        weights = (fit.posterior["resid_weight"].to_numpy()[0], fam_w[None, _inputs.family_index])
    loc, scale = prior_of(fit, fams, np.log10(flops), weights=weights)
    s = fit.posterior["S"].to_numpy()[0, 0]
    if spec.compute_only:
        # A compute-only law puts each model on its family's line exactly.
        np.testing.assert_allclose(s, loc[0], rtol=1e-9, atol=1e-9)
        return
    # The graph's own prior density of the capabilities: the general axis is sampled as
    # g = beta * S_1 (Normal), the specialisations through unit normals z.
    # Without compute g is sampled as a zero-sum part and a mean, whose non-centring
    # takes 0.5 log sum(1 / scale^2) off the density (model._without_shift).
    beta = float(fit.posterior["beta"].to_numpy().ravel()[0])
    if "g" in model:
        names = ["g"]
    elif "g_z" in model:
        names = ["g_z"]  # non-centred (model.general_noncentred): g = loc + scale z
    else:
        names = ["g_centred", "g_shift_z", "g_centred_density"]
    names += ["alpha_lone_z"] if "alpha_lone_z" in model else []
    g_logp = model.compile_fn(
        model.logp(vars=[model[n] for n in names], jacobian=False, sum=True),
        inputs=model.value_vars,
        mode=MODE,
        on_unused_input="ignore",
    )(point)
    fi = _inputs.family_index
    lone = lone_families(fi, len(_inputs.families))
    tau = fit.posterior["tau"].to_numpy()[0, 0]
    # Per family: the general axis's sd scaled by a Student-t family's weight.
    tau_f = np.tile(tau, (len(fam_w), 1))
    tau_f[:, 0] /= np.sqrt(fam_w)
    # The graph's prior scale of g: a lone family's effect is integrated out.
    graph_scale = np.where(
        lone[fi], np.sqrt(scale[0, :, 0] ** 2 + tau_f[fi, 0] ** 2), scale[0, :, 0]
    )
    if "g_z" in model:
        # The density of g is the unit normal's over the scale (the change of variables).
        g_logp -= np.log(beta * graph_scale).sum()
    elif "g" not in model:
        g_logp += 0.5 * np.log((1.0 / (beta * graph_scale) ** 2).sum())
    z = (s[:, 0] - loc[0, :, 0]) / scale[0, :, 0]
    ours = (-0.5 * z**2 - np.log(scale[0, :, 0] * beta) - 0.5 * np.log(2 * np.pi)).sum()
    # A family with one model: the graph samples the model from the prior with the family
    # effect integrated out, then the effect from its conditional (a unit normal scaled
    # by its sd). The joint density of the two is the one ``place`` reads in parts.
    alpha = fit.posterior["alpha"].to_numpy()[0, 0]
    # With release dates a family's effect is centred on the time trend at its date (an
    # undated family of the fit at the mean date).
    trend = np.zeros(len(_inputs.families))
    if _inputs.has_time_trend:
        per_year = float(fit.posterior["time_trend"].to_numpy().ravel()[0])
        trend = per_year * np.nan_to_num(_inputs.t_family)
    if lone.any():
        members = np.array([np.flatnonzero(fi == f)[0] for f in np.flatnonzero(lone)])
        a = alpha[lone]
        tau_m = tau_f[fi[members]]  # (lone, K)
        ours += (
            -0.5 * ((a[:, 0] - trend[lone]) / tau_m[:, 0]) ** 2 - np.log(tau_m[:, 0] * beta)
        ).sum()
        ours -= 0.5 * np.log(2 * np.pi) * len(members)
        z_lone = point["alpha_lone_z"]
        within = scale[0, members, :]  # the model's sd about its family's line
        marginal = np.sqrt(within**2 + tau_m**2)
        sd_cond = tau_m * within / marginal
        # log N(g; marginal) + log N(z) = the joint density + log sd (in g's units); the
        # graph's z of the specialisations is added on both sides.
        ours += np.log(sd_cond[:, 0] * beta).sum()
        ours += (-0.5 * z_lone[:, 1:] ** 2 - 0.5 * np.log(2 * np.pi)).sum()
        # The specialisations: the graph's unit normal is the model's capability over its
        # marginal scale, and the effect its conditional draw (signs flip together).
        if spec.n_capabilities > 1:
            np.testing.assert_allclose(
                np.abs(point["s_spec_z"][members]),
                np.abs(s[members, 1:] / marginal[:, 1:]),
                rtol=1e-7,
            )
            shrink = tau_m[:, 1:] ** 2 / marginal[:, 1:] ** 2
            np.testing.assert_allclose(
                np.abs(a[:, 1:] - shrink * s[members, 1:]),
                np.abs(sd_cond[:, 1:] * z_lone[:, 1:]),
                rtol=1e-7,
                atol=1e-12,
            )
        # A lone family is a new family with the effect integrated out: the prior of a
        # family the fit does not hold, at the family's release date, is the graph's.
        dates = np.full(len(members), np.nan)
        if _inputs.has_time_trend:
            dates = np.nan_to_num(_inputs.t_family[fi[members]]) + _inputs.t_mean
        new_weights = None if weights is None else (weights[0][:, members], weights[1][:, members])
        new_loc, new_scale = prior_of(
            fit,
            ["<new>"] * len(members),
            np.log10(flops[members]),
            release=dates,
            weights=new_weights,
        )
        np.testing.assert_allclose(
            new_loc[0, :, 0], loc[0, members, 0] - alpha[fi[members], 0] + trend[fi[members]]
        )
        np.testing.assert_allclose(new_scale[0, :, 0], graph_scale[members], rtol=1e-9)
        # ``place`` and leave-one-model-out read the same prior for a family they treat as
        # new: at the family's own date, from the run's family dates.
        run = place_mod._run_arrays(fit, 1)
        for i, m in enumerate(members):
            x = np.log10(flops[m]) - fit.x_mean
            # A Student-t run draws the new model's weights: the same draws, given here.
            draws = np.random.default_rng(5).gamma(2.0, 0.5, (2, 1))
            mults = {"resid_mult": 1 / np.sqrt(draws[:1]), "tau_mult": 1 / np.sqrt(draws[1:])}
            with mock.patch.object(
                place_mod, "_tail_mults", return_value=mults if spec.robust else {}
            ):
                mu, sd, _ = place_mod._prior(
                    run, run.families[fi[m]], None if np.isnan(x) else x, new_family=True
                )
            want = (new_loc[0, i], new_scale[0, i])
            if spec.robust:
                want = prior_of(
                    fit,
                    ["<new>"],
                    [np.log10(flops[m])],
                    release=dates[i : i + 1],
                    weights=(draws[:1], draws[1:]),
                )
                want = (want[0][0, 0], want[1][0, 0])
            np.testing.assert_allclose(mu[0], want[0], rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(sd[0], want[1], rtol=1e-9)
    else:
        assert "alpha_lone_z" not in model
    np.testing.assert_allclose(ours, g_logp, rtol=1e-8)
    if spec.n_capabilities > 1 and "s_spec_centred" in model:
        # Centred on a wide table (model._without_shift): the graph's density of the
        # specialisations is Normal(loc, scale)'s less 0.5 log sum(1 / scale^2) per axis.
        assert not lone.any()
        spec_logp = model.compile_fn(
            model.logp(
                vars=[
                    model[n] for n in ("s_spec_centred", "s_spec_shift_z", "s_spec_centred_density")
                ],
                jacobian=False,
                sum=True,
            ),
            inputs=model.value_vars,
            mode=MODE,
            on_unused_input="ignore",
        )(point)
        sd = scale[0, :, 1:]
        z = (s[:, 1:] - loc[0, :, 1:]) / sd
        ours_spec = (-0.5 * z**2 - np.log(sd) - 0.5 * np.log(2 * np.pi)).sum()
        shift = 0.5 * np.log((1.0 / sd**2).sum(axis=0)).sum()
        np.testing.assert_allclose(ours_spec, float(spec_logp) + shift, rtol=1e-8)
    elif spec.n_capabilities > 1:
        z_graph = point["s_spec_z"][~lone[fi]]
        # Sign alignment may flip a specialisation axis; the standardised draws agree in size.
        z_ours = ((s[:, 1:] - loc[0, :, 1:]) / scale[0, :, 1:])[~lone[fi]]
        np.testing.assert_allclose(np.abs(z_ours), np.abs(z_graph), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("spec_name", ["k3", "k3-binomial"])
def test_predictive_draws_have_the_graphs_moments(sim, spec_name: str) -> None:
    """Draws of the measurement layer (predictive and simulator) match the graph's draws."""
    model, point, inputs, fit = _fit_at_point(sim, spec_name)
    free = {v.name: model.rvs_to_values[v] for v in model.free_RVs}
    fixed_fn = model.compile_fn(
        model.replace_rvs_by_values(list(model.free_RVs)),
        inputs=model.value_vars,
        mode=MODE,
        on_unused_input="ignore",
    )
    fixed = dict(zip(free, fixed_fn(point), strict=True))
    done = pm.do(model, fixed)
    n = 3000
    graph_draws = pm.draw(done["y_count"], draws=n, random_seed=1, mode=MODE)
    is_count = inputs.is_count
    models, columns = inputs.obs_labels
    cells = np.flatnonzero(is_count)[:40]
    n_items = inputs.n_items[inputs.obs_column[cells]]
    graph_scores = graph_draws[:, :40] / n_items
    cap = fit.draws("S")
    rng = np.random.default_rng(2)
    ours = []
    for i in cells:
        rep = fit.predictive_draws(
            cap.sel(model=[models[i]]).isel(sample=np.zeros(n, dtype=int)),
            [columns[i]],
            rng,
            noise=True,
            deviation=False,
        )
        ours.append(rep.to_numpy()[:, 0, 0])
    ours = np.stack(ours, axis=1)
    se = np.sqrt(graph_scores.var(0) / n + ours.var(0) / n) + 1e-6
    z = (graph_scores.mean(0) - ours.mean(0)) / se
    assert np.abs(z).max() < 4.5
    ratio = (ours.var(0) + 1e-9) / (graph_scores.var(0) + 1e-9)
    assert np.all((ratio > 0.8) & (ratio < 1.25))


def test_draw_matches_log_density() -> None:
    """The simulator's and predictive draws follow the density the graph observes."""
    rng = np.random.default_rng(0)
    p = np.array([0.3, 0.6, 0.95])
    phi = np.array([40.0, 200.0, 30.0])
    n_items = np.array([50.0, 20.0, np.nan])
    draws = draw(np.broadcast_to(p, (40_000, 3)), phi, n_items, rng)
    for j in range(2):
        k = np.arange(int(n_items[j]) + 1)
        pmf = np.exp(
            log_density(
                k / n_items[j],
                np.full(k.size, n_items[j]),
                np.full((1, k.size), p[j]),
                np.full((1, k.size), phi[j]),
            )
        )[0]
        assert abs(pmf.sum() - 1) < 1e-9
        mean = (pmf * k).sum() / n_items[j]
        var = (pmf * (k / n_items[j] - mean) ** 2).sum()
        assert abs(draws[:, j].mean() - mean) < 4 * np.sqrt(var / draws.shape[0])
        assert 0.95 < draws[:, j].var() / var < 1.05
    # Continuous: the Beta's mean p and variance p (1 - p) / (phi + 1).
    assert abs(draws[:, 2].mean() - p[2]) < 0.002
    assert 0.95 < draws[:, 2].var() / (p[2] * (1 - p[2]) / (phi[2] + 1)) < 1.05


@pytest.mark.parametrize("spec_name", ["k3", "k3-robust"])
def test_targets_own_deviations_are_drawn_as_the_graph_has_them(sim, spec_name: str) -> None:
    """A new model's target deviation: the graph's distribution (normal, or Student-t)."""
    import bayes_scaling.predictive as predictive_mod

    model, _, _, fit = _fit_at_point(sim, spec_name)
    rv = model["target_deviation_z"]
    dof = fit.spec.priors.tail_dof if fit.spec.robust else None
    assert rv.owner.op.name == ("t" if dof else "normal")
    if dof:
        assert np.all(rv.owner.inputs[-3].eval() == dof)  # (rng, size,) nu, mu, sigma
    cap = fit.draws("S").isel(model=[0])
    with mock.patch.object(
        predictive_mod,
        "target_deviation_draws",
        wraps=predictive_mod.target_deviation_draws,
    ) as drawn:
        fit.predictive_draws(cap, ["t"], np.random.default_rng(0), noise=False, deviation=True)
    assert drawn.call_count == 1 and drawn.call_args.args[3] == dof
