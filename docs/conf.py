"""Sphinx configuration: the docs/*.md pages, the executed notebooks and the API reference.

Built by ``make docs`` into ``docs/_build/html`` with warnings as errors. The notebooks are
rendered with their committed outputs (never executed here); they live in ``analyses/``,
outside this folder, so the build copies them into ``docs/_notebooks/`` first.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))

import bayes_scaling  # noqa: E402

project = "bayes_scaling"
author = "bayes_scaling developers"
copyright = "bayes_scaling developers, Apache-2.0"
release = bayes_scaling.__version__
version = release

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]

# --- sources
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"

# --- MyST and notebooks
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
# A page may open with a section heading (docs/complete.md is written in parts); the page
# then takes that heading as its title. Every other warning fails the build.
suppress_warnings = ["myst.header"]
nb_execution_mode = "off"  # render the committed outputs; `make analyses` executes them
nb_merge_streams = True

# --- API reference from the docstrings (numpydoc style, read by napoleon)
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_typehints = "signature"
autosummary_generate = False
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_preprocess_types = False

# --- HTML
html_theme = "furo"
html_title = f"bayes_scaling {release}"
html_static_path: list[str] = []


def _copy_notebooks() -> None:
    """Copy analyses/*.ipynb into docs/_notebooks/ (rebuilt every time, git-ignored)."""
    target = DOCS / "_notebooks"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    for notebook in sorted((ROOT / "analyses").glob("*.ipynb")):
        shutil.copy2(notebook, target / notebook.name)


_copy_notebooks()
