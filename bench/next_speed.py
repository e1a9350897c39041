"""Seconds to rank one model's unobserved benchmarks (``bayes-scaling next``), no refit.

Without ``--run``, first fits k2 with ADVI (1000 draws) to a simulated sparse table
(``simulate(100 models, 10 families, 130 benchmarks, missing=0.77, seed=2)``: 23% of cells
filled, the size of issue 17's leaderboards). Then, for the model with the most unobserved
benchmarks and the one with the fewest (at least two), prints one line each: the number of
probes and of unobserved columns, and the seconds of ``rank_probes`` in-process (the run
already loaded; median of ``--repeat`` calls) at the default 400 draws.

Run: ``python bench/next_speed.py [--run RUN.nc] [--repeat 1]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from bayes_scaling.estimator import CapabilityModel, FitResults
from bayes_scaling.probes import rank_probes
from bayes_scaling.simulate import simulate


def main() -> None:
    """Time ``rank_probes`` on two models of a sparse fit; print one line per model."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run", type=Path, help="A results file (default: fit one).")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run_file = args.run
        if run_file is None:
            sim = simulate(100, 10, 130, capabilities=2, missing=0.77, seed=2)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = CapabilityModel(sim.spec("k2")).fit(
                    sim.data, draws=1000, chains=1, sampler="advi", seed=0, warn=False
                )
            run_file = fit.save(Path(tmp) / "RUN.nc")
        fit = FitResults.load(run_file)
        score = fit.data["score"].transpose("model", "benchmark").to_numpy()
        missing = (~np.isfinite(score)).sum(axis=1)
        models = [str(m) for m in fit.data["model"].to_numpy()]
        ok = np.flatnonzero(missing >= 2)
        picks = [ok[np.argmax(missing[ok])], ok[np.argmin(missing[ok])]]
        for i in picks:
            seconds = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                ranking = rank_probes(fit, models[i])
                seconds.append(time.perf_counter() - start)
            print(
                f"next {models[i]}: {len(ranking.table)} probes x {len(ranking.current) - 1} "
                f"scored columns, {ranking.n_draws} draws: "
                f"{statistics.median(seconds):.2f} s in-process"
            )


if __name__ == "__main__":
    main()
