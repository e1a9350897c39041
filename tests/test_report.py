"""Figures (:mod:`bayes_scaling.plots`) and the HTML report (:mod:`bayes_scaling.report`)."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import TINY_BENCHMARKS
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure

from bayes_scaling import curves, datasets, plots, report
from bayes_scaling.cli import run
from bayes_scaling.errors import BayesScalingError
from bayes_scaling.estimator import FitResults
from bayes_scaling.forecast import Forecast, Target
from bayes_scaling.intervals import equal_tailed

PNGS = {
    "family_efficiency.png",
    "loadings.png",
    "capability_vs_compute.png",
    "predictive_check.png",
    "loo_pit.png",
}


@pytest.fixture(scope="module")
def written(tiny_fit: FitResults, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One report of the tiny fit, shared by the content tests."""
    return report.write_report(tiny_fit, tmp_path_factory.mktemp("report") / "out").parent


def tick_labels(axis_labels: list) -> list[str]:
    return [t.get_text() for t in axis_labels]


# ------------------------------------------------------------------------------ plots
def test_family_efficiency_plot(tiny_fit: FitResults) -> None:
    fig = plots.family_efficiency_plot(tiny_fit)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    labels = tick_labels(ax.get_yticklabels())
    assert sorted(labels) == sorted(
        ["Falcon (4)", "Llama-2 (3)", "OPT (8)", "Pythia (8)", "Qwen1.5 (7)"]
    )
    # Sorted by median multiplier, the most efficient family on top (largest y).
    medians = tiny_fit.family_efficiency()["median"].to_series()
    assert [label.split(" (")[0] for label in labels] == list(medians.sort_values().index)
    assert "vs Llama-2" in ax.get_xlabel() and "90% interval" in ax.get_xlabel()


def test_loadings_heatmap(tiny_fit: FitResults) -> None:
    fig = plots.loadings_heatmap(tiny_fit)
    assert len(fig.axes) == 2  # heatmap and colour bar
    ax = fig.axes[0]
    assert tick_labels(ax.get_xticklabels()) == ["general"]
    anchor = tiny_fit.anchors[0]
    assert tick_labels(ax.get_yticklabels()) == [
        f"{b} *" if b == anchor else b for b in TINY_BENCHMARKS
    ]
    assert len(ax.texts) == len(TINY_BENCHMARKS)  # one annotation per cell


def test_family_styles_are_distinct_and_never_grey() -> None:
    # The base table's 40 families, largest first: Falcon and XGLM are 9th and 10th,
    # which the old top-8 colouring drew in the grey of "other".
    base = datasets.load("base-llm")
    families = [str(f) for f in base["family"].to_numpy()]
    ordered = plots._by_size(families)
    assert len(ordered) == 40
    styles = plots.family_styles(ordered)
    assert list(styles) == ordered
    assert len(set(styles.values())) == 40  # colour and marker: every family its own
    first = [styles[f].colour for f in ordered[:20]]
    assert len(set(first)) == 20  # the twenty largest: twenty colours
    for f in ("Falcon", "XGLM", "OPT"):
        r, g, b = to_rgb(styles[f].colour)
        assert not (r == g == b), f  # no grey (nor black, nor white)
    many = plots.family_styles([f"F{i}" for i in range(100)])
    assert len(set(many.values())) == 100
    # Same input, same styles; repeats ignored.
    assert plots.family_styles(["Claude-2", "GPT-4", "Claude-2"]) == plots.family_styles(
        ["Claude-2", "GPT-4"]
    )


def test_capability_vs_compute_plot_styles_every_family(tiny_fit: FitResults) -> None:
    fig = plots.capability_vs_compute_plot(tiny_fit)
    ax = fig.axes[0]
    legend = tick_labels(ax.get_legend().get_texts())
    assert sorted(legend) == sorted(
        ["Falcon (4)", "Llama-2 (3)", "OPT (8)", "Pythia (8)", "Qwen1.5 (7)", "1:1 through Llama-2"]
    )
    assert not any("other" in t for t in legend)
    colours = {
        text.split(" (")[0]: to_rgb(line.get_color())
        for text, line in zip(legend, ax.get_legend().legend_handles, strict=True)
        if "1:1" not in text
    }
    assert len(set(colours.values())) == 5
    assert all(not (r == g == b) for r, g, b in colours.values())


def test_capability_labels_name_the_anchors() -> None:
    stub = SimpleNamespace(
        posterior=xr.Dataset(coords={"capability": ["general", "spec1", "spec2"]}),
        anchors=("MMLU", "GSM8K", "HumanEval"),
    )
    assert plots.capability_labels(stub) == {  # type: ignore[arg-type]
        "general": "general",
        "spec1": "spec1 (GSM8K)",
        "spec2": "spec2 (HumanEval)",
    }
    note = plots.specialisation_note(stub)  # type: ignore[arg-type]
    assert note.startswith("spec1 (GSM8K), spec2 (HumanEval): specialisation axes")
    assert "anchor benchmark" in note and "beyond general capability" in note
    two = SimpleNamespace(
        posterior=xr.Dataset(coords={"capability": ["general", "spec1"]}),
        anchors=("ARC-C", "HellaSwag"),
    )
    note = plots.specialisation_note(two)  # type: ignore[arg-type]
    assert note.startswith("spec1 (HellaSwag): a specialisation axis: what its anchor")
    one = SimpleNamespace(
        posterior=xr.Dataset(coords={"capability": ["general"]}), anchors=("MMLU",)
    )
    assert plots.specialisation_note(one) == ""  # type: ignore[arg-type]


def _mmlu_forecast(fit: FitResults) -> Forecast:
    """A Forecast of the tiny fit's MMLU column (a benchmark stands in for a target)."""
    scores = fit.data["score"].sel(benchmark="MMLU").to_series()
    models = [str(m) for m in scores.index]
    table = pd.DataFrame(
        {"model": models, "split": ["train"] * 25 + ["test"] * 5, "observed": scores.to_numpy()}
    )
    target = Target(name="MMLU", values=scores, floor=0.25, ceiling=1.0)
    return Forecast(table=table, fit=fit, draws=xr.DataArray([]), target=target)


def test_scaling_curve_shows_both_bands_labelled(tiny_fit: FitResults) -> None:
    fig = plots.scaling_curve_plot(_mmlu_forecast(tiny_fit))
    ax = fig.axes[0]
    legend = tick_labels(ax.get_legend().get_texts())
    assert legend[:3] == [
        "90% predictive band: one model",
        "90% band of the expected score",
        "expected score (posterior mean)",
    ]
    assert {"Falcon", "OPT", "held out", "training"} <= set(legend)
    assert "other" not in legend


def test_predictive_band_holds_the_scores_the_mean_band_misses(tiny_fit: FitResults) -> None:
    caps = tiny_fit.capabilities()["mean"].sel(capability="general").to_series()
    observed = tiny_fit.data["score"].sel(benchmark="MMLU").to_series()
    keep = observed.notna()
    xs = np.sort(caps[keep.index[keep]].to_numpy())
    mean = curves.expected_curve(tiny_fit, "MMLU", xs)
    one = curves.predictive_curve(tiny_fit, "MMLU", xs, seed=3)
    xr.testing.assert_equal(one, curves.predictive_curve(tiny_fit, "MMLU", xs, seed=3))
    m_lo, m_hi = equal_tailed(mean.to_numpy(), 0.9)
    p_lo, p_hi = equal_tailed(one.to_numpy(), 0.9)
    # Wider everywhere: the predictive adds measurement noise to the mean curve's spread.
    # Compared by sd over all draws: a 90% band's width from 100 draws is itself too noisy
    # to be ordered at every point (at the extrapolated top the two widths are close).
    draws = one.dims.index("draw") if "draw" in one.dims else 0
    assert (one.to_numpy().std(axis=draws) > mean.to_numpy().std(axis=draws)).all()
    assert np.mean(p_hi - p_lo) > 1.2 * np.mean(m_hi - m_lo)
    # Each fitted model's MMLU score against both bands at its own capability: the
    # predictive band holds most of them, the band of the mean curve far fewer.
    at = {x: i for i, x in enumerate(xs)}
    obs = observed[keep]
    idx = [at[caps[m]] for m in obs.index]
    y = obs.to_numpy()
    inside_p = np.mean((y >= p_lo[idx]) & (y <= p_hi[idx]))
    inside_m = np.mean((y >= m_lo[idx]) & (y <= m_hi[idx]))
    assert inside_p >= 0.75 and inside_m < inside_p


def test_capability_vs_compute_plot(tiny_fit: FitResults) -> None:
    fig = plots.capability_vs_compute_plot(tiny_fit, n_families=3)
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    assert ax.get_xlabel() == "log10 training FLOPs"
    assert "decades of effective compute" in ax.get_ylabel()
    legend = tick_labels(ax.get_legend().get_texts())
    assert "1:1 through Llama-2" in legend
    assert "other (7)" in legend  # Falcon (4) and Llama-2 (3), beyond the top 3
    assert len(legend) == 5


def test_predictive_check_plot(tiny_fit: FitResults) -> None:
    fig = plots.predictive_check_plot(tiny_fit, outliers={"models": [], "observations": []})
    assert len(fig.axes) == len(TINY_BENCHMARKS)
    titles = [ax.get_title().splitlines()[0] for ax in fig.axes]
    assert titles == list(TINY_BENCHMARKS)
    assert all("inside 90%" in ax.get_title() for ax in fig.axes)


def test_predictive_quantiles_are_ordered_and_seeded(tiny_fit: FitResults) -> None:
    q = plots.predictive_quantiles(tiny_fit, level=0.8, seed=5)
    n_obs = tiny_fit.tree["observed_data"]["score"].size
    assert q.sizes["obs"] == n_obs
    assert bool((q["lower"] <= q["median"]).all() and (q["median"] <= q["upper"]).all())
    assert bool(((q["pit"] >= 0) & (q["pit"] <= 1)).all())
    xr.testing.assert_equal(q, plots.predictive_quantiles(tiny_fit, level=0.8, seed=5))


def test_loo_pit_plot_reads_the_results_groups(tiny_fit: FitResults) -> None:
    fig = plots.loo_pit_plot(tiny_fit)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    assert fig.axes[0].get_xlabel() == "LOO-PIT"
    # One ECDF-difference line over the observations.
    assert len(fig.axes[0].get_lines()) >= 1


def test_rhat_plot(tiny_fit: FitResults) -> None:
    fig = plots.rhat_plot(tiny_fit, n=2, threshold=None)
    assert fig is not None and len(fig.axes) == 2  # one ArviZ rank plot per parameter
    worst = plots.worst_rhat(tiny_fit, 2)
    assert worst[0][1] >= worst[1][1]
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0].startswith(worst[0][0].replace("/", chr(0x2215))), titles
    assert plots.rhat_plot(tiny_fit, threshold=math.inf) is None


def test_reference_falls_back_to_largest_family(tiny_fit: FitResults) -> None:
    other = FitResults(
        tree=tiny_fit.tree, spec=dataclasses.replace(tiny_fit.spec, reference_family="GPT-9")
    )
    # Pythia and OPT both have 8 models: ties go alphabetically.
    assert plots.resolve_reference(other) == "OPT"
    assert plots.resolve_reference(other, "Falcon") == "Falcon"
    fig = plots.family_efficiency_plot(other)
    assert "vs OPT" in fig.axes[0].get_xlabel()


# ------------------------------------------------------------------------------ tables
def test_tidy_tables(tiny_fit: FitResults) -> None:
    caps = report.capabilities_table(tiny_fit, level=0.8)
    assert caps.columns.tolist() == [
        "model", "family", "log10_flops", "capability", "mean", "q0.1", "q0.9"
    ]  # fmt: skip
    assert len(caps) == 30
    assert (caps["q0.1"] <= caps["mean"]).all() and (caps["mean"] <= caps["q0.9"]).all()
    eff = report.family_efficiency_table(tiny_fit)
    assert eff.columns.tolist() == [
        "family", "n_models", "reference", "mean", "median", "q0.05", "q0.95",
        "log10_multiplier",
    ]  # fmt: skip
    assert eff["median"].is_monotonic_decreasing
    ref = eff.set_index("family").loc["Llama-2"]
    assert ref["median"] == pytest.approx(1.0) and ref["n_models"] == 3
    load = report.loadings_table(tiny_fit)
    assert load.columns.tolist() == [
        "benchmark", "capability", "mean", "q0.05", "q0.95", "anchor", "fixed_zero"
    ]  # fmt: skip
    assert load["anchor"].sum() == 1 and not load["fixed_zero"].any()


def test_summary_json_has_the_efficiency_table(
    tiny_fit: FitResults, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tiny_fit.save(tmp_path / "RUN.nc")
    assert run(["summary", str(path), "--json", "--reference", "OPT"]) == 0
    eff = json.loads(capsys.readouterr().out)["family_efficiency"]
    assert (eff["reference"], eff["level"]) == ("OPT", 0.9)
    want = report.family_efficiency_table(tiny_fit, "OPT")
    assert [r["family"] for r in eff["families"]] == want["family"].tolist()
    for row, (_, w) in zip(eff["families"], want.iterrows(), strict=True):
        assert set(row) == {
            "family", "n_models", "median", "lower", "upper", "mean", "log10_multiplier"
        }  # fmt: skip
        assert row["n_models"] == w["n_models"]
        assert row["median"] == pytest.approx(w["median"])
        assert (row["lower"], row["upper"]) == pytest.approx((w["q0.05"], w["q0.95"]))
    assert next(r for r in eff["families"] if r["family"] == "OPT")["median"] == 1.0


def test_jsonable() -> None:
    value = {"a": np.int64(2), "b": [np.float64(np.nan), 1.5], "c": np.array([1, 2])}
    assert report.jsonable(value) == {"a": 2, "b": [None, 1.5], "c": [1, 2]}
    json.dumps(report.jsonable(value), allow_nan=False)


# ------------------------------------------------------------------------------ report
def test_report_files(written: Path, tiny_fit: FitResults) -> None:
    names = {p.name for p in written.iterdir()}
    assert names == set(report.REPORT_FILES)  # rhat.png too: the tiny fit is unconverged
    summary = json.loads((written / "summary.json").read_text())
    assert summary == report.jsonable(tiny_fit.summary_dict())
    caps = pd.read_csv(written / "capabilities.csv")
    assert set(caps["model"]) == set(map(str, tiny_fit.data["model"].to_numpy()))
    assert pd.read_csv(written / "family_efficiency.csv")["reference"].eq("Llama-2").all()
    assert len(pd.read_csv(written / "loadings.csv")) == len(TINY_BENCHMARKS)


def test_report_page_is_self_contained(written: Path, tiny_fit: FitResults) -> None:
    page = (written / "index.html").read_text()
    assert page.count("data:image/png;base64,") == len(list(written.glob("*.png")))
    assert "http://" not in page and "https://" not in page and "<script" not in page
    for heading in (
        "Convergence diagnostics",
        "Outliers",
        "Family compute efficiency",
        "Benchmark loadings",
        "General capability vs compute",
        "Posterior predictive check",
    ):
        assert f"<h2>{heading}</h2>" in page
    attrs = tiny_fit.attrs
    for stamp in ("k1", attrs["bayes_scaling_version"], "nutpie", "base_llm_benchmark_eval.csv"):
        assert stamp in page
    assert "R-hat &gt; 1.01 for" in page  # the warning, escaped
    assert str(attrs["content_hash"])[:16] in page


def _html_table_after(page: str, heading: str) -> list[list[str]]:
    """Cell texts of the body rows of the first table after ``<h2>heading</h2>``."""
    section = page.split(f"<h2>{heading}</h2>", 1)[1]
    table = section.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = table.split("<tr>")[1:]
    return [
        [re.sub(r"<[^>]+>", "", cell.split("</td>")[0]) for cell in row.split("<td")[1:]]
        for row in rows
    ]


def test_report_family_efficiency_cells_are_numbers(written: Path) -> None:
    page = (written / "index.html").read_text()
    assert "bound method" not in page
    rows = _html_table_after(page, "Family compute efficiency")
    csv = pd.read_csv(written / "family_efficiency.csv")
    assert len(rows) == len(csv)
    for cells, (_, want) in zip(rows, csv.iterrows(), strict=True):
        cells = [c.split(">", 1)[-1] for c in cells]  # drop the td attributes
        assert cells[0] == want["family"]
        # median, interval bounds, log10 multiplier: every one a number, the median right
        numbers = [float(c) for c in cells[2:]]
        assert numbers[0] == pytest.approx(want["median"], rel=1e-2)


def test_report_diagnostics_say_not_measured(tiny_fit: FitResults, tmp_path: Path) -> None:
    one_chain = dataclasses.replace(tiny_fit, tree=tiny_fit.tree.isel(chain=[0]))
    page = (report.write_report(one_chain, tmp_path / "one").parent / "index.html").read_text()
    rows = _html_table_after(page, "Convergence diagnostics")
    status = {cells[0].split(">", 1)[-1]: cells[3].split(">", 1)[-1] for cells in rows}
    assert status["max R-hat"] == "not measured"
    assert status["min bulk ESS"] == "not measured"
    assert "Convergence NOT MEASURED:" in page


def test_report_failure_leaves_nothing(
    tiny_fit: FitResults, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> Figure:
        raise RuntimeError("plot failed")

    monkeypatch.setattr(plots, "predictive_check_plot", broken)
    with pytest.raises(RuntimeError, match="plot failed"):
        report.write_report(tiny_fit, tmp_path / "new")
    assert list(tmp_path.iterdir()) == []
    existing = tmp_path / "old"
    existing.mkdir()
    (existing / "index.html").write_text("old report")
    with pytest.raises(RuntimeError):
        report.write_report(tiny_fit, existing)
    assert [p.name for p in tmp_path.iterdir()] == ["old"]
    assert (existing / "index.html").read_text() == "old report"


def test_report_replaces_an_older_one(
    tiny_fit: FitResults, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "RUN.nc").write_text("kept")
    (out / "rhat.png").write_text("stale")
    monkeypatch.setattr(plots, "rhat_plot", lambda *a, **k: None)  # a converged fit
    index = report.write_report(tiny_fit, out, level=0.5)
    assert index == out / "index.html"
    assert (out / "RUN.nc").read_text() == "kept"
    assert not (out / "rhat.png").exists()
    assert "q0.25" in (out / "loadings.csv").read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no temporary folder left


def test_report_refuses_bad_arguments(tiny_fit: FitResults, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(BayesScalingError, match="not a folder"):
        report.write_report(tiny_fit, tmp_path / "file")
    with pytest.raises(BayesScalingError, match="reference family 'GPT-9'"):
        report.write_report(tiny_fit, tmp_path / "r", reference="GPT-9")
    with pytest.raises(BayesScalingError, match="level"):
        report.write_report(tiny_fit, tmp_path / "r", level=1.5)
    assert [p.name for p in tmp_path.iterdir()] == ["file"]
