"""The study area: named, validated GeoDataFrame layers in one metric CRS."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import geopandas as gpd
import pandas as pd
from pyproj import CRS

from siting.errors import Problem, StudyAreaError
from siting.geo.crs import metric_crs, to_output_crs
from siting.geo.io import RawLayers, read_layers
from siting.geo.validation import LAYER_SPECS, Report, check_outside_boundary, validate_layer

__all__ = ["HOUSEHOLD_SIZE", "LAYER_NAMES", "StudyArea", "load_study_area"]

#: Layer names a study area knows; only ``demand`` is required.
LAYER_NAMES: tuple[str, ...] = tuple(LAYER_SPECS)
#: Persons per household: 2.48 in Nanjing (2020 census, Nanjing Statistical Yearbook). The one
#: definition: demand modelling, the demo builds, growth projections and the reports use it.
HOUSEHOLD_SIZE = 2.48


@dataclass(frozen=True)
class StudyArea:
    """An immutable set of named layers in one projected (metric) CRS.

    Build with :func:`load_study_area` or :meth:`StudyArea.from_frames`; both
    validate every layer and raise one :class:`~siting.errors.StudyAreaError`
    listing every problem.

    Attributes
    ----------
    name : str
        A label (file or folder name by default).
    crs : pyproj.CRS
        The projected CRS every layer is stored in (metres; EPSG:32650 for Nanjing).
    layers : mapping of str to GeoDataFrame
        ``boundary``, ``grids``, ``demand``, ``candidates``, ``existing``,
        ``fire_lanes``, ``roads``, ``exclusions``, ``compounds``: those present.
        Read them through :meth:`layer`, which returns a copy.
    tables : mapping of str to DataFrame
        Non-spatial tables, e.g. ``population_history`` (``grid_id, year, population``).
    network_path : Path or None
        OSM file of the street network, when the study area references one.
    warnings : tuple of Problem
        What was repaired or looks odd (features outside the boundary, fixed geometries).
    source : str
        Where the layers came from.
    """

    name: str
    crs: CRS
    layers: Mapping[str, gpd.GeoDataFrame]
    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    network_path: Path | None = None
    warnings: tuple[Problem, ...] = ()
    source: str = "memory"

    @classmethod
    def from_frames(
        cls,
        *,
        demand: gpd.GeoDataFrame,
        name: str = "study area",
        crs: Any = None,
        strict: bool = False,
        tables: Mapping[str, pd.DataFrame] | None = None,
        network_path: str | Path | None = None,
        **layers: gpd.GeoDataFrame | None,
    ) -> StudyArea:
        """Build a study area from GeoDataFrames in memory.

        Parameters
        ----------
        demand : GeoDataFrame
            Demand points or polygons with ``population`` and/or ``households``.
        name : str
            Label of the study area.
        crs : optional
            Projected CRS for metric work; the UTM zone of the demand's extent when omitted.
        strict : bool
            Reject invalid geometries instead of repairing them.
        tables : mapping, optional
            Non-spatial tables such as ``population_history``.
        network_path : str or Path, optional
            OSM file of the street network.
        **layers : GeoDataFrame
            Other layers by name: ``boundary``, ``grids``, ``candidates``, ``existing``,
            ``fire_lanes``, ``roads``, ``exclusions``, ``compounds``.

        Raises
        ------
        StudyAreaError
            Listing every problem in every layer.
        """
        unknown = sorted(set(layers) - set(LAYER_NAMES))
        if unknown:
            raise StudyAreaError(
                Problem(", ".join(unknown), "unknown layer name(s)", f"use {', '.join(LAYER_NAMES)}")
            )
        raw = RawLayers(frames={"demand": demand, **{k: v for k, v in layers.items() if v is not None}})
        raw.tables = dict(tables or {})
        raw.network_path = Path(network_path) if network_path is not None else None
        return _assemble(raw, name=name, crs=crs, strict=strict, source="memory")

    def layer(self, name: str) -> gpd.GeoDataFrame:
        """Return a copy of layer ``name`` (in :attr:`crs`).

        Raises
        ------
        StudyAreaError
            If the study area has no such layer.
        """
        if name not in self.layers:
            have = ", ".join(self.layers)
            raise StudyAreaError(
                Problem(
                    name,
                    f"the study area {self.name!r} has no {name} layer (it has {have})",
                    f"add a {name} layer",
                )
            )
        return self.layers[name].copy()

    def has(self, name: str) -> bool:
        """Whether the study area has layer ``name``."""
        return name in self.layers

    @property
    def demand(self) -> gpd.GeoDataFrame:
        """The demand layer (a copy), with ``population`` and ``households`` both filled."""
        return self.layer("demand")

    def layer_in(self, name: str, crs: str = "wgs84") -> gpd.GeoDataFrame:
        """Layer ``name`` in an output CRS: ``wgs84`` (default), ``cgcs2000`` or ``gcj02``."""
        return to_output_crs(self.layers[name] if name in self.layers else self.layer(name), crs)

    def totals(self) -> dict[str, float]:
        """Total residents and households of the demand layer."""
        d = self.layers["demand"]
        return {"population": float(d["population"].sum()), "households": float(d["households"].sum())}

    def summary(self) -> dict[str, Any]:
        """Return a JSON-ready summary: layers, feature counts, totals, grid count, real vs modelled layers."""
        layers: dict[str, Any] = {}
        for name, gdf in self.layers.items():
            sources = sorted(map(str, gdf["source"].dropna().unique())) if "source" in gdf.columns else []
            layers[name] = {
                "features": len(gdf),
                "geometry": sorted(map(str, gdf.geom_type.unique())),
                "sources": sources,
            }
        bounds = to_output_crs(self.layers["demand"][["geometry"]], "wgs84").total_bounds
        return {
            "name": self.name,
            "source": self.source,
            "crs": self.crs.to_string(),
            "bounds_wgs84": [round(float(v), 6) for v in bounds],
            "layers": layers,
            "tables": {k: len(v) for k, v in self.tables.items()},
            "network": str(self.network_path) if self.network_path else None,
            **{k: round(v, 1) for k, v in self.totals().items()},
            "grids": len(self.layers["grids"]) if "grids" in self.layers else 0,
            "warnings": [str(w) for w in self.warnings],
        }


def load_study_area(
    path: str | Path, *, crs: Any = None, strict: bool = False, name: str | None = None
) -> StudyArea:
    """Load and validate a study area from disk.

    Parameters
    ----------
    path : str or Path
        A GeoPackage (one layer per name; non-spatial tables such as
        ``population_history`` are kept; a ``metadata`` table with key
        ``network_path`` names an OSM file relative to the GeoPackage), or a
        folder of GeoJSON / Shapefile / GeoPackage / GeoParquet files, or CSV
        files with ``lon`` / ``lat`` columns (WGS84), named after the layers.
        An ``.osm`` / ``.osm.pbf`` file in the folder becomes the street network.
    crs : optional
        Projected CRS for metric work (default: the UTM zone of the data, EPSG:32650 for Nanjing).
    strict : bool
        Reject invalid geometries instead of repairing them with ``make_valid``.
    name : str, optional
        Label; the file or folder name by default.

    Raises
    ------
    StudyAreaError
        One error listing every problem: layer, rows and fix.
    """
    p = Path(path)
    raw = read_layers(p, known=frozenset(LAYER_NAMES))
    return _assemble(raw, name=name or p.stem, crs=crs, strict=strict, source=str(p))


def _assemble(raw: RawLayers, *, name: str, crs: Any, strict: bool, source: str) -> StudyArea:
    report = Report(errors=list(raw.problems))
    for ignored in raw.ignored:
        report.warnings.append(
            Problem(ignored, "not a known layer name; ignored", f"name layers {', '.join(LAYER_NAMES)}")
        )
    if "demand" not in raw.frames and not any(p.where.startswith("demand") for p in report.errors):
        report.errors.append(
            Problem(
                "demand", "the required demand layer is missing", "add a demand layer (points or polygons)"
            )
        )
    checked: dict[str, gpd.GeoDataFrame] = {}
    for lname in LAYER_NAMES:
        if lname in raw.frames:
            gdf = raw.frames[lname]
            if not isinstance(gdf, gpd.GeoDataFrame):
                report.errors.append(Problem(lname, "is not a GeoDataFrame", "pass a geopandas.GeoDataFrame"))
                continue
            checked[lname] = validate_layer(gdf, LAYER_SPECS[lname], report, strict=strict)
    _check_tables(raw.tables, checked, report)
    if raw.network_path is not None and not raw.network_path.exists():
        report.errors.append(
            Problem(
                "network_path", f"{raw.network_path} does not exist", "fix the path or remove the reference"
            )
        )
    if report.errors:
        raise StudyAreaError(report.errors, title=f"invalid study area {name!r}")
    target = metric_crs(checked["demand"], crs)
    projected = {k: _normalise(k, v.to_crs(target)) for k, v in checked.items()}
    check_outside_boundary(projected, report)
    for gdf in projected.values():
        gdf.attrs.clear()
    return StudyArea(
        name=name,
        crs=target,
        layers=MappingProxyType(projected),
        tables=MappingProxyType(dict(raw.tables)),
        network_path=raw.network_path,
        warnings=tuple(report.warnings),
        source=source,
    )


def _normalise(name: str, gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Fill derived columns: demand gets both population and households (2.48 persons each)."""
    gdf = gdf.copy()
    if name == "demand":
        if "population" not in gdf.columns:
            gdf["population"] = gdf["households"].astype(float) * HOUSEHOLD_SIZE
        if "households" not in gdf.columns:
            gdf["households"] = gdf["population"].astype(float) / HOUSEHOLD_SIZE
        if "demand_id" not in gdf.columns:
            gdf["demand_id"] = [f"D{i}" for i in range(len(gdf))]
    return gdf


def _check_tables(
    tables: Mapping[str, pd.DataFrame], layers: Mapping[str, gpd.GeoDataFrame], report: Report
) -> None:
    hist = tables.get("population_history")
    if hist is None:
        return
    missing = [c for c in ("grid_id", "year", "population") if c not in hist.columns]
    if missing:
        report.errors.append(
            Problem(
                "population_history",
                f"missing column(s) {', '.join(missing)}",
                "the table needs grid_id, year, population",
            )
        )
        return
    pop = pd.to_numeric(hist["population"], errors="coerce")
    bad = pop.isna() | (pop < 0)
    if bad.any():
        report.errors.append(
            Problem(
                "population_history.population",
                f"{int(bad.sum())} value(s) are missing, not numbers or negative",
                "use residents >= 0",
                rows=tuple(f"#{i}" for i in hist.index[bad][:20]),
            )
        )
    grids = layers.get("grids")
    if grids is not None and "grid_id" in grids.columns:
        unknown = sorted(set(hist["grid_id"].astype(str)) - set(grids["grid_id"].astype(str)))
        if unknown:
            report.errors.append(
                Problem(
                    "population_history.grid_id",
                    f"{len(unknown)} grid id(s) not in the grids layer",
                    "use grid ids from the grids layer",
                    rows=tuple(unknown[:20]),
                )
            )
