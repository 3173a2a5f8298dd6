"""Snapping to edges and edge splitting, on a hand-made square network (distances known by hand)."""

import geopandas as gpd
import numpy as np
import pytest
import shapely

from siting import network
from siting.errors import InputError
from siting.network.snapping import attach_points, snap_points

X0, Y0 = 500_000.0, 3_500_000.0  # UTM 50N (EPSG:32650) metres, south of Nanjing


def square_network(**options):
    """A 100 m square A(0,0) B(100,0) C(100,100) D(0,100) plus a 50 m spur C-E(150,100)."""
    pts = {"A": (0, 0), "B": (100, 0), "C": (100, 100), "D": (0, 100), "E": (150, 100)}
    lines = [("A", "B"), ("B", "C"), ("C", "D"), ("D", "A"), ("C", "E")]
    geoms = [
        shapely.LineString([(X0 + pts[a][0], Y0 + pts[a][1]), (X0 + pts[b][0], Y0 + pts[b][1])])
        for a, b in lines
    ]
    gdf = gpd.GeoDataFrame({"highway": ["residential"] * 5}, geometry=geoms, crs=32650)
    return network.network_from_lines(gdf, **options)


def points(xy, crs=32650, index=None):
    xy = np.asarray(xy, dtype=float)
    return gpd.GeoDataFrame(geometry=shapely.points(xy + np.array([X0, Y0])), crs=crs, index=index)


def test_square_network_structure():
    g = square_network()
    assert g.crs.to_epsg() == 32650
    assert g.n_nodes == 5
    assert g.n_edges == 5
    assert g.edge_length.sum() == pytest.approx(450.0)
    assert g.csr.shape == (5, 5)
    assert g.csr.nnz == 10
    assert g.islands.n_components == 1


def test_snap_to_edge_interior_with_leg_and_offset():
    g = square_network()
    snap = snap_points(g, np.array([[X0 + 30, Y0 + 5], [X0 + 100 + 7, Y0 + 60]]))
    a, b = g.edge_geometry[snap.edge]
    assert snap.leg == pytest.approx([5.0, 7.0])
    # offsets run from edge_u along the geometry
    start_a = np.array(a.coords[0]) - [X0, Y0]
    expected_a = 30.0 if start_a[0] == 0 else 70.0
    assert snap.offset[0] == pytest.approx(expected_a)
    assert shapely.length(b) == pytest.approx(100.0)
    assert snap.snapped.all()


def test_far_points_reported_not_dropped():
    g = square_network()
    with pytest.warns(UserWarning, match="1 pts point"):
        snap = snap_points(
            g, np.array([[X0 + 50, Y0 + 50], [X0 + 900, Y0]]), ids=("near", "far"), name="pts", max_snap_m=100
        )
    assert snap.far_ids == ("far",)
    assert snap.edge[1] == -1
    with pytest.raises(InputError, match="far"):
        snap_points(g, np.array([[X0 + 900, Y0]]), ids=("far",), max_snap_m=100, on_far="raise")


def test_same_edge_pair_uses_along_edge_distance():
    g = square_network()
    demand = points([[30, 5]])
    cands = points([[70, -3], [107, 50], [30, 5]])
    cost = network.cost_matrix(g, demand, cands, cutoff=1000)
    dense = cost.toarray()
    # same edge: 5 + |70 - 30| + 3 = 48, not a detour through A or B
    assert dense[0, 0] == pytest.approx(48.0, abs=1e-9)
    # via B: 5 + 70 + 50 + 7 = 132
    assert dense[0, 1] == pytest.approx(132.0, abs=1e-9)
    # on top of each other: an explicit stored zero
    assert cost.nnz == 3
    assert cost.pattern().toarray().all()
    assert dense[0, 2] == 0.0


def test_detour_around_square_and_cutoff():
    g = square_network()
    demand = points([[0, 50], [150, 100]])  # on D-A at 50 m; at node E
    cands = points([[100, 50], [50, 100]])  # on B-C; on C-D
    cost = network.cost_matrix(g, demand, cands, cutoff=1000)
    expected = np.array([[200.0, 100.0], [100.0, 100.0]])
    assert cost.toarray() == pytest.approx(expected, abs=1e-9)
    cov = network.coverage_matrix(g, demand, cands, radius=100)
    assert cov.toarray().tolist() == [[False, True], [True, True]]
    cov = network.coverage_matrix(g, demand, cands, radius=99.999)
    assert cov.nnz == 0


def test_attach_points_splits_edge_into_chain():
    g = square_network()
    snap = snap_points(g, np.array([[X0 + 20, Y0], [X0 + 60, Y0], [X0 + 60, Y0 + 1], [X0, Y0]]))
    att = attach_points(g, snap)
    (junction,) = att.junctions
    assert att.csr.shape == (7, 7)  # two distinct interior positions added
    assert junction[1] == junction[2]  # same position shares a junction
    assert junction[3] < g.n_nodes  # at node A: the node itself
    assert att.csr[junction[0], junction[1]] == pytest.approx(40.0)
    assert (att.csr != att.csr.T).nnz == 0


def test_loop_edge_with_one_point():
    ring = shapely.LineString([(X0, Y0), (X0 + 100, Y0), (X0 + 100, Y0 + 100), (X0, Y0 + 100), (X0, Y0)])
    tail = shapely.LineString([(X0, Y0), (X0 - 50, Y0)])
    g = network.network_from_lines(gpd.GeoDataFrame(geometry=[ring, tail], crs=32650))
    assert g.n_nodes == 2
    cost = network.cost_matrix(g, points([[100, 30]]), points([[-50, 0]]), cutoff=1000)
    # around the loop the short way: 100 + 30, then the 50 m tail
    assert cost.toarray()[0, 0] == pytest.approx(180.0, abs=1e-9)
