"""Fire lanes: distances, clearance (width / 2 + clearance) and matching to network edges, by hand."""

import geopandas as gpd
import numpy as np
import pytest
import shapely

from siting import network
from siting.errors import InputError

X0, Y0 = 500_000.0, 3_500_000.0


def lanes():
    return gpd.GeoDataFrame(
        {"width_m": [6.0, np.nan]},
        geometry=[
            shapely.LineString([(X0, Y0), (X0 + 200, Y0)]),
            shapely.LineString([(X0, Y0 + 100), (X0 + 200, Y0 + 100)]),
        ],
        crs=32650,
        index=["L1", "L2"],
    )


def candidates():
    xy = [(50, 4.9), (50, 5.1), (100, 80), (100, 102.5), (100, 103.1)]
    return gpd.GeoDataFrame(
        geometry=shapely.points(np.array(xy) + np.array([X0, Y0])), crs=32650, index=["a", "b", "c", "d", "e"]
    ).to_crs(4326)


def test_distance_and_clearance_by_hand():
    check = network.fire_lane_check(lanes(), candidates(), clearance_m=2.0)
    # L1: 6 m wide -> 3 + 2 = 5 m; L2: default 4 m -> 2 + 2 = 4 m
    assert check.lane_clearance_m.tolist() == [5.0, 4.0]
    assert check.distance_m == pytest.approx([4.9, 5.1, 20.0, 2.5, 3.1], abs=1e-6)
    assert check.nearest_lane == ("L1", "L1", "L2", "L2", "L2")
    assert check.inside_clearance.tolist() == [True, False, False, True, True]
    frame = check.to_frame()
    assert frame.loc["e", "inside_clearance"]
    assert check.crs == "EPSG:32650"


def test_clearance_zero_uses_half_width_only():
    check = network.fire_lane_check(lanes(), candidates(), clearance_m=0.0)
    assert check.inside_clearance.tolist() == [False, False, False, False, False]
    check = network.fire_lane_check(lanes(), candidates(), clearance_m=0.0, default_width_m=7.0)
    assert check.inside_clearance.tolist() == [False, False, False, True, True]


def test_lanes_matched_to_network():
    streets = gpd.GeoDataFrame(
        geometry=[
            shapely.LineString([(X0, Y0 + 1), (X0 + 200, Y0 + 1)]),  # along L1, 1 m off
            shapely.LineString([(X0 + 200, Y0 + 1), (X0 + 200, Y0 + 100)]),  # crosses, not along
        ],
        crs=32650,
    )
    g = network.network_from_lines(streets)
    check = network.fire_lane_check(lanes(), candidates(), g=g, clearance_m=1.0)
    along = int(np.argmin(np.abs(g.edge_geometry[0].coords[0][1] - Y0 - 1)))
    assert check.lane_edges[0].tolist() == [along]
    assert check.lane_edges[1].tolist() == []
    assert check.edge_is_fire_lane.tolist().count(True) == 1
    assert check.lane_match_ratio[0] == pytest.approx(1.0)
    assert check.unmatched_lanes == ("L2",)


def test_bad_inputs():
    poly = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1)], crs=32650)
    with pytest.raises(InputError) as err:
        network.fire_lane_check(poly, candidates(), clearance_m=-1)
    assert "lanes.geometry" in str(err.value)
    assert "clearance_m" in str(err.value)
    bad_width = lanes().assign(width_m=[-2.0, 4.0])
    with pytest.raises(InputError, match="widths"):
        network.fire_lane_check(bad_width, candidates())
