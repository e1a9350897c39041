"""How fitting time and memory grow with the size of a leaderboard (issue 7, goal 3).

Simulates a leaderboard with the package's simulator (K = 3, ``--families`` families,
``--benchmarks`` benchmarks, ``--missing`` of the scores blanked) at each size in
``--sizes`` and fits it with NUTS (nutpie). Prints one line per size: models, observed
scores, wall seconds (compilation included), seconds per observed score, peak resident
memory of the process so far, and the convergence check.

Run: ``python bench/scale.py [--sizes 500,1000,2000,5000 --draws 1000 --tune 1000]``
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import warnings

from bayes_scaling import __version__
from bayes_scaling.estimator import CapabilityModel
from bayes_scaling.simulate import simulate


def main() -> None:
    """Simulate and fit one leaderboard per size; print a line each."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="500,1000,2000,5000")
    parser.add_argument("--families", type=int, default=100)
    parser.add_argument("--benchmarks", type=int, default=12)
    parser.add_argument("--missing", type=float, default=0.3)
    parser.add_argument("--capabilities", type=int, default=3)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--spec", default="", help="Bundled spec to fit (default k{capabilities}), e.g. k3-exact."
    )
    args = parser.parse_args()
    print(
        f"# bayes_scaling {__version__}, {os.cpu_count()} cores, "
        f"{args.chains} chains x ({args.tune} tune + {args.draws} draws), "
        f"spec {args.spec or f'k{args.capabilities}'}",
        flush=True,
    )
    for size in (int(s) for s in args.sizes.split(",")):
        sim = simulate(
            n_models=size,
            n_families=min(args.families, size // 2),
            n_benchmarks=args.benchmarks,
            capabilities=args.capabilities,
            missing=args.missing,
            seed=args.seed,
        )
        n_obs = int(sim.data["score"].notnull().sum())
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = CapabilityModel(sim.spec(args.spec or f"k{args.capabilities}")).fit(
                sim.data,
                draws=args.draws,
                tune=args.tune,
                chains=args.chains,
                seed=args.seed,
                warn=False,
            )
        seconds = time.perf_counter() - t0
        peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        d = fit.diagnostics
        print(
            f"models={size:<5} scores={n_obs:<6} seconds={seconds:7.1f} "
            f"ms_per_score={1000 * seconds / n_obs:6.2f} peak_rss_gib={peak_gib:5.2f} "
            f"converged={d.ok!s:<5} max_rhat={d.max_rhat:.3f} min_ess_bulk={d.min_ess_bulk:6.0f} "
            f"divergences={d.divergences}",
            flush=True,
        )


if __name__ == "__main__":
    main()
