"""The simulator: exact structure of the draws, the table format, saving, and the CLI."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from bayes_scaling.cli import run
from bayes_scaling.data import FLOPS, PARAMS, TOKENS, from_wide, read_table
from bayes_scaling.errors import BayesScalingError
from bayes_scaling.model import build_inputs
from bayes_scaling.registry import UnknownBenchmarkWarning
from bayes_scaling.simulate import (
    REGISTRY_NAMES,
    Simulation,
    benchmark_catalogue,
    read_params,
    simulate,
)
from bayes_scaling.specs import load_spec


@pytest.fixture(scope="module")
def sim() -> Simulation:
    return simulate(50, 6, 8, capabilities=3, missing=0.15, seed=7, compute_missing=0.1)


def test_same_seed_same_draws_other_seed_differs() -> None:
    a = simulate(20, 4, 6, capabilities=2, missing=0.1, seed=3)
    b = simulate(20, 4, 6, capabilities=2, missing=0.1, seed=3)
    c = simulate(20, 4, 6, capabilities=2, missing=0.1, seed=4)
    assert a.table.equals(b.table)
    xr.testing.assert_identical(a.params, b.params)
    xr.testing.assert_identical(a.data, b.data)
    assert not a.table.equals(c.table)


def test_table_is_the_bundled_wide_format(sim: Simulation) -> None:
    t = sim.table
    assert t.columns[:5].tolist() == [
        "Model",
        "Model Family",
        PARAMS,
        TOKENS,
        FLOPS,
    ]
    assert t.columns[5:].tolist() == list(REGISTRY_NAMES[:8])
    assert t["Model"].is_unique
    known = t[FLOPS].notna()
    # FLOPs (1E21) = 6 N D with N in billions and D in trillions, exactly as written.
    np.testing.assert_allclose(t.loc[known, FLOPS], 6 * t.loc[known, PARAMS] * t.loc[known, TOKENS])
    assert t[PARAMS].notna().all()  # a hidden compute hides tokens and FLOPs only
    assert t.loc[~known, TOKENS].isna().all()
    assert known.sum() == 50 - 5
    span = np.log10(t.loc[known, FLOPS] * 1e21)
    assert 21.5 <= span.min() and span.max() <= 25.5 and span.max() - span.min() > 3


def test_data_is_from_wide_with_true_floors_and_items(sim: Simulation) -> None:
    xr.testing.assert_identical(
        sim.data, from_wide(sim.table, source=sim.data.attrs["source"], registry=sim.registry)
    )
    for name, floor, n in benchmark_catalogue(8):
        assert float(sim.data["floor"].sel(benchmark=name)) == floor
        assert float(sim.data["n_items"].sel(benchmark=name)) == n
    assert set(np.unique(sim.data["floor"])) >= {0.0, 0.25, 0.5}
    n_items = sim.data["n_items"].to_numpy()
    assert n_items.min() < 1000 < n_items.max()


def test_params_match_the_posterior_names_and_coords(sim: Simulation) -> None:
    p = sim.params
    assert p["S"].dims == ("model", "capability")
    assert p["alpha"].dims == ("family", "capability")
    assert p["loadings"].dims == ("benchmark", "capability")
    for name in ("b", "noise"):
        assert p[name].dims == ("benchmark",)
    assert p["sigma"].dims == () and p["tau"].dims == ("capability",)
    assert p["capability"].to_numpy().tolist() == ["general", "spec1", "spec2"]
    assert p["model"].to_numpy().tolist() == sim.data["model"].to_numpy().tolist()
    assert p["benchmark"].to_numpy().tolist() == sim.data["benchmark"].to_numpy().tolist()
    # The graph's families are np.unique of the family column: same order.
    assert p["family"].to_numpy().tolist() == sorted(set(sim.data["family"].to_numpy().tolist()))
    assert sim.anchors == ("MMLU", "GSM8K", "HumanEval")
    assert json.loads(p.attrs["anchors"]) == list(sim.anchors)


def test_centring_matches_the_model_inputs(sim: Simulation) -> None:
    """x and its centre are what build_inputs computes from the table (known compute)."""
    inputs = build_inputs(sim.data, sim.spec("k3"))
    known = np.isfinite(inputs.x)
    assert known.tolist() == sim.params["compute_known"].astype(bool).to_numpy().tolist()
    assert inputs.x_mean == pytest.approx(sim.params.attrs["x_mean"], abs=1e-12)
    np.testing.assert_allclose(inputs.x[known], sim.params["x"].to_numpy()[known], atol=1e-12)
    assert inputs.anchors == sim.anchors


def test_capabilities_follow_the_parametrisation() -> None:
    sim = simulate(3000, 10, 4, capabilities=2, seed=1, sigma=0.3, tau=0.5)
    p = sim.params
    alpha = p["alpha"]
    np.testing.assert_allclose(alpha.sum("family"), 0.0, atol=1e-12)  # zero-sum over families
    fam = p["alpha"].sel(family=p["model_family"])
    resid_general = p["S"].sel(capability="general") - p["x"] - fam.sel(capability="general")
    resid_spec = p["S"].sel(capability="spec1") - fam.sel(capability="spec1")
    assert float(resid_general.std()) == pytest.approx(0.3, rel=0.05)
    # Unit total variance: the within-family sd is sqrt(1 - tau^2).
    assert float(resid_spec.std()) == pytest.approx(np.sqrt(0.75), rel=0.05)
    assert abs(float(resid_general.mean())) < 0.03


def test_loadings_structure(sim: Simulation) -> None:
    lam = sim.params["loadings"].to_numpy()
    assert (lam[:, 0] > 0).all()
    for a in range(3):
        own = np.arange(1, lam.shape[1]) != a
        assert (lam[a, 1:][own] == 0).all()  # an anchor loads on general and its own axis
        assert lam[a, a] > 0  # positive at its own axis: the sign the estimator reports
    assert (lam[3:, 1:] != 0).all()


def test_scores_are_beta_binomial_counts_around_p() -> None:
    """Mean and variance of score - p follow the beta-binomial with rho = (2 noise)^2."""
    sim = simulate(4000, 8, 5, capabilities=2, seed=2)
    score = sim.data["score"].to_numpy()
    p = sim.params["p"].to_numpy()
    n = sim.data["n_items"].to_numpy()
    counts = score * n
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-6)
    floor = sim.data["floor"].to_numpy()
    assert (p >= floor).all() and (p <= 1).all()
    rho = (2 * sim.params["noise"].to_numpy()) ** 2
    var = p * (1 - p) * (1 / n + rho * (1 - 1 / n))
    z = (score - p) / np.sqrt(var)
    assert abs(float(z.mean())) < 0.05
    assert float(z.std()) == pytest.approx(1.0, rel=0.05)


def test_binomial_measurement_has_no_protocol_noise() -> None:
    sim = simulate(4000, 8, 3, capabilities=1, seed=2, measurement="binomial")
    p = sim.params["p"].to_numpy()
    n = sim.data["n_items"].to_numpy()
    z = (sim.data["score"].to_numpy() - p) / np.sqrt(p * (1 - p) / n)
    assert float(z.std()) == pytest.approx(1.0, rel=0.05)


def test_continuous_benchmark() -> None:
    sim = simulate(30, 4, 5, capabilities=2, seed=1, continuous=True)
    assert sim.table.columns[-1] == "TruthfulQA"
    assert np.isnan(float(sim.data["n_items"].sel(benchmark="TruthfulQA")))
    s = sim.data["score"].sel(benchmark="TruthfulQA").to_numpy()
    assert ((s > 0) & (s < 1)).all()
    assert "TruthfulQA" not in sim.anchors


@pytest.mark.parametrize("missing", [0.1, 0.3, 0.95])
def test_missing_cells_keep_benchmarks_and_models_usable(missing: float) -> None:
    sim = simulate(40, 5, 8, capabilities=2, missing=missing, seed=5)
    observed = np.isfinite(sim.data["score"].to_numpy())
    assert (observed.sum(axis=0) >= 3).all()
    assert (observed.sum(axis=1) >= 1).all()
    if missing < 0.5:
        assert 1 - observed.mean() == pytest.approx(missing, abs=0.005)
    # The truth is complete even where the table is not.
    assert np.isfinite(sim.params["p"].to_numpy()).all()


def test_beyond_the_registry_names() -> None:
    sim = simulate(20, 3, 15, capabilities=2, seed=1)
    names = sim.data["benchmark"].to_numpy().tolist()
    assert names[:13] == list(REGISTRY_NAMES) and names[13:] == ["SIM-14", "SIM-15"]
    assert float(sim.data["floor"].sel(benchmark="SIM-15")) == 0.5
    assert float(sim.data["n_items"].sel(benchmark="SIM-15")) == 1000
    # The default registry does not know them: that is what the CLI warns about.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from_wide(sim.table)
    unknown = [w.message for w in caught if isinstance(w.message, UnknownBenchmarkWarning)]
    assert [w.benchmark for w in unknown] == ["SIM-14", "SIM-15"]


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"n_models": 2}, "at least 3 models"),
        ({"n_families": 0}, "families"),
        ({"n_families": 50}, "families"),
        ({"capabilities": 5}, "capabilities must be 1 to 4"),
        ({"n_benchmarks": 2, "capabilities": 3}, "at least 3 count benchmarks"),
        ({"missing": 1.0}, "missing"),
        ({"compute_missing": -0.1}, "compute_missing"),
        ({"tau": [0.5, 0.5, 0.5]}, "tau"),
        ({"sigma": 0.0}, "sigma"),
        ({"tau": [0.5, 1.2]}, "below 1"),
    ],
)
def test_bad_arguments_are_user_errors(kwargs: dict, words: str) -> None:
    args = {"n_models": 20, "n_families": 4, "n_benchmarks": 6, "capabilities": 2, **kwargs}
    with pytest.raises(BayesScalingError, match=words):
        simulate(**args)


@pytest.mark.parametrize("suffix", [".nc", ".json"])
def test_save_round_trip(sim: Simulation, tmp_path: Path, suffix: str) -> None:
    table, params = sim.save(tmp_path / "out" / "sim.csv", tmp_path / "out" / f"truth{suffix}")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        ["sim.csv", f"truth{suffix}"]
    )  # no temporary files left behind
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # registry names: no unknown-benchmark warning
        back = read_table(table)
    xr.testing.assert_identical(back.drop_attrs(), sim.data.drop_attrs())
    truth = read_params(params)
    xr.testing.assert_allclose(truth, sim.params)
    assert truth.attrs["anchors"] == sim.params.attrs["anchors"]


def test_read_params_errors(tmp_path: Path) -> None:
    with pytest.raises(BayesScalingError, match="no such"):
        read_params(tmp_path / "nope.nc")
    bad = tmp_path / "bad.nc"
    bad.write_text("not netcdf")
    with pytest.raises(BayesScalingError, match="not a simulation parameters file"):
        read_params(bad)


def test_spec_pins_the_true_anchors(sim: Simulation) -> None:
    spec = sim.spec("k2")
    assert spec.name == "k2-sim" and spec.anchors == ("MMLU", "GSM8K")
    assert spec.hash() != load_spec("k2").hash()
    assert sim.spec().capabilities == 3
    with pytest.raises(BayesScalingError, match="only 3 anchors"):
        sim.spec("k4")


# --- CLI -------------------------------------------------------------------------------------


def test_cli_simulate_writes_a_valid_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, params = tmp_path / "sim.csv", tmp_path / "truth.nc"
    argv = ["simulate", "--models", "30", "--families", "5", "--benchmarks", "6"]
    argv += ["--capabilities", "2", "--missing", "0.1", "--seed", "4"]
    code = run([*argv, "--out", str(out), "--params", str(params)])
    stdout, stderr = capsys.readouterr()
    assert code == 0, stderr
    assert "30 models" in stdout and "anchors MMLU, GSM8K" in stdout and stderr == ""
    expected = simulate(30, 5, 6, capabilities=2, missing=0.1, seed=4)
    xr.testing.assert_allclose(read_params(params), expected.params)
    assert run(["data", "validate", str(out)]) == 0
    stdout, stderr = capsys.readouterr()
    assert stdout.startswith("OK ") and "30 models, 5 families, 6 benchmarks" in stdout
    assert stderr == ""  # floors and items known: no unknown-benchmark warning


def test_cli_simulate_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["simulate", "--help"]) == 0
    text = capsys.readouterr().out
    for option in ("--models", "--families", "--benchmarks", "--capabilities", "--missing"):
        assert option in text
    for option in ("--seed", "--out", "--params"):
        assert option in text


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--missing", "1.5"], "missing must be in [0, 1)"),
        (["--benchmarks", "2", "--capabilities", "3"], "at least 3 count benchmarks"),
    ],
)
def test_cli_simulate_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], words: str
) -> None:
    out = tmp_path / "sim.csv"
    code = run(["simulate", "--models", "20", *extra, "--out", str(out)])
    _, stderr = capsys.readouterr()
    assert code == 2
    assert stderr.splitlines() == [stderr.strip()] and stderr.startswith("error: ")
    assert words in stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_cli_simulate_wants_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["simulate", "--out", str(tmp_path / "sim.parquet")]) == 2
    assert "must be a .csv file" in capsys.readouterr().err


def test_cli_warns_about_benchmarks_beyond_the_registry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sim.csv"
    assert run(["simulate", "--models", "20", "--benchmarks", "14", "--out", str(out)]) == 0
    assert "SIM-14" in capsys.readouterr().err
    assert run(["data", "validate", str(out)]) == 0  # still valid, with a warning
    assert "SIM-14" in capsys.readouterr().err
