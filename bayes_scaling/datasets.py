"""The bundled observational-scaling tables, by name.

Five tables from Ruan, Maddison & Hashimoto (2024), *Observational Scaling Laws and the
Predictability of Language Model Performance* (Apache-2.0; see ``data/README.md``):

=================  =====================================  ===================================
name               file                                   content
=================  =====================================  ===================================
``base-llm``       base_llm_benchmark_eval.csv            128 base models, 8 benchmarks,
                                                          family, size, tokens, FLOPs
``instruct-llm``   instruct_llm_benchmark_eval.csv        27 instruction-tuned models
``agent``          instruct_llm_agent_eval.csv            agent benchmarks of those models
``emergent``       base_llm_emergent_capability_eval.csv  BIG-bench "emergent" tasks
``post-training``  base_llm_post_training_eval.csv        GSM8K/BBH with and without CoT
=================  =====================================  ===================================

Each table is validated on load like any user table. What the raw files cannot say is
declared here, per table: the raw range of non-[0, 1] columns, registry entries for the
benchmarks only these tables use, and documented exclusions (see :func:`exclusions`). The
target tables (``agent``, ``emergent``, ``post-training``) carry no family or compute; join
them on ``model`` with their :func:`companion` table.

The files are looked up inside the installed package first (``bayes_scaling/_data/``, put
there by the wheel build) and then in the source checkout's ``data/obsscaling/``; nothing
else is read.

Examples
--------
>>> names()
('base-llm', 'instruct-llm', 'agent', 'emergent', 'post-training')
>>> ds = load("base-llm")
>>> ds.sizes["model"], float(ds.flops.sel(model="meta-llama/Llama-2-7b-hf"))
(128, 8.4e+22)
"""

from __future__ import annotations

import dataclasses
import io
import os
import re
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import pandas as pd
import xarray as xr

from bayes_scaling.data import (
    METADATA,
    MIN_MODELS_PER_BENCHMARK,
    MODEL,
    Ranges,
    from_wide,
    read_table,
)
from bayes_scaling.errors import DataError
from bayes_scaling.registry import BenchmarkInfo, Registry

__all__ = [
    "bundled_name",
    "companion",
    "describe",
    "exclusions",
    "load",
    "names",
    "resolve_table",
]

Range = tuple[float, float]


@dataclasses.dataclass(frozen=True)
class _Table:
    file: str
    description: str
    companion: str | None = None
    # Functions of the table's benchmark columns, so rules like "every ',norm' column" stay
    # rules rather than lists of 232 names.
    ranges: Callable[[Sequence[str]], dict[str, Range]] = lambda columns: {}
    benchmarks: Callable[[Sequence[str]], dict[str, BenchmarkInfo]] = lambda columns: {}
    exclude_models: Mapping[str, str] = dataclasses.field(default_factory=dict)
    exclude_columns: Mapping[str, str] = dataclasses.field(default_factory=dict)


# --- instruct-llm ------------------------------------------------------------------------


def _instruct_benchmarks(columns: Sequence[str]) -> dict[str, BenchmarkInfo]:
    return {
        "Arena-Elo": BenchmarkInfo(
            "Arena-Elo",
            floor=0.0,
            continuous=True,
            protocol="Chatbot Arena Elo, min-max normalised over this table's models "
            "(0 = dolly-v2-12b, 1 = gpt-4-0314): a relative rating, not a proportion",
        ),
        "MTBench": BenchmarkInfo(
            "MTBench",
            floor=0.1,  # GPT-4 judges on 1-10 and the table divides by 10: 1/10 is the bottom
            continuous=True,
            protocol="MT-Bench, GPT-4-judged score on 1-10 divided by 10",
        ),
    }


# --- agent -------------------------------------------------------------------------------


def _agent_ranges(columns: Sequence[str]) -> dict[str, Range]:
    # AgentBench's overall score is on 0-10; every other column is a percentage.
    return {c: (0.0, 10.0) if c == "ABench-OA" else (0.0, 100.0) for c in columns}


def _agent_benchmarks(columns: Sequence[str]) -> dict[str, BenchmarkInfo]:
    out = {}
    for column in columns:
        if column == "ABench-OA":
            protocol = "AgentBench overall score (OA), 0-10"
        elif column.startswith("ABench-"):
            protocol = "AgentBench environment score, percent"
        elif column.endswith("_PR"):
            protocol = "AgentBoard progress rate, percent"
        else:
            protocol = "AgentBoard success rate, percent"
        # Scores and rates over an unstated number of tasks: no item count.
        out[column] = BenchmarkInfo(column, floor=0.0, continuous=True, protocol=protocol)
    return out


# --- emergent ------------------------------------------------------------------------------


#: Items behind an emergent column, read off the table itself: every value of these
#: columns is a whole number of items over this count to the table's six decimals
#: (``tests/test_datasets.py``). IPA transliteration's values fit no common count, so it
#: stays a share without one.
_EMERGENT_ITEMS = {
    "parsinlu_qa_2_acc": 1050,
    "word_unscrambling_2_exact_match": 2000,
    "arithmetic_3ds_2_acc": 2000,
    "arithmetic_3da_2_acc": 2000,
    "arithmetic_2dm_2_acc": 2000,
    "arithmetic_2da_2_acc": 2000,
}


def _emergent_benchmarks(columns: Sequence[str]) -> dict[str, BenchmarkInfo]:
    out = {}
    for column in columns:
        items = _EMERGENT_ITEMS.get(column)
        if column == "ipa_transliterate_2_bleu":
            info = BenchmarkInfo(
                column, floor=0.0, continuous=True, protocol="BIG-bench, 2-shot, BLEU 0-100"
            )
        elif column.startswith("parsinlu_qa"):
            info = BenchmarkInfo(
                column,
                floor=0.25,
                n_items=items,
                continuous=False,
                protocol="BIG-bench parsinlu_qa, 2-shot, 4-way multiple choice accuracy",
            )
        else:
            info = BenchmarkInfo(
                column,
                floor=0.0,
                n_items=items,
                continuous=False,
                protocol="2-shot exact match (generated answer): no guessing floor",
            )
        out[column] = info
    return out


# --- post-training -------------------------------------------------------------------------

# 1/#choices of each BBH task: exactly what the table's own ",norm" columns use, since
# norm = (accuracy - chance) / (1 - chance) holds row by row (checked in the tests).
_BBH_CHANCE = {
    "boolean_expressions": 1 / 2,
    "causal_judgement": 1 / 2,
    "date_understanding": 1 / 6,
    "disambiguation_qa": 1 / 3,
    "dyck_languages": 0.0,
    "formal_fallacies": 1 / 2,
    "geometric_shapes": 1 / 9,
    "hyperbaton": 1 / 2,
    "logical_deduction_five_objects": 1 / 5,
    "logical_deduction_seven_objects": 1 / 7,
    "logical_deduction_three_objects": 1 / 3,
    "movie_recommendation": 1 / 5,
    "multistep_arithmetic_two": 0.0,
    "navigate": 1 / 2,
    "object_counting": 0.0,
    "penguins_in_a_table": 1 / 5,
    "reasoning_about_colored_objects": 1 / 18,
    "ruin_names": 1 / 4,
    "salient_translation_error_detection": 1 / 6,
    "snarks": 1 / 2,
    "sports_understanding": 1 / 2,
    "temporal_sequences": 1 / 4,
    "tracking_shuffled_objects_five_objects": 1 / 5,
    "tracking_shuffled_objects_seven_objects": 1 / 7,
    "tracking_shuffled_objects_three_objects": 1 / 3,
    "web_of_lies": 1 / 2,
    "word_sorting": 0.0,
}
#: Problems behind every GSM8K column of the post-training table (see below).
_GSM8K_ITEMS = 500
_BBH_COLUMN = re.compile(r"bbh_(?:cot_)?fewshot_(?P<task>.+)_3_exact_match,")
_NORM = ",norm"


def _post_training_ranges(columns: Sequence[str]) -> dict[str, Range]:
    # Chance-normalised scores: 0 = chance, 1 = perfect, negative = below chance.
    return {c: (-1.0, 1.0) for c in columns if c.endswith(_NORM)}


def _post_training_benchmarks(columns: Sequence[str]) -> dict[str, BenchmarkInfo]:
    out = {}
    for column in columns:
        if column.endswith(_NORM):
            # Raw 0 (chance) sits at 0.5 once [-1, 1] is rescaled to [0, 1].
            out[column] = BenchmarkInfo(
                column,
                floor=0.5,
                continuous=True,
                protocol="lm-eval-harness exact match, chance-normalised to [-1, 1]",
            )
            continue
        match = _BBH_COLUMN.match(column)
        if match and match["task"] == "overall":
            floor = sum(_BBH_CHANCE.values()) / len(_BBH_CHANCE)  # unweighted task mean
            protocol = "BBH, unweighted mean of the 27 tasks, exact match"
        elif match:
            floor = _BBH_CHANCE[match["task"]]
            protocol = f"BBH {match['task']}, 3-shot exact match"
        else:
            floor = 0.0
            protocol = "GSM8K exact match (generated answer), 500 test problems"
        # Counts read off the table, as for the emergent columns: every GSM8K value is a
        # whole number of 500 problems (a subset of the 1,319 of the test split; 742 values
        # on that grid). BBH's are left without one: its chain-of-thought values sit on a
        # 1/500 grid, which no BBH task's item count (250, or 187, 178, 146) gives, so what
        # its values count is unclear.
        items = None if match else _GSM8K_ITEMS
        out[column] = BenchmarkInfo(
            column, floor=floor, n_items=items, continuous=False, protocol=protocol
        )
    return out


_STRICT_ZERO = (
    "every model scores 0 (the strict-match answer regex never fires on the non-CoT "
    "few-shot prompt): a constant column carries no information about capability"
)
_POST_TRAINING_CONSTANT_TASKS = (
    "geometric_shapes",
    "hyperbaton",
    "movie_recommendation",
    "multistep_arithmetic_two",
    "ruin_names",
    "salient_translation_error_detection",
    "tracking_shuffled_objects_seven_objects",
    "word_sorting",
)

_TABLES: dict[str, _Table] = {
    "base-llm": _Table(
        file="base_llm_benchmark_eval.csv",
        description="128 base models on 8 standard benchmarks, with family, size, "
        "pretraining tokens and FLOPs",
    ),
    "instruct-llm": _Table(
        file="instruct_llm_benchmark_eval.csv",
        description="27 instruction-tuned models (7 closed) on standard and chat benchmarks",
        benchmarks=_instruct_benchmarks,
    ),
    "agent": _Table(
        file="instruct_llm_agent_eval.csv",
        description="AgentBench and AgentBoard results of the instruction-tuned models",
        companion="instruct-llm",
        ranges=_agent_ranges,
        benchmarks=_agent_benchmarks,
    ),
    "emergent": _Table(
        file="base_llm_emergent_capability_eval.csv",
        description="BIG-bench tasks reported as emergent, on base models",
        companion="base-llm",
        ranges=lambda columns: {"ipa_transliterate_2_bleu": (0.0, 100.0)},
        benchmarks=_emergent_benchmarks,
    ),
    "post-training": _Table(
        file="base_llm_post_training_eval.csv",
        description="GSM8K and BBH with and without chain-of-thought / self-consistency, "
        "raw and chance-normalised, on base models",
        companion="base-llm",
        ranges=_post_training_ranges,
        benchmarks=_post_training_benchmarks,
        exclude_models={
            "tiiuae/falcon-180B": "no post-training evaluation: every cell of the row is empty",
            "bigscience/bloom": "no post-training evaluation: every cell of the row is empty",
        },
        exclude_columns={
            f"bbh_fewshot_{task}_3_exact_match,strict-match{suffix}": _STRICT_ZERO
            for task in _POST_TRAINING_CONSTANT_TASKS
            for suffix in ("", _NORM)
        },
    ),
}


# --- public API ------------------------------------------------------------------------------


def names() -> tuple[str, ...]:
    """Names of the bundled tables.

    Examples
    --------
    >>> "base-llm" in names()
    True
    """
    return tuple(_TABLES)


def describe(name: str) -> str:
    """One-line description of a bundled table.

    Examples
    --------
    >>> describe("agent").startswith("AgentBench")
    True
    """
    return _table(name).description


def companion(name: str) -> str | None:
    """The bundled table holding family and compute for ``name``'s models, if another one.

    Examples
    --------
    >>> companion("emergent"), companion("base-llm")
    ('base-llm', None)
    """
    return _table(name).companion


def exclusions(name: str) -> dict[str, dict[str, str]]:
    """What :func:`load` leaves out of a table, and why.

    Returns
    -------
    dict
        ``{"models": {name: reason}, "columns": {name: reason}}``.

    Examples
    --------
    >>> sorted(exclusions("post-training")["models"])
    ['bigscience/bloom', 'tiiuae/falcon-180B']
    >>> exclusions("base-llm")
    {'models': {}, 'columns': {}}
    """
    table = _table(name)
    return {"models": dict(table.exclude_models), "columns": dict(table.exclude_columns)}


def load(name: str, *, registry: Registry | None = None, exclude: bool = True) -> xr.Dataset:
    """Load a bundled table as the validated tidy dataset.

    Parameters
    ----------
    name : str
        One of :func:`names`.
    registry : Registry, optional
        Benchmark registry; :meth:`Registry.default` if omitted. Entries this table declares
        for its own benchmarks are added where ``registry`` does not know the name, so a
        caller's registry always wins.
    exclude : bool, default True
        Leave out the documented :func:`exclusions`; False gives the table as released.

    Returns
    -------
    xarray.Dataset
        The tidy dataset; ``attrs["source"]`` is the file name.

    Raises
    ------
    DataError
        Unknown name, missing file, or a table failing validation.

    Examples
    --------
    >>> load("post-training").sizes["model"], load("post-training", exclude=False).sizes["model"]
    (75, 77)
    """
    table = _table(name)
    raw = _locate(table.file).read_bytes()
    frame = pd.read_csv(
        io.BytesIO(raw), header=None, dtype=str, keep_default_na=False, na_filter=False
    )
    header = [str(c).strip() for c in frame.iloc[0]]
    body = frame.iloc[1:].reset_index(drop=True)
    body.columns = header
    if exclude:
        body = _apply_exclusions(body, header, table)
    columns = [c for c in body.columns if c not in METADATA]
    base = Registry.default() if registry is None else registry
    declared = {k: v for k, v in table.benchmarks(columns).items() if k not in base}
    return from_wide(
        body,
        source=table.file,
        ranges=table.ranges(columns),
        registry=base.with_overrides(declared) if declared else base,
    )


def bundled_name(name_or_path: str | os.PathLike[str]) -> str | None:
    """The bundled table ``name_or_path`` refers to, or ``None`` when it is a file path.

    The one rule for every command and function that takes "a bundled table or a file": a
    bundled name counts only when no file or folder of that name exists, so a user's file
    is never shadowed by a bundled table.

    Parameters
    ----------
    name_or_path : str or path-like
        What the user gave.

    Returns
    -------
    str or None
        One of :func:`names`, or ``None`` (treat ``name_or_path`` as a path).

    Examples
    --------
    >>> bundled_name("base-llm"), bundled_name("runs/bench.csv")
    ('base-llm', None)
    """
    text = os.fspath(name_or_path)
    if text in _TABLES and not Path(text).exists():
        return text
    return None


def resolve_table(
    name_or_path: str | os.PathLike[str],
    *,
    percent: bool = False,
    ranges: Ranges | None = None,
    registry: Registry | None = None,
    linear: Sequence[str] = (),
    min_models: int = MIN_MODELS_PER_BENCHMARK,
) -> xr.Dataset:
    """The tidy dataset of a bundled table name or of a CSV/Parquet file.

    Parameters
    ----------
    name_or_path : str or path-like
        A bundled table (:func:`names`) or a table file; see :func:`bundled_name` for which
        wins when both exist.
    percent : bool, default False
        Every score column of the file is on 0-100 (files only).
    ranges : mapping of column to (lower, upper), optional
        Raw ranges of score columns of the file (files only; bundled tables declare theirs).
    registry : Registry, optional
        Benchmark registry (:meth:`Registry.default` if omitted).
    linear : sequence of str, default ()
        Linear (not share) columns of the file (see :func:`bayes_scaling.data.read_table`).
    min_models : int, default 3
        Least number of models per benchmark of the file.

    Returns
    -------
    xarray.Dataset
        The tidy dataset (``attrs["source"]`` is the bundled file's name or the path).

    Raises
    ------
    DataError
        One line: neither a bundled name nor an existing file (the bundled names are
        listed), ``percent``/``ranges`` given with a bundled name, or a table failing
        validation.

    Examples
    --------
    >>> int(resolve_table("base-llm").sizes["model"])
    128
    >>> resolve_table("no-such-table")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bayes_scaling.errors.DataError: no-such-table: file not found (bundled tables: base-llm, ...)
    """
    name = bundled_name(name_or_path)
    if name is not None:
        if percent or ranges:
            # A silently ignored --percent would mis-scale nothing but hide a user's mistake.
            raise DataError(
                name, "--percent and --range apply to files; bundled tables declare ranges"
            )
        if linear:
            raise DataError(name, "--linear applies to files; bundled tables declare scales")
        return load(name, registry=registry)
    if not Path(name_or_path).exists():
        raise DataError(
            os.fspath(name_or_path), f"file not found (bundled tables: {', '.join(names())})"
        )
    return read_table(
        name_or_path,
        percent=percent,
        ranges=ranges,
        registry=registry,
        linear=linear,
        min_models=min_models,
    )


# --- helpers ---------------------------------------------------------------------------------


def _table(name: str) -> _Table:
    try:
        return _TABLES[name]
    except KeyError:
        raise DataError(
            str(name), f"unknown bundled table; choose one of {', '.join(_TABLES)}"
        ) from None


def _locate(file: str) -> Traversable:
    # An installed wheel carries the tables inside the package (pyproject force-include).
    packaged = resources.files("bayes_scaling").joinpath("_data", "obsscaling", file)
    if packaged.is_file():
        return packaged
    # A source checkout keeps them in <repo>/data/obsscaling, beside the package.
    checkout = Path(__file__).resolve().parent.parent / "data" / "obsscaling" / file
    if checkout.is_file():
        return checkout
    raise DataError(
        file, "bundled table not found in the package (_data/obsscaling) or the checkout (data/)"
    )


def _apply_exclusions(body: pd.DataFrame, header: list[str], table: _Table) -> pd.DataFrame:
    # A stale declaration (naming something the table lacks) would hide a change in the
    # released data, so it is an error rather than a no-op.
    for column in table.exclude_columns:
        if column not in header:
            raise DataError(table.file, "declared exclusion names no column", column=column)
    models = body[MODEL].str.strip()
    for model in table.exclude_models:
        if not (models == model).any():
            raise DataError(table.file, f"declared exclusion names no model {model!r}")
    keep_rows = ~models.isin(list(table.exclude_models)).to_numpy()
    keep_columns = [c not in table.exclude_columns for c in header]
    return body.loc[keep_rows, keep_columns].reset_index(drop=True)
