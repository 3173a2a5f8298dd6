"""Fire-lane rules for e-bike charging points: eligibility of candidates and the audit of existing piles."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from siting.errors import InputError, Problem, raise_if_problems
from siting.geo.crs import metric_crs
from siting.network.fire_lanes import DEFAULT_LANE_WIDTH_M, fire_lane_check

__all__ = [
    "DEFAULT_CLEARANCE_M",
    "DEFAULT_REACH_M",
    "RULES",
    "audit_existing",
    "check_rule_parameters",
    "fire_lane_rules",
]

#: Clear strip kept beyond each lane edge, metres. ASSUMPTION: the demo's modelled rule (gis_data/README.md);
#: GB 50016-2014 only says fire lanes must be kept clear, it sets no strip for charging points.
DEFAULT_CLEARANCE_M = 3.0
#: Longest distance from a charging point to a fire lane, metres: half of the 160 m greatest spacing of
#: fire-engine roads in GB 50016-2014 s. 7.1.1, so a fire engine on the lane can reach a charging fire.
#: An assumption derived from that clause, not a published limit for charging points.
DEFAULT_REACH_M = 80.0

#: Rule names, in the order they are reported.
RULES: tuple[str, ...] = ("outside_compound", "in_exclusion", "inside_clearance", "beyond_reach")


def check_rule_parameters(
    *, clearance_m: Any, reach_m: Any, default_width_m: Any = DEFAULT_LANE_WIDTH_M
) -> list[Problem]:
    """Problems with the fire-lane rule parameters (empty when all is well).

    Parameters
    ----------
    clearance_m : float
        Clear strip beyond the lane edge, metres (>= 0).
    reach_m : float
        Fire-truck reach from the lane centre line, metres (> lane half width + clearance).
    default_width_m : float
        Width of lanes without a ``width_m`` value, metres (> 0).

    Returns
    -------
    list of Problem
    """
    problems: list[Problem] = []

    def number(v: Any) -> float | None:
        try:
            f = float(v)
        except (TypeError, ValueError):
            return None
        return f if np.isfinite(f) else None

    c, r, w = number(clearance_m), number(reach_m), number(default_width_m)
    if c is None or c < 0:
        problems.append(
            Problem("clearance_m", f"must be a number of metres >= 0, got {clearance_m!r}", "e.g. 3")
        )
    if w is None or w <= 0:
        problems.append(Problem("default_width_m", f"must be > 0 metres, got {default_width_m!r}", "e.g. 4"))
    if r is None or r <= 0:
        problems.append(
            Problem("reach_m", f"must be a positive number of metres, got {reach_m!r}", "e.g. 80")
        )
    elif c is not None and w is not None and c >= 0 and w > 0 and r <= w / 2 + c:
        problems.append(
            Problem(
                "reach_m",
                f"{r} m is not beyond the lane clearance ({w / 2 + c} m): no point could satisfy both",
                f"use reach_m > {w / 2 + c}",
            )
        )
    return problems


def _clearance_margin(
    pts: np.ndarray, lanes: np.ndarray, half: np.ndarray, nearest_d: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Least ``distance - clearance half-width`` over all lanes, and that lane's index, per point."""
    n = pts.shape[0]
    margin = nearest_d - half.min() if half.size else np.full(n, np.inf)
    which = np.full(n, -1, dtype=np.int64)
    if not half.size or not n:
        return margin, which
    reach = nearest_d + (half.max() - half.min())
    tree = shapely.STRtree(lanes)
    qi, qj = tree.query(pts, predicate="dwithin", distance=reach)
    m = shapely.distance(pts[qi], lanes[qj]) - half[qj]
    order = np.lexsort((m, qi))
    qi, qj, m = qi[order], qj[order], m[order]
    first = np.r_[True, qi[1:] != qi[:-1]]
    margin = np.full(n, np.inf)
    margin[qi[first]] = m[first]
    which[qi[first]] = qj[first]
    return margin, which


def fire_lane_rules(
    points: gpd.GeoDataFrame,
    fire_lanes: gpd.GeoDataFrame,
    *,
    exclusions: gpd.GeoDataFrame | None = None,
    compounds: gpd.GeoDataFrame | None = None,
    clearance_m: float = DEFAULT_CLEARANCE_M,
    reach_m: float = DEFAULT_REACH_M,
    default_width_m: float = DEFAULT_LANE_WIDTH_M,
) -> gpd.GeoDataFrame:
    """Check every point against the charging-pile fire-lane rules.

    A point complies when it is (1) inside a compound (when ``compounds`` is given),
    (2) not in or on an exclusion polygon, (3) farther than ``width_i / 2 + clearance_m`` from
    the centre line of every lane ``i``, and (4) within ``reach_m`` of some lane's centre line.
    Distances are straight lines in the lanes' metric CRS (EPSG:32650 for Nanjing); lane
    distances come from :func:`siting.network.fire_lanes.fire_lane_check`.

    Parameters
    ----------
    points : GeoDataFrame
        Candidate or existing charging points (any CRS).
    fire_lanes : GeoDataFrame
        Lane centre lines with optional ``width_m`` (metres).
    exclusions : GeoDataFrame, optional
        Polygons where nothing may be sited (water, industrial land, ...).
    compounds : GeoDataFrame, optional
        Residential compound polygons; without them rule (1) is not checked.
    clearance_m, reach_m, default_width_m : float
        Rule parameters in metres (see :func:`check_rule_parameters`).

    Returns
    -------
    GeoDataFrame
        ``points`` (in the metric CRS) plus ``lane_distance_m``, ``nearest_lane``,
        ``clearance_limit_m`` (half width + clearance of the lane with the least margin),
        ``clearance_margin_m`` (distance minus that limit: negative = inside a clearance),
        ``exclusion_distance_m`` (0 inside), one boolean column per rule in :data:`RULES`
        (True = broken), ``violations`` (broken rule names joined by ``;``) and ``compliant``.

    Raises
    ------
    InputError
        Listing every problem with the layers and parameters.
    """
    problems = check_rule_parameters(
        clearance_m=clearance_m, reach_m=reach_m, default_width_m=default_width_m
    )
    for name, gdf in (("fire_lanes", fire_lanes), ("exclusions", exclusions), ("compounds", compounds)):
        if gdf is not None and (not isinstance(gdf, gpd.GeoDataFrame) or gdf.crs is None):
            problems.append(Problem(name, "expected a GeoDataFrame with a CRS", "set_crs(...) first"))
    if not isinstance(points, gpd.GeoDataFrame) or points.crs is None:
        problems.append(
            Problem("points", "expected a GeoDataFrame of points with a CRS", "set_crs(...) first")
        )
    raise_if_problems(problems, title="invalid fire-lane rule input")
    crs = metric_crs(fire_lanes) if len(fire_lanes) else metric_crs(points)
    if "lane_id" in fire_lanes.columns and fire_lanes["lane_id"].notna().all():
        fire_lanes = fire_lanes.set_index(fire_lanes["lane_id"].astype(str))
    try:
        check = fire_lane_check(
            fire_lanes.to_crs(crs),
            points.to_crs(crs),
            clearance_m=float(clearance_m),
            default_width_m=float(default_width_m),
        )
    except InputError as exc:
        raise InputError(exc.problems, title="invalid fire-lane rule input") from None
    out = points.to_crs(crs).copy()
    pts = out.geometry.to_numpy()
    lanes = fire_lanes.geometry.to_crs(crs).to_numpy()
    margin, which = _clearance_margin(pts, lanes, check.lane_clearance_m, check.distance_m)
    out["lane_distance_m"] = check.distance_m
    out["nearest_lane"] = list(check.nearest_lane)
    out["clearance_limit_m"] = np.where(which >= 0, check.lane_clearance_m[np.maximum(which, 0)], np.nan)
    out["clearance_margin_m"] = margin
    out["exclusion_distance_m"] = _distance_to(pts, exclusions, crs)
    out["outside_compound"] = (
        np.zeros(len(out), dtype=bool) if compounds is None else ~_inside(pts, compounds, crs)
    )
    out["in_exclusion"] = out["exclusion_distance_m"].to_numpy() <= 0.0
    out["inside_clearance"] = check.inside_clearance
    out["beyond_reach"] = ~(check.distance_m <= float(reach_m))
    broken = out[list(RULES)].to_numpy(dtype=bool)
    out["violations"] = [";".join(r for r, b in zip(RULES, row, strict=True) if b) for row in broken]
    out["compliant"] = ~broken.any(axis=1)
    return out


def _distance_to(pts: np.ndarray, polys: gpd.GeoDataFrame | None, crs: Any) -> np.ndarray:
    """Distance from each point to the nearest polygon (0 inside or on it; inf without polygons)."""
    if polys is None or not len(polys) or not len(pts):
        return np.full(len(pts), np.inf)
    tree = shapely.STRtree(polys.geometry.to_crs(crs).to_numpy())
    (pi, _), d = tree.query_nearest(pts, return_distance=True, all_matches=False)
    out = np.full(len(pts), np.inf)
    out[pi] = d
    return out


def _inside(pts: np.ndarray, polys: gpd.GeoDataFrame, crs: Any) -> np.ndarray:
    """Whether each point is covered by some polygon."""
    inside = np.zeros(len(pts), dtype=bool)
    if len(polys) and len(pts):
        pi, _ = shapely.STRtree(polys.geometry.to_crs(crs).to_numpy()).query(pts, predicate="covered_by")
        inside[pi] = True
    return inside


def audit_existing(
    existing_gdf: gpd.GeoDataFrame,
    fire_lanes_gdf: gpd.GeoDataFrame,
    exclusions_gdf: gpd.GeoDataFrame | None = None,
    *,
    clearance_m: float = DEFAULT_CLEARANCE_M,
    reach_m: float = DEFAULT_REACH_M,
    compounds_gdf: gpd.GeoDataFrame | None = None,
    default_width_m: float = DEFAULT_LANE_WIDTH_M,
    facility_type: str | None = "charging_pile",
) -> gpd.GeoDataFrame:
    """Which existing charging points break which fire-lane rules, with the distances.

    Parameters
    ----------
    existing_gdf : GeoDataFrame
        Existing points (any CRS). When it has a ``facility_type`` column and ``facility_type``
        is not None, only rows of that type are audited.
    fire_lanes_gdf : GeoDataFrame
        Lane centre lines (optional ``width_m``, metres).
    exclusions_gdf : GeoDataFrame, optional
        Exclusion polygons.
    clearance_m, reach_m : float
        Rule parameters, metres (see :func:`check_rule_parameters`).
    compounds_gdf : GeoDataFrame, optional
        Compounds; when given, points outside every compound break ``outside_compound``.
    default_width_m : float
        Width of lanes without a value (4 m, the GB 50016 minimum).
    facility_type : str or None
        Row filter on ``facility_type`` (None audits every row).

    Returns
    -------
    GeoDataFrame
        One row per audited point, columns as :func:`fire_lane_rules`, worst first (non-compliant
        rows sorted by clearance margin, then by lane distance). Filter ``~compliant`` for the
        breaches.

    Raises
    ------
    InputError
        Listing every problem with the layers and parameters.
    """
    if (
        facility_type is not None
        and isinstance(existing_gdf, gpd.GeoDataFrame)
        and "facility_type" in existing_gdf.columns
    ):
        existing_gdf = existing_gdf[existing_gdf["facility_type"] == facility_type]
    out = fire_lane_rules(
        existing_gdf,
        fire_lanes_gdf,
        exclusions=exclusions_gdf,
        compounds=compounds_gdf,
        clearance_m=clearance_m,
        reach_m=reach_m,
        default_width_m=default_width_m,
    )
    key = np.lexsort(
        (-out["lane_distance_m"].to_numpy(), out["clearance_margin_m"].to_numpy(), out["compliant"])
    )
    return out.iloc[key]
