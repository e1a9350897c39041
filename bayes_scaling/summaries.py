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


def loadings(fit: FitResults, level: float = 0.9) -> xr.Dataset:
    """Benchmark loadings (mean and interval) over (``benchmark``, ``capability``)."""
    return summarise(fit.posterior["loadings"], level)


def summary_dict(fit: FitResults) -> dict[str, Any]:
    """Everything ``bayes-scaling summary --json`` prints."""
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
    return {key: _plain(value) for key, value in out_dict.items()}


def _plain(value: Any) -> Any:
    """JSON-safe scalars: numpy numbers to Python, NaN and inf to None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
