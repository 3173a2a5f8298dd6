"""Partition demand pieces into contiguous, balanced grids (网格) by weighted recursive bisection."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components

__all__ = ["adjacency", "bisect", "dissolve", "grid_of_points", "partition"]

#: Pieces sharing a boundary at least this long (metres) are neighbours.
MIN_SHARED_M = 0.05


def adjacency(geoms: np.ndarray, groups: np.ndarray | None = None) -> sp.csr_matrix:
    """Return the shared-edge length between polygons that share a boundary segment.

    Parameters
    ----------
    geoms : numpy.ndarray of shapely polygons, shape (n,)
        Non-overlapping polygons in a metric CRS.
    groups : numpy.ndarray, shape (n,), optional
        If given, only polygons of the same group are neighbours.

    Returns
    -------
    scipy.sparse.csr_matrix, shape (n, n)
        Symmetric; entry (i, j) is the length in metres of the boundary i and j share.
    """
    n = len(geoms)
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    keep = a < b
    if groups is not None:
        keep &= groups[a] == groups[b]
    a, b = a[keep], b[keep]
    length = shapely.length(shapely.intersection(shapely.boundary(geoms[a]), shapely.boundary(geoms[b])))
    ok = length >= MIN_SHARED_M
    a, b, length = a[ok], b[ok], length[ok]
    m = sp.coo_matrix((np.r_[length, length], (np.r_[a, b], np.r_[b, a])), shape=(n, n))
    return m.tocsr()


def bisect(idx: np.ndarray, k: int, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> list[np.ndarray]:
    """Split items into ``k`` groups of near-equal weight by recursive cuts across the longer axis.

    Parameters
    ----------
    idx : numpy.ndarray of int
        Items to split.
    k : int
        Number of groups (>= 1).
    x, y : numpy.ndarray of float
        Item coordinates (metres), indexed by item.
    w : numpy.ndarray of float
        Item weights, indexed by item.

    Returns
    -------
    list of numpy.ndarray
        ``min(k, len(idx))`` groups of item indices, in a deterministic order.
    """
    k = min(k, len(idx))
    if k <= 1:
        return [idx]
    k1 = k // 2
    xs, ys = x[idx], y[idx]
    order = np.lexsort((ys, xs)) if np.ptp(xs) >= np.ptp(ys) else np.lexsort((xs, ys))
    sidx = idx[order]
    cw = np.cumsum(w[sidx])
    target = cw[-1] * k1 / k
    cut = int(np.searchsorted(cw, target)) + 1
    if cut > 1 and abs(cw[cut - 2] - target) < abs(cw[cut - 1] - target):
        cut -= 1
    cut = min(max(cut, k1), len(sidx) - (k - k1))
    return bisect(sidx[:cut], k1, x, y, w) + bisect(sidx[cut:], k - k1, x, y, w)


def _repair(labels: np.ndarray, adj: sp.csr_matrix, w: np.ndarray) -> np.ndarray:
    """Give every detached part of a group to the neighbouring group it shares most boundary with."""
    labels = labels.copy()
    for _ in range(20):
        changed = False
        for g in np.unique(labels):
            members = np.flatnonzero(labels == g)
            if len(members) < 2:
                continue
            n_comp, comp = connected_components(adj[members][:, members], directed=False)
            if n_comp == 1:
                continue
            weight = np.bincount(comp, weights=w[members] + 1e-9, minlength=n_comp)
            main = int(np.argmax(weight))
            for c in range(n_comp):
                if c == main:
                    continue
                part = members[comp == c]
                rows = adj[part]
                other = labels[rows.indices]
                mask = other != g
                if not mask.any():
                    continue
                shared = pd.Series(rows.data[mask]).groupby(other[mask]).sum()
                best = shared.index[int(np.argmax(shared.to_numpy()))]
                labels[part] = best
                changed = True
        if not changed:
            break
    return labels


def partition(
    pieces: gpd.GeoDataFrame,
    *,
    weight: str = "households",
    zone: str = "compound",
    target: float = 400.0,
) -> np.ndarray:
    """Partition pieces into contiguous groups of about ``target`` weight, never across zones.

    Each connected set of pieces in a zone is cut into ``max(1, round(W / target))`` groups by
    weighted recursive bisection; detached fragments are then merged into the neighbour they
    share most boundary with.

    Parameters
    ----------
    pieces : GeoDataFrame
        Non-overlapping polygons (metric CRS) with columns ``weight`` and ``zone``, in a stable order.
    weight : str
        Column with the weight to balance (households).
    zone : str
        Column naming the zone (compound) a group must stay inside.
    target : float
        Desired weight per group.

    Returns
    -------
    numpy.ndarray of int, shape (n,)
        Group label per piece, numbered 0.. in order of the group's first piece.
    """
    geoms = pieces.geometry.to_numpy()
    zones = pieces[zone].to_numpy()
    w = pieces[weight].to_numpy(dtype=float)
    cen = shapely.centroid(geoms)
    x, y = shapely.get_x(cen), shapely.get_y(cen)
    adj = adjacency(geoms, pd.factorize(zones)[0])
    n_comp, comp = connected_components(adj, directed=False)
    labels = np.empty(len(pieces), dtype=np.int64)
    next_label = 0
    for c in range(n_comp):
        idx = np.flatnonzero(comp == c)
        k = max(1, round(float(w[idx].sum()) / target))
        for group in bisect(idx, k, x, y, w):
            labels[group] = next_label
            next_label += 1
    labels = _repair(labels, adj, w)
    _, first = np.unique(labels, return_index=True)
    remap = np.empty(labels.max() + 1, dtype=np.int64)
    remap[labels[np.sort(first)]] = np.arange(len(first))
    return remap[labels]


def dissolve(pieces: gpd.GeoDataFrame, labels: np.ndarray) -> gpd.GeoSeries:
    """Union the pieces of each label into one polygon.

    Parameters
    ----------
    pieces : GeoDataFrame
        Polygons.
    labels : numpy.ndarray of int, shape (n,)
        Group per piece, 0..k-1.

    Returns
    -------
    GeoSeries
        Geometry per label (index = label), same CRS.
    """
    geoms = pieces.geometry.to_numpy()
    out = [shapely.union_all(geoms[labels == g]) for g in range(int(labels.max()) + 1)]
    return gpd.GeoSeries(out, crs=pieces.crs)


def grid_of_points(points: gpd.GeoDataFrame, grids: gpd.GeoDataFrame) -> np.ndarray:
    """Return the grid id of each point (the lowest id on a shared edge; None outside every grid).

    Parameters
    ----------
    points : GeoDataFrame
        Points, same CRS as ``grids``.
    grids : GeoDataFrame
        Grid polygons with ``grid_id``.

    Returns
    -------
    numpy.ndarray of object, shape (n,)
        Grid id per point.
    """
    pi, gi = grids.sindex.query(points.geometry.to_numpy(), predicate="intersects")
    ids = grids["grid_id"].to_numpy()
    pairs = pd.DataFrame({"p": pi, "g": ids[gi]}).sort_values(["p", "g"]).drop_duplicates("p")
    out = np.full(len(points), None, dtype=object)
    out[pairs["p"].to_numpy()] = pairs["g"].to_numpy()
    return out
