"""E-bike charging-pile plans: demand from households and reports, fire-lane-safe sites, piles per site."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp

from siting.demand.hotspots import ReportDemand
from siting.errors import InfeasibleError, Problem, StudyAreaError, raise_if_problems
from siting.geo.crs import to_output_crs
from siting.models.base import Method, SolveOptions, SolveResult
from siting.models.coverage.capacitated import CapacitatedMCLP
from siting.models.solvers.formulations import transportation_lp
from siting.network.fire_lanes import DEFAULT_LANE_WIDTH_M
from siting.network.matrices import cost_matrix
from siting.planning.charging_demand import (
    DEFAULT_MAX_PILES_PER_SITE,
    DEFAULT_NO_PRIVATE_SHARE,
    DEFAULT_OWNERSHIP_RATE,
    DEFAULT_RADIUS_M,
    DEFAULT_USERS_PER_PILE,
    charging_demand,
    check_demand_parameters,
    number,
)
from siting.planning.charging_results import coverage_figures, site_table
from siting.planning.charging_rules import (
    DEFAULT_CLEARANCE_M,
    DEFAULT_REACH_M,
    RULES,
    check_rule_parameters,
    fire_lane_rules,
)

__all__ = [
    "DEFAULT_MAX_PILES_PER_SITE",
    "DEFAULT_NO_PRIVATE_SHARE",
    "DEFAULT_OWNERSHIP_RATE",
    "DEFAULT_RADIUS_M",
    "DEFAULT_USERS_PER_PILE",
    "ChargingPlan",
    "charging_demand",
    "plan_charging_piles",
]


@dataclass(frozen=True, eq=False)
class ChargingPlan:
    """A charging-pile plan.

    Parameters
    ----------
    sites : GeoDataFrame
        Open sites (metric CRS of the study area): ``site_id``, ``piles``, ``households_served``,
        ``users_served`` (e-bikes), ``mean_walk_m`` (users-weighted), ``max_walk_m``, ``grid_id``,
        ``compound``, ``rank`` (1 = most users), ``existing``, ``lane_distance_m``, ``nearest_lane``,
        ``clearance_margin_m``, ``exclusion_distance_m``; point geometry.
    coverage : mapping
        Figures: demand, users and households served and within the radius, shares, sites, piles,
        candidates kept and rejected per rule.
    parameters : mapping
        Every rule parameter and default used.
    solve : SolveResult
        The capacitated MCLP result (indices refer to :attr:`candidates` rows with ``eligible``).
    candidates : GeoDataFrame
        Every candidate with its rule columns (see :func:`siting.planning.charging_rules.fire_lane_rules`).
    assignment : DataFrame
        Served demand: ``demand_id``, ``site_id``, ``users``, ``households``, ``walk_m`` (one row per
        demand-site pair with a positive share).
    report : ReportDemand or None
        The report evidence added to demand, when reports were given.
    """

    sites: gpd.GeoDataFrame
    coverage: Mapping[str, Any]
    parameters: Mapping[str, Any]
    solve: SolveResult
    candidates: gpd.GeoDataFrame
    assignment: pd.DataFrame
    report: ReportDemand | None = None

    def __repr__(self) -> str:
        """Summarise the plan in one line (the tables are shown by their own attributes)."""
        cov = self.coverage
        return (
            f"ChargingPlan({len(self.sites)} sites, {cov.get('piles', 0):,} piles, "
            f"{cov.get('users_served_share', 0.0):.1%} of e-bike users served, "
            f"status={self.solve.status!r}, gap={self.solve.gap:.2%})"
        )

    def sites_geojson(self, crs: str = "wgs84") -> dict[str, Any]:
        """Return the sites as a GeoJSON FeatureCollection in ``crs`` (``wgs84`` lon/lat by default)."""
        out = to_output_crs(self.sites, crs)
        return dict(json.loads(out.to_json(na="null", drop_id=True)))

    def summary(self) -> dict[str, Any]:
        """JSON-ready figures: coverage, solver status and the parameters used."""
        s = self.solve
        return {
            "coverage": dict(self.coverage),
            "solver": {
                "model": s.model,
                "status": s.status,
                "method": s.method,
                "solver": s.solver,
                "objective": s.objective,
                "bound": s.bound,
                "gap": s.gap,
                "seconds": s.solve_seconds,
            },
            "parameters": {k: v for k, v in self.parameters.items() if k != "report_options"}
            | {"report_options": dict(self.parameters.get("report_options", {}))},
        }


def _check_plan_parameters(opts: Mapping[str, Any]) -> list[Problem]:
    """Every problem with the plan's scalar parameters."""
    problems = check_demand_parameters(opts["ownership_rate"], opts["no_private_share"])
    problems += check_rule_parameters(
        clearance_m=opts["clearance_m"], reach_m=opts["reach_m"], default_width_m=opts["default_width_m"]
    )
    r = number(opts["radius_m"])
    if r is None or r <= 0:
        problems.append(
            Problem("radius_m", f"must be a positive number of metres, got {opts['radius_m']!r}", "e.g. 200")
        )
    upp = number(opts["users_per_pile"])
    if upp is None or upp <= 0:
        problems.append(Problem("users_per_pile", f"must be > 0, got {opts['users_per_pile']!r}", "e.g. 6"))
    mp = opts["max_piles_per_site"]
    if not (isinstance(mp, int | np.integer) and not isinstance(mp, bool) and mp >= 1):
        problems.append(Problem("max_piles_per_site", f"must be an integer >= 1, got {mp!r}", "e.g. 30"))
    p = opts["p"]
    if p is not None and not (isinstance(p, int | np.integer) and not isinstance(p, bool) and p >= 1):
        problems.append(Problem("p", f"must be an integer >= 1 or None, got {p!r}", "e.g. 300"))
    b = opts["budget"]
    if b is not None and ((number(b) or 0) <= 0):
        problems.append(Problem("budget", f"must be > 0 or None, got {b!r}", "the total cost of the sites"))
    c = number(opts["circuity"])
    if c is None or c < 1:
        problems.append(Problem("circuity", f"must be >= 1, got {opts['circuity']!r}", "1.0 to 1.6"))
    if opts["method"] not in ("auto", "exact", "heuristic"):
        problems.append(Problem("method", f"unknown method {opts['method']!r}", "auto, exact or heuristic"))
    t = opts["time_limit"]
    if t is not None and ((number(t) or 0) <= 0):
        problems.append(Problem("time_limit", f"must be > 0 seconds or None, got {t!r}", "e.g. 30"))
    return problems


def _candidates(area: Any, facility_type: str, keep_existing: bool) -> tuple[gpd.GeoDataFrame, list[Problem]]:
    """Charging candidates of the study area, with existing charging points appended (``existing``)."""
    problems = [
        Problem(name, "the study area has no such layer", f"add a {name} layer")
        for name in ("demand", "candidates", "fire_lanes")
        if not area.has(name)
    ]
    if problems:
        return gpd.GeoDataFrame(), problems
    cand = area.layer("candidates")
    if "facility_type" in cand.columns:
        cand = cand[cand["facility_type"] == facility_type]
    cand = cand.assign(existing=False)
    if keep_existing and area.has("existing"):
        ex = area.layer("existing")
        ex = ex[ex["facility_type"] == facility_type].assign(existing=True)
        cand = pd.concat([ex, cand], ignore_index=True)
    if "site_id" not in cand.columns:
        cand["site_id"] = [f"cand{i}" for i in range(len(cand))]
    if not len(cand):
        problems.append(
            Problem(
                "candidates",
                f"no candidates with facility_type == {facility_type!r}",
                "add charging candidates",
            )
        )
    return gpd.GeoDataFrame(cand.reset_index(drop=True), geometry="geometry", crs=area.crs), problems


def _reassign(
    cost: sp.csr_array, users: np.ndarray, capacity: np.ndarray, selected: np.ndarray, served: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Least total walking distance serving at least ``served`` users from the open sites (an LP).

    Returns the pairs ``(rows, cols, share, walk_m)`` with a positive share.
    """
    sub = cost[:, selected].tocoo()
    keep = users[sub.row] > 0
    rows, local, dist = sub.row[keep], sub.col[keep], sub.data[keep]
    k = rows.size
    if k == 0:
        return rows, local, np.zeros(0), dist
    target = served * (1 - 1e-7) - 1e-6
    sol = transportation_lp(
        rows, local, users[rows], capacity[selected], n_demand=users.size, unit_cost=dist, min_served=target
    )
    if not sol.has_solution:
        raise InfeasibleError("the walking-distance assignment LP found no solution for the chosen sites")
    x = np.clip(sol.x, 0.0, 1.0)
    pos = x > 1e-9
    return rows[pos], selected[local[pos]], x[pos], dist[pos]


def plan_charging_piles(
    area: Any,
    *,
    radius_m: float = DEFAULT_RADIUS_M,
    p: int | None = None,
    budget: float | None = None,
    ownership_rate: float = DEFAULT_OWNERSHIP_RATE,
    no_private_share: float = DEFAULT_NO_PRIVATE_SHARE,
    users_per_pile: float = DEFAULT_USERS_PER_PILE,
    max_piles_per_site: int = DEFAULT_MAX_PILES_PER_SITE,
    clearance_m: float = DEFAULT_CLEARANCE_M,
    reach_m: float = DEFAULT_REACH_M,
    default_width_m: float = DEFAULT_LANE_WIDTH_M,
    require_compound: bool = True,
    reports: pd.DataFrame | None = None,
    report_options: Mapping[str, Any] | None = None,
    network: Any = None,
    circuity: float = 1.0,
    keep_existing: bool = True,
    facility_type: str = "charging_pile",
    method: Method = "auto",
    time_limit: float | None = None,
    seed: int = 0,
) -> ChargingPlan:
    """Plan e-bike charging piles that respect every fire-lane rule.

    1. Demand: e-bikes needing a public charging point per demand point (:func:`charging_demand`).
    2. Sites: charging candidates (``facility_type == "charging_pile"``, plus compliant existing
       charging points kept open when ``keep_existing``) that pass every rule of
       :func:`siting.planning.charging_rules.fire_lane_rules`: inside a compound, not in an exclusion, outside
       every lane's clearance (``width / 2 + clearance_m``) and within ``reach_m`` of a lane.
    3. Capacity: each site holds at most ``max_piles_per_site`` piles of ``users_per_pile`` e-bikes;
       :class:`~siting.models.coverage.capacitated.CapacitatedMCLP` picks the sites serving the most
       e-bikes within ``radius_m`` (at most ``p`` sites and/or the ``budget`` over the candidates'
       ``cost`` column). Without ``p`` and ``budget`` any number of eligible sites may open.
    4. Assignment: an LP re-assigns the served e-bikes to the open sites with the least total
       walking distance, without serving fewer; each site gets ``ceil(users / users_per_pile)`` piles.

    Parameters
    ----------
    area : StudyArea
        Needs ``demand`` (households), ``candidates``, ``fire_lanes``, and ``compounds`` unless
        ``require_compound=False``; ``exclusions``, ``grids`` and ``existing`` are used when present.
    radius_m : float
        Walking radius from a demand point to its charging site, metres (> 0).
    p : int, optional
        Most sites (existing ones included).
    budget : float, optional
        Most total ``cost`` of the sites (candidates' ``cost`` column; 1 per site without it).
    ownership_rate, no_private_share : float
        Demand parameters, shares in [0, 1] (see the module constants for sources).
    users_per_pile : float
        E-bikes one pile serves (> 0).
    max_piles_per_site : int
        Piles per group (site), >= 1.
    clearance_m, reach_m, default_width_m : float
        Fire-lane rule parameters, metres.
    require_compound : bool
        Check rule (1); a study area without ``compounds`` then raises.
    reports, report_options
        Residents' reports and the options of :func:`~siting.demand.hotspots.add_report_demand`.
    network : WalkNetwork, optional
        Walking network for distances; straight lines times ``circuity`` when None.
    circuity : float
        Straight-line mode: network / straight-line distance ratio (>= 1).
    keep_existing : bool
        Keep compliant existing charging points open (fixed sites).
    facility_type : str
        Candidate type used.
    method : {"auto", "exact", "heuristic"}
        Solver path of the capacitated MCLP.
    time_limit : float, optional
        Seconds for the solver.
    seed : int
        Solver seed.

    Returns
    -------
    ChargingPlan

    Raises
    ------
    InputError
        Listing every bad parameter (negative radius, ownership rate above 1, users per pile <= 0, ...).
    StudyAreaError
        When a required layer is missing.
    InfeasibleError
        When no candidate passes the rules.
    """
    opts = {k: v for k, v in locals().items() if k not in ("area", "reports", "network")}
    problems = _check_plan_parameters(opts)
    raise_if_problems(problems, title="invalid charging-pile plan parameters")
    cand, layer_problems = _candidates(area, facility_type, keep_existing)
    if require_compound and not area.has("compounds"):
        layer_problems.append(
            Problem(
                "compounds", "the study area has no compounds layer", "add it or pass require_compound=False"
            )
        )
    raise_if_problems(layer_problems, error=StudyAreaError)
    demand = area.layer("demand")
    users, report = charging_demand(
        demand,
        ownership_rate=ownership_rate,
        no_private_share=no_private_share,
        reports=reports,
        report_options=report_options,
    )
    ruled = fire_lane_rules(
        cand,
        area.layer("fire_lanes"),
        exclusions=area.layer("exclusions") if area.has("exclusions") else None,
        compounds=area.layer("compounds") if require_compound else None,
        clearance_m=clearance_m,
        reach_m=reach_m,
        default_width_m=default_width_m,
    )
    ruled = ruled.to_crs(area.crs)
    ruled["eligible"] = ruled["compliant"].to_numpy()
    eligible = ruled[ruled["eligible"]].reset_index(drop=True)
    if not len(eligible):
        counts = {r: int(ruled[r].sum()) for r in RULES}
        raise InfeasibleError(
            f"no charging candidate passes the fire-lane rules (rejected per rule: {counts})"
        )
    return _solve(
        area, demand, users=users, report=report, ruled=ruled, eligible=eligible, opts=opts, network=network
    )


def _solve(
    area: Any,
    demand: gpd.GeoDataFrame,
    *,
    users: np.ndarray,
    report: ReportDemand | None,
    ruled: gpd.GeoDataFrame,
    eligible: gpd.GeoDataFrame,
    opts: Mapping[str, Any],
    network: Any,
) -> ChargingPlan:
    """Coverage, capacitated MCLP, walking-distance assignment and the result tables."""
    cost = cost_matrix(network, demand, eligible, float(opts["radius_m"]), circuity=float(opts["circuity"]))
    coverage = cost.pattern()
    cap = float(opts["users_per_pile"]) * int(opts["max_piles_per_site"])
    fixed = np.flatnonzero(eligible["existing"].to_numpy(dtype=bool))
    n = len(eligible)
    site_cost = None
    if opts["budget"] is not None:
        site_cost = (
            pd.to_numeric(eligible["cost"], errors="coerce").fillna(1.0).to_numpy(dtype=float)
            if "cost" in eligible.columns
            else np.ones(n)
        )
    p = opts["p"] if opts["p"] is not None else (None if opts["budget"] is not None else n)
    model = CapacitatedMCLP.from_coverage(
        coverage, weights=users, capacity=cap, p=p, fixed=fixed, site_cost=site_cost, budget=opts["budget"]
    )
    result = model.solve(
        SolveOptions(method=opts["method"], time_limit=opts["time_limit"], seed=int(opts["seed"]))
    )
    if result.status == "infeasible":
        raise InfeasibleError(result.reason)
    selected = np.asarray(result.selected, dtype=np.int64)
    capacity = np.full(n, cap)
    rows, cols, share, walk = _reassign(cost, users, capacity, selected, float(result.objective))
    hh = demand["households"].to_numpy(dtype=float)
    assignment = pd.DataFrame(
        {
            "demand_id": demand.index.astype(str).to_numpy()[rows]
            if "demand_id" not in demand.columns
            else demand["demand_id"].astype(str).to_numpy()[rows],
            "site_id": eligible["site_id"].astype(str).to_numpy()[cols],
            "users": users[rows] * share,
            "households": hh[rows] * share,
            "walk_m": walk,
        }
    )
    sites = site_table(
        area,
        eligible,
        selected=selected,
        rows=rows,
        cols=cols,
        share=share,
        walk=walk,
        users=users,
        hh=hh,
        opts=opts,
    )
    figures = coverage_figures(
        demand,
        users=users,
        hh=hh,
        report=report,
        ruled=ruled,
        eligible=eligible,
        sites=sites,
        coverage=coverage,
        selected=selected,
        cost=cost,
    )
    params = {k: v for k, v in opts.items() if k not in ("report_options",)}
    params["capacity_users_per_site"] = cap
    params["distance"] = cost.info.mode if cost.info is not None else "straight-line"
    params["report_options"] = dict(opts["report_options"] or {})
    return ChargingPlan(
        sites=sites,
        coverage=figures,
        parameters=params,
        solve=result,
        candidates=ruled,
        assignment=assignment,
        report=report,
    )
