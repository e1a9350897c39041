"""Outliers of a fit: models off their family's compute line, unexplained observations.

Split out of :mod:`bayes_scaling.diagnostics` so that the convergence checks stay a leaf
module: these functions need a fit's posterior and predictions, and the estimator
(:meth:`bayes_scaling.estimator.FitResults.outliers`) calls them. They never import the
estimator: the fit they are given carries everything, its class included.

Examples
--------
>>> from bayes_scaling.estimator import CapabilityModel  # doctest: +SKIP
>>> fit = CapabilityModel("k1").fit(data)  # doctest: +SKIP
>>> sorted(find_outliers(fit))  # doctest: +SKIP
['models', 'observations']
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

if TYPE_CHECKING:  # typing only: the estimator imports this module, not the reverse.
    from bayes_scaling.estimator import FitResults

__all__ = ["find_outliers"]


def find_outliers(fit: FitResults, threshold: float = 3.0, tail: float = 0.005) -> dict[str, Any]:
    """Models off their family's compute line and observations the fit cannot explain.

    See :meth:`bayes_scaling.estimator.FitResults.outliers`, which calls this.

    Parameters
    ----------
    fit : FitResults
        The fit.
    threshold : float, default 3.0
        A model is flagged when its posterior mean z-score off its family's compute line
        exceeds this.
    tail : float, default 0.005
        An observation is flagged when it lies in the outer ``tail`` of its posterior
        predictive distribution on either side.

    Returns
    -------
    dict
        ``models``: list of dicts (model, family, z, decades); ``observations``: list of
        dicts (model, benchmark, observed, predicted, tail).

    Examples
    --------
    >>> find_outliers(fit)["models"]  # doctest: +SKIP
    [{'model': 'B-03', 'family': 'B', 'z': 3.4, 'decades': 0.52}]
    """
    post = fit.posterior
    data = fit.data
    x = np.log10(data["flops"].to_numpy()) - fit.x_mean
    families = np.asarray(list(map(str, data["family"].to_numpy())))
    fam_size = {f: int((families == f).sum()) for f in set(families)}
    models_out: list[dict[str, Any]] = []
    if "sigma" in post and not fit.spec.compute_only:
        s1 = post["S"].sel(capability="general")
        alpha = post["alpha"].sel(capability="general")
        sigma = post["sigma"]
        tau = post["tau"].sel(capability="general")
        for i, model in enumerate(map(str, data["model"].to_numpy())):
            if not np.isfinite(x[i]):
                continue
            f = families[i]
            resid = s1.sel(model=model) - x[i]
            if fam_size[f] > 1:
                resid = resid - alpha.sel(family=f)
                scale = sigma
            else:
                scale = np.sqrt(sigma**2 + tau**2)
            z = float((resid / scale).mean())
            if abs(z) > threshold:
                models_out.append(
                    {
                        "model": model,
                        "family": f,
                        "z": round(z, 2),
                        "decades": round(float(resid.mean()), 2),
                    }
                )
    obs_out: list[dict[str, Any]] = []
    rng = np.random.default_rng(20240527)
    obs = fit.tree["observed_data"].to_dataset()
    sample = fit.draws("S")
    n_keep = min(400, sample.sizes["sample"])
    pick = np.sort(rng.choice(sample.sizes["sample"], n_keep, replace=False))
    sub = _subset(fit, pick)
    columns = sorted(set(map(str, obs["obs_column"].to_numpy())))
    pred = sub.predictive_draws(sub.draws("S"), columns, rng)
    for m, c, yv in zip(
        obs["obs_model"].to_numpy(),
        obs["obs_column"].to_numpy(),
        obs["score"].to_numpy(),
        strict=True,
    ):
        d = pred.sel(model=str(m), column=str(c)).to_numpy()
        lo = float(np.mean(d < yv)) + 0.5 * float(np.mean(d == yv))
        p_tail = min(lo, 1 - lo)
        if p_tail < tail:
            obs_out.append(
                {
                    "model": str(m),
                    "benchmark": str(c),
                    "observed": float(yv),
                    "predicted": float(np.median(d)),
                    "tail": round(p_tail, 4),
                }
            )
    return {"models": models_out, "observations": obs_out}


def _subset(fit: FitResults, pick: np.ndarray) -> FitResults:
    """The fit restricted to a subset of stacked posterior draws (for cheap predictions).

    Parameters
    ----------
    fit : FitResults
        The fit.
    pick : numpy.ndarray
        Indices into the draws stacked over (chain, draw).

    Returns
    -------
    FitResults
        Of the same class, one chain holding the picked draws in order.

    Examples
    --------
    >>> sub = _subset(fit, np.arange(100))  # doctest: +SKIP
    >>> sub.posterior.sizes["chain"], sub.posterior.sizes["draw"]  # doctest: +SKIP
    (1, 100)
    """
    post = fit.posterior.stack(sample=("chain", "draw")).isel(sample=pick)
    post = post.drop_vars(["sample", "chain", "draw"]).rename(sample="draw").expand_dims(chain=[0])
    post = post.assign_coords(draw=np.arange(post.sizes["draw"]))
    tree = fit.tree.copy()
    tree["posterior"] = xr.DataTree(post)
    # type(fit) rather than importing FitResults: the estimator imports this module.
    return type(fit)(tree=tree, spec=fit.spec)
