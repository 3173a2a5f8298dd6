"""Plain-language facts of a run for the reports: assumptions, parameters and the headline figures."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from siting.geo.study_area import HOUSEHOLD_SIZE
from siting.reports.html import fmt_int, fmt_num, fmt_share

__all__ = ["HOUSEHOLD_SIZE", "assumption_items", "objective_label"]


def objective_label(scenario: Mapping[str, Any]) -> str:
    """Plain-language statement of a scenario's optimisation question."""
    m = scenario.get("model", {})
    obj = m.get("objective")
    limit = f"{m['p']} sites" if m.get("p") else f"a budget of {fmt_num(m.get('budget'))}"
    labels = {
        "max_coverage": f"most households covered with {limit} (maximal covering, MCLP)",
        "min_sites": "fewest sites that cover every household (set covering, LSCP)",
        "coverage_share": f"fewest sites that cover {fmt_share(m.get('coverage_share'), 0)} of households",
        "min_distance": f"least total walking distance with {limit} (p-median)",
        "min_max_distance": f"shortest longest walk with {limit} (p-center)",
    }
    if scenario.get("facility_type") == "charging_pile" and obj == "max_coverage":
        return f"most e-bike users served by pile groups with {limit} (capacitated MCLP)"
    return labels.get(str(obj), str(obj))


def _distance_text(summary: Mapping[str, Any]) -> str:
    sc = summary.get("scenario", {})
    if summary.get("distance", sc.get("distance")) == "network":
        return (
            "walking distance along the street network (shortest paths; sites and homes snapped to streets)"
        )
    circuity = float(sc.get("circuity", 1.0))
    extra = f" x circuity {circuity:g} (detour factor)" if circuity != 1.0 else " (no detour factor)"
    return f"straight-line distance{extra}"


def _model_items(summary: Mapping[str, Any]) -> list[tuple[str, Any]]:
    sc = summary.get("scenario", {})
    m = sc.get("model", {})
    rules = sc.get("rules", {})
    return [
        ("Facility type", sc.get("facility_type")),
        ("Question", objective_label(sc)),
        ("Walking radius", f"{fmt_int(summary.get('radius_m'))} m"),
        ("Distance", _distance_text(summary)),
        ("Number of sites p", m.get("p")),
        ("Budget", m.get("budget")),
        (
            "Target share of households",
            fmt_share(m.get("coverage_share"), 0) if m.get("coverage_share") else None,
        ),
        ("Existing facilities", "stay open" if rules.get("keep_existing", True) else "ignored"),
        ("Grid rule", rules.get("grid_rule", "none")),
        (
            "Solver",
            f"{summary.get('solver', '–')} ({m.get('method', 'auto')}, time limit {m.get('time_limit_s')} s)",
        ),
        ("Solver status and gap", f"{summary.get('status', '–')}, gap {fmt_share(summary.get('gap'), 3)}"),
        ("Households per person", f"{HOUSEHOLD_SIZE} persons per household when only one is given"),
    ]


def _growth_items(summary: Mapping[str, Any]) -> list[tuple[str, Any]]:
    sc = summary.get("scenario", {})
    growth = summary.get("growth")
    if not growth:
        return [("Demand", "households as in the study area (no projection)")]
    errors = growth.get("cv_error_percent", {})
    cv = ", ".join(f"{k} {v:.1f} %" for k, v in errors.items()) if isinstance(errors, dict) else ""
    overrides = sc.get("growth", {}).get("overrides", [])
    phases = sc.get("phases") or {}
    return [
        ("Target year", growth.get("target_year", sc.get("target_year"))),
        ("Growth model", f"{growth.get('family')} (chosen by rolling-origin cross-validation: {cv})"),
        ("Projection band", sc.get("growth", {}).get("band")),
        ("Projected households", fmt_int(growth.get("projected_households"))),
        ("New housing", f"{len(overrides)} override(s)" if overrides else None),
        ("Phases", ", ".join(map(str, phases.get("years", []))) or None),
        ("New sites per phase", ", ".join(map(str, phases.get("sites_per_phase") or [])) or None),
    ]


def _charging_items(summary: Mapping[str, Any]) -> list[tuple[str, Any]]:
    sc = summary.get("scenario", {})
    if sc.get("facility_type") != "charging_pile":
        return []
    c, fl = sc.get("charging", {}), sc.get("fire_lanes", {})
    return [
        ("E-bikes per household", f"{c.get('ownership_rate')} (assumption)"),
        ("Share without private charging", c.get("no_private_share")),
        ("E-bikes one pile serves", c.get("users_per_pile")),
        ("Most piles per site", c.get("max_piles_per_site")),
        ("Fire-lane clearance", f"lane width / 2 + {fmt_num(fl.get('clearance_m'))} m (never on a lane)"),
        ("Fire-truck reach", f"within {fmt_num(fl.get('reach_m'))} m of a fire lane"),
        ("Lanes without width", f"{fmt_num(fl.get('default_width_m'))} m wide"),
        (
            "Candidates kept by the rules",
            f"{fmt_int(summary.get('candidates_eligible'))} of {fmt_int(summary.get('candidates'))}",
        ),
    ]


def assumption_items(summary: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Label / value pairs of every assumption and parameter behind a run's figures."""
    src = summary.get("data_sources", {})
    return [
        *_model_items(summary),
        *_growth_items(summary),
        *_charging_items(summary),
        ("Study-area assumptions", src.get("assumptions")),
    ]
