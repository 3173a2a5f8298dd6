"""Run a scenario: study area, growth, distances, model, and the figures a report and the API need."""

from __future__ import annotations

import dataclasses
import hashlib
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
from siting.scenario import Scenario, scenario_hash
from siting.study_area import StudyArea, load_study_area

__all__ = ["RunResult", "resolve_study_area", "run_scenario"]

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


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()


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
        if area.network_path is None:
            raise ScenarioError(
                Problem(
                    "distance",
                    f"'network' needs a street network but {path.name} has none",
                    "use distance: straight-line",
                )
            )
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
        {
            "scenario": scenario.model_dump(mode="json"),
            "scenario_hash": scenario_hash(scenario),
            "study_area": {
                "path": str(path),
                "name": area.name,
                "data_hash": _digest(path),
                "layers": {
                    k: sorted(map(str, v["source"].unique())) if "source" in v else []
                    for k, v in area.layers.items()
                },
                "network": str(area.network_path) if network is not None else None,
            },
            "distance": scenario.distance,
            "versions": _versions(),
            "run_seconds": round(time.perf_counter() - start, 3),
        }
    )
    return RunResult(scenario=scenario, area=area, summary=summary, **parts)


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
