"""Backtests: held-out forecasts of downstream metrics, one fit per task, run as a grid.

A backtest is many independent fits: one per (target, split, spec, seed). This module holds
what is specific to them: :func:`build_grid` lays out the tasks, :func:`backtest_worker` fits
one and scores its held-out forecast against the least-squares baseline, and
:func:`error_curves` summarises the table. Running the grid (process pool or Dask, disk cache,
resume) is the model-agnostic engine :mod:`bayes_scaling.grid`; the splits are
:mod:`bayes_scaling.splits`. Both are re-exported here under their old names. See
``docs/backtests.md``.

Examples
--------
>>> tasks = build_grid({"gsm8k": (0.0, 1.0)}, cutoffs=[22.5, 23.0], specs=["k2"], seeds=[0],
...                    params={"benchmarks": "base-llm"})
>>> [t.label for t in tasks]
['gsm8k | cutoff=22.5 | k2 | seed=0', 'gsm8k | cutoff=23 | k2 | seed=0']
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from bayes_scaling.errors import BayesScalingError

# The engine and the splits used to live here; their names stay importable from this
# module (docs, notebooks and scripts import them from bayes_scaling.backtest).
from bayes_scaling.grid import FIXED_COLUMNS as FIXED_COLUMNS
from bayes_scaling.grid import Metric as Metric
from bayes_scaling.grid import Task as Task
from bayes_scaling.grid import WorkerFn as WorkerFn
from bayes_scaling.grid import default_code_version as default_code_version
from bayes_scaling.grid import run_grid as run_grid
from bayes_scaling.grid import toy_worker as toy_worker
from bayes_scaling.grid import write_table as write_table
from bayes_scaling.splits import parse_split as parse_split
from bayes_scaling.splits import split_test_models as split_test_models

if TYPE_CHECKING:  # pandas is imported lazily, by the functions that need it.
    import pandas as pd

__all__ = [
    "BACKTEST_METRICS",
    "FIXED_COLUMNS",
    "SUITE_METRICS",
    "DeclaredMetric",
    "HeldOutForecast",
    "Task",
    "WorkerFn",
    "backtest_worker",
    "baseline_spread",
    "build_grid",
    "data_digest",
    "default_code_version",
    "error_curves",
    "held_out_forecast",
    "load_benchmarks",
    "parse_split",
    "read_metric",
    "run_grid",
    "split_test_models",
    "suite_worker",
    "toy_worker",
    "write_table",
]


# ---------------------------------------------------------------------------------------------
# The real worker: one held-out forecast of a downstream metric (see docs/backtests.md)
# ---------------------------------------------------------------------------------------------

#: Metrics returned by :func:`backtest_worker`, in this order (the table's columns).
BACKTEST_METRICS: Final = (
    "n_train",
    "n_test",
    "mse",
    "mae",
    "lpd",
    "coverage50",
    "coverage90",
    "mse_baseline",
    "max_rhat",
    "divergences",
)


def load_benchmarks(name_or_file: str, *, percent: bool = False) -> Any:
    """The tidy benchmark dataset of a bundled table name or a CSV/Parquet file.

    :func:`bayes_scaling.datasets.resolve_table` under the name the backtest worker and
    older scripts use: an existing file wins over a bundled name, ``percent`` applies to
    files only.

    Examples
    --------
    >>> int(load_benchmarks("base-llm").sizes["model"])
    128
    """
    from bayes_scaling.datasets import resolve_table

    return resolve_table(name_or_file, percent=percent)


class DeclaredMetric(NamedTuple):
    """A downstream metric's raw values and what its table declares about them.

    ``values`` (a Series indexed by model, in the table's raw units, NaN = not measured);
    the declared ``floor`` (chance) and ``ceiling`` in the same units, and ``n_items``, the
    items behind each value when the table declares them (all three None for a CSV file).
    """

    values: Any
    floor: float | None
    ceiling: float | None
    n_items: int | None

    def settle(
        self,
        floor: float | None = None,
        ceiling: float | None = None,
        n_items: int | None = None,
    ) -> tuple[float, float, int | None]:
        """Floor, ceiling and item count to fit with: what the caller gives wins, then
        what the table declares, then 0, 1 and none (the one rule of every command).

        Examples
        --------
        >>> m = read_metric("emergent", "parsinlu_qa_2_acc")
        >>> m.settle(), m.settle(floor=0.2, n_items=500)
        ((0.25, 1.0, 1050), (0.2, 1.0, 500))
        """
        return (
            float(next(v for v in (floor, self.floor, 0.0) if v is not None)),
            float(next(v for v in (ceiling, self.ceiling, 1.0) if v is not None)),
            n_items if n_items is not None else self.n_items,
        )


def read_metric(name_or_file: str, metric: str) -> DeclaredMetric:
    """Raw values of one downstream metric, and the floor, ceiling and items the table declares.

    Parameters
    ----------
    name_or_file : str
        A bundled table (values in the table's raw units; floor, ceiling and item count
        from its registry) or a CSV file with a ``Model`` column (nothing declared).
    metric : str
        Column name.

    Returns
    -------
    DeclaredMetric
        Values indexed by model (NaN = not measured; strings are left for
        :func:`bayes_scaling.forecast.make_target` to reject), declared floor, ceiling and
        item count.

    Examples
    --------
    >>> v, floor, ceiling, n_items = read_metric("emergent", "arithmetic_3ds_2_acc")
    >>> floor, ceiling, n_items
    (0.0, 1.0, 2000)
    """
    import math

    import pandas as pd

    from bayes_scaling import datasets
    from bayes_scaling.errors import DataError

    path = Path(name_or_file)
    if datasets.bundled_name(name_or_file) is not None:
        ds = datasets.load(name_or_file)
        names = [str(b) for b in ds["benchmark"].to_numpy()]
        if metric not in names:
            raise DataError(
                name_or_file, f"unknown metric column {metric!r}; columns: {', '.join(names[:10])}"
            )
        col = ds.sel(benchmark=metric)
        lower, upper = float(col["lower"]), float(col["upper"])

        def raw(v: float) -> float:
            return lower + v * (upper - lower)

        values = pd.Series(
            raw(col["score"].to_numpy()),
            index=[str(m) for m in ds["model"].to_numpy()],
            name=metric,
        )
        n = float(col["n_items"]) if "n_items" in col.coords else math.nan
        return DeclaredMetric(
            values,
            raw(float(col["floor"])),
            raw(float(col["ceiling"])),
            None if math.isnan(n) else int(n),
        )
    if not path.is_file():
        raise DataError(
            name_or_file, f"file not found (bundled tables: {', '.join(datasets.names())})"
        )
    from bayes_scaling.forecast import read_metric_column

    return DeclaredMetric(read_metric_column(path, metric), None, None, None)


def data_digest(obj: Any) -> str:
    """sha256 of a tidy dataset's or a Series' content (not of its file format).

    Goes into a task's ``params`` so that editing the data invalidates cached results, and
    lets a worker check that it reads the same data the grid was built from.

    Examples
    --------
    >>> data_digest(load_benchmarks("base-llm")) == data_digest(load_benchmarks("base-llm"))
    True
    """
    import pandas as pd

    if isinstance(obj, pd.Series):
        text = obj.astype(str).to_csv()
    else:
        # Every coordinate (family, flops, floor, n_items, ...) and the scores.
        text = obj.reset_coords().to_dataframe().to_csv()
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclasses.dataclass(frozen=True)
class HeldOutForecast:
    """One fitted split: the held-out values, the model's and the baseline's forecasts.

    Everything on the target's normalised scale ``(y - floor) / (ceiling - floor)``
    except ``observed`` and ``draws`` (the target's units).

    Attributes
    ----------
    held : list of str
        Held-out models with a value of the target.
    observed : numpy.ndarray
        Their values.
    draws : numpy.ndarray
        Posterior predictive draws (sample, model), noise included.
    loglik : numpy.ndarray
        Pointwise log-likelihood draws of the held-out values on the normalised scale (a
        count target's as a density, :func:`bayes_scaling.measurement.count_as_density`).
    floor, ceiling : float
        The target's normalisation.
    n_train : int
        Training models with the target.
    base_mean : numpy.ndarray or None
        The least-squares baseline's forecasts (target units); None when it cannot be fitted.
    base_sd : float
        The baseline's residual sd on the normalised scale (:func:`baseline_spread`).
    diagnostics : Diagnostics
        Convergence of the fit.
    """

    held: list[str]
    observed: Any
    draws: Any
    loglik: Any
    floor: float
    ceiling: float
    n_train: int
    base_mean: Any
    base_sd: float
    diagnostics: Any


#: Parameters of the baseline's sigmoid: intercept and one weight per component (or the
#: compute slope), the degrees of freedom its residual spread loses.
BASELINE_PARAMS: Final = {"benchmarks": 4, "compute": 2}


def baseline_spread(base: Any, route: str, floor: float, ceiling: float) -> float:
    """Residual sd of the least-squares baseline on its training models (normalised scale).

    The baseline's predictive for the suite's log score, CRPS and PIT is Gaussian with
    this spread around its point forecast: ``sqrt(sum r^2 / (n - p))`` with ``p`` the
    sigmoid's parameters (:data:`BASELINE_PARAMS`).

    Examples
    --------
    >>> import xarray as xr
    >>> base = xr.Dataset({"mean": ("model", [0.2, 0.4, 0.6, 0.8, 0.5]),
    ...                    "observed": ("model", [0.3, 0.3, 0.7, 0.7, 0.9]),
    ...                    "split": ("model", ["train"] * 4 + ["test"])})
    >>> round(baseline_spread(base, "compute", 0.0, 1.0), 4)  # sqrt(0.04 / 2)
    0.1414
    """
    from bayes_scaling.evaluation import residual_sd

    train = base["split"].to_numpy() == "train"
    resid = (base["mean"].to_numpy()[train] - base["observed"].to_numpy()[train]) / (
        ceiling - floor
    )
    return residual_sd(resid, BASELINE_PARAMS.get(route, 4))


def held_out_forecast(task: Task) -> HeldOutForecast:
    """Fit one task's split and forecast its held-out models, with the baseline beside it.

    The shared first half of :func:`backtest_worker` and :func:`suite_worker`; reads the
    task as :func:`backtest_worker` documents.

    Raises
    ------
    BayesScalingError
        Impossible splits (no held-out model with the target, no training model with it),
        data that changed since the grid was built.
    """
    import numpy as np
    import xarray as xr

    from bayes_scaling.baseline import baseline_compute_forecast, baseline_forecast
    from bayes_scaling.compare import fit_log_likelihood
    from bayes_scaling.errors import DataError
    from bayes_scaling.forecast import forecast, make_target
    from bayes_scaling.measurement import count_as_density

    p = task.params
    bench_src = str(p["benchmarks"])
    bench = load_benchmarks(bench_src, percent=bool(p.get("percent", False)))
    if p.get("benchmarks_sha256") and data_digest(bench) != p["benchmarks_sha256"]:
        raise BayesScalingError(f"{bench_src}: the data changed since the grid was built")
    target_src = str(p.get("target_table") or bench_src)
    metric = read_metric(target_src, task.target)
    raw = metric.values
    if p.get("target_sha256") and data_digest(raw) != p["target_sha256"]:
        raise BayesScalingError(f"{target_src}: {task.target!r} changed since the grid was built")
    # A bundled table's declared item count makes the target a count (docs/data.md).
    floor, ceiling, n_items = metric.settle(p.get("floor"), p.get("ceiling"))
    target = make_target(raw, task.target, floor, ceiling, source=target_src, n_items=n_items)
    route = str(p.get("route", "benchmarks"))
    bench, test = split_test_models(bench, task.split, route, target.values)
    models = [str(m) for m in bench["model"].to_numpy()]
    values = target.values.reindex(models)
    held = [m for m in test if np.isfinite(values[m])]
    # Checked before fitting: an impossible split costs no sampling.
    if not held:
        raise BayesScalingError(
            f"split {task.split}: no held-out model has a value of {task.target!r}"
        )
    result = forecast(
        bench,
        target,
        test,
        route=route,
        spec=task.spec,
        seed=task.seed,
        draws=int(p.get("draws", 500)),
        tune=int(p.get("tune", 500)),
        chains=int(p.get("chains", 4)),
    )
    fit = result.fit
    observed = values[held].to_numpy(dtype=float)
    draws = target.from_unit(
        result.draws.sel(column=target.name, model=held).transpose("sample", "model").to_numpy()
    )
    # Exact predictive density of the held-out values under the model's likelihood (a
    # count's probability read as a density), moved from the model's [0, 1] scale to the
    # normalised scale by the Jacobian.
    ll_unit = count_as_density(
        fit_log_likelihood(fit, held, [target.name] * len(held), target.to_unit(observed)),
        target.n_items,
    )
    jacobian = np.log((target.ceiling - target.lower) / (target.ceiling - target.floor))
    table = result.table
    n_train = int(((table["split"] == "train") & table["observed"].notna()).sum())

    target_da = xr.DataArray(values.to_numpy(dtype=float), dims="model", coords={"model": models})
    base_bench = bench.drop_sel(benchmark=[target.name], errors="ignore")
    base_mean, base_sd = None, float("nan")
    try:
        if route == "compute":
            base = baseline_compute_forecast(
                base_bench, target_da, held, floor=target.floor, ceiling=target.ceiling
            )
        else:
            base = baseline_forecast(
                base_bench, target_da, held, floor=target.floor, ceiling=target.ceiling
            )
        base_mean = base["mean"].sel(model=held).to_numpy()
        base_sd = baseline_spread(base, route, target.floor, target.ceiling)
    except DataError:
        pass  # too few training models for the baseline's sigmoid
    return HeldOutForecast(
        held=held,
        observed=observed,
        draws=draws,
        loglik=ll_unit - jacobian,
        floor=target.floor,
        ceiling=target.ceiling,
        n_train=n_train,
        base_mean=base_mean,
        base_sd=base_sd,
        diagnostics=fit.diagnostics,
    )


def backtest_worker(task: Task) -> dict[str, Metric]:
    """Fit one backtest case and score its held-out forecasts (top level: picklable).

    Reads everything from the task: ``task.target`` is the metric column, ``task.split``
    the split (:func:`split_test_models`), ``task.spec`` and ``task.seed`` the fit; and
    ``task.params``:

    - ``benchmarks`` (bundled name or file path), ``percent`` (bool), ``benchmarks_sha256``
      (optional: refuse to run on other data than the grid was built from);
    - ``target_table`` (bundled name or file; default ``benchmarks``), ``target_sha256``;
    - ``floor``, ``ceiling`` (the metric's, in its units; default: declared by a bundled
      table, else 0 and 1);
    - ``route`` (``"benchmarks"`` or ``"compute"``: see :func:`bayes_scaling.forecast.forecast`),
      ``draws``, ``tune``, ``chains``.

    Returns
    -------
    dict
        :data:`BACKTEST_METRICS`: ``n_train`` and ``n_test`` (models with the target in
        training / held out), ``mse``, ``mae`` of the posterior mean on the normalised scale
        ``(y - floor) / (ceiling - floor)``, ``lpd`` (mean held-out log predictive density
        on that scale, exact from the model's Beta likelihood), ``coverage50``,
        ``coverage90`` (equal-tailed predictive intervals, noise included), ``mse_baseline``
        (the least-squares baseline on the same split: PCA of the benchmarks, or the compute
        law for ``route="compute"``; NaN when it cannot be fitted), ``max_rhat`` and
        ``divergences`` of the fit.

    Raises
    ------
    BayesScalingError
        Impossible splits (no held-out model with the target, no training model with it),
        data that changed since the grid was built.

    Examples
    --------
    >>> t = Task("arithmetic_3ds_2_acc", "cutoff=23.2", "k2", 0,
    ...          {"benchmarks": "base-llm", "target_table": "emergent", "draws": 300})
    >>> row = backtest_worker(t)  # doctest: +SKIP
    """
    from bayes_scaling.evaluation import score_forecasts

    h = held_out_forecast(task)
    score = score_forecasts(
        h.observed,
        h.draws.mean(axis=0),
        h.draws,
        floor=h.floor,
        ceiling=h.ceiling,
        loglik=h.loglik,
    )
    d = h.diagnostics
    return {
        "n_train": h.n_train,
        "n_test": len(h.held),
        "mse": score.mse,
        "mae": score.mae,
        "lpd": score.lpd,
        "coverage50": score.coverage50,
        "coverage90": score.coverage90,
        "mse_baseline": _mse(h.base_mean, h),
        "max_rhat": float(d.max_rhat),
        "divergences": int(d.divergences),
    }


def _mse(mean: Any, h: HeldOutForecast) -> float:
    import numpy as np

    if mean is None:
        return float("nan")
    return float(np.mean(((np.asarray(mean) - h.observed) / (h.ceiling - h.floor)) ** 2))


#: Metrics returned by :func:`suite_worker`, in this order (the suite table's columns).
SUITE_METRICS: Final = (
    "n_train",
    "n_test",
    "mse",
    "mse_baseline",
    "mse_ratio",
    "mae",
    "mae_baseline",
    "coverage50",
    "coverage90",
    "coverage50_baseline",
    "coverage90_baseline",
    "log_score",
    "log_score_baseline",
    "crps",
    "crps_baseline",
    "pit_counts",
    "pit_counts_baseline",
    "max_rhat",
    "min_ess_bulk",
    "min_ess_tail",
    "divergences",
    "converged",
    "draws",
    "seconds",
)


#: A ``--retry-draws`` refit samples with the task's seed plus this (see :func:`suite_worker`).
RETRY_SEED_OFFSET = 1000


def suite_worker(task: Task) -> dict[str, Metric]:
    """One task of the backtest suite: :func:`backtest_worker`'s fit, more scores.

    Reads the task as :func:`backtest_worker` does (the suite's splits are those of
    :func:`bayes_scaling.splits.split_test_models` that read the target). Every score is on
    the normalised scale ``(y - floor) / (ceiling - floor)`` and averaged over the held-out
    models; the baseline's predictive is Gaussian around its point forecast with its
    training residual sd (:func:`baseline_spread`).

    Returns
    -------
    dict
        :data:`SUITE_METRICS`: counts; ``mse``, ``mae`` and the baseline's, and
        ``mse_ratio``; 50% / 90% coverage of both; ``log_score`` (mean log predictive
        density, exact from the model's likelihood) and the baseline's Gaussian log
        density; ``crps`` (from the predictive draws) and the baseline's closed form;
        ``pit_counts`` (a PIT histogram in ten bins, ``;``-separated counts) of both;
        ``max_rhat``, ``min_ess_bulk``, ``min_ess_tail``, ``divergences``, ``converged``
        (R-hat <= 1.01, ESS >= 400, no divergence), the ``draws`` per chain of the fit
        scored and the wall ``seconds`` of the task.

    With ``retry_draws`` in the task's params (above its ``draws``), a fit that misses the
    convergence bar is refitted once with that many draws per chain and the sampler seed
    ``seed + RETRY_SEED_OFFSET``, and the refit is scored. The rule reads only the
    diagnostics, never the scores. The new seed matters: with the same one the chains tune
    exactly as before, so a chain trapped in another mode during tuning (GSM8K's noise
    mode, docs/forecasts.md) is trapped again.

    Examples
    --------
    >>> t = Task("MMLU", "compute-top=0.2", "k2", 0, {"benchmarks": "base-llm",
    ...          "route": "compute", "draws": 300})
    >>> row = suite_worker(t)  # doctest: +SKIP
    """
    import time

    import numpy as np

    from bayes_scaling import evaluation as ev

    start = time.perf_counter()
    h = held_out_forecast(task)
    draws = int(task.params.get("draws", 500))
    retry = int(task.params.get("retry_draws") or 0)
    if not h.diagnostics.ok and retry > draws:
        draws = retry
        h = held_out_forecast(
            dataclasses.replace(
                task, seed=task.seed + RETRY_SEED_OFFSET, params={**task.params, "draws": draws}
            )
        )
    rng = np.random.default_rng([task.seed, 7])
    y = ev.normalised(h.observed, h.floor, h.ceiling)
    d = ev.normalised(h.draws, h.floor, h.ceiling)
    ours = ev.score_forecasts(y, d.mean(axis=0), d, floor=0.0, loglik=h.loglik)
    row: dict[str, Metric] = {
        "n_train": h.n_train,
        "n_test": len(h.held),
        "mse": ours.mse,
    }
    nan = float("nan")
    base: dict[str, Metric] = dict.fromkeys(
        ("mse", "mae", "coverage50", "coverage90", "log_score", "crps"), nan
    )
    base["pit_counts"] = None
    if h.base_mean is not None and np.isfinite(h.base_sd) and h.base_sd > 0:
        m = ev.normalised(np.asarray(h.base_mean, dtype=float), h.floor, h.ceiling)
        base["mse"] = float(np.mean((m - y) ** 2))
        base["mae"] = float(np.mean(np.abs(m - y)))
        for level in (0.5, 0.9):
            lo, hi = ev.gaussian_interval(m, h.base_sd, level)
            base[f"coverage{round(level * 100)}"] = ev.coverage(y, lo, hi)
        base["log_score"] = float(np.mean(ev.gaussian_log_score(m, h.base_sd, y)))
        base["crps"] = float(np.mean(ev.crps_gaussian(m, h.base_sd, y)))
        base["pit_counts"] = _counts_text(ev.pit_gaussian(m, h.base_sd, y))
    elif h.base_mean is not None:
        base["mse"] = _mse(h.base_mean, h)
    diag = h.diagnostics
    row.update(
        {
            "mse_baseline": base["mse"],
            "mse_ratio": ours.mse / base["mse"] if base["mse"] else nan,
            "mae": ours.mae,
            "mae_baseline": base["mae"],
            "coverage50": ours.coverage50,
            "coverage90": ours.coverage90,
            "coverage50_baseline": base["coverage50"],
            "coverage90_baseline": base["coverage90"],
            "log_score": ours.lpd,
            "log_score_baseline": base["log_score"],
            "crps": float(np.mean(ev.crps_sample(d, y))),
            "crps_baseline": base["crps"],
            "pit_counts": _counts_text(ev.pit_sample(d, y, rng)),
            "pit_counts_baseline": base["pit_counts"],
            "max_rhat": float(diag.max_rhat),
            "min_ess_bulk": float(diag.min_ess_bulk),
            "min_ess_tail": float(diag.min_ess_tail),
            "divergences": int(diag.divergences),
            "converged": bool(diag.ok),
            "draws": draws,
            "seconds": round(time.perf_counter() - start, 1),
        }
    )
    return row


def _counts_text(pit: Any) -> str:
    from bayes_scaling.evaluation import pit_counts

    return ";".join(str(int(c)) for c in pit_counts(pit))


def _format_cutoff(value: float) -> str:
    # "g": 23.0 -> "23", 22.75 -> "22.75"; parse_split reads it back exactly.
    return format(float(value), "g")


def build_grid(
    targets: Mapping[str, tuple[float | None, float | None]] | Sequence[str],
    cutoffs: Sequence[float] = (),
    families: Sequence[str] = (),
    specs: Sequence[str] = ("k2",),
    seeds: Sequence[int] = (0,),
    params: Mapping[str, Any] | None = None,
) -> list[Task]:
    """The tasks of a backtest: every target x split x spec x seed, in that nesting order.

    Parameters
    ----------
    targets : mapping of name to (floor, ceiling), or sequence of names
        Downstream metrics. With a mapping, each task's params get the target's
        ``floor``/``ceiling`` (``None`` leaves the worker's default).
    cutoffs : sequence of float
        log10-FLOPs cutoffs, giving splits ``"cutoff=<value>"``.
    families : sequence of str
        Families to leave out, giving splits ``"lofo=<family>"`` (after the cutoffs).
    specs, seeds : sequences
        Model specs and seeds.
    params : mapping, optional
        Shared worker parameters (see :func:`backtest_worker`).

    Returns
    -------
    list of Task

    Raises
    ------
    BayesScalingError
        No target, split, spec or seed.

    Examples
    --------
    >>> tasks = build_grid({"gsm8k": (0.0, 1.0)}, cutoffs=[22.5, 23.0], specs=["k2"],
    ...                    seeds=[0], params={"benchmarks": "base-llm"})
    >>> [t.split for t in tasks], tasks[0].params["floor"]
    (['cutoff=22.5', 'cutoff=23'], 0.0)
    """
    splits = [f"cutoff={_format_cutoff(c)}" for c in cutoffs] + [f"lofo={f}" for f in families]
    names = list(targets)
    for what, items in (
        ("target", names),
        ("split (cutoff or family)", splits),
        ("spec", list(specs)),
        ("seed", list(seeds)),
    ):
        if not items:
            raise BayesScalingError(f"a backtest needs at least one {what}")
    shared = dict(params or {})
    tasks = []
    for name in names:
        task_params = dict(shared)
        if isinstance(targets, Mapping):
            floor, ceiling = targets[name]
            task_params.update(floor=floor, ceiling=ceiling)
        for split in splits:
            for spec in specs:
                for seed in seeds:
                    tasks.append(Task(str(name), split, str(spec), int(seed), task_params))
    return tasks


def error_curves(table: pd.DataFrame, metric: str = "mse") -> pd.DataFrame:
    """Area under the error-vs-cutoff curve of each target and spec (and of the baseline).

    Only ``cutoff=`` rows with ``status == "ok"`` count; seeds are averaged per cutoff.
    The area is :func:`bayes_scaling.evaluation.area_under_error_curve` (cutoffs rescaled to
    [0, 1], so it is the mean error over the cutoff range).

    Returns
    -------
    pandas.DataFrame
        Columns ``target, spec, n_cutoffs, auec, auec_baseline`` (NaN where no cutoff row
        succeeded).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"target": ["a", "a"], "split": ["cutoff=22", "cutoff=23"],
    ...                   "spec": ["k2", "k2"], "seed": [0, 0], "status": ["ok", "ok"],
    ...                   "mse": [0.01, 0.03], "mse_baseline": [0.02, 0.02]})
    >>> error_curves(t).round(3).to_dict("records")
    [{'target': 'a', 'spec': 'k2', 'n_cutoffs': 2, 'auec': 0.02, 'auec_baseline': 0.02}]
    """
    import math

    import pandas as pd

    from bayes_scaling.evaluation import area_under_error_curve

    rows = []
    base_col = f"{metric}_baseline"
    df = table[table["split"].astype(str).str.startswith("cutoff=")].copy()
    df["cutoff"] = [float(parse_split(s)[1]) for s in df["split"]]
    for (target, spec), g in df.groupby(["target", "spec"], sort=False):
        ok = g[(g["status"] == "ok") & g[metric].notna()]
        per = ok.groupby("cutoff")[[metric, *([base_col] if base_col in ok else [])]].mean()
        auec = area_under_error_curve(per.index, per[metric]) if len(per) else math.nan
        auec_b = math.nan
        if base_col in per and len(per) and per[base_col].notna().all():
            auec_b = area_under_error_curve(per.index, per[base_col])
        rows.append(
            {
                "target": target,
                "spec": spec,
                "n_cutoffs": len(per),
                "auec": auec,
                "auec_baseline": auec_b,
            }
        )
    return pd.DataFrame(rows, columns=["target", "spec", "n_cutoffs", "auec", "auec_baseline"])
