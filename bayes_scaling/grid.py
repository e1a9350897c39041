"""Run grids of independent tasks on a local process pool or a Dask cluster, with a disk cache.

The model-agnostic execution engine behind backtests (:mod:`bayes_scaling.backtest`). A
:class:`Task` describes one independent job (one fit: target, split, spec, seed), a plain
top-level *worker* function ``fn(task) -> dict`` turns it into a row of metrics, and
:func:`run_grid` runs every task once, caches each finished row as JSON under a content hash
(:meth:`Task.key`) and returns one table row per task in input order. An interrupted run
resumes from the cache; a task that raises becomes a ``status="failed"`` row and the run
goes on. This module knows nothing about models: it imports no other module of the package
but the errors, atomic writes and the version, so spawned pool processes and Dask workers
load it quickly. See ``docs/backtests.md``.

Examples
--------
>>> import tempfile
>>> tasks = [Task("MMLU", "cutoff=1e23", "default", seed=s, params={"n_test": 5}) for s in (1, 2)]
>>> table = run_grid(tasks, toy_worker, cache_dir=tempfile.mkdtemp(), scheduler="sync",
...                  progress=False)
>>> list(table.columns[:6])
['target', 'split', 'spec', 'seed', 'status', 'error']
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import multiprocessing
import operator
import os
import pickle
import random
import signal
import sys
import threading
import time
import traceback
import uuid
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from bayes_scaling import __version__
from bayes_scaling.errors import BayesScalingError, ResultsFileError
from bayes_scaling.io import atomic_path, atomic_write_text
from bayes_scaling.progress import report as report_progress

if TYPE_CHECKING:  # pandas is imported lazily: spawned workers only need this module's code.
    import pandas as pd

__all__ = [
    "FIXED_COLUMNS",
    "Task",
    "WorkerFn",
    "default_code_version",
    "run_grid",
    "toy_worker",
    "write_table",
]

#: Columns every result table starts with, in this order; metric columns follow.
FIXED_COLUMNS: Final = ("target", "split", "spec", "seed", "status", "error")

#: Version of the cache-file layout; a file with another value is not ours.
CACHE_FORMAT: Final = 1

#: A metric value a worker may return (``None`` = missing, NaN in the table).
Metric = float | int | str | bool | None
#: The worker: a top-level, picklable function of one task.
WorkerFn = Callable[["Task"], Mapping[str, Metric]]

# One-line errors stay readable in a terminal and in a CSV cell.
_MAX_ERROR_CHARS: Final = 500


def _canonical_json(obj: Any) -> str:
    """Serialise ``obj`` to the one canonical JSON text used for hashing.

    Sorted keys, no whitespace, UTF-8 text, and NaN/Infinity refused (they are not JSON and
    would make the key depend on a Python-only extension).
    """
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


@dataclass(frozen=True, eq=True)
class Task:
    """One independent fit of a backtest.

    Parameters
    ----------
    target : str
        The downstream metric forecast (e.g. ``"MMLU"``).
    split : str
        How models are split into train and test (e.g. ``"cutoff=1e23"``, ``"lofo=Llama-2"``).
    spec : str
        Model spec name.
    seed : int
        Random seed; the worker must derive all randomness from it so that a task's result
        depends on the task alone (this is what makes local and Dask runs identical).
    params : mapping of str to JSON values, optional
        Everything else the worker needs (draws, data file name and its content hash, ...).
        Normalised through a JSON round trip (tuples become lists) and stored read-only, so
        the worker sees exactly what was hashed, whichever process it runs in.

    Raises
    ------
    TypeError
        If a field has the wrong type or ``params`` is not JSON-serialisable.

    Examples
    --------
    >>> t = Task("MMLU", "cutoff=1e23", "default", seed=0, params={"draws": 500})
    >>> t.params["draws"]
    500
    >>> t.key("v1") == Task("MMLU", "cutoff=1e23", "default", 0, {"draws": 500}).key("v1")
    True
    >>> t.key("v1") == t.key("v2")
    False
    """

    target: str
    split: str
    spec: str
    seed: int
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("target", "split", "spec"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"Task.{name} must be a str, got {getattr(self, name)!r}")
        if isinstance(self.seed, bool):
            raise TypeError(f"Task.seed must be an int, got {self.seed!r}")
        try:
            seed = operator.index(self.seed)  # accepts numpy integers, stores a plain int
        except TypeError:
            raise TypeError(f"Task.seed must be an int, got {self.seed!r}") from None
        if not isinstance(self.params, Mapping):
            raise TypeError(f"Task.params must be a mapping, got {type(self.params).__name__}")
        try:
            text = _canonical_json(dict(self.params))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"Task.params must be JSON-serialisable: {exc}") from None
        # frozen dataclass: normalised values go in through object.__setattr__.
        object.__setattr__(self, "seed", seed)
        object.__setattr__(self, "params", MappingProxyType(json.loads(text)))

    def __hash__(self) -> int:
        # The generated hash would fail on the params mapping; hash the canonical form.
        return hash(_canonical_json(self.to_dict()))

    def __reduce__(self) -> tuple[type[Task], tuple[str, str, str, int, dict[str, Any]]]:
        # MappingProxyType does not pickle; rebuild from a plain dict (process pool, Dask).
        return (Task, (self.target, self.split, self.spec, self.seed, dict(self.params)))

    def to_dict(self) -> dict[str, Any]:
        """Return the task as plain JSON values (the form hashed and stored in the cache).

        Examples
        --------
        >>> Task("MMLU", "lofo=Llama-2", "default", 3).to_dict()["split"]
        'lofo=Llama-2'
        """
        return {
            "target": self.target,
            "split": self.split,
            "spec": self.spec,
            "seed": self.seed,
            "params": json.loads(_canonical_json(dict(self.params))),
        }

    def key(self, code_version: str) -> str:
        """Return the cache key: sha256 of the canonical JSON of all fields and ``code_version``.

        Parameters
        ----------
        code_version : str
            Identifies the code that computes the result. Change it whenever the worker's
            results would change, so that stale cache entries are not reused.

        Returns
        -------
        str
            64 lowercase hex digits; stable across processes, machines and Python versions.

        Examples
        --------
        >>> len(Task("MMLU", "cutoff=1e23", "default", 0).key("v1"))
        64
        """
        payload = _canonical_json({"code_version": code_version, "task": self.to_dict()})
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    @property
    def label(self) -> str:
        """Short human-readable name used in messages.

        Examples
        --------
        >>> Task("MMLU", "cutoff=1e23", "default", 0).label
        'MMLU | cutoff=1e23 | default | seed=0'
        """
        return f"{self.target} | {self.split} | {self.spec} | seed={self.seed}"


# ---------------------------------------------------------------------------------------------
# Running one task (this part executes inside worker processes)
# ---------------------------------------------------------------------------------------------


def _one_line(exc: BaseException) -> str:
    """``"Type: message"`` with all whitespace collapsed, truncated for table cells."""
    text = " ".join(str(exc).split())
    line = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    if len(line) > _MAX_ERROR_CHARS:
        line = line[: _MAX_ERROR_CHARS - 3] + "..."
    return line


def _plain_metric(name: str, value: Any) -> Metric:
    """Return ``value`` as a plain JSON scalar or raise ``TypeError``.

    numpy scalars are unwrapped so workers may return them directly; anything else that is not
    a scalar is rejected here, in the worker, where the traceback points at the culprit.
    """
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        value = value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"metric {name!r} is a {type(value).__name__}, not a float, int or str")


def _validate_row(row: Any) -> dict[str, Metric]:
    if not isinstance(row, Mapping):
        raise TypeError(f"worker returned a {type(row).__name__}, not a dict of metrics")
    metrics: dict[str, Metric] = {}
    for name, value in row.items():
        if not isinstance(name, str):
            raise TypeError(f"worker returned a metric named {name!r}, not a str")
        if name in FIXED_COLUMNS:
            raise TypeError(f"worker returned a metric named {name!r}, a reserved column")
        metrics[name] = _plain_metric(name, value)
    return metrics


def _execute(fn: WorkerFn, task: Task) -> dict[str, Any]:
    """Run ``fn(task)`` and return an outcome record; never raises for errors of ``fn``.

    Exceptions are caught here, inside the worker, because not every exception pickles back
    to the parent; the record carries a one-line message and the full traceback as text.
    """
    start = time.perf_counter()
    # A worker's warnings travel back with its outcome: the parent reports them in the
    # command's one-line style (a worker process has no such routing of its own).
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            metrics = _validate_row(fn(task))
        except (Exception, SystemExit) as exc:  # a failing task must not stop the run
            return {
                "ok": False,
                "error": _one_line(exc),
                "traceback": traceback.format_exc(),
                "seconds": time.perf_counter() - start,
                "warnings": _messages(caught),
            }
    return {
        "ok": True,
        "metrics": metrics,
        "seconds": time.perf_counter() - start,
        "warnings": _messages(caught),
    }


def _messages(caught: list[warnings.WarningMessage]) -> list[str]:
    """First lines of caught warnings, each once, in order."""
    return list(dict.fromkeys(str(w.message).split("\n")[0] for w in caught))


class TaskWarning(UserWarning):
    """A warning raised while a grid task ran (in a worker), reported by the parent."""


def _lost_outcome(exc: BaseException, why: str) -> dict[str, Any]:
    """Outcome for a task whose worker never answered (crashed process, lost Dask worker)."""
    text = "".join(traceback.format_exception(exc))
    return {
        "ok": False,
        "error": f"{why}: {_one_line(exc)}"[:_MAX_ERROR_CHARS],
        "traceback": text,
        "seconds": float("nan"),
    }


# ---------------------------------------------------------------------------------------------
# The cache
# ---------------------------------------------------------------------------------------------


def _cache_file(cache_dir: Path, key: str) -> Path:
    return cache_dir / f"{key}.json"


def _failure_file(cache_dir: Path, key: str) -> Path:
    return cache_dir / "failed" / f"{key}.json"


def _read_cached(path: Path, task: Task, key: str) -> dict[str, Metric] | None:
    """Return the cached metrics of ``task``, ``None`` when not cached.

    A file that exists but is not a cache entry for this very task raises: it was edited or
    written by something else, and silently recomputing would hide that.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    hint = "delete it to recompute the task"
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsFileError(f"{path}: not valid JSON ({exc.msg}); {hint}") from None
    if not isinstance(record, dict) or record.get("format") != CACHE_FORMAT:
        raise ResultsFileError(
            f"{path}: not a backtest cache entry (format {CACHE_FORMAT}); {hint}"
        )
    if record.get("key") != key or record.get("task") != task.to_dict():
        raise ResultsFileError(f"{path}: holds another task than {task.label}; {hint}")
    metrics = record.get("metrics")
    if not isinstance(metrics, dict):
        raise ResultsFileError(f"{path}: has no metrics; {hint}")
    return metrics


def _write_success(
    cache_dir: Path,
    task: Task,
    key: str,
    code_version: str,
    worker: str,
    outcome: Mapping[str, Any],
) -> None:
    record = {
        "format": CACHE_FORMAT,
        "key": key,
        "code_version": code_version,
        "worker": worker,
        "task": task.to_dict(),
        # Not sorted: the metric order is the column order of the table, and a resumed run
        # must build the same table as an uninterrupted one.
        "metrics": outcome["metrics"],
        "seconds": outcome["seconds"],
    }
    # allow_nan: a metric may legitimately be NaN or -inf (e.g. lpd); Python reads it back.
    atomic_write_text(_cache_file(cache_dir, key), json.dumps(record, indent=1) + "\n")
    _failure_file(cache_dir, key).unlink(missing_ok=True)  # an old failure is now stale


def _write_failure(
    cache_dir: Path,
    task: Task,
    key: str,
    code_version: str,
    worker: str,
    outcome: Mapping[str, Any],
) -> Path:
    path = _failure_file(cache_dir, key)
    record = {
        "format": CACHE_FORMAT,
        "key": key,
        "code_version": code_version,
        "worker": worker,
        "task": task.to_dict(),
        "error": outcome["error"],
        "traceback": outcome["traceback"],
    }
    atomic_write_text(path, json.dumps(record, indent=1) + "\n")
    return path


# ---------------------------------------------------------------------------------------------
# Backends: each calls ``report(task, outcome)`` once per task, in completion order.
# ---------------------------------------------------------------------------------------------

Report = Callable[[Task, dict[str, Any]], None]


def _run_sync(todo: Sequence[Task], fn: WorkerFn, report: Report) -> None:
    for task in todo:
        report(task, _execute(fn, task))


def _run_local(todo: Sequence[Task], fn: WorkerFn, n_workers: int, report: Report) -> None:
    """Run on a spawn-context process pool, at most ``n_workers`` tasks in flight.

    Submitting lazily (rather than all tasks up front) bounds the damage of a crashed worker
    process: a crash breaks the whole pool, and only the tasks in flight at that moment are
    lost; they are reported failed, a fresh pool is started and the rest go on.
    """
    # spawn, not fork: PyMC/pytensor (compiled modules, threads, caches) is fragile under fork.
    context = multiprocessing.get_context("spawn")
    queue = deque(todo)
    in_flight: dict[cf.Future[dict[str, Any]], Task] = {}
    executor: cf.ProcessPoolExecutor | None = None
    try:
        while queue or in_flight:
            if executor is None:
                executor = cf.ProcessPoolExecutor(
                    max_workers=n_workers, mp_context=context, initializer=_init_worker
                )
            while queue and len(in_flight) < n_workers:
                task = queue.popleft()
                in_flight[executor.submit(_execute, fn, task)] = task
            done, _ = cf.wait(in_flight, return_when=cf.FIRST_COMPLETED)
            broken = False
            for future in done:
                task = in_flight.pop(future)
                try:
                    outcome = future.result()
                except cf.process.BrokenProcessPool as exc:
                    broken = True
                    outcome = _lost_outcome(
                        exc, "worker process died while running this task or one beside it"
                    )
                except Exception as exc:  # e.g. arguments that do not pickle: this task only
                    outcome = _lost_outcome(exc, "the process pool could not run this task")
                report(task, outcome)
            if broken:
                # Every other in-flight future fails too (or finished just before the crash).
                for future in cf.as_completed(list(in_flight)):
                    task = in_flight.pop(future)
                    try:
                        outcome = future.result()
                    except cf.process.BrokenProcessPool as exc:
                        outcome = _lost_outcome(
                            exc, "worker process died while running this task or one beside it"
                        )
                    report(task, outcome)
                executor.shutdown(wait=True)
                executor = None
    except BaseException as exc:
        if executor is not None and not isinstance(exc, Exception):
            # Ctrl-C or SIGTERM: the running tasks' results would be dropped anyway (only
            # finished cells are kept), so stop them now rather than wait for their fits.
            for process in list((getattr(executor, "_processes", None) or {}).values()):
                process.terminate()
        raise
    finally:
        if executor is not None:
            # On Ctrl-C or an error in report(): drop queued work, reap the processes.
            executor.shutdown(wait=True, cancel_futures=True)


def _init_worker() -> None:
    # Ctrl-C reaches every process of the terminal's group. The parent alone handles it
    # (it keeps the finished cells and stops the workers); a worker would print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A parent that dies without stopping its pool (SIGKILL; SIGTERM in a script that
    # installs no handler) leaves its workers running fits whose results nobody records,
    # each holding cores, until they end: a 4 x 4000 refit ran on for minutes after its
    # suite was stopped. Watch the parent and leave with it.
    threading.Thread(target=_exit_with_parent, daemon=True).start()


def _exit_with_parent() -> None:
    """End this process (no clean-up: its task is lost anyway) once its parent is gone.

    Waits on :func:`multiprocessing.parent_process`'s sentinel, a handle made before the
    spawn: it also sees a parent that died before this worker got here, which comparing
    ``os.getppid()`` with its value at start would miss (the orphan is re-parented by then).
    """
    parent = multiprocessing.parent_process()
    if parent is None:  # not a multiprocessing child: nothing to watch
        return
    parent.join()
    os._exit(1)


def _run_dask(todo: Sequence[Task], fn: WorkerFn, address: str, report: Report) -> None:
    """Submit every task to the Dask scheduler at ``address``; report as they complete."""
    from distributed import Client, as_completed

    try:
        client = Client(address, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise BayesScalingError(
            f"cannot reach the Dask scheduler at {address}: {_one_line(exc)}"
        ) from None
    with client:
        # pure=False: Dask must not deduplicate or reuse results by argument hash; the
        # engine already computes each key once and owns caching.
        futures = {client.submit(_execute, fn, task, pure=False): task for task in todo}
        # loop=: this client is not the process-wide default (set_as_default=False).
        for future in as_completed(futures, loop=client.loop):
            task = futures[future]
            try:
                outcome = future.result()
            except Exception as exc:  # KilledWorker, CancelledError, ...: only this task
                outcome = _lost_outcome(exc, "the Dask cluster could not run this task")
            future.release()  # free the result on the cluster as soon as it is on disk
            report(task, outcome)


# ---------------------------------------------------------------------------------------------
# Public entry points
# ---------------------------------------------------------------------------------------------


def _worker_name(fn: WorkerFn) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def default_code_version(fn: WorkerFn) -> str:
    """Return the ``code_version`` used when :func:`run_grid` is given none.

    The worker's qualified name and the package version: a different worker or a new release
    never reuses old cache entries. Pass an explicit ``code_version`` while developing a
    worker (e.g. a git commit), because edits between releases do not change this one.

    Examples
    --------
    >>> default_code_version(toy_worker).startswith("bayes_scaling.grid.toy_worker@")
    True
    """
    return f"{_worker_name(fn)}@{__version__}"


def _cpu_count() -> int:
    # process_cpu_count (3.13+) honours CPU affinity, e.g. in containers and under taskset.
    counter = getattr(os, "process_cpu_count", os.cpu_count)
    return counter() or 1


def run_grid(
    tasks: Iterable[Task],
    fn: WorkerFn,
    *,
    cache_dir: str | os.PathLike[str],
    scheduler: str | None = None,
    n_workers: int | None = None,
    progress: bool = True,
    code_version: str | None = None,
    on_result: Callable[[Task, Mapping[str, Metric] | None, str | None], None] | None = None,
) -> pd.DataFrame:
    """Run ``fn`` on every task, caching each row on disk, and return the table of results.

    Tasks whose cache file exists are not recomputed, so an interrupted run resumes. A task
    whose worker raises (or whose process dies) becomes a ``status="failed"`` row with a
    one-line ``error``; its traceback goes to ``cache_dir/failed/<key>.json`` and it is
    retried on the next run. Duplicate tasks are computed once.

    Parameters
    ----------
    tasks : iterable of Task
        The grid; the table has one row per task, in this order.
    fn : callable
        Top-level (picklable) function ``fn(task) -> dict`` of metric name to float, int or
        str; must derive all randomness from ``task.seed``. Metric names must not be one of
        :data:`FIXED_COLUMNS`.
    cache_dir : path-like
        Directory of the cache: ``<key>.json`` per successful task (see :meth:`Task.key`).
    scheduler : str, optional
        ``None``: a local process pool (spawn context). ``"sync"``: run in this process, one
        task after the other (for debugging with pdb). Otherwise the address of a Dask
        distributed scheduler, e.g. ``"tcp://127.0.0.1:8786"``; its workers must be able to
        import ``bayes_scaling`` and ``fn``'s module.
    n_workers : int, optional
        Processes of the local pool; default: the CPUs available to this process. Ignored by
        ``"sync"`` and Dask (the cluster decides). Lower it when one fit uses several cores.
    progress : bool, default True
        Show a progress bar on stderr. The one-line summary is printed either way.
    code_version : str, optional
        Part of every cache key; default :func:`default_code_version`.
    on_result : callable, optional
        Called in this process as each task ends, in completion order, with the task and
        its metrics (``None`` and the one-line error for a failed task); cached tasks are
        not reported. Lets a script print a line per task while the grid runs.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`FIXED_COLUMNS` (``status`` is ``"ok"`` or ``"failed"``, ``error`` is
        missing for ``"ok"``) then the metric columns in order of first appearance. The
        content depends only on the tasks and the worker: not on completion order, backend,
        or which rows came from the cache.

    Raises
    ------
    TypeError
        If a task is not a :class:`Task` or ``fn`` cannot be pickled for the process pool.
    ValueError
        If ``n_workers`` is below 1.
    ResultsFileError
        If a cache file exists but is not this task's entry (edited or foreign).
    BayesScalingError
        If the Dask scheduler cannot be reached.

    Examples
    --------
    >>> import tempfile
    >>> tasks = [Task("MMLU", f"cutoff={c}", "default", seed=0) for c in ("1e22", "1e23")]
    >>> table = run_grid(tasks, toy_worker, cache_dir=tempfile.mkdtemp(), scheduler="sync",
    ...                  progress=False)
    >>> table[["split", "status"]].values.tolist()
    [['cutoff=1e22', 'ok'], ['cutoff=1e23', 'ok']]
    """
    import pandas as pd
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    start = time.perf_counter()
    task_list = list(tasks)
    for task in task_list:
        if not isinstance(task, Task):
            raise TypeError(f"run_grid expects Task objects, got {type(task).__name__}")
    if n_workers is not None and n_workers < 1:
        raise ValueError(f"n_workers must be at least 1, got {n_workers}")
    if code_version is None:
        code_version = default_code_version(fn)
    worker = _worker_name(fn)
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)

    keys = [task.key(code_version) for task in task_list]
    unique: dict[str, Task] = dict(zip(keys, task_list, strict=True))  # duplicates: once
    metrics_of: dict[str, dict[str, Metric]] = {}
    errors: dict[str, str] = {}
    for key, task in unique.items():
        cached = _read_cached(_cache_file(cache, key), task, key)
        if cached is not None:
            metrics_of[key] = cached
    n_cached = len(metrics_of)
    todo = [task for key, task in unique.items() if key not in metrics_of]

    if todo and scheduler is None:
        # Fail before starting processes, not once per task inside the pool.
        try:
            pickle.dumps(fn)
        except Exception as exc:
            raise TypeError(
                f"the worker {worker} cannot be sent to worker processes "
                f"({_one_line(exc)}); define it at module top level"
            ) from None

    console = Console(stderr=True)
    bar = Progress(
        TextColumn("backtest"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[state]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not progress,
    )
    counts = {"done": 0, "failed": 0}
    bar_id = bar.add_task("backtest", total=len(unique), completed=n_cached, state="0 failed")

    def report(task: Task, outcome: dict[str, Any]) -> None:
        # Runs in this process for every backend, so the cache lives where the caller is
        # (Dask workers need not share its file system) and is written as each task ends.
        key = task.key(code_version)
        for message in outcome.pop("warnings", ()):
            warnings.warn(f"{task.label}: {message}", TaskWarning, stacklevel=2)
        if outcome["ok"]:
            _write_success(cache, task, key, code_version, worker, outcome)
            metrics_of[key] = outcome["metrics"]
            counts["done"] += 1
        else:
            path = _write_failure(cache, task, key, code_version, worker, outcome)
            errors[key] = outcome["error"]
            counts["failed"] += 1
            message = f"failed: {task.label}: {outcome['error']} (traceback: {path})"
            if progress:
                bar.console.print(message, markup=False, highlight=False, soft_wrap=True)
            else:
                print(message, file=sys.stderr)
        if on_result is not None:
            on_result(task, outcome.get("metrics"), outcome.get("error"))
        bar.update(bar_id, advance=1, state=f"{counts['failed']} failed")
        # The command's plain progress line when there is no terminal (bayes_scaling.progress).
        n_done = n_cached + counts["done"] + counts["failed"]
        report_progress(f"{n_done}/{len(unique)} tasks done ({counts['failed']} failed)")

    report_progress(f"{n_cached}/{len(unique)} tasks done (from the cache)")
    finished = False
    try:
        with bar:
            if todo and scheduler is None:
                n = min(n_workers or _cpu_count(), len(todo))
                _run_local(todo, fn, n, report)
            elif todo and scheduler == "sync":
                _run_sync(todo, fn, report)
            elif todo:
                _run_dask(todo, fn, scheduler, report)
        finished = True
    finally:
        # Also after Ctrl-C: says how much is safely in the cache for the next run.
        print(
            f"backtest{'' if finished else ' interrupted'}: {len(unique)} tasks: "
            f"{counts['done']} done, {n_cached} cached, {counts['failed']} failed "
            f"in {time.perf_counter() - start:.1f} s (cache: {cache})",
            file=sys.stderr,
        )

    rows: list[dict[str, Any]] = []
    for task, key in zip(task_list, keys, strict=True):
        row: dict[str, Any] = {
            "target": task.target,
            "split": task.split,
            "spec": task.spec,
            "seed": task.seed,
            "status": "failed" if key in errors else "ok",
            "error": errors.get(key),
        }
        row.update(metrics_of.get(key, {}))
        rows.append(row)
    return pd.DataFrame(rows, columns=_columns(rows))


def _columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Fixed columns, then metric names in order of first appearance (input order)."""
    names = dict.fromkeys(FIXED_COLUMNS)
    for row in rows:
        names.update(dict.fromkeys(row))
    return list(names)


def write_table(df: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write a result table to ``path`` as CSV, atomically (no index column).

    Parameters
    ----------
    df : pandas.DataFrame
        Typically the return value of :func:`run_grid`.
    path : path-like
        Destination; its directory is created if needed.

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "backtest.csv"
    >>> write_table(pd.DataFrame({"target": ["MMLU"], "mse": [0.01]}), out)
    >>> out.read_text().splitlines()
    ['target,mse', 'MMLU,0.01']
    """
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)


# ---------------------------------------------------------------------------------------------
# A stand-in worker for docs, tests and smoke checks
# ---------------------------------------------------------------------------------------------


def toy_worker(task: Task) -> dict[str, Metric]:
    """A deterministic stand-in for a fit: fake metrics from a generator seeded by the task.

    Used by the documentation, the engine's tests and smoke checks of a cluster; it fits
    nothing. Its knobs, read from ``task.params``:

    - ``n_test`` (int, default 10): echoed as the ``n_test`` metric.
    - ``sleep`` (float seconds): pretend to work (lets tests finish tasks out of order).
    - ``calls_dir`` (str): write one uniquely named marker file there per call, so tests can
      count calls made in other processes.
    - ``fail`` (str): raise ``ValueError`` with this message.
    - ``crash`` (bool): kill the worker process abruptly (``os._exit``), as an OOM kill would.
    - ``warn`` (str): emit a ``UserWarning`` with this message (as a fit's sampler warning).

    Parameters
    ----------
    task : Task
        The task; the metrics depend on its target, split, spec and seed only.

    Returns
    -------
    dict
        ``mse``, ``mae``, ``lpd``, ``coverage50``, ``coverage90`` (floats) and ``n_test``.

    Examples
    --------
    >>> row = toy_worker(Task("MMLU", "cutoff=1e23", "default", seed=1))
    >>> row == toy_worker(Task("MMLU", "cutoff=1e23", "default", seed=1))
    True
    >>> sorted(row)
    ['coverage50', 'coverage90', 'lpd', 'mae', 'mse', 'n_test']
    """
    params = task.params
    if params.get("calls_dir"):
        marker = Path(params["calls_dir"]) / f"{uuid.uuid4().hex}.call"
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(_canonical_json(task.to_dict()), encoding="utf-8")
    if params.get("sleep"):
        time.sleep(float(params["sleep"]))
    if params.get("crash"):
        os._exit(13)  # no cleanup, no exception: what the parent sees of a killed process
    if params.get("warn"):
        warnings.warn(str(params["warn"]), UserWarning, stacklevel=1)
    if params.get("fail"):
        raise ValueError(str(params["fail"]))
    # str seeds hash with sha512 inside random.Random: same numbers on every platform.
    rng = random.Random(f"{task.target}|{task.split}|{task.spec}|{task.seed}")
    mae = rng.uniform(0.01, 0.2)
    return {
        "mse": mae * mae * rng.uniform(1.0, 2.0),
        "mae": mae,
        "lpd": -rng.uniform(0.0, 3.0),
        "coverage50": rng.uniform(0.3, 0.7),
        "coverage90": rng.uniform(0.75, 1.0),
        "n_test": int(params.get("n_test", 10)),
    }
