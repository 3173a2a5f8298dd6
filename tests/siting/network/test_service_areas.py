"""Service areas: reachable street polygons, checked by hand on a straight street and on Nanjing."""

import geopandas as gpd
import numpy as np
import pytest
import shapely
from testdata import OSM_CENTRAL

from siting import network
from siting.errors import InputError

X0, Y0 = 500_000.0, 3_500_000.0
OSM = OSM_CENTRAL


def street():
    """A straight 1,000 m street with a 300 m side street at x = 800."""
    lines = [
        shapely.LineString([(X0, Y0), (X0 + 1000, Y0)]),
        shapely.LineString([(X0 + 800, Y0), (X0 + 800, Y0 + 300)]),
    ]
    return network.network_from_lines(gpd.GeoDataFrame(geometry=lines, crs=32650))


def test_reachable_length_known_by_hand():
    g = street()
    sites = gpd.GeoDataFrame(geometry=[shapely.Point(X0 + 500, Y0 + 10)], crs=32650, index=["s1"])
    areas = network.service_areas(g, sites, 250, buffer_m=20)
    row = areas.loc["s1"]
    # leg 10 m, budget 240 m along the street: [260, 740]
    assert row["reachable_m"] == pytest.approx(480.0, abs=1e-6)
    assert row["mode"] == "network"
    assert row.geometry.area == pytest.approx(480 * 40 + np.pi * 20**2, rel=2e-3)
    assert row.geometry.contains(shapely.Point(X0 + 270, Y0))
    assert not row.geometry.intersects(shapely.Point(X0 + 230, Y0))


def test_branch_partially_reached():
    g = street()
    sites = gpd.GeoDataFrame(geometry=[shapely.Point(X0 + 700, Y0)], crs=32650)
    row = network.service_areas(g, sites, 200, buffer_m=5).iloc[0]
    # along the main street [500, 900] = 400 m, plus 100 m up the side street
    assert row["reachable_m"] == pytest.approx(500.0, abs=1e-6)
    assert row.geometry.contains(shapely.Point(X0 + 800, Y0 + 95))
    assert not row.geometry.intersects(shapely.Point(X0 + 800, Y0 + 110))


def test_straight_line_circle_and_wgs84():
    sites = gpd.GeoDataFrame(geometry=[shapely.Point(118.78, 32.05)], crs=4326)
    areas = network.service_areas(None, sites, 500, circuity=1.25)
    assert areas.iloc[0]["mode"] == "straight-line"
    assert areas.crs.to_epsg() == 32650
    assert areas.iloc[0].geometry.area == pytest.approx(np.pi * 400**2, rel=0.01)
    assert network.service_areas(None, sites, 500, to_wgs84=True).crs.to_epsg() == 4326


def test_far_site_gets_empty_area():
    g = street()
    sites = gpd.GeoDataFrame(geometry=[shapely.Point(X0, Y0 + 900)], crs=32650)
    with pytest.warns(UserWarning, match="more than 250 m"):
        areas = network.service_areas(g, sites, 500)
    assert areas.iloc[0].geometry.is_empty
    assert not areas.iloc[0]["snapped"]


def test_nanjing_area_contains_reached_nodes():
    g = network.load_network(OSM)
    site_xy = g.node_xy[int(np.argmax(np.bincount(g.edge_u, minlength=g.n_nodes)))]
    sites = gpd.GeoDataFrame(geometry=[shapely.Point(site_xy)], crs=g.crs).to_crs(4326)
    area = network.service_areas(g, sites, 500, buffer_m=10).iloc[0].geometry
    nodes = gpd.GeoDataFrame(geometry=shapely.points(g.node_xy), crs=g.crs)
    cov = network.coverage_matrix(g, nodes, sites, radius=500).toarray()[:, 0]
    assert cov.sum() > 5
    assert shapely.contains(area, shapely.points(g.node_xy[cov])).all()
    assert area.area < np.pi * 500**2


def test_bad_radius():
    sites = gpd.GeoDataFrame(geometry=[shapely.Point(118.78, 32.05)], crs=4326)
    with pytest.raises(InputError, match="radius"):
        network.service_areas(None, sites, -1)
