"""The package's internal import graph has no cycle.

Every ``import bayes_scaling...`` / ``from bayes_scaling... import ...`` statement of every
module counts, at module level and inside functions alike: a lazy import inside a function
still ties the two modules together, and a cycle between them is only waiting for someone
to hoist the import. Imports under ``if TYPE_CHECKING:`` are left out (they never run).

An edge goes to the module an import names: ``from bayes_scaling import datasets`` is an
edge to ``bayes_scaling.datasets``, ``from bayes_scaling import __version__`` one to the
package ``bayes_scaling``. Importing a submodule implicitly runs its parent package's
``__init__`` first; that is not an edge here (it is how every package works, and counting
it would make any package that imports its own submodules cyclic). The package's lazy
top-level API (``bayes_scaling.__getattr__``) loads its submodules by name through
``importlib`` on first attribute access, after the package has finished initialising, so it
cannot take part in an import-time cycle and is not an import statement either.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import bayes_scaling

PACKAGE = Path(bayes_scaling.__file__).resolve().parent
ROOT = "bayes_scaling"


def module_names() -> dict[str, Path]:
    """Dotted name of every module of the package -> its file."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join([ROOT, *parts])] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Import statements anywhere in ``tree``, skipping ``if TYPE_CHECKING:`` bodies."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:  # an ``else:`` branch does run
                visit(child)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module a ``from`` import names (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    # ``from . import x`` in a package's __init__ is relative to the package itself.
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join([*base, *([node.module] if node.module else [])])


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports."""
    modules = module_names()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in _imports(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = _absolute(node, name, is_package)
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.append(sub if sub in modules else base)
            for target in targets:
                if target == ROOT or target.startswith(ROOT + "."):
                    # ``import bayes_scaling.a.b`` of a name that is not a module: its module.
                    while target not in modules and "." in target:
                        target = target.rpartition(".")[0]
                    if target != name:
                        graph[name].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a closed path (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := dfs(nxt)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := dfs(start)) is not None:
            return cycle
    return None


def test_graph_sees_every_kind_of_import() -> None:
    """The parser itself: top-level, lazy, submodule and attribute imports all count."""
    graph = import_graph()
    assert "bayes_scaling.data" in graph["bayes_scaling.datasets"]  # top level
    assert "bayes_scaling.forecast" in graph["bayes_scaling.backtest"]  # inside a function
    assert "bayes_scaling.datasets" in graph["bayes_scaling.cli.data"]  # from pkg import mod
    assert ROOT in graph["bayes_scaling.estimator"]  # from bayes_scaling import __version__


def test_type_checking_imports_do_not_count() -> None:
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from bayes_scaling.estimator import FitResults\n"
        "def f():\n    from bayes_scaling.model import EPS\n"
    )
    assert [n.module for n in _imports(tree) if isinstance(n, ast.ImportFrom)] == [
        "typing",
        "bayes_scaling.model",
    ]


def test_find_cycle_finds_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("module", ["bayes_scaling.diagnostics"])
def test_module_does_not_import_the_estimator(module: str) -> None:
    """The convergence checks are a leaf: the estimator uses them, never the reverse."""
    source = module_names()[module].read_text(encoding="utf-8")
    assert "bayes_scaling.estimator" not in source


def test_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_moved_names_stay_importable_from_their_old_modules() -> None:
    """Backward-compatible names: the split modules re-export what used to live there."""
    from bayes_scaling import backtest, grid, splits

    # By its dotted name: ``bayes_scaling.forecast`` is the function (tests/test_api.py).
    forecast = importlib.import_module("bayes_scaling.forecast")
    for name in ("FIXED_COLUMNS", "Task", "default_code_version", "run_grid", "toy_worker"):
        assert getattr(backtest, name) is getattr(grid, name)
    assert backtest.write_table is grid.write_table
    assert backtest.parse_split is splits.parse_split
    assert backtest.split_test_models is splits.split_test_models
    for name in ("split_compute_above", "split_family", "split_top_share"):
        assert getattr(forecast, name) is getattr(splits, name)
