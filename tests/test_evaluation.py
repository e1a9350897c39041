"""Tests of the forecast yardsticks (bayes_scaling.evaluation)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats

from bayes_scaling.evaluation import (
    area_under_error_curve,
    calibration,
    compare_to_baseline,
    coverage,
    crps_gaussian,
    crps_sample,
    gaussian_interval,
    gaussian_log_score,
    interval,
    log_predictive_density,
    normalised,
    pit_counts,
    pit_gaussian,
    pit_sample,
    residual_sd,
    score_forecasts,
)


def test_normalised_hand_values() -> None:
    assert normalised(0.25, 0.25) == 0.0
    assert normalised(1.0, 0.25) == 1.0
    assert normalised(4.0, 0.0, 10.0) == pytest.approx(0.4)
    da = xr.DataArray([0.5, 0.75], dims="model")
    np.testing.assert_allclose(normalised(da, 0.5).values, [0.0, 0.5])
    with pytest.raises(ValueError, match="ceiling"):
        normalised(0.5, 1.0, 1.0)


def test_interval_uses_equal_tail_quantiles() -> None:
    draws = np.arange(1001.0)
    lo, hi = interval(draws, 0.5)
    assert (float(lo), float(hi)) == (250.0, 750.0)
    lo, hi = interval(draws, 0.9)
    assert (float(lo), float(hi)) == (50.0, 950.0)
    da = xr.DataArray(
        np.arange(40.0).reshape(2, 20, 1), dims=("chain", "draw", "model"), coords={"model": ["a"]}
    )
    lo, hi = interval(da, 0.9)
    assert lo.dims == ("model",) and "quantile" not in lo.coords
    np.testing.assert_allclose([lo.item(), hi.item()], np.quantile(np.arange(40.0), [0.05, 0.95]))
    lo, hi = interval(np.arange(10.0).reshape(5, 2), 0.5, dim=1)
    assert lo.shape == (5,)
    with pytest.raises(ValueError, match="level"):
        interval(draws, 1.0)


def test_coverage_and_calibration_hand_case() -> None:
    y = np.array([0.1, 0.5, 0.9, 0.3, np.nan])
    lo50, hi50 = np.full(5, 0.2), np.full(5, 0.5)  # 0.5 on the edge counts as inside
    lo90, hi90 = np.zeros(5), np.full(5, 0.8)
    assert coverage(y, lo50, hi50) == 0.5
    assert calibration(y, lo50, hi50, lo90, hi90) == {
        "n": 4.0,
        "coverage50": 0.5,
        "coverage90": 0.75,
    }
    assert math.isnan(coverage(np.full(2, np.nan), np.zeros(2), np.ones(2)))
    with pytest.raises(ValueError, match="bounds"):
        coverage(np.array([0.5]), np.array([np.nan]), np.array([1.0]))


def test_coverage_aligns_dataarrays_by_model() -> None:
    y = xr.DataArray([0.1, 0.9], dims="model", coords={"model": ["a", "b"]})
    lo = xr.DataArray([0.8, 0.0], dims="model", coords={"model": ["b", "a"]})
    hi = xr.DataArray([1.0, 0.2], dims="model", coords={"model": ["b", "a"]})
    assert coverage(y, lo, hi) == 1.0


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    n=st.integers(1, 20),
)
def test_coverage_is_a_share(data: st.DataObject, n: int) -> None:
    unit = st.floats(-2, 2, allow_nan=False)
    y = data.draw(arrays(float, n, elements=unit))
    a = data.draw(arrays(float, n, elements=unit))
    b = data.draw(arrays(float, n, elements=unit))
    c = coverage(y, np.minimum(a, b), np.maximum(a, b))
    assert 0.0 <= c <= 1.0
    assert c * n == pytest.approx(round(c * n))
    # widening every interval can only raise coverage
    assert coverage(y, np.minimum(a, b) - 1, np.maximum(a, b) + 1) >= c


def test_log_predictive_density_of_known_normal() -> None:
    y = np.array([0.3, -1.2])
    logpdf = stats.norm(0.0, 0.7).logpdf(y)
    ll = np.tile(logpdf, (500, 1))
    np.testing.assert_allclose(log_predictive_density(ll), logpdf, rtol=1e-12)
    # mixture of two draws: log((p1 + p2) / 2)
    two = np.log(np.array([[0.1, 0.5], [0.3, 0.5]]))
    np.testing.assert_allclose(np.exp(log_predictive_density(two)), [0.2, 0.5])
    # huge negative log-likelihoods stay finite (logsumexp, not log(mean(exp)))
    assert np.isfinite(log_predictive_density(np.full((3, 1), -2000.0))).all()


def test_score_forecasts_hand_case() -> None:
    obs = np.array([0.25, 0.625, 1.0, np.nan])
    mean = np.array([0.4375, 0.625, 0.8125, 0.5])  # normalised errors 0.25, 0, -0.25
    s = score_forecasts(obs, mean, floor=0.25)
    assert s.n == 3
    assert s.mse == pytest.approx((0.0625 + 0 + 0.0625) / 3)
    assert s.mae == pytest.approx(0.5 / 3)
    assert math.isnan(s.coverage90) and math.isnan(s.lpd)
    row = s.as_dict()
    assert set(row) == {"n", "mse", "mae", "coverage50", "coverage90", "lpd"}


def test_score_forecasts_with_intervals_and_loglik() -> None:
    obs = np.array([0.2, 0.5, 0.8])
    mean = np.array([0.2, 0.5, 0.8])
    lower = {0.5: np.array([0.1, 0.6, 0.7]), 0.9: np.zeros(3)}
    upper = {0.5: np.array([0.3, 0.7, 0.9]), 0.9: np.ones(3)}
    logpdf = stats.norm(mean, 0.1).logpdf(obs)
    s = score_forecasts(
        obs, mean, lower=lower, upper=upper, floor=0.0, loglik=np.tile(logpdf, (10, 1))
    )
    assert s.coverage50 == pytest.approx(2 / 3) and s.coverage90 == 1.0
    assert s.lpd == pytest.approx(logpdf.mean())


def test_score_forecasts_kde_lpd_matches_normal_density() -> None:
    rng = np.random.default_rng(0)
    obs = np.array([0.5, 0.62])
    draws = 0.5 + rng.normal(0, 0.05, size=(20000, 2))
    s = score_forecasts(obs, draws.mean(axis=0), draws, floor=0.0)
    expected = stats.norm(0.5, 0.05).logpdf(obs).mean()
    assert s.lpd == pytest.approx(expected, abs=0.05)
    assert s.coverage90 == 0.5  # 0.62 is 2.4 sd out
    # on a 0-10 scale the density is taken on the normalised scale: same lpd
    s10 = score_forecasts(obs * 10, draws.mean(axis=0) * 10, draws * 10, floor=0.0, ceiling=10.0)
    assert s10.lpd == pytest.approx(s.lpd, rel=1e-9)
    assert s10.mse == pytest.approx(s.mse, rel=1e-9)


def test_score_forecasts_point_mass_draws_are_finite() -> None:
    draws = np.full((100, 1), 0.5)
    s = score_forecasts(np.array([0.5]), np.array([0.5]), draws, floor=0.0)
    assert np.isfinite(s.lpd) and s.coverage50 == 1.0


def test_score_forecasts_dataarray_draws_aligned_by_model() -> None:
    obs = xr.DataArray([0.2, 0.8], dims="model", coords={"model": ["a", "b"]})
    rng = np.random.default_rng(1)
    base = np.array([0.8, 0.2])  # stored in order b, a
    vals = base[None, None, :] + rng.normal(0, 0.02, size=(2, 500, 2))
    draws = xr.DataArray(vals, dims=("chain", "draw", "model"), coords={"model": ["b", "a"]})
    mean = draws.mean(("chain", "draw"))
    s = score_forecasts(obs, mean, draws, floor=0.0)
    assert s.mse < 1e-4 and s.coverage90 == 1.0


def test_compare_to_baseline_hand_case() -> None:
    table = pd.DataFrame(
        {
            "target": ["a", "b", "c"],
            "mse": [0.01, 0.02, 0.09],
            "mse_baseline": [0.04, 0.02, 0.01],
        }
    )
    c = compare_to_baseline(table)
    np.testing.assert_allclose(c.ratios.to_numpy(), [0.25, 1.0, 9.0])
    assert c.geometric_mean == pytest.approx((0.25 * 1.0 * 9.0) ** (1 / 3))
    assert c.wins == 1 and c.n_targets == 3
    assert c.ratios.index.tolist() == ["a", "b", "c"]


def test_compare_to_baseline_pools_splits_by_held_out_count() -> None:
    table = pd.DataFrame(
        {
            "target": ["a", "a", "b"],
            "split": ["cut1", "cut2", "cut1"],
            "n": [1, 3, 2],
            "mse": [0.04, 0.0, 0.01],
            "mse_baseline": [0.0, 0.04, 0.01],
        }
    )
    c = compare_to_baseline(table)
    # a: ours (0.04*1 + 0)/4 = 0.01, baseline (0 + 0.12)/4 = 0.03
    assert c.ratios["a"] == pytest.approx(1 / 3)
    assert c.ratios["b"] == 1.0
    per_split = compare_to_baseline(table, by=["target", "split"])
    assert per_split.n_targets == 3 and np.isinf(per_split.ratios[("a", "cut1")])
    assert per_split.ratios[("a", "cut2")] == 0.0 and per_split.wins == 1
    # a zero and an infinite ratio together leave no meaningful geometric mean
    assert np.isnan(per_split.geometric_mean)


def test_compare_to_baseline_ties_and_errors() -> None:
    tie = pd.DataFrame({"target": ["a"], "mse": [0.0], "mse_baseline": [0.0]})
    assert compare_to_baseline(tie).ratios["a"] == 1.0
    with pytest.raises(ValueError, match="lacks"):
        compare_to_baseline(pd.DataFrame({"target": ["a"], "mse": [0.1]}))
    with pytest.raises(ValueError, match="no rows"):
        compare_to_baseline(pd.DataFrame({"target": [], "mse": [], "mse_baseline": []}))


def test_area_under_error_curve_hand_cases() -> None:
    assert area_under_error_curve([1.0, 2.0], [0.2, 0.2]) == pytest.approx(0.2)
    assert area_under_error_curve([30.0, 10.0, 20.0], [0.0, 0.0, 1.0]) == pytest.approx(0.5)
    # uneven spacing: positions 0, 0.25, 1 -> 0.25*(0+1)/2 + 0.75*(1+1)/2 = 0.875
    assert area_under_error_curve([0.0, 1.0, 4.0], [0.0, 1.0, 1.0]) == pytest.approx(0.875)
    assert area_under_error_curve([22.5], [0.3]) == 0.3
    with pytest.raises(ValueError, match="distinct"):
        area_under_error_curve([1.0, 1.0], [0.1, 0.2])
    with pytest.raises(ValueError, match="equal length"):
        area_under_error_curve([1.0], [0.1, 0.2])


@settings(max_examples=50, deadline=None)
@given(
    errs=arrays(float, st.integers(2, 15), elements=st.floats(0, 5, allow_nan=False)),
)
def test_area_under_error_curve_lies_between_min_and_max(errs: np.ndarray) -> None:
    cutoffs = np.cumsum(np.arange(1, errs.size + 1, dtype=float))
    auc = area_under_error_curve(cutoffs, errs)
    assert errs.min() - 1e-12 <= auc <= errs.max() + 1e-12


# --------------------------------------------------------------- scoring rules of the suite
def _crps_brute(draws: np.ndarray, y: float) -> float:
    """E|X - y| - E|X - X'| / 2 over all pairs, the definition itself."""
    return float(np.abs(draws - y).mean() - 0.5 * np.abs(draws[:, None] - draws[None, :]).mean())


def test_crps_sample_pinned_values() -> None:
    # Two draws {0, 1} at y = 0: 1/2 - 1/4. Three draws {1, 2, 3} at y = 2: 2/3 - 4/9.
    assert crps_sample(np.array([[0.0], [1.0]]), np.array([0.0]))[0] == pytest.approx(0.25)
    assert crps_sample(np.array([[1.0], [2.0], [3.0]]), np.array([2.0]))[0] == pytest.approx(2 / 9)
    # A point forecast's CRPS is its absolute error.
    assert crps_sample(np.full((7, 1), 0.3), np.array([0.5]))[0] == pytest.approx(0.2)


def test_crps_sample_matches_the_definition_and_the_gaussian_closed_form() -> None:
    rng = np.random.default_rng(4)
    d = rng.gamma(2.0, size=(50, 3))
    y = np.array([0.5, 2.0, 7.0])
    got = crps_sample(d, y)
    np.testing.assert_allclose(got, [_crps_brute(d[:, i], y[i]) for i in range(3)], atol=1e-12)
    # Quantiles of N(1, 2) as draws: the empirical CRPS converges to the closed form.
    s = 20000
    draws = 1.0 + 2.0 * stats.norm.ppf((np.arange(s) + 0.5) / s)
    for yy in (1.0, 2.5, -4.0):
        sample = crps_sample(draws[:, None], np.array([yy]))[0]
        assert sample == pytest.approx(float(crps_gaussian(1.0, 2.0, yy)), abs=2e-4)


def test_crps_gaussian_pinned() -> None:
    # At the mean: sd * (2 phi(0) - 1 / sqrt(pi)) = sd * (sqrt(2) - 1) / sqrt(pi).
    assert float(crps_gaussian(0.0, 2.0, 0.0)) == pytest.approx(
        2 * (math.sqrt(2) - 1) / math.sqrt(math.pi)
    )
    # One sd off: (2 Phi(1) - 1) + 2 phi(1) - 1/sqrt(pi)
    # = 0.682689 + 0.483941 - 0.564190 (tables of the normal distribution).
    assert float(crps_gaussian(0.0, 1.0, 1.0)) == pytest.approx(0.602440, abs=2e-6)


def test_gaussian_log_score_and_interval_pinned() -> None:
    assert float(gaussian_log_score(0.0, 1.0, 0.0)) == pytest.approx(-0.5 * math.log(2 * math.pi))
    # z = 1 with sd 2: -log 2 - log(2 pi) / 2 - 1/2.
    assert float(gaussian_log_score(1.0, 2.0, 3.0)) == pytest.approx(
        -math.log(2) - 0.5 * math.log(2 * math.pi) - 0.5
    )
    lo, hi = gaussian_interval(np.array([0.0]), 1.0, 0.5)
    assert hi[0] == pytest.approx(0.6744897501960817) and lo[0] == pytest.approx(-hi[0])
    # Coverage of the Gaussian interval of N(0, 1) draws: near nominal, and exactly
    # computable on pinned values.
    y = np.array([-2.0, -1.0, 0.0, 0.5, 1.7])
    lo, hi = gaussian_interval(np.zeros(5), 1.0, 0.9)
    assert coverage(y, lo, hi) == pytest.approx(0.6)  # -2.0 and 1.7 outside +-1.645


def test_pit_and_its_histogram() -> None:
    rng = np.random.default_rng(0)
    draws = np.arange(10.0)[:, None]
    assert pit_sample(draws, np.array([-1.0]), rng)[0] == 0.0
    assert pit_sample(draws, np.array([20.0]), rng)[0] == 1.0
    # Ties are spread uniformly: all draws equal the observation.
    tied = pit_sample(np.zeros((5, 4000)), np.zeros(4000), rng)
    assert abs(tied.mean() - 0.5) < 0.02 and pit_counts(tied).min() > 300
    # Calibrated Gaussian: PIT counts are flat (chi-square does not reject).
    y = rng.normal(size=5000)
    counts = pit_counts(pit_gaussian(0.0, 1.0, y))
    assert counts.sum() == 5000 and stats.chisquare(counts).pvalue > 0.001
    # Too narrow a predictive: a U-shaped histogram.
    narrow = pit_counts(pit_gaussian(0.0, 0.5, y))
    assert narrow[0] > 2 * narrow[5] and narrow[-1] > 2 * narrow[5]
    assert pit_counts([0.0, 0.1, 0.999, 1.0, np.nan]).tolist() == [1, 1, 0, 0, 0, 0, 0, 0, 0, 2]


def test_residual_sd_degrees_of_freedom() -> None:
    assert residual_sd([0.3, -0.3, 0.3, -0.3, np.nan], n_params=2) == pytest.approx(
        math.sqrt(0.36 / 2)
    )
    assert residual_sd([0.5], n_params=4) == pytest.approx(0.5)  # at least one dof
