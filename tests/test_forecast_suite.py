"""The backtest suite (bench/forecast_suite.py): its tasks, halves, splits and outputs.

No sampling: the end-to-end run replaces the fit (``held_out_forecast``) by a synthetic
forecast and runs the real scoring worker, the grid engine's cache and the outputs.
"""

from __future__ import annotations

import dataclasses
import json
import signal
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from bayes_scaling import backtest, interrupts
from bayes_scaling.backtest import SUITE_METRICS, HeldOutForecast, read_metric
from bayes_scaling.grid import FIXED_COLUMNS, Task
from bayes_scaling.splits import eligible_lofo_families, parse_split, split_test_models

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import forecast_suite as fs


@pytest.fixture(scope="module")
def tasks() -> list[fs.SuiteTask]:
    return fs.catalogue()


# ------------------------------------------------------------------------------ catalogue
def test_every_target_column_is_a_task_once(tasks: list[fs.SuiteTask]) -> None:
    assert len(tasks) >= 40
    assert len({t.task_id for t in tasks}) == len(tasks)
    for table, _ in fs.TABLES:
        columns = [c for t in tasks if t.table == table for c in [t.column]]
        kept = [c for c in fs.target_values(table) if c not in fs.scoring_failures(table)]
        assert columns == kept, table
    assert len([t for t in tasks if t.table == "base-llm"]) == 8
    assert not any(t.column.endswith(",norm") for t in tasks)


def test_scoring_failures_are_the_columns_nearly_all_at_or_below_their_floor() -> None:
    from bayes_scaling.forecast import SCORING_FAILURE_SHARE, floor_share

    left = fs.scoring_failures("post-training")
    assert len(left) == 20
    # Two of them have no guessing floor: 73 of 75 models score exactly 0 (0.13.0).
    assert {c for c in left if "dyck" in c or "object_counting" in c} == {
        "bbh_fewshot_dyck_languages_3_exact_match,strict-match",
        "bbh_fewshot_object_counting_3_exact_match,strict-match",
    }
    assert all(c.startswith("bbh_fewshot_") and c.endswith(",strict-match") for c in left)
    for table, _ in fs.TABLES:
        for column, values in fs.target_values(table).items():
            floor = read_metric(table, column).floor
            failed = floor_share(values, floor) > SCORING_FAILURE_SHARE
            assert failed == (column in fs.scoring_failures(table)), column
    # The flexible-extract twin of a failed column is a capability, and stays.
    assert "bbh_fewshot_boolean_expressions_3_exact_match,flexible-extract" not in left


def test_every_split_and_route_is_used_in_both_halves(tasks: list[fs.SuiteTask]) -> None:
    for half in fs.HALVES:
        pairs = {(t.split.split("=")[0], t.route) for t in tasks if t.half == half}
        assert pairs == {(s.split("=")[0], r) for s, r in fs.PAIRS}, half


def test_the_documented_heldback_list_is_the_catalogue(tasks: list[fs.SuiteTask]) -> None:
    listed = fs.documented_heldback()
    assert listed and fs.check_heldback_list(tasks) is None
    assert 0.4 < len(listed) / len(tasks) < 0.6
    first_held = next(i for i, t in enumerate(tasks) if t.half == "heldback")
    assert fs.check_heldback_list(tasks[:first_held] + tasks[first_held + 1 :]) is not None


def test_half_is_a_fixed_function_of_the_task_id() -> None:
    # Pinned: changing the rule would move tasks between the halves.
    assert fs.half_of("agent/ABench-OA | compute-top=0.2 | benchmarks") == "dev"
    assert fs.half_of("agent/ABench-Code_OS | compute-top=0.2 | compute") == "heldback"


def test_target_values_are_what_the_worker_reads() -> None:
    for table, column in (("emergent", "ipa_transliterate_2_bleu"), ("agent", "ABench-OA")):
        ours = fs.target_values(table)[column]
        theirs = read_metric(table, column)[0]
        assert backtest.data_digest(ours) == backtest.data_digest(theirs)


# ------------------------------------------------------------------------------ splits
def _toy() -> tuple[xr.Dataset, pd.Series]:
    models = [f"m{i}" for i in range(10)]
    flops = [1e21 * 2**i for i in range(9)] + [np.nan]
    fam = ["A", "A", "A", "B", "B", "C", "C", "C", "D", "D"]
    bench = xr.Dataset(
        {"score": (("model", "benchmark"), np.full((10, 1), 0.5))},
        coords={
            "model": models,
            "benchmark": ["b"],
            "family": ("model", fam),
            "flops": ("model", flops),
        },
    )
    target = pd.Series(np.linspace(0.1, 1.0, 10), index=models)
    target["m3"] = np.nan
    return bench, target


def test_suite_splits_on_a_toy_table() -> None:
    bench, target = _toy()
    # 8 models with target and compute (m3 lacks the target, m9 compute): top 20% -> 2.
    assert split_test_models(bench, "compute-top=0.2", "benchmarks", target)[1] == ["m8", "m7"]
    assert len(split_test_models(bench, "compute-top=0.4", "compute", target)[1]) == 3
    # Top 10% by target: m9 from benchmarks, m8 from compute (m9 has no compute).
    assert split_test_models(bench, "target-top=0.1", "benchmarks", target)[1] == ["m9"]
    assert split_test_models(bench, "target-top=0.1", "compute", target)[1] == ["m8"]
    # B's smallest (m3) has no target; D's other model (m9) lacks compute but has a target.
    assert eligible_lofo_families(bench, target) == ["A", "C", "D"]
    assert split_test_models(bench, "lofo-smallest=A", "benchmarks", target)[1] == ["m1", "m2"]
    assert split_test_models(bench, "lofo-smallest=D", "benchmarks", target)[1] == ["m9"]
    with pytest.raises(Exception, match="known training compute"):
        split_test_models(bench, "lofo-smallest=D", "compute", target)  # m9: no compute
    data, test = split_test_models(bench, "lofo-smallest=C", "compute", target)
    assert test == ["m6", "m7"] and data.sizes["model"] == 10
    with pytest.raises(Exception, match="smallest model"):
        split_test_models(bench, "lofo-smallest=B", "benchmarks", target)
    with pytest.raises(Exception, match="needs the target"):
        split_test_models(bench, "compute-top=0.2")
    with pytest.raises(Exception, match="compute-top=<share>"):
        parse_split("compute-top=1.5")


# ------------------------------------------------------------------------------ end to end
def _fake_forecast(task: Task) -> HeldOutForecast:
    """A deterministic stand-in for a fit: Gaussian predictive draws around the truth."""
    rng = np.random.default_rng([task.seed, len(task.target)])
    y = rng.uniform(0.2, 0.8, size=5)
    draws = y + rng.normal(0.02, 0.05, size=(400, 5))
    loglik = -0.5 * ((draws - y) / 0.05) ** 2 - np.log(0.05 * np.sqrt(2 * np.pi))
    diag = SimpleNamespace(
        max_rhat=1.004, min_ess_bulk=500.0, min_ess_tail=450.0, divergences=0, ok=True
    )
    return HeldOutForecast(
        held=[f"m{i}" for i in range(5)],
        observed=y,
        draws=draws,
        loglik=loglik,
        floor=0.0,
        ceiling=1.0,
        n_train=20,
        base_mean=y + 0.1,
        base_sd=0.1,
        diagnostics=diag,
    )


CALLS: list[str] = []


def _counting_worker(task: Task) -> dict[str, Any]:
    CALLS.append(task.label)
    return backtest.suite_worker(task)


def test_the_suite_runs_end_to_end_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(backtest, "held_out_forecast", _fake_forecast)
    two = [
        fs.SuiteTask(
            "emergent", "base-llm", "arithmetic_3ds_2_acc", "compute-top=0.2", "benchmarks"
        ),
        fs.SuiteTask("agent", "instruct-llm", "ABench-OA", "target-top=0.1", "compute"),
    ]
    kwargs: dict[str, Any] = {
        "seeds": (0, 1),
        "draws": 20,
        "tune": 20,
        "chains": 1,
        "scheduler": "sync",
        "worker": _counting_worker,
        "version": "t",
    }
    CALLS.clear()
    table, summary = fs.run(two, tmp_path, **kwargs)
    assert len(CALLS) == 4
    lines = capsys.readouterr().out.strip().splitlines()
    # A line per fit, the pooled line, then the breakdown: a header and eight groups.
    assert len(lines) == 14 and lines[4].startswith("suite: 2 tasks, 4 fits ok")
    assert lines[5].startswith("group") and lines[-1].startswith("converged only")
    assert "converged" in lines[0] and "ratio=" in lines[0]

    csv = pd.read_csv(tmp_path / "suite.csv")
    assert list(csv.columns) == ["task_id", "half", "route", *FIXED_COLUMNS, *SUITE_METRICS]
    assert (csv["status"] == "ok").all() and len(csv) == 4
    assert csv["task_id"].tolist()[::2] == [t.task_id for t in two]
    # The model's forecast is 0.02 off, the baseline's 0.1: the model wins every task.
    assert (csv["mse_ratio"] < 0.2).all() and summary["wins"] == 2
    assert (csv["crps"] < csv["crps_baseline"]).all()
    assert summary["pit_counts"] == [
        int(c) for c in np.sum([list(map(int, s.split(";"))) for s in csv["pit_counts"]], axis=0)
    ]
    assert sum(summary["pit_counts"]) == 20
    assert json.loads((tmp_path / "summary.json").read_text()) == json.loads(json.dumps(summary))
    assert (tmp_path / "pit.png").read_bytes()[:4] == b"\x89PNG"
    parts = pd.read_csv(tmp_path / "breakdown.csv")
    assert parts["group"].tolist() == [
        "all",
        "table",
        "table",
        "split",
        "split",
        "route",
        "route",
        "converged only",
    ]
    first = parts.iloc[0]
    assert (first["tasks"], first["wins"], first["fits"]) == (2, summary["wins"], 4)
    assert first["coverage90"] == pytest.approx(summary["coverage90"])
    # Each table, split kind and route of the two tasks is one group of one task.
    assert (parts["tasks"].iloc[1:7] == 1).all()
    assert pd.read_csv(tmp_path / "pit.csv")["model"].sum() == 20

    # Resumed: every fit comes from the cache, the table is the same.
    CALLS.clear()
    again, _ = fs.run(two, tmp_path, **kwargs)
    assert CALLS == []
    pd.testing.assert_frame_equal(again, table)

    # --status reads the same fits back from the cache alone, and pools them the same way;
    # a fit of another code version is kept apart, and an unfinished entry is skipped.
    first = next((tmp_path / "cache").glob("*.json"))
    other = json.loads(first.read_text())
    other["code_version"] = "older"
    (tmp_path / "cache" / "older.json").write_text(json.dumps(other))
    (tmp_path / "cache" / "half-written.json").write_text("{")
    settings = {k: kwargs[k] for k in ("seeds", "draws", "tune", "chains")}
    (version, cached), (older, one) = sorted(
        fs.cached_status(tmp_path, two, **settings), key=lambda vt: vt[0] != "t"
    )
    assert fs.cached_status(tmp_path, two, **{**settings, "draws": 2000}) == []
    assert (version, older, len(cached), len(one)) == ("t", "older", 4, 1)
    assert cached["task_id"].tolist() == csv["task_id"].tolist()
    assert fs.summarise(cached) == summary


def test_the_scripts_docstring_examples_hold() -> None:
    import doctest

    result = doctest.testmod(fs, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_breakdown_groups_a_row_without_a_route() -> None:
    row = {
        "task_id": "agent/b | target-top=0.1 | compute",
        "split": "target-top=0.1",
        "route": None,
        "status": "ok",
        "n_test": 2,
        "mse": 0.01,
        "mse_baseline": 0.02,
        "coverage50": 0.5,
        "coverage90": 1.0,
        "coverage50_baseline": 0.5,
        "coverage90_baseline": 0.5,
        "log_score": 1.0,
        "log_score_baseline": 0.5,
        "crps": 0.1,
        "crps_baseline": 0.2,
        "pit_counts": "1;1;0;0;0;0;0;0;0;0",
        "pit_counts_baseline": None,
        "converged": True,
    }
    parts = fs.breakdown(pd.DataFrame([row]))
    assert ("route", "?") in set(zip(parts["group"], parts["value"], strict=True))
    assert "?" in fs.breakdown_text(parts)


def test_heldback_is_refused_without_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert fs.main(["--half", "heldback", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --half heldback") and "--i-am-done-tuning" in err
    assert len(err.splitlines()) == 1 and not out.exists()
    assert fs.main(["--half", "dev", "--out", str(out), "--seeds", "a"]) == 2
    assert not out.exists()


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_the_pass_with_one_line(
    signum: int,
    code: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A pass is stopped with `kill` (SIGTERM) more often than with Ctrl-C: both must reach
    # the grid engine's clean-up (which stops the pool) rather than end the process at once.
    def interrupted_run(*args: Any, **kwargs: Any) -> None:
        # The suite's own handler, not Python's default (which would pass the SIGINT case
        # alone, and let SIGTERM kill the test process).
        assert signal.getsignal(signal.SIGTERM) is interrupts._handler
        signal.raise_signal(signum)
        raise AssertionError("the signal did not interrupt the run")

    monkeypatch.setattr(fs, "run", interrupted_run)
    before = signal.getsignal(signal.SIGTERM)
    assert fs.main(["--half", "dev", "--out", str(tmp_path / "out")]) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"interrupted: finished fits are cached under {tmp_path / 'out'}; rerun to resume"
    ]
    assert signal.getsignal(signal.SIGTERM) == before  # handlers restored


def test_an_unconverged_fit_is_refitted_once_with_retry_draws(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: list[int] = []
    seeds: list[int] = []

    def forecast(task: Task) -> HeldOutForecast:
        draws = int(task.params["draws"])
        seen.append(draws)
        seeds.append(task.seed)
        h = _fake_forecast(task)
        ok = draws >= 4000 or task.target == "fine"
        diag = SimpleNamespace(
            **{**vars(h.diagnostics), "ok": ok, "max_rhat": 1.0 + 0.02 * (not ok)}
        )
        return dataclasses.replace(h, diagnostics=diag)

    monkeypatch.setattr(backtest, "held_out_forecast", forecast)
    base = {"draws": 2000, "tune": 1000, "chains": 4}
    row = backtest.suite_worker(Task("slow", "s", "k2", 0, base))
    assert seen == [2000] and row["draws"] == 2000 and not row["converged"]
    seen.clear()
    row = backtest.suite_worker(Task("slow", "s", "k2", 0, {**base, "retry_draws": 4000}))
    assert seen == [2000, 4000] and row["draws"] == 4000 and row["converged"]
    # A fresh seed: the same one would tune the chains into the same trap.
    assert seeds[-2:] == [0, backtest.RETRY_SEED_OFFSET]
    seen.clear()
    row = backtest.suite_worker(Task("fine", "s", "k2", 0, {**base, "retry_draws": 4000}))
    assert seen == [2000] and row["draws"] == 2000

    one = [
        fs.SuiteTask(
            "emergent", "base-llm", "arithmetic_3ds_2_acc", "compute-top=0.2", "benchmarks"
        )
    ]
    plain = fs.grid_tasks(one, spec="k2", seeds=[0], draws=2000, tune=1000, chains=4)
    retried = fs.grid_tasks(
        one, spec="k2", seeds=[0], draws=2000, tune=1000, chains=4, retry_draws=4000
    )
    assert "retry_draws" not in plain[0].params and retried[0].params["retry_draws"] == 4000


def test_the_worker_reads_a_bundled_targets_item_count(monkeypatch: pytest.MonkeyPatch) -> None:
    """A suite task on a counted column (emergent arithmetic: 2,000 items) fits counts."""
    import importlib

    # The package exports the function ``forecast``, which shadows its module's name.
    forecast_module = importlib.import_module("bayes_scaling.forecast")
    seen: list[Any] = []

    def capture(bench: Any, target: Any, *args: Any, **kwargs: Any) -> None:
        seen.append(target)
        raise RuntimeError("captured")

    monkeypatch.setattr(forecast_module, "forecast", capture)
    params = {"benchmarks": "base-llm", "target_table": "emergent", "route": "benchmarks"}
    for column, items in (
        ("arithmetic_2da_2_acc", 2000),
        ("ipa_transliterate_2_exact_match", None),
    ):
        with pytest.raises(RuntimeError, match="captured"):
            backtest.held_out_forecast(Task(column, "compute-top=0.2", "k2", 0, params))
        assert seen.pop().n_items == items
