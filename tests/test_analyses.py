"""Each analysis runs as a script with tiny sampler settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ANALYSES = Path(__file__).resolve().parents[1] / "analyses"


@pytest.mark.sampling
def test_family_efficiency_analysis_runs(tmp_path: Path) -> None:
    out = tmp_path / "fam"
    proc = subprocess.run(
        [
            sys.executable,
            str(ANALYSES / "family_efficiency.py"),
            "--draws",
            "40",
            "--tune",
            "40",
            "--chains",
            "2",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    eff = pd.read_csv(out / "family_efficiency.csv", index_col=0)
    assert "Llama-2" in eff.index and eff.loc["Llama-2", "median"] == pytest.approx(1.0)
    assert (out / "family_efficiency.png").stat().st_size > 0


def test_every_analysis_is_a_jupytext_notebook() -> None:
    import jupytext

    for path in ANALYSES.glob("*.py"):
        nb = jupytext.read(path)
        assert any(c.cell_type == "markdown" for c in nb.cells), path
