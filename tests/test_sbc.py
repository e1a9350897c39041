"""Simulation-based calibration (Talts et al. 2018): do the posterior's intervals cover?

Over many small data sets, each drawn from the model's own prior, the rank of the true
value among the posterior draws is uniform for every quantity if and only if the fit is
calibrated on average over the prior. This is the check that intervals cover; it
replaces the single-data-set check of held-out coverage that was
``tests/test_forecast_recovery.py::test_held_out_coverage_is_near_nominal``.

Design (fixed across replications, from :func:`bayes_scaling.simulate.simulate`): 20
models in 4 families with known compute, 5 count benchmarks with the registry's floors and
item counts, K = 1, and one cell (the first model's MMLU score) left out of the fit.
Per replication, parameters and the 99 observed scores are one draw of the graph's prior
predictive (``pm.sample_prior_predictive``: whatever priors :mod:`bayes_scaling.model`
holds, the test follows them); the held-out cell's true score is drawn from the same
prior draw through the measurement layer (:mod:`bayes_scaling.measurement`), and so are
its predictive draws from the posterior. The graph is compiled once, its observed counts
a shared variable, and nutpie samples each replication with new data (``with_data``).

Quantities ranked: ``beta`` (the loadings' scale), the general capability ``S`` of the
held-out cell's model and of the median-compute model, and the held-out cell's score.
The test (per quantity) is a chi-square test of the ranks in five bins and the count of
replications whose 90% interval holds the truth, against thresholds that a calibrated
fit fails with probability about 0.001 each. A second test fits the same prior draws
with the protocol noise left out (binomial measurement) and must fail: intervals that
ignore a source of noise are too narrow. The calibrated test runs twice: with the exact
beta-binomial and with the default normal approximation of large counts
(``beta-binomial-normal``), both on the same exact draws.

Run time on 2 cores: three compilations (about 30 s each) and 30 + 30 + 15 short fits.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import numpy as np
import pytest
import xarray as xr
from scipy import stats

from bayes_scaling.measurement import (
    NORMAL_MIN_COUNT,
    NORMAL_MIN_SHARE,
    draw,
    expected_score,
    linear_predictor,
    precision,
)
from bayes_scaling.simulate import Simulation, simulate

pytestmark = [pytest.mark.slow, pytest.mark.sampling]

#: Replications of the calibrated fit and of the mis-specified one.
N_REP = 30
N_REP_WRONG = 15
#: Short chains: 2 x 200 draws, thinned by 4 to 100 nearly independent ones per rank.
FIT = {"draws": 200, "tune": 200, "chains": 2}
THIN = 4
#: The held-out cell: (model index, benchmark).
HELD = (0, "MMLU")
#: Per-check false-alarm probability of a calibrated fit (seeds are fixed, so a pass is
#: a pass; this only sets how surprising a failure must be).
ALPHA = 0.001
N_BINS = 5


@dataclasses.dataclass(frozen=True)
class Ranks:
    """Ranks of the truth among posterior draws: (replication, quantity), in [0, 1]."""

    names: tuple[str, ...]
    u: np.ndarray
    inside90: np.ndarray
    divergences: int
    #: Share of the observed counts that the likelihood scores by their normal.
    approximated: float = 0.0

    def checks(self) -> list[tuple[str, bool]]:
        """One line per quantity (rank bins, chi-square p, 90% hits) and whether it fails."""
        n = self.u.shape[0]
        out = []
        lowest = int(stats.binom.ppf(ALPHA, n, 0.9))
        for i, name in enumerate(self.names):
            counts = np.bincount(
                np.minimum((self.u[:, i] * N_BINS).astype(int), N_BINS - 1), minlength=N_BINS
            )
            p = float(stats.chisquare(counts).pvalue)
            inside = int(self.inside90[:, i].sum())
            line = f"{name}: bins {counts.tolist()} (p={p:.2g}), 90% holds {inside}/{n}"
            out.append((line, p < ALPHA or inside < lowest))
        return out

    def failures(self) -> list[str]:
        """Quantities whose ranks are not uniform or whose 90% intervals miss too often."""
        return [line for line, failed in self.checks() if failed]

    def describe(self) -> str:
        """Every check, and the divergences of all fits (printed by ``pytest -s``)."""
        lines = [line for line, _ in self.checks()]
        return "\n".join([*lines, f"divergences over all fits: {self.divergences}"])


@pytest.fixture(scope="module")
def design() -> tuple[Simulation, xr.Dataset]:
    """The fixed design, and its data with the held-out cell blanked."""
    sim = simulate(20, 4, 5, capabilities=1, seed=5)
    data = sim.data.copy(deep=True)
    m, bench = HELD
    data["score"].loc[{"model": str(data["model"][m].item()), "benchmark": bench}] = np.nan
    return sim, data


def _held_out_scores(
    ds: xr.Dataset, data: xr.Dataset, rng: np.random.Generator, measurement: str
) -> np.ndarray:
    """Draws of the held-out cell's score from parameter draws (sample dim first)."""
    m, bench = HELD
    j = [str(b) for b in data["benchmark"].to_numpy()].index(bench)
    s = ds["S"].to_numpy()  # (sample, model, capability)
    centred = s[:, m, :] - s.mean(axis=1)
    # One column per draw: intercept (S, 1), weights (S, 1, K), capability (S, K).
    b = ds["b"].to_numpy()[:, j : j + 1]
    eta = linear_predictor(b, ds["loadings"].to_numpy()[:, j : j + 1, :], centred)
    p = expected_score(eta, float(data["floor"][j]), float(data["ceiling"][j]))
    phi = precision(ds["noise"].to_numpy()[:, j : j + 1])
    n = np.array([float(data["n_items"][j])])
    return draw(p, phi, n, rng, measurement)[:, 0]


def _quantities(ds: xr.Dataset, data: xr.Dataset, sim: Simulation) -> dict[str, np.ndarray]:
    """The ranked quantities of stacked draws ``ds`` (dims sample, ...)."""
    flops = sim.params["x"].to_numpy()
    mid = int(np.argsort(flops)[len(flops) // 2])
    s = ds["S"].sel(capability="general").to_numpy()
    return {"beta": ds["beta"].to_numpy(), "S[held model]": s[:, HELD[0]], "S[median]": s[:, mid]}


def _dataset(group: Any) -> xr.Dataset:
    """A group of a DataTree (or of an InferenceData) as a Dataset."""
    return group.to_dataset() if hasattr(group, "to_dataset") else group


def _run_sbc(design: tuple[Simulation, xr.Dataset], measurement: str, n_rep: int) -> Ranks:
    import nutpie
    import pymc as pm
    import pytensor

    from bayes_scaling.model import build_inputs, build_model

    sim, data = design
    truth_spec = sim.spec("k1")
    truth_inputs = build_inputs(data, truth_spec)
    assert truth_inputs.is_count.all()  # one observed variable, y_count
    prior = pm.sample_prior_predictive(
        draws=N_REP, model=build_model(truth_inputs, truth_spec), random_seed=20
    )
    true_params = _dataset(prior["prior"]).isel(chain=0).rename(draw="sample")
    counts = _dataset(prior["prior_predictive"])["y_count"].isel(chain=0).to_numpy()
    true_held = _held_out_scores(true_params, data, np.random.default_rng(21), "beta-binomial")
    true_q = _quantities(true_params, data, sim)

    spec = dataclasses.replace(truth_spec, measurement=measurement)
    model = build_model(build_inputs(data, spec), spec)
    y_obs = pytensor.shared(counts[0].astype(np.int64), name="y_obs")
    with warnings.catch_warnings(), pytensor.config.change_flags(numba__fastmath=False):
        warnings.simplefilter("ignore")
        compiled = nutpie.compile_pymc_model(pm.observe(model, {"y_count": y_obs}))
        names: tuple[str, ...] = ()
        u, inside, divergences = [], [], 0
        for r in range(n_rep):
            tree = nutpie.sample(
                compiled.with_data(y_obs=counts[r]),
                **FIT,
                seed=100 + r,
                cores=1,
                progress_bar=False,
            )
            post = _dataset(tree["posterior"]).isel(draw=slice(None, None, THIN))
            post = post.stack(sample=("chain", "draw")).transpose("sample", ...)
            divergences += int(_dataset(tree["sample_stats"])["diverging"].sum())
            rng = np.random.default_rng(1000 + r)
            q = _quantities(post, data, sim)
            q["held-out score"] = _held_out_scores(post, data, rng, measurement)
            t = {k: v[r] for k, v in true_q.items()} | {"held-out score": true_held[r]}
            names = tuple(q)
            row_u, row_in = [], []
            for name in names:
                d, truth = q[name], t[name]
                below, ties = int((d < truth).sum()), int((d == truth).sum())
                # Ties (discrete counts) are broken at random, so ranks stay uniform.
                rank = below + int(rng.integers(0, ties + 1))
                row_u.append((rank + rng.uniform()) / (len(d) + 1))
                lo, hi = np.quantile(d, [0.05, 0.95])
                row_in.append(lo <= truth <= hi)
            u.append(row_u)
            inside.append(row_in)
    n = truth_inputs.n_items[truth_inputs.obs_column]
    c = counts[:n_rep]
    lo, hi = NORMAL_MIN_SHARE * n, (1 - NORMAL_MIN_SHARE) * n
    big = (c >= NORMAL_MIN_COUNT) & (n - c >= NORMAL_MIN_COUNT) & (c >= lo) & (c <= hi)
    approximated = float(big.mean()) if measurement == "beta-binomial-normal" else 0.0
    return Ranks(names, np.array(u), np.array(inside), divergences, approximated)


@pytest.mark.parametrize("measurement", ["beta-binomial", "beta-binomial-normal"])
def test_posterior_intervals_are_calibrated(
    design: tuple[Simulation, xr.Dataset], measurement: str
) -> None:
    """The exact likelihood, and its normal approximation of large counts (data drawn
    from the exact one in both: the approximation must not cost coverage)."""
    ranks = _run_sbc(design, measurement, N_REP)
    print(f"\ncalibrated fit ({measurement}):\n{ranks.describe()}")
    if measurement == "beta-binomial-normal":
        # Not vacuous: most of the counts take the normal branch (57% when written).
        assert ranks.approximated > 0.4, ranks.approximated
    assert ranks.u.shape == (N_REP, 4)
    assert ranks.failures() == []
    # Pooled over quantities, 90% intervals hold about 90% of the truths.
    assert 0.8 <= float(ranks.inside90.mean()) <= 0.97, ranks.inside90.mean(axis=0)


def test_a_model_without_protocol_noise_fails(design: tuple[Simulation, xr.Dataset]) -> None:
    """Binomial measurement on beta-binomial data: the same checks must fail."""
    ranks = _run_sbc(design, "binomial", N_REP_WRONG)
    print(f"\nwithout protocol noise:\n{ranks.describe()}")
    failed = ranks.failures()
    assert any(f.startswith("held-out score") for f in failed), failed
