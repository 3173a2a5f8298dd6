"""Red stations: hand-checked small cases, grid rules, and the Jiangbei 10-minute plan checked independently."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import Point, box
from testdata import ROOT

from siting.errors import InputError
from siting.geo.study_area import StudyArea, load_study_area
from siting.planning import red_stations as rs

X0, Y0 = 660_000.0, 3_550_000.0
CRS = "EPSG:32650"


def _area(existing: bool = False) -> StudyArea:
    # two grids side by side, 1 km wide each; demand along a line
    grids = gpd.GeoDataFrame(
        {"grid_id": ["A", "B"], "community": ["C", "C"]},
        geometry=[box(X0, Y0, X0 + 1000, Y0 + 1000), box(X0 + 1000, Y0, X0 + 2000, Y0 + 1000)],
        crs=CRS,
    )
    xs = [100, 300, 500, 1100, 1900]
    hh = [10.0, 20.0, 30.0, 40.0, 5.0]
    demand = gpd.GeoDataFrame({"households": hh}, geometry=[Point(X0 + x, Y0 + 500) for x in xs], crs=CRS)
    cands = gpd.GeoDataFrame(
        {"site_id": ["s0", "s1", "s2"], "facility_type": ["red_station"] * 3},
        geometry=[Point(X0 + 300, Y0 + 500), Point(X0 + 1150, Y0 + 500), Point(X0 + 1900, Y0 + 520)],
        crs=CRS,
    )
    layers = {"grids": grids, "candidates": cands}
    if existing:
        layers["existing"] = gpd.GeoDataFrame(
            {"site_id": ["e0"], "facility_type": ["red_station"]},
            geometry=[Point(X0 + 1850, Y0 + 500)],
            crs=CRS,
        )
    return StudyArea.from_frames(demand=demand, **layers)


def test_coverage_matrix_and_best_single_station():
    pr = rs.prepare_red_stations(_area(), radius_m=250)
    # s0 covers x=100,300,500 (60 hh); s1 covers 1100 (40); s2 covers 1900 (5)
    assert pr.coverage.toarray().astype(int).tolist() == [
        [1, 0, 0],
        [1, 0, 0],
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
    ]
    plan = rs.best_stations(pr, p=1, method="exact")
    assert plan.sites["site_id"].tolist() == ["s0"]
    assert plan.summary["households_covered"] == pytest.approx(60.0)
    assert plan.summary["covered_share"] == pytest.approx(60 / 105)


def test_grid_table_by_hand():
    pr = rs.prepare_red_stations(_area(), radius_m=250)
    table = rs.grid_table(pr, [0, 2]).set_index("grid_id")
    assert table.loc["A", "households"] == 60 and table.loc["B", "households"] == 45
    assert table.loc["A", "covered_share"] == 1.0 and table.loc["A", "own_grid_share"] == 1.0
    assert table.loc["B", "covered_share"] == pytest.approx(5 / 45)
    assert table.loc["A", "stations"] == 1 and table.loc["B", "stations"] == 1


def test_fewest_for_share_and_next_best_ranking():
    pr = rs.prepare_red_stations(_area(), radius_m=250)
    plan = rs.fewest_stations_for_share(pr, 0.9)  # 60 + 40 = 100 of 105 hh
    assert sorted(plan.sites["site_id"]) == ["s0", "s1"]
    ranked = rs.next_best_stations(pr, [], k=3)
    assert ranked["site_id"].tolist() == ["s0", "s1", "s2"]
    assert ranked["households_gained"].tolist() == [60.0, 40.0, 5.0]
    assert ranked["covered_share"].iloc[-1] == pytest.approx(1.0)


def test_existing_stations_stay_open_and_rank_first():
    pr = rs.prepare_red_stations(_area(existing=True), radius_m=250)
    plan = rs.best_stations(pr, p=2, method="exact")
    assert plan.sites["site_id"].tolist() == ["e0", "s0"]
    assert plan.sites["existing"].tolist() == [True, False]
    assert plan.summary["new_stations"] == 1


def test_per_grid_rule_forces_a_station_in_each_grid():
    pr = rs.prepare_red_stations(_area(), radius_m=700, grid_rule="per_grid")
    plan = rs.best_stations(pr, p=2, method="exact")
    assert set(plan.sites["grid_id"]) == {"A", "B"}
    grp = rs.prepare_red_stations(
        _area(), radius_m=700, grid_rule="per_group", grid_groups={"AB": ["A", "B"]}
    )
    assert list(grp.groups) == ["AB"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"radius_m": -5}, "radius_m: must be > 0 metres"),
        ({"life_circle": "20min"}, "unknown life circle '20min'"),
        ({"grid_rule": "per_street"}, "grid_rule: unknown rule"),
        ({"grid_rule": "per_group", "grid_groups": {"x": ["Z9"]}}, "grid_groups: 1 unknown grid id"),
    ],
)
def test_bad_parameters(kwargs, message):
    with pytest.raises(InputError, match=message):
        rs.prepare_red_stations(_area(), **kwargs)


def test_share_outside_range_and_unreachable_target():
    pr = rs.prepare_red_stations(_area(), radius_m=50)
    with pytest.raises(InputError, match="share: must be in"):
        rs.fewest_stations_for_share(pr, 1.5)
    with pytest.raises(InputError, match="are within 50 m of any site"):
        rs.fewest_stations_for_share(pr, 0.99)


def _independent_coverage(area: StudyArea, site_points: np.ndarray, radius: float) -> np.ndarray:
    """Covered flag per demand point from geometry alone (shapely distances, STRtree)."""
    demand = area.layers["demand"].geometry.to_numpy()
    tree = shapely.STRtree(site_points)
    d_idx, _ = tree.query(demand, predicate="dwithin", distance=radius)
    covered = np.zeros(len(demand), dtype=bool)
    covered[d_idx] = True
    return covered


@pytest.mark.slow
@pytest.mark.parametrize("share", [0.95, 0.99])
def test_jiangbei_10_minute_plan_checked_from_geometry(share):
    area = load_study_area(ROOT / "gis_data" / "jiangbei.gpkg")
    pr = rs.prepare_red_stations(area, life_circle="10min")
    plan = rs.fewest_stations_for_share(pr, share)
    hh = area.layers["demand"]["households"].to_numpy()
    covered = _independent_coverage(area, plan.sites.geometry.to_numpy(), 500.0)
    assert hh[covered].sum() / hh.sum() >= share
    assert hh[covered].sum() == pytest.approx(plan.summary["households_covered"], rel=1e-9)
    # one station fewer cannot reach the share: the best p-1 stations fall short
    fewer = rs.best_stations(pr, p=plan.summary["stations"] - 1, method="exact")
    assert fewer.summary["covered_share"] < share
    # each grid's coverage, recomputed per grid from the geometry
    grid_of = area.layers["demand"]["grid_id"].to_numpy()
    table = plan.grids.set_index("grid_id")
    for gid in table.index[:: max(1, len(table) // 50)]:
        m = grid_of == gid
        assert table.loc[gid, "covered_share"] == pytest.approx(hh[m & covered].sum() / hh[m].sum())
