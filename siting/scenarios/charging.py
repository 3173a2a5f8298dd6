"""Scenario steps for e-bike charging piles: growth, fire-lane rules, capacitated siting, per-grid figures."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from siting.demand.growth import fit_growth, scale_demand
from siting.errors import InputError, Problem
from siting.geo.study_area import StudyArea
from siting.planning.charging import plan_charging_piles
from siting.scenarios.schema import Scenario
from siting.scenarios.steps import ensure_history, grid_geometry, with_grid_id

__all__ = ["run_charging"]


def run_charging(
    scenario: Scenario, area: StudyArea, network: Any, say: Callable[[str], None]
) -> dict[str, Any]:
    """Run a charging-pile scenario; returns the parts of a :class:`~siting.scenarios.runner.RunResult`."""
    m = scenario.model
    if m.objective not in ("max_coverage",):
        raise InputError(
            Problem(
                "model.objective",
                f"{m.objective} is not available for charging piles",
                "use max_coverage (with p, budget or neither)",
            )
        )
    if scenario.phases is not None:
        raise InputError(
            Problem("phases", "phased plans are available for red stations only", "remove phases")
        )
    summary: dict[str, Any] = {}
    if scenario.target_year is not None:
        say("fitting the growth model")
        fit = fit_growth(ensure_history(area), families=tuple(scenario.growth.families))
        demand = scale_demand(
            area.layer("demand"), fit.project(scenario.target_year), band=scenario.growth.band
        )
        area = _with_demand(area, demand)
        summary["growth"] = {**fit.summary(), "target_year": scenario.target_year}
    c, fl = scenario.charging, scenario.fire_lanes
    say(f"charging piles within {m.radius:g} m, fire-lane rules")
    plan = plan_charging_piles(
        area,
        radius_m=m.radius,
        p=m.p,
        budget=m.budget,
        ownership_rate=c.ownership_rate,
        no_private_share=c.no_private_share,
        users_per_pile=c.users_per_pile,
        max_piles_per_site=c.max_piles_per_site,
        clearance_m=fl.clearance_m,
        reach_m=fl.reach_m,
        default_width_m=fl.default_width_m,
        require_compound=area.has("compounds"),
        network=network,
        circuity=scenario.circuity,
        keep_existing=scenario.rules.keep_existing,
        method=m.method,
        time_limit=m.time_limit_s,
    )
    res = plan.solve
    cov = plan.coverage
    summary.update(
        {
            "facility_type": "charging_pile",
            **{k: v for k, v in cov.items() if isinstance(v, int | float | str | bool)},
            # the figures every report and comparison reads (households served by a pile group)
            "households": cov.get("households_total", 0.0),
            "households_covered": cov.get("households_served", 0.0),
            "covered_share": cov.get("households_served_share", 0.0),
            "parameters": {
                k: v for k, v in plan.parameters.items() if isinstance(v, int | float | str | bool | None)
            },
            "status": res.status,
            "objective": res.objective,
            "bound": res.bound,
            "gap": res.gap,
            "solver": res.solver,
            "solve_seconds": res.solve_seconds,
            "radius_m": m.radius,
            "stations": len(plan.sites),
        }
    )
    demand = _demand_out(area, plan.assignment)
    sites = with_grid_id(gpd.GeoDataFrame(plan.sites, crs=area.crs).reset_index(drop=True), area)
    return {
        "sites": sites,
        "demand": demand,
        "grids": _grids_out(area, demand, plan.assignment, sites),
        "curve": pd.DataFrame(),
        "phases": pd.DataFrame(),
        "summary": summary,
    }


def _with_demand(area: StudyArea, demand: gpd.GeoDataFrame) -> StudyArea:

    layers = dict(area.layers)
    layers["demand"] = demand
    return dataclasses.replace(area, layers=MappingProxyType(layers))


def _demand_out(area: StudyArea, assignment: pd.DataFrame) -> gpd.GeoDataFrame:
    """Demand points with the main serving site, households served and households left unserved."""
    d = with_grid_id(area.layer("demand"), area) if area.has("grids") else area.layer("demand")
    keep = [c for c in ("demand_id", "grid_id", "population", "households", "geometry") if c in d.columns]
    out = d[keep].copy().reset_index(drop=True)
    main = assignment.sort_values(["demand_id", "users"], ascending=[True, False]).drop_duplicates(
        "demand_id"
    )
    served = assignment.groupby("demand_id")["users"].sum()
    served_hh = assignment.groupby("demand_id")["households"].sum()
    out["weight"] = out["demand_id"].map(served).fillna(0.0).to_numpy(float)
    out["site_id"] = (
        out["demand_id"].map(dict(zip(main["demand_id"], main["site_id"], strict=True))).fillna("")
    )
    out["covered"] = out["site_id"] != ""
    hh = out["households"].to_numpy(float)
    out["households_served"] = np.minimum(out["demand_id"].map(served_hh).fillna(0.0).to_numpy(float), hh)
    out["unserved"] = np.clip(hh - out["households_served"].to_numpy(float), 0.0, None).round(6)
    return out


def _grids_out(
    area: StudyArea, demand: gpd.GeoDataFrame, assignment: pd.DataFrame, sites: gpd.GeoDataFrame
) -> gpd.GeoDataFrame:
    """Per grid: households, share served, share served by a pile group in the same grid, sites, piles."""
    if "grid_id" not in demand.columns or not area.has("grids"):
        return gpd.GeoDataFrame({"grid_id": []}, geometry=[], crs=area.crs)
    site_grid = dict(zip(sites["site_id"], sites["grid_id"], strict=True)) if "grid_id" in sites else {}
    demand_grid = dict(zip(demand["demand_id"], demand["grid_id"], strict=True))
    pairs = assignment.assign(
        grid_id=assignment["demand_id"].map(demand_grid),
        own=assignment["site_id"].map(site_grid).fillna("#") == assignment["demand_id"].map(demand_grid),
    )
    own = pairs.loc[pairs["own"]].groupby("grid_id")["households"].sum()
    t = demand.groupby("grid_id")[["households", "households_served"]].sum()
    piles = sites.groupby("grid_id")["piles"].sum() if "grid_id" in sites else pd.Series(dtype=float)
    stations = sites["grid_id"].value_counts() if "grid_id" in sites else pd.Series(dtype=int)
    hh = t["households"].where(t["households"] > 0)
    table = pd.DataFrame(
        {
            "grid_id": t.index.astype(str),
            "households": t["households"].round(3).to_numpy(),
            "covered_share": (t["households_served"] / hh).fillna(0.0).clip(0.0, 1.0).to_numpy(),
            "own_grid_share": (own.reindex(t.index).fillna(0.0) / hh).fillna(0.0).clip(0.0, 1.0).to_numpy(),
            "stations": stations.reindex(t.index).fillna(0).astype(int).to_numpy(),
            "piles": piles.reindex(t.index).fillna(0).astype(int).to_numpy(),
        }
    )
    return gpd.GeoDataFrame(grid_geometry(area).merge(table, on="grid_id", how="inner"), crs=area.crs)
