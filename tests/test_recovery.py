"""Simulation-based recovery: the posterior covers the parameters that made the data.

One K=2 table (60 models, 8 families, 8 benchmarks, 10% of scores missing) is fitted
with the matching spec (true anchors) and with K=1. Checks:

* 90% equal-tailed intervals (explicit 5% and 95% quantiles) hold the true capabilities
  S (120 coordinates) and family effects at a rate between 0.80 and 0.98;
* the intervals are informative: much narrower than the spread of the truth, and the
  truth moved by one interval width is covered rarely (so a biased model would fail);
* PSIS-LOO prefers K=2 over K=1 by more than 2 standard errors of the difference.

Measured numbers and the command to reproduce them are in ``docs/simulation.md``.
"""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from bayes_scaling.estimator import CapabilityModel, FitResults
from bayes_scaling.simulate import Simulation, simulate

pytestmark = [pytest.mark.slow, pytest.mark.sampling]

SIM = {"n_models": 60, "n_families": 8, "n_benchmarks": 8, "capabilities": 2}
FIT = {"draws": 300, "tune": 400, "chains": 4}
LEVEL = 0.9


@pytest.fixture(scope="module")
def sim() -> Simulation:
    return simulate(**SIM, missing=0.1, seed=0)


@pytest.fixture(scope="module")
def fit_k2(sim: Simulation) -> FitResults:
    return CapabilityModel(sim.spec("k2")).fit(sim.data, **FIT, seed=0, warn=False)


@pytest.fixture(scope="module")
def fit_k1(sim: Simulation) -> FitResults:
    return CapabilityModel(sim.spec("k1")).fit(sim.data, **FIT, seed=0, warn=False)


def interval(draws: xr.DataArray) -> tuple[xr.DataArray, xr.DataArray]:
    """Equal-tailed ``LEVEL`` interval from explicit quantiles over chains and draws."""
    lo, hi = (1 - LEVEL) / 2, 1 - (1 - LEVEL) / 2
    q = draws.quantile([lo, hi], dim=("chain", "draw"))
    return q.sel(quantile=lo, drop=True), q.sel(quantile=hi, drop=True)


def covered(draws: xr.DataArray, truth: xr.DataArray, shift: float = 0.0) -> xr.DataArray:
    """Whether each interval holds ``truth + shift * interval width``."""
    lo, hi = interval(draws)
    target = truth + shift * (hi - lo)
    return (target >= lo) & (target <= hi)


def test_intervals_cover_the_true_capabilities(fit_k2: FitResults, sim: Simulation) -> None:
    inside = covered(fit_k2.posterior["S"], sim.params["S"])
    assert inside.size == 120
    rate = float(inside.mean())
    assert 0.80 <= rate <= 0.98, rate
    # Neither axis is covered by luck of the other (per axis: 60 correlated values).
    assert (inside.mean("model") >= 0.7).all(), inside.mean("model").to_numpy()


def test_intervals_cover_the_family_effects(fit_k2: FitResults, sim: Simulation) -> None:
    in_s = covered(fit_k2.posterior["S"], sim.params["S"])
    in_a = covered(fit_k2.posterior["alpha"], sim.params["alpha"])
    assert in_a.size == 16
    assert float(in_a.mean()) >= 0.75, in_a.to_numpy()  # 16 values: a loose bound alone
    pooled = float((in_s.sum() + in_a.sum()) / (in_s.size + in_a.size))
    assert 0.80 <= pooled <= 0.98, pooled


def test_intervals_are_informative(fit_k2: FitResults, sim: Simulation) -> None:
    """Coverage is not bought with width: intervals are far narrower than the spread of
    the truth, and the truth shifted by one interval width falls outside almost always."""
    lo, hi = interval(fit_k2.posterior["S"])
    width = (hi - lo).mean("model")
    spread = sim.params["S"].std("model")  # a prior-like 90% interval is 3.3x this
    assert float(width.sel(capability="general")) < 0.5 * float(spread.sel(capability="general"))
    assert float(width.sel(capability="spec1")) < 1.0 * float(spread.sel(capability="spec1"))
    shifted = covered(fit_k2.posterior["S"], sim.params["S"], shift=1.0)
    assert float(shifted.mean()) < 0.2
    mean = fit_k2.posterior["S"].mean(("chain", "draw"))
    for cap, min_corr in (("general", 0.99), ("spec1", 0.95)):
        r = np.corrcoef(mean.sel(capability=cap), sim.params["S"].sel(capability=cap))[0, 1]
        assert r > min_corr, (cap, r)


def test_loadings_are_recovered(fit_k2: FitResults, sim: Simulation) -> None:
    live = (sim.params["loadings"] != 0).to_numpy()  # the anchor zeros are not estimated
    inside = covered(fit_k2.posterior["loadings"], sim.params["loadings"]).to_numpy()[live]
    # 15 values sharing one scale (the compute slope), so they are covered or missed
    # together: loose (measured 0.53, 0.87, 0.87 on seeds 0-2 with the native-unit
    # parametrisation; seed 0 misses by a common 12% scale). The correlation below is
    # the sharp check of their pattern.
    assert float(inside.mean()) >= 0.5, inside
    mean = fit_k2.posterior["loadings"].mean(("chain", "draw")).to_numpy()[live]
    assert np.corrcoef(mean, sim.params["loadings"].to_numpy()[live])[0, 1] > 0.95


def test_loo_prefers_the_true_number_of_capabilities(
    fit_k1: FitResults, fit_k2: FitResults
) -> None:
    with warnings.catch_warnings():
        # A few high Pareto k values are expected with 4 x 300 draws; they are reported
        # in the comparison table and do not decide a difference of this size.
        warnings.simplefilter("ignore", UserWarning)
        loo2 = az.loo(fit_k2.tree, var_name="score")
        table = az.compare({"k1": fit_k1.tree, "k2": fit_k2.tree}, round_to="none")
    assert (
        np.isfinite(loo2.elpd) and loo2.n_data_points == fit_k2.tree["log_likelihood"].sizes["obs"]
    )
    assert isinstance(table, pd.DataFrame)
    assert table.index[0] == "k2" and table.loc["k2", "rank"] == 0
    diff, dse = float(table.loc["k1", "elpd_diff"]), float(table.loc["k1", "dse"])
    assert diff < 0 and -diff > 2 * dse, (diff, dse)


def test_no_chain_is_stuck(fit_k2: FitResults) -> None:
    """Chains agree and none is trapped; loose bounds, as 4 x 300 draws are few.

    With a centred noise hierarchy a chain occasionally stuck in the funnel
    ``log_noise_sd -> 0`` (every transition divergent, R-hat ~1.6): this failed.
    """
    d = fit_k2.diagnostics
    assert d.max_rhat < 1.2, d.max_rhat
    # One chain of four often has 5-10% divergent transitions (see docs/simulation.md);
    # a stuck chain has nearly all.
    diverging = fit_k2.tree["sample_stats"]["diverging"].mean("draw").to_numpy()
    assert (diverging < 0.25).all(), diverging
