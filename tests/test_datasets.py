"""The bundled tables: exact facts, declared ranges, exclusions, where the files come from."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from test_data import check_contract

from bayes_scaling import datasets
from bayes_scaling.data import summarize
from bayes_scaling.errors import DataError
from bayes_scaling.registry import Registry

# name -> (models, benchmarks, families, models without compute), as loaded (exclusions on)
FACTS = {
    "base-llm": (128, 8, 40, 16),
    "instruct-llm": (27, 9, 17, 7),
    "agent": (27, 29, 27, 27),
    "emergent": (65, 8, 65, 65),
    "post-training": (75, 218, 75, 75),
}


@pytest.fixture(scope="module")
def loaded() -> dict[str, xr.Dataset]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every benchmark of every table is registered
        return {name: datasets.load(name) for name in datasets.names()}


def test_names() -> None:
    assert datasets.names() == tuple(FACTS)


@pytest.mark.parametrize("name", list(FACTS))
def test_facts(loaded: dict[str, xr.Dataset], name: str) -> None:
    ds = loaded[name]
    check_contract(ds)
    s = summarize(ds)
    facts = (s["n_models"], s["n_benchmarks"], s["n_families"], len(s["models_without_compute"]))
    assert facts == FACTS[name]
    assert s["models_without_scores"] == []
    assert all(b["observed"] >= 3 for b in s["benchmarks"].values())


@pytest.mark.parametrize("name", list(FACTS))
def test_tables_as_released_pass_validation(name: str) -> None:
    ds = datasets.load(name, exclude=False)
    check_contract(ds)


def test_base_llm(loaded: dict[str, xr.Dataset]) -> None:
    ds = loaded["base-llm"]
    assert ds.attrs["source"] == "base_llm_benchmark_eval.csv"
    assert ds["benchmark"].values.tolist() == [
        "MMLU",
        "ARC-C",
        "HellaSwag",
        "Winograd",
        "TruthfulQA",
        "GSM8K",
        "XWinograd",
        "HumanEval",
    ]
    llama = ds.sel(model="meta-llama/Llama-2-7b-hf")
    assert llama["flops"].item() == pytest.approx(8.4e22, rel=1e-12)
    assert (llama["params"].item(), llama["tokens"].item()) == (7.0, 2.0)
    assert llama["family"].item() == "Llama-2"
    assert llama["score"].sel(benchmark="MMLU").item() == 0.4379609636092418
    observed = (~np.isnan(ds["score"])).sum("model").to_series().to_dict()
    assert observed == {
        "MMLU": 128,
        "ARC-C": 126,
        "HellaSwag": 128,
        "Winograd": 128,
        "TruthfulQA": 128,
        "GSM8K": 128,
        "XWinograd": 112,
        "HumanEval": 107,
    }
    np.testing.assert_array_equal(ds["floor"].values, [0.25, 0.25, 0.25, 0.5, 0, 0, 0.5, 0])
    np.testing.assert_array_equal(
        ds["n_items"].values, [14042, 1172, 10042, 1267, np.nan, 1319, 4449, 164]
    )
    # Every model with both size and tokens has FLOPs equal to 6 N D (the table's convention).
    both = ~np.isnan(ds["params"].values) & ~np.isnan(ds["tokens"].values)
    np.testing.assert_allclose(
        ds["flops"].values[both],
        6 * ds["params"].values[both] * 1e9 * ds["tokens"].values[both] * 1e12,
        rtol=1e-9,
    )
    assert (np.isnan(ds["flops"].values) == ~both).all()


def test_btlm_is_shipped_as_released(loaded: dict[str, xr.Dataset]) -> None:
    # 627 B tokens in reality, 627 T in the table: kept for the outlier check to find.
    btlm = loaded["base-llm"].sel(model="cerebras/btlm-3b-8k-base")
    assert btlm["tokens"].item() == 627.0
    assert btlm["flops"].item() == pytest.approx(1.1286e25, rel=1e-12)


def test_instruct_llm(loaded: dict[str, xr.Dataset]) -> None:
    ds = loaded["instruct-llm"]
    wino = ds.sel(benchmark="Winogrande")  # an alias of Winograd in the registry
    assert (wino["floor"].item(), wino["n_items"].item()) == (0.5, 1267)
    assert ds["floor"].sel(benchmark="MTBench").item() == 0.1
    assert np.isnan(ds["n_items"].sel(benchmark="Arena-Elo").item())
    closed = [
        "gpt-4-0613",
        "claude-2.0",
        "claude-1.3",
        "gpt-3.5-turbo-0613",
        "claude-instant-1.1",
        "gpt-4-0314",
        "mistral-7b-instruct-v0.1",
    ]
    assert summarize(ds)["models_without_compute"] == closed


def test_agent_ranges(loaded: dict[str, xr.Dataset]) -> None:
    ds = loaded["agent"]
    assert ds["upper"].sel(benchmark="ABench-OA").item() == 10.0
    uppers = ds["upper"].drop_sel(benchmark="ABench-OA").values
    assert (uppers == 100.0).all() and (ds["lower"].values == 0).all()
    gpt4 = ds["score"].sel(model="gpt-4-0613")
    assert gpt4.sel(benchmark="ABench-OA").item() == pytest.approx(0.401)
    assert gpt4.sel(benchmark="ABench-Code_OS").item() == pytest.approx(0.424)
    assert np.isnan(gpt4.sel(benchmark="ABoard-Avg_SR").item())
    assert datasets.companion("agent") == "instruct-llm"


def test_emergent_ranges(loaded: dict[str, xr.Dataset]) -> None:
    ds = loaded["emergent"]
    bleu = ds.sel(benchmark="ipa_transliterate_2_bleu")
    assert (bleu["lower"].item(), bleu["upper"].item()) == (0.0, 100.0)
    llama = bleu["score"].sel(model="meta-llama/Llama-2-7b-hf").item()
    assert llama == pytest.approx(0.2723879164406593)
    assert ds["floor"].sel(benchmark="parsinlu_qa_2_acc").item() == 0.25
    assert datasets.companion("emergent") == "base-llm"


def test_emergent_item_counts_are_read_off_the_table() -> None:
    """A declared count holds only where every value is a whole number of its items."""
    ds = datasets.load("emergent", exclude=False)
    counts = ds["n_items"].to_series()
    assert counts.dropna().to_dict() == {
        "parsinlu_qa_2_acc": 1050.0,
        "word_unscrambling_2_exact_match": 2000.0,
        "arithmetic_3ds_2_acc": 2000.0,
        "arithmetic_3da_2_acc": 2000.0,
        "arithmetic_2dm_2_acc": 2000.0,
        "arithmetic_2da_2_acc": 2000.0,
    }
    for name, n in counts.dropna().items():
        score = ds["score"].sel(benchmark=name).to_numpy()
        k = score[~np.isnan(score)] * n
        np.testing.assert_allclose(k, np.round(k), atol=2e-3, err_msg=name)  # six decimals
    # IPA transliteration fits no count of 50 to 3,000 items: it stays a share.
    ipa = ds["score"].sel(benchmark="ipa_transliterate_2_exact_match").to_numpy()
    ipa = ipa[~np.isnan(ipa)]
    assert not any(np.allclose(ipa * n, np.round(ipa * n), atol=2e-3) for n in range(50, 3001))


def test_post_training_item_counts(loaded: dict[str, xr.Dataset]) -> None:
    counts = loaded["post-training"]["n_items"].to_series()
    gsm8k = [b for b in counts.index if b.startswith("gsm8k")]
    assert len(gsm8k) == 10 and (counts[gsm8k] == 500).all()
    ds = loaded["post-training"]
    for name in gsm8k:  # whole numbers of 500 problems, to the table's three decimals
        score = ds["score"].sel(benchmark=name).to_numpy()
        k = score[~np.isnan(score)] * 500
        np.testing.assert_allclose(k, np.round(k), atol=1e-6, err_msg=name)
    assert counts.drop(gsm8k).isna().all()  # BBH: no count (docs/data.md)


def test_post_training_ranges_and_floors(loaded: dict[str, xr.Dataset]) -> None:
    ds = loaded["post-training"]
    norm = [b for b in ds["benchmark"].values if b.endswith(",norm")]
    assert len(norm) == 112 - 8  # 2 prompts x 2 filters x 27 tasks + 4 overall, 8 excluded
    sub = ds.sel(benchmark=norm)
    assert (sub["lower"].values == -1).all() and (sub["upper"].values == 1).all()
    assert (sub["floor"].values == 0.5).all()  # raw 0 = chance, at the middle of [-1, 1]


def test_post_training_floors_match_the_tables_own_normalisation() -> None:
    # norm = (acc - chance) / (1 - chance)  =>  chance = (acc - norm) / (1 - norm)
    ds = datasets.load("post-training", exclude=False)
    raw = ds["lower"] + ds["score"] * (ds["upper"] - ds["lower"])
    checked = 0
    for name in ds["benchmark"].values:
        if not name.endswith(",norm") or "overall" in name:
            continue
        acc, norm = raw.sel(benchmark=name[: -len(",norm")]), raw.sel(benchmark=name)
        ok = ~np.isnan(acc) & ~np.isnan(norm) & (np.abs(1 - norm) > 1e-9)
        chance = ((acc - norm) / (1 - norm)).values[ok.values]
        floor = ds["floor"].sel(benchmark=name[: -len(",norm")]).item()
        np.testing.assert_allclose(chance, floor, atol=1e-9, err_msg=name)
        checked += 1
    assert checked == 108


def test_post_training_exclusions() -> None:
    excluded = datasets.exclusions("post-training")
    assert sorted(excluded["models"]) == ["bigscience/bloom", "tiiuae/falcon-180B"]
    assert len(excluded["columns"]) == 16
    raw = datasets.load("post-training", exclude=False)
    # The excluded models have no score at all; the excluded columns are constant.
    assert np.isnan(raw["score"].sel(model=list(excluded["models"]))).all()
    for column in excluded["columns"]:
        values = raw["score"].sel(benchmark=column).values
        assert np.unique(values[~np.isnan(values)]).size == 1, column
    kept = datasets.load("post-training")
    assert not set(excluded["models"]) & set(kept["model"].values.tolist())
    assert not set(excluded["columns"]) & set(kept["benchmark"].values.tolist())


def test_no_other_table_excludes_anything() -> None:
    for name in ("base-llm", "instruct-llm", "agent", "emergent"):
        assert datasets.exclusions(name) == {"models": {}, "columns": {}}


def test_describe_and_unknown_name() -> None:
    assert all(datasets.describe(n) for n in datasets.names())
    with pytest.raises(DataError, match=re.escape("nope: unknown bundled table; choose one of")):
        datasets.load("nope")


def test_caller_registry_wins() -> None:
    reg = Registry.default().with_overrides({"MTBench": {"floor": 0.0}, "MMLU": {"floor": 0.2}})
    ds = datasets.load("instruct-llm", registry=reg)
    assert ds["floor"].sel(benchmark="MTBench").item() == 0.0
    assert ds["floor"].sel(benchmark="MMLU").item() == 0.2
    assert ds["floor"].sel(benchmark="Arena-Elo").item() == 0.0  # declared by the table


def test_installed_package_data_is_preferred(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    packaged = tmp_path / "_data" / "obsscaling"
    packaged.mkdir(parents=True)
    (packaged / "base_llm_benchmark_eval.csv").write_text(
        "Model,MMLU\na,0.3\nb,0.4\nc,0.5\n", encoding="utf-8"
    )
    monkeypatch.setattr(datasets.resources, "files", lambda package: tmp_path)
    assert datasets.load("base-llm").sizes["model"] == 3


def test_checkout_data_is_the_fallback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(datasets.resources, "files", lambda package: tmp_path)
    assert datasets.load("base-llm").sizes["model"] == 128
