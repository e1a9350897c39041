"""Forecasts of the newest families from compute and release date, with and without dates.

Over simulated tables with a known time trend in family efficiency (``simulate(...,
time_trend=T)``: 64 models, 16 families released 2020-2025, 6 benchmarks, K = 1), the two
newest families are held out entirely, and their models' benchmark scores are forecast
from family, compute and release date alone
(:meth:`~bayes_scaling.estimator.FitResults.capability_from_compute` and
:meth:`~bayes_scaling.estimator.FitResults.predict`). The same data are fitted twice: with
the ``Release Date`` column (``dates``) and without it (``no dates``, the model before
0.7.0). One line per (seed, fit):

- ``trend``: posterior median and 90% interval of ``time_trend`` (decades per year);
- ``mae``: mean absolute error of the forecast mean against the true expected score, in
  points of the [0, 1] scale x 100;
- ``cov90`` and ``width``: share of the held-out scores inside the 90% predictive
  interval, and its mean width in points;
- the fit's convergence summary, and ``NOT CONVERGED`` when it fails R-hat <= 1.01,
  ESS >= 400 or has divergences: such a line is not a result.

A final line pools each fit's held-out values over the seeds.

Run::

    nice -n 5 python bench/time_trend.py [--seeds 0 1 2 3 4] [--trend 0.5]
        [--draws 2000 --tune 1500 --chains 4]
"""

from __future__ import annotations

import dataclasses
import sys
import time
import warnings

import numpy as np
import xarray as xr
from heldout_scores import Errors, fit_text, forecast_errors, pooled_line, seeds_parser

from bayes_scaling.estimator import CapabilityModel, FitResults
from bayes_scaling.simulate import simulate
from bayes_scaling.specs import load_spec

#: The simulated table (keyword arguments of ``simulate`` besides seed and trend).
TABLE = {"n_models": 64, "n_families": 16, "n_benchmarks": 6, "capabilities": 1}
#: How many of the newest families are held out.
NEWEST = 2


@dataclasses.dataclass(frozen=True)
class Split:
    """A simulated table cut into the fit's models and the newest families' models."""

    train: xr.Dataset
    held: xr.Dataset
    p: xr.DataArray  # the held-out models' true expected scores (model, benchmark)


def newest_families_split(seed: int, trend: float) -> Split:
    """Simulate a table with a time trend and hold out its :data:`NEWEST` newest families.

    A family's date is the mean of its models'.

    Examples
    --------
    >>> split = newest_families_split(1, 0.5)
    >>> split.train.sizes["model"] + split.held.sizes["model"]
    64
    """
    sim = simulate(**TABLE, seed=seed, time_trend=trend)
    data = sim.data
    fam = data["family"].to_numpy()
    release = data["release"].to_numpy()
    when = {f: release[fam == f].mean() for f in np.unique(fam)}
    newest = np.isin(fam, sorted(when, key=when.__getitem__)[-NEWEST:])
    return Split(
        train=data.isel(model=np.flatnonzero(~newest)),
        held=data.isel(model=np.flatnonzero(newest)),
        p=sim.params["p"].isel(model=np.flatnonzero(newest)),
    )


def errors(fit: FitResults, split: Split) -> Errors:
    """Per held-out score: absolute error of the mean vs the truth, inside 90%?, width."""
    return forecast_errors(fit, split.held, split.p, dated=True)


def fit_both(
    split: Split, draws: int, tune: int, chains: int, seed: int = 0
) -> dict[str, FitResults]:
    """The default K = 1 spec fitted with the release dates and without them."""
    spec = load_spec("k1")
    kw = {"draws": draws, "tune": tune, "chains": chains, "seed": seed, "warn": False}
    return {
        "dates": CapabilityModel(spec).fit(split.train, **kw),
        "no dates": CapabilityModel(spec).fit(split.train.drop_vars("release"), **kw),
    }


def main(argv: list[str] | None = None) -> int:
    parser = seeds_parser(__doc__, seeds=[0, 1, 2, 3, 4])
    parser.add_argument("--trend", type=float, default=0.5)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    pooled: dict[str, list[Errors]] = {}
    unconverged = 0
    for seed in args.seeds:
        split = newest_families_split(seed, args.trend)
        start = time.perf_counter()
        fits = fit_both(split, args.draws, args.tune, args.chains)
        seconds = time.perf_counter() - start
        for label, fit in fits.items():
            err, inside, width = errors(fit, split)
            pooled.setdefault(label, []).append((err, inside, width))
            d = fit.diagnostics
            unconverged += not d.ok
            trend = "-"
            if "time_trend" in fit.posterior:
                q = np.quantile(fit.posterior["time_trend"].to_numpy(), [0.05, 0.5, 0.95])
                trend = f"{q[1]:+.2f} [{q[0]:+.2f}, {q[2]:+.2f}]"
            print(
                f"seed {seed} true trend {args.trend:+.2f} | {label:8s} | trend {trend} | "
                f"mae {100 * err.mean():.1f} pts | cov90 {inside.mean():.2f} | "
                f"width {100 * width.mean():.1f} pts | {len(err)} values | "
                + fit_text(d, seconds, "both fits "),
                flush=True,
            )
    for label, parts in pooled.items():
        print(pooled_line(f"{label:8s}", parts, unconverged))
    return 0


if __name__ == "__main__":
    sys.exit(main())
