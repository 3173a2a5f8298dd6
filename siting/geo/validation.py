"""Validation of study-area layers: every problem collected, geometries repaired and reported."""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from siting.errors import Problem

__all__ = [
    "FACILITY_TYPES",
    "LAYER_SPECS",
    "SOURCES",
    "LayerSpec",
    "Report",
    "check_outside_boundary",
    "validate_layer",
]

FACILITY_TYPES = frozenset({"red_station", "charging_pile"})
SOURCES = frozenset({"osm", "modelled", "published", "proxy", "user"})

_POLY = frozenset({"Polygon", "MultiPolygon"})
_LINE = frozenset({"LineString", "MultiLineString"})
_POINT = frozenset({"Point"})


@dataclass(frozen=True)
class LayerSpec:
    """What a study-area layer must look like.

    Attributes
    ----------
    name : str
        Layer name (GeoPackage layer or file stem).
    geom_types : frozenset of str
        Allowed shapely geometry types.
    id_column : str or None
        Column of unique feature ids, if the layer has one.
    required : tuple of str
        Columns that must be present.
    required_any : tuple of str
        At least one of these columns must be present.
    non_negative : tuple of str
        Numeric columns that must be finite and >= 0 where present.
    positive : tuple of str
        Numeric columns that must be finite and > 0 where present.
    """

    name: str
    geom_types: frozenset[str]
    id_column: str | None = None
    required: tuple[str, ...] = ()
    required_any: tuple[str, ...] = ()
    non_negative: tuple[str, ...] = ()
    positive: tuple[str, ...] = ()


LAYER_SPECS: dict[str, LayerSpec] = {
    s.name: s
    for s in (
        LayerSpec("boundary", _POLY),
        LayerSpec("grids", _POLY, id_column="grid_id", required=("grid_id",)),
        LayerSpec(
            "demand",
            _POINT | _POLY,
            id_column="demand_id",
            required_any=("population", "households"),
            non_negative=("population", "households"),
        ),
        LayerSpec(
            "candidates",
            _POINT,
            id_column="site_id",
            required=("site_id",),
            non_negative=("cost", "capacity"),
        ),
        LayerSpec("existing", _POINT, id_column="site_id", required=("site_id", "facility_type")),
        LayerSpec("fire_lanes", _LINE, positive=("width_m",)),
        LayerSpec("roads", _LINE),
        LayerSpec("exclusions", _POLY),
        LayerSpec("compounds", _POLY),
        LayerSpec("streets", _POLY),
        LayerSpec("buildings", _POLY),
    )
}


@dataclass
class Report:
    """Problems found while loading: ``errors`` stop the load, ``warnings`` are repaired or informative."""

    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


def _row_ids(gdf: gpd.GeoDataFrame, mask: np.ndarray | pd.Series, id_column: str | None) -> tuple[str, ...]:
    sel = gdf.loc[np.asarray(mask, dtype=bool)]
    if id_column and id_column in gdf.columns:
        return tuple(str(v) for v in sel[id_column].tolist())
    return tuple(f"#{i}" for i in sel.index.tolist())


def validate_layer(
    gdf: gpd.GeoDataFrame, spec: LayerSpec, report: Report, *, strict: bool = False
) -> gpd.GeoDataFrame:
    """Check one layer against its spec, append problems to ``report`` and return it repaired.

    Invalid geometries are repaired with ``shapely.make_valid`` and reported as
    warnings, or reported as errors when ``strict``. The layer keeps its CRS.
    """
    name = spec.name
    if len(gdf) == 0:
        report.errors.append(Problem(name, "the layer is empty", "add features or remove the layer"))
        return gdf
    _check_crs(gdf, name, report)
    _check_columns(gdf, spec, report)
    gdf = _check_geometries(gdf, spec, report, strict=strict)
    _check_coordinates(gdf, spec, report)
    _check_ids(gdf, spec, report)
    _check_numbers(gdf, spec, report)
    _check_categories(gdf, spec, report)
    return gdf


def _check_crs(gdf: gpd.GeoDataFrame, name: str, report: Report) -> None:
    if gdf.crs is None:
        report.errors.append(
            Problem(
                f"{name}.crs",
                "the layer has no CRS",
                "declare it in the file (GeoPackage / .prj), or in Python with "
                "gdf.set_crs('EPSG:4326') for lon/lat degrees or gdf.set_crs('EPSG:32650') for UTM 50N metres",
            )
        )


def _check_columns(gdf: gpd.GeoDataFrame, spec: LayerSpec, report: Report) -> None:
    missing = [c for c in spec.required if c not in gdf.columns]
    if missing:
        report.errors.append(
            Problem(
                f"{spec.name}",
                f"missing required column(s) {', '.join(missing)}",
                f"add the column(s); {spec.name} needs {', '.join(spec.required)}",
            )
        )
    if spec.required_any and not any(c in gdf.columns for c in spec.required_any):
        report.errors.append(
            Problem(
                spec.name,
                f"has none of the columns {' / '.join(spec.required_any)}",
                f"add at least one of {', '.join(spec.required_any)} (residents or households per feature)",
            )
        )


def _check_geometries(
    gdf: gpd.GeoDataFrame, spec: LayerSpec, report: Report, *, strict: bool
) -> gpd.GeoDataFrame:
    geoms = gdf.geometry.values
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        report.errors.append(
            Problem(
                f"{spec.name}.geometry",
                f"{int(missing.sum())} feature(s) have no geometry",
                "give every feature a geometry or drop those rows",
                rows=_row_ids(gdf, missing, spec.id_column),
            )
        )
    types = np.asarray(shapely.get_type_id(geoms))
    names = np.array([_TYPE_NAMES.get(int(t), "None") for t in types])
    wrong = ~missing & ~np.isin(names, list(spec.geom_types))
    if wrong.any():
        found = ", ".join(sorted(set(names[wrong])))
        report.errors.append(
            Problem(
                f"{spec.name}.geometry",
                f"{int(wrong.sum())} feature(s) are {found}; expected {' or '.join(sorted(spec.geom_types))}",
                "convert them (e.g. polygons to points with .representative_point()) or move them to "
                "the right layer",
                rows=_row_ids(gdf, wrong, spec.id_column),
            )
        )
    invalid = ~missing & ~wrong & ~shapely.is_valid(geoms)
    if not invalid.any():
        return gdf
    rows = _row_ids(gdf, invalid, spec.id_column)
    reason = str(shapely.is_valid_reason(geoms[invalid][0]))
    if strict:
        report.errors.append(
            Problem(
                f"{spec.name}.geometry",
                f"{int(invalid.sum())} invalid geometries (first: {reason})",
                "repair them (shapely.make_valid, QGIS 'Fix geometries') or load without strict",
                rows=rows,
            )
        )
        return gdf
    repaired = gdf.copy()
    fixed = shapely.make_valid(geoms[invalid])
    if spec.geom_types in (_POLY, _LINE):
        fixed = _keep_dimension(fixed, spec.geom_types)
    repaired.loc[invalid, repaired.geometry.name] = fixed
    report.warnings.append(
        Problem(
            f"{spec.name}.geometry",
            f"{int(invalid.sum())} invalid geometries repaired with make_valid (first: {reason})",
            "check the repaired shapes, or load with strict=True (siting validate --strict) to reject them",
            rows=rows,
        )
    )
    return repaired


_TYPE_NAMES = {
    0: "Point",
    1: "LineString",
    2: "LinearRing",
    3: "Polygon",
    4: "MultiPoint",
    5: "MultiLineString",
    6: "MultiPolygon",
    7: "GeometryCollection",
}


def _keep_dimension(geoms: np.ndarray, kinds: frozenset[str]) -> np.ndarray:
    """After make_valid, keep only the parts of the layer's dimension (drop stray lines/points)."""
    want = {3, 6} if kinds == _POLY else {1, 5}
    out = []
    for g in geoms:
        if int(shapely.get_type_id(g)) in want:
            out.append(g)
            continue
        parts = [p for p in shapely.get_parts(g) if int(shapely.get_type_id(p)) in want]
        out.append(shapely.union_all(parts) if parts else g)
    return np.asarray(out, dtype=object)


def _check_coordinates(gdf: gpd.GeoDataFrame, spec: LayerSpec, report: Report) -> None:
    if gdf.crs is None or len(gdf) == 0:
        return
    coords = shapely.get_coordinates(gdf.geometry.values)
    if coords.size == 0:
        return
    x, y = coords[:, 0], coords[:, 1]
    crs = CRS.from_user_input(gdf.crs)
    if crs.is_geographic:
        bad = (np.abs(y) > 90) | (np.abs(x) > 180)
        if bad.any():
            swapped_ok = bool(np.all(np.abs(x) <= 90) and np.all(np.abs(y) <= 180))
            report.errors.append(
                Problem(
                    f"{spec.name}.geometry",
                    "coordinates look like swapped lat/lon (latitude above 90)"
                    if swapped_ok
                    else "coordinates are outside the range of degrees",
                    "write longitude as x and latitude as y (Nanjing is about x=118.7, y=32.1)"
                    if swapped_ok
                    else "declare the layer's real CRS (projected metres are not degrees)",
                )
            )
    elif np.all(np.abs(x) <= 180) and np.all(np.abs(y) <= 90) and crs.axis_info[0].unit_name == "metre":
        report.errors.append(
            Problem(
                f"{spec.name}.crs",
                f"the CRS is {crs.name} (metres) but the coordinates look like degrees",
                "declare the layer as EPSG:4326 (lon/lat) instead",
            )
        )


def _check_ids(gdf: gpd.GeoDataFrame, spec: LayerSpec, report: Report) -> None:
    col = spec.id_column
    if not col or col not in gdf.columns:
        return
    ids = gdf[col]
    if ids.isna().any():
        report.errors.append(
            Problem(
                f"{spec.name}.{col}",
                "has empty ids",
                f"give every feature a {col}",
                rows=_row_ids(gdf, ids.isna(), None),
            )
        )
    dup = ids.duplicated(keep=False) & ids.notna()
    if dup.any():
        report.errors.append(
            Problem(
                f"{spec.name}.{col}",
                f"{int(ids[dup].nunique())} duplicated id(s)",
                f"make {col} unique",
                rows=tuple(sorted({str(v) for v in ids[dup]})),
            )
        )


def _check_numbers(gdf: gpd.GeoDataFrame, spec: LayerSpec, report: Report) -> None:
    for col, strict_positive in [(c, False) for c in spec.non_negative] + [(c, True) for c in spec.positive]:
        if col not in gdf.columns:
            continue
        values = pd.to_numeric(gdf[col], errors="coerce")
        not_number = values.isna() & gdf[col].notna()
        if not_number.any():
            report.errors.append(
                Problem(
                    f"{spec.name}.{col}",
                    f"{int(not_number.sum())} value(s) are not numbers (e.g. {gdf[col][not_number].iloc[0]!r})",
                    f"write {col} as plain numbers",
                    rows=_row_ids(gdf, not_number, spec.id_column),
                )
            )
        nan = gdf[col].isna() | ~np.isfinite(values.fillna(0.0))
        if nan.any():
            report.errors.append(
                Problem(
                    f"{spec.name}.{col}",
                    f"{int(nan.sum())} value(s) are missing (NaN) or infinite",
                    f"fill {col} (use 0 for none)",
                    rows=_row_ids(gdf, nan, spec.id_column),
                )
            )
        bad = (values <= 0) if strict_positive else (values < 0)
        if bad.any():
            report.errors.append(
                Problem(
                    f"{spec.name}.{col}",
                    f"{int(bad.sum())} value(s) are {'zero or ' if strict_positive else ''}negative",
                    f"{col} must be {'> 0' if strict_positive else '>= 0'}",
                    rows=_row_ids(gdf, bad, spec.id_column),
                )
            )


def _check_categories(gdf: gpd.GeoDataFrame, spec: LayerSpec, report: Report) -> None:
    checks = [("facility_type", FACILITY_TYPES), ("source", SOURCES)]
    for col, allowed in checks:
        if col not in gdf.columns:
            continue
        bad = ~gdf[col].isin(sorted(allowed))
        if bad.any():
            found = sorted({str(v) for v in gdf[col][bad]})[:5]
            report.errors.append(
                Problem(
                    f"{spec.name}.{col}",
                    f"unknown value(s) {', '.join(found)}",
                    f"use one of {', '.join(sorted(allowed))}",
                    rows=_row_ids(gdf, bad, spec.id_column),
                )
            )


def check_outside_boundary(
    layers: dict[str, gpd.GeoDataFrame], report: Report, *, tolerance_m: float = 1.0
) -> None:
    """Count features of each layer that lie outside the boundary (warnings, not errors).

    All layers must already be in the same projected CRS (metres).
    """
    boundary = layers.get("boundary")
    if boundary is None or len(boundary) == 0:
        return
    area = shapely.union_all(boundary.geometry.values).buffer(tolerance_m)
    shapely.prepare(area)
    for name, gdf in layers.items():
        if name == "boundary" or len(gdf) == 0:
            continue
        spec = LAYER_SPECS.get(name)
        outside = ~shapely.intersects(area, gdf.geometry.values)
        if outside.any():
            report.warnings.append(
                Problem(
                    f"{name}.geometry",
                    f"{int(outside.sum())} of {len(gdf)} feature(s) lie outside the boundary",
                    "check their coordinates, or widen the boundary",
                    rows=_row_ids(gdf, outside, spec.id_column if spec else None),
                )
            )
