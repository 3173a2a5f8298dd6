"""The tables of a charging-pile plan: the open sites with their piles and walks, and the coverage figures."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp

from siting.demand.hotspots import ReportDemand
from siting.planning.charging_rules import RULES

__all__ = ["coverage_figures", "site_table"]


def _grid_ids(sites: gpd.GeoDataFrame, area: Any) -> np.ndarray:
    """Grid of each site: its own ``grid_id`` or the grid polygon it lies in (``""`` when none)."""
    have = (
        sites["grid_id"].astype("string")
        if "grid_id" in sites.columns
        else pd.Series(pd.NA, index=sites.index)
    )
    if have.notna().all() or not area.has("grids"):
        return have.fillna("").astype(str).to_numpy()
    grids = area.layer("grids")
    joined = gpd.sjoin(sites[["geometry"]], grids[["grid_id", "geometry"]], predicate="within", how="left")
    found = joined[~joined.index.duplicated()]["grid_id"].astype("string")
    return have.fillna(found).fillna("").astype(str).to_numpy()


def site_table(
    area: Any,
    eligible: gpd.GeoDataFrame,
    *,
    selected: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    share: np.ndarray,
    walk: np.ndarray,
    users: np.ndarray,
    hh: np.ndarray,
    opts: Mapping[str, Any],
) -> gpd.GeoDataFrame:
    """One row per open site serving someone (existing sites always kept)."""
    n = len(eligible)
    served_u = np.bincount(cols, weights=users[rows] * share, minlength=n)
    served_h = np.bincount(cols, weights=hh[rows] * share, minlength=n)
    walk_sum = np.bincount(cols, weights=users[rows] * share * walk, minlength=n)
    max_walk = np.zeros(n)
    np.maximum.at(max_walk, cols, walk)
    is_open = np.zeros(n, dtype=bool)
    is_open[selected] = True
    keep = is_open & ((served_u > 1e-9) | eligible["existing"].to_numpy(dtype=bool))
    idx = np.flatnonzero(keep)
    upp = float(opts["users_per_pile"])
    # LP tolerances can put a site a hair over its capacity: round within 1e-6 piles, never above the cap.
    piles = np.clip(np.ceil(served_u[idx] / upp - 1e-6), 1, int(opts["max_piles_per_site"])).astype(int)
    cols_keep = [
        c
        for c in (
            "site_id",
            "compound",
            "existing",
            "lane_distance_m",
            "nearest_lane",
            "clearance_margin_m",
            "exclusion_distance_m",
            "geometry",
        )
        if c in eligible.columns
    ]
    sites = eligible.iloc[idx][cols_keep].copy()
    sites["piles"] = piles
    sites["users_served"] = served_u[idx]
    sites["households_served"] = served_h[idx]
    sites["mean_walk_m"] = np.where(
        served_u[idx] > 0, walk_sum[idx] / np.maximum(served_u[idx], 1e-300), np.nan
    )
    sites["max_walk_m"] = np.where(served_u[idx] > 0, max_walk[idx], np.nan)
    sites["grid_id"] = _grid_ids(eligible.iloc[idx], area)
    sites = sites.sort_values(["users_served", "site_id"], ascending=[False, True], kind="stable")
    sites["rank"] = np.arange(1, len(sites) + 1)
    front = [
        "site_id",
        "rank",
        "piles",
        "households_served",
        "users_served",
        "mean_walk_m",
        "max_walk_m",
        "grid_id",
    ]
    return gpd.GeoDataFrame(
        sites[front + [c for c in sites.columns if c not in front]].reset_index(drop=True),
        geometry="geometry",
        crs=eligible.crs,
    )


def coverage_figures(
    demand: gpd.GeoDataFrame,
    *,
    users: np.ndarray,
    hh: np.ndarray,
    report: ReportDemand | None,
    ruled: gpd.GeoDataFrame,
    eligible: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    coverage: sp.csr_array,
    selected: np.ndarray,
    cost: Any,
) -> dict[str, Any]:
    """Plan figures: totals, served and within-radius shares, sites, piles, rule rejections."""
    open_cols = eligible["site_id"].isin(sites["site_id"]).to_numpy(dtype=bool)
    within = np.asarray(coverage[:, np.flatnonzero(open_cols)].sum(axis=1)).ravel() > 0
    u_tot, h_tot = float(users.sum()), float(hh.sum())
    u_srv, h_srv = float(sites["users_served"].sum()), float(sites["households_served"].sum())
    return {
        "demand_points": len(demand),
        "households_total": h_tot,
        "users_total": u_tot,
        "users_from_reports": float(report.added.sum()) if report is not None else 0.0,
        "report_share_added": report.share_added if report is not None else 0.0,
        "users_served": u_srv,
        "users_served_share": u_srv / u_tot if u_tot > 0 else 0.0,
        "households_served": h_srv,
        "households_served_share": h_srv / h_tot if h_tot > 0 else 0.0,
        "households_within_radius": float(hh[within].sum()),
        "households_within_radius_share": float(hh[within].sum()) / h_tot if h_tot > 0 else 0.0,
        "users_within_radius": float(users[within].sum()),
        "sites": len(sites),
        "existing_sites_kept": int(sites["existing"].sum()) if "existing" in sites.columns else 0,
        "piles": int(sites["piles"].sum()),
        "users_per_pile_planned": u_srv / max(int(sites["piles"].sum()), 1),
        "mean_walk_m": float((sites["mean_walk_m"] * sites["users_served"]).sum() / u_srv)
        if u_srv > 0
        else math.nan,
        "max_walk_m": float(sites["max_walk_m"].max()) if len(sites) else math.nan,
        "candidates": len(ruled),
        "candidates_eligible": len(eligible),
        "rejected": {r: int(ruled[r].sum()) for r in RULES},
        "distance": cost.info.mode if cost.info is not None else "straight-line",
        "selected_by_solver": int(selected.size),
    }
