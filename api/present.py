"""Presenting siting results as JSON: RFC 7946 FeatureCollections in an output CRS, tables, plain numbers."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siting.geo.crs import to_output_crs

__all__ = ["clean", "feature_collection", "table"]

#: Decimal places of output coordinates (1e-7 degrees is about 1 cm).
PRECISION = 7


def clean(value: Any) -> Any:
    """JSON-safe copy: numpy scalars and arrays to Python, NaN and infinities to None, dates to ISO text."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return [clean(v) for v in value.tolist()]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, dt.date | dt.datetime | pd.Timestamp):
        return value.isoformat()
    if value is None or isinstance(value, str | int | bool):
        return value
    if value is pd.NA or value is pd.NaT:
        return None
    return str(value)


def _rounded(geoms: gpd.GeoSeries) -> gpd.GeoSeries:
    out = shapely.transform(geoms.to_numpy(), lambda xy: np.round(xy, PRECISION))
    return gpd.GeoSeries(out, index=geoms.index, crs=geoms.crs)


def feature_collection(
    gdf: gpd.GeoDataFrame, crs: str = "wgs84", *, name: str | None = None
) -> dict[str, Any]:
    """Return a FeatureCollection (RFC 7946, lon/lat) of ``gdf`` in ``wgs84``, ``cgcs2000`` or ``gcj02``.

    The CRS is named in a foreign member ``crs_name`` (RFC 7946 has no ``crs`` member);
    coordinates are rounded to 7 decimals (about 1 cm).
    """
    doc: dict[str, Any] = {"type": "FeatureCollection", "features": []}
    if gdf.crs is not None and len(gdf):
        out = to_output_crs(gdf, crs)
        geoms = shapely.to_geojson(_rounded(out.geometry).to_numpy())
        props = table(pd.DataFrame(out.drop(columns=out.geometry.name)))
        doc["features"] = [
            {"type": "Feature", "properties": p, "geometry": json.loads(g) if g is not None else None}
            for p, g in zip(props, geoms, strict=True)
        ]
    if name is not None:
        doc["name"] = name
    doc["crs_name"] = crs
    return doc


def table(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Return the rows of a table as JSON objects (geometry columns dropped)."""
    if frame is None or len(frame) == 0:
        return []
    cols = [c for c in frame.columns if c != "geometry"]
    if not cols:
        return [{} for _ in range(len(frame))]
    records = pd.DataFrame(frame[cols]).to_dict(orient="records")
    return [clean(r) for r in records]
