"""Convergence diagnostics (:mod:`bayes_scaling.diagnostics`): a check that could not be
made (one chain, chains of NaN draws) is reported as "not measured", never "ok".

Synthetic results trees: no sampling, no model.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import xarray as xr
from rich.console import Console

from bayes_scaling.diagnostics import (
    CHECK,
    NOT_MEASURED,
    OK,
    Diagnostics,
    compute_diagnostics,
)


def tree(draws: np.ndarray, **more: np.ndarray) -> xr.DataTree:
    """A results tree with parameter ``b`` (and ``more``) of shape (chain, draw)."""
    post = xr.Dataset({name: (("chain", "draw"), a) for name, a in {"b": draws, **more}.items()})
    chains, n = draws.shape
    stats = xr.Dataset({"diverging": (("chain", "draw"), np.zeros((chains, n), bool))})
    return xr.DataTree.from_dict({"posterior": post, "sample_stats": stats})


def status(d: Diagnostics) -> dict[str, str]:
    return {c.quantity: c.status for c in d.checks()}


def test_healthy_chains_are_ok() -> None:
    d = compute_diagnostics(tree(np.random.default_rng(0).normal(size=(4, 500))))
    assert d.measured and d.ok and not d.unmeasured
    assert status(d)["max R-hat"] == OK and status(d)["min bulk ESS"] == OK
    assert d.messages() == []


def test_one_chain_is_not_measured() -> None:
    d = compute_diagnostics(tree(np.random.default_rng(0).normal(size=(1, 2000))))
    assert not d.ok and not d.measured
    assert "1 chain" in d.unmeasured
    assert np.isnan(d.max_rhat)
    s = status(d)
    for quantity in ("max R-hat", "min bulk ESS", "min tail ESS"):
        assert s[quantity] == NOT_MEASURED
    assert any(m.startswith("convergence NOT MEASURED: 1 chain") for m in d.messages())


def test_nan_chains_are_not_measured() -> None:
    draws = np.random.default_rng(0).normal(size=(4, 500))
    draws[1] = np.nan  # one chain of NaN draws poisons every R-hat
    d = compute_diagnostics(tree(draws))
    assert not d.ok
    assert "no parameter has a finite R-hat" in d.unmeasured
    assert status(d)["max R-hat"] == NOT_MEASURED
    assert OK not in {status(d)[q] for q in ("max R-hat", "min bulk ESS", "min tail ESS")}


def test_some_nan_parameters_are_named_and_never_ok() -> None:
    rng = np.random.default_rng(0)
    bad = rng.normal(size=(4, 500))
    bad[2, 7] = np.nan
    d = compute_diagnostics(tree(rng.normal(size=(4, 500)), c=bad))
    assert d.offending["nan"] == ["c"] and not d.unmeasured
    assert not d.ok
    # b alone passes, but the table does not call the fit's R-hat ok while c is unmeasured.
    assert status(d)["max R-hat"] == NOT_MEASURED
    assert any("could not be computed (NaN draws) for c" in m for m in d.messages())


def test_constants_are_not_unmeasured() -> None:
    rng = np.random.default_rng(0)
    d = compute_diagnostics(tree(rng.normal(size=(4, 500)), zero=np.zeros((4, 500))))
    assert d.ok and d.offending["nan"] == []


def test_nan_values_without_a_reason_are_still_not_ok() -> None:
    nan = float("nan")
    d = Diagnostics(nan, 1000.0, 1000.0, 0, 1.0, 1.0, {})
    assert not d.ok
    assert status(d)["max R-hat"] == NOT_MEASURED


def test_failures_stay_failures() -> None:
    d = Diagnostics(1.2, 50.0, 1000.0, 3, 0.1, 1.0, {"rhat": ["b"], "ess": ["b"]})
    assert not d.ok
    s = status(d)
    assert s["max R-hat"] == s["min bulk ESS"] == s["divergences"] == s["min BFMI"] == CHECK
    assert s["min tail ESS"] == OK


def test_cli_table_says_not_measured(capsys: pytest.CaptureFixture[str]) -> None:
    from bayes_scaling.cli.fit import _print_diagnostics

    d = compute_diagnostics(tree(np.random.default_rng(0).normal(size=(1, 300))))
    buf = io.StringIO()
    _print_diagnostics(Console(file=buf, width=200, color_system=None), d)
    out = buf.getvalue()
    assert "NOT MEASURED" in out
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if "│" in line}
    for quantity in ("max R-hat", "min bulk ESS", "min tail ESS", "min BFMI"):
        assert "not measured" in rows[quantity] and " ok " not in rows[quantity]
    assert "warning: convergence NOT MEASURED: 1 chain" in capsys.readouterr().err


def test_diagnostics_line_says_whether_the_fit_converged(capsys) -> None:
    from bayes_scaling.diagnostics import Diagnostics, diagnostics_line, print_diagnostics

    good = Diagnostics(1.004, 612.4, 700.0, 0, 0.9, 80.0, {})
    assert diagnostics_line(good) == (
        "diagnostics: max_rhat=1.004 min_ess_bulk=612 divergences=0 (converged)"
    )
    # Tail ESS alone fails the fit too; so does a single divergence or one chain.
    tail = Diagnostics(1.004, 612.0, 300.0, 0, 0.9, 80.0, {})
    assert diagnostics_line(tail).endswith("(NOT converged: ESS < 400)")
    one = Diagnostics(1.0, 800.0, 800.0, 1, 0.9, 80.0, {})
    assert diagnostics_line(one).endswith("(NOT converged: divergences)")
    unmeasured = Diagnostics(
        float("nan"), float("nan"), float("nan"), 0, 0.9, 1.0, {}, unmeasured="1 chain"
    )
    assert "NOT converged: not measured" in diagnostics_line(unmeasured)
    assert print_diagnostics(good, "k3") is good
    assert capsys.readouterr().out == f"k3: {diagnostics_line(good)}\n"
