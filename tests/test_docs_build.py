"""The documentation's coverage, checked without building it (CI runs ``make docs``).

Every public module has a page in the API reference, every docs/*.md page and every
executed notebook is in the table of contents, and every command-line option is
described in docs/cli.md.
"""

from __future__ import annotations

import pkgutil
import re
from pathlib import Path
from typing import Any

import typer

import bayes_scaling

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def public_modules() -> list[str]:
    """The package's modules, without private ones and the command modules under cli/."""
    names = [m.name for m in pkgutil.walk_packages(bayes_scaling.__path__, "bayes_scaling.")]
    return [
        "bayes_scaling",
        *(
            n
            for n in names
            if not any(part.startswith("_") for part in n.split("."))
            and not n.startswith("bayes_scaling.cli.")
        ),
    ]


def test_every_public_module_is_in_the_api_reference() -> None:
    text = "\n".join(p.read_text() for p in sorted((DOCS / "api").glob("*.md")))
    documented = re.findall(r"^\.\. automodule:: (\S+)$", text, flags=re.MULTILINE)
    assert len(documented) == len(set(documented)), "a module is documented twice"
    modules = public_modules()
    assert "bayes_scaling.summaries" in modules and "bayes_scaling.cli" in modules
    missing = sorted(set(modules) - set(documented))
    assert not missing, f"add '.. automodule:: NAME' to a page of docs/api/ for {missing}"
    assert sorted(documented) == sorted(modules)
    index = (DOCS / "api" / "index.md").read_text()
    for page in (DOCS / "api").glob("*.md"):
        assert page.stem == "index" or f"\n{page.stem}\n" in index, page.name


def _toctree_entries(page: Path) -> set[str]:
    blocks = re.findall(r"```\{toctree\}(.*?)```", page.read_text(), flags=re.DOTALL)
    return {
        line.strip()
        for block in blocks
        for line in block.splitlines()
        if line.strip() and not line.strip().startswith(":")
    }


def test_every_page_and_notebook_is_in_the_table_of_contents() -> None:
    index = _toctree_entries(DOCS / "index.md")
    pages = {p.stem for p in DOCS.glob("*.md")} - {"index"}
    assert pages <= index, f"add {sorted(pages - index)} to the toctree of docs/index.md"
    notebooks = {f"_notebooks/{p.stem}" for p in (ROOT / "analyses").glob("*.ipynb")}
    assert notebooks and notebooks == _toctree_entries(DOCS / "analyses.md")


def test_every_command_and_option_is_in_the_cli_page() -> None:
    from bayes_scaling.cli import app

    text = (DOCS / "cli.md").read_text()
    missing = []

    def walk(group: Any, prefix: list[str]) -> None:
        for name, command in group.commands.items():
            if hasattr(command, "commands"):  # a group (typer vendors its own click)
                walk(command, [*prefix, name])
                continue
            if f"bayes-scaling {' '.join([*prefix, name])}" not in text:
                missing.append(" ".join([*prefix, name]))
            for param in command.params:
                missing.extend(
                    f"{' '.join([*prefix, name])} {opt}"
                    for opt in param.opts
                    if opt.startswith("--") and opt != "--help" and opt not in text
                )

    walk(typer.main.get_command(app), [])
    assert missing == []
    assert "bayes-scaling data import" in text
