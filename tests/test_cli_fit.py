"""``bayes-scaling fit | summary | report | demo``: plumbing with a mocked sampler, and one
real end-to-end fit.

The sampler is replaced by a function returning a tiny real fit made once per session
(k1 on 30 models x 4 benchmarks, 2 chains x 50 draws), so every command is exercised on
genuine results without paying for sampling more than twice.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import xarray as xr
from conftest import tiny_table

from bayes_scaling.cli import run
from bayes_scaling.data import to_wide
from bayes_scaling.errors import BayesScalingError
from bayes_scaling.estimator import CapabilityModel, FitResults


@pytest.fixture
def mocked_fit(tiny_fit: FitResults, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Replace sampling by the tiny fit; return the list of recorded calls."""
    calls: list[dict[str, Any]] = []

    def fake_fit(self: CapabilityModel, data: xr.Dataset, targets: Any = None, **kw: Any):
        calls.append({"spec": self.spec.name, "data": data, **kw})
        return tiny_fit

    monkeypatch.setattr(CapabilityModel, "fit", fake_fit)
    return calls


@pytest.fixture
def run_file(tiny_fit: FitResults, tmp_path: Path) -> Path:
    return tiny_fit.save(tmp_path / "run" / "RUN.nc")


def listing(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*")}


def fails(argv: list[str], capsys: pytest.CaptureFixture[str], directory: Path) -> str:
    """Run ``argv``; assert exit 2, one stderr line, no stdout, nothing new on disk."""
    before = listing(directory)
    code = run(argv)
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert out == ""
    assert listing(directory) == before
    return lines[0]


def alter(path: Path) -> Path:
    """Rewrite a results file with one posterior value changed and the old hash kept."""
    tree = xr.open_datatree(path, engine="h5netcdf").load()
    post = tree["posterior"].to_dataset()
    post["sigma"] = post["sigma"] + 0.01
    tree["posterior"] = xr.DataTree(post)
    altered = path.with_name("altered.nc")
    tree.to_netcdf(altered, engine="h5netcdf")
    return altered


# ------------------------------------------------------------------------------ fit
def test_fit_writes_results_file(
    mocked_fit: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "runs" / "k1.nc"
    code = run(
        ["fit", "base-llm", "--spec", "k1", "--draws", "30", "--tune", "20", "--chains", "3",
         "--seed", "7", "--out", str(out)]
    )  # fmt: skip
    stdout, stderr = capsys.readouterr()
    assert code == 0, stderr
    assert listing(tmp_path) == {"runs", "runs/k1.nc"}  # no temporary file left
    assert FitResults.load(out, spec="k1").spec.name == "k1"
    (call,) = mocked_fit
    assert call["spec"] == "k1"
    assert (call["draws"], call["tune"], call["chains"], call["seed"]) == (30, 20, 3, 7)
    assert call["sampler"] == "nutpie"
    assert call["warn"] is False
    assert call["data"].sizes["model"] == 128
    assert "Convergence diagnostics" in stdout and f"wrote {out}" in stdout
    assert "diagnostics: max_rhat=" in stdout
    assert "fitting spec 'k1'" in stderr
    # The tiny fit has not converged: the warning names parameters.
    assert "warning: R-hat > 1.01 for " in stderr


def test_fit_reads_a_file_with_percent(
    mocked_fit: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tmp_path / "scores.csv"
    table.write_text("Model,FLOPs (1E21),MMLU,GSM8K\na,1,30,10\nb,10,40,20\nc,100,50,30\n")
    code = run(["fit", str(table), "--percent", "--out", str(tmp_path / "r.nc")])
    assert code == 0, capsys.readouterr()
    data = mocked_fit[0]["data"]
    assert data.sizes["model"] == 3
    assert float(data["score"].sel(model="a", benchmark="MMLU")) == pytest.approx(0.3)
    assert mocked_fit[0]["spec"] == "k3"  # the default spec


def test_fit_error_during_sampling_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(self: CapabilityModel, data: xr.Dataset, targets: Any = None, **kw: Any):
        raise BayesScalingError("no model has known training compute")

    monkeypatch.setattr(CapabilityModel, "fit", broken)
    code = run(["fit", "base-llm", "--out", str(tmp_path / "r.nc")])
    out, err = capsys.readouterr()
    assert code == 2
    # Only the "fitting ..." progress line precedes the error.
    assert [line for line in err.splitlines() if not line.startswith("fitting spec")] == [
        "error: no model has known training compute"
    ]
    assert out == ""
    assert listing(tmp_path) == set()


def test_fit_error_while_writing_leaves_no_file(
    mocked_fit: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def half_write(self: xr.DataTree, path: Any, *args: Any, **kwargs: Any) -> None:
        Path(path).write_bytes(b"\x89HDF partial")
        raise OSError("disk full")

    monkeypatch.setattr(xr.DataTree, "to_netcdf", half_write)
    with pytest.raises(OSError, match="disk full"):
        run(["fit", "base-llm", "--out", str(tmp_path / "r.nc")])
    assert listing(tmp_path) == set()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["missing.csv"], ["missing.csv", "file not found"]),
        (["base-llm", "--spec", "k9"], ["unknown spec 'k9'"]),
        (["base-llm", "--spec", "nope.toml"], ["unknown spec"]),
        (["base-llm", "--sampler", "stan"], ["unknown sampler 'stan'", "nutpie"]),
        (["base-llm", "--draws", "0"], ["--draws must be at least 1"]),
        (["base-llm", "--chains", "0"], ["--chains must be at least 1"]),
        (["base-llm", "--percent"], ["--percent and --range apply to files"]),
        (["base-llm", "--range", "MMLU"], ["--range 'MMLU'"]),
    ],
    ids=["missing-file", "unknown-spec", "missing-spec-file", "unknown-sampler",
         "zero-draws", "zero-chains", "percent-on-bundled", "bad-range"],
)  # fmt: skip
def test_fit_bad_input_is_one_line(
    args: list[str],
    words: list[str],
    mocked_fit: list[dict[str, Any]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    line = fails(["fit", *args, "--out", "r.nc"], capsys, tmp_path)
    for word in words:
        assert word in line
    assert mocked_fit == []  # refused before sampling


def test_fit_out_is_a_folder(
    mocked_fit: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "dir").mkdir()
    line = fails(["fit", "base-llm", "--out", str(tmp_path / "dir")], capsys, tmp_path)
    assert "is a folder" in line


@pytest.mark.parametrize("name", ["run.csv", "run", "run.nc.bak"])
def test_fit_out_must_be_a_netcdf_name(
    name: str,
    mocked_fit: list[dict[str, Any]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    line = fails(["fit", "base-llm", "--out", str(tmp_path / name)], capsys, tmp_path)
    assert "a results file is netCDF, named *.nc" in line
    assert mocked_fit == []  # refused before the (slow) fit


def test_fit_refuses_percent_on_shares(
    mocked_fit: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tmp_path / "shares.csv"
    table.write_text("Model,FLOPs (1E21),MMLU,GSM8K\na,1,0.3,10\nb,10,0.4,20\nc,100,0.5,30\n")
    line = fails(
        ["fit", str(table), "--percent", "--out", str(tmp_path / "r.nc")], capsys, tmp_path
    )
    assert str(table) in line and "column 'MMLU'" in line
    assert "every value is within [0, 1]" in line and mocked_fit == []


# ------------------------------------------------------------------------------ summary
def test_summary_json(run_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["summary", str(run_file), "--json"]) == 0
    out = capsys.readouterr().out
    summary = json.loads(out)  # exactly one JSON object
    assert out.count("\n") == 1
    types: dict[str, type | tuple[type, ...]] = {
        "max_rhat": float,
        "min_ess_bulk": float,
        "min_ess_tail": float,
        "divergences": int,
        "seconds": float,
        "n_models": int,
        "n_families": int,
        "n_benchmarks": int,
        "outliers": list,
        "outlier_observations": list,
        "warnings": list,
        "spec": str,
        "seed": int,
        "sampler": str,
    }
    for key, kind in types.items():
        assert isinstance(summary[key], kind), key
    assert (summary["n_models"], summary["n_families"], summary["n_benchmarks"]) == (30, 5, 4)
    assert all(isinstance(m, str) for m in summary["outliers"])
    assert summary["spec"] == "k1"


def test_summary_tables(run_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["summary", str(run_file), "--spec", "k1", "--top", "2"]) == 0
    out = capsys.readouterr().out
    for heading in ("fit of spec k1", "Convergence diagnostics", "Family compute efficiency"):
        assert heading in out
    assert "vs Llama-2" in out


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--reference", "NoSuchFamily"], "reference family 'NoSuchFamily' is not in the fit"),
        (["--reference", "NoSuchFamily", "--json"], "reference family 'NoSuchFamily'"),
        (["--top", "-1"], "--top must be at least 1, got -1"),
        (["--top", "0"], "--top must be at least 1, got 0"),
    ],
)
def test_summary_bad_options_print_nothing_before_the_error(
    extra: list[str], words: str, run_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # fails() checks: exit 2, one stderr line, and nothing at all on stdout (no tables).
    assert words in fails(["summary", str(run_file), *extra], capsys, run_file.parent)


@pytest.mark.parametrize("command", ["summary", "report"])
def test_load_failures_are_one_line(
    command: str, run_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = ["--out", str(tmp_path / "report")] if command == "report" else []
    not_ours = tmp_path / "table.nc"
    not_ours.write_text("Model,MMLU\na,0.5\n")
    altered = alter(run_file)
    truncated = tmp_path / "truncated.nc"
    truncated.write_bytes(run_file.read_bytes()[: run_file.stat().st_size // 2])
    empty = tmp_path / "empty.nc"
    empty.write_bytes(b"")
    cases = {
        str(tmp_path / "missing.nc"): "no such results file",
        str(not_ours): "not a bayes_scaling results file (not netCDF/HDF5",
        str(altered): "content hash mismatch",
        str(truncated): "damaged or truncated results file (cannot be read as netCDF/HDF5); "
        "refit or restore it",
        str(empty): "empty file",
    }
    for path, words in cases.items():
        line = fails([command, path, *extra], capsys, tmp_path)
        assert words in line and "Error)" not in line  # no bare exception class names
    line = fails([command, str(run_file), "--spec", "k3", *extra], capsys, tmp_path)
    assert "fitted with spec 'k1', not 'k3'" in line


# ------------------------------------------------------------------------------ report
def test_report_command(run_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "report"
    assert run(["report", str(run_file), "--out", str(out_dir)]) == 0
    assert capsys.readouterr().out.strip() == f"report: {out_dir / 'index.html'}"
    page = (out_dir / "index.html").read_text()
    pngs = sorted(out_dir.glob("*.png"))
    assert {"family_efficiency.png", "loadings.png", "capability_vs_compute.png",
            "predictive_check.png"} <= {p.name for p in pngs}  # fmt: skip
    assert page.count("data:image/png;base64,") == len(pngs)
    assert "http://" not in page and "https://" not in page and "<script" not in page
    for png in pngs:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["n_models"] == 30
    for name in ("capabilities.csv", "family_efficiency.csv", "loadings.csv"):
        assert (out_dir / name).stat().st_size > 0


# ------------------------------------------------------------------------------ demo
def test_demo(
    mocked_fit: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "demo"
    assert run(["demo", "--out", str(out_dir), "--draws", "20", "--chains", "2"]) == 0
    stdout = capsys.readouterr().out
    assert (out_dir / "RUN.nc").is_file() and (out_dir / "index.html").is_file()
    assert f"report:  {out_dir / 'index.html'}" in stdout
    (call,) = mocked_fit
    assert call["spec"] == "k3" and call["draws"] == 20 and call["chains"] == 2
    assert str(call["data"].attrs["source"]).startswith("base_llm")


@pytest.mark.parametrize("command", ["fit", "summary", "report", "demo"])
def test_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "Usage" in out and "Example" in out


# ------------------------------------------------------------------------------ real fit
@pytest.mark.sampling
def test_fit_end_to_end(
    tmp_path: Path, write_table: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    csv = write_table(to_wide(tiny_table()).to_csv(index=False), "tiny.csv")
    out = tmp_path / "e2e.nc"
    code = run(
        ["fit", str(csv), "--spec", "k1", "--draws", "100", "--tune", "100", "--chains", "2",
         "--seed", "3", "--out", str(out)]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    fit = FitResults.load(out, spec="k1")
    assert fit.posterior.sizes["chain"] == 2 and fit.posterior.sizes["draw"] == 100
    assert fit.data.sizes["model"] == 30 and fit.attrs["seed"] == 3
    assert fit.data.attrs["source"] == str(csv)


def test_fit_with_advi_says_approximate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A real (tiny) ADVI fit through the command: the table, a warning and the report say
    the posterior is approximate."""
    table = tmp_path / "tiny.csv"
    to_wide(tiny_table()).to_csv(table, index=False)
    out = tmp_path / "advi.nc"
    code = run(["fit", str(table), "--spec", "k1", "--sampler", "advi", "--draws", "50",
                "--out", str(out)])  # fmt: skip
    stdout, stderr = capsys.readouterr()
    assert code == 0, stderr
    assert "APPROXIMATE posterior (advi)" in stdout
    assert "warning: APPROXIMATE posterior (advi, not MCMC)" in stderr
    assert run(["report", str(out), "--out", str(tmp_path / "rep")]) == 0
    html = next((tmp_path / "rep").glob("*.html")).read_text()
    assert "APPROXIMATE: not MCMC" in html


# ------------------------------------------------------------------------------ --out, early
@pytest.mark.parametrize("command", ["fit", "report"])
def test_out_under_a_regular_file_is_refused_before_any_work(
    command: str,
    mocked_fit: list[dict[str, Any]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def no_load(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("read the results file before checking --out")

    monkeypatch.setattr(FitResults, "load", no_load)
    (tmp_path / "plain").write_text("a file")
    target = tmp_path / "plain" / ("k1.nc" if command == "fit" else "report")
    first = "base-llm" if command == "fit" else str(tmp_path / "plain")
    line = fails([command, first, "--out", str(target)], capsys, tmp_path)
    assert f"{tmp_path / 'plain'} is a file, not a folder" in line
    assert mocked_fit == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_fit_out_in_a_read_only_folder_is_refused_before_sampling(
    mocked_fit: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        line = fails(["fit", "base-llm", "--out", str(locked / "k1.nc")], capsys, tmp_path)
    finally:
        locked.chmod(0o700)
    assert "permission denied" in line and mocked_fit == []


# ------------------------------------------------------------------------------ progress
def wait_for_lines(n: int, prefix: str = "fit: ") -> None:
    """Work until the progress thread has printed ``n`` lines to the captured stderr."""
    deadline = time.monotonic() + 60
    while sum(ln.startswith(prefix) for ln in sys.stderr.getvalue().splitlines()) < n:  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, "no progress line within 60 s"
        time.sleep(0.01)


def progressing_fit(tiny_fit: FitResults) -> Callable[..., FitResults]:
    """A stand-in sampler that says what it does, as the estimator does, and takes time."""
    from bayes_scaling.progress import report

    def fake(self: CapabilityModel, data: xr.Dataset, targets: Any = None, **kw: Any):
        report("k1: tuning, 12/400 steps of 2 chains", 12, 400)
        wait_for_lines(2)
        return tiny_fit

    return fake


def test_fit_prints_plain_progress_lines_without_a_terminal(
    tiny_fit: FitResults,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("BAYES_SCALING_PROGRESS_INTERVAL", "0.05")
    monkeypatch.setattr(CapabilityModel, "fit", progressing_fit(tiny_fit))
    assert run(["fit", "base-llm", "--out", str(tmp_path / "r.nc")]) == 0
    stderr = capsys.readouterr().err
    lines = [ln for ln in stderr.splitlines() if ln.startswith("fit: ")]
    assert len(lines) >= 2, stderr
    assert re.fullmatch(r"fit: k1: tuning, 12/400 steps of 2 chains, \d+ s", lines[0])
    assert "\x1b[" not in stderr  # no bar, no colour codes in a log


def test_progress_interval_defaults_to_ten_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    from bayes_scaling.progress import Progress

    monkeypatch.delenv("BAYES_SCALING_PROGRESS_INTERVAL", raising=False)
    assert Progress("fit", stream=io.StringIO()).interval == 10.0


def test_forecast_shows_progress(
    tiny_fit: FitResults,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import pandas as pd

    from bayes_scaling.cli import forecast as cli_forecast
    from bayes_scaling.progress import report

    table = pd.DataFrame({"model": ["a"], "split": ["test"], "mean": [0.5]})

    def fake_forecast(*args: Any, **kwargs: Any) -> Any:
        report("k2: drawing, 800/1000 steps of 2 chains", 800, 1000)
        wait_for_lines(1, "forecast: ")
        return type("Result", (), {"table": table, "fit": tiny_fit})

    monkeypatch.setenv("BAYES_SCALING_PROGRESS_INTERVAL", "0.05")
    monkeypatch.setattr(cli_forecast, "forecast", fake_forecast)
    tests = tmp_path / "test.txt"
    tests.write_text("EleutherAI/pythia-12b-deduped\n")
    code = run(["forecast", "--benchmarks", "base-llm", "--test-models", str(tests),
                "--from", "compute", "--out", str(tmp_path / "p.csv")])  # fmt: skip
    stderr = capsys.readouterr().err
    assert code == 0, stderr
    assert re.search(r"^forecast: k2: drawing, 800/1000 steps of 2 chains, \d+ s$", stderr, re.M)


# ------------------------------------------------------------------------------ warnings
def test_warnings_are_one_line_each_and_printed_once(
    tiny_fit: FitResults,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A library's raw warning shows no file path; the sampler's convergence warning, which
    the fit emits and the command prints with its table, appears once."""

    def warning_fit(self: CapabilityModel, data: xr.Dataset, targets: Any = None, **kw: Any):
        for _ in range(2):
            warnings.warn("overflow encountered in exp\nsecond line", RuntimeWarning, stacklevel=1)
        tiny_fit.diagnostics.warn()  # what CapabilityModel.fit(warn=True) emits
        return tiny_fit

    monkeypatch.setattr(CapabilityModel, "fit", warning_fit)
    assert run(["fit", "base-llm", "--out", str(tmp_path / "r.nc")]) == 0
    stderr = capsys.readouterr().err
    said = [ln for ln in stderr.splitlines() if ln.startswith("warning: ")]
    assert "warning: overflow encountered in exp" in said
    assert any(ln.startswith("warning: R-hat > 1.01 for ") for ln in said)
    assert len(said) == len(set(said)), stderr  # nothing twice
    assert (
        ".py:" not in stderr and "RuntimeWarning" not in stderr and "SamplerWarning" not in stderr
    )
