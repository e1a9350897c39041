"""Compare the model specs on the bundled base-model table: one line per spec.

Leave-one-model-out PSIS-LOO (elpd, se, difference to the best spec, stacking weight,
effective parameters, Pareto k > 0.7 count) with each fit's convergence diagnostics, and
optionally leave-future-out (models above a compute quantile hidden). With compute-only
among the specs, every spec is fitted to the models with known compute. Results go to
docs/backtests.md ("Model comparison").

Run: ``python bench/compare_base.py [--specs k1,k2,k3,k4,compute-only --draws 400 --tune 400
--chains 4 --lfo-quantile 0.8 --json out.json]``
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

from bayes_scaling import datasets
from bayes_scaling.compare import BAD_K, compare_specs


def main() -> None:
    """Fit every spec, print one line per spec, the notes and the Pareto-k models."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default="base-llm")
    parser.add_argument("--specs", default="k1,k2,k3,k4,compute-only")
    parser.add_argument("--draws", type=int, default=2000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--by", choices=("model", "obs"), default="model")
    parser.add_argument("--lfo-quantile", type=float, default=None)
    parser.add_argument("--json", type=Path, default=None, help="Also write the rows here.")
    parser.add_argument(
        "--force", action="store_true", help="Rank unconverged fits too (flagged, not results)."
    )
    args = parser.parse_args()

    data = datasets.load(args.data)
    cutoff = None
    if args.lfo_quantile is not None:
        flops = data["flops"].to_numpy().astype(float)
        cutoff = float(np.quantile(np.log10(flops[np.isfinite(flops)]), args.lfo_quantile))
    t0 = time.perf_counter()
    table = compare_specs(
        data,
        [s.strip() for s in args.specs.split(",")],
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        seed=args.seed,
        by=args.by,
        lfo_cutoff=cutoff,
        force=args.force,
    )
    total = time.perf_counter() - t0
    for _, r in table.iterrows():
        line = (
            f"{r['spec']:<13} elpd={r['elpd']:9.1f} se={r['se']:6.1f} "
            f"elpd_diff={r['elpd_diff']:8.1f} dse={r['dse']:6.1f} weight={r['weight']:.2f} "
            f"p_loo={r['p_loo']:6.1f} k>{BAD_K:g}={r['n_bad_pareto_k']:<3} "
            f"rhat={r['max_rhat']:.3f} ess={r['min_ess_bulk']:.0f} div={r['divergences']} "
            f"{r['seconds']:.0f}s"
        )
        if cutoff is not None:
            line += f" elpd_lfo={r['elpd_lfo']:.1f} se_lfo={r['se_lfo']:.1f} n_lfo={r['n_heldout']}"
        print(line, flush=True)
    print(
        f"by={table.attrs['by']} models={table.attrs['n_models']} scores={table.attrs['n_obs']} "
        f"total {total:.0f}s"
    )
    if table.attrs["note"]:
        print(f"note: {table.attrs['note']}")
    if cutoff is not None:
        print(
            f"leave-future-out cutoff: 10^{cutoff:.2f} FLOPs "
            f"({len(table.attrs['lfo_models'])} models held out)"
        )
    for _, r in table.iterrows():
        if r["bad_models"]:
            print(f"Pareto k > {BAD_K:g} ({r['spec']}): {', '.join(r['bad_models'])}")
    if args.json:
        rows = [
            {
                k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in row.items()
            }
            for row in table.to_dict("records")
        ]
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
