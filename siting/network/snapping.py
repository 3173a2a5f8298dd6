"""Snapping points to the nearest network edge, and splitting edges at snapped points for routing."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import shapely

from siting.errors import InputError, Problem
from siting.network.graph import WalkNetwork

__all__ = ["DEFAULT_MAX_SNAP_M", "SnapResult", "attach_points", "report_far", "snap_points"]

#: Default maximum off-network leg (metres). Points farther from every walkable edge are not
#: attached; they are listed in :attr:`SnapResult.far_ids` and get no reachable site.
DEFAULT_MAX_SNAP_M = 250.0


@dataclass(frozen=True, eq=False)
class SnapResult:
    """Where points meet the network.

    Parameters
    ----------
    name : str
        Layer name (``"demand"``, ``"candidates"``).
    ids : tuple of str
        Row labels, in row order.
    edge : ndarray, shape (n,), int64
        Index of the nearest edge in the :class:`WalkNetwork`, ``-1`` when farther than
        ``max_snap_m``.
    offset : ndarray, shape (n,), float64
        Distance along that edge from ``edge_u`` to the snapped position (metres), NaN if far.
    leg : ndarray, shape (n,), float64
        Straight off-network leg from the point to the edge (metres), NaN if far.
    max_snap_m : float
        The maximum leg allowed.
    """

    name: str
    ids: tuple[str, ...]
    edge: np.ndarray
    offset: np.ndarray
    leg: np.ndarray
    max_snap_m: float

    @property
    def snapped(self) -> np.ndarray:
        """Boolean mask, shape (n,): the point is attached to the network."""
        return self.edge >= 0

    @property
    def far_ids(self) -> tuple[str, ...]:
        """Ids of points farther than ``max_snap_m`` from every edge."""
        return tuple(self.ids[i] for i in np.flatnonzero(~self.snapped))

    def __len__(self) -> int:
        return int(self.edge.shape[0])


def snap_points(
    g: WalkNetwork,
    xy: np.ndarray,
    *,
    ids: tuple[str, ...] | None = None,
    name: str = "points",
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
    on_far: str = "warn",
) -> SnapResult:
    """Snap points to the nearest edge of ``g`` (not only the nearest node).

    The search runs over the edges' straight segments bucketed in a grid
    (:attr:`WalkNetwork.segment_index`, built on first use); the offset is measured along the
    edge's geometry from ``edge_u``.

    Parameters
    ----------
    g : WalkNetwork
        The network.
    xy : ndarray, shape (n, 2)
        Point coordinates in ``g.crs`` (metres).
    ids : tuple of str, optional
        Row labels for reports (default ``"0".."n-1"``).
    name : str
        Layer name for reports.
    max_snap_m : float
        Maximum off-network leg in metres (> 0).
    on_far : {"warn", "raise", "ignore"}
        What to do when some points are farther than ``max_snap_m``: they are always reported in
        :attr:`SnapResult.far_ids`; ``"warn"`` also issues a ``UserWarning`` and ``"raise"``
        raises :class:`~siting.errors.InputError` listing them.

    Returns
    -------
    SnapResult
    """
    if not np.isfinite(max_snap_m) or max_snap_m <= 0:
        raise InputError(
            Problem(where="max_snap_m", message=f"must be > 0 metres, got {max_snap_m}", fix="use e.g. 250")
        )
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    n = xy.shape[0]
    ids = ids if ids is not None else tuple(str(i) for i in range(n))
    edge = np.full(n, -1, dtype=np.int64)
    offset = np.full(n, np.nan)
    leg = np.full(n, np.nan)
    if n and g.n_edges:  # exact nearest edge (ties to the lower edge), see siting.network._edge_index
        edge, leg, along = g.segment_index.nearest(xy, max_snap_m)
        ok = edge >= 0
        offset[ok] = np.clip(along[ok], 0.0, g.edge_length[edge[ok]])
    result = SnapResult(name=name, ids=ids, edge=edge, offset=offset, leg=leg, max_snap_m=float(max_snap_m))
    report_far(result, on_far)
    return result


def report_far(result: SnapResult, on_far: str) -> None:
    """Warn about or raise on the points of ``result`` farther than its ``max_snap_m`` (see :func:`snap_points`)."""
    far, name, max_snap_m = result.far_ids, result.name, result.max_snap_m
    if far and on_far == "raise":
        raise InputError(
            Problem(
                where=f"{name}.geometry",
                message=f"{len(far)} point(s) are more than {max_snap_m:g} m from any walkable street",
                fix="raise max_snap_m, extend the network area, or move / drop these points",
                rows=far,
            )
        )
    if far and on_far == "warn":
        warnings.warn(
            f"{len(far)} {name} point(s) are more than {max_snap_m:g} m from any walkable street and "
            f"reach nothing (first: {', '.join(far[:5])}); see the result's far ids",
            UserWarning,
            stacklevel=4,
        )


@dataclass(frozen=True, eq=False)
class AttachedPoints:
    """A routing graph with edges split at snapped points.

    Parameters
    ----------
    csr : scipy.sparse.csr_array, shape (n_nodes + k, n_nodes + k)
        Symmetric graph: the network plus ``k`` junction nodes inserted on edges, each edge
        with junctions replaced by the chain ``u - j1 - ... - jk - v`` (same total length).
    junctions : list of ndarray
        For each snap set passed, shape (n,), the graph node each point meets (``-1`` if far).
    base_xy : ndarray, shape (n_nodes, 2)
        Coordinates of the network's nodes in ``g.crs``.
    junction_edges : ndarray of LineString, shape (k,)
        Geometry of the edge each junction lies on.
    junction_offsets : ndarray, shape (k,)
        Metres along that edge to the junction.
    """

    csr: sp.csr_array
    junctions: list[np.ndarray]
    base_xy: np.ndarray
    junction_edges: np.ndarray
    junction_offsets: np.ndarray

    @property
    def node_xy(self) -> np.ndarray:
        """Coordinates of every graph node (network nodes, then junctions), shape (n_nodes + k, 2)."""
        if self.junction_offsets.size == 0:
            return self.base_xy
        on_edge = shapely.line_interpolate_point(self.junction_edges, self.junction_offsets)
        return np.vstack([self.base_xy, shapely.get_coordinates(on_edge)])


def attach_points(g: WalkNetwork, *snaps: SnapResult, eps: float = 1e-9) -> AttachedPoints:
    """Insert the snapped positions of one or more point sets into the graph as junction nodes.

    A position within ``eps`` metres of an edge end uses that end node. Positions equal on the
    same edge share one junction, so two points snapped to one edge are joined along the edge
    (their distance is ``|offset_a - offset_b|`` plus legs, never a detour through the nodes).

    Parameters
    ----------
    g : WalkNetwork
        The network.
    *snaps : SnapResult
        Snap results on ``g``.
    eps : float
        Tolerance in metres for "at the end node".

    Returns
    -------
    AttachedPoints
    """
    edge = np.concatenate([s.edge for s in snaps])
    offset = np.concatenate([s.offset for s in snaps])
    node = np.full(edge.shape[0], -1, dtype=np.int64)
    ok = edge >= 0
    length = np.where(ok, g.edge_length[np.maximum(edge, 0)], 0.0)
    at_u = ok & (offset <= eps)
    at_v = ok & ~at_u & (offset >= length - eps)
    node[at_u] = g.edge_u[edge[at_u]]
    node[at_v] = g.edge_v[edge[at_v]]
    inner = np.flatnonzero(ok & ~at_u & ~at_v)
    keys = np.column_stack([edge[inner].astype(np.float64), offset[inner]])
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    node[inner] = g.n_nodes + inverse
    csr = g.csr
    junction_edges, junction_offsets = np.empty(0, dtype=object), np.zeros(0)
    if uniq.shape[0]:
        e = uniq[:, 0].astype(np.int64)  # sorted by edge, then offset
        t = uniq[:, 1]
        j = g.n_nodes + np.arange(uniq.shape[0])
        first = np.r_[True, e[1:] != e[:-1]]
        last = np.r_[e[1:] != e[:-1], True]
        prev_node = np.where(first, g.edge_u[e], np.r_[0, j[:-1]])
        prev_t = np.where(first, 0.0, np.r_[0.0, t[:-1]])
        a = np.concatenate([prev_node, j[last]])
        b = np.concatenate([j, g.edge_v[e[last]]])
        w = np.concatenate([t - prev_t, g.edge_length[e[last]] - t[last]])
        n_all = g.n_nodes + uniq.shape[0]
        junction_edges, junction_offsets = g.edge_geometry[e], t
        # chain entries never coincide with network entries (each touches a junction); only a
        # loop edge with a single junction yields a duplicate pair, resolved by _min_entries.
        ra, ca, wa = _min_entries(np.r_[a, b], np.r_[b, a], np.r_[w, w])  # sorted by row
        # each new entry goes at the end of its row: no sort of the network's entries
        base_ptr = np.r_[csr.indptr.astype(np.int64), np.full(n_all - g.n_nodes, csr.nnz, dtype=np.int64)]
        at = base_ptr[ra + 1]
        indptr = base_ptr + np.r_[0, np.cumsum(np.bincount(ra, minlength=n_all))]
        cols = np.insert(csr.indices.astype(np.int64), at, ca)
        csr = sp.csr_array((np.insert(csr.data, at, wa), cols, indptr), shape=(n_all, n_all))
    split = np.cumsum([len(s) for s in snaps])[:-1]
    return AttachedPoints(
        csr=csr,
        junctions=list(np.split(node, split)),
        base_xy=g.node_xy,
        junction_edges=junction_edges,
        junction_offsets=junction_offsets,
    )


def _min_entries(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray) -> tuple[np.ndarray, ...]:
    """Keep the minimum value per (row, col) entry; explicit zeros kept."""
    rows, cols = rows.astype(np.int64), cols.astype(np.int64)
    order = np.lexsort((vals, cols, rows))
    rows, cols, vals = rows[order], cols[order], vals[order].astype(np.float64)
    first = np.ones(rows.shape[0], dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    return rows[first], cols[first], vals[first]
