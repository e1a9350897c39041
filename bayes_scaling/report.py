"""The HTML report of a fit, and the tidy tables beside it.

:func:`write_report` turns a :class:`~bayes_scaling.estimator.FitResults` into a folder::

    index.html               self-contained page (figures embedded as base64 PNG)
    family_efficiency.png    forest plot of compute multipliers
    loadings.png             benchmark x capability heatmap
    capability_vs_compute.png
    predictive_check.png
    rhat.png                 ArviZ rank plots, only when some parameter has R-hat > 1.01
    loo_pit.png              ArviZ LOO-PIT of the observed scores
    summary.json             FitResults.summary_dict(reference, level), strict JSON
    capabilities.csv         model, family, capability, mean, q<lo>, q<hi>
    family_efficiency.csv    family, n_models, reference, mean, median, q<lo>, q<hi>, ...
    loadings.csv             benchmark, capability, mean, q<lo>, q<hi>, anchor, fixed_zero

Everything is first written into a temporary folder beside the target and only then
moved into place, so a failure leaves no partial report behind.

Examples
--------
>>> from bayes_scaling.estimator import FitResults
>>> fit = FitResults.load("runs/demo/RUN.nc")  # doctest: +SKIP
>>> write_report(fit, "runs/demo")  # doctest: +SKIP
PosixPath('runs/demo/index.html')
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
import json
import math
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bayes_scaling import interrupts, plots
from bayes_scaling.diagnostics import BFMI_MIN, CHECK, OK
from bayes_scaling.errors import BayesScalingError
from bayes_scaling.io import atomic_write_text

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from bayes_scaling.diagnostics import Diagnostics
    from bayes_scaling.estimator import FitResults

__all__ = [
    "REPORT_FILES",
    "capabilities_table",
    "family_efficiency_table",
    "jsonable",
    "loadings_table",
    "write_report",
]

#: Every file :func:`write_report` may create; stale ones from an earlier report of the
#: same folder (e.g. ``rhat.png`` of a fit that has since converged) are removed.
REPORT_FILES: tuple[str, ...] = (
    "index.html",
    "summary.json",
    "capabilities.csv",
    "family_efficiency.csv",
    "loadings.csv",
    "family_efficiency.png",
    "loadings.png",
    "capability_vs_compute.png",
    "predictive_check.png",
    "loo_pit.png",
    "rhat.png",
)

#: At most this many outlying observations are listed in the page (all are in JSON).
MAX_OBS_ROWS = 40


# ------------------------------------------------------------------ JSON
def jsonable(obj: Any) -> Any:
    """``obj`` with numpy scalars as Python numbers and non-finite floats as ``None``.

    Results files return their attributes as numpy scalars and diagnostics can be NaN
    (BFMI of one draw); ``json.dumps`` would fail on the first and write invalid JSON
    (``NaN``) for the second.

    Examples
    --------
    >>> jsonable({"seed": np.int64(3), "bfmi": float("nan"), "x": [np.float32(0.5)]})
    {'seed': 3, 'bfmi': None, 'x': [0.5]}
    """
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [jsonable(v) for v in obj.tolist()]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


# ------------------------------------------------------------------ tidy tables
def _qname(q: float) -> str:
    """Column name of a quantile: ``q0.05``, ``q0.95``."""
    return f"q{q:g}"


def _bounds(level: float) -> tuple[str, str]:
    return _qname(round((1 - level) / 2, 6)), _qname(round(1 - (1 - level) / 2, 6))


def capabilities_table(fit: FitResults, level: float = 0.9) -> pd.DataFrame:
    """Every model's capabilities, one row per (model, capability).

    The general axis is in decades of effective compute (absolute log10 FLOPs scale),
    the specialisations in their own unit-sd scale.

    Examples
    --------
    >>> capabilities_table(fit).columns.tolist()  # doctest: +SKIP
    ['model', 'family', 'log10_flops', 'capability', 'mean', 'q0.05', 'q0.95']
    """
    lo_name, hi_name = _bounds(level)
    caps = fit.capabilities(level)
    data = fit.data
    frame = caps.to_dataframe()[["mean", "lower", "upper"]].reset_index()
    flops = data["flops"].to_numpy().astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_flops = np.log10(np.where(flops > 0, flops, np.nan))
    meta = pd.DataFrame(
        {
            "model": [str(m) for m in data["model"].to_numpy()],
            "family": [str(f) for f in data["family"].to_numpy()],
            "log10_flops": log_flops,
        }
    )
    frame["model"] = frame["model"].astype(str)
    frame["capability"] = frame["capability"].astype(str)
    out = meta.merge(frame, on="model", how="right", validate="one_to_many")
    out = out.rename(columns={"lower": lo_name, "upper": hi_name})
    return out[["model", "family", "log10_flops", "capability", "mean", lo_name, hi_name]]


def family_efficiency_table(
    fit: FitResults, reference: str | None = None, level: float = 0.9
) -> pd.DataFrame:
    """Compute multiplier of every family vs ``reference``, most efficient first.

    ``log10_multiplier`` is the posterior mean of ``alpha_f - alpha_ref`` (decades);
    ``mean``/``median``/quantiles are of the multiplier ``10 ** (alpha_f - alpha_ref)``.

    Examples
    --------
    >>> family_efficiency_table(fit).columns.tolist()  # doctest: +SKIP
    ['family', 'n_models', 'reference', 'mean', 'median', 'q0.05', 'q0.95', 'log10_multiplier']
    """
    lo_name, hi_name = _bounds(level)
    ref = plots.resolve_reference(fit, reference)
    eff = fit.family_efficiency(ref, level)
    counts = Counter(str(f) for f in fit.data["family"].to_numpy())
    families = [str(f) for f in eff["family"].to_numpy()]
    out = pd.DataFrame(
        {
            "family": families,
            "n_models": [counts[f] for f in families],
            "reference": ref,
            "mean": eff["mean"].to_numpy(),
            "median": eff["median"].to_numpy(),
            lo_name: eff["lower"].to_numpy(),
            hi_name: eff["upper"].to_numpy(),
            "log10_multiplier": eff["log10_multiplier"].to_numpy(),
        }
    )
    return out.sort_values(["median", "family"], ascending=[False, True], ignore_index=True)


def loadings_table(fit: FitResults, level: float = 0.9) -> pd.DataFrame:
    """Loadings, one row per (benchmark, capability), with anchor and fixed-zero flags.

    Examples
    --------
    >>> loadings_table(fit).columns.tolist()  # doctest: +SKIP
    ['benchmark', 'capability', 'mean', 'q0.05', 'q0.95', 'anchor', 'fixed_zero']
    """
    lo_name, hi_name = _bounds(level)
    lo = fit.loadings(level)
    fixed = fit.posterior["loadings"].std(("chain", "draw")) < 1e-12
    caps = [str(c) for c in lo["capability"].to_numpy()]
    anchor_of = dict(zip(caps, fit.anchors, strict=False))
    rows = []
    for b in lo["benchmark"].to_numpy():
        for c in caps:
            cell = lo.sel(benchmark=b, capability=c)
            rows.append(
                {
                    "benchmark": str(b),
                    "capability": c,
                    # + 0.0 turns the -0.0 of sign-aligned fixed zeros into 0.0.
                    "mean": float(cell["mean"]) + 0.0,
                    lo_name: float(cell["lower"]) + 0.0,
                    hi_name: float(cell["upper"]) + 0.0,
                    "anchor": anchor_of.get(c) == str(b),
                    "fixed_zero": bool(fixed.sel(benchmark=b, capability=c)),
                }
            )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ the report
def write_report(
    fit: FitResults,
    out_dir: str | os.PathLike[str],
    *,
    level: float = 0.9,
    reference: str | None = None,
    seed: int = 0,
    dpi: int = 110,
) -> Path:
    """Write the HTML report, its PNGs, ``summary.json`` and the tidy CSVs.

    Parameters
    ----------
    fit : FitResults
        A fitted model.
    out_dir : path-like
        Folder to write into (created if needed). Files of an earlier report there are
        replaced; other files (e.g. the results file) are left alone.
    level : float
        Mass of every interval in the report (0.9: 5% and 95% quantiles).
    reference : str, optional
        Family the efficiency multipliers are relative to (default: the spec's, or the
        largest family if the data lack it).
    seed : int
        Seed of the posterior predictive draws.
    dpi : int
        Resolution of the PNGs.

    Returns
    -------
    pathlib.Path
        ``out_dir / "index.html"``.

    Raises
    ------
    BayesScalingError
        ``out_dir`` exists and is not a folder, or ``reference`` is not a fitted family.

    Examples
    --------
    >>> write_report(fit, "runs/demo")  # doctest: +SKIP
    PosixPath('runs/demo/index.html')
    """
    import matplotlib

    if not 0 < level < 1:
        raise BayesScalingError(f"level must be between 0 and 1, got {level}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise BayesScalingError(f"{out}: exists and is not a folder")
    ref = plots.resolve_reference(fit, reference)
    families = [str(f) for f in fit.posterior["family"].to_numpy()]
    if ref not in families:
        raise BayesScalingError(
            f"reference family {ref!r} is not in the fit; families: {', '.join(families[:8])}"
            + (", ..." if len(families) > 8 else "")
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    try:
        # rc_context: a report must look the same whatever the user's matplotlibrc says.
        with matplotlib.rc_context(matplotlib.rcParamsDefault):
            _build(fit, tmp, level=level, reference=ref, seed=seed, dpi=dpi)
        # Ctrl-C or SIGTERM waits for the last rename: never half an old, half a new report.
        with interrupts.deferred():
            _publish(tmp, out)
            interrupts.mark_saved(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out / "index.html"


def _publish(tmp: Path, out: Path) -> None:
    """Move the finished report from ``tmp`` into ``out``."""
    # mkdtemp/mkstemp create owner-only files; a report is meant to be shared, so give
    # it the permissions an ordinary write would have had under the user's umask.
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)
    for path in tmp.iterdir():
        path.chmod(0o666 & ~umask)
    if not out.exists():
        # One rename: the folder appears complete or not at all.
        os.replace(tmp, out)
        return
    made = {p.name for p in tmp.iterdir()}
    for name in sorted(made):
        os.replace(tmp / name, out / name)
    for name in REPORT_FILES:
        if name not in made:
            with contextlib.suppress(FileNotFoundError):
                (out / name).unlink()


def _build(
    fit: FitResults, tmp: Path, *, level: float, reference: str, seed: int, dpi: int
) -> None:
    diag = fit.diagnostics
    outliers = fit.outliers()
    summary = jsonable(fit.summary_dict(reference, level))
    atomic_write_text(tmp / "summary.json", json.dumps(summary, indent=2, allow_nan=False) + "\n")

    caps = capabilities_table(fit, level)
    eff = family_efficiency_table(fit, reference, level)
    load = loadings_table(fit, level)
    for name, frame in (
        ("capabilities.csv", caps),
        ("family_efficiency.csv", eff),
        ("loadings.csv", load),
    ):
        atomic_write_text(tmp / name, frame.to_csv(index=False, float_format="%.6g"))

    figures: dict[str, str] = {}

    def save(name: str, fig: Figure | None) -> None:
        if fig is None:
            return
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi)
        (tmp / f"{name}.png").write_bytes(buf.getvalue())
        figures[name] = base64.b64encode(buf.getvalue()).decode("ascii")

    save("family_efficiency", plots.family_efficiency_plot(fit, reference, level))
    save("loadings", plots.loadings_heatmap(fit, level))
    save("capability_vs_compute", plots.capability_vs_compute_plot(fit, level, reference=reference))
    save("predictive_check", plots.predictive_check_plot(fit, level, seed, outliers=outliers))
    save("rhat", plots.rhat_plot(fit))
    if "posterior_predictive" in fit.tree.children and "log_likelihood" in fit.tree.children:
        save("loo_pit", plots.loo_pit_plot(fit))

    page = _page(fit, diag, outliers, summary, eff, load, figures, level, reference)
    atomic_write_text(tmp / "index.html", page)


# ------------------------------------------------------------------ HTML
_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1100px;
       margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em;
     margin-top: 2em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f5f5f5; }
.ok { color: #1a7f37; font-weight: 600; } .bad { color: #b42318; font-weight: 600; }
.unmeasured { color: #b54708; font-weight: 600; }
.warn { background: #fff4e5; border-left: 4px solid #f79009; padding: 0.5em 1em; }
.note { color: #555; font-size: 0.9em; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
code { background: #f5f5f5; padding: 0 0.2em; }
"""


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: Any, spec: str = ".3g") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float | np.floating):
        return "n/a" if not math.isfinite(float(value)) else format(float(value), spec)
    return str(value)


def _table(
    header: Sequence[str] | None, rows: Iterable[Sequence[Any]], numeric: Sequence[bool]
) -> str:
    """An HTML table; every cell is escaped unless it is already ``_Raw`` markup."""
    head = "" if header is None else "".join(f"<th>{_esc(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for value, num in zip(row, numeric, strict=True):
            text = value.html if isinstance(value, _Raw) else _esc(value)
            cells.append(f'<td class="num">{text}</td>' if num else f"<td>{text}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    thead = f"<thead><tr>{head}</tr></thead>" if head else ""
    return f"<table>{thead}<tbody>{''.join(body)}</tbody></table>"


class _Raw:
    """Trusted markup built here (status badges), not user text."""

    def __init__(self, html_text: str) -> None:
        self.html = html_text


def _status(status: str) -> _Raw:
    """Badge of a :class:`~bayes_scaling.diagnostics.Check` status (ok, check, not measured)."""
    css = {OK: "ok", CHECK: "bad"}.get(status, "unmeasured")
    return _Raw(f'<span class="{css}">{_esc(status)}</span>')


def _img(figures: dict[str, str], name: str, alt: str) -> str:
    if name not in figures:
        return ""
    return (
        f'<p><img src="data:image/png;base64,{figures[name]}" alt="{_esc(alt)}"></p>'
        f'<p class="note">Also saved as <code>{name}.png</code>.</p>'
    )


def _page(
    fit: FitResults,
    diag: Diagnostics,
    outliers: dict[str, Any],
    summary: dict[str, Any],
    eff: pd.DataFrame,
    load: pd.DataFrame,
    figures: dict[str, str],
    level: float,
    reference: str,
) -> str:
    attrs = fit.attrs
    pct = f"{100 * level:g}%"
    lo_name, hi_name = _bounds(level)
    spec = fit.spec
    parts: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>bayes_scaling report: {_esc(spec.name)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Capability model report: <code>{_esc(spec.name)}</code></h1>",
        f'<p class="note">{_esc(spec.description)}</p>',
    ]

    # --- stamp
    def attr(key: str) -> Any:
        return jsonable(attrs.get(key))

    stamp = [
        ("spec", f"{spec.name} (hash {str(attrs.get('spec_hash', ''))[:12]})"),
        ("bayes_scaling version", attr("bayes_scaling_version")),
        (
            "sampler",
            f"{attr('sampler')} (APPROXIMATE: not MCMC)"
            if attrs.get("approximate")
            else attr("sampler"),
        ),
        ("seed", attr("seed")),
        (
            "draws x chains (tune)",
            f"{attr('draws')} x {attr('chains')} ({attr('tune')})",
        ),
        ("sampling seconds", _fmt(attr("seconds"), ".1f")),
        ("created", attr("created")),
        ("data source", fit.data.attrs.get("source", "")),
        (
            "data",
            f"{summary['n_models']} models, {summary['n_families']} families, "
            f"{summary['n_benchmarks']} benchmarks, {summary['n_obs']} observed scores",
        ),
        ("anchors", ", ".join(fit.anchors)),
        ("reference family", reference),
        ("content hash", str(attrs.get("content_hash", "(not saved yet)"))[:16]),
    ]
    parts.append(_table(None, stamp, [False, False]))
    if reference != spec.reference_family:
        parts.append(
            f'<p class="note">The spec\'s reference family {_esc(spec.reference_family)} '
            f"is not in the data; multipliers are relative to {_esc(reference)}, the largest "
            "family.</p>"
        )

    # --- diagnostics
    parts.append("<h2>Convergence diagnostics</h2>")
    if diag.unmeasured:
        parts.append(
            f'<p class="bad"><strong>Convergence NOT MEASURED:</strong> {_esc(diag.unmeasured)}'
            ". The numbers below cannot be trusted to come from a converged sampler.</p>"
        )
    parts.append(
        _table(
            ["quantity", "value", "wanted", "status"],
            [
                (
                    c.quantity,
                    str(c.value) if c.spec == "d" else _fmt(c.value, c.spec),
                    c.wanted,
                    _status(c.status),
                )
                for c in diag.checks()
            ],
            [False, True, False, False],
        )
    )
    messages = diag.messages()
    if not (diag.min_bfmi >= BFMI_MIN) and math.isfinite(diag.min_bfmi):
        messages.append(f"BFMI {diag.min_bfmi:.3f} < {BFMI_MIN}: the energy distribution is poor")
    if messages:
        items = "".join(f"<li>{_esc(m)}</li>" for m in messages)
        parts.append(
            f'<div class="warn"><strong>Warnings.</strong> Treat the numbers below with '
            f"caution until these are resolved (more tuning/draws, or a simpler spec):"
            f"<ul>{items}</ul></div>"
        )
        parts.append(_img(figures, "rhat", "rank plots of the worst R-hat parameters"))
    else:
        parts.append('<p class="ok">No convergence warnings.</p>')

    # --- outliers
    parts.append("<h2>Outliers</h2>")
    models = outliers.get("models", [])
    parts.append(
        "<p>Models whose general capability is more than 3 predictive sds from their "
        "family's compute line (z in sds, offset in decades of compute):</p>"
    )
    if models:
        parts.append(
            _table(
                ["model", "family", "z", "offset (decades)"],
                [
                    (o["model"], o["family"], _fmt(o["z"], ".2f"), _fmt(o["decades"], ".2f"))
                    for o in sorted(models, key=lambda o: -abs(o["z"]))
                ],
                [False, False, True, True],
            )
        )
    else:
        parts.append('<p class="note">None.</p>')
    obs = sorted(outliers.get("observations", []), key=lambda o: o["tail"])
    parts.append(
        "<p>Observed scores in the outer 0.5% of their posterior predictive distribution "
        "(tail = the smaller predictive probability of a score as extreme):</p>"
    )
    if obs:
        parts.append(
            _table(
                ["model", "benchmark", "observed", "predictive median", "tail"],
                [
                    (
                        o["model"],
                        o["benchmark"],
                        _fmt(o["observed"]),
                        _fmt(o["predicted"]),
                        _fmt(o["tail"], ".4f"),
                    )
                    for o in obs[:MAX_OBS_ROWS]
                ],
                [False, False, True, True, True],
            )
        )
        if len(obs) > MAX_OBS_ROWS:
            parts.append(
                f'<p class="note">... and {len(obs) - MAX_OBS_ROWS} more; all are listed in '
                "<code>summary.json</code> (<code>outlier_observations</code>).</p>"
            )
    else:
        parts.append('<p class="note">None.</p>')

    # --- family efficiency
    parts.append("<h2>Family compute efficiency</h2>")
    parts.append(
        f"<p>Effective-compute multiplier <em>m</em> of family <em>f</em> vs "
        f"{_esc(reference)} along the general axis (the direction its anchor benchmark "
        f"defines; FLOPs from the table's metadata, with its errors, so <em>m</em> is not a "
        f"measured compute efficiency): at the same recorded FLOPs, <em>f</em>'s models sit "
        f"log<sub>10</sub> <em>m</em> decades higher on that axis than {_esc(reference)}'s "
        f"(<em>m</em> = 10<sup>&alpha;<sub>f</sub> - "
        f"&alpha;<sub>ref</sub></sup>). Median and {pct} interval; families with one model "
        "are mostly prior and wide. Full table in <code>family_efficiency.csv</code>.</p>"
    )
    parts.append(_img(figures, "family_efficiency", "family efficiency forest plot"))
    parts.append(
        _table(
            ["family", "models", "median", lo_name, hi_name, "log10 multiplier"],
            [
                (
                    r.family,
                    r.n_models,
                    _fmt(r["median"]),  # r.median is Series.median, the method
                    _fmt(r[lo_name]),
                    _fmt(r[hi_name]),
                    _fmt(r.log10_multiplier, ".2f"),
                )
                for _, r in eff.iterrows()
            ],
            [False, True, True, True, True, True],
        )
    )

    # --- loadings
    parts.append("<h2>Benchmark loadings</h2>")
    parts.append(
        "<p>How strongly each benchmark's logit score moves with each capability. The "
        "general axis is in decades of effective compute; anchors (*) pin the other axes, "
        "whose loadings above the anchor are fixed at zero. Full table in "
        "<code>loadings.csv</code>.</p>"
    )
    note = plots.specialisation_note(fit)
    if note:
        parts.append(
            f"<p>{_esc(note)} Specialisation capabilities are in "
            "<code>capabilities.csv</code> under the same names.</p>"
        )
    parts.append(_img(figures, "loadings", "loadings heatmap"))
    caps = list(dict.fromkeys(load["capability"]))
    labels = plots.capability_labels(fit)
    rows_l = []
    for bench, group in load.groupby("benchmark", sort=False):
        cells: list[Any] = [f"{bench} *" if group["anchor"].any() else bench]
        for c in caps:
            r = group[group["capability"] == c].iloc[0]
            cells.append(
                "0 (fixed)"
                if r["fixed_zero"]
                else f"{r['mean']:.2f} [{r[lo_name]:.2f}, {r[hi_name]:.2f}]"
            )
        rows_l.append(cells)
    parts.append(
        _table(
            ["benchmark", *(labels.get(c, c) for c in caps)],
            rows_l,
            [False] + [True] * len(caps),
        )
    )

    # --- capability vs compute
    parts.append("<h2>General capability vs compute</h2>")
    parts.append(
        "<p>Each model's general capability, in decades of effective compute, against its "
        "training FLOPs. Above the dashed 1:1 line through the reference family means more "
        "capability per FLOP than it. All capabilities are in <code>capabilities.csv</code>."
        "</p>"
    )
    parts.append(_img(figures, "capability_vs_compute", "general capability vs compute"))

    # --- posterior predictive
    parts.append("<h2>Posterior predictive check</h2>")
    parts.append(
        f"<p>Each observed score against the median and {pct} interval of its posterior "
        f"predictive distribution (measurement noise included). In a calibrated fit about "
        f"{pct} of the intervals contain the observation (panel titles); red crosses are the "
        "flagged outlying observations.</p>"
    )
    parts.append(_img(figures, "predictive_check", "posterior predictive check"))
    if "loo_pit" in figures:
        parts.append(
            "<p>Leave-one-out PIT of every observed score (ArviZ, from the results file's "
            "<code>posterior_predictive</code> and <code>log_likelihood</code> groups): the "
            "difference between the PIT values' ECDF and the uniform's stays inside the "
            "envelope when the predictive distributions are calibrated.</p>"
        )
        parts.append(_img(figures, "loo_pit", "LOO-PIT check"))
    parts.append(
        '<p class="note">Written by bayes_scaling; <code>summary.json</code> holds the '
        "machine-readable summary.</p></body></html>"
    )
    return "\n".join(p for p in parts if p) + "\n"
