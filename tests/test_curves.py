"""Read-outs of a fit for the analyses (:mod:`bayes_scaling.curves`), their figures and the
notebook plumbing (:mod:`bayes_scaling.analysis`)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from matplotlib.figure import Figure

from bayes_scaling import analysis, curves, plots
from bayes_scaling.errors import BayesScalingError


# ------------------------------------------------------------------------- pure functions
def _grid(values: list[list[float]], xs: list[float]) -> xr.DataArray:
    return xr.DataArray(values, dims=("sample", "general"), coords={"general": xs})


def test_first_crossing_interpolates_and_marks_the_grid_edges() -> None:
    c = _grid([[0.0, 0.2, 0.6, 0.9], [0.6, 0.7, 0.8, 0.9], [0.0, 0.1, 0.2, 0.3]], [0, 1, 2, 3])
    out = curves.first_crossing(c, 0.5)
    assert out.dims == ("sample",)
    assert out.values.tolist() == [1.75, -np.inf, np.inf]


def test_first_crossing_takes_the_first_rise_of_a_non_monotone_curve() -> None:
    c = _grid([[-1.0, 1.0, -1.0, 1.0]], [0, 1, 2, 3])
    assert float(curves.first_crossing(c, 0.0)[0]) == pytest.approx(0.5)


def test_first_crossing_keeps_other_dims_and_refuses_bad_grids() -> None:
    c = xr.DataArray(
        np.zeros((2, 3, 4)),
        dims=("sample", "task", "general"),
        coords={"general": [0.0, 1.0, 2.0, 3.0], "task": ["a", "b", "c"]},
    )
    out = curves.first_crossing(c, 1.0)
    assert out.dims == ("sample", "task") and np.isposinf(out).all()
    assert list(out["task"].values) == ["a", "b", "c"]
    with pytest.raises(BayesScalingError, match="increasing"):
        curves.first_crossing(_grid([[0.0, 1.0]], [1.0, 0.0]), 0.5)


def test_credibly_above_from_needs_the_whole_rest_of_the_grid() -> None:
    # P(> 0) along the grid: 0, 1, 0.5, 1, 1.
    c = _grid([[-1, 1, 1, 1, 1], [-1, 1, -1, 1, 1]], [0, 1, 2, 3, 4])
    assert curves.credibly_above_from(c, 0.0, prob=0.95) == 3.0
    assert curves.credibly_above_from(c, 0.0, prob=0.5) == 1.0
    assert curves.credibly_above_from(c, 2.0) == np.inf
    assert curves.credibly_above_from(c + 5, 0.0) == 0.0


def test_summarise_samples_uses_actual_draws_so_infinities_survive() -> None:
    da = xr.DataArray(
        np.r_[np.full(10, -np.inf), np.arange(80.0), np.full(11, np.inf)], dims="sample"
    )
    s = curves.summarise_samples(da, level=0.9)
    assert float(s["lower"]) == -np.inf and float(s["upper"]) == np.inf
    assert np.isfinite(float(s["median"]))
    assert s.attrs["level"] == 0.9


# ------------------------------------------------------------------------- on a real fit
@pytest.mark.sampling
def test_expected_curve_is_the_fitted_sigmoid_in_raw_units(tiny_fit) -> None:
    fit = tiny_fit  # k1: the curve has no specialisation to hold at its mean
    xs = np.linspace(20.0, 26.0, 7)
    c = curves.expected_curve(fit, "MMLU", xs)
    assert c.dims == ("sample", "general") and c.sizes["general"] == 7
    b = fit.draws("b").sel(benchmark="MMLU").to_numpy()
    lam = fit.draws("loadings").sel(benchmark="MMLU", capability="general").to_numpy()
    centre = fit.draws("S").sel(capability="general").mean("model").to_numpy()
    row = fit.data.sel(benchmark="MMLU")
    floor, ceiling = float(row["floor"]), float(row["ceiling"])
    lower, upper = curves.column_range(fit, "MMLU")
    eta = b[:, None] + lam[:, None] * (xs[None, :] - fit.x_mean - centre[:, None])
    want = lower + (floor + (ceiling - floor) / (1 + np.exp(-eta))) * (upper - lower)
    np.testing.assert_allclose(c.to_numpy(), want, rtol=1e-9)
    assert (np.diff(c.to_numpy(), axis=1) > 0).all()  # positive general loading


@pytest.mark.sampling
def test_column_range_and_unknown_columns(tiny_fit) -> None:
    assert curves.column_range(tiny_fit, "MMLU") == (0.0, 1.0)
    with pytest.raises(BayesScalingError, match="neither a benchmark nor a target"):
        curves.column_range(tiny_fit, "nope")
    with pytest.raises(BayesScalingError, match="neither a benchmark nor a target"):
        curves.benchmark_alignment(tiny_fit, "nope")


@pytest.mark.sampling
def test_benchmark_alignment_with_one_capability_is_perfect(tiny_fit) -> None:
    table = curves.benchmark_alignment(tiny_fit, "MMLU")
    assert list(table.columns) == ["mean", "lower", "upper", "general_loading"]
    assert set(table.index) == {"MMLU", "ARC-C", "HellaSwag", "GSM8K"}
    # With K = 1 every positive loading orders the models as MMLU does.
    np.testing.assert_allclose(table[["mean", "lower", "upper"]].to_numpy(), 1.0, atol=1e-9)
    assert (table["general_loading"] > 0).all()


@pytest.mark.sampling
def test_predict_scores_of_planned_models(tiny_fit) -> None:
    rng = np.random.default_rng(0)
    cap = tiny_fit.capability_from_compute(
        ["Llama-2", "never seen"], [24.0, 24.0], rng, names=["a", "b"]
    )
    table = curves.predict_scores(tiny_fit, cap, level=0.9, seed=3)
    assert list(table.columns) == ["model", "column", "mean", "median", "lower", "upper"]
    assert len(table) == 2 * 4 and set(table["model"]) == {"a", "b"}
    assert ((table["lower"] <= table["median"]) & (table["median"] <= table["upper"])).all()
    assert table[["lower", "upper"]].stack().between(0, 1).all()
    pd.testing.assert_frame_equal(table, curves.predict_scores(tiny_fit, cap, level=0.9, seed=3))
    expected = curves.predict_scores(tiny_fit, cap, ["MMLU"], noise=False)
    assert list(expected["column"]) == ["MMLU", "MMLU"]


# ------------------------------------------------------------------------- figures
def _outside(fig: Figure) -> bool:
    legend = fig.axes[0].get_legend()
    fig.canvas.draw()
    box = legend.get_window_extent().transformed(fig.axes[0].transAxes.inverted())
    return box.x0 >= 1.0


def test_curve_bands_plot_labels_and_keeps_its_legend_off_the_data() -> None:
    rng = np.random.default_rng(0)
    xs = np.linspace(20, 25, 30)
    c = xr.DataArray(
        rng.normal(size=(50, 30)).cumsum(1), dims=("sample", "general"), coords={"general": xs}
    )
    fig = plots.curve_bands_plot(
        {"a": c, "b": c + 1},
        observed={"a": (xs[:5], np.zeros(5))},
        ylabel="gain (points)",
        title="t",
        hline=0.0,
        marks={"a": 22.0, "b": float("inf")},
    )
    ax = fig.axes[0]
    assert ax.get_title() == "t" and ax.get_ylabel() == "gain (points)" and ax.get_xlabel()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:2] == ["a", "b"] and "observed models" in labels
    assert _outside(fig)


def test_predicted_scores_plot_has_one_row_per_benchmark() -> None:
    table = pd.DataFrame(
        {
            "model": ["m1", "m1", "m2", "m2"],
            "column": ["A", "B", "A", "B"],
            "median": [0.5, 0.6, 0.4, 0.5],
            "lower": [0.4, 0.5, 0.2, 0.3],
            "upper": [0.6, 0.7, 0.6, 0.7],
        }
    )
    fig = plots.predicted_scores_plot(table, observed={"seen": pd.Series({"A": 0.5})})
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["A", "B"]
    assert ax.get_xlabel() and ax.get_ylabel() == "benchmark" and ax.get_title()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["m1", "m2", "seen"]
    assert _outside(fig)


def test_legend_outside_moves_an_existing_legend() -> None:
    fig = Figure()
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], label="line")
    ax.legend(loc="upper left")
    assert analysis.legend_outside(fig) is fig
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["line"]
    assert _outside(fig)


# ------------------------------------------------------------------------- settings
def test_settings_precedence_flags_then_environment_then_defaults() -> None:
    env = {"BAYES_SCALING_DRAWS": "70", "BAYES_SCALING_TUNE": "", "BAYES_SCALING_SPECS": "k2"}
    s = analysis.settings(
        "x",
        draws=10,
        tune=20,
        chains=3,
        options={"specs": "k1"},
        argv=["--chains", "4"],
        environ=env,
    )
    assert (s.draws, s.tune, s.chains, s.seed, s.specs) == (70, 20, 4, 0, "k2")
    assert s.out == Path("runs/analyses/x")
    assert s.fit_kwargs == {"draws": 70, "tune": 20, "chains": 4, "seed": 0}
    s = analysis.settings(
        "x",
        argv=["--draws", "5", "--specs", "k3", "--out", "o"],
        environ=env,
        options={"specs": "k1"},
    )
    assert (s.draws, s.specs, s.out) == (5, "k3", Path("o"))
    with pytest.raises(SystemExit):
        analysis.settings("x", argv=["--draws", "many"], environ={})


def test_settings_pass_a_target_acceptance_only_when_set() -> None:
    s = analysis.settings("x", target_accept=0.95, argv=[], environ={})
    assert s.fit_kwargs["target_accept"] == 0.95
    s = analysis.settings("x", argv=[], environ={"BAYES_SCALING_TARGET_ACCEPT": "0.99"})
    assert s.fit_kwargs["target_accept"] == 0.99
    s = analysis.settings("x", argv=["--target-accept", "0.9"], environ={})
    assert s.fit_kwargs["target_accept"] == 0.9
    assert "target_accept" not in analysis.settings("x", argv=[], environ={}).fit_kwargs


def test_settings_ignore_the_kernels_argv_in_a_notebook(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ipykernel", object())
    monkeypatch.setattr(sys, "argv", ["ipykernel_launcher", "-f", "kernel.json"])
    assert analysis.in_notebook()
    assert analysis.settings("x", draws=9, environ={}).draws == 9


def test_show_and_answer_write_their_files(tmp_path: Path, capsys) -> None:
    fig = Figure()
    fig.add_subplot().plot([0, 1])
    analysis.show(fig, tmp_path / "sub" / "f.png")
    assert (tmp_path / "sub" / "f.png").read_bytes()[:4] == b"\x89PNG"
    analysis.answer("**42**\n", tmp_path)
    assert (tmp_path / "answer.md").read_text() == "**42**\n"
    assert "**42**" in capsys.readouterr().out
