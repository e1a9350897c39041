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

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

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
    "Task",
    "WorkerFn",
    "backtest_worker",
    "build_grid",
    "data_digest",
    "default_code_version",
    "error_curves",
    "load_benchmarks",
    "parse_split",
    "read_metric",
    "run_grid",
    "split_test_models",
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


def read_metric(name_or_file: str, metric: str) -> tuple[Any, float | None, float | None]:
    """Raw values of one downstream metric, and the floor/ceiling the table declares.

    Parameters
    ----------
    name_or_file : str
        A bundled table (values in the table's raw units; floor and ceiling from its
        registry) or a CSV file with a ``Model`` column (no declared floor/ceiling).
    metric : str
        Column name.

    Returns
    -------
    (pandas.Series, float or None, float or None)
        Values indexed by model (NaN = not measured; strings are left for
        :func:`bayes_scaling.forecast.make_target` to reject), declared floor and ceiling.

    Examples
    --------
    >>> v, floor, ceiling = read_metric("emergent", "arithmetic_3ds_2_acc")
    >>> floor, ceiling
    (0.0, 1.0)
    """
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
        return values, raw(float(col["floor"])), raw(float(col["ceiling"]))
    if not path.is_file():
        raise DataError(
            name_or_file, f"file not found (bundled tables: {', '.join(datasets.names())})"
        )
    from bayes_scaling.forecast import read_metric_column

    return read_metric_column(path, metric), None, None


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
    import numpy as np
    import xarray as xr

    from bayes_scaling.baseline import baseline_compute_forecast, baseline_forecast
    from bayes_scaling.compare import fit_log_likelihood
    from bayes_scaling.errors import DataError
    from bayes_scaling.evaluation import score_forecasts
    from bayes_scaling.forecast import forecast, make_target

    p = task.params
    bench_src = str(p["benchmarks"])
    bench = load_benchmarks(bench_src, percent=bool(p.get("percent", False)))
    if p.get("benchmarks_sha256") and data_digest(bench) != p["benchmarks_sha256"]:
        raise BayesScalingError(f"{bench_src}: the data changed since the grid was built")
    target_src = str(p.get("target_table") or bench_src)
    raw, d_floor, d_ceiling = read_metric(target_src, task.target)
    if p.get("target_sha256") and data_digest(raw) != p["target_sha256"]:
        raise BayesScalingError(f"{target_src}: {task.target!r} changed since the grid was built")
    floor = float(p["floor"]) if p.get("floor") is not None else (d_floor or 0.0)
    ceiling = (
        float(p["ceiling"])
        if p.get("ceiling") is not None
        else (d_ceiling if d_ceiling is not None else 1.0)
    )
    target = make_target(raw, task.target, floor, ceiling, source=target_src)
    route = str(p.get("route", "benchmarks"))
    bench, test = split_test_models(bench, task.split, route)
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
    # Exact predictive density of the held-out values under the model's Beta likelihood,
    # moved from the model's [0, 1] scale to the normalised scale by the Jacobian.
    ll_unit = fit_log_likelihood(fit, held, [target.name] * len(held), target.to_unit(observed))
    jacobian = np.log((target.ceiling - target.lower) / (target.ceiling - target.floor))
    score = score_forecasts(
        observed,
        draws.mean(axis=0),
        draws,
        floor=target.floor,
        ceiling=target.ceiling,
        loglik=ll_unit - jacobian,
    )
    table = result.table
    n_train = int(((table["split"] == "train") & table["observed"].notna()).sum())

    target_da = xr.DataArray(values.to_numpy(dtype=float), dims="model", coords={"model": models})
    base_bench = bench.drop_sel(benchmark=[target.name], errors="ignore")
    try:
        if route == "compute":
            base = baseline_compute_forecast(
                base_bench, target_da, held, floor=target.floor, ceiling=target.ceiling
            )
        else:
            base = baseline_forecast(
                base_bench, target_da, held, floor=target.floor, ceiling=target.ceiling
            )
        b_mean = base["mean"].sel(model=held).to_numpy()
        mse_base = float(np.mean(((b_mean - observed) / (target.ceiling - target.floor)) ** 2))
    except DataError:
        mse_base = float("nan")  # too few training models for the baseline's sigmoid
    d = fit.diagnostics
    return {
        "n_train": n_train,
        "n_test": len(held),
        "mse": score.mse,
        "mae": score.mae,
        "lpd": score.lpd,
        "coverage50": score.coverage50,
        "coverage90": score.coverage90,
        "mse_baseline": mse_base,
        "max_rhat": float(d.max_rhat),
        "divergences": int(d.divergences),
    }


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
