"""Model comparison: LOO tables, leave-future-out, the held-out likelihood, ``compare`` CLI.

Fits are tiny (2 chains x 100 draws on 15 synthetic models): the tests check structure,
bookkeeping and that the held-out likelihood is exactly the model's, not MCMC quality.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bayes_scaling.cli import run
from bayes_scaling.compare import (
    BAD_K,
    LOO_COLUMNS,
    fit_log_likelihood,
    heldout_log_likelihood,
    leave_future_out,
    loo_table,
    pointwise_log_likelihood,
)
from bayes_scaling.data import from_wide
from bayes_scaling.errors import BayesScalingError
from bayes_scaling.estimator import CapabilityModel, FitResults
from bayes_scaling.measurement import EPS

# Registry count benchmarks: (floor, items, loading on the general capability).
BENCH = {
    "MMLU": (0.25, 14042, 1.0),
    "GSM8K": (0.0, 1319, 1.6),
    "ARC-C": (0.25, 1172, 0.9),
    "HellaSwag": (0.25, 10042, 1.2),
    "Winograd": (0.5, 1267, 0.8),
}
SAMPLER = {"draws": 100, "tune": 150, "chains": 2}


def make_table(n_models: int = 15, seed: int = 0, no_compute: int = 0) -> pd.DataFrame:
    """A wide table drawn from a one-capability law: 3 families, 5 count benchmarks.

    The last ``no_compute`` models have no size, tokens or FLOPs.
    """
    rng = np.random.default_rng(seed)
    fam = np.array(["A", "B", "C"])[np.arange(n_models) % 3]
    logc = rng.uniform(21.5, 24.5, n_models)
    effect = {"A": -0.3, "B": 0.0, "C": 0.3}
    general = logc - logc.mean() + np.array([effect[f] for f in fam]) + rng.normal(0, 0.2, n_models)
    params = np.sqrt(10**logc / (6 * 20)) / 1e9  # 20 tokens per parameter
    tokens = 20 * params * 1e9 / 1e12
    table = pd.DataFrame(
        {
            "Model": [f"{f}-{i:02d}" for i, f in enumerate(fam)],
            "Model Family": fam,
            "Model Size (B)": params,
            "Pretraining Data Size (T)": tokens,
            "FLOPs (1E21)": 6 * params * tokens,
        }
    )
    for j, (name, (floor, items, loading)) in enumerate(BENCH.items()):
        p = floor + (1 - floor) / (1 + np.exp(-(0.3 * j - 0.5 + loading * general)))
        table[name] = rng.binomial(items, p) / items
    if no_compute:
        cols = ["Model Size (B)", "Pretraining Data Size (T)", "FLOPs (1E21)"]
        table.loc[table.index[-no_compute:], cols] = np.nan
    return table


@pytest.fixture(scope="module")
def data():
    return from_wide(make_table(), source="<test>")


@pytest.fixture(scope="module")
def fits(data) -> dict[str, FitResults]:
    return {
        spec: CapabilityModel(spec).fit(data, seed=1, warn=False, **SAMPLER)
        for spec in ("k1", "k2")
    }


# ----------------------------------------------------------------------------- likelihood
def test_heldout_log_likelihood_matches_scipy_by_hand() -> None:
    # Two draws; columns: a 10-item count, a 3-item count (0.34 * 3 rounds to 1) and a
    # continuous score at 0 (squeezed to EPS, as the model does).
    y = np.array([0.7, 0.34, 0.0])
    p = np.array([[0.6, 0.3, 0.2], [0.5, 0.5, 0.4]])
    noise = np.array([[0.1, 0.2, 0.15], [0.05, 0.1, 0.3]])
    n = np.array([10.0, 3.0, np.nan])
    got = heldout_log_likelihood(y, p, noise, n)
    phi = 1 / (2 * noise) ** 2 - 1
    want = np.array(
        [
            [
                stats.betabinom.logpmf(7, 10, p[s, 0] * phi[s, 0], (1 - p[s, 0]) * phi[s, 0]),
                stats.betabinom.logpmf(1, 3, p[s, 1] * phi[s, 1], (1 - p[s, 1]) * phi[s, 1]),
                stats.beta.logpdf(EPS, p[s, 2] * phi[s, 2], (1 - p[s, 2]) * phi[s, 2]),
            ]
            for s in range(2)
        ]
    )
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # The phi of draw 0, column 0 is 24: check one value fully by hand as well.
    assert phi[0, 0] == pytest.approx(24.0)
    binom = heldout_log_likelihood(y, p, noise, n, measurement="binomial")
    np.testing.assert_allclose(binom[:, 0], stats.binom.logpmf(7, 10, p[:, 0]), rtol=1e-12)
    np.testing.assert_allclose(binom[:, 2], got[:, 2])  # continuous columns stay Beta
    with pytest.raises(ValueError, match="shapes"):
        heldout_log_likelihood(y, p[:, :2], noise, n)


def test_fit_log_likelihood_reproduces_the_models_pointwise_log_likelihood(fits) -> None:
    """The LFO likelihood is the model's: on observed cells it equals the sampler's."""
    for fit in fits.values():
        obs = fit.tree["observed_data"]
        ours = fit_log_likelihood(
            fit, obs["obs_model"].to_numpy(), obs["obs_column"].to_numpy(), obs["score"].to_numpy()
        )
        theirs = fit.tree["log_likelihood"]["score"].stack(sample=("chain", "draw"))
        np.testing.assert_allclose(ours, theirs.transpose("sample", "obs").to_numpy(), atol=1e-7)


# ----------------------------------------------------------------------------- LOO
def test_loo_table_by_model(fits, data) -> None:
    table = loo_table(fits)
    assert list(table.columns) == list(LOO_COLUMNS)
    assert table.attrs["by"] == "model"
    assert sorted(table["spec"]) == ["k1", "k2"]
    assert (table["n_points"] == data.sizes["model"]).all()
    assert table["weight"].sum() == pytest.approx(1.0)
    assert (table["weight"] >= 0).all()
    assert table["elpd_diff"].iloc[0] == 0.0 and table["dse"].iloc[0] == 0.0
    assert table["elpd"].is_monotonic_decreasing
    assert np.isfinite(table[["elpd", "se", "p_loo"]].to_numpy()).all()
    models = set(map(str, data["model"].to_numpy()))
    for _, row in table.iterrows():
        # By model each point is one model: bad points and bad models are the same count.
        assert row["n_bad_pareto_k"] == len(row["bad_models"])
        assert set(row["bad_models"]) <= models
        assert row["bad_models"] == sorted(row["bad_models"])


def test_grouping_by_model_sums_each_models_observations(fits) -> None:
    fit = fits["k1"]
    by_model = pointwise_log_likelihood(fit, "model")
    by_obs = pointwise_log_likelihood(fit, "obs")
    assert by_model.dims == ("chain", "draw", "model")
    first = str(by_model["model"].to_numpy()[0])
    mask = by_obs["obs_model"].to_numpy() == first
    np.testing.assert_allclose(
        by_model.sel(model=first).to_numpy(), by_obs.isel(obs=mask).sum("obs").to_numpy()
    )
    np.testing.assert_allclose(by_model.sum("model"), by_obs.sum("obs"))


def test_loo_table_by_observation_and_bad_k_models(fits) -> None:
    table = loo_table(fits, by="obs")
    n_obs = int(fits["k1"].tree["observed_data"]["score"].size)
    assert (table["n_points"] == n_obs).all()
    assert table["weight"].sum() == pytest.approx(1.0)
    import arviz as az

    for _, row in table.iterrows():
        fit = fits[row["spec"]]
        tree = fit.tree.copy()
        k = az.loo(tree, var_name="score", pointwise=True).pareto_k
        bad = k.to_numpy() > BAD_K
        assert row["n_bad_pareto_k"] == int(bad.sum())
        owners = sorted(set(map(str, k["obs_model"].to_numpy()[bad])))
        assert row["bad_models"] == owners


def test_loo_table_refuses_fits_to_different_observations(fits) -> None:
    fit = fits["k2"]
    fewer = FitResults(tree=fit.tree.isel(obs=slice(1, None), missing_dims="ignore"), spec=fit.spec)
    with pytest.raises(BayesScalingError, match="different observations"):
        loo_table({"k1": fits["k1"], "k2": fewer})
    with pytest.raises(BayesScalingError, match="by must be"):
        loo_table(fits, by="family")  # type: ignore[arg-type]
    with pytest.raises(BayesScalingError, match="at least one"):
        loo_table({})


def test_loo_table_of_one_fit(fits) -> None:
    table = loo_table({"only": fits["k1"]})
    assert table["weight"].tolist() == [1.0]
    assert table["elpd_diff"].tolist() == [0.0]


# ----------------------------------------------------------------------------- LFO
def test_leave_future_out(data) -> None:
    logf = np.log10(data["flops"].to_numpy())
    cutoff = float(np.quantile(logf, 0.75))
    out = leave_future_out(data, "k1", cutoff, seed=2, **SAMPLER)
    future = [str(m) for m, lf in zip(data["model"].to_numpy(), logf, strict=True) if lf > cutoff]
    assert sorted(out["models"]) == sorted(future)
    n_cells = int(np.isfinite(data["score"].sel(model=future)).sum())
    assert out["n_heldout"] == n_cells == len(out["pointwise"])
    assert math.isfinite(out["elpd_lfo"]) and math.isfinite(out["se"]) and out["se"] > 0
    assert out["elpd_lfo"] == pytest.approx(out["pointwise"]["lpd"].sum())
    # The refit really did not see the future models' scores.
    seen = set(map(str, out["fit"].tree["observed_data"]["obs_model"].to_numpy()))
    assert not seen & set(future)
    with pytest.raises(BayesScalingError, match="no model above the cutoff"):
        leave_future_out(data, "k1", 30.0, **SAMPLER)


# ----------------------------------------------------------------------------- CLI
def test_cli_compare_json_on_models_with_compute(tmp_path: Path, capsys) -> None:
    path = tmp_path / "bench.csv"
    make_table(no_compute=2).to_csv(path, index=False)
    code = run(
        [
            "compare",
            str(path),
            "--specs",
            "k1,compute-only",
            "--json",
            "--draws",
            "60",
            "--tune",
            "100",
            "--chains",
            "2",
            "--seed",
            "3",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    records = json.loads(captured.out)
    assert [
        set(r) >= {"spec", "elpd", "se", "elpd_diff", "weight", "n_bad_pareto_k"} for r in records
    ] == [True, True]
    assert sorted(r["spec"] for r in records) == ["compute-only", "k1"]
    assert sum(r["weight"] for r in records) == pytest.approx(1.0)
    # compute-only cannot place the 2 models without compute: all specs drop them.
    assert all(r["n_points"] == 13 for r in records)
    assert "13 models with known compute" in records[0]["note"]


def test_cli_compare_table_output(fits, monkeypatch, capsys) -> None:
    """The rich table and the Pareto-k line (fitting replaced by the module's fits)."""
    import bayes_scaling.compare as compare_mod

    def fake_compare_specs(data, specs, **kwargs):
        table = loo_table({s: fits[s] for s in specs})
        for col, v in (
            ("max_rhat", 1.0),
            ("min_ess_bulk", 100.0),
            ("divergences", 0),
            ("seconds", 1.0),
        ):
            table[col] = v
        table.loc[0, "bad_models"] = ["A-00", "B-01"]
        table.loc[0, "n_bad_pareto_k"] = 2
        table.attrs.update(note="", n_models=15, n_obs=75, warnings={"k2": ["R-hat > 1.01"]})
        return table

    monkeypatch.setattr(compare_mod, "compare_specs", fake_compare_specs)
    assert run(["compare", "base-llm", "--specs", "k1,k2"]) == 0
    captured = capsys.readouterr()
    assert "elpd_diff" in captured.out and "weight" in captured.out
    assert "models behind Pareto k > 0.7:" in captured.out
    assert "A-00, B-01" in captured.out
    assert "warning: k2: R-hat > 1.01" in captured.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nonexistent.csv", "--specs", "k1"], "file not found"),
        (["base-llm", "--specs", "k1,nope"], "nope"),
        (["base-llm", "--specs", "k1,k1"], "twice"),
        (["base-llm", "--specs", "k1", "--lfo-quantile", "1.5"], "between 0 and 1"),
    ],
)
def test_cli_compare_errors(args: list[str], message: str, capsys) -> None:
    assert run(["compare", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1
