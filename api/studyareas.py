"""Study areas of a request: server-held ones (preloaded, cached) or inline GeoJSON layers."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from siting.errors import Problem, SitingError, StudyAreaError
from siting.geo.crs import from_output_crs
from siting.geo.study_area import LAYER_NAMES, StudyArea
from siting.network.graph import WalkNetwork
from siting.scenarios import cache
from siting.scenarios.runner import resolve_study_area

from .errors import ApiError, invalid_input
from .openapi import deref
from .present import feature_collection

__all__ = [
    "AreaChoice",
    "FeatureCollection",
    "InlineStudyArea",
    "ServerAreas",
    "cached_area",
    "cached_network",
    "choose_area",
    "frames_from_geojson",
    "study_area_schema",
    "write_inline",
]

LayerName = Literal[
    "boundary",
    "grids",
    "demand",
    "candidates",
    "existing",
    "fire_lanes",
    "roads",
    "exclusions",
    "compounds",
    "streets",
    "buildings",
]


class Feature(BaseModel):
    """A GeoJSON Feature (RFC 7946)."""

    model_config = ConfigDict(extra="allow")
    type: Literal["Feature"]
    geometry: dict[str, Any] | None
    properties: dict[str, Any] | None = None


class FeatureCollection(BaseModel):
    """A GeoJSON FeatureCollection (RFC 7946)."""

    model_config = ConfigDict(extra="allow")
    type: Literal["FeatureCollection"]
    features: list[Feature]


class InlineStudyArea(BaseModel):
    """A study area sent with the request: GeoJSON layers named as in a study-area folder."""

    model_config = ConfigDict(extra="forbid")
    layers: dict[LayerName, FeatureCollection] = Field(
        description="Layers by name; demand is required (points or polygons with population and/or households)."
    )
    tables: dict[Literal["population_history"], list[dict[str, Any]]] = Field(
        default_factory=dict, description="population_history rows: grid_id, year, population."
    )
    crs: Literal["wgs84", "cgcs2000", "gcj02"] = Field(
        default="wgs84",
        description="CRS of the coordinates (GeoJSON is WGS84 lon/lat; GCJ-02 for Chinese web maps).",
    )
    name: str = Field(default="inline", max_length=100, description="A label for the study area.")


def study_area_schema(ids: Iterable[str]) -> dict[str, Any]:
    """JSON Schema of the ``study_area`` input: a server-held id or an inline study area."""
    return {
        "oneOf": [
            {"type": "string", "enum": list(ids), "description": "A study area held by the server."},
            deref(InlineStudyArea.model_json_schema()),
        ]
    }


def cached_area(path: Path) -> StudyArea:
    """Return the study area at ``path``, loaded once per process while its files are unchanged."""
    return cache.study_area(path)


def cached_network(area: StudyArea) -> WalkNetwork | None:
    """Return the street network of a study area, loaded once per process (None when it has none)."""
    return None if area.network_path is None else cache.street_network(area.network_path)


@dataclass
class ServerAreas:
    """Study areas held by the server, by id (``demo:jiangbei`` ...), loaded once at start-up."""

    specs: tuple[str, ...]
    paths: dict[str, Path] = field(default_factory=dict)
    areas: dict[str, StudyArea] = field(default_factory=dict)
    _layers: dict[tuple[str, str, str], bytes] = field(default_factory=dict)
    _summaries: dict[str, dict[str, Any]] = field(default_factory=dict)

    def load(self) -> None:
        """Load every area (blocking; call from a thread)."""
        for spec in self.specs:
            area_id, _, given = spec.partition("=")
            path = resolve_study_area(given or area_id, None)
            self.paths[area_id] = path
            self.areas[area_id] = cached_area(path)

    @property
    def ids(self) -> list[str]:
        """Ids of the server-held areas."""
        return list(self.paths) or [s.partition("=")[0] for s in self.specs]

    def get(self, area_id: str) -> StudyArea:
        """Return the area with this id (404 when the server holds none)."""
        if area_id not in self.areas:
            raise ApiError(
                404, "no-such-study-area", f"no study area {area_id!r}; use one of {', '.join(self.ids)}"
            )
        return self.areas[area_id]

    def summary(self, area_id: str) -> dict[str, Any]:
        """Return the summary of an area (cached; no server paths)."""
        if area_id not in self._summaries:
            summary = self.get(area_id).summary()
            summary.pop("source", None)
            summary.pop("network", None)
            self._summaries[area_id] = summary
        return dict(self._summaries[area_id])

    def layer_json(self, area_id: str, layer: str, crs: str) -> bytes:
        """GeoJSON of one layer in an output CRS (cached)."""
        area = self.get(area_id)
        if not area.has(layer):
            raise ApiError(
                404, "no-such-layer", f"{area_id} has no {layer} layer; it has {', '.join(area.layers)}"
            )
        key = (area_id, layer, crs)
        if key not in self._layers:
            doc = feature_collection(area.layers[layer], crs, name=f"{area_id} {layer}")
            self._layers[key] = json.dumps(doc, ensure_ascii=False).encode()
        return self._layers[key]


@dataclass(frozen=True)
class AreaChoice:
    """The study area of a request: a server-held id, or inline layers (already validated)."""

    area: StudyArea
    ref: str | None = None
    path: Path | None = None
    inline: InlineStudyArea | None = None


def _layer_path(where: str) -> str:
    head = where.split(".", maxsplit=1)[0]
    return f"inputs.study_area.layers.{where}" if head in LAYER_NAMES else f"inputs.study_area.{where}"


def frames_from_geojson(fc: Mapping[str, Any], crs: str, where: str, max_features: int) -> gpd.GeoDataFrame:
    """GeoDataFrame in WGS84 of a FeatureCollection given in ``crs`` (413 beyond ``max_features``)."""
    features = fc.get("features") or []
    if len(features) > max_features:
        raise ApiError(
            413,
            "too-many-features",
            f"{where} has {len(features):,} features; the limit is {max_features:,}",
            errors=[{"path": where, "message": "too many features", "fix": "split the area or send fewer"}],
        )
    try:
        gdf = (
            gpd.GeoDataFrame.from_features(list(features), crs="EPSG:4326")
            if features
            else gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs="EPSG:4326"))
        )
    except Exception as exc:  # shapely raises several types for bad coordinates
        raise invalid_input(
            [Problem(where, f"is not valid GeoJSON ({type(exc).__name__}: {exc})", "send RFC 7946 features")],
            title="invalid GeoJSON",
        ) from None
    return from_output_crs(gdf, crs) if len(gdf) else gdf


def _parse_inline(value: Mapping[str, Any]) -> InlineStudyArea:
    try:
        return InlineStudyArea.model_validate(value)
    except ValidationError as exc:
        problems = [
            Problem(
                ".".join(str(p) for p in e["loc"]) or "study_area", e["msg"], "see the process description"
            )
            for e in exc.errors()
        ]
        raise invalid_input(
            problems, lambda w: f"inputs.study_area.{w}", title="invalid study area"
        ) from None


def _inline_area(inline: InlineStudyArea, max_features: int) -> StudyArea:
    frames = {
        name: frames_from_geojson(
            fc.model_dump(), inline.crs, f"inputs.study_area.layers.{name}", max_features
        )
        for name, fc in inline.layers.items()
    }
    tables: dict[str, pd.DataFrame] = {str(k): pd.DataFrame(v) for k, v in inline.tables.items()}
    if "demand" not in frames:
        raise invalid_input(
            [Problem("demand", "the required demand layer is missing", "add layers.demand")], _layer_path
        )
    try:
        demand = frames.pop("demand")
        return StudyArea.from_frames(demand=demand, name=inline.name, tables=tables, **frames)
    except StudyAreaError as exc:
        raise invalid_input(exc.problems, _layer_path, title="invalid study area") from None
    except SitingError as exc:
        raise invalid_input([Problem("study_area", str(exc), "check the layers")], _layer_path) from None


def choose_area(value: Any, areas: ServerAreas, max_features: int) -> AreaChoice:
    """Resolve the ``study_area`` input (422 or 413 naming the field when it is wrong)."""
    if isinstance(value, str):
        if value not in areas.areas:
            raise invalid_input(
                [
                    Problem(
                        "study_area", f"unknown study area {value!r}", f"use one of {', '.join(areas.ids)}"
                    )
                ],
                lambda w: f"inputs.{w}",
                title="invalid inputs",
            )
        return AreaChoice(area=areas.areas[value], ref=value, path=areas.paths[value])
    if isinstance(value, Mapping):
        inline = _parse_inline(value)
        return AreaChoice(area=_inline_area(inline, max_features), inline=inline)
    raise invalid_input(
        [Problem("study_area", "must be a server-held id or an object with layers", "e.g. 'demo:jiangbei'")],
        lambda w: f"inputs.{w}",
        title="invalid inputs",
    )


def write_inline(choice: AreaChoice, folder: Path) -> Path:
    """Write an inline study area as a folder of layer files (WGS84 GeoJSON, CSV tables) for the runner."""
    assert choice.inline is not None
    folder.mkdir(parents=True, exist_ok=True)
    for name, gdf in choice.area.layers.items():
        gdf.to_crs("EPSG:4326").to_file(folder / f"{name}.geojson", driver="GeoJSON")
    for name, table in choice.area.tables.items():
        table.to_csv(folder / f"{name}.csv", index=False)
    return folder
