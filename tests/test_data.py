"""Reading tables into the tidy dataset: exact small fixtures, formats, round trips."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from bayes_scaling.data import from_long, from_wide, n_items_path, read_table, summarize, to_wide
from bayes_scaling.errors import DataError
from bayes_scaling.registry import Registry, UnknownBenchmarkWarning

WIDE_CSV = """\
Model,Model Family,Model Size (B),Pretraining Data Size (T),FLOPs (1E21),MMLU,TruthfulQA,GSM8K
a-7b,A,7,2,84,0.45,0.39,0.15
a-13b,A,13,2,,0.55,,0.23
b-1b,B,1,,,0.26,0.41,0.02
closed,,,,,0.86,0.59,0.92
"""

CONTRACT_COORDS = {
    "model",
    "family",
    "params",
    "tokens",
    "flops",
    "benchmark",
    "floor",
    "ceiling",
    "n_items",
    "linear",
    "lower",
    "upper",
}


def check_contract(ds: xr.Dataset) -> None:
    """The tidy-dataset contract of docs/architecture.md."""
    assert set(ds.dims) == {"model", "benchmark"}
    assert set(ds.coords) == CONTRACT_COORDS
    assert list(ds.data_vars) == ["score"]
    assert ds["score"].dims == ("model", "benchmark")
    assert ds["score"].dtype == np.float64
    for name in ("params", "tokens", "flops"):
        assert ds[name].dims == ("model",) and ds[name].dtype == np.float64
    assert ds["linear"].dims == ("benchmark",) and ds["linear"].dtype == bool
    for name in ("floor", "ceiling", "n_items", "lower", "upper"):
        assert ds[name].dims == ("benchmark",) and ds[name].dtype == np.float64
    assert ds["family"].dims == ("model",)
    scores = ds["score"].values
    assert np.all(np.isnan(scores) | ((scores >= 0) & (scores <= 1)))
    assert len(set(ds["model"].values.tolist())) == ds.sizes["model"]
    assert isinstance(ds.attrs["source"], str)


def test_from_wide_exact() -> None:
    ds = from_wide(pd.read_csv(__import__("io").StringIO(WIDE_CSV)))
    check_contract(ds)
    assert ds["model"].values.tolist() == ["a-7b", "a-13b", "b-1b", "closed"]
    assert ds["family"].values.tolist() == ["A", "A", "B", "closed"]
    assert ds["benchmark"].values.tolist() == ["MMLU", "TruthfulQA", "GSM8K"]
    np.testing.assert_array_equal(ds["params"].values, [7, 13, 1, np.nan])
    np.testing.assert_array_equal(ds["tokens"].values, [2, 2, np.nan, np.nan])
    # 84e21 from the column; 6 * 13e9 * 2e12 derived; NaN where a factor is unknown.
    np.testing.assert_allclose(ds["flops"].values, [8.4e22, 1.56e23, np.nan, np.nan])
    np.testing.assert_array_equal(ds["floor"].values, [0.25, 0.0, 0.0])
    np.testing.assert_array_equal(ds["n_items"].values, [14042, np.nan, 1319])
    np.testing.assert_array_equal(ds["ceiling"].values, [1, 1, 1])
    np.testing.assert_array_equal(ds["lower"].values, [0, 0, 0])
    np.testing.assert_array_equal(ds["upper"].values, [1, 1, 1])
    assert ds["score"].sel(model="a-13b", benchmark="GSM8K").item() == 0.23
    assert math.isnan(ds["score"].sel(model="a-13b", benchmark="TruthfulQA").item())
    assert ds.attrs == {"source": "<dataframe>"}


def test_read_table_csv_matches_from_wide(write_table: Callable[..., Path]) -> None:
    path = write_table(WIDE_CSV, "wide.csv")
    ds = read_table(path)
    expected = from_wide(pd.read_csv(path), source=str(path))
    xr.testing.assert_identical(ds, expected)
    assert ds.attrs["source"] == str(path)


def test_without_family_each_model_is_its_own_family() -> None:
    ds = from_wide(pd.DataFrame({"Model": ["x", "y", "z"], "GSM8K": [0.1, 0.2, 0.3]}))
    assert ds["family"].values.tolist() == ["x", "y", "z"]
    assert np.isnan(ds["flops"].values).all()


def test_from_long_exact() -> None:
    df = pd.DataFrame(
        {
            "model": ["m1", "m1", "m2", "m3", "m2", "m3", "m4", "m4"],
            "benchmark": [
                "GSM8K",
                "Custom",
                "GSM8K",
                "GSM8K",
                "Custom",
                "Custom",
                "Custom",
                "GSM8K",
            ],
            "score": [0.1, 0.5, 0.2, 0.3, 0.6, 0.7, 0.8, None],
            "n_items": [None, 40, None, None, 40, None, None, None],
        }
    )
    with pytest.warns(UnknownBenchmarkWarning, match="'Custom'"):
        ds = from_long(df)
    check_contract(ds)
    assert ds["model"].values.tolist() == ["m1", "m2", "m3", "m4"]
    assert ds["benchmark"].values.tolist() == ["GSM8K", "Custom"]
    np.testing.assert_array_equal(
        ds["score"].values, [[0.1, 0.5], [0.2, 0.6], [0.3, 0.7], [np.nan, 0.8]]
    )
    # The table's n_items wins over the registry; the registry fills the rest.
    np.testing.assert_array_equal(ds["n_items"].values, [1319, 40])
    assert ds["family"].values.tolist() == ["m1", "m2", "m3", "m4"]


def test_long_table_needs_three_models_per_benchmark() -> None:
    df = pd.DataFrame(
        {
            "model": ["a", "b", "c"],
            "benchmark": ["GSM8K", "GSM8K", "MMLU"],
            "score": [0.1, 0.2, 0.3],
        }
    )
    with pytest.raises(DataError, match="observed for only 2 model") as info:
        from_long(df)
    assert info.value.column == "GSM8K"


def test_long_csv_is_detected(write_table: Callable[..., Path]) -> None:
    text = "model,benchmark,score\n" + "".join(f"m{i},GSM8K,0.{i}\n" for i in range(1, 4))
    ds = read_table(write_table(text))
    assert ds.sizes == {"model": 3, "benchmark": 1}


def test_percent_and_ranges() -> None:
    df = pd.DataFrame(
        {
            "Model": ["a", "b", "c"],
            "GSM8K": [10.0, 50.0, 100.0],
            "HumanEval": [0.0, 5.0, 10.0],
            "MMLU": [-1.0, 0.0, 1.0],
        }
    )
    ds = from_wide(df, percent=True, ranges={"HumanEval": (0, 10), "MMLU": (-1, 1)})
    np.testing.assert_allclose(ds["score"].values, [[0.1, 0, 0], [0.5, 0.5, 0.5], [1, 1, 1]])
    np.testing.assert_array_equal(ds["lower"].values, [0, 0, -1])
    np.testing.assert_array_equal(ds["upper"].values, [100, 10, 1])
    back = to_wide(ds)
    columns = ["GSM8K", "HumanEval", "MMLU"]
    np.testing.assert_allclose(back[columns].to_numpy(float), df[columns].to_numpy(float))


def test_to_wide_columns_and_units() -> None:
    ds = from_wide(pd.read_csv(__import__("io").StringIO(WIDE_CSV)))
    out = to_wide(ds)
    assert list(out.columns) == [
        "Model",
        "Model Family",
        "Model Size (B)",
        "Pretraining Data Size (T)",
        "FLOPs (1E21)",
        "MMLU",
        "TruthfulQA",
        "GSM8K",
    ]
    np.testing.assert_allclose(out["FLOPs (1E21)"].values, [84, 156, np.nan, np.nan])


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_round_trip(tmp_path: Path, suffix: str) -> None:
    df = pd.DataFrame(
        {
            "Model": ["a", "b", "c", "d"],
            "Model Family": ["F", "F", "G", "H"],
            "Model Size (B)": [1.0, 2.0, np.nan, 4.0],
            "Pretraining Data Size (T)": [1.0, 1.0, 3.0, np.nan],
            "GSM8K": [12.5, np.nan, 50.0, 75.0],
            "TruthfulQA": [30.0, 40.0, 50.0, 60.0],
        }
    )
    ds = from_wide(df, percent=True)
    path = tmp_path / f"t{suffix}"
    out = to_wide(ds)
    if suffix == ".csv":
        out.to_csv(path, index=False)
    else:
        out.to_parquet(path, index=False)
    back = read_table(path, percent=True)
    xr.testing.assert_allclose(back.drop_attrs(), ds.drop_attrs(), rtol=1e-12)
    assert back["model"].values.tolist() == ds["model"].values.tolist()
    assert back["family"].values.tolist() == ["F", "F", "G", "H"]


def test_parquet_is_recognised_by_content(tmp_path: Path) -> None:
    df = pd.DataFrame({"Model": ["a", "b", "c"], "GSM8K": [0.1, 0.2, 0.3]})
    path = tmp_path / "no_extension"
    df.to_parquet(path)
    assert read_table(path).sizes == {"model": 3, "benchmark": 1}


def test_blank_lines_bom_whitespace_and_trailing_comma(write_table: Callable[..., Path]) -> None:
    text = "\ufeffModel, GSM8K ,\n a ,0.1,\n\nb, 0.2 ,\nc,,\nd,0.4,\n,,\n"
    ds = read_table(write_table(text))
    assert ds["model"].values.tolist() == ["a", "b", "c", "d"]
    assert ds["benchmark"].values.tolist() == ["GSM8K"]
    np.testing.assert_array_equal(ds["score"].values[:, 0], [0.1, 0.2, np.nan, 0.4])


def test_error_rows_count_blank_lines(write_table: Callable[..., Path]) -> None:
    # Row 4 is the 4th line after the header, blank line included.
    text = "Model,GSM8K\na,0.1\n\nb,0.2\nc,oops\n"
    with pytest.raises(DataError) as info:
        read_table(write_table(text))
    assert (info.value.row, info.value.column) == (4, "GSM8K")
    assert "'oops' is not a number" in str(info.value)


def test_first_problem_in_reading_order_is_reported() -> None:
    df = pd.DataFrame({"Model": ["a", "b", "c"], "GSM8K": [0.1, "x", 0.3], "MMLU": ["y", 0.2, 0.3]})
    with pytest.raises(DataError) as info:
        from_wide(df)
    assert (info.value.row, info.value.column) == (1, "MMLU")


@pytest.mark.parametrize(
    ("frame", "words"),
    [
        ({"model": ["a"], "GSM8K": [0.1]}, "no 'Model' column (found 'model'"),
        (
            {"Model": ["a", "a", "b"], "GSM8K": [0.1, 0.2, 0.3]},
            "duplicate model 'a' (rows 1 and 2)",
        ),
        ({"Model": ["a", "b", "c"]}, "no benchmark columns"),
        ({"Model": ["a", None, "c"], "GSM8K": [0.1, 0.2, 0.3]}, "empty model name"),
        ({"Model": ["a", "b", "c"], "GSM8K": [0.1, np.inf, 0.3]}, "not a finite number"),
        ({"Model": ["a", "b", "c"], "GSM8K": [0.1, "nan", 0.3]}, "not a finite number"),
        ({"Model": ["a", "b", "c"], "GSM8K": [0.1, "NA", 0.3]}, "leave the cell empty"),
        ({"Model": ["a", "b", "c"], "GSM8K": [0.1, True, 0.3]}, "not a number"),
        ({"Model": ["a", "b", "c"], "GSM8K": ["10%", "20%", "30%"]}, "drop the % sign"),
        ({"Model": ["a", "b", "c"], "GSM8K": [0.1, 0.2, 1.5]}, "outside [0, 1]"),
        (
            {"Model": ["a", "b", "c"], "Model Size (B)": [1, 0, 2], "GSM8K": [0.1, 0.2, 0.3]},
            "must be positive",
        ),
    ],
)
def test_from_wide_errors(frame: dict, words: str) -> None:
    with pytest.raises(DataError) as info:
        from_wide(pd.DataFrame(frame))
    assert words in str(info.value)
    assert "\n" not in str(info.value)


def test_empty_frames_are_refused() -> None:
    with pytest.raises(DataError, match="no data rows"):
        from_wide(pd.DataFrame({"Model": [], "GSM8K": []}))
    with pytest.raises(DataError, match="no columns"):
        from_wide(pd.DataFrame())


def test_bad_declared_ranges() -> None:
    df = pd.DataFrame({"Model": ["a", "b", "c"], "GSM8K": [0.1, 0.2, 0.3]})
    with pytest.raises(DataError, match="not a benchmark"):
        from_wide(df, ranges={"Nope": (0, 1)})
    with pytest.raises(DataError, match="lower < upper"):
        from_wide(df, ranges={"GSM8K": (1, 0)})
    with pytest.raises(DataError, match="pair"):
        from_wide(df, ranges={"GSM8K": (0, 1, 2)})  # type: ignore[dict-item]


def test_out_of_declared_range() -> None:
    df = pd.DataFrame({"Model": ["a", "b", "c"], "GSM8K": [0.1, 0.2, 11.0]})
    with pytest.raises(DataError, match=r"score 11 is outside \[0, 10\]$") as info:
        from_wide(df, ranges={"GSM8K": (0, 10)})
    assert (info.value.row, info.value.column) == (3, "GSM8K")


def test_long_errors() -> None:
    base = {"model": ["a", "b", "c"], "benchmark": ["GSM8K"] * 3, "score": [0.1, 0.2, 0.3]}
    with pytest.raises(DataError, match=r"two scores for benchmark 'GSM8K' \(rows 1 and 2\)"):
        from_long(pd.DataFrame({**base, "model": ["a", "a", "c"]}))
    with pytest.raises(DataError, match="differs from 100 in row 1"):
        from_long(pd.DataFrame({**base, "n_items": [100, 100, 120]}))
    with pytest.raises(DataError, match="not a positive integer"):
        from_long(pd.DataFrame({**base, "n_items": [100, 100.5, 100]}))
    with pytest.raises(DataError, match="unexpected column") as info:
        from_long(pd.DataFrame({**base, "family": ["x"] * 3}))
    assert info.value.column == "family"
    with pytest.raises(DataError, match=r"missing: score"):
        from_long(pd.DataFrame({"model": ["a"], "benchmark": ["GSM8K"]}))
    with pytest.raises(DataError, match="use from_long"):
        from_wide(pd.DataFrame(base))


def test_registry_argument_is_used() -> None:
    reg = Registry.default().with_overrides({"Custom": {"floor": 0.5, "n_items": 10}})
    df = pd.DataFrame({"Model": ["a", "b", "c"], "Custom": [0.5, 0.6, 0.7]})
    ds = from_wide(df, registry=reg)
    assert ds["floor"].item() == 0.5 and ds["n_items"].item() == 10


def test_alias_keeps_the_table_column_name() -> None:
    df = pd.DataFrame({"Model": ["a", "b", "c"], "Winogrande": [0.6, 0.7, 0.8]})
    ds = from_wide(df)
    assert ds["benchmark"].values.tolist() == ["Winogrande"]
    assert ds["floor"].item() == 0.5 and ds["n_items"].item() == 1267


def test_rejected_table_emits_no_registry_warning() -> None:
    df = pd.DataFrame({"Model": ["a", "b", "c"], "Custom": [0.5, 0.6, 7.0]})
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DataError):
            from_wide(df)


def test_summarize_exact() -> None:
    ds = from_wide(pd.read_csv(__import__("io").StringIO(WIDE_CSV)))
    s = summarize(ds)
    assert s == {
        "source": "<dataframe>",
        "n_models": 4,
        "n_families": 3,
        "families": {"A": 2, "B": 1, "closed": 1},
        "n_benchmarks": 3,
        "benchmarks": {
            "MMLU": {
                "observed": 4,
                "missing": 0.0,
                "floor": 0.25,
                "n_items": 14042,
                "lower": 0.0,
                "upper": 1.0,
            },
            "TruthfulQA": {
                "observed": 3,
                "missing": 0.25,
                "floor": 0.0,
                "n_items": None,
                "lower": 0.0,
                "upper": 1.0,
            },
            "GSM8K": {
                "observed": 4,
                "missing": 0.0,
                "floor": 0.0,
                "n_items": 1319,
                "lower": 0.0,
                "upper": 1.0,
            },
        },
        "missing": pytest.approx(1 / 12),
        "models_without_compute": ["b-1b", "closed"],
        "models_without_scores": [],
    }


# --- the item-count file beside a table (TABLE.n_items.csv) ----------------------------------

ITEMS_TABLE = "Model,MMLU,GSM8K,MyEval\na,0.3,0.1,0.5\nb,0.4,0.2,0.6\nc,0.5,0.3,0.7\n"


def test_item_count_file_overrides_the_registry(write_table: Callable[..., Path]) -> None:
    path = write_table(ITEMS_TABLE, "mine.csv")
    counts = write_table("benchmark,n_items\nGSM8K,500\nMyEval,200\n", "mine.n_items.csv")
    assert n_items_path(path) == counts
    with pytest.warns(UnknownBenchmarkWarning):
        ds = read_table(path)
    np.testing.assert_array_equal(ds["n_items"].values, [14042, 500, 200])
    counts.write_text("benchmark,n_items\n")  # no rows: the registry's counts
    with pytest.warns(UnknownBenchmarkWarning):
        ds = read_table(path)
    np.testing.assert_array_equal(ds["n_items"].values, [14042, 1319, np.nan])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("benchmark,items\nGSM8K,500\n", ", row 0: an item-count file has exactly the columns"),
        ("benchmark,n_items\nGSM8K,12.5\n", ", row 1, column 'n_items': n_items 12.5 is not a"),
        ("benchmark,n_items\nGSM8K,\n", ", row 1, column 'n_items': empty n_items is not a"),
        ("benchmark,n_items\nGSM8K,many\n", ", row 1, column 'n_items': n_items 'many' is not"),
        ("benchmark,n_items\n,5\n", ", row 1, column 'benchmark': empty benchmark name"),
        (
            "benchmark,n_items\nGSM8K,5\n\nGSM8K,6\n",
            ", row 3, column 'benchmark': benchmark 'GSM8K' listed twice (rows 1 and 3)",
        ),
        ("benchmark,n_items\nARC-C,5\n", ", row 1, column 'benchmark': benchmark 'ARC-C' is not"),
        ("", ": file is empty"),
    ],
)
def test_item_count_file_errors(
    write_table: Callable[..., Path], content: str, message: str
) -> None:
    path = write_table(ITEMS_TABLE, "mine.csv")
    counts = write_table(content, "mine.n_items.csv")
    with pytest.raises(DataError) as info:
        read_table(path)
    assert str(info.value).startswith(f"{counts}{message}")


def test_item_count_file_must_agree_with_a_long_table(write_table: Callable[..., Path]) -> None:
    path = write_table(
        "model,benchmark,score,n_items\na,X,0.1,10\nb,X,0.2,10\nc,X,0.3,10\n", "long.csv"
    )
    write_table("benchmark,n_items\nX,10\n", "long.n_items.csv")
    with pytest.warns(UnknownBenchmarkWarning):
        assert read_table(path)["n_items"].values.tolist() == [10.0]
    counts = write_table("benchmark,n_items\nX,11\n", "long.n_items.csv")
    with pytest.raises(DataError) as info:
        read_table(path)
    assert str(info.value) == (
        f"{counts}, row 1, column 'n_items': n_items 11 for benchmark 'X' differs from 10 in {path}"
    )


def test_linear_columns_are_z_scores_and_map_back(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("Model,MMLU,Elo,Cost\na,0.3,1000,1\nb,0.4,1100,2\nc,0.5,,3\nd,,1200,4\n")
    ds = read_table(path, linear=["Elo", "Cost"])
    z = ds["score"].sel(benchmark="Elo").to_numpy()
    np.testing.assert_allclose(z[[0, 1, 3]], [-1.224744871, 0.0, 1.224744871])
    raw = ds["lower"] + ds["score"] * (ds["upper"] - ds["lower"])
    np.testing.assert_allclose(raw.sel(benchmark="Cost").to_numpy(), [1, 2, 3, 4])
    assert ds["linear"].to_numpy().tolist() == [False, True, True]
    assert np.isnan(ds["n_items"].sel(benchmark="Cost"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"linear": ["Nope"]}, "column 'Nope': --linear names a column that is not a benchmark"),
        (
            {"linear": ["Elo"], "ranges": {"Elo": (0, 2000)}},
            "column 'Elo': a column is either linear or has a --range",
        ),
    ],
)
def test_bad_linear_declarations(tmp_path: Path, kwargs: dict, message: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text("Model,MMLU,Elo\na,0.3,1000\nb,0.4,1100\nc,0.5,1200\n")
    with pytest.raises(DataError, match=re.escape(message)):
        read_table(path, **kwargs)
