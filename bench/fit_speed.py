"""Seconds from call to a converged posterior on the bundled base table, per sampler.

Prints one line per (spec, sampler): wall seconds of ``CapabilityModel(spec).fit`` (graph
compilation included), the convergence check (R-hat <= 1.01, bulk ESS >= 400 on every
parameter, no divergence) and bulk ESS per second. Results go to docs/benchmarks.md.

``--refits N`` fits each case N times in one process with seeds ``seed, seed + 1, ...``:
the later fits reuse the compiled graph (:mod:`bayes_scaling.compiled`), as a suite's second
seed or a retry does; each prints its own line (``graph=compiled|reused``).

Run: ``python bench/fit_speed.py [--specs k3] [--samplers nutpie,pymc] [--draws 1000]``
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import time
import warnings
from typing import Any

from bayes_scaling import __version__, compiled, datasets
from bayes_scaling.estimator import DEFAULT_DRAWS, DEFAULT_TUNE, CapabilityModel


def main(argv: list[str] | None = None) -> None:
    """Fit each (spec, sampler) once and print a line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--specs", default="k3")
    parser.add_argument("--samplers", default="nutpie,pymc,numpyro")
    parser.add_argument("--draws", type=int, default=DEFAULT_DRAWS)
    parser.add_argument("--tune", type=int, default=DEFAULT_TUNE)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--refits", type=int, default=1, help="Fits per case, seeds in turn.")
    args = parser.parse_args(argv)
    import arviz
    import nutpie
    import pymc

    print(
        f"# bayes_scaling {__version__}, pymc {pymc.__version__}, nutpie {nutpie.__version__}, "
        f"arviz {arviz.__version__}, python {platform.python_version()}, {os.cpu_count()} cores"
    )
    data = datasets.load("base-llm")
    for spec in args.specs.split(","):
        for sampler in args.samplers.split(","):
            if sampler == "numpyro" and importlib.util.find_spec("numpyro") is None:
                print(f"{spec:<12} {sampler:<8} skipped: numpyro extra not installed")
                continue
            for refit in range(args.refits):
                _fit_line(data, spec, sampler, args, args.seed + refit)


def _fit_line(data: Any, spec: str, sampler: str, args: argparse.Namespace, seed: int) -> None:
    before = dict(compiled.COUNTS)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = CapabilityModel(spec).fit(
            data,
            draws=args.draws,
            tune=args.tune,
            chains=args.chains,
            sampler=sampler,
            seed=seed,
            warn=False,
        )
    seconds = time.perf_counter() - t0
    graph = "reused" if compiled.COUNTS["reused"] > before["reused"] else "compiled"
    d = fit.diagnostics
    print(
        f"{spec:<12} {sampler:<8} seed={seed} graph={graph:<8} seconds={seconds:7.1f} "
        f"converged={d.ok!s:<5} "
        f"max_rhat={d.max_rhat:.3f} min_ess_bulk={d.min_ess_bulk:7.0f} "
        f"min_ess_tail={d.min_ess_tail:7.0f} divergences={d.divergences:<4} "
        f"ess_bulk_per_s={d.min_ess_bulk / seconds:6.1f} "
        f"worst_ess={','.join(d.offending.get('ess', [])[:2]) or '-'}",
        flush=True,
    )


if __name__ == "__main__":
    main()
