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
import pandas as pd
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


def diagnostics_table(tree: xr.DataTree) -> pd.DataFrame:
    """ArviZ's labelled convergence table of a fit's posterior.

    ``az.summary(kind="diagnostics")``: one row per parameter element, labelled like
    ``S[Llama-2-7b, general]``, with ``ess_bulk``, ``ess_tail``, ``r_hat``, ``mcse_mean``
    and ``mcse_sd``. Constants (loadings fixed at zero) have no spread: their R-hat is NaN.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> post = xr.Dataset({"b": (("chain", "draw"), rng.normal(size=(2, 100)))})
    >>> diagnostics_table(xr.DataTree.from_dict({"posterior": post})).columns.tolist()
    ['ess_bulk', 'ess_tail', 'r_hat', 'mcse_mean', 'mcse_sd']
    """
    post = tree["posterior"].to_dataset()
    varying = [
        name
        for name, da in post.data_vars.items()
        # z_alpha: the zero-sum family effects' raw coordinates, reported as alpha.
        if da.sizes.get("draw", 0) > 1 and name != "z_alpha"
    ]
    post = post[varying]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        table = az.summary(post, kind="diagnostics", round_to="none")
    spread = (
        np.concatenate([post[n].std(("chain", "draw")).to_numpy().ravel() for n in varying])
        if varying
        else np.zeros(0)
    )
    table.loc[spread <= 1e-12, "r_hat"] = np.nan
    return table


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
    table = diagnostics_table(tree)
    live = table[np.isfinite(table["r_hat"])]
    max_rhat = float(live["r_hat"].max()) if len(live) else float("nan")
    min_bulk = float(live["ess_bulk"].min()) if len(live) else float("nan")
    min_tail = float(live["ess_tail"].min()) if len(live) else float("nan")
    ess = np.minimum(live["ess_bulk"], live["ess_tail"])
    # Worst first, so the names a warning shows are the ones to look at.
    bad_rhat = live["r_hat"][live["r_hat"] > RHAT_MAX].sort_values(ascending=False)
    bad_ess = ess[ess < ESS_MIN].sort_values()
    stats = tree["sample_stats"].to_dataset()
    divergences = int(stats["diverging"].sum()) if "diverging" in stats else 0
    min_bfmi = float("nan")
    if "energy" in stats and stats.sizes.get("draw", 0) > 1:
        min_bfmi = float(az.bfmi(tree)["energy"].min())
    bad_rhat, bad_ess = list(bad_rhat.index), list(bad_ess.index)
    return Diagnostics(
        max_rhat=float(max_rhat),
        min_ess_bulk=float(min_bulk),
        min_ess_tail=float(min_tail),
        divergences=divergences,
        min_bfmi=min_bfmi,
        seconds=float(seconds),
        offending={"rhat": _cap(bad_rhat), "ess": _cap(bad_ess)},
    )


def _cap(labels: list[str], n: int = 10) -> list[str]:
    return labels if len(labels) <= n else [*labels[:n], f"... and {len(labels) - n} more"]
