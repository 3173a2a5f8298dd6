"""Checks and metric projection of point layers (demand, candidates, sites) given as GeoDataFrames."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from siting.errors import InputError, Problem
from siting.geo.crs import metric_crs

__all__ = ["MetricPoints", "metric_crs_for", "project_point_layers"]


@dataclass(frozen=True, eq=False)
class MetricPoints:
    """Points of one layer projected to metres.

    Parameters
    ----------
    name : str
        Layer name used in messages (``"demand"``, ``"candidates"``).
    xy : ndarray, shape (n, 2), float64
        Coordinates in ``crs`` (metres).
    ids : tuple of str
        Row labels (the GeoDataFrame index as strings), in row order.
    crs : pyproj.CRS
        The projected CRS.
    """

    name: str
    xy: np.ndarray
    ids: tuple[str, ...]
    crs: pyproj.CRS

    def __len__(self) -> int:
        return int(self.xy.shape[0])


def metric_crs_for(geoms: Any) -> pyproj.CRS:
    """Return the metric CRS for some geometries: their own if projected, else the UTM zone of their extent.

    Delegates to :func:`siting.geo.crs.metric_crs` (EPSG:32650 for Nanjing lon/lat data).

    Parameters
    ----------
    geoms : GeoSeries or GeoDataFrame
        Geometries with a CRS.

    Returns
    -------
    pyproj.CRS
    """
    return pyproj.CRS.from_user_input(metric_crs(geoms))


def _check_layer(gdf: Any, name: str) -> list[Problem]:
    """Collect the problems of one point layer."""
    if not hasattr(gdf, "geometry") or not hasattr(gdf, "crs"):
        return [
            Problem(
                where=name,
                message=f"expected a GeoDataFrame of points, got {type(gdf).__name__}",
                fix="build it with geopandas.GeoDataFrame(..., geometry=..., crs=...)",
            )
        ]
    problems = []
    if gdf.crs is None:
        problems.append(
            Problem(
                where=f"{name}.crs",
                message="the layer has no CRS",
                fix="set it, e.g. gdf.set_crs(4326) for lon/lat or gdf.set_crs(32650) for UTM 50N metres",
            )
        )
    geom = gdf.geometry
    missing = geom.isna().to_numpy() | geom.is_empty.to_numpy()
    if missing.any():
        problems.append(
            Problem(
                where=f"{name}.geometry",
                message=f"{int(missing.sum())} row(s) have no geometry",
                fix="drop them or give them a location",
                rows=tuple(str(i) for i in gdf.index[missing]),
            )
        )
    not_point = ~missing & (geom.geom_type != "Point").to_numpy()
    if not_point.any():
        problems.append(
            Problem(
                where=f"{name}.geometry",
                message=f"{int(not_point.sum())} row(s) are not points",
                fix="use gdf.representative_point() (polygons) or explode multipoints first",
                rows=tuple(str(i) for i in gdf.index[not_point]),
            )
        )
    return problems


def project_point_layers(
    layers: Sequence[tuple[str, Any]], *, crs: pyproj.CRS | None = None
) -> list[MetricPoints]:
    """Check point layers and project them to one metric CRS.

    Parameters
    ----------
    layers : sequence of (name, GeoDataFrame)
        Point layers in any CRS (each with its CRS set).
    crs : pyproj.CRS, optional
        Target projected CRS (the network's); when omitted, the layers' own CRS if they share
        one projected CRS, else the UTM zone of their extent.

    Returns
    -------
    list of MetricPoints
        One per layer, in order.

    Raises
    ------
    InputError
        Listing every problem of every layer (not a GeoDataFrame, no CRS, empty or
        non-point geometries).
    """
    problems = [p for name, gdf in layers for p in _check_layer(gdf, name)]
    if problems:
        raise InputError(problems)
    own = {pyproj.CRS.from_user_input(gdf.crs) for _, gdf in layers}
    if crs is None and len(own) == 1 and next(iter(own)).is_projected:
        crs = next(iter(own))
    if crs is None:
        parts = [gdf.geometry.to_crs(4326) for _, gdf in layers if len(gdf)]
        if not parts:
            crs = pyproj.CRS.from_epsg(3857)
        else:
            crs = metric_crs_for(gpd.GeoSeries(pd.concat(parts, ignore_index=True), crs=4326))
    out = []
    for name, gdf in layers:
        projected = gdf.geometry.to_crs(crs)
        xy = shapely.get_coordinates(projected.to_numpy()).astype(np.float64).reshape(-1, 2)
        out.append(MetricPoints(name=name, xy=xy, ids=tuple(str(i) for i in gdf.index), crs=crs))
    return out
