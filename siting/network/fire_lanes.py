"""Fire-access lanes: distance from candidate sites, clearance checks, and matching lanes to network edges."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siting.errors import InputError, Problem
from siting.geo.points import metric_crs_for, project_point_layers
from siting.network.graph import WalkNetwork

__all__ = ["DEFAULT_LANE_WIDTH_M", "FireLaneCheck", "fire_lane_check"]

#: GB 50016 requires fire-access lanes to be at least 4 m wide.
DEFAULT_LANE_WIDTH_M = 4.0


@dataclass(frozen=True, eq=False)
class FireLaneCheck:
    """Candidates against fire lanes, and fire lanes against the walking network.

    A candidate is *inside clearance* when, for some lane ``i``, its straight-line distance to
    the lane centre line is ``<= width_i / 2 + clearance_m``.

    Parameters
    ----------
    candidate_ids : tuple of str
        Candidate labels, in row order.
    distance_m : ndarray, shape (n_candidates,), float64
        Distance to the nearest lane centre line (metres; ``inf`` when there are no lanes).
    nearest_lane : tuple of str
        Label of that lane (``""`` when there are no lanes).
    inside_clearance : ndarray, shape (n_candidates,), bool
        Inside some lane's clearance zone.
    lane_ids : tuple of str
        Lane labels, in row order.
    lane_width_m, lane_clearance_m : ndarray, shape (n_lanes,), float64
        Width of each lane and its clearance half-width ``width / 2 + clearance_m``.
    clearance_m : float
        The clearance distance added beyond the lane edge.
    lane_edges : tuple of ndarray
        Per lane, the indices of the network edges matched to it (empty without a network).
    lane_match_ratio : ndarray, shape (n_lanes,), float64
        Share of each lane's length covered by its matched edges (NaN without a network).
    edge_is_fire_lane : ndarray, shape (n_edges,), bool, or None
        Network edges matched to some lane (None without a network).
    crs : str
        Metric CRS of the distances.
    """

    candidate_ids: tuple[str, ...]
    distance_m: np.ndarray
    nearest_lane: tuple[str, ...]
    inside_clearance: np.ndarray
    lane_ids: tuple[str, ...]
    lane_width_m: np.ndarray
    lane_clearance_m: np.ndarray
    clearance_m: float
    lane_edges: tuple[np.ndarray, ...]
    lane_match_ratio: np.ndarray
    edge_is_fire_lane: np.ndarray | None
    crs: str

    def to_frame(self) -> pd.DataFrame:
        """Per-candidate table: distance_m, nearest_lane, inside_clearance (index = candidate ids)."""
        return pd.DataFrame(
            {
                "distance_m": self.distance_m,
                "nearest_lane": list(self.nearest_lane),
                "inside_clearance": self.inside_clearance,
            },
            index=pd.Index(list(self.candidate_ids), name="candidate"),
        )

    @property
    def unmatched_lanes(self) -> tuple[str, ...]:
        """Lanes less than half covered by network edges (e.g. courtyard lanes missing from OSM)."""
        bad = np.flatnonzero(~(self.lane_match_ratio >= 0.5))
        return tuple(self.lane_ids[i] for i in bad)


def _lane_layer(lanes: Any, width_column: str | None, default_width_m: float) -> tuple[list[Problem], Any]:
    """Check the lanes layer; return problems and the widths array."""
    problems: list[Problem] = []
    if not hasattr(lanes, "geometry") or getattr(lanes, "crs", None) is None:
        problems.append(
            Problem(
                where="lanes", message="expected a GeoDataFrame of lines with a CRS", fix="set_crs(...) first"
            )
        )
        return problems, None
    bad = ~lanes.geometry.geom_type.isin(["LineString", "MultiLineString"]).to_numpy()
    if bad.any():
        problems.append(
            Problem(
                where="lanes.geometry",
                message="fire lanes must be (multi)lines (their centre lines)",
                fix="use the lane centre lines, e.g. polygon.boundary or a skeleton",
                rows=tuple(str(i) for i in lanes.index[bad]),
            )
        )
    widths = np.full(len(lanes), float(default_width_m))
    if width_column is not None and width_column in lanes:
        col = pd.to_numeric(lanes[width_column], errors="coerce").to_numpy(dtype=float)
        widths = np.where(np.isnan(col), widths, col)
    neg = ~(widths > 0)
    if neg.any():
        problems.append(
            Problem(
                where=f"lanes.{width_column or 'width'}",
                message="lane widths must be > 0 metres",
                fix="fix the widths (fire lanes are at least 4 m wide)",
                rows=tuple(str(i) for i in lanes.index[neg]),
            )
        )
    return problems, widths


def _match_edges(
    g: WalkNetwork, lane_geoms: np.ndarray, tolerance_m: float
) -> tuple[tuple[np.ndarray, ...], np.ndarray, np.ndarray]:
    """Edges lying mostly (>= 50 % of their length) within ``tolerance_m`` of each lane."""
    zones = shapely.buffer(lane_geoms, tolerance_m)
    lane_i, edge_i = g.edge_tree.query(zones, predicate="intersects")
    inside = shapely.length(shapely.intersection(g.edge_geometry[edge_i], zones[lane_i]))
    good = inside >= 0.5 * np.maximum(g.edge_length[edge_i], 1e-9)
    lane_i, edge_i = lane_i[good], edge_i[good]
    per_lane = tuple(np.sort(edge_i[lane_i == k]) for k in range(lane_geoms.shape[0]))
    ratio = np.full(lane_geoms.shape[0], 0.0)
    for k, edges in enumerate(per_lane):
        if edges.size and shapely.length(lane_geoms[k]) > 0:
            near = shapely.intersection(
                shapely.buffer(shapely.union_all(g.edge_geometry[edges]), tolerance_m), lane_geoms[k]
            )
            ratio[k] = min(1.0, float(shapely.length(near) / shapely.length(lane_geoms[k])))
    mask = np.zeros(g.n_edges, dtype=bool)
    mask[edge_i] = True
    return per_lane, ratio, mask


def fire_lane_check(
    lanes: Any,
    candidates: Any,
    *,
    g: WalkNetwork | None = None,
    clearance_m: float = 0.0,
    width_column: str | None = "width_m",
    default_width_m: float = DEFAULT_LANE_WIDTH_M,
    match_tolerance_m: float = 10.0,
) -> FireLaneCheck:
    """Distance from each candidate to the nearest fire lane and whether it is inside a clearance zone.

    Parameters
    ----------
    lanes : GeoDataFrame
        Fire-lane centre lines in any CRS; optional width column in metres.
    candidates : GeoDataFrame
        Candidate points in any CRS.
    g : WalkNetwork, optional
        When given, distances are measured in ``g.crs`` and each lane is matched to the network
        edges lying mostly within ``match_tolerance_m`` of it.
    clearance_m : float
        Extra clear distance beyond the lane edge (metres, >= 0). Clearance half-width of a
        lane = width / 2 + clearance_m.
    width_column : str or None
        Column of ``lanes`` holding widths in metres (missing values use ``default_width_m``).
    default_width_m : float
        Width of lanes without a value (default 4 m, the GB 50016 minimum).
    match_tolerance_m : float
        Lane-to-edge matching tolerance (metres, > 0).

    Returns
    -------
    FireLaneCheck
    """
    problems, widths = _lane_layer(lanes, width_column, default_width_m)
    if not (np.isfinite(clearance_m) and clearance_m >= 0):
        problems.append(
            Problem(where="clearance_m", message=f"must be >= 0 m, got {clearance_m}", fix="e.g. 2.0")
        )
    if not (np.isfinite(match_tolerance_m) and match_tolerance_m > 0):
        problems.append(Problem(where="match_tolerance_m", message="must be > 0 m", fix="e.g. 10"))
    crs = g.crs if g is not None else None
    if crs is None and not problems and len(lanes):
        crs = metric_crs_for(gpd.GeoSeries(lanes.geometry.to_crs(4326)))
    try:
        (cands,) = project_point_layers([("candidates", candidates)], crs=crs)
    except InputError as exc:
        problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    crs = cands.crs
    lane_geoms = lanes.geometry.to_crs(crs).to_numpy()
    pts = shapely.points(cands.xy)
    n = len(cands)
    dist = np.full(n, np.inf)
    nearest = [""] * n
    inside = np.zeros(n, dtype=bool)
    half = widths / 2.0 + clearance_m
    lane_ids = tuple(str(i) for i in lanes.index)
    if len(lane_geoms) and n:
        tree = shapely.STRtree(lane_geoms)
        (pi, li), d = tree.query_nearest(pts, return_distance=True, all_matches=False)
        dist[pi] = d
        for p, lane in zip(pi, li, strict=True):
            nearest[p] = lane_ids[lane]
        qi, qj = tree.query(pts, predicate="dwithin", distance=float(half.max()))
        close = shapely.distance(pts[qi], lane_geoms[qj]) <= half[qj]
        inside[qi[close]] = True
    mask: np.ndarray | None
    if g is not None and len(lane_geoms):
        per_lane, ratio, mask = _match_edges(g, lane_geoms, match_tolerance_m)
    else:
        per_lane = tuple(np.zeros(0, dtype=np.int64) for _ in lane_ids)
        ratio = np.full(len(lane_ids), np.nan)
        mask = np.zeros(g.n_edges, dtype=bool) if g is not None else None
    return FireLaneCheck(
        candidate_ids=cands.ids,
        distance_m=dist,
        nearest_lane=tuple(nearest),
        inside_clearance=inside,
        lane_ids=lane_ids,
        lane_width_m=widths,
        lane_clearance_m=half,
        clearance_m=float(clearance_m),
        lane_edges=per_lane,
        lane_match_ratio=ratio,
        edge_is_fire_lane=mask,
        crs=crs.to_string(),
    )
