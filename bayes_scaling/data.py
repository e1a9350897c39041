"""Reading and validating benchmark tables into the tidy dataset.

A table is either *wide* (the bundled format: a ``Model`` column, optional ``Model Family``,
``Model Size (B)``, ``Pretraining Data Size (T)`` and ``FLOPs (1E21)``, then one column per
benchmark) or *long* (columns ``model, benchmark, score`` and optionally ``n_items``, one row
per observation). Both become the ``xarray.Dataset`` described in ``docs/architecture.md``:
scores rescaled to [0, 1] with the raw range kept in the ``lower``/``upper`` coordinates, FLOPs
made absolute, chance floors and item counts taken from the benchmark registry.

A wide table cannot hold item counts, so :func:`read_table` also reads an optional *item-count
file* beside it, ``TABLE.n_items.csv`` for ``TABLE.csv`` (see :func:`n_items_path`), with columns
``benchmark, n_items``: its counts override the registry for that table, exactly as a long
table's ``n_items`` column does. ``bayes-scaling data import`` writes one.

Anything wrong with the input raises :class:`~bayes_scaling.errors.DataError` with a one-line
message naming the file, the row and the column; nothing is ever written. Rows are counted as
a user counts them in the file: the header is row 0 and the first data row is row 1 (for an
in-memory frame, row 1 is its first row). Blank lines count as rows but are otherwise ignored.

Examples
--------
>>> import pandas as pd
>>> df = pd.DataFrame({"Model": ["a", "b", "c"], "Model Size (B)": [1.0, 2.0, 4.0],
...                    "Pretraining Data Size (T)": [1.0, 1.0, 1.0], "MMLU": [0.3, 0.4, 0.5]})
>>> ds = from_wide(df)
>>> float(ds.flops.sel(model="a"))  # 6 * 1e9 params * 1e12 tokens
6e+21
>>> float(ds.floor.sel(benchmark="MMLU"))
0.25
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import io
import math
import numbers
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import xarray as xr

from bayes_scaling.errors import DataError
from bayes_scaling.registry import BenchmarkInfo, Registry

__all__ = [
    "FAMILY",
    "FLOPS",
    "LONG_COLUMNS",
    "MODEL",
    "N_ITEMS_SUFFIX",
    "PARAMS",
    "RELEASE",
    "TOKENS",
    "from_long",
    "from_wide",
    "n_items_path",
    "read_table",
    "summarize",
    "to_wide",
]

MODEL = "Model"
FAMILY = "Model Family"
PARAMS = "Model Size (B)"
TOKENS = "Pretraining Data Size (T)"
FLOPS = "FLOPs (1E21)"
#: Optional: when a model was released (ISO date ``2023-07-18``, ``2023-07`` or ``2023``, or a
#: decimal year ``2023.5``). Kept as the ``release`` coordinate in decimal years, it gives the
#: capability model a time trend in family efficiency (docs/model.md).
RELEASE = "Release Date"
METADATA = (MODEL, FAMILY, PARAMS, TOKENS, FLOPS, RELEASE)
LONG_COLUMNS = ("model", "benchmark", "score", "n_items")
#: Suffix of a table's item-count file: ``mine.csv`` -> ``mine.n_items.csv``.
N_ITEMS_SUFFIX = ".n_items.csv"
_N_ITEMS_COLUMNS = ("benchmark", "n_items")
_LONG_REQUIRED = frozenset(LONG_COLUMNS[:3])

MIN_MODELS_PER_BENCHMARK = 3
_FLOPS_UNIT = 1e21  # the wide table's FLOPs column is in units of 1e21
_PARAMS_UNIT = 1e9  # Model Size (B)
_TOKENS_UNIT = 1e12  # Pretraining Data Size (T)
# Scores a hair outside their range are float noise from rescaling, not errors.
_RANGE_TOLERANCE = 1e-9
# A decimal-year release date outside these is a typo (or a number in another column).
_YEARS = (1950, 2200)
_MISSING_WORDS = frozenset({"nan", "na", "n/a", "null", "none", "missing", "-", "?"})
_DATAFRAME = "<dataframe>"

Ranges = Mapping[str, tuple[float, float]]
# (row, column position, column name, message): sorted to report the first problem in
# reading order.
_Problem = tuple[int, int, str, str]
# An item-count file: its source and benchmark -> (n_items, row in that file).
_ItemCounts = tuple[str, dict[str, tuple[float, int]]]


# --- public API --------------------------------------------------------------------------


def read_table(
    path: str | os.PathLike[str],
    *,
    percent: bool = False,
    ranges: Ranges | None = None,
    registry: Registry | None = None,
    min_models: int = MIN_MODELS_PER_BENCHMARK,
    linear: Sequence[str] = (),
) -> xr.Dataset:
    """Read a CSV or Parquet table (wide or long) into the tidy dataset.

    Parquet is recognised by its magic bytes, everything else must be UTF-8 CSV. The format
    is detected from the columns: a ``Model`` column means wide, ``model, benchmark, score``
    means long. If the item-count file :func:`n_items_path` exists beside the table, its
    counts override the registry's for the benchmarks it lists (a long table's own
    ``n_items`` must agree with it).

    Parameters
    ----------
    path : path-like
        The table file.
    percent : bool, default False
        Every score column is on 0-100 (columns named in ``ranges`` excepted).
    ranges : mapping of str to (float, float), optional
        Raw ``(lower, upper)`` range of named benchmark columns; the default is (0, 1).
    registry : Registry, optional
        Benchmark registry for floors and item counts; :meth:`Registry.default` if omitted.
    min_models : int, default 3
        Least number of models each benchmark must be observed for. Fitting needs three;
        a table of new models to place into a fitted run (:mod:`bayes_scaling.place`)
        may hold one model, and passes 0; ``complete`` keeps benchmarks seen once (1).
    linear : sequence of str, default ()
        Columns that are not bounded shares (an Elo rating, dollars): modelled on their
        standardised scale with a normal measurement. The registry's ``scale = linear``
        entries are linear too. Their ``lower``/``upper`` coords are the observed mean
        and mean + sd, so ``score`` is the z-score, and ``floor``/``ceiling`` are 0/1.

    Returns
    -------
    xarray.Dataset
        The tidy dataset of ``docs/architecture.md``; ``attrs["source"]`` is ``str(path)``.

    Raises
    ------
    DataError
        The file (or its item-count file) is missing, unreadable or not valid.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = p.write_text("Model,GSM8K\\na,10\\nb,20\\nc,\\nd,30\\n")
    >>> ds = read_table(p, percent=True)
    >>> ds.score.sel(benchmark="GSM8K").values.tolist()
    [0.1, 0.2, nan, 0.3]
    >>> _ = n_items_path(p).write_text("benchmark,n_items\\nGSM8K,500\\n")
    >>> float(read_table(p, percent=True).n_items.sel(benchmark="GSM8K"))
    500.0
    """
    source = os.fspath(path)
    raw = read_bytes(Path(path), source)
    header, body = _parse_bytes(raw, source, Path(path).suffix.lower())
    sidecar = n_items_path(path)
    counts = _read_item_counts(sidecar) if sidecar.is_file() else None
    return _build(header, body, source, None, percent, ranges, registry, counts, min_models, linear)


def n_items_path(path: str | os.PathLike[str]) -> Path:
    """The item-count file of a table: ``TABLE.n_items.csv`` beside ``TABLE.csv``.

    It is a CSV file with the columns ``benchmark, n_items`` (one row per benchmark, a
    positive integer each) that :func:`read_table` reads when it exists.

    Examples
    --------
    >>> n_items_path("runs/mine.csv").as_posix()
    'runs/mine.n_items.csv'
    """
    p = Path(path)
    return p.with_name(p.stem + N_ITEMS_SUFFIX)


def from_wide(
    df: pd.DataFrame,
    *,
    source: str = _DATAFRAME,
    percent: bool = False,
    ranges: Ranges | None = None,
    registry: Registry | None = None,
    linear: Sequence[str] = (),
) -> xr.Dataset:
    """Build the tidy dataset from an in-memory wide table.

    Missing values are NaN/None or empty strings; row numbers in errors are 1-based
    positions in ``df``. Other parameters as in :func:`read_table`.

    Examples
    --------
    >>> df = pd.DataFrame({"Model": ["a", "b", "c", "d"], "HumanEval": [0.1, None, 0.3, 0.2],
    ...                    "GSM8K": [0.0, 0.2, 0.4, 0.1]})
    >>> from_wide(df).sizes
    Frozen({'model': 4, 'benchmark': 2})
    """
    return _build(list(df.columns), df, source, "wide", percent, ranges, registry, linear=linear)


def from_long(
    df: pd.DataFrame,
    *,
    source: str = _DATAFRAME,
    percent: bool = False,
    ranges: Ranges | None = None,
    registry: Registry | None = None,
    linear: Sequence[str] = (),
) -> xr.Dataset:
    """Build the tidy dataset from an in-memory long table.

    Columns ``model``, ``benchmark``, ``score`` and optionally ``n_items`` (the benchmark's
    number of items, which then overrides the registry and must agree across rows). Models
    and benchmarks keep their order of first appearance; a long table carries no family or
    compute, so each model is its own family and params/tokens/FLOPs are NaN.

    Examples
    --------
    >>> df = pd.DataFrame({"model": ["a", "b", "c"], "benchmark": ["GSM8K"] * 3,
    ...                    "score": [0.1, 0.2, 0.3], "n_items": [1319] * 3})
    >>> float(from_long(df).n_items.sel(benchmark="GSM8K"))
    1319.0
    """
    return _build(list(df.columns), df, source, "long", percent, ranges, registry, linear=linear)


def to_wide(ds: xr.Dataset) -> pd.DataFrame:
    """Write a tidy dataset back in the bundled wide format, scores in raw units.

    The metadata columns are always written (family, params in B, tokens in T, FLOPs in
    units of 1e21, derived FLOPs included); unknown values are NaN. A ``Release Date``
    column is written (as ISO dates) when the dataset has one. Read the result back
    with the same ``ranges``/``percent`` to get the dataset again.

    Examples
    --------
    >>> df = pd.DataFrame({"Model": list("abc"), "GSM8K": [10.0, 20.0, 30.0]})
    >>> to_wide(from_wide(df, percent=True))["GSM8K"].tolist()
    [10.0, 20.0, 30.0]
    """
    out = pd.DataFrame(
        {
            MODEL: ds["model"].values.astype(str),
            FAMILY: ds["family"].values.astype(str),
            PARAMS: ds["params"].values.astype(float),
            TOKENS: ds["tokens"].values.astype(float),
            FLOPS: ds["flops"].values.astype(float) / _FLOPS_UNIT,
        }
    )
    if "release" in ds.coords:
        out[RELEASE] = [iso_date(v) for v in ds["release"].values.astype(float)]
    scores = ds["score"].transpose("model", "benchmark").values
    lower = ds["lower"].values.astype(float)
    upper = ds["upper"].values.astype(float)
    raw = lower + scores * (upper - lower)
    columns = {str(b): raw[:, j] for j, b in enumerate(ds["benchmark"].values)}
    return pd.concat([out, pd.DataFrame(columns)], axis=1)


def summarize(ds: xr.Dataset) -> dict[str, Any]:
    """Describe a tidy dataset in plain (JSON-ready) Python types.

    Returns
    -------
    dict
        ``source``; ``n_models``; ``n_families`` and ``families`` (family -> number of
        models); ``n_benchmarks`` and ``benchmarks`` (name -> ``observed``, ``missing``
        share, ``floor``, ``n_items`` or None, ``lower``, ``upper``); ``missing`` (share of
        all cells unobserved); ``models_without_compute`` and ``models_without_scores``
        (lists of names).

    Examples
    --------
    >>> df = pd.DataFrame({"Model": list("abcd"), "GSM8K": [0.1, None, 0.3, 0.2],
    ...                    "HumanEval": [0.1, 0.2, 0.3, 0.4]})
    >>> s = summarize(from_wide(df))
    >>> s["n_models"], s["benchmarks"]["GSM8K"]["missing"], len(s["models_without_compute"])
    (4, 0.25, 4)
    """
    models = [str(m) for m in ds["model"].values]
    families = pd.Series(ds["family"].values.astype(str)).value_counts(sort=False)
    scores = ds["score"].transpose("model", "benchmark").values
    observed = ~np.isnan(scores)
    benchmarks: dict[str, dict[str, Any]] = {}
    for j, name in enumerate(ds["benchmark"].values):
        n_items = float(ds["n_items"].values[j])
        benchmarks[str(name)] = {
            "observed": int(observed[:, j].sum()),
            "missing": float(1.0 - observed[:, j].mean()) if len(models) else 1.0,
            "floor": float(ds["floor"].values[j]),
            "n_items": None if math.isnan(n_items) else int(n_items),
            "lower": float(ds["lower"].values[j]),
            "upper": float(ds["upper"].values[j]),
        }
    flops = ds["flops"].values.astype(float)
    return {
        "source": str(ds.attrs.get("source", "")),
        "n_models": len(models),
        "n_families": len(families),
        "families": {str(k): int(v) for k, v in families.items()},
        "n_benchmarks": len(benchmarks),
        "benchmarks": benchmarks,
        "missing": float(1.0 - observed.mean()) if observed.size else 1.0,
        "models_without_compute": [m for m, f in zip(models, flops, strict=True) if np.isnan(f)],
        "models_without_scores": [
            m for m, row in zip(models, observed, strict=True) if not row.any()
        ],
    }


# --- reading files -----------------------------------------------------------------------


def read_bytes(path: Path, source: str, kind: str = "table file") -> bytes:
    """The bytes of a user's file, or a one-line :class:`DataError` naming it.

    Examples
    --------
    >>> read_bytes(Path("no/such.csv"), "no/such.csv")
    Traceback (most recent call last):
    ...
    bayes_scaling.errors.DataError: no/such.csv: file not found
    """
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DataError(source, "file not found") from None
    except IsADirectoryError:
        raise DataError(source, f"is a directory, not a {kind}") from None
    except PermissionError:
        raise DataError(source, "permission denied") from None
    except OSError as exc:
        raise DataError(source, f"cannot read the file ({_one_line(exc)})") from None


def _parse_bytes(raw: bytes, source: str, suffix: str) -> tuple[list[Any], pd.DataFrame]:
    """Split file content into header and body; Parquet by magic bytes, else UTF-8 CSV."""
    if raw.startswith(b"PAR1"):
        return _parse_parquet(raw, source)
    if suffix in {".parquet", ".pq"}:
        raise DataError(source, "is not a Parquet file (it lacks the PAR1 signature)")
    if raw.startswith(b"PK\x03\x04"):
        raise DataError(source, "is a ZIP/Excel file, not CSV; export the sheet as UTF-8 CSV")
    if not raw.strip():
        raise DataError(source, "file is empty")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(
            source,
            f"is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "expected a UTF-8 CSV or a Parquet file",
        ) from None
    if "\x00" in text:
        raise DataError(source, "contains NUL bytes: a binary file, not CSV")
    text = text.removeprefix("\ufeff")  # a BOM is how Excel marks UTF-8
    _refuse_other_delimiters(text, source)
    try:
        # Everything as text with no NA guessing: empty means unknown, and we decide
        # what every other cell means (and report where it is).
        frame = pd.read_csv(
            io.StringIO(text),
            header=None,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
        )
    except pd.errors.EmptyDataError:
        raise DataError(source, "file is empty") from None
    except pd.errors.ParserError as exc:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if found:
            expected, line, saw = (int(g) for g in found.groups())
            raise DataError(
                source,
                f"has {saw} fields where the header has {expected}",
                row=line - 1,
            ) from None
        raise DataError(source, f"is not valid CSV ({_one_line(exc)})") from None
    except (ValueError, csv.Error, OverflowError, MemoryError) as exc:
        raise DataError(source, f"is not valid CSV ({_one_line(exc)})") from None
    header = [str(c) for c in frame.iloc[0].tolist()]
    body = frame.iloc[1:].reset_index(drop=True)
    return header, body


def _refuse_other_delimiters(text: str, source: str) -> None:
    """A header that is one column holding ';' or tabs: the file uses another delimiter.

    Spreadsheets in locales with a decimal comma export ';'-separated "CSV"; read as
    comma-separated it is one column named e.g. ``Model;MMLU;GSM8K``.
    """
    first = next((line for line in text.splitlines() if line.strip()), "")
    if "," in first:
        return
    for delimiter, name, decimal in ((";", "';'", ", decimal=','"), ("\t", "tab", "")):
        if delimiter in first:
            raise DataError(
                source,
                f"the header is one column ({_show(first.strip())}): the file looks "
                f"{name}-delimited; save it comma-separated (e.g. pandas.read_csv(path, "
                f"sep={delimiter!r}{decimal}).to_csv(new_path, index=False))",
                row=0,
            )


def _parse_parquet(raw: bytes, source: str) -> tuple[list[Any], pd.DataFrame]:
    try:
        frame = pd.read_parquet(io.BytesIO(raw))
    except (pa.ArrowException, OSError, ValueError, TypeError, KeyError) as exc:
        raise DataError(source, f"is not a readable Parquet file ({_one_line(exc)})") from None
    if frame.index.name in {MODEL, "model"}:
        frame = frame.reset_index()  # written with the model names as index
    return list(frame.columns), frame.reset_index(drop=True)


# --- building the dataset ------------------------------------------------------------------


def _build(
    header: Sequence[Any],
    body: pd.DataFrame,
    source: str,
    layout: Literal["wide", "long"] | None,
    percent: bool,
    ranges: Ranges | None,
    registry: Registry | None,
    item_counts: _ItemCounts | None = None,
    min_models: int = MIN_MODELS_PER_BENCHMARK,
    linear: Sequence[str] = (),
) -> xr.Dataset:
    columns = _clean_columns(header, body, source)
    # Positional access from here on: column labels may have been duplicates or non-str.
    cells = {name: body.iloc[:, pos] for pos, name in columns}
    blank = np.ones(len(body), dtype=bool)
    for series in cells.values():
        blank &= _blank_mask(series)
    keep = np.flatnonzero(~blank)
    rows = keep + 1  # 1-based: the header is row 0
    cells = {name: series.iloc[keep].reset_index(drop=True) for name, series in cells.items()}
    names = list(cells)

    if not names:
        raise DataError(source, "table has no columns")
    if layout is None:
        layout = _detect_layout(names, source)
    elif layout == "wide" and MODEL not in names:
        raise DataError(source, _no_model_message(names, long_ok=False))
    if layout == "long":
        missing = _LONG_REQUIRED - set(names)
        if missing:
            raise DataError(
                source,
                f"a long table needs columns model, benchmark, score (missing: "
                f"{', '.join(sorted(missing))})",
            )
    if len(rows) == 0:
        raise DataError(source, "table has no data rows")
    if layout == "wide":
        table = _wide(cells, rows, source)
    else:
        table = _long(cells, rows, source)
    if item_counts is not None:
        table = _with_item_counts(table, item_counts, source)
    return _assemble(table, source, percent, ranges, registry, min_models, linear)


def _read_item_counts(path: Path) -> _ItemCounts:
    """Parse an item-count file (``benchmark, n_items``); rows counted as in a table."""
    source = os.fspath(path)
    header, body = _parse_bytes(read_bytes(path, source), source, path.suffix.lower())
    names = ["" if _is_blank(h) else str(h).strip() for h in header]
    if sorted(names) != sorted(_N_ITEMS_COLUMNS):
        raise DataError(
            source,
            f"an item-count file has exactly the columns {', '.join(_N_ITEMS_COLUMNS)} "
            f"(found: {', '.join(map(repr, names))})",
            row=0,
        )
    benchmarks = body.iloc[:, names.index("benchmark")].tolist()
    items = body.iloc[:, names.index("n_items")].tolist()
    out: dict[str, tuple[float, int]] = {}
    for k, (name, value) in enumerate(zip(benchmarks, items, strict=True)):
        row = k + 1
        if _is_blank(name) and _is_blank(value):
            continue
        if _is_blank(name):
            raise DataError(source, "empty benchmark name", row=row, column="benchmark")
        name = str(name).strip()
        number = _number(value, "n_items")
        if isinstance(number, str):
            raise DataError(source, number, row=row, column="n_items")
        if math.isnan(number) or number < 1 or number != round(number):
            shown = "empty n_items" if math.isnan(number) else f"n_items {number:.6g}"
            raise DataError(source, f"{shown} is not a positive integer", row=row, column="n_items")
        if name in out:
            raise DataError(
                source,
                f"benchmark {name!r} listed twice (rows {out[name][1]} and {row})",
                row=row,
                column="benchmark",
            )
        out[name] = (float(number), row)
    return source, out


def _with_item_counts(table: _Table, counts: _ItemCounts, source: str) -> _Table:
    """``table`` with the item-count file's counts added (they must match the table's own)."""
    counts_source, entries = counts
    merged = dict(table.n_items)
    for name, (value, row) in entries.items():
        if name not in table.benchmarks:
            raise DataError(
                counts_source,
                f"benchmark {name!r} is not a column of {source}",
                row=row,
                column="benchmark",
            )
        if name in merged and merged[name] != value:
            raise DataError(
                counts_source,
                f"n_items {value:.0f} for benchmark {name!r} differs from {merged[name]:.0f} "
                f"in {source}",
                row=row,
                column="n_items",
            )
        merged[name] = value
    return dataclasses.replace(table, n_items=merged)


def _clean_columns(header: Sequence[Any], body: pd.DataFrame, source: str) -> list[tuple[int, str]]:
    """Column names, stripped; nameless empty columns dropped; duplicates refused."""
    seen: dict[str, int] = {}
    out: list[tuple[int, str]] = []
    for pos, label in enumerate(header):
        name = "" if _is_blank(label) else str(label).strip()
        if not name:
            # Spreadsheets often export a trailing nameless, empty column: harmless.
            if bool(_blank_mask(body.iloc[:, pos]).all()):
                continue
            raise DataError(source, f"column {pos + 1} has values but no name", row=0)
        if name in seen:
            raise DataError(
                source,
                f"duplicate column name (columns {seen[name] + 1} and {pos + 1})",
                row=0,
                column=name,
            )
        seen[name] = pos
        out.append((pos, name))
    return out


def _detect_layout(names: Sequence[str], source: str) -> Literal["wide", "long"]:
    if MODEL in names:
        return "wide"
    if _LONG_REQUIRED <= set(names):
        return "long"
    raise DataError(source, _no_model_message(names, long_ok=True))


def _no_model_message(names: Sequence[str], *, long_ok: bool) -> str:
    if long_ok:
        message = "no 'Model' column (wide format) and no 'model, benchmark, score' columns"
    else:
        message = "no 'Model' column"
    lowered = {n.lower(): n for n in names}
    if not long_ok and _LONG_REQUIRED <= set(names):
        message += " (it has the long format's columns: use from_long)"
    elif "model" in lowered:
        message += f" (found {lowered['model']!r}; the wide format's column is 'Model')"
    return message


@dataclasses.dataclass(frozen=True)
class _Table:
    """Parsed but not yet range-checked content, common to both layouts."""

    models: list[str]
    families: list[str]
    # PARAMS/TOKENS/FLOPS -> floats in the table's units; RELEASE (if given) in decimal years
    meta: dict[str, np.ndarray]
    benchmarks: list[str]
    raw: np.ndarray  # (model, benchmark) raw scores, NaN = unobserved
    # (i, j) -> (row, column, what): where a cell of ``raw`` sits in the file.
    locate: Callable[[int, int], tuple[int, str, str]]
    n_items: dict[str, float]  # per-benchmark item counts given by the table itself


def _wide(cells: dict[str, pd.Series], rows: np.ndarray, source: str) -> _Table:
    models = _names(cells[MODEL], rows, source, MODEL, "model name")
    _refuse_duplicates(models, rows, source)
    if FAMILY in cells:
        families = [
            m if _is_blank(f) else str(f).strip()
            for m, f in zip(models, cells[FAMILY].tolist(), strict=True)
        ]
    else:
        families = list(models)  # no family column: each model is its own family
    benchmarks = [n for n in cells if n not in METADATA]
    if not benchmarks:
        raise DataError(source, "no benchmark columns (only model metadata)")
    numeric = [n for n in cells if n not in (MODEL, FAMILY, RELEASE)]
    values, problems = {}, []
    for pos, name in enumerate(numeric):
        what = "score" if name in benchmarks else "value"
        values[name], bad = _numbers(cells[name], what)
        if bad is not None:
            problems.append((int(rows[bad[0]]), pos, name, bad[1]))
    _raise_first(problems, source)
    meta = {}
    for pos, name in enumerate((PARAMS, TOKENS, FLOPS)):
        column = values.get(name, np.full(len(models), np.nan))
        nonpositive = np.flatnonzero(column <= 0)
        if nonpositive.size:
            i = nonpositive[0]
            message = f"value {column[i]:.6g} must be positive (leave the cell empty if unknown)"
            problems.append((int(rows[i]), pos, name, message))
        meta[name] = column
    if RELEASE in cells:
        dates, bad = _dates(cells[RELEASE])
        if bad is not None:
            problems.append((int(rows[bad[0]]), len(numeric), RELEASE, bad[1]))
        meta[RELEASE] = dates
    _raise_first(problems, source)
    raw = np.column_stack([values[b] for b in benchmarks])

    def locate(i: int, j: int) -> tuple[int, str, str]:
        return int(rows[i]), benchmarks[j], "score"

    return _Table(models, families, meta, benchmarks, raw, locate, {})


def _long(cells: dict[str, pd.Series], rows: np.ndarray, source: str) -> _Table:
    unexpected = [n for n in cells if n not in LONG_COLUMNS]
    if unexpected:
        raise DataError(
            source,
            "unexpected column in a long table (allowed: model, benchmark, score, n_items)",
            row=0,
            column=unexpected[0],
        )
    model_of = _names(cells["model"], rows, source, "model", "model name")
    bench_of = _names(cells["benchmark"], rows, source, "benchmark", "benchmark name")
    problems: list[_Problem] = []
    score, bad = _numbers(cells["score"], "score")
    if bad is not None:
        problems.append((int(rows[bad[0]]), 2, "score", bad[1]))
    items = np.full(len(rows), np.nan)
    if "n_items" in cells:
        items, bad = _numbers(cells["n_items"], "n_items")
        if bad is not None:
            problems.append((int(rows[bad[0]]), 3, "n_items", bad[1]))
        wrong = np.flatnonzero(~np.isnan(items) & ((items < 1) | (items != np.round(items))))
        if wrong.size:
            i = wrong[0]
            problems.append(
                (int(rows[i]), 3, "n_items", f"n_items {items[i]:.6g} is not a positive integer")
            )
    _raise_first(problems, source)

    models = list(dict.fromkeys(model_of))
    benchmarks = list(dict.fromkeys(bench_of))
    m_index = {m: i for i, m in enumerate(models)}
    b_index = {b: j for j, b in enumerate(benchmarks)}
    raw = np.full((len(models), len(benchmarks)), np.nan)
    where = np.zeros(raw.shape, dtype=int)
    n_items: dict[str, float] = {}
    n_items_row: dict[str, int] = {}
    for k, (m, b) in enumerate(zip(model_of, bench_of, strict=True)):
        i, j = m_index[m], b_index[b]
        if where[i, j]:
            raise DataError(
                source,
                f"model {m!r} has two scores for benchmark {b!r} (rows {where[i, j]} and "
                f"{rows[k]})",
                row=int(rows[k]),
            )
        where[i, j] = rows[k]
        raw[i, j] = score[k]
        if not np.isnan(items[k]):
            if b in n_items and n_items[b] != items[k]:
                raise DataError(
                    source,
                    f"n_items {items[k]:.0f} for benchmark {b!r} differs from "
                    f"{n_items[b]:.0f} in row {n_items_row[b]}",
                    row=int(rows[k]),
                    column="n_items",
                )
            n_items[b] = float(items[k])
            n_items_row.setdefault(b, int(rows[k]))

    def locate(i: int, j: int) -> tuple[int, str, str]:
        return int(where[i, j]), "score", f"score for {benchmarks[j]!r}"

    nan = np.full(len(models), np.nan)
    meta = {PARAMS: nan, TOKENS: nan.copy(), FLOPS: nan.copy()}
    return _Table(models, list(models), meta, benchmarks, raw, locate, n_items)


def _assemble(
    table: _Table,
    source: str,
    percent: bool,
    ranges: Ranges | None,
    registry: Registry | None,
    min_models: int = MIN_MODELS_PER_BENCHMARK,
    linear: Sequence[str] = (),
) -> xr.Dataset:
    registry = Registry.default() if registry is None else registry
    is_linear = _linear_columns(table.benchmarks, linear, ranges, registry, source)
    bounds = _resolve_ranges(table.benchmarks, percent, ranges, source)
    raw = table.raw
    with np.errstate(invalid="ignore"):
        for j in np.flatnonzero(is_linear):
            # Standardised on the observed values: the model's loadings and noise priors
            # are on that scale, and lower + score * (upper - lower) maps back.
            col = raw[:, j][np.isfinite(raw[:, j])]
            centre = float(col.mean()) if col.size else 0.0
            spread = float(col.std()) if col.size > 1 and col.std() > 0 else 1.0
            bounds[table.benchmarks[j]] = (centre, centre + spread)
    lower = np.array([bounds[b][0] for b in table.benchmarks])
    upper = np.array([bounds[b][1] for b in table.benchmarks])
    width = upper - lower
    slack = _RANGE_TOLERANCE * width
    with np.errstate(invalid="ignore"):
        outside = ((raw < lower - slack) | (raw > upper + slack)) & ~is_linear
    if outside.any():
        _raise_out_of_range(table, outside, bounds, percent, ranges, source)
    if percent:
        _refuse_shares_as_percent(table, ranges, source)
    score = np.where(is_linear, (raw - lower) / width, np.clip((raw - lower) / width, 0.0, 1.0))

    counts = (~np.isnan(score)).sum(axis=0)
    for j, name in enumerate(table.benchmarks):
        if counts[j] < min_models:
            raise DataError(
                source,
                f"benchmark observed for only {counts[j]} model(s); at least "
                f"{min_models} are needed",
                column=name,
            )

    # Registry lookups come last so that a rejected table emits no unknown-benchmark
    # warnings; a declared linear column needs no registry entry.
    infos = [
        BenchmarkInfo(b, linear=True) if lin else registry.lookup(b)
        for b, lin in zip(table.benchmarks, is_linear, strict=True)
    ]
    n_items = np.array(
        [
            np.nan
            if lin
            else table.n_items.get(
                b,
                np.nan if info.continuous or info.n_items is None else float(info.n_items),
            )
            for b, info, lin in zip(table.benchmarks, infos, is_linear, strict=True)
        ]
    )
    floor = np.array([0.0 if lin else i.floor for i, lin in zip(infos, is_linear, strict=True)])
    ceiling = np.array([1.0 if lin else i.ceiling for i, lin in zip(infos, is_linear, strict=True)])

    params, tokens = table.meta[PARAMS], table.meta[TOKENS]
    flops = table.meta[FLOPS] * _FLOPS_UNIT
    derive = np.isnan(flops) & ~np.isnan(params) & ~np.isnan(tokens)
    # Kaplan's C = 6 N D for a dense transformer: the table's own convention.
    flops = np.where(derive, 6.0 * params * _PARAMS_UNIT * tokens * _TOKENS_UNIT, flops)

    extra = {}
    if RELEASE in table.meta:
        extra["release"] = ("model", table.meta[RELEASE].astype(float))
    return xr.Dataset(
        {"score": (("model", "benchmark"), score)},
        coords={
            **extra,
            "model": np.asarray(table.models, dtype=str),
            "family": ("model", np.asarray(table.families, dtype=str)),
            "params": ("model", params.astype(float)),
            "tokens": ("model", tokens.astype(float)),
            "flops": ("model", flops.astype(float)),
            "benchmark": np.asarray(table.benchmarks, dtype=str),
            "floor": ("benchmark", floor.astype(float)),
            "ceiling": ("benchmark", ceiling.astype(float)),
            "n_items": ("benchmark", n_items.astype(float)),
            "linear": ("benchmark", is_linear.astype(bool)),
            "lower": ("benchmark", lower.astype(float)),
            "upper": ("benchmark", upper.astype(float)),
        },
        attrs={"source": source},
    )


def _linear_columns(
    benchmarks: Sequence[str],
    linear: Sequence[str],
    ranges: Ranges | None,
    registry: Registry,
    source: str,
) -> np.ndarray:
    """Which benchmark columns are linear: declared, or ``linear`` in the registry."""
    for name in linear:
        if name not in benchmarks:
            raise DataError(source, "--linear names a column that is not a benchmark", column=name)
        if name in (ranges or {}):
            raise DataError(
                source, "a column is either linear or has a --range, not both", column=name
            )
    known = [registry.canonical(b) for b in benchmarks]
    return np.array(
        [
            b in linear or (c is not None and registry[c].linear and b not in (ranges or {}))
            for b, c in zip(benchmarks, known, strict=True)
        ],
        dtype=bool,
    )


def _resolve_ranges(
    benchmarks: Sequence[str], percent: bool, ranges: Ranges | None, source: str
) -> dict[str, tuple[float, float]]:
    default = (0.0, 100.0) if percent else (0.0, 1.0)
    out = dict.fromkeys(benchmarks, default)
    for name, bound in (ranges or {}).items():
        if name not in out:
            raise DataError(
                source, "a range is declared for a column that is not a benchmark", column=name
            )
        try:
            lo, hi = (float(v) for v in bound)
        except (TypeError, ValueError):
            raise DataError(
                source, f"declared range {bound!r} is not a (lower, upper) pair", column=name
            ) from None
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise DataError(
                source, f"declared range ({lo:g}, {hi:g}) needs lower < upper", column=name
            )
        out[name] = (lo, hi)
    return out


def _raise_out_of_range(
    table: _Table,
    outside: np.ndarray,
    bounds: dict[str, tuple[float, float]],
    percent: bool,
    ranges: Ranges | None,
    source: str,
) -> None:
    problems: list[_Problem] = []
    for j, name in enumerate(table.benchmarks):
        hits = np.flatnonzero(outside[:, j])
        if not hits.size:
            continue
        i = hits[0]
        row, column, what = table.locate(i, j)
        lo, hi = bounds[name]
        message = f"{what} {table.raw[i, j]:.6g} is outside [{lo:g}, {hi:g}]"
        column_values = table.raw[:, j][~np.isnan(table.raw[:, j])]
        declared = percent or name in (ranges or {})
        top = column_values.max()
        if not declared and column_values.min() >= 0 and 1 < top <= 100:
            message += (
                f"; the values look like percentages (max {top:.6g}): "
                "use --percent (percent=True) for scores on 0-100"
            )
        problems.append((row, j, column, message))
    _raise_first(problems, source)


def _refuse_shares_as_percent(table: _Table, ranges: Ranges | None, source: str) -> None:
    """``percent`` on a column whose every value is already within [0, 1] is refused.

    Dividing shares by 100 again would silently turn a 0.6 into 0.006; a column that
    really holds percentages below 1% can say so with its own range (``--range COL=0:100``).
    """
    declared = set(ranges or {})
    for j, name in enumerate(table.benchmarks):
        values = table.raw[:, j][~np.isnan(table.raw[:, j])]
        if name in declared or not values.size or values.min() < 0 or values.max() > 1:
            continue
        raise DataError(
            source,
            f"--percent (percent=True) says the scores are on 0-100, but every value is "
            f"within [0, 1] (max {values.max():.6g}): they look like shares already; drop "
            f"--percent, or declare --range '{name}=0:100' if they are percentages below 1",
            column=name,
        )


# --- cells -----------------------------------------------------------------------------------


def _is_blank(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return bool(np.isnan(value))
    if isinstance(value, str):
        return not value.strip()
    return False


def _blank_mask(series: pd.Series) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        return series.isna().to_numpy()
    return np.fromiter((_is_blank(v) for v in series.tolist()), dtype=bool, count=len(series))


def _names(series: pd.Series, rows: np.ndarray, source: str, column: str, what: str) -> list[str]:
    out = []
    for k, value in enumerate(series.tolist()):
        if _is_blank(value):
            raise DataError(source, f"empty {what}", row=int(rows[k]), column=column)
        out.append(str(value).strip())
    return out


def _refuse_duplicates(models: list[str], rows: np.ndarray, source: str) -> None:
    first: dict[str, int] = {}
    for k, name in enumerate(models):
        if name in first:
            raise DataError(
                source,
                f"duplicate model {name!r} (rows {first[name]} and {rows[k]})",
                row=int(rows[k]),
                column=MODEL,
            )
        first[name] = int(rows[k])


def _numbers(series: pd.Series, what: str) -> tuple[np.ndarray, tuple[int, str] | None]:
    """Floats of a column (NaN = empty) and the first bad cell as (position, message)."""
    dtype = series.dtype
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        values = series.to_numpy(dtype=float, na_value=np.nan)
        infinite = np.flatnonzero(np.isinf(values))
        if infinite.size:
            k = infinite[0]
            return values, (int(k), _not_finite(what, repr(float(values[k]))))
        return values, None
    out = np.full(len(series), np.nan)
    for k, value in enumerate(series.tolist()):
        parsed = _number(value, what)
        if isinstance(parsed, str):
            return out, (k, parsed)
        out[k] = parsed
    return out, None


def _number(value: Any, what: str) -> float | str:
    """The float in a cell (NaN when empty) or a message saying why it is not one."""
    if _is_blank(value):
        return math.nan
    if isinstance(value, bool | np.bool_):
        return f"{what} {value!r} is not a number"
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            hint = ""
            if text.lower() in _MISSING_WORDS:
                hint = "; leave the cell empty for an unknown value"
            elif text.endswith("%"):
                hint = "; drop the % sign and use --percent"
            return f"{what} {_show(text)} is not a number{hint}"
        if not math.isfinite(number):
            return _not_finite(what, _show(text))
        return number
    if isinstance(value, numbers.Real):
        try:
            number = float(value)
        except (OverflowError, ValueError):
            return f"{what} {_show(value)} is not a representable number"
        if math.isnan(number):
            return math.nan  # a NaN float in a frame is how pandas spells "missing"
        if math.isinf(number):
            return _not_finite(what, _show(value))
        return number
    return f"{what} {_show(value)} is not a number"


def decimal_year(day: datetime.date) -> float:
    """A date as a decimal year: 1 January is ``year + 0``.

    Examples
    --------
    >>> decimal_year(datetime.date(2024, 7, 2))
    2024.5
    """
    start = datetime.date(day.year, 1, 1)
    days = (datetime.date(day.year + 1, 1, 1) - start).days
    return day.year + (day - start).days / days


def iso_date(year: float) -> str:
    """The ISO date of a decimal year (empty for NaN); the inverse of :func:`decimal_year`.

    Examples
    --------
    >>> iso_date(2024.5), iso_date(float("nan"))
    ('2024-07-02', '')
    """
    if not math.isfinite(year):
        return ""
    whole = math.floor(year)
    start = datetime.date(whole, 1, 1)
    days = (datetime.date(whole + 1, 1, 1) - start).days
    return (start + datetime.timedelta(days=round((year - whole) * days))).isoformat()


def _dates(series: pd.Series) -> tuple[np.ndarray, tuple[int, str] | None]:
    """Decimal years of a release-date column (NaN = empty) and the first bad cell."""
    out = np.full(len(series), np.nan)
    for k, value in enumerate(series.tolist()):
        parsed = _date(value)
        if isinstance(parsed, str):
            return out, (k, parsed)
        out[k] = parsed
    return out, None


def _date(value: Any) -> float | str:
    """A release date in decimal years (NaN when empty) or why the cell is not one."""
    if _is_blank(value):
        return math.nan
    if isinstance(value, datetime.date):  # also pandas Timestamps and datetimes
        return decimal_year(value if type(value) is datetime.date else value.date())
    hint = "; use an ISO date such as 2023-07-18 (or 2023-07, 2023, 2023.5)"
    if isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip()
        match = re.fullmatch(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?", text)
        if match:
            year, month, day = (int(g) if g else 1 for g in match.groups())
            try:
                return decimal_year(datetime.date(year, month, day))
            except ValueError:
                return f"release date {_show(text)} is not a calendar date{hint}"
        try:
            number = float(text)
        except ValueError:
            return f"release date {_show(text)} is not a date{hint}"
    else:
        return f"release date {_show(value)} is not a date{hint}"
    if not (_YEARS[0] <= number <= _YEARS[1]):
        return f"release date {_show(value)} is not a year from {_YEARS[0]} to {_YEARS[1]}{hint}"
    return number


def _not_finite(what: str, shown: str) -> str:
    return f"{what} {shown} is not a finite number; leave the cell empty for an unknown value"


def _show(value: Any, limit: int = 40) -> str:
    # repr() escapes newlines, keeping the message on one line.
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _raise_first(problems: list[_Problem], source: str) -> None:
    if problems:
        row, _, column, message = min(problems)
        raise DataError(source, message, row=row, column=column)
