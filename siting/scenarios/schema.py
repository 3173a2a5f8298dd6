"""Scenario files: one pydantic schema for YAML scenarios and API requests, with errors naming the key."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from siting.errors import Problem, ScenarioError

__all__ = [
    "ChargingSettings",
    "FireLaneRules",
    "GrowthSettings",
    "ModelSettings",
    "OutputSettings",
    "PhaseSettings",
    "RuleSettings",
    "Scenario",
    "load_scenario",
    "parse_scenario",
    "scenario_hash",
]

DEMOS = ("jiangbei", "nanjing_central")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OverrideSettings(_Strict):
    """New housing: ``residents`` more people in a grid or a compound (from ``year`` on)."""

    residents: float = Field(ge=0, description="Additional residents.")
    grid_id: str | None = Field(default=None, description="Grid that receives them.")
    compound: str | None = Field(default=None, description="Compound (split over its grids).")
    year: int | None = Field(default=None, description="First year the residents live there.")

    @model_validator(mode="after")
    def _one_target(self) -> OverrideSettings:
        if (self.grid_id is None) == (self.compound is None):
            raise ValueError("give exactly one of grid_id and compound")
        return self


class GrowthSettings(_Strict):
    """Population growth from the study area's ``population_history`` table."""

    families: list[Literal["linear", "log-linear", "poisson", "gradient-boosting"]] = Field(
        default=["linear", "log-linear", "poisson"],
        min_length=1,
        description="Model families compared by cross-validation.",
    )
    band: Literal["low", "mid", "high"] = Field(default="mid", description="Which projection drives demand.")
    overrides: list[OverrideSettings] = Field(default_factory=list, description="New housing.")


class PhaseSettings(_Strict):
    """A phased plan: stations opened earlier stay open."""

    years: list[int] = Field(min_length=1, description="Phase years, increasing (e.g. [2025, 2028, 2030]).")
    sites_per_phase: list[int] | None = Field(default=None, description="New sites allowed in each phase.")
    budgets: list[float] | None = Field(default=None, description="Opening budget of each phase.")

    @model_validator(mode="after")
    def _lengths(self) -> PhaseSettings:
        if self.years != sorted(set(self.years)):
            raise ValueError(f"years must be increasing, got {self.years}")
        if self.sites_per_phase is None and self.budgets is None:
            raise ValueError("give sites_per_phase or budgets")
        for name in ("sites_per_phase", "budgets"):
            values = getattr(self, name)
            if values is not None and len(values) != len(self.years):
                raise ValueError(f"{name} needs one value per year ({len(self.years)}), got {len(values)}")
        return self


class ModelSettings(_Strict):
    """The optimisation question."""

    objective: Literal["max_coverage", "min_sites", "coverage_share", "min_distance", "min_max_distance"] = (
        Field(
            default="max_coverage",
            description=(
                "max_coverage: best p sites or best within a budget (MCLP); min_sites: fewest sites covering all "
                "(LSCP); coverage_share: fewest sites covering coverage_share of households; min_distance: p-median; "
                "min_max_distance: p-center."
            ),
        )
    )
    radius_m: float | None = Field(default=None, gt=0, description="Walking radius in metres.")
    life_circle: Literal["5min", "10min", "15min"] | None = Field(
        default=None, description="GB 50180-2018 preset: 300, 500 or 1,000 m."
    )
    p: int | None = Field(default=None, ge=1, description="Number of sites (existing ones included).")
    budget: float | None = Field(default=None, ge=0, description="Most total opening cost.")
    coverage_share: float | None = Field(default=None, gt=0, le=1, description="Target share of households.")
    method: Literal["auto", "exact", "heuristic"] = "auto"
    time_limit_s: float = Field(default=60.0, gt=0, description="Solver time limit in seconds.")
    curve: list[int] | None = Field(default=None, description="Numbers of sites for the coverage curve.")

    @model_validator(mode="after")
    def _needs(self) -> ModelSettings:
        if (
            self.objective in ("max_coverage", "min_distance", "min_max_distance")
            and self.p is None
            and self.budget is None
        ):
            raise ValueError(f"objective {self.objective} needs p or budget")
        if self.objective == "coverage_share" and self.coverage_share is None:
            raise ValueError("objective coverage_share needs coverage_share (e.g. 0.95)")
        return self

    @property
    def radius(self) -> float:
        """Walking radius in metres (``radius_m``, else the life circle, else 500 m)."""
        presets = {"5min": 300.0, "10min": 500.0, "15min": 1000.0}
        if self.radius_m is not None:
            return self.radius_m
        return presets[self.life_circle] if self.life_circle else 500.0


class RuleSettings(_Strict):
    """Grid rules and existing facilities."""

    grid_rule: Literal["none", "per_grid", "per_group"] = "none"
    grid_groups: dict[str, list[str]] | None = Field(default=None, description="Declared clusters of grids.")
    keep_existing: bool = Field(default=True, description="Existing facilities stay open.")


class FireLaneRules(_Strict):
    """Charging piles and fire lanes."""

    clearance_m: float = Field(default=3.0, ge=0, description="Clear distance beyond a lane's edge.")
    reach_m: float = Field(
        default=50.0, gt=0, description="Most distance from a fire lane (fire-truck reach)."
    )
    default_width_m: float = Field(default=4.0, gt=0, description="Width of lanes without width_m.")


class ChargingSettings(_Strict):
    """Charging-pile demand and sizing."""

    ownership_rate: float = Field(default=0.9, ge=0, le=1, description="E-bikes per household (assumption).")
    no_private_share: float = Field(default=0.6, ge=0, le=1, description="Share without private charging.")
    users_per_pile: float = Field(default=10.0, gt=0, description="E-bikes one pile serves.")
    max_piles_per_site: int = Field(default=20, ge=1, description="Piles in one group.")


class OutputSettings(_Strict):
    """What a run writes."""

    crs: Literal["wgs84", "cgcs2000", "gcj02"] = Field(default="wgs84", description="CRS of sites.geojson.")
    report: bool = True
    service_areas: bool = True


class Scenario(_Strict):
    """A siting scenario: study area, facility type, growth, model, rules and outputs.

    The same schema validates YAML scenario files and API request bodies.
    """

    name: str = Field(min_length=1, max_length=100, pattern=r"^[\w\-. ]+$")
    description: str = ""
    study_area: str = Field(
        description="'demo:jiangbei', 'demo:nanjing_central', or a path relative to the scenario."
    )
    facility_type: Literal["red_station", "charging_pile"]
    target_year: int | None = Field(
        default=None, ge=2000, le=2100, description="Project demand to this year."
    )
    growth: GrowthSettings = Field(default_factory=GrowthSettings)
    phases: PhaseSettings | None = None
    model: ModelSettings
    rules: RuleSettings = Field(default_factory=RuleSettings)
    fire_lanes: FireLaneRules = Field(default_factory=FireLaneRules)
    charging: ChargingSettings = Field(default_factory=ChargingSettings)
    distance: Literal["network", "straight-line"] = "straight-line"
    circuity: float = Field(default=1.0, ge=1.0, le=3.0, description="Straight-line mode: detour factor.")
    outputs: OutputSettings = Field(default_factory=OutputSettings)

    @field_validator("study_area")
    @classmethod
    def _area(cls, v: str) -> str:
        if v.startswith("demo:") and v[5:] not in DEMOS:
            raise ValueError(f"unknown demo {v[5:]!r}; use one of {', '.join('demo:' + d for d in DEMOS)}")
        return v


_FIXES: dict[str, str] = {
    "extra_forbidden": "remove it or check its spelling (every key: docs/scenarios.md)",
    "missing": "add it",
    "literal_error": "use one of the allowed values",
    "int_parsing": "use a whole number",
    "int_type": "use a whole number",
    "int_from_float": "use a whole number",
    "float_parsing": "use a number",
    "float_type": "use a number",
    "bool_parsing": "use true or false",
    "string_type": "use text",
    "list_type": "use a list, e.g. [300, 500]",
    "dict_type": "use a section of keys",
    "model_type": "use a section of keys",
    "finite_number": "use a finite number",
}


def _fix(err: Mapping[str, Any]) -> str:
    """Suggest a fix for one pydantic error, from its type and context (bounds, lengths)."""
    kind, ctx = err["type"], err.get("ctx") or {}
    bounds = {
        "greater_than": f"use a value above {ctx.get('gt')}",
        "greater_than_equal": f"use a value of at least {ctx.get('ge')}",
        "less_than": f"use a value below {ctx.get('lt')}",
        "less_than_equal": f"use a value of at most {ctx.get('le')}",
        "too_short": f"give at least {ctx.get('min_length')} item(s)",
        "too_long": f"give at most {ctx.get('max_length')} item(s)",
    }
    if kind in bounds:
        return bounds[kind]
    if kind in _FIXES:
        return _FIXES[kind]
    return "see the key's description in docs/scenarios.md"


def _problems(exc: ValidationError) -> list[Problem]:
    out = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "scenario"
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        out.append(Problem(where, msg, _fix(err)))
    return out


def parse_scenario(data: Any, *, source: str = "scenario") -> Scenario:
    """Validate a scenario given as a mapping (parsed YAML or a JSON request body).

    Raises
    ------
    ScenarioError
        Listing every problem with its key path (``model.radius_m``) and the allowed values.
    """
    if not isinstance(data, dict):
        raise ScenarioError(
            Problem(
                source,
                f"must be a mapping of keys, got {type(data).__name__}",
                "start with name:, study_area: ...",
            )
        )
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_problems(exc), title=f"invalid scenario {source}") from None


def load_scenario(path: str | Path) -> tuple[Scenario, Path]:
    """Read and validate a YAML scenario; returns it and the folder it lives in (for relative paths).

    Raises
    ------
    ScenarioError
        Missing file, YAML syntax errors (with line), or schema problems.
    """
    p = Path(path)
    if not p.is_file():
        raise ScenarioError(Problem(str(p), "no such scenario file", "give the path of a .yaml scenario"))
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{p.name}:{mark.line + 1}" if mark is not None else p.name
        raise ScenarioError(
            Problem(where, f"is not valid YAML ({getattr(exc, 'problem', exc)})", "fix the syntax")
        ) from None
    return parse_scenario(data, source=p.name), p.parent.resolve()


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 of the scenario's canonical JSON (key order and formatting do not matter)."""
    canon = json.dumps(scenario.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canon.encode()).hexdigest()
