"""Run a scenario: study area, growth, distances, model, and the figures a report and the API need."""

from __future__ import annotations

import hashlib
import json
import platform
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siting import __version__
from siting.demo import demo_path
from siting.errors import Problem, ScenarioError
from siting.geo.io import read_metadata
from siting.geo.study_area import StudyArea
from siting.network.graph import WalkNetwork
from siting.network.service_areas import service_areas
from siting.scenarios import cache
from siting.scenarios.charging import run_charging
from siting.scenarios.red_stations import run_red_stations
from siting.scenarios.schema import Scenario, scenario_hash
from siting.scenarios.steps import grid_geometry, with_grid_id

__all__ = [
    "RUNS",
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
#: ``run(scenario, area, network, say) -> parts``: the steps of each facility type.
RunSteps = Callable[[Scenario, StudyArea, WalkNetwork | None, Progress], dict[str, Any]]
#: The run steps of each facility type (``scenario.facility_type``).
RUNS: Mapping[str, RunSteps] = {"red_station": run_red_stations, "charging_pile": run_charging}


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
    area = cache.study_area(path)
    network = None
    if scenario.distance == "network":
        check_network(scenario, area, path)
        say("loading the street network")
        assert area.network_path is not None  # check_network raised otherwise
        network = cache.street_network(area.network_path)
    parts = RUNS[scenario.facility_type](scenario, area, network, say)
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
    if not scenario.outputs.service_areas or sites.empty:
        return gpd.GeoDataFrame({"site_id": []}, geometry=[], crs=sites.crs)
    radius = scenario.model.radius
    areas = service_areas(network, sites[["site_id", "geometry"]], radius, circuity=scenario.circuity)
    areas = areas.to_crs(sites.crs)
    areas["site_id"] = sites["site_id"].to_numpy()
    return areas


def _versions() -> dict[str, str]:
    out = {"siting": __version__, "python": platform.python_version()}
    for mod in (np, pd, gpd, shapely):
        out[mod.__name__] = str(getattr(mod, "__version__", ""))
    for key, dist in (("sklearn", "scikit-learn"), ("highspy", "highspy")):
        try:
            out[key] = version(dist)
        except Exception:  # metadata may be missing in odd installs
            out[key] = "unknown"
    return out
