"""Tests of the least-squares observational-scaling baseline (bayes_scaling.baseline)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.special import expit

from bayes_scaling.baseline import (
    SigmoidFit,
    baseline_compute_forecast,
    baseline_forecast,
    fit_sigmoid,
    impute_low_rank,
    principal_components,
)
from bayes_scaling.errors import DataError


def tidy(
    score: np.ndarray,
    models: list[str] | None = None,
    benchmarks: list[str] | None = None,
    flops: np.ndarray | None = None,
) -> xr.Dataset:
    """A tidy dataset as in docs/architecture.md (local stand-in for bayes_scaling.data)."""
    m, j = score.shape
    models = models or [f"m{i:02d}" for i in range(m)]
    benchmarks = benchmarks or [f"b{k}" for k in range(j)]
    return xr.Dataset(
        {"score": (("model", "benchmark"), score)},
        coords={
            "model": models,
            "benchmark": benchmarks,
            "family": ("model", models),
            "params": ("model", np.full(m, np.nan)),
            "tokens": ("model", np.full(m, np.nan)),
            "flops": ("model", np.full(m, np.nan) if flops is None else flops),
            "floor": ("benchmark", np.zeros(j)),
            "ceiling": ("benchmark", np.ones(j)),
            "n_items": ("benchmark", np.full(j, np.nan)),
            "lower": ("benchmark", np.zeros(j)),
            "upper": ("benchmark", np.ones(j)),
        },
        attrs={"source": "<test>"},
    )


def one_factor_world(
    m: int = 30, j: int = 6, seed: int = 0
) -> tuple[xr.Dataset, np.ndarray, list[str]]:
    """Benchmarks driven by one latent ability g (plus small noise); returns (bench, g, names)."""
    rng = np.random.default_rng(seed)
    g = np.sort(rng.normal(size=m))
    loadings = rng.uniform(0.8, 1.6, size=j)
    score = expit(g[:, None] * loadings + rng.normal(0, 0.05, (m, j)))
    names = [f"m{i:02d}" for i in range(m)]
    return tidy(score, names), g, names


# ----------------------------------------------------------------------------- imputation


def test_imputation_recovers_rank_two_matrix_with_20pct_missing() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(40, 2)), rng.normal(size=(8, 2))
    full = a @ b.T
    x = full.copy()
    mask = rng.random(x.shape) < 0.2
    mask[0] = False  # keep every column observed somewhere
    x[mask] = np.nan
    filled = impute_low_rank(x, rank=2, iters=5000, tol=1e-12)
    rel = np.linalg.norm(filled[mask] - full[mask]) / np.linalg.norm(full[mask])
    assert rel < 1e-3


def test_imputation_is_deterministic_and_complete() -> None:
    bench, _, _ = one_factor_world()
    x = bench["score"].values.copy()
    x[::3, 1] = np.nan
    x[1::4, 4] = np.nan
    one, two = impute_low_rank(x), impute_low_rank(x)
    assert np.isfinite(one).all()
    np.testing.assert_array_equal(one, two)


def test_imputation_without_missing_cells_is_identity() -> None:
    x = np.arange(12.0).reshape(4, 3)
    np.testing.assert_array_equal(impute_low_rank(x), x)


@pytest.mark.parametrize(
    ("x", "match"),
    [
        (np.ones(3), "2-D"),
        (np.array([[1.0, np.nan], [2.0, np.nan]]), "no observed value"),
    ],
)
def test_imputation_rejects_bad_input(x: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        impute_low_rank(x)


def test_imputation_rejects_rank_zero() -> None:
    with pytest.raises(ValueError, match="rank"):
        impute_low_rank(np.ones((3, 3)), rank=0)


@settings(max_examples=40, deadline=None)
@given(
    x=arrays(
        float,
        st.tuples(st.integers(3, 12), st.integers(2, 6)),
        elements=st.floats(0, 1, allow_nan=False),
    ),
    data=st.data(),
)
def test_imputation_keeps_observed_cells(x: np.ndarray, data: st.DataObject) -> None:
    mask = data.draw(arrays(bool, x.shape))
    mask[0] = False  # every column keeps an observed value
    x = x.copy()
    x[mask] = np.nan
    filled = impute_low_rank(x, rank=data.draw(st.integers(1, 3)), iters=50)
    assert np.isfinite(filled).all()
    np.testing.assert_array_equal(filled[~mask], x[~mask])


# ----------------------------------------------------------------------------------- PCA


def test_pca_first_component_tracks_mean_score_and_is_sign_stable() -> None:
    bench, g, _ = one_factor_world()
    x = bench["score"].values
    pca = principal_components(x, 3)
    assert np.corrcoef(pca.scores[:, 0], x.mean(axis=1))[0, 1] > 0.99
    assert np.corrcoef(pca.scores[:, 0], g)[0, 1] > 0.98
    # Negating every column flips the data, not the convention: PC1 still rises with the
    # (now negated) mean; and repeated calls agree exactly.
    flipped = principal_components(-x, 3)
    assert np.corrcoef(flipped.scores[:, 0], (-x).mean(axis=1))[0, 1] > 0.99
    np.testing.assert_array_equal(principal_components(x, 3).components, pca.components)
    for k in range(1, 3):
        assert pca.components[k, np.argmax(np.abs(pca.components[k]))] > 0


def test_pca_scores_are_orthogonal_and_variance_ordered() -> None:
    bench, _, _ = one_factor_world()
    pca = principal_components(bench["score"].values, 3)
    gram = pca.scores.T @ pca.scores
    np.testing.assert_allclose(gram - np.diag(np.diag(gram)), 0, atol=1e-8)
    assert np.all(np.diff(pca.explained_variance_ratio) <= 0)
    np.testing.assert_allclose(pca.transform(bench["score"].values), pca.scores, atol=1e-12)


def test_pca_rejects_missing_cells_and_too_many_components() -> None:
    with pytest.raises(ValueError, match="impute"):
        principal_components(np.array([[1.0, np.nan], [2.0, 3.0]]), 1)
    with pytest.raises(ValueError, match="n_components"):
        principal_components(np.ones((5, 2)), 3)


# ------------------------------------------------------------------------------- sigmoid


def test_noiseless_sigmoid_in_one_pc_is_recovered() -> None:
    rng = np.random.default_rng(3)
    pcs = rng.normal(size=(25, 3))
    a, w = -0.4, np.array([1.7, 0.0, 0.0])
    y = 0.25 + 0.75 * expit(a + pcs @ w)
    fit = fit_sigmoid(pcs, y, floor=0.25, ceiling=1.0)
    assert abs(fit.intercept - a) < 1e-3
    np.testing.assert_allclose(fit.weights, w, atol=1e-3)
    np.testing.assert_allclose(fit.predict(pcs), y, atol=1e-4)
    assert fit.success


def test_sigmoid_respects_floor_and_ceiling_units() -> None:
    x = np.linspace(-3, 3, 20)
    y = 2.0 + 8.0 * expit(0.3 + 1.2 * x)  # target on a 2..10 scale
    fit = fit_sigmoid(x, y, floor=2.0, ceiling=10.0)
    assert abs(fit.intercept - 0.3) < 1e-3 and abs(fit.weights[0] - 1.2) < 1e-3
    far = fit.predict(np.array([-50.0, 50.0]))
    np.testing.assert_allclose(far, [2.0, 10.0], atol=1e-6)


def test_sigmoid_is_finite_on_separable_data() -> None:
    # A step at 0: the unpenalised least-squares slope runs off to infinity.
    x = np.linspace(-1, 1, 20)
    y = (x > 0).astype(float)
    fit = fit_sigmoid(x, y, floor=0.0)
    assert np.isfinite(fit.weights).all() and abs(fit.weights[0]) <= 100
    assert np.all(np.diff(fit.predict(x)) >= 0)


def test_sigmoid_is_deterministic() -> None:
    rng = np.random.default_rng(4)
    pcs = rng.normal(size=(22, 3))
    y = np.clip(expit(pcs[:, 0] + rng.normal(0, 0.3, 22)), 0, 1)
    one, two = fit_sigmoid(pcs, y, 0.0), fit_sigmoid(pcs, y, 0.0)
    assert one.intercept == two.intercept
    np.testing.assert_array_equal(one.weights, two.weights)


@pytest.mark.parametrize(
    ("x", "y", "floor", "ceiling", "match"),
    [
        (np.zeros((3, 1)), np.zeros(4), 0.0, 1.0, "predictor rows"),
        (np.zeros((2, 1)), np.array([0.1, np.nan]), 0.0, 1.0, "finite"),
        (np.zeros((2, 1)), np.zeros(2), 1.0, 1.0, "ceiling"),
        (np.zeros((0, 1)), np.zeros(0), 0.0, 1.0, "no training"),
    ],
)
def test_sigmoid_rejects_bad_input(
    x: np.ndarray, y: np.ndarray, floor: float, ceiling: float, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        fit_sigmoid(x, y, floor, ceiling)


def test_sigmoid_fit_predict_one_dimensional_input() -> None:
    fit = SigmoidFit(0.0, np.array([2.0]), floor=0.0, ceiling=1.0, loss=0.0)
    np.testing.assert_allclose(fit.predict(np.array([0.0, 1.0])), [0.5, expit(2.0)])


# ------------------------------------------------------------------------------ forecast


def target_of(g: np.ndarray, names: list[str], floor: float = 0.0) -> xr.DataArray:
    return xr.DataArray(
        floor + (1 - floor) * expit(-1.0 + 2.0 * g), dims="model", coords={"model": names}
    )


def test_baseline_forecast_layout_and_accuracy() -> None:
    bench, g, names = one_factor_world(m=40)
    target = target_of(g, names, floor=0.25)
    test = names[-6:]  # the best models (g is sorted): an extrapolation split
    out = baseline_forecast(bench, target, test, floor=0.25)
    assert out.sizes["model"] == 40
    assert out["model"].values.tolist() == names[:-6] + test
    assert out["split"].values.tolist() == ["train"] * 34 + ["test"] * 6
    np.testing.assert_array_equal(out["observed"].values, target.sel(model=out["model"]).values)
    err = out["mean"].sel(model=test) - target.sel(model=test)
    assert float(np.sqrt((err**2).mean())) < 0.05
    assert out.attrs["pca_on"] == "all" and len(out.attrs["weights"]) == 3
    assert out.attrs["dropped"] == []


@pytest.mark.parametrize("pca_on", ["all", "train"])
def test_baseline_forecast_never_uses_test_targets(pca_on: str) -> None:
    bench, g, names = one_factor_world(m=30)
    target = target_of(g, names)
    test = names[-5:]
    before = baseline_forecast(bench, target, test, pca_on=pca_on)  # type: ignore[arg-type]
    perturbed = target.copy()
    perturbed.loc[{"model": test}] = [0.0, 1.0, np.nan, 0.3, 0.99]
    after = baseline_forecast(bench, perturbed, test, pca_on=pca_on)  # type: ignore[arg-type]
    np.testing.assert_array_equal(before["mean"].values, after["mean"].values)
    assert before.attrs["weights"] == after.attrs["weights"]


def test_pca_on_train_ignores_test_benchmarks_but_all_does_not() -> None:
    bench, g, names = one_factor_world(m=30)
    target = target_of(g, names)
    test = names[-5:]
    shifted = bench.copy(deep=True)
    shifted["score"].loc[{"model": test}] = shifted["score"].sel(model=test).values ** 3
    train_a = baseline_forecast(bench, target, test, pca_on="train")
    train_b = baseline_forecast(shifted, target, test, pca_on="train")
    np.testing.assert_allclose(
        train_a["mean"].sel(model=names[:-5]), train_b["mean"].sel(model=names[:-5]), atol=1e-9
    )
    all_a = baseline_forecast(bench, target, test, pca_on="all")
    all_b = baseline_forecast(shifted, target, test, pca_on="all")
    assert not np.allclose(all_a["mean"].values, all_b["mean"].values)


def test_baseline_forecast_handles_missing_cells_and_extra_models() -> None:
    bench, g, names = one_factor_world(m=30)
    bench["score"].values[::4, 2] = np.nan
    bench["score"].values[-1, :3] = np.nan
    target = target_of(g, names).isel(model=slice(5, None))  # target on a subset
    # a target model without benchmark rows is dropped and reported
    extra = xr.DataArray([0.5], dims="model", coords={"model": ["ghost"]})
    target = xr.concat([target, extra], dim="model")
    out = baseline_forecast(bench, target, names[-3:], benchmark_cols=["b0", "b2", "b3", "b5"])
    assert out.attrs["dropped"] == ["ghost"]
    assert out.attrs["benchmarks"] == ["b0", "b2", "b3", "b5"]
    assert np.isfinite(out["mean"].values).all()
    assert out.sizes["model"] == 25


def test_baseline_forecast_test_model_may_lack_a_target() -> None:
    bench, g, names = one_factor_world()
    target = target_of(g[:-1], names[:-1])  # the last model has no target at all
    out = baseline_forecast(bench, target, [names[-1]])
    assert np.isnan(out["observed"].sel(model=names[-1]))
    assert np.isfinite(out["mean"].sel(model=names[-1]))


def test_baseline_forecast_errors() -> None:
    bench, g, names = one_factor_world(m=10)
    target = target_of(g, names)
    with pytest.raises(DataError, match="unknown benchmark"):
        baseline_forecast(bench, target, [names[-1]], benchmark_cols=["nope"])
    with pytest.raises(DataError, match="test model"):
        baseline_forecast(bench, target, ["ghost"])
    with pytest.raises(DataError, match="at least 4"):
        baseline_forecast(bench, target.isel(model=slice(0, 3)), [names[-1]])
    with pytest.raises(ValueError, match="pca_on"):
        baseline_forecast(bench, target, [names[-1]], pca_on="test")  # type: ignore[arg-type]
    empty = bench.copy(deep=True)
    empty["score"].values[:, 0] = np.nan
    with pytest.raises(DataError, match="no scores"):
        baseline_forecast(empty, target, [names[-1]])


def test_compute_forecast_recovers_law_and_hides_test_targets() -> None:
    names = [f"m{i}" for i in range(12)]
    log_f = np.linspace(21, 25, 12)
    flops = 10.0**log_f
    truth = 0.1 + 0.9 * expit(-45.0 + 2.0 * log_f)
    bench = tidy(np.full((12, 2), 0.5), names, flops=flops)
    target = xr.DataArray(truth, dims="model", coords={"model": names})
    out = baseline_compute_forecast(bench, target, names[-3:], floor=0.1)
    np.testing.assert_allclose(out["mean"].values, truth, atol=1e-4)
    assert abs(out.attrs["slope"] - 2.0) < 1e-3 and abs(out.attrs["intercept"] + 45.0) < 0.05
    perturbed = target.copy()
    perturbed.loc[{"model": names[-3:]}] = 0.0
    again = baseline_compute_forecast(bench["flops"], perturbed, names[-3:], floor=0.1)
    np.testing.assert_array_equal(again["mean"].values, out["mean"].values)


def test_compute_forecast_needs_flops_for_test_models() -> None:
    names = ["a", "b", "c", "d"]
    flops = xr.DataArray([1e21, 1e22, 1e23, np.nan], dims="model", coords={"model": names})
    target = xr.DataArray([0.1, 0.2, 0.4, 0.8], dims="model", coords={"model": names})
    with pytest.raises(DataError, match="test model"):
        baseline_compute_forecast(flops, target, ["d"])
    out = baseline_compute_forecast(flops, target.where(target < 0.8), ["c"])
    assert out["split"].values.tolist() == ["train", "train", "test"]
