"""Coverage matrix benchmark: siting (numba Dijkstra kernel) vs networkx per-source Dijkstra vs pandana.

10,000 demand points x 2,000 candidates, 1,000 m walking cutoff, on (a) the central Nanjing OSM
graph and (b) a generated street-like graph (perturbed grid, >= 50,000 nodes, edges ~80-150 m,
mean degree ~3). Run: ``.venv/bin/python -m benchmarks.bench_network``.

Fairness: networkx and pandana get, untimed, the same snapped points and the same routing graph
(edges split at the snapped positions) that siting builds, and the same straight-line pairs for
points nearer each other than to the street; their timed part is only the shortest-path queries
and the assembly of pairs. siting is timed end to end (GeoDataFrame projection, snapping, edge
splitting, Dijkstra, sparse matrix), as the median of ``OURS_RUNS`` runs, with its default two
threads and, in a separate row, with one thread as networkx has. networkx runs ``nx.single_source_dijkstra_path_length``
with ``cutoff`` per candidate, in a seeded random order, until all candidates are done or its
time budget is spent; its total is then extrapolated linearly and the output says so.
"""

from __future__ import annotations

import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import dijkstra

from siting import network
from siting.network.graph import WalkNetwork, build_walk_network
from siting.network.routing import direct_pairs, network_pairs
from siting.network.snapping import attach_points, snap_points

ROOT = Path(__file__).resolve().parents[1]
OSM = ROOT / "gis_data" / "raw" / "osm_central_nanjing_2018.osm"
N_DEMAND, N_CANDIDATES, CUTOFF = 10_000, 2_000, 1_000.0
NX_BUDGET_S = 60.0
OURS_RUNS = 9  # siting's times are the median of this many runs (networkx runs once: seconds long)


def grid_network(side: int = 232, spacing: float = 115.0, drop: float = 0.25, seed: int = 0) -> WalkNetwork:
    """A perturbed street grid in UTM 50N (Jiangbei), with a quarter of the edges removed."""
    rng = np.random.default_rng(seed)
    ii, jj = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    xy = np.column_stack([jj.ravel(), ii.ravel()]) * spacing + rng.uniform(-20, 20, (side * side, 2))
    xy += [640_000.0, 3_560_000.0]
    idx = np.arange(side * side).reshape(side, side)
    u = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    v = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    keep = rng.uniform(size=u.shape[0]) >= drop
    u, v = u[keep], v[keep]
    mid = (xy[u] + xy[v]) / 2 + rng.uniform(-8, 8, (u.shape[0], 2))  # slightly bent streets
    geoms = shapely.linestrings(np.stack([xy[u], mid, xy[v]], axis=1))
    return build_walk_network(
        node_id=np.arange(side * side),
        node_xy=xy,
        edge_u=u,
        edge_v=v,
        edge_geometry=geoms,
        edge_highway=np.full(u.shape[0], "residential", dtype=object),
        crs=pyproj.CRS.from_epsg(32650),
        islands="largest",
        source=f"generated perturbed grid {side}x{side}, {drop:.0%} of edges dropped",
    )


def sample_points(g: WalkNetwork, n: int, seed: int, max_off: float = 60.0) -> gpd.GeoDataFrame:
    """Points near random edges, as a WGS84 GeoDataFrame (as a user would pass them)."""
    rng = np.random.default_rng(seed)
    e = rng.integers(0, g.n_edges, n)
    p = shapely.line_interpolate_point(g.edge_geometry[e], rng.uniform(0, 1, n), normalized=True)
    xy = shapely.get_coordinates(p) + rng.uniform(-max_off, max_off, (n, 2))
    return gpd.GeoDataFrame(geometry=shapely.points(xy), crs=g.crs).to_crs(4326)


def median_seconds(fn: Callable[[], Any], runs: int = OURS_RUNS) -> tuple[float, Any]:
    """Median wall time of ``runs`` calls of ``fn`` (seconds) and the last result."""
    times, out = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def peak_mib(fn: Callable[[], Any]) -> float:
    """Peak Python/NumPy heap (MiB) while ``fn`` runs, by tracemalloc."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


class Prepared:
    """Snapped points and the split routing graph shared (untimed) with the peers."""

    def __init__(self, g: WalkNetwork, demand: gpd.GeoDataFrame, cands: gpd.GeoDataFrame) -> None:
        d_xy = shapely.get_coordinates(demand.to_crs(g.crs).geometry.to_numpy())
        c_xy = shapely.get_coordinates(cands.to_crs(g.crs).geometry.to_numpy())
        self.ds, self.cs = snap_points(g, d_xy), snap_points(g, c_xy)
        att = attach_points(g, self.ds, self.cs)
        self.att = att
        self.d_node, self.c_node = att.junctions
        direct = direct_pairs(d_xy, c_xy, self.ds, self.cs, CUTOFF)
        assert direct is not None
        self.direct = {(int(i), int(j)) for i, j in zip(direct[0], direct[1], strict=True)}
        self.demand_at: dict[int, list[int]] = {}
        for i, node in enumerate(self.d_node):
            self.demand_at.setdefault(int(node), []).append(i)


def run_networkx(prep: Prepared, budget_s: float, seed: int = 0) -> dict[str, Any]:
    """Per-candidate ``single_source_dijkstra_path_length`` with cutoff (timed), like osmnx users."""
    graph = nx.from_scipy_sparse_array(prep.att.csr, edge_attribute="length")
    order = np.random.default_rng(seed).permutation(len(prep.cs))
    pairs: set[tuple[int, int]] = set()
    done = []
    t0 = time.perf_counter()
    for j in order:
        leg_c = float(prep.cs.leg[j])
        lengths = nx.single_source_dijkstra_path_length(
            graph, int(prep.c_node[j]), cutoff=CUTOFF - leg_c, weight="length"
        )
        for node, dist in lengths.items():
            for i in prep.demand_at.get(node, ()):
                if leg_c + dist + prep.ds.leg[i] <= CUTOFF:
                    pairs.add((i, int(j)))
        done.append(int(j))
        if time.perf_counter() - t0 > budget_s:
            break
    seconds = time.perf_counter() - t0
    cols = set(done)
    pairs |= {p for p in prep.direct if p[1] in cols}
    return {"seconds": seconds, "sources": done, "pairs": pairs}


def run_pandana(prep: Prepared) -> dict[str, Any]:
    """``pandana.Network.nodes_in_range`` from every candidate position (timed after the CH build)."""
    try:
        import pandana  # noqa: PLC0415 - optional peer: it does not install everywhere
    except ImportError as exc:
        return {"error": f"pandana not importable ({exc})"}
    coo = sp_upper(prep.att.csr)
    t0 = time.perf_counter()
    net = pandana.Network(
        prep.att.node_xy[:, 0],
        prep.att.node_xy[:, 1],
        coo.row,
        coo.col,
        pd.DataFrame({"length": coo.data}),
        twoway=True,
    )
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    sources = np.unique(prep.c_node)
    found = net.nodes_in_range(sources, CUTOFF - float(prep.cs.leg.min()))
    by_source = {s: [] for s in sources}
    for s, dnode, dd in zip(found["source"], found["destination"], found["length"], strict=True):
        by_source[s].append((dnode, dd))
    pairs: set[tuple[int, int]] = set()
    for j, s in enumerate(prep.c_node):
        leg_c = float(prep.cs.leg[j])
        for dnode, dd in by_source[s]:
            for i in prep.demand_at.get(int(dnode), ()):
                if leg_c + dd + prep.ds.leg[i] <= CUTOFF:
                    pairs.add((i, j))
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "build_seconds": build, "pairs": pairs | prep.direct}


def sp_upper(csr: Any) -> Any:
    """Upper-triangle entries of a symmetric CSR graph as COO (each undirected edge once)."""
    return sp.triu(csr, k=1, format="coo")


def exact_distance(prep: Prepared, pairs: set[tuple[int, int]]) -> np.ndarray:
    """siting's own distance for some pairs (no cutoff), to explain disagreements."""
    if not pairs:
        return np.zeros(0)
    arr = np.array(sorted(pairs))
    src = np.unique(prep.c_node[arr[:, 1]])
    dist = dijkstra(prep.att.csr, directed=True, indices=src)
    row = np.searchsorted(src, prep.c_node[arr[:, 1]])
    return dist[row, prep.d_node[arr[:, 0]]] + prep.ds.leg[arr[:, 0]] + prep.cs.leg[arr[:, 1]]


def agreement(ours: set[tuple[int, int]], theirs: set[tuple[int, int]], prep: Prepared) -> str:
    """Describe how two pair sets differ, with siting's exact distances of the differing pairs."""
    if ours == theirs:
        return "identical"
    extra, missing = theirs - ours, ours - theirs
    text = f"{len(extra)} extra / {len(missing)} missing pairs"
    d = exact_distance(prep, extra | missing)
    if d.size:
        text += f"; their exact distances {d.min():.6f}-{d.max():.6f} m (cutoff {CUTOFF:.0f})"
    return text


def bench_one(name: str, g: WalkNetwork, seed: int) -> list[dict[str, Any]]:
    """Run siting, networkx and pandana on one graph; return result rows."""
    demand = sample_points(g, N_DEMAND, seed)
    cands = sample_points(g, N_CANDIDATES, seed + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        network.coverage_matrix(g, demand.iloc[:50], cands.iloc[:50], radius=CUTOFF)  # warm-up (JIT load)
        ours_s, cov = median_seconds(lambda: network.coverage_matrix(g, demand, cands, radius=CUTOFF))
        ours_mem = peak_mib(lambda: network.coverage_matrix(g, demand, cands, radius=CUTOFF))
        prep = Prepared(g, demand, cands)
    xy = [shapely.get_coordinates(f.to_crs(g.crs).geometry.to_numpy()) for f in (demand, cands)]
    route_s, routed = median_seconds(
        lambda: network_pairs(g, prep.ds, prep.cs, CUTOFF, d_xy=xy[0], c_xy=xy[1])
    )
    route1_s, routed1 = median_seconds(
        lambda: network_pairs(g, prep.ds, prep.cs, CUTOFF, d_xy=xy[0], c_xy=xy[1], threads=1)
    )
    assert all(np.array_equal(a, b) for a, b in zip(routed, routed1, strict=True))
    ours_pairs = set(zip(*(a.tolist() for a in cov.nonzero()), strict=True))
    assert ours_pairs == set(zip(routed[0].tolist(), routed[1].tolist(), strict=True))
    base = {
        "graph": name,
        "nodes": g.n_nodes,
        "edges": g.n_edges,
        "demand": N_DEMAND,
        "candidates": N_CANDIDATES,
        "cutoff_m": CUTOFF,
    }
    rows = [
        {
            **base,
            "method": "siting coverage_matrix (end to end)",
            "seconds": ours_s,
            "peak_mib": ours_mem,
            "pairs": cov.nnz,
            "agreement": "reference",
            "note": f"projection + snapping + routing + CSR; median of {OURS_RUNS} runs",
        },
        {
            **base,
            "method": "siting network_pairs (routing only)",
            "seconds": route_s,
            "pairs": len(routed[0]),
            "agreement": "identical",
            "note": f"same snapped input as the peers; includes edge splitting; median of {OURS_RUNS} runs",
        },
        {
            **base,
            "method": "siting network_pairs (routing only, 1 thread)",
            "seconds": route1_s,
            "pairs": len(routed1[0]),
            "agreement": "identical",
            "note": "as above, threads=1",
        },
    ]
    nxr = run_networkx(prep, NX_BUDGET_S)
    cols = set(nxr["sources"])
    k = len(cols)
    full_s = nxr["seconds"] * N_CANDIDATES / k
    ours_sub = {p for p in ours_pairs if p[1] in cols}
    nx_mem = peak_mib(lambda: run_networkx(prep, 5.0, seed=1))
    note = (
        "all sources"
        if k == N_CANDIDATES
        else f"{k} random sources timed, extrapolated x{N_CANDIDATES / k:.1f}"
    )
    rows.append(
        {
            **base,
            "method": "networkx single_source_dijkstra_path_length",
            "seconds": full_s,
            "peak_mib": nx_mem,
            "pairs": round(len(nxr["pairs"]) * N_CANDIDATES / k),
            "x_vs_routing": full_s / route_s,
            "x_vs_routing_1_thread": full_s / route1_s,
            "x_vs_end_to_end": full_s / ours_s,
            "agreement": agreement(ours_sub, nxr["pairs"], prep),
            "note": note + "; peak MiB of a 5 s run incl. graph build",
        }
    )
    pdr = run_pandana(prep)
    if "error" in pdr:
        rows.append({**base, "method": "pandana", "note": pdr["error"]})
    else:
        rows.append(
            {
                **base,
                "method": "pandana nodes_in_range",
                "seconds": pdr["seconds"],
                "pairs": len(pdr["pairs"]),
                "x_vs_routing": pdr["seconds"] / route_s,
                "x_vs_end_to_end": pdr["seconds"] / ours_s,
                "agreement": agreement(ours_pairs, pdr["pairs"], prep),
                "note": f"+{pdr['build_seconds']:.1f} s contraction-hierarchy build not timed; "
                "C++ memory not visible to tracemalloc",
            }
        )
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    """Print the result rows as a fixed-width table."""
    head = (
        f"{'graph':<20}{'nodes':>7}  {'method':<47}{'seconds':>9}{'peer/routing':>13}{'(1 thread)':>11}{'peer/e2e':>10}"
        f"{'peak MiB':>10}{'pairs':>10}  agreement; note"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        secs = f"{r['seconds']:.3f}" if "seconds" in r else "-"
        x_route = f"{r['x_vs_routing']:.1f}x" if "x_vs_routing" in r else "-"
        x_e2e = f"{r['x_vs_end_to_end']:.1f}x" if "x_vs_end_to_end" in r else "-"
        x_one = f"{r['x_vs_routing_1_thread']:.1f}x" if "x_vs_routing_1_thread" in r else "-"
        mem = f"{r['peak_mib']:.0f}" if "peak_mib" in r else "n/a"
        print(
            f"{r['graph']:<20}{r['nodes']:>7}  {r['method']:<47}{secs:>9}{x_route:>13}{x_one:>11}{x_e2e:>10}{mem:>10}"
            f"{r.get('pairs', '-'):>10}  {r.get('agreement', '-')}; {r['note']}"
        )


def main() -> list[dict[str, Any]]:
    """Run the benchmark on both graphs, print the table and return the rows."""
    graphs = [("central Nanjing OSM", lambda: network.load_network(OSM)), ("generated grid", grid_network)]
    rows: list[dict[str, Any]] = []
    for k, (name, make) in enumerate(graphs):
        g = make()
        print(g.summary())
        rows += bench_one(name, g, seed=10 * k + 1)
    print()
    print(
        f"coverage matrix, {N_DEMAND} demand x {N_CANDIDATES} candidates, cutoff {CUTOFF:.0f} m; "
        "peer/routing = peer seconds / siting routing seconds (2 threads; column '(1 thread)': siting on one thread), "
        "peer/e2e = peer seconds / siting end-to-end seconds"
    )
    print_table(rows)
    return rows


if __name__ == "__main__":
    main()
