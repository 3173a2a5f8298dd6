"""Demand points from residential polygons, building footprints, population rasters or point tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely

from siting.errors import InputError, Problem, raise_if_problems
from siting.geo.crs import metric_crs
from siting.geo.study_area import HOUSEHOLD_SIZE

__all__ = [
    "DEFAULT_FLOOR_AREA_PER_HOUSEHOLD_M2",
    "HOUSEHOLD_SIZE",
    "from_buildings",
    "from_points",
    "from_polygons",
    "from_raster",
    "lattice_pieces",
]

#: Gross floor area per household (m²), an assumption typical of Chinese urban housing
#: (about 30-35 m² per person times 2.48 persons plus shared space); override it with local data.
DEFAULT_FLOOR_AREA_PER_HOUSEHOLD_M2 = 90.0


def _positive(problems: list[Problem], value: float, where: str, fix: str) -> None:
    if not np.isfinite(value) or value <= 0:
        problems.append(Problem(where, f"must be a number > 0, got {value}", fix))


def _both(
    population: np.ndarray | None, households: np.ndarray | None, household_size: float
) -> tuple[np.ndarray, np.ndarray]:
    if population is None and households is None:
        raise InputError(Problem("demand", "neither residents nor households given", "give one of them"))
    pop = population if population is not None else households * household_size  # type: ignore[operator]
    hh = households if households is not None else pop / household_size
    return np.asarray(pop, dtype=float), np.asarray(hh, dtype=float)


def _frame(
    points: Any,
    crs: Any,
    *,
    population: np.ndarray,
    households: np.ndarray,
    extra: dict[str, Any],
    source: str,
) -> gpd.GeoDataFrame:
    n = len(population)
    data = {"demand_id": [f"d{i:06d}" for i in range(1, n + 1)], **extra}
    data["population"] = population
    data["households"] = households
    data["source"] = source
    return gpd.GeoDataFrame(data, geometry=points, crs=crs)


def lattice_pieces(
    polygons: gpd.GeoDataFrame, *, cell_m: float, min_piece_m2: float = 1.0
) -> gpd.GeoDataFrame:
    """Cut polygons by a square lattice aligned to multiples of ``cell_m`` metres.

    Parameters
    ----------
    polygons : GeoDataFrame
        Polygons in a projected CRS (metres).
    cell_m : float
        Side of the lattice cells, metres.
    min_piece_m2 : float
        Pieces smaller than this are dropped (slivers).

    Returns
    -------
    GeoDataFrame
        One polygon per (polygon, cell, connected part), with ``source_index`` (row position
        in ``polygons``), ``row``, ``col`` (lattice indices) and ``area_m2``.
    """
    geoms = polygons.geometry.to_numpy()
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    c0, r0 = int(np.floor(minx / cell_m)), int(np.floor(miny / cell_m))
    c1, r1 = int(np.ceil(maxx / cell_m)), int(np.ceil(maxy / cell_m))
    col_grid, row_grid = np.meshgrid(np.arange(c0, c1), np.arange(r0, r1))
    cols, rows = col_grid.ravel(), row_grid.ravel()
    boxes = shapely.box(cols * cell_m, rows * cell_m, (cols + 1) * cell_m, (rows + 1) * cell_m)
    poly_idx, box_idx = shapely.STRtree(boxes).query(geoms, predicate="intersects")
    pieces = gpd.GeoDataFrame(
        {"source_index": poly_idx, "row": rows[box_idx], "col": cols[box_idx]},
        geometry=shapely.intersection(geoms[poly_idx], boxes[box_idx]),
        crs=polygons.crs,
    )
    pieces = pieces.explode(index_parts=False)
    pieces = pieces.loc[pieces.geom_type == "Polygon"]
    pieces = pieces.loc[pieces.geometry.area >= min_piece_m2].copy()
    pieces["area_m2"] = pieces.geometry.area
    return pieces.reset_index(drop=True)


def from_polygons(
    polygons: gpd.GeoDataFrame,
    *,
    total_population: float | None = None,
    population_column: str | None = None,
    weight: Literal["area", "floor_area"] = "area",
    floors_column: str = "floors",
    cell_m: float = 50.0,
    household_size: float = HOUSEHOLD_SIZE,
    crs: Any = None,
) -> gpd.GeoDataFrame:
    """Dasymetric allocation of residents over residential polygons, as points on a lattice.

    Each polygon is cut by a ``cell_m`` lattice; every piece becomes a demand point (a point
    on its surface) carrying its share of the residents: by area, or by floor area
    (area x ``floors_column``). Residents come from a published ``total_population`` spread
    over all polygons, or from each polygon's ``population_column`` spread over its pieces.

    Parameters
    ----------
    polygons : GeoDataFrame
        Residential land (any CRS).
    total_population : float, optional
        Residents of the whole area (e.g. 843,400 for the 7 Jiangbei streets, 2019).
    population_column : str, optional
        Residents per polygon (instead of ``total_population``).
    weight : {"area", "floor_area"}
        What residents are allocated in proportion to.
    floors_column : str
        Number of floors per polygon, for ``weight="floor_area"``.
    cell_m : float
        Lattice cell side in metres (50 m resolves 300 m walking radii well).
    household_size : float
        Persons per household (2.48 in Nanjing, 2020 census).
    crs : optional
        Projected CRS for the lattice (UTM zone of the data by default).

    Returns
    -------
    GeoDataFrame
        Points in the projected CRS with ``demand_id``, ``polygon`` (row position of the
        source polygon), ``area_m2``, ``population``, ``households``, ``source="modelled"``.
    """
    problems: list[Problem] = []
    if (total_population is None) == (population_column is None):
        problems.append(
            Problem(
                "total_population", "give exactly one of total_population and population_column", "name one"
            )
        )
    if total_population is not None:
        _positive(problems, total_population, "total_population", "give the published residents")
    if population_column is not None and population_column not in polygons.columns:
        problems.append(
            Problem(f"polygons.{population_column}", "column is missing", "name an existing column")
        )
    if weight not in ("area", "floor_area"):
        problems.append(Problem("weight", f"unknown weight {weight!r}", "use area or floor_area"))
    elif weight == "floor_area" and floors_column not in polygons.columns:
        problems.append(
            Problem(f"polygons.{floors_column}", "floor_area weighting needs a floors column", "add floors")
        )
    _positive(problems, cell_m, "cell_m", "use e.g. 50 (metres)")
    _positive(problems, household_size, "household_size", "use 2.48 for Nanjing")
    raise_if_problems(problems, title="invalid demand allocation")
    proj = polygons.to_crs(metric_crs(polygons, crs)).reset_index(drop=True)
    pieces = lattice_pieces(proj, cell_m=cell_m)
    w = pieces["area_m2"].to_numpy(float)
    if weight == "floor_area":
        w = (
            w
            * pd.to_numeric(proj[floors_column], errors="coerce")
            .fillna(1.0)
            .to_numpy(float)[pieces["source_index"]]
        )
    if total_population is not None:
        pop = total_population * w / w.sum()
    else:
        per_poly = pd.to_numeric(proj[population_column], errors="coerce").fillna(0.0).to_numpy(float)
        sums = np.bincount(pieces["source_index"], weights=w, minlength=len(proj))
        idx = pieces["source_index"].to_numpy()
        pop = per_poly[idx] * w / np.where(sums[idx] > 0, sums[idx], 1.0)
    pop, hh = _both(pop, None, household_size)
    points = shapely.point_on_surface(pieces.geometry.to_numpy())
    extra = {"polygon": pieces["source_index"].to_numpy(), "area_m2": pieces["area_m2"].round(1).to_numpy()}
    return _frame(points, proj.crs, population=pop, households=hh, extra=extra, source="modelled")


def from_buildings(
    buildings: gpd.GeoDataFrame,
    *,
    floors_column: str = "floors",
    default_floors: float = 6.0,
    floor_area_per_household_m2: float = DEFAULT_FLOOR_AREA_PER_HOUSEHOLD_M2,
    household_size: float = HOUSEHOLD_SIZE,
    crs: Any = None,
) -> gpd.GeoDataFrame:
    """One demand point per building, households from floor area.

    ``households = footprint area x floors / floor_area_per_household_m2``; floors come from
    ``floors_column`` (e.g. OSM ``building:levels``) where given, else ``default_floors``.

    Parameters
    ----------
    buildings : GeoDataFrame
        Footprint polygons (any CRS).
    floors_column : str
        Column with floors per building (missing values use ``default_floors``).
    default_floors : float
        Assumed floors where none are given (6: typical walk-up residential blocks).
    floor_area_per_household_m2 : float
        Gross floor area per household, m² (assumption, default 90).
    household_size : float
        Persons per household.
    crs : optional
        Projected CRS for areas.

    Returns
    -------
    GeoDataFrame
        Points (on each footprint's surface) with ``footprint_m2``, ``floors``,
        ``population``, ``households``, ``source="modelled"``.
    """
    problems: list[Problem] = []
    _positive(problems, default_floors, "default_floors", "use e.g. 6")
    _positive(problems, floor_area_per_household_m2, "floor_area_per_household_m2", "use e.g. 90")
    _positive(problems, household_size, "household_size", "use 2.48 for Nanjing")
    raise_if_problems(problems, title="invalid building demand")
    proj = buildings.to_crs(metric_crs(buildings, crs)).reset_index(drop=True)
    area = proj.geometry.area.to_numpy(float)
    if floors_column in proj.columns:
        floors = pd.to_numeric(proj[floors_column], errors="coerce").fillna(default_floors).to_numpy(float)
    else:
        floors = np.full(len(proj), default_floors)
    hh = area * floors / floor_area_per_household_m2
    pop, hh = _both(None, hh, household_size)
    extra = {"footprint_m2": np.round(area, 1), "floors": floors}
    return _frame(
        shapely.point_on_surface(proj.geometry.to_numpy()),
        proj.crs,
        population=pop,
        households=hh,
        extra=extra,
        source="modelled",
    )


def from_raster(
    source: str | Path | np.ndarray,
    *,
    transform: tuple[float, float, float, float, float, float] | None = None,
    crs: Any = None,
    nodata: float | None = None,
    household_size: float = HOUSEHOLD_SIZE,
    min_population: float = 0.0,
) -> gpd.GeoDataFrame:
    """Demand points at the centres of the populated cells of a population raster.

    Parameters
    ----------
    source : str, Path or ndarray
        A GeoTIFF (read with rasterio, band 1: residents per cell, e.g. WorldPop), or a 2-D
        array of residents per cell (row 0 at the top).
    transform : tuple of 6 floats, optional
        For an array: the GDAL geotransform ``(x0, cell_w, 0, y0, 0, -cell_h)``.
    crs : optional
        For an array: its CRS.
    nodata : float, optional
        For an array: the no-data value (files carry their own).
    household_size : float
        Persons per household.
    min_population : float
        Cells with fewer residents are skipped.

    Returns
    -------
    GeoDataFrame
        Points with ``row``, ``col``, ``population``, ``households``, ``source="modelled"``.
    """
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.is_file():
            raise InputError(Problem("raster", f"no such file: {path}", "give the path of a GeoTIFF"))
        with rasterio.open(path) as ds:
            values = ds.read(1, masked=True).filled(np.nan).astype(float)
            gt: Any = ds.transform.to_gdal()
            crs = ds.crs.to_wkt() if ds.crs else None
    else:
        values = np.asarray(source, dtype=float)
        gt = transform
        if nodata is not None:
            values = np.where(values == nodata, np.nan, values)
    problems: list[Problem] = []
    if values.ndim != 2:
        problems.append(Problem("raster", f"must be 2-D, got {values.ndim}-D", "give one band"))
    if gt is None or len(gt) != 6:
        problems.append(
            Problem("transform", "a 6-number geotransform is required for an array", "(x0, w, 0, y0, 0, -h)")
        )
    if crs is None:
        problems.append(
            Problem("crs", "the raster has no CRS", "pass crs='EPSG:32650' (or the raster's CRS)")
        )
    if np.nanmin(values, initial=0.0) < 0:
        problems.append(Problem("raster", "has negative residents", "mark no-data cells with nodata"))
    raise_if_problems(problems, title="invalid population raster")
    rows, cols = np.nonzero(np.nan_to_num(values, nan=0.0) > min_population)
    x = gt[0] + (cols + 0.5) * gt[1] + (rows + 0.5) * gt[2]
    y = gt[3] + (cols + 0.5) * gt[4] + (rows + 0.5) * gt[5]
    pop, hh = _both(values[rows, cols], None, household_size)
    return _frame(
        gpd.points_from_xy(x, y),
        crs,
        population=pop,
        households=hh,
        extra={"row": rows, "col": cols},
        source="modelled",
    )


def from_points(
    table: pd.DataFrame,
    *,
    lon: str = "lon",
    lat: str = "lat",
    crs: Any = "EPSG:4326",
    household_size: float = HOUSEHOLD_SIZE,
) -> gpd.GeoDataFrame:
    """Demand points from a table with coordinates and ``population`` and/or ``households``.

    When only one of residents and households is given the other follows from
    ``household_size``; when both are given both are kept as they are.

    Raises
    ------
    InputError
        Missing coordinate or count columns, non-numeric or negative counts.
    """
    problems: list[Problem] = []
    problems.extend(
        Problem(f"table.{col}", "coordinate column is missing", "name the columns with lon= and lat=")
        for col in (lon, lat)
        if col not in table.columns
    )
    counts = [c for c in ("population", "households") if c in table.columns]
    if not counts:
        problems.append(Problem("table", "has neither population nor households", "add one of them"))
    for c in counts:
        v = pd.to_numeric(table[c], errors="coerce")
        if v.isna().any() or (v < 0).any():
            problems.append(
                Problem(f"table.{c}", "has missing, non-numeric or negative values", "use counts >= 0")
            )
    raise_if_problems(problems, title="invalid demand table")
    pop = pd.to_numeric(table["population"]).to_numpy(float) if "population" in table.columns else None
    hh = pd.to_numeric(table["households"]).to_numpy(float) if "households" in table.columns else None
    pop, hh = _both(pop, hh, household_size)
    keep = {c: table[c].to_numpy() for c in table.columns if c not in (lon, lat, "population", "households")}
    pts = gpd.points_from_xy(pd.to_numeric(table[lon]), pd.to_numeric(table[lat]))
    return _frame(pts, crs, population=pop, households=hh, extra=keep, source="user")
