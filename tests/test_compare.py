"""Model comparison: LOO tables, leave-future-out, the held-out likelihood, ``compare`` CLI.

Fits are tiny (2 chains x 100 draws on 15 synthetic models): the tests check structure,
bookkeeping and that the held-out likelihood is exactly the model's, not MCMC quality.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats

import bayes_scaling.compare as compare_mod
from bayes_scaling.capability_prior import capability_prior, member_conditional_prior
from bayes_scaling.cli import run
from bayes_scaling.compare import (
    BAD_K,
    LOO_COLUMNS,
    ComparisonRefused,
    compare_specs,
    family_folds,
    fit_log_likelihood,
    heldout_log_likelihood,
    integrated_log_likelihood,
    kfold_elpd,
    leave_future_out,
    loo_table,
    pointwise_log_likelihood,
)
from bayes_scaling.data import from_wide
from bayes_scaling.diagnostics import Diagnostics
from bayes_scaling.errors import BayesScalingError
from bayes_scaling.estimator import CapabilityModel, FitResults
from bayes_scaling.measurement import EPS, expected_score, linear_predictor, log_density

# Registry count benchmarks: (floor, items, loading on the general capability).
BENCH = {
    "MMLU": (0.25, 14042, 1.0),
    "GSM8K": (0.0, 1319, 1.6),
    "ARC-C": (0.25, 1172, 0.9),
    "HellaSwag": (0.25, 10042, 1.2),
    "Winograd": (0.5, 1267, 0.8),
}
SAMPLER = {"draws": 100, "tune": 150, "chains": 2}


def make_table(
    n_models: int = 15, seed: int = 0, no_compute: int = 0, singleton: bool = False
) -> pd.DataFrame:
    """A wide table drawn from a one-capability law: 3 families, 5 count benchmarks.

    The last ``no_compute`` models have no size, tokens or FLOPs; with ``singleton`` the
    first model is the only one of family "D".
    """
    rng = np.random.default_rng(seed)
    fam = np.array(["A", "B", "C"])[np.arange(n_models) % 3]
    logc = rng.uniform(21.5, 24.5, n_models)
    effect = {"A": -0.3, "B": 0.0, "C": 0.3}
    general = logc - logc.mean() + np.array([effect[f] for f in fam]) + rng.normal(0, 0.2, n_models)
    params = np.sqrt(10**logc / (6 * 20)) / 1e9  # 20 tokens per parameter
    tokens = 20 * params * 1e9 / 1e12
    table = pd.DataFrame(
        {
            "Model": [f"{f}-{i:02d}" for i, f in enumerate(fam)],
            "Model Family": fam,
            "Model Size (B)": params,
            "Pretraining Data Size (T)": tokens,
            "FLOPs (1E21)": 6 * params * tokens,
        }
    )
    for j, (name, (floor, items, loading)) in enumerate(BENCH.items()):
        p = floor + (1 - floor) / (1 + np.exp(-(0.3 * j - 0.5 + loading * general)))
        table[name] = rng.binomial(items, p) / items
    if singleton:
        table.loc[0, "Model Family"] = "D"
    if no_compute:
        cols = ["Model Size (B)", "Pretraining Data Size (T)", "FLOPs (1E21)"]
        table.loc[table.index[-no_compute:], cols] = np.nan
    return table


@pytest.fixture(scope="module")
def data():
    return from_wide(make_table(), source="<test>")


@pytest.fixture(scope="module")
def fits(data) -> dict[str, FitResults]:
    return {
        spec: CapabilityModel(spec).fit(data, seed=1, warn=False, **SAMPLER)
        for spec in ("k1", "k2")
    }


# ----------------------------------------------------------------------------- likelihood
def test_heldout_log_likelihood_matches_scipy_by_hand() -> None:
    # Two draws; columns: a 10-item count, a 3-item count (0.34 * 3 rounds to 1) and a
    # continuous score at 0 (squeezed to EPS, as the model does).
    y = np.array([0.7, 0.34, 0.0])
    p = np.array([[0.6, 0.3, 0.2], [0.5, 0.5, 0.4]])
    noise = np.array([[0.1, 0.2, 0.15], [0.05, 0.1, 0.3]])
    n = np.array([10.0, 3.0, np.nan])
    got = heldout_log_likelihood(y, p, noise, n)
    phi = 1 / (2 * noise) ** 2 - 1
    want = np.array(
        [
            [
                stats.betabinom.logpmf(7, 10, p[s, 0] * phi[s, 0], (1 - p[s, 0]) * phi[s, 0]),
                stats.betabinom.logpmf(1, 3, p[s, 1] * phi[s, 1], (1 - p[s, 1]) * phi[s, 1]),
                stats.beta.logpdf(EPS, p[s, 2] * phi[s, 2], (1 - p[s, 2]) * phi[s, 2]),
            ]
            for s in range(2)
        ]
    )
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # The phi of draw 0, column 0 is 24: check one value fully by hand as well.
    assert phi[0, 0] == pytest.approx(24.0)
    binom = heldout_log_likelihood(y, p, noise, n, measurement="binomial")
    np.testing.assert_allclose(binom[:, 0], stats.binom.logpmf(7, 10, p[:, 0]), rtol=1e-12)
    np.testing.assert_allclose(binom[:, 2], got[:, 2])  # continuous columns stay Beta
    with pytest.raises(ValueError, match="shapes"):
        heldout_log_likelihood(y, p[:, :2], noise, n)


def test_fit_log_likelihood_reproduces_the_models_pointwise_log_likelihood(fits) -> None:
    """The LFO likelihood is the model's: on observed cells it equals the sampler's."""
    for fit in fits.values():
        obs = fit.tree["observed_data"]
        ours = fit_log_likelihood(
            fit, obs["obs_model"].to_numpy(), obs["obs_column"].to_numpy(), obs["score"].to_numpy()
        )
        theirs = fit.tree["log_likelihood"]["score"].stack(sample=("chain", "draw"))
        np.testing.assert_allclose(ours, theirs.transpose("sample", "obs").to_numpy(), atol=1e-7)


# ----------------------------------------------------------------------------- LOO
def test_loo_table_by_model(fits, data) -> None:
    table = loo_table(fits)
    assert list(table.columns) == list(LOO_COLUMNS)
    assert table.attrs["by"] == "model"
    assert sorted(table["spec"]) == ["k1", "k2"]
    assert (table["n_points"] == data.sizes["model"]).all()
    assert table["weight"].sum() == pytest.approx(1.0)
    assert (table["weight"] >= 0).all()
    assert table["elpd_diff"].iloc[0] == 0.0 and table["dse"].iloc[0] == 0.0
    assert table["elpd"].is_monotonic_decreasing
    assert np.isfinite(table[["elpd", "se", "p_loo"]].to_numpy()).all()
    models = set(map(str, data["model"].to_numpy()))
    for _, row in table.iterrows():
        # By model each point is one model: bad points and bad models are the same count.
        assert row["n_bad_pareto_k"] == len(row["bad_models"])
        assert set(row["bad_models"]) <= models
        assert row["bad_models"] == sorted(row["bad_models"])


def test_grouping_by_model_sums_each_models_observations(fits) -> None:
    fit = fits["k1"]
    by_model = pointwise_log_likelihood(fit, "model")
    by_obs = pointwise_log_likelihood(fit, "obs")
    assert by_model.dims == ("chain", "draw", "model")
    first = str(by_model["model"].to_numpy()[0])
    mask = by_obs["obs_model"].to_numpy() == first
    np.testing.assert_allclose(
        by_model.sel(model=first).to_numpy(), by_obs.isel(obs=mask).sum("obs").to_numpy()
    )
    np.testing.assert_allclose(by_model.sum("model"), by_obs.sum("obs"))


@pytest.mark.filterwarnings("ignore:Estimated shape parameter:UserWarning")
def test_loo_table_by_observation_and_bad_k_models(fits) -> None:
    table = loo_table(fits, by="obs")
    n_obs = int(fits["k1"].tree["observed_data"]["score"].size)
    assert (table["n_points"] == n_obs).all()
    assert table["weight"].sum() == pytest.approx(1.0)
    import arviz_stats  # noqa: F401  (the .azstats accessor)

    for _, row in table.iterrows():
        fit = fits[row["spec"]]
        ll = fit.tree["log_likelihood"]["score"]
        # ArviZ's PSIS per observation, each with its own likelihood's relative efficiency.
        reff = compare_mod.relative_efficiency(ll)
        k = xr.concat(
            [
                ll.isel(obs=i).azstats.psislw(r_eff=float(reff[i]), dim=["chain", "draw"])[1]
                for i in range(ll.sizes["obs"])
            ],
            dim="obs",
            coords="different",  # the scalar obs_model of each point becomes a coordinate
            compat="equals",
        )
        bad = k.to_numpy() > BAD_K
        assert row["n_bad_pareto_k"] == int(bad.sum())
        owners = sorted(set(map(str, k["obs_model"].to_numpy()[bad])))
        assert row["bad_models"] == owners


def test_loo_table_refuses_fits_to_different_observations(fits) -> None:
    fit = fits["k2"]
    fewer = FitResults(tree=fit.tree.isel(obs=slice(1, None), missing_dims="ignore"), spec=fit.spec)
    with pytest.raises(BayesScalingError, match="different observations"):
        loo_table({"k1": fits["k1"], "k2": fewer})
    with pytest.raises(BayesScalingError, match="by must be"):
        loo_table(fits, by="family")  # type: ignore[arg-type]
    with pytest.raises(BayesScalingError, match="at least one"):
        loo_table({})


def test_loo_table_of_one_fit(fits) -> None:
    table = loo_table({"only": fits["k1"]})
    assert table["weight"].tolist() == [1.0]
    assert table["elpd_diff"].tolist() == [0.0]


# ----------------------------------------------------------------------------- integrated LOO
@pytest.fixture(scope="module")
def singleton_fit() -> FitResults:
    """k1 on a table whose first model ("A-00") is the only one of family "D"."""
    data = from_wide(make_table(singleton=True), source="<test>")
    return CapabilityModel("k1").fit(data, seed=4, warn=False, **SAMPLER)


def _gaussian_condition(
    x: float, members: np.ndarray, members_x: np.ndarray, tau: np.ndarray, resid: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sd of a model's capabilities given its family's other members (all with
    compute, slope one), by conditioning the joint Gaussian: Cov(S_a, S_b) = tau^2 +
    [a = b] resid^2 per capability. Independent of member_conditional_prior's algebra."""
    n, k = members.shape
    loc, sd = np.empty(k), np.empty(k)
    for c in range(k):
        trend = np.array([*members_x, x]) * (c == 0)
        cov = np.full((n + 1, n + 1), tau[c] ** 2) + np.eye(n + 1) * resid[c] ** 2
        w = np.linalg.solve(cov[:n, :n], cov[:n, n])
        loc[c] = trend[n] + w @ (members[:, c] - trend[:n])
        sd[c] = math.sqrt(cov[n, n] - cov[n, :n] @ w)
    return loc, sd


def test_member_conditional_prior_is_the_gaussian_conditional() -> None:
    """Exact against brute-force conditioning, for draws, known and unknown compute, and a
    family slope (an unknown compute adds (slope x_sd)^2 on the general axis)."""
    rng = np.random.default_rng(0)
    tau = np.array([[0.7, 0.4], [1.2, 0.3]])
    resid = np.array([[0.3, 0.9], [0.5, 0.8]])
    members = rng.normal(size=(2, 3, 2))
    members_x = np.array([-1.0, 0.5, 2.0])
    loc, scale = member_conditional_prior(0.8, members, members_x, tau, resid, x_sd=1.3)
    for d in range(2):
        want_loc, want_sd = _gaussian_condition(0.8, members[d], members_x, tau[d], resid[d])
        np.testing.assert_allclose(loc[d], want_loc, rtol=1e-12)
        np.testing.assert_allclose(scale[d], want_sd, rtol=1e-12)
    # Slope 2 and one member without compute, against the same conditioning with the
    # trend doubled and that member's general variance widened by (2 x_sd)^2.
    x_sd, slope = 1.3, 2.0
    mx = np.array([-1.0, np.nan, 2.0])
    loc, scale = member_conditional_prior(
        0.8, members[0], mx, tau[0], resid[0], x_sd=x_sd, slope=slope
    )
    trend = slope * np.array([-1.0, 0.0, 2.0, 0.8])
    var = resid[0, 0] ** 2 + np.array([0.0, (slope * x_sd) ** 2, 0.0, 0.0])
    cov = np.full((4, 4), tau[0, 0] ** 2) + np.diag(var)
    w = np.linalg.solve(cov[:3, :3], cov[:3, 3])
    np.testing.assert_allclose(loc[0], trend[3] + w @ (members[0, :, 0] - trend[:3]))
    np.testing.assert_allclose(scale[0], math.sqrt(cov[3, 3] - cov[3, :3] @ w))
    # Unknown own compute: the family line's mean, widened by (slope x_sd)^2.
    loc_u, scale_u = member_conditional_prior(
        None, members[0], mx, tau[0], resid[0], x_sd=x_sd, slope=slope
    )
    np.testing.assert_allclose(loc_u[0], loc[0] - slope * 0.8)
    np.testing.assert_allclose(scale_u[0] ** 2, scale[0] ** 2 + (slope * x_sd) ** 2)
    np.testing.assert_allclose(scale_u[1], scale[1])


def _brute_force(fit: FitResults, model: str, draw_idx: np.ndarray, n: int) -> np.ndarray:
    """log mean p(y | S, theta_s) over n capability draws from the prior, for a few draws.

    Independent of the importance sampler: the prior straight from capability_prior when
    ``model`` is its family's only member (the family a fresh draw), otherwise the joint
    Gaussian of the family conditioned on the other members' capabilities; the likelihood
    from the measurement layer's log_density.
    """
    from bayes_scaling.place import _run_arrays

    post = fit.posterior
    run = _run_arrays(fit, post.sizes["chain"] * post.sizes["draw"])
    s_all = post["S"].stack(s=("chain", "draw")).transpose("s", "model", "capability")
    obs = fit.tree["observed_data"]
    mask = obs["obs_model"].to_numpy() == model
    cols = obs["obs_column"].to_numpy()[mask].astype(str)
    y = obs["score"].to_numpy()[mask]
    j = np.array([run.benchmarks.index(c) for c in cols])
    data = fit.data
    fam = str(data["family"].sel(model=model).to_numpy())
    families = data["family"].to_numpy().astype(str)
    names = data["model"].to_numpy().astype(str)
    others = [str(m) for m, f in zip(names, families, strict=True) if f == fam and m != model]
    log_x = np.log10(data["flops"].to_numpy().astype(float)) - run.x_mean
    x = float(log_x[list(names).index(model)])
    rng = np.random.default_rng(7)
    out = []
    for s in draw_idx:
        if others:
            members = s_all.sel(model=others).to_numpy()[s]
            mx = np.array([log_x[list(names).index(o)] for o in others])
            loc, scale = _gaussian_condition(x, members, mx, run.tau[s], run.resid[s])
        else:
            loc, scale = capability_prior(
                x=np.array([x]),
                family_index=np.array([-1]),
                alpha=run.alpha[s],
                tau=run.tau[s],
                resid_sd=run.resid[s],
                x_sd=run.x_sd,
            )
            loc, scale = loc[0], scale[0]
        cap = loc + scale * rng.standard_normal((n, loc.shape[-1]))
        eta = linear_predictor(run.b[s, j], run.loadings[s, j], cap - run.centre[s])
        p = expected_score(eta, run.floor[j], run.ceiling[j])
        ll = log_density(y, run.n_items[j], p, run.phi[s, j], fit.spec.measurement)
        tot = ll.sum(axis=1)
        out.append(np.logaddexp.reduce(tot) - np.log(n))
    return np.array(out)


def test_integrated_log_likelihood_matches_a_brute_force_monte_carlo_integral(
    singleton_fit: FitResults,
) -> None:
    """The importance integral equals plain Monte Carlo over the left-out prior: for the
    only model of a family (its family effect a fresh draw) and for a model whose family
    effect is integrated out given the family's other members."""
    ll = integrated_log_likelihood(singleton_fit, proposals=1024, seed=3)
    flat = ll.stack(s=("chain", "draw")).transpose("s", "model")
    draw_idx = np.array([0, 37, 111, 150, 199])
    for model in ("A-00", "B-01"):  # family D (alone) and family B
        brute = _brute_force(singleton_fit, model, draw_idx, 1_000_000)
        ours = flat.sel(model=model).to_numpy()[draw_idx]
        np.testing.assert_allclose(ours, brute, atol=0.05)
    # Integrating the family effect out matters: conditioning the lone model on its own
    # family's fitted effect (what the fit's draws hold) predicts it better than a new
    # family could.
    fitted = pointwise_log_likelihood(singleton_fit, "model").sel(model="A-00")
    assert float(fitted.mean()) > float(ll.sel(model="A-00").mean())
    assert (ll["proposal_ess"] > 0.5 * 1024).all()


def test_pareto_k_reads_the_likelihood_not_the_posteriors_variable_list(fits) -> None:
    """Each point's PSIS tail uses the relative efficiency of its own likelihood: adding a
    well-mixed variable to the posterior (which moved ArviZ's averaged r_eff) changes no k,
    and a point's r_eff falls when its likelihood is autocorrelated."""
    from types import SimpleNamespace

    fit = fits["k1"]
    ll = integrated_log_likelihood(fit, proposals=8)
    base = compare_mod._psis(fit, ll)
    rng = np.random.default_rng(0)
    post = fit.posterior.copy()
    post["noise_var"] = (("chain", "draw", "extra"), rng.normal(size=(*ll.shape[:2], 500)))
    other = compare_mod._psis(SimpleNamespace(posterior=post), ll)
    np.testing.assert_array_equal(np.asarray(base.pareto_k), np.asarray(other.pareto_k))
    # Independent draws have relative efficiency about one; each repeated ten times, 0.1.
    iid = xr.DataArray(rng.normal(size=(4, 500, 3)), dims=("chain", "draw", "model"))
    sticky = iid.copy(data=np.repeat(iid.to_numpy()[:, ::10], 10, axis=1))
    assert float(compare_mod.relative_efficiency(sticky).max()) < 0.3
    assert float(compare_mod.relative_efficiency(iid).min()) > 0.7


def test_integrated_loo_is_lower_than_the_conditional_one(fits) -> None:
    """Conditioning on a left-out model's own capabilities flatters the spec."""
    for name, fit in fits.items():
        integrated = loo_table({name: fit})
        conditional = loo_table({name: fit}, integrated=False)
        assert integrated.attrs["integrated"] and not conditional.attrs["integrated"]
        assert integrated["elpd"].iloc[0] < conditional["elpd"].iloc[0]
        assert integrated["n_bad_pareto_k"].iloc[0] <= conditional["n_bad_pareto_k"].iloc[0]
        k = integrated.attrs["pareto_k"][name]
        assert sorted(k) == sorted(map(str, fit.data["model"].to_numpy()))


def test_kfold_refit_agrees_with_psis_and_replaces_points(data, fits) -> None:
    """An exact refit without a model gives about PSIS's elpd for a model PSIS handles,
    and a refitted point replaces PSIS's in the table."""
    fit = fits["k1"]
    table = loo_table({"k1": fit})
    k = table.attrs["pareto_k"]["k1"]
    good = min(k, key=k.get)
    elpd, diag = kfold_elpd(data, "k1", [[good]], seed=5, retries=0, **SAMPLER)
    assert list(elpd) == [good] and len(diag) == 1
    psis = table.attrs["elpd_i"]["k1"][good]
    assert abs(elpd[good] - psis) < 1.0
    replaced = loo_table({"k1": fit}, refits={"k1": {good: psis - 10.0}})
    assert replaced["n_refit"].iloc[0] == 1
    assert replaced["elpd"].iloc[0] == pytest.approx(table["elpd"].iloc[0] - 10.0)
    assert math.isnan(replaced.attrs["pareto_k"]["k1"][good])


def test_kfold_refit_that_does_not_converge_is_rerun_with_twice_the_draws(
    data, fits, monkeypatch
) -> None:
    calls: list[tuple[int, int]] = []

    class FakeModel:
        def __init__(self, spec):
            pass

        def fit(self, data, *, draws, tune, **kwargs):
            calls.append((draws, tune))
            return fits["k1"]

    bad = Diagnostics(1.02, 300.0, 300.0, 0, 0.9, 1.0, {"rhat": ["beta"]})
    good = Diagnostics(1.001, 900.0, 900.0, 0, 0.9, 1.0, {})
    monkeypatch.setattr(compare_mod, "CapabilityModel", FakeModel)
    monkeypatch.setattr(
        FitResults, "diagnostics", property(lambda self: [bad, good][len(calls) > 1])
    )
    model = str(data["model"].to_numpy()[0])
    _, diag = kfold_elpd(data, "k1", [[model]], draws=100, tune=150, chains=2)
    assert calls == [(100, 150), (200, 300)] and diag == [good]
    calls.clear()
    monkeypatch.setattr(FitResults, "diagnostics", property(lambda self: bad))
    _, diag = kfold_elpd(data, "k1", [[model]], draws=100, tune=150, chains=2, retries=2)
    assert calls == [(100, 150), (200, 300), (400, 600)] and diag == [bad]


def test_family_folds(data) -> None:
    folds = family_folds(data)
    assert sorted(m for f in folds for m in f) == sorted(map(str, data["model"].to_numpy()))
    assert [f[0][0] for f in folds] == ["A", "B", "C"]
    assert family_folds(data, ["A-00", "B-01", "A-03"]) == [["A-00", "A-03"], ["B-01"]]


# ----------------------------------------------------------------------------- refusal
def _fake_fits(monkeypatch, fits, ok: dict[str, bool]) -> None:
    """compare_specs gets the module's fits, with the given convergence verdicts."""

    class FakeModel:
        def __init__(self, spec):
            self.name = spec.name

        def fit(self, data, **kwargs):
            return fits[self.name]

    good = Diagnostics(1.001, 900.0, 900.0, 0, 0.9, 1.0, {})
    bad = Diagnostics(1.2, 50.0, 60.0, 3, 0.9, 1.0, {"rhat": ["S[A-00, general]"]})
    monkeypatch.setattr(compare_mod, "CapabilityModel", FakeModel)
    monkeypatch.setattr(
        FitResults, "diagnostics", property(lambda self: good if ok[self.spec.name] else bad)
    )


def test_compare_refuses_unconverged_fits_and_force_stacks_converged_only(
    data, fits, monkeypatch
) -> None:
    _fake_fits(monkeypatch, fits, {"k1": True, "k2": False})
    lines = []
    with pytest.raises(ComparisonRefused, match=r"k2 is not converged .*max_rhat=1\.200"):
        compare_specs(data, ["k1", "k2"], on_fit=lambda s, d: lines.append(s))
    assert lines == ["k1", "k2"]  # every fit reported its diagnostics first
    table = compare_specs(data, ["k1", "k2"], force=True)
    row = table.set_index("spec")
    assert math.isnan(row.loc["k2", "weight"]) and row.loc["k1", "weight"] == 1.0
    assert "not converged" in row.loc["k2", "warning"]
    assert "not converged" not in row.loc["k1", "warning"]
    assert not row.loc["k2", "converged"] and row.loc["k1", "converged"]
    assert any("k2 is not converged" in r for r in table.attrs["refusals"])


def test_compare_refuses_unreliable_loo(data, fits, monkeypatch) -> None:
    """More than 10% of models with Pareto k > 0.7 (here: the conditional estimate)."""
    _fake_fits(monkeypatch, fits, {"k1": True, "k2": True})
    monkeypatch.setattr(
        compare_mod,
        "integrated_log_likelihood",
        lambda fit, cells=None, **kw: pointwise_log_likelihood(fit, "model"),
    )
    bad = loo_table({"k1": fits["k1"]}, integrated=False)["n_bad_pareto_k"].iloc[0]
    assert bad > 0.1 * data.sizes["model"]  # the premise of this test
    with pytest.raises(ComparisonRefused, match=r"Pareto k > 0.7 \(more than 10%\)"):
        compare_specs(data, ["k1"])
    table = compare_specs(data, ["k1"], force=True)
    assert table["warning"].iloc[0] == "unreliable LOO"


def test_compare_refuses_when_a_kfold_refit_is_not_converged(data, fits, monkeypatch) -> None:
    """The fallback's exact elpd counts only from converged refits."""
    _fake_fits(monkeypatch, fits, {"k1": True})
    monkeypatch.setattr(
        compare_mod,
        "integrated_log_likelihood",
        lambda fit, cells=None, **kw: pointwise_log_likelihood(fit, "model"),
    )
    bad_fit = Diagnostics(1.03, 150.0, 200.0, 0, 0.9, 1.0, {"rhat": ["beta"]})
    good_fit = Diagnostics(1.001, 900.0, 900.0, 0, 0.9, 1.0, {})

    def fake_kfold(data, spec, folds, **kw):
        # Every bad point gets an exact value; one refit of them did not converge.
        elpd = {f[0]: -5.0 for f in folds}
        return elpd, [bad_fit] + [good_fit] * (len(folds) - 1)

    monkeypatch.setattr(compare_mod, "kfold_elpd", fake_kfold)
    with pytest.raises(ComparisonRefused, match=r"k1: 1 of \d+ K-fold refits are not converged"):
        compare_specs(data, ["k1"], kfold="model")
    table = compare_specs(data, ["k1"], kfold="model", force=True)
    assert "K-fold refits not converged" in table["warning"].iloc[0]
    assert table["n_bad_pareto_k"].iloc[0] == 0


# ----------------------------------------------------------------------------- LFO
def test_leave_future_out(data) -> None:
    logf = np.log10(data["flops"].to_numpy())
    cutoff = float(np.quantile(logf, 0.75))
    out = leave_future_out(data, "k1", cutoff, seed=2, **SAMPLER)
    future = [str(m) for m, lf in zip(data["model"].to_numpy(), logf, strict=True) if lf > cutoff]
    assert sorted(out["models"]) == sorted(future)
    n_cells = int(np.isfinite(data["score"].sel(model=future)).sum())
    assert out["n_heldout"] == n_cells == out["pointwise"]["n_scores"].sum()
    # One point per held-out model (its scores share one capability error).
    assert sorted(out["pointwise"]["model"]) == sorted(future)
    assert math.isfinite(out["elpd_lfo"]) and math.isfinite(out["se"]) and out["se"] > 0
    assert out["elpd_lfo"] == pytest.approx(out["pointwise"]["lpd"].sum())
    lpd = out["pointwise"]["lpd"].to_numpy()
    assert out["se"] == pytest.approx(math.sqrt(lpd.size * np.var(lpd, ddof=1)))
    # The refit really did not see the future models' scores.
    seen = set(map(str, out["fit"].tree["observed_data"]["obs_model"].to_numpy()))
    assert not seen & set(future)
    with pytest.raises(BayesScalingError, match="no model above the cutoff"):
        leave_future_out(data, "k1", 30.0, **SAMPLER)


# ----------------------------------------------------------------------------- CLI
def test_cli_compare_json_on_models_with_compute(tmp_path: Path, capsys) -> None:
    path = tmp_path / "bench.csv"
    make_table(no_compute=2).to_csv(path, index=False)
    code = run(
        [
            "compare",
            str(path),
            "--specs",
            "k1,compute-only",
            "--json",
            "--draws",
            "60",
            "--tune",
            "100",
            "--chains",
            "2",
            "--seed",
            "3",
            "--force",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    # One diagnostics line per fit; 60 draws do not converge, which --force lets through.
    assert captured.err.count(": diagnostics: max_rhat=") == 2
    assert "warning: --force:" in captured.err
    records = json.loads(captured.out)
    assert all(r["forced"] and r["warning"] for r in records)
    assert [
        set(r) >= {"spec", "elpd", "se", "elpd_diff", "weight", "n_bad_pareto_k"} for r in records
    ] == [True, True]
    assert sorted(r["spec"] for r in records) == ["compute-only", "k1"]
    # compute-only cannot place the 2 models without compute: all specs drop them.
    assert all(r["n_points"] == 13 for r in records)
    assert "13 models with known compute" in records[0]["note"]


def test_cli_compare_table_output(fits, monkeypatch, capsys) -> None:
    """The rich table and the Pareto-k line (fitting replaced by the module's fits)."""
    import bayes_scaling.compare as compare_mod

    def fake_compare_specs(data, specs, **kwargs):
        table = loo_table({s: fits[s] for s in specs})
        for col, v in (
            ("max_rhat", 1.0),
            ("min_ess_bulk", 100.0),
            ("divergences", 0),
            ("seconds", 1.0),
        ):
            table[col] = v
        table.loc[0, "bad_models"] = ["A-00", "B-01"]
        table.loc[0, "n_bad_pareto_k"] = 2
        table.attrs.update(note="", n_models=15, n_obs=75, warnings={"k2": ["R-hat > 1.01"]})
        return table

    monkeypatch.setattr(compare_mod, "compare_specs", fake_compare_specs)
    assert run(["compare", "base-llm", "--specs", "k1,k2"]) == 0
    captured = capsys.readouterr()
    assert "elpd_diff" in captured.out and "weight" in captured.out
    assert "models behind Pareto k > 0.7:" in captured.out
    assert "A-00, B-01" in captured.out
    assert "warning: k2: R-hat > 1.01" in captured.err


def test_cli_compare_refusal_is_one_line_exit_2(tmp_path: Path, fits, monkeypatch, capsys) -> None:
    path = tmp_path / "bench.csv"
    make_table().to_csv(path, index=False)
    _fake_fits(monkeypatch, fits, {"k1": True, "k2": False})
    assert run(["compare", str(path), "--specs", "k1,k2"]) == 2
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: refusing to rank: k2 is not")
    assert captured.out == ""
    assert "k1: diagnostics: max_rhat=1.001 min_ess_bulk=900 divergences=0" in captured.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nonexistent.csv", "--specs", "k1"], "file not found"),
        (["base-llm", "--specs", "k1,nope"], "nope"),
        (["base-llm", "--specs", "k1,k1"], "twice"),
        (["base-llm", "--specs", "k1", "--lfo-quantile", "1.5"], "between 0 and 1"),
    ],
)
def test_cli_compare_errors(args: list[str], message: str, capsys) -> None:
    assert run(["compare", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1
