"""Shared helpers of the demo builds: deterministic GeoPackage writing, canonical digests, summaries."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

__all__ = [
    "CRS",
    "GRID_SIZE_M",
    "ID_COLUMNS",
    "SOURCES",
    "canonical_digest",
    "read_layers",
    "snap",
    "write_gpkg",
]

#: Projected CRS of every demo layer (UTM zone 50N, metres).
CRS = "EPSG:32650"
#: Precision grid of every written coordinate, in metres (makes the output exactly reproducible).
GRID_SIZE_M = 0.01
#: Timestamp GDAL writes into the GeoPackage's ``last_change`` columns, so rebuilds are byte-identical.
FIXED_DATE = "2024-01-01T00:00:00.000Z"
#: Allowed values of the ``source`` column.
SOURCES = ("osm", "modelled", "published", "proxy")
#: Stable id column of every demo layer (and of the attribute table).
ID_COLUMNS: dict[str, str] = {
    "boundary": "boundary_id",
    "streets": "street_id",
    "compounds": "compound_id",
    "buildings": "building_id",
    "grids": "grid_id",
    "demand": "demand_id",
    "candidates": "site_id",
    "existing": "site_id",
    "fire_lanes": "lane_id",
    "roads": "road_id",
    "exclusions": "exclusion_id",
}


def snap(geoms: Any) -> np.ndarray:
    """Snap geometries to the :data:`GRID_SIZE_M` precision grid, keeping them valid.

    Parameters
    ----------
    geoms : array-like of shapely geometries
        Geometries in a metric CRS.

    Returns
    -------
    numpy.ndarray of shapely geometries
        Snapped geometries (polygons stay valid; collapsed parts are dropped).
    """
    arr = np.asarray(geoms, dtype=object)
    return np.asarray(shapely.set_precision(arr, GRID_SIZE_M), dtype=object)


def _frame_for_write(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Check a layer's ``source`` and id columns and sort it by id."""
    if "source" not in frame.columns:
        raise ValueError(f"layer {name!r} has no 'source' column")
    bad = sorted(set(frame["source"]) - set(SOURCES))
    if bad:
        raise ValueError(f"layer {name!r} has source values {bad}; allowed {SOURCES}")
    id_col = ID_COLUMNS.get(name)
    if id_col is not None:
        if id_col not in frame.columns:
            raise ValueError(f"layer {name!r} has no id column {id_col!r}")
        if frame[id_col].duplicated().any():
            raise ValueError(f"layer {name!r} has duplicate {id_col} values")
        frame = frame.sort_values(id_col, kind="mergesort")
    return frame.reset_index(drop=True)


def write_gpkg(
    path: str | Path,
    layers: Mapping[str, gpd.GeoDataFrame],
    tables: Mapping[str, pd.DataFrame] | None = None,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Write layers (and attribute tables) to a new GeoPackage, one GPKG layer per name.

    Parameters
    ----------
    path : str or Path
        Output file; replaced if it exists.
    layers : mapping of str to GeoDataFrame
        Spatial layers, each with a ``source`` column and its id column (:data:`ID_COLUMNS`).
    tables : mapping of str to DataFrame, optional
        Non-spatial tables (written as GeoPackage attribute tables), each with a ``source`` column.
    metadata : mapping of str to str, optional
        Written as the ``metadata`` table (``key``, ``value``); ``network_path`` names an OSM file
        relative to the GeoPackage, as ``siting.load_study_area`` reads it.

    Returns
    -------
    Path
        The written file.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        out.unlink()
    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": FIXED_DATE})
    try:
        _write_all(out, layers, tables or {}, metadata or {})
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})
    return out


def _write_all(
    out: Path,
    layers: Mapping[str, gpd.GeoDataFrame],
    tables: Mapping[str, pd.DataFrame],
    metadata: Mapping[str, str],
) -> None:
    """Write every layer, table and the metadata into ``out``."""
    for name in sorted(layers):
        frame = _frame_for_write(layers[name], name)
        gdf = gpd.GeoDataFrame(frame, geometry="geometry", crs=layers[name].crs)
        gdf = gdf.set_geometry(snap(gdf.geometry.to_numpy()), crs=gdf.crs)
        pyogrio.write_dataframe(gdf, out, layer=name, driver="GPKG")
    for name in sorted(tables):
        table = tables[name]
        if "source" not in table.columns:
            raise ValueError(f"table {name!r} has no 'source' column")
        pyogrio.write_dataframe(pd.DataFrame(table).reset_index(drop=True), out, layer=name, driver="GPKG")
    if metadata:
        keys = sorted(metadata)
        meta = pd.DataFrame({"key": keys, "value": [str(metadata[k]) for k in keys]})
        pyogrio.write_dataframe(meta, out, layer="metadata", driver="GPKG")


def read_layers(path: str | Path) -> dict[str, pd.DataFrame]:
    """Read every layer and table of a GeoPackage.

    Parameters
    ----------
    path : str or Path
        A GeoPackage.

    Returns
    -------
    dict of str to DataFrame
        GeoDataFrames for spatial layers, DataFrames for attribute tables, by layer name.
    """
    out: dict[str, pd.DataFrame] = {}
    for name, _geom_type in pyogrio.list_layers(path):
        out[str(name)] = pyogrio.read_dataframe(path, layer=str(name))
    return out


def _canon(value: Any) -> Any:
    """Return a JSON-stable form of one attribute value."""
    if value is None:
        return None
    if isinstance(value, float | np.floating):
        f = float(value)
        return None if math.isnan(f) else round(f, 6)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if value is pd.NA:
        return None
    return value


def canonical_digest(path: str | Path) -> dict[str, str]:
    """Return a SHA-256 digest per layer of a GeoPackage's features, independent of file bytes.

    Rows are sorted by every column; geometries enter as WKB (hex) after normalisation.

    Parameters
    ----------
    path : str or Path
        A GeoPackage.

    Returns
    -------
    dict of str to str
        Layer name to hex digest.
    """
    digests: dict[str, str] = {}
    for name, frame in sorted(read_layers(path).items()):
        cols = sorted(c for c in frame.columns if c != "geometry")
        rows = []
        geoms = (
            shapely.to_wkb(shapely.normalize(frame.geometry.to_numpy()), hex=True)
            if "geometry" in frame.columns
            else [None] * len(frame)
        )
        for rec, wkb in zip(frame[cols].itertuples(index=False, name=None), geoms, strict=True):
            rows.append(json.dumps([[_canon(v) for v in rec], wkb], ensure_ascii=False))
        rows.sort()
        h = hashlib.sha256("\n".join([json.dumps(cols), *rows]).encode("utf-8"))
        digests[name] = h.hexdigest()
    return digests
