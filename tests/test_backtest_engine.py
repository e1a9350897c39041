"""The grid engine (:mod:`bayes_scaling.grid`): keys, cache, resume, failures, pool vs Dask.

The worker is :func:`bayes_scaling.grid.toy_worker`: it lives in the package so that
spawned pool processes and Dask workers import it like any real worker. Calls made in other
processes are counted through the marker files it writes into ``params["calls_dir"]``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bayes_scaling.errors import BayesScalingError, ResultsFileError
from bayes_scaling.grid import (
    FIXED_COLUMNS,
    Task,
    TaskWarning,
    default_code_version,
    run_grid,
    toy_worker,
    write_table,
)

METRICS = ["mse", "mae", "lpd", "coverage50", "coverage90", "n_test"]


def grid(n: int, **params: Any) -> list[Task]:
    """``n`` distinct tasks over a few targets, splits and seeds."""
    targets, splits = ["MMLU", "GSM8K", "ARC-C"], ["cutoff=1e22", "cutoff=1e23", "lofo=Llama-2"]
    return [
        Task(targets[i % 3], splits[(i // 3) % 3], "default", seed=i, params=dict(params))
        for i in range(n)
    ]


def expected_table(tasks: list[Task]) -> pd.DataFrame:
    """Oracle: what the engine must return, built by calling the toy worker in this process.

    The knobs that change how a call behaves but not its metrics are dropped, so that the
    oracle writes no markers and does not sleep.
    """
    rows = []
    for task in tasks:
        quiet = Task(
            task.target,
            task.split,
            task.spec,
            task.seed,
            {k: v for k, v in task.params.items() if k == "n_test"},
        )
        rows.append(
            {
                "target": task.target,
                "split": task.split,
                "spec": task.spec,
                "seed": task.seed,
                "status": "ok",
                "error": None,
                **toy_worker(quiet),
            }
        )
    return pd.DataFrame(rows, columns=[*FIXED_COLUMNS, *METRICS])


def calls(calls_dir: Path) -> Counter[tuple[str, str, str, int]]:
    """Number of worker calls per task, from the marker files (one per call)."""
    counter: Counter[tuple[str, str, str, int]] = Counter()
    for marker in calls_dir.glob("*.call"):
        t = json.loads(marker.read_text())
        counter[(t["target"], t["split"], t["spec"], t["seed"])] += 1
    return counter


def ident(task: Task) -> tuple[str, str, str, int]:
    return (task.target, task.split, task.spec, task.seed)


def cache_entries(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.glob("*.json"))


# ---------------------------------------------------------------------------------------------
# Task and its key
# ---------------------------------------------------------------------------------------------


def test_key_is_sha256_of_canonical_json_and_pinned() -> None:
    task = Task(
        "MMLU", "cutoff=1e23", "default", 7, {"sha256": "abc", "draws": 500, "data": "base.csv"}
    )
    canonical = (
        '{"code_version":"v1","task":{"params":{"data":"base.csv","draws":500,"sha256":"abc"},'
        '"seed":7,"spec":"default","split":"cutoff=1e23","target":"MMLU"}}'
    )
    assert task.key("v1") == hashlib.sha256(canonical.encode()).hexdigest()
    # Pinned: changing the canonical form silently invalidates every existing cache.
    assert task.key("v1") == "c5b2ffebeaae7a60d3face46f5a79a79a032e1fae6b4a0b03d37c237eaae7f1e"


def test_key_ignores_dict_order_and_sees_every_field() -> None:
    base = Task("MMLU", "cutoff=1e23", "default", 0, {"a": 1, "b": [1, 2]})
    assert base.key("v") == Task("MMLU", "cutoff=1e23", "default", 0, {"b": (1, 2), "a": 1}).key(
        "v"
    )
    variants = [
        Task("GSM8K", "cutoff=1e23", "default", 0, {"a": 1, "b": [1, 2]}),
        Task("MMLU", "cutoff=1e22", "default", 0, {"a": 1, "b": [1, 2]}),
        Task("MMLU", "cutoff=1e23", "other", 0, {"a": 1, "b": [1, 2]}),
        Task("MMLU", "cutoff=1e23", "default", 1, {"a": 1, "b": [1, 2]}),
        Task("MMLU", "cutoff=1e23", "default", 0, {"a": 2, "b": [1, 2]}),
    ]
    keys = {base.key("v"), base.key("w"), *(t.key("v") for t in variants)}
    assert len(keys) == 2 + len(variants)


def test_task_is_frozen_hashable_picklable_and_validated() -> None:
    task = Task("MMLU", "cutoff=1e23", "default", np.int64(3), {"draws": 10, "xs": (1, 2)})
    assert type(task.seed) is int and task.params["xs"] == [1, 2]
    assert pickle.loads(pickle.dumps(task)) == task
    assert pickle.loads(pickle.dumps(task)).key("v") == task.key("v")
    assert {task: 1}[Task("MMLU", "cutoff=1e23", "default", 3, {"xs": [1, 2], "draws": 10})]
    with pytest.raises(TypeError):
        task.params["draws"] = 20  # type: ignore[index]
    with pytest.raises(AttributeError):
        task.seed = 4  # type: ignore[misc]
    with pytest.raises(TypeError, match="JSON"):
        Task("MMLU", "s", "default", 0, {"f": object()})
    with pytest.raises(TypeError, match="JSON"):
        Task("MMLU", "s", "default", 0, {"x": math.nan})
    with pytest.raises(TypeError, match="seed"):
        Task("MMLU", "s", "default", 1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="target"):
        Task(None, "s", "default", 1)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Local process pool
# ---------------------------------------------------------------------------------------------


def test_local_pool_returns_rows_in_input_order(tmp_path: Path) -> None:
    # Earlier tasks sleep longer, so they finish after later ones.
    tasks = [
        Task(t.target, t.split, t.spec, t.seed, {"sleep": 0.05 * (6 - i), "n_test": i + 1})
        for i, t in enumerate(grid(6))
    ]
    table = run_grid(tasks, toy_worker, cache_dir=tmp_path / "cache", n_workers=2, progress=False)
    pd.testing.assert_frame_equal(table, expected_table(tasks), check_exact=True)
    assert table["n_test"].tolist() == [1, 2, 3, 4, 5, 6]


def test_second_run_recomputes_nothing(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    tasks = grid(6, calls_dir=str(tmp_path / "calls"))
    cache = tmp_path / "cache"
    first = run_grid(tasks, toy_worker, cache_dir=cache, n_workers=2, progress=False)
    assert calls(tmp_path / "calls") == Counter({ident(t): 1 for t in tasks})
    entries = cache_entries(cache)
    assert len(entries) == 6 and not list(cache.glob(".*"))  # no temporary files left
    assert all(json.loads(p.read_text())["metrics"]["n_test"] == 10 for p in entries)
    capfd.readouterr()

    second = run_grid(tasks, toy_worker, cache_dir=cache, n_workers=2, progress=False)
    assert calls(tmp_path / "calls") == Counter({ident(t): 1 for t in tasks})
    pd.testing.assert_frame_equal(second, first, check_exact=True)
    assert "6 tasks: 0 done, 6 cached, 0 failed" in capfd.readouterr().err

    # Another code version is another key: everything is computed again.
    run_grid(tasks, toy_worker, cache_dir=cache, n_workers=2, progress=False, code_version="v2")
    assert calls(tmp_path / "calls") == Counter({ident(t): 2 for t in tasks})


def test_resume_after_half_the_cache_is_populated(tmp_path: Path) -> None:
    tasks = grid(8, calls_dir=str(tmp_path / "calls"))
    cache = tmp_path / "cache"
    run_grid(tasks[::2], toy_worker, cache_dir=cache, scheduler="sync", progress=False)
    assert len(cache_entries(cache)) == 4

    table = run_grid(tasks, toy_worker, cache_dir=cache, n_workers=2, progress=False)
    assert calls(tmp_path / "calls") == Counter({ident(t): 1 for t in tasks})
    pd.testing.assert_frame_equal(table, expected_table(tasks), check_exact=True)


def test_resume_after_the_run_is_killed(tmp_path: Path) -> None:
    tasks = grid(8, calls_dir=str(tmp_path / "calls"), sleep=0.3)
    cache = tmp_path / "cache"
    script = textwrap.dedent(f"""
        from bayes_scaling.grid import Task, run_grid, toy_worker
        tasks = [Task(**d) for d in {[t.to_dict() for t in tasks]!r}]
        if __name__ == "__main__":
            run_grid(tasks, toy_worker, cache_dir={str(cache)!r}, n_workers=1, progress=False)
    """)
    (tmp_path / "run.py").write_text(script)
    # Own session: the kill reaches the pool's processes too, as a Ctrl-\\ or OOM would.
    proc = subprocess.Popen(
        [sys.executable, str(tmp_path / "run.py")],
        start_new_session=True,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while len(cache_entries(cache)) < 3:
            assert proc.poll() is None, "the run ended before it could be interrupted"
            assert time.monotonic() < deadline, "the run made no progress"
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    survivors = {json.loads(p.read_text())["task"]["seed"] for p in cache_entries(cache)}
    assert 3 <= len(survivors) < len(tasks)

    table = run_grid(tasks, toy_worker, cache_dir=cache, n_workers=2, progress=False)
    pd.testing.assert_frame_equal(table, expected_table(tasks), check_exact=True)
    counts = calls(tmp_path / "calls")
    for task in tasks:
        # Cached before the kill: never computed again; the rest: at least once.
        assert counts[ident(task)] == 1 if task.seed in survivors else counts[ident(task)] >= 1
    assert counts.total() <= len(tasks) + 1  # at most the one task in flight is redone


def _stat(proc_dir: Path) -> list[str]:
    """Fields of ``/proc/PID/stat`` after the command name: state, parent pid, ...; [] if gone."""
    try:
        return (proc_dir / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def _children(pid: int) -> list[int]:
    """Pool workers started by ``pid`` (Linux /proc), not its resource tracker."""
    found = []
    for proc_dir in Path("/proc").glob("[0-9]*"):
        fields = _stat(proc_dir)
        if fields and int(fields[1]) == pid:
            try:
                if b"spawn_main" in (proc_dir / "cmdline").read_bytes():
                    found.append(int(proc_dir.name))
            except OSError:
                continue
    return found


def _running(pid: int) -> bool:
    fields = _stat(Path(f"/proc/{pid}"))
    return bool(fields) and fields[0] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("when", ["running", "starting"])
def test_pool_workers_leave_with_a_killed_parent(when: str, tmp_path: Path) -> None:
    # SIGKILL gives the parent no chance to stop its pool. Without a watch on the parent, the
    # workers would run their tasks to the end (here a minute) for nobody. "starting": the
    # parent dies while its workers still import the main module (made slow here), before
    # their initializer runs: they must still see it gone.
    tasks = grid(2, calls_dir=str(tmp_path / "calls"), sleep=60)
    script = textwrap.dedent(f"""
        import time
        from bayes_scaling.grid import Task, run_grid, toy_worker
        if __name__ == "__mp_main__" and {when == "starting"!r}:
            time.sleep(3)
        tasks = [Task(**d) for d in {[t.to_dict() for t in tasks]!r}]
        if __name__ == "__main__":
            run_grid(tasks, toy_worker, cache_dir={str(tmp_path / "cache")!r}, n_workers=2,
                     progress=False)
    """)
    (tmp_path / "run.py").write_text(script)
    proc = subprocess.Popen([sys.executable, str(tmp_path / "run.py")], stderr=subprocess.DEVNULL)
    workers: list[int] = []
    gone = False

    def ready() -> bool:  # "starting": both workers exist; "running": both run a task
        if when == "starting":
            return len(_children(proc.pid)) == 2
        return len(calls(tmp_path / "calls")) == 2

    try:
        deadline = time.monotonic() + 60
        while not ready():
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "the workers never started"
            time.sleep(0.02)
        workers = _children(proc.pid)
        assert len(workers) == 2
        proc.kill()
        proc.wait(timeout=30)
        deadline = time.monotonic() + 15
        while any(_running(w) for w in workers):
            assert time.monotonic() < deadline, "a worker outlived its killed parent"
            time.sleep(0.1)
        gone = True
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        if not gone:  # only orphans of this test: a pid read as running just now
            for w in filter(_running, workers):
                os.kill(w, signal.SIGKILL)
    assert not list((tmp_path / "cache").glob("*.json"))  # nothing half-done was recorded


def test_failing_task_is_reported_and_the_rest_succeed(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    calls_dir = str(tmp_path / "calls")
    tasks = grid(5, calls_dir=calls_dir)
    bad = Task(
        "MMLU",
        "cutoff=1e23",
        "default",
        99,
        {"calls_dir": calls_dir, "fail": "no test models\n  after the cutoff"},
    )
    tasks.insert(2, bad)
    cache = tmp_path / "cache"
    table = run_grid(tasks, toy_worker, cache_dir=cache, n_workers=2, progress=True)

    assert table["status"].tolist() == ["ok", "ok", "failed", "ok", "ok", "ok"]
    assert table.loc[2, "error"] == "ValueError: no test models after the cutoff"
    assert table.loc[2, METRICS].isna().all()
    good = table.drop(index=2).reset_index(drop=True)
    oracle = expected_table([t for t in tasks if t is not bad])
    pd.testing.assert_frame_equal(
        good[list(oracle.columns)].astype(oracle.dtypes), oracle, check_exact=True
    )
    err = capfd.readouterr().err
    assert "6 tasks: 5 done, 0 cached, 1 failed" in err
    assert "ValueError: no test models after the cutoff" in err

    # Not cached as a success; its traceback is kept aside; the next run retries it only.
    key = bad.key(default_code_version(toy_worker))
    assert not (cache / f"{key}.json").exists()
    assert (
        "raise ValueError"
        in json.loads((cache / "failed" / f"{key}.json").read_text())["traceback"]
    )
    again = run_grid(tasks, toy_worker, cache_dir=cache, n_workers=2, progress=False)
    pd.testing.assert_frame_equal(again, table, check_exact=True)
    assert calls(tmp_path / "calls") == Counter({ident(t): 2 if t is bad else 1 for t in tasks})


def test_crashed_worker_process_fails_only_its_task(tmp_path: Path) -> None:
    tasks = grid(4)
    crash = Task("GSM8K", "lofo=Llama-2", "default", 42, {"crash": True})
    tasks.insert(1, crash)
    # One worker: the crash takes down exactly one task in flight; the pool is restarted.
    table = run_grid(tasks, toy_worker, cache_dir=tmp_path, n_workers=1, progress=False)
    assert table["status"].tolist() == ["ok", "failed", "ok", "ok", "ok"]
    assert table.loc[1, "error"].startswith("worker process died")
    assert len(cache_entries(tmp_path)) == 4


# ---------------------------------------------------------------------------------------------
# Dask
# ---------------------------------------------------------------------------------------------


def test_dask_cluster_gives_the_local_table_exactly(tmp_path: Path) -> None:
    from distributed import LocalCluster

    tasks = grid(7, n_test=3)
    tasks.insert(3, Task("ARC-C", "cutoff=1e22", "default", 5, {"fail": "diverged"}))
    tasks.append(tasks[0])  # a duplicate row is computed once and reported twice
    local = run_grid(tasks, toy_worker, cache_dir=tmp_path / "local", n_workers=2, progress=False)
    sync = run_grid(
        tasks, toy_worker, cache_dir=tmp_path / "sync", scheduler="sync", progress=False
    )
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        dask = run_grid(
            tasks,
            toy_worker,
            cache_dir=tmp_path / "dask",
            scheduler=cluster.scheduler_address,
            progress=False,
        )

    pd.testing.assert_frame_equal(dask, local, check_exact=True)
    pd.testing.assert_frame_equal(sync, local, check_exact=True)
    assert local["status"].tolist().count("failed") == 1
    assert local.iloc[-1].equals(local.iloc[0])
    # Same keys whichever backend wrote them: a Dask cache resumes locally.
    assert [p.name for p in cache_entries(tmp_path / "dask")] == [
        p.name for p in cache_entries(tmp_path / "local")
    ]


def test_unreachable_dask_scheduler_is_a_user_error(tmp_path: Path) -> None:
    import socket

    import dask

    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(BayesScalingError, match="cannot reach the Dask scheduler"):
            run_grid(
                grid(1),
                toy_worker,
                cache_dir=tmp_path,
                scheduler=f"tcp://127.0.0.1:{port}",
                progress=False,
            )


# ---------------------------------------------------------------------------------------------
# Contracts on workers, cache files and the table writer (in-process: scheduler="sync")
# ---------------------------------------------------------------------------------------------


def returns_a_list(task: Task) -> Any:
    return [1.0]


def returns_reserved_name(task: Task) -> dict[str, Any]:
    return {"status": "great"}


def returns_numpy(task: Task) -> dict[str, Any]:
    return {"mse": np.float32(0.5), "n_test": np.int64(4), "lpd": -math.inf}


@pytest.mark.parametrize(
    ("worker", "message"),
    [(returns_a_list, "not a dict of metrics"), (returns_reserved_name, "reserved column")],
)
def test_malformed_worker_rows_fail_the_task(tmp_path: Path, worker: Any, message: str) -> None:
    table = run_grid(grid(2), worker, cache_dir=tmp_path, scheduler="sync", progress=False)
    assert table["status"].tolist() == ["failed", "failed"]
    assert table["error"].str.contains(message).all()
    assert cache_entries(tmp_path) == []


def test_numpy_and_non_finite_metrics_survive_the_cache(tmp_path: Path) -> None:
    fresh = run_grid(grid(2), returns_numpy, cache_dir=tmp_path, scheduler="sync", progress=False)
    cached = run_grid(grid(2), returns_numpy, cache_dir=tmp_path, scheduler="sync", progress=False)
    pd.testing.assert_frame_equal(cached, fresh, check_exact=True)
    assert fresh["n_test"].tolist() == [4, 4] and fresh["lpd"].tolist() == [-math.inf] * 2


def test_a_tampered_cache_file_is_refused(tmp_path: Path) -> None:
    tasks = grid(2)
    run_grid(tasks, toy_worker, cache_dir=tmp_path, scheduler="sync", progress=False)
    entry = tmp_path / f"{tasks[1].key(default_code_version(toy_worker))}.json"
    record = json.loads(entry.read_text())
    record["task"]["seed"] = 12345
    entry.write_text(json.dumps(record))
    with pytest.raises(ResultsFileError, match="another task"):
        run_grid(tasks, toy_worker, cache_dir=tmp_path, scheduler="sync", progress=False)
    entry.write_text("{ half a file")
    with pytest.raises(ResultsFileError, match="not valid JSON"):
        run_grid(tasks, toy_worker, cache_dir=tmp_path, scheduler="sync", progress=False)


def test_bad_arguments_are_refused_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="cannot be sent to worker processes"):
        run_grid(grid(1), lambda task: {"mse": 0.0}, cache_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="n_workers"):
        run_grid(grid(1), toy_worker, cache_dir=tmp_path, n_workers=0, progress=False)
    with pytest.raises(TypeError, match="Task objects"):
        run_grid([("MMLU", "s", "default", 0)], toy_worker, cache_dir=tmp_path)  # type: ignore[list-item]
    assert cache_entries(tmp_path) == []


def test_empty_grid_gives_an_empty_table(tmp_path: Path) -> None:
    table = run_grid([], toy_worker, cache_dir=tmp_path, progress=False)
    assert list(table.columns) == list(FIXED_COLUMNS) and len(table) == 0


def test_write_table_round_trips_atomically(tmp_path: Path) -> None:
    tasks = grid(3)
    table = run_grid(
        tasks, toy_worker, cache_dir=tmp_path / "cache", scheduler="sync", progress=False
    )
    out = tmp_path / "out" / "backtest.csv"
    write_table(table, out)
    assert [p.name for p in out.parent.iterdir()] == ["backtest.csv"]
    back = pd.read_csv(out)
    assert list(back.columns) == list(table.columns)
    np.testing.assert_array_equal(back["mse"].to_numpy(), table["mse"].to_numpy())
    assert back["split"].tolist() == table["split"].tolist()


def test_worker_warnings_come_back_to_the_parent_once(tmp_path: Path) -> None:
    """A worker process's warning reaches the caller as a TaskWarning naming the task."""
    tasks = [
        Task(t.target, t.split, t.spec, t.seed, {"warn": "R-hat > 1.01 for beta\ndetails"})
        for t in grid(2)
    ]
    with pytest.warns(TaskWarning) as record:
        run_grid(tasks, toy_worker, cache_dir=tmp_path / "cache", n_workers=2, progress=False)
    messages = sorted(str(w.message) for w in record if w.category is TaskWarning)
    assert messages == sorted(f"{t.label}: R-hat > 1.01 for beta" for t in tasks)
