"""City-scale coverage heuristics: lazy greedy, swap local search and Lagrangian bounds.

Everything works on a sparse 0/1 coverage matrix (rows = demand, columns =
candidate sites) held both by row (CSR) and by column (CSC). A demand row
counts as covered at *level* ``L`` when at least ``L`` open sites cover it:
``L = 1`` is MCLP / LSCP, ``L = 2`` is backup coverage.
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from siting.models._inputs import CoverageData
from siting.models.rules import RuleState, SiteRules
from siting.models.solvers.lagrangian_cover import CoverLagrangian, lagrangian_setcover_bound

__all__ = [
    "CoverState",
    "HeuristicOutcome",
    "solve_max_cover",
    "solve_set_cover",
]

_EPS = 1e-9


@dataclass(frozen=True)
class HeuristicOutcome:
    """What a heuristic found: the selection, its objective and a proven bound.

    ``feasible`` is False when the heuristic found no selection meeting every
    rule (not a proof of infeasibility unless ``proven_infeasible``).
    """

    selected: NDArray[np.int64]
    objective: float
    bound: float
    feasible: bool
    proven_infeasible: bool = False
    swaps: int = 0
    bound_iterations: int = 0
    multipliers: NDArray[np.float64] | None = None


class CoverState:
    """Open sites and per-row cover counts for a coverage level ``L`` (1 or 2)."""

    def __init__(self, data: CoverageData, weights: NDArray[np.float64], level: int) -> None:
        self.data = data
        self.w = weights
        self.level = level
        self.counts = np.zeros(data.n_demand, dtype=np.int64)
        self.cover_sum = np.zeros(data.n_demand, dtype=np.int64)
        self.selected = np.zeros(data.n_candidates, dtype=bool)

    def rows(self, j: int) -> NDArray[np.int32]:
        """Demand rows covered by site ``j``."""
        csc = self.data.csc
        return csc.indices[csc.indptr[j] : csc.indptr[j + 1]]

    def gain(self, j: int) -> float:
        """Weight that reaches level ``L`` if site ``j`` opens."""
        r = self.rows(j)
        return float(self.w[r][self.counts[r] == self.level - 1].sum())

    def gains(self) -> NDArray[np.float64]:
        """Gain of every candidate (0 for open sites), shape (n_candidates,)."""
        g = self.data.csc.T @ (self.w * (self.counts == self.level - 1))
        g[self.selected] = 0.0
        return np.asarray(g)

    def losses(self) -> NDArray[np.float64]:
        """Weight that drops below level ``L`` if each open site closes, shape (n_candidates,)."""
        if self.level == 1:
            one = self.counts == 1
            return np.bincount(
                self.cover_sum[one], weights=self.w[one], minlength=self.data.n_candidates
            ).astype(np.float64)
        return np.asarray(self.data.csc.T @ (self.w * (self.counts == self.level)))

    def add(self, j: int) -> None:
        """Open site ``j``."""
        self.selected[j] = True
        r = self.rows(j)
        self.counts[r] += 1
        self.cover_sum[r] += j

    def remove(self, k: int) -> None:
        """Close site ``k``."""
        self.selected[k] = False
        r = self.rows(k)
        self.counts[r] -= 1
        self.cover_sum[r] -= k

    def objective(self) -> float:
        """Weight of rows covered at least ``L`` times."""
        return float(self.w[self.counts >= self.level].sum())


def _lazy_greedy(
    state: CoverState, rs: RuleState, pool: NDArray[np.bool_], order: NDArray[np.int64], *, stop: int
) -> None:
    """Open sites from ``pool`` by largest gain (per unit cost under a budget) until ``stop`` opens.

    Gains only shrink as sites open (coverage is submodular at level 1), so a
    heap of stale gains is re-evaluated lazily: a popped site whose fresh gain
    still tops the heap is the true best.
    """
    use_ratio = math.isfinite(rs.budget)
    gains = state.gains()
    heap: list[tuple[float, int, int]] = [
        (-_key(float(gains[c]), rs, int(c), use_ratio), int(order[c]), int(c))
        for c in np.flatnonzero(pool & ~state.selected & (gains > _EPS))
    ]
    heapq.heapify(heap)
    opened = 0
    while heap and opened < stop and rs.n_open < rs.p:
        _, rank, j = heapq.heappop(heap)
        if state.selected[j] or not rs.can_add(j):
            continue
        g = state.gain(j)
        if g <= _EPS:
            continue
        key = _key(g, rs, j, use_ratio)
        if heap and key < -heap[0][0] - _EPS:
            heapq.heappush(heap, (-key, rank, j))
            continue
        state.add(j)
        rs.on_add(j)
        opened += 1


def _key(gain: float, rs: RuleState, j: int, use_ratio: bool) -> float:
    if not use_ratio:
        return gain
    c = float(rs.cost[j])
    return gain / c if c > _EPS else gain * 1e12


def _initial_selection(state: CoverState, rs: RuleState, order: NDArray[np.int64]) -> bool:
    """Open the fixed sites, then fill every short group greedily; False if a group cannot be met."""
    for j in rs.rules.fixed:
        state.add(int(j))
        rs.on_add(int(j))
    for gi in range(len(rs.rules.groups)):
        need = int(rs.group_min[gi] - rs.group_count[gi])
        if need <= 0:
            continue
        pool = np.zeros(state.data.n_candidates, dtype=bool)
        pool[rs.rules.groups[gi].candidates] = True
        pool &= rs.allowed
        _lazy_greedy(state, rs, pool, order, stop=need)
        while rs.group_count[gi] < rs.group_min[gi]:
            free = np.flatnonzero(pool & ~state.selected)
            free = free[[rs.can_add(int(j)) for j in free]] if free.size else free
            if free.size == 0:
                return False
            j = int(free[np.argmin(rs.cost[free] if math.isfinite(rs.budget) else order[free])])
            state.add(j)
            rs.on_add(j)
    return True


def _swap_delta(
    state: CoverState, rs: RuleState, j: int, gain: float, losses: NDArray[np.float64], *, cover_all: bool
) -> tuple[float, int]:
    """Best change of objective from opening ``j`` and closing one open site; ``(delta, k)``.

    Closing ``k`` loses the rows only ``k`` holds at level ``L`` except those
    ``j`` also covers. At level 1 those rows are found through ``cover_sum``
    (the sum of the open sites covering a row is its sole coverer when the
    count is 1), so a move costs O(rows of j).
    """
    removable = rs.swap_mask_static(state.selected) if rs.static_swaps else rs.swap_mask(j, state.selected)
    r = state.rows(j)
    cr = state.counts[r]
    w = state.w
    if state.level == 1 and not cover_all:
        one = r[cr == 1]
        ks = state.cover_sum[one]
        uk, inv = np.unique(ks, return_inverse=True)
        tk = np.bincount(inv, weights=w[one], minlength=uk.size)
        best_d, best_k = -math.inf, -1
        if uk.size:
            d = gain - losses[uk] + tk
            d[~removable[uk]] = -math.inf
            pos = int(np.argmax(d))
            best_d, best_k = float(d[pos]), int(uk[pos])
        others = removable.copy()
        others[uk] = False
        if others.any():
            idx = np.flatnonzero(others)
            k = int(idx[np.argmin(losses[idx])])
            if gain - losses[k] > best_d:
                best_d, best_k = gain - float(losses[k]), k
        return best_d, best_k
    csr = state.data.csr
    keep = (cr == state.level) | (cr == state.level - 1)
    rr = r[keep]
    sign = np.where(cr[keep] == state.level, 1.0, -1.0) * w[rr]
    sub = csr[rr]
    t = np.bincount(sub.indices, weights=np.repeat(sign, np.diff(sub.indptr)), minlength=csr.shape[1])
    ok = removable
    if cover_all:
        r1 = r[cr == 1]
        in_j = np.bincount(csr[r1].indices, minlength=csr.shape[1])
        sole = np.bincount(state.cover_sum[state.counts == 1], minlength=csr.shape[1])
        ok = ok & (in_j == sole)
    idx = np.flatnonzero(ok)
    if idx.size == 0:
        return -math.inf, -1
    d = gain - losses[idx] + t[idx]
    pos = int(np.argmax(d))
    return float(d[pos]), int(idx[pos])


def _local_search(
    state: CoverState, rs: RuleState, order: NDArray[np.int64], deadline: float, cover_all: bool
) -> int:
    """Swap open and closed sites while it improves the objective; returns the number of swaps.

    Each pass scans the closed sites by falling gain (re-computed fresh) and
    applies the best swap for a site as soon as it improves; passes repeat
    until one finds nothing or the deadline comes.
    """
    swaps = 0
    tol = 1e-9 * max(1.0, float(state.w.sum()))
    while time.perf_counter() < deadline:
        _lazy_greedy(state, rs, rs.allowed, order, stop=rs.p)
        gains = state.gains()
        cand = np.flatnonzero(rs.allowed & ~state.selected & (gains > tol))
        cand = cand[np.lexsort((order[cand], -gains[cand]))]
        losses = state.losses()
        improved = False
        for j in cand:
            if time.perf_counter() > deadline:
                break
            g = state.gain(int(j))
            if g <= tol or state.selected[j]:
                continue
            delta, k = _swap_delta(state, rs, int(j), g, losses, cover_all=cover_all)
            if k >= 0 and delta > tol:
                state.remove(k)
                rs.on_remove(k)
                state.add(int(j))
                rs.on_add(int(j))
                swaps += 1
                improved = True
                losses = state.losses()
        if not improved:
            break
    return swaps


def solve_max_cover(
    data: CoverageData,
    rules: SiteRules,
    p: int | None,
    *,
    level: int = 1,
    cover_all: bool = False,
    time_limit: float = 60.0,
    seed: int = 0,
    gap_target: float = 1e-7,
    fallback: NDArray[np.int64] | None = None,
) -> HeuristicOutcome:
    """Certified heuristic for MCLP (``level=1``) or backup coverage (``level=2``).

    1. fixed sites, then each short group, then lazy greedy fill;
    2. Lagrangian subgradient (a third of the time) which, when only p,
       fixed and forbidden apply, also scores each iterate's top sites as a
       solution (Lagrangian heuristic);
    3. swap local search from the better of greedy and Lagrangian solutions;
    4. more subgradient steps towards the improved objective (the bound).

    With ``cover_all`` (backup coverage, BACOP1) every demand row must stay
    covered at least once: a set-cover phase runs first and swaps never
    uncover a row. Integer weights let the bound round down. ``fallback``, a
    selection known to meet every rule (e.g. an exact LSCP cover), is the
    start when the greedy one breaks a rule.
    """
    start = time.perf_counter()
    order = np.random.default_rng(seed).permutation(data.n_candidates)
    rs = RuleState(rules, p)
    state = CoverState(data, data.weights, level)
    ok = _initial_selection(state, rs, order)
    if ok and cover_all:
        ok = _cover_everything(state, rs, order)
    if not ok and fallback is not None:
        state, rs = _state_from(data, rules, p, level, fallback)
        ok = True
    if not ok:
        return HeuristicOutcome(np.empty(0, dtype=np.int64), math.nan, math.nan, feasible=False)
    _lazy_greedy(state, rs, rs.allowed, order, stop=rs.p)
    lag = CoverLagrangian(data, data.weights, RuleState(rules, p), level=level)
    simple = level == 1 and not cover_all and rs.static_swaps
    lag.run(
        target=state.objective(),
        deadline=start + 0.35 * time_limit,
        gap_target=gap_target,
        track_primal=simple,
    )
    if lag.best_selection is not None and lag.best_primal > state.objective():
        state, rs = _state_from(data, rules, p, level, lag.best_selection)
    swaps = _local_search(state, rs, order, start + 0.75 * time_limit, cover_all)
    objective = state.objective()
    bound = lag.run(target=objective, deadline=start + time_limit, gap_target=gap_target)
    if np.array_equal(data.weights, np.round(data.weights)):
        bound = math.floor(bound + 1e-7 * max(1.0, abs(bound)))
    return HeuristicOutcome(
        np.flatnonzero(state.selected).astype(np.int64),
        objective,
        max(bound, objective),
        True,
        swaps=swaps,
        bound_iterations=lag.iterations,
        multipliers=lag.best_lam,
    )


def _state_from(
    data: CoverageData, rules: SiteRules, p: int | None, level: int, selection: NDArray[np.int64]
) -> tuple[CoverState, RuleState]:
    """Cover and rule states with the sites of ``selection`` open."""
    state = CoverState(data, data.weights, level)
    rs = RuleState(rules, p)
    for j in selection:
        state.add(int(j))
        rs.on_add(int(j))
    return state, rs


def _cover_everything(state: CoverState, rs: RuleState, order: NDArray[np.int64]) -> bool:
    """Add sites until every row is covered once (greedy set cover), within p and the budget."""
    w, level = state.w, state.level
    state.w, state.level = np.ones(state.data.n_demand), 1
    try:
        _lazy_greedy(state, rs, rs.allowed, order, stop=state.data.n_candidates)
    finally:
        state.w, state.level = w, level
    return bool((state.counts >= 1).all())


def solve_set_cover(
    data: CoverageData, rules: SiteRules, p: int | None, *, time_limit: float = 60.0, seed: int = 0
) -> HeuristicOutcome:
    """Greedy set cover (largest number of newly covered rows) + redundancy elimination, for LSCP.

    Every row must be coverable by an allowed site (checked by the caller).
    The lower bound is :func:`lagrangian_setcover_bound`.
    """
    start = time.perf_counter()
    order = np.random.default_rng(seed).permutation(data.n_candidates)
    rs = RuleState(rules, None)
    state = CoverState(data, np.ones(data.n_demand), 1)
    if not _initial_selection(state, rs, order) or not _cover_everything(state, rs, order):
        return HeuristicOutcome(np.empty(0, dtype=np.int64), math.nan, math.nan, feasible=False)
    _drop_redundant(state, rs)
    selected = np.flatnonzero(state.selected).astype(np.int64)
    objective = float(selected.size)
    bound, iters = lagrangian_setcover_bound(
        data, RuleState(rules, None), target=objective, deadline=start + time_limit
    )
    bound = min(bound, objective)
    feasible = rules.satisfied_by(selected, p=p)
    proven = p is not None and bound > p
    return HeuristicOutcome(
        selected, objective, bound, feasible, proven_infeasible=proven, bound_iterations=iters
    )


def _drop_redundant(state: CoverState, rs: RuleState) -> None:
    """Close open sites whose rows are all covered twice, cheapest coverage first."""
    open_sites = np.flatnonzero(state.selected & ~rs.fixed)
    sizes = np.diff(state.data.csc.indptr)[open_sites]
    costs = rs.cost[open_sites]
    for k in open_sites[np.lexsort((sizes, -costs))]:
        r = state.rows(int(k))
        if (state.counts[r] >= 2).all():
            groups = rs._groups_of(int(k))
            if (rs.group_count[groups] > rs.group_min[groups]).all():
                state.remove(int(k))
                rs.on_remove(int(k))
