"""bench/complete_heldout.py and bench/complete_speed.py: hold-outs, scoring and plumbing.

The scoring is checked with stand-ins for ``complete`` whose answers are known (an oracle,
an interval that always misses); one small real fit runs the script end to end.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import complete_heldout as ch
import complete_speed as cs
from completion_baseline import COLUMNS


def _sparse() -> xr.Dataset:
    return ch.simulated_table(30, 8, 0.6, n_families=5, seed=4)


def _oracle(full: xr.Dataset, offset: float = 0.0, half: float = 0.01) -> Callable[..., Any]:
    """A stand-in for ``complete`` that knows every observed cell of ``full``."""
    calls: list[dict[str, Any]] = []

    def complete(data: xr.Dataset, **settings: Any) -> pd.DataFrame:
        calls.append(settings)
        raw = full["lower"] + full["score"] * (full["upper"] - full["lower"])
        raw = raw.transpose("model", "benchmark")
        seen = data["score"].transpose("model", "benchmark").notnull()
        frame = pd.DataFrame(
            {
                "model": np.repeat(full["model"].to_numpy(), full.sizes["benchmark"]),
                "benchmark": np.tile(full["benchmark"].to_numpy(), full.sizes["model"]),
                "observed": raw.where(seen).to_numpy().ravel(),
                "mean": raw.to_numpy().ravel() + offset,
            }
        )
        frame["median"] = frame["mean"]
        frame["lower"] = frame["mean"] - half
        frame["upper"] = frame["mean"] + half
        frame.attrs["diagnostics"] = {
            "max_rhat": 1.001,
            "min_ess_bulk": 1000.0,
            "min_ess_tail": 900.0,
            "divergences": 0,
        }
        return frame[list(COLUMNS)]

    complete.calls = calls  # type: ignore[attr-defined]
    return complete


def test_holdout_is_seeded_and_leaves_every_model_and_benchmark_a_cell() -> None:
    data = _sparse()
    obs = data["score"].notnull().to_numpy()
    held = ch.holdout(data, share=0.5, seed=1)
    assert np.array_equal(held, ch.holdout(data, share=0.5, seed=1))
    assert not np.array_equal(held, ch.holdout(data, share=0.5, seed=2))
    assert not (held & ~obs).any()
    left = obs & ~held
    assert (left.sum(axis=1) >= 1).all() and (left.sum(axis=0) >= 1).all()
    # Half is reachable here; the rounding is of the observed count.
    assert held.sum() == round(0.5 * obs.sum())


def test_holdout_never_takes_a_models_last_cell() -> None:
    score = np.full((4, 3), 0.5)
    score[0, 1:] = np.nan  # model 0 has one cell, (0, 0)
    score[:3, 2] = np.nan  # benchmark 2 has one cell, (3, 2)
    data = xr.Dataset({"score": (("model", "benchmark"), score)})
    held = ch.holdout(data, share=0.9, seed=0)
    assert not held[0, 0] and not held[3, 2]


def test_hidden_compute_and_the_speed_case_shape() -> None:
    data = ch.simulated_table(100, 130, 0.77, seed=0)
    assert data.sizes == {"model": 100, "benchmark": 130}
    assert data["flops"].isnull().all() and data["tokens"].isnull().all()
    assert np.isfinite(data["score"].to_numpy()).mean() == pytest.approx(0.23, abs=0.005)
    instruct = ch.instruct_table()
    assert instruct["flops"].isnull().all() and instruct.sizes["model"] == 27


def test_an_oracle_covers_everything_with_no_error() -> None:
    data = _sparse()
    oracle = _oracle(data)
    result = ch.evaluate(
        data, share=0.15, seed=0, complete_fn=oracle, settings={"draws": 7}, baseline_ridge=1.0
    )
    assert result.n_cells == round(0.15 * int(data["score"].notnull().sum()))
    assert result.coverage == 1.0 and result.mae == pytest.approx(0.0, abs=1e-9)
    assert result.width == pytest.approx(2.0)  # 0.02 raw on a [0, 1] column = 2 points
    assert result.baseline_mae > 0.1 and 0.0 < result.baseline_coverage <= 1.0
    assert result.converged and result.baseline_ridges == (1.0,)
    assert oracle.calls == [{"interval": 0.9, "seed": 0, "draws": 7}]


def test_an_interval_that_misses_scores_zero_coverage() -> None:
    data = _sparse()
    result = ch.evaluate(
        data, complete_fn=_oracle(data, offset=0.05), repeats=2, baseline_ridge=1.0
    )
    assert result.coverage == 0.0 and result.mae == pytest.approx(5.0)
    assert result.n_cells == 2 * round(0.15 * int(data["score"].notnull().sum()))


def test_main_prints_one_line_per_case(capsys: pytest.CaptureFixture[str]) -> None:
    full: dict[str, xr.Dataset] = {}

    def complete(data: xr.Dataset, **settings: Any) -> pd.DataFrame:
        # The oracle of whichever table this is: the instruct table or the small sim.
        key = "instruct" if data.sizes["model"] == 27 else "sim"
        if key not in full:
            full[key] = ch.instruct_table() if key == "instruct" else ch.simulated_table(20, 6, 0.5)
        return _oracle(full[key])(data, **settings)

    argv = ["--models", "20", "--benchmarks", "6", "--missing", "0.5", "--draws", "10"]
    argv += ["--baseline-ridge", "1"]
    assert ch.main(argv, complete_fn=complete) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["sim", "instruct"]
    assert "coverage 1.000" in lines[0] and "NOT CONVERGED" not in lines[0]
    assert "27 models x 9 benchmarks" in lines[1]


def test_speed_script_prints_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    def complete(data: xr.Dataset, **settings: Any) -> pd.DataFrame:
        frame = _oracle(data)(data, **settings)
        frame.attrs["diagnostics"] = {"max_rhat": 1.05, "divergences": 3}
        return frame

    assert cs.main(["--models", "20", "--benchmarks", "10"], complete_fn=complete) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("complete 20 models x 10 benchmarks, 23.0% filled, no compute")
    assert "200 cells" in line and "NOT CONVERGED" in line


@pytest.mark.sampling
def test_heldout_script_runs_end_to_end(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("bayes_scaling.complete", reason="complete is not in this checkout yet")
    argv = ["--case", "sim", "--models", "16", "--benchmarks", "5", "--missing", "0.4"]
    argv += ["--draws", "30", "--tune", "30", "--chains", "2", "--baseline-ridge", "1"]
    assert ch.main(argv) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("sim: 16 models x 5 benchmarks")
    assert "coverage" in line and "max_rhat" in line


@pytest.mark.parametrize("module", [ch, cs], ids=lambda m: m.__name__)
def test_docstring_examples(module: Any) -> None:
    import doctest

    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
