"""``bayes-scaling next`` and :mod:`bayes_scaling.probes`: which evaluation to run next.

The statistical test reuses the session's simulated fit (``small_fit``, k2 on 40 models of
which six lack two to four benchmarks): for each of those models, ``rank_probes`` picks a
probe; the probe is then "run" by drawing its score from the simulation's true process,
the fit's draws are re-weighted by that score's likelihood, and the posterior predictive
variance of the model's remaining hidden benchmarks is measured. The chosen probes must
shrink it more than the average probe, and the expected reductions must match the
realised ones. CLI tests use the same fit through a results file, and a mocked sampler for
the TABLE route.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
import xarray as xr
from scipy.special import logsumexp

from bayes_scaling.cli import run
from bayes_scaling.cli.next import PROBE_DRAWS
from bayes_scaling.errors import BayesScalingError
from bayes_scaling.probes import DEFAULT_DRAWS, ProbeRanking, rank_probes

if TYPE_CHECKING:
    from bayes_scaling.estimator import FitResults
    from bayes_scaling.simulate import Simulation

#: Draws of the true score per probe: the realised reduction is averaged over them.
TRUTHS = 20
#: Noisy predictive replicates per posterior draw when measuring a realised variance.
REPLICATES = 8


def hidden_models(sim: Simulation) -> list[str]:
    score = sim.data["score"]
    return [
        str(m)
        for m in score["model"].to_numpy()
        if (~np.isfinite(score.sel(model=m).to_numpy())).sum() >= 2
    ]


def realised_reduction(
    fit: FitResults, sim: Simulation, model: str, probe: str, rest: list[str], seed: int
) -> float:
    """Mean drop in the summed predictive variance of ``rest`` once ``probe`` is run.

    The probe's score is drawn from the simulation's true process (its measurement layer at
    the true expected score), ``TRUTHS`` times; each time the fit's draws are weighted by
    the likelihood of that score (:func:`bayes_scaling.compare.fit_log_likelihood`, not the
    code under test) and the weighted variance of noisy predictive draws is measured.
    """
    from bayes_scaling.compare import fit_log_likelihood
    from bayes_scaling.measurement import draw, precision

    rng = np.random.default_rng(seed)
    p = float(sim.params["p"].sel(model=model, benchmark=probe))
    noise = np.array([float(sim.params["noise"].sel(benchmark=probe))])
    n_items = np.array([float(sim.params["n_items"].sel(benchmark=probe))])
    truths = draw(np.full((TRUTHS, 1), p), precision(noise), n_items, rng)[:, 0]
    ll = fit_log_likelihood(fit, [model] * TRUTHS, [probe] * TRUTHS, truths)  # (S, TRUTHS)
    cap = fit.draws("S").sel(model=[model])
    reps = np.concatenate(
        [
            fit.predictive_draws(cap, rest, rng, noise=True).to_numpy()[:, 0, :]
            for _ in range(REPLICATES)
        ]
    )  # (REPLICATES * S, len(rest)), replicate-major
    before = float(reps.var(axis=0).sum())
    after = []
    for t in range(TRUTHS):
        w = np.tile(np.exp(ll[:, t] - logsumexp(ll[:, t])), REPLICATES) / REPLICATES
        mean = w @ reps
        after.append(float((w @ (reps - mean) ** 2).sum()))
    return before - float(np.mean(after))


@pytest.fixture(scope="module")
def rankings(small_fit: FitResults, small_sim: Simulation) -> dict[str, ProbeRanking]:
    return {m: rank_probes(small_fit, m, seed=0) for m in hidden_models(small_sim)}


# ------------------------------------------------------------------------------ statistics
def test_chosen_probes_shrink_intervals_more_than_random_ones(
    small_fit: FitResults, small_sim: Simulation, rankings: dict[str, ProbeRanking]
) -> None:
    assert len(rankings) >= 5
    chosen, average, expected_all, realised_all = [], [], [], []
    for i, (model, r) in enumerate(rankings.items()):
        hidden = list(r.current.index)
        real = {
            j: realised_reduction(
                small_fit, small_sim, model, j, [c for c in hidden if c != j], seed=100 + i
            )
            for j in hidden
        }
        chosen.append(real[r.table["benchmark"].iloc[0]])
        average.append(float(np.mean(list(real.values()))))
        expected_all += list(r.table["reduction"])
        realised_all += [real[j] for j in r.table["benchmark"]]
    # The chosen probe beats a probe drawn at random, on average over models ...
    assert np.mean(chosen) > 1.5 * np.mean(average), (chosen, average)
    # ... and never does worse than it by more than Monte Carlo noise.
    assert all(c >= a - 2e-4 for c, a in zip(chosen, average, strict=True)), (chosen, average)
    # The preposterior reductions are what running the probes delivers.
    total_expected, total_realised = sum(expected_all), sum(realised_all)
    assert total_expected == pytest.approx(total_realised, rel=0.3)
    assert np.corrcoef(expected_all, realised_all)[0, 1] > 0.9


def test_ranking_table_and_per_column(rankings: dict[str, ProbeRanking]) -> None:
    for model, r in rankings.items():
        t = r.table
        hidden = list(r.current.index)
        assert sorted(t["benchmark"]) == sorted(hidden)
        assert list(t["reduction"]) == sorted(t["reduction"], reverse=True)
        assert not set(hidden) & set(r.observed)
        assert (r.current > 0).all()
        for row in t.itertuples(index=False):
            others = [c for c in hidden if c != row.benchmark]
            assert row.variance == pytest.approx(float(r.current[others].sum()))
            assert row.fraction == pytest.approx(row.reduction / row.variance)
            assert row.reduction == pytest.approx(
                float(r.per_column.loc[row.benchmark, others].sum())
            )
            assert np.isnan(r.per_column.loc[row.benchmark, row.benchmark])
            assert 1 <= row.ess <= row.draws == 400
        assert r.to_dict()["model"] == model


def test_same_seed_same_ranking(small_fit: FitResults, small_sim: Simulation) -> None:
    model = hidden_models(small_sim)[-1]
    a = rank_probes(small_fit, model, seed=3, draws=200)
    b = rank_probes(small_fit, model, seed=3, draws=200)
    assert a.table.equals(b.table)
    assert a.per_column.equals(b.per_column)


def test_target_scores_one_column(small_fit: FitResults, rankings: dict[str, ProbeRanking]) -> None:
    model, full = max(rankings.items(), key=lambda kv: len(kv[1].current))
    target = str(full.current.index[-1])
    r = rank_probes(small_fit, model, target, seed=0)
    assert r.target == target and r.scored() == [target]
    assert target not in list(r.table["benchmark"])
    assert len(r.table) == len(full.current) - 1
    for row in r.table.itertuples(index=False):
        assert row.variance == pytest.approx(float(full.current[target]))
        assert row.reduction == pytest.approx(float(r.per_column.loc[row.benchmark, target]))


def test_low_ess_falls_back_to_more_draws_then_flags(
    small_fit: FitResults, rankings: dict[str, ProbeRanking]
) -> None:
    model = next(iter(rankings))
    # 60 draws leave every probe under the ESS threshold of 50 (the draw's own weight is
    # left out, so at most 59).
    more = rank_probes(small_fit, model, draws=60, max_draws=400)
    assert set(more.table["draws"]) == {400}
    assert not more.table["low_ess"].any() and not more.warnings
    stuck = rank_probes(small_fit, model, draws=60, max_draws=60)
    assert stuck.table["low_ess"].all()
    assert len(stuck.warnings) == len(stuck.table)
    assert "below 50" in stuck.warnings[0]


@pytest.mark.parametrize(
    ("model", "target", "message"),
    [
        ("no-such-model", None, "is not in the fit"),
        ("F01-001", "NOPE", "is not a benchmark of the fit"),
    ],
)
def test_library_errors(
    small_fit: FitResults, model: str, target: str | None, message: str
) -> None:
    with pytest.raises(BayesScalingError, match=message):
        rank_probes(small_fit, model, target)


def test_probe_request_errors() -> None:
    from bayes_scaling.probes import check_probe_request

    ds = xr.Dataset(
        {"score": (("model", "benchmark"), [[0.5, np.nan, np.nan], [0.5, 0.5, np.nan]])},
        coords={"model": ["a", "b"], "benchmark": ["A", "B", "C"]},
    )
    assert check_probe_request(ds, "a", "C") == (["A"], ["B", "C"])
    with pytest.raises(BayesScalingError, match="already has a score on --target 'A'"):
        check_probe_request(ds, "a", "A")
    with pytest.raises(BayesScalingError, match="lacks only 'C'"):
        check_probe_request(ds, "b", None)
    with pytest.raises(BayesScalingError, match="lacks only --target 'C'"):
        check_probe_request(ds, "b", "C")
    full = ds.fillna(0.1)
    with pytest.raises(BayesScalingError, match="score on every benchmark"):
        check_probe_request(full, "a", None)


# ------------------------------------------------------------------------------ CLI
@pytest.fixture(scope="module")
def run_file(small_fit: FitResults, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_fit.save(tmp_path_factory.mktemp("next") / "RUN.nc")


def listing(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*")}


def fails(argv: list[str], capsys: pytest.CaptureFixture[str], directory: Path) -> str:
    """Run ``argv``; assert exit 2, one stderr line, no stdout, nothing new on disk."""
    before = listing(directory)
    code = run(argv)
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert out == ""
    assert listing(directory) == before
    return lines[0]


def test_help_default_matches_the_library() -> None:
    assert PROBE_DRAWS == DEFAULT_DRAWS


def test_cli_json(
    run_file: Path, rankings: dict[str, ProbeRanking], capsys: pytest.CaptureFixture[str]
) -> None:
    model, r = max(rankings.items(), key=lambda kv: len(kv[1].current))
    assert run(["next", "--fit", str(run_file), "--model", model, "--k", "2", "--json"]) == 0
    out, err = capsys.readouterr()
    got = json.loads(out)
    assert set(got) == {
        "model",
        "target",
        "scored",
        "observed",
        "probes",
        "n_probes",
        "n_draws",
        "seed",
        "seconds",
        "warnings",
    }
    assert got["model"] == model and got["target"] is None
    assert got["n_probes"] == len(r.table) and len(got["probes"]) == 2
    # The same seed and draws as the library call: the same numbers.
    assert [p["benchmark"] for p in got["probes"]] == list(r.table["benchmark"][:2])
    assert got["probes"][0]["reduction"] == pytest.approx(r.table["reduction"].iloc[0])
    assert set(got["probes"][0]) == {
        "benchmark",
        "reduction",
        "fraction",
        "variance",
        "ess",
        "draws",
        "low_ess",
    }
    # The session's tiny fit is not converged, and the command says so.
    assert "not converged" in err


def test_cli_table(
    run_file: Path, rankings: dict[str, ProbeRanking], capsys: pytest.CaptureFixture[str]
) -> None:
    model, r = max(rankings.items(), key=lambda kv: len(kv[1].current))
    target = str(r.current.index[0])
    assert run(["next", "--fit", str(run_file), "--model", model, "--target", target]) == 0
    out = capsys.readouterr().out
    assert f"Next evaluation for {model}" in out and f"--target {target}" in out
    assert f"{len(r.table) - 1} of {len(r.table) - 1} unobserved benchmarks shown" in out


def test_cli_errors_are_one_line(
    run_file: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    base = ["next", "--fit", str(run_file)]
    assert "is not in the fit" in fails([*base, "--model", "nope"], capsys, tmp_path)
    assert "not a benchmark" in fails(
        [*base, "--model", "F01-001", "--target", "X"], capsys, tmp_path
    )
    assert "--k must be" in fails([*base, "--model", "F01-001", "--k", "0"], capsys, tmp_path)
    assert "--model is required" in fails(base, capsys, tmp_path)
    assert "one of them" in fails(["next", "--model", "F01-001"], capsys, tmp_path)
    both = ["next", "base-llm", "--fit", str(run_file), "--model", "F01-001"]
    assert "one of them" in fails(both, capsys, tmp_path)
    assert "describe a TABLE" in fails([*base, "--model", "F01-001", "--percent"], capsys, tmp_path)
    spec = [*base, "--model", "F01-001", "--spec", "k3"]
    assert "fitted with spec" in fails(spec, capsys, tmp_path)


@pytest.fixture
def mocked_fit(small_fit: FitResults, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Replace sampling by the session's fit; return the list of recorded calls."""
    from bayes_scaling.estimator import CapabilityModel

    calls: list[dict[str, Any]] = []

    def fake_fit(self: CapabilityModel, data: xr.Dataset, targets: Any = None, **kw: Any):
        calls.append({"spec": self.spec.name, "data": data, **kw})
        return small_fit

    monkeypatch.setattr(CapabilityModel, "fit", fake_fit)
    return calls


def test_cli_fits_a_table(
    mocked_fit: list[dict[str, Any]],
    small_sim: Simulation,
    rankings: dict[str, ProbeRanking],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    table = tmp_path / "sim.csv"
    small_sim.table.to_csv(table, index=False)
    model = next(iter(rankings))
    argv = ["next", str(table), "--model", model, "--spec", "k2", "--draws", "50", "--json"]
    assert run([*argv, "--seed", "4"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["seed"] == 4
    assert "fitting spec 'k2'" in err
    (call,) = mocked_fit
    assert call["spec"] == "k2" and call["draws"] == 50 and call["seed"] == 4
    assert not call["data"]["linear"].any()
    assert run([*argv, "--linear", "BBH"]) == 0
    capsys.readouterr()
    flags = mocked_fit[-1]["data"]["linear"]
    assert bool(flags.sel(benchmark="BBH")) and int(flags.sum()) == 1
    del mocked_fit[1:]
    # Refused before sampling.
    assert "is not in the table" in fails(["next", str(table), "--model", "nope"], capsys, tmp_path)
    assert "unknown sampler" in fails(
        ["next", str(table), "--model", model, "--sampler", "x"], capsys, tmp_path
    )
    assert len(mocked_fit) == 1


def test_linear_columns_plumbing(small_fit: FitResults, rankings: dict[str, ProbeRanking]) -> None:
    """A linear column is drawn and weighted as one (normal z-scores), and flagged in sums.

    The posterior is the share fit's with one column relabelled linear: this checks the
    plumbing (shapes, the flag reaching the measurement layer, the warning), not numbers.
    """
    from bayes_scaling.estimator import FitResults as Fit

    model, full = max(rankings.items(), key=lambda kv: len(kv[1].current))
    column = str(full.current.index[0])
    tree = small_fit.tree.copy()
    data = tree["data"].to_dataset()
    flags = np.zeros(data.sizes["benchmark"], dtype=bool)
    flags[[str(b) for b in data["benchmark"].to_numpy()].index(column)] = True
    tree["data"] = xr.DataTree(data.assign_coords(linear=("benchmark", flags)))
    relabelled = Fit(tree=tree, spec=small_fit.spec)
    r = rank_probes(relabelled, model, draws=100)
    assert np.isfinite(r.table["reduction"]).all()
    assert any("linear columns" in w and column in w for w in r.warnings)
    # A z-score varies more than a share: the linear column's current variance is larger.
    assert r.current[column] > full.current[column]
    targeted = rank_probes(relabelled, model, column, draws=100)
    assert not any("linear columns" in w for w in targeted.warnings)
    assert column not in list(targeted.table["benchmark"])
