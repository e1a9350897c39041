"""A time trend in family efficiency from an optional ``Release Date`` column.

Tiers:

* the column: dates read to decimal years, written back as ISO dates, and a bad date is a
  one-line error naming the row and column (from a file, ``fit`` exits 2 and writes nothing);
* the graph and the prior, without sampling: ``time_trend`` exists exactly when the data
  have dates; a new family's prior moves with its date and an unknown date widens it;
* one real pair of fits (``bench/time_trend.py``, seed 1) on a simulated table with a
  trend of 0.5 decades per year, whose two newest families are held out entirely and
  forecast from compute and date. The fit
  with dates recovers the trend and covers the held-out scores; the same fit without the
  dates (the wrong model) is caught: its forecasts are biased and its intervals miss.

The graph's prior is checked against every consumer in ``tests/test_consistency.py``
(cases ``k2@dated`` and ``k2@lone-dated``).
"""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import time_trend

from bayes_scaling.capability_prior import (
    capability_prior,
    family_dates,
    member_conditional_prior,
)
from bayes_scaling.cli import run
from bayes_scaling.data import RELEASE, decimal_year, from_wide, iso_date, to_wide
from bayes_scaling.errors import DataError
from bayes_scaling.model import build_inputs, build_model
from bayes_scaling.simulate import simulate
from bayes_scaling.specs import load_spec

TREND = 0.5


# --------------------------------------------------------------------------- the column
def test_release_dates_are_decimal_years_and_write_back_as_iso_dates() -> None:
    df = pd.DataFrame(
        {
            "Model": list("abcde"),
            RELEASE: ["2023-07-18", "2024-03", "2022", "", 2021.5],
            "MMLU": [0.3, 0.4, 0.5, 0.6, 0.7],
        }
    )
    ds = from_wide(df)
    expected = [
        2023 + 198 / 365,  # 18 July is day 199 of 2023
        2024 + 60 / 366,  # 1 March 2024, a leap year
        2022.0,
        np.nan,
        2021.5,
    ]
    np.testing.assert_allclose(ds["release"].to_numpy(), expected)
    assert "MMLU" in ds["benchmark"] and RELEASE not in ds["benchmark"]
    back = to_wide(ds)[RELEASE].tolist()
    assert back == ["2023-07-18", "2024-03-01", "2022-01-01", "", "2021-07-02"]
    assert all(
        iso_date(decimal_year(datetime.date(2020, 1, 1) + datetime.timedelta(d)))
        == (datetime.date(2020, 1, 1) + datetime.timedelta(d)).isoformat()
        for d in range(0, 1500, 7)
    )
    # A table without the column has no release coordinate (and no time trend).
    assert "release" not in from_wide(df.drop(columns=RELEASE)).coords


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("2023-13-01", "not a calendar date"),
        ("July 2023", "not a date"),
        (1e21, "not a year from 1950 to 2200"),
        ("2023/07/18", "not a date"),
    ],
)
def test_a_bad_release_date_names_its_row_and_column(value: object, words: str) -> None:
    df = pd.DataFrame(
        {"Model": list("abc"), RELEASE: ["2023-01-01", value, None], "MMLU": [0.3, 0.4, 0.5]}
    )
    with pytest.raises(DataError) as info:
        from_wide(df)
    assert (info.value.row, info.value.column) == (2, RELEASE)
    assert words in str(info.value)
    assert "\n" not in str(info.value)


def test_fit_refuses_a_bad_release_date_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tmp_path / "t.csv"
    table.write_text(
        "Model,Release Date,MMLU\na,2023-01-05,0.3\nb,soon,0.4\nc,2024-02-01,0.5\n",
        encoding="utf-8",
    )
    code = run(["fit", str(table), "--out", str(tmp_path / "r.nc")])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert "row 2" in err and "'Release Date'" in err and "'soon' is not a date" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv"]


# ---------------------------------------------------------------------- graph and prior
def _dated(seed: int = 0, **kw: object) -> xr.Dataset:
    return simulate(24, 6, 5, capabilities=2, seed=seed, time_trend=TREND, **kw).data


def test_the_graph_has_a_time_trend_exactly_when_the_data_have_dates() -> None:
    data = _dated()
    spec = load_spec("k2")
    inputs = build_inputs(data, spec)
    assert inputs.has_time_trend
    assert "time_trend" in build_model(inputs, spec).named_vars
    # Family dates are the means of their models', centred on the mean over models.
    release = data["release"].to_numpy()
    assert inputs.t_mean == pytest.approx(release.mean())
    np.testing.assert_allclose(
        inputs.t_family,
        family_dates(release, inputs.family_index, len(inputs.families), release.mean()),
    )
    undated = data.drop_vars("release")
    assert not build_inputs(undated, spec).has_time_trend
    assert "time_trend" not in build_model(build_inputs(undated, spec), spec).named_vars
    blank = data.assign_coords(release=("model", np.full(data.sizes["model"], np.nan)))
    assert not build_inputs(blank, spec).has_time_trend


def test_a_new_family_moves_with_its_date_and_an_unknown_date_widens_it() -> None:
    kw = {
        "family_index": np.array([-1, -1, -1, 0]),
        "alpha": np.array([[0.3, 0.1]]),
        "tau": np.array([0.4, 0.5]),
        "resid_sd": np.array([0.2, 0.8]),
        "x_sd": 1.0,
    }
    x = np.array([1.0, 1.0, 1.0, 1.0])
    t = np.array([2.0, 0.0, np.nan, 5.0])
    loc, scale = capability_prior(x=x, t=t, t_sd=1.5, per_year=np.array([0.5]), **kw)
    base_loc, base_scale = capability_prior(x=x, **kw)
    # Two years after the mean date: one decade more; at the mean date: no change.
    np.testing.assert_allclose(loc[0, :, 0] - base_loc[:, 0], [1.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(loc[0, :, 1], base_loc[:, 1])
    # An unknown date adds the trend times the spread of family dates, on the general axis.
    np.testing.assert_allclose(scale[0, 2, 0] ** 2 - base_scale[2, 0] ** 2, (0.5 * 1.5) ** 2)
    np.testing.assert_allclose(scale[0, [0, 1, 3]], base_scale[[0, 1, 3]])
    # A family of the fit holds its trend in alpha: its own date is not read again.
    assert loc[0, 3, 0] == base_loc[3, 0]


def test_leave_one_out_centres_the_family_effect_on_the_trend() -> None:
    """``member_conditional_prior``: the family effect's prior mean is the trend's."""
    kw = {"tau": np.array([0.5, 0.5]), "resid_sd": np.array([0.3, 0.9]), "x_sd": 1.0}
    none = np.zeros((0, 2))
    loc, scale = member_conditional_prior(1.0, none, np.zeros(0), alpha_mean=[0.7, 0.0], **kw)
    np.testing.assert_allclose(loc, [1.7, 0.0])
    np.testing.assert_allclose(scale, np.sqrt([0.3**2 + 0.5**2, 0.9**2 + 0.5**2]))
    # Members and prior mean moved together move the model by as much.
    members = np.array([[0.2, -0.1], [0.5, 0.3]])
    at = member_conditional_prior(None, members, np.array([0.0, 1.0]), **kw)[0]
    moved = member_conditional_prior(
        None, members + np.array([0.4, 0.0]), np.array([0.0, 1.0]), alpha_mean=[0.4, 0.0], **kw
    )[0]
    np.testing.assert_allclose(moved - at, [0.4, 0.0])


# --------------------------------------------------------------------------- real fits
@pytest.mark.sampling
@pytest.mark.slow
def test_forecasts_of_newer_families_use_their_release_dates() -> None:
    split = time_trend.newest_families_split(1, TREND)
    fits = time_trend.fit_both(split, draws=1000, tune=1000, chains=4)
    dated, blind = fits["dates"], fits["no dates"]
    assert dated.diagnostics.max_rhat < 1.02 and dated.diagnostics.divergences == 0
    lo, hi = np.quantile(dated.posterior["time_trend"].to_numpy(), [0.05, 0.95])
    assert lo > 0.1 and lo < TREND < hi, (lo, hi)
    assert dated.summary_dict()["time_trend"]["decades_per_year"]["lower"] == pytest.approx(lo)
    assert "time_trend" not in blind.posterior and blind.summary_dict()["time_trend"] is None
    err, inside, _ = time_trend.errors(dated, split)
    blind_err, blind_inside, _ = time_trend.errors(blind, split)
    # Measured (docs/model.md): 4.6 points and 0.90 with dates; 22 points and 0.46 without.
    assert inside.mean() >= 0.8, inside.mean()
    assert err.mean() < 0.5 * blind_err.mean(), (err.mean(), blind_err.mean())
    assert blind_inside.mean() < 0.7, blind_inside.mean()
