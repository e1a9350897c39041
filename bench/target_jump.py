"""One model far above its target's curve: normal against Student-t per-model deviations.

Issue 16: a data error or one model's jump must not widen every other model's forecast.
For a downstream target such a jump is one model's own deviation from the target's curve
(scale ``target_spread``). On simulated tables (``simulate``: 48
models, 12 families, 5 benchmarks, K = 1) a target is drawn from the package's target
layer (``simulate_target``: deviations with sd 0.2 logits, the truth), the eight models of
highest general capability are held out (their benchmark scores stay in the fit), and the
training model of median capability gets a jump: its target value is raised by ``--jump``
(default 0.5 of the range). Two fits per seed: ``k1`` (normal deviations) and ``k1`` with
``tails = "student-t"`` (:func:`robust_spec`: Student-t deviations, ``tail_dof`` 4), on
the table with the jump, and with ``--jump 0`` on the clean one. One line per (seed, spec):

- ``spread``: posterior median of the target's per-model deviation scale (truth 0.2);
- ``mae``, ``cov90``, ``width``: the held-out models' forecasts (posterior predictive of
  the target given their capabilities): mean absolute error against the true expected
  score, the share of the observed values inside the 90% interval, its mean width, in
  points (x 100 on [0, 1]);
- the convergence summary, and ``NOT CONVERGED`` when a fit fails R-hat <= 1.01,
  ESS >= 400 or has divergences: such a line is not a result.

A final line per spec pools the held-out values over the seeds.

Run::

    nice -n 5 python bench/target_jump.py [--seeds 0 1 2] [--jump 0.5] [--draws 2000]
"""

from __future__ import annotations

import dataclasses
import sys
import warnings
from typing import Final

import numpy as np
import xarray as xr
from heldout_scores import Errors, fit_text, pooled_line, seeds_parser, timed_fit

from bayes_scaling.estimator import FitResults
from bayes_scaling.forecast import make_target
from bayes_scaling.simulate import simulate, simulate_target
from bayes_scaling.specs import ModelSpec, load_spec

TABLE: Final = {"n_models": 48, "n_families": 12, "n_benchmarks": 5, "capabilities": 1}
TARGET: Final = {"spread": 0.2, "general_weight": 2.0, "intercept": -0.5}
#: Held-out models: the highest general capability.
N_HELD: Final = 8
NAME: Final = "t"


@dataclasses.dataclass(frozen=True)
class Case:
    """A simulated table, its target (held-out values hidden), and the truth."""

    data: xr.Dataset
    target: xr.Dataset
    held: list[str]
    observed: np.ndarray  # the held-out models' values
    p: np.ndarray  # their true expected scores
    jumped: str


def make_case(seed: int, jump: float = 0.5) -> Case:
    """Simulate, hold out the top ``N_HELD`` models by capability, raise one value.

    Examples
    --------
    >>> case = make_case(0)
    >>> len(case.held), int(np.isnan(case.target["score"]).sum())
    (8, 8)
    >>> clean = make_case(0, jump=0.0)
    >>> bump = case.target["score"] - clean.target["score"]
    >>> round(float(bump.sel(model=case.jumped).item()), 2), float(abs(bump).sum()) > 0.5
    (0.5, False)
    """
    sim = simulate(**TABLE, seed=seed)
    truth = simulate_target(sim, **TARGET, seed=seed + 1)
    values = truth.values.copy()
    general = sim.params["S"].isel(capability=0).to_series()
    held = list(general.sort_values().index[-N_HELD:])
    train = general.drop(held).sort_values().index
    jumped = str(train[len(train) // 2])
    values[jumped] = min(0.99, values[jumped] + jump)
    models = [str(m) for m in sim.data["model"].to_numpy()]
    target = make_target(values, NAME, 0.0, 1.0, n_items=truth.n_items)
    return Case(
        data=sim.data,
        target=target.dataset(models, hidden=held),
        held=held,
        observed=truth.values[held].to_numpy(),
        p=truth.params["p"].sel(model=held).to_numpy(),
        jumped=jumped,
    )


def robust_spec() -> ModelSpec:
    """``k1`` with Student-t tails (targets' own deviations among them)."""
    return dataclasses.replace(load_spec("k1"), name="k1-robust", tails="student-t")


def errors(fit: FitResults, case: Case, seed: int = 0) -> Errors:
    """Per held-out value: error of the forecast mean, inside 90%?, interval width."""
    cap = fit.draws("S").sel(model=case.held)
    rep = fit.predictive_draws(cap, [NAME], np.random.default_rng(seed), noise=True)
    draws = rep.transpose("sample", "model", "column").to_numpy()[:, :, 0]
    lo, hi = np.quantile(draws, [0.05, 0.95], axis=0)
    return (
        np.abs(draws.mean(axis=0) - case.p),
        (case.observed >= lo) & (case.observed <= hi),
        hi - lo,
    )


def main(argv: list[str] | None = None) -> int:
    parser = seeds_parser(__doc__, tune=1000)
    parser.add_argument("--jump", type=float, default=0.5)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    specs = {"normal": load_spec("k1"), "student-t": robust_spec()}
    pooled: dict[str, list[Errors]] = {}
    unconverged = 0
    for seed in args.seeds:
        case = make_case(seed, args.jump)
        for label, spec in specs.items():
            fit, seconds = timed_fit(spec, case.data, args, case.target)
            err, inside, width = errors(fit, case)
            pooled.setdefault(label, []).append((err, inside, width))
            d = fit.diagnostics
            unconverged += not d.ok
            spread = float(fit.posterior["target_spread"].median())
            print(
                f"seed {seed} | jump {args.jump:.2f} | {label:9s} | spread {spread:.3f} | "
                f"mae {100 * err.mean():.2f} pts | cov90 {inside.mean():.2f} | "
                f"width {100 * width.mean():.1f} pts | {len(err)} values | " + fit_text(d, seconds),
                flush=True,
            )
    for label, parts in pooled.items():
        print(pooled_line(f"jump {args.jump:.2f} | {label:9s}", parts, unconverged))
    return 0


if __name__ == "__main__":
    sys.exit(main())
