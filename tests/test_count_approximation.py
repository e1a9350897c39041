"""The normal approximation of large counts (``measurement = "beta-binomial-normal"``).

Exact fixtures for which cells take which branch, against scipy; the approximation's
probabilities against the exact beta-binomial's where it applies; and its draws, which
stay exact. Calibration of fits with it: ``tests/test_sbc.py``; the graph against a
per-score recomputation: ``tests/test_model_graph.py``; every consumer against the
graph: ``tests/test_consistency.py``.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
import pytest
from scipy import stats

from bayes_scaling.measurement import (
    NORMAL_MIN_COUNT,
    NORMAL_MIN_SHARE,
    approx_counts_logp,
    draw,
    log_density,
)


def _approx(k: np.ndarray, n: np.ndarray, p: np.ndarray, phi: np.ndarray) -> np.ndarray:
    return approx_counts_logp(
        pt.as_tensor(k.astype(np.int64)),
        pt.as_tensor(p),
        pt.as_tensor(phi),
        pt.as_tensor(n.astype(np.int64)),
    ).eval()


def test_which_counts_take_the_normal() -> None:
    """At least 10 successes and 10 failures, and a share in [0.1, 0.9]; else exact."""
    assert (NORMAL_MIN_COUNT, NORMAL_MIN_SHARE) == (10, 0.1)
    n = np.array([100, 100, 100, 100, 1319, 1319, 50, 50, 164])
    k = np.array([10, 9, 90, 91, 131, 132, 9, 40, 82])
    normal = np.array([True, False, True, False, False, True, False, True, True])
    p = np.linspace(0.2, 0.7, len(n))
    phi = np.full(len(n), 150.0)
    got = _approx(k, n, p, phi)
    share = k / n
    sd = np.sqrt(n * share * (1 - share) * (phi + n) / (phi + 1))
    want = np.where(
        normal,
        stats.norm.logpdf(k, n * p, sd),
        stats.betabinom.logpmf(k, n, p * phi, (1 - p) * phi),
    )
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_normal_probabilities_are_close_to_the_exact_ones() -> None:
    """Where the rule applies, the normal's density at each count is that count's
    probability to within a few percent of the total mass."""
    for n, p, phi in [(1319, 0.3, 300.0), (14042, 0.55, 150.0), (164, 0.5, 60.0)]:
        k = np.arange(n + 1)
        share = k / n
        big = (np.minimum(k, n - k) >= 10) & (share >= 0.1) & (share <= 0.9)
        exact = stats.betabinom.pmf(k, n, p * phi, (1 - p) * phi)
        approx = np.exp(_approx(k, np.full(n + 1, n), np.full(n + 1, p), np.full(n + 1, phi)))
        np.testing.assert_allclose(approx[~big], exact[~big], rtol=1e-9)
        tv = 0.5 * np.abs(approx[big] - exact[big]).sum()
        assert tv < 0.05, (n, p, phi, tv)
        # The approximated mass is where the exact mass is.
        assert abs(approx[big].sum() - exact[big].sum()) < 0.05


def test_numpy_density_takes_the_same_branches() -> None:
    """``log_density`` (held-out log-likelihood, place, probes) is the graph's function."""
    y = np.array([0.5, 0.3, 0.01, 0.95])
    n = np.array([1000.0, 10.0, 1000.0, 1000.0])
    p = np.array([[0.45, 0.4, 0.02, 0.9]])
    phi = np.array([[99.0, 99.0, 99.0, 99.0]])
    got = log_density(y, n, p, phi, "beta-binomial-normal")
    exact = log_density(y, n, p, phi, "beta-binomial")
    k = np.round(y * n)
    want = _approx(k, n, p[0], phi[0])
    np.testing.assert_allclose(got[0], want, rtol=1e-12)
    # The share-10 cell of 10 items, 1% of 1000 and 95% of 1000 stay exact.
    np.testing.assert_allclose(got[0, 1:], exact[0, 1:], rtol=1e-12)
    assert not np.isclose(got[0, 0], exact[0, 0])


@pytest.mark.parametrize("linear", [None, np.array([False, False, True])])
def test_draws_stay_exact(linear: np.ndarray | None) -> None:
    """Same seed, same draws as the exact beta-binomial: the simulator is not approximated."""
    p = np.full((200, 3), 0.4)
    phi = np.array([80.0, 80.0, 80.0])
    n_items = np.array([1000.0, np.nan, np.nan])
    a = draw(p, phi, n_items, np.random.default_rng(3), "beta-binomial-normal", linear)
    b = draw(p, phi, n_items, np.random.default_rng(3), "beta-binomial", linear)
    np.testing.assert_array_equal(a, b)
