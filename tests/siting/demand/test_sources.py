"""Demand points from polygons, buildings, rasters and tables: totals, shares and errors."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from rasterio.transform import from_origin
from shapely.geometry import box

from siting.demand import sources as demand
from siting.errors import InputError

# two compounds near Taishan, in UTM 50N metres
X0, Y0 = 660_000.0, 3_550_000.0


def _polys() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": ["A", "B"], "population": [1000.0, 3000.0], "floors": [2.0, 6.0]},
        geometry=[box(X0, Y0, X0 + 100, Y0 + 100), box(X0 + 200, Y0, X0 + 300, Y0 + 50)],
        crs="EPSG:32650",
    )


def test_published_total_is_allocated_by_area_on_a_50m_lattice():
    d = demand.from_polygons(_polys(), total_population=843.4)
    assert len(d) == 4 + 2  # 100x100 m -> 4 cells, 100x50 m -> 2 cells
    assert d["population"].sum() == pytest.approx(843.4)
    assert d["households"].sum() == pytest.approx(843.4 / 2.48)
    # equal cells get equal shares: 843.4 / 6
    assert np.allclose(d["population"], 843.4 / 6)
    assert (d["source"] == "modelled").all() and d["demand_id"].is_unique


def test_floor_area_weighting_and_per_polygon_totals():
    d = demand.from_polygons(_polys(), total_population=1400.0, weight="floor_area")
    per_poly = d.groupby("polygon")["population"].sum()
    # floor area: A 10,000 m2 x 2 = 20,000; B 5,000 m2 x 6 = 30,000
    assert per_poly[0] == pytest.approx(560.0) and per_poly[1] == pytest.approx(840.0)
    d2 = demand.from_polygons(_polys(), population_column="population", cell_m=25)
    assert d2.groupby("polygon")["population"].sum().tolist() == pytest.approx([1000.0, 3000.0])
    assert len(d2) == 16 + 8


def test_buildings_households_from_floor_area():
    b = _polys().drop(columns="population")
    b.loc[1, "floors"] = np.nan  # falls back to the default
    d = demand.from_buildings(b, default_floors=5, floor_area_per_household_m2=100)
    assert d["households"].tolist() == pytest.approx([10_000 * 2 / 100, 5_000 * 5 / 100])
    assert d["population"].tolist() == pytest.approx([200 * 2.48, 250 * 2.48])


def test_raster_array_and_geotiff(tmp_path):
    grid = np.array([[0.0, 10.0], [-9.0, 30.0]])
    gt = (X0, 100.0, 0.0, Y0 + 200, 0.0, -100.0)
    d = demand.from_raster(grid, transform=gt, crs="EPSG:32650", nodata=-9.0)
    assert d["population"].tolist() == [10.0, 30.0]
    assert d.geometry.x.tolist() == [X0 + 150, X0 + 150]
    assert d.geometry.y.tolist() == [Y0 + 150, Y0 + 50]
    tif = tmp_path / "pop.tif"
    with rasterio.open(
        tif,
        "w",
        driver="GTiff",
        height=2,
        width=2,
        count=1,
        dtype="float64",
        crs="EPSG:32650",
        transform=from_origin(X0, Y0 + 200, 100, 100),
        nodata=-9.0,
    ) as ds:
        ds.write(grid, 1)
    d2 = demand.from_raster(tif)
    assert d2["population"].tolist() == [10.0, 30.0]
    assert d2.geometry.x.tolist() == d.geometry.x.tolist()


def test_points_table_keeps_both_counts_when_given():
    t = pd.DataFrame(
        {"lon": [118.7, 118.71], "lat": [32.09, 32.1], "population": [5.0, 7.0], "households": [2.0, 2.0]}
    )
    d = demand.from_points(t)
    assert d["households"].tolist() == [2.0, 2.0] and d["population"].tolist() == [5.0, 7.0]
    d2 = demand.from_points(t.drop(columns="households"))
    assert d2["households"].tolist() == pytest.approx([5 / 2.48, 7 / 2.48])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: demand.from_polygons(_polys()),
            "give exactly one of total_population and population_column",
        ),
        (
            lambda: demand.from_polygons(_polys(), total_population=-5),
            "total_population: must be a number > 0",
        ),
        (
            lambda: demand.from_polygons(_polys(), total_population=5, cell_m=0),
            "cell_m: must be a number > 0",
        ),
        (
            lambda: demand.from_polygons(
                _polys().drop(columns="floors"), total_population=5, weight="floor_area"
            ),
            "polygons.floors",
        ),
        (lambda: demand.from_buildings(_polys(), household_size=0), "household_size: must be a number > 0"),
        (lambda: demand.from_raster(np.ones((2, 2)), transform=None, crs=None), "transform"),
        (lambda: demand.from_points(pd.DataFrame({"x": [1.0]})), "table.lon: coordinate column is missing"),
        (
            lambda: demand.from_points(pd.DataFrame({"lon": [1.0], "lat": [2.0], "population": [-1.0]})),
            "table.population",
        ),
    ],
)
def test_bad_parameters_are_named(call, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        call()
