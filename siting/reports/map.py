"""Map layers of the reports: the study area's own basemap and the results, as Leaflet-ready GeoJSON."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siting.reports.html import OSM_ATTRIBUTION

__all__ = [
    "BASEMAP_STYLES",
    "COVERAGE_CLASSES",
    "attribution",
    "basemap_layers",
    "coverage_color",
    "coverage_legend",
    "feature_collection",
    "map_bounds",
    "result_layers",
    "scenario_colors",
    "unserved_points",
]

#: Coverage classes of the grid choropleth: (lower bound, colour, label); shared with the PNG map.
COVERAGE_CLASSES: tuple[tuple[float, str, str], ...] = (
    (0.95, "#1a9641", "95–100 %"),
    (0.80, "#a6d96a", "80–95 %"),
    (0.50, "#ffffbf", "50–80 %"),
    (0.25, "#fdae61", "25–50 %"),
    (0.0, "#d7191c", "0–25 %"),
)

#: Basemap layers in drawing order: (layer, label, style, simplify tolerance in metres, tooltip fields).
BASEMAP_STYLES: tuple[tuple[str, str, dict[str, Any], float, list[list[str]]], ...] = (
    (
        "streets",
        "Streets (街道)",
        {"color": "#6b7b8c", "weight": 1.5, "fill": True, "fillColor": "#f4f1ea", "fillOpacity": 1.0},
        8.0,
        [["name_zh", "text"], ["name", "text"]],
    ),
    (
        "exclusions",
        "Water and excluded land",
        {"color": "#7fa7c9", "weight": 0.5, "fillColor": "#bcd4e6", "fillOpacity": 0.9},
        4.0,
        [["kind", "text"], ["name", "text"]],
    ),
    (
        "compounds",
        "Residential compounds (小区)",
        {"color": "#a89f91", "weight": 0.7, "fillColor": "#e6dfd3", "fillOpacity": 0.6},
        2.0,
        [["name", "text"]],
    ),
    ("roads", "Roads", {"color": "#8c8c8c", "weight": 1.0, "opacity": 0.8}, 2.0, [["name", "text"]]),
    (
        "fire_lanes",
        "Fire lanes",
        {"color": "#d94801", "weight": 1.2, "opacity": 0.8, "dashArray": "3 3"},
        1.0,
        [["width_m", "num"]],
    ),
    ("boundary", "Study area boundary", {"color": "#222222", "weight": 2, "fill": False}, 5.0, []),
)

_SCENARIO_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b")


def coverage_color(share: float) -> str:
    """Colour of a grid with covered share ``share`` (0..1)."""
    for low, color, _ in COVERAGE_CLASSES:
        if share >= low:
            return color
    return COVERAGE_CLASSES[-1][1]


def scenario_colors(n: int) -> list[str]:
    """Return a distinct colour per compared scenario."""
    return [_SCENARIO_PALETTE[i % len(_SCENARIO_PALETTE)] for i in range(n)]


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        v = float(value)
        return round(v, 6) if np.isfinite(v) else None
    if pd.isna(value):
        return None
    return str(value)


def feature_collection(
    frame: gpd.GeoDataFrame,
    columns: Sequence[str] = (),
    *,
    simplify_m: float = 0.0,
    styles: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Build a GeoJSON FeatureCollection in WGS84 lon/lat, coordinates rounded to 6 decimals (~0.1 m).

    Parameters
    ----------
    frame : GeoDataFrame
        Features in a metric CRS (simplification is in its units).
    columns : sequence of str
        Properties to keep (missing ones are skipped).
    simplify_m : float
        Douglas-Peucker tolerance in metres (0 keeps every vertex).
    styles : sequence of mapping, optional
        Per-feature Leaflet style overrides, stored as the ``_style`` property.
    """
    frame = frame[~(frame.geometry.isna() | frame.geometry.is_empty)]
    geoms = frame.geometry
    if simplify_m > 0 and frame.crs is not None and frame.crs.is_projected:
        geoms = geoms.simplify(simplify_m, preserve_topology=True)
    wgs = gpd.GeoSeries(geoms, crs=frame.crs).to_crs(4326) if frame.crs is not None else geoms
    rounded = shapely.transform(wgs.to_numpy(), lambda xy: np.round(xy, 6))
    keep = [c for c in columns if c in frame.columns]
    records = frame[keep].to_dict("records") if keep else [{} for _ in range(len(frame))]
    features = []
    for i, (geom, rec) in enumerate(zip(rounded, records, strict=True)):
        props = {k: _json_value(v) for k, v in rec.items()}
        if styles is not None:
            props["_style"] = dict(styles[i])
        features.append({"type": "Feature", "properties": props, "geometry": shapely.geometry.mapping(geom)})
    return {"type": "FeatureCollection", "features": features}


def basemap_layers(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Leaflet layers of the study area's own basemap (``basemap_*`` layers of result.gpkg)."""
    out = []
    for name, label, style, tol, tooltip in BASEMAP_STYLES:
        frame = data.get(f"basemap_{name}")
        if not isinstance(frame, gpd.GeoDataFrame) or frame.empty:
            continue
        cols = [f[0] for f in tooltip]
        spec: dict[str, Any] = {
            "id": f"basemap_{name}",
            "name": label,
            "kind": "geojson",
            "style": {**style, "interactive": bool(tooltip)},
            "geojson": feature_collection(frame, cols, simplify_m=tol),
        }
        if tooltip:
            spec["tooltip"] = tooltip
        out.append(spec)
    return out


_GRID_POPUP = [
    ["grid_id", "Grid", "text"],
    ["street", "Street", "text"],
    ["community", "Community", "text"],
    ["households", "Households", "int"],
    ["covered_share", "Covered", "pct"],
    ["own_grid_share", "Served inside own grid", "pct"],
    ["stations", "Sites", "int"],
    ["piles", "Piles", "int"],
]

_SITE_POPUP = [
    ["site_id", "Site", "text"],
    ["rank", "Rank", "int"],
    ["existing", "Existing", "bool"],
    ["opens_in", "Opens in", "int"],
    ["grid_id", "Grid", "text"],
    ["households_gained", "Households gained", "int"],
    ["households_in_reach", "Households in reach", "int"],
    ["piles", "Piles", "int"],
    ["households_served", "Households served", "int"],
    ["users_served", "E-bikes served", "int"],
    ["mean_walk_m", "Mean walk (m)", "num"],
    ["lane_distance_m", "Distance to fire lane (m)", "num"],
    ["clearance_margin_m", "Clearance margin (m)", "num"],
]


def _grid_layer(grids: gpd.GeoDataFrame, prefix: str) -> dict[str, Any]:
    shares = grids["covered_share"].fillna(0.0).to_numpy(float) if "covered_share" in grids else []
    styles = [{"fillColor": coverage_color(float(s))} for s in shares]
    cols = [f[0] for f in _GRID_POPUP]
    return {
        "id": f"{prefix}grids",
        "name": "Grids by households covered",
        "kind": "geojson",
        "style": {"color": "#555555", "weight": 0.4, "fillOpacity": 0.55},
        "geojson": feature_collection(grids, cols, simplify_m=1.0, styles=styles),
        "popup": _GRID_POPUP,
        "tooltip": [["grid_id", "text"], ["covered_share", "pct"]],
    }


def _site_layer(sites: gpd.GeoDataFrame, prefix: str, label: str, color: str) -> dict[str, Any]:
    existing = sites["existing"].fillna(False).astype(bool).to_numpy() if "existing" in sites else []
    styles = [
        {"fillColor": "#111111", "radius": 6} if e else {"fillColor": color, "radius": 5} for e in existing
    ]
    return {
        "id": f"{prefix}sites",
        "name": label,
        "kind": "geojson",
        "style": {"color": "#ffffff", "weight": 1.2, "fillColor": color, "fillOpacity": 0.95, "radius": 5},
        "geojson": feature_collection(sites, [f[0] for f in _SITE_POPUP], styles=styles or None),
        "popup": _SITE_POPUP,
        "tooltip": [["site_id", "text"]],
    }


def unserved_points(assignments: gpd.GeoDataFrame) -> tuple[list[list[float]], float]:
    """Uncovered households as ``[lat, lon, households]`` points for the heat layer, and the largest weight."""
    if "unserved" in assignments:
        w = assignments["unserved"].fillna(0.0).to_numpy(float)
    else:
        col = "weight" if "weight" in assignments else "households"
        w = np.where(assignments["covered"].astype(bool), 0.0, assignments[col].fillna(0.0).to_numpy(float))
    pick = w > 1e-9
    if not pick.any():
        return [], 1.0
    pts = assignments.loc[pick].geometry.to_crs(4326)
    lat, lon = np.round(pts.y.to_numpy(), 6), np.round(pts.x.to_numpy(), 6)
    weights = np.round(w[pick], 2)
    rows = [[float(a), float(b), float(c)] for a, b, c in zip(lat, lon, weights, strict=True)]
    return rows, float(np.quantile(weights, 0.9)) or 1.0


def result_layers(
    data: Mapping[str, Any], *, prefix: str = "", label: str = "", color: str = "#1f77b4", full: bool = True
) -> list[dict[str, Any]]:
    """Leaflet layers of one run: grids by coverage, service areas, uncovered households, sites.

    Parameters
    ----------
    data : mapping
        A run read back with :func:`siting.scenarios.outputs.read_run`.
    prefix, label : str
        Layer id prefix and name prefix (a scenario name in comparisons).
    color : str
        Colour of the new sites and service areas.
    full : bool
        False leaves out the grids and the heat layer (comparisons draw them once).
    """
    out: list[dict[str, Any]] = []
    name = f"{label}: " if label else ""
    grids = data.get("grids")
    if full and isinstance(grids, gpd.GeoDataFrame) and not grids.empty:
        out.append(_grid_layer(grids, prefix))
    areas = data.get("service_areas")
    if isinstance(areas, gpd.GeoDataFrame) and not areas.empty:
        style = {"color": color, "weight": 1, "fillColor": color, "fillOpacity": 0.08, "interactive": False}
        out.append(
            {
                "id": f"{prefix}service_areas",
                "name": f"{name}Service areas",
                "kind": "geojson",
                "style": style,
                "geojson": feature_collection(areas, ["site_id"], simplify_m=3.0),
                "visible": full,
            }
        )
    demand = data.get("assignments")
    if full and isinstance(demand, gpd.GeoDataFrame) and not demand.empty:
        points, top = unserved_points(demand)
        out.append(
            {
                "id": f"{prefix}uncovered",
                "name": "Uncovered households (heat)",
                "kind": "heat",
                "points": points,
                "max": top,
            }
        )
    sites = data.get("sites")
    if isinstance(sites, gpd.GeoDataFrame) and not sites.empty:
        out.append(_site_layer(sites, prefix, f"{name}Sites (black: existing)", color))
    return out


def map_bounds(data: Mapping[str, Any]) -> list[list[float]]:
    """``[[south, west], [north, east]]`` of the boundary (or of the grids / demand) in WGS84."""
    for key in ("basemap_boundary", "grids", "assignments", "sites"):
        frame = data.get(key)
        if isinstance(frame, gpd.GeoDataFrame) and not frame.empty:
            w, s, e, n = frame.to_crs(4326).total_bounds
            return [[round(float(s), 6), round(float(w), 6)], [round(float(n), 6), round(float(e), 6)]]
    return [[31.9, 118.5], [32.3, 118.9]]


def coverage_legend() -> dict[str, Any]:
    """Legend block of the grid choropleth."""
    return {"title": "Households covered", "items": [[c, lab] for _, c, lab in COVERAGE_CLASSES]}


def attribution(summary: Mapping[str, Any]) -> str:
    """Map attribution: OSM (ODbL) plus the note that modelled layers are modelled."""
    layers = summary.get("data_sources", {}).get("layers", {})
    modelled = sorted(k for k, v in layers.items() if v.get("kind") in ("modelled", "proxy"))
    note = f"; modelled: {', '.join(modelled)}" if modelled else ""
    return f"{OSM_ATTRIBUTION}{note}"
