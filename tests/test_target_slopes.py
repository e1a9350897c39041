"""Student-t target slopes (``target_slopes = "student-t"``, issue 16 item 2).

Tiers:

* the spec: ``target_slopes`` is checked, and only a Student-t spec gives a target's log
  general weight a Student-t prior around the benchmarks' loading population;
* the prior, exactly: the graph's log density of ``target_log_weight`` is scipy's t (or
  normal) density at the population's mean and spread, at random points;
* what it buys, without sampling: at a slope far from the population, the t prior's
  penalty is a fraction of the normal's.

Consumers read a target's weights from the posterior, so the consistency test
(``tests/test_consistency.py``) needs no new case: the likelihood is unchanged.
"""

from __future__ import annotations

import doctest
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from bayes_scaling.errors import SpecError
from bayes_scaling.forecast import make_target
from bayes_scaling.model import build_inputs, build_model
from bayes_scaling.simulate import simulate, simulate_target
from bayes_scaling.specs import load_spec, spec_from_dict

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import heldout_scores
import target_slopes

T_SPEC = {"name": "k2-t-slopes", "capabilities": 2, "target_slopes": "student-t"}


def _model(spec_raw: dict[str, object]):
    sim = simulate(30, 6, 5, capabilities=2, seed=4)
    truth = simulate_target(sim, general_weight=4.0, seed=1)
    models = list(truth.values.index)
    target = make_target(truth.values, "t", 0.0, 1.0, n_items=truth.n_items)
    spec = spec_from_dict(spec_raw)
    return build_model(
        build_inputs(sim.data, spec, target.dataset(models, hidden=models[:5])), spec
    )


def test_target_slopes_are_checked_and_default_to_normal() -> None:
    with pytest.raises(SpecError, match="target_slopes must be one of normal, student-t"):
        spec_from_dict({"name": "x", "target_slopes": "cauchy"})
    for name in ("k1", "k2", "k3", "k3-robust"):
        assert load_spec(name).target_slopes == "normal"
    spec = spec_from_dict(T_SPEC)
    assert spec.priors.target_slope_dof == 3.0
    assert spec.hash() != spec_from_dict({**T_SPEC, "target_slopes": "normal"}).hash()


@pytest.mark.parametrize("slopes", ["normal", "student-t"])
def test_target_log_weight_prior_is_exact(slopes: str) -> None:
    """log p(target_log_weight | mu_l, sd_l) in the graph equals scipy's, at random points."""
    model = _model({**T_SPEC, "target_slopes": slopes})
    rv = model["target_log_weight"]
    assert type(rv.owner.op).__name__ == ("StudentTRV" if slopes == "student-t" else "NormalRV")
    value = model.rvs_to_values[rv]
    logp = model.compile_fn(
        model.logp(vars=[rv], sum=True),
        inputs=[value, model.rvs_to_values[model["mu_l"]], model.rvs_to_values[model["sd_l"]]],
        on_unused_input="ignore",
    )
    rng = np.random.default_rng(3)
    dof = spec_from_dict(T_SPEC).priors.target_slope_dof
    for _ in range(5):
        w, mu, log_sd = rng.normal(0, 1.5), rng.normal(0, 0.5), rng.normal(-1, 0.5)
        sd = np.exp(log_sd)
        got = logp({value.name: np.array([w]), "mu_l": mu, "sd_l_log__": log_sd})
        want = (
            stats.t.logpdf(w, dof, mu, sd)
            if slopes == "student-t"
            else stats.norm.logpdf(w, mu, sd)
        )
        np.testing.assert_allclose(got, want, rtol=1e-8)


def test_a_steep_target_pays_a_fraction_of_the_normal_penalty() -> None:
    """Five population sds out: 4.5 nats under t3 against 12.5 under the normal."""
    dof = spec_from_dict(T_SPEC).priors.target_slope_dof
    t_cost = stats.t.logpdf(0, dof) - stats.t.logpdf(5, dof)
    n_cost = stats.norm.logpdf(0) - stats.norm.logpdf(5)
    np.testing.assert_allclose([t_cost, n_cost], [4.467, 12.5], atol=1e-3)


def test_the_bench_case_is_a_steep_target_near_its_floor() -> None:
    """``bench/target_slopes.py``'s case: most training models near the floor, held out rising."""
    assert doctest.testmod(target_slopes).failed == 0
    assert doctest.testmod(heldout_scores, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0
    sim, truth, held = target_slopes.make_case(0, 5.0)
    train = truth.values.drop(held)
    assert (train < 0.05).mean() > 0.7 and truth.values.reindex(held).median() > 0.5
    benchmarks = sim.params["loadings"].isel(capability=0).to_numpy()
    assert 5.0 > 2 * benchmarks.max()  # outside the benchmarks' loading population
