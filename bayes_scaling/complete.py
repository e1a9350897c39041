"""Fill every cell of a leaderboard with a posterior predictive interval.

``complete`` fits the capability model to a table (compute on all, some or none of its
models; bounded shares and linear columns such as Elo ratings; benchmarks seen by only
one or two models) and returns one row per (model, benchmark) pair: the observed value
(empty for a missing cell) and the posterior predictive mean, median and equal-tailed
interval of the cell, in the table's raw units.

For a missing cell the interval is the model's own posterior predictive of a score on
that benchmark (its capabilities as its other scores and its family inform them, plus
the benchmark's measurement noise). For an observed cell it is the predictive of a
replicate of that score: a check of the fit, not a forecast.

Examples
--------
>>> from bayes_scaling.simulate import simulate
>>> sim = simulate(20, 3, 5, capabilities=1, missing=0.5, seed=1, compute_missing=1.0)
>>> frame = complete(sim.data, spec="k1", draws=100, tune=100, chains=2)  # doctest: +SKIP
>>> list(frame.columns)  # doctest: +SKIP
['model', 'benchmark', 'observed', 'mean', 'median', 'lower', 'upper']
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
import xarray as xr

from bayes_scaling.errors import BayesScalingError
from bayes_scaling.intervals import check_level, equal_tailed

if TYPE_CHECKING:
    from bayes_scaling.estimator import FitResults

#: Columns of the completed table (the CLI's FILLED.csv), in order.
COLUMNS = ("model", "benchmark", "observed", "mean", "median", "lower", "upper")
#: Default spec: two capabilities resolve a general and one specialised direction without
#: asking a sparse table for more than it holds.
DEFAULT_SPEC = "k2"
#: Posterior draws the read-out uses at most (every k-th draw of each chain): the 5% and
#: 95% quantiles of 4,000 draws are within about 0.3 percentile points of their limit, and a
#: 100 x 130 table spent 53 s of 196 drawing 20,000.
READOUT_DRAWS = 4000

#: Models per chunk of predictive draws: draws x chunk x benchmarks stays a few hundred MB.
_CHUNK = 16

Sampler = Literal["nuts", "advi", "nutpie", "pymc", "numpyro"]


class SparseBenchmarkWarning(UserWarning):
    """A benchmark observed for only one or two models: kept, with a wide interval."""


def sparse_benchmarks(data: xr.Dataset, fewest: int = 3) -> list[str]:
    """Benchmarks observed for fewer than ``fewest`` models.

    Examples
    --------
    >>> ds = xr.Dataset({"score": (("model", "benchmark"), [[0.5, np.nan], [0.6, 0.7]])},
    ...                 coords={"model": ["a", "b"], "benchmark": ["X", "Y"]})
    >>> sparse_benchmarks(ds)
    ['X', 'Y']
    """
    counts = np.isfinite(data["score"].transpose("model", "benchmark").to_numpy()).sum(0)
    names = [str(b) for b in data["benchmark"].to_numpy()]
    return [n for n, c in zip(names, counts, strict=True) if c < fewest]


#: Posterior draws per chain by default: a sparse table without compute mixes slowly along
#: its models' capabilities. The simulated 100 x 30 table at 75% missing reached bulk ESS
#: 204 at 4 x 1000 draws, 399 at 4 x 2000 and 621 at 4 x 3000 (0.6.5); the 100 x 130 table,
#: 23% filled, 273 at 4 x 3000 and 482 at 4 x 5000 (0.10.0: the scale and rotation of its
#: specialisation axis are the slow directions). The read-out thins to READOUT_DRAWS.
DEFAULT_DRAWS = 5000


def complete(
    data: xr.Dataset,
    *,
    spec: str = DEFAULT_SPEC,
    interval: float = 0.9,
    seed: int = 0,
    draws: int = DEFAULT_DRAWS,
    tune: int = 1000,
    chains: int = 4,
    sampler: Sampler = "nuts",
    progress: bool = False,
) -> pd.DataFrame:
    """Fit ``data`` and fill every (model, benchmark) cell with a predictive interval.

    Parameters
    ----------
    data : xarray.Dataset
        Tidy benchmark dataset (:func:`bayes_scaling.data.read_table`); missing cells NaN,
        compute (``flops``) on all, some or no models; ``linear`` columns allowed.
    spec : str
        Model spec (``models/*.toml``).
    interval : float
        Level of the equal-tailed predictive interval.
    seed : int
        Same seed, same table.
    draws, tune, chains : int
        Sampler settings (per chain).
    sampler : {"nuts", "advi", "nutpie", "pymc", "numpyro"}
        ``nuts`` is nutpie's NUTS; ``advi`` a fast approximation (its intervals are not
        calibrated: no convergence diagnostics exist for it).
    progress : bool
        Show the sampler's progress bar.

    Returns
    -------
    pandas.DataFrame
        :data:`COLUMNS`, one row per (model, benchmark) in the table's order, raw units;
        ``attrs["diagnostics"]`` is the fit's convergence summary (a dict) and
        ``attrs["fit"]`` the :class:`~bayes_scaling.estimator.FitResults`.

    Warns
    -----
    SparseBenchmarkWarning
        For benchmarks observed for only one or two models (kept).
    """
    from bayes_scaling.estimator import CapabilityModel

    level = check_level(interval)
    sparse = sparse_benchmarks(data)
    if sparse:
        warnings.warn(
            SparseBenchmarkWarning(
                f"{len(sparse)} benchmark(s) observed for only one or two models "
                f"({', '.join(sparse[:5])}{', ...' if len(sparse) > 5 else ''}): kept; "
                "their intervals say how little is known"
            ),
            stacklevel=2,
        )
    engine = "nutpie" if sampler == "nuts" else sampler
    fit = CapabilityModel(spec).fit(
        data,
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        sampler=engine,  # type: ignore[arg-type]
        progress=progress,
        pointwise=False,  # completed_table draws every cell, observed ones included
    )
    frame = completed_table(fit, level, seed)
    d = fit.diagnostics
    frame.attrs["diagnostics"] = {
        "max_rhat": d.max_rhat,
        "min_ess_bulk": d.min_ess_bulk,
        "min_ess_tail": d.min_ess_tail,
        "divergences": d.divergences,
        "seconds": d.seconds,
    }
    frame.attrs["fit"] = fit
    return frame


def completed_table(fit: FitResults, level: float = 0.9, seed: int = 0) -> pd.DataFrame:
    """Every (model, benchmark) cell of a fit's table with its predictive interval.

    Posterior predictive draws of each cell (the model's capability draws through the
    benchmark layer, with measurement noise; :func:`bayes_scaling.predictive.predictive_draws`),
    summarised by their mean, median and equal-tailed ``level`` interval and mapped to the
    table's raw units (``lower + score * (upper - lower)``, as read).

    Parameters
    ----------
    fit : FitResults
    level : float
    seed : int
        Seed of the measurement-noise draws.

    Returns
    -------
    pandas.DataFrame
        :data:`COLUMNS`.
    """
    from bayes_scaling.predictive import column_params, predictive_draws

    fit = fit.thinned(READOUT_DRAWS)
    data = fit.data.transpose("model", "benchmark")
    models = [str(m) for m in data["model"].to_numpy()]
    benchmarks = [str(b) for b in data["benchmark"].to_numpy()]
    lower = data["lower"].to_numpy().astype(float) if "lower" in data.coords else 0.0
    upper = data["upper"].to_numpy().astype(float) if "upper" in data.coords else 1.0
    width = np.asarray(upper) - np.asarray(lower)
    rng = np.random.default_rng(seed)
    caps = fit.draws("S")
    params = column_params(fit, benchmarks)
    stats: dict[str, list[np.ndarray]] = {"mean": [], "median": [], "lower": [], "upper": []}
    for start in range(0, len(models), _CHUNK):
        chunk = models[start : start + _CHUNK]
        draws = predictive_draws(fit, caps.sel(model=chunk), benchmarks, rng, params=params)
        raw = lower + draws.transpose("sample", "model", "column").to_numpy() * width
        lo, hi = equal_tailed(raw, level, axis=0)
        stats["mean"].append(raw.mean(axis=0))
        stats["median"].append(np.median(raw, axis=0))
        stats["lower"].append(lo)
        stats["upper"].append(hi)
    observed = lower + data["score"].to_numpy().astype(float) * width
    frame = pd.DataFrame(
        {
            "model": np.repeat(models, len(benchmarks)),
            "benchmark": np.tile(benchmarks, len(models)),
            "observed": observed.ravel(),
            **{k: np.concatenate(v, axis=0).ravel() for k, v in stats.items()},
        },
        columns=list(COLUMNS),
    )
    if not np.isfinite(frame[["mean", "lower", "upper"]].to_numpy()).all():
        raise BayesScalingError("the completed table has non-finite predictions; refit")
    frame.attrs["level"] = level
    return frame
