"""The matrix-completion baseline (bench/completion_baseline.py) on exact fixtures.

An exactly rank-2 logit matrix (benchmark offsets plus a rank-2 interaction) with cells
removed is recovered, in the table's raw units, whatever the floors and raw ranges.
"""

from __future__ import annotations

import doctest
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import completion_baseline as cb

M, J = 12, 8
FLOOR = np.array([0.25, 0.0, 0.5, 0.0, 0.25, 0.1, 0.0, 0.2])
LOWER = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1000.0, 0.0])
UPPER = np.array([1.0, 100.0, 1.0, 1.0, 100.0, 10.0, 1400.0, 1.0])


def _exact_logits() -> np.ndarray:
    """mu_j + u_m . v_j of rank 2, within the squeeze (|logit| < 4.59) so nothing clips."""
    rng = np.random.default_rng(7)
    u = rng.normal(size=(M, 2))
    v = rng.normal(0.0, 0.7, size=(J, 2))
    logits = rng.normal(0.0, 0.8, size=J) + u @ v.T
    assert np.abs(logits).max() < 4.0
    return logits


def _removed() -> np.ndarray:
    """22 of 96 cells removed, leaving >= 4 cells per model and >= 6 per benchmark."""
    mask = np.zeros((M, J), dtype=bool)
    for i in range(M):
        mask[i, (i + np.array([0, 3])) % J] = True
    mask[:2, :] = False
    mask[2, 0] = mask[3, 1] = True
    assert mask.sum() == 22
    assert ((~mask).sum(axis=1) >= 4).all() and ((~mask).sum(axis=0) >= 6).all()
    return mask


def _dataset(logits: np.ndarray, removed: np.ndarray) -> xr.Dataset:
    score = FLOOR + (1.0 - FLOOR) / (1.0 + np.exp(-logits))
    return xr.Dataset(
        {"score": (("model", "benchmark"), np.where(removed, np.nan, score))},
        coords={
            "model": [f"m{i:02d}" for i in range(M)],
            "benchmark": [f"B{j}" for j in range(J)],
            "floor": ("benchmark", FLOOR),
            "ceiling": ("benchmark", np.ones(J)),
            "lower": ("benchmark", LOWER),
            "upper": ("benchmark", UPPER),
        },
    )


def _raw(logits: np.ndarray) -> np.ndarray:
    score = FLOOR + (1.0 - FLOOR) / (1.0 + np.exp(-logits))
    return LOWER + score * (UPPER - LOWER)


def test_an_exact_rank_two_matrix_is_recovered_in_raw_units() -> None:
    logits, removed = _exact_logits(), _removed()
    frame = cb.complete_baseline(_dataset(logits, removed), ridge=1e-9)
    assert frame.columns.tolist() == list(cb.COLUMNS)
    assert len(frame) == M * J
    assert frame["model"].tolist()[:J] == ["m00"] * J  # model-major
    truth = _raw(logits).ravel()
    span = np.tile(UPPER - LOWER, M)
    # Relative to each column's raw range: 1e-6 of it.
    assert (np.abs(frame["mean"].to_numpy() - truth) / span).max() < 1e-6
    assert np.allclose(frame["median"], frame["mean"])
    missing = removed.ravel()
    assert frame["observed"].isna().to_numpy().tolist() == missing.tolist()
    assert np.allclose(frame["observed"].to_numpy()[~missing], truth[~missing])
    assert frame["lower"].isna().all() and frame["upper"].isna().all()
    assert frame.attrs["converged"]


def test_the_default_ridge_costs_under_a_thousandth_of_a_range() -> None:
    logits, removed = _exact_logits(), _removed()
    frame = cb.complete_baseline(_dataset(logits, removed))
    error = np.abs(frame["mean"].to_numpy() - _raw(logits).ravel()) / np.tile(UPPER - LOWER, M)
    assert error.max() < 1e-3
    # ... and the removed cells are really filled, not copied from somewhere.
    assert error[removed.ravel()].max() < 1e-3


def test_rank_one_cannot_fill_a_rank_two_matrix() -> None:
    # The test above can fail: a too-small rank leaves the removed cells visibly off.
    logits, removed = _exact_logits(), _removed()
    frame = cb.complete_baseline(_dataset(logits, removed), rank=1, ridge=1e-9)
    error = np.abs(frame["mean"].to_numpy() - _raw(logits).ravel()) / np.tile(UPPER - LOWER, M)
    assert error[removed.ravel()].max() > 0.01


def test_als_recovers_offsets_and_factors_product() -> None:
    logits, removed = _exact_logits(), _removed()
    fit = cb.als_complete(np.where(removed, np.nan, logits), rank=2, ridge=1e-9)
    u, v = fit.factors
    assert np.allclose(fit.values, fit.offset + u @ v.T)
    assert np.allclose(fit.values, logits, atol=1e-6)
    assert np.allclose(u.mean(axis=0), 0.0, atol=1e-12)  # the ridge's centred split
    assert np.allclose(u.T @ u, v.T @ v, atol=1e-8)  # ... and balanced


def test_cross_validation_keeps_a_small_ridge_on_exact_data() -> None:
    logits, removed = _exact_logits(), _removed()
    ridge, errors = cb.select_ridge(_dataset(logits, removed), (0.01, 3.0))
    assert ridge == 0.01 and errors.size == int((~removed).sum())
    frame = cb.complete_baseline(_dataset(logits, removed), ridge="cv", conformal=0.9)
    assert frame.attrs["ridge"] <= 0.1  # the grid's small end
    # The conformal errors are the chosen ridge's cross-validation errors.
    _, chosen = cb.select_ridge(_dataset(logits, removed))
    assert frame.attrs["halfwidth"] == cb.conformal_quantile(chosen, 0.9)


def test_cross_validation_shrinks_when_the_signal_is_noise() -> None:
    rng = np.random.default_rng(5)
    ds = _dataset(np.zeros((M, J)), _removed())
    ds["score"] = (ds["score"] + rng.normal(0.0, 0.1, (M, J))).clip(0.0, 1.0)
    assert cb.select_ridge(ds, (0.01, 3.0))[0] == 3.0


def test_a_linear_column_is_fitted_on_its_z_scores() -> None:
    # Column 6 becomes an Elo-like linear column: z = its logit, raw = 1200 + 50 z.
    logits, removed = _exact_logits(), _removed()
    ds = _dataset(logits, removed)
    z = np.where(removed[:, 6], np.nan, logits[:, 6])
    ds["score"][:, 6] = z
    linear = np.arange(J) == 6
    ds = ds.assign_coords(
        linear=("benchmark", linear),
        floor=("benchmark", np.where(linear, 0.0, FLOOR)),
        lower=("benchmark", np.where(linear, 1200.0, LOWER)),
        upper=("benchmark", np.where(linear, 1250.0, UPPER)),
    )
    assert np.array_equal(cb.logit_matrix(ds)[:, 6], z, equal_nan=True)
    frame = cb.complete_baseline(ds, ridge=1e-9, conformal=0.9)
    filled = frame["mean"].to_numpy().reshape(M, J)[:, 6]
    assert np.allclose(filled, 1200.0 + 50.0 * logits[:, 6], atol=1e-4)
    # Unclipped: a z-score's interval is the fill +- the half-width, in raw units.
    width = (frame["upper"] - frame["lower"]).to_numpy().reshape(M, J)[:, 6]
    assert np.allclose(width, 2 * 50.0 * frame.attrs["halfwidth"])


def test_a_benchmark_seen_once_is_filled_without_error() -> None:
    logits, removed = _exact_logits(), _removed()
    removed[1:, 0] = True
    frame = cb.complete_baseline(_dataset(logits, removed))
    assert np.isfinite(frame["mean"]).all()


def test_a_benchmark_never_seen_is_refused() -> None:
    y = np.ones((4, 3))
    y[:, 1] = np.nan
    with pytest.raises(ValueError, match="benchmark column 1"):
        cb.als_complete(y)


def test_squeezed_logits_clip_chance_and_perfect_scores() -> None:
    ds = _dataset(_exact_logits(), _removed())
    ds["score"][0, 0] = 0.1  # below its 0.25 floor
    ds["score"][0, 1] = 1.0
    y = cb.logit_matrix(ds)
    edge = np.log(cb.EPS / (1 - cb.EPS))
    assert y[0, 0] == pytest.approx(edge) and y[0, 1] == pytest.approx(-edge)


def test_conformal_interval_is_seeded_and_brackets_the_fill() -> None:
    rng = np.random.default_rng(2)
    logits, removed = _exact_logits(), _removed()
    ds = _dataset(logits, removed)
    ds["score"] = (ds["score"] + rng.normal(0.0, 0.02, (M, J))).clip(0.0, 1.0)
    a = cb.complete_baseline(ds, conformal=0.9, seed=3)
    b = cb.complete_baseline(ds, conformal=0.9, seed=3)
    pd.testing.assert_frame_equal(a, b)
    half = a.attrs["halfwidth"]
    assert 0.005 < half < 0.2  # score scale, a few times the noise
    assert (a["lower"] <= a["mean"]).all() and (a["mean"] <= a["upper"]).all()
    # Inside [0, 1] the interval is the fill +- half, in raw units.
    width = (a["upper"] - a["lower"]) / np.tile(UPPER - LOWER, M)
    assert width.max() == pytest.approx(2 * half)


def test_cli_writes_the_filled_table(write_table: Callable[..., Path], tmp_path: Path) -> None:
    table = write_table("Model,MMLU,GSM8K\na,40,10\nb,50,\nc,60,30\nd,70,40\n")
    out = tmp_path / "filled.csv"
    assert cb.main([str(table), "--percent", "--rank", "1", "--out", str(out)]) == 0
    frame = pd.read_csv(out)
    assert frame.columns.tolist() == list(cb.COLUMNS) and len(frame) == 8
    filled = frame.query("model == 'b' and benchmark == 'GSM8K'")
    assert filled["observed"].isna().all() and 10 < float(filled["mean"].iloc[0]) < 40


def test_cli_bad_input_is_one_line_and_no_file(
    write_table: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = write_table("Model,MMLU\na,40\nb,abc\nc,60\n")
    out = tmp_path / "filled.csv"
    assert cb.main([str(table), "--percent", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "row 2" in err
    assert not out.exists()


def test_docstring_examples() -> None:
    result = doctest.testmod(cb, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
