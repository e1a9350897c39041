"""The examples in the docstrings of the model's own modules run and hold."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = (
    "bayes_scaling.measurement",
    "bayes_scaling.capability_prior",
    "bayes_scaling.compare",
    "bayes_scaling.diagnostics",
    "bayes_scaling.io",
    "bayes_scaling.interrupts",
    "bayes_scaling.progress",
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
