"""Modelled fire lanes (inset compound rings) and candidate sites for red stations and charging piles."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from shapely import ops

from siting.demo.common import CRS

__all__ = [
    "CHARGING_CAPACITY_HH",
    "CHARGING_COST",
    "CHARGING_SPACING_M",
    "LANE_CLEARANCE_M",
    "LANE_INSET_M",
    "LANE_MIN_COMPOUND_M2",
    "RED_STATION_CAPACITY_HH",
    "RED_STATION_COST",
    "candidates",
    "fire_lanes",
]

#: Compounds at least this large (m², 2 ha) get a modelled ring fire lane.
LANE_MIN_COMPOUND_M2 = 20_000.0
#: Compounds at least this large (m², 10 ha) get a 6 m ring and a second (north) entrance.
LANE_LARGE_COMPOUND_M2 = 100_000.0
#: Distance of the ring's centre line inside the compound edge, metres.
LANE_INSET_M = 12.0
#: Lane widths, metres (GB 50016: at least 4 m clear).
LANE_WIDTH_M = 4.0
LANE_WIDTH_LARGE_M = 6.0
#: Extra strip on each side of a lane where nothing may be sited, metres.
LANE_CLEARANCE_M = 3.0
#: Charging-pile candidate lattice spacing, metres.
CHARGING_SPACING_M = 100.0
#: Offset of the lattice from multiples of the spacing, metres.
CHARGING_OFFSET_M = 25.0
#: Default cost (relative units) and capacity (households served) of each facility type.
RED_STATION_COST = 1.0
RED_STATION_CAPACITY_HH = 2000.0
CHARGING_COST = 0.2
CHARGING_CAPACITY_HH = 150.0


def _entrances(poly: shapely.Polygon, large: bool) -> list[tuple[str, shapely.Point]]:
    """Gate points on the compound edge: nearest the south middle, plus the north middle if large."""
    minx, miny, maxx, maxy = poly.bounds
    mid = (minx + maxx) / 2
    out = [("south", ops.nearest_points(poly.exterior, shapely.Point(mid, miny))[0])]
    if large:
        out.append(("north", ops.nearest_points(poly.exterior, shapely.Point(mid, maxy))[0]))
    return out


def _lane_rows(cid: str, street: str, poly: shapely.Polygon) -> list[dict]:
    """Ring and connector lanes of one compound part (empty if too small or too thin)."""
    if poly.area < LANE_MIN_COMPOUND_M2:
        return []
    large = poly.area >= LANE_LARGE_COMPOUND_M2
    width = LANE_WIDTH_LARGE_M if large else LANE_WIDTH_M
    inset = shapely.buffer(poly, -LANE_INSET_M, join_style="mitre")
    rings = [p for p in shapely.get_parts(inset) if p.area >= 0.25 * poly.area]
    if not rings:
        return []
    ring = max(rings, key=lambda p: p.area).exterior.simplify(1.0)
    rows = [{"kind": "ring", "compound": cid, "street": street, "width_m": width, "geometry": ring}]
    for side, gate in _entrances(poly, large):
        inner = ops.nearest_points(ring, gate)[0]
        seg = shapely.LineString([gate, inner])
        if seg.length > 0:
            rows.append(
                {
                    "kind": f"connector_{side}",
                    "compound": cid,
                    "street": street,
                    "width_m": width,
                    "geometry": seg,
                }
            )
    return rows


def fire_lanes(compounds: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Model ring fire lanes inside large compounds, each joined to the compound edge.

    Parameters
    ----------
    compounds : GeoDataFrame
        Compound polygons (``compound_id``, ``street``) in EPSG:32650, sorted by id.

    Returns
    -------
    GeoDataFrame
        LineStrings with ``lane_id``, ``kind`` (ring / connector_south / connector_north), ``compound``,
        ``street``, ``width_m`` and ``source = "modelled"``.
    """
    rows: list[dict] = []
    for cid, street, geom in compounds[["compound_id", "street", "geometry"]].itertuples(index=False):
        for part in sorted(shapely.get_parts(geom), key=lambda p: (-p.area, p.centroid.x)):
            rows.extend(_lane_rows(cid, street, part))
    lanes = gpd.GeoDataFrame(rows, geometry="geometry", crs=CRS)
    lanes.insert(0, "lane_id", [f"fl{i:04d}" for i in range(1, len(lanes) + 1)])
    lanes["source"] = "modelled"
    return lanes


def _blocked(lanes: gpd.GeoDataFrame, exclusions: gpd.GeoDataFrame) -> shapely.Geometry:
    """Union of lane corridors (half width + clearance) and exclusion polygons."""
    corridors = shapely.buffer(lanes.geometry.to_numpy(), lanes["width_m"].to_numpy() / 2 + LANE_CLEARANCE_M)
    return shapely.union_all(np.r_[corridors, exclusions.geometry.to_numpy()])


def candidates(
    compounds: gpd.GeoDataFrame, lanes: gpd.GeoDataFrame, exclusions: gpd.GeoDataFrame
) -> gpd.GeoDataFrame:
    """Place red-station candidates (centre and gates of each compound) and charging-pile candidates.

    Every candidate lies inside its compound, at least 1 m inside the land left after removing water,
    industrial land and the fire-lane corridors (lane half width + :data:`LANE_CLEARANCE_M`).

    Parameters
    ----------
    compounds : GeoDataFrame
        Compound polygons, EPSG:32650.
    lanes : GeoDataFrame
        Fire lanes from :func:`fire_lanes`.
    exclusions : GeoDataFrame
        Water and industrial polygons.

    Returns
    -------
    GeoDataFrame
        Points with ``site_id``, ``facility_type``, ``kind``, ``compound``, ``street``, ``cost``,
        ``capacity`` and ``source = "modelled"``.
    """
    blocked = _blocked(lanes, exclusions)
    red: list[dict] = []
    pile: list[dict] = []
    for cid, street, geom in compounds[["compound_id", "street", "geometry"]].itertuples(index=False):
        free = shapely.buffer(shapely.difference(geom, blocked), -1.0)
        if free.is_empty:
            continue
        parts = sorted(shapely.get_parts(geom), key=lambda p: (-p.area, p.centroid.x))
        main = parts[0]
        spots = [("centre", main.centroid)]
        if main.area >= LANE_MIN_COMPOUND_M2:
            spots += [
                (f"gate_{side}", pt) for side, pt in _entrances(main, main.area >= LANE_LARGE_COMPOUND_M2)
            ]
        for kind, pt in spots:
            site = pt if free.contains(pt) else ops.nearest_points(free, pt)[0]
            red.append({"kind": kind, "compound": cid, "street": street, "geometry": site})
        pile.extend(
            {"kind": "lattice", "compound": cid, "street": street, "geometry": p} for p in _lattice(free)
        )
    out = []
    for prefix, ftype, cost, cap, rows in (
        ("rs", "red_station", RED_STATION_COST, RED_STATION_CAPACITY_HH, red),
        ("cp", "charging_pile", CHARGING_COST, CHARGING_CAPACITY_HH, pile),
    ):
        gdf = gpd.GeoDataFrame(rows, geometry="geometry", crs=CRS)
        gdf.insert(0, "site_id", [f"{prefix}{i:05d}" for i in range(1, len(gdf) + 1)])
        gdf.insert(1, "facility_type", ftype)
        gdf["cost"] = cost
        gdf["capacity"] = cap
        out.append(gdf)
    result = gpd.GeoDataFrame(
        np.concatenate([o.to_numpy() for o in out]), columns=out[0].columns, geometry="geometry", crs=CRS
    )
    result["source"] = "modelled"
    return result.astype({"cost": float, "capacity": float})


def _lattice(free: shapely.Geometry) -> list[shapely.Point]:
    """Points of the global charging lattice inside ``free``.

    The lattice sits at multiples of the spacing plus :data:`CHARGING_OFFSET_M`, so no point falls on the
    50 m demand-cell lines (which are also grid edges).
    """
    s = CHARGING_SPACING_M
    o = CHARGING_OFFSET_M
    minx, miny, maxx, maxy = free.bounds
    xs = np.arange(np.floor(minx / s) * s + o, maxx, s)
    ys = np.arange(np.floor(miny / s) * s + o, maxy, s)
    if len(xs) == 0 or len(ys) == 0:
        return []
    gx, gy = np.meshgrid(xs, ys)
    pts = shapely.points(gx.ravel(), gy.ravel())
    inside = shapely.contains(free, pts)
    return list(pts[inside])
