"""Where one log-density + gradient evaluation spends its time (PyTensor's op profiler).

NUTS time is (compilation) + (gradient evaluations) x (cost of one); nutpie runs the
gradient as compiled numba code, which py-spy sees only as anonymous JIT frames, so this
script compiles the same graph with PyTensor's C linker and its per-op profiler and prints
one line per op class: its share of the evaluation time. Also printed: the cost of one
evaluation and the compile time, the numbers that bound issue 7's 15 s goal.

``--sim-models N`` profiles a simulated leaderboard instead (K = 3, 100 families, 12
benchmarks, 30% missing, as ``bench/scale.py``) with the numba linker only: how the cost of
one gradient grows with the number of scores.

Run: ``python bench/profile_logp.py [--spec k3 --evals 2000] [--sim-models 500,5000]``
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from typing import Any

import numpy as np


def main() -> None:
    """Print the compile time, the cost per evaluation, and the top ops by time."""
    from bayes_scaling import datasets
    from bayes_scaling.model import build_inputs, build_model
    from bayes_scaling.specs import load_spec

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spec", default="k3")
    parser.add_argument("--table", default="base-llm")
    parser.add_argument("--evals", type=int, default=2000)
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--sim-models", default="", help="Simulated sizes, e.g. 500,5000.")
    args = parser.parse_args()

    if args.sim_models:
        from bayes_scaling.simulate import simulate

        for size in [int(v) for v in args.sim_models.split(",")]:
            sim = simulate(size, 100, 12, capabilities=3, missing=0.3, seed=0)
            spec = sim.spec("k3")
            model = build_model(build_inputs(sim.data, spec), spec)
            n_obs = int(np.isfinite(sim.data["score"].to_numpy()).sum())
            compile_s, per_eval, _ = _time(model, "numba", args.evals, profile=False)
            print(
                f"sim-{size:<6} numba  compile {compile_s:6.1f} s  logp+grad "
                f"{per_eval * 1e6:8.1f} us per evaluation  {n_obs} scores  "
                f"{per_eval * 1e9 / n_obs:6.1f} ns per score",
                flush=True,
            )
        return

    spec = load_spec(args.spec)
    model = build_model(build_inputs(datasets.load(args.table), spec), spec)
    fn = None
    for linker in ("numba", "cvm"):
        compile_s, per_eval, fn = _time(model, linker, args.evals, profile=linker == "cvm")
        print(
            f"{args.spec:<4} {linker:<6} compile {compile_s:6.1f} s  "
            f"logp+grad {per_eval * 1e6:7.1f} us per evaluation "
            f"({len(model.value_vars)} value variables)",
            flush=True,
        )
    prof = fn.profile  # type: ignore[union-attr]
    by_op: dict[str, float] = defaultdict(float)
    for key, seconds in prof.apply_time.items():
        node = key[1] if isinstance(key, tuple) else key  # (fgraph, node) in PyTensor 3
        op = node.op
        name = type(op).__name__
        scalar = getattr(op, "scalar_op", None)
        if scalar is not None:
            name = f"{name}{{{type(scalar).__name__}}}"
        by_op[name] += seconds
    total = sum(by_op.values())
    for name, seconds in sorted(by_op.items(), key=lambda kv: -kv[1])[: args.top]:
        print(f"  {name:<48} {100 * seconds / total:5.1f}% of op time", flush=True)


def _time(model: Any, linker: str, evals: int, *, profile: bool) -> tuple[float, float, Any]:
    """Compile logp + gradient with ``linker``; seconds to compile, seconds per evaluation."""
    import pytensor
    from pytensor.compile.mode import Mode

    values = model.value_vars
    logp = model.logp()
    grads = pytensor.grad(logp, values)
    point = model.initial_point()
    inputs = [point[v.name] for v in values]
    t0 = time.perf_counter()
    fn = pytensor.function(
        values, [logp, *grads], mode=Mode(linker=linker, optimizer="fast_run"), profile=profile
    )
    fn(*inputs)
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(evals):
        fn(*inputs)
    return compile_s, (time.perf_counter() - t0) / evals, fn


if __name__ == "__main__":
    main()
