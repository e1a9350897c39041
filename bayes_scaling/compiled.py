"""The last compiled graph of this process, reused by refits of the same inputs.

Compiling a fit's graph for nutpie takes 10-15 s with a warm numba cache (docs/benchmarks.md),
a tenth of a suite fit. Refits of *the same* spec on *the same* inputs build the same graph:
the suite's second seed of a task, a retry with more draws (``--retry-draws``), a command
run again in one session. They reuse the compiled graph. The key is a content hash of
everything :func:`bayes_scaling.model.build_model` reads (the spec with its priors, and every
array and name of :class:`~bayes_scaling.model.ModelInputs`), so a different training set,
table or prior compiles anew. One graph is kept: a grid runs a task's seeds back to back.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from bayes_scaling.model import ModelInputs
from bayes_scaling.specs import ModelSpec

_LOCK = threading.Lock()
_LAST: dict[str, Any] = {}
#: How many graphs this process compiled and how many fits reused one (read by tests).
COUNTS: dict[str, int] = {"compiled": 0, "reused": 0}


def graph_key(inputs: ModelInputs, spec: ModelSpec) -> str:
    """A content hash of what the graph is built from: the spec and the inputs' arrays.

    Examples
    --------
    >>> from bayes_scaling import datasets
    >>> from bayes_scaling.model import build_inputs
    >>> from bayes_scaling.specs import load_spec
    >>> spec = load_spec("k2")
    >>> data = datasets.load("base-llm")
    >>> a = graph_key(build_inputs(data, spec), spec)
    >>> a == graph_key(build_inputs(data, spec), spec)
    True
    >>> a == graph_key(build_inputs(data.isel(model=slice(1, None)), spec), spec)
    False
    """
    digest = hashlib.sha256()
    spec_fields = json.dumps(dataclasses.asdict(spec), sort_keys=True, default=repr)
    digest.update(spec_fields.encode())
    for field in dataclasses.fields(inputs):
        value = getattr(inputs, field.name)
        digest.update(field.name.encode())
        if isinstance(value, np.ndarray):
            digest.update(f"{value.dtype}{value.shape}".encode())
            digest.update(np.ascontiguousarray(value).tobytes())
        else:
            digest.update(repr(value).encode())
    return digest.hexdigest()


def compiled_graph(key: str, compile_fn: Callable[[], Any]) -> Any:
    """The compiled graph under ``key``: the last one if it matches, else ``compile_fn()``.

    Examples
    --------
    >>> clear()
    >>> compiled_graph("a", lambda: "graph a"), compiled_graph("a", lambda: "other")
    ('graph a', 'graph a')
    >>> compiled_graph("b", lambda: "graph b")
    'graph b'
    >>> COUNTS
    {'compiled': 2, 'reused': 1}
    """
    with _LOCK:
        if _LAST.get("key") == key:
            COUNTS["reused"] += 1
            return _LAST["graph"]
    graph = compile_fn()
    with _LOCK:
        _LAST.clear()
        _LAST.update(key=key, graph=graph)
        COUNTS["compiled"] += 1
    return graph


def clear() -> None:
    """Forget the kept graph and reset :data:`COUNTS`."""
    with _LOCK:
        _LAST.clear()
        COUNTS.update(compiled=0, reused=0)
