"""Shortest walking paths with a cutoff between snapped point sets: candidates inserted in the graph, one limited Dijkstra each."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import shapely
from scipy.spatial import cKDTree

from siting.network._dijkstra import points_within
from siting.network._edge_index import SegmentIndex
from siting.network.graph import WalkNetwork
from siting.network.snapping import AttachedPoints, SnapResult, attach_points

__all__ = [
    "SOURCES_PER_TILE",
    "RoutingContext",
    "TileMapper",
    "direct_pairs",
    "network_csr",
    "network_pairs",
    "routing_context",
    "tile_pairs",
    "warm_kernels",
]

#: Candidate positions per tile (the unit of work run in a thread or on a Dask worker).
SOURCES_PER_TILE = 128

Pairs = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True, eq=False)
class _Targets:
    """Snapped demand points grouped by the edge they lie on, as seen from the edge's ends."""

    index: np.ndarray  # demand row numbers, grouped by edge (ascending within an edge)
    to_u: np.ndarray  # leg + along-edge metres to the edge's start node, same order
    to_v: np.ndarray  # leg + along-edge metres to the edge's end node, same order
    u: np.ndarray  # start node of each distinct edge holding demand
    v: np.ndarray  # end node of each such edge
    start: np.ndarray  # first position of each such edge's points in ``index``
    count: np.ndarray  # number of points on each such edge
    node_ptr: np.ndarray  # for each graph node, its range in ``node_edges``
    node_edges: np.ndarray  # the demand-holding edges ending at each node

    @classmethod
    def of(cls, g: WalkNetwork, demand: SnapResult, n_nodes: int) -> _Targets:
        dem = np.flatnonzero(demand.snapped)
        dem = dem[np.argsort(demand.edge[dem], kind="stable")]
        e, t, leg = demand.edge[dem], demand.offset[dem], demand.leg[dem]
        first = np.flatnonzero(np.r_[True, e[1:] != e[:-1]]) if e.size else np.zeros(0, dtype=np.int64)
        u, v = g.edge_u[e[first]].astype(np.int64), g.edge_v[e[first]].astype(np.int64)
        ends = np.concatenate([u, v])
        return cls(
            index=dem,
            to_u=t + leg,
            to_v=(g.edge_length[e] - t) + leg,
            u=u,
            v=v,
            start=first.astype(np.int64),
            count=np.diff(np.r_[first, e.shape[0]]).astype(np.int64),
            node_ptr=np.r_[0, np.cumsum(np.bincount(ends, minlength=n_nodes))].astype(np.int64),
            node_edges=np.tile(np.arange(first.shape[0], dtype=np.int64), 2)[np.argsort(ends, kind="stable")],
        )


def network_pairs(
    g: WalkNetwork,
    demand: SnapResult,
    candidates: SnapResult,
    cutoff: float,
    *,
    d_xy: np.ndarray | None = None,
    c_xy: np.ndarray | None = None,
    threads: int | None = None,
) -> Pairs:
    """All (demand, candidate) pairs within ``cutoff`` metres, as (rows, cols, metres) arrays.

    See :func:`network_csr`; pairs come in row-major order, each once.
    """
    csr = network_csr(g, demand, candidates, cutoff, d_xy=d_xy, c_xy=c_xy, threads=threads)
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
    threads: int | None = None,
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

    From each distinct candidate position one Dijkstra runs on the CSR graph and stops at
    ``cutoff`` minus the shortest candidate leg there (:func:`siting.network._dijkstra.points_within`,
    compiled with numba). A search touches only the nodes it reaches, so time grows with
    the reached part of the graph and memory with the pairs found, never with
    ``n_demand x n_candidates``. Positions are grouped in tiles of :data:`SOURCES_PER_TILE`,
    run in ``threads`` threads or by ``map_tiles``.

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
    threads : int, optional
        Threads running tiles (default: up to 2, at most the CPU count); 1 runs them in turn.
    map_tiles : callable, optional
        ``map_tiles(context, tiles) -> list of pair lists``, one per tile in order, each equal
        to ``tile_pairs(context, tile)``; runs the tiles elsewhere (for example on a Dask
        cluster, :func:`siting.network.dask_tiles.dask_tile_mapper`). Default: in this process.

    Returns
    -------
    scipy.sparse.csr_array, shape (n_demand, n_candidates), float64
        Metres, sorted indices; a stored 0.0 is a real zero distance.
    """
    ctx, tiles = routing_context(g, demand, candidates, cutoff)
    per_tile = map_tiles(ctx, tiles) if map_tiles is not None else _run_local(ctx, tiles, threads)
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


def _run_local(ctx: RoutingContext, tiles: list[np.ndarray], threads: int | None) -> list[list[Pairs]]:
    """Run the tiles in this process, in a small thread pool (the kernel releases the GIL)."""
    n = max(1, min(threads or min(2, os.cpu_count() or 1), len(tiles)))
    if n == 1:
        return [tile_pairs(ctx, t) for t in tiles]
    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(lambda t: tile_pairs(ctx, t), tiles))


@dataclass(frozen=True, eq=False)
class RoutingContext:
    """Everything one tile of candidates needs to find its pairs (shipped once to each worker)."""

    att: AttachedPoints
    sources: np.ndarray  # junction node of each distinct source
    min_leg: np.ndarray  # shortest candidate leg per source
    cand_groups: tuple[np.ndarray, np.ndarray, np.ndarray]  # source -> candidate rows
    cand_leg: np.ndarray  # off-network leg of every candidate
    targets: _Targets
    graph: tuple[np.ndarray, np.ndarray, np.ndarray]  # int64 indptr, int64 indices, float64 metres
    cutoff: float


TileMapper = Callable[[RoutingContext, list[np.ndarray]], list[list[Pairs]]]


def routing_context(
    g: WalkNetwork,
    demand: SnapResult,
    candidates: SnapResult,
    cutoff: float,
    *,
    per_tile: int = SOURCES_PER_TILE,
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
    csr = att.csr
    ctx = RoutingContext(
        att=att,
        sources=sources,
        min_leg=min_leg,
        cand_groups=_groups(src_of, cand, sources.shape[0]),
        cand_leg=candidates.leg,
        targets=_Targets.of(g, demand, csr.shape[0]),
        graph=(csr.indptr.astype(np.int64), csr.indices.astype(np.int64), csr.data.astype(np.float64)),
        cutoff=float(cutoff),
    )
    return ctx, _tiles(sources.shape[0], per_tile)


def tile_pairs(ctx: RoutingContext, block: np.ndarray) -> list[Pairs]:
    """(demand row, candidate column, metres) triples within the cutoff for one tile of sources.

    The pairs of each candidate come together (one run per candidate), which lets
    :func:`network_csr` assemble the matrix without sorting.
    """
    cutoff = ctx.cutoff
    limits = cutoff - ctx.min_leg[block]
    ok = limits >= 0
    block, limits = block[ok], limits[ok]
    if block.size == 0:
        return []
    tg = ctx.targets
    src, pos, via = points_within(
        *ctx.graph, ctx.sources[block], limits, node_ptr=tg.node_ptr, node_edges=tg.node_edges,
        edge_u=tg.u, edge_v=tg.v, edge_start=tg.start, edge_count=tg.count, to_u=tg.to_u, to_v=tg.to_v,
    )  # fmt: skip
    start, count, members = ctx.cand_groups
    if np.all(count[block] == 1):  # the usual case: one candidate per source
        k, cand_i = np.arange(via.shape[0]), members[start[block]][src]
    else:  # every candidate of a source gets that source's run of pairs, one after another
        runs = np.bincount(src, minlength=block.shape[0])
        item, at = _ranges(start[block], count[block])
        take, k = _ranges((np.cumsum(runs) - runs)[item], runs[item])
        cand_i = members[at][take]
    total = via[k] + ctx.cand_leg[cand_i]
    keep = total <= cutoff
    return [(tg.index[pos[k[keep]]], cand_i[keep], total[keep])]


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
    """CSR array with sorted indices from unique pairs given in runs of one candidate each.

    The runs are put in candidate order (a gather, no sort of the pairs); the transpose
    conversion to CSR then leaves each row's columns sorted. Explicit zeros are kept.
    """
    rows, cols, vals = pairs
    n = cols.shape[0]
    first = np.flatnonzero(np.r_[True, cols[1:] != cols[:-1]]) if n else np.zeros(0, dtype=np.int64)
    run_cand, run_len = cols[first], np.diff(np.r_[first, n])
    order = np.argsort(run_cand, kind="stable")
    _, at = _ranges(first[order], run_len[order])
    per_cand = np.bincount(run_cand, weights=run_len, minlength=shape[1]).astype(np.int64)
    by_cand = sp.csr_array((vals[at], rows[at], np.r_[0, np.cumsum(per_cand)]), shape=(shape[1], shape[0]))
    return sp.csr_array(by_cand.T.tocsr())


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
    item, at = _ranges(start[which], count[which])
    return item, members[at]


def _ranges(start: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated ranges ``start[k] .. start[k] + count[k] - 1``: (k, position) for each element."""
    item = np.repeat(np.arange(start.shape[0]), count)
    return item, np.arange(item.shape[0]) + np.repeat(start - (np.cumsum(count) - count), count)


def _tiles(n_sources: int, per_tile: int) -> list[np.ndarray]:
    """Source indices in runs of at most ``per_tile`` (sources are junction ids: grouped by edge)."""
    if n_sources == 0:
        return []
    return np.array_split(np.arange(n_sources), -(-n_sources // max(per_tile, 1)))


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


def warm_kernels() -> None:
    """Load (or compile, once per checkout) the compiled routing and snapping kernels on a toy input.

    Call it in a process that forks workers (the API's forkserver) so every child starts with
    the machine code in memory; no threads are started.
    """
    ends = np.array([0, 1], dtype=np.int64)
    one = np.array([0], dtype=np.int64)
    points_within(
        np.array([0, 1, 2], dtype=np.int64), ends[::-1].copy(), np.ones(2), one, np.ones(1),
        node_ptr=np.array([0, 1, 2], dtype=np.int64), node_edges=np.zeros(2, dtype=np.int64), edge_u=one,
        edge_v=one + 1, edge_start=one, edge_count=one + 1, to_u=np.zeros(1), to_v=np.ones(1),
    )  # fmt: skip
    SegmentIndex.build(np.array([shapely.LineString([(0.0, 0.0), (1.0, 0.0)])])).nearest(
        np.zeros((1, 2)), 1.0
    )
