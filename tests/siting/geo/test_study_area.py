"""Loading study areas from every supported format, and what a StudyArea offers."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from testdata import STUDY_AREAS

from siting.errors import StudyAreaError
from siting.geo.study_area import StudyArea, load_study_area

FIXTURES = STUDY_AREAS
_spec = importlib.util.spec_from_file_location("build_fixtures", FIXTURES / "build_fixtures.py")
assert _spec
assert _spec.loader
build_fixtures = importlib.util.module_from_spec(_spec)
sys.modules["build_fixtures"] = build_fixtures
_spec.loader.exec_module(build_fixtures)

EXPECTED_COUNTS = {
    "boundary": 1,
    "grids": 4,
    "demand": 24,
    "candidates": 6,
    "existing": 1,
    "fire_lanes": 2,
    "roads": 2,
    "exclusions": 1,
}


def _check(area: StudyArea) -> None:
    assert {k: len(v) for k, v in area.layers.items()} == EXPECTED_COUNTS
    assert area.crs.to_epsg() == 32650
    assert all(v.crs == area.crs for v in area.layers.values())
    totals = area.totals()
    expected_pop = float(build_fixtures.valid_layers()["demand"]["population"].sum())
    assert totals["population"] == pytest.approx(expected_pop)
    assert totals["households"] == pytest.approx(expected_pop / 2.48)


def test_folder_of_geojson(valid_area_dir):
    area = load_study_area(valid_area_dir)
    _check(area)
    assert list(area.tables) == ["population_history"]
    assert len(area.tables["population_history"]) == 36


def test_geopackage_with_table_and_network_reference(tmp_path):
    gpkg = tmp_path / "area.gpkg"
    layers = build_fixtures.valid_layers()
    for name, frame in layers.items():
        if isinstance(frame, gpd.GeoDataFrame):
            frame.to_file(gpkg, layer=name, driver="GPKG")
        else:
            pyogrio.write_dataframe(frame, gpkg, layer=name, driver="GPKG")
    (tmp_path / "streets.osm").write_text("<osm version='0.6'></osm>")
    pyogrio.write_dataframe(
        pd.DataFrame({"key": ["network_path"], "value": ["streets.osm"]}),
        gpkg,
        layer="metadata",
        driver="GPKG",
    )
    area = load_study_area(gpkg)
    _check(area)
    assert area.network_path == (tmp_path / "streets.osm").resolve()
    assert area.tables["population_history"]["population"].iloc[0] == 1000.0


def test_shapefiles_csv_and_geoparquet_in_one_folder(tmp_path):
    layers = build_fixtures.valid_layers()
    folder = tmp_path / "mixed"
    folder.mkdir()
    layers["grids"].to_file(folder / "grids.shp")
    layers["boundary"].to_parquet(folder / "boundary.parquet")
    d = layers["demand"]
    pd.DataFrame(
        {"lon": d.geometry.x, "lat": d.geometry.y, "demand_id": d["demand_id"], "population": d["population"]}
    ).to_csv(folder / "demand.csv", index=False)
    for name in ("candidates", "existing", "fire_lanes", "roads", "exclusions"):
        layers[name].to_file(folder / f"{name}.gpkg", driver="GPKG")
    (folder / "network.osm.pbf").write_bytes(b"")
    (folder / "notes.geojson").write_text("{}")
    area = load_study_area(folder)
    _check(area)
    assert area.network_path is not None
    assert area.network_path.name == "network.osm.pbf"
    assert any("notes.geojson" in str(w) and "ignored" in str(w) for w in area.warnings)


def test_from_frames_in_any_crs_and_with_households_only():
    layers = build_fixtures.valid_layers()
    demand = layers["demand"].to_crs(4490)  # CGCS2000 input
    demand["households"] = demand.pop("population") / 2.48
    area = StudyArea.from_frames(demand=demand, grids=layers["grids"].to_crs(3857), name="mem")
    assert area.crs.to_epsg() == 32650
    assert set(area.layers) == {"demand", "grids"}
    assert area.totals()["population"] == pytest.approx(float(layers["demand"]["population"].sum()))


def test_from_frames_rejects_unknown_layer_names():
    layers = build_fixtures.valid_layers()
    with pytest.raises(StudyAreaError, match="unknown layer name"):
        StudyArea.from_frames(demand=layers["demand"], stations=layers["candidates"])


def test_from_frames_collects_problems_across_layers():
    layers = build_fixtures.valid_layers()
    bad = layers["candidates"].drop(columns="site_id")
    with pytest.raises(StudyAreaError) as info:
        StudyArea.from_frames(demand=layers["demand"].drop(columns="population"), candidates=bad)
    assert len(info.value.problems) == 2


def test_study_area_is_immutable_and_layer_returns_a_copy(valid_area_dir):
    area = load_study_area(valid_area_dir)
    with pytest.raises(dataclasses.FrozenInstanceError):
        area.name = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        area.layers["demand"] = area.layers["grids"]  # type: ignore[index]
    d = area.layer("demand")
    d["population"] = 0
    assert area.totals()["population"] > 0


def test_missing_layer_access_names_the_layer(valid_area_dir):
    area = load_study_area(valid_area_dir)
    with pytest.raises(StudyAreaError, match="has no compounds layer"):
        area.layer("compounds")


def test_summary_and_output_crs(valid_area_dir):
    area = load_study_area(valid_area_dir)
    s = area.summary()
    assert s["grids"] == 4
    assert s["layers"]["demand"]["features"] == 24
    assert s["crs"] == "EPSG:32650"
    lon0, lat0, lon1, lat1 = s["bounds_wgs84"]
    assert 118.69 < lon0 < lon1 < 118.71
    assert 32.07 < lat0 < lat1 < 32.09
    gcj = area.layer_in("demand", "gcj02")
    assert gcj.geometry.x.min() > lon0 + 0.004


def test_single_file_is_not_a_study_area(valid_area_dir):
    with pytest.raises(StudyAreaError, match="cannot hold a study area"):
        load_study_area(valid_area_dir / "demand.geojson")
