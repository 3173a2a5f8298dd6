"""Run a scenario: study area, growth, distances, model, and the figures a report and the API need."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from siting import __version__
from siting.errors import Problem, ScenarioError, StudyAreaError
from siting.io import read_metadata
from siting.scenario import Scenario, scenario_hash
from siting.study_area import StudyArea, load_study_area

__all__ = [
    "RunResult",
    "check_network",
    "grid_geometry",
    "layer_kind",
    "resolve_study_area",
    "result_hash",
    "run_scenario",
    "with_grid_id",
]

Progress = Callable[[str], None]


@dataclass(frozen=True, eq=False)
class RunResult:
    """Everything one scenario run produced (layers in the study area's metric CRS).

    Attributes
    ----------
    scenario : Scenario
        The validated scenario.
    area : StudyArea
        The study area it ran on.
    sites : GeoDataFrame
        Open sites with ``site_id``, ``rank``, ``existing``, ``grid_id`` and model figures
        (``households_gained`` for red stations, ``piles`` for charging piles ...).
    demand : GeoDataFrame
        Demand points with the weight used (``weight``), ``covered`` and ``site_id`` (the
        serving site, ``""`` when none).
    grids : GeoDataFrame
        Per grid: ``households``, ``covered_share``, ``own_grid_share``, ``stations``.
    service_areas : GeoDataFrame
        Reachable area of each open site within the radius.
    curve : DataFrame
        Coverage against number of sites (``p``, ``covered_share``, ``marginal_per_station``); may be empty.
    phases : DataFrame
        Opening year and coverage per phase; empty without phases.
    summary : mapping
        JSON-ready figures: coverage, solver status and gap, parameters, sources, versions, hashes.
    """

    scenario: Scenario
    area: StudyArea
    sites: gpd.GeoDataFrame
    demand: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    service_areas: gpd.GeoDataFrame
    curve: pd.DataFrame
    phases: pd.DataFrame
    summary: Mapping[str, Any] = field(default_factory=dict)


def resolve_study_area(spec: str, base_dir: Path | None) -> Path:
    """Path of a study area given as ``demo:NAME`` or a path (relative to ``base_dir``).

    Raises
    ------
    ScenarioError
        When the path does not exist.
    """
    if spec.startswith("demo:"):
        from siting.demo import demo_path

        return demo_path(spec[5:])
    path = Path(spec)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if not path.exists():
        raise ScenarioError(
            Problem(
                "study_area", f"{path} does not exist", "give a .gpkg or folder relative to the scenario file"
            )
        )
    return path


@lru_cache(maxsize=4)
def _area(path: str) -> StudyArea:
    return load_study_area(path)


@lru_cache(maxsize=4)
def _network(path: str) -> Any:
    from siting.network import load_network

    return load_network(path)


def _digest(path: Path, extra: Path | None = None) -> str:
    """SHA-256 over the study-area file(s) and, when given, the street-network file."""
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        h.update((f.relative_to(path).as_posix() if path.is_dir() else f.name).encode())
        h.update(f.read_bytes())
    if extra is not None and extra.is_file() and not (path.is_dir() and extra.is_relative_to(path)):
        h.update(b"network:" + extra.name.encode())
        h.update(extra.read_bytes())
    return h.hexdigest()


def layer_kind(sources: list[str]) -> str:
    """Classify a layer by its ``source`` values: real (OSM / published), modelled, proxy or user."""
    if not sources:
        return "unlabelled"
    if set(sources) <= {"osm", "published"}:
        return "real"
    if "proxy" in sources:
        return "proxy"
    if "modelled" in sources:
        return "modelled"
    return "user"


def _data_sources(area: StudyArea, path: Path) -> dict[str, Any]:
    layers = {}
    for name, frame in area.layers.items():
        sources = sorted(map(str, frame["source"].dropna().unique())) if "source" in frame else []
        layers[name] = {"sources": sources, "kind": layer_kind(sources), "features": len(frame)}
    meta = read_metadata(path)
    return {
        "title": meta.get("title", area.name),
        "attribution": meta.get("attribution", ""),
        "assumptions": meta.get("assumptions", ""),
        "layers": layers,
        "tables": {k: len(v) for k, v in area.tables.items()},
    }


def result_hash(sites: pd.DataFrame, summary: Mapping[str, Any]) -> str:
    """SHA-256 of what a run decided: the open site ids and the rounded coverage figures.

    Two runs of the same scenario on the same data give the same hash (timings are left out).
    """
    keys = ("status", "stations", "households", "households_covered", "covered_share", "objective")
    figures = {k: round(float(v), 3) if isinstance(v, int | float) else v for k, v in summary.items()}
    doc = {
        "sites": sorted(map(str, sites["site_id"])) if "site_id" in sites else [],
        "figures": {k: figures.get(k) for k in keys},
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def check_network(scenario: Scenario, area: StudyArea, path: Path) -> None:
    """Raise a ScenarioError naming ``distance`` when a network scenario's study area has no network."""
    if scenario.distance == "network" and area.network_path is None:
        raise ScenarioError(
            Problem(
                "distance",
                f"'network' needs a street network but {path.name} has none",
                "use distance: straight-line",
            )
        )


def run_scenario(
    scenario: Scenario, base_dir: Path | None = None, *, progress: Progress | None = None
) -> RunResult:
    """Run a scenario end to end.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario.
    base_dir : Path, optional
        Folder of the scenario file (relative study-area paths start there).
    progress : callable, optional
        Called with a short message at each step (the CLI shows them).

    Raises
    ------
    ScenarioError, StudyAreaError, InputError
        Bad inputs, named by key; never a partial result.
    """
    say = progress or (lambda _msg: None)
    start = time.perf_counter()
    path = resolve_study_area(scenario.study_area, base_dir)
    say(f"loading study area {path.name}")
    area = _area(str(path.resolve()))
    network = None
    if scenario.distance == "network":
        check_network(scenario, area, path)
        say("loading the street network")
        network = _network(str(area.network_path))
    if scenario.facility_type == "red_station":
        from siting.run_red_stations import run_red_stations

        parts = run_red_stations(scenario, area, network, say)
    else:
        from siting.run_charging import run_charging

        parts = run_charging(scenario, area, network, say)
    say("drawing service areas")
    parts["service_areas"] = _service_areas(scenario, parts["sites"], network)
    summary = dict(parts.pop("summary"))
    summary.update(
        _provenance(
            scenario, area, path, uses_network=network is not None, sites=parts["sites"], figures=summary
        )
    )
    summary["run_seconds"] = round(time.perf_counter() - start, 3)
    return RunResult(scenario=scenario, area=area, summary=summary, **parts)


def _provenance(
    scenario: Scenario,
    area: StudyArea,
    path: Path,
    *,
    uses_network: bool,
    sites: gpd.GeoDataFrame,
    figures: Mapping[str, Any],
) -> dict[str, Any]:
    """Summary entries that say what a run was made from: scenario, data, hashes, sources, versions."""
    network_path = area.network_path if uses_network else None
    data_hash = _digest(path, network_path)
    s_hash = scenario_hash(scenario)
    return {
        "scenario": scenario.model_dump(mode="json"),
        "scenario_hash": s_hash,
        "data_hash": data_hash,
        "inputs_hash": hashlib.sha256(f"{s_hash}:{data_hash}".encode()).hexdigest(),
        "result_hash": result_hash(sites, figures),
        "study_area": {
            "path": str(path),
            "name": area.name,
            "data_hash": data_hash,
            "layers": {
                k: sorted(map(str, v["source"].unique())) if "source" in v else []
                for k, v in area.layers.items()
            },
            "network": str(network_path) if network_path is not None else None,
        },
        "data_sources": _data_sources(area, path),
        "distance": scenario.distance,
        "versions": _versions(),
    }


def _service_areas(scenario: Scenario, sites: gpd.GeoDataFrame, network: Any) -> gpd.GeoDataFrame:
    from siting.service_areas import service_areas

    if not scenario.outputs.service_areas or sites.empty:
        return gpd.GeoDataFrame({"site_id": []}, geometry=[], crs=sites.crs)
    radius = scenario.model.radius
    areas = service_areas(network, sites[["site_id", "geometry"]], radius, circuity=scenario.circuity)
    areas = areas.to_crs(sites.crs)
    areas["site_id"] = sites["site_id"].to_numpy()
    return areas


def _versions() -> dict[str, str]:
    import highspy  # noqa: F401
    import shapely
    import sklearn

    out = {"siting": __version__, "python": platform.python_version()}
    for mod in (np, pd, gpd, shapely, sklearn):
        out[mod.__name__] = str(getattr(mod, "__version__", ""))
    try:
        from importlib.metadata import version

        out["highspy"] = version("highspy")
    except Exception:  # metadata may be missing in odd installs
        out["highspy"] = "unknown"
    return out


def replace_weights(problem: Any, weights: Any) -> Any:
    """Return ``problem`` with new demand weights (a frozen dataclass copy)."""
    return dataclasses.replace(problem, weights=np.asarray(weights, dtype=float))


def ensure_history(area: StudyArea) -> pd.DataFrame:
    """Return the study area's population history, or raise a clear error naming what is missing."""
    if "population_history" not in area.tables:
        raise StudyAreaError(
            Problem(
                "population_history",
                f"{area.name} has no population history table",
                "add one, or remove target_year and phases",
            )
        )
    return area.tables["population_history"]


def grid_geometry(area: StudyArea) -> gpd.GeoDataFrame:
    """Return the grids layer reduced to ``grid_id`` (text), ``street`` / ``community`` and geometry."""
    grids = area.layers["grids"]
    keep = ["grid_id", *[c for c in ("street", "community") if c in grids.columns], "geometry"]
    out = grids[keep].copy()
    for col in keep[:-1]:
        out[col] = out[col].astype(str)
    return out


def with_grid_id(frame: gpd.GeoDataFrame, area: StudyArea) -> gpd.GeoDataFrame:
    """Return ``frame`` with a text ``grid_id`` (by location when missing; ``""`` outside every grid)."""
    out = frame.copy()
    if "grid_id" not in out.columns and area.has("grids"):
        grids = area.layers["grids"][["grid_id", "geometry"]].to_crs(out.crs)
        joined = gpd.sjoin(out[["geometry"]], grids, how="left", predicate="within")
        out["grid_id"] = joined[~joined.index.duplicated(keep="first")]["grid_id"].reindex(out.index)
    if "grid_id" not in out.columns:
        out["grid_id"] = ""
    out["grid_id"] = out["grid_id"].fillna("").astype(str)
    return out
