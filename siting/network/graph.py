"""The walking network data structure: projected nodes, edge geometries and a symmetric CSR graph."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pyproj
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components

from siting.errors import InputError, Problem
from siting.network._edge_index import SegmentIndex

__all__ = [
    "DEFAULT_WALKING_SPEED_KMH",
    "IslandReport",
    "WalkNetwork",
    "build_walk_network",
]

#: Default walking speed (km/h). 4.5 km/h = 75 m/min, so the GB 50180-2018 life circles of
#: 5 / 10 / 15 minutes are about 375 / 750 / 1,125 m; the standard's 300 / 500 / 800-1,000 m
#: radii correspond to a slower 3.6-4.0 km/h (elderly, children), which callers can set.
DEFAULT_WALKING_SPEED_KMH = 4.5

IslandPolicy = Literal["keep", "drop_small", "largest"]


@dataclass(frozen=True)
class IslandReport:
    """Connected components of the walking network and what was done with them.

    Parameters
    ----------
    policy : {"keep", "drop_small", "largest"}
        ``"keep"`` keeps every component; ``"drop_small"`` drops components with fewer than
        ``min_island_nodes`` nodes; ``"largest"`` keeps only the largest component.
    n_components : int
        Components found before dropping.
    component_sizes : tuple of int
        Node counts of the components found, largest first.
    dropped_components, dropped_nodes, dropped_edges : int
        What the policy removed.
    """

    policy: str
    n_components: int
    component_sizes: tuple[int, ...]
    dropped_components: int
    dropped_nodes: int
    dropped_edges: int

    def __str__(self) -> str:
        sizes = ", ".join(str(s) for s in self.component_sizes[:5])
        more = ", ..." if len(self.component_sizes) > 5 else ""
        return (
            f"{self.n_components} connected component(s) (node counts {sizes}{more}); policy "
            f"{self.policy!r} dropped {self.dropped_components} component(s), "
            f"{self.dropped_nodes} node(s), {self.dropped_edges} edge(s)"
        )


@dataclass(frozen=True, eq=False)
class WalkNetwork:
    """An undirected walking network in a projected metric CRS.

    Nodes are street intersections and dead ends (indices ``0..n_nodes-1``); edges are street
    segments between them with their full geometry. Walking ignores one-way rules, so the graph
    is undirected; ``csr`` stores both directions.

    Parameters
    ----------
    crs : pyproj.CRS
        Projected CRS of every coordinate and geometry (metres), e.g. EPSG:32650 for Nanjing.
    node_xy : ndarray, shape (n_nodes, 2), float64
        Node coordinates in ``crs`` (metres).
    node_id : ndarray, shape (n_nodes,), int64
        Source ids of the nodes (OSM node ids, or sequential ids for a line layer).
    edge_u, edge_v : ndarray, shape (n_edges,), int64
        Node indices of each edge's start and end; ``edge_geometry[i]`` runs from
        ``edge_u[i]`` to ``edge_v[i]``. Parallel edges and self-loops (loop roads) are kept here.
    edge_length : ndarray, shape (n_edges,), float64
        Planar length of each edge geometry in ``crs`` (metres).
    edge_geometry : ndarray, shape (n_edges,), object
        Shapely LineStrings in ``crs``.
    edge_highway : ndarray, shape (n_edges,), object
        OSM ``highway`` value of each edge (``""`` when the source has none).
    csr : scipy.sparse.csr_array, shape (n_nodes, n_nodes), float64
        Symmetric adjacency matrix: entry ``(a, b)`` is the shortest edge length between nodes
        ``a`` and ``b`` in metres (explicit zeros are real zero-length edges); no diagonal.
    walking_speed_kmh : float
        Walking speed used to turn metres into minutes.
    source : str
        Where the network came from (file path and reader).
    islands : IslandReport
        Connected components found and the island policy applied.
    removed_highways : Mapping[str, int]
        Edges removed as not walkable, counted by ``highway`` value.
    """

    crs: pyproj.CRS
    node_xy: np.ndarray
    node_id: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_length: np.ndarray
    edge_geometry: np.ndarray
    edge_highway: np.ndarray
    csr: sp.csr_array
    walking_speed_kmh: float
    source: str
    islands: IslandReport
    removed_highways: Mapping[str, int] = field(default_factory=dict)
    edge_tree: shapely.STRtree = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "edge_tree", shapely.STRtree(self.edge_geometry))

    @property
    def segment_index(self) -> SegmentIndex:
        """The edges' straight segments in a grid, for nearest-edge snapping (built on first use)."""
        index = self.__dict__.get("_segment_index")
        if index is None:
            index = SegmentIndex.build(self.edge_geometry)
            object.__setattr__(self, "_segment_index", index)
        return index

    def __getstate__(self) -> dict[str, Any]:
        """Pickle edge geometries as one WKB array and drop the indexes (fast to ship to Dask workers)."""
        state = dict(self.__dict__)
        state.pop("edge_tree", None)
        state.pop("_segment_index", None)
        state["edge_geometry"] = shapely.to_wkb(self.edge_geometry)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Rebuild the geometries and the edge tree after unpickling."""
        state = dict(state)
        state["edge_geometry"] = shapely.from_wkb(state["edge_geometry"])
        for key, value in state.items():
            object.__setattr__(self, key, value)
        object.__setattr__(self, "edge_tree", shapely.STRtree(self.edge_geometry))

    def __repr__(self) -> str:
        """Summarise the network in one line (the arrays are too long to print in a notebook)."""
        epsg = self.crs.to_epsg() if hasattr(self.crs, "to_epsg") else self.crs
        return (
            f"WalkNetwork({self.n_nodes:,} nodes, {self.n_edges:,} edges, "
            f"{float(self.edge_length.sum()) / 1000:,.1f} km, EPSG:{epsg}, "
            f"{self.walking_speed_kmh:g} km/h, {self.islands.n_components} component(s), "
            f"islands={self.islands.policy!r}, source={self.source!r})"
        )

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.node_xy.shape[0])

    @property
    def n_edges(self) -> int:
        """Number of edges (parallel edges and loops counted)."""
        return int(self.edge_u.shape[0])

    @property
    def metres_per_minute(self) -> float:
        """Walking speed in metres per minute."""
        return self.walking_speed_kmh * 1000.0 / 60.0

    def minutes(self, metres: Any) -> Any:
        """Convert walking distance (metres) to walking time (minutes) at ``walking_speed_kmh``."""
        return np.asarray(metres, dtype=float) / self.metres_per_minute

    def edges_gdf(self) -> Any:
        """Return the edges as a GeoDataFrame in ``crs`` (columns u, v, length_m, highway)."""
        return gpd.GeoDataFrame(
            {
                "u": self.edge_u,
                "v": self.edge_v,
                "length_m": self.edge_length,
                "highway": self.edge_highway,
            },
            geometry=self.edge_geometry,
            crs=self.crs,
        )

    def nodes_gdf(self) -> Any:
        """Return the nodes as a GeoDataFrame in ``crs`` (column node_id)."""
        return gpd.GeoDataFrame(
            {"node_id": self.node_id},
            geometry=shapely.points(self.node_xy),
            crs=self.crs,
        )

    def summary(self) -> str:
        """One paragraph describing the network, for logs and reports."""
        km = float(self.edge_length.sum()) / 1000.0
        return (
            f"walking network from {self.source}: {self.n_nodes} nodes, {self.n_edges} edges, "
            f"{km:.1f} km, CRS {self.crs.to_string()}, {self.walking_speed_kmh} km/h; {self.islands}"
        )


def _orient(node_xy: np.ndarray, u: np.ndarray, v: np.ndarray, geoms: np.ndarray) -> tuple:
    """Swap ``u`` and ``v`` where an edge geometry runs from ``v`` to ``u``."""
    start = shapely.get_coordinates(shapely.get_point(geoms, 0))
    d_u = np.hypot(*(start - node_xy[u]).T)
    d_v = np.hypot(*(start - node_xy[v]).T)
    swap = d_v < d_u
    return np.where(swap, v, u), np.where(swap, u, v)


def adjacency(n_nodes: int, u: np.ndarray, v: np.ndarray, w: np.ndarray) -> sp.csr_array:
    """Symmetric CSR adjacency with the minimum weight over parallel edges and no self-loops.

    Parameters
    ----------
    n_nodes : int
        Matrix size.
    u, v : ndarray of int, shape (m,)
        Edge end node indices.
    w : ndarray of float, shape (m,)
        Edge weights (metres); zeros are kept as explicit zero-weight edges.

    Returns
    -------
    scipy.sparse.csr_array, shape (n_nodes, n_nodes)
    """
    keep = u != v
    a = np.concatenate([u[keep], v[keep]])
    b = np.concatenate([v[keep], u[keep]])
    ww = np.concatenate([w[keep], w[keep]]).astype(np.float64)
    order = np.lexsort((ww, b, a))
    a, b, ww = a[order], b[order], ww[order]
    first = np.ones(a.shape[0], dtype=bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    a, b, ww = a[first], b[first], ww[first]
    indptr = np.zeros(n_nodes + 1, dtype=np.int64)
    np.add.at(indptr, a + 1, 1)
    return sp.csr_array((ww, b, np.cumsum(indptr)), shape=(n_nodes, n_nodes))


def _apply_islands(
    n_nodes: int, u: np.ndarray, v: np.ndarray, policy: str, min_island_nodes: int
) -> tuple[np.ndarray, IslandReport]:
    """Return a node keep-mask and the island report."""
    if policy not in ("keep", "drop_small", "largest"):
        raise InputError(
            Problem(
                where="islands",
                message=f"unknown island policy {policy!r}",
                fix="use 'keep', 'drop_small' or 'largest'",
            )
        )
    graph = adjacency(n_nodes, u, v, np.ones(u.shape[0]))
    n_comp, labels = connected_components(graph, directed=False)
    sizes = np.bincount(labels, minlength=n_comp)
    if policy == "keep":
        keep_comp = np.ones(n_comp, dtype=bool)
    elif policy == "largest":
        keep_comp = np.zeros(n_comp, dtype=bool)
        if n_comp:
            keep_comp[int(np.argmax(sizes))] = True
    else:
        keep_comp = sizes >= min_island_nodes
    keep_node = keep_comp[labels] if n_nodes else np.zeros(0, dtype=bool)
    dropped_edges = int((~keep_node[u]).sum()) if u.size else 0
    report = IslandReport(
        policy=policy,
        n_components=int(n_comp),
        component_sizes=tuple(int(s) for s in np.sort(sizes)[::-1]),
        dropped_components=int((~keep_comp).sum()),
        dropped_nodes=int((~keep_node).sum()),
        dropped_edges=dropped_edges,
    )
    return keep_node, report


def build_walk_network(
    *,
    node_id: np.ndarray,
    node_xy: np.ndarray,
    edge_u: np.ndarray,
    edge_v: np.ndarray,
    edge_geometry: np.ndarray,
    edge_highway: np.ndarray,
    crs: pyproj.CRS,
    walking_speed_kmh: float = DEFAULT_WALKING_SPEED_KMH,
    islands: IslandPolicy = "keep",
    min_island_nodes: int = 20,
    source: str = "arrays",
    removed_highways: Mapping[str, int] | None = None,
) -> WalkNetwork:
    """Build a :class:`WalkNetwork` from node and edge arrays already in a projected CRS.

    Parameters
    ----------
    node_id : ndarray, shape (n,), int
        Source ids of the nodes.
    node_xy : ndarray, shape (n, 2), float
        Node coordinates in ``crs`` (metres).
    edge_u, edge_v : ndarray, shape (m,), int
        Node indices (positions in ``node_id``) of each edge's ends, in any order.
    edge_geometry : ndarray, shape (m,), object
        LineStrings in ``crs`` joining the two end nodes.
    edge_highway : ndarray, shape (m,), object
        Highway type of each edge.
    crs : pyproj.CRS
        Projected metric CRS.
    walking_speed_kmh : float
        Walking speed (km/h), > 0.
    islands : {"keep", "drop_small", "largest"}
        What to do with disconnected components (see :class:`IslandReport`).
    min_island_nodes : int
        Size threshold for ``islands="drop_small"``.
    source : str
        Description of the data source.
    removed_highways : mapping, optional
        Counts of edges removed as not walkable.

    Returns
    -------
    WalkNetwork
    """
    problems = []
    if not np.isfinite(walking_speed_kmh) or walking_speed_kmh <= 0:
        problems.append(
            Problem(
                where="walking_speed_kmh",
                message=f"must be a positive number of km/h, got {walking_speed_kmh}",
                fix="use e.g. 4.5 (adults) or 3.6 (elderly)",
            )
        )
    if not crs.is_projected:
        problems.append(
            Problem(where="crs", message=f"{crs.to_string()} is not projected", fix="project to UTM first")
        )
    if problems:
        raise InputError(problems)
    node_xy = np.asarray(node_xy, dtype=np.float64)
    u, v = _orient(node_xy, np.asarray(edge_u, np.int64), np.asarray(edge_v, np.int64), edge_geometry)
    keep_node, report = _apply_islands(node_xy.shape[0], u, v, islands, min_island_nodes)
    keep_edge = keep_node[u] if u.size else np.zeros(0, dtype=bool)
    new_index = np.cumsum(keep_node) - 1
    u, v = new_index[u[keep_edge]], new_index[v[keep_edge]]
    geoms = np.asarray(edge_geometry, dtype=object)[keep_edge]
    lengths = shapely.length(geoms).astype(np.float64)
    xy = node_xy[keep_node]
    return WalkNetwork(
        crs=pyproj.CRS.from_user_input(crs),
        node_xy=xy,
        node_id=np.asarray(node_id, dtype=np.int64)[keep_node],
        edge_u=u,
        edge_v=v,
        edge_length=lengths,
        edge_geometry=geoms,
        edge_highway=np.asarray(edge_highway, dtype=object)[keep_edge],
        csr=adjacency(xy.shape[0], u, v, lengths),
        walking_speed_kmh=float(walking_speed_kmh),
        source=source,
        islands=report,
        removed_highways=dict(removed_highways or {}),
    )
