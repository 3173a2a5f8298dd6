"""Real land layers of the Jiangbei demo: compounds, exclusions, street zones, boundary, demand cells."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from siting.demand.sources import lattice_pieces
from siting.demo.common import CRS
from siting.demo.streets import street_cells

__all__ = [
    "CELL_M",
    "RIVER_MIN_AREA_M2",
    "ZONE_BUFFER_M",
    "Land",
    "demand_cells",
    "load_land",
]

#: Side of the demand cells, metres.
CELL_M = 50.0
#: Water polygons at least this large (the Yangtze, big lakes) are cut out of the boundary, m².
RIVER_MIN_AREA_M2 = 1_000_000.0
#: A street zone is the convex hull of its residential land grown by this margin, metres.
ZONE_BUFFER_M = 500.0
#: Slivers of residential land smaller than this are dropped, m².
MIN_PIECE_M2 = 1.0
#: Compound parts smaller than this (fragments left by clipping and overlap removal) are dropped, m².
MIN_PART_M2 = 200.0


class Land:
    """The real and modelled land layers of the Jiangbei demo, in EPSG:32650.

    Attributes
    ----------
    streets : GeoDataFrame
        Modelled street zones of the 7 streets (``street_id``, ``name``, ``name_zh``, ``district``).
    boundary : GeoDataFrame
        One modelled polygon, the union of the street zones.
    compounds : GeoDataFrame
        OSM residential land in the streets, made non-overlapping, minus water and industrial land.
    exclusions : GeoDataFrame
        OSM water and industrial polygons clipped to the boundary.
    """

    def __init__(
        self,
        streets: gpd.GeoDataFrame,
        boundary: gpd.GeoDataFrame,
        compounds: gpd.GeoDataFrame,
        exclusions: gpd.GeoDataFrame,
    ) -> None:
        self.streets = streets
        self.boundary = boundary
        self.compounds = compounds
        self.exclusions = exclusions


def _read(path: Path) -> gpd.GeoDataFrame:
    """Read a raw GeoJSON file into EPSG:32650 with valid geometries."""
    gdf = pyogrio.read_dataframe(path)
    gdf = gdf.to_crs(CRS)
    return gdf.set_geometry(shapely.make_valid(gdf.geometry.to_numpy()), crs=CRS)


def _non_overlapping(res: gpd.GeoDataFrame) -> np.ndarray:
    """Give overlapping residential polygons' shared land to the smaller one (named compounds win)."""
    order = np.lexsort((res["osm_id"].to_numpy().astype(str), res.geometry.area.to_numpy()))
    geoms = res.geometry.to_numpy()
    out = np.empty(len(res), dtype=object)
    smaller: list[shapely.Geometry] = []
    for i in order:
        g = geoms[i]
        hits = [t for t in smaller if t.intersects(g)]
        if hits:
            g = shapely.difference(g, shapely.union_all(hits))
        out[i] = g
        smaller.append(geoms[i])
    return out


def _polygonal(g: shapely.Geometry, min_area: float = 0.0) -> shapely.Geometry:
    """Keep only the polygon parts of a geometry larger than ``min_area`` (drop overlay debris)."""
    parts = [p for p in shapely.get_parts(g) if isinstance(p, shapely.Polygon) and p.area > min_area]
    return shapely.MultiPolygon(parts) if len(parts) > 1 else (parts[0] if parts else shapely.Polygon())


def load_land(raw_dir: str | Path) -> Land:
    """Build the land layers from the raw OSM files in ``raw_dir``.

    Parameters
    ----------
    raw_dir : str or Path
        Folder holding ``districts_pukou_luhe_wgs84.geojson``, ``osm_landuse_jiangbei.geojson`` and
        ``osm_water_jiangbei.geojson``.

    Returns
    -------
    Land
        Streets, boundary, compounds and exclusions in EPSG:32650.
    """
    raw = Path(raw_dir)
    cells = street_cells(pyogrio.read_dataframe(raw / "districts_pukou_luhe_wgs84.geojson"))
    members = cells.loc[cells["member"]].reset_index(drop=True)
    landuse = _read(raw / "osm_landuse_jiangbei.geojson")
    water = _read(raw / "osm_water_jiangbei.geojson")
    river = shapely.union_all(water.geometry.to_numpy()[water.geometry.area.to_numpy() >= RIVER_MIN_AREA_M2])

    res = landuse.loc[landuse["fclass"] == "residential"].copy()
    rep = gpd.GeoSeries(res.geometry.representative_point(), crs=CRS)
    joined = gpd.sjoin(
        gpd.GeoDataFrame(geometry=rep, crs=CRS), members[["code", "geometry"]], predicate="within"
    )
    res = res.loc[joined.index].assign(street=joined["code"].to_numpy())
    res["osm_id"] = res["osm_id"].astype(str)

    zones = []
    for _, st in members.iterrows():
        land = res.loc[res["street"] == st["code"]].geometry.to_numpy()
        hull = shapely.convex_hull(shapely.union_all(land)) if len(land) else shapely.Polygon()
        zone = shapely.intersection(shapely.buffer(hull, ZONE_BUFFER_M), st.geometry)
        zones.append(_polygonal(shapely.difference(zone, river)))
    streets = gpd.GeoDataFrame(
        {
            "street_id": members["code"],
            "name": members["name"],
            "name_zh": members["name_zh"],
            "district": members["district"],
            "source": "modelled",
        },
        geometry=zones,
        crs=CRS,
    )
    streets = streets.loc[~streets.geometry.is_empty].reset_index(drop=True)
    area = _polygonal(shapely.union_all(streets.geometry.to_numpy()))
    boundary = gpd.GeoDataFrame(
        {
            "boundary_id": ["jiangbei"],
            "name": ["Jiangbei New Area, 7 directly managed streets"],
            "source": "modelled",
        },
        geometry=[area],
        crs=CRS,
    )

    blockers = landuse.loc[landuse["fclass"] == "industrial"]
    excl = _exclusions(water, blockers, area)
    comp_geoms = shapely.intersection(_non_overlapping(res), area)
    cut = shapely.union_all(excl.geometry.to_numpy())
    comp_geoms = np.array(
        [_polygonal(shapely.difference(g, cut), MIN_PART_M2) for g in comp_geoms], dtype=object
    )
    compounds = gpd.GeoDataFrame(
        {
            "compound_id": "c" + res["osm_id"].to_numpy().astype(object),
            "osm_id": res["osm_id"].to_numpy(),
            "name": res["name"].to_numpy(),
            "street": res["street"].to_numpy(),
            "source": "osm",
        },
        geometry=comp_geoms,
        crs=CRS,
    )
    compounds = compounds.loc[~compounds.geometry.is_empty]
    compounds = compounds.drop_duplicates("compound_id").sort_values("compound_id").reset_index(drop=True)
    compounds["area_m2"] = compounds.geometry.area.round(1)
    return Land(streets=streets, boundary=boundary, compounds=compounds, exclusions=excl)


def _exclusions(
    water: gpd.GeoDataFrame, industrial: gpd.GeoDataFrame, area: shapely.Geometry
) -> gpd.GeoDataFrame:
    """Clip water and industrial polygons to the study area as ``exclusions``."""
    frames = []
    for kind, gdf in (("water", water), ("industrial", industrial)):
        g = gdf.loc[gdf.intersects(area)].copy()
        g = g.set_geometry(
            [_polygonal(x) for x in shapely.intersection(g.geometry.to_numpy(), area)], crs=CRS
        )
        g = g.loc[g.geometry.area > 1.0]
        frames.append(
            pd.DataFrame(
                {
                    "exclusion_id": [f"{kind}-{o}" for o in g["osm_id"].astype(str)],
                    "kind": kind,
                    "osm_id": g["osm_id"].astype(str).to_numpy(),
                    "name": g["name"].to_numpy(),
                    "source": "osm",
                    "geometry": g.geometry.to_numpy(),
                }
            )
        )
    out = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=CRS)
    out = out.drop_duplicates("exclusion_id").sort_values("exclusion_id").reset_index(drop=True)
    out["area_m2"] = out.geometry.area.round(1)
    return out


def demand_cells(compounds: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Cut the compounds by a 50 m lattice (aligned to multiples of 50 m) into demand pieces.

    Parameters
    ----------
    compounds : GeoDataFrame
        Compound polygons (``compound_id``, ``street``) in EPSG:32650.

    Returns
    -------
    GeoDataFrame
        One polygon piece per (cell, compound, connected part), sorted, with ``compound``, ``street``,
        ``row``, ``col`` (lattice indices) and ``area_m2``.
    """
    frame = lattice_pieces(compounds, cell_m=CELL_M, min_piece_m2=MIN_PIECE_M2)
    src = frame.pop("source_index").to_numpy()
    frame.insert(0, "compound", compounds["compound_id"].to_numpy()[src])
    frame.insert(1, "street", compounds["street"].to_numpy()[src])
    frame = frame.drop(columns="area_m2")
    frame["x"] = frame.geometry.centroid.x.round(2)
    frame["y"] = frame.geometry.centroid.y.round(2)
    frame = frame.sort_values(["street", "compound", "row", "col", "x", "y"], kind="mergesort")
    frame = frame.reset_index(drop=True)
    frame["area_m2"] = frame.geometry.area
    return frame
