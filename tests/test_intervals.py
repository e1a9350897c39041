"""Tests of the one equal-tailed interval (bayes_scaling.intervals)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from bayes_scaling.errors import BayesScalingError, LevelError
from bayes_scaling.intervals import check_level, equal_tailed, summarise, tail_probabilities


def test_exact_small_fixtures() -> None:
    assert tail_probabilities(0.9) == (0.05, 0.95)
    assert tail_probabilities(0.5) == (0.25, 0.75)
    lower, upper = equal_tailed(np.arange(101.0), 0.9)
    assert (float(lower), float(upper)) == (5.0, 95.0)
    lower, upper = equal_tailed(np.arange(1001.0), 0.9)
    assert (float(lower), float(upper)) == (50.0, 950.0)
    lower, upper = equal_tailed(np.arange(21.0), 0.9)
    assert (float(lower), float(upper)) == (1.0, 19.0)
    # Linear interpolation between draws (numpy's default quantile).
    lower, upper = equal_tailed(np.arange(100.0), 0.9)
    assert (float(lower), float(upper)) == (4.95, 94.05)
    lower, upper = equal_tailed(np.arange(11.0), 0.5)
    assert (float(lower), float(upper)) == (2.5, 7.5)


def test_matches_numpy_quantile_at_the_rounded_tails() -> None:
    draws = np.random.default_rng(0).normal(size=(4000, 3))
    for level in (0.5, 0.8, 0.9, 0.95, 0.99):
        lower, upper = equal_tailed(draws, level)
        q = np.quantile(draws, [round((1 - level) / 2, 12), round((1 + level) / 2, 12)], axis=0)
        np.testing.assert_array_equal(lower, q[0])
        np.testing.assert_array_equal(upper, q[1])
    lower, upper = equal_tailed(draws.T, 0.9, axis=1)
    np.testing.assert_array_equal(lower, equal_tailed(draws, 0.9)[0])
    np.testing.assert_array_equal(upper, equal_tailed(draws, 0.9)[1])


def test_xarray_and_numpy_forms_agree() -> None:
    values = np.random.default_rng(1).normal(size=(2, 50, 3))
    da = xr.DataArray(
        values, dims=("chain", "draw", "model"), coords={"model": ["a", "b", "c"]}, name="S"
    )
    flat = values.reshape(100, 3)
    s = summarise(da, 0.9)
    assert list(s.data_vars) == ["mean", "lower", "upper"]
    assert s.attrs["level"] == 0.9
    assert s["lower"].dims == ("model",) and "quantile" not in s.coords
    lower, upper = equal_tailed(flat, 0.9)
    np.testing.assert_array_equal(s["lower"].to_numpy(), lower)
    np.testing.assert_array_equal(s["upper"].to_numpy(), upper)
    np.testing.assert_array_equal(s["mean"].to_numpy(), flat.mean(axis=0))
    da_lower, da_upper = equal_tailed(da, 0.9, ("chain", "draw"))
    xr.testing.assert_identical(da_lower, s["lower"].rename("S"))
    xr.testing.assert_identical(da_upper, s["upper"].rename("S"))

    stacked = da.stack(sample=("chain", "draw"))
    m = summarise(stacked, 0.5, "sample", median=True, method="nearest")
    assert list(m.data_vars) == ["mean", "median", "lower", "upper"]
    near = equal_tailed(stacked.transpose("sample", "model").to_numpy(), 0.5, method="nearest")
    np.testing.assert_array_equal(m["lower"].to_numpy(), near[0])
    np.testing.assert_array_equal(m["upper"].to_numpy(), near[1])


def test_nearest_keeps_infinite_draws_and_skipna_drops_nan() -> None:
    draws = np.concatenate([np.full(10, -np.inf), np.arange(81.0), np.full(10, np.inf)])
    s = summarise(xr.DataArray(draws, dims="sample"), 0.9, "sample", median=True, method="nearest")
    assert (float(s["lower"]), float(s["median"]), float(s["upper"])) == (-np.inf, 40.0, np.inf)
    assert np.isnan(float(s["mean"]))
    with_nan = np.append(np.arange(101.0), np.nan)
    assert np.isnan(equal_tailed(with_nan, 0.9)[0])
    assert [float(b) for b in equal_tailed(with_nan, 0.9, skipna=True)] == [5.0, 95.0]
    # A DataArray skips NaN by default, as DataArray.quantile does.
    da = xr.DataArray(with_nan, dims="sample")
    assert [float(b) for b in equal_tailed(da, 0.9, "sample")] == [5.0, 95.0]


@pytest.mark.parametrize("level", [0.0, 1.0, -0.1, 1.5, float("nan"), "wide"])
def test_level_outside_zero_one_is_a_one_line_error(level: object) -> None:
    with pytest.raises(BayesScalingError, match="level must be") as info:
        equal_tailed(np.arange(10.0), level)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)
    assert isinstance(info.value, LevelError) and isinstance(info.value, ValueError)
    with pytest.raises(LevelError):
        summarise(xr.DataArray(np.arange(10.0), dims="sample"), level, "sample")  # type: ignore[arg-type]
    with pytest.raises(LevelError):
        check_level(level)  # type: ignore[arg-type]


def test_estimator_reexports_summarise() -> None:
    from bayes_scaling import estimator, intervals

    assert estimator.summarise is intervals.summarise
