"""How low the leave-one-family-out error can go: compute laws fitted to the held-out scores.

Issue 16 asks for a mean absolute error below 0.025 (2.5 points) in Sloth's protocol
(``bench/sloth_lofo.py``): each family's members but its smallest leave the fit, and their
eight benchmark scores are forecast from family and compute. This script asks what that
number is bounded by. It fits, per benchmark and by least squares on the raw [0, 1] scale,
the compute law ``floor + (1 - floor) sigmoid(a + b log10 C)`` to *every* model with known
compute, the held-out ones included (an oracle: no forecast can know these), and scores
it on exactly the scores ``sloth_lofo.py`` scores:

- ``shared``: one law per benchmark for all families;
- ``family intercept``: each family its own ``a`` per benchmark, one slope ``b``;
- ``family intercept + slope``: each family its own ``a`` and ``b`` per benchmark.

A forecast that learns a family's efficiency from its one smallest model can at best
recover the family intercept; the ``family intercept`` line is therefore what a perfect
estimate of it would give with this law, and the gap to the protocol's goal says how much
of the error is the law's shape rather than the estimate.

One line per case. Run::

    python bench/lofo_bound.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Final, Literal

import numpy as np
import xarray as xr
from scipy.optimize import least_squares

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sloth_lofo import TABLE, lofo_families, lofo_split

Per = Literal["shared", "intercept", "slope"]
CASES: Final[dict[str, Per]] = {
    "shared": "shared",
    "family intercept": "intercept",
    "family intercept + slope": "slope",
}


def oracle_fit(bench: xr.Dataset, per_family: Per) -> np.ndarray:
    """In-sample compute-law fits (model, benchmark) to every model with known compute.

    NaN where a model has no compute or no score.

    Examples
    --------
    >>> import xarray as xr
    >>> x = np.array([0.0, 1.0, 2.0, 0.0, 1.0, 2.0])
    >>> fam = np.array(["A"] * 3 + ["B"] * 3)
    >>> y = 1 / (1 + np.exp(-(np.where(fam == "A", -1.0, 0.5) + 0.8 * (x - 1.0))))
    >>> t = xr.Dataset({"score": (("model", "benchmark"), y[:, None])},
    ...     coords={"model": list("abcdef"), "benchmark": ["B"], "family": ("model", fam),
    ...             "flops": ("model", 10.0 ** x), "floor": ("benchmark", [0.0])})
    >>> bool(np.abs(oracle_fit(t, "intercept") - y[:, None]).max() < 1e-6)
    True
    >>> bool(np.abs(oracle_fit(t, "shared") - y[:, None]).max() > 0.05)
    True
    """
    flops = bench["flops"].to_numpy().astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(flops > 0, np.log10(flops), np.nan)
    known = np.isfinite(x)
    family = bench["family"].to_numpy().astype(str)
    names = sorted(set(family[known]))
    fidx = np.array([names.index(f) if f in names else 0 for f in family])
    if per_family == "shared":
        fidx[:] = 0
        names = names[:1]
    n_fam = len(names)
    n_slope = n_fam if per_family == "slope" else 1
    score = bench["score"].transpose("model", "benchmark").to_numpy().astype(float)
    floors = bench["floor"].to_numpy().astype(float)
    out = np.full(score.shape, np.nan)
    for j, floor in enumerate(floors):
        idx = np.flatnonzero(known & np.isfinite(score[:, j]))
        out[idx, j] = _least_squares_law(
            x[idx] - x[idx].mean(),
            score[idx, j],
            floor,
            fidx[idx],
            fidx[idx] if n_slope > 1 else np.zeros(len(idx), dtype=int),
            n_fam,
            n_slope,
        )
    return out


def _least_squares_law(
    xc: np.ndarray,
    y: np.ndarray,
    floor: float,
    intercept_of: np.ndarray,
    slope_of: np.ndarray,
    n_intercepts: int,
    n_slopes: int,
) -> np.ndarray:
    """Fitted values of one benchmark's law, least squares on the raw scale."""

    def curve(p: np.ndarray) -> np.ndarray:
        z = p[:n_intercepts][intercept_of] + p[n_intercepts:][slope_of] * xc
        return floor + (1.0 - floor) / (1.0 + np.exp(-z))

    p0 = np.concatenate([np.zeros(n_intercepts), np.ones(n_slopes)])
    return curve(least_squares(lambda p: curve(p) - y, p0).x)


def held_out_errors(bench: xr.Dataset, pred: np.ndarray) -> np.ndarray:
    """Absolute errors on the scores ``sloth_lofo.py`` forecasts, every family pooled."""
    models = [str(m) for m in bench["model"].to_numpy()]
    score = bench["score"].transpose("model", "benchmark").to_numpy().astype(float)
    errors = []
    for family in lofo_families(bench):
        _, held, _ = lofo_split(bench, family)
        rows = [models.index(m) for m in held]
        e = np.abs(pred[rows] - score[rows])
        errors.append(e[np.isfinite(e)])
    return np.concatenate(errors)


def main() -> int:
    from bayes_scaling import __version__, datasets

    bench = datasets.load(TABLE)
    print(f"# bayes_scaling {__version__}, table {TABLE}, in-sample compute laws (oracles)")
    for label, per in CASES.items():
        e = held_out_errors(bench, oracle_fit(bench, per))
        print(f"{label:26s} | {len(e)} held-out scores | mae {100 * e.mean():.2f} pts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
