"""Coverage and cost matrices: against networkx on the central Nanjing OSM graph, straight-line mode, bad inputs."""

import geopandas as gpd
import networkx as nx
import numpy as np
import osmnx as ox
import pandas as pd
import pyproj
import pytest
import shapely
from testdata import OSM_CENTRAL

from siting import network
from siting.errors import InputError
from siting.network.routing import network_csr, routing_context, tile_pairs
from siting.network.snapping import snap_points

OSM = OSM_CENTRAL


@pytest.fixture(scope="module")
def g():
    return network.load_network(OSM)


@pytest.fixture(scope="module")
def reference():
    """Independent reference: the unsimplified OSMnx graph, walkable edges, planar segment lengths."""
    saved = list(ox.settings.useful_tags_way)
    ox.settings.useful_tags_way = [*saved, "foot"]
    try:
        G = ox.graph_from_xml(OSM, bidirectional=True, simplify=False, retain_all=True)
    finally:
        ox.settings.useful_tags_way = saved
    edges = list(G.edges(data=True))
    tags = pd.DataFrame(
        [{k: d.get(k) for k in ("highway", "foot", "access", "area", "service")} for *_, d in edges]
    )
    ok = network.walkable_mask(tags, exclude_highway=network.NON_WALKABLE_HIGHWAYS)
    to_utm = pyproj.Transformer.from_crs(4326, 32650, always_xy=True)
    xy = {n: to_utm.transform(d["x"], d["y"]) for n, d in G.nodes(data=True)}
    H = nx.Graph()
    for (u, v, _), good in zip(edges, ok, strict=True):
        if good and u != v:
            w = float(np.hypot(xy[u][0] - xy[v][0], xy[u][1] - xy[v][1]))
            if not H.has_edge(u, v) or H[u][v]["weight"] > w:
                H.add_edge(u, v, weight=w)
    seg_nodes = np.array(list(H.edges()))
    segs = shapely.linestrings([[xy[a], xy[b]] for a, b in seg_nodes])
    return H, seg_nodes, segs


def sample_points(g, n, seed, max_off=80.0):
    """Points near random edges (all within snapping distance), as a WGS84 GeoDataFrame."""
    rng = np.random.default_rng(seed)
    e = rng.integers(0, g.n_edges, n)
    p = shapely.line_interpolate_point(g.edge_geometry[e], rng.uniform(0, 1, n), normalized=True)
    xy = shapely.get_coordinates(p) + rng.uniform(-max_off, max_off, (n, 2))
    return gpd.GeoDataFrame(geometry=shapely.points(xy), crs=g.crs).to_crs(4326)


def reference_costs(reference, demand, cands):
    """Dense reference distances with networkx: nearest segment by brute force, Dijkstra from its ends."""
    H, seg_nodes, segs = reference

    def snap(gdf):
        pts = gdf.to_crs(32650).geometry.to_numpy()
        out = []
        for p in pts:
            d = shapely.distance(p, segs)
            k = int(np.argmin(d))
            t = float(shapely.line_locate_point(segs[k], p))
            out.append((k, t, float(d[k]), float(segs[k].length), shapely.get_coordinates(p)[0]))
        return out

    sd, sc = snap(demand), snap(cands)
    cache = {}

    def sssp(n):
        if n not in cache:
            cache[n] = nx.single_source_dijkstra_path_length(H, n, weight="weight")
        return cache[n]

    out = np.full((len(sd), len(sc)), np.inf)
    for j, (kc, tc, lc, Lc, pc) in enumerate(sc):
        ends_c = [(seg_nodes[kc][0], tc), (seg_nodes[kc][1], Lc - tc)]
        for i, (kd, td, ld, Ld, pd_) in enumerate(sd):
            best = np.inf
            if kd == kc:
                best = ld + abs(td - tc) + lc
            for nd, sdist in ((seg_nodes[kd][0], td), (seg_nodes[kd][1], Ld - td)):
                for nc, cdist in ends_c:
                    path = sssp(nc).get(nd, np.inf)
                    best = min(best, ld + sdist + path + cdist + lc)
            straight = float(np.hypot(*(pd_ - pc)))
            if straight <= ld + lc:
                best = min(best, straight)
            out[i, j] = best
    return out


def test_cost_and_coverage_match_networkx_on_nanjing(g, reference):
    demand = sample_points(g, 150, seed=1)
    cands = sample_points(g, 25, seed=2)
    ref = reference_costs(reference, demand, cands)
    cost = network.cost_matrix(g, demand, cands, cutoff=1000)
    assert cost.info.mode == "network"
    assert cost.info.crs == "EPSG:32650"
    assert cost.info.demand_far == ()
    pattern = cost.pattern().toarray()
    assert np.array_equal(pattern, ref <= 1000)
    assert pattern.sum() > 200
    assert np.abs(cost.toarray()[pattern] - ref[pattern]).max() < 1e-6
    cov = network.coverage_matrix(g, demand, cands, radius=500)
    assert cov.dtype == bool
    assert np.array_equal(cov.toarray(), ref <= 500)
    full = network.full_cost_matrix(g, demand, cands)
    finite = np.isfinite(ref)
    assert np.array_equal(np.isfinite(full.values), finite)
    assert np.abs(full.values[finite] - ref[finite]).max() < 1e-6


def test_threads_and_tile_order_do_not_change_result(g):
    demand = sample_points(g, 200, seed=3)
    cands = sample_points(g, 60, seed=4)
    d_xy = shapely.get_coordinates(demand.to_crs(g.crs).geometry.to_numpy())
    c_xy = shapely.get_coordinates(cands.to_crs(g.crs).geometry.to_numpy())
    ds, cs = snap_points(g, d_xy), snap_points(g, c_xy)
    one = network_csr(g, ds, cs, 800.0, d_xy=d_xy, c_xy=c_xy, threads=1)
    two = network_csr(g, ds, cs, 800.0, d_xy=d_xy, c_xy=c_xy, threads=2)

    def split_backwards(ctx, tiles):  # each tile cut in 7 pieces, run last to first
        return [[p for sub in np.array_split(t, 7)[::-1] for p in tile_pairs(ctx, sub)] for t in tiles]

    _, tiles = routing_context(g, ds, cs, 800.0, per_tile=7)
    assert sorted(len(t) for t in tiles)[-1] <= 7
    assert sum(len(t) for t in tiles) == len(np.unique(tiles[0].tolist() + [i for t in tiles[1:] for i in t]))
    rev = network_csr(g, ds, cs, 800.0, d_xy=d_xy, c_xy=c_xy, map_tiles=split_backwards)
    assert one.nnz > 0 and one.has_sorted_indices
    for other in (two, rev):
        assert np.array_equal(one.indptr, other.indptr)
        assert np.array_equal(one.indices, other.indices)
        assert np.array_equal(one.data, other.data)


def test_minutes_and_far_points(g):
    demand = sample_points(g, 20, seed=5)
    far = gpd.GeoDataFrame(geometry=[shapely.Point(119.5, 32.5)], crs=4326, index=["lost"])
    demand = pd.concat([demand, far])
    cands = sample_points(g, 10, seed=6)
    with pytest.warns(UserWarning, match="1 demand point"):
        metres = network.cost_matrix(g, demand, cands, cutoff=1500)
    assert metres.info.demand_far == ("lost",)
    assert metres.indptr[21] - metres.indptr[20] == 0
    minutes = network.cost_matrix(g, demand, cands, cutoff=1500, unit="min", on_far="ignore")
    assert minutes.info.unit == "min"
    assert minutes.data == pytest.approx(metres.data / 75.0)


def test_straight_line_mode_with_circuity():
    rng = np.random.default_rng(7)
    origin = np.array([660_000.0, 3_545_000.0])
    dxy = rng.uniform(0, 3000, (300, 2)) + origin
    cxy = rng.uniform(0, 3000, (40, 2)) + origin
    demand = gpd.GeoDataFrame(geometry=shapely.points(dxy), crs=32650).to_crs(4326)
    cands = gpd.GeoDataFrame(geometry=shapely.points(cxy), crs=32650)
    demand_back = shapely.get_coordinates(demand.to_crs(32650).geometry.to_numpy())
    brute = np.hypot(*(demand_back[:, None, :] - cxy[None, :, :]).transpose(2, 0, 1)) * 1.3
    cost = network.cost_matrix(None, demand, cands, cutoff=800, circuity=1.3)
    assert cost.info.mode == "straight-line"
    assert cost.info.circuity == 1.3
    assert cost.info.crs == "EPSG:32650"
    assert np.array_equal(cost.pattern().toarray(), brute <= 800)
    mask = brute <= 800
    assert np.abs(cost.toarray()[mask] - brute[mask]).max() < 1e-6
    cov = network.coverage_matrix(None, demand, cands, radius=500)
    assert np.array_equal(cov.toarray(), brute / 1.3 <= 500)
    full = network.full_cost_matrix(None, demand, cands, circuity=1.3)
    assert full.values == pytest.approx(brute)


def test_explicit_zero_in_straight_line_mode():
    pts = gpd.GeoDataFrame(geometry=[shapely.Point(118.78, 32.05), shapely.Point(118.79, 32.05)], crs=4326)
    cost = network.cost_matrix(None, pts, pts, cutoff=100)
    assert cost.nnz == 2
    assert cost.data.tolist() == [0.0, 0.0]


def test_bad_inputs_are_collected(g):
    pts = sample_points(g, 3, seed=8)
    no_crs = gpd.GeoDataFrame(geometry=list(pts.geometry))
    with pytest.raises(InputError) as err:
        network.coverage_matrix(g, no_crs, pts, radius=-5)
    text = str(err.value)
    assert "radius" in text
    assert "demand.crs" in text
    assert "2 problems" in text
    with pytest.raises(InputError, match="cutoff"):
        network.cost_matrix(None, pts, pts, cutoff=0)
    with pytest.raises(InputError, match="circuity"):
        network.cost_matrix(None, pts, pts, cutoff=10, circuity=0.5)
    poly = gpd.GeoDataFrame(geometry=[shapely.box(118.7, 32.0, 118.71, 32.01)], crs=4326)
    with pytest.raises(InputError, match=r"candidates\.geometry.*not points"):
        network.coverage_matrix(None, pts, poly, radius=100)
    with pytest.raises(InputError, match="WalkNetwork"):
        network.coverage_matrix("graph.osm", pts, pts, radius=100)
    with pytest.raises(InputError, match="dense limit"):
        network.full_cost_matrix(None, pts, pts, max_cells=4)
