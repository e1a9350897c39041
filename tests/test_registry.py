"""The benchmark registry: packaged entries, aliases, overrides, unknown benchmarks."""

from __future__ import annotations

import dataclasses
import re
import warnings

import pytest

from bayes_scaling.errors import DataError
from bayes_scaling.registry import BenchmarkInfo, Registry, UnknownBenchmarkWarning


@pytest.fixture
def reg() -> Registry:
    return Registry.default()


def test_default_has_the_packaged_benchmarks(reg: Registry) -> None:
    assert list(reg) == [
        "MMLU",
        "ARC-C",
        "HellaSwag",
        "Winograd",
        "TruthfulQA",
        "GSM8K",
        "XWinograd",
        "HumanEval",
        "IFEval",
        "BBH",
        "MATH Lvl 5",
        "GPQA",
        "MUSR",
        "MMLU-PRO",
        "Arena Elo",
    ]
    assert reg["MMLU"] == BenchmarkInfo(
        "MMLU", 0.25, 14042, False, "5-shot, 4-way multiple choice, test split"
    )
    assert reg["BBH"].floor == 0.2885
    assert reg["MMLU-PRO"].n_items == 12032


def test_truthfulqa_is_continuous_with_floor_zero(reg: Registry) -> None:
    info = reg["TruthfulQA"]
    assert info.continuous is True
    assert info.floor == 0.0
    assert info.n_items == 817  # the question count is kept, but it is not a count score


def test_counts_are_not_continuous(reg: Registry) -> None:
    assert [n for n, i in reg.items() if i.continuous] == ["TruthfulQA"]


def test_packaged_numbers_are_plausible(reg: Registry) -> None:
    for info in reg.values():
        assert 0.0 <= info.floor < 1.0
        assert info.n_items is None or info.n_items > 0
    # XWinograd's item count is the sum of the per-language counts in its protocol.
    counts = [int(n) for n in re.findall(r"\b[a-z]{2} (\d+)", reg["XWinograd"].protocol)]
    assert sum(counts) == reg["XWinograd"].n_items == 4449
    # MUSR's chance: item-weighted over 250 (2 choices), 256 (5) and 250 (3) items.
    assert reg["MUSR"].floor == pytest.approx((250 / 2 + 256 / 5 + 250 / 3) / 756, abs=1e-4)


def test_alias_lookup(reg: Registry) -> None:
    assert "Winogrande" in reg
    assert reg["Winogrande"] is reg["Winograd"]
    assert reg.lookup("Winogrande").name == "Winograd"
    assert reg.canonical("Winogrande") == "Winograd"
    assert "Winogrande" not in list(reg)  # iteration yields canonical names only


def test_unknown_benchmark_warns_and_gets_defaults(reg: Registry) -> None:
    with pytest.warns(UnknownBenchmarkWarning, match="'MyEval'") as record:
        info = reg.lookup("MyEval")
    assert info == BenchmarkInfo("MyEval", floor=0.0, n_items=None, continuous=True)
    assert record[0].message.benchmark == "MyEval"
    with pytest.raises(KeyError):
        reg["MyEval"]
    assert reg.get("MyEval") is None


def test_unknown_benchmark_suggests_a_close_name(reg: Registry) -> None:
    with pytest.warns(UnknownBenchmarkWarning, match="did you mean 'HellaSwag'"):
        reg.lookup("Hellaswag")


def test_known_lookup_does_not_warn(reg: Registry) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reg.lookup("GSM8K")
        reg.lookup("Winogrande")


def test_override_changes_fields_and_leaves_original(reg: Registry) -> None:
    new = reg.with_overrides({"MMLU": {"floor": 0.3}})
    assert new["MMLU"].floor == 0.3
    assert new["MMLU"].n_items == 14042
    assert reg["MMLU"].floor == 0.25
    assert new is not reg and len(new) == len(reg)


def test_override_through_alias(reg: Registry) -> None:
    new = reg.with_overrides({"Winogrande": {"n_items": 1000}})
    assert new["Winograd"].n_items == 1000
    assert "Winogrande" in new


def test_extension_adds_benchmarks(reg: Registry) -> None:
    new = reg.with_overrides(
        {
            "MyCount": {"floor": 0.5, "n_items": 200, "aliases": ["my-count"]},
            "MyScore": {"protocol": "a judge score"},
            "MyFull": BenchmarkInfo("MyFull", floor=0.1, n_items=5, continuous=False),
        }
    )
    assert len(new) == len(reg) + 3
    assert new["my-count"] == BenchmarkInfo(
        "MyCount", floor=0.5, n_items=200, continuous=False, aliases=("my-count",)
    )
    assert new["MyScore"].continuous is True and new["MyScore"].floor == 0.0
    assert new["MyFull"].n_items == 5
    assert "MyCount" not in reg


def test_registry_and_entries_are_immutable(reg: Registry) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        reg["MMLU"].floor = 0.5  # type: ignore[misc]
    with pytest.raises(TypeError):
        reg["MMLU"] = BenchmarkInfo("MMLU")  # type: ignore[index]
    with pytest.raises(AttributeError):
        reg.extra = 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"floor": 1.0}, "floor"),
        ({"floor": -0.1}, "floor"),
        ({"floor": float("nan")}, "floor"),
        ({"n_items": 0}, "n_items"),
        ({"n_items": 2.5}, "n_items"),
        ({"ceiling": 0.1, "floor": 0.2}, "ceiling"),
        ({"continuous": "yes"}, "continuous"),
        ({"colour": "red"}, "unknown field"),
        ({"aliases": ["MMLU"]}, "alias"),
    ],
)
def test_bad_overrides_are_data_errors(reg: Registry, fields: dict, words: str) -> None:
    with pytest.raises(DataError, match=words):
        reg.with_overrides({"New": fields})


def test_from_csv_text_defaults() -> None:
    reg = Registry.from_csv_text("benchmark,chance,n_items,protocol\nA,,,free text\nB,0.2,50,mc\n")
    assert reg["A"] == BenchmarkInfo("A", 0.0, None, True, "free text")
    assert reg["B"].continuous is False


def test_equality_and_repr(reg: Registry) -> None:
    assert reg == Registry.default().with_overrides({})
    assert reg != reg.with_overrides({"MMLU": {"floor": 0.2}})
    assert "15 benchmarks" in repr(reg)


def test_a_linear_entry() -> None:
    reg = Registry.default()
    assert reg["Arena Elo"].linear and not reg["MMLU"].linear
    assert reg.canonical("Chatbot Arena Elo") == "Arena Elo"
    text = "benchmark,chance,n_items,protocol,scale\nR,,,rating,linear\nS,0.5,10,coin,\n"
    custom = Registry.from_csv_text(text)
    assert custom["R"].linear and not custom["S"].linear
    with pytest.raises(DataError, match="scale 'log' is not share/linear"):
        Registry.from_csv_text("benchmark,chance,n_items,protocol,scale\nR,,,x,log\n")
