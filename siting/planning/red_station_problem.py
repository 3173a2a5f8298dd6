"""The red-station problem: demand, sites and coverage of a study area prepared once, and plans scored on it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp

from siting.adapters import coverage_from_geodataframes
from siting.errors import InputError, Problem, raise_if_problems
from siting.geo.study_area import StudyArea
from siting.models.base import SolveResult
from siting.models.coverage.mclp import MCLP

__all__ = [
    "LIFE_CIRCLES",
    "GridRule",
    "RedStationPlan",
    "RedStationProblem",
    "grid_table",
    "plan_from_result",
    "prepare_red_stations",
]

#: GB 50180-2018 life circles: walking radius in metres.
LIFE_CIRCLES: dict[str, float] = {"5min": 300.0, "10min": 500.0, "15min": 1000.0}
GridRule = Literal["none", "per_grid", "per_group"]


@dataclass(frozen=True, eq=False)
class RedStationProblem:
    """Everything a red-station model needs, prepared once for many questions.

    Attributes
    ----------
    demand : GeoDataFrame
        Demand points (EPSG of the study area) with ``households`` and ``grid_id``.
    sites : GeoDataFrame
        Existing stations first (``existing=True``), then the red-station candidates;
        ``site_id``, ``grid_id``, ``existing``.
    coverage : scipy.sparse.csr_array, shape (n_demand, n_sites)
        True where a site is within ``radius_m`` of a demand point.
    weights : ndarray, shape (n_demand,)
        Households per demand point.
    fixed : ndarray of int
        Indices of the existing stations (they stay open).
    groups : mapping of str to ndarray of int
        Site indices per grid or per declared group of grids (empty without a grid rule).
    radius_m : float
        Walking radius in metres.
    distance : {"network", "straight-line"}
        How distances were measured.
    """

    demand: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame
    coverage: sp.csr_array
    weights: np.ndarray
    fixed: np.ndarray
    groups: Mapping[str, np.ndarray]
    radius_m: float
    distance: str

    @property
    def total_households(self) -> float:
        """All households of the demand layer."""
        return float(self.weights.sum())

    def covered(self, selected: Sequence[int] | np.ndarray) -> np.ndarray:
        """Boolean array (n_demand,): demand points within reach of a selected site."""
        y = np.zeros(self.coverage.shape[1])
        y[np.asarray(selected, dtype=np.int64)] = 1.0
        return np.asarray(self.coverage @ y > 0)

    def model(self, *, p: int | None, budget: float | None = None) -> MCLP:
        """Build the MCLP with the existing stations fixed and the grid rule as groups."""
        cost = self.sites["cost"].to_numpy(float) if budget is not None and "cost" in self.sites else None
        return MCLP.from_coverage(
            self.coverage,
            weights=self.weights,
            p=p,
            fixed=self.fixed,
            site_cost=cost,
            budget=budget,
            groups=dict(self.groups) or None,
        )


@dataclass(frozen=True, eq=False)
class RedStationPlan:
    """A set of open stations and what it achieves.

    Attributes
    ----------
    sites : GeoDataFrame
        Open stations: ``site_id``, ``grid_id``, ``existing``, ``rank`` (existing first, then by
        households newly covered), ``households_gained`` (covered by it and by no station
        ranked before it), ``households_in_reach``.
    grids : DataFrame
        :func:`grid_table` of the plan.
    summary : mapping
        Households total and covered, covered share, stations (existing / new), radius,
        distance mode, solver status, objective, bound, gap, seconds.
    result : SolveResult
        What the model returned.
    """

    sites: gpd.GeoDataFrame
    grids: pd.DataFrame
    summary: Mapping[str, Any]
    result: SolveResult = field(repr=False)

    def __repr__(self) -> str:
        """Summarise the plan in one line (the tables are shown by their own attributes)."""
        s = self.summary
        share = s.get("covered_share")
        share_text = f"{share:.1%}" if isinstance(share, float) else "n/a"
        return (
            f"RedStationPlan({len(self.sites)} stations, {share_text} of households within "
            f"{s.get('radius_m', float('nan')):g} m, status={self.result.status!r}, gap={self.result.gap:.2%})"
        )


def _problem_params(
    radius_m: float | None, life_circle: str | None, grid_rule: str
) -> tuple[float, list[Problem]]:
    problems: list[Problem] = []
    radius = radius_m
    if life_circle is not None:
        if life_circle not in LIFE_CIRCLES:
            problems.append(
                Problem(
                    "life_circle", f"unknown life circle {life_circle!r}", f"use {', '.join(LIFE_CIRCLES)}"
                )
            )
        elif radius_m is None:
            radius = LIFE_CIRCLES[life_circle]
    if radius is None:
        radius = LIFE_CIRCLES["10min"]
    if not np.isfinite(radius) or radius <= 0:
        problems.append(Problem("radius_m", f"must be > 0 metres, got {radius}", "use 300, 500 or 1000"))
    if grid_rule not in ("none", "per_grid", "per_group"):
        problems.append(
            Problem("grid_rule", f"unknown rule {grid_rule!r}", "use none, per_grid or per_group")
        )
    return float(radius), problems


def prepare_red_stations(
    area: StudyArea,
    *,
    radius_m: float | None = None,
    life_circle: str | None = None,
    network: Any = None,
    grid_rule: GridRule = "none",
    grid_groups: Mapping[str, Sequence[str]] | None = None,
    circuity: float = 1.0,
) -> RedStationProblem:
    """Prepare the red-station problem of a study area.

    Parameters
    ----------
    area : StudyArea
        Needs ``demand`` (with households); uses ``candidates`` of ``facility_type``
        ``red_station`` (all candidates when the column is absent), ``existing`` red stations
        (kept open) and ``grids`` (for grid ids and grid rules).
    radius_m : float, optional
        Walking radius in metres; default from ``life_circle``, else 500 m.
    life_circle : {"5min", "10min", "15min"}, optional
        GB 50180-2018 preset: 300, 500 or 1,000 m.
    network : WalkNetwork, optional
        Street network for walking distance; straight-line distance times ``circuity`` when None.
    grid_rule : {"none", "per_grid", "per_group"}
        "One grid one branch": every grid gets a station among the sites inside it;
        "several grids one branch": every group in ``grid_groups`` gets one.
    grid_groups : mapping of group name to grid ids, optional
        Declared clusters of grids for ``per_group``; by default the ``community`` of each grid.
    circuity : float
        Straight-line mode only: network / straight-line distance ratio (>= 1).

    Raises
    ------
    InputError
        Bad radius or rule, missing layers, unknown grid ids in ``grid_groups``.
    """
    radius, problems = _problem_params(radius_m, life_circle, grid_rule)
    if not area.has("candidates") and not area.has("existing"):
        problems.append(
            Problem(
                "candidates",
                "the study area has no candidates or existing stations",
                "add a candidates layer",
            )
        )
    if grid_rule != "none" and not area.has("grids"):
        problems.append(
            Problem("grid_rule", f"{grid_rule} needs a grids layer", "add grids or use grid_rule='none'")
        )
    raise_if_problems(problems, title="invalid red-station parameters")
    demand = _with_grid(area.layer("demand"), area)
    sites = _sites(area)
    cov, weights = coverage_from_geodataframes(
        demand, sites, radius=radius, network=network, circuity=circuity
    )
    groups = _groups(sites, area, grid_rule, grid_groups)
    return RedStationProblem(
        demand=demand,
        sites=sites,
        coverage=sp.csr_array(cov),
        weights=weights,
        fixed=np.flatnonzero(sites["existing"].to_numpy()),
        groups=groups,
        radius_m=radius,
        distance="network" if network is not None else "straight-line",
    )


def _with_grid(gdf: gpd.GeoDataFrame, area: StudyArea) -> gpd.GeoDataFrame:
    """Give every feature a ``grid_id`` (by location when missing; ``""`` outside every grid)."""
    if "grid_id" in gdf.columns or not area.has("grids"):
        if "grid_id" not in gdf.columns:
            gdf["grid_id"] = ""
        gdf["grid_id"] = gdf["grid_id"].fillna("").astype(str)
        return gdf
    grids = area.layers["grids"][["grid_id", "geometry"]]
    joined = gpd.sjoin(gdf[["geometry"]], grids, how="left", predicate="within")
    first = joined[~joined.index.duplicated(keep="first")]
    gdf["grid_id"] = first["grid_id"].reindex(gdf.index).fillna("").astype(str)
    return gdf


def _sites(area: StudyArea) -> gpd.GeoDataFrame:
    frames = []
    if area.has("existing"):
        ex = area.layer("existing")
        ex = ex.loc[ex["facility_type"] == "red_station"] if "facility_type" in ex.columns else ex
        frames.append(ex.assign(existing=True))
    if area.has("candidates"):
        c = area.layer("candidates")
        c = c.loc[c["facility_type"] == "red_station"] if "facility_type" in c.columns else c
        frames.append(c.assign(existing=False))
    sites = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=area.crs)
    if sites.empty:
        raise InputError(
            Problem(
                "candidates",
                "no red-station candidates or existing stations",
                "add sites of facility_type red_station",
            )
        )
    if "cost" not in sites.columns:
        sites["cost"] = 1.0
    sites["cost"] = pd.to_numeric(sites["cost"], errors="coerce").fillna(1.0)
    return _with_grid(sites, area)


def _groups(
    sites: gpd.GeoDataFrame, area: StudyArea, grid_rule: str, grid_groups: Mapping[str, Sequence[str]] | None
) -> dict[str, np.ndarray]:
    if grid_rule == "none":
        return {}
    grids = area.layers["grids"]
    known = set(grids["grid_id"].astype(str))
    if grid_rule == "per_grid":
        members = {g: [g] for g in sorted(known)}
    elif grid_groups is not None:
        unknown = sorted({g for gs in grid_groups.values() for g in gs} - known)
        if unknown:
            raise InputError(
                Problem(
                    "grid_groups",
                    f"{len(unknown)} unknown grid id(s)",
                    "use grid ids of the grids layer",
                    rows=tuple(unknown[:20]),
                )
            )
        members = {str(k): list(v) for k, v in grid_groups.items()}
    elif "community" in grids.columns:
        members = {str(c): list(g["grid_id"].astype(str)) for c, g in grids.groupby("community")}
    else:
        raise InputError(
            Problem(
                "grid_groups",
                "per_group needs grid_groups or a community column on grids",
                "declare the groups",
            )
        )
    site_grid = sites["grid_id"].to_numpy()
    return {name: np.flatnonzero(np.isin(site_grid, gs)) for name, gs in members.items()}


def plan_from_result(problem: RedStationProblem, result: SolveResult) -> RedStationPlan:
    """Turn any model's result over the problem's sites into a plan (ranked sites, grid table, summary)."""
    if result.status == "infeasible":
        raise InputError(
            Problem("plan", f"infeasible: {result.reason}", "relax the grid rule, p or the budget")
        )
    selected = np.asarray(result.selected, dtype=np.int64)
    order, gains = _rank(problem, selected)
    sites = problem.sites.iloc[order].copy()
    sites["rank"] = np.arange(1, len(order) + 1)
    sites["households_gained"] = np.round(gains, 3)
    sites["households_in_reach"] = np.round(
        np.asarray(problem.coverage[:, order].T @ problem.weights).ravel(), 3
    )
    covered = problem.covered(selected)
    summary = {
        "households": round(problem.total_households, 3),
        "households_covered": round(float(problem.weights[covered].sum()), 3),
        "covered_share": float(problem.weights[covered].sum() / max(problem.total_households, 1e-12)),
        "stations": int(selected.size),
        "existing_stations": int(problem.fixed.size),
        "new_stations": int(selected.size - problem.fixed.size),
        "radius_m": problem.radius_m,
        "distance": problem.distance,
        "status": result.status,
        "objective": result.objective,
        "bound": result.bound,
        "gap": result.gap,
        "solver": result.solver,
        "solve_seconds": result.solve_seconds,
    }
    return RedStationPlan(sites=sites, grids=grid_table(problem, selected), summary=summary, result=result)


def _rank(problem: RedStationProblem, selected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Existing stations first, then greedily by households newly covered."""
    csc = sp.csc_array(problem.coverage)
    covered = problem.covered(problem.fixed)
    order = list(problem.fixed)
    gains = [0.0] * len(order)
    rest = [int(j) for j in selected if j not in set(problem.fixed)]
    while rest:
        g = [float(problem.weights[csc[:, [j]].indices[~covered[csc[:, [j]].indices]]].sum()) for j in rest]
        k = int(np.argmax(g))
        j = rest.pop(k)
        order.append(j)
        gains.append(g[k])
        covered[csc[:, [j]].indices] = True
    return np.asarray(order, dtype=np.int64), np.asarray(gains)


def grid_table(problem: RedStationProblem, selected: Sequence[int] | np.ndarray) -> pd.DataFrame:
    """Per grid: households, covered share, share served by a station inside the grid, stations.

    Returns
    -------
    DataFrame
        One row per grid of the demand: ``grid_id``, ``households``, ``covered_share``
        (0..1: within the radius of any open station), ``own_grid_share`` (within the radius
        of an open station located in the same grid), ``stations`` (open stations in it).
    """
    sel = np.asarray(selected, dtype=np.int64)
    d_grid = problem.demand["grid_id"].to_numpy()
    s_grid = problem.sites["grid_id"].to_numpy()[sel]
    sub = sp.csr_array(problem.coverage[:, sel])
    covered = np.asarray(sub.sum(axis=1)).ravel() > 0
    rows, cols = sub.nonzero()
    same = np.zeros(len(d_grid), dtype=bool)
    same[rows[d_grid[rows] == s_grid[cols]]] = True
    frame = pd.DataFrame(
        {
            "grid_id": d_grid,
            "w": problem.weights,
            "cov": problem.weights * covered,
            "own": problem.weights * same,
        }
    )
    table = frame.groupby("grid_id", sort=True).sum()
    stations = pd.Series(s_grid).value_counts()
    out = pd.DataFrame(
        {
            "grid_id": table.index,
            "households": table["w"].round(3).to_numpy(),
            "covered_share": (table["cov"] / table["w"].where(table["w"] > 0)).fillna(0.0).to_numpy(),
            "own_grid_share": (table["own"] / table["w"].where(table["w"] > 0)).fillna(0.0).to_numpy(),
            "stations": stations.reindex(table.index).fillna(0).astype(int).to_numpy(),
        }
    )
    return out.reset_index(drop=True)
