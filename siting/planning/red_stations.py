"""Grid red stations: the questions planners ask (best p, fewest for a share, next best, curve, phases)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp

from siting.demand.growth import scale_demand
from siting.errors import InputError, Problem
from siting.models.base import Method, SolveOptions
from siting.models.coverage.phased import PhasedMCLP, PhasedResult
from siting.planning.red_station_problem import (
    LIFE_CIRCLES,
    RedStationPlan,
    RedStationProblem,
    grid_table,
    plan_from_result,
    prepare_red_stations,
)

__all__ = [
    "LIFE_CIRCLES",
    "RedStationPlan",
    "RedStationProblem",
    "best_stations",
    "coverage_curve",
    "fewest_stations_for_share",
    "grid_table",
    "next_best_stations",
    "phased_stations",
    "plan_from_result",
    "prepare_red_stations",
]


def best_stations(
    problem: RedStationProblem,
    *,
    p: int | None = None,
    budget: float | None = None,
    method: Method = "auto",
    time_limit: float | None = 60.0,
    seed: int = 0,
) -> RedStationPlan:
    """Find the best ``p`` stations (existing ones included) or the best within ``budget`` (MCLP)."""
    result = problem.model(p=p, budget=budget).solve(
        SolveOptions(method=method, time_limit=time_limit, seed=seed)
    )
    return plan_from_result(problem, result)


def fewest_stations_for_share(
    problem: RedStationProblem, share: float, *, method: Method = "exact", time_limit: float | None = 60.0
) -> RedStationPlan:
    """Find the fewest stations that cover at least ``share`` of all households.

    Binary search on ``p`` with exact MCLP solves: MCLP's optimum never falls as ``p``
    grows, so the smallest ``p`` whose optimum reaches the target is the answer (exact
    when every solve is optimal; the summary records the statuses).

    Raises
    ------
    InputError
        ``share`` outside (0, 1], or a target no set of sites can reach.
    """
    if not 0 < share <= 1:
        raise InputError(Problem("share", f"must be in (0, 1], got {share}", "use e.g. 0.95"))
    target = share * problem.total_households - 1e-9
    n = problem.coverage.shape[1]
    reachable = float(problem.weights[np.asarray(problem.coverage.sum(axis=1)).ravel() > 0].sum())
    if reachable < target:
        raise InputError(
            Problem(
                "share",
                f"at most {reachable / problem.total_households:.2%} of households are within {problem.radius_m:g} m of any site",
                "lower the share, widen the radius or add candidates",
            )
        )
    lo = max(int(problem.fixed.size), len(problem.groups), 1)
    hi, best = n, None
    while lo <= hi:
        mid = (lo + hi) // 2
        res = problem.model(p=mid).solve(SolveOptions(method=method, time_limit=time_limit))
        if res.status != "infeasible" and res.objective >= target:
            best, hi = res, mid - 1
        else:
            lo = mid + 1
    assert best is not None  # the full candidate set reaches every reachable household
    return plan_from_result(problem, best)


def next_best_stations(
    problem: RedStationProblem, selected: Sequence[int] | np.ndarray, *, k: int = 10
) -> pd.DataFrame:
    """Where the next stations add most: a greedy ranking with marginal households gained.

    Parameters
    ----------
    problem : RedStationProblem
        The prepared problem.
    selected : sequence of int
        Sites already open (e.g. a plan's sites, or ``problem.fixed``).
    k : int
        How many to rank.

    Returns
    -------
    DataFrame
        ``rank``, ``site_id``, ``grid_id``, ``households_gained`` (newly covered given every
        site ranked before), ``covered_share`` after adding it.
    """
    if k < 1:
        raise InputError(Problem("k", f"must be >= 1, got {k}", "ask for at least one site"))
    csc = sp.csc_array(problem.coverage)
    covered = problem.covered(selected)
    open_ = {int(j) for j in selected}
    rows = []
    for rank in range(1, k + 1):
        uncovered_w = np.where(covered, 0.0, problem.weights)
        gains = np.asarray(csc.T @ uncovered_w).ravel()
        gains[list(open_)] = -1.0
        j = int(np.argmax(gains))
        if gains[j] <= 0:
            break
        covered[csc[:, [j]].indices] = True
        open_.add(j)
        rows.append(
            {
                "rank": rank,
                "site_id": problem.sites["site_id"].iloc[j],
                "grid_id": problem.sites["grid_id"].iloc[j],
                "households_gained": round(float(gains[j]), 3),
                "covered_share": float(problem.weights[covered].sum() / problem.total_households),
                "index": j,
            }
        )
    return pd.DataFrame(
        rows, columns=["rank", "site_id", "grid_id", "households_gained", "covered_share", "index"]
    )


def coverage_curve(
    problem: RedStationProblem,
    p_values: Sequence[int],
    *,
    method: Method = "auto",
    time_limit: float | None = 60.0,
) -> pd.DataFrame:
    """Covered households for each number of stations, with the marginal gain per extra station."""
    rows = []
    for p in sorted({int(v) for v in p_values}):
        res = problem.model(p=p).solve(SolveOptions(method=method, time_limit=time_limit))
        rows.append(
            {
                "p": p,
                "status": res.status,
                "households_covered": res.objective,
                "bound": res.bound,
                "gap": res.gap,
            }
        )
    out = pd.DataFrame(rows)
    out["covered_share"] = out["households_covered"] / problem.total_households
    out["marginal_per_station"] = out["households_covered"].diff() / out["p"].diff()
    return out


def phased_stations(
    problem: RedStationProblem,
    projections: Sequence[pd.DataFrame],
    *,
    sites_per_phase: Sequence[int] | None = None,
    budgets: Sequence[float] | None = None,
    band: Literal["low", "mid", "high"] = "mid",
    time_limit: float | None = 120.0,
) -> tuple[PhasedResult, gpd.GeoDataFrame]:
    """Plan red stations in phases under projected demand; stations opened earlier stay open.

    Parameters
    ----------
    problem : RedStationProblem
        The prepared problem (its demand points need ``grid_id`` and ``population``).
    projections : sequence of DataFrame
        One :meth:`siting.demand.growth.GrowthFit.project` output per phase, in year order.
    sites_per_phase, budgets : sequence, optional
        New stations (or opening budget) allowed in each phase.
    band : {"low", "mid", "high"}
        Which growth band drives the demand.
    time_limit : float, optional
        Seconds for the solver.

    Returns
    -------
    tuple
        The :class:`~siting.models.coverage.phased.PhasedResult` and a GeoDataFrame of the open stations
        with ``opens_in`` (the phase year when each becomes needed; existing stations get
        the first year) and ``existing``.
    """
    if not projections:
        raise InputError(Problem("projections", "no phase given", "give one projection per phase year"))
    years = [int(p["year"].iloc[0]) for p in projections]
    weights = np.stack(
        [scale_demand(problem.demand, p, band=band)["households"].to_numpy(float) for p in projections]
    )
    model = PhasedMCLP.from_coverage(
        problem.coverage,
        weights=weights,
        years=years,
        sites_per_phase=sites_per_phase,
        budgets=budgets,
        site_cost=problem.sites["cost"].to_numpy(float),
        fixed=problem.fixed,
    )
    plan = model.solve(SolveOptions(time_limit=time_limit))
    if plan.status == "infeasible" and "time limit" in plan.reason:
        raise InputError(Problem("time_limit", "no plan found within the time limit", "allow more time"))
    open_idx = np.flatnonzero(plan.opened_in >= 0)
    sites = problem.sites.iloc[open_idx].copy()
    sites["opens_in"] = [years[int(t)] for t in plan.opened_in[open_idx]]
    return plan, sites.sort_values(["opens_in", "site_id"]).reset_index(drop=True)
