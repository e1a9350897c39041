"""Student-t family effects and model deviations (``tails = "student-t"``, ``k3-robust``).

Tiers:

* the spec: ``tails`` is checked, and only a Student-t spec's graph has the models'
  scale-mixture weights (``resid_weight``) and t-distributed family effects;
* the prior, exactly: the weights scale the general axis's sds only, and a new model's
  weights drawn per posterior draw give a Student-t forecast;
* one real pair of fits (``bench/robust_tails.py``'s case, seed 0): with one model's
  compute recorded 1000x too high, the normal spec's within-family sd grows and every held-out
  forecast widens; the Student-t spec gives the model a small weight and keeps both;
* a downstream target's own per-model deviations (0.11.0): the graph's draws and
  ``target_deviation_draws`` (predictive draws, simulator) agree, and one real pair of fits
  (``bench/target_jump.py``'s case, seed 0): with one value far above the target's curve the
  normal spec's deviation scale doubles, the Student-t one stays at the truth.

The graph's density against every consumer is checked in ``tests/test_consistency.py``
(``k3-robust`` and ``k3-robust@lone-dated``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pymc as pm
import pytest
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import robust_tails

from bayes_scaling.capability_prior import capability_prior
from bayes_scaling.errors import SpecError
from bayes_scaling.estimator import CapabilityModel
from bayes_scaling.forecast import make_target
from bayes_scaling.model import build_inputs, build_model, target_deviation_draws
from bayes_scaling.simulate import simulate, simulate_target
from bayes_scaling.specs import load_spec, spec_from_dict


def test_tails_are_checked_and_only_student_t_has_heavy_tails() -> None:
    with pytest.raises(SpecError, match="tails must be one of normal, student-t"):
        spec_from_dict({"name": "x", "tails": "cauchy"})
    data = simulate(24, 6, 5, capabilities=2, seed=0).data
    robust = load_spec("k3-robust")
    assert robust.robust and robust.tails == "student-t" and robust.priors.tail_dof == 4.0
    spec = spec_from_dict({"name": "k2-t", "capabilities": 2, "tails": "student-t"})
    model = build_model(build_inputs(data, spec), spec)
    assert model.named_vars_to_dims["resid_weight"] == ("model",)
    assert "z_alpha_general" in model.named_vars  # the families' effects: t variates
    plain = load_spec("k2")
    assert "resid_weight" not in build_model(build_inputs(data, plain), plain).named_vars
    only = spec_from_dict({"name": "c", "compute_only": True, "tails": "student-t"})
    assert not only.robust  # the compute-only law has no deviations to make heavy-tailed


def test_weights_scale_the_general_axis_only() -> None:
    kw = {
        "x": np.array([1.0, np.nan, 0.5]),
        "family_index": np.array([0, 0, -1]),
        "alpha": np.array([[0.3, 0.1]]),
        "tau": np.array([0.4, 0.5]),
        "resid_sd": np.array([0.2, 0.8]),
        "x_sd": 1.0,
    }
    loc, scale = capability_prior(
        **kw, resid_mult=np.array([[2.0, 1.0, 3.0]]), tau_mult=np.array([[5.0, 5.0, 0.5]])
    )
    base_loc, base_scale = capability_prior(**kw)
    np.testing.assert_allclose(np.broadcast_to(loc, scale.shape)[0], base_loc)
    np.testing.assert_allclose(scale[0, :, 1], base_scale[:, 1])
    # Known family, known compute: the model's sd alone; unknown compute adds the spread;
    # a new family adds its own (scaled) family sd.
    np.testing.assert_allclose(
        scale[0, :, 0] ** 2,
        [(2 * 0.2) ** 2, 0.2**2 + 1.0, (3 * 0.2) ** 2 + (0.5 * 0.4) ** 2],
    )


def test_a_new_models_forecast_is_student_t_over_the_draws() -> None:
    """Gamma(nu/2, nu/2) weights per draw make normal draws a t with nu dof."""
    rng = np.random.default_rng(0)
    half = 2.0
    w = rng.gamma(half, 1.0 / half, (40_000, 1))
    loc, scale = capability_prior(
        x=np.array([0.0]),
        family_index=np.array([0]),
        alpha=np.zeros((1, 1)),
        tau=np.array([0.5]),
        resid_sd=np.array([0.3]),
        x_sd=1.0,
        resid_mult=1.0 / np.sqrt(w),
    )
    draws = (loc + scale * rng.normal(size=scale.shape))[:, 0, 0] / 0.3
    assert stats.kstest(draws, stats.t(df=4).cdf).pvalue > 0.01
    assert stats.kstest(draws, stats.norm.cdf).pvalue < 1e-6


def test_leave_one_out_of_a_student_t_fit_is_finite_and_seeded() -> None:
    """Plumbing: LOO draws the left-out model's weight and its family's (one-draw fit)."""
    from test_consistency import _cached_point

    from bayes_scaling.compare import _cells, integrated_log_likelihood

    fit = _cached_point("k3-robust@lone-dated")[3]
    cells = _cells(fit)
    cells = cells[cells["column"].isin(list(map(str, fit.posterior["benchmark"].to_numpy())))]

    def loo(seed: int) -> np.ndarray:
        return integrated_log_likelihood(fit, cells, proposals=64, seed=seed).to_numpy()

    a = loo(1)
    assert a.shape == (1, 1, 24) and np.isfinite(a).all()
    np.testing.assert_array_equal(a, loo(1))
    assert not np.array_equal(a, loo(2))


@pytest.mark.sampling
@pytest.mark.slow
def test_one_wrong_compute_does_not_widen_every_forecast() -> None:
    case = robust_tails.make_case(0)
    # 2000 draws: the normal spec on the corrupted table mixes slowly (bulk ESS 29-86 at
    # 500 draws with these packages; 387 at 2000), and the draws cost little beside compiling.
    kw = {"draws": 2000, "tune": 700, "chains": 4, "seed": 0, "warn": False}
    fits = {}
    for label, spec in (("normal", load_spec("k1")), ("student-t", robust_tails.robust_spec())):
        fits[label] = CapabilityModel(spec).fit(case.corrupted, **kw)
    robust = fits["student-t"]
    for fit in fits.values():
        assert fit.diagnostics.max_rhat < 1.02 and fit.diagnostics.divergences == 0
    sigma = {k: float(f.posterior["sigma"].median()) for k, f in fits.items()}
    # The truth is 0.3; one model three decades off inflates the normal spec's sd.
    assert sigma["student-t"] < 0.4 < sigma["normal"], sigma
    weight = float(robust.posterior["resid_weight"].sel(model=case.bad_model).mean())
    assert weight < 0.2, weight
    width = {k: robust_tails.errors(f, case)[2].mean() for k, f in fits.items()}
    assert width["student-t"] < 0.8 * width["normal"], width
    _, inside, _ = robust_tails.errors(robust, case)
    assert inside.mean() >= 0.75, inside.mean()


def test_targets_own_deviations_follow_the_graphs_distribution() -> None:
    """``target_deviation_draws`` (predictive, simulator) against the graph's own draws."""
    sim = simulate(24, 6, 5, capabilities=1, seed=0)
    truth = simulate_target(sim, seed=1)
    models = [str(m) for m in sim.data["model"].to_numpy()]
    target = make_target(truth.values, "t", 0.0, 1.0, n_items=truth.n_items).dataset(models)
    rng = np.random.default_rng(0)
    n = 20_000
    for spec, dof in ((load_spec("k1"), None), (robust_tails.robust_spec(), 4.0)):
        model = build_model(build_inputs(sim.data, spec, target), spec)
        graph = pm.draw(model["target_deviation_z"], draws=n // 24 + 1, random_seed=1)
        graph = np.asarray(graph).ravel()[:n]
        ours = target_deviation_draws(np.ones(n), (n,), rng, dof)
        assert stats.ks_2samp(graph, ours).pvalue > 1e-3
        # A wrong distribution is caught at this size.
        other = target_deviation_draws(np.ones(n), (n,), rng, None if dof else 4.0)
        assert stats.ks_2samp(graph, other).pvalue < 1e-4
    heavy = simulate_target(sim, spread=0.3, deviation_dof=2.5, seed=1).params["deviation"]
    light = simulate_target(sim, spread=0.3, seed=1).params["deviation"]
    assert np.abs(heavy).max() > np.abs(light).max()


@pytest.mark.sampling
@pytest.mark.slow
def test_one_jump_above_a_targets_curve_does_not_widen_every_forecast() -> None:
    """``bench/target_jump.py``'s case, seed 0: the Student-t deviations keep the spread."""
    import target_jump

    case = target_jump.make_case(0)
    kw = {"draws": 1500, "tune": 700, "chains": 4, "seed": 0, "warn": False}
    fits = {
        label: CapabilityModel(spec).fit(case.data, case.target, **kw)
        for label, spec in (("normal", load_spec("k1")), ("student-t", target_jump.robust_spec()))
    }
    for fit in fits.values():
        assert fit.diagnostics.max_rhat < 1.03
    spread = {k: float(f.posterior["target_spread"].median()) for k, f in fits.items()}
    # The truth is 0.2; one value half the range above its curve inflates the normal scale.
    assert spread["student-t"] < 0.28 < spread["normal"], spread
    width = {k: target_jump.errors(f, case)[2].mean() for k, f in fits.items()}
    assert width["student-t"] < 0.9 * width["normal"], width
    _, inside, _ = target_jump.errors(fits["student-t"], case)
    assert inside.mean() >= 0.75, inside.mean()


def test_target_jump_case_holds_out_the_top_and_raises_one_training_value() -> None:
    import doctest

    import target_jump

    result = doctest.testmod(target_jump, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 3 and result.failed == 0
    case = target_jump.make_case(1, jump=0.3)
    assert case.jumped not in case.held and len(case.observed) == target_jump.N_HELD
