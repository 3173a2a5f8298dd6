"""Fixing sites by Lagrangian reduced costs: the certified core MIP of the MCLP."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models._inputs import CoverageData
from siting.models._presolve import reduce_rows
from siting.models.base import SolveOptions
from siting.models.rules import RuleState, SiteRules
from siting.models.solvers.formulations import solve_mclp_mip
from siting.models.solvers.lagrangian_cover import relaxed_site_value

__all__ = ["CoreOutcome", "solve_core"]


@dataclass(frozen=True)
class CoreOutcome:
    """Result of the core MIP: its best selection (full indices) and a global upper bound."""

    selected: NDArray[np.int64]
    bound: float
    core_size: int
    outside_bound: float


def solve_core(
    data: CoverageData,
    rules: SiteRules,
    p: int,
    lam: NDArray[np.float64],
    incumbent: NDArray[np.int64],
    *,
    deadline: float,
    opts: SolveOptions,
    beat: float | None = None,
) -> CoreOutcome | None:
    """Solve MCLP exactly on a core of candidates chosen by Lagrangian value, and certify the rest.

    With multipliers ``lam`` each candidate has value ``c_j = sum_i a_ij lam_i``
    and ``UB(lam) = sum_i (w_i - lam_i)^+ + c(fixed) + (top free c's)``. Any
    selection that opens a candidate ``j`` outside the core is worth at most
    ``UB(lam) - c_(s) + c_j`` (``c_(s)``: the smallest value in the top
    ``s = p - |fixed|``), so the optimum is at most
    ``max(core MIP bound, UB(lam) - c_(s) + max_{j outside} c_j)``: a valid
    global bound. The core is the top ``max(3 s, s + 100)`` candidates plus the
    incumbent and fixed sites. With ``beat`` (the value a selection must exceed
    to improve on the incumbent) the core is instead every candidate whose bound
    ``UB(lam) - c_(s) + c_j`` reaches ``beat``, with no size cap: the others cannot
    be in a better selection, so the core MIP's answer is optimal for the whole
    model (Lagrangian reduced-cost fixing). Only for rules of p, fixed and
    forbidden. Returns None when no time is left.
    """
    rs = RuleState(rules, p)
    c = np.asarray(data.csc.T @ lam)
    site_val, _ = relaxed_site_value(c, rs)
    profit = data.weights - lam
    ub = float(profit[profit > 0].sum()) + site_val
    free = np.flatnonzero(rs.allowed & ~rs.fixed)
    free = free[np.lexsort((free, -c[free]))]
    slots = p - int(rs.fixed.sum())
    if slots <= 0 or free.size <= slots:
        return None
    c_s = float(c[free[slots - 1]])
    in_core = np.zeros(data.n_candidates, dtype=bool)
    if beat is None:
        in_core[free[: min(free.size, max(3 * slots, slots + 100))]] = True
    else:
        in_core[free[:slots]] = True
        in_core[free[ub - c_s + c[free] >= beat]] = True
    in_core[incumbent] = True
    in_core[rs.fixed] = True
    outside = free[~in_core[free]]
    outside_bound = ub - c_s + float(c[outside].max()) if outside.size else -math.inf
    core = np.flatnonzero(in_core)
    sub_csr = sp.csr_matrix(data.csr[:, core])
    sub = CoverageData(csr=sub_csr, csc=sub_csr.tocsc(), weights=data.weights)
    sub_rules = SiteRules.build(core.size, fixed=np.flatnonzero(rs.fixed[core]))
    reduced = reduce_rows(sub, sub_rules)
    left = deadline - time.perf_counter()
    if left <= 0.5:
        return None
    sol = solve_mclp_mip(reduced, sub_rules, p, opts, time_limit=left)
    if not sol.has_solution:
        return None
    chosen = core[np.flatnonzero(sol.x[: core.size] > 0.5)]
    core_bound = sol.bound + reduced.constant
    return CoreOutcome(
        selected=chosen.astype(np.int64),
        bound=max(core_bound, outside_bound),
        core_size=int(core.size),
        outside_bound=outside_bound,
    )
