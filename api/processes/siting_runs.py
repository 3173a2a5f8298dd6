"""Processes ``site-red-stations`` and ``site-charging-piles``: a scenario run through :func:`run_scenario`."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from siting.geo.study_area import StudyArea
from siting.scenarios.runner import RunResult, run_scenario

from ..present import feature_collection, table
from ..studyareas import write_inline
from .base import Context, OutputSpec, Process, Reporter, build, check_pairs, check_time
from .common import (
    FC_SCHEMA,
    SUMMARY,
    TABLE_SCHEMA,
    Prepared,
    Steps,
    common_inputs,
    describe_inputs,
    prepare,
    public_summary,
)
from .inputs import InputSpec, ScenarioInputs

__all__ = ["CHARGING_PILES", "RED_STATIONS", "present_run"]


def _spec(facility_type: str) -> ScenarioInputs:
    inputs = common_inputs()
    inputs["model"] = InputSpec(
        "Model",
        "The question: objective (max_coverage, min_sites, coverage_share, min_distance, min_max_distance), "
        "radius_m or life_circle, p, budget, coverage_share, method, time_limit_s, curve.",
        target="model",
        required=True,
    )
    inputs["rules"] = InputSpec(
        "Rules", "Grid rule, grid groups and whether existing sites stay.", target="rules"
    )
    inputs["target_year"] = InputSpec("Target year", "Project demand to this year.", target="target_year")
    inputs["growth"] = InputSpec("Growth", "Growth model families, band and new housing.", target="growth")
    if facility_type == "red_station":
        inputs["phases"] = InputSpec("Phases", "A phased plan: years and sites per phase.", target="phases")
    else:
        inputs["fire_lanes"] = InputSpec(
            "Fire lanes", "Clearance, reach and default width.", target="fire_lanes"
        )
        inputs["charging"] = InputSpec(
            "Charging", "E-bike ownership, sizing and piles per site.", target="charging"
        )
    fixed: dict[str, Any] = {
        "facility_type": facility_type,
        "name": f"site-{facility_type.replace('_', '-')}s",
    }
    fixed["outputs.report"] = False
    return ScenarioInputs(inputs=inputs, fixed=fixed)


RED_SPEC = _spec("red_station")
CHARGING_SPEC = _spec("charging_pile")

SITE_OUTPUTS = {
    "sites": OutputSpec(
        "Suggested sites",
        "Points with rank (priority, 1 first), grid_id, existing, households_gained (households newly "
        "covered, red stations), households_in_reach, piles and users_served (charging piles).",
        FC_SCHEMA,
    ),
    "service_areas": OutputSpec("Service areas", "Area within the radius of each site (site_id).", FC_SCHEMA),
    "grids": OutputSpec(
        "Grid table",
        "Per grid polygon: households, covered_share, own_grid_share, stations (and piles).",
        FC_SCHEMA,
    ),
    "curve": OutputSpec(
        "Coverage curve", "Rows p, covered_share, marginal_per_station (model.curve).", TABLE_SCHEMA
    ),
    "phases": OutputSpec(
        "Phases", "Rows year, stations, new_stations, covered_share (phases).", TABLE_SCHEMA
    ),
    "summary": SUMMARY,
}


def _sites_of(area: StudyArea, facility_type: str) -> int:
    n = 0
    for name in ("candidates", "existing"):
        if area.has(name):
            layer = area.layers[name]
            n += (
                int((layer["facility_type"] == facility_type).sum())
                if "facility_type" in layer
                else len(layer)
            )
    return n


def _checker(spec: ScenarioInputs, facility_type: str) -> Any:
    def check(inputs: Mapping[str, Any], ctx: Context) -> Prepared:
        prep = prepare(spec, inputs, ctx)
        check_time(prep.scenario.model.time_limit_s, ctx)
        area = prep.choice.area
        check_pairs(len(area.layers["demand"]), _sites_of(area, facility_type), ctx)
        return prep

    return check


def present_run(result: RunResult, prep: Prepared, ctx: Context) -> dict[str, Any]:
    """Return the results document of a scenario run (the outputs asked for)."""
    crs = prep.scenario.outputs.crs
    return build(
        ctx,
        {
            "sites": lambda: feature_collection(result.sites, crs, name="sites"),
            "service_areas": lambda: feature_collection(result.service_areas, crs, name="service_areas"),
            "grids": lambda: feature_collection(result.grids, crs, name="grids"),
            "curve": lambda: table(result.curve),
            "phases": lambda: table(result.phases),
            "summary": lambda: public_summary(result.summary, prep.choice),
        },
    )


def _runner(check: Any) -> Any:
    def run(inputs: Mapping[str, Any], ctx: Context, report: Reporter) -> dict[str, Any]:
        prep: Prepared = check(inputs, ctx)
        scenario = prep.scenario
        if not ctx.wants("service_areas"):
            outputs = scenario.outputs.model_copy(update={"service_areas": False})
            scenario = scenario.model_copy(update={"outputs": outputs})
        with tempfile.TemporaryDirectory(prefix="siting-job-") as tmp:
            if prep.choice.inline is not None:
                folder = write_inline(prep.choice, Path(tmp) / "area")
                scenario = scenario.model_copy(update={"study_area": str(folder)})
            result = run_scenario(scenario, progress=Steps(report))
            report(95, "presenting results")
            return present_run(result, prep, ctx)

    return run


_red_check = _checker(RED_SPEC, "red_station")
_charging_check = _checker(CHARGING_SPEC, "charging_pile")

RED_STATIONS = Process(
    id="site-red-stations",
    title="Site grid red stations",
    description=(
        "Suggest grid red stations (网格红色驿站): the best p sites, the fewest for all or a share of "
        "households, p-median or p-center, with grid rules, growth and phases."
    ),
    inputs=lambda ctx: describe_inputs(RED_SPEC, ctx),
    outputs=SITE_OUTPUTS,
    example={
        "inputs": {
            "study_area": "demo:jiangbei",
            "model": {"objective": "max_coverage", "life_circle": "10min", "p": 20},
            "crs": "wgs84",
        }
    },
    check=_red_check,
    run=_runner(_red_check),
    keywords=("red station", "MCLP", "LSCP", "coverage", "Jiangbei"),
)

CHARGING_PILES = Process(
    id="site-charging-piles",
    title="Site e-bike charging piles",
    description=(
        "Suggest e-bike charging-pile sites beside (never on) fire lanes, with piles per site sized to "
        "the e-bikes of the households in reach (capacitated MCLP)."
    ),
    inputs=lambda ctx: describe_inputs(CHARGING_SPEC, ctx),
    outputs=SITE_OUTPUTS,
    example={
        "inputs": {
            "study_area": "demo:jiangbei",
            "model": {"objective": "max_coverage", "radius_m": 300, "p": 20},
            "fire_lanes": {"clearance_m": 3, "reach_m": 50},
        }
    },
    check=_charging_check,
    run=_runner(_charging_check),
    keywords=("charging pile", "fire lane", "capacitated MCLP", "Jiangbei"),
)
