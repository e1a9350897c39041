"""Every analysis under ``analyses/`` runs, in CI's fast mode, and its notebook is committed.

Fast mode: tiny sampler settings (the numbers are meaningless, the code paths are not) and,
where an analysis repeats one step over several specs, targets or checks, one of them, with
the quick K = 1 spec. Each script runs as a subprocess, as a user would run it; one analysis
runs through the notebook executor (``analyses/_execute.py``, what ``make analyses`` calls),
which covers the kernel-side paths (settings from the environment, figures and answers
displayed) of all of them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
ANALYSES = ROOT / "analyses"
NAMES = ("agentic", "capabilities", "emergent", "forecast_a_new_model", "post_training")
FAST = ("--draws", "30", "--tune", "30", "--chains", "2")


def _script(name: str, out: Path, *extra: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(ANALYSES / f"{name}.py"), *FAST, "--out", str(out), *extra],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    answer = (out / "answer.md").read_text()
    assert answer.startswith("**") and any(ch.isdigit() for ch in answer)
    # Every fit prints its diagnostics line; tiny fits conclude nothing.
    assert "diagnostics: max_rhat=" in proc.stdout
    assert "no conclusion" in answer.lower()
    return proc.stdout


def _png(path: Path) -> None:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path


def test_the_analyses_are_the_five_of_the_issue() -> None:
    scripts = sorted(p.stem for p in ANALYSES.glob("*.py") if not p.name.startswith("_"))
    assert tuple(scripts) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_analysis_is_a_paired_notebook_that_opens_with_its_question(name: str) -> None:
    import jupytext

    nb = jupytext.read(ANALYSES / f"{name}.py")
    assert nb.metadata["jupytext"]["formats"] == "ipynb,py:percent"
    first, last = nb.cells[0], nb.cells[-1]
    assert first.cell_type == "markdown" and first.source.startswith("# ")
    assert "?" in first.source  # the question it answers
    assert last.cell_type == "code" and "analysis.answer(" in last.source


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_is_executed_and_matches_its_script(name: str) -> None:
    import jupytext

    path = ANALYSES / f"{name}.ipynb"
    assert path.is_file(), f"run `make analyses NOTEBOOKS={name}` and commit {path.name}"
    committed = json.loads(path.read_text())
    script = jupytext.read(ANALYSES / f"{name}.py")
    cells = [(c["cell_type"], "".join(c["source"])) for c in committed["cells"]]
    assert cells == [(c.cell_type, c.source) for c in script.cells], (
        f"{path.name} is stale: re-execute it with `make analyses NOTEBOOKS={name}`"
    )
    cells = [c for c in committed["cells"] if c["cell_type"] == "code"]
    assert all(c.get("execution_count") for c in cells)
    assert not any(o.get("output_type") == "error" for c in cells for o in c["outputs"])
    kinds = {k for c in cells for o in c["outputs"] for k in o.get("data", {})}
    assert {"image/png", "text/markdown"} <= kinds  # figures and the closing answer


@pytest.mark.sampling
def test_capabilities_runs_as_an_executed_notebook(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "BAYES_SCALING_DRAWS": "30",
        "BAYES_SCALING_TUNE": "30",
        "BAYES_SCALING_CHAINS": "2",
        "BAYES_SCALING_SPECS": "k1",
        "BAYES_SCALING_OUT": str(tmp_path / "out"),
    }
    proc = subprocess.run(
        [sys.executable, str(ANALYSES / "_execute.py"), "capabilities", "--out-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        cwd=ROOT,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    nb = json.loads((tmp_path / "capabilities.ipynb").read_text())
    assert nb["metadata"]["jupytext"]["formats"] == "ipynb,py:percent"
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 3
    assert any("text/markdown" in o.get("data", {}) for o in outputs)
    out = tmp_path / "out"
    eff = pd.read_csv(out / "family_efficiency.csv", index_col=0)
    assert "Llama-2" in eff.index and eff.loc["Llama-2", "median"] == pytest.approx(1.0)
    loo = pd.read_csv(out / "loo.csv", index_col=0)
    assert list(loo.index) == ["k1"] and {"elpd", "se", "n_bad_pareto_k"} <= set(loo.columns)
    assert len(pd.read_csv(out / "capabilities.csv", header=[0, 1], index_col=0)) == 128
    for png in ("loadings", "capabilities_vs_compute", "family_efficiency"):
        _png(out / f"{png}.png")
    # 2 x 30 draws do not converge: the answer shows the diagnostics line and concludes nothing.
    answer = (out / "answer.md").read_text()
    assert "k1: diagnostics: max_rhat=" in answer and "(NOT converged" in answer
    assert "**No conclusion**" in answer and "chooses" not in answer
    assert any("diagnostics: max_rhat=" in "".join(o.get("text", "")) for o in outputs)


@pytest.mark.sampling
def test_agentic_runs(tmp_path: Path) -> None:
    stdout = _script("agentic", tmp_path, "--spec", "k1", "--metrics", "ABench-OA")
    # Every fit prints its diagnostics line; tiny fits conclude nothing.
    assert "ABench-OA: diagnostics: max_rhat=" in stdout
    assert "no conclusion" in (tmp_path / "answer.md").read_text()
    held = pd.read_csv(tmp_path / "heldout.csv")
    # The top 10% of the 22 models with an AgentBench score, by that score.
    assert set(held["model"]) == {"gpt-4-0613", "claude-2.0"}
    assert (held["lower"] <= held["upper"]).all() and held["observed"].between(0, 10).all()
    align = pd.read_csv(tmp_path / "alignment_ABench-OA.csv", index_col=0)
    assert len(align) == 9 and align["mean"].between(-1, 1).all()
    _png(tmp_path / "scaling_ABench-OA.png")


@pytest.mark.sampling
def test_emergent_runs(tmp_path: Path) -> None:
    _script("emergent", tmp_path, "--spec", "k1", "--tasks", "arithmetic_3ds_2_acc")
    held = pd.read_csv(tmp_path / "heldout.csv")
    assert len(held) == 13 and set(held["metric"]) == {"arithmetic_3ds_2_acc"}
    jumps = pd.read_csv(tmp_path / "jumps.csv", index_col=0)
    assert (
        jumps.loc["arithmetic_3ds_2_acc", "midpoint_lower"]
        <= jumps.loc["arithmetic_3ds_2_acc", "midpoint_upper"]
    )
    _png(tmp_path / "scaling_arithmetic_3ds_2_acc.png")


@pytest.mark.sampling
def test_post_training_runs(tmp_path: Path) -> None:
    _script("post_training", tmp_path, "--spec", "k1")
    gains = pd.read_csv(tmp_path / "gains.csv", index_col=0)
    assert len(gains) == 4 and "BBH: CoT over 3-shot" in gains.index
    assert (gains["gain_at_top_lower"] <= gains["gain_at_top_upper"]).all()
    for png in ("accuracy_GSM8K", "accuracy_BBH", "gains"):
        _png(tmp_path / f"{png}.png")


@pytest.mark.sampling
def test_forecast_a_new_model_runs(tmp_path: Path) -> None:
    _script("forecast_a_new_model", tmp_path, "--spec", "k1", "--checks", "member")
    planned = pd.read_csv(tmp_path / "planned.csv")
    assert len(planned) == 2 * 8 and planned["model"].nunique() == 2
    assert ((planned["lower"] <= planned["median"]) & (planned["median"] <= planned["upper"])).all()
    checks = pd.read_csv(tmp_path / "checks.csv")
    assert set(checks["check"]) == {"member"} and len(checks) == 8
    _png(tmp_path / "planned.png")
