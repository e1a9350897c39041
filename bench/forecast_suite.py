"""The broad backtest suite (issue 16): held-out forecasts against the least-squares baseline.

Tasks are made only from the bundled tables. Every target column of the ``emergent``,
``post-training`` (raw columns: each ``,norm`` column is an exact affine transform of a
raw one, so it would be the same task twice) and ``agent`` tables, and each benchmark of
``base-llm`` held out as a target in turn, is forecast on one split, from the benchmarks
or from compute. The eight (split, route) pairs are:

* ``compute-top=0.2`` / ``compute-top=0.4``: the largest-compute 20% / 40% of the models
  with the target held out;
* ``target-top=0.1``: the best 10% by the target held out;
* ``lofo-smallest=<family>``: one family left out but for its smallest model (Sloth);

each with ``--from benchmarks`` (the held-out models' benchmark scores stay in the fit) and
``--from compute`` (they are hidden too). A table's columns take the pairs in turn, in
table order (:func:`catalogue`), skipping a pair the column cannot support (fewer than
:data:`MIN_TRAIN` training models with the target, no held-out model with it, no family
to leave out); a ``lofo-smallest`` task leaves out the eligible family picked by a hash of
the column. Each task runs with two seeds. A column with more than
:data:`~bayes_scaling.forecast.SCORING_FAILURE_SHARE` of its values at or below its
declared floor (:func:`scoring_failures`: BBH few-shot with strict answer extraction, where
71 to 74 of 75 models score 0 on two- to 18-way tasks, and 73 of 75 on two tasks without a
guessing floor) measures the answer format, not a capability, and is left out; it keeps
its place in the order, so the other tasks are unchanged.

The tasks are split once into a development half and a held-back half by a hash of the
task id (:func:`half_of`); the rule and the held-back ids are in docs/forecasts.md
("Backtest suite"). ``--half heldback`` is refused without ``--i-am-done-tuning``.

Scores (:func:`bayes_scaling.backtest.suite_worker`), per task and pooled: MSE against the
baseline's on the same split, 50% / 90% coverage, log score, CRPS and PIT of the model and
of the baseline's Gaussian predictive (its training residual sd on the normalised scale).

Run (resumable: finished fits are cached under ``--out``; local pool or Dask)::

    nice -n 5 python bench/forecast_suite.py --half dev --out runs/suite-dev
    python bench/forecast_suite.py --list                 # the tasks and their halves
    python bench/forecast_suite.py --half dev --out runs/suite-dev --status   # finished so far
    python bench/forecast_suite.py --half dev --out runs/x --scheduler tcp://127.0.0.1:8786

Output under ``--out``: ``suite.csv`` (one row per task and seed), ``summary.json``,
``pit.csv`` and ``pit.png`` (pooled PIT histograms), ``breakdown.csv`` (the pooled scores
per table, kind of split and route, :func:`breakdown`). It prints one line per finished
fit, a pooled summary line and the breakdown.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from bayes_scaling import __version__
from bayes_scaling.backtest import (
    SUITE_METRICS,
    Task,
    data_digest,
    load_benchmarks,
    run_grid,
    suite_worker,
    write_table,
)
from bayes_scaling.errors import BayesScalingError
from bayes_scaling.estimator import DEFAULT_DRAWS, DEFAULT_TUNE
from bayes_scaling.evaluation import PIT_BINS, BaselineComparison, compare_to_baseline
from bayes_scaling.forecast import SCORING_FAILURE_SHARE, floor_share
from bayes_scaling.interrupts import Interrupted, cli_signals
from bayes_scaling.io import atomic_path, atomic_write_text
from bayes_scaling.splits import eligible_lofo_families, split_test_models

ROOT = Path(__file__).resolve().parents[1]

#: Target tables and the benchmark table that holds their models' family and compute.
TABLES: Final = (
    ("emergent", "base-llm"),
    ("post-training", "base-llm"),
    ("agent", "instruct-llm"),
    ("base-llm", "base-llm"),
)
#: The (split, route) pairs, in the order a table's columns take them.
PAIRS: Final = tuple(
    (split, route)
    for split in ("compute-top=0.2", "compute-top=0.4", "target-top=0.1", "lofo-smallest")
    for route in ("benchmarks", "compute")
)
SEEDS: Final = (0, 1)
#: Fewest training models with the target a task may have (the baseline's sigmoid on three
#: components has four parameters).
MIN_TRAIN: Final = 6
HALVES: Final = ("dev", "heldback")


@dataclass(frozen=True)
class SuiteTask:
    """One task of the suite: a target column, a split and a route (seeds run inside)."""

    table: str
    benchmarks: str
    column: str
    split: str
    route: str

    @property
    def task_id(self) -> str:
        """Stable id: what the half is hashed from and what docs/forecasts.md lists."""
        return f"{self.table}/{self.column} | {self.split} | {self.route}"

    @property
    def half(self) -> str:
        """``"dev"`` or ``"heldback"`` (:func:`half_of`)."""
        return half_of(self.task_id)


def half_of(task_id: str) -> str:
    """The half of a task: held back when the sha256 of its id, as an integer, is odd.

    Fixed once (issue 16), before any model was measured on the suite: never change it.

    Examples
    --------
    >>> half_of("agent/ABench-OA | compute-top=0.2 | benchmarks")
    'dev'
    """
    digest = hashlib.sha256(task_id.encode("utf-8")).hexdigest()
    return "heldback" if int(digest, 16) % 2 else "dev"


@functools.cache
def _bench(name: str) -> Any:
    return load_benchmarks(name)


@functools.cache
def _raw_columns(table: str) -> dict[str, tuple[pd.Series, float]]:
    """Every target column of a bundled table (``,norm`` left out) in its raw units, with
    its declared floor in the same units (what :func:`~bayes_scaling.backtest.read_metric`
    returns, from one load of the table instead of one per column)."""
    ds = _bench(table)
    models = [str(m) for m in ds["model"].to_numpy()]
    out = {}
    for column in map(str, ds["benchmark"].to_numpy()):
        if column.endswith(",norm"):
            continue
        col = ds.sel(benchmark=column)
        lower, upper = float(col["lower"]), float(col["upper"])
        raw = lower + col["score"].to_numpy() * (upper - lower)
        floor = lower + float(col["floor"]) * (upper - lower)
        out[column] = (pd.Series(raw, index=models, name=column), floor)
    return out


def target_values(table: str) -> dict[str, pd.Series]:
    """Raw values of every target column of a bundled table (``,norm`` columns left out).

    The same Series :func:`bayes_scaling.backtest.read_metric` returns (the worker checks
    its content hash).
    """
    return {column: values for column, (values, _) in _raw_columns(table).items()}


@functools.cache
def scoring_failures(table: str) -> tuple[str, ...]:
    """Columns of a bundled table that are scoring failures, not capabilities.

    More than :data:`~bayes_scaling.forecast.SCORING_FAILURE_SHARE` of the column's values
    lie at or below its declared floor (:func:`~bayes_scaling.forecast.floor_share`), the
    rule under which ``forecast`` warns. Decided from the data alone, for both halves.
    """
    return tuple(
        column
        for column, (values, floor) in _raw_columns(table).items()
        if floor_share(values, floor) > SCORING_FAILURE_SHARE
    )


def _feasible(bench: Any, values: pd.Series, split: str, route: str) -> bool:
    try:
        data, test = split_test_models(bench, split, route, values)
    except BayesScalingError:
        return False
    models = {str(m) for m in data["model"].to_numpy()}
    has = {str(m) for m, v in values.items() if np.isfinite(v) and str(m) in models}
    held = has & set(test)
    return bool(held) and len(has - set(test)) >= MIN_TRAIN


def _column_hash(table: str, column: str) -> int:
    return int(hashlib.sha256(f"{table}/{column}".encode()).hexdigest(), 16)


def catalogue() -> list[SuiteTask]:
    """Every task of the suite, in table and column order (deterministic, no sampling).

    Examples
    --------
    >>> tasks = catalogue()  # doctest: +SKIP
    >>> len(tasks) >= 40  # doctest: +SKIP
    True
    """
    tasks: list[SuiteTask] = []
    for table, bench_name in TABLES:
        bench = _bench(bench_name)
        for i, (column, values) in enumerate(target_values(table).items()):
            if column in scoring_failures(table):
                continue
            for k in range(len(PAIRS)):
                split, route = PAIRS[(i + k) % len(PAIRS)]
                if split == "lofo-smallest":
                    families = eligible_lofo_families(bench, values)
                    start = _column_hash(table, column)
                    order = [families[(start + j) % len(families)] for j in range(len(families))]
                    split = next(
                        (
                            f"lofo-smallest={f}"
                            for f in order
                            if _feasible(bench, values, f"lofo-smallest={f}", route)
                        ),
                        "",
                    )
                    if not split:
                        continue
                elif not _feasible(bench, values, split, route):
                    continue
                tasks.append(SuiteTask(table, bench_name, column, split, route))
                break
    return tasks


DOCS: Final = ROOT / "docs" / "forecasts.md"
_LIST_START: Final = "<!-- heldback-tasks:start -->"
_LIST_END: Final = "<!-- heldback-tasks:end -->"


def documented_heldback(path: Path = DOCS) -> list[str]:
    """The held-back task ids listed in docs/forecasts.md (between the list markers)."""
    text = path.read_text(encoding="utf-8")
    if _LIST_START not in text or _LIST_END not in text:
        return []
    body = text.split(_LIST_START, 1)[1].split(_LIST_END, 1)[0]
    return [line.strip()[2:].strip("`") for line in body.splitlines() if line.strip()[:2] == "- "]


def check_heldback_list(tasks: Sequence[SuiteTask], path: Path = DOCS) -> str | None:
    """Why the catalogue no longer matches the documented held-back list, or None.

    The halves were fixed once; a change of data or of the catalogue's rules that moves a
    task in or out of the held-back half must be seen, not silently measured.
    """
    listed = documented_heldback(path)
    ours = [t.task_id for t in tasks if t.half == "heldback"]
    if listed == ours:
        return None
    extra = sorted(set(ours) - set(listed))
    gone = sorted(set(listed) - set(ours))
    what = f"new: {extra[0]!r}" if extra else f"missing: {gone[0]!r}" if gone else "order differs"
    return (
        f"{path}: the held-back task list differs from the catalogue ({len(listed)} listed, "
        f"{len(ours)} now; {what})"
    )


def grid_tasks(
    tasks: Sequence[SuiteTask],
    *,
    spec: str,
    seeds: Sequence[int],
    draws: int,
    tune: int,
    chains: int,
    retry_draws: int = 0,
) -> list[Task]:
    """The grid engine's tasks: one per suite task and seed, data pinned by content hash.

    ``retry_draws`` (when above ``draws``) asks :func:`~bayes_scaling.backtest.suite_worker`
    to refit an unconverged fit once with that many draws; 0 keeps the params (and so the
    cache keys) of a pass without it.
    """
    digests: dict[tuple[str, str], str] = {}
    out = []
    for t in tasks:
        key = ("bench", t.benchmarks)
        if key not in digests:
            digests[key] = data_digest(_bench(t.benchmarks))
        tkey = (t.table, t.column)
        if tkey not in digests:
            digests[tkey] = data_digest(target_values(t.table)[t.column])
        params = {
            "benchmarks": t.benchmarks,
            "benchmarks_sha256": digests[key],
            "target_table": t.table,
            "target_sha256": digests[tkey],
            "route": t.route,
            "draws": draws,
            "tune": tune,
            "chains": chains,
            "task_id": t.task_id,
        }
        if retry_draws:
            params["retry_draws"] = retry_draws
        out.extend(Task(t.column, t.split, spec, seed, params) for seed in seeds)
    return out


def code_version() -> str:
    """The worker, the package version and a hash of the model's code and specs.

    Model edits between releases change the fits, so the cache must not reuse them; edits
    elsewhere (docs, tests, this script's printing) keep the cached fits valid.
    """
    import bayes_scaling

    package = Path(bayes_scaling.__file__).resolve().parent
    files = sorted(package.rglob("*.py")) + sorted((ROOT / "models").glob("*.toml"))
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(path.parents[1]).as_posix().encode())
        digest.update(path.read_bytes())
    return f"bayes_scaling.backtest.suite_worker@{__version__}+{digest.hexdigest()[:16]}"


# ------------------------------------------------------------------------------ summary
def _pit_total(column: pd.Series) -> np.ndarray:
    total = np.zeros(PIT_BINS, dtype=int)
    for text in column.dropna():
        total += np.array([int(c) for c in str(text).split(";")])
    return total


def summarise(table: pd.DataFrame) -> dict[str, Any]:
    """Pooled scores of the suite's rows that succeeded.

    MSE ratios and wins are per task (seeds pooled, weighted by held-out count); coverage,
    log score and CRPS are means over every held-out value of every row; PIT counts are
    summed. Unconverged rows are counted, not dropped: their numbers are no results.

    Examples
    --------
    >>> t = pd.DataFrame({"task_id": ["a", "a", "b"], "status": ["ok"] * 3,
    ...     "n_test": [2, 2, 4], "mse": [0.01, 0.03, 0.04], "mse_baseline": [0.04, 0.04, 0.02],
    ...     "coverage50": [0.5, 0.5, 0.25], "coverage90": [1, 1, 0.75],
    ...     "coverage50_baseline": [0.5] * 3, "coverage90_baseline": [0.5] * 3,
    ...     "log_score": [1.0, 1.0, 0.0], "log_score_baseline": [0.5, 0.5, 0.5],
    ...     "crps": [0.1] * 3, "crps_baseline": [0.2] * 3,
    ...     "pit_counts": ["1;1;0;0;0;0;0;0;0;0"] * 3, "pit_counts_baseline": [None] * 3,
    ...     "converged": [True, True, False]})
    >>> s = summarise(t)
    >>> s["tasks"], s["wins"], s["geo_mean_mse_ratio"], s["coverage90"], s["unconverged_rows"]
    (2, 1, 1.0, 0.875, 1)
    """
    ok = table[table["status"] == "ok"].copy()
    out: dict[str, Any] = {
        "rows": len(table),
        "rows_ok": len(ok),
        "rows_failed": int((table["status"] != "ok").sum()),
        "unconverged_rows": int((~ok["converged"].astype(bool)).sum()) if len(ok) else 0,
    }
    if ok.empty:
        return out
    with_base = ok.dropna(subset=["mse_baseline"])
    if with_base.empty:
        cmp = BaselineComparison(pd.Series(dtype=float), math.nan, 0, 0)
    else:
        cmp = compare_to_baseline(with_base, by="task_id", weight_col="n_test")
    w = ok["n_test"].astype(float)
    per_task = ok.assign(_w=w).groupby("task_id")
    ls = per_task.apply(
        lambda g: pd.Series(
            {
                "ours": np.average(g["log_score"], weights=g["_w"]),
                "base": np.average(g["log_score_baseline"], weights=g["_w"]),
            }
        ),
        include_groups=False,
    ).dropna()

    def pooled(col: str) -> float:
        v = ok[col].astype(float)
        keep = v.notna()
        return float(np.average(v[keep], weights=w[keep])) if keep.any() else math.nan

    out.update(
        {
            "tasks": int(ok["task_id"].nunique()),
            "held_out_values": int(w.sum()),
            "geo_mean_mse_ratio": cmp.geometric_mean,
            "wins": cmp.wins,
            "tasks_compared": cmp.n_targets,
            "win_share": cmp.wins / cmp.n_targets if cmp.n_targets else math.nan,
            **{
                c: pooled(c)
                for c in (
                    "coverage50",
                    "coverage90",
                    "coverage50_baseline",
                    "coverage90_baseline",
                    "log_score",
                    "log_score_baseline",
                    "crps",
                    "crps_baseline",
                )
            },
            "log_score_better_tasks": int((ls["ours"] > ls["base"]).sum()),
            "log_score_tasks": len(ls),
            "pit_counts": _pit_total(ok["pit_counts"]).tolist(),
            "pit_counts_baseline": _pit_total(ok["pit_counts_baseline"]).tolist(),
        }
    )
    return out


#: Groups of :func:`breakdown`: how each row's group is read off the suite's table.
BREAKDOWN: Final[dict[str, Callable[[pd.DataFrame], pd.Series]]] = {
    "table": lambda t: t["task_id"].str.split("/", n=1).str[0],
    "split": lambda t: t["split"].str.split("=", n=1).str[0],
    "route": lambda t: t["route"].astype(str),
}


def breakdown(table: pd.DataFrame) -> pd.DataFrame:
    """The pooled scores of :func:`summarise` per table, per kind of split and per route.

    One row per group, plus ``all`` and, last, ``converged only``: the rows whose fit met
    the bar. That one selects on the fit, so it is a reading aid beside the protocol's
    pooled result, never a replacement for it.

    Examples
    --------
    >>> t = pd.DataFrame({"task_id": ["emergent/a | compute-top=0.2 | compute"] * 2
    ...     + ["agent/b | target-top=0.1 | benchmarks"], "split": ["compute-top=0.2"] * 2
    ...     + ["target-top=0.1"], "route": ["compute", "compute", "benchmarks"],
    ...     "status": ["ok"] * 3, "n_test": [2, 2, 4], "mse": [0.01, 0.03, 0.04],
    ...     "mse_baseline": [0.04, 0.04, 0.02], "coverage50": [0.5, 0.5, 0.25],
    ...     "coverage90": [1, 1, 0.75], "coverage50_baseline": [0.5] * 3,
    ...     "coverage90_baseline": [0.5] * 3, "log_score": [1.0, 1.0, 0.0],
    ...     "log_score_baseline": [0.5] * 3, "crps": [0.1] * 3, "crps_baseline": [0.2] * 3,
    ...     "pit_counts": ["1;1;0;0;0;0;0;0;0;0"] * 3, "pit_counts_baseline": [None] * 3,
    ...     "converged": [True, True, False]})
    >>> b = breakdown(t)
    >>> [(r.group, r.value, r.tasks, r.wins, r.unconverged) for r in b.itertuples()]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('all', 'all', 2, 1, 1), ('table', 'agent', 1, 0, 1), ('table', 'emergent', 1, 1, 0),
     ('split', 'compute-top', 1, 1, 0), ('split', 'target-top', 1, 0, 1),
     ('route', 'benchmarks', 1, 0, 1), ('route', 'compute', 1, 1, 0),
     ('converged only', '-', 1, 1, 0)]
    """
    ok = table[table["status"] == "ok"]
    parts: list[tuple[str, str, pd.DataFrame]] = [("all", "all", ok)]
    for group, read in BREAKDOWN.items():
        keys = read(ok).fillna("?")  # a cache entry without a route still gets a group
        parts += [(group, str(v), ok[keys == v]) for v in sorted(keys.unique())]
    parts.append(("converged only", "-", ok[ok["converged"].astype(bool)]))
    rows = []
    for group, value, part in parts:
        s = summarise(part) if len(part) else {}
        rows.append(
            {
                "group": group,
                "value": value,
                "tasks": s.get("tasks", 0),
                "fits": s.get("rows_ok", 0),
                "unconverged": s.get("unconverged_rows", 0),
                "held_out_values": s.get("held_out_values", 0),
                "geo_mean_mse_ratio": s.get("geo_mean_mse_ratio", math.nan),
                "wins": s.get("wins", 0),
                "tasks_compared": s.get("tasks_compared", 0),
                "coverage50": s.get("coverage50", math.nan),
                "coverage90": s.get("coverage90", math.nan),
                "log_score_better_tasks": s.get("log_score_better_tasks", 0),
                "log_score_tasks": s.get("log_score_tasks", 0),
            }
        )
    return pd.DataFrame(rows)


def breakdown_text(b: pd.DataFrame) -> str:
    """:func:`breakdown` as an aligned plain-text table, one line per group."""
    lines = [
        f"{'group':<15}{'value':<16}{'tasks':>6}{'fits':>6}{'unconv':>7}{'ratio':>8}"
        f"{'wins':>8}{'cov50':>7}{'cov90':>7}{'log better':>12}"
    ]
    for r in b.itertuples(index=False):
        lines.append(
            f"{r.group:<15}{r.value:<16}{r.tasks:>6}{r.fits:>6}{r.unconverged:>7}"
            f"{r.geo_mean_mse_ratio:>8.3f}{f'{r.wins}/{r.tasks_compared}':>8}"
            f"{r.coverage50:>7.3f}{r.coverage90:>7.3f}"
            f"{f'{r.log_score_better_tasks}/{r.log_score_tasks}':>12}"
        )
    return "\n".join(lines)


def summary_line(s: Mapping[str, Any]) -> str:
    """The pooled summary as one line."""
    if not s.get("rows_ok"):
        return f"suite: {s['rows']} rows, none succeeded"
    warn = (
        f" NOT CONVERGED: {s['unconverged_rows']} of {s['rows_ok']} fits (not results)"
        if s["unconverged_rows"]
        else ""
    )
    return (
        f"suite: {s['tasks']} tasks, {s['rows_ok']} fits ok, {s['rows_failed']} failed, "
        f"{s['held_out_values']} held-out values | MSE ratio geo-mean "
        f"{s['geo_mean_mse_ratio']:.3f}, wins {s['wins']}/{s['tasks_compared']} | "
        f"cov50 {s['coverage50']:.3f} (baseline {s['coverage50_baseline']:.3f}) "
        f"cov90 {s['coverage90']:.3f} (baseline {s['coverage90_baseline']:.3f}) | "
        f"log score {s['log_score']:.3f} vs {s['log_score_baseline']:.3f}, better on "
        f"{s['log_score_better_tasks']}/{s['log_score_tasks']} tasks | CRPS "
        f"{s['crps']:.4f} vs {s['crps_baseline']:.4f}{warn}"
    )


def cached_status(
    out: Path,
    tasks: Sequence[SuiteTask],
    *,
    spec: str = "k2",
    seeds: Sequence[int] = SEEDS,
    draws: int = DEFAULT_DRAWS,
    tune: int = DEFAULT_TUNE,
    chains: int = 4,
    retry_draws: int = 0,
) -> list[tuple[str, pd.DataFrame]]:
    """The finished fits of ``tasks`` in ``out``'s cache, one table per code version.

    Reads ``out/cache/*.json`` only (the grid engine's entries, format 1); runs and writes
    nothing. Only fits at the given spec and sampler settings count. A pass that spans
    sessions is run from one frozen checkout, so its entries share one code version;
    entries of other versions (an older pass) are kept apart, never pooled with it. Each
    table has the columns that :func:`summarise` reads, one row per finished fit, in
    catalogue order.

    Examples
    --------
    >>> import tempfile
    >>> cached_status(Path(tempfile.mkdtemp()), catalogue()[:2])
    []
    """
    wanted = {t.task_id: i for i, t in enumerate(tasks)}
    groups: dict[str, list[dict[str, Any]]] = {}
    for path in sorted((out / "cache").glob("*.json")):
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            params = entry["task"]["params"]
            task_id, seed = params["task_id"], int(entry["task"]["seed"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not a suite entry (or being written): the run owns the cache
        settings = (
            entry["task"].get("spec"),
            *(params.get(k) for k in ("draws", "tune", "chains")),
            params.get("retry_draws") or 0,
        )
        if (
            task_id not in wanted
            or seed not in seeds
            or settings != (spec, draws, tune, chains, retry_draws)
            or "metrics" not in entry
        ):
            continue
        row = {
            "task_id": task_id,
            "half": half_of(task_id),
            "route": params.get("route"),
            "target": entry["task"]["target"],
            "split": entry["task"]["split"],
            "seed": seed,
            "status": "ok",
            **entry["metrics"],
        }
        groups.setdefault(str(entry.get("code_version")), []).append(row)
    tables = []
    for version, rows in sorted(groups.items()):
        table = pd.DataFrame(rows)
        table = table.sort_values(["task_id", "seed"], key=lambda c: c.map(wanted).fillna(c))
        tables.append((version, table.reset_index(drop=True)))
    return tables


def task_line(task: Task, row: Mapping[str, Any] | None, error: str | None) -> str:
    """One line per finished fit."""
    head = f"{task.params.get('task_id', task.label)} | seed={task.seed}"
    if row is None:
        return f"{head} | FAILED: {error}"
    conv = (
        "converged"
        if row["converged"]
        else (
            f"NOT CONVERGED (rhat {row['max_rhat']:.3f}, ess {row['min_ess_bulk']:.0f}, "
            f"div {row['divergences']})"
        )
    )
    return (
        f"{head} | train={row['n_train']} test={row['n_test']} mse={row['mse']:.5f} "
        f"base={row['mse_baseline']:.5f} ratio={row['mse_ratio']:.2f} "
        f"cov50={row['coverage50']:.2f} cov90={row['coverage90']:.2f} "
        f"log={row['log_score']:.2f}/{row['log_score_baseline']:.2f} "
        f"crps={row['crps']:.4f}/{row['crps_baseline']:.4f} {conv} {row['seconds']}s"
    )


def plot_pit(summary: Mapping[str, Any], path: Path) -> None:
    """Pooled PIT histograms of the model and the baseline, as a PNG (atomic)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8, 3), sharey=True)
    edges = np.linspace(0, 1, PIT_BINS + 1)
    for ax, key, title in zip(
        axes,
        ("pit_counts", "pit_counts_baseline"),
        ("model", "baseline (Gaussian)"),
        strict=True,
    ):
        counts = np.asarray(summary.get(key, [0] * PIT_BINS), dtype=float)
        total = counts.sum()
        ax.bar(
            edges[:-1],
            counts / total if total else counts,
            width=1 / PIT_BINS,
            align="edge",
            edgecolor="white",
        )
        ax.axhline(1 / PIT_BINS, color="black", lw=1, ls="--")
        ax.set_title(f"PIT, {title}, n={int(total)}")
        ax.set_xlabel("PIT")
    axes[0].set_ylabel("share of held-out values")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


# ------------------------------------------------------------------------------ running
def run(
    tasks: Sequence[SuiteTask],
    out: Path,
    *,
    spec: str = "k2",
    seeds: Sequence[int] = SEEDS,
    draws: int = DEFAULT_DRAWS,
    tune: int = DEFAULT_TUNE,
    chains: int = 4,
    retry_draws: int = 0,
    scheduler: str | None = None,
    n_workers: int | None = 1,
    worker: Callable[[Task], Mapping[str, Any]] = suite_worker,
    version: str | None = None,
    progress: bool = False,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Run the tasks through the grid engine and write the outputs under ``out``."""
    grid = grid_tasks(
        tasks,
        spec=spec,
        seeds=seeds,
        draws=draws,
        tune=tune,
        chains=chains,
        retry_draws=retry_draws,
    )

    def report(task: Task, row: Mapping[str, Any] | None, error: str | None) -> None:
        print(task_line(task, row, error), flush=True)

    table = run_grid(
        grid,
        worker,
        cache_dir=out / "cache",
        scheduler=scheduler,
        n_workers=n_workers,
        progress=progress,
        code_version=version or code_version(),
        on_result=report,
    )
    table.insert(0, "task_id", [t.params["task_id"] for t in grid])
    table.insert(1, "half", [half_of(t.params["task_id"]) for t in grid])
    table.insert(2, "route", [t.params["route"] for t in grid])
    for col in SUITE_METRICS:
        if col not in table:
            table[col] = np.nan
    summary = summarise(table)
    write_table(table, out / "suite.csv")
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=1) + "\n")
    pit = pd.DataFrame(
        {
            "bin_lower": np.linspace(0, 1, PIT_BINS + 1)[:-1].round(2),
            "model": summary.get("pit_counts", [0] * PIT_BINS),
            "baseline": summary.get("pit_counts_baseline", [0] * PIT_BINS),
        }
    )
    write_table(pit, out / "pit.csv")
    plot_pit(summary, out / "pit.png")
    parts = breakdown(table)
    write_table(parts, out / "breakdown.csv")
    print(summary_line(summary), flush=True)
    print(breakdown_text(parts), flush=True)
    return table, summary


def main(argv: Sequence[str] | None = None) -> int:
    """Command line; returns the exit code (2 on bad input, one line on stderr)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--half", choices=HALVES, help="Which half of the tasks to run.")
    parser.add_argument(
        "--i-am-done-tuning",
        action="store_true",
        help="Required by --half heldback: the model is final.",
    )
    parser.add_argument("--out", type=Path, help="Output folder (cache, CSV, summary, PIT).")
    parser.add_argument("--list", action="store_true", help="Print the tasks and halves.")
    parser.add_argument(
        "--status",
        action="store_true",
        help="Summarise the fits already finished under --out (per code version); run nothing.",
    )
    parser.add_argument("--spec", default="k2")
    parser.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    # The package's defaults: at 500 + 500 the first dev task's fits ended at R-hat 1.04 and
    # bulk ESS 93-115, numbers that are not results.
    parser.add_argument("--draws", type=int, default=DEFAULT_DRAWS)
    parser.add_argument("--tune", type=int, default=DEFAULT_TUNE)
    parser.add_argument(
        "--retry-draws",
        type=int,
        default=0,
        help="Refit a fit that misses the convergence bar once with this many draws per "
        "chain (0: never; reads the diagnostics only, never the scores).",
    )
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument(
        "--scheduler", default=None, help="Dask scheduler address, or 'sync' (default: local pool)."
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="Processes of the local pool (each fit runs its chains in parallel already).",
    )
    parser.add_argument("--only", default=None, help="Run only task ids containing this.")
    parser.add_argument("--limit", type=int, default=None, help="Run only the first N tasks.")
    args = parser.parse_args(argv)

    if args.list:
        tasks = catalogue()
        for t in tasks:
            print(f"{t.half:<8} {t.task_id}")
        n_dev = sum(t.half == "dev" for t in tasks)
        print(f"{len(tasks)} tasks: {n_dev} dev, {len(tasks) - n_dev} heldback")
        left_out = [f"{t}/{c}" for t, _ in TABLES for c in scoring_failures(t)]
        print(f"left out as scoring failures ({len(left_out)}): {', '.join(left_out) or '-'}")
        return 0
    error = None
    if args.half is None or args.out is None:
        error = "give --half dev|heldback and --out DIR (or --list)"
    elif args.half == "heldback" and not args.i_am_done_tuning:
        error = (
            "--half heldback is measured once, when the model is final: add "
            "--i-am-done-tuning to run it"
        )
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        error = error or f"--seeds {args.seeds!r} is not a comma-separated list of integers"
        seeds = []
    if error is None and not seeds:
        error = "--seeds is empty"
    if error is not None:
        print(f"error: {error}", file=sys.stderr)
        return 2
    tasks = catalogue()
    drift = check_heldback_list(tasks)
    if drift:
        print(f"error: {drift}", file=sys.stderr)
        return 2
    chosen = [t for t in tasks if t.half == args.half]
    if args.only:
        chosen = [t for t in chosen if args.only in t.task_id]
    if args.limit is not None:
        chosen = chosen[: args.limit]
    if not chosen:
        print("error: no task matches --only/--limit", file=sys.stderr)
        return 2
    # The fits' identity: what --status looks up is what a run computes.
    settings: dict[str, Any] = {
        "spec": args.spec,
        "seeds": seeds,
        "draws": args.draws,
        "tune": args.tune,
        "chains": args.chains,
        "retry_draws": args.retry_draws,
    }
    if args.status:
        total = len(chosen) * len(seeds)
        found = cached_status(args.out, chosen, **settings)
        if not found:
            print(f"status: 0 of {total} fits of the {args.half} half finished under {args.out}")
        for version, table in found:
            print(
                f"status: {len(table)} of {total} fits of the {args.half} half finished "
                f"at {version}; PARTIAL, not a result until all are in"
            )
            print(summary_line(summarise(table)))
            print(breakdown_text(breakdown(table)))
        return 0
    try:
        # SIGTERM as well as Ctrl-C: a pass is usually stopped with `kill`, and without a
        # handler that ends this process at once and leaves its pool's fit running.
        with cli_signals():
            run(chosen, args.out, **settings, scheduler=args.scheduler, n_workers=args.workers)
    except (KeyboardInterrupt, Interrupted) as exc:
        print(
            f"interrupted: finished fits are cached under {args.out}; rerun to resume",
            file=sys.stderr,
        )
        return exc.exit_code if isinstance(exc, Interrupted) else 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
