"""Invariants of the committed demo study areas, and a rebuild that must reproduce them exactly."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from siting.cli.demo import demo_app
from siting.demo import GIS_DATA, canonical_digest, demo_path, summarise
from siting.demo.central import read_overpass
from siting.demo.common import SOURCES, read_layers
from siting.demo.grids import adjacency, bisect, partition
from siting.demo.history import population_history
from siting.demo.sites import LANE_CLEARANCE_M
from siting.geo.study_area import load_study_area

REPO = GIS_DATA.parent
MB = 1_000_000


@pytest.fixture(scope="module")
def jiangbei() -> dict[str, pd.DataFrame]:
    return read_layers(demo_path("jiangbei"))


@pytest.fixture(scope="module")
def central() -> dict[str, pd.DataFrame]:
    return read_layers(demo_path("nanjing_central"))


def _covering_grids(demand: gpd.GeoDataFrame, grids: gpd.GeoDataFrame) -> pd.Series:
    """Number of grids containing each demand point (by position)."""
    pi, _ = grids.sindex.query(demand.geometry.to_numpy(), predicate="within")
    return pd.Series(np.bincount(pi, minlength=len(demand)))


def _assert_sites_clear(layers: dict[str, pd.DataFrame]) -> None:
    cands, lanes, excl = layers["candidates"], layers["fire_lanes"], layers["exclusions"]
    water = shapely.union_all(excl.loc[excl["kind"] == "water"].geometry.to_numpy())
    assert not cands.intersects(water).any()
    corridor = shapely.union_all(shapely.buffer(lanes.geometry.to_numpy(), lanes["width_m"].to_numpy() / 2))
    assert not cands.intersects(corridor).any()
    # and the clearance strip beside each lane is respected too
    tree = shapely.STRtree(lanes.geometry.to_numpy())
    idx = tree.nearest(cands.geometry.to_numpy())
    gap = shapely.distance(cands.geometry.to_numpy(), lanes.geometry.to_numpy()[idx])
    assert (gap >= lanes["width_m"].to_numpy()[idx] / 2 + LANE_CLEARANCE_M - 0.01).all()


@pytest.mark.parametrize("name", ["jiangbei", "nanjing_central"])
def test_every_feature_has_a_known_source_and_a_unique_id(name: str) -> None:
    layers = read_layers(demo_path(name))
    assert "demand" in layers
    for lname, frame in layers.items():
        if lname == "metadata":
            continue
        assert frame["source"].notna().all(), lname
        assert set(frame["source"]) <= set(SOURCES), lname
        if isinstance(frame, gpd.GeoDataFrame):
            assert frame.crs.to_epsg() == 32650
            id_col = next(c for c in frame.columns if c.endswith("_id"))
            assert frame[id_col].is_unique, lname


@pytest.mark.parametrize("name", ["jiangbei", "nanjing_central"])
def test_loads_with_the_study_area_loader(name: str) -> None:
    area = load_study_area(demo_path(name))
    assert {"boundary", "demand", "grids", "candidates", "fire_lanes", "exclusions"} <= set(area.layers)
    assert str(area.crs) == "EPSG:32650"


def test_jiangbei_residents_and_households(jiangbei: dict[str, pd.DataFrame]) -> None:
    demand = jiangbei["demand"]
    assert 1_000 <= len(demand) <= 100_000
    assert demand["population"].sum() == pytest.approx(843_400, rel=0.005)
    assert demand["households"].sum() == pytest.approx(843_400 / 2.48, rel=0.005)
    assert (demand["population"] >= 0).all()
    assert set(demand["street"]) == {"TS", "DS", "YJ", "PC", "DC", "GT", "CL"}


def test_jiangbei_grids_cover_every_demand_point_exactly_once(jiangbei: dict[str, pd.DataFrame]) -> None:
    demand, grids = jiangbei["demand"], jiangbei["grids"]
    assert (_covering_grids(demand, grids) == 1).all()
    pi, gi = grids.sindex.query(demand.geometry.to_numpy(), predicate="within")
    assert (grids["grid_id"].to_numpy()[gi] == demand["grid_id"].to_numpy()[pi]).all()
    assert (grids.geom_type == "Polygon").all()  # contiguous
    overlap = shapely.union_all(grids.geometry.to_numpy()).area
    assert overlap == pytest.approx(grids.area.sum(), rel=1e-6)  # no overlaps
    share = grids["households"].between(300, 500).mean()
    assert share >= 0.9
    assert grids["street"].notna().all()
    assert grids["community"].notna().all()


def test_jiangbei_candidates_avoid_water_and_fire_lanes(jiangbei: dict[str, pd.DataFrame]) -> None:
    cands = jiangbei["candidates"]
    assert set(cands["facility_type"]) == {"red_station", "charging_pile"}
    assert (cands["cost"] > 0).all()
    assert (cands["capacity"] > 0).all()
    _assert_sites_clear(jiangbei)
    compounds = shapely.union_all(jiangbei["compounds"].geometry.to_numpy())
    assert cands.within(compounds).all()


def test_jiangbei_fire_lanes_are_joined_rings(jiangbei: dict[str, pd.DataFrame]) -> None:
    lanes, compounds = jiangbei["fire_lanes"], jiangbei["compounds"].set_index("compound_id")
    assert (lanes["width_m"] >= 4.0).all()
    rings = lanes.loc[lanes["kind"] == "ring"]
    assert rings.geometry.is_ring.all()
    for _, conn in lanes.loc[lanes["kind"].str.startswith("connector")].iterrows():
        edge = compounds.loc[conn["compound"], "geometry"].boundary
        start, end = shapely.get_point(conn.geometry, 0), shapely.get_point(conn.geometry, -1)
        ring = rings.loc[rings["compound"] == conn["compound"]].geometry
        assert edge.distance(start) < 0.05
        assert ring.distance(end).min() < 0.05


def test_jiangbei_population_history_matches_published_growth(jiangbei: dict[str, pd.DataFrame]) -> None:
    hist, grids = jiangbei["population_history"], jiangbei["grids"]
    assert set(hist["year"]) == set(range(2016, 2025))
    assert set(hist["source"]) == {"modelled"}
    assert set(hist["grid_id"]) == set(grids["grid_id"])
    y2019 = hist.loc[hist["year"] == 2019].set_index("grid_id")["population"]
    assert np.allclose(y2019.loc[grids["grid_id"]].to_numpy(), grids["population"].to_numpy(), atol=0.01)
    street = (
        hist.merge(grids[["grid_id", "street"]], on="grid_id").groupby(["street", "year"])["population"].sum()
    )
    assert street[("TS", 2022)] - street[("TS", 2016)] == pytest.approx(120_000, abs=1.0)
    total = hist.groupby("year")["population"].sum()
    assert total[2019] == pytest.approx(843_400, rel=0.005)
    assert total.is_monotonic_increasing


def test_central_real_buildings_and_proxy_lanes(central: dict[str, pd.DataFrame]) -> None:
    assert len(central["buildings"]) == 2232
    assert set(central["fire_lanes"]["source"]) == {"proxy"}
    assert set(central["roads"]["source"]) == {"osm"}
    demand, grids = central["demand"], central["grids"]
    assert demand["building_id"].isin(central["buildings"]["building_id"]).all()
    assert (demand["households"] > 0).all()
    assert (_covering_grids(demand, grids) == 1).all()
    _assert_sites_clear(central)
    meta = dict(zip(central["metadata"]["key"], central["metadata"]["value"], strict=True))
    assert (GIS_DATA / meta["network_path"]).exists()


def test_committed_data_stays_under_15_mb() -> None:
    files = [p for p in GIS_DATA.rglob("*") if p.is_file()] + list((REPO / "docs").glob("demo_*.png"))
    total = sum(p.stat().st_size for p in files)
    assert total < 15 * MB, f"{total / MB:.1f} MB"
    for png in ("demo_jiangbei.png", "demo_nanjing_central.png"):
        assert (REPO / "docs" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rebuild_reproduces_the_committed_files(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(GIS_DATA / "raw", raw)
    jb, nc = tmp_path / "jiangbei.gpkg", tmp_path / "nanjing_central.gpkg"
    result = CliRunner().invoke(
        demo_app, ["build", "--raw-dir", str(raw), "--jiangbei-out", str(jb), "--central-out", str(nc)]
    )
    assert result.exit_code == 0, result.output
    assert canonical_digest(jb) == canonical_digest(demo_path("jiangbei"))
    assert canonical_digest(nc) == canonical_digest(demo_path("nanjing_central"))


def test_cli_info_and_map(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(demo_app, ["info"])
    assert result.exit_code == 0, result.output
    assert "residents 843,400" in result.output
    assert "jiangbei" in result.output
    assert "nanjing_central" in result.output
    assert "proxy: fire_lanes" in result.output
    result = runner.invoke(demo_app, ["map", "--out-dir", str(tmp_path), "--name", "jiangbei"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "demo_jiangbei.png").stat().st_size > 50_000
    assert not (tmp_path / "demo_nanjing_central.png").exists()
    result = runner.invoke(demo_app, ["map", "--out-dir", str(tmp_path), "--name", "paris"])
    assert result.exit_code == 2
    assert "unknown demo" in result.output
    result = runner.invoke(demo_app, ["info", str(tmp_path / "missing.gpkg")])
    assert result.exit_code == 2
    assert "siting demo build" in result.output


def test_summarise_counts_real_and_modelled_layers() -> None:
    s = summarise(demo_path("jiangbei"))
    assert s["grids"] == len(read_layers(demo_path("jiangbei"))["grids"])
    assert "compounds" in s["real_layers"]
    assert "exclusions" in s["real_layers"]
    assert {"demand", "grids", "boundary", "fire_lanes", "candidates"} <= set(s["modelled_layers"])
    with pytest.raises(ValueError, match="unknown demo"):
        demo_path("shanghai")


def test_partition_is_balanced_and_contiguous_on_a_lattice() -> None:
    # a 4 x 6 lattice of 10 m cells, each 50 households, one zone: 1,200 households -> 3 grids of 400
    cells = [shapely.box(10 * c, 10 * r, 10 * c + 10, 10 * r + 10) for r in range(4) for c in range(6)]
    pieces = gpd.GeoDataFrame({"households": [50.0] * 24, "compound": ["z"] * 24}, geometry=cells, crs=32650)
    labels = partition(pieces, target=400.0)
    assert sorted(np.bincount(labels, weights=pieces["households"])) == [400.0, 400.0, 400.0]
    for g in range(3):
        assert shapely.union_all(pieces.geometry[labels == g].to_numpy()).geom_type == "Polygon"
    assert adjacency(np.asarray(cells)).nnz == 2 * (4 * 5 + 3 * 6)


def test_bisect_splits_by_weight() -> None:
    x = np.arange(6, dtype=float)
    groups = bisect(np.arange(6), 2, x, np.zeros(6), np.array([1, 1, 1, 1, 1, 5.0]))
    assert [g.tolist() for g in groups] == [[0, 1, 2, 3, 4], [5]]
    three = bisect(np.arange(6), 3, x, np.zeros(6), np.ones(6))
    assert [g.tolist() for g in three] == [[0, 1], [2, 3], [4, 5]]


def test_population_history_keeps_street_totals() -> None:
    grids = pd.DataFrame(
        {"grid_id": ["a", "b", "c"], "street": ["TS", "TS", "GT"], "population": [1e5, 5e4, 2e4]}
    )
    district = pd.Series({"TS": "320111", "GT": "320116"})
    hist = population_history(grids, district, seed=1)
    by = hist.merge(grids[["grid_id", "street"]]).groupby(["street", "year"])["population"].sum()
    assert by[("TS", 2019)] == pytest.approx(1.5e5)
    assert by[("TS", 2016)] == pytest.approx(1.5e5 - 60_000, abs=0.01)
    assert by[("GT", 2020)] == pytest.approx(2e4 * 1.01, abs=0.01)
    again = population_history(grids, district, seed=1)
    pd.testing.assert_frame_equal(hist, again)


def test_read_overpass_closes_unclosed_rings(tmp_path: Path) -> None:
    ring = [[118.78, 32.04], [118.781, 32.04], [118.781, 32.041], [118.78, 32.041]]  # not closed
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"id": "way/1", "building": "yes"},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            },
        ],
    }
    path = tmp_path / "x.geojson"
    path.write_text(json.dumps(fc))
    gdf, report = read_overpass(path)
    assert report.closed_rings == ["way/1"]
    assert gdf.geometry.iloc[0].is_valid
    assert gdf.geometry.iloc[0].area > 9_000
