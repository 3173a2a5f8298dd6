"""Multi-source shortest paths with a cutoff between snapped point sets, on a CSR graph (scipy csgraph)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from siting.snapping import AttachedPoints, SnapResult, attach_points
from siting.walk_graph import WalkNetwork

__all__ = [
    "BLOCK_CELLS",
    "RoutingContext",
    "TileMapper",
    "direct_pairs",
    "network_csr",
    "network_pairs",
    "routing_context",
    "tile_pairs",
]

#: Upper bound on the float64 cells of one Dijkstra block (sources x subgraph nodes or targets): 32 MB.
BLOCK_CELLS = 4_000_000

Pairs = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True, eq=False)
class _Targets:
    """Snapped demand points as seen from the ends of their edges."""

    index: np.ndarray  # demand row numbers
    u: np.ndarray  # edge start node
    v: np.ndarray  # edge end node
    to_u: np.ndarray  # leg + along-edge metres to u
    to_v: np.ndarray  # leg + along-edge metres to v

    @classmethod
    def of(cls, g: WalkNetwork, demand: SnapResult) -> _Targets:
        dem = np.flatnonzero(demand.snapped)
        e, t, leg = demand.edge[dem], demand.offset[dem], demand.leg[dem]
        return cls(dem, g.edge_u[e], g.edge_v[e], t + leg, (g.edge_length[e] - t) + leg)


def network_pairs(
    g: WalkNetwork,
    demand: SnapResult,
    candidates: SnapResult,
    cutoff: float,
    *,
    d_xy: np.ndarray | None = None,
    c_xy: np.ndarray | None = None,
    block_cells: int = BLOCK_CELLS,
) -> Pairs:
    """All (demand, candidate) pairs within ``cutoff`` metres, as (rows, cols, metres) arrays.

    See :func:`network_csr`; pairs come in row-major order, each once.
    """
    csr = network_csr(g, demand, candidates, cutoff, d_xy=d_xy, c_xy=c_xy, block_cells=block_cells)
    rows = np.repeat(np.arange(csr.shape[0], dtype=np.int64), np.diff(csr.indptr))
    return rows, csr.indices.astype(np.int64), csr.data


def network_csr(
    g: WalkNetwork,
    demand: SnapResult,
    candidates: SnapResult,
    cutoff: float,
    *,
    d_xy: np.ndarray | None = None,
    c_xy: np.ndarray | None = None,
    block_cells: int = BLOCK_CELLS,
    map_tiles: TileMapper | None = None,
) -> sp.csr_array:
    """Compute the walking distances of all (demand, candidate) pairs within ``cutoff`` metres (CSR).

    Distance = candidate leg + shortest path from the candidate's snapped position to the
    demand's snapped position + demand leg. Candidates are inserted in the graph as junction
    nodes (their edges split); a demand point on edge ``(u, v)`` at offset ``t`` is reached
    through ``u`` (path + t) or ``v`` (path + L - t), or directly along the edge from a
    candidate on the same edge (``|t_d - t_c|``). Two points nearer each other than
    ``leg_d + leg_c`` (same block interior, on top of each other: 0.0) get their straight-line
    distance, never longer than the path through the street.

    Candidates are grouped in square tiles; for each tile, multi-source Dijkstra
    (``scipy.sparse.csgraph.dijkstra`` with ``limit``) runs on the subgraph induced by the
    nodes within straight-line reach of the tile. The pruning is exact: a path no longer than
    the limit never leaves the box of that half-width around its source, and an edge is never
    shorter than the straight line between its ends. Memory is one block of at most
    ``block_cells`` distances plus the pairs found.

    Parameters
    ----------
    g : WalkNetwork
        The network.
    demand, candidates : SnapResult
        Snapped points on ``g``.
    cutoff : float
        Maximum distance in metres (inclusive).
    d_xy, c_xy : ndarray, shape (n, 2) and (m, 2), optional
        Point coordinates in ``g.crs``; needed for the direct straight-line rule (without
        them every pair goes through the street).
    block_cells : int
        Cells of one Dijkstra distance block.
    map_tiles : callable, optional
        ``map_tiles(context, tiles) -> list of pair lists``, one per tile in order, each equal
        to ``tile_pairs(context, tile)``; runs the tiles elsewhere (for example on a Dask
        cluster, :func:`siting.distributed.dask_tile_mapper`). Default: in this process.

    Returns
    -------
    scipy.sparse.csr_array, shape (n_demand, n_candidates), float64
        Metres, sorted indices; a stored 0.0 is a real zero distance.
    """
    ctx, tiles = routing_context(g, demand, candidates, cutoff, block_cells=block_cells)
    per_tile = map_tiles(ctx, tiles) if map_tiles is not None else [tile_pairs(ctx, t) for t in tiles]
    found = [pairs for tile in per_tile for pairs in tile]
    extra = [_same_edge_pairs(demand, candidates, cutoff)]
    direct = (
        direct_pairs(d_xy, c_xy, demand, candidates, cutoff)
        if d_xy is not None and c_xy is not None
        else None
    )
    if direct is not None:
        extra.append(direct)
    shape = (len(demand), len(candidates))
    return _merge_min(_to_csr(_concat(found), shape), _concat(extra))


@dataclass(frozen=True, eq=False)
class RoutingContext:
    """Everything one tile of candidates needs to find its pairs (shipped once to each worker)."""

    att: AttachedPoints
    sources: np.ndarray  # junction node of each distinct source
    min_leg: np.ndarray  # shortest candidate leg per source
    cand_groups: tuple[np.ndarray, np.ndarray, np.ndarray]  # source -> candidate rows
    cand_leg: np.ndarray  # off-network leg of every candidate
    targets: _Targets
    cells: _CellIndex
    cutoff: float
    block_cells: int


TileMapper = Callable[[RoutingContext, list[np.ndarray]], list[list[Pairs]]]


def routing_context(
    g: WalkNetwork,
    demand: SnapResult,
    candidates: SnapResult,
    cutoff: float,
    *,
    block_cells: int = BLOCK_CELLS,
) -> tuple[RoutingContext, list[np.ndarray]]:
    """Insert the candidates in the graph and group them in tiles (see :func:`network_csr`).

    Returns
    -------
    context : RoutingContext
        The attached graph, targets and candidate groups.
    tiles : list of ndarray
        Source positions (into ``context.sources``) of each tile.
    """
    att = attach_points(g, candidates)
    (c_node,) = att.junctions
    cand = np.flatnonzero(c_node >= 0)
    sources, src_of = np.unique(c_node[cand], return_inverse=True)
    src_of = src_of.ravel()
    min_leg = np.full(sources.shape[0], np.inf)
    np.minimum.at(min_leg, src_of, candidates.leg[cand])
    ctx = RoutingContext(
        att=att,
        sources=sources,
        min_leg=min_leg,
        cand_groups=_groups(src_of, cand, sources.shape[0]),
        cand_leg=candidates.leg,
        targets=_Targets.of(g, demand),
        cells=_CellIndex(att.node_xy, cutoff / 2.0),
        cutoff=float(cutoff),
        block_cells=int(block_cells),
    )
    return ctx, _tiles(att.node_xy[sources], cutoff)


def tile_pairs(ctx: RoutingContext, block: np.ndarray) -> list[Pairs]:
    """(demand row, candidate column, metres) triples within the cutoff for one tile of sources."""
    cutoff = ctx.cutoff
    limit = cutoff - float(ctx.min_leg[block].min())
    if limit < 0:
        return []
    xy = ctx.att.node_xy[ctx.sources[block]]
    nodes = ctx.cells.square(xy.min(axis=0) - limit - 1.0, xy.max(axis=0) + limit + 1.0)  # 1 m margin
    local = np.full(ctx.att.csr.shape[0], -1, dtype=np.int64)
    paths = _tile_paths(
        ctx.att,
        nodes,
        local,
        srcs=ctx.sources[block],
        targets=ctx.targets,
        limit=limit,
        block_cells=ctx.block_cells,
    )
    found: list[Pairs] = []
    for src, dem_k, via in paths:
        pair, cand_i = _expand(ctx.cand_groups, block[src])
        dem_i = ctx.targets.index[dem_k[pair]]
        total = via[pair] + ctx.cand_leg[cand_i]
        keep = total <= cutoff
        found.append((dem_i[keep], cand_i[keep], total[keep]))
    return found


def _tile_paths(
    att: AttachedPoints,
    nodes: np.ndarray,
    local: np.ndarray,
    *,
    srcs: np.ndarray,
    targets: _Targets,
    limit: float,
    block_cells: int,
) -> list[Pairs]:
    """Dijkstra from one tile's sources on the subgraph induced by ``nodes`` (sorted).

    Returns (source position in ``srcs``, target number, leg_d + path metres) for the targets
    reached within ``limit``, in sub-blocks of at most ``block_cells`` cells.
    """
    local[nodes] = np.arange(nodes.shape[0])
    try:
        sub = _induced(att.csr, nodes, local)
        lu, lv = local[targets.u], local[targets.v]
        near = np.flatnonzero((lu >= 0) | (lv >= 0))
        lu, lv = lu[near], lv[near]
        src_local = local[srcs]
    finally:
        local[nodes] = -1
    # an end outside the subgraph is never the way in: send it to node 0 at infinite cost
    to_u = np.where(lu < 0, np.inf, targets.to_u[near])
    to_v = np.where(lv < 0, np.inf, targets.to_v[near])
    lu, lv = np.maximum(lu, 0), np.maximum(lv, 0)
    out = []
    step = max(1, block_cells // max(nodes.shape[0], near.shape[0], 1))
    for s0 in range(0, srcs.shape[0], step):
        dist = dijkstra(sub, directed=True, indices=src_local[s0 : s0 + step], limit=limit)
        via = dist[:, lu]
        via += to_u
        dv = dist[:, lv]
        dv += to_v
        np.minimum(via, dv, out=via)
        si, ti = np.nonzero(via <= limit)
        out.append((s0 + si, near[ti], via[si, ti]))
    return out


def _same_edge_pairs(demand: SnapResult, candidates: SnapResult, cutoff: float) -> Pairs:
    """Pairs snapped on the same edge, walked along it: ``leg_d + |t_d - t_c| + leg_c``."""
    cand = np.flatnonzero(candidates.snapped)
    dem = np.flatnonzero(demand.snapped)
    n_edges = int(max(candidates.edge.max(initial=-1), demand.edge.max(initial=-1))) + 1
    groups = _groups(candidates.edge[cand], cand, n_edges)
    item, cand_i = _expand(groups, demand.edge[dem])
    dem_i = dem[item]
    along = (np.abs(demand.offset[dem_i] - candidates.offset[cand_i]) + demand.leg[dem_i]) + candidates.leg[
        cand_i
    ]
    keep = along <= cutoff
    return dem_i[keep], cand_i[keep], along[keep]


def _concat(parts: list[Pairs]) -> Pairs:
    """Concatenate pair triples."""
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    return tuple(np.concatenate([p[k] for p in parts]) for k in range(3))  # type: ignore[return-value]


def _to_csr(pairs: Pairs, shape: tuple[int, int]) -> sp.csr_array:
    """CSR array with sorted indices from unique pairs; explicit zeros kept."""
    rows, cols, vals = pairs
    csr = sp.coo_array((vals, (rows, cols)), shape=shape).tocsr()
    csr.sort_indices()
    return csr


def _merge_min(csr: sp.csr_array, extra: Pairs) -> sp.csr_array:
    """Merge a (smaller) set of pairs into a sorted CSR array, keeping the minimum per pair."""
    er, ec, ev = extra
    if er.size == 0:
        return csr
    m = max(csr.shape[1], 1)
    keys = er * m + ec
    order = np.lexsort((ev, keys))
    keys, ev = keys[order], ev[order]
    first = np.r_[True, keys[1:] != keys[:-1]]
    keys, ev = keys[first], ev[first]
    rows = np.repeat(np.arange(csr.shape[0], dtype=np.int64), np.diff(csr.indptr))
    have = rows * m + csr.indices
    data = csr.data.copy()
    at = np.searchsorted(have, keys)
    hit = np.zeros(keys.shape[0], dtype=bool)
    if have.size:
        pos = np.minimum(at, have.shape[0] - 1)
        hit = have[pos] == keys
        data[pos[hit]] = np.minimum(data[pos[hit]], ev[hit])
    miss = ~hit  # inserted in place: ``at`` keeps every row's indices sorted
    added = np.bincount(keys[miss] // m, minlength=csr.shape[0])
    return sp.csr_array(
        (
            np.insert(data, at[miss], ev[miss]),
            np.insert(csr.indices, at[miss], (keys[miss] % m).astype(csr.indices.dtype)),
            csr.indptr + np.r_[0, np.cumsum(added)],
        ),
        shape=csr.shape,
    )


def _groups(key: np.ndarray, members: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group ``members`` by ``key`` (0..n_groups-1): (start, count, members sorted by key)."""
    count = np.bincount(key, minlength=n_groups)
    return np.cumsum(count) - count, count, members[np.argsort(key, kind="stable")]


def _expand(
    groups: tuple[np.ndarray, np.ndarray, np.ndarray], which: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Expand items to the members of their group: (item index, member) for every member."""
    start, count, members = groups
    n = count[which]
    item = np.repeat(np.arange(which.shape[0]), n)
    offset = np.arange(item.shape[0]) - np.repeat(np.cumsum(n) - n, n)
    return item, members[np.repeat(start[which], n) + offset]


class _CellIndex:
    """Points bucketed in square cells, for fast "all points in this box" queries."""

    def __init__(self, xy: np.ndarray, size: float) -> None:
        self.lo = xy.min(axis=0) if xy.shape[0] else np.zeros(2)
        self.size = size
        cell = np.floor((xy - self.lo) / size).astype(np.int64)
        self.shape = (cell.max(axis=0) + 1) if xy.shape[0] else np.ones(2, dtype=np.int64)
        key = cell[:, 1] * self.shape[0] + cell[:, 0]
        self.order = np.argsort(key, kind="stable")
        self.start = np.searchsorted(key[self.order], np.arange(int(self.shape[0] * self.shape[1]) + 1))

    def square(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Sorted indices of the points in cells overlapping the box ``[lo, hi]`` (a superset)."""
        c0 = np.clip(np.floor((lo - self.lo) / self.size).astype(np.int64), 0, self.shape - 1)
        c1 = np.clip(np.floor((hi - self.lo) / self.size).astype(np.int64), 0, self.shape - 1)
        parts = [
            self.order[self.start[y * self.shape[0] + c0[0]] : self.start[y * self.shape[0] + c1[0] + 1]]
            for y in range(int(c0[1]), int(c1[1]) + 1)
        ]
        return np.sort(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)


def _tiles(xy: np.ndarray, cutoff: float, per_tile: int = 48) -> list[np.ndarray]:
    """Group source indices by square tiles holding about ``per_tile`` sources (side >= cutoff / 2)."""
    if xy.shape[0] == 0:
        return []
    lo = xy.min(axis=0)
    area = float(np.prod(np.maximum(xy.max(axis=0) - lo, cutoff)))
    size = max(cutoff / 2.0, float(np.sqrt(per_tile * area / xy.shape[0])))
    cell = np.floor((xy - lo) / size).astype(np.int64)
    key = cell[:, 1] * (int(cell[:, 0].max()) + 1) + cell[:, 0]
    order = np.argsort(key, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(key[order])) + 1)


def _induced(csr: sp.csr_array, nodes: np.ndarray, local: np.ndarray) -> sp.csr_array:
    """Subgraph of ``csr`` induced by sorted ``nodes``; ``local`` maps node -> position (or -1)."""
    start = csr.indptr[nodes]
    count = csr.indptr[nodes + 1] - start
    ent = np.repeat(start - (np.cumsum(count) - count), count) + np.arange(int(count.sum()))
    col = local[csr.indices[ent]]
    keep = col >= 0
    row = np.repeat(np.arange(nodes.shape[0]), count)[keep]
    indptr = np.r_[0, np.cumsum(np.bincount(row, minlength=nodes.shape[0]))]
    return sp.csr_array((csr.data[ent][keep], col[keep], indptr), shape=(nodes.shape[0], nodes.shape[0]))


def direct_pairs(
    d_xy: np.ndarray | None,
    c_xy: np.ndarray | None,
    demand: SnapResult,
    candidates: SnapResult,
    cutoff: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Pairs closer to each other than the sum of their legs: walked directly (straight line).

    Two snapped points whose straight-line distance is at most ``leg_d + leg_c`` (same block
    interior, opposite sides of one street, or one on top of the other) are given that
    straight-line distance, which is then never longer than the path through the street.
    """
    if d_xy is None or c_xy is None:
        return None
    ds, cs = np.flatnonzero(demand.snapped), np.flatnonzero(candidates.snapped)
    if ds.size == 0 or cs.size == 0:
        return None
    reach = min(cutoff, float(demand.leg[ds].max() + candidates.leg[cs].max()))
    found = cKDTree(d_xy[ds]).sparse_distance_matrix(
        cKDTree(c_xy[cs]), max_distance=reach, output_type="ndarray"
    )
    i, j, v = ds[found["i"]], cs[found["j"]], found["v"]
    keep = (v <= demand.leg[i] + candidates.leg[j]) & (v <= cutoff)
    return i[keep].astype(np.int64), j[keep].astype(np.int64), v[keep]
