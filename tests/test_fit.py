"""Real (small) fits on simulated tables: the FitResults API, persistence, determinism,
sign conventions, diagnostics and the outlier check.

The two shared k2 fits (``small_fit``, ``small_fit_seed2`` in ``conftest.py``) are sampled
once per session; three more small fits are made here (a deliberately tiny run, twice,
and a fit of a table with one corrupted compute value).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import h5py
import numpy as np
import pytest
import xarray as xr

from bayes_scaling.data import FLOPS, TOKENS, from_wide
from bayes_scaling.diagnostics import Diagnostics, SamplerWarning
from bayes_scaling.errors import BayesScalingError, ResultsFileError
from bayes_scaling.estimator import CapabilityModel, FitResults
from bayes_scaling.simulate import Simulation, simulate

pytestmark = pytest.mark.sampling

GROUPS = ("posterior", "sample_stats", "log_likelihood", "observed_data", "constant_data", "data")


# --- API -------------------------------------------------------------------------------------


def test_tree_layout(small_fit: FitResults, small_sim: Simulation) -> None:
    assert set(GROUPS) <= set(small_fit.tree.children)
    post = small_fit.posterior
    for name in ("S", "alpha", "loadings", "b", "noise", "sigma", "tau"):
        assert name in post, name
    assert post["S"].dims == ("chain", "draw", "model", "capability")
    for dim, size in {"chain": 2, "draw": 200, "model": 40, "capability": 2}.items():
        assert post.sizes[dim] == size
    ll = small_fit.tree["log_likelihood"]["score"]
    n_obs = int(np.isfinite(small_sim.data["score"].to_numpy()).sum())
    assert ll.dims == ("chain", "draw", "obs") and ll.sizes["obs"] == n_obs
    assert np.isfinite(ll.to_numpy()).all()
    assert small_fit.anchors == ("MMLU", "GSM8K")
    assert small_fit.x_mean == pytest.approx(small_sim.params.attrs["x_mean"])
    assert small_fit.draws("S").dims == ("sample", "model", "capability")
    assert small_fit.draws("S").sizes["sample"] == 400


def test_capabilities(small_fit: FitResults, small_sim: Simulation) -> None:
    caps = small_fit.capabilities()
    assert set(caps.data_vars) == {"mean", "lower", "upper"}
    assert caps["mean"].dims == ("model", "capability")
    assert caps.sizes == {"model": 40, "capability": 2}
    assert (caps["lower"] <= caps["mean"]).all() and (caps["mean"] <= caps["upper"]).all()
    # The general axis is reported on the absolute log10-FLOPs scale.
    raw = small_fit.posterior["S"].sel(capability="general").mean(("chain", "draw"))
    np.testing.assert_allclose(caps["mean"].sel(capability="general"), raw + small_fit.x_mean)
    truth = small_sim.params["S"].sel(capability="general") + small_sim.params.attrs["x_mean"]
    assert np.corrcoef(caps["mean"].sel(capability="general"), truth)[0, 1] > 0.98
    wider = small_fit.capabilities(level=0.99)
    assert (wider["upper"] - wider["lower"] > caps["upper"] - caps["lower"]).all()


def test_family_efficiency(small_fit: FitResults) -> None:
    eff = small_fit.family_efficiency(reference="F01")
    assert eff.sizes == {"family": 6}
    assert {"mean", "median", "lower", "upper", "log10_multiplier"} <= set(eff.data_vars)
    assert float(eff["median"].sel(family="F01")) == 1.0  # the reference against itself
    assert (eff["lower"] <= eff["median"]).all() and (eff["median"] <= eff["upper"]).all()
    assert eff.attrs["reference"] == "F01"
    # The spec's default reference family (Llama-2) is not in a simulated table.
    with pytest.raises(BayesScalingError, match="Llama-2"):
        small_fit.family_efficiency()


def test_loadings_and_summary(small_fit: FitResults) -> None:
    lam = small_fit.loadings()
    assert lam["mean"].dims == ("benchmark", "capability") and lam.sizes["benchmark"] == 8
    assert float(lam["mean"].sel(benchmark="MMLU", capability="spec1")) == 0.0
    summary = small_fit.summary_dict()
    assert summary["spec"] == "k2-sim" and summary["n_models"] == 40
    assert summary["anchors"] == ["MMLU", "GSM8K"]
    json.dumps(summary)  # JSON-ready


# --- persistence -----------------------------------------------------------------------------


def test_save_load_round_trip(small_fit: FitResults, tmp_path: Path) -> None:
    path = small_fit.save(tmp_path / "fit.nc")
    assert [p.name for p in tmp_path.iterdir()] == ["fit.nc"]  # atomic: no temp file left
    loaded = FitResults.load(path)
    for group in GROUPS:
        xr.testing.assert_equal(loaded.tree[group].to_dataset(), small_fit.tree[group].to_dataset())
    attrs = {k: v for k, v in loaded.attrs.items() if k != "content_hash"}
    assert attrs == small_fit.attrs
    assert loaded.spec == small_fit.spec
    xr.testing.assert_equal(loaded.capabilities(), small_fit.capabilities())
    # Loading with the fit's own spec, or through the model object, is accepted.
    FitResults.load(path, spec=small_fit.spec)
    CapabilityModel(small_fit.spec).load(path)


def test_tampered_file_is_refused(small_fit: FitResults, tmp_path: Path) -> None:
    path = small_fit.save(tmp_path / "fit.nc")
    with h5py.File(path, "r+") as f:
        f["posterior/sigma"][0, 0] = f["posterior/sigma"][0, 0] + 0.5
    with pytest.raises(ResultsFileError, match="hash mismatch"):
        FitResults.load(path)


def test_re_saved_without_hash_update_is_refused(small_fit: FitResults, tmp_path: Path) -> None:
    path = small_fit.save(tmp_path / "fit.nc")
    tree = xr.open_datatree(path, engine="h5netcdf").load()
    post = tree["posterior"].to_dataset()
    post["b"] = post["b"] * 1.01
    tree["posterior"] = xr.DataTree(post)
    tampered = tmp_path / "tampered.nc"
    tree.to_netcdf(tampered, engine="h5netcdf")  # keeps the now stale content_hash
    with pytest.raises(ResultsFileError, match="altered"):
        FitResults.load(tampered)


def test_file_from_an_older_model_asks_for_a_refit(small_fit: FitResults, tmp_path: Path) -> None:
    """An intact file whose spec this version reads differently (a prior added since)."""
    import hashlib
    import json

    from bayes_scaling.estimator import content_hash

    tree = small_fit.tree.copy()
    old = json.loads(tree.attrs["spec"])
    old["priors"].pop("target_spread_sd")
    tree.attrs["spec"] = json.dumps(old, sort_keys=True)
    tree.attrs["spec_hash"] = hashlib.sha256(tree.attrs["spec"].encode()).hexdigest()
    tree.attrs["bayes_scaling_version"] = "0.1.0"
    tree.attrs["content_hash"] = content_hash(tree)
    path = tmp_path / "old.nc"
    tree.to_netcdf(path, engine="h5netcdf")
    with pytest.raises(ResultsFileError, match=r"written by bayes_scaling 0\.1\.0.*refit it"):
        FitResults.load(path)


def test_other_spec_is_refused_naming_both(small_fit: FitResults, tmp_path: Path) -> None:
    path = small_fit.save(tmp_path / "fit.nc")
    with pytest.raises(ResultsFileError) as info:
        FitResults.load(path, spec="k1")
    assert "'k2-sim'" in str(info.value) and "'k1'" in str(info.value)
    with pytest.raises(ResultsFileError, match="'k1'"):
        CapabilityModel("k1").load(path)


def test_non_results_files_are_refused(small_sim: Simulation, tmp_path: Path) -> None:
    table, params = small_sim.save(tmp_path / "sim.csv", tmp_path / "truth.nc")
    with pytest.raises(ResultsFileError, match="not a bayes_scaling results file"):
        FitResults.load(table)
    with pytest.raises(ResultsFileError, match="no spec or hash"):
        FitResults.load(params)  # a netCDF file, but not ours
    with pytest.raises(ResultsFileError, match="no such results file"):
        FitResults.load(tmp_path / "missing.nc")


# --- determinism, signs, diagnostics ----------------------------------------------------------


def test_tiny_run_warns_and_same_seed_is_identical() -> None:
    """20 draws cannot converge: a SamplerWarning names parameters. The same seed twice
    gives the same numbers, bit for bit."""
    sim = simulate(20, 4, 5, capabilities=2, missing=0.1, seed=3)
    model = CapabilityModel(sim.spec("k2"))
    with pytest.warns(SamplerWarning) as record:
        first = model.fit(sim.data, draws=20, tune=20, chains=2, seed=5)
    messages = [str(w.message) for w in record if issubclass(w.category, SamplerWarning)]
    named = [m for m in messages if re.match(r"(R-hat > 1\.01|ESS < 400) for \w+\[", m)]
    assert named, messages  # e.g. "R-hat > 1.01 for S[F01-001, general], ..."
    second = model.fit(sim.data, draws=20, tune=20, chains=2, seed=5, warn=False)
    for name, da in first.posterior.data_vars.items():
        np.testing.assert_array_equal(da.to_numpy(), second.posterior[name].to_numpy(), name)


def test_a_refit_of_the_same_inputs_reuses_the_compiled_graph() -> None:
    """Another seed of the same fit compiles nothing, and gives what a fresh compile gives."""
    from bayes_scaling import compiled

    sim = simulate(20, 4, 5, capabilities=2, missing=0.1, seed=3)
    model = CapabilityModel(sim.spec("k2"))
    kw = {"draws": 20, "tune": 20, "chains": 2, "warn": False}
    compiled.clear()
    model.fit(sim.data, seed=5, **kw)
    reused = model.fit(sim.data, seed=6, **kw)
    assert compiled.COUNTS == {"compiled": 1, "reused": 1}
    compiled.clear()
    fresh = model.fit(sim.data, seed=6, **kw)
    assert compiled.COUNTS == {"compiled": 1, "reused": 0}
    for name, da in fresh.posterior.data_vars.items():
        np.testing.assert_array_equal(da.to_numpy(), reused.posterior[name].to_numpy(), name)


def test_two_seeds_agree_on_signs(
    small_fit: FitResults, small_fit_seed2: FitResults, small_sim: Simulation
) -> None:
    assert not np.array_equal(
        small_fit.posterior["S"].to_numpy(), small_fit_seed2.posterior["S"].to_numpy()
    )
    true_sign = np.sign(small_sim.params["loadings"].sel(capability="spec1").to_numpy())
    signs = []
    for fit in (small_fit, small_fit_seed2):
        lam = fit.posterior["loadings"]
        assert (lam.sel(capability="general") > 0).all()  # every draw
        assert (lam.sel(benchmark="GSM8K", capability="spec1") > 0).all()  # anchor: positive
        spec1 = lam.sel(capability="spec1")
        mean = spec1.mean(("chain", "draw")).to_numpy()
        sd = spec1.std(("chain", "draw")).to_numpy()
        # Loadings clearly away from zero have the sign of the truth.
        sign = np.where(np.abs(mean) > 2 * sd, np.sign(mean), 0.0)
        assert (sign != 0).sum() >= 3, mean
        assert (sign[sign != 0] == true_sign[sign != 0]).all(), (mean, true_sign)
        signs.append(sign)
        spec_mean = fit.posterior["S"].sel(capability="spec1").mean(("chain", "draw"))
        truth = small_sim.params["S"].sel(capability="spec1")
        assert np.corrcoef(spec_mean, truth)[0, 1] > 0.8
    both = (signs[0] != 0) & (signs[1] != 0)
    assert (signs[0][both] == signs[1][both]).all()


def test_diagnostics(small_fit: FitResults) -> None:
    d = small_fit.diagnostics
    assert isinstance(d, Diagnostics)
    assert isinstance(d.max_rhat, float) and isinstance(d.min_ess_bulk, float)
    assert isinstance(d.divergences, int)
    # Loose: 2 chains x 200 draws, yet chains must roughly agree and rarely diverge.
    assert 1.0 <= d.max_rhat < 1.2
    assert d.min_ess_bulk > 10 and d.min_ess_tail > 10
    assert 0 <= d.divergences <= 40
    assert np.isfinite(d.min_bfmi) and d.seconds > 0
    assert d.as_dict()["max_rhat"] == d.max_rhat


# --- outliers ---------------------------------------------------------------------------------


def test_clean_simulation_has_no_outlier_models(small_fit: FitResults) -> None:
    assert small_fit.outliers()["models"] == []


def test_compute_off_by_three_decades_is_flagged(small_sim: Simulation) -> None:
    """Like BTLM's 627T-token entry: a FLOPs value 1000x too large."""
    table = small_sim.table.copy()
    fam = table["Model Family"].value_counts().index[0]  # a family with several models
    row = table.index[table["Model Family"] == fam][1]
    victim = str(table.loc[row, "Model"])
    table.loc[row, FLOPS] *= 1000.0
    table.loc[row, TOKENS] *= 1000.0
    data = from_wide(table, registry=small_sim.registry)
    fit = CapabilityModel(small_sim.spec("k2")).fit(
        data, draws=150, tune=300, chains=2, seed=1, warn=False
    )
    flagged = fit.outliers()["models"]
    assert [o["model"] for o in flagged] == [victim], flagged
    # Its benchmarks place it 3 decades below the line its stated compute implies.
    assert flagged[0]["z"] < -3
    assert flagged[0]["decades"] < -1.5


# --- the approximate fast path ----------------------------------------------------------------


def test_advi_is_labelled_approximate_everywhere(tmp_path: Path) -> None:
    """ADVI draws are one chain of independent draws, the diagnostics say APPROXIMATE (and
    never ok), the label survives a save/load, and the same seed gives the same draws."""
    from conftest import tiny_table

    model = CapabilityModel("k1")
    with pytest.warns(SamplerWarning, match="APPROXIMATE posterior \\(advi"):
        fit = model.fit(tiny_table(), draws=100, chains=2, sampler="advi", seed=3)
    assert fit.posterior.sizes["chain"] == 1 and fit.posterior.sizes["draw"] == 200
    d = fit.diagnostics
    assert d.approximate == "advi" and not d.ok and np.isnan(d.max_rhat)
    assert fit.attrs["advi_steps"] >= 500
    loaded = FitResults.load(fit.save(tmp_path / "advi.nc"))
    assert loaded.diagnostics.messages()[0].startswith("APPROXIMATE posterior (advi")
    again = model.fit(tiny_table(), draws=100, chains=2, sampler="advi", seed=3, warn=False)
    np.testing.assert_array_equal(fit.posterior["S"].to_numpy(), again.posterior["S"].to_numpy())


def test_a_fit_without_pointwise_groups_saves_loads_and_says_what_it_lacks(
    tmp_path: Path,
) -> None:
    """pointwise=False (what ``complete`` uses): no log_likelihood or posterior_predictive
    group, the file round-trips, and LOO says in one line to refit."""
    from conftest import tiny_table

    from bayes_scaling.compare import pointwise_log_likelihood

    fit = CapabilityModel("k1").fit(
        tiny_table(), draws=50, chains=2, sampler="advi", seed=3, warn=False, pointwise=False
    )
    assert not {"log_likelihood", "posterior_predictive"} & set(fit.tree.children)
    assert fit.diagnostics is fit.diagnostics  # computed once
    loaded = FitResults.load(fit.save(tmp_path / "lean.nc"))
    with pytest.raises(BayesScalingError, match=r"no pointwise log-likelihood.*pointwise=True"):
        pointwise_log_likelihood(loaded)


def test_results_file_carries_arviz_predictive_groups(
    small_fit: FitResults, tmp_path: Path
) -> None:
    """posterior_predictive aligns with observed_data, so ArviZ's checks run on the file."""
    import arviz as az

    fit = FitResults.load(small_fit.save(tmp_path / "fit.nc"))
    pp = fit.tree["posterior_predictive"]["score"]
    obs = fit.tree["observed_data"]["score"]
    post = fit.posterior
    assert pp.dims == ("chain", "draw", "obs")
    assert pp.shape == (post.sizes["chain"], post.sizes["draw"], obs.size)
    assert list(pp["obs"].to_numpy()) == list(obs["obs"].to_numpy())
    assert float(pp.min()) >= 0.0 and float(pp.max()) <= 1.0
    # Replicates centre on the data: the observed score sits inside most 99% intervals.
    lo, hi = pp.quantile([0.005, 0.995], dim=("chain", "draw"))
    inside = ((obs >= lo) & (obs <= hi)).mean()
    assert float(inside) > 0.9
    pit = az.loo_pit(fit.tree, var_names="score")
    values = pit["score"].to_numpy() if hasattr(pit, "__getitem__") else np.asarray(pit)
    assert values.shape == (obs.size,)
    assert np.all((values >= 0) & (values <= 1))
    # Calibrated on its own simulation: PIT values spread over [0, 1], not piled at an edge.
    assert 0.3 < float(np.mean(values)) < 0.7
    assert float(np.mean((values < 0.05) | (values > 0.95))) < 0.25


def test_thinned_keeps_every_kth_draw_of_each_chain(small_fit: FitResults) -> None:
    post = small_fit.posterior
    total = post.sizes["chain"] * post.sizes["draw"]
    most = post.sizes["chain"] * -(-post.sizes["draw"] // 3)
    thin = small_fit.thinned(most)
    assert thin.posterior.sizes["chain"] == post.sizes["chain"]
    assert thin.posterior.sizes["chain"] * thin.posterior.sizes["draw"] <= most
    np.testing.assert_array_equal(thin.posterior["S"].to_numpy(), post["S"].to_numpy()[:, ::3])
    assert small_fit.thinned(total) is small_fit
    assert thin.diagnostics is small_fit.diagnostics  # those of the full fit


def test_posterior_predictive_in_blocks_of_draws_keeps_every_draw_in_place(
    small_fit: FitResults, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blocks of a few draws give each (chain, draw, obs) its own expected score."""
    import bayes_scaling.predictive as predictive

    monkeypatch.setattr(predictive, "PREDICTIVE_BLOCK", 6)  # 3 draws of each of 2 chains
    monkeypatch.setattr(predictive, "draw", lambda p, *args: p)  # no measurement noise
    pp = predictive.posterior_predictive(small_fit, np.random.default_rng(0))["score"]
    obs = small_fit.tree["observed_data"].to_dataset()
    columns = list(dict.fromkeys(map(str, obs["obs_column"].to_numpy())))
    full = predictive.predictive_draws(
        small_fit, small_fit.draws("S"), columns, np.random.default_rng(0), noise=False
    )
    post = small_fit.posterior
    models = list(map(str, full["model"].to_numpy()))
    mi = [models.index(str(m)) for m in obs["obs_model"].to_numpy()]
    ci = [columns.index(str(c)) for c in obs["obs_column"].to_numpy()]
    want = full.to_numpy()[:, mi, ci]
    want = want.reshape(post.sizes["chain"], post.sizes["draw"], -1)
    np.testing.assert_allclose(pp.to_numpy(), want.astype(np.float32), rtol=1e-6)


def test_predict_writes_an_arviz_predictions_group(small_fit: FitResults) -> None:
    import arviz as az

    fams = [str(f) for f in small_fit.posterior["family"].to_numpy()]
    rng = np.random.default_rng(0)
    cap = small_fit.capability_from_compute([fams[0], "a new family"], [23.0, 23.0], rng)
    tree = small_fit.predict(cap, seed=1)
    score = tree["predictions"]["score"]
    post = small_fit.posterior
    bench = [str(b) for b in post["benchmark"].to_numpy()]
    assert score.dims == ("chain", "draw", "model", "column")
    assert score.shape == (post.sizes["chain"], post.sizes["draw"], 2, len(bench))
    assert list(score["column"].to_numpy()) == bench
    assert float(score.min()) >= 0 and float(score.max()) <= 1
    table = az.summary(tree, group="predictions", kind="stats")
    assert len(table) == 2 * len(bench)
    # A new family is less certain than a family the fit holds.
    width = score.quantile(0.95, ("chain", "draw")) - score.quantile(0.05, ("chain", "draw"))
    assert float(width.isel(model=1).mean()) > float(width.isel(model=0).mean())
    # Same seed, same draws.
    again = small_fit.predict(cap, seed=1)["predictions"]["score"]
    np.testing.assert_array_equal(again.to_numpy(), score.to_numpy())


def test_file_of_an_older_layout_asks_for_a_refit(small_fit: FitResults, tmp_path: Path) -> None:
    """A 0.4.0 file (no results_version: layout 1) is intact but not this version's."""
    from bayes_scaling.estimator import content_hash

    tree = small_fit.tree.copy()
    del tree.attrs["results_version"]
    tree.attrs["bayes_scaling_version"] = "0.4.0"
    tree.attrs["content_hash"] = content_hash(tree)
    path = tmp_path / "old.nc"
    tree.to_netcdf(path, engine="h5netcdf")
    with pytest.raises(ResultsFileError, match=r"written by bayes_scaling 0\.4\.0.*refit it"):
        FitResults.load(path)


@pytest.mark.parametrize(("with_targets", "expected"), [(False, 0.8), (True, 0.9)])
def test_target_accept_defaults_by_whether_targets_are_fitted(
    small_sim: Simulation, monkeypatch: pytest.MonkeyPatch, with_targets: bool, expected: float
) -> None:
    """Plumbing: fits with downstream targets ask NUTS for 0.9, others for 0.8."""
    import nutpie

    seen: dict[str, object] = {}

    class Stop(Exception):
        pass

    def fake_sample(compiled: object, **kwargs: object) -> None:
        seen.update(kwargs)
        raise Stop

    monkeypatch.setattr(nutpie, "sample", fake_sample)
    monkeypatch.setattr(nutpie, "compile_pymc_model", lambda model, **kw: model)
    data = small_sim.data
    targets = None
    if with_targets:
        anchors = set(small_sim.spec("k2").anchors)
        free = next(b for b in data["benchmark"].to_numpy() if b not in anchors)
        targets = data.sel(benchmark=[free]).assign_coords(benchmark=["target"])
        data = data.drop_sel(benchmark=free)
    with pytest.raises(Stop):
        CapabilityModel(small_sim.spec("k2")).fit(data, targets, draws=5, tune=5, chains=1)
    assert seen["target_accept"] == expected
    with pytest.raises(BayesScalingError, match="target_accept must be in"):
        CapabilityModel(small_sim.spec("k2")).fit(data, targets, target_accept=1.5)
