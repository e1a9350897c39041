"""Fault injection: Ctrl-C (SIGINT) and SIGTERM at every moment of a command leave nothing.

Real fits run as subprocesses (``python -m bayes_scaling fit``) on a tiny table, all at
once, and are interrupted while compiling, tuning, drawing and saving: by the hook
``BAYES_SCALING_FAULT=PHASE:SIGNAL`` (the process signals itself as it enters the phase,
bayes_scaling.interrupts.fault_point), and twice by a signal from outside at a moment read
off its output. Each time: exit 130 (SIGINT) or 143 (SIGTERM), no traceback, one line saying
nothing was saved, the folder as it was (no new, partial or temporary file) and an earlier
results file byte-identical. The commands that write without sampling (report, forecast,
backtest's grid) are interrupted in-process with mocked or tiny work.

The subprocesses dominate the module's time: three compile and sample (tiny draws), three
stop before compiling.
"""

from __future__ import annotations

import concurrent.futures as cf
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import xarray as xr
from conftest import tiny_table

from bayes_scaling import interrupts
from bayes_scaling.cli import run
from bayes_scaling.data import to_wide
from bayes_scaling.errors import ResultsFileError
from bayes_scaling.estimator import CapabilityModel, FitResults
from bayes_scaling.grid import Task, run_grid, toy_worker

ROOT = Path(__file__).resolve().parents[1]
#: Bytes of "an earlier results file": the command must not read, move or rewrite it.
EARLIER = b"\x89HDF\r\n\x1a\n an earlier run, kept byte for byte"
#: Long enough that a phase lasts several progress callbacks (100 ms): the hook and the
#: outside signal end the run long before these counts are reached.
LONG = ["--tune", "400", "--draws", "20000"]
SHORT = ["--tune", "30", "--draws", "30"]


# ------------------------------------------------------------------ subprocess scenarios
#: name: (how to interrupt, signal, an earlier file at --out, sampling budget). ``hook:PHASE``
#: uses BAYES_SCALING_FAULT; ``after:TEXT`` sends the signal from outside once a stderr
#: line contains TEXT.
SCENARIOS: dict[str, tuple[str, signal.Signals, bool, list[str]]] = {
    "compiling-int-fresh": ("hook:compiling", signal.SIGINT, False, SHORT),
    "compiling-term-existing": ("hook:compiling", signal.SIGTERM, True, SHORT),
    "outside-int-early-existing": ("after:fitting spec", signal.SIGINT, True, SHORT),
    "outside-term-tuning-fresh": ("after:: tuning,", signal.SIGTERM, False, LONG),
    "drawing-int-existing": ("hook:drawing", signal.SIGINT, True, LONG),
    "saving-term-existing": ("hook:saving", signal.SIGTERM, True, SHORT),
}


def _launch(base: Path, csv: Path, name: str) -> dict[str, Any]:
    how, sig, existing, budget = SCENARIOS[name]
    folder = base / name
    folder.mkdir()
    out = folder / "run.nc"
    if existing:
        out.write_bytes(EARLIER)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "BAYES_SCALING_PROGRESS_INTERVAL": "0.2",
    }
    env.pop(interrupts.FAULT_ENV, None)
    kind, _, arg = how.partition(":")
    if kind == "hook":
        env[interrupts.FAULT_ENV] = f"{arg}:{sig.name[3:]}"
    argv = [sys.executable, "-m", "bayes_scaling", "fit", str(csv), "--spec", "k1",
            "--chains", "2", *budget, "--out", str(out)]  # fmt: skip
    start = time.monotonic()
    proc = subprocess.Popen(
        argv, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    err_lines: list[str] = []
    assert proc.stderr is not None
    if kind == "after":
        for line in proc.stderr:
            err_lines.append(line)
            if arg in line:
                proc.send_signal(sig)
                break
    try:
        stdout, rest = proc.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, rest = proc.communicate()
    return {
        "code": proc.returncode,
        "signal": sig,
        "out": out,
        "existing": existing,
        "stdout": stdout,
        "stderr": "".join(err_lines) + rest,
        "seconds": time.monotonic() - start,
    }


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Every scenario, run concurrently (most of the time is each process compiling)."""
    base = tmp_path_factory.mktemp("faults")
    csv = base / "tiny.csv"
    to_wide(tiny_table()).to_csv(csv, index=False)
    with cf.ThreadPoolExecutor(max_workers=len(SCENARIOS)) as pool:
        futures = {name: pool.submit(_launch, base, csv, name) for name in SCENARIOS}
        return {name: f.result() for name, f in futures.items()}


def listing(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*")}


@pytest.mark.sampling
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_interrupted_fit_saves_nothing(name: str, interrupted: dict[str, dict[str, Any]]) -> None:
    r = interrupted[name]
    out: Path = r["out"]
    told = f"stdout:\n{r['stdout']}\nstderr:\n{r['stderr']}"
    assert r["code"] == 128 + r["signal"], told
    assert "Traceback" not in r["stderr"], told
    assert r["stdout"] == "", told  # no diagnostics table: the run is not a result
    last = r["stderr"].strip().splitlines()[-1]
    state = "untouched" if r["existing"] else "not created"
    assert last == f"interrupted: nothing was saved ({out} {state})", told
    # Nothing new, partial or temporary beside the results file (nor anywhere below).
    assert listing(out.parent) == ({"run.nc"} if r["existing"] else set()), told
    if r["existing"]:
        assert out.read_bytes() == EARLIER


@pytest.mark.sampling
def test_runs_stopped_where_meant(interrupted: dict[str, dict[str, Any]]) -> None:
    """The progress lines (every 0.2 s here) show how far each run got."""
    assert ": tuning," not in interrupted["compiling-int-fresh"]["stderr"]
    assert ": tuning," in interrupted["outside-term-tuning-fresh"]["stderr"]
    assert "log-likelihood" in interrupted["saving-term-existing"]["stderr"]


# ------------------------------------------------------------------ in-process: other writers
@pytest.fixture
def fault(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Set the fault hook for an in-process ``run``; its handler turns the signal into
    ``Interrupted``, so pytest itself is never interrupted."""

    def set_fault(spec: str) -> None:
        monkeypatch.setenv(interrupts.FAULT_ENV, spec)

    yield set_fault


@pytest.mark.parametrize("sig", ["INT", "TERM"])
@pytest.mark.parametrize("existing", [False, True], ids=["fresh", "existing"])
def test_fit_interrupted_while_saving_in_process(
    sig: str,
    existing: bool,
    tiny_fit: FitResults,
    fault: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(CapabilityModel, "fit", lambda self, data, *a, **kw: tiny_fit)
    out = tmp_path / "run.nc"
    if existing:
        out.write_bytes(EARLIER)
    fault(f"saving:{sig}")
    code = run(["fit", "base-llm", "--spec", "k1", "--out", str(out)])
    stdout, stderr = capsys.readouterr()
    assert code == (130 if sig == "INT" else 143)
    assert stdout == "" and "Traceback" not in stderr
    state = "untouched" if existing else "not created"
    assert stderr.splitlines()[-1] == f"interrupted: nothing was saved ({out} {state})"
    assert listing(tmp_path) == ({"run.nc"} if existing else set())
    if existing:
        assert out.read_bytes() == EARLIER


def test_report_interrupted_leaves_the_old_report(
    tiny_fit: FitResults, fault: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_file = tiny_fit.save(tmp_path / "run.nc")
    out = tmp_path / "report"
    out.mkdir()
    (out / "index.html").write_text("earlier report")
    before = listing(tmp_path)
    fault("saving:TERM")  # the first file written into the staging folder
    assert run(["report", str(run_file), "--out", str(out)]) == 143
    stderr = capsys.readouterr().err
    assert stderr.splitlines()[-1] == f"interrupted: nothing was saved ({out} untouched)"
    assert listing(tmp_path) == before  # no staging folder left
    assert (out / "index.html").read_text() == "earlier report"


def test_forecast_interrupted_while_saving(
    fault: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bayes_scaling.cli import forecast as cli_forecast

    table = pd.DataFrame({"model": ["a"], "metric": ["m"], "mean": [0.5]})
    monkeypatch.setattr(cli_forecast, "forecast", lambda *a, **k: type("R", (), {"table": table}))
    tests = tmp_path / "test.txt"
    tests.write_text("EleutherAI/pythia-12b-deduped\n")
    out = tmp_path / "preds.csv"
    fault("saving:INT")
    code = run(["forecast", "--benchmarks", "base-llm", "--test-models", str(tests),
                "--from", "compute", "--out", str(out)])  # fmt: skip
    assert code == 130
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"interrupted: nothing was saved ({out} not created)"
    )
    assert listing(tmp_path) == {"test.txt"}


def interrupting_worker(task: Task) -> dict[str, float]:
    """A grid worker that is interrupted (as by Ctrl-C) at its third task."""
    if task.seed == 2:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)  # the handler raises here
    return toy_worker(task)


def test_grid_keeps_finished_cells_and_no_partial_one(tmp_path: Path) -> None:
    tasks = [Task("MMLU", "cutoff=1", "k1", seed=s) for s in range(4)]
    cache = tmp_path / "cache"
    with pytest.raises(interrupts.Interrupted), interrupts.cli_signals():
        run_grid(tasks, interrupting_worker, cache_dir=cache, scheduler="sync", progress=False)
    kept = sorted(p.name for p in cache.rglob("*") if p.is_file())
    assert len(kept) == 2 and all(not n.startswith(".") for n in kept)  # complete cells only
    # A rerun resumes: the two finished cells are read back, not recomputed.
    table = run_grid(tasks, toy_worker, cache_dir=cache, scheduler="sync", progress=False)
    assert list(table["status"]) == ["ok"] * 4


def test_grid_interrupted_while_writing_a_cell(fault: Any, tmp_path: Path) -> None:
    fault("saving:TERM")
    cache = tmp_path / "cache"
    with pytest.raises(interrupts.Interrupted), interrupts.cli_signals():
        run_grid([Task("MMLU", "cutoff=1", "k1", seed=0)], toy_worker, cache_dir=cache,
                 scheduler="sync", progress=False)  # fmt: skip
    assert listing(cache) == set()  # neither the cell nor its temporary file


#: Where test_grid_prints_plain_progress_without_a_terminal's lines go.
_LINES = io.StringIO()


def line_waiting_worker(task: Task) -> dict[str, float]:
    """Finish task ``seed`` only once a progress line has said ``seed`` tasks were done."""
    deadline = time.monotonic() + 60
    while f"backtest: {task.seed}/4 tasks done" not in _LINES.getvalue():
        assert time.monotonic() < deadline, _LINES.getvalue()
        time.sleep(0.01)
    return toy_worker(task)


def test_grid_prints_plain_progress_without_a_terminal(tmp_path: Path) -> None:
    """backtest's grid: its bar is off without a terminal, the plain lines say how far."""
    from bayes_scaling.progress import reporting

    tasks = [Task("MMLU", "cutoff=1", "k1", seed=s) for s in range(4)]
    with reporting("backtest", stream=_LINES, interactive=False, interval=0.02, bar=False):
        run_grid(tasks, line_waiting_worker, cache_dir=tmp_path, scheduler="sync", progress=False)
    lines = _LINES.getvalue().splitlines()
    assert lines[0].startswith("backtest: 0/4 tasks done (from the cache), ")
    assert any(ln.startswith("backtest: 3/4 tasks done (0 failed), ") for ln in lines)


# ------------------------------------------------------------------ partial results files
def _rewrite(fit: FitResults, posterior: xr.Dataset, path: Path) -> Path:
    tree = fit.tree.copy()
    tree["posterior"] = xr.DataTree(posterior)
    return FitResults(tree=tree, spec=fit.spec).save(path)  # a fresh, valid content hash


def test_loader_refuses_nan_padded_draws(tiny_fit: FitResults, tmp_path: Path) -> None:
    post = tiny_fit.posterior.copy(deep=True)
    for name, var in post.data_vars.items():
        if var.dtype.kind == "f":
            post[name] = var.where(~((var["chain"] == 1) & (var["draw"] >= 30)))
    path = _rewrite(tiny_fit, post, tmp_path / "padded.nc")
    with pytest.raises(
        ResultsFileError, match=r"an incomplete run \(20 of 100 draws are NaN padding\); refit it"
    ):
        FitResults.load(path)


def test_loader_refuses_fewer_draws_than_labelled(tiny_fit: FitResults, tmp_path: Path) -> None:
    path = _rewrite(tiny_fit, tiny_fit.posterior.isel(draw=slice(0, 20)), tmp_path / "short.nc")
    with pytest.raises(
        ResultsFileError, match=r"an incomplete run \(2 chains x 20 draws, not 2 x 50\); refit it"
    ):
        FitResults.load(path)


def test_summary_of_a_partial_file_is_one_line(
    tiny_fit: FitResults, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _rewrite(tiny_fit, tiny_fit.posterior.isel(draw=slice(0, 20)), tmp_path / "short.nc")
    assert run(["summary", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "incomplete run" in err
