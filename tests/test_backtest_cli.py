"""``bayes-scaling backtest``: the real worker through the CLI, locally and on Dask.

One tiny synthetic backtest (2 cutoffs x 1 target x 1 spec, 2 chains x 50 draws) is run
once locally (module fixture); the other tests rerun it from the cache, through a Dask
``LocalCluster`` on loopback, and with an impossible cutoff added.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bayes_scaling.backtest import (
    BACKTEST_METRICS,
    FIXED_COLUMNS,
    Task,
    build_grid,
    error_curves,
    parse_split,
)
from bayes_scaling.cli import run
from bayes_scaling.cli.backtest import _parse_metrics
from bayes_scaling.errors import BayesScalingError

BENCH = {
    "MMLU": (0.25, 1.0),
    "GSM8K": (0.0, 1.6),
    "ARC-C": (0.25, 0.9),
    "HellaSwag": (0.25, 1.2),
}
SAMPLER = ["--draws", "50", "--tune", "100", "--chains", "2"]


def make_tables(n_models: int = 18, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Benchmarks (4 registry count columns) and a downstream target, one capability."""
    rng = np.random.default_rng(seed)
    fam = np.array(["A", "B", "C"])[np.arange(n_models) % 3]
    logc = np.round(rng.uniform(21.5, 24.5, n_models), 3)
    general = logc - logc.mean() + rng.normal(0, 0.2, n_models)
    params = np.sqrt(10**logc / 120) / 1e9
    tokens = 20 * params * 1e9 / 1e12
    models = [f"{f}-{i:02d}" for i, f in enumerate(fam)]
    bench = pd.DataFrame(
        {
            "Model": models,
            "Model Family": fam,
            "Model Size (B)": params,
            "Pretraining Data Size (T)": tokens,
            "FLOPs (1E21)": 6 * params * tokens,
        }
    )
    for j, (name, (floor, loading)) in enumerate(BENCH.items()):
        p = floor + (1 - floor) / (1 + np.exp(-(0.3 * j - 0.5 + loading * general)))
        bench[name] = rng.binomial(1000, p) / 1000
    y = 1 / (1 + np.exp(-(1.5 * general - 0.5))) + rng.normal(0, 0.02, n_models)
    target = pd.DataFrame({"Model": models, "downstream": np.clip(y, 0.0, 1.0)})
    return bench, target


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("backtest")
    bench, target = make_tables()
    bench.to_csv(root / "bench.csv", index=False)
    target.to_csv(root / "target.csv", index=False)
    logc = np.log10(bench["FLOPs (1E21)"].to_numpy() * 1e21)
    cutoffs = [round(float(np.quantile(logc, q)), 2) for q in (0.6, 0.8)]
    return {"root": root, "cutoffs": cutoffs}


def backtest_args(
    setup: dict[str, Any], out: str, cache: str, cutoffs: list[float], *extra: str
) -> list[str]:
    root = setup["root"]
    return [
        "backtest",
        "--benchmarks",
        str(root / "bench.csv"),
        "--target",
        str(root / "target.csv"),
        "--metrics",
        "downstream:0:1",
        "--cutoff-values",
        ",".join(map(str, cutoffs)),
        "--specs",
        "k1",
        "--seeds",
        "4",
        "--out",
        str(root / out),
        "--cache-dir",
        str(root / cache),
        *SAMPLER,
        *extra,
    ]


@pytest.fixture(scope="module")
def local_run(setup: dict[str, Any]) -> dict[str, Any]:
    """The backtest on the local process pool (2 workers), with a plot."""
    root = setup["root"]
    args = backtest_args(
        setup,
        "local.csv",
        "cache-local",
        setup["cutoffs"],
        "--workers",
        "2",
        "--plot",
        str(root / "plot.png"),
    )
    code = run(args)
    return {
        "code": code,
        "table": root / "local.csv",
        "plot": root / "plot.png",
        "cache": root / "cache-local",
        "args": args,
    }


# ----------------------------------------------------------------------------- pure parts
def test_build_grid_order_and_params() -> None:
    tasks = build_grid(
        {"t1": (0.0, 1.0), "t2": (0.25, 100.0)},
        cutoffs=[22.5, 23.0],
        families=["OPT"],
        specs=["k1", "k2"],
        seeds=[0, 1],
        params={"benchmarks": "base-llm", "draws": 10},
    )
    assert len(tasks) == 2 * 3 * 2 * 2
    assert all(isinstance(t, Task) for t in tasks)
    first = tasks[:4]
    assert [(t.target, t.split, t.spec, t.seed) for t in first] == [
        ("t1", "cutoff=22.5", "k1", 0),
        ("t1", "cutoff=22.5", "k1", 1),
        ("t1", "cutoff=22.5", "k2", 0),
        ("t1", "cutoff=22.5", "k2", 1),
    ]
    assert [t.split for t in tasks[:12:4]] == ["cutoff=22.5", "cutoff=23", "lofo=OPT"]
    assert tasks[-1].params["floor"] == 0.25 and tasks[-1].params["ceiling"] == 100.0
    assert tasks[0].params["benchmarks"] == "base-llm" and tasks[0].params["draws"] == 10
    assert len({t.key("v") for t in tasks}) == len(tasks)
    plain = build_grid(["t1"], cutoffs=[23], specs=["k2"], seeds=[0])
    assert [t.split for t in plain] == ["cutoff=23"] and "floor" not in plain[0].params
    for kwargs in ({"cutoffs": []}, {"cutoffs": [23], "specs": []}, {"cutoffs": [23], "seeds": []}):
        with pytest.raises(BayesScalingError, match="at least one"):
            build_grid(["t1"], **kwargs)


def test_parse_split() -> None:
    assert parse_split("cutoff=22.75") == ("cutoff", 22.75)
    assert parse_split("lofo=GPT-Neo/J") == ("lofo", "GPT-Neo/J")
    for bad in ("cutoff=abc", "top=0.1", "lofo="):
        with pytest.raises(BayesScalingError, match="is not"):
            parse_split(bad)


def test_metric_names_with_commas_and_declared_ranges() -> None:
    columns = ["gsm8k_5_exact_match,flexible-extract", "gsm8k_5_exact_match,strict-match", "a"]
    got = _parse_metrics(
        ["gsm8k_5_exact_match,flexible-extract:0:1,a", "gsm8k_5_exact_match,strict-match"], columns
    )
    assert got == [
        ("gsm8k_5_exact_match,flexible-extract", 0.0, 1.0),
        ("a", None, None),
        ("gsm8k_5_exact_match,strict-match", None, None),
    ]
    with pytest.raises(BayesScalingError, match="unknown metric 'b'"):
        _parse_metrics(["a,b"], columns)
    with pytest.raises(BayesScalingError, match="ceiling must be above floor"):
        _parse_metrics(["a:1:0"], columns)


def test_error_curves_average_seeds_and_skip_failures() -> None:
    table = pd.DataFrame(
        {
            "target": ["t"] * 5,
            "split": ["cutoff=22", "cutoff=22", "cutoff=23", "cutoff=24", "lofo=A"],
            "spec": ["k2"] * 5,
            "seed": [0, 1, 0, 0, 0],
            "status": ["ok", "ok", "ok", "failed", "ok"],
            "mse": [0.01, 0.03, 0.04, np.nan, 9.0],
            "mse_baseline": [0.05, 0.05, 0.05, np.nan, 9.0],
        }
    )
    curves = error_curves(table)
    assert curves.to_dict("records") == [
        {
            "target": "t",
            "spec": "k2",
            "n_cutoffs": 2,
            "auec": pytest.approx(0.03),
            "auec_baseline": pytest.approx(0.05),
        }
    ]


# ----------------------------------------------------------------------------- real fits
def test_backtest_writes_table_and_plot(local_run: dict[str, Any], setup: dict[str, Any]) -> None:
    assert local_run["code"] == 0
    table = pd.read_csv(local_run["table"])
    assert list(table.columns) == [*FIXED_COLUMNS, *BACKTEST_METRICS]
    assert table["split"].tolist() == [f"cutoff={c:g}" for c in setup["cutoffs"]]
    assert (table["status"] == "ok").all(), table["error"].tolist()
    assert (table["target"] == "downstream").all() and (table["spec"] == "k1").all()
    assert (table["n_test"] >= 1).all() and (table["n_train"] >= 10).all()
    assert (table["n_train"] + table["n_test"] == 18).all()
    for col in ("mse", "mae", "lpd", "mse_baseline"):
        assert np.isfinite(table[col]).all(), col
    assert table[["coverage50", "coverage90"]].apply(lambda c: c.between(0, 1)).all().all()
    assert local_run["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rerun_reads_the_cache(local_run: dict[str, Any], capsys) -> None:
    cache = local_run["cache"]
    entries = sorted(cache.glob("*.json"))
    assert len(entries) == 2
    stamps = {p: p.stat().st_mtime_ns for p in entries}
    before = local_run["table"].read_text()
    capsys.readouterr()
    assert run(local_run["args"]) == 0
    captured = capsys.readouterr()
    assert "0 done, 2 cached, 0 failed" in captured.err
    assert {p: p.stat().st_mtime_ns for p in sorted(cache.glob("*.json"))} == stamps
    assert local_run["table"].read_text() == before
    assert "area under the MSE-vs-cutoff curve: downstream | k1" in captured.out
    record = json.loads(entries[0].read_text())
    assert record["worker"] == "bayes_scaling.backtest.backtest_worker"


def test_dask_cluster_gives_the_same_table(
    local_run: dict[str, Any], setup: dict[str, Any], capsys
) -> None:
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        args = backtest_args(
            setup,
            "dask.csv",
            "cache-dask",
            setup["cutoffs"],
            "--scheduler",
            cluster.scheduler_address,
        )
        code = run(args)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "2 done, 0 cached" in captured.err, captured.err[-3000:]
    dask_text = (setup["root"] / "dask.csv").read_text()
    assert dask_text == local_run["table"].read_text(), dask_text


def test_impossible_task_fails_and_the_run_goes_on(
    local_run: dict[str, Any], setup: dict[str, Any], capsys
) -> None:
    # Cutoff 10^1 FLOPs: every model is "future", no training model has the target.
    cutoffs = [1.0, setup["cutoffs"][0]]
    args = backtest_args(setup, "mixed.csv", "cache-local", cutoffs)
    assert run(args) == 0
    captured = capsys.readouterr()
    assert "0 done, 1 cached, 1 failed" in captured.err
    table = pd.read_csv(setup["root"] / "mixed.csv")
    assert table["status"].tolist() == ["failed", "ok"]
    assert "no training model has a value" in table["error"].iloc[0]
    assert np.isnan(table["mse"].iloc[0]) and np.isfinite(table["mse"].iloc[1])
    assert "(1 failed)" in captured.out


def test_backtest_cli_errors(setup: dict[str, Any], capsys) -> None:
    root = setup["root"]
    base = [
        "backtest",
        "--benchmarks",
        str(root / "bench.csv"),
        "--target",
        str(root / "target.csv"),
        "--out",
        str(root / "x.csv"),
    ]
    cases = [
        (["--metrics", "nope"], "unknown metric 'nope'"),
        (["--metrics", "downstream", "--lofo", "Z"], "no model of family 'Z'"),
        (["--metrics", "downstream", "--cutoffs", "3", "--cutoff-values", "23"], "not both"),
        (["--metrics", "downstream", "--specs", "k1", "--seeds", "x"], "not integers"),
        (["--metrics", "downstream", "--target", str(root / "target.csv")], "several --target"),
    ]
    for extra, message in cases:
        assert run([*base, *extra]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (root / "x.csv").exists()
