"""The bundled backtest cases (bench/forecast_backtest.py) declare what the data say.

Each count target's values are whole numbers of its declared items, and the tables hold
the cases' columns.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import forecast_backtest


@pytest.mark.parametrize("case", forecast_backtest.CASES, ids=lambda c: c.metric)
def test_declared_item_counts_match_the_values(case: forecast_backtest.Case) -> None:
    values = pd.read_csv(forecast_backtest.DATA / case.table)[case.metric].dropna()
    assert len(values) >= 10
    if case.n_items is None:
        return
    counts = values.to_numpy() * case.n_items
    assert np.allclose(counts, np.round(counts), atol=1e-6)
    # ... and not a smaller count: half as many items would not fit every value.
    half = values.to_numpy() * case.n_items / 2
    assert not np.allclose(half, np.round(half), atol=1e-6)


@pytest.mark.sampling
def test_fit_speed_refits_reuse_the_compiled_graph(capsys: pytest.CaptureFixture[str]) -> None:
    import fit_speed

    from bayes_scaling import compiled

    compiled.clear()
    argv = ["--specs", "k1", "--samplers", "nutpie", "--draws", "10", "--tune", "10"]
    fit_speed.main([*argv, "--chains", "1", "--refits", "2"])
    lines = [ln for ln in capsys.readouterr().out.splitlines() if not ln.startswith("#")]
    assert len(lines) == 2
    assert "seed=0 graph=compiled" in lines[0] and "seed=1 graph=reused" in lines[1]
