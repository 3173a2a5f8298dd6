"""Facility-siting models over a coverage or cost matrix: the optimisation side of the seam.

Every model is a frozen dataclass built from arrays by its one constructor (``from_coverage``
for the coverage models, ``from_cost_matrix`` for the median and center models), solved by
``solve(SolveOptions(...))`` and re-scored by ``evaluate(selected)``; both return a frozen
:class:`~siting.models.base.SolveResult`. The models know only arrays and scipy.sparse matrices:
:func:`siting.adapters.from_geodataframes` builds them from GeoDataFrames.

Usage::

    from siting import models
    result = models.PMedian.from_cost_matrix(cost, p=5).solve(models.SolveOptions(time_limit=60))
    models.MCLP.from_coverage(coverage, weights=w, p=20).evaluate(result.selected)
"""

from __future__ import annotations

from siting.models.base import Method, SolveOptions, SolveResult, Status
from siting.models.coverage.backup import BackupCoverage
from siting.models.coverage.capacitated import CapacitatedMCLP
from siting.models.coverage.lscp import LSCP
from siting.models.coverage.mclp import MCLP
from siting.models.coverage.phased import PhasedMCLP, PhasedResult
from siting.models.median.capacitated import CapacitatedPMedian
from siting.models.median.pcenter import PCenter
from siting.models.median.pmedian import PMedian
from siting.models.rules import Group, SiteRules

#: Every model class (the contract test runs one suite over all of them).
MODELS = (LSCP, MCLP, BackupCoverage, CapacitatedMCLP, PhasedMCLP, PMedian, PCenter, CapacitatedPMedian)

__all__ = [
    "LSCP",
    "MCLP",
    "MODELS",
    "BackupCoverage",
    "CapacitatedMCLP",
    "CapacitatedPMedian",
    "Group",
    "Method",
    "PCenter",
    "PMedian",
    "PhasedMCLP",
    "PhasedResult",
    "SiteRules",
    "SolveOptions",
    "SolveResult",
    "Status",
]
