"""Scenario steps for grid red stations: growth, the chosen objective, phases, curve and assignments."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely

from siting.adapters import cost_from_geodataframes
from siting.demand.growth import GrowthFit, Override, apply_overrides, fit_growth, scale_demand
from siting.geo.study_area import StudyArea
from siting.models.base import SolveOptions, SolveResult, frozen_array
from siting.models.coverage.lscp import LSCP
from siting.models.median.pcenter import PCenter
from siting.models.median.pmedian import PMedian
from siting.planning.red_stations import (
    RedStationPlan,
    RedStationProblem,
    best_stations,
    coverage_curve,
    fewest_stations_for_share,
    phased_stations,
    plan_from_result,
    prepare_red_stations,
)
from siting.scenarios.schema import Scenario
from siting.scenarios.steps import ensure_history, grid_geometry, replace_weights

__all__ = ["nearest_assignment", "run_red_stations"]


def run_red_stations(
    scenario: Scenario, area: StudyArea, network: Any, say: Callable[[str], None]
) -> dict[str, Any]:
    """Run a red-station scenario; returns the parts of a :class:`~siting.scenarios.runner.RunResult`."""
    m = scenario.model
    say(f"coverage within {m.radius:g} m ({scenario.distance})")
    problem = prepare_red_stations(
        area,
        radius_m=m.radius,
        network=network,
        grid_rule=scenario.rules.grid_rule,
        grid_groups=scenario.rules.grid_groups,
        circuity=scenario.circuity,
    )
    if not scenario.rules.keep_existing:
        problem = _drop_existing(problem)
    fit = None
    summary: dict[str, Any] = {}
    if scenario.target_year is not None or scenario.phases is not None:
        say("fitting the growth model")
        fit = fit_growth(ensure_history(area), families=tuple(scenario.growth.families))
        summary["growth"] = fit.summary()
    if scenario.target_year is not None and fit is not None:
        proj = _projection(scenario, area, fit, scenario.target_year)
        problem = replace_weights(
            problem, scale_demand(problem.demand, proj, band=scenario.growth.band)["households"]
        )
        summary["growth"]["target_year"] = scenario.target_year
        summary["growth"]["projected_households"] = round(float(problem.weights.sum()), 1)
    phases = pd.DataFrame()
    if scenario.phases is not None and fit is not None:
        say(f"phased plan {scenario.phases.years}")
        plan, phases = _phased(scenario, area, fit, problem)
    else:
        say(f"solving {m.objective}")
        plan = _solve(scenario, problem)
    curve = pd.DataFrame()
    if m.curve:
        say(f"coverage curve for p = {m.curve}")
        curve = coverage_curve(problem, m.curve, method=m.method, time_limit=m.time_limit_s)
    summary.update(plan.summary)
    summary["facility_type"] = "red_station"
    return {
        "sites": gpd.GeoDataFrame(plan.sites, crs=area.crs).reset_index(drop=True),
        "demand": _demand_out(problem, np.asarray(plan.result.selected)),
        "grids": _grids_out(area, plan),
        "curve": curve,
        "phases": phases,
        "summary": summary,
    }


def _drop_existing(problem: RedStationProblem) -> RedStationProblem:
    keep = ~problem.sites["existing"].to_numpy()
    idx = np.flatnonzero(keep)
    remap = {int(old): new for new, old in enumerate(idx)}
    groups = {
        k: np.array([remap[int(j)] for j in v if int(j) in remap], dtype=np.int64)
        for k, v in problem.groups.items()
    }

    return dataclasses.replace(
        problem,
        sites=problem.sites.iloc[idx].reset_index(drop=True),
        coverage=sp.csr_array(problem.coverage[:, idx]),
        fixed=np.empty(0, dtype=np.int64),
        groups=groups,
    )


def _projection(scenario: Scenario, area: StudyArea, fit: GrowthFit, year: int) -> pd.DataFrame:
    proj = fit.project(year)
    if scenario.growth.overrides:
        grids = area.layers.get("grids")
        compounds = (
            dict(zip(grids["grid_id"].astype(str), grids["compound"].astype(str), strict=True))
            if grids is not None and "compound" in grids.columns
            else {}
        )
        overrides = [Override(**o.model_dump()) for o in scenario.growth.overrides]
        proj = apply_overrides(proj, overrides, grid_compound=compounds)
    return proj


def _options(m: Any) -> SolveOptions:
    """Return the solve options of a scenario's ``model`` section."""
    return SolveOptions(method=m.method, time_limit=m.time_limit_s)


def _solve(scenario: Scenario, problem: RedStationProblem) -> RedStationPlan:
    m = scenario.model
    if m.objective == "coverage_share":
        assert m.coverage_share is not None  # checked by the schema
        return fewest_stations_for_share(problem, m.coverage_share, time_limit=m.time_limit_s)
    if m.objective == "max_coverage":
        return best_stations(problem, p=m.p, budget=m.budget, method=m.method, time_limit=m.time_limit_s)
    if m.objective == "min_sites":
        model = LSCP.from_coverage(problem.coverage, fixed=problem.fixed, groups=dict(problem.groups) or None)
        return plan_from_result(problem, model.solve(_options(m)))

    cost, _ = cost_from_geodataframes(
        problem.demand, problem.sites, cutoff=None, weight_column=None, circuity=scenario.circuity
    )
    if m.objective == "min_distance":
        med = PMedian.from_cost_matrix(
            cost, p=m.p, weights=problem.weights, fixed=problem.fixed, groups=dict(problem.groups) or None
        )
        return plan_from_result(problem, med.solve(_options(m)))

    cen = PCenter.from_cost_matrix(cost, p=m.p, fixed=problem.fixed, groups=dict(problem.groups) or None)
    return plan_from_result(problem, cen.solve(_options(m)))


def _phased(
    scenario: Scenario, area: StudyArea, fit: GrowthFit, problem: RedStationProblem
) -> tuple[RedStationPlan, pd.DataFrame]:
    ph = scenario.phases
    assert ph is not None
    projections = [_projection(scenario, area, fit, y) for y in ph.years]
    plan, sites = phased_stations(
        problem,
        projections,
        sites_per_phase=ph.sites_per_phase,
        budgets=ph.budgets,
        band=scenario.growth.band,
        time_limit=scenario.model.time_limit_s,
    )
    last = replace_weights(
        problem, scale_demand(problem.demand, projections[-1], band=scenario.growth.band)["households"]
    )
    selected = np.asarray(plan.selected)
    result = SolveResult(
        model="PhasedMCLP",
        status="optimal" if plan.status == "optimal" else "time_limit",
        objective=float(plan.phase_covered_weight[-1]),
        bound=float("nan") if plan.status != "optimal" else float(plan.phase_covered_weight[-1]),
        gap=plan.gap,
        selected=frozen_array(selected),
        assignment=frozen_array(np.full(len(problem.demand), -1)),
        load=frozen_array(np.zeros(len(problem.sites))),
        covered_weight=float(plan.phase_covered_weight[-1]),
        total_weight=float(plan.phase_total_weight[-1]),
        solve_seconds=plan.solve_seconds,
        solver=plan.solver,
        method="exact",
    )
    final = plan_from_result(last, result)
    opens = dict(zip(sites["site_id"], sites["opens_in"], strict=True))
    final.sites["opens_in"] = final.sites["site_id"].map(opens)
    table = pd.DataFrame(
        {
            "year": list(plan.years),
            "stations": [len(s) for s in plan.phase_selected],
            "new_stations": np.diff([problem.fixed.size, *[len(s) for s in plan.phase_selected]]),
            "households": plan.phase_total_weight,
            "households_covered": plan.phase_covered_weight,
            "covered_share": plan.phase_covered_share,
        }
    )
    return final, table


def nearest_assignment(problem: RedStationProblem, selected: np.ndarray) -> np.ndarray:
    """Index of the nearest open site covering each demand point (straight line); -1 when uncovered."""
    sel = np.asarray(selected, dtype=np.int64)
    out = np.full(len(problem.demand), -1, dtype=np.int64)
    if sel.size == 0:
        return out
    rows, cols = sp.csr_array(problem.coverage[:, sel]).nonzero()
    if rows.size == 0:
        return out
    d = shapely.distance(
        problem.demand.geometry.to_numpy()[rows], problem.sites.geometry.to_numpy()[sel[cols]]
    )
    order = np.lexsort((d, rows))
    first = np.ones(order.size, dtype=bool)
    first[1:] = rows[order][1:] != rows[order][:-1]
    out[rows[order][first]] = sel[cols[order][first]]
    return out


def _demand_out(problem: RedStationProblem, selected: np.ndarray) -> gpd.GeoDataFrame:
    assign = nearest_assignment(problem, selected)
    site_ids = problem.sites["site_id"].to_numpy()
    keep = [
        c
        for c in ("demand_id", "grid_id", "population", "households", "geometry")
        if c in problem.demand.columns
    ]
    out = problem.demand[keep].copy()
    out["weight"] = problem.weights
    out["covered"] = assign >= 0
    out["site_id"] = np.where(assign >= 0, site_ids[np.maximum(assign, 0)], "")
    out["households_served"] = np.where(assign >= 0, problem.weights, 0.0)
    out["unserved"] = np.where(assign >= 0, 0.0, problem.weights)
    return out.reset_index(drop=True)


def _grids_out(area: StudyArea, plan: RedStationPlan) -> gpd.GeoDataFrame:
    table = plan.grids
    if area.has("grids"):
        return gpd.GeoDataFrame(grid_geometry(area).merge(table, on="grid_id", how="inner"), crs=area.crs)
    return gpd.GeoDataFrame(table, geometry=gpd.GeoSeries([None] * len(table)), crs=area.crs)
