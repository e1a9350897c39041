"""Importing lm-evaluation-harness results: mapping, exact scores, merging, errors, the CLI.

The fixtures in ``tests/fixtures/harness/`` are small files in the harness's v0.4 layout whose
scores are exact fractions k/n of the real item counts, so the expected numbers below are
those fractions.
"""

from __future__ import annotations

import dataclasses
import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bayes_scaling import harness
from bayes_scaling.cli import run
from bayes_scaling.data import n_items_path, read_table
from bayes_scaling.errors import DataError
from bayes_scaling.harness import (
    MAPPING,
    HarnessWarning,
    import_files,
    merge,
    parse_results,
    read_results,
    to_table,
    write_table,
)
from bayes_scaling.registry import Registry, UnknownBenchmarkWarning

FIXTURES = Path(__file__).parent / "fixtures" / "harness"
P410M = FIXTURES / "v1_pythia-410m.json"
P1B = FIXTURES / "v1_pythia-1b.json"
P14B = FIXTURES / "v1_pythia-1.4b.json"
P14B_GSM8K = FIXTURES / "v1_pythia-1.4b_gsm8k.json"
P14B_CONFLICT = FIXTURES / "conflict_pythia-1.4b_hellaswag.json"
QWEN = FIXTURES / "v2_qwen2.5-0.5b.json"
V1_FILES = [P410M, P1B, P14B, P14B_GSM8K]

EXACT = 1e-15  # the fixtures' scores are k/n; weighted means only add rounding


def read_quietly(path: Path) -> harness.ModelScores:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HarnessWarning)
        return read_results(path)


def values(m: harness.ModelScores) -> dict[str, tuple[float, int | None]]:
    return {name: (s.value, s.n_items) for name, s in m.scores.items()}


def doc(results: dict[str, Any], n_samples: dict[str, Any] | None = None, **extra: Any) -> dict:
    out: dict[str, Any] = {"model_name": "org/m", "results": results}
    if n_samples is not None:
        out["n-samples"] = n_samples
    out.update(extra)
    return out


def ns(n: int, effective: int | None = None) -> dict[str, int]:
    return {"original": n, "effective": n if effective is None else effective}


# --- the mapping -------------------------------------------------------------------------


def test_mapping_names_registry_benchmarks_and_distinct_tasks() -> None:
    registry = Registry.default()
    assert [m.benchmark for m in MAPPING] == [
        "MMLU", "ARC-C", "HellaSwag", "Winograd", "TruthfulQA", "GSM8K", "XWinograd",
        "IFEval", "BBH", "MATH Lvl 5", "GPQA", "MUSR", "MMLU-PRO",
    ]  # fmt: skip
    for m in MAPPING:
        assert registry.canonical(m.benchmark) == m.benchmark
    names = [n for m in MAPPING for n in m.names()]
    assert len(names) == len(set(names))
    sizes = {m.benchmark: len(m.subtasks) for m in MAPPING}
    assert sizes["MMLU"] == 57 and sizes["BBH"] == 24 and sizes["MATH Lvl 5"] == 7
    assert sizes["XWinograd"] == 6 and sizes["GPQA"] == 3 and sizes["MUSR"] == 3


def test_fixtures_cover_every_mapped_task() -> None:
    seen: set[str] = set()
    for path in FIXTURES.glob("v*.json"):
        seen |= set(json.loads(path.read_text())["results"])
    for m in MAPPING:
        tasks = {m.task, *m.subtasks} - {None}
        assert tasks <= seen, (m.benchmark, sorted(tasks - seen)[:3])


# --- one file: exact numbers -----------------------------------------------------------------


def test_v1_file_with_mmlu_group() -> None:
    with pytest.warns(HarnessWarning) as caught:
        m = read_results(P410M)
    assert m.model == "EleutherAI/pythia-410m"
    assert m.sources == (str(P410M),)
    got = values(m)
    assert list(got) == [
        "MMLU", "ARC-C", "HellaSwag", "Winograd", "TruthfulQA", "GSM8K", "XWinograd", "arc_easy",
    ]  # fmt: skip
    expected = {
        "MMLU": (3647 / 14042, None),  # the group's score; no subject entries, so no count
        "ARC-C": (285 / 1172, 1172),  # acc_norm
        "HellaSwag": (4077 / 10042, 10042),  # acc_norm
        "Winograd": (677 / 1267, 1267),  # acc
        "TruthfulQA": (0.4105823467282436, 817),
        "GSM8K": (13 / 1319, 1319),  # strict-match, not flexible-extract (18)
        "XWinograd": ((1563 + 44 + 505 + 147 + 167 + 303) / 4449, 4449),
        "arc_easy": (1229 / 2376, 2376),  # unknown task: acc
    }
    for name, (value, n) in expected.items():
        assert got[name][0] == pytest.approx(value, abs=EXACT), name
        assert got[name][1] == n, name
    assert m.scores["XWinograd"].key == "results.xwinograd_*"
    assert m.scores["MMLU"].key == "results.mmlu"
    messages = [str(w.message) for w in caught]
    assert messages == [
        f"{P410M}, key 'results.arc_easy': task not in the mapping: kept as benchmark "
        "'arc_easy' (metric 'acc,none')",
        f"{P410M}, key 'results.wikitext': task not in the mapping and without any of the "
        "metrics acc,none, acc_norm,none, exact_match,strict-match, exact_match,none, "
        "exact_match,flexible-extract: skipped",
    ]


def test_mmlu_from_its_57_subjects_weighted_by_items() -> None:
    m = read_quietly(P1B)
    assert m.model == "EleutherAI/pythia-1b"  # from config.model_args as an object
    value, n = values(m)["MMLU"]
    assert n == 14042
    assert value == pytest.approx(4086 / 14042, abs=EXACT)
    # Not the unweighted mean over subjects, which differs.
    subjects = json.loads(P1B.read_text())["results"]
    plain = np.mean([v["acc,none"] for k, v in subjects.items() if k.startswith("mmlu_")])
    assert abs(plain - value) > 1e-4
    assert values(m)["XWinograd"][0] == pytest.approx(2817 / 4449, abs=EXACT)


def test_model_name_falls_back_to_model_args() -> None:
    assert json.loads(P14B.read_text())["model_name"] == ""
    assert read_quietly(P14B).model == "EleutherAI/pythia-1.4b"
    for args in ("pretrained=org/x,dtype=float16", {"pretrained": "org/x", "dtype": "float16"}):
        d = {"config": {"model_args": args}, "results": {"winogrande": {"acc,none": 0.5}}}
        assert parse_results(d).model == "org/x"


def test_leaderboard_v2_file() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # groups and the umbrella group warn about nothing
        m = read_results(QWEN)
    assert m.model == "Qwen/Qwen2.5-0.5B"
    got = values(m)
    expected = {
        "IFEval": ((83 / 541 + 225 / 834) / 2, 541),  # strict prompt- and instruction-level
        "BBH": (2261 / 5761, 5761),  # the group's score; count from its 24 tasks
        "MATH Lvl 5": (34 / 1324, 1324),  # the group has no score: its 7 tasks, weighted
        "GPQA": (314 / 1192, 1192),
        "MUSR": ((130 + 64 + 72) / 756, 756),  # no group score either
        "MMLU-PRO": (2204 / 12032, 12032),
    }
    assert list(got) == list(expected)
    for name, (value, n) in expected.items():
        assert got[name][0] == pytest.approx(value, abs=EXACT), name
        assert got[name][1] == n, name
    assert m.scores["MATH Lvl 5"].key == "results.leaderboard_math_*_hard"


def test_group_score_wins_over_its_tasks() -> None:
    tasks = {
        f"leaderboard_gpqa_{t}": {"acc_norm,none": 0.5} for t in ("diamond", "extended", "main")
    }
    counts = {"leaderboard_gpqa_diamond": ns(198), "leaderboard_gpqa_extended": ns(546),
              "leaderboard_gpqa_main": ns(448)}  # fmt: skip
    d = doc({"leaderboard_gpqa": {"acc_norm,none": 0.3}, **tasks}, counts)
    assert values(parse_results(d))["GPQA"] == (0.3, 1192)
    # Without its tasks' counts the group's score still stands, with no count.
    d = doc({"leaderboard_gpqa": {"acc_norm,none": 0.3}, **tasks})
    assert values(parse_results(d))["GPQA"] == (0.3, None)


def test_single_task_without_n_samples_has_no_count() -> None:
    assert values(parse_results(doc({"gsm8k": {"exact_match,strict-match": 0.5}}))) == {
        "GSM8K": (0.5, None)
    }


def test_limit_subsample_warns_and_uses_effective_count() -> None:
    d = doc({"gsm8k": {"exact_match,strict-match": 0.25}}, {"gsm8k": ns(1319, 100)})
    with pytest.warns(HarnessWarning, match=r"key 'n-samples.gsm8k': 100 of 1319 items scored"):
        m = parse_results(d, "a.json")
    assert values(m) == {"GSM8K": (0.25, 100)}


def test_unknown_task_metric_preference() -> None:
    d = doc(
        {
            "piqa": {"acc,none": 0.6, "acc_norm,none": 0.62},
            "openbookqa": {"acc_norm,none": 0.3, "acc_norm_stderr,none": 0.02},
            "drop_like": {"exact_match,none": 0.1},
            "custom_group": {"alias": "custom_group"},
            "custom_group_a": {"acc,none": 0.4},
        },
        {"piqa": ns(1838), "openbookqa": ns(500), "custom_group_a": ns(10)},
    )
    with pytest.warns(HarnessWarning) as caught:
        m = parse_results(d, "a.json")
    assert values(m) == {
        "piqa": (0.6, 1838),
        "openbookqa": (0.3, 500),
        "drop_like": (0.1, None),
        "custom_group_a": (0.4, 10),  # the group (no count, prefix of a task) is skipped
    }
    assert len(caught) == 4
    assert "(metric 'acc_norm,none')" in str(caught[1].message)


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "error_no_results.json",
            "key 'results': absent; not an lm-evaluation-harness results file (v0.4 layout)",
        ),
        (
            "error_metric_absent.json",
            "key 'results.arc_challenge': metric 'acc_norm,none' absent (has: 'acc,none')",
        ),
        (
            "error_score_out_of_range.json",
            "key 'results.hellaswag': score 30.4 of metric 'acc_norm,none' is outside [0, 1]",
        ),
    ],
)
def test_error_fixtures(name: str, message: str) -> None:
    path = FIXTURES / name
    with pytest.raises(DataError) as info:
        read_results(path)
    assert str(info.value) == f"{path}, {message}"
    assert info.value.source == str(path)


XW = {f"xwinograd_{lang}": {"acc,none": 0.5} for lang in ("en", "fr", "jp", "pt", "ru", "zh")}
XW_COUNTS = {t: ns(10) for t in XW}

BAD_DOCS = [
    (
        "top-level-array",
        [1, 2],
        "a.json: the top level is a JSON array, not an object: not an lm-evaluation-harness "
        "results file",
    ),
    ("results-array", {"results": []}, "key 'results': is a JSON array, not an object"),
    ("entry-number", doc({"gsm8k": 0.3}), "key 'results.gsm8k': is a JSON number, not an object"),
    (
        "score-string",
        doc({"winogrande": {"acc,none": "N/A"}}),
        "key 'results.winogrande': metric 'acc,none' is 'N/A', not a number",
    ),
    (
        "score-bool",
        doc({"winogrande": {"acc,none": True}}),
        "key 'results.winogrande': metric 'acc,none' is True, not a number",
    ),
    (
        "score-nan",
        doc({"winogrande": {"acc,none": math.nan}}),
        "key 'results.winogrande': score nan of metric 'acc,none' is outside [0, 1]",
    ),
    (
        "negative-score",
        doc({"mmlu": {"acc,none": -0.1}}),
        "key 'results.mmlu': score -0.1 of metric 'acc,none' is outside [0, 1]",
    ),
    (
        "ifeval-second-metric",
        doc({"leaderboard_ifeval": {"prompt_level_strict_acc,none": 0.2}}),
        "key 'results.leaderboard_ifeval': metric 'inst_level_strict_acc,none' absent "
        "(has: 'prompt_level_strict_acc,none')",
    ),
    (
        "gsm8k-flexible-only",
        doc({"gsm8k": {"exact_match,flexible-extract": 0.2}}),
        "key 'results.gsm8k': metric 'exact_match,strict-match' absent "
        "(has: 'exact_match,flexible-extract')",
    ),
    (
        "no-model-name",
        {"config": {"model_args": "dtype=float16"}, "results": {}},
        "key 'config.model_args': no model name: neither 'model_name' nor 'pretrained=...' in "
        "'config.model_args'",
    ),
    (
        "incomplete-subtasks",
        doc({"xwinograd_en": {"acc,none": 0.7}}, {"xwinograd_en": ns(2325)}),
        "key 'results': XWinograd is the item-weighted mean of all 6 tasks xwinograd_*, but 5 "
        "are absent (first: 'xwinograd_fr')",
    ),
    (
        "subtask-without-count",
        doc(XW, {t: c for t, c in XW_COUNTS.items() if t != "xwinograd_ru"}),
        "key 'n-samples.xwinograd_ru': absent: XWinograd weights its tasks xwinograd_* by item "
        "count",
    ),
    (
        "subtask-metric-absent",
        doc({**XW, "xwinograd_pt": {"acc_norm,none": 0.5}}, XW_COUNTS),
        "key 'results.xwinograd_pt': metric 'acc,none' absent (has: 'acc_norm,none')",
    ),
    (
        "group-without-score-or-tasks",
        doc({"mmlu": {"alias": "mmlu"}}),
        "key 'results.mmlu': metric 'acc,none' absent",
    ),
    ("n-samples-array", doc({}, []), "key 'n-samples': is a JSON array, not an object"),
    (
        "n-samples-zero",
        doc({"winogrande": {"acc,none": 0.5}}, {"winogrande": ns(0)}),
        "key 'n-samples.winogrande': item count 0 is not a positive integer",
    ),
    (
        "n-samples-null",
        doc({"winogrande": {"acc,none": 0.5}}, {"winogrande": None}),
        "key 'n-samples.winogrande': item count None is not a positive integer",
    ),
    (
        "n-samples-empty",
        doc({"winogrande": {"acc,none": 0.5}}, {"winogrande": {"effective": None}}),
        "key 'n-samples.winogrande': has neither 'effective' nor 'original'",
    ),
    (
        "n-samples-fraction",
        doc({"winogrande": {"acc,none": 0.5}}, {"winogrande": {"effective": 12.5}}),
        "key 'n-samples.winogrande': item count 12.5 is not a positive integer",
    ),
]


@pytest.mark.parametrize(
    ("document", "message"), [c[1:] for c in BAD_DOCS], ids=[c[0] for c in BAD_DOCS]
)
def test_bad_documents(document: Any, message: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HarnessWarning)
        with pytest.raises(DataError) as info:
            parse_results(document, "a.json")
    expected = message if message.startswith("a.json") else f"a.json, {message}"
    assert str(info.value) == expected


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "file is empty"),
        (b'{"results": {', "is not valid JSON (Expecting property name enclosed in double quotes"),
        (b'{"results": {}, "results": {}}', "duplicate key 'results' in the JSON"),
        ('{"model_name": "Caf\u00e9"}'.encode("latin-1"), "is not UTF-8 text (byte 0xe9"),
    ],
    ids=["empty", "truncated", "duplicate-key", "latin-1"],
)
def test_bad_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "r.json"
    path.write_bytes(content)
    with pytest.raises(DataError) as info:
        read_results(path)
    assert str(info.value).startswith(f"{path}: {message}")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        read_results(tmp_path / "nope.json")
    with pytest.raises(DataError, match="is a directory"):
        read_results(tmp_path)


# --- merging and the table ----------------------------------------------------------------------


def test_files_of_one_model_merge() -> None:
    merged = merge([read_quietly(P14B), read_quietly(P14B_GSM8K)])
    assert len(merged) == 1
    m = merged[0]
    assert m.model == "EleutherAI/pythia-1.4b"
    assert m.sources == (str(P14B), str(P14B_GSM8K))
    assert list(m.scores) == [
        "MMLU", "ARC-C", "HellaSwag", "Winograd", "TruthfulQA", "GSM8K", "XWinograd", "arc_easy",
    ]  # fmt: skip
    assert values(m)["GSM8K"] == (24 / 1319, 1319)
    assert values(m)["XWinograd"][0] == pytest.approx(2948 / 4449, abs=EXACT)
    assert m.scores["TruthfulQA"].source == str(P14B)  # the agreeing repeat changes nothing


def test_conflicting_files_name_both() -> None:
    with pytest.raises(DataError) as info:
        merge([read_quietly(P14B), read_quietly(P14B_CONFLICT)])
    assert str(info.value) == (
        f"{P14B_CONFLICT}, key 'results.hellaswag': HellaSwag score 0.527783 of model "
        f"'EleutherAI/pythia-1.4b' differs from 0.523501 in {P14B} (key 'results.hellaswag')"
    )


def test_conflicting_item_counts() -> None:
    a = parse_results(doc({"gsm8k": {"exact_match,strict-match": 0.5}}, {"gsm8k": ns(1319)}), "a")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HarnessWarning)
        b = parse_results(
            doc({"gsm8k": {"exact_match,strict-match": 0.5}}, {"gsm8k": ns(1319, 500)}), "b"
        )
    with pytest.raises(
        DataError,
        match=r"^b, key 'results.gsm8k': GSM8K of model 'org/m' is "
        r"scored on 500 items, but on 1319 in a \(key 'results.gsm8k'\)$",
    ):
        merge([a, b])
    other = dataclasses.replace(b, model="org/other")
    with pytest.raises(DataError, match="a table has one item count per benchmark"):
        to_table(merge([a, other]))


def test_to_table_columns_counts_and_options() -> None:
    models = merge(read_quietly(p) for p in V1_FILES)
    table = to_table(models, family="Pythia")
    frame = table.frame
    assert frame.columns.tolist() == [
        "Model", "Model Family", "Model Size (B)", "Pretraining Data Size (T)", "FLOPs (1E21)",
        "MMLU", "ARC-C", "HellaSwag", "Winograd", "TruthfulQA", "GSM8K", "XWinograd", "arc_easy",
    ]  # fmt: skip
    assert frame["Model"].tolist() == [
        "EleutherAI/pythia-410m", "EleutherAI/pythia-1b", "EleutherAI/pythia-1.4b",
    ]  # fmt: skip
    assert frame["Model Family"].tolist() == ["Pythia"] * 3
    assert frame["Model Size (B)"].isna().all()
    # TruthfulQA (MC2) is continuous in the registry: its 817 items do not become a count.
    assert table.n_items == {
        "MMLU": 14042, "ARC-C": 1172, "HellaSwag": 10042, "Winograd": 1267, "GSM8K": 1319,
        "XWinograd": 4449, "arc_easy": 2376,
    }  # fmt: skip
    with pytest.raises(
        DataError,
        match=r"params_b \(--params-b\) describes one model, but the "
        r"files hold 3: 'EleutherAI/pythia-410m', ",
    ):
        to_table(models, params_b=1.0)
    with pytest.raises(DataError, match=r"tokens_t \(--tokens-t\) 0.0 must be a positive number"):
        to_table(models[:1], tokens_t=0.0)
    single = to_table(models[:1], params_b=0.405, tokens_t=0.3).frame
    assert single.loc[0, ["Model Size (B)", "Pretraining Data Size (T)"]].tolist() == [0.405, 0.3]


def test_no_usable_score() -> None:
    d = doc({"wikitext": {"word_perplexity,none": 20.0}}, {"wikitext": ns(62)})
    with pytest.warns(HarnessWarning, match="skipped"):
        m = parse_results(d, "a.json")
    with pytest.raises(DataError, match=r"^a.json: no task with a usable score"):
        to_table([m])


def test_write_table_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "runs" / "pythia.csv"
    stale = n_items_path(out)
    stale.parent.mkdir()
    stale.write_text("benchmark,n_items\nOld,5\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HarnessWarning)
        table = import_files(V1_FILES, family="Pythia")
    assert write_table(table, out) == stale
    assert sorted(p.name for p in out.parent.iterdir()) == ["pythia.csv", "pythia.n_items.csv"]
    assert stale.read_text().splitlines()[:3] == ["benchmark,n_items", "MMLU,14042", "ARC-C,1172"]
    with pytest.warns(UnknownBenchmarkWarning, match="arc_easy"):
        ds = read_table(out)
    assert ds.sizes == {"model": 3, "benchmark": 8}
    np.testing.assert_array_equal(
        ds["n_items"].values, [14042, 1172, 10042, 1267, np.nan, 1319, 4449, 2376]
    )
    back = pd.read_csv(out)
    pd.testing.assert_frame_equal(back, table.frame, check_dtype=False)


@pytest.mark.parametrize("name", ["t.parquet", "dir"])
def test_write_table_refuses(tmp_path: Path, name: str) -> None:
    (tmp_path / "dir").mkdir()
    table = to_table([parse_results(doc({"winogrande": {"acc,none": 0.5}}))])
    with pytest.raises(DataError):
        write_table(table, tmp_path / name)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir"]


# --- the command line ----------------------------------------------------------------------------


def import_fails(args: list[str], out: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``data import``; assert exit 2, one stderr line, nothing written; return it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    before = set(out.parent.iterdir())
    code = run(["data", "import", *args, "--out", str(out)])
    stdout, err = capsys.readouterr()
    assert code == 2, (stdout, err)
    assert stdout == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert set(out.parent.iterdir()) == before
    return lines[0]


def test_cli_import_validate_and_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pythia.csv"
    code = run(["data", "import", *map(str, V1_FILES), "--family", "Pythia", "--out", str(out)])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    assert stdout.splitlines() == [
        f"wrote {out}: 3 models, 8 benchmarks; item counts for 7 in {n_items_path(out)}"
    ]
    warned = err.splitlines()
    assert len(warned) == 4
    assert all(line.startswith("warning: ") for line in warned)
    assert sum("'arc_easy'" in line for line in warned) == 3
    assert "'results.wikitext'" in warned[1]

    assert run(["data", "validate", str(out)]) == 0
    stdout, err = capsys.readouterr()
    assert stdout.splitlines() == [
        f"OK {out}: 3 models, 1 families, 8 benchmarks, 0.0% of scores missing, 3 models "
        f"without compute; item counts from {n_items_path(out)}"
    ]
    assert "'arc_easy' is not in the registry" in err

    with pytest.warns(UnknownBenchmarkWarning):
        ds = read_table(out)
    assert ds["n_items"].sel(benchmark="arc_easy").item() == 2376  # from the file, not registry
    assert ds["n_items"].sel(benchmark="XWinograd").item() == 4449
    assert np.isnan(ds["n_items"].sel(benchmark="TruthfulQA").item())
    assert ds["score"].sel(model="EleutherAI/pythia-1b", benchmark="MMLU").item() == (
        pytest.approx(4086 / 14042, abs=EXACT)
    )
    assert ds["family"].values.tolist() == ["Pythia"] * 3


def test_cli_one_model_with_compute(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "qwen.csv"
    args = ["data", "import", str(QWEN), "--params-b", "0.49", "--tokens-t", "18"]
    assert run([*args, "--out", str(out)]) == 0
    stdout, err = capsys.readouterr()
    assert err == ""
    assert (
        stdout.strip()
        == f"wrote {out}: 1 model, 6 benchmarks; item counts for 6 in {n_items_path(out)}"
    )
    header, row = out.read_text().splitlines()
    assert header == (
        "Model,Model Family,Model Size (B),Pretraining Data Size (T),FLOPs (1E21),IFEval,BBH,"
        "MATH Lvl 5,GPQA,MUSR,MMLU-PRO"
    )
    assert row.startswith("Qwen/Qwen2.5-0.5B,,0.49,18.0,,")
    assert n_items_path(out).read_text() == (
        "benchmark,n_items\nIFEval,541\nBBH,5761\nMATH Lvl 5,1324\nGPQA,1192\nMUSR,756\n"
        "MMLU-PRO,12032\n"
    )


@pytest.mark.parametrize(
    ("files", "extra", "words"),
    [
        (["error_no_results.json"], [], ["key 'results': absent"]),
        (
            ["error_metric_absent.json"],
            [],
            ["key 'results.arc_challenge'", "'acc_norm,none' absent"],
        ),
        (["error_score_out_of_range.json"], [], ["score 30.4", "outside [0, 1]"]),
        (
            ["v1_pythia-1.4b.json", "conflict_pythia-1.4b_hellaswag.json"],
            [],
            ["conflict_pythia-1.4b_hellaswag.json, key 'results.hellaswag'", "v1_pythia-1.4b.json"],
        ),
        (
            ["v1_pythia-1.4b.json", "v1_pythia-1b.json"],
            ["--params-b", "1"],
            ["describes one model"],
        ),
        (["v1_pythia-1b.json"], ["--tokens-t", "-1"], ["must be a positive number"]),
        (["nope.json"], [], ["nope.json: file not found"]),
    ],
    ids=[
        "no-results",
        "metric-absent",
        "out-of-range",
        "conflict",
        "params-many",
        "tokens",
        "missing",
    ],
)
def test_cli_errors(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    files: list[str],
    extra: list[str],
    words: list[str],
) -> None:
    out = tmp_path / "out" / "t.csv"
    line = import_fails([str(FIXTURES / f) for f in files] + extra, out, capsys)
    for word in words:
        assert word in line, line
    assert not out.exists() and not n_items_path(out).exists()


def test_cli_refuses_parquet_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = import_fails([str(P410M)], tmp_path / "t.parquet", capsys)
    assert (
        line == f"error: {tmp_path / 't.parquet'}: the import writes CSV: name the output TABLE.csv"
    )


def test_cli_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["data", "import", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--family" in out and "--params-b" in out and "--tokens-t" in out
