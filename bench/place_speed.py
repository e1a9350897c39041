"""Seconds to place one new model into a fitted run (``bayes-scaling place``).

Without ``--run``, first fits k1 on the bundled base table with one model held out
(``meta-llama/Llama-2-13b-hf``; 4 chains x 250 draws after 300 tuning steps, so the
placement conditions on 1000 draws, the command's default) and writes the held-out model's
row as NEW.csv. Then prints one line: the seconds of ``place()`` in-process (median of
``--repeat`` calls, the run already loaded) and of the whole command
``bayes-scaling place RUN.nc --models NEW.csv --json`` in a fresh process (Python start-up,
imports and loading and checking the results file included; median of ``--repeat`` runs).
Results go to docs/benchmarks.md.

Run: ``python bench/place_speed.py [--run RUN.nc --models NEW.csv] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from bayes_scaling import datasets
from bayes_scaling.data import to_wide
from bayes_scaling.estimator import CapabilityModel, FitResults
from bayes_scaling.place import place, read_new_models

HELD_OUT = "meta-llama/Llama-2-13b-hf"


def main() -> None:
    """Time one placement in-process and through the command; print one line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run", type=Path, help="A results file (default: fit one).")
    parser.add_argument("--models", type=Path, help="NEW.csv with one model (with --run).")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run_file, new_file = args.run, args.models
        if run_file is None:
            base = datasets.load("base-llm")
            run_file, new_file = Path(tmp) / "RUN.nc", Path(tmp) / "NEW.csv"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = CapabilityModel("k1").fit(
                    base.drop_sel(model=[HELD_OUT]), draws=250, tune=300, chains=4, seed=0
                )
            fit.save(run_file)
            to_wide(base.sel(model=[HELD_OUT])).to_csv(new_file, index=False)
        elif new_file is None:
            parser.error("--run needs --models")
        fit = FitResults.load(run_file)
        new = read_new_models(new_file)
        model = str(new["model"].to_numpy()[0])
        inner = []
        for i in range(args.repeat):
            t0 = time.perf_counter()
            (p,) = place(fit, new.sel(model=[model]), seed=i)
            inner.append(time.perf_counter() - t0)
        command = [
            sys.executable,
            "-c",
            "from bayes_scaling.cli import main; main()",
            "place",
            str(run_file),
            "--models",
            str(new_file),
            "--json",
        ]
        outer = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            outer.append(time.perf_counter() - t0)
    print(
        f"place {model} into {fit.spec.name} ({fit.data.sizes['model']} models, "
        f"{p.n_draws} draws): place()={statistics.median(inner):.2f} s, "
        f"command={statistics.median(outer):.2f} s, ess={p.ess:.0f}, "
        f"{os.cpu_count()} cores",
        flush=True,
    )


if __name__ == "__main__":
    main()
