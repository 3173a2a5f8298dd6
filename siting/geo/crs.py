"""Coordinate reference systems: metric UTM choice, WGS84 / CGCS2000 output and GCJ-02 conversion."""

from __future__ import annotations

from typing import Literal

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS

from siting.errors import InputError, Problem

__all__ = [
    "CGCS2000",
    "GCJ02",
    "WGS84",
    "OutputCRS",
    "from_output_crs",
    "gcj02_to_wgs84",
    "is_geographic",
    "metric_crs",
    "to_metric",
    "to_output_crs",
    "wgs84_to_gcj02",
]

WGS84 = CRS.from_epsg(4326)
#: China Geodetic Coordinate System 2000; EPSG:4490 declares latitude first, we always work lon/lat.
CGCS2000 = CRS.from_epsg(4490)
#: GCJ-02 has no EPSG code: it is WGS84 with a deliberate, non-linear offset (Chinese web maps).
GCJ02 = "GCJ-02"

OutputCRS = Literal["wgs84", "cgcs2000", "gcj02"]

# Krasovsky 1940 ellipsoid, as used by the published GCJ-02 formula.
_A = 6378245.0
_EE = 0.00669342162296594323


def _out_of_china(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.bool_]:
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _transform_lat(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (160.0 * np.sin(y / 12.0 * np.pi) + 320 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lon(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return ret


def _gcj_offset(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> tuple[NDArray, NDArray]:
    dlat = _transform_lat(lon - 105.0, lat - 35.0)
    dlon = _transform_lon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * np.pi
    magic = 1 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    outside = _out_of_china(lon, lat)
    return np.where(outside, 0.0, dlon), np.where(outside, 0.0, dlat)


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Convert WGS84 lon/lat (degrees) to GCJ-02 lon/lat; points outside China are unchanged.

    Parameters
    ----------
    lon, lat : array-like of float, same shape
        WGS84 longitude and latitude in degrees.

    Returns
    -------
    tuple of ndarray
        GCJ-02 longitude and latitude in degrees, same shape as the input.
    """
    x = np.asarray(lon, dtype=float)
    y = np.asarray(lat, dtype=float)
    dlon, dlat = _gcj_offset(x, y)
    return x + dlon, y + dlat


def gcj02_to_wgs84(
    lon: ArrayLike, lat: ArrayLike, *, tol_deg: float = 1e-9, max_iter: int = 30
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Convert GCJ-02 lon/lat to WGS84 by fixed-point inversion of :func:`wgs84_to_gcj02`.

    The forward offset is smooth, so iterating ``w <- w - (f(w) - g)`` converges
    to well below a millimetre around Nanjing (tolerance ``tol_deg`` degrees,
    1e-9 degrees is about 0.1 mm).

    Parameters
    ----------
    lon, lat : array-like of float, same shape
        GCJ-02 longitude and latitude in degrees.
    tol_deg : float
        Stop when every point moves less than this, in degrees.
    max_iter : int
        Most iterations.

    Returns
    -------
    tuple of ndarray
        WGS84 longitude and latitude in degrees.
    """
    gx = np.asarray(lon, dtype=float)
    gy = np.asarray(lat, dtype=float)
    wx, wy = gx.copy(), gy.copy()
    for _ in range(max_iter):
        fx, fy = wgs84_to_gcj02(wx, wy)
        dx, dy = fx - gx, fy - gy
        wx -= dx
        wy -= dy
        if np.all(np.abs(dx) < tol_deg) and np.all(np.abs(dy) < tol_deg):
            break
    return wx, wy


def _apply_lonlat(geoms: NDArray, func: object) -> NDArray:
    def _xy(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = func(coords[:, 0], coords[:, 1])  # type: ignore[operator]
        return np.column_stack([x, y])

    return np.asarray(shapely.transform(geoms, _xy))


def is_geographic(crs: object) -> bool:
    """Whether ``crs`` (anything pyproj accepts) is a geographic (degrees) CRS."""
    return bool(CRS.from_user_input(crs).is_geographic)


def metric_crs(gdf: gpd.GeoDataFrame | gpd.GeoSeries, crs: object | None = None) -> CRS:
    """Pick the projected CRS for metric work.

    Parameters
    ----------
    gdf : GeoDataFrame or GeoSeries
        Data with a CRS; its extent chooses the UTM zone (EPSG:32650 for Nanjing).
    crs : optional
        A projected CRS to use instead (anything pyproj accepts).

    Raises
    ------
    InputError
        If ``crs`` is geographic (degrees are not metres) or the data has no CRS.
    """
    if crs is not None:
        chosen = CRS.from_user_input(crs)
        if chosen.is_geographic:
            raise InputError(
                Problem("crs", f"{chosen.name} is in degrees", "name a projected CRS such as EPSG:32650")
            )
        return chosen
    if gdf.crs is None:
        raise InputError(Problem("crs", "the data has no CRS", "declare it, e.g. gdf.set_crs('EPSG:4326')"))
    if not gdf.crs.is_geographic:
        return CRS.from_user_input(gdf.crs)
    utm = gdf.estimate_utm_crs()
    return CRS.from_user_input(utm)


def to_metric(gdf: gpd.GeoDataFrame, crs: object | None = None) -> gpd.GeoDataFrame:
    """Return ``gdf`` projected to metres (``crs`` or the UTM zone of its extent)."""
    target = metric_crs(gdf, crs)
    return gdf if gdf.crs is not None and CRS.from_user_input(gdf.crs) == target else gdf.to_crs(target)


def _normalise_output(crs: str) -> OutputCRS:
    key = crs.lower().replace("-", "").replace("_", "").replace(":", "")
    aliases: dict[str, OutputCRS] = {
        "wgs84": "wgs84",
        "epsg4326": "wgs84",
        "cgcs2000": "cgcs2000",
        "epsg4490": "cgcs2000",
        "gcj02": "gcj02",
    }
    if key not in aliases:
        raise InputError(Problem("crs", f"unknown output CRS {crs!r}", "use one of: wgs84, cgcs2000, gcj02"))
    return aliases[key]


def to_output_crs(gdf: gpd.GeoDataFrame, crs: str = "wgs84") -> gpd.GeoDataFrame:
    """Convert to an output CRS: ``wgs84`` (default, RFC 7946), ``cgcs2000`` or ``gcj02``.

    CGCS2000 and WGS84 differ by centimetres; the result is tagged EPSG:4490 and
    its coordinates stay lon/lat (x = longitude) as GeoJSON requires. GCJ-02 has
    no EPSG code: the frame is tagged EPSG:4326 with GCJ-02 offsets applied, and
    callers must label it (e.g. ``"crs": "gcj02"`` in an API response).
    """
    kind = _normalise_output(crs)
    wgs = gdf.to_crs(WGS84)
    if kind == "wgs84":
        return wgs
    if kind == "cgcs2000":
        return wgs.to_crs(CGCS2000)
    out = wgs.copy()
    out.geometry = gpd.GeoSeries(
        _apply_lonlat(wgs.geometry.values, wgs84_to_gcj02), index=wgs.index, crs=WGS84
    )
    return out


def from_output_crs(gdf: gpd.GeoDataFrame, crs: str) -> gpd.GeoDataFrame:
    """Read data given in ``wgs84``, ``cgcs2000`` or ``gcj02`` into WGS84 (EPSG:4326)."""
    kind = _normalise_output(crs)
    if kind == "gcj02":
        out = gdf.set_crs(WGS84, allow_override=True).copy()
        out.geometry = gpd.GeoSeries(
            _apply_lonlat(out.geometry.values, gcj02_to_wgs84), index=out.index, crs=WGS84
        )
        return out
    source = WGS84 if kind == "wgs84" else CGCS2000
    return gdf.set_crs(source, allow_override=True).to_crs(WGS84)
