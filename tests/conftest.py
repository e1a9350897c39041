"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def write_table(tmp_path: Path) -> Callable[..., Path]:
    """Write ``content`` (text or bytes) to ``tmp_path / name`` and return the path."""

    def write(content: str | bytes, name: str = "table.csv") -> Path:
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return write
