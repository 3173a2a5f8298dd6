"""GeoDataFrame adapters: project and check layers, build the matrix, hand arrays to the models.

The models know only arrays and sparse matrices (:mod:`siting.models`); this module sits above
them and the network layer and joins the two, as spopt's ``from_geodataframe`` calls
``from_cost_matrix``::

    from siting import adapters, models
    mclp = adapters.from_geodataframes(models.MCLP, demand, candidates, radius=500, p=20)
    pmed = adapters.from_geodataframes(models.PMedian, demand, candidates, cutoff=1000, p=5)
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp

from siting.errors import InputError, Problem
from siting.network.matrices import cost_matrix, coverage_matrix, full_cost_matrix

__all__ = ["cost_from_geodataframes", "coverage_from_geodataframes", "demand_weights", "from_geodataframes"]


def demand_weights(demand: gpd.GeoDataFrame, weight_column: str | None) -> np.ndarray:
    """Weights of the demand points, shape (n_demand,), from ``weight_column`` (all ones when None).

    Raises
    ------
    InputError
        If the column is missing, not numeric, negative or NaN.
    """
    if weight_column is None:
        return np.ones(len(demand))
    if weight_column not in demand.columns:
        raise InputError(
            Problem(
                f"demand.{weight_column}",
                "weight column is missing",
                f"use one of the numeric columns {', '.join(map(str, demand.select_dtypes('number').columns))}",
            )
        )
    values = pd.to_numeric(demand[weight_column], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        raise InputError(
            Problem(
                f"demand.{weight_column}",
                f"{int(bad.sum())} weight(s) are missing, not numbers or negative",
                "use finite weights >= 0",
                rows=tuple(str(i) for i in demand.index[bad][:20]),
            )
        )
    return values


def coverage_from_geodataframes(
    demand: gpd.GeoDataFrame,
    candidates: gpd.GeoDataFrame,
    *,
    radius: float,
    network: Any = None,
    weight_column: str | None = "households",
    circuity: float = 1.0,
) -> tuple[sp.csr_array, np.ndarray]:
    """Coverage matrix and weights for the coverage models.

    Parameters
    ----------
    demand, candidates : GeoDataFrame
        Points in any CRS (projected to metres inside).
    radius : float
        Walking radius in metres.
    network : WalkNetwork, optional
        Street network; straight-line distance (times ``circuity``) when None.
    weight_column : str or None
        Demand column used as weight (``households`` by default); ones when None.
    circuity : float
        Straight-line mode only: network / straight-line distance ratio.

    Returns
    -------
    tuple
        ``(coverage, weights)``: boolean CSR, shape (n_demand, n_candidates), and
        float weights, shape (n_demand,).
    """
    weights = demand_weights(demand, weight_column)
    cov = coverage_matrix(network, demand, candidates, radius, circuity=circuity)
    return cov, weights


def cost_from_geodataframes(
    demand: gpd.GeoDataFrame,
    candidates: gpd.GeoDataFrame,
    *,
    cutoff: float | None = None,
    network: Any = None,
    weight_column: str | None = "households",
    circuity: float = 1.0,
) -> tuple[sp.csr_array | np.ndarray, np.ndarray]:
    """Cost matrix (metres) and weights for the median and center models.

    Parameters
    ----------
    demand, candidates : GeoDataFrame
        Points in any CRS.
    cutoff : float, optional
        Keep pairs within this many metres (sparse result); a dense full matrix when None.
    network : WalkNetwork, optional
        Street network; straight-line distance (times ``circuity``) when None.
    weight_column : str or None
        Demand column used as weight; ones when None.
    circuity : float
        Straight-line mode only.

    Returns
    -------
    tuple
        ``(cost, weights)``: float CSR (missing = beyond ``cutoff``) or a dense array
        (``inf`` = unreachable), shape (n_demand, n_candidates); weights, shape (n_demand,).
    """
    weights = demand_weights(demand, weight_column)
    if cutoff is None:
        return full_cost_matrix(network, demand, candidates, circuity=circuity).values, weights
    return cost_matrix(network, demand, candidates, cutoff, circuity=circuity), weights


def from_geodataframes(
    model: Any,
    demand: gpd.GeoDataFrame,
    candidates: gpd.GeoDataFrame,
    *,
    radius: float | None = None,
    cutoff: float | None = None,
    network: Any = None,
    weight_column: str | None = "households",
    circuity: float = 1.0,
    **options: Any,
) -> Any:
    """Build ``model`` (a class of :mod:`siting.models`) from demand and candidate layers.

    Coverage models (those with ``from_coverage``) get the coverage matrix within ``radius``;
    median and center models (``from_cost_matrix``) the cost matrix within ``cutoff`` metres
    (all pairs when None). The weights come from ``weight_column`` of the demand.

    Parameters
    ----------
    model : type
        A model class, e.g. :class:`siting.models.MCLP` or :class:`siting.models.PMedian`.
    demand, candidates : GeoDataFrame
        Points in any CRS (projected to metres inside, EPSG:32650 for Nanjing).
    radius : float
        Coverage models: the walking radius in metres (required).
    cutoff : float, optional
        Cost models: keep pairs within this many metres.
    network : WalkNetwork, optional
        Street network; straight-line distance (times ``circuity``) when None.
    weight_column : str or None
        Demand column used as weight (``households`` by default); ones when None.
    circuity : float
        Straight-line mode only: network / straight-line distance ratio.
    **options
        The model constructor's own keywords (``p``, ``fixed``, ``capacity`` ...); an explicit
        ``weights`` (or ``demand`` for the capacitated p-median) wins over ``weight_column``.

    Raises
    ------
    InputError
        A coverage model without ``radius``, or bad layers or options (all problems at once).
    """
    if hasattr(model, "from_coverage"):
        if radius is None:
            raise InputError(Problem("radius", "a coverage model needs a radius", "pass radius=<metres>"))
        cov, weights = coverage_from_geodataframes(
            demand, candidates, radius=radius, network=network, weight_column=weight_column, circuity=circuity
        )
        options.setdefault("weights", weights)
        return model.from_coverage(cov, **options)
    cost, weights = cost_from_geodataframes(
        demand, candidates, cutoff=cutoff, network=network, weight_column=weight_column, circuity=circuity
    )
    options.setdefault(getattr(model, "weights_option", "weights"), weights)
    return model.from_cost_matrix(cost, **options)
