"""Import lm-evaluation-harness results (v0.4 JSON) into the bundled wide table format.

A results file of the harness (``lm_eval ... --output_path``) holds one model's scores: a
``results`` object with one entry per task (and per group) whose keys are ``metric,filter``
(``acc,none``, ``acc_norm,none``, ``exact_match,strict-match``, ...), the item counts under
``n-samples`` (``{"original": N, "effective": N}``), and the model under ``model_name`` or
``config.model_args`` (``"pretrained=org/name,dtype=..."`` or an object). This module turns such
files into rows of the wide table: :func:`read_results` parses one file, :func:`merge` joins the
files of one model, :func:`to_table` builds the table and :func:`write_table` writes it with its
item-count file (``TABLE.n_items.csv``, see :func:`bayes_scaling.data.n_items_path`), through
which the harness's item counts reach the likelihood.

:data:`MAPPING` is the one table from harness tasks to registry benchmarks (also in
``docs/data.md``):

==============  ===============================================  ==================================
benchmark       harness task(s)                                  metric
==============  ===============================================  ==================================
MMLU            group ``mmlu``, else its 57 ``mmlu_*`` subjects  ``acc,none``
ARC-C           ``arc_challenge``                                ``acc_norm,none``
HellaSwag       ``hellaswag``                                    ``acc_norm,none``
Winograd        ``winogrande``                                   ``acc,none``
TruthfulQA      ``truthfulqa_mc2``                               ``acc,none`` (continuous: no count)
GSM8K           ``gsm8k``                                        ``exact_match,strict-match``
XWinograd       ``xwinograd_{en,fr,jp,pt,ru,zh}``                ``acc,none``
IFEval          ``leaderboard_ifeval``                           mean of ``prompt_level_strict_acc``
                                                                 and ``inst_level_strict_acc``
BBH             group ``leaderboard_bbh``, else its 24 tasks     ``acc_norm,none``
MATH Lvl 5      group ``leaderboard_math_hard``, else its 7      ``exact_match,none``
GPQA            group ``leaderboard_gpqa``, else its 3 tasks     ``acc_norm,none``
MUSR            group ``leaderboard_musr``, else its 3 tasks     ``acc_norm,none``
MMLU-PRO        ``leaderboard_mmlu_pro``                         ``acc,none``
==============  ===============================================  ==================================

A benchmark made of several tasks takes its group's own score when the file has one, else
the mean of all its tasks weighted by their item counts (every task must be there); its item
count is the sum of its tasks'. Tasks the mapping does not know are kept under their own name
(metric ``acc``, else ``acc_norm``, else ``exact_match``) with a :class:`HarnessWarning`;
groups are not tasks and are skipped. Anything wrong raises a one-line
:class:`~bayes_scaling.errors.DataError` naming the file and the JSON key. Files are parsed
with :mod:`json` only.

Examples
--------
>>> doc = {"model_name": "org/m", "results": {"gsm8k": {"exact_match,strict-match": 0.25}},
...        "n-samples": {"gsm8k": {"original": 1319, "effective": 1319}}}
>>> m = parse_results(doc, "a.json")
>>> m.model, m.scores["GSM8K"].value, m.scores["GSM8K"].n_items
('org/m', 0.25, 1319)
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import numbers
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bayes_scaling.data import FAMILY, FLOPS, MODEL, PARAMS, TOKENS, n_items_path, read_bytes
from bayes_scaling.errors import DataError
from bayes_scaling.io import atomic_path
from bayes_scaling.registry import Registry

__all__ = [
    "MAPPING",
    "UNKNOWN_TASK_METRICS",
    "HarnessTable",
    "HarnessWarning",
    "ModelScores",
    "Score",
    "TaskMap",
    "import_files",
    "merge",
    "parse_results",
    "read_results",
    "to_table",
    "write_table",
]

# Two scores closer than this are the same score (float noise from averaging).
_SAME_SCORE = 1e-9
_TABLE_SOURCE = "harness import"


class HarnessWarning(UserWarning):
    """Something in a results file that the import handled but a user should know about:
    a task outside the mapping, or a task scored on a subsample (``--limit``)."""


@dataclasses.dataclass(frozen=True)
class TaskMap:
    """How one registry benchmark is read from harness results.

    Parameters
    ----------
    benchmark : str
        Registry name of the benchmark (the table's column).
    metrics : tuple of str
        ``metric,filter`` keys; the score is their mean (one key except for IFEval).
    task : str, optional
        The harness task, or the group whose own score is used when the file has it.
    subtasks : tuple of str
        Tasks whose item-weighted mean is the score when ``task`` is absent or has no score.
    label : str
        How the tasks are named in messages and docs, e.g. ``'xwinograd_*'``.
    members : tuple of str
        Sub-groups of the benchmark that are neither tasks nor unknown (skipped silently).

    Examples
    --------
    >>> TaskMap("GSM8K", ("exact_match,strict-match",), task="gsm8k").names()
    ('gsm8k',)
    """

    benchmark: str
    metrics: tuple[str, ...]
    task: str | None = None
    subtasks: tuple[str, ...] = ()
    label: str = ""
    members: tuple[str, ...] = ()

    def names(self) -> tuple[str, ...]:
        """Every ``results`` key this benchmark accounts for."""
        head = () if self.task is None else (self.task,)
        return (*head, *self.subtasks, *self.members)


_MMLU_SUBJECTS = (
    "abstract_algebra", "anatomy", "astronomy", "business_ethics", "clinical_knowledge",
    "college_biology", "college_chemistry", "college_computer_science", "college_mathematics",
    "college_medicine", "college_physics", "computer_security", "conceptual_physics",
    "econometrics", "electrical_engineering", "elementary_mathematics", "formal_logic",
    "global_facts", "high_school_biology", "high_school_chemistry",
    "high_school_computer_science", "high_school_european_history", "high_school_geography",
    "high_school_government_and_politics", "high_school_macroeconomics",
    "high_school_mathematics", "high_school_microeconomics", "high_school_physics",
    "high_school_psychology", "high_school_statistics", "high_school_us_history",
    "high_school_world_history", "human_aging", "human_sexuality", "international_law",
    "jurisprudence", "logical_fallacies", "machine_learning", "management", "marketing",
    "medical_genetics", "miscellaneous", "moral_disputes", "moral_scenarios", "nutrition",
    "philosophy", "prehistory", "professional_accounting", "professional_law",
    "professional_medicine", "professional_psychology", "public_relations",
    "security_studies", "sociology", "us_foreign_policy", "virology", "world_religions",
)  # fmt: skip
_BBH_TASKS = (
    "boolean_expressions", "causal_judgement", "date_understanding", "disambiguation_qa",
    "formal_fallacies", "geometric_shapes", "hyperbaton", "logical_deduction_five_objects",
    "logical_deduction_seven_objects", "logical_deduction_three_objects",
    "movie_recommendation", "navigate", "object_counting", "penguins_in_a_table",
    "reasoning_about_colored_objects", "ruin_names", "salient_translation_error_detection",
    "snarks", "sports_understanding", "temporal_sequences",
    "tracking_shuffled_objects_five_objects", "tracking_shuffled_objects_seven_objects",
    "tracking_shuffled_objects_three_objects", "web_of_lies",
)  # fmt: skip
_MATH_TASKS = (
    "algebra", "counting_and_prob", "geometry", "intermediate_algebra", "num_theory",
    "prealgebra", "precalculus",
)  # fmt: skip

#: The mapping from harness tasks and metrics to registry benchmarks, in table column order.
MAPPING: tuple[TaskMap, ...] = (
    TaskMap(
        "MMLU",
        ("acc,none",),
        task="mmlu",
        subtasks=tuple(f"mmlu_{s}" for s in _MMLU_SUBJECTS),
        label="mmlu_*",
        members=("mmlu_humanities", "mmlu_other", "mmlu_social_sciences", "mmlu_stem"),
    ),
    TaskMap("ARC-C", ("acc_norm,none",), task="arc_challenge"),
    TaskMap("HellaSwag", ("acc_norm,none",), task="hellaswag"),
    TaskMap("Winograd", ("acc,none",), task="winogrande"),
    TaskMap("TruthfulQA", ("acc,none",), task="truthfulqa_mc2"),
    TaskMap("GSM8K", ("exact_match,strict-match",), task="gsm8k"),
    TaskMap(
        "XWinograd",
        ("acc,none",),
        subtasks=tuple(f"xwinograd_{lang}" for lang in ("en", "fr", "jp", "pt", "ru", "zh")),
        label="xwinograd_*",
        members=("xwinograd",),
    ),
    TaskMap(
        "IFEval",
        ("prompt_level_strict_acc,none", "inst_level_strict_acc,none"),
        task="leaderboard_ifeval",
    ),
    TaskMap(
        "BBH",
        ("acc_norm,none",),
        task="leaderboard_bbh",
        subtasks=tuple(f"leaderboard_bbh_{t}" for t in _BBH_TASKS),
        label="leaderboard_bbh_*",
    ),
    TaskMap(
        "MATH Lvl 5",
        ("exact_match,none",),
        task="leaderboard_math_hard",
        subtasks=tuple(f"leaderboard_math_{t}_hard" for t in _MATH_TASKS),
        label="leaderboard_math_*_hard",
    ),
    TaskMap(
        "GPQA",
        ("acc_norm,none",),
        task="leaderboard_gpqa",
        subtasks=tuple(f"leaderboard_gpqa_{t}" for t in ("diamond", "extended", "main")),
        label="leaderboard_gpqa_*",
    ),
    TaskMap(
        "MUSR",
        ("acc_norm,none",),
        task="leaderboard_musr",
        subtasks=tuple(
            f"leaderboard_musr_{t}"
            for t in ("murder_mysteries", "object_placements", "team_allocation")
        ),
        label="leaderboard_musr_*",
    ),
    TaskMap("MMLU-PRO", ("acc,none",), task="leaderboard_mmlu_pro"),
)

#: Metrics tried, in order, for a task outside :data:`MAPPING`.
UNKNOWN_TASK_METRICS: tuple[str, ...] = (
    "acc,none",
    "acc_norm,none",
    "exact_match,strict-match",
    "exact_match,none",
    "exact_match,flexible-extract",
)
# Umbrella groups of mapped tasks that hold no task of their own.
_UMBRELLA_GROUPS = frozenset({"leaderboard"})


@dataclasses.dataclass(frozen=True)
class Score:
    """One benchmark score of one model and where it was read.

    Parameters
    ----------
    value : float
        The score on [0, 1].
    n_items : int or None
        Items it was computed on (``n-samples``' ``effective``), None when the file lacks them.
    source : str
        The file.
    key : str
        The JSON key, e.g. ``'results.mmlu'``.
    """

    value: float
    n_items: int | None
    source: str
    key: str


@dataclasses.dataclass(frozen=True)
class ModelScores:
    """The scores of one model: benchmark (or unmapped task) name to :class:`Score`.

    Parameters
    ----------
    model : str
        Model name.
    scores : mapping of str to Score
        In :data:`MAPPING` order, then unmapped tasks in file order.
    sources : tuple of str
        The files read.
    """

    model: str
    scores: Mapping[str, Score]
    sources: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class HarnessTable:
    """A wide table ready to write, and the item counts for its item-count file.

    Parameters
    ----------
    frame : pandas.DataFrame
        ``Model``, ``Model Family``, ``Model Size (B)``, ``Pretraining Data Size (T)``,
        ``FLOPs (1E21)``, then one column per benchmark (NaN = not scored).
    n_items : dict of str to int
        Per-benchmark item counts from the files (continuous benchmarks excluded).
    """

    frame: pd.DataFrame
    n_items: dict[str, int]


# --- one file ---------------------------------------------------------------------------------


def read_results(path: str | os.PathLike[str]) -> ModelScores:
    """Read one lm-evaluation-harness results JSON file.

    Parameters
    ----------
    path : path-like
        The ``results_*.json`` file.

    Returns
    -------
    ModelScores
        The model's scores, as :func:`parse_results` returns them.

    Raises
    ------
    DataError
        The file is missing, unreadable, not JSON or not a valid results file.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "r.json"
    >>> _ = p.write_text('{"model_name": "m", "results": {"winogrande": {"acc,none": 0.5}}}')
    >>> read_results(p).scores["Winograd"].value
    0.5
    """
    source = os.fspath(path)
    raw = read_bytes(Path(path), source, "results file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(
            source, f"is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        ) from None
    if not text.strip():
        raise DataError(source, "file is empty")
    try:
        doc = json.loads(text, object_pairs_hook=_refuse_duplicate_keys)
    except _DuplicateKeyError as exc:
        raise DataError(source, f"duplicate key {exc.key!r} in the JSON") from None
    except json.JSONDecodeError as exc:
        raise DataError(
            source, f"is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise DataError(source, "is not valid JSON (nested too deeply)") from None
    return parse_results(doc, source)


def parse_results(doc: Any, source: str = "<json>") -> ModelScores:
    """Scores and item counts of the model in one parsed results document.

    Parameters
    ----------
    doc : object
        The parsed JSON (a mapping with ``results``).
    source : str
        Name for messages, normally the file.

    Returns
    -------
    ModelScores
        Mapped benchmarks (see :data:`MAPPING`) and unmapped tasks; a
        :class:`HarnessWarning` for each unmapped task and each subsampled one.

    Raises
    ------
    DataError
        ``results`` absent or not an object, a mapped metric absent, a score that is not a
        number in [0, 1], an incomplete set of tasks, malformed ``n-samples``, no model name.

    Examples
    --------
    >>> doc = {"config": {"model_args": "pretrained=org/m,dtype=float16"},
    ...        "results": {"mmlu": {"acc,none": 0.45, "alias": "mmlu"},
    ...                    "arc_challenge": {"acc,none": 0.41, "acc_norm,none": 0.44}},
    ...        "n-samples": {"arc_challenge": {"original": 1172, "effective": 1172}}}
    >>> m = parse_results(doc, "a.json")
    >>> m.model, {b: (s.value, s.n_items) for b, s in m.scores.items()}
    ('org/m', {'MMLU': (0.45, None), 'ARC-C': (0.44, 1172)})
    """
    if not isinstance(doc, Mapping):
        raise DataError(
            source,
            f"the top level is a JSON {_json_type(doc)}, not an object: not an "
            "lm-evaluation-harness results file",
        )
    if "results" not in doc:
        raise DataError(
            source, "absent; not an lm-evaluation-harness results file (v0.4 layout)", key="results"
        )
    results = doc["results"]
    if not isinstance(results, Mapping):
        raise DataError(source, f"is a JSON {_json_type(results)}, not an object", key="results")
    for task, entry in results.items():
        if not isinstance(entry, Mapping):
            raise DataError(
                source, f"is a JSON {_json_type(entry)}, not an object", key=f"results.{task}"
            )
    model = _model_name(doc, source)
    counts = _Counts(doc.get("n-samples", {}), source)

    scores: dict[str, Score] = {}
    accounted: set[str] = set(_UMBRELLA_GROUPS)
    for mapping in MAPPING:
        accounted.update(mapping.names())
        score = _mapped_score(mapping, results, counts, source)
        if score is not None:
            scores[mapping.benchmark] = score
    groups = _groups(doc, results, counts)
    for task in results:
        if task in accounted or task in groups:
            continue
        score = _unknown_score(task, results[task], counts, source)
        if score is not None:
            scores.setdefault(task, score)
    return ModelScores(model, scores, (source,))


# --- several files ------------------------------------------------------------------------------


def merge(parsed: Iterable[ModelScores]) -> list[ModelScores]:
    """Join the files of each model; models in order of first appearance.

    Two files may give the same benchmark of a model only if they agree (scores within 1e-9,
    item counts equal where both have one).

    Raises
    ------
    DataError
        Two files disagree; the message names both files and keys.

    Examples
    --------
    >>> a = parse_results({"model_name": "m", "results": {"gsm8k":
    ...     {"exact_match,strict-match": 0.2}}}, "a.json")
    >>> b = parse_results({"model_name": "m", "results": {"winogrande": {"acc,none": 0.6}}},
    ...     "b.json")
    >>> [(m.model, list(m.scores)) for m in merge([a, b])]
    [('m', ['Winograd', 'GSM8K'])]
    """
    scores: dict[str, dict[str, Score]] = {}
    sources: dict[str, list[str]] = {}
    for item in parsed:
        into = scores.setdefault(item.model, {})
        read = sources.setdefault(item.model, [])
        read.extend(s for s in item.sources if s not in read)
        for name, new in item.scores.items():
            old = into.get(name)
            if old is None:
                into[name] = new
                continue
            if abs(old.value - new.value) > _SAME_SCORE:
                shown_new, shown_old = _show_pair(new.value, old.value)
                raise DataError(
                    new.source,
                    f"{name} score {shown_new} of model {item.model!r} differs from "
                    f"{shown_old} in {old.source} (key {old.key!r})",
                    key=new.key,
                )
            if old.n_items is not None and new.n_items is not None and old.n_items != new.n_items:
                raise DataError(
                    new.source,
                    f"{name} of model {item.model!r} is scored on {new.n_items} items, but "
                    f"on {old.n_items} in {old.source} (key {old.key!r})",
                    key=new.key,
                )
            if old.n_items is None and new.n_items is not None:
                into[name] = new
    order = _column_order(scores.values())
    return [
        ModelScores(
            model,
            {name: by_name[name] for name in order if name in by_name},
            tuple(sources[model]),
        )
        for model, by_name in scores.items()
    ]


def to_table(
    models: Sequence[ModelScores],
    *,
    family: str | None = None,
    params_b: float | None = None,
    tokens_t: float | None = None,
    registry: Registry | None = None,
) -> HarnessTable:
    """Build the wide table (and its item counts) from merged model scores.

    Parameters
    ----------
    models : sequence of ModelScores
        One entry per model (see :func:`merge`).
    family : str, optional
        ``Model Family`` of every model (empty: each model is its own family).
    params_b, tokens_t : float, optional
        Parameters in billions and pretraining tokens in trillions; only for a single model.
    registry : Registry, optional
        Decides which benchmarks are continuous (they get no item count);
        :meth:`Registry.default` if omitted.

    Returns
    -------
    HarnessTable
        The frame and the item counts, one per benchmark.

    Raises
    ------
    DataError
        No model or no score at all, ``params_b``/``tokens_t`` with several models or not
        positive, or two models scored on different numbers of items of one benchmark.

    Examples
    --------
    >>> m = parse_results({"model_name": "m", "results": {"gsm8k":
    ...     {"exact_match,strict-match": 0.2}}, "n-samples": {"gsm8k": {"effective": 1319}}})
    >>> t = to_table([m], family="F", params_b=7.0)
    >>> t.frame.columns.tolist()[-1], t.n_items
    ('GSM8K', {'GSM8K': 1319})
    """
    if not models:
        raise DataError(_TABLE_SOURCE, "no model to import")
    for option, value in (("params_b (--params-b)", params_b), ("tokens_t (--tokens-t)", tokens_t)):
        if value is None:
            continue
        if isinstance(value, bool) or not (math.isfinite(value) and value > 0):
            raise DataError(_TABLE_SOURCE, f"{option} {value!r} must be a positive number")
        if len(models) != 1:
            names = ", ".join(repr(m.model) for m in models[:3])
            more = ", ..." if len(models) > 3 else ""
            raise DataError(
                _TABLE_SOURCE,
                f"{option} describes one model, but the files hold {len(models)}: "
                f"{names}{more}; import each model separately or edit the table",
            )
    benchmarks = _column_order(m.scores for m in models)
    if not benchmarks:
        raise DataError(
            models[0].sources[0] if models[0].sources else _TABLE_SOURCE,
            "no task with a usable score in the file(s)",
        )
    registry = Registry.default() if registry is None else registry
    n_items: dict[str, int] = {}
    first: dict[str, Score] = {}
    for m in models:
        for name, score in m.scores.items():
            if score.n_items is None or (name in registry and registry[name].continuous):
                continue
            if name in n_items and n_items[name] != score.n_items:
                old = first[name]
                raise DataError(
                    score.source,
                    f"{name} is scored on {score.n_items} items here but on {n_items[name]} "
                    f"in {old.source} (key {old.key!r}); a table has one item count per "
                    "benchmark",
                    key=score.key,
                )
            n_items.setdefault(name, score.n_items)
            first.setdefault(name, score)
    frame = pd.DataFrame(
        {
            MODEL: [m.model for m in models],
            FAMILY: [family or "" for _ in models],
            PARAMS: [np.nan if params_b is None else float(params_b) for _ in models],
            TOKENS: [np.nan if tokens_t is None else float(tokens_t) for _ in models],
            FLOPS: [np.nan for _ in models],
        }
    )
    columns = {
        name: [m.scores[name].value if name in m.scores else np.nan for m in models]
        for name in benchmarks
    }
    frame = pd.concat([frame, pd.DataFrame(columns, dtype=float)], axis=1)
    return HarnessTable(frame, {name: n_items[name] for name in benchmarks if name in n_items})


def write_table(table: HarnessTable, out: str | os.PathLike[str]) -> Path:
    """Write the wide CSV and its item-count file atomically; return the item-count file.

    The item-count file (``TABLE.n_items.csv``, columns ``benchmark, n_items``) is always
    written, even with no rows, so that a stale one from an earlier import never applies.

    Raises
    ------
    DataError
        ``out`` is a directory, a Parquet name, or cannot be written. Nothing is written then.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> m = parse_results({"model_name": "m", "results": {"gsm8k":
    ...     {"exact_match,strict-match": 0.2}}, "n-samples": {"gsm8k": {"effective": 1319}}})
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> write_table(to_table([m]), out).read_text()
    'benchmark,n_items\\nGSM8K,1319\\n'
    >>> out.read_text().splitlines()[1]
    'm,,,,,0.2'
    """
    target = Path(out)
    source = os.fspath(out)
    if target.suffix.lower() in {".parquet", ".pq"}:
        raise DataError(source, "the import writes CSV: name the output TABLE.csv")
    if target.is_dir():
        raise DataError(source, "is a directory; --out names the table file to write")
    sidecar = n_items_path(target)
    rows = [[_cell(v) for v in record] for record in table.frame.itertuples(index=False)]
    table_text = _csv([list(map(str, table.frame.columns)), *rows])
    counts_text = _csv([["benchmark", "n_items"], *([b, str(n)] for b, n in table.n_items.items())])
    try:
        with atomic_path(target) as tmp_table, atomic_path(sidecar) as tmp_counts:
            tmp_table.write_text(table_text, encoding="utf-8")
            tmp_counts.write_text(counts_text, encoding="utf-8")
    except OSError as exc:
        raise DataError(source, f"cannot write the table ({exc.strerror or exc})") from None
    return sidecar


def import_files(
    paths: Sequence[str | os.PathLike[str]],
    *,
    family: str | None = None,
    params_b: float | None = None,
    tokens_t: float | None = None,
    registry: Registry | None = None,
) -> HarnessTable:
    """Read, merge and tabulate results files: :func:`read_results`, :func:`merge`,
    :func:`to_table` in one call.

    Examples
    --------
    >>> import_files([])  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    bayes_scaling.errors.DataError: harness import: no model to import
    """
    parsed = [read_results(p) for p in paths]
    return to_table(
        merge(parsed), family=family, params_b=params_b, tokens_t=tokens_t, registry=registry
    )


# --- helpers --------------------------------------------------------------------------------


class _DuplicateKeyError(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKeyError(key)
        out[key] = value
    return out


def _json_type(value: Any) -> str:
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


def _model_name(doc: Mapping[str, Any], source: str) -> str:
    name = doc.get("model_name")
    if isinstance(name, str) and name.strip():
        return name.strip()
    config = doc.get("config")
    args = config.get("model_args") if isinstance(config, Mapping) else None
    fields: Mapping[str, Any] = {}
    if isinstance(args, Mapping):
        fields = args
    elif isinstance(args, str):
        fields = dict(
            part.split("=", 1) for part in args.split(",") if "=" in part
        )  # "pretrained=org/name,dtype=bfloat16"
    for field in ("pretrained", "model"):
        value = fields.get(field)
        if isinstance(value, str) and value.strip():
            return value.strip()
    raise DataError(
        source,
        "no model name: neither 'model_name' nor 'pretrained=...' in 'config.model_args'",
        key="config.model_args",
    )


class _Counts:
    """Item counts from ``n-samples``, validated when asked for."""

    def __init__(self, raw: Any, source: str) -> None:
        if not isinstance(raw, Mapping):
            raise DataError(source, f"is a JSON {_json_type(raw)}, not an object", key="n-samples")
        self.raw = raw
        self.source = source

    def __contains__(self, task: str) -> bool:
        return task in self.raw

    def get(self, task: str) -> int | None:
        """``effective`` item count of ``task`` (None when absent); warns on a subsample."""
        if task not in self.raw:
            return None
        entry = self.raw[task]
        key = f"n-samples.{task}"
        original: Any = None
        effective: Any = entry
        if isinstance(entry, Mapping):
            original = entry.get("original")
            effective = entry.get("effective")
            if effective is None:
                effective = original
            if effective is None:
                raise DataError(self.source, "has neither 'effective' nor 'original'", key=key)
        for value in (effective,) if original is None else (effective, original):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise DataError(
                    self.source, f"item count {value!r} is not a positive integer", key=key
                )
        if original is not None and effective < original:
            warnings.warn(
                HarnessWarning(
                    f"{self.source}, key {key!r}: {effective} of {original} items scored "
                    "(--limit); the score and its item count cover those only"
                ),
                stacklevel=4,
            )
        return effective


def _metric(entry: Mapping[str, Any], metric: str, source: str, task: str) -> float:
    key = f"results.{task}"
    if metric not in entry:
        present = [k for k in entry if "," in k and "_stderr" not in k]
        has = f" (has: {', '.join(map(repr, present[:4]))}{', ...' if len(present) > 4 else ''})"
        raise DataError(source, f"metric {metric!r} absent{has if present else ''}", key=key)
    value = entry[metric]
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise DataError(source, f"metric {metric!r} is {value!r}, not a number", key=key)
    number = float(value)
    if not (math.isfinite(number) and 0.0 <= number <= 1.0):
        raise DataError(
            source, f"score {number:.6g} of metric {metric!r} is outside [0, 1]", key=key
        )
    return number


def _task_score(entry: Mapping[str, Any], metrics: Sequence[str], source: str, task: str) -> float:
    return sum(_metric(entry, m, source, task) for m in metrics) / len(metrics)


def _mapped_score(
    mapping: TaskMap, results: Mapping[str, Any], counts: _Counts, source: str
) -> Score | None:
    present = [t for t in mapping.subtasks if t in results]
    if mapping.task is not None and mapping.task in results:
        entry = results[mapping.task]
        has_score = all(m in entry for m in mapping.metrics)
        # A group without a score of its own (the harness reports none for some groups)
        # falls through to its tasks; a task, or a group without tasks, must have one.
        if has_score or not present:
            value = _task_score(entry, mapping.metrics, source, mapping.task)
            if not mapping.subtasks:
                n_items = counts.get(mapping.task)
            elif len(present) == len(mapping.subtasks) and all(t in counts for t in present):
                n_items = sum(counts.get(t) or 0 for t in present)
            else:
                n_items = None
            return Score(value, n_items, source, f"results.{mapping.task}")
    if not present:
        return None
    missing = [t for t in mapping.subtasks if t not in results]
    if missing:
        raise DataError(
            source,
            f"{mapping.benchmark} is the item-weighted mean of all {len(mapping.subtasks)} "
            f"tasks {mapping.label}, but {len(missing)} are absent (first: {missing[0]!r})",
            key="results",
        )
    total, n_total = 0.0, 0
    for task in mapping.subtasks:
        value = _task_score(results[task], mapping.metrics, source, task)
        n_items = counts.get(task)
        if n_items is None:
            raise DataError(
                source,
                f"absent: {mapping.benchmark} weights its tasks {mapping.label} by item count",
                key=f"n-samples.{task}",
            )
        total += value * n_items
        n_total += n_items
    return Score(total / n_total, n_total, source, f"results.{mapping.label}")


def _groups(doc: Mapping[str, Any], results: Mapping[str, Any], counts: _Counts) -> set[str]:
    """``results`` keys that are groups of other tasks, not tasks."""
    declared = doc.get("group_subtasks")
    out = set()
    if isinstance(declared, Mapping):
        out = {g for g, tasks in declared.items() if isinstance(tasks, list) and tasks}
    for name in results:
        # Without group_subtasks: an entry with no item count whose name prefixes others.
        if name not in counts and any(o.startswith(f"{name}_") for o in results if o != name):
            out.add(name)
    return out


def _unknown_score(
    task: str, entry: Mapping[str, Any], counts: _Counts, source: str
) -> Score | None:
    key = f"results.{task}"
    metric = next((m for m in UNKNOWN_TASK_METRICS if m in entry), None)
    if metric is None:
        warnings.warn(
            HarnessWarning(
                f"{source}, key {key!r}: task not in the mapping and without any of the "
                f"metrics {', '.join(UNKNOWN_TASK_METRICS)}: skipped"
            ),
            stacklevel=3,
        )
        return None
    value = _metric(entry, metric, source, task)
    n_items = counts.get(task)
    warnings.warn(
        HarnessWarning(
            f"{source}, key {key!r}: task not in the mapping: kept as benchmark {task!r} "
            f"(metric {metric!r})"
        ),
        stacklevel=3,
    )
    return Score(value, n_items, source, key)


def _column_order(score_maps: Iterable[Mapping[str, Score]]) -> list[str]:
    """Mapped benchmarks in :data:`MAPPING` order, then the rest in order of appearance."""
    seen: dict[str, None] = {}
    for scores in score_maps:
        seen.update(dict.fromkeys(scores))
    mapped = [m.benchmark for m in MAPPING if m.benchmark in seen]
    return mapped + [name for name in seen if name not in mapped]


def _show_pair(a: float, b: float) -> tuple[str, str]:
    short = (f"{a:.6g}", f"{b:.6g}")
    return short if short[0] != short[1] else (repr(a), repr(b))


def _cell(value: Any) -> str:
    if isinstance(value, str):
        return value
    number = float(value)
    return "" if math.isnan(number) else repr(number)


def _csv(rows: Iterable[Sequence[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()
