"""Steps shared by the red-station and charging runs: population history, grid geometry and ids, weights."""

from __future__ import annotations

import dataclasses
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from siting.errors import Problem, StudyAreaError
from siting.geo.study_area import StudyArea

__all__ = ["ensure_history", "grid_geometry", "replace_weights", "with_grid_id"]


def replace_weights(problem: Any, weights: Any) -> Any:
    """Return ``problem`` with new demand weights (a frozen dataclass copy)."""
    return dataclasses.replace(problem, weights=np.asarray(weights, dtype=float))


def ensure_history(area: StudyArea) -> pd.DataFrame:
    """Return the study area's population history, or raise a clear error naming what is missing."""
    if "population_history" not in area.tables:
        raise StudyAreaError(
            Problem(
                "population_history",
                f"{area.name} has no population history table",
                "add one, or remove target_year and phases",
            )
        )
    return area.tables["population_history"]


def grid_geometry(area: StudyArea) -> gpd.GeoDataFrame:
    """Return the grids layer reduced to ``grid_id`` (text), ``street`` / ``community`` and geometry."""
    grids = area.layers["grids"]
    keep = ["grid_id", *[c for c in ("street", "community") if c in grids.columns], "geometry"]
    out = grids[keep].copy()
    for col in keep[:-1]:
        out[col] = out[col].astype(str)
    return out


def with_grid_id(frame: gpd.GeoDataFrame, area: StudyArea) -> gpd.GeoDataFrame:
    """Return ``frame`` with a text ``grid_id`` (by location when missing; ``""`` outside every grid)."""
    out = frame.copy()
    if "grid_id" not in out.columns and area.has("grids"):
        grids = area.layers["grids"][["grid_id", "geometry"]].to_crs(out.crs)
        joined = gpd.sjoin(out[["geometry"]], grids, how="left", predicate="within")
        out["grid_id"] = joined[~joined.index.duplicated(keep="first")]["grid_id"].reindex(out.index)
    if "grid_id" not in out.columns:
        out["grid_id"] = ""
    out["grid_id"] = out["grid_id"].fillna("").astype(str)
    return out
