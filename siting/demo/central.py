"""Build the central Nanjing demo study area (gis_data/nanjing_central.gpkg) from the 2018 overpass export."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siting.demand.sources import DEFAULT_FLOOR_AREA_PER_HOUSEHOLD_M2
from siting.demo.common import CRS, write_gpkg
from siting.demo.grids import dissolve, grid_of_points, partition
from siting.demo.sites import CHARGING_CAPACITY_HH, CHARGING_COST, RED_STATION_CAPACITY_HH, RED_STATION_COST
from siting.geo.study_area import HOUSEHOLD_SIZE

__all__ = [
    "ASSUMED_FLOORS",
    "FLOOR_AREA_PER_HOUSEHOLD_M2",
    "OVERPASS_FILE",
    "RepairReport",
    "build_central",
    "read_overpass",
]

OVERPASS_FILE = "osm_central_nanjing_2018_overpass.geojson"
#: The same export as OSM XML (street network for osmnx), referenced from the GeoPackage's metadata.
OSM_XML_FILE = "osm_central_nanjing_2018.osm"
ATTRIBUTION = "© OpenStreetMap contributors, ODbL 1.0"
#: Floors assumed where a building has no ``building:levels`` tag (central Nanjing walk-up blocks).
ASSUMED_FLOORS = 6
#: Gross floor area per household, m² (flat plus its share of stairs and walls): the demand default.
FLOOR_AREA_PER_HOUSEHOLD_M2 = DEFAULT_FLOOR_AREA_PER_HOUSEHOLD_M2
#: Footprints smaller than this are sheds or kiosks, not homes, m².
MIN_HOME_FOOTPRINT_M2 = 30.0
#: ``building`` values counted as homes; other values (school, office ...) hold no households.
HOME_TAGS = ("yes", "residential", "apartments", "house")
#: Buildings carrying any of these keys are shops, offices, schools ... and hold no households.
NON_HOME_KEYS = ("shop", "amenity", "office", "tourism", "leisure")
#: Taller tagged buildings (about 100 m and up) in central Nanjing are office and hotel towers.
MAX_HOME_FLOORS = 33
#: Highway classes used as fire-lane proxies.
LANE_PROXY_TAGS = ("service", "living_street")
LANE_PROXY_WIDTH_M = 4.0
#: The boundary (and the area the grids tile) is the buildings' convex hull grown by this margin, metres.
BOUNDARY_MARGIN_M = 200.0
#: Charging-pile candidate lattice spacing, and clearances from buildings, roads and fire-lane proxies, metres.
CHARGING_SPACING_M = 100.0
BUILDING_CLEARANCE_M = 2.0
ROAD_CLEARANCE_M = 5.0
LANE_CLEARANCE_M = 3.0
GRID_TARGET_HH = 400.0


@dataclass
class RepairReport:
    """What :func:`read_overpass` had to repair in the raw export."""

    closed_rings: list[str] = field(default_factory=list)
    made_valid: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Human-readable summary lines."""
        return [
            f"closed {len(self.closed_rings)} unclosed polygon rings: {', '.join(self.closed_rings)}",
            f"made {len(self.made_valid)} invalid polygons valid: {', '.join(self.made_valid)}",
        ]


def _polygon(osm_id: str, geom: dict, report: RepairReport) -> shapely.Geometry:
    """Build a (Multi)Polygon, closing unclosed rings and repairing invalid ones."""
    polys = [geom["coordinates"]] if geom["type"] == "Polygon" else geom["coordinates"]
    built = []
    for rings in polys:
        fixed = []
        for ring in rings:
            closed = ring if ring[0] == ring[-1] else [*ring, ring[0]]
            if closed is not ring and osm_id not in report.closed_rings:
                report.closed_rings.append(osm_id)
            if len(closed) >= 4:
                fixed.append(closed)
        if fixed:
            built.append(shapely.Polygon(fixed[0], fixed[1:]))
    out = shapely.MultiPolygon(built) if len(built) > 1 else (built[0] if built else shapely.Polygon())
    if not out.is_valid:
        report.made_valid.append(osm_id)
        out = shapely.make_valid(out)
    return out


def read_overpass(path: str | Path) -> tuple[gpd.GeoDataFrame, RepairReport]:
    """Read an overpass-turbo GeoJSON export tolerantly (GDAL refuses its unclosed rings).

    Parameters
    ----------
    path : str or Path
        The export.

    Returns
    -------
    tuple of (GeoDataFrame, RepairReport)
        Every feature (``osm_id`` like ``way/123``, ``tags`` dict) in EPSG:32650, and what was repaired.
    """
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    report = RepairReport()
    rows = []
    for f in data["features"]:
        props = dict(f["properties"])
        osm_id = str(props.get("id", ""))
        gj = f["geometry"]
        if gj["type"] in ("Polygon", "MultiPolygon"):
            geom = _polygon(osm_id, gj, report)
        elif gj["type"] == "LineString" and "building" in props and len(gj["coordinates"]) >= 3:
            # a building way exported as an open line: close it into its footprint
            geom = _polygon(osm_id, {"type": "Polygon", "coordinates": [gj["coordinates"]]}, report)
        else:
            geom = shapely.geometry.shape(gj)
        rows.append({"osm_id": osm_id, "tags": props, "geometry": geom})
    gdf = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326").to_crs(CRS)
    return gdf, report


def _tag(gdf: gpd.GeoDataFrame, key: str) -> pd.Series:
    """One tag's values (None where absent)."""
    return gdf["tags"].map(lambda t: t.get(key))


def _buildings(feats: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return the building ways with their modelled households."""
    b = feats.loc[feats["osm_id"].str.startswith("way/") & _tag(feats, "building").notna()]
    b = b.loc[b.geom_type.isin(["Polygon", "MultiPolygon"])].copy()
    tag = _tag(b, "building")
    levels = pd.to_numeric(_tag(b, "building:levels"), errors="coerce")
    area = b.geometry.area
    floors = levels.fillna(ASSUMED_FLOORS)
    other_use = b["tags"].map(lambda t: any(k in t for k in NON_HOME_KEYS))
    home = tag.isin(HOME_TAGS) & (area >= MIN_HOME_FOOTPRINT_M2) & ~other_use & (floors <= MAX_HOME_FLOORS)
    hh = np.where(home, area * floors / FLOOR_AREA_PER_HOUSEHOLD_M2, 0.0)
    return (
        gpd.GeoDataFrame(
            {
                "building_id": b["osm_id"].to_numpy(),
                "building": tag.to_numpy(),
                "name": _tag(b, "name").to_numpy(),
                "footprint_m2": area.round(1).to_numpy(),
                "floors": floors.to_numpy(dtype=float),
                "floors_source": np.where(levels.notna(), "osm", "assumed"),
                "households": np.round(hh, 3),
                "source": "osm",
            },
            geometry=b.geometry.to_numpy(),
            crs=CRS,
        )
        .sort_values("building_id")
        .reset_index(drop=True)
    )


def _lines(feats: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Highway ways as LineStrings (multi-lines exploded, ids suffixed ``#n``)."""
    h = feats.loc[_tag(feats, "highway").notna() & feats.geom_type.isin(["LineString", "MultiLineString"])]
    h = h.assign(highway=_tag(h, "highway"), name=_tag(h, "name")).explode(index_parts=True)
    part = h.index.get_level_values(1).to_numpy()
    ids = [o if p == 0 else f"{o}#{p}" for o, p in zip(h["osm_id"], part, strict=True)]
    return (
        gpd.GeoDataFrame(
            {
                "road_id": ids,
                "highway": h["highway"].to_numpy(),
                "name": h["name"].to_numpy(),
                "source": "osm",
            },
            geometry=h.geometry.to_numpy(),
            crs=CRS,
        )
        .sort_values("road_id")
        .reset_index(drop=True)
    )


def _clip_lines(lines: gpd.GeoDataFrame, area: shapely.Geometry) -> gpd.GeoDataFrame:
    """Clip lines to ``area``; a way cut into several pieces gets ids suffixed ``@n``."""
    inside = lines.loc[lines.intersects(area)].copy()
    inside = inside.set_geometry(shapely.intersection(inside.geometry.to_numpy(), area), crs=CRS)
    inside = inside.explode(index_parts=True)
    inside = inside.loc[inside.geom_type == "LineString"]
    inside = inside.loc[inside.geometry.length > 0.5]
    part = inside.groupby(level=0).cumcount().to_numpy()
    n_parts = inside.groupby(level=0)["road_id"].transform("size").to_numpy()
    inside["road_id"] = [
        r if n == 1 else f"{r}@{p}" for r, p, n in zip(inside["road_id"], part, n_parts, strict=True)
    ]
    return inside.sort_values("road_id").reset_index(drop=True)


def _water(feats: gpd.GeoDataFrame, area: shapely.Geometry) -> gpd.GeoDataFrame:
    """Water polygons (natural=water, waterway=riverbank, landuse=basin) clipped to the study area."""
    is_water = (
        (_tag(feats, "natural") == "water")
        | (_tag(feats, "waterway") == "riverbank")
        | (_tag(feats, "landuse") == "basin")
    )
    w = feats.loc[is_water & feats.geom_type.isin(["Polygon", "MultiPolygon"])]
    geoms = shapely.intersection(w.geometry.to_numpy(), area)
    out = gpd.GeoDataFrame(
        {"exclusion_id": "water-" + w["osm_id"], "kind": "water", "name": _tag(w, "name"), "source": "osm"},
        geometry=geoms,
        crs=CRS,
    )
    out = out.loc[out.geometry.area > 1.0]
    return out.sort_values("exclusion_id").reset_index(drop=True)


def _demand(buildings: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One demand point per home building (a point on its footprint) with modelled households."""
    homes = buildings.loc[buildings["households"] > 0]
    return gpd.GeoDataFrame(
        {
            "demand_id": "d-" + homes["building_id"].str.replace("/", "-"),
            "building_id": homes["building_id"].to_numpy(),
            "footprint_m2": homes["footprint_m2"].to_numpy(),
            "floors": homes["floors"].to_numpy(),
            "households": homes["households"].to_numpy(),
            "population": np.round(homes["households"].to_numpy() * HOUSEHOLD_SIZE, 3),
            "source": "modelled",
        },
        geometry=shapely.point_on_surface(homes.geometry.to_numpy()),
        crs=CRS,
    ).reset_index(drop=True)


def _grids(demand: gpd.GeoDataFrame, area: shapely.Geometry) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Tile ``area`` by the Voronoi cells of the demand points and group them into grids."""
    pts = demand.geometry.to_numpy()
    if len(set(shapely.to_wkb(pts))) != len(pts):
        raise ValueError("two demand points coincide; Voronoi tiling needs distinct points")
    parts = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=area))
    pi, ci = shapely.STRtree(parts).query(pts, predicate="within")  # the cell of each point
    if len(pi) != len(pts) or len(set(pi.tolist())) != len(pts):
        raise ValueError("Voronoi cells do not match the demand points one to one")
    cells = parts[ci[np.argsort(pi)]]
    pieces = gpd.GeoDataFrame(
        {"households": demand["households"].to_numpy(), "zone": "central"},
        geometry=shapely.intersection(cells, area),
        crs=CRS,
    )
    labels = partition(pieces, weight="households", zone="zone", target=GRID_TARGET_HH)
    ids = np.array([f"NC-{i + 1:04d}" for i in range(int(labels.max()) + 1)], dtype=object)
    grids = gpd.GeoDataFrame(
        {
            "grid_id": ids,
            "community": "NC",
            "street": "central",
            "population": np.round(np.bincount(labels, weights=demand["population"].to_numpy()), 3),
            "households": np.round(np.bincount(labels, weights=demand["households"].to_numpy()), 3),
            "source": "modelled",
        },
        geometry=dissolve(pieces, labels).to_numpy(),
        crs=CRS,
    )
    grids["area_m2"] = grids.geometry.area.round(1)
    return grids, ids[labels]


def _red_sites(
    buildings: gpd.GeoDataFrame, demand: gpd.GeoDataFrame, grids: gpd.GeoDataFrame, blocked: shapely.Geometry
) -> list[tuple[str, shapely.Point]]:
    """Red stations in existing buildings: the home nearest each grid's centre, and every non-home building."""
    nearest = shapely.STRtree(demand.geometry.to_numpy()).nearest(grids.geometry.centroid.to_numpy())
    red = [("grid_centre", demand.geometry.iloc[i]) for i in nearest]
    other = buildings.loc[buildings["households"] == 0]
    red += [("non_residential", p) for p in shapely.point_on_surface(other.geometry.to_numpy())]
    clear = [(k, p) for k, p in red if not blocked.intersects(p)]
    return list({shapely.to_wkb(p): (k, p) for k, p in clear}.values())


def _pile_sites(
    buildings: gpd.GeoDataFrame, grids: gpd.GeoDataFrame, roads: gpd.GeoDataFrame, blocked: shapely.Geometry
) -> np.ndarray:
    """Charging piles on open ground: lattice points clear of buildings, roads, lanes and water."""
    s = CHARGING_SPACING_M
    area = shapely.union_all(grids.geometry.to_numpy())
    minx, miny, maxx, maxy = area.bounds
    gx, gy = np.meshgrid(
        np.arange(np.floor(minx / s) * s + s / 3, maxx, s), np.arange(np.floor(miny / s) * s + s / 3, maxy, s)
    )
    pts = shapely.points(gx.ravel(), gy.ravel())
    no_go = shapely.union_all(
        np.r_[
            [blocked],
            shapely.buffer(buildings.geometry.to_numpy(), BUILDING_CLEARANCE_M),
            shapely.buffer(roads.geometry.to_numpy(), ROAD_CLEARANCE_M),
        ]
    )
    free = shapely.difference(area, no_go)
    return np.asarray(pts[shapely.contains(free, pts)], dtype=object)


def _candidates(
    *,
    buildings: gpd.GeoDataFrame,
    demand: gpd.GeoDataFrame,
    grids: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
    lanes: gpd.GeoDataFrame,
    water: gpd.GeoDataFrame,
) -> gpd.GeoDataFrame:
    """Red-station and charging-pile candidates, none in water or within a lane's corridor and clearance."""
    blocked = shapely.union_all(
        np.r_[
            shapely.buffer(lanes.geometry.to_numpy(), LANE_PROXY_WIDTH_M / 2 + LANE_CLEARANCE_M),
            water.geometry.to_numpy(),
        ]
    )
    red = _red_sites(buildings, demand, grids, blocked)
    piles = _pile_sites(buildings, grids, roads, blocked)
    out = gpd.GeoDataFrame(
        {
            "facility_type": ["red_station"] * len(red) + ["charging_pile"] * len(piles),
            "kind": [k for k, _ in red] + ["lattice"] * len(piles),
            "cost": [RED_STATION_COST] * len(red) + [CHARGING_COST] * len(piles),
            "capacity": [RED_STATION_CAPACITY_HH] * len(red) + [CHARGING_CAPACITY_HH] * len(piles),
        },
        geometry=[p for _, p in red] + list(piles),
        crs=CRS,
    )
    out["_x"] = out.geometry.x.round(2)
    out["_y"] = out.geometry.y.round(2)
    out = out.sort_values(["facility_type", "_x", "_y"], kind="mergesort").drop(columns=["_x", "_y"])
    prefix = np.where(out["facility_type"] == "red_station", "rs", "cp")
    counter = out.groupby("facility_type").cumcount().to_numpy() + 1
    out.insert(0, "site_id", [f"{a}{n:05d}" for a, n in zip(prefix, counter, strict=True)])
    out["source"] = "modelled"
    return out.reset_index(drop=True)


def build_central(raw_dir: str | Path, out_path: str | Path, *, seed: int = 2018) -> dict[str, int]:
    """Build ``nanjing_central.gpkg`` from the raw overpass export.

    Real (``source = "osm"``): roads, buildings, water exclusions. Proxy: service and living-street
    ways as fire lanes. Modelled: boundary, demand households, grids, candidates.

    Parameters
    ----------
    raw_dir : str or Path
        Folder holding :data:`OVERPASS_FILE`.
    out_path : str or Path
        GeoPackage to write (replaced).
    seed : int
        Unused by the current method (every step is deterministic); kept for a uniform interface.

    Returns
    -------
    dict of str to int
        Feature count per written layer, plus ``closed_rings`` and ``made_valid`` repair counts.
    """
    del seed
    feats, report = read_overpass(Path(raw_dir) / OVERPASS_FILE)
    buildings = _buildings(feats)
    hull = shapely.buffer(
        shapely.convex_hull(shapely.union_all(buildings.geometry.to_numpy())), BOUNDARY_MARGIN_M
    )
    hull = shapely.set_precision(hull, 0.01)
    roads = _clip_lines(_lines(feats), hull)
    boundary = gpd.GeoDataFrame(
        {
            "boundary_id": ["nanjing_central"],
            "name": ["central Nanjing (buildings of the 2018 OSM export)"],
            "source": "modelled",
        },
        geometry=[hull],
        crs=CRS,
    )
    lanes = roads.loc[roads["highway"].isin(LANE_PROXY_TAGS)].rename(columns={"road_id": "lane_id"})
    lanes = lanes.assign(width_m=LANE_PROXY_WIDTH_M, source="proxy").reset_index(drop=True)
    water = _water(feats, hull)
    demand = _demand(buildings)
    grids, grid_of = _grids(demand, hull)
    demand["grid_id"] = grid_of
    cands = _candidates(
        buildings=buildings, demand=demand, grids=grids, roads=roads, lanes=lanes, water=water
    )
    cands["grid_id"] = grid_of_points(cands, grids)
    layers = {
        "boundary": boundary,
        "buildings": buildings,
        "roads": roads,
        "fire_lanes": lanes,
        "exclusions": water,
        "demand": demand,
        "grids": grids,
        "candidates": cands,
    }
    osm = Path(raw_dir) / OSM_XML_FILE
    meta = {
        "name": "nanjing_central",
        "title": "Central Nanjing (2018 OSM export): real roads and buildings, modelled households",
        "attribution": ATTRIBUTION,
        "assumptions": (
            f"households = footprint_m2 x floors / {FLOOR_AREA_PER_HOUSEHOLD_M2:g} m2 for home buildings; "
            f"floors = building:levels or {ASSUMED_FLOORS}; residents = households x {HOUSEHOLD_SIZE}"
        ),
        "repairs": "; ".join(report.lines()),
    }
    if osm.exists():
        meta["network_path"] = os.path.relpath(osm.resolve(), Path(out_path).resolve().parent)
    write_gpkg(out_path, layers, metadata=meta)
    counts = {name: len(gdf) for name, gdf in layers.items()}
    counts["closed_rings"] = len(report.closed_rings)
    counts["made_valid"] = len(report.made_valid)
    return counts
