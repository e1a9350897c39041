"""The summaries of a fit: capabilities, family efficiency, loadings, and the summary dict.

Tables a user reads off a :class:`~bayes_scaling.estimator.FitResults` (its methods of the
same names call these): posterior means and equal-tailed intervals
(:mod:`bayes_scaling.intervals`) in named xarray.

Examples
--------
>>> import bayes_scaling as bs
>>> fit = bs.load("runs/k3.nc")  # doctest: +SKIP
>>> capabilities(fit).sel(capability="general")["mean"]  # doctest: +SKIP
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from bayes_scaling.errors import BayesScalingError
from bayes_scaling.intervals import summarise

if TYPE_CHECKING:
    from bayes_scaling.estimator import FitResults


def capabilities(fit: FitResults, level: float = 0.9) -> xr.Dataset:
    """Posterior mean and equal-tailed interval of every model's capabilities.

    Returns
    -------
    xarray.Dataset
        Variables ``mean``, ``lower``, ``upper`` over (``model``, ``capability``);
        the general axis is in decades of effective compute (log10 FLOPs).
    """
    s = fit.posterior["S"].copy()
    # Report the general axis on the absolute log10-FLOPs scale.
    s.loc[{"capability": "general"}] = s.sel(capability="general") + fit.x_mean
    return summarise(s, level)


def family_efficiency(
    fit: FitResults, reference: str | None = None, level: float = 0.9
) -> xr.Dataset:
    """Compute-efficiency multiplier of each family relative to ``reference``.

    ``multiplier = 10 ** (alpha_f - alpha_ref)`` on the general axis: a FLOP of family
    f buys as much general capability as ``multiplier`` FLOPs of the reference family
    (equivalently, the reference needs ``multiplier`` times f's compute to match it).

    Returns
    -------
    xarray.Dataset
        ``mean``, ``median``, ``lower``, ``upper`` of the multiplier and of
        ``log10_multiplier`` over ``family``.
    """
    ref = reference or fit.spec.reference_family
    alpha = fit.posterior["alpha"].sel(capability="general")
    families = list(alpha["family"].to_numpy())
    if ref not in families:
        raise BayesScalingError(
            f"reference family {ref!r} is not in the fit; families: {', '.join(families[:8])}..."
        )
    log_mult = alpha - alpha.sel(family=ref)
    out = summarise(log_mult, level)
    mult = 10.0**log_mult
    res = xr.Dataset(
        {
            "mean": mult.mean(("chain", "draw")),
            "median": mult.median(("chain", "draw")),
            "lower": 10.0 ** out["lower"],
            "upper": 10.0 ** out["upper"],
            "log10_multiplier": out["mean"],
        }
    )
    res.attrs.update(reference=ref, level=level)
    return res


def resolve_reference(fit: FitResults, reference: str | None = None) -> str:
    """The family efficiency is reported against: ``reference``, the spec's, or the largest.

    A user table need not contain the spec's reference family (``Llama-2`` by default);
    then the family with most models (ties: alphabetical) is used, so summaries, reports
    and plots still work. An explicit ``reference`` is never replaced (an unknown one is
    refused by :func:`family_efficiency`).

    Examples
    --------
    >>> fit = bs.load("runs/demo/RUN.nc")  # doctest: +SKIP
    >>> resolve_reference(fit)  # doctest: +SKIP
    'Llama-2'
    """
    families = [str(f) for f in fit.posterior["family"].to_numpy()]
    if reference is not None:
        return reference
    if fit.spec.reference_family in families:
        return fit.spec.reference_family
    counts = Counter(str(f) for f in fit.data["family"].to_numpy())
    return min(families, key=lambda f: (-counts[f], f))


def efficiency_records(
    fit: FitResults, reference: str | None = None, level: float = 0.9
) -> dict[str, Any]:
    """The family-efficiency table as JSON-ready records, most efficient family first.

    Returns
    -------
    dict
        ``reference``, ``level`` and ``families``: one dict per family with ``family``,
        ``n_models``, ``median``, ``lower``, ``upper`` (the ``level`` interval), ``mean``
        of the multiplier and ``log10_multiplier`` (posterior mean, decades).

    Examples
    --------
    >>> efficiency_records(fit)["families"][0]["family"]  # doctest: +SKIP
    'Qwen1.5'
    """
    ref = resolve_reference(fit, reference)
    eff = family_efficiency(fit, ref, level)
    counts = Counter(str(f) for f in fit.data["family"].to_numpy())
    rows = [
        {
            "family": str(f),
            "n_models": counts[str(f)],
            **{
                key: float(eff[key].sel(family=f))
                for key in ("median", "lower", "upper", "mean", "log10_multiplier")
            },
        }
        for f in eff["family"].to_numpy()
    ]
    rows.sort(key=lambda r: (-r["median"], r["family"]))
    return {"reference": ref, "level": level, "families": rows}


def loadings(fit: FitResults, level: float = 0.9) -> xr.Dataset:
    """Benchmark loadings (mean and interval) over (``benchmark``, ``capability``)."""
    return summarise(fit.posterior["loadings"], level)


def summary_dict(
    fit: FitResults, reference: str | None = None, level: float = 0.9
) -> dict[str, Any]:
    """Everything ``bayes-scaling summary --json`` prints.

    Parameters
    ----------
    fit : FitResults
        A fitted model.
    reference : str, optional
        Family of the efficiency table (default: :func:`resolve_reference`).
    level : float
        Interval mass of the efficiency table.

    Returns
    -------
    dict
        Diagnostics, sizes, outliers, anchors, sampler, seed, version, ``time_trend``
        (:func:`time_trend_record`) and ``family_efficiency`` (:func:`efficiency_records`);
        numbers are plain Python and non-finite ones ``None``.

    Examples
    --------
    >>> summary_dict(fit)["family_efficiency"]["reference"]  # doctest: +SKIP
    'Llama-2'
    """
    d = fit.diagnostics
    out = fit.outliers()
    data = fit.data
    out_dict = {
        "spec": fit.spec.name,
        "max_rhat": d.max_rhat,
        "min_ess_bulk": d.min_ess_bulk,
        "min_ess_tail": d.min_ess_tail,
        "divergences": d.divergences,
        "min_bfmi": d.min_bfmi,
        "seconds": d.seconds,
        "n_models": int(data.sizes["model"]),
        "n_families": len(set(map(str, data["family"].to_numpy()))),
        "n_benchmarks": int(data.sizes["benchmark"]),
        "n_obs": int(fit.tree["observed_data"]["score"].size),
        "warnings": d.messages(),
        "outliers": sorted({o["model"] for o in out["models"]}),
        "outlier_observations": [f"{o['model']} | {o['benchmark']}" for o in out["observations"]],
        "anchors": list(fit.anchors),
        "sampler": fit.tree.attrs.get("sampler"),
        "seed": fit.tree.attrs.get("seed"),
        "version": fit.tree.attrs.get("bayes_scaling_version"),
    }
    result = {key: _plain(value) for key, value in out_dict.items()}
    result["time_trend"] = time_trend_record(fit, level)
    eff = efficiency_records(fit, reference, level)
    eff["families"] = [{k: _plain(v) for k, v in row.items()} for row in eff["families"]]
    result["family_efficiency"] = eff
    return result


def time_trend_record(fit: FitResults, level: float = 0.9) -> dict[str, Any] | None:
    """The time trend in family efficiency, or None for a fit without release dates.

    Returns
    -------
    dict or None
        ``decades_per_year`` (posterior mean, ``lower``, ``upper`` of the equal-tailed
        ``level`` interval), the same as ``multiplier_per_year`` (``10 ** trend``: how many
        times less compute a family released a year later needs for the same general
        capability), and ``mean_date`` (decimal years) on which dates are centred.

    Examples
    --------
    >>> time_trend_record(fit)["decades_per_year"]["mean"]  # doctest: +SKIP
    0.41
    """
    dates = fit.time_trend
    if dates is None:
        return None
    s = summarise(fit.posterior["time_trend"], level)
    trend = {k: float(s[k]) for k in ("mean", "lower", "upper")}
    return {
        "decades_per_year": trend,
        "multiplier_per_year": {k: 10.0**v for k, v in trend.items()},
        "level": level,
        "mean_date": dates[0],
    }


def _plain(value: Any) -> Any:
    """JSON-safe scalars: numpy numbers to Python, NaN and inf to None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
