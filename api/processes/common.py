"""Pieces shared by the processes: common inputs, output schemas, progress steps and summaries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from siting.errors import Problem
from siting.scenarios.schema import Scenario

from ..errors import ApiError, invalid_input
from ..studyareas import AreaChoice, choose_area, study_area_schema
from .base import Context, OutputSpec, Reporter
from .inputs import InputSpec, ScenarioInputs

__all__ = [
    "FC_SCHEMA",
    "SUMMARY",
    "TABLE_SCHEMA",
    "Prepared",
    "Steps",
    "describe_inputs",
    "prepare",
    "public_summary",
    "study_area_input",
]

FC_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "GeoJSON FeatureCollection (RFC 7946), lon/lat in the crs input; crs_name names it.",
    "required": ["type", "features"],
    "properties": {
        "type": {"type": "string", "enum": ["FeatureCollection"]},
        "features": {"type": "array", "items": {"type": "object"}},
        "crs_name": {"type": "string", "enum": ["wgs84", "cgcs2000", "gcj02"]},
    },
}
TABLE_SCHEMA: dict[str, Any] = {"type": "array", "items": {"type": "object"}}
SUMMARY = OutputSpec(
    "Summary",
    "Households, households covered and their share, sites, radius, distance mode, solver status and gap.",
    {"type": "object"},
)


def study_area_input() -> InputSpec:
    """Return the ``study_area`` input (its schema lists the server-held areas when described)."""
    return InputSpec(
        "Study area",
        "A study area held by the server ('demo:jiangbei', 'demo:nanjing_central'), or inline GeoJSON "
        "layers {layers: {demand: FeatureCollection, candidates: ..., grids: ...}, crs: 'wgs84'}.",
        target="study_area",
        required=True,
    )


def common_inputs() -> dict[str, InputSpec]:
    """Return the inputs every scenario-based process takes."""
    return {
        "study_area": study_area_input(),
        "name": InputSpec("Name", "A label for the run (letters, digits, - . and spaces).", target="name"),
        "distance": InputSpec(
            "Distance", "straight-line (times circuity) or network (the area's streets).", target="distance"
        ),
        "circuity": InputSpec("Circuity", "Straight-line mode: detour factor (1-3).", target="circuity"),
        "crs": InputSpec(
            "Output CRS",
            "CRS of every GeoJSON output: wgs84 (default, RFC 7946), cgcs2000 (EPSG:4490) or gcj02.",
            target="outputs.crs",
        ),
        "service_areas": InputSpec(
            "Service areas", "Whether to draw the service area of each site.", target="outputs.service_areas"
        ),
    }


def describe_inputs(spec: ScenarioInputs, ctx: Context) -> dict[str, Any]:
    """OGC input descriptions, with the study-area schema naming the server-held areas."""
    area_schema = study_area_schema(ctx.areas.ids)
    return {
        name: inp.describe(area_schema) if name == "study_area" else inp.describe()
        for name, inp in spec.inputs.items()
    }


@dataclass(frozen=True)
class Prepared:
    """A checked request: the validated scenario and the study area."""

    scenario: Scenario
    choice: AreaChoice


def area_ref(choice: AreaChoice) -> str:
    """Return what the scenario's ``study_area`` says: the demo id, the server path, or ``inline``."""
    if choice.ref is None:
        return "inline"
    if choice.ref.startswith("demo:"):
        return choice.ref
    return str(choice.path)


def prepare(
    spec: ScenarioInputs,
    inputs: Mapping[str, Any],
    ctx: Context,
    overrides: Mapping[str, Any] | None = None,
) -> Prepared:
    """Check the inputs, resolve the study area and validate the scenario; 422 lists every problem at once."""
    errors: list[Mapping[str, Any]] = []
    unknown = spec.unknown(inputs)
    if unknown:
        errors += invalid_input(unknown, lambda w: f"inputs.{w}").errors
    choice = None
    if "study_area" in inputs:
        try:
            choice = choose_area(inputs["study_area"], ctx.areas, ctx.limits.max_features)
        except ApiError as exc:
            if exc.status != 422:
                raise
            errors += exc.errors
    try:
        ref = area_ref(choice) if choice is not None else "inline"
        scenario = spec.scenario(inputs, {"study_area": ref, **dict(overrides or {})})
        if scenario.distance == "network" and choice is not None and choice.area.network_path is None:
            fix = "use distance: straight-line, or a study area with a street network (demo:nanjing_central)"
            errors.append(
                {"path": "inputs.distance", "message": "this study area has no street network", "fix": fix}
            )
    except ApiError as exc:
        errors += exc.errors
    if errors or choice is None:
        unique, seen = [], set()
        for entry in errors:  # "missing" can come from both checks
            if entry["path"] not in seen:
                seen.add(entry["path"])
                unique.append(entry)
        n = len(unique)
        raise ApiError(
            422, "invalid-input", f"invalid inputs: {n} problem{'s' if n != 1 else ''}", errors=unique
        )
    return Prepared(scenario=scenario, choice=choice)


def bad_input(where: str, message: str, fix: str, rows: tuple[str, ...] = ()) -> Exception:
    """422 for one input problem (``where`` relative to ``inputs``)."""
    return invalid_input(
        [Problem(where, message, fix, rows)], lambda w: f"inputs.{w}", title="invalid inputs"
    )


class Steps:
    """Turn the runner's step messages into job progress (5 % up to 90 %, then 95 % presenting)."""

    def __init__(self, report: Reporter, start: int = 5, step: int = 15) -> None:
        self.report = report
        self.percent = start
        self.step = step

    def __call__(self, message: str) -> None:
        """Record the next step."""
        self.report(self.percent, message)
        self.percent = min(90, self.percent + self.step)


def public_summary(summary: Mapping[str, Any], choice: AreaChoice) -> dict[str, Any]:
    """Return the run summary without server paths (the study area is named by its id, or ``inline``)."""
    out = dict(summary)
    ref = choice.ref or "inline"
    area = dict(out.get("study_area") or {})
    if area:
        area["path"] = ref
        area["network"] = bool(area.get("network"))
        out["study_area"] = area
    if isinstance(out.get("scenario"), Mapping):
        out["scenario"] = {**out["scenario"], "study_area": ref}
    out["study_area_id"] = ref
    return out


def outputs_doc(specs: Mapping[str, OutputSpec]) -> dict[str, Any]:
    """OGC output descriptions."""
    return {name: spec.describe() for name, spec in specs.items()}
