"""Lagrangian bounds of the coverage models: covered weight, set cover and capacitated cover.

Each is valid for every multiplier and tightened by :func:`siting.models.solvers.lagrangian.subgradient`.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from siting.models._inputs import CoverageData
from siting.models.rules import RuleState
from siting.models.solvers.lagrangian import Relaxation, StepRule, SubgradientState, subgradient

__all__ = [
    "CoverLagrangian",
    "capacity_bound",
    "column_sum",
    "lagrangian_setcover_bound",
    "relaxed_site_value",
]

_EPS = 1e-9


def relaxed_site_value(c: NDArray[np.float64], rs: RuleState) -> tuple[float, NDArray[np.float64]]:
    """Max of ``c @ y`` over y in [0,1] with fixed/forbidden bounds, ``sum y <= p`` and ``cost @ y <= budget``.

    Each of the two constraints alone is solved exactly (top-p, fractional
    knapsack); the smaller of the two values bounds the joint problem. Group
    rules are dropped, which only loosens (keeps valid) an upper bound.
    Returns the value and the maximiser of the binding relaxation.
    """
    n = c.size
    y = np.zeros(n)
    y[rs.fixed] = 1.0
    base = float(c[rs.fixed].sum())
    free = np.flatnonzero(rs.allowed & ~rs.fixed & (c > 0))
    cf = c[free]
    best_val, best_y = math.inf, None
    slots = rs.p - int(rs.fixed.sum())
    if slots < free.size:
        top = free[np.argpartition(-cf, slots - 1)[:slots]] if slots > 0 else free[:0]
        yp = y.copy()
        yp[top] = 1.0
        best_val, best_y = base + float(c[top].sum()), yp
    if math.isfinite(rs.budget):
        left = rs.budget - float(rs.cost[rs.fixed].sum())
        ratio = cf / np.maximum(rs.cost[free], 1e-12)
        idx = free[np.argsort(-ratio, kind="stable")]
        cum = np.cumsum(rs.cost[idx])
        full = idx[cum <= left + _EPS]
        yb = y.copy()
        yb[full] = 1.0
        val = base + float(c[full].sum())
        if full.size < idx.size:
            nxt = idx[full.size]
            frac = (left - float(rs.cost[full].sum())) / max(float(rs.cost[nxt]), 1e-12)
            frac = min(max(frac, 0.0), 1.0)
            yb[nxt] = frac
            val += frac * float(c[nxt])
        if val < best_val:
            best_val, best_y = val, yb
    if best_y is None:
        y[free] = 1.0
        return base + float(cf.sum()), y
    return best_val, best_y


def column_sum(data: CoverageData, y: NDArray[np.float64]) -> NDArray[np.float64]:
    """Return ``A @ y`` for a sparse ``y`` (few open sites), gathering only the open columns."""
    nz = np.flatnonzero(y)
    if nz.size * 8 > y.size:
        return np.asarray(data.csr @ y)
    csc = data.csc
    starts, ends = csc.indptr[nz], csc.indptr[nz + 1]
    lens = ends - starts
    total = int(lens.sum())
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens)
    rows = csc.indices[offsets + np.arange(total)]
    return np.bincount(rows, weights=np.repeat(y[nz], lens), minlength=data.n_demand).astype(np.float64)


class CoverLagrangian(Relaxation):
    r"""Upper bound on ``max sum_i w_i u_i`` s.t. ``u_i <= sum_j a_ij y_j - (L - 1)``, ``0 <= u_i <= 1``.

    Relaxing the coverage rows with multipliers ``lam >= 0`` gives, for every ``lam``,

    ``UB(lam) = sum_i max(0, w_i - lam_i) - (L - 1) * sum_i lam_i + max_{y in Y} (A^T lam) @ y``

    where ``Y`` keeps p, budget, fixed and forbidden (relaxed to [0, 1]) and
    drops the groups, so every ``UB(lam)`` is a valid bound (its minimum is the
    LP bound). :meth:`run` minimises it by subgradient steps (Polyak step
    towards the best known objective) and can be resumed with a better target.
    With ``track_primal`` each iteration's site choice ``y`` (top sites by
    ``A^T lam``) is also scored as a solution: a Lagrangian heuristic.

    Attributes
    ----------
    best_bound : float
        Smallest ``UB(lam)`` seen.
    best_primal : float
        Best covered weight of a tracked ``y`` (``-inf`` when none).
    best_selection : ndarray of int or None
        Sites of that ``y``.
    best_lam : ndarray of float, shape (n_demand,)
        Multipliers of the best bound.
    iterations : int
        Subgradient iterations so far.
    """

    RULE = StepRule(sense="min", scale=1.0, patience=20, min_scale=1e-6, tol=1e-9)

    def __init__(
        self, data: CoverageData, weights: NDArray[np.float64], rs: RuleState, *, level: int
    ) -> None:
        self.data, self.w, self.rs, self.level = data, weights, rs, level
        deg = np.diff(data.csr.indptr).astype(np.float64)
        lam = np.where(deg > 0, weights / np.maximum(deg, 1.0) * 2.0, 0.0)
        if level == 1:
            lam = np.minimum(lam, weights)
        self.state = SubgradientState.start(lam, self.RULE)
        self.best_primal = -math.inf
        self.best_selection: NDArray[np.int64] | None = None
        self.track_primal = False
        self.gap_target = 1e-7

    @property
    def best_bound(self) -> float:
        """Smallest ``UB(lam)`` seen (``inf`` before the first iteration)."""
        return self.state.best

    @property
    def best_lam(self) -> NDArray[np.float64]:
        """Multipliers of the best bound."""
        return self.state.best_lam

    @property
    def iterations(self) -> int:
        """Subgradient iterations so far (over every run)."""
        return self.state.iterations

    def run(
        self,
        *,
        target: float,
        deadline: float,
        gap_target: float = 1e-7,
        max_iter: int = 1500,
        track_primal: bool = False,
    ) -> float:
        """Take up to ``max_iter`` subgradient steps (until ``deadline``); return the best bound."""
        self.track_primal, self.gap_target = track_primal, gap_target
        subgradient(self, self.state, self.RULE, target=target, deadline=deadline, max_iter=max_iter)
        return self.best_bound

    def value(self, lam: NDArray[np.float64]) -> float:
        """Compute ``UB(lam)``, with the site choice ``y`` and the cover it gives."""
        c = np.asarray(self.data.csc.T @ lam)
        site_val, self.y = relaxed_site_value(c, self.rs)
        self.profit = self.w - lam
        ub = float(self.profit[self.profit > 0].sum()) - (self.level - 1) * float(lam.sum()) + site_val
        self.cover = column_sum(self.data, self.y)
        return ub

    def update_target(self, target: float) -> float:
        """Raise the target to the covered weight of this iteration's ``y`` (Lagrangian heuristic)."""
        return max(target, self._score(self.cover, self.y)) if self.track_primal else target

    def reached(self, best: float, target: float) -> bool:
        """Whether the bound is within ``gap_target`` of the target."""
        return best - target <= self.gap_target * max(1e-9, abs(target))

    def direction(self) -> NDArray[np.float64]:
        """Return the descent direction ``-(A y - [w > lam] - (L - 1))``."""
        return -(self.cover - (self.profit > 0) - (self.level - 1))

    def step_length(self, value: float, target: float) -> float:
        """Return ``UB(lam) - target`` (the bound moves down towards the target)."""
        return value - target

    def project(self, lam: NDArray[np.float64]) -> NDArray[np.float64]:
        """Keep ``0 <= lam`` (and ``lam <= w`` for single cover)."""
        lam = np.maximum(lam, 0.0)
        return np.minimum(lam, self.w) if self.level == 1 else lam

    def _score(self, cover: NDArray[np.float64], y: NDArray[np.float64]) -> float:
        """Covered weight of an integral ``y``; remember it when it is the best so far."""
        if self.level != 1 or not np.array_equal(y, np.round(y)):
            return -math.inf
        value = float(self.w[cover > 0.5].sum())
        if value > self.best_primal:
            self.best_primal = value
            self.best_selection = np.flatnonzero(y > 0.5).astype(np.int64)
        return value


class _SetCoverRelaxation(Relaxation):
    """``L(u) = sum_i u_i + sum_j min(0, 1 - (A^T u)_j) y_j``: a lower bound on the fewest covering sites."""

    def __init__(self, data: CoverageData, rs: RuleState) -> None:
        self.data, self.rs = data, rs

    def value(self, lam: NDArray[np.float64]) -> float:
        """Compute ``L(u)`` and the sites with negative reduced cost."""
        red = 1.0 - np.asarray(self.data.csc.T @ lam)
        self.y = np.where(self.rs.fixed, 1.0, np.where(self.rs.allowed & (red < 0), 1.0, 0.0))
        return float(lam.sum() + (red * self.y).sum())

    def direction(self) -> NDArray[np.float64]:
        """Return ``1 - A y`` (rows left uncovered push their multiplier up)."""
        return 1.0 - np.asarray(self.data.csr @ self.y)

    def step_length(self, value: float, target: float) -> float:
        """Return ``1.05 * target - L`` (aim a little above the incumbent)."""
        return 1.05 * target - value

    def reached(self, best: float, target: float) -> bool:
        """Whether the rounded-up bound meets the incumbent (a whole number of sites)."""
        return math.ceil(best - 1e-6) >= target

    def project(self, lam: NDArray[np.float64]) -> NDArray[np.float64]:
        """Keep ``u >= 0``."""
        return np.maximum(lam, 0.0)


def lagrangian_setcover_bound(
    data: CoverageData, rs: RuleState, *, target: float, deadline: float, max_iter: int = 2000
) -> tuple[float, int]:
    """Lower bound on the fewest sites covering every row (``sum_j a_ij y_j >= 1``).

    For multipliers ``u >= 0``: ``L(u) = sum_i u_i + sum_j min(0, 1 - (A^T u)_j) y_j``
    minimised over ``y`` in [0, 1] with fixed sites at 1 and forbidden at 0 (p,
    budget and groups dropped, which keeps a lower bound valid). The number of
    sites is an integer, so ``ceil(L(u) - 1e-6)`` is also a bound.
    """
    rule = StepRule(sense="max", scale=1.0, patience=20, min_scale=1e-6, tol=1e-12, absolute=True)
    u = 1.0 / np.maximum(np.asarray(data.csr.sum(axis=1)).ravel(), 1.0)
    state = SubgradientState.start(u, rule)
    subgradient(
        _SetCoverRelaxation(data, rs), state, rule, target=target, deadline=deadline, max_iter=max_iter
    )
    return float(math.ceil(state.best - 1e-6)), state.iterations


class _CapacityRelaxation(Relaxation):
    """Relax ``sum_j x_ij <= 1``: each site's value is then a fractional knapsack (see :func:`capacity_bound`)."""

    def __init__(self, data: CoverageData, capacity: NDArray[np.float64], rs: RuleState) -> None:
        self.data, self.capacity, self.rs = data, capacity, rs
        coo = data.csc.tocoo()
        keep = data.weights[coo.row] > 0
        self.rows, self.cols = coo.row[keep], coo.col[keep]

    def value(self, lam: NDArray[np.float64]) -> float:
        """Compute ``UB(lam)``: the multipliers plus the best site values under p and the budget."""
        w, rows, cols = self.data.weights, self.rows, self.cols
        profit = np.maximum(w - lam, 0.0)
        ratio = np.where(w[rows] > 0, profit[rows] / np.maximum(w[rows], 1e-300), 0.0)
        order = np.lexsort((-ratio, cols))
        self.r_o, c_o = rows[order], cols[order]
        wt = w[self.r_o] * (ratio[order] > 0)
        starts = np.searchsorted(c_o, np.arange(self.data.n_candidates))
        cum = np.cumsum(wt)
        before = cum - wt - np.concatenate([[0.0], cum])[starts][c_o]
        self.frac = np.clip((self.capacity[c_o] - before) / np.maximum(wt, 1e-300), 0.0, 1.0) * (wt > 0)
        v = np.bincount(c_o, weights=self.frac * w[self.r_o] * ratio[order], minlength=self.data.n_candidates)
        site_val, y = relaxed_site_value(v.astype(np.float64), self.rs)
        self.served = self.frac * y[c_o]
        return float(lam.sum()) + site_val

    def direction(self) -> NDArray[np.float64]:
        """Return the descent direction ``-(1 - (share of each demand served))``."""
        served = np.bincount(self.r_o, weights=self.served, minlength=self.data.n_demand)
        return np.asarray(-(1.0 - served), dtype=np.float64)

    def step_length(self, value: float, target: float) -> float:
        """Return ``UB(lam) - target``."""
        return value - target

    def reached(self, best: float, target: float) -> bool:
        """Whether the bound is within 1e-7 (relative) of the served weight of the incumbent."""
        return best - target <= 1e-7 * max(1.0, target)

    def project(self, lam: NDArray[np.float64]) -> NDArray[np.float64]:
        """Keep ``lam >= 0``."""
        return np.maximum(lam, 0.0)


def capacity_bound(
    data: CoverageData,
    capacity: NDArray[np.float64],
    rs: RuleState,
    *,
    target: float,
    deadline: float,
    max_iter: int = 300,
) -> float:
    """Upper bound on the served weight of a capacitated MCLP, from relaxing ``sum_j x_ij <= 1``.

    ``UB(lam) = sum_i lam_i + max_{y in Y} sum_j v_j y_j`` where ``v_j`` is the
    fractional knapsack ``max sum_i (w_i - lam_i)^+ x_ij`` s.t. ``sum_i w_i x_ij <= q_j``
    (and ``Y`` keeps p, budget, fixed and forbidden). Valid for every ``lam``,
    for split and single-source assignment alike.
    """
    rule = StepRule(sense="min", scale=1.0, patience=10, min_scale=1e-5, tol=1e-12)
    state = SubgradientState.start(data.weights * 0.5, rule)
    subgradient(_CapacityRelaxation(data, capacity, rs), state, rule, target=target, deadline=deadline,
                max_iter=max_iter)  # fmt: skip
    return state.best
