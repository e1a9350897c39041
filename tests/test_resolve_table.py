"""One rule for "a bundled table or a file": ``datasets.resolve_table`` and the commands.

The resolver itself (a name, a path, a file shadowing a name, an unknown name), then that
every command taking a table goes through it: ``forecast --benchmarks base-llm`` is checked
with the sampler replaced by a stub, so no model is fitted.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from bayes_scaling import datasets
from bayes_scaling.cli import run
from bayes_scaling.errors import BayesScalingError, DataError

DATA = Path(__file__).resolve().parents[1] / "data" / "obsscaling"
BASE_FILE = "base_llm_benchmark_eval.csv"


@pytest.fixture
def small_csv(tmp_path: Path) -> Path:
    """A 12-model wide table cut from the bundled base-model table."""
    base = pd.read_csv(DATA / BASE_FILE).head(12)
    path = tmp_path / "bench.csv"
    base.to_csv(path, index=False)
    return path


# --------------------------------------------------------------------------- the resolver
def test_a_bundled_name_loads_the_bundled_table() -> None:
    ds = datasets.resolve_table("base-llm")
    assert ds.attrs["source"] == BASE_FILE
    assert ds.sizes["model"] == 128
    assert datasets.bundled_name("base-llm") == "base-llm"


def test_a_path_reads_the_file(small_csv: Path) -> None:
    for given in (small_csv, str(small_csv)):
        ds = datasets.resolve_table(given)
        assert ds.sizes["model"] == 12
        assert ds.attrs["source"] == str(small_csv)
    assert datasets.bundled_name(small_csv) is None


def test_a_file_named_like_a_bundled_table_wins(
    small_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(small_csv.parent)
    small_csv.rename("base-llm")
    assert datasets.bundled_name("base-llm") is None
    assert datasets.resolve_table("base-llm").sizes["model"] == 12


def test_an_unknown_name_is_a_one_line_data_error() -> None:
    with pytest.raises(DataError) as info:
        datasets.resolve_table("no-such-table")
    message = str(info.value)
    assert "\n" not in message
    assert message == (
        "no-such-table: file not found (bundled tables: base-llm, instruct-llm, agent, "
        "emergent, post-training)"
    )
    assert isinstance(info.value, BayesScalingError)


def test_percent_or_ranges_on_a_bundled_table_are_refused() -> None:
    with pytest.raises(DataError, match="apply to files"):
        datasets.resolve_table("base-llm", percent=True)
    with pytest.raises(DataError, match="apply to files"):
        datasets.resolve_table("agent", ranges={"ABench-OA": (0.0, 10.0)})


# --------------------------------------------------------------------------- the commands
@pytest.fixture
def stub_forecast(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Replace the forecast (the fit) by a stub recording its arguments."""
    from bayes_scaling.cli import forecast as cli_forecast
    from bayes_scaling.diagnostics import Diagnostics
    from bayes_scaling.forecast import PRED_COLUMNS

    calls: list[dict[str, Any]] = []

    def fake(bench: Any, target: Any, test_models: Any, **kw: Any) -> SimpleNamespace:
        calls.append({"bench": bench, "target": target, "test": list(test_models), **kw})
        diagnostics = Diagnostics(1.0, 1000.0, 1000.0, 0, 1.0, 0.0, {})
        return SimpleNamespace(
            table=pd.DataFrame(columns=list(PRED_COLUMNS)),
            fit=SimpleNamespace(diagnostics=diagnostics),
        )

    monkeypatch.setattr(cli_forecast, "forecast", fake)
    return calls


def test_forecast_benchmarks_takes_a_bundled_name(
    stub_forecast: list[dict[str, Any]], tmp_path: Path
) -> None:
    tests = tmp_path / "test.txt"
    tests.write_text("meta-llama/Llama-2-70b-hf\n")
    out = tmp_path / "preds.csv"
    argv = ["forecast", "--benchmarks", "base-llm", "--metric", "GSM8K"]
    assert run([*argv, "--test-models", str(tests), "--out", str(out)]) == 0
    (call,) = stub_forecast
    assert call["bench"].attrs["source"] == BASE_FILE
    assert call["bench"].sizes["model"] == 128
    assert call["target"].name == "GSM8K"
    # The target came from the same bundled table, so it is not also a predictor.
    assert "GSM8K" not in call["benchmark_cols"] and len(call["benchmark_cols"]) == 7
    assert call["test"] == ["meta-llama/Llama-2-70b-hf"]
    assert out.is_file()


def test_forecast_target_takes_a_bundled_name(
    stub_forecast: list[dict[str, Any]], tmp_path: Path
) -> None:
    tests = tmp_path / "test.txt"
    tests.write_text("meta-llama/Llama-2-70b-hf\n")
    argv = ["forecast", "--benchmarks", "base-llm", "--target", "emergent"]
    argv += ["--metric", "arithmetic_3ds_2_acc", "--test-models", str(tests)]
    assert run([*argv, "--out", str(tmp_path / "p.csv")]) == 0
    (call,) = stub_forecast
    assert call["target"].name == "arithmetic_3ds_2_acc"
    assert call["target"].values.notna().sum() == datasets.load("emergent").sizes["model"]
    assert call["benchmark_cols"] is None


@pytest.mark.parametrize(
    "argv",
    [
        ["forecast", "--benchmarks", "no-such-table", "--metric", "GSM8K"],
        ["forecast", "--benchmarks", "base-llm", "--percent", "--metric", "GSM8K"],
        ["compare", "no-such-table"],
        ["backtest", "--benchmarks", "no-such-table", "--metrics", "GSM8K"],
        ["fit", "no-such-table"],
        ["data", "show", "no-such-table"],
    ],
    ids=["forecast", "forecast-percent", "compare", "backtest", "fit", "data-show"],
)
def test_every_command_resolves_tables_the_same_way(
    argv: list[str],
    stub_forecast: list[dict[str, Any]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tests = tmp_path / "test.txt"
    tests.write_text("meta-llama/Llama-2-70b-hf\n")
    extra = {
        "forecast": ["--test-models", str(tests)],
        "fit": [],
        "compare": [],
        "backtest": [],
        "data": [],
    }[argv[0]]
    name = "o.nc" if argv[0] == "fit" else "o.csv"  # fit writes a results file (netCDF)
    out = [] if argv[0] in ("compare", "data") else ["--out", str(tmp_path / name)]
    assert run([*argv, *extra, *out]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    if "--percent" in argv:
        assert line.startswith("error: base-llm: --percent and --range apply to files")
    else:
        assert line.startswith("error: no-such-table: file not found (bundled tables: base-llm")
    assert stub_forecast == []
    assert not (tmp_path / name).exists()
