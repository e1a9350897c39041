"""One model's compute recorded 1000x too high: normal against Student-t tails.

Issue 16: "a data error, such as a model whose compute is recorded 1000x too high, must not
widen every other family's forecast". On simulated tables (``simulate``: 64 models, 16
families, 6 benchmarks, K = 1), the largest-compute fifth of the models is held out and
forecast from family and compute alone
(:meth:`~bayes_scaling.estimator.FitResults.capability_from_compute`, then
:meth:`~bayes_scaling.estimator.FitResults.predict`). In the training table one model's
FLOPs are multiplied by 1000 (:func:`corrupt`: the median-compute model of the largest
family). Four fits per seed: the normal spec (``k1``) and the Student-t spec
(``tails = "student-t"``, :func:`robust_spec`), each on the clean and on the corrupted
table. One line per (seed, spec, table):

- ``sigma``: posterior median of the within-family sd of the general axis (decades; for
  the Student-t spec its scale);
- ``weight``: the corrupted model's posterior mean scale-mixture weight (Student-t only;
  the prior mean is one, an outlier's is small);
- ``mae``, ``cov90``, ``width``: the held-out forecasts' mean absolute error against the
  true expected score, the share of the held-out scores inside the 90% predictive interval,
  and its mean width, in points (x 100 on [0, 1]);
- the convergence summary, and ``NOT CONVERGED`` when a fit fails R-hat <= 1.01,
  ESS >= 400 or has divergences: such a line is not a result.

A final line per (spec, table) pools the held-out values over the seeds.

Run::

    nice -n 5 python bench/robust_tails.py [--seeds 0 1 2] [--draws 2000 --tune 1500]
"""

from __future__ import annotations

import dataclasses
import sys
import warnings

import numpy as np
import xarray as xr
from heldout_scores import Errors, fit_text, forecast_errors, pooled_line, seeds_parser, timed_fit

from bayes_scaling.estimator import FitResults
from bayes_scaling.simulate import simulate
from bayes_scaling.specs import ModelSpec, load_spec

TABLE = {"n_models": 64, "n_families": 16, "n_benchmarks": 6, "capabilities": 1}
#: Share of the models, by compute, held out and forecast.
HELD_OUT = 0.2
#: How far off the corrupted model's recorded compute is.
FACTOR = 1000.0


@dataclasses.dataclass(frozen=True)
class Case:
    """A simulated table's training part (clean and corrupted) and its held-out part."""

    clean: xr.Dataset
    corrupted: xr.Dataset
    held: xr.Dataset
    p: xr.DataArray  # the held-out models' true expected scores
    bad_model: str


def corrupt(data: xr.Dataset, factor: float = FACTOR) -> tuple[xr.Dataset, str]:
    """Multiply the FLOPs of the median-compute model of the largest family by ``factor``.

    Examples
    --------
    >>> data = simulate(**TABLE, seed=0).data
    >>> bad, name = corrupt(data)
    >>> float(bad["flops"].sel(model=name) / data["flops"].sel(model=name))
    1000.0
    """
    fam = data["family"].to_numpy()
    names, counts = np.unique(fam, return_counts=True)
    members = np.flatnonzero(fam == names[np.argmax(counts)])
    flops = data["flops"].to_numpy().astype(float)
    i = members[np.argsort(flops[members])[len(members) // 2]]
    out = flops.copy()
    out[i] *= factor
    return data.assign_coords(flops=("model", out)), str(data["model"].to_numpy()[i])


def make_case(seed: int) -> Case:
    """Simulate, hold out the largest-compute fifth, corrupt one training model."""
    sim = simulate(**TABLE, seed=seed)
    data = sim.data
    flops = data["flops"].to_numpy()
    top = flops >= np.quantile(flops, 1.0 - HELD_OUT)
    train = data.isel(model=np.flatnonzero(~top))
    corrupted, bad = corrupt(train)
    return Case(
        clean=train,
        corrupted=corrupted,
        held=data.isel(model=np.flatnonzero(top)),
        p=sim.params["p"].isel(model=np.flatnonzero(top)),
        bad_model=bad,
    )


def robust_spec() -> ModelSpec:
    """``k1`` with Student-t family effects and model deviations."""
    return dataclasses.replace(load_spec("k1"), name="k1-robust", tails="student-t")


def errors(fit: FitResults, case: Case, seed: int = 0) -> Errors:
    """Per held-out score: absolute error of the forecast mean, inside 90%?, width."""
    return forecast_errors(fit, case.held, case.p, seed)


def main(argv: list[str] | None = None) -> int:
    parser = seeds_parser(__doc__)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    specs = {"normal": load_spec("k1"), "student-t": robust_spec()}
    pooled: dict[tuple[str, str], list[Errors]] = {}
    unconverged = 0
    for seed in args.seeds:
        case = make_case(seed)
        for label, spec in specs.items():
            for table in ("clean", "corrupted"):
                fit, seconds = timed_fit(spec, getattr(case, table), args)
                err, inside, width = errors(fit, case)
                pooled.setdefault((label, table), []).append((err, inside, width))
                d = fit.diagnostics
                unconverged += not d.ok
                sigma = float(fit.posterior["sigma"].median())
                weight = "-"
                if "resid_weight" in fit.posterior:
                    w = fit.posterior["resid_weight"].sel(model=case.bad_model).mean()
                    weight = f"{float(w):.2f}"
                print(
                    f"seed {seed} | {label:9s} | {table:9s} | sigma {sigma:.3f} | "
                    f"weight {weight} | mae {100 * err.mean():.1f} pts | "
                    f"cov90 {inside.mean():.2f} | width {100 * width.mean():.1f} pts | "
                    f"{len(err)} values | " + fit_text(d, seconds),
                    flush=True,
                )
    for (label, table), parts in pooled.items():
        print(pooled_line(f"{label:9s} | {table:9s}", parts, unconverged))
    return 0


if __name__ == "__main__":
    sys.exit(main())
