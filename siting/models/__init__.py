"""Facility-siting models over a coverage or cost matrix: the optimisation side of the seam.

Every model is built from arrays (``from_coverage`` / ``from_cost_matrix``) or from
GeoDataFrames (``from_geodataframes``), and ``solve()`` returns a frozen
:class:`~siting.models.base.SolveResult`.

Usage::

    from siting import models
    models.PMedian.from_cost_matrix(cost, p=5).solve(time_limit=60)
    models.MCLP.from_coverage(coverage, weights=w, p=20).solve()
"""

from __future__ import annotations

from siting.models.base import Group, Method, SiteRules, SolveResult, Status
from siting.models.coverage.backup import BackupCoverage
from siting.models.coverage.capacitated import CapacitatedMCLP
from siting.models.coverage.lscp import LSCP
from siting.models.coverage.mclp import MCLP
from siting.models.median.capacitated import CapacitatedPMedian
from siting.models.median.pcenter import PCenter
from siting.models.median.pmedian import PMedian

__all__ = [
    "LSCP",
    "MCLP",
    "BackupCoverage",
    "CapacitatedMCLP",
    "CapacitatedPMedian",
    "Group",
    "Method",
    "PCenter",
    "PMedian",
    "SiteRules",
    "SolveResult",
    "Status",
]
