"""The ``forecast`` command's contract: columns, splits, units, determinism, bad input."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayes_scaling.cli import run
from bayes_scaling.forecast import (
    PRED_COLUMNS,
    Target,
    calibration_report,
    make_target,
    split_compute_above,
    split_family,
    split_top_share,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "obsscaling"
BENCHES = ["MMLU", "ARC-C", "HellaSwag", "Winograd", "HumanEval"]
TINY = ["--draws", "60", "--tune", "60", "--chains", "2"]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 30-model BENCH.csv, a 0-10 TARGET.csv (GSM8K x 10) and a test list."""
    base = pd.read_csv(DATA / "base_llm_benchmark_eval.csv")
    base = base[base["FLOPs (1E21)"].notna()].head(30).reset_index(drop=True)
    d = tmp_path_factory.mktemp("fc")
    meta = ["Model", "Model Family", "Model Size (B)", "Pretraining Data Size (T)", "FLOPs (1E21)"]
    base[meta + BENCHES].to_csv(d / "bench.csv", index=False)
    target = pd.DataFrame({"Model": base["Model"], "score10": (base["GSM8K"] * 10).round(3)})
    target.loc[3, "score10"] = np.nan  # a model without a target value still gets a row
    target.to_csv(d / "target.csv", index=False)
    top = base.sort_values("FLOPs (1E21)").tail(3)["Model"]
    (d / "test.txt").write_text("\n".join(top) + "\n")
    return {"bench": d / "bench.csv", "target": d / "target.csv", "test": d / "test.txt", "dir": d}


def _forecast(files: dict[str, Path], out: Path, *extra: str) -> int:
    return run(
        [
            "forecast",
            "--benchmarks",
            str(files["bench"]),
            "--target",
            str(files["target"]),
            "--metric",
            "score10",
            "--floor",
            "0",
            "--ceiling",
            "10",
            "--test-models",
            str(files["test"]),
            "--out",
            str(out),
            *TINY,
            *extra,
        ]
    )


@pytest.mark.sampling
def test_forecast_contract_and_same_seed_same_file(files: dict[str, Path], tmp_path: Path) -> None:
    out1, out2 = tmp_path / "p1.csv", tmp_path / "p2.csv"
    png = tmp_path / "curve.png"
    assert _forecast(files, out1, "--seed", "3", "--plot", str(png)) == 0
    assert _forecast(files, out2, "--seed", "3") == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out1.read_bytes() == out2.read_bytes()
    preds = pd.read_csv(out1)
    assert tuple(preds.columns) == PRED_COLUMNS
    assert len(preds) == 30 and set(preds["metric"]) == {"score10"}
    tests = set(files["test"].read_text().split())
    assert set(preds.loc[preds["split"] == "test", "model"]) == tests
    assert preds["observed"].isna().sum() == 1
    assert (preds["lower"] <= preds["median"]).all() and (preds["median"] <= preds["upper"]).all()
    # metric's own units: 0 to 10, not the internal [0, 1] scale
    assert preds["upper"].max() > 1.0 and preds["upper"].max() <= 10.0 and preds["lower"].min() >= 0


@pytest.mark.sampling
def test_forecast_from_compute_without_metric_predicts_every_benchmark(
    files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "p.csv"
    code = run(
        [
            "forecast",
            "--benchmarks",
            str(files["bench"]),
            "--test-models",
            str(files["test"]),
            "--from",
            "compute",
            "--out",
            str(out),
            *TINY,
        ]
    )
    assert code == 0
    preds = pd.read_csv(out)
    assert len(preds) == 3 * len(BENCHES)
    assert set(preds["split"]) == {"test"} and set(preds["metric"]) == set(BENCHES)
    # the hidden scores are still reported, for scoring, where the table has them
    bench = pd.read_csv(files["bench"]).set_index("Model")
    expected = [bench.loc[m, b] for m, b in zip(preds["model"], preds["metric"], strict=True)]
    assert np.allclose(preds["observed"], expected, equal_nan=True)


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"metric": "nope"}, "unknown metric column 'nope'"),
        ({"test": "not/a-model\n"}, "'not/a-model' is not in the benchmark table"),
        ({"ceiling": "1"}, "outside the declared range"),
        ({"test": "ALL"}, "train set is empty"),
        ({"items": "0"}, "--items must be a positive number of items"),
        ({"sampler": "gibbs"}, "unknown sampler 'gibbs'"),
    ],
)
def test_forecast_bad_input_one_line_no_file(
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: dict[str, str],
    needle: str,
) -> None:
    test_file = files["test"]
    if "test" in change:
        test_file = tmp_path / "t.txt"
        text = change["test"]
        if text == "ALL":
            text = "\n".join(pd.read_csv(files["bench"])["Model"])
        test_file.write_text(text)
    out = tmp_path / "preds.csv"
    code = run(
        [
            "forecast",
            "--benchmarks",
            str(files["bench"]),
            "--target",
            str(files["target"]),
            "--metric",
            change.get("metric", "score10"),
            "--floor",
            "0",
            "--ceiling",
            change.get("ceiling", "10"),
            "--test-models",
            str(test_file),
            "--out",
            str(out),
            *TINY,
            *(["--items", change["items"]] if "items" in change else []),
            *(["--sampler", change["sampler"]] if "sampler" in change else []),
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and needle in err[0]
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in tmp_path.iterdir() if p.name != "preds.csv"
    )


def test_target_units_round_trip() -> None:
    t = make_target(pd.Series({"a": 2.0, "b": None, "c": 10.0}), "m", floor=0.0, ceiling=10.0)
    assert np.allclose(t.from_unit(t.to_unit(np.array([0.0, 2.5, 10.0]))), [0.0, 2.5, 10.0])
    ds = t.dataset(["a", "b", "c"], hidden=["c"])
    assert np.isnan(ds["score"].sel(model="c")).all()
    assert float(ds["score"].sel(model="a").item()) == pytest.approx(0.2)
    neg = Target("n", pd.Series({"a": -0.5}), floor=-1.0, ceiling=1.0)
    assert neg.to_unit(-1.0) == 0.0 and neg.to_unit(1.0) == 1.0


def test_a_target_nearly_all_at_or_below_its_floor_warns_once() -> None:
    from bayes_scaling.forecast import TargetWarning

    failed = pd.Series({f"m{i}": 0.0 for i in range(19)} | {"m19": 0.6})
    with pytest.warns(TargetWarning, match=r"'strict': 95% of the values lie at or below .* 0\.5"):
        t = make_target(failed, "strict", floor=0.5, source="t.csv")
    assert t.values["m0"] == 0.0  # allowed: the fit learns a floor below chance
    # At a floor of 0 (no guessing), zeros are the same failure.
    with pytest.warns(TargetWarning, match=r"'zeros': 95% of the values lie at or below .* 0;"):
        make_target(failed, "zeros", floor=0.0, source="t.csv")
    # A third below chance (answer bias) is a capability with a low floor: no warning.
    biased = pd.Series({f"m{i}": 0.4 if i < 7 else 0.7 for i in range(20)})
    with warnings.catch_warnings():
        warnings.simplefilter("error", TargetWarning)
        make_target(biased, "biased", floor=0.5)


def test_splits() -> None:
    from bayes_scaling import datasets

    bench = datasets.load("base-llm")
    top = split_compute_above(bench, quantile=0.9)
    flops = bench["flops"].to_series()
    assert all(flops[m] > flops.quantile(0.9) for m in top)
    assert len(split_family(bench, "Llama-2")) == 3
    t = make_target(pd.Series({"a": 1.0, "b": 3.0, "c": 2.0, "d": 0.5}), "m", 0.0, 10.0)
    assert split_top_share(t, 0.5) == ["b", "c"]
    assert split_top_share(t, 0.01) == ["b"]


def test_calibration_report_counts_only_held_out() -> None:
    table = pd.DataFrame(
        {
            "model": list("abcd"),
            "metric": "m",
            "split": ["train", "test", "test", "test"],
            "observed": [0.5, 0.2, 0.9, np.nan],
            "mean": [0.5, 0.3, 0.5, 0.1],
            "median": 0.0,
            "lower": [0.0, 0.1, 0.0, 0.0],
            "upper": [1.0, 0.4, 0.6, 1.0],
        }
    )
    rep = calibration_report(table)
    assert rep["n"] == 2
    assert rep["coverage"] == 0.5
    assert rep["mse"] == pytest.approx((0.1**2 + 0.4**2) / 2)


def test_count_target_and_its_item_count() -> None:
    t = make_target(pd.Series({"a": 0.0, "b": 0.25}), "acc", 0.0, n_items=2000)
    ds = t.dataset(["a", "b"])
    assert ds["n_items"].to_numpy().tolist() == [2000.0]
    plain = make_target(pd.Series({"a": 0.5}), "m", 0.0).dataset(["a"])
    assert np.isnan(plain["n_items"].to_numpy()).all()


def test_compute_route_keeps_the_tables_anchors(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hiding the largest models' scores must not redefine the capability axes.

    On the bundled table the split alone moves the general anchor from MMLU to ARC-C
    (which gave the compute route a second mode, R-hat 1.56); the fit gets the anchors of
    the whole table. The sampler is replaced by a stub that records the spec.
    """
    from bayes_scaling import datasets
    from bayes_scaling.estimator import CapabilityModel
    from bayes_scaling.forecast import forecast
    from bayes_scaling.model import choose_anchors

    bench = datasets.load("base-llm")
    test = split_compute_above(bench, quantile=0.9)
    hidden = bench.copy(deep=True)
    hidden["score"].loc[{"model": test}] = np.nan
    assert choose_anchors(hidden, 2) != choose_anchors(bench, 2)  # the split would move them

    seen: list[tuple[str, ...]] = []

    class Stop(Exception):
        pass

    def fake_fit(self: CapabilityModel, *args: object, **kwargs: object) -> None:
        seen.append(self.spec.anchors)
        raise Stop

    monkeypatch.setattr(CapabilityModel, "fit", fake_fit)
    with pytest.raises(Stop):
        forecast(bench, None, test, route="compute", spec="k2")
    assert seen == [choose_anchors(bench, 2)] == [("MMLU", "GSM8K")]


@pytest.mark.parametrize(
    ("metric", "given", "expected"),
    [
        # A bundled table's declarations fill what the command line leaves out.
        ("parsinlu_qa_2_acc", [], (0.25, 1.0, 1050)),
        ("ipa_transliterate_2_exact_match", [], (0.0, 1.0, None)),
        # What the user gives wins.
        ("parsinlu_qa_2_acc", ["--floor", "0.2", "--items", "500"], (0.2, 1.0, 500)),
    ],
)
def test_bundled_target_declares_floor_and_items(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    metric: str,
    given: list[str],
    expected: tuple[float, float, int | None],
) -> None:
    import bayes_scaling.cli.forecast as cli_forecast
    from bayes_scaling.errors import BayesScalingError

    seen: list[Target] = []

    def capture(bench: object, target: Target, *args: object, **kwargs: object) -> None:
        seen.append(target)
        raise BayesScalingError("captured")

    monkeypatch.setattr(cli_forecast, "forecast", capture)
    tests = tmp_path / "test.txt"
    tests.write_text("meta-llama/Meta-Llama-3-70B\n")
    args = ["forecast", "--benchmarks", "base-llm", "--target", "emergent", "--metric", metric]
    code = run([*args, "--test-models", str(tests), "--out", str(tmp_path / "p.csv"), *given])
    assert code == 2 and "captured" in capsys.readouterr().err
    (target,) = seen
    assert (target.floor, target.ceiling, target.n_items) == expected
