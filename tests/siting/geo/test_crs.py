"""CRS handling: UTM choice, CGCS2000 axis order, GCJ-02 both ways, checked on real Nanjing data."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from pyproj import CRS
from shapely.geometry import Point
from testdata import DATA

from siting.errors import InputError
from siting.geo import crs as scrs

NANJING = DATA / "nanjing"


def _metres(lon, lat, lon2, lat2):
    a = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=4326).to_crs(32650)
    b = gpd.GeoSeries(gpd.points_from_xy(lon2, lat2), crs=4326).to_crs(32650)
    return a.distance(b).to_numpy()


def test_gcj02_offset_around_taishan_is_a_few_hundred_metres():
    lon, lat = np.array([118.70]), np.array([32.09])
    glon, glat = scrs.wgs84_to_gcj02(lon, lat)
    # the published offset near Nanjing is about 0.005 degrees east, -0.002 north
    assert 0.004 < glon[0] - lon[0] < 0.006
    assert -0.003 < glat[0] - lat[0] < 0.0
    assert 300 < _metres(lon, lat, glon, glat)[0] < 700


def test_gcj02_round_trip_within_half_a_metre_around_nanjing():
    rng = np.random.default_rng(0)
    lon = rng.uniform(118.3, 119.3, 2000)
    lat = rng.uniform(31.2, 32.7, 2000)
    back_lon, back_lat = scrs.gcj02_to_wgs84(*scrs.wgs84_to_gcj02(lon, lat))
    assert _metres(lon, lat, back_lon, back_lat).max() < 0.5
    # and the other way round
    glon, glat = scrs.wgs84_to_gcj02(lon, lat)
    again = scrs.wgs84_to_gcj02(*scrs.gcj02_to_wgs84(glon, glat))
    assert _metres(glon, glat, *again).max() < 0.5


def test_points_outside_china_are_not_offset():
    lon, lat = scrs.wgs84_to_gcj02(np.array([2.35]), np.array([48.85]))
    assert lon[0] == pytest.approx(2.35)
    assert lat[0] == pytest.approx(48.85)


@pytest.mark.parametrize(("adcode", "name"), [("320111", "Pukou"), ("320116", "Luhe")])
def test_real_gcj02_districts_match_wgs84_districts(adcode, name):
    gcj = gpd.read_file(NANJING / "districts_nanjing_320100_gcj02.json")
    wgs = gpd.read_file(NANJING / "districts_nanjing_320100_wgs84.geojson")
    converted = scrs.from_output_crs(gcj[gcj["adcode"].astype(str) == adcode], "gcj02").to_crs(32650)
    truth = wgs[wgs["id"].astype(str) == adcode].to_crs(32650)
    raw = gcj[gcj["adcode"].astype(str) == adcode].to_crs(32650)
    a, b, r = converted.geometry.union_all(), truth.geometry.union_all(), raw.geometry.union_all()
    iou = a.intersection(b).area / a.union(b).area
    iou_raw = r.intersection(b).area / r.union(b).area
    assert iou >= 0.99, name
    assert iou > iou_raw  # the conversion really moved the polygon onto the WGS84 one


def test_to_output_crs_gcj02_and_back():
    gdf = gpd.GeoDataFrame({"a": [1]}, geometry=[Point(118.7, 32.09)], crs=4326).to_crs(32650)
    gcj = scrs.to_output_crs(gdf, "gcj02")
    assert gcj.geometry.x.iloc[0] > 118.704
    back = scrs.from_output_crs(gcj, "GCJ-02")
    assert _metres([118.7], [32.09], back.geometry.x, back.geometry.y)[0] < 0.01


def test_cgcs2000_keeps_lon_lat_order():
    gdf = gpd.GeoDataFrame(geometry=[Point(118.7, 32.09)], crs=4326)
    out = scrs.to_output_crs(gdf, "cgcs2000")
    assert out.crs == CRS.from_epsg(4490)
    assert out.geometry.x.iloc[0] == pytest.approx(118.7, abs=1e-6)
    assert out.geometry.y.iloc[0] == pytest.approx(32.09, abs=1e-6)
    back = scrs.from_output_crs(out, "EPSG:4490")
    assert back.geometry.x.iloc[0] == pytest.approx(118.7, abs=1e-6)


def test_metric_crs_is_utm_50n_for_nanjing():
    gdf = gpd.GeoDataFrame(geometry=[Point(118.7, 32.09), Point(118.8, 32.2)], crs=4326)
    assert scrs.metric_crs(gdf).to_epsg() == 32650
    assert scrs.metric_crs(gdf, "EPSG:4547").to_epsg() == 4547  # CGCS2000 / 3-degree GK CM 117E


def test_metric_crs_rejects_degrees_and_missing_crs():
    gdf = gpd.GeoDataFrame(geometry=[Point(118.7, 32.09)], crs=4326)
    with pytest.raises(InputError, match="in degrees"):
        scrs.metric_crs(gdf, "EPSG:4326")
    with pytest.raises(InputError, match="no CRS"):
        scrs.metric_crs(gpd.GeoDataFrame(geometry=[Point(1, 2)]))


def test_unknown_output_crs_names_the_choices():
    gdf = gpd.GeoDataFrame(geometry=[Point(118.7, 32.09)], crs=4326)
    with pytest.raises(InputError, match="use one of: wgs84, cgcs2000, gcj02"):
        scrs.to_output_crs(gdf, "bd09")
