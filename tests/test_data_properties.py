"""Property tests: any table either loads into a valid tidy dataset or raises DataError.

Malformed input (garbage cells, shuffled or missing columns, out-of-range numbers,
duplicate names, ragged rows, random bytes) must never surface as another exception.
"""

from __future__ import annotations

import csv
import io
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_data import check_contract

from bayes_scaling.data import from_long, from_wide, read_table
from bayes_scaling.errors import DataError

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

COLUMN_NAMES = [
    "Model",
    "Model Family",
    "Model Size (B)",
    "Pretraining Data Size (T)",
    "FLOPs (1E21)",
    "MMLU",
    "GSM8K",
    "Winogrande",
    "Custom",
    "model",
    "benchmark",
    "score",
    "n_items",
    "",
]
SPECIAL_CELLS = [
    "",
    " ",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "Infinity",
    "NA",
    "N/A",
    "null",
    "None",
    "45%",
    "1,5",
    "0x10",
    "1e400",
    "-0",
    "true",
    "\u00e9",
    '"',
    "\n",
    "0.5 ",
    "100",
    "1.0000000001",
]

cells = st.one_of(
    st.sampled_from(SPECIAL_CELLS),
    st.floats(0, 1).map(repr),
    st.floats(-5, 150).map(repr),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-3, 200).map(str),
    st.text(max_size=6),
)
column_names = st.one_of(st.sampled_from(COLUMN_NAMES), st.text(max_size=5))


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    # One file rewritten per example: hypothesis and function-scoped tmp_path do not mix.
    with tempfile.TemporaryDirectory() as directory:
        yield Path(directory)


def check_valid(ds: xr.Dataset) -> None:
    check_contract(ds)
    assert ds.sizes["model"] >= 3 and ds.sizes["benchmark"] >= 1
    assert ((~np.isnan(ds["score"].values)).sum(axis=0) >= 3).all()
    for name in ("params", "tokens", "flops"):
        values = ds[name].values
        assert np.all(np.isnan(values) | (values > 0))
    assert np.all((ds["floor"].values >= 0) & (ds["floor"].values < 1))
    assert np.all(ds["lower"].values < ds["upper"].values)


def load_or_data_error(load: object, *args: object, **kwargs: object) -> xr.Dataset | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unknown-benchmark warnings are expected here
        try:
            ds = load(*args, **kwargs)  # type: ignore[operator]
        except DataError as exc:
            assert "\n" not in str(exc)
            return None
    check_valid(ds)
    return ds


def to_csv_text(rows: list[list[str]], quoted: bool) -> str:
    if not quoted:  # naive joining: ragged rows, stray quotes and newlines stay as they are
        return "".join(",".join(r) + "\n" for r in rows)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


@st.composite
def garbage_tables(draw: st.DrawFn) -> list[list[str]]:
    header = draw(st.lists(column_names, min_size=1, max_size=6))
    n_rows = draw(st.integers(0, 7))
    rows = [header]
    for _ in range(n_rows):
        width = len(header) + draw(st.sampled_from([0, 0, 0, -1, 1]))
        rows.append(draw(st.lists(cells, min_size=max(width, 0), max_size=max(width, 0))))
    return rows


@st.composite
def valid_tables(draw: st.DrawFn) -> list[list[str]]:
    """A valid wide table: unique models, positive metadata, >= 3 scores in [0, 1] each."""
    n = draw(st.integers(3, 7))
    benchmarks = draw(
        st.lists(
            st.sampled_from(["MMLU", "GSM8K", "HumanEval", "Custom", "TruthfulQA"]),
            min_size=1,
            max_size=4,
            unique=True,
        )
    )
    header = ["Model", "Model Family", "Model Size (B)", "Pretraining Data Size (T)", *benchmarks]
    rows = [header]
    for i in range(n):
        size = draw(st.one_of(st.just(""), st.floats(0.01, 500).map(repr)))
        tokens = draw(st.one_of(st.just(""), st.floats(0.001, 20).map(repr)))
        # The first three models observe everything; later ones may miss scores.
        score = st.floats(0, 1).map(repr)
        scores = [draw(score if i < 3 else st.one_of(st.just(""), score)) for _ in benchmarks]
        rows.append([f"m{i}", draw(st.sampled_from(["", "F", "G"])), size, tokens, *scores])
    return rows


@st.composite
def mutated_tables(draw: st.DrawFn) -> list[list[str]]:
    """A valid wide table, then a few random mutations."""
    rows = draw(valid_tables())
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["cell", "drop", "shuffle", "duplicate", "scale", "blank"]))
        width = len(rows[0])
        if kind == "cell" and len(rows) > 1:
            r = draw(st.integers(1, len(rows) - 1))
            rows[r][draw(st.integers(0, width - 1))] = draw(cells)
        elif kind == "drop" and width > 1:
            c = draw(st.integers(0, width - 1))
            rows = [row[:c] + row[c + 1 :] for row in rows]
        elif kind == "shuffle":
            order = draw(st.permutations(range(width)))
            rows = [[row[k] for k in order] for row in rows]
        elif kind == "duplicate" and len(rows) > 1:
            rows.append(list(rows[draw(st.integers(1, len(rows) - 1))]))
        elif kind == "scale":
            c = draw(st.integers(0, width - 1))
            for row in rows[1:]:
                try:
                    row[c] = repr(float(row[c]) * 100)
                except ValueError:
                    pass
        elif kind == "blank" and len(rows) > 1:
            r = draw(st.integers(1, len(rows) - 1))
            rows[r] = [""] * width
    return rows


@SETTINGS
@given(rows=garbage_tables(), quoted=st.booleans(), percent=st.booleans())
def test_garbage_csv(scratch: Path, rows: list[list[str]], quoted: bool, percent: bool) -> None:
    path = scratch / "garbage.csv"
    path.write_text(to_csv_text(rows, quoted), encoding="utf-8")
    load_or_data_error(read_table, path, percent=percent)


@SETTINGS
@given(rows=mutated_tables(), percent=st.booleans())
def test_mutated_csv(scratch: Path, rows: list[list[str]], percent: bool) -> None:
    path = scratch / "mutated.csv"
    path.write_text(to_csv_text(rows, quoted=True), encoding="utf-8")
    ds = load_or_data_error(read_table, path, percent=percent)
    if ds is not None:
        # Whatever loads has the table's models, in order.
        model_col = rows[0].index("Model")
        names = [r[model_col].strip() for r in rows[1:] if any(c.strip() for c in r)]
        assert ds["model"].values.tolist() == names


@settings(max_examples=60, deadline=None)
@given(rows=valid_tables())
def test_valid_tables_load(scratch: Path, rows: list[list[str]]) -> None:
    header, *body = rows
    path = scratch / "valid.csv"
    path.write_text(to_csv_text(rows, quoted=True), encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = read_table(path)
    check_valid(ds)
    expected = pd.DataFrame(body, columns=header).iloc[:, 4:].replace("", np.nan).astype(float)
    np.testing.assert_array_equal(ds["score"].values, expected.to_numpy())
    assert ds["model"].values.tolist() == [r[0] for r in body]


@SETTINGS
@given(raw=st.binary(max_size=300), suffix=st.sampled_from([".csv", ".parquet", ""]))
def test_random_bytes(scratch: Path, raw: bytes, suffix: str) -> None:
    path = scratch / f"random{suffix}"
    path.write_bytes(raw)
    load_or_data_error(read_table, path)


@SETTINGS
@given(raw=st.binary(max_size=200))
def test_parquet_magic_with_garbage(scratch: Path, raw: bytes) -> None:
    path = scratch / "magic.parquet"
    path.write_bytes(b"PAR1" + raw + b"PAR1")
    load_or_data_error(read_table, path)


objects = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(0, 1),
    st.text(max_size=5),
    st.sampled_from(SPECIAL_CELLS),
    st.just(pd.NA),
    st.just([1, 2]),
)


@SETTINGS
@given(
    columns=st.lists(st.one_of(column_names, st.integers(0, 3)), min_size=0, max_size=5),
    data=st.data(),
    long=st.booleans(),
)
def test_random_frames(columns: list[object], data: st.DataObject, long: bool) -> None:
    n_rows = data.draw(st.integers(0, 6))
    body = [[data.draw(objects) for _ in columns] for _ in range(n_rows)]
    frame = pd.DataFrame(body, columns=columns) if columns else pd.DataFrame(index=range(n_rows))
    load_or_data_error(from_long if long else from_wide, frame)


@SETTINGS
@given(
    n=st.integers(3, 6),
    data=st.data(),
)
def test_random_long_tables(n: int, data: st.DataObject) -> None:
    size = data.draw(st.integers(1, 12))
    frame = pd.DataFrame(
        {
            "model": data.draw(
                st.lists(
                    st.sampled_from([f"m{i}" for i in range(n)] + [""]),
                    min_size=size,
                    max_size=size,
                )
            ),
            "benchmark": data.draw(
                st.lists(st.sampled_from(["GSM8K", "MMLU", "X"]), min_size=size, max_size=size)
            ),
            "score": data.draw(st.lists(objects, min_size=size, max_size=size)),
            "n_items": data.draw(
                st.lists(
                    st.sampled_from([None, 10, 10.0, 0, 2.5, "x"]), min_size=size, max_size=size
                )
            ),
        }
    )
    load_or_data_error(from_long, frame)
