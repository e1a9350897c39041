"""``bayes-scaling data validate|show``: every bad input is one line on stderr and exit 2."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from bayes_scaling.cli import run

GOOD = "Model,MMLU,GSM8K\na,0.3,0.1\nb,0.4,0.2\nc,0.5,0.3\n"


def listing(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()}


def validate_fails(path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    """Run ``data validate``; assert exit 2, one stderr line, nothing written; return it."""
    before = listing(path.parent) if path.parent.exists() else set()
    code = run(["data", "validate", str(path), *extra])
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert out == ""
    if path.parent.exists():
        assert listing(path.parent) == before
    return lines[0]


# (name, file content, file name, words that must appear besides the file name)
CASES = [
    ("no-model", "Name,MMLU\na,0.3\n", "t.csv", ["no 'Model' column"]),
    ("no-model-hint", "model,MMLU\na,0.3\n", "t.csv", ["found 'model'"]),
    (
        "duplicate-model",
        "Model,MMLU\na,0.3\nb,0.4\na,0.5\n",
        "t.csv",
        ["row 3", "column 'Model'", "duplicate model 'a' (rows 1 and 3)"],
    ),
    (
        "non-numeric",
        "Model,MMLU,GSM8K\na,0.3,0.1\nb,high,0.2\nc,0.5,0.3\n",
        "t.csv",
        ["row 2", "column 'MMLU'", "'high' is not a number"],
    ),
    (
        "nan-string",
        "Model,MMLU\na,0.3\nb,NaN\nc,0.5\n",
        "t.csv",
        ["row 2", "column 'MMLU'", "not a finite number", "leave the cell empty"],
    ),
    (
        "inf-string",
        "Model,MMLU\na,0.3\nb,0.4\nc,-inf\n",
        "t.csv",
        ["row 3", "column 'MMLU'", "'-inf' is not a finite number"],
    ),
    (
        "na-string",
        "Model,MMLU\na,N/A\nb,0.4\nc,0.5\n",
        "t.csv",
        ["row 1", "column 'MMLU'", "'N/A' is not a number", "leave the cell empty"],
    ),
    (
        "out-of-range",
        "Model,MMLU\na,0.3\nb,-0.2\nc,0.5\n",
        "t.csv",
        ["row 2", "column 'MMLU'", "-0.2 is outside [0, 1]"],
    ),
    (
        "above-100",
        "Model,MMLU\na,30\nb,140\nc,50\n",
        "t.csv",
        ["row 1", "column 'MMLU'", "outside [0, 1]"],
    ),
    (
        "zero-flops",
        "Model,FLOPs (1E21),MMLU\na,0,0.3\nb,1,0.4\nc,2,0.5\n",
        "t.csv",
        ["row 1", "column 'FLOPs (1E21)'", "must be positive"],
    ),
    (
        "negative-params",
        "Model,Model Size (B),MMLU\na,7,0.3\nb,-1,0.4\nc,2,0.5\n",
        "t.csv",
        ["row 2", "column 'Model Size (B)'", "-1 must be positive"],
    ),
    (
        "zero-tokens",
        "Model,Pretraining Data Size (T),MMLU\na,1,0.3\nb,2,0.4\nc,0.0,0.5\n",
        "t.csv",
        ["row 3", "column 'Pretraining Data Size (T)'", "must be positive"],
    ),
    (
        "non-numeric-params",
        "Model,Model Size (B),MMLU\na,7B,0.3\nb,1,0.4\nc,2,0.5\n",
        "t.csv",
        ["row 1", "column 'Model Size (B)'", "'7B' is not a number"],
    ),
    (
        "too-few-models",
        "Model,MMLU,GSM8K\na,0.3,0.1\nb,0.4,\nc,0.5,\n",
        "t.csv",
        ["column 'GSM8K'", "observed for only 1 model(s)", "at least 3"],
    ),
    ("empty-column", "Model,MMLU,GSM8K\na,0.3,\nb,0.4,\nc,0.5,\n", "t.csv", ["only 0 model"]),
    ("header-only", "Model,MMLU\n", "t.csv", ["no data rows"]),
    ("blank-rows-only", "Model,MMLU\n\n,\n", "t.csv", ["no data rows"]),
    ("no-benchmarks", "Model,Model Family\na,A\nb,B\nc,C\n", "t.csv", ["no benchmark columns"]),
    ("empty-file", "", "t.csv", ["file is empty"]),
    ("whitespace-file", "  \n\n", "t.csv", ["file is empty"]),
    ("latin-1", "Model,MMLU\nCaf\u00e9,0.3\n".encode("latin-1"), "t.csv", ["not UTF-8"]),
    ("binary", b"Model\x00\x01\x02,MMLU\n", "t.csv", ["binary"]),
    ("zip", b"PK\x03\x04garbage", "t.xlsx", ["Excel"]),
    ("fake-parquet", "Model,MMLU\na,0.3\n", "t.parquet", ["not a Parquet file"]),
    ("corrupt-parquet", b"PAR1" + bytes(range(256)) * 4, "t.parquet", ["not a readable Parquet"]),
    (
        "ragged",
        "Model,MMLU\na,0.3\nb,0.4,0.9\nc,0.5\n",
        "t.csv",
        ["row 2", "3 fields where the header has 2"],
    ),
    (
        "duplicate-column",
        "Model,MMLU,MMLU\na,0.3,0.3\nb,0.4,0.4\nc,0.5,0.5\n",
        "t.csv",
        ["row 0", "column 'MMLU'", "duplicate column name (columns 2 and 3)"],
    ),
    (
        "nameless-column",
        "Model,,MMLU\na,x,0.3\nb,y,0.4\nc,z,0.5\n",
        "t.csv",
        ["column 2 has values but no name"],
    ),
    (
        "empty-model",
        "Model,MMLU\na,0.3\n ,0.4\nc,0.5\n",
        "t.csv",
        ["row 2", "column 'Model'", "empty model name"],
    ),
    (
        "long-duplicate",
        "model,benchmark,score\na,MMLU,0.3\nb,MMLU,0.4\na,MMLU,0.5\n",
        "t.csv",
        ["row 3", "two scores for benchmark 'MMLU' (rows 1 and 3)"],
    ),
    (
        "long-n-items",
        "model,benchmark,score,n_items\na,MMLU,0.3,100\nb,MMLU,0.4,100\nc,MMLU,0.5,99\n",
        "t.csv",
        ["row 3", "column 'n_items'", "differs from 100 in row 1"],
    ),
    (
        "long-extra-column",
        "model,benchmark,score,family\na,MMLU,0.3,x\n",
        "t.csv",
        ["row 0", "column 'family'", "unexpected column"],
    ),
    (
        "long-out-of-range",
        "model,benchmark,score\na,MMLU,0.3\nb,MMLU,1.4\nc,MMLU,0.5\n",
        "t.csv",
        ["row 2", "column 'score'", "score for 'MMLU' 1.4 is outside [0, 1]"],
    ),
    (
        "multiline-cell",
        'Model,MMLU\na,0.3\nb,"0.4\n0.5"\nc,0.5\n',
        "t.csv",
        ["row 2", "'0.4\\n0.5' is not a number"],
    ),
]


@pytest.mark.parametrize(
    ("content", "name", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_is_one_line_and_exit_2(
    write_table: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
    content: str | bytes,
    name: str,
    words: list[str],
) -> None:
    path = write_table(content, name)
    line = validate_fails(path, capsys)
    assert line.startswith(f"error: {path}")
    for word in words:
        assert word in line, line


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nope.csv"
    line = validate_fails(path, capsys)
    assert line == f"error: {path}: file not found"
    assert not path.exists()


def test_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = validate_fails(tmp_path, capsys)
    assert "is a directory" in line


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads anything")
def test_unreadable_file(
    write_table: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_table(GOOD)
    path.chmod(0)
    try:
        assert "permission denied" in validate_fails(path, capsys)
    finally:
        path.chmod(0o644)


def test_random_bytes(write_table: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    path = write_table(bytes(range(256)) * 8, "noise.bin")
    assert "noise.bin" in validate_fails(path, capsys)


def test_percentages_are_detected_and_accepted(
    write_table: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_table("Model,MMLU,GSM8K\na,30,10\nb,40,20.5\nc,50,30\n")
    line = validate_fails(path, capsys)
    for word in (
        "row 1",
        "column 'MMLU'",
        "30 is outside [0, 1]",
        "look like percentages",
        "max 50",
        "--percent",
    ):
        assert word in line
    assert run(["data", "validate", str(path), "--percent"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        f"OK {path}: 3 models, 3 families, 2 benchmarks, 0.0% of scores missing, "
        "3 models without compute"
    ]
    assert err == ""


def test_percent_on_shares_is_refused(
    write_table: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_table("Model,MMLU,GSM8K\na,30,0.1\nb,40,0.2\nc,50,0.3\n")
    line = validate_fails(path, capsys, "--percent")
    assert line.startswith(f"error: {path}, column 'GSM8K': --percent")
    assert "every value is within [0, 1] (max 0.3)" in line and "--range 'GSM8K=0:100'" in line
    # percentages below 1% can say so with the column's own range
    args = ["data", "validate", str(path), "--percent", "--range", "GSM8K=0:100"]
    assert run(args) == 0
    capsys.readouterr()


@pytest.mark.parametrize(
    ("content", "hint"),
    [
        ("Model;MMLU;GSM8K\na;0,3;0,1\nb;0,4;0,2\nc;0,5;0,3\n", "looks ';'-delimited"),
        ("Model;MMLU\na;0.3\nb;0.4\nc;0.5\n", "looks ';'-delimited"),
        ("Model\tMMLU\na\t0.3\nb\t0.4\nc\t0.5\n", "looks tab-delimited"),
    ],
)
def test_other_delimiters_get_a_hint(
    content: str, hint: str, write_table: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    line = validate_fails(write_table(content), capsys)
    assert "row 0: the header is one column" in line and hint in line
    assert "save it comma-separated" in line


def test_percent_does_not_excuse_values_above_100(
    write_table: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_table("Model,MMLU\na,30\nb,101\nc,50\n")
    line = validate_fails(path, capsys, "--percent")
    assert "row 2" in line and "101 is outside [0, 100]" in line
    assert "look like percentages" not in line


def test_range_option(write_table: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    path = write_table("Model,MMLU,Score\na,30,1\nb,40,9.5\nc,50,4\n")
    assert run(["data", "validate", str(path), "--percent", "--range", "Score=0:10"]) == 0
    capsys.readouterr()
    assert "outside [0, 100]" not in validate_fails(path, capsys, "--range", "Score=0:10")
    line = validate_fails(path, capsys, "--range", "Score=0:x")
    assert line == "error: --range 'Score=0:x' is not COLUMN=LOWER:UPPER"


def test_validate_ok_on_bundled_file(capsys: pytest.CaptureFixture[str]) -> None:
    path = Path(__file__).parents[1] / "data" / "obsscaling" / "base_llm_benchmark_eval.csv"
    assert run(["data", "validate", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == (
        f"OK {path}: 128 models, 40 families, 8 benchmarks, 3.8% of scores missing, "
        "16 models without compute"
    )
    assert err == ""


def test_unknown_benchmarks_warn_once_on_success(
    write_table: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_table("Model,Foo,Bar\na,0.3,0.1\nb,0.4,0.2\nc,0.5,0.3\n")
    assert run(["data", "validate", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("OK ")
    assert err.splitlines() == [
        "warning: 2 benchmarks are not in the registry (assuming chance floor 0, "
        "no item count, continuous score): 'Foo', 'Bar'"
    ]


def test_show_base_llm(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["data", "show", "base-llm"]) == 0
    out, _ = capsys.readouterr()
    assert "models" in out and "128" in out
    assert "Models without compute" in out and "RWKV/rwkv-4-169m-pile" in out
    assert "HumanEval" in out and "16.4%" in out


def test_show_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["data", "show", "base-llm", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["n_models"] == 128
    assert s["n_families"] == 40
    assert s["n_benchmarks"] == 8
    assert len(s["models_without_compute"]) == 16
    assert s["benchmarks"]["XWinograd"]["observed"] == 112
    assert s["benchmarks"]["HumanEval"]["missing"] == pytest.approx(21 / 128)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_show_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], suffix: str) -> None:
    path = tmp_path / f"mine{suffix}"
    frame = pd.read_csv(__import__("io").StringIO(GOOD))
    frame.to_csv(path, index=False) if suffix == ".csv" else frame.to_parquet(path)
    assert run(["data", "show", str(path), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert (s["source"], s["n_models"], s["n_benchmarks"]) == (str(path), 3, 2)


def test_show_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["data", "show", "no-such-table"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "error: no-such-table: file not found (bundled tables: base-llm, instruct-llm, "
        "agent, emergent, post-training)"
    ]
    assert run(["data", "show", "base-llm", "--percent"]) == 2
    assert "apply to files" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["data", "--help"],
        ["data", "validate", "--help"],
        ["data", "show", "--help"],
    ],
)
def test_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert run(argv) == 0
    assert "Usage" in capsys.readouterr().out
