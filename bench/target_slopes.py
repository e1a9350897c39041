"""Forecasts of a steep ("emergent") simulated target, with normal and Student-t target slopes.

Over simulated tables (70 models, 10 families, 6 benchmarks, K = 2, whose benchmarks'
general loadings lie between about 0.9 and 2.1), a downstream target is drawn by
:func:`~bayes_scaling.simulate.simulate_target` with a general weight of ``--weight``
(default 5: an emergent task, well outside the benchmarks' loadings) and a low intercept,
so that most models sit near its floor. The largest-compute 20% of the models are held
out, and the target is forecast from their benchmark scores with spec ``k2`` twice: with
the default normal prior on the target's log general weight (``normal``) and with
``target_slopes = "student-t"``. One line per (seed, fit):

- ``w``: posterior median and 90% interval of the target's general weight against the
  truth, and its ratio to the benchmarks' mean general loading (fit and truth: the
  capability's units are the fit's own);
- ``mse``: mean squared error of the forecast mean against the observed held-out values
  (x 1000), and the least-squares baseline's on the same split;
- ``cov90`` and ``width``: share of held-out values inside the 90% predictive interval,
  and its mean width in points;
- the fit's convergence, and ``NOT CONVERGED`` when it fails R-hat <= 1.01, ESS >= 400
  or has divergences: such a line is not a result.

A final line per fit pools the seeds.

Run::

    nice -n 5 python bench/target_slopes.py [--seeds 0 1 2] [--weight 5]
        [--draws 2000 --tune 1000 --chains 4]
"""

from __future__ import annotations

import dataclasses
import sys
import time
import warnings

import numpy as np
import xarray as xr
from heldout_scores import fit_text, pooled_line, seeds_parser

from bayes_scaling.baseline import baseline_forecast
from bayes_scaling.forecast import Forecast, forecast, make_target
from bayes_scaling.simulate import SimulatedTarget, Simulation, simulate, simulate_target

#: The simulated table (keyword arguments of ``simulate`` besides the seed).
TABLE = {"n_models": 70, "n_families": 10, "n_benchmarks": 6, "capabilities": 2, "missing": 0.1}
#: The target's intercept: most models near its floor, the largest ones rising.
INTERCEPT = -5.5
#: Share of the models, largest compute first, held out.
HELD = 0.2


def make_case(seed: int, weight: float) -> tuple[Simulation, SimulatedTarget, list[str]]:
    """A simulated table, its steep target and the held-out (largest-compute) models.

    Examples
    --------
    >>> sim, truth, held = make_case(0, 5.0)
    >>> len(held), float(truth.params["weights"][0])
    (14, 5.0)
    """
    sim = simulate(**TABLE, seed=seed)
    truth = simulate_target(sim, general_weight=weight, intercept=INTERCEPT, seed=seed)
    x = sim.params["x"].to_series()
    held = list(x.sort_values(ascending=False).index[: round(HELD * len(x))])
    return sim, truth, held


def fit_both(
    sim: Simulation, truth: SimulatedTarget, held: list[str], draws: int, tune: int, chains: int
) -> dict[str, Forecast]:
    """The held-out forecast with normal and with Student-t target slopes."""
    target = make_target(truth.values, "target", 0.0, 1.0, n_items=truth.n_items)
    base = sim.spec("k2")
    specs = {
        "normal": base,
        "student-t": dataclasses.replace(base, name="k2-t-slopes", target_slopes="student-t"),
    }
    kw = {"draws": draws, "tune": tune, "chains": chains, "seed": 0}
    return {label: forecast(sim.data, target, held, spec=s, **kw) for label, s in specs.items()}


def scores(result: Forecast, truth: SimulatedTarget) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per held-out model: squared error of the mean, inside the 90% interval?, width."""
    t = result.table[result.table["split"] == "test"].set_index("model")
    obs = truth.values.reindex(t.index).to_numpy()
    lo, hi = t["lower"].to_numpy(), t["upper"].to_numpy()
    return (t["mean"].to_numpy() - obs) ** 2, (obs >= lo) & (obs <= hi), hi - lo


def baseline_mse(sim: Simulation, truth: SimulatedTarget, held: list[str]) -> float:
    """The least-squares baseline's mean squared error on the same held-out models."""
    target = xr.DataArray(
        truth.values.to_numpy(), dims="model", coords={"model": truth.values.index}
    )
    out = baseline_forecast(sim.data, target, held)
    pred = out["mean"].sel(model=held).to_numpy()
    return float(np.mean((pred - truth.values.reindex(held).to_numpy()) ** 2))


def main(argv: list[str] | None = None) -> int:
    parser = seeds_parser(__doc__, tune=1000)
    parser.add_argument("--weight", type=float, default=5.0)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    pooled: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
    unconverged = 0
    for seed in args.seeds:
        sim, truth, held = make_case(seed, args.weight)
        base = baseline_mse(sim, truth, held)
        start = time.perf_counter()
        results = fit_both(sim, truth, held, args.draws, args.tune, args.chains)
        seconds = time.perf_counter() - start
        for label, result in results.items():
            sq, inside, width = scores(result, truth)
            pooled.setdefault(label, []).append((sq, inside, width))
            d = result.fit.diagnostics
            unconverged += not d.ok
            w = result.fit.posterior["target_weights"].sel(target="target").isel(capability=0)
            q = np.quantile(w.to_numpy(), [0.05, 0.5, 0.95])
            # The capability's scale is identified only up to the fit's units: compare the
            # target's weight relative to the benchmarks' mean general loading too.
            lam = result.fit.posterior["loadings"].isel(capability=0).mean("benchmark")
            rel = float((w / lam).median())
            true_rel = args.weight / float(sim.params["loadings"].isel(capability=0).mean())
            print(
                f"seed {seed} | {label:9s} | w {q[1]:.2f} [{q[0]:.2f}, {q[2]:.2f}] (true "
                f"{args.weight:.2f}) | w / mean loading {rel:.2f} (true {true_rel:.2f}) | "
                f"mse {1000 * sq.mean():.2f} (baseline {1000 * base:.2f}) | "
                f"cov90 {inside.mean():.2f} | width {100 * width.mean():.1f} pts | "
                + fit_text(d, seconds, "both fits "),
                flush=True,
            )
    for label, parts in pooled.items():
        print(pooled_line(f"{label:9s}", parts, unconverged, squared=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
