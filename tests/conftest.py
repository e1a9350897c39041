"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def write_table(tmp_path: Path) -> Callable[..., Path]:
    """Write ``content`` (text or bytes) to ``tmp_path / name`` and return the path."""

    def write(content: str | bytes, name: str = "table.csv") -> Path:
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return write


# --- simulation-based fixtures (tests/test_fit.py, tests/test_recovery.py) -----------------
# Imports are local: pymc and nutpie are slow to import, and most test modules never fit.
from typing import TYPE_CHECKING  # noqa: E402

if TYPE_CHECKING:
    import xarray as xr

    from bayes_scaling.estimator import FitResults
    from bayes_scaling.simulate import Simulation

#: Small K=2 simulation shared by the fit tests: 40 models, 6 families, 8 benchmarks.
SMALL_SIM = {"n_models": 40, "n_families": 6, "n_benchmarks": 8, "capabilities": 2}
#: Sampling budget of the shared fits: enough for stable posterior means and signs.
SMALL_FIT = {"draws": 200, "tune": 400, "chains": 2}


@pytest.fixture(scope="session")
def small_sim() -> Simulation:
    """A K=2 simulation with 10% of scores missing (``bayes_scaling.simulate``)."""
    from bayes_scaling.simulate import simulate

    return simulate(**SMALL_SIM, missing=0.1, seed=11)


@pytest.fixture(scope="session")
def small_fit(small_sim: Simulation) -> FitResults:
    """k2 with the true anchors on :func:`small_sim`, seed 1 (no convergence warnings)."""
    from bayes_scaling.estimator import CapabilityModel

    model = CapabilityModel(small_sim.spec("k2"))
    return model.fit(small_sim.data, **SMALL_FIT, seed=1, warn=False)


@pytest.fixture(scope="session")
def small_fit_seed2(small_sim: Simulation) -> FitResults:
    """The same fit as :func:`small_fit` with seed 2."""
    from bayes_scaling.estimator import CapabilityModel

    model = CapabilityModel(small_sim.spec("k2"))
    return model.fit(small_sim.data, **SMALL_FIT, seed=2, warn=False)


# --- a tiny real fit of bundled data (tests/test_cli_fit.py, tests/test_report.py) ---------
TINY_FAMILIES = ("Pythia", "OPT", "Qwen1.5", "Llama-2", "Falcon")
TINY_BENCHMARKS = ("MMLU", "ARC-C", "HellaSwag", "GSM8K")


def tiny_table() -> xr.Dataset:
    """30 models of 5 families (Llama-2, the spec's reference, among them), 4 benchmarks."""
    import numpy as np

    from bayes_scaling import datasets

    ds = datasets.load("base-llm")
    keep = np.isin(ds["family"].to_numpy().astype(str), TINY_FAMILIES)
    return ds.isel(model=np.flatnonzero(keep)).sel(benchmark=list(TINY_BENCHMARKS))


@pytest.fixture(scope="session")
def tiny_fit(tmp_path_factory: pytest.TempPathFactory) -> FitResults:
    """A tiny real k1 fit (2 chains x 50 draws), sampled once per session, saved and loaded."""
    from bayes_scaling.estimator import CapabilityModel, FitResults

    path = tmp_path_factory.getbasetemp() / "tiny_k1_fit.nc"
    fit = CapabilityModel("k1").fit(tiny_table(), draws=50, tune=50, chains=2, seed=1, warn=False)
    fit.save(path)
    return FitResults.load(path)
