"""``bench/sloth_lofo.py``: issue 16's leave-one-family-out protocol, without sampling.

The split (every member but the smallest by compute leaves the fit), the two
least-squares baselines on exact fixtures, and the printed lines. The fits themselves are
the package's ordinary ``fit``, ``capability_from_compute`` and ``predict``, tested
elsewhere; the measured numbers are in docs/forecasts.md.
"""

from __future__ import annotations

import doctest
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import sloth_lofo

from bayes_scaling import datasets


def test_docstring_examples() -> None:
    result = doctest.testmod(sloth_lofo, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 3 and result.failed == 0


def test_every_member_but_the_smallest_leaves_the_fit() -> None:
    bench = datasets.load("base-llm")
    families = sloth_lofo.lofo_families(bench)
    flops = bench["flops"].to_series()
    family = bench["family"].to_series()
    for fam in families:
        train, held, small = sloth_lofo.lofo_split(bench, fam)
        members = list(family[family == fam].index)
        known = [m for m in members if np.isfinite(flops[m]) and flops[m] > 0]
        assert small == min(known, key=lambda m: (flops[m], m))
        assert sorted(held) == sorted(set(known) - {small}) and held
        kept = set(map(str, train["model"].to_numpy()))
        assert small in kept and not kept & (set(members) - {small})
        assert train.sizes["model"] == bench.sizes["model"] - len(members) + 1


def _table(y: list[float], flops: list[float], family: list[str]) -> xr.Dataset:
    names = [f"m{i}" for i in range(len(y))]
    return xr.Dataset(
        {"score": (("model", "benchmark"), np.array(y)[:, None])},
        coords={
            "model": names,
            "benchmark": ["B"],
            "family": ("model", family),
            "flops": ("model", np.array(flops)),
            "floor": ("benchmark", [0.0]),
        },
    )


def test_baselines_on_an_exact_compute_law() -> None:
    """A family off the pooled law by +1 logit: the shift recovers it, the law does not."""
    x = np.arange(20, 26, dtype=float)
    law = 1 / (1 + np.exp(-(x - 23)))
    shifted = 1 / (1 + np.exp(-(x[[1, 4]] - 23 + 1)))
    y = [*law.tolist(), *shifted.tolist()]
    flops = [*(10**x).tolist(), 10 ** x[1], 10 ** x[4]]
    bench = _table(y, flops, ["a"] * 6 + ["f", "f"])
    train, held, small = sloth_lofo.lofo_split(bench, "f")
    assert (held, small) == (["m7"], "m6")
    plain, moved = sloth_lofo.baselines(bench, train, held, small)
    np.testing.assert_allclose(plain[0, 0], law[4], atol=1e-3)
    np.testing.assert_allclose(moved[0, 0], shifted[1], atol=1e-3)


def test_family_line_marks_an_unconverged_fit() -> None:
    row = pd.Series(
        {
            "status": "ok",
            "n_models": 2,
            "n_values": 16,
            "abs_error_sum": 0.32,
            "law_abs_error_sum": 0.64,
            "shift_abs_error_sum": 0.48,
            "inside90": 15,
            "width_sum": 2.4,
            "max_rhat": 1.02,
            "min_ess_bulk": 300,
            "min_ess_tail": 500,
            "divergences": 0,
            "converged": False,
            "slowest": "beta",
        }
    )
    line = sloth_lofo.family_line("Llama-2", row)
    assert "mae  2.00 pts" in line and "law  4.00" in line and "law+shift  3.00" in line
    assert line.endswith("NOT CONVERGED (slowest: beta)")
    failed = sloth_lofo.family_line("X", pd.Series({"status": "failed", "error": "boom"}))
    assert failed.endswith("FAILED: boom")


def test_lofo_bound_scores_the_same_held_out_scores(capsys: pytest.CaptureFixture[str]) -> None:
    import lofo_bound

    result = doctest.testmod(lofo_bound, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 2 and result.failed == 0
    bench = datasets.load("base-llm")
    # Every (held-out model, benchmark) score of the protocol, and no other, is scored.
    n = sum(
        int(np.isfinite(bench["score"].sel(model=sloth_lofo.lofo_split(bench, f)[1])).sum())
        for f in sloth_lofo.lofo_families(bench)
    )
    assert lofo_bound.main() == 0
    lines = capsys.readouterr().out.strip().splitlines()[1:]
    assert [line.split("|")[0].strip() for line in lines] == list(lofo_bound.CASES)
    maes = [float(line.split("mae")[1].split()[0]) for line in lines]
    assert all(f"{n} held-out scores" in line for line in lines)
    # A freer law fits its own data at least as well.
    assert maes[0] > maes[1] > maes[2] > 0
