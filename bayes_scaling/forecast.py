"""Forecasts of downstream metrics with posterior predictive intervals.

A downstream metric (an agentic score, an emergent BIG-bench task, GSM8K with
chain-of-thought, ...) is fitted *jointly* with the capability model as one more sigmoid
of the capabilities, so the uncertainty of a held-out model's capabilities flows into its
forecast. Two routes:

- ``route="benchmarks"``: the held-out model's standard benchmark scores stay in the fit
  and place its capabilities; only its target is hidden.
- ``route="compute"``: its benchmark scores are hidden too, so its capabilities come from
  its family's efficiency and its training compute (an unseen family falls back to the
  population, with wider intervals).

Examples
--------
>>> from bayes_scaling import datasets
>>> bench = datasets.load("base-llm")
>>> top = split_compute_above(bench, quantile=0.8)
>>> len(top) > 0
True
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import xarray as xr

from bayes_scaling.errors import BayesScalingError, DataError
from bayes_scaling.estimator import CapabilityModel, FitResults, Sampler
from bayes_scaling.intervals import equal_tailed
from bayes_scaling.model import choose_anchors
from bayes_scaling.specs import ModelSpec

# The splits live in bayes_scaling.splits (shared with the backtests); these names stay
# importable from here, where the forecast examples and notebooks have always found them.
from bayes_scaling.splits import split_compute_above as split_compute_above
from bayes_scaling.splits import split_family as split_family
from bayes_scaling.splits import split_top_share as split_top_share

Route = Literal["benchmarks", "compute"]
PRED_COLUMNS = ("model", "metric", "split", "observed", "mean", "median", "lower", "upper")

#: Spec used for forecasts unless one is given: two capabilities sample quickly and
#: forecast as well as three on the bundled backtests (docs/forecasts.md).
DEFAULT_FORECAST_SPEC = "k2"


@dataclasses.dataclass(frozen=True)
class Target:
    """A downstream metric in its own units.

    Attributes
    ----------
    name : str
        Column name.
    values : pandas.Series
        Raw values indexed by model name (NaN = not measured).
    floor, ceiling : float
        Sigmoid asymptotes in the metric's units (chance level and best attainable).
    n_items : float or None
        Number of items behind each value, when the metric is a share of items answered
        correctly: the likelihood is then beta-binomial, so that 0 of 2,000 is as
        plausible for a weak model as it is. ``None``: a continuous score (Beta).
    """

    name: str
    values: pd.Series
    floor: float
    ceiling: float
    n_items: float | None = None

    @property
    def lower(self) -> float:
        """Bottom of the [0, 1] rescaling: 0, or the floor if it is negative."""
        return min(0.0, self.floor)

    def to_unit(self, v: np.ndarray | pd.Series | float) -> np.ndarray:
        """Raw units -> [0, 1]."""
        return (np.asarray(v, dtype=float) - self.lower) / (self.ceiling - self.lower)

    def from_unit(self, v: np.ndarray | float) -> np.ndarray:
        """[0, 1] -> raw units."""
        return self.lower + np.asarray(v, dtype=float) * (self.ceiling - self.lower)

    def dataset(self, models: Sequence[str], hidden: Sequence[str] = ()) -> xr.Dataset:
        """The target as a tidy dataset over ``models`` with ``hidden`` blanked."""
        vals = self.values.reindex(list(models)).to_numpy(dtype=float).copy()
        hide = np.isin(np.asarray(models, dtype=object), np.asarray(list(hidden), dtype=object))
        vals[hide] = np.nan
        unit = self.to_unit(vals)
        return xr.Dataset(
            {"score": (("model", "benchmark"), unit[:, None])},
            coords={
                "model": list(models),
                "benchmark": [self.name],
                "floor": ("benchmark", [float(self.to_unit(self.floor))]),
                "ceiling": ("benchmark", [1.0]),
                "n_items": ("benchmark", [np.nan if self.n_items is None else self.n_items]),
                "lower": ("benchmark", [self.lower]),
                "upper": ("benchmark", [self.ceiling]),
            },
        )


#: More than this share of a target's measured values at or below its declared floor
#: (chance) reads as a scoring failure rather than a capability: BBH few-shot with strict
#: answer extraction scores 0 for 71 to 74 of 75 base models on two- to 18-way tasks (below
#: chance), and for 73 of 75 on the tasks without a guessing floor (at it).
SCORING_FAILURE_SHARE = 0.9


class TargetWarning(UserWarning):
    """A downstream target that the model can fit but that may not measure a capability."""


def floor_share(values: pd.Series, floor: float) -> float:
    """Share of the measured values at or below the declared floor (0 if none measured).

    At the floor, not only below it: with a floor of 0 (exact match, no guessing), a column
    of zeros is a scoring failure as much as one below chance is.

    Examples
    --------
    >>> floor_share(pd.Series([0.0, 0.5, 0.6, None]), 0.5)
    0.6666666666666666
    """
    nums = pd.to_numeric(values, errors="coerce").dropna()
    return float((nums <= floor).mean()) if len(nums) else 0.0


def make_target(
    values: pd.Series,
    name: str,
    floor: float,
    ceiling: float = 1.0,
    source: str = "<target>",
    n_items: int | None = None,
) -> Target:
    """Validate a metric column and wrap it as a :class:`Target`.

    ``n_items`` declares the metric a share of that many items (see :class:`Target`).

    Raises
    ------
    BayesScalingError
        Non-numeric values, values outside ``[min(0, floor), ceiling]``,
        ``ceiling <= floor``, or ``n_items`` below one.

    Warns
    -----
    TargetWarning
        More than :data:`SCORING_FAILURE_SHARE` of the values lie at or below ``floor``.
        Values below the declared floor are allowed (the fit reads them as noise, or, in a
        ``target_floor = "around-chance"`` spec, learns a floor below chance), but nearly
        all of them at or below it is a scoring failure.

    Examples
    --------
    >>> t = make_target(pd.Series({"a": 0.25, "b": 0.5}), "acc", 0.0, n_items=2000)
    >>> t.n_items
    2000.0
    """
    if not ceiling > floor:
        raise BayesScalingError(f"--ceiling ({ceiling}) must be above --floor ({floor})")
    if n_items is not None and not n_items >= 1:
        raise BayesScalingError(f"--items must be a positive number of items, got {n_items}")
    nums = pd.to_numeric(values, errors="coerce")
    bad = values.notna() & nums.isna() & (values.astype(str).str.strip() != "")
    if bad.any():
        model = bad[bad].index[0]
        raise BayesScalingError(
            f"{source}, model {model!r}, column {name!r}: value {values[model]!r} is not a number"
        )
    lo = min(0.0, floor)
    out = (nums < lo) | (nums > ceiling)
    if out.any():
        model = out[out].index[0]
        raise BayesScalingError(
            f"{source}, model {model!r}, column {name!r}: value {nums[model]} is outside the "
            f"declared range [{lo:g}, {ceiling:g}]; set --floor/--ceiling to the metric's scale"
        )
    share = floor_share(nums, floor)
    if share > SCORING_FAILURE_SHARE:
        warnings.warn(
            f"{source}, column {name!r}: {share:.0%} of the values lie at or below the declared "
            f"floor {floor:g}; a scoring failure (e.g. strict answer extraction) rather "
            "than a capability? The fit follows them to a floor near the bottom",
            TargetWarning,
            stacklevel=2,
        )
    return Target(
        name=name,
        values=nums.astype(float),
        floor=float(floor),
        ceiling=float(ceiling),
        n_items=None if n_items is None else float(n_items),
    )


def read_metric_column(path: Path, metric: str) -> pd.Series:
    """The ``metric`` column of a wide CSV indexed by ``Model``, values as strings.

    Raises
    ------
    DataError
        Missing or unreadable file, no ``Model`` column, unknown metric, duplicate model.
    """
    if not path.is_file():
        raise DataError(str(path), "no such file")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(str(path), f"cannot read as CSV ({str(exc).splitlines()[0]})") from None
    if "Model" not in df.columns:
        raise DataError(str(path), "no 'Model' column", row=0)
    if metric not in df.columns:
        cols = [c for c in df.columns if c != "Model"]
        raise DataError(
            str(path), f"unknown metric column {metric!r}; columns: {', '.join(cols[:10])}", row=0
        )
    dup = df["Model"][df["Model"].duplicated()]
    if not dup.empty:
        raise DataError(
            str(path), f"duplicate model {dup.iloc[0]!r}", row=int(dup.index[0]) + 1, column="Model"
        )
    values = df.set_index("Model")[metric].replace("", None)
    return values


# ------------------------------------------------------------------------------- forecast
@dataclasses.dataclass
class Forecast:
    """Predictions of one forecast run, with the fit that made them.

    Attributes
    ----------
    table : pandas.DataFrame
        Columns ``model, metric, split, observed, mean, median, lower, upper`` in the
        metric's own units.
    fit : FitResults
        The joint fit (test targets hidden).
    draws : xarray.DataArray
        Posterior predictive draws on the [0, 1] scale, dims (sample, model, column).
    target : Target or None
        The forecast metric (``None`` for benchmark forecasts from compute).
    """

    table: pd.DataFrame
    fit: FitResults
    draws: xr.DataArray
    target: Target | None = None


def forecast(
    bench: xr.Dataset,
    target: Target | None,
    test_models: Sequence[str],
    *,
    route: Route = "benchmarks",
    benchmark_cols: Sequence[str] | None = None,
    spec: str | ModelSpec = DEFAULT_FORECAST_SPEC,
    interval: float = 0.9,
    seed: int = 0,
    draws: int = 500,
    tune: int = 500,
    chains: int = 4,
    sampler: Sampler = "nutpie",
    progress: bool = False,
    target_accept: float | None = None,
) -> Forecast:
    """Fit the capability model with the test models' targets hidden, and predict them.

    Parameters
    ----------
    bench : xarray.Dataset
        Tidy standard-benchmark dataset (predictors), all models.
    target : Target or None
        The downstream metric. ``None`` only with ``route="compute"``: then every
        benchmark column of the test models is predicted.
    test_models : sequence of str
        Held-out models; each must be in ``bench``.
    route : {"benchmarks", "compute"}
        Whether the test models' benchmark scores stay in the fit.
    benchmark_cols : sequence of str, optional
        Predictor benchmarks (default all).
    spec : str or ModelSpec
        Model spec (default ``k2``).
    interval : float
        Level of the equal-tailed posterior predictive interval (noise included).
    seed : int
        Same seed, same file.
    draws, tune, chains : int
        Sampler settings.
    sampler : {"nutpie", "pymc", "numpyro", "advi"}
        NUTS implementation, or ``"advi"``: an approximate posterior in seconds,
        labelled as such in the diagnostics.
    target_accept : float, optional
        NUTS's target acceptance rate (default: :meth:`CapabilityModel.fit`'s).

    Returns
    -------
    Forecast
    """
    if not 0 < interval < 1:
        raise BayesScalingError(f"--interval must be between 0 and 1, got {interval}")
    models_all = [str(m) for m in bench["model"].to_numpy()]
    test = list(dict.fromkeys(str(m) for m in test_models))
    missing = [m for m in test if m not in models_all]
    if missing:
        raise BayesScalingError(f"test model {missing[0]!r} is not in the benchmark table")
    if benchmark_cols is not None:
        unknown = [c for c in benchmark_cols if c not in bench["benchmark"].to_numpy()]
        if unknown:
            raise BayesScalingError(
                f"benchmark column {unknown[0]!r} is not in the benchmark table"
            )
        bench = bench.sel(benchmark=list(benchmark_cols))
    if target is None and route != "compute":
        raise BayesScalingError("--metric is required unless --from compute")
    if target is not None and target.name in bench["benchmark"].to_numpy():
        bench = bench.drop_sel(benchmark=[target.name])
    if route == "compute":
        if not np.isfinite(bench["flops"].to_numpy().astype(float)).any():
            raise BayesScalingError(
                "--from compute needs training compute, and no model of the table has any; "
                "use --from benchmarks"
            )
        no_compute = [m for m in test if not np.isfinite(float(bench["flops"].sel(model=m)))]
        if no_compute:
            raise BayesScalingError(
                f"test model {no_compute[0]!r} has no training compute; it cannot be forecast from compute"
            )

    fit_bench = bench.copy(deep=True)
    if route == "compute":
        fit_bench["score"].loc[{"model": test}] = np.nan
    # A model is kept when it has at least one benchmark score or is a test model with
    # compute: the fit then places it from its family and compute alone.
    has_scores = np.isfinite(fit_bench["score"]).any("benchmark").to_numpy()
    keep = [m for m, h in zip(models_all, has_scores, strict=True) if h or m in test]
    fit_bench = fit_bench.sel(model=keep)

    targets_ds = None
    if target is not None:
        target_models = [m for m in keep if m in target.values.index]
        train_vals = target.values.reindex(target_models).drop(index=test, errors="ignore").dropna()
        if train_vals.empty:
            raise BayesScalingError(
                f"no training model has a value of {target.name!r}: the train set is empty"
            )
        targets_ds = target.dataset(keep, hidden=test)
    model = CapabilityModel(spec)
    if not model.spec.anchors:
        # Which benchmark defines each capability axis is a property of the benchmark
        # table, not of the split. Hiding the largest models' scores (--from compute)
        # moved the general anchor of the bundled table from MMLU to ARC-C, which left
        # MMLU free to load on the GSM8K axis: a second mode (the axis explaining MMLU,
        # GSM8K left to its noise) that one chain in four fell into (R-hat 1.56). Only
        # the choice of columns uses the test models' scores; none of their values
        # enter the fit.
        k = model.spec.n_capabilities
        model = CapabilityModel(dataclasses.replace(model.spec, anchors=choose_anchors(bench, k)))
    fit = model.fit(
        fit_bench,
        targets_ds,
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        sampler=sampler,
        progress=progress,
        target_accept=target_accept,
    )
    rng = np.random.default_rng(seed)
    cap = fit.draws("S")
    if target is not None:
        rows_models = [m for m in keep if m in target.values.index or m in test]
        columns = [target.name]
    else:
        rows_models = test
        columns = [str(c) for c in fit_bench["benchmark"].to_numpy()]
    pred = fit.predictive_draws(cap.sel(model=rows_models), columns, rng)
    table = _table(pred, bench, target, test, interval)
    return Forecast(table=table, fit=fit, draws=pred, target=target)


def _table(
    pred: xr.DataArray,
    bench: xr.Dataset,
    target: Target | None,
    test: Sequence[str],
    interval: float,
) -> pd.DataFrame:
    rows = []
    test_set = set(test)
    for c in map(str, pred["column"].to_numpy()):
        if target is not None:
            to_raw = target.from_unit
            observed = target.values
        else:
            low = float(bench["lower"].sel(benchmark=c))
            high = float(bench["upper"].sel(benchmark=c))

            def to_raw(v: np.ndarray, low: float = low, high: float = high) -> np.ndarray:
                return low + np.asarray(v) * (high - low)

            observed = pd.Series(
                to_raw(bench["score"].sel(benchmark=c).to_numpy()),
                index=[str(m) for m in bench["model"].to_numpy()],
            )
        d = pred.sel(column=c).transpose("sample", "model").to_numpy()
        raw = to_raw(d)
        median = np.quantile(raw, 0.5, axis=0)
        lower, upper = equal_tailed(raw, interval)
        for i, m in enumerate(map(str, pred["model"].to_numpy())):
            obs = observed.get(m, np.nan)
            rows.append(
                {
                    "model": m,
                    "metric": c,
                    "split": "test" if m in test_set else "train",
                    "observed": float(obs) if obs is not None and np.isfinite(obs) else np.nan,
                    "mean": float(raw[:, i].mean()),
                    "median": float(median[i]),
                    "lower": float(lower[i]),
                    "upper": float(upper[i]),
                }
            )
    return pd.DataFrame(rows, columns=list(PRED_COLUMNS))


def calibration_report(
    table: pd.DataFrame, floor: float = 0.0, ceiling: float = 1.0
) -> dict[str, float]:
    """Held-out coverage and MSE of a forecast table (``split == "test"``, observed known).

    MSE is on the normalised scale ``(y - floor) / (ceiling - floor)``; coverage is the
    share of observed values inside ``[lower, upper]``.
    """
    t = table[(table["split"] == "test") & table["observed"].notna()]
    if t.empty:
        return {"n": 0, "coverage": float("nan"), "mse": float("nan")}
    scale = ceiling - floor
    inside = (t["observed"] >= t["lower"]) & (t["observed"] <= t["upper"])
    err = ((t["mean"] - t["observed"]) / scale) ** 2
    return {"n": len(t), "coverage": float(inside.mean()), "mse": float(err.mean())}
