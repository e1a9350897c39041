"""Seconds for ``complete`` to fill a leaderboard-sized table without compute (issue 17).

Simulates 100 models x 130 benchmarks (K=2, 12 families) with 77% of cells blanked (23%
filled) and every model's compute hidden, then times one call of
``bayes_scaling.complete.complete`` on it, end to end in-process (graph build,
compilation, sampling, read-out of every cell), with its default, converging settings
unless told otherwise. Prints one line: the table, the wall seconds and the fit's
convergence summary (``NOT CONVERGED`` when R-hat > 1.01, ESS < 400 or divergences).
The issue's target is <= 180 s on 2 cores. Results go to docs/benchmarks.md.

Run: ``nice -n 5 python bench/complete_speed.py [--models 100 --benchmarks 130]
[--filled 0.23] [--draws N --tune N --chains N] [--sampler nuts|advi]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

BENCH = Path(__file__).resolve().parent
for _path in (BENCH.parent, BENCH):  # run from a checkout without installing
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from complete_heldout import ESS_MIN, RHAT_MAX, diagnostics_dict, simulated_table  # noqa: E402


def main(
    argv: Sequence[str] | None = None, complete_fn: Callable[..., pd.DataFrame] | None = None
) -> int:
    """Time one ``complete`` call; print one line. Returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--benchmarks", type=int, default=130)
    parser.add_argument("--filled", type=float, default=0.23)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--spec", default="k2")
    parser.add_argument("--sampler", choices=("nuts", "advi"))
    parser.add_argument("--draws", type=int)
    parser.add_argument("--tune", type=int)
    parser.add_argument("--chains", type=int)
    args = parser.parse_args(argv)
    if complete_fn is None:
        from bayes_scaling.complete import complete as complete_fn
    data = simulated_table(args.models, args.benchmarks, 1.0 - args.filled, seed=args.seed)
    settings: dict[str, Any] = {"spec": args.spec, "seed": args.seed}
    settings.update(
        {k: getattr(args, k) for k in ("sampler", "draws", "tune", "chains") if getattr(args, k)}
    )
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence is printed from the diagnostics
        frame = complete_fn(data, **settings)
    seconds = time.perf_counter() - t0
    d = diagnostics_dict(frame.attrs.get("diagnostics", {}))
    ok = (
        d["max_rhat"] <= RHAT_MAX
        and d["min_ess_bulk"] >= ESS_MIN
        and d["min_ess_tail"] >= ESS_MIN
        and d["divergences"] == 0
    )
    filled = float(np.isfinite(data["score"].to_numpy()).mean())
    shown = ", ".join(f"{k}={v}" for k, v in settings.items() if k != "seed")
    print(
        f"complete {data.sizes['model']} models x {data.sizes['benchmark']} benchmarks, "
        f"{filled:.1%} filled, no compute ({shown}): {len(frame)} cells, wall {seconds:.1f} s; "
        f"max_rhat {d['max_rhat']:.3f}, min_ess_bulk {d['min_ess_bulk']:.0f}, "
        f"min_ess_tail {d['min_ess_tail']:.0f}, divergences {d['divergences']:.0f}"
        f"{'' if ok else ' NOT CONVERGED'}; {os.cpu_count()} cores",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
