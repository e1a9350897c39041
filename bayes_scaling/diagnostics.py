"""Convergence diagnostics reported with every fit.

A leaf of the package: nothing here knows the estimator (the outlier check, which needs a
fit's predictions, is :mod:`bayes_scaling.outliers`).

Examples
--------
>>> d = Diagnostics(max_rhat=1.02, min_ess_bulk=350.0, min_ess_tail=500.0,
...                 divergences=0, min_bfmi=0.9, seconds=12.0,
...                 offending={"rhat": ["S[m1, general]"], "ess": ["tau[general]"]})
>>> d.ok
False
>>> d.messages()[0]
'R-hat > 1.01 for S[m1, general]'
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import arviz as az
import numpy as np
import xarray as xr

RHAT_MAX = 1.01
ESS_MIN = 400.0


class SamplerWarning(UserWarning):
    """The sampler did not converge well enough to trust every summary."""


@dataclasses.dataclass(frozen=True)
class Diagnostics:
    """Convergence summary of one fit.

    Attributes
    ----------
    max_rhat, min_ess_bulk, min_ess_tail : float
        Worst rank-normalised split R-hat and effective sample sizes over all parameters
        (constants such as fixed-zero loadings excluded).
    divergences : int
        Divergent transitions after tuning.
    min_bfmi : float
        Lowest per-chain Bayesian fraction of missing information.
    seconds : float
        Wall time of sampling (compilation included).
    offending : dict
        ``rhat``, ``ess`` lists of parameter labels past the thresholds (at most 10 each).
    approximate : str
        Name of the approximation (``"advi"``) when the draws are not MCMC, else empty:
        R-hat and ESS do not apply (NaN), and the fit is never ``ok``.
    """

    max_rhat: float
    min_ess_bulk: float
    min_ess_tail: float
    divergences: int
    min_bfmi: float
    seconds: float
    offending: dict[str, list[str]]
    approximate: str = ""

    @property
    def ok(self) -> bool:
        """True when R-hat <= 1.01, both ESS >= 400 and no divergence (never if approximate)."""
        return (
            not self.approximate
            and self.max_rhat <= RHAT_MAX
            and self.min_ess_bulk >= ESS_MIN
            and self.min_ess_tail >= ESS_MIN
            and self.divergences == 0
        )

    def messages(self) -> list[str]:
        """One sentence per problem, naming the parameters."""
        out = []
        if self.approximate:
            out.append(
                f"APPROXIMATE posterior ({self.approximate}, not MCMC): R-hat and ESS do not "
                "apply and intervals are narrower than NUTS's (docs/benchmarks.md)"
            )
        if self.offending.get("rhat"):
            out.append(f"R-hat > {RHAT_MAX} for {', '.join(self.offending['rhat'])}")
        if self.offending.get("ess"):
            out.append(f"ESS < {ESS_MIN:.0f} for {', '.join(self.offending['ess'])}")
        if self.divergences:
            out.append(f"{self.divergences} divergent transitions")
        return out

    def warn(self) -> None:
        """Emit a :class:`SamplerWarning` per problem."""
        for msg in self.messages():
            warnings.warn(msg, SamplerWarning, stacklevel=3)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return dataclasses.asdict(self)


def _labels(da: xr.DataArray, mask: np.ndarray) -> list[str]:
    name = str(da.name)
    if da.ndim == 0:
        return [name] if bool(mask) else []
    idx = np.argwhere(mask)
    out = []
    for row in idx:
        parts = [
            str(da[d].to_numpy()[i]) if d in da.coords else str(i)
            for d, i in zip(da.dims, row, strict=True)
        ]
        out.append(f"{name}[{', '.join(parts)}]")
    return out


def compute_diagnostics(
    tree: xr.DataTree, seconds: float = float("nan"), approximate: str = ""
) -> Diagnostics:
    """R-hat, bulk/tail ESS, divergences and BFMI of a results tree.

    Parameters
    ----------
    tree : xarray.DataTree
        With ``posterior`` and ``sample_stats`` groups.
    seconds : float
        Sampling wall time to carry along.
    approximate : str
        Name of the approximation that made the draws (empty for MCMC).
    """
    if approximate:
        nan = float("nan")
        return Diagnostics(nan, nan, nan, 0, nan, float(seconds), {}, approximate)
    post = tree["posterior"].to_dataset()
    # Constants (fixed-zero loadings) have no spread and no meaningful R-hat.
    varying = {
        name: da
        for name, da in post.data_vars.items()
        if da.sizes.get("draw", 0) > 1 and name not in ("z_alpha",)
    }
    post = xr.Dataset(varying)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        rhat = az.rhat(post)
        ess_bulk = az.ess(post, method="bulk")
        ess_tail = az.ess(post, method="tail")
    spread = post.std(("chain", "draw"))
    bad_rhat: list[tuple[float, str]] = []
    bad_ess: list[tuple[float, str]] = []
    max_rhat, min_bulk, min_tail = 1.0, np.inf, np.inf
    for name in post.data_vars:
        live = (spread[name] > 1e-12).to_numpy()
        r = np.where(live, rhat[name].to_numpy(), np.nan)
        eb = np.where(live, ess_bulk[name].to_numpy(), np.nan)
        et = np.where(live, ess_tail[name].to_numpy(), np.nan)
        if np.isfinite(r).any():
            max_rhat = max(max_rhat, float(np.nanmax(r)))
            min_bulk = min(min_bulk, float(np.nanmin(eb)))
            min_tail = min(min_tail, float(np.nanmin(et)))
        r_mask = np.nan_to_num(r) > RHAT_MAX
        ess = np.nan_to_num(np.minimum(eb, et), nan=np.inf)
        e_mask = ess < ESS_MIN
        bad_rhat += zip(
            -np.atleast_1d(r)[np.atleast_1d(r_mask)],
            _labels(rhat[name].rename(name), r_mask),
            strict=True,
        )
        bad_ess += zip(
            np.atleast_1d(ess)[np.atleast_1d(e_mask)],
            _labels(ess_bulk[name].rename(name), e_mask),
            strict=True,
        )
    # Worst first, so the names a warning shows are the ones to look at.
    bad_rhat.sort(key=lambda t: t[0])
    bad_ess.sort(key=lambda t: t[0])
    stats = tree["sample_stats"].to_dataset()
    divergences = int(stats["diverging"].sum()) if "diverging" in stats else 0
    min_bfmi = float("nan")
    if "energy" in stats:
        e = stats["energy"].transpose("chain", "draw").to_numpy()
        num = np.mean(np.diff(e, axis=1) ** 2, axis=1)
        den = np.var(e, axis=1)
        min_bfmi = float(np.min(num / den))
    return Diagnostics(
        max_rhat=float(max_rhat),
        min_ess_bulk=float(min_bulk),
        min_ess_tail=float(min_tail),
        divergences=divergences,
        min_bfmi=min_bfmi,
        seconds=float(seconds),
        offending={"rhat": _cap([n for _, n in bad_rhat]), "ess": _cap([n for _, n in bad_ess])},
    )


def _cap(labels: list[str], n: int = 10) -> list[str]:
    return labels if len(labels) <= n else [*labels[:n], f"... and {len(labels) - n} more"]


def __getattr__(name: str) -> Any:
    # find_outliers and _subset moved to bayes_scaling.outliers; until every caller imports
    # them from there, resolve the old names lazily (an eager import would add an edge
    # back from this leaf module).
    if name in ("find_outliers", "_subset"):
        from bayes_scaling import outliers

        return getattr(outliers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
