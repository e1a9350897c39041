"""Project metadata a newcomer (and PyPI) reads: the licence and the project URLs."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_root_license_is_the_apache_text() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text  # the full text, not a stub
    # the same text as the bundled data's licence
    assert text == (ROOT / "data" / "obsscaling" / "LICENSE").read_text(encoding="utf-8")


def test_project_urls() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "Apache-2.0"
    urls = project["urls"]
    assert urls, "no [project.urls]"
    for name, url in urls.items():
        assert url.startswith("https://"), (name, url)
        assert not any(mark in url for mark in ("<", ">", "example", "your-", "ORG")), url
