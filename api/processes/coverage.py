"""Processes ``evaluate-coverage`` (given sites) and ``coverage-curve`` (coverage against number of sites)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from siting.geo.study_area import StudyArea
from siting.models.base import SolveResult
from siting.network.service_areas import service_areas
from siting.planning.red_stations import (
    RedStationProblem,
    coverage_curve,
    plan_from_result,
    prepare_red_stations,
)
from siting.scenarios.schema import Scenario

from ..present import feature_collection, table
from ..studyareas import cached_network, frames_from_geojson
from .base import Context, OutputSpec, Process, Reporter, build, check_pairs, check_time
from .common import (
    FC_SCHEMA,
    SUMMARY,
    TABLE_SCHEMA,
    Prepared,
    bad_input,
    common_inputs,
    describe_inputs,
    prepare,
)
from .inputs import InputSpec, ScenarioInputs

__all__ = ["COVERAGE_CURVE", "EVALUATE_COVERAGE"]

_SITES_SCHEMA: dict[str, Any] = {
    "oneOf": [
        {
            "type": "array",
            "items": {"type": "string"},
            "minItems": 1,
            "description": "site_id values of the study area's candidates or existing sites.",
        },
        {**FC_SCHEMA, "description": "GeoJSON Points in the crs input; optional site_id property."},
    ]
}


def _evaluate_spec() -> ScenarioInputs:
    inputs = common_inputs()
    inputs["sites"] = InputSpec(
        "Sites", "The sites to evaluate: ids, or GeoJSON points.", schema=_SITES_SCHEMA, required=True
    )
    inputs["radius_m"] = InputSpec("Radius", "Walking radius in metres.", target="model.radius_m")
    inputs["life_circle"] = InputSpec(
        "Life circle", "5min, 10min or 15min (300, 500, 1,000 m).", target="model.life_circle"
    )
    fixed: dict[str, Any] = {
        "facility_type": "red_station",
        "name": "evaluate-coverage",
        "model.objective": "max_coverage",
    }
    fixed["outputs.report"] = False
    return ScenarioInputs(inputs=inputs, fixed=fixed)


def _curve_spec() -> ScenarioInputs:
    inputs = common_inputs()
    del inputs["crs"], inputs["service_areas"]
    inputs["p_values"] = InputSpec(
        "Numbers of sites", "Numbers of stations to solve for.", target="model.curve", required=True
    )
    inputs["radius_m"] = InputSpec("Radius", "Walking radius in metres.", target="model.radius_m")
    inputs["life_circle"] = InputSpec(
        "Life circle", "5min, 10min or 15min (300, 500, 1,000 m).", target="model.life_circle"
    )
    inputs["method"] = InputSpec("Method", "auto, exact (HiGHS) or heuristic.", target="model.method")
    inputs["time_limit_s"] = InputSpec(
        "Time limit", "Solver seconds for each p.", target="model.time_limit_s"
    )
    inputs["rules"] = InputSpec(
        "Rules", "Grid rule and grid groups (existing stations always count).", target="rules"
    )
    fixed: dict[str, Any] = {
        "facility_type": "red_station",
        "name": "coverage-curve",
        "model.objective": "max_coverage",
    }
    fixed["outputs.report"] = False
    fixed["outputs.service_areas"] = False
    return ScenarioInputs(inputs=inputs, fixed=fixed)


EVALUATE_SPEC = _evaluate_spec()
CURVE_SPEC = _curve_spec()


def _sites_by_id(area: StudyArea, ids: list[Any]) -> gpd.GeoDataFrame:
    if not all(isinstance(i, str) for i in ids):
        raise bad_input("sites", "site ids must be strings", "send e.g. ['rs00203', 'rs00291']")
    frames = [
        area.layers[name].assign(existing=name == "existing")
        for name in ("existing", "candidates")
        if area.has(name)
    ]
    known = pd.concat(frames, ignore_index=True).drop_duplicates("site_id") if frames else pd.DataFrame()
    index = {str(s): i for i, s in enumerate(known.get("site_id", []))}
    wanted = list(dict.fromkeys(ids))
    unknown = tuple(i for i in wanted if i not in index)
    if unknown:
        raise bad_input(
            "sites",
            f"{len(unknown)} unknown site id(s)",
            "use site_id values of candidates or existing",
            unknown,
        )
    rows = known.iloc[[index[i] for i in wanted]]
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=area.crs).reset_index(drop=True)


def _sites_from_points(
    area: StudyArea, fc: Mapping[str, Any], crs: str, max_features: int
) -> gpd.GeoDataFrame:
    if fc.get("type") != "FeatureCollection" or not isinstance(fc.get("features"), list):
        raise bad_input(
            "sites", "must be a list of site ids or a GeoJSON FeatureCollection", "see the example"
        )
    gdf = frames_from_geojson(fc, crs, "inputs.sites", max_features)
    if gdf.empty:
        raise bad_input("sites", "no features", "send at least one point")
    not_points = tuple(f"#{i}" for i, t in enumerate(gdf.geom_type) if t != "Point")
    if not_points:
        raise bad_input("sites", "every site must be a Point", "send Point geometries", not_points)
    if "site_id" not in gdf.columns:
        gdf["site_id"] = [f"S{i + 1}" for i in range(len(gdf))]
    gdf["site_id"] = gdf["site_id"].fillna("").astype(str)
    dupes = tuple(sorted(set(gdf["site_id"][gdf["site_id"].duplicated()])))
    if dupes:
        raise bad_input("sites", "duplicate site_id values", "give every point its own site_id", dupes)
    gdf["existing"] = False
    return gdf.to_crs(area.crs)


def _evaluate_check(inputs: Mapping[str, Any], ctx: Context) -> tuple[Prepared, gpd.GeoDataFrame]:
    given = inputs.get("sites")
    n = 1
    if isinstance(given, list):
        n = len(given)
    elif isinstance(given, Mapping) and isinstance(given.get("features"), list):
        n = len(given["features"])
    prep = prepare(EVALUATE_SPEC, inputs, ctx, {"model.p": max(n, 1)})
    area = prep.choice.area
    if isinstance(given, list):
        sites = _sites_by_id(area, given)
    elif isinstance(given, Mapping):
        sites = _sites_from_points(area, given, prep.scenario.outputs.crs, ctx.limits.max_features)
    else:
        raise bad_input(
            "sites", "must be a list of site ids or a GeoJSON FeatureCollection", "see the example"
        )
    if len(sites) > ctx.limits.max_features:
        raise bad_input(
            "sites", f"{len(sites):,} sites exceed the limit of {ctx.limits.max_features:,}", "send fewer"
        )
    check_pairs(len(area.layers["demand"]), len(sites), ctx, "sites")
    return prep, sites


def _network(prep: Prepared, where: str = "distance") -> Any:
    if prep.scenario.distance != "network":
        return None
    network = cached_network(prep.choice.area)
    if network is None:
        raise bad_input(
            where, "'network' needs a street network and this study area has none", "use straight-line"
        )
    return network


def _problem(area: StudyArea, sites: gpd.GeoDataFrame, scenario: Scenario, network: Any) -> RedStationProblem:
    layers = {k: v for k, v in area.layers.items() if k != "existing"}
    layers["candidates"] = sites.assign(facility_type="red_station")
    given = dataclasses.replace(area, layers=MappingProxyType(layers))
    return prepare_red_stations(
        given, radius_m=scenario.model.radius, network=network, circuity=scenario.circuity
    )


def _all_open(problem: RedStationProblem) -> SolveResult:
    """Evaluate every given site open with the red-station MCLP itself (no solve)."""
    n_sites = problem.coverage.shape[1]
    return problem.model(p=n_sites).evaluate(np.arange(n_sites))


def _grids(area: StudyArea, grid_rows: pd.DataFrame) -> gpd.GeoDataFrame:
    if not area.has("grids"):
        return gpd.GeoDataFrame(grid_rows, geometry=gpd.GeoSeries([None] * len(grid_rows)), crs=area.crs)
    geo = area.layers["grids"][["grid_id", "geometry"]].assign(grid_id=lambda f: f["grid_id"].astype(str))
    return gpd.GeoDataFrame(geo.merge(grid_rows, on="grid_id", how="inner"), crs=area.crs)


def _service_areas(network: Any, sites: gpd.GeoDataFrame, scenario: Scenario) -> gpd.GeoDataFrame:

    if not scenario.outputs.service_areas or sites.empty:
        return gpd.GeoDataFrame({"site_id": []}, geometry=[], crs=sites.crs)
    out = service_areas(
        network, sites[["site_id", "geometry"]], scenario.model.radius, circuity=scenario.circuity
    )
    out = out.to_crs(sites.crs)
    out["site_id"] = sites["site_id"].to_numpy()
    return out


def _evaluate_run(inputs: Mapping[str, Any], ctx: Context, report: Reporter) -> dict[str, Any]:
    prep, sites = _evaluate_check(inputs, ctx)
    sc, area = prep.scenario, prep.choice.area
    report(10, f"coverage of {len(sites)} site(s) within {sc.model.radius:g} m ({sc.distance})")
    network = _network(prep)
    problem = _problem(area, sites, sc, network)
    plan = plan_from_result(problem, _all_open(problem))
    types = dict(
        zip(
            sites["site_id"].astype(str),
            sites.get("facility_type", pd.Series(["given"] * len(sites))),
            strict=True,
        )
    )
    existing = dict(zip(sites["site_id"].astype(str), sites["existing"], strict=True))
    ranked = plan.sites.assign(
        facility_type=plan.sites["site_id"].map(types).fillna("given"),
        existing=plan.sites["site_id"].map(existing).fillna(False).astype(bool),
    )
    report(60, "drawing service areas")
    areas = _service_areas(network, ranked, sc) if ctx.wants("service_areas") else ranked.iloc[:0]
    report(90, "presenting results")
    s = plan.summary
    summary = {
        "sites": len(ranked),
        "households": s["households"],
        "households_covered": s["households_covered"],
        "covered_share": s["covered_share"],
        "households_uncovered": round(s["households"] - s["households_covered"], 3),
        "grids_without_coverage": int((plan.grids["covered_share"] == 0).sum()),
        "radius_m": sc.model.radius,
        "distance": sc.distance,
        "study_area_id": prep.choice.ref or "inline",
        "crs": sc.outputs.crs,
    }
    crs = sc.outputs.crs
    return build(
        ctx,
        {
            "sites": lambda: feature_collection(
                ranked.drop(columns=["cost"], errors="ignore"), crs, name="sites"
            ),
            "service_areas": lambda: feature_collection(areas, crs, name="service_areas"),
            "grids": lambda: feature_collection(_grids(area, plan.grids), crs, name="grids"),
            "summary": lambda: summary,
        },
    )


def _p_values(inputs: Mapping[str, Any]) -> list[int]:
    if "p_values" not in inputs:
        return []  # reported as missing by prepare()
    values = inputs["p_values"]
    if not isinstance(values, list) or not values or not all(type(v) is int for v in values):
        raise bad_input("p_values", "must be a non-empty list of whole numbers", "e.g. [5, 10, 20]")
    if min(values) < 1 or len(values) > 50:
        raise bad_input("p_values", "needs 1 to 50 numbers, each >= 1", "e.g. [5, 10, 20]")
    return [int(v) for v in values]


def _curve_check(inputs: Mapping[str, Any], ctx: Context) -> Prepared:
    values = _p_values(inputs)
    p = max(values, default=1)
    prep = prepare(CURVE_SPEC, inputs, ctx, {"model.p": p})
    check_time(prep.scenario.model.time_limit_s * len(values), ctx)
    if not prep.scenario.rules.keep_existing:
        raise bad_input(
            "rules.keep_existing", "the coverage curve always counts existing stations", "remove it"
        )
    area = prep.choice.area
    n_sites = sum(len(area.layers[k]) for k in ("candidates", "existing") if area.has(k))
    if p > n_sites:
        raise bad_input(
            "p_values", f"{p} exceeds the {n_sites} sites of the study area", "use smaller numbers"
        )
    check_pairs(len(area.layers["demand"]), n_sites, ctx)
    return prep


def _curve_run(inputs: Mapping[str, Any], ctx: Context, report: Reporter) -> dict[str, Any]:
    prep = _curve_check(inputs, ctx)
    sc = prep.scenario
    m = sc.model
    report(10, f"coverage within {m.radius:g} m ({sc.distance})")
    problem = prepare_red_stations(
        prep.choice.area,
        radius_m=m.radius,
        network=_network(prep),
        grid_rule=sc.rules.grid_rule,
        grid_groups=sc.rules.grid_groups,
        circuity=sc.circuity,
    )
    report(30, f"solving for p = {m.curve}")
    curve = coverage_curve(problem, m.curve or [], method=m.method, time_limit=m.time_limit_s)
    report(95, "presenting results")
    summary = {
        "households": round(problem.total_households, 3),
        "radius_m": m.radius,
        "distance": sc.distance,
        "grid_rule": sc.rules.grid_rule,
        "best_share": float(curve["covered_share"].max()) if len(curve) else None,
        "study_area_id": prep.choice.ref or "inline",
    }
    return {"curve": table(curve), "summary": summary}


EVALUATE_COVERAGE = Process(
    id="evaluate-coverage",
    title="Evaluate coverage of given sites",
    description=(
        "Households within the radius of given sites (existing or proposed; site ids or GeoJSON points): "
        "sites ranked by households newly covered, the per-grid table and service areas."
    ),
    inputs=lambda ctx: describe_inputs(EVALUATE_SPEC, ctx),
    outputs={
        "sites": OutputSpec(
            "Sites", "The given sites with rank, households_gained, households_in_reach, grid_id.", FC_SCHEMA
        ),
        "service_areas": OutputSpec("Service areas", "Area within the radius of each site.", FC_SCHEMA),
        "grids": OutputSpec(
            "Grid table", "Per grid: households, covered_share, own_grid_share, stations.", FC_SCHEMA
        ),
        "summary": SUMMARY,
    },
    example={
        "inputs": {
            "study_area": "demo:jiangbei",
            "sites": ["rs00203", "rs00291", "rs00275", "rs00323", "rs00256"],
            "life_circle": "10min",
        }
    },
    check=lambda inputs, ctx: _evaluate_check(inputs, ctx)[0],
    run=_evaluate_run,
    keywords=("coverage", "evaluation", "existing sites"),
)

COVERAGE_CURVE = Process(
    id="coverage-curve",
    title="Coverage curve of red stations",
    description="Share of households covered against the number of red stations (best p for each p).",
    inputs=lambda ctx: describe_inputs(CURVE_SPEC, ctx),
    outputs={
        "curve": OutputSpec(
            "Coverage curve",
            "Rows p, status, households_covered, bound, gap, covered_share, marginal_per_station.",
            TABLE_SCHEMA,
        ),
        "summary": SUMMARY,
    },
    example={"inputs": {"study_area": "demo:jiangbei", "p_values": [5, 10, 20], "life_circle": "10min"}},
    check=_curve_check,
    run=_curve_run,
    keywords=("coverage curve", "MCLP", "red station"),
)
