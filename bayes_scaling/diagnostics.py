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

A fit whose convergence cannot be measured (one chain, or chains of NaN draws) is never
``ok``, and its table says so rather than "ok":

>>> one = Diagnostics(float("nan"), float("nan"), float("nan"), 0, 0.9, 1.0, {},
...                   unmeasured="1 chain: R-hat needs at least 2 chains")
>>> one.ok, [c.status for c in one.checks()][:3]
(False, ['not measured', 'not measured', 'not measured'])
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

RHAT_MAX = 1.01
ESS_MIN = 400.0
#: Lowest acceptable per-chain BFMI (shown in the tables; not part of :attr:`Diagnostics.ok`).
BFMI_MIN = 0.3

#: Status words of a convergence check.
OK, CHECK, NOT_MEASURED = "ok", "check", "not measured"


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
    unmeasured : str
        Why R-hat and ESS could not be measured (one chain; no parameter with finite
        R-hat, e.g. chains of NaN draws), else empty. The fit is then never ``ok``: the
        max/min values are NaN, or cover only the parameters that could be measured
        (``offending["nan"]`` names the others).
    """

    max_rhat: float
    min_ess_bulk: float
    min_ess_tail: float
    divergences: int
    min_bfmi: float
    seconds: float
    offending: dict[str, list[str]]
    approximate: str = ""
    unmeasured: str = ""

    @property
    def measured(self) -> bool:
        """True when R-hat and ESS could be computed for every (non-constant) parameter."""
        return (
            not self.approximate
            and not self.unmeasured
            and not self.offending.get("nan")
            and all(np.isfinite(v) for v in (self.max_rhat, self.min_ess_bulk, self.min_ess_tail))
        )

    @property
    def ok(self) -> bool:
        """True when R-hat <= 1.01, both ESS >= 400 and no divergence.

        Never when approximate, or when convergence could not be measured (one chain, NaN
        draws: see :attr:`measured`): a check that could not be made does not pass.
        """
        return (
            self.measured
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
        elif self.unmeasured:
            out.append(f"convergence NOT MEASURED: {self.unmeasured}")
        if self.offending.get("nan"):
            out.append(
                "R-hat and ESS could not be computed (NaN draws) for "
                + ", ".join(self.offending["nan"])
            )
        if self.offending.get("rhat"):
            out.append(f"R-hat > {RHAT_MAX} for {', '.join(self.offending['rhat'])}")
        if self.offending.get("ess"):
            out.append(f"ESS < {ESS_MIN:.0f} for {', '.join(self.offending['ess'])}")
        if self.divergences:
            out.append(f"{self.divergences} divergent transitions")
        return out

    def checks(self) -> list[Check]:
        """The rows of the convergence table, each with its status.

        A value that could not be measured (NaN: one chain, NaN draws, no energy recorded)
        has status ``"not measured"``, never ``"ok"``.
        """

        def status(value: float, passes: bool) -> str:
            if not np.isfinite(value):
                return NOT_MEASURED
            if not passes:
                return CHECK  # a failure stands even if other parameters were not measured
            return OK if self.measured else NOT_MEASURED

        return [
            Check(
                "max R-hat",
                self.max_rhat,
                ".4f",
                f"<= {RHAT_MAX}",
                status(self.max_rhat, self.max_rhat <= RHAT_MAX),
            ),
            Check(
                "min bulk ESS",
                self.min_ess_bulk,
                ".0f",
                f">= {ESS_MIN:.0f}",
                status(self.min_ess_bulk, self.min_ess_bulk >= ESS_MIN),
            ),
            Check(
                "min tail ESS",
                self.min_ess_tail,
                ".0f",
                f">= {ESS_MIN:.0f}",
                status(self.min_ess_tail, self.min_ess_tail >= ESS_MIN),
            ),
            Check(
                "divergences",
                self.divergences,
                "d",
                "0",
                OK if self.divergences == 0 else CHECK,
            ),
            Check(
                "min BFMI",
                self.min_bfmi,
                ".3f",
                f">= {BFMI_MIN}",
                NOT_MEASURED
                if not np.isfinite(self.min_bfmi)
                else (OK if self.min_bfmi >= BFMI_MIN else CHECK),
            ),
        ]

    def warn(self) -> None:
        """Emit a :class:`SamplerWarning` per problem."""
        for msg in self.messages():
            warnings.warn(msg, SamplerWarning, stacklevel=3)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Check:
    """One row of the convergence table: quantity, value (format ``spec``), target, status.

    ``status`` is ``"ok"``, ``"check"`` (past the threshold) or ``"not measured"``.
    """

    quantity: str
    value: float
    spec: str
    wanted: str
    status: str


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
        # z_alpha: the zero-sum family effects' raw coordinates, reported as alpha; only
        # results files written before 0.6.3 still hold it (it is dropped since).
        if da.sizes.get("draw", 0) > 1 and name != "z_alpha"
    ]
    post = post[varying]
    import arviz as az  # slow to import; kept out of ``import bayes_scaling.diagnostics``

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
    n_chains = int(tree["posterior"].sizes.get("chain", 0))
    if n_chains < 2:
        # Rank-normalised R-hat compares chains: with one there is nothing to compare.
        table = table.assign(r_hat=np.nan)
    live = table[np.isfinite(table["r_hat"])]
    # Non-constant parameters whose ESS is NaN too: their draws hold NaN (a constant has
    # a finite ESS and a NaN R-hat, and is left out on purpose).
    nan_params = list(table.index[~np.isfinite(table["ess_bulk"])])
    unmeasured = ""
    if n_chains < 2:
        unmeasured = (
            f"{n_chains} chain{'' if n_chains == 1 else 's'}: R-hat needs at least 2 "
            "chains; refit with --chains 4"
        )
    elif not len(live):
        unmeasured = "no parameter has a finite R-hat (the chains hold NaN or constant draws)"
    if unmeasured:
        nan_params = []  # one sentence says it all
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
        import arviz as az

        min_bfmi = float(az.bfmi(tree)["energy"].min())
    bad_rhat, bad_ess = list(bad_rhat.index), list(bad_ess.index)
    return Diagnostics(
        max_rhat=float(max_rhat),
        min_ess_bulk=float(min_bulk),
        min_ess_tail=float(min_tail),
        divergences=divergences,
        min_bfmi=min_bfmi,
        seconds=float(seconds),
        offending={"rhat": _cap(bad_rhat), "ess": _cap(bad_ess), "nan": _cap(nan_params)},
        unmeasured=unmeasured,
    )


def _cap(labels: list[str], n: int = 10) -> list[str]:
    return labels if len(labels) <= n else [*labels[:n], f"... and {len(labels) - n} more"]


def diagnostics_line(d: Diagnostics) -> str:
    """The one line every fit prints: ``diagnostics: max_rhat=X min_ess_bulk=Y divergences=Z``.

    Followed by ``(converged)`` or ``(NOT converged: ...)`` with the reason, so that a reader
    of a notebook or a log sees at once whether the numbers below it are results.

    Examples
    --------
    >>> d = Diagnostics(1.004, 612.0, 700.0, 0, 0.9, 80.0, {})
    >>> diagnostics_line(d)
    'diagnostics: max_rhat=1.004 min_ess_bulk=612 divergences=0 (converged)'
    >>> diagnostics_line(Diagnostics(1.32, 5.0, 9.0, 3, 0.9, 80.0, {}))
    'diagnostics: max_rhat=1.320 min_ess_bulk=5 divergences=3 (NOT converged: R-hat > 1.01, ESS < 400, divergences)'
    """
    head = (
        f"diagnostics: max_rhat={d.max_rhat:.3f} min_ess_bulk={d.min_ess_bulk:.0f} "
        f"divergences={d.divergences}"
    )
    if d.ok:
        return f"{head} (converged)"
    why = []
    if d.approximate:
        why.append(f"approximate ({d.approximate})")
    elif not d.measured:
        why.append("not measured")
    if np.isfinite(d.max_rhat) and d.max_rhat > RHAT_MAX:
        why.append(f"R-hat > {RHAT_MAX}")
    if min(d.min_ess_bulk, d.min_ess_tail) < ESS_MIN:
        why.append(f"ESS < {ESS_MIN:.0f}")
    if d.divergences:
        why.append("divergences")
    return f"{head} (NOT converged: {', '.join(why)})"


def print_diagnostics(d: Diagnostics, label: str = "") -> Diagnostics:
    """Print :func:`diagnostics_line` (prefixed by ``label:``) and return ``d``.

    What the analyses call after every fit.

    Examples
    --------
    >>> _ = print_diagnostics(Diagnostics(1.004, 612.0, 700.0, 0, 0.9, 80.0, {}), "k1")
    k1: diagnostics: max_rhat=1.004 min_ess_bulk=612 divergences=0 (converged)
    """
    line = diagnostics_line(d)
    print(f"{label}: {line}" if label else line)
    return d
