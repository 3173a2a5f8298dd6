"""E-bike charging demand: e-bikes needing a public charging point, from households and residents' reports.

The planning parameters of charging piles are defined here once (each with its source or
marked as an assumption) and used by the library, the scenarios, the API and the reports.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from siting.demand.hotspots import ReportDemand, add_report_demand
from siting.errors import Problem, raise_if_problems

__all__ = [
    "DEFAULT_MAX_PILES_PER_SITE",
    "DEFAULT_NO_PRIVATE_SHARE",
    "DEFAULT_OWNERSHIP_RATE",
    "DEFAULT_RADIUS_M",
    "DEFAULT_USERS_PER_PILE",
    "charging_demand",
    "check_demand_parameters",
    "number",
]

#: Walking radius from home to a charging point, metres. ASSUMPTION (a 2 to 3 minute walk; no
#: published standard for e-bike charging points was found).
DEFAULT_RADIUS_M = 200.0
#: E-bikes per household. Derived: China had nearly 300 million e-bikes in 2021 (Bloomberg, reported by
#: Huanqiu, 2021-04-08) and 494.16 million family households in the 2020 census, about 0.6 per household.
#: A national figure used as an assumption for Jiangbei; replace with local registration data.
DEFAULT_OWNERSHIP_RATE = 0.6
#: Share of e-bikes without a private charging place (garage, private socket). ASSUMPTION: most
#: Jiangbei households live in multi-storey compounds without private garages.
DEFAULT_NO_PRIVATE_SHARE = 0.7
#: E-bikes one pile (one socket, one bike at a time) serves. ASSUMPTION: an overnight charge of 6 to 8 h
#: every two to three days, plus daytime top-ups, gives about 6 users per socket.
DEFAULT_USERS_PER_PILE = 6.0
#: Most piles in one group (one site, a charging shed). ASSUMPTION: a shed of two to three 10-socket units.
DEFAULT_MAX_PILES_PER_SITE = 30


def number(value: Any) -> float | None:
    """Return ``value`` as a finite float, or None when it is not one."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _check_share(problems: list[Problem], value: Any, where: str, example: str) -> None:
    v = number(value)
    if v is None or not 0 <= v <= 1:
        problems.append(Problem(where, f"must be a share within [0, 1], got {value!r}", example))


def check_demand_parameters(ownership_rate: Any, no_private_share: Any) -> list[Problem]:
    """Return every problem with the demand parameters (shares within [0, 1])."""
    problems: list[Problem] = []
    _check_share(problems, ownership_rate, "ownership_rate", "e-bikes per household, e.g. 0.6")
    _check_share(problems, no_private_share, "no_private_share", "e.g. 0.7")
    return problems


def charging_demand(
    demand: gpd.GeoDataFrame,
    *,
    ownership_rate: float = DEFAULT_OWNERSHIP_RATE,
    no_private_share: float = DEFAULT_NO_PRIVATE_SHARE,
    reports: pd.DataFrame | None = None,
    report_options: Mapping[str, Any] | None = None,
) -> tuple[np.ndarray, ReportDemand | None]:
    """E-bikes needing a public charging point at each demand point.

    ``users_i = households_i * ownership_rate * no_private_share``, plus, when ``reports`` are
    given, a share of that total placed where reports cluster
    (:func:`siting.demand.hotspots.add_report_demand`; ``report_options`` are passed on, e.g.
    ``{"share": 0.1, "method": "kde", "bandwidth_m": 150}``).

    Parameters
    ----------
    demand : GeoDataFrame
        Demand points with ``households``.
    ownership_rate : float
        E-bikes per household, in [0, 1].
    no_private_share : float
        Share of e-bikes with no private charging place, in [0, 1].
    reports : DataFrame, optional
        Residents' reports (lon, lat, date, category).
    report_options : mapping, optional
        Keyword arguments of :func:`~siting.demand.hotspots.add_report_demand`.

    Returns
    -------
    tuple
        ``(users, report)``: e-bikes per demand point, shape (n_demand,), and the
        :class:`~siting.demand.hotspots.ReportDemand` (None without reports).

    Raises
    ------
    InputError
        Listing every problem with the parameters and inputs.
    """
    problems = check_demand_parameters(ownership_rate, no_private_share)
    if "households" not in demand.columns:
        problems.append(Problem("demand.households", "column missing", "load demand through a StudyArea"))
    raise_if_problems(problems, title="invalid charging demand input")
    hh = pd.to_numeric(demand["households"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    base = hh * float(ownership_rate) * float(no_private_share)
    if reports is None:
        return base, None
    rd = add_report_demand(demand, reports, weights=base, **dict(report_options or {}))
    return rd.weights, rd
