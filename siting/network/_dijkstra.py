"""Compiled (numba) one-to-many Dijkstra with a distance limit that emits sparse (source, point) pairs."""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["points_within"]


@njit(cache=True, nogil=True)
def _push(keys: np.ndarray, vals: np.ndarray, n: int, key: float, val: int) -> int:  # pragma: no cover
    """Push ``(key, val)`` on the binary min-heap of size ``n``; return the new size."""
    i = n
    while i > 0:
        parent = (i - 1) >> 1
        if keys[parent] <= key:
            break
        keys[i] = keys[parent]
        vals[i] = vals[parent]
        i = parent
    keys[i] = key
    vals[i] = val
    return n + 1


@njit(cache=True, nogil=True)
def _pop(keys: np.ndarray, vals: np.ndarray, n: int) -> int:  # pragma: no cover
    """Remove the heap's top (read it before calling); return the new size."""
    n -= 1
    key, val = keys[n], vals[n]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= n:
            break
        if child + 1 < n and keys[child + 1] < keys[child]:
            child += 1
        if key <= keys[child]:
            break
        keys[i] = keys[child]
        vals[i] = vals[child]
        i = child
    keys[i] = key
    vals[i] = val
    return n


@njit(cache=True, nogil=True)
def _search(
    indptr: np.ndarray,
    indices: np.ndarray,
    weights: np.ndarray,
    source: int,
    limit: float,
    dist: np.ndarray,
    touched: np.ndarray,
    keys: np.ndarray,
    vals: np.ndarray,
) -> int:  # pragma: no cover
    """Dijkstra from ``source`` up to ``limit``; fills ``dist`` and lists the reached nodes in ``touched``."""
    n_touched = 1
    dist[source] = 0.0
    touched[0] = source
    size = _push(keys, vals, 0, 0.0, source)
    while size > 0:
        d, u = keys[0], vals[0]
        size = _pop(keys, vals, size)
        if d > dist[u]:
            continue  # a stale heap entry
        for k in range(indptr[u], indptr[u + 1]):
            v = indices[k]
            nd = d + weights[k]
            if nd <= limit and nd < dist[v]:
                if dist[v] == np.inf:
                    touched[n_touched] = v
                    n_touched += 1
                dist[v] = nd
                size = _push(keys, vals, size, nd, v)
    return n_touched


@njit(cache=True, nogil=True)
def _grow(a: np.ndarray, used: int) -> np.ndarray:  # pragma: no cover
    """Copy ``a[:used]`` into an array twice as long."""
    b = np.empty(2 * a.shape[0], a.dtype)
    b[:used] = a[:used]
    return b


@njit(cache=True, nogil=True)
def _emit(
    si: int,
    limit: float,
    n_touched: int,
    touched: np.ndarray,
    dist: np.ndarray,
    node_ptr: np.ndarray,
    node_edges: np.ndarray,
    edge_u: np.ndarray,
    edge_v: np.ndarray,
    edge_start: np.ndarray,
    edge_count: np.ndarray,
    to_u: np.ndarray,
    to_v: np.ndarray,
    done: np.ndarray,
    out_s: np.ndarray,
    out_p: np.ndarray,
    out_d: np.ndarray,
    m: int,
) -> int:  # pragma: no cover
    """Write the points within ``limit`` on edges ending at a reached node (each edge once)."""
    for t in range(n_touched):
        node = touched[t]
        for q in range(node_ptr[node], node_ptr[node + 1]):
            e = node_edges[q]
            if done[e] == si:
                continue  # both ends reached: the edge is read once
            done[e] = si
            du, dv = dist[edge_u[e]], dist[edge_v[e]]
            for pos in range(edge_start[e], edge_start[e] + edge_count[e]):
                via = min(du + to_u[pos], dv + to_v[pos])
                if via <= limit:
                    out_s[m] = si
                    out_p[m] = pos
                    out_d[m] = via
                    m += 1
    return m


@njit(cache=True, nogil=True)
def _points_within(
    indptr: np.ndarray,
    indices: np.ndarray,
    weights: np.ndarray,
    sources: np.ndarray,
    limits: np.ndarray,
    node_ptr: np.ndarray,
    node_edges: np.ndarray,
    edge_u: np.ndarray,
    edge_v: np.ndarray,
    edge_start: np.ndarray,
    edge_count: np.ndarray,
    to_u: np.ndarray,
    to_v: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover
    n = indptr.shape[0] - 1
    dist = np.full(n, np.inf)
    touched = np.empty(n, np.int64)
    keys = np.empty(indices.shape[0] + 1)  # a lazy heap holds at most one entry per relaxation
    vals = np.empty(indices.shape[0] + 1, np.int64)
    done = np.full(edge_u.shape[0], -1, np.int64)
    cap = max(1024, 2 * to_u.shape[0])
    out_s, out_p, out_d = np.empty(cap, np.int64), np.empty(cap, np.int64), np.empty(cap)
    m = 0
    for si in range(sources.shape[0]):
        limit = limits[si]
        n_touched = _search(indptr, indices, weights, sources[si], limit, dist, touched, keys, vals)
        while m + to_u.shape[0] > out_s.shape[0]:  # room for every point, so no check per pair
            out_s, out_p, out_d = _grow(out_s, m), _grow(out_p, m), _grow(out_d, m)
        m = _emit(
            si,
            limit,
            n_touched,
            touched,
            dist,
            node_ptr,
            node_edges,
            edge_u,
            edge_v,
            edge_start,
            edge_count,
            to_u,
            to_v,
            done,
            out_s,
            out_p,
            out_d,
            m,
        )
        for t in range(n_touched):
            dist[touched[t]] = np.inf
    return out_s[:m], out_p[:m], out_d[:m]


def points_within(
    indptr: np.ndarray,
    indices: np.ndarray,
    weights: np.ndarray,
    sources: np.ndarray,
    limits: np.ndarray,
    *,
    node_ptr: np.ndarray,
    node_edges: np.ndarray,
    edge_u: np.ndarray,
    edge_v: np.ndarray,
    edge_start: np.ndarray,
    edge_count: np.ndarray,
    to_u: np.ndarray,
    to_v: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points on edges within a walking limit of each source: one Dijkstra per source, stopped at its limit.

    Each search touches only the nodes it reaches (no dense row per source, unlike
    ``scipy.sparse.csgraph.dijkstra``), so the work is proportional to the reached part
    of the graph and the memory to the pairs found. The GIL is released: tiles can run
    in threads.

    Parameters
    ----------
    indptr, indices, weights : ndarray
        CSR graph (int64 indptr and indices, float64 metres), non-negative weights.
    sources : ndarray, shape (s,), int64
        Source nodes.
    limits : ndarray, shape (s,), float64
        Distance limit of each source (metres, inclusive).
    node_ptr, node_edges : ndarray, int64
        For each node, the point-holding edges it ends (CSR layout: ``node_edges[node_ptr[v]:
        node_ptr[v + 1]]``).
    edge_u, edge_v : ndarray, shape (e,), int64
        End nodes of each point-holding edge.
    edge_start, edge_count : ndarray, shape (e,), int64
        Each edge's points, as a range of positions into ``to_u`` / ``to_v``.
    to_u, to_v : ndarray, shape (k,), float64
        Metres from each point to its edge's ``u`` / ``v`` end (offset along the edge plus
        any off-network leg).

    Returns
    -------
    source_pos, point_pos, metres : ndarray
        One entry per (source, point) pair within the source's limit: the source's
        position in ``sources`` (ascending), the point's position and the distance
        ``min(d(u) + to_u, d(v) + to_v)``.
    """
    return _points_within(
        indptr, indices, weights, sources, limits, node_ptr, node_edges,
        edge_u, edge_v, edge_start, edge_count, to_u, to_v,
    )  # fmt: skip
