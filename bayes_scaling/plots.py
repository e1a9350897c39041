"""Figures of a fitted capability model, one function per figure.

Every function takes a :class:`~bayes_scaling.estimator.FitResults` and returns a
:class:`matplotlib.figure.Figure` drawn on the Agg canvas. Figures are built without
:mod:`matplotlib.pyplot`, so nothing here touches the user's global backend or leaves
figures open; save one with ``fig.savefig(path)``.

==================================  ====================================================
function                            shows
==================================  ====================================================
:func:`family_efficiency_plot`      compute multiplier of each family vs a reference
:func:`loadings_heatmap`            benchmark x capability loadings, annotated
:func:`capability_vs_compute_plot`  general capability vs log10 training FLOPs
:func:`predictive_check_plot`       observed vs posterior predictive, per benchmark
:func:`rhat_plot`                   trace and rank plots of the worst-R-hat parameters
:func:`scaling_curve_plot`          a forecast metric against general capability
:func:`curve_bands_plot`            curves of draws (e.g. :mod:`bayes_scaling.curves`) with bands
:func:`predicted_scores_plot`       predicted benchmark scores of models, with intervals
==================================  ====================================================

Every family gets its own colour and marker (:func:`family_styles`), the same in every
figure of a fit. The capability axes are ``general`` (decades of effective compute) and
the *specialisation axes* ``spec1``, ``spec2``, ...: what each axis's anchor benchmark
measures beyond general capability, in units of its sd across models; figures name the
anchor next to the axis (:func:`capability_labels`, :func:`specialisation_note`).

Examples
--------
>>> from bayes_scaling.estimator import FitResults
>>> fit = FitResults.load("runs/demo/RUN.nc")  # doctest: +SKIP
>>> family_efficiency_plot(fit).savefig("efficiency.png")  # doctest: +SKIP
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import xarray as xr
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import TwoSlopeNorm, to_hex
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from bayes_scaling.diagnostics import RHAT_MAX
from bayes_scaling.intervals import equal_tailed
from bayes_scaling.summaries import resolve_reference

if TYPE_CHECKING:
    import pandas as pd

    from bayes_scaling.estimator import FitResults
    from bayes_scaling.forecast import Forecast

__all__ = [
    "FamilyStyle",
    "capability_labels",
    "capability_vs_compute_plot",
    "curve_bands_plot",
    "family_efficiency_plot",
    "family_styles",
    "loadings_heatmap",
    "predicted_scores_plot",
    "predictive_check_plot",
    "resolve_reference",
    "rhat_plot",
    "scaling_curve_plot",
    "specialisation_note",
    "worst_rhat",
]

#: Colour of reference lines and of families beyond an explicit ``n_families`` cap.
_GREY = "0.6"
_FLAG = "crimson"


class FamilyStyle(NamedTuple):
    """How one family is drawn: a colour (hex) and a matplotlib marker."""

    colour: str
    marker: str


def _palette() -> list[str]:
    """Twenty distinct colours, none grey: tab10's, tab20's light ones, four of tab20b."""
    tab10 = [to_hex(c) for c in colormaps["tab10"].colors]  # type: ignore[attr-defined]
    tab20 = [to_hex(c) for c in colormaps["tab20"].colors]  # type: ignore[attr-defined]
    tab20b = [to_hex(c) for c in colormaps["tab20b"].colors]  # type: ignore[attr-defined]
    dark = [c for i, c in enumerate(tab10) if i != 7]  # tab10's 8th is grey
    light = [c for i, c in enumerate(tab20[1::2]) if i != 7]  # and its light grey
    return dark + light + [tab20b[0], tab20b[4], tab20b[8], tab20b[12]]


_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "p")


def family_styles(families: Sequence[str]) -> dict[str, FamilyStyle]:
    """A distinct colour and marker for every family, in the order given.

    The first twenty families get twenty different colours (no grey, which would read as
    "other"); the marker changes every ten families, so any two of the first hundred
    differ in colour, marker or both. Pass the families largest first, so the most
    visible colours go to the families with most models.

    Parameters
    ----------
    families : sequence of str
        Family names; repeats are ignored.

    Returns
    -------
    dict of str to FamilyStyle

    Examples
    --------
    >>> styles = family_styles(["Pythia", "OPT", "Falcon"])
    >>> styles["Falcon"].marker, len({s.colour for s in styles.values()})
    ('o', 3)
    """
    palette = _palette()
    names = list(dict.fromkeys(str(f) for f in families))
    return {
        f: FamilyStyle(palette[i % len(palette)], _MARKERS[(i // 10) % len(_MARKERS)])
        for i, f in enumerate(names)
    }


def _by_size(families: Sequence[str]) -> list[str]:
    """Distinct families, most models first (ties: alphabetical)."""
    counts = Counter(str(f) for f in families)
    return [f for f, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def _legend_columns(n: int, per_column: int = 22) -> int:
    return max(1, math.ceil(n / per_column))


def capability_labels(fit: FitResults) -> dict[str, str]:
    """Each capability axis with its anchor benchmark: ``spec1`` -> ``spec1 (GSM8K)``.

    The general axis keeps its name; a specialisation axis is named after the benchmark
    that defines it (its anchor: it loads on ``general`` and on that axis only).

    Examples
    --------
    >>> capability_labels(fit)  # doctest: +SKIP
    {'general': 'general', 'spec1': 'spec1 (GSM8K)', 'spec2': 'spec2 (HumanEval)'}
    """
    caps = [str(c) for c in fit.posterior["capability"].to_numpy()]
    anchors = list(fit.anchors)
    return {
        c: c if k == 0 or k >= len(anchors) else f"{c} ({anchors[k]})" for k, c in enumerate(caps)
    }


def specialisation_note(fit: FitResults) -> str:
    """One sentence saying what the fit's specialisation axes are; empty for K = 1.

    Examples
    --------
    >>> specialisation_note(fit)  # doctest: +SKIP
    'spec1 (GSM8K), spec2 (HumanEval): specialisation axes, ...'
    """
    labels = capability_labels(fit)
    specs = [label for c, label in labels.items() if c != "general"]
    if not specs:
        return ""
    what = "specialisation axes. Each is" if len(specs) > 1 else "a specialisation axis:"
    return (
        f"{', '.join(specs)}: {what} what its anchor benchmark (in brackets) measures "
        "beyond general capability, in sds across models (positive = better on that "
        "benchmark than general capability predicts); other benchmarks load on it as far "
        "as they share that skill."
    )


def _figure(width: float, height: float) -> Figure:
    """A new figure on its own Agg canvas (no pyplot state, no GUI backend)."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _pct(level: float) -> str:
    return f"{100 * level:g}%"


# ------------------------------------------------------------------ family efficiency
def family_efficiency_plot(
    fit: FitResults,
    reference: str | None = None,
    level: float = 0.9,
) -> Figure:
    """Forest plot of each family's compute-efficiency multiplier vs ``reference``.

    Points are posterior medians, bars equal-tailed ``level`` intervals, on a log x axis;
    families are sorted from least to most efficient (top to bottom: most efficient at
    the top). The reference family sits at exactly 1 and is drawn in another colour.

    Parameters
    ----------
    fit : FitResults
        A fitted model.
    reference : str, optional
        Reference family; see :func:`resolve_reference`.
    level : float
        Interval mass.

    Returns
    -------
    matplotlib.figure.Figure
        One axes; y tick labels are ``family (n)`` with n the number of models.

    Examples
    --------
    >>> fig = family_efficiency_plot(fit)  # doctest: +SKIP
    >>> len(fig.axes)  # doctest: +SKIP
    1
    """
    ref = resolve_reference(fit, reference)
    eff = fit.family_efficiency(ref, level)
    counts = Counter(str(f) for f in fit.data["family"].to_numpy())
    families = [str(f) for f in eff["family"].to_numpy()]
    median = eff["median"].to_numpy()
    lower, upper = eff["lower"].to_numpy(), eff["upper"].to_numpy()
    order = np.argsort(median, kind="stable")
    n = len(families)
    fig = _figure(7.0, max(2.5, 0.26 * n + 1.2))
    ax = fig.add_subplot()
    y = np.arange(n)
    for row, i in enumerate(order):
        colour = _FLAG if families[i] == ref else "C0"
        ax.plot([lower[i], upper[i]], [row, row], color=colour, lw=1.6)
        ax.plot(median[i], row, "o", color=colour, ms=4)
    ax.axvline(1.0, color=_GREY, ls="--", lw=1)
    ax.set_xscale("log")
    ax.set_yticks(y, [f"{families[i]} ({counts[families[i]]})" for i in order], fontsize=8)
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_xlabel(
        f"effective-compute multiplier vs {ref} (median, {_pct(level)} interval, log scale)"
    )
    ax.set_title(
        f"Family effective-compute multiplier vs {ref} along the general axis\n"
        f"(anchor {fit.anchors[0] if fit.anchors else 'benchmarks'}; FLOPs from table "
        f"metadata, with its errors; not a measured compute efficiency)",
        fontsize=9,
    )
    ax.grid(axis="x", which="major", alpha=0.3)
    return fig


# ------------------------------------------------------------------ loadings
def loadings_heatmap(fit: FitResults, level: float = 0.9) -> Figure:
    """Heatmap of the loadings (benchmark x capability), each cell annotated.

    Cells show the posterior mean and the ``level`` interval; the colour scale is
    diverging around zero. Loadings fixed at zero for identifiability (above each
    anchor) are hatched and labelled ``0 (fixed)``; anchors are starred in the y labels.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes: the heatmap and its colour bar.

    Examples
    --------
    >>> fig = loadings_heatmap(fit)  # doctest: +SKIP
    >>> [t.get_text() for t in fig.axes[0].get_xticklabels()]  # doctest: +SKIP
    ['general', 'spec1\\n(GSM8K)', 'spec2\\n(HumanEval)']
    """
    lo = fit.loadings(level).transpose("benchmark", "capability")
    mean = lo["mean"].to_numpy()
    lower, upper = lo["lower"].to_numpy(), lo["upper"].to_numpy()
    fixed = (fit.posterior["loadings"].std(("chain", "draw")) < 1e-12).transpose(
        "benchmark", "capability"
    )
    fixed_np = fixed.to_numpy()
    benchmarks = [str(b) for b in lo["benchmark"].to_numpy()]
    caps = [str(c) for c in lo["capability"].to_numpy()]
    anchors = dict(zip(fit.anchors, caps, strict=False))
    n_b, n_k = mean.shape
    fig = _figure(2.2 + 1.7 * n_k, 1.0 + 0.5 * n_b)
    ax = fig.add_subplot()
    vmax = float(np.nanmax(np.abs(mean))) or 1.0
    shown = np.where(fixed_np, np.nan, mean)
    image = ax.imshow(shown, cmap="RdBu_r", norm=TwoSlopeNorm(0.0, -vmax, vmax), aspect="auto")
    for i in range(n_b):
        for k in range(n_k):
            if fixed_np[i, k]:
                ax.add_patch(_hatch(k, i))
                text, colour = "0 (fixed)", "0.35"
            else:
                text = f"{mean[i, k]:.2f}\n[{lower[i, k]:.2f}, {upper[i, k]:.2f}]"
                # White text on saturated cells, black elsewhere: readable either way.
                colour = "white" if abs(mean[i, k]) > 0.6 * vmax else "black"
            ax.text(k, i, text, ha="center", va="center", fontsize=7.5, color=colour)
    labels = capability_labels(fit)
    ax.set_xticks(np.arange(n_k), [labels[c].replace(" (", "\n(") for c in caps])
    ax.set_yticks(
        np.arange(n_b),
        [f"{b} *" if b in anchors else b for b in benchmarks],
    )
    ax.xaxis.tick_top()
    ax.set_title(
        f"Loadings (logit units per unit capability), mean and {_pct(level)} interval; * = anchor",
        fontsize=9,
    )
    fig.colorbar(image, ax=ax, label="posterior mean loading", shrink=0.8)
    if n_k > 1:
        fig.supxlabel(
            "spec axes: what the anchor benchmark in brackets measures\n"
            "beyond general capability (sd units across models)",
            fontsize=7,
            color="0.3",
        )
    return fig


def _hatch(x: float, y: float) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle(
        (x - 0.5, y - 0.5), 1, 1, facecolor="0.93", edgecolor="0.75", hatch="///", lw=0
    )


# ------------------------------------------------------------------ capability vs compute
def capability_vs_compute_plot(
    fit: FitResults,
    level: float = 0.9,
    n_families: int | None = None,
    reference: str | None = None,
) -> Figure:
    """General capability (decades of effective compute) against log10 training FLOPs.

    Each model with known compute is a point at its posterior mean with a ``level``
    interval bar, in its family's colour and marker (:func:`family_styles`). The dashed
    1:1 line passes through the reference family's line (``log10 FLOPs + alpha_ref``):
    points above it are more efficient than the reference family, points below less.

    Parameters
    ----------
    fit : FitResults
        A fitted model.
    level : float
        Interval mass.
    n_families : int, optional
        Style only the largest ``n_families`` families and draw the rest in grey as
        "other"; default: every family its own style.
    reference : str, optional
        Family of the 1:1 line (see :func:`resolve_reference`).

    Returns
    -------
    matplotlib.figure.Figure
        One axes; the legend, right of it, lists the families, "other" and the line.

    Examples
    --------
    >>> fig = capability_vs_compute_plot(fit)  # doctest: +SKIP
    >>> fig.axes[0].get_xlabel()  # doctest: +SKIP
    'log10 training FLOPs'
    """
    ref = resolve_reference(fit, reference)
    general = fit.capabilities(level).sel(capability="general")
    data = fit.data
    flops = data["flops"].to_numpy().astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.log10(np.where(flops > 0, flops, np.nan))
    has = np.isfinite(x)
    families = np.asarray([str(f) for f in data["family"].to_numpy()])
    mean = general["mean"].sel(model=data["model"]).to_numpy()
    lower = general["lower"].sel(model=data["model"]).to_numpy()
    upper = general["upper"].sel(model=data["model"]).to_numpy()
    ordered = _by_size(list(families[has]))
    top = ordered if n_families is None else ordered[:n_families]
    styles = family_styles(top)
    others = has & ~np.isin(families, top)
    groups = [(f, has & (families == f), styles[f]) for f in top]
    groups.append(("other", others, FamilyStyle(_GREY, "o")))
    n_entries = sum(bool(mask.any()) for _, mask, _ in groups) + 1
    columns = _legend_columns(n_entries)
    fig = _figure(7.0 + 1.6 * columns, 5.5)
    ax = fig.add_subplot()
    for label, mask, style in groups:
        if not mask.any():
            continue
        ax.errorbar(
            x[mask],
            mean[mask],
            # A mean may sit outside its equal-tailed interval (skewed or stuck draws).
            yerr=np.maximum([mean[mask] - lower[mask], upper[mask] - mean[mask]], 0.0),
            fmt=style.marker,
            ms=4,
            color=style.colour,
            ecolor=style.colour,
            elinewidth=0.8,
            alpha=0.85,
            label=f"{label} ({int(mask.sum())})",
        )
    if has.any():
        alpha_ref = float(fit.posterior["alpha"].sel(capability="general", family=ref).mean())
        grid = np.linspace(np.nanmin(x) - 0.2, np.nanmax(x) + 0.2, 2)
        ax.plot(grid, grid + alpha_ref, "k--", lw=1, label=f"1:1 through {ref}")
    missing = int((~has).sum())
    if missing:
        # Those models are placed by their benchmarks alone and have no x position.
        ax.text(
            0.99,
            0.01,
            f"{missing} models without compute not shown",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=8,
            color="0.3",
        )
    ax.set_xlabel("log10 training FLOPs")
    ax.set_ylabel("general capability (decades of effective compute)")
    ax.set_title(f"General capability vs compute (mean, {_pct(level)} interval)")
    ax.grid(alpha=0.3)
    ax.legend(
        fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), ncols=columns, title="family"
    )
    return fig


# ------------------------------------------------------------------ predictive check
def predictive_quantiles(
    fit: FitResults,
    level: float = 0.9,
    seed: int = 0,
) -> xr.Dataset:
    """Posterior predictive median, interval and PIT of every observed score.

    Parameters
    ----------
    fit : FitResults
        A fitted model.
    level : float
        Interval mass.
    seed : int
        Seed of the measurement-noise draws (same seed, same figure).

    Returns
    -------
    xarray.Dataset
        Over ``obs``: ``observed``, ``median``, ``lower``, ``upper`` and ``pit`` (the
        randomised probability integral transform, uniform when the model is calibrated),
        with ``obs_model`` and ``obs_column`` coordinates.

    Examples
    --------
    >>> q = predictive_quantiles(fit)  # doctest: +SKIP
    >>> float(((q.observed >= q.lower) & (q.observed <= q.upper)).mean())  # doctest: +SKIP
    0.91
    """
    rng = np.random.default_rng(seed)
    obs = fit.tree["observed_data"].to_dataset()
    models = np.asarray([str(m) for m in obs["obs_model"].to_numpy()])
    columns = np.asarray([str(c) for c in obs["obs_column"].to_numpy()])
    observed = obs["score"].to_numpy().astype(float)
    names = list(dict.fromkeys(columns))
    pred = fit.predictive_draws(fit.draws("S"), names, rng)
    m_idx = pred.get_index("model").get_indexer(models)
    c_idx = pred.get_index("column").get_indexer(columns)
    draws = pred.to_numpy()[:, m_idx, c_idx]  # (sample, obs)
    lower, upper = equal_tailed(draws, level)
    below = (draws < observed).mean(0)
    ties = (draws == observed).mean(0)
    # Randomised PIT: counts are discrete, ties are split uniformly at random.
    pit = below + ties * rng.uniform(size=observed.size)
    coords = {"obs_model": ("obs", models), "obs_column": ("obs", columns)}
    return xr.Dataset(
        {
            "observed": ("obs", observed),
            "lower": ("obs", lower),
            "median": ("obs", np.quantile(draws, 0.5, axis=0)),
            "upper": ("obs", upper),
            "pit": ("obs", pit),
        },
        coords=coords,
        attrs={"level": level, "seed": seed},
    )


def predictive_check_plot(
    fit: FitResults,
    level: float = 0.9,
    seed: int = 0,
    outliers: dict[str, Any] | None = None,
    ncols: int = 4,
) -> Figure:
    """Observed score vs posterior predictive median and interval, one panel per benchmark.

    Each observed (model, benchmark) score is a point at (observed, predictive median)
    with a vertical ``level`` predictive interval; a calibrated model puts about
    ``level`` of the points' intervals across the diagonal, which the panel title
    reports. Observations flagged by :meth:`FitResults.outliers` are red crosses.

    Parameters
    ----------
    fit : FitResults
        A fitted model.
    level : float
        Interval mass.
    seed : int
        Seed of the predictive draws.
    outliers : dict, optional
        The result of ``fit.outliers()`` if already computed (it costs a prediction).
    ncols : int
        Panels per row.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per fitted column (benchmarks, then targets), titled by its name.

    Examples
    --------
    >>> fig = predictive_check_plot(fit)  # doctest: +SKIP
    >>> len(fig.axes) == fit.data.sizes["benchmark"]  # doctest: +SKIP
    True
    """
    q = predictive_quantiles(fit, level, seed)
    if outliers is None:
        outliers = fit.outliers()
    flagged = {(o["model"], o["benchmark"]) for o in outliers.get("observations", [])}
    columns = list(dict.fromkeys(str(c) for c in q["obs_column"].to_numpy()))
    n = len(columns)
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    fig = _figure(3.0 * ncols, 2.9 * nrows + 0.4)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.remove()
    models = q["obs_model"].to_numpy()
    col_of = q["obs_column"].to_numpy()
    for ax, col in zip(axes, columns, strict=False):
        sel = col_of == col
        obs = q["observed"].to_numpy()[sel]
        med, lo, hi = (q[v].to_numpy()[sel] for v in ("median", "lower", "upper"))
        bad = np.asarray([(m, col) in flagged for m in models[sel]], dtype=bool)
        inside = float(np.mean((obs >= lo) & (obs <= hi))) if obs.size else np.nan
        ax.errorbar(
            obs[~bad],
            med[~bad],
            yerr=[med[~bad] - lo[~bad], hi[~bad] - med[~bad]],
            fmt="o",
            ms=2.5,
            color="C0",
            elinewidth=0.6,
            alpha=0.7,
        )
        if bad.any():
            ax.errorbar(
                obs[bad],
                med[bad],
                yerr=[med[bad] - lo[bad], hi[bad] - med[bad]],
                fmt="x",
                ms=5,
                color=_FLAG,
                elinewidth=0.8,
            )
        edge = [
            min(obs.min(initial=1), lo.min(initial=1)),
            max(obs.max(initial=0), hi.max(initial=0)),
        ]
        ax.plot(edge, edge, color=_GREY, lw=0.8, ls="--")
        ax.set_title(f"{col}\n{inside:.0%} inside {_pct(level)}", fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes[:n]:
        if ax.get_subplotspec().is_last_row() or ax is axes[n - 1]:
            ax.set_xlabel("observed", fontsize=8)
        if ax.get_subplotspec().is_first_col():
            ax.set_ylabel("predictive median", fontsize=8)
    handles = [
        Line2D([], [], marker="o", ls="", color="C0", label="observation"),
        Line2D([], [], marker="x", ls="", color=_FLAG, label="flagged outlier"),
        Line2D([], [], ls="--", color=_GREY, label="observed = predicted"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=8)
    fig.suptitle(
        f"Posterior predictive check: median and {_pct(level)} interval of each observed score",
        fontsize=10,
    )
    return fig


# ------------------------------------------------------------------ convergence
def worst_rhat(fit: FitResults, n: int = 4) -> list[tuple[str, float, np.ndarray]]:
    """The ``n`` scalar parameters with the highest R-hat, worst first.

    Constants (fixed-zero loadings) and the raw ``z_alpha`` (files before 0.6.3) are skipped, as in
    :func:`bayes_scaling.diagnostics.compute_diagnostics`, and a quantity stored twice
    (a deterministic copy) is listed once.

    Returns
    -------
    list of (label, rhat, draws)
        ``draws`` has shape (chain, draw).

    Examples
    --------
    >>> worst_rhat(fit, 1)[0][0]  # doctest: +SKIP
    'sigma'
    """
    import arviz as az

    post = fit.posterior
    varying = {
        name: da.transpose("chain", "draw", ...)
        for name, da in post.data_vars.items()
        if da.sizes.get("draw", 0) > 1 and name != "z_alpha"
    }
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        rhat = az.rhat(xr.Dataset(varying))
    found: list[tuple[str, float, np.ndarray]] = []
    for name, da in varying.items():
        values = da.to_numpy().reshape(da.sizes["chain"], da.sizes["draw"], -1)
        r = np.asarray(rhat[name].transpose(*da.dims[2:]).to_numpy(), dtype=float).ravel()
        live = values.std(axis=(0, 1)) > 1e-12
        other = da.dims[2:]
        for flat in np.flatnonzero(live & np.isfinite(r)):
            label = name
            if other:
                idx = np.unravel_index(flat, [da.sizes[d] for d in other])
                parts = [
                    str(da[d].to_numpy()[i]) if d in da.coords else str(i)
                    for d, i in zip(other, idx, strict=True)
                ]
                label = f"{name}[{', '.join(parts)}]"
            found.append((label, float(r[flat]), values[:, :, flat]))
    found.sort(key=lambda t: -t[1])
    chosen: list[tuple[str, float, np.ndarray]] = []
    for item in found:
        # Deterministic copies (``loading_general`` inside ``loadings``) have identical
        # draws: show each quantity once.
        if not any(np.array_equal(item[2], c[2]) for c in chosen):
            chosen.append(item)
        if len(chosen) == n:
            break
    return chosen


def rhat_plot(
    fit: FitResults,
    n: int = 4,
    threshold: float | None = RHAT_MAX,
) -> Figure | None:
    """ArviZ rank plots of the worst-R-hat parameters, or None if all converged.

    ``az.plot_rank`` (arviz-plots): each chain's fractional ranks over the pooled draws as
    an ECDF difference with a simultaneous envelope; well-mixed chains stay inside it, a
    chain stuck elsewhere leaves it.

    Parameters
    ----------
    fit : FitResults
        A fitted model.
    n : int
        At most this many parameters.
    threshold : float or None
        Only parameters with R-hat above it; ``None`` plots the ``n`` worst regardless.

    Returns
    -------
    matplotlib.figure.Figure or None
        One panel per parameter; None when no parameter exceeds ``threshold``.

    Examples
    --------
    >>> fig = rhat_plot(fit, n=2, threshold=None)  # doctest: +SKIP
    """
    import arviz as az

    worst = worst_rhat(fit, n)
    if threshold is not None:
        worst = [w for w in worst if w[1] > threshold]
    if not worst:
        return None
    post = xr.Dataset(
        # DataTree variable names cannot hold "/" (model names do): a look-alike slash.
        {
            f"{label.replace('/', chr(0x2215))}  (R-hat {r:.3f})": (("chain", "draw"), values)
            for label, r, values in worst
        },
        coords={"chain": np.arange(worst[0][2].shape[0]), "draw": np.arange(worst[0][2].shape[1])},
    )
    pc = az.plot_rank(
        xr.DataTree.from_dict({"posterior": post}),
        backend="matplotlib",
        figure_kwargs={"figsize": (8.0, 2.6 * len(worst) + 0.6), "layout": "constrained"},
        col_wrap=1,
    )
    fig = pc.viz["figure"].item()
    fig.suptitle("Worst-converged parameters: rank plots (ArviZ)", fontsize=10)
    return fig


def loo_pit_plot(fit: FitResults) -> Figure:
    """ArviZ's LOO-PIT plot of every observed score, from the results file's groups.

    ``az.plot_loo_pit`` reads ``posterior_predictive``, ``log_likelihood`` and
    ``observed_data``: the leave-one-out probability integral transform of each score is
    uniform when the model is calibrated; its ECDF difference should stay in the envelope.

    Examples
    --------
    >>> fig = loo_pit_plot(fit)  # doctest: +SKIP
    """
    import arviz as az

    with warnings.catch_warnings():
        # PSIS warns about unreliable Pareto k for single observations; the check reads
        # the ECDF as a whole.
        warnings.simplefilter("ignore")
        pc = az.plot_loo_pit(
            fit.tree, var_names="score", backend="matplotlib", figure_kwargs={"figsize": (6, 3.6)}
        )
    fig = pc.viz["figure"].item()
    fig.suptitle("LOO-PIT of the observed scores (ArviZ; uniform when calibrated)", fontsize=10)
    return fig


def scaling_curve_plot(
    result: Forecast,
    n_families: int | None = None,
    grid: int = 120,
    level: float = 0.9,
    seed: int = 0,
) -> Figure:
    """The forecast metric against general capability, with two labelled bands.

    x is the general capability in decades of effective compute (log10 FLOPs of a model of
    average family efficiency); y is the metric in its own units. Two bands, both
    equal-tailed ``level`` intervals:

    * the **predictive band** of one model's score at that capability
      (:func:`bayes_scaling.curves.predictive_curve`: a model of a new family, its
      specialisations, per-model deviation and measurement noise included), the band
      a model's observed score falls in ``level`` of the time;
    * the narrower band of the **expected score** (the mean curve,
      :func:`bayes_scaling.curves.expected_curve`, specialisations at the fitted models'
      mean): where the curve itself is.

    The line is the posterior mean of the expected score. Training models are filled,
    held-out models hollow, each family in its own colour and marker.

    Parameters
    ----------
    result : Forecast
        From :func:`bayes_scaling.forecast.forecast` with a target metric.
    n_families : int, optional
        Style only the largest ``n_families`` families, the rest grey; default: all.
    grid : int
        Points of the capability grid.
    level : float
        Mass of both bands.
    seed : int
        Seed of the predictive draws (same seed, same figure).

    Examples
    --------
    >>> fig = scaling_curve_plot(result)  # doctest: +SKIP
    """
    from bayes_scaling.curves import expected_curve, predictive_curve
    from bayes_scaling.errors import BayesScalingError

    target = result.target
    if target is None:
        raise BayesScalingError("a scaling curve needs a target metric")
    fit = result.fit
    caps = fit.capabilities()["mean"].sel(capability="general").to_series()
    table = result.table.set_index("model")
    models = [m for m in table.index if m in caps.index]
    lo_x, hi_x = caps[models].min(), caps[models].max()
    span = hi_x - lo_x
    xs = np.linspace(lo_x - 0.1 * span, hi_x + 0.25 * span, grid)
    mean_curve = expected_curve(fit, target.name, xs).to_numpy()
    one_model = predictive_curve(fit, target.name, xs, seed=seed).to_numpy()
    families = fit.data["family"].to_series()
    plotted = [m for m in models if np.isfinite(table.loc[m, "observed"])]
    ordered = _by_size([families.get(m, "") for m in plotted])
    top = ordered if n_families is None else ordered[:n_families]
    styles = family_styles(top)
    n_entries = 5 + len(top) + (len(top) < len(ordered))
    columns = _legend_columns(n_entries, 26)
    fig = _figure(5.8 + 1.7 * columns, 4.6)
    ax = fig.add_subplot()
    pct = _pct(level)
    lower, upper = equal_tailed(one_model, level)
    ax.fill_between(
        xs, lower, upper, color="C0", alpha=0.13, lw=0, label=f"{pct} predictive band: one model"
    )
    lower, upper = equal_tailed(mean_curve, level)
    ax.fill_between(
        xs, lower, upper, color="C0", alpha=0.35, lw=0, label=f"{pct} band of the expected score"
    )
    ax.plot(xs, mean_curve.mean(0), color="C0", lw=2, label="expected score (posterior mean)")
    shown: dict[str, FamilyStyle] = {}
    for m in plotted:
        row = table.loc[m]
        fam = str(families.get(m, ""))
        style = styles.get(fam, FamilyStyle(_GREY, "o"))
        shown[fam if fam in styles else "other"] = style
        test = row["split"] == "test"
        ax.scatter(
            caps[m],
            row["observed"],
            s=36 if test else 22,
            marker=style.marker,
            zorder=3,
            facecolors="none" if test else style.colour,
            edgecolors=style.colour,
            linewidths=1.4,
        )
    handles = [
        Line2D([], [], marker=st.marker, ls="", color=st.colour, label=f)
        for f, st in sorted(shown.items(), key=lambda kv: [*top, "other"].index(kv[0]))
    ]
    handles += [
        Line2D([], [], marker="o", ls="", mfc="none", color="k", label="held out"),
        Line2D([], [], marker="o", ls="", color="k", label="training"),
    ]
    band_handles, _ = ax.get_legend_handles_labels()
    ax.legend(
        handles=band_handles + handles,
        fontsize=7,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        ncols=columns,
    )
    ax.set_xlabel("general capability (decades of effective compute, log10 FLOPs)")
    ax.set_ylabel(target.name)
    ax.set_title(f"Scaling curve of {target.name}: expected score and one model's score")
    return fig


# ------------------------------------------------------------------ curves with bands
def curve_bands_plot(
    curves: dict[str, xr.DataArray],
    *,
    observed: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    xlabel: str = "general capability (decades of effective compute, log10 FLOPs)",
    ylabel: str = "score",
    title: str = "",
    hline: float | None = None,
    marks: dict[str, float] | None = None,
) -> Figure:
    """Posterior median with 50% and 90% bands of several curves over one axis.

    Parameters
    ----------
    curves : dict of str to xarray.DataArray
        Label -> draws over (``sample``, x dim), e.g. from
        :func:`bayes_scaling.curves.expected_curve` or a difference of two.
    observed : dict of str to (x, y), optional
        Points drawn in the colour of the curve with the same label.
    xlabel, ylabel, title : str
        Axis labels (with units) and title.
    hline : float, optional
        A dashed reference line (e.g. zero gain).
    marks : dict of str to float, optional
        Label -> x position marked with a vertical dotted line in that curve's colour
        (e.g. where a gain turns positive); non-finite positions are skipped.

    Returns
    -------
    matplotlib.figure.Figure
        One axes; the legend sits outside the plotting area, right of it.
    """
    fig = _figure(8.0, 4.6)
    ax = fig.add_subplot()
    for i, (label, da) in enumerate(curves.items()):
        colour = f"C{i % 10}"
        dim = next(d for d in da.dims if d != "sample")
        xs = da[dim].to_numpy()
        y = da.transpose("sample", dim).to_numpy()
        for level, alpha in ((0.9, 0.15), (0.5, 0.3)):
            lower, upper = equal_tailed(y, level)
            ax.fill_between(xs, lower, upper, color=colour, alpha=alpha, lw=0)
        ax.plot(xs, np.median(y, axis=0), color=colour, lw=2, label=label)
        if observed and label in observed:
            ox, oy = observed[label]
            ax.scatter(ox, oy, s=12, color=colour, alpha=0.6, zorder=3)
        if marks and label in marks and np.isfinite(marks[label]):
            ax.axvline(marks[label], color=colour, ls=":", lw=1.2)
    if hline is not None:
        ax.axhline(hline, color="k", ls="--", lw=0.8)
    handles, _ = ax.get_legend_handles_labels()
    handles += [
        Line2D([], [], color="0.5", lw=6, alpha=0.45, label="50% band"),
        Line2D([], [], color="0.5", lw=6, alpha=0.2, label="90% band"),
    ]
    if observed:
        handles.append(Line2D([], [], marker="o", ls="", color="0.4", label="observed models"))
    if marks:
        handles.append(Line2D([], [], ls=":", color="0.4", label="crossing (median)"))
    if hline is not None:
        handles.append(Line2D([], [], ls="--", color="k", lw=0.8, label=f"y = {hline:g}"))
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    return fig


# ------------------------------------------------------------------ predicted scores
def predicted_scores_plot(
    table: pd.DataFrame,
    *,
    observed: dict[str, pd.Series] | None = None,
    xlabel: str = "score (accuracy, 0 to 1)",
    title: str = "Predicted benchmark scores",
) -> Figure:
    """Predicted scores (median and interval) of a few models, one row per benchmark.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``model``, ``column``, ``median``, ``lower``, ``upper`` (as from
        :func:`bayes_scaling.curves.predict_scores`); each model gets a colour.
    observed : dict of str to pandas.Series, optional
        Label -> observed scores indexed by column, drawn as black markers of one shape each.

    Returns
    -------
    matplotlib.figure.Figure
        One axes; the legend sits outside the plotting area, right of it.
    """
    models = list(dict.fromkeys(table["model"]))
    columns = list(dict.fromkeys(table["column"]))
    fig = _figure(8.0, 1.2 + 0.45 * len(columns))
    ax = fig.add_subplot()
    step = 0.6 / max(1, len(models))
    handles = []
    for i, m in enumerate(models):
        rows = table[table["model"] == m].set_index("column").reindex(columns)
        y = np.arange(len(columns)) - 0.3 + step * (i + 0.5)
        bars = ax.errorbar(
            rows["median"],
            y,
            xerr=[rows["median"] - rows["lower"], rows["upper"] - rows["median"]],
            fmt="o",
            ms=4,
            color=f"C{i % 10}",
            elinewidth=1.4,
            label=m,
        )
        handles.append(bars)
    for j, (label, series) in enumerate((observed or {}).items()):
        vals = series.reindex(columns).to_numpy(dtype=float)
        (line,) = ax.plot(
            vals, np.arange(len(columns)), ls="", marker="x+*D"[j % 4], color="k", ms=6, label=label
        )
        handles.append(line)
    ax.set_yticks(np.arange(len(columns)), columns, fontsize=8)
    ax.set_ylim(len(columns) - 0.5, -0.5)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("benchmark")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig
