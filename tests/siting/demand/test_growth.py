"""Growth model: family choice by cross-validation, bands, overrides, demand scaling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyogrio
import pytest
from sklearn.linear_model import PoissonRegressor
from testdata import ROOT

from siting.demand.growth import Override, _poisson_per_grid, apply_overrides, fit_growth, scale_demand
from siting.errors import InputError


def _history(kind: str, n_grids: int = 6, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for g in range(n_grids):
        base = rng.uniform(500, 1500)
        slope = rng.uniform(10, 60)
        rate = rng.uniform(0.01, 0.08)
        for year in range(2016, 2025):
            t = year - 2016
            pop = base + slope * t if kind == "linear" else base * np.exp(rate * t)
            rows.append((f"G{g}", year, pop))
    return pd.DataFrame(rows, columns=["grid_id", "year", "population"])


def test_exact_linear_growth_is_found_linear_with_zero_error():
    fit = fit_growth(_history("linear"), families=("linear", "log-linear", "poisson"))
    assert fit.family == "linear"
    assert fit.cv_error["linear"] == pytest.approx(0.0, abs=1e-8)
    assert fit.cv_error["log-linear"] > 0.01
    proj = fit.project(2030)
    h = _history("linear")
    for gid, grp in h.groupby("grid_id"):
        slope = grp["population"].diff().iloc[1]
        expected = grp["population"].iloc[-1] + 6 * slope
        assert proj.set_index("grid_id").loc[gid, "mid"] == pytest.approx(expected)


def test_exact_exponential_growth_prefers_a_log_link():
    fit = fit_growth(_history("exp"), families=("linear", "log-linear", "poisson"))
    assert fit.family in {"log-linear", "poisson"}
    assert fit.cv_error[fit.family] < 1e-6
    assert fit.cv_error["linear"] > 0.1


def test_poisson_per_grid_matches_sklearn():
    y = (
        _history("exp", n_grids=3)
        .pivot_table(index="grid_id", columns="year", values="population")
        .to_numpy()
    )
    t = np.arange(-8, 1)
    ours = _poisson_per_grid(y, t, np.array([3, 6]))
    for g in range(3):
        ref = PoissonRegressor(alpha=0.0, max_iter=10000, tol=1e-12).fit(t[:, None], y[g])
        assert ours[g] == pytest.approx(ref.predict(np.array([[3], [6]])), rel=1e-6)


def test_bands_bracket_the_mid_projection_and_widen_beyond_cv_horizons():
    rng = np.random.default_rng(3)
    h = _history("linear", n_grids=12)
    h["population"] *= rng.normal(1.0, 0.02, len(h))
    fit = fit_growth(h, families=("linear", "log-linear"))
    p27, p30 = fit.project(2027), fit.project(2030)
    assert (p30["low"] <= p30["mid"]).all() and (p30["mid"] <= p30["high"]).all()
    assert ((p30["high"] - p30["low"]) / p30["mid"]).mean() > ((p27["high"] - p27["low"]) / p27["mid"]).mean()
    assert set(fit.summary()["cv_error_percent"]) == {"linear", "log-linear"}


def test_gradient_boosting_runs_and_is_scored():
    fit = fit_growth(_history("exp", n_grids=20), families=("linear", "gradient-boosting"), seed=1)
    assert np.isfinite(fit.cv_error["gradient-boosting"])
    assert fit.cv_origins == (2021, 2022, 2023)


@pytest.mark.parametrize(
    ("history", "message"),
    [
        (pd.DataFrame({"grid_id": ["A"], "year": [2020]}), "missing column(s) population"),
        (_history("linear").assign(population=-1.0), "missing or negative population"),
        (_history("linear").iloc[1:], "1 grid(s) miss some years"),
        (_history("linear").query("year < 2019"), "only 3 year(s) of history"),
    ],
)
def test_bad_history_is_rejected(history, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        fit_growth(history, families=("linear",))


def test_unknown_family_is_rejected():
    with pytest.raises(InputError, match="families"):
        fit_growth(_history("linear"), families=("cubic",))  # type: ignore[arg-type]


def test_overrides_add_residents_by_grid_and_by_compound():
    proj = fit_growth(_history("linear"), families=("linear",)).project(2030)
    compounds = {"G0": "Sunny", "G1": "Sunny", "G2": "Other"}
    out = apply_overrides(
        proj,
        [
            Override(residents=1000, grid_id="G3"),
            Override(residents=500, compound="Sunny"),
            Override(residents=9, grid_id="G4", year=2031),
        ],
        grid_compound=compounds,
    )
    added = out.set_index("grid_id")["added"]
    assert added["G3"] == 1000 and added["G4"] == 0
    assert added["G0"] + added["G1"] == pytest.approx(500)
    assert (out["mid"] - proj["mid"]).sum() == pytest.approx(1500)


def test_override_errors_name_the_override():
    proj = fit_growth(_history("linear"), families=("linear",)).project(2030)
    with pytest.raises(InputError) as info:
        apply_overrides(
            proj,
            [
                Override(residents=10, grid_id="NOPE"),
                Override(residents=-5, grid_id="G1"),
                Override(residents=1),
            ],
        )
    text = str(info.value)
    assert "overrides[0].grid_id: unknown grid id 'NOPE'" in text
    assert "overrides[1].residents" in text
    assert "overrides[2]: give exactly one of grid_id and compound" in text


def test_scale_demand_matches_grid_projection():
    h = _history("linear", n_grids=2)
    proj = fit_growth(h, families=("linear",)).project(2028)
    demand = pd.DataFrame({"grid_id": ["G0", "G0", "G1"], "population": [10.0, 30.0, 0.0]})
    out = scale_demand(demand, proj)
    mids = proj.set_index("grid_id")["mid"]
    assert out["population"].iloc[:2].sum() == pytest.approx(mids["G0"])
    assert out["population"].iloc[0] / out["population"].iloc[1] == pytest.approx(1 / 3)
    assert out["population"].iloc[2] == pytest.approx(mids["G1"])
    assert out["households"].iloc[2] == pytest.approx(mids["G1"] / 2.48)
    with pytest.raises(InputError, match="have no projection"):
        scale_demand(pd.DataFrame({"grid_id": ["X"], "population": [1.0]}), proj)


def test_jiangbei_projection_to_2030_with_cross_validation_error():
    hist = pyogrio.read_dataframe(
        ROOT / "gis_data" / "jiangbei.gpkg", layer="population_history", read_geometry=False
    )
    fit = fit_growth(hist, families=("linear", "log-linear", "poisson"))
    proj = fit.project(2030)
    assert len(proj) == 856
    assert fit.cv_error[fit.family] < 5.0  # percent, out of sample
    total_2024 = hist.loc[hist["year"] == 2024, "population"].sum()
    assert proj["base"].sum() == pytest.approx(total_2024)
    assert proj["low"].sum() <= proj["mid"].sum() <= proj["high"].sum()
    assert proj["mid"].sum() > total_2024  # the area keeps growing
