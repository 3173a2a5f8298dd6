"""Fixing sites by Lagrangian reduced costs, for the p-median and the MCLP's certified core MIP.

With a Lagrangian relaxation whose inner problem opens the ``k`` free sites of best value
(lowest reduced cost ``rho_j`` when minimising, highest value ``c_j`` when maximising), forcing
a site ``j`` outside that choice open instead of the ``k``-th chosen gives the bound
``L - v_(k) + v_j``, and forcing a chosen site closed (the next best opens instead) gives
``L - v_j + v_(k+1)``. A site whose forced bound cannot beat the incumbent is fixed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models._inputs import CoverageData
from siting.models._presolve import reduce_rows
from siting.models.base import SolveOptions
from siting.models.rules import RuleState, SiteRules
from siting.models.solvers.formulations import solve_mclp_mip
from siting.models.solvers.lagrangian import LagrangianBound
from siting.models.solvers.lagrangian_cover import relaxed_site_value

__all__ = ["CoreOutcome", "ForcedBounds", "forced_bounds", "reduced_cost_fixing", "solve_core"]


@dataclass(frozen=True)
class ForcedBounds:
    """Lagrangian bounds with one free site forced open or closed.

    Attributes
    ----------
    chosen : ndarray of int
        The ``k`` free sites the relaxation opens, best first.
    rest : ndarray of int
        The other free sites, best first.
    if_opened : ndarray of float, shape (len(rest),)
        Bound with ``rest[i]`` opened in place of the ``k``-th chosen site.
    if_closed : ndarray of float, shape (len(chosen),)
        Bound with ``chosen[i]`` closed and the best of ``rest`` opened.
    """

    chosen: NDArray[np.int64]
    rest: NDArray[np.int64]
    if_opened: NDArray[np.float64]
    if_closed: NDArray[np.float64]


def forced_bounds(
    value: NDArray[np.float64], free: NDArray[np.int64], k: int, bound: float, *, best: Literal["low", "high"]
) -> ForcedBounds | None:
    """Bounds of the relaxation with each free site forced (None when every or no free site opens).

    Parameters
    ----------
    value : ndarray of float, shape (n_candidates,)
        Each site's term in the Lagrangian inner problem (reduced cost or value).
    free : ndarray of int
        Sites neither fixed nor forbidden, in increasing order (ties keep this order).
    k : int
        Free sites the inner problem opens.
    bound : float
        ``L`` at these multipliers.
    best : {"low", "high"}
        Whether the inner problem prefers low values (minimising) or high ones (maximising).
    """
    if k <= 0 or k >= free.size:
        return None
    key = value[free] if best == "low" else -value[free]
    order = free[np.argsort(key, kind="stable")]
    chosen, rest = order[:k], order[k:]
    kth, following = value[chosen[-1]], value[rest[0]]
    # each sense keeps the order of operations its bound always had, so fixing is bit-identical
    if_opened = bound + value[rest] - kth if best == "low" else bound - kth + value[rest]
    return ForcedBounds(chosen, rest, if_opened, bound - value[chosen] + following)


def reduced_cost_fixing(
    lb: LagrangianBound,
    *,
    allowed: NDArray[np.bool_],
    fixed: NDArray[np.bool_],
    n_open: int,
    upper: float,
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Sites that no p-median solution cheaper than ``upper`` opens / closes (exactly ``n_open`` sites).

    Returns
    -------
    close, open : ndarray of bool, shape (n_candidates,)
        ``close[j]``: every solution with ``j`` open costs at least ``upper``;
        ``open[j]``: every solution with ``j`` closed costs at least ``upper``.
    """
    close = np.zeros(lb.rho.size, dtype=bool)
    must = np.zeros(lb.rho.size, dtype=bool)
    forced = forced_bounds(
        lb.rho, np.flatnonzero(allowed & ~fixed), n_open - int(fixed.sum()), lb.raw, best="low"
    )
    if forced is None:
        return close, must
    bar = upper - 1e-9 * max(1.0, abs(upper))
    close[forced.rest[np.array([lb.rounded(v) for v in forced.if_opened]) >= bar]] = True
    must[forced.chosen[np.array([lb.rounded(v) for v in forced.if_closed]) >= bar]] = True
    return close, must


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
    slots = p - int(rs.fixed.sum())
    forced = forced_bounds(c, np.flatnonzero(rs.allowed & ~rs.fixed), slots, ub, best="high")
    if forced is None:
        return None
    order = np.concatenate([forced.chosen, forced.rest])
    in_core = np.zeros(data.n_candidates, dtype=bool)
    if beat is None:
        in_core[order[: min(order.size, max(3 * slots, slots + 100))]] = True
    else:
        in_core[forced.chosen] = True
        in_core[forced.rest[forced.if_opened >= beat]] = True
    in_core[incumbent] = True
    in_core[rs.fixed] = True
    outside = forced.rest[~in_core[forced.rest]]
    outside_bound = float(forced.if_opened[~in_core[forced.rest]].max()) if outside.size else -math.inf
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
