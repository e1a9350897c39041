"""``bayes-scaling complete``: a frontier-style table (no compute, a linear Elo column, a
benchmark seen once) filled with intervals; same seed, same table; bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayes_scaling.cli import run
from bayes_scaling.complete import COLUMNS, completed_table, sparse_benchmarks
from bayes_scaling.data import read_table
from bayes_scaling.simulate import simulate

TINY = ["--draws", "60", "--tune", "60", "--chains", "2", "--spec", "k1"]


@pytest.fixture(scope="module")
def frontier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 models without compute, a linear Elo column and a benchmark seen by one model."""
    sim = simulate(24, 4, 5, capabilities=1, missing=0.3, seed=4, compute_missing=1.0)
    table = sim.table.copy()
    general = sim.params["S"].sel(capability="general").to_numpy()
    rng = np.random.default_rng(0)
    table["Arena Elo"] = np.round(1100 + 60 * (general - general.mean()) + rng.normal(0, 10, 24))
    table.loc[rng.random(24) < 0.3, "Arena Elo"] = np.nan
    rare = np.full(24, np.nan)
    rare[3] = 0.41
    table["NewBench"] = rare
    path = tmp_path_factory.mktemp("frontier") / "frontier.csv"
    table.to_csv(path, index=False)
    return path


def test_a_linear_column_is_standardised_and_marked(frontier: Path) -> None:
    data = read_table(frontier, min_models=1)
    elo = data.sel(benchmark="Arena Elo")
    assert bool(elo["linear"]) and not bool(data["linear"].sel(benchmark="MMLU"))
    z = elo["score"].to_numpy()
    z = z[np.isfinite(z)]
    assert abs(z.mean()) < 1e-9 and abs(z.std() - 1) < 1e-9
    assert float(elo["lower"]) > 1000  # the raw mean: lower + z * (upper - lower) maps back
    assert np.isnan(float(elo["n_items"])) and (float(elo["floor"]), float(elo["ceiling"])) == (
        0.0,
        1.0,
    )
    assert np.isnan(data["flops"].to_numpy()).all()
    assert sparse_benchmarks(data) == ["NewBench"]


@pytest.mark.sampling
def test_complete_fills_every_cell(
    frontier: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out1 = tmp_path / "a.csv"
    assert run(["complete", str(frontier), "--out", str(out1), *TINY]) == 0
    err = capsys.readouterr().err
    assert "NewBench" in err and "only one or two models" in err

    frame = pd.read_csv(out1)
    assert tuple(frame.columns) == COLUMNS
    src = pd.read_csv(frontier)
    benchmarks = [c for c in src.columns if c in set(frame["benchmark"])]
    assert len(frame) == len(src) * len(benchmarks)
    assert frame[["mean", "median", "lower", "upper"]].notna().all().all()
    assert (frame["lower"] <= frame["median"]).all() and (frame["median"] <= frame["upper"]).all()
    # observed is the raw value, empty where the table is empty
    merged = frame.merge(
        src.melt(id_vars="Model", value_vars=benchmarks, var_name="benchmark", value_name="raw"),
        left_on=["model", "benchmark"],
        right_on=["Model", "benchmark"],
    )
    np.testing.assert_allclose(merged["observed"], merged["raw"], rtol=1e-5)
    # the linear column is predicted in Elo points, shares within [0, 1]
    elo = frame[frame["benchmark"] == "Arena Elo"]
    assert elo["median"].between(900, 1300).all()
    shares = frame[frame["benchmark"] != "Arena Elo"]
    assert shares["lower"].ge(0).all() and shares["upper"].le(1).all()
    # the benchmark seen once is filled for every model, with a wider interval
    rare = frame[frame["benchmark"] == "NewBench"]
    width = frame.assign(w=frame["upper"] - frame["lower"]).groupby("benchmark")["w"].median()
    assert rare["mean"].notna().all() and width["NewBench"] > width["MMLU"]


@pytest.mark.sampling
def test_same_seed_same_table(small_fit) -> None:
    """The fill of a fit is reproducible (the fit itself: tests/test_fit.py)."""
    a, b, c = (completed_table(small_fit, 0.9, seed) for seed in (3, 3, 4))
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    assert a["observed"].isna().sum() == int(np.isnan(small_fit.data["score"]).sum())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--linear", "NoSuch"], "--linear names a column that is not a benchmark"),
        (["--sampler", "hmc"], "unknown sampler"),
        (["--interval", "1.5"], "--interval must be in (0, 1)"),
        (["--draws", "0"], "--draws must be at least 1"),
    ],
)
def test_bad_input_is_one_line_and_no_file(
    frontier: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    out = tmp_path / "filled.csv"
    assert run(["complete", str(frontier), "--out", str(out), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_out_must_be_a_csv_in_a_folder(frontier: Path, tmp_path: Path) -> None:
    assert run(["complete", str(frontier), "--out", str(tmp_path / "filled.nc")]) == 2
    (tmp_path / "file").write_text("x")
    assert run(["complete", str(frontier), "--out", str(tmp_path / "file" / "f.csv")]) == 2


def test_cli_and_function_share_the_default_draws() -> None:
    """`complete --draws` defaults to complete()'s DEFAULT_DRAWS (the CLI avoids importing it)."""
    import inspect

    from bayes_scaling.cli.complete import complete_command as cli_complete
    from bayes_scaling.complete import DEFAULT_DRAWS, complete

    assert inspect.signature(complete).parameters["draws"].default == DEFAULT_DRAWS
    assert inspect.signature(cli_complete).parameters["draws"].default == DEFAULT_DRAWS


def test_a_table_without_compute_samples_at_a_higher_target_acceptance() -> None:
    """0.8 left divergences where a many-item benchmark's noise meets its floor (0.6.5)."""
    from bayes_scaling.estimator import (
        TARGET_ACCEPT,
        TARGET_ACCEPT_NO_COMPUTE,
        CapabilityModel,
        default_target_accept,
    )

    sim = simulate(12, 3, 4, capabilities=1, seed=0)
    hidden = sim.data.assign_coords(flops=sim.data["flops"] * np.nan)
    model = CapabilityModel("k1")
    assert default_target_accept(model.inputs(sim.data), model.spec) == TARGET_ACCEPT == 0.8
    assert default_target_accept(model.inputs(hidden), model.spec) == TARGET_ACCEPT_NO_COMPUTE
    assert TARGET_ACCEPT_NO_COMPUTE == 0.9
