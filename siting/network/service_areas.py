"""Service areas: the part of the street network reachable from a site within R, as a polygon."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from scipy.sparse.csgraph import dijkstra
from shapely.ops import substring

from siting.errors import InputError, Problem
from siting.geo.points import project_point_layers
from siting.network.graph import WalkNetwork
from siting.network.snapping import DEFAULT_MAX_SNAP_M, attach_points, snap_points

__all__ = ["reachable_lines", "service_areas"]


def reachable_lines(g: WalkNetwork, node_dist: np.ndarray, budget: float) -> list[Any]:
    """Pieces of every edge within ``budget`` metres, given distances to the edge end nodes.

    A point at ``x`` metres along edge ``(u, v)`` of length ``L`` is reached when
    ``min(d_u + x, d_v + L - x) <= budget``: the pieces ``[0, budget - d_u]`` and
    ``[L - (budget - d_v), L]``, merged when they overlap.

    Parameters
    ----------
    g : WalkNetwork
        The network.
    node_dist : ndarray, shape (n_nodes,)
        Walking distance (metres) from the site to each node, ``inf`` if not reached.
    budget : float
        Metres left after the site's off-network leg.

    Returns
    -------
    list of shapely LineString
        In ``g.crs``.
    """
    du, dv, length = node_dist[g.edge_u], node_dist[g.edge_v], g.edge_length
    from_u = np.clip(budget - du, 0.0, None)
    from_v = np.clip(budget - dv, 0.0, None)
    reached = np.isfinite(du) & (du <= budget) | np.isfinite(dv) & (dv <= budget)
    whole = reached & (from_u + from_v >= length)
    pieces = list(g.edge_geometry[whole])
    for e in np.flatnonzero(reached & ~whole):
        geom, ell = g.edge_geometry[e], length[e]
        if from_u[e] > 0:
            pieces.append(substring(geom, 0.0, float(from_u[e])))
        if from_v[e] > 0:
            pieces.append(substring(geom, float(ell - from_v[e]), float(ell)))
    return pieces


def _site_pieces(
    g: WalkNetwork, att_csr: Any, node: int, *, edge: int, offset: float, budget: float
) -> list[Any]:
    """Reachable pieces for one snapped site (its own edge handled along the edge)."""
    dist = dijkstra(att_csr, directed=True, indices=node, limit=budget)[: g.n_nodes]
    pieces = reachable_lines(g, dist, budget)
    geom, ell = g.edge_geometry[edge], float(g.edge_length[edge])
    lo, hi = max(0.0, offset - budget), min(ell, offset + budget)
    if hi > lo:
        pieces.append(substring(geom, lo, hi))
    return pieces


def service_areas(
    g: WalkNetwork | None,
    sites: Any,
    radius: float,
    *,
    buffer_m: float = 25.0,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
    circuity: float = 1.0,
    to_wgs84: bool = False,
) -> Any:
    """Polygon reachable from each site within ``radius`` metres along the network.

    The reachable parts of the streets (partial edges cut at the exact remaining distance,
    after the site's off-network leg) are buffered by ``buffer_m`` and merged. With ``g=None``
    the area is a circle of ``radius / circuity``.

    Parameters
    ----------
    g : WalkNetwork or None
        The network, or None for straight-line circles.
    sites : GeoDataFrame
        Site points in any CRS.
    radius : float
        Walking radius in metres (> 0).
    buffer_m : float
        Half-width of the reachable street corridor drawn (metres, > 0): buildings within it
        of a reached street count as reached.
    max_snap_m : float
        Maximum off-network leg; a farther site gets an empty polygon.
    circuity : float
        Straight-line mode only: network / straight-line ratio (>= 1).
    to_wgs84 : bool
        Return lon/lat (EPSG:4326, for GeoJSON) instead of the metric CRS.

    Returns
    -------
    GeoDataFrame
        One row per site (same index): ``geometry`` polygon, ``radius_m``, ``reachable_m``
        (street length reached, metres; NaN in straight-line mode), ``mode``, ``snapped``.
    """
    problems = []
    for name, value in (("radius", radius), ("buffer_m", buffer_m)):
        if not (isinstance(value, int | float) and np.isfinite(value) and value > 0):
            problems.append(Problem(where=name, message=f"must be > 0 metres, got {value!r}", fix="e.g. 500"))
    if not (np.isfinite(circuity) and circuity >= 1.0):
        problems.append(Problem(where="circuity", message=f"must be >= 1, got {circuity}", fix="use 1.0-1.6"))
    try:
        (pts,) = project_point_layers([("sites", sites)], crs=g.crs if g is not None else None)
    except InputError as exc:
        problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    geoms: list[Any] = []
    reach = np.full(len(pts), np.nan)
    snapped = np.ones(len(pts), dtype=bool)
    if g is None:
        geoms = list(shapely.buffer(shapely.points(pts.xy), radius / circuity))
        mode = "straight-line"
    else:
        mode = "network"
        snap = snap_points(g, pts.xy, ids=pts.ids, name="sites", max_snap_m=max_snap_m)
        att = attach_points(g, snap)
        snapped = snap.snapped
        for i in range(len(pts)):
            if not snapped[i] or snap.leg[i] > radius:
                geoms.append(shapely.Polygon())
                reach[i] = 0.0
                continue
            budget = float(radius - snap.leg[i])
            pieces = _site_pieces(
                g,
                att.csr,
                int(att.junctions[0][i]),
                edge=int(snap.edge[i]),
                offset=float(snap.offset[i]),
                budget=budget,
            )
            lines = shapely.union_all(pieces)
            reach[i] = float(shapely.length(lines))
            geoms.append(shapely.buffer(lines, buffer_m))
    out = gpd.GeoDataFrame(
        {"radius_m": float(radius), "reachable_m": reach, "mode": mode, "snapped": snapped},
        geometry=geoms,
        crs=pts.crs,
        index=sites.index,
    )
    return out.to_crs(4326) if to_wgs84 else out
