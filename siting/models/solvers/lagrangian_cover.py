"""Lagrangian bounds for the coverage models (valid for every multiplier, tightened by subgradient steps)."""

from __future__ import annotations

import math
import time

import numpy as np
from numpy.typing import NDArray

from siting.models._inputs import CoverageData
from siting.models.rules import RuleState

__all__ = ["CoverLagrangian", "column_sum", "lagrangian_setcover_bound", "relaxed_site_value"]

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


class CoverLagrangian:
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

    def __init__(
        self, data: CoverageData, weights: NDArray[np.float64], rs: RuleState, *, level: int
    ) -> None:
        self.data, self.w, self.rs, self.level = data, weights, rs, level
        deg = np.diff(data.csr.indptr).astype(np.float64)
        self.lam = np.where(deg > 0, weights / np.maximum(deg, 1.0) * 2.0, 0.0)
        if level == 1:
            self.lam = np.minimum(self.lam, weights)
        self.best_bound = math.inf
        self.best_lam = self.lam.copy()
        self.best_primal = -math.inf
        self.best_selection: NDArray[np.int64] | None = None
        self.iterations = 0
        self.mu = 1.0
        self._stall = 0

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
        csc, w, level = self.data.csc, self.w, self.level
        for _ in range(max_iter):
            self.iterations += 1
            c = np.asarray(csc.T @ self.lam)
            site_val, y = relaxed_site_value(c, self.rs)
            profit = w - self.lam
            ub = float(profit[profit > 0].sum()) - (level - 1) * float(self.lam.sum()) + site_val
            if not math.isfinite(self.best_bound) or ub < self.best_bound - 1e-9 * max(
                1.0, abs(self.best_bound)
            ):
                self.best_bound, self._stall = ub, 0
                self.best_lam = self.lam.copy()
            else:
                self._stall += 1
                if self._stall >= 20:
                    self.mu, self._stall = self.mu / 2.0, 0
            cover = column_sum(self.data, y)
            if track_primal:
                target = max(target, self._score(cover, y))
            if self.best_bound - target <= gap_target * max(1e-9, abs(target)) or self.mu < 1e-6:
                break
            if time.perf_counter() > deadline:
                break
            g = cover - (profit > 0) - (level - 1)
            norm = float(g @ g)
            if norm <= 0:
                break
            self.lam -= self.mu * (ub - target) / norm * g
            np.maximum(self.lam, 0.0, out=self.lam)
            if level == 1:
                np.minimum(self.lam, w, out=self.lam)
        return self.best_bound

    def _score(self, cover: NDArray[np.float64], y: NDArray[np.float64]) -> float:
        """Covered weight of an integral ``y``; remember it when it is the best so far."""
        if self.level != 1 or not np.array_equal(y, np.round(y)):
            return -math.inf
        value = float(self.w[cover > 0.5].sum())
        if value > self.best_primal:
            self.best_primal = value
            self.best_selection = np.flatnonzero(y > 0.5).astype(np.int64)
        return value


def lagrangian_setcover_bound(
    data: CoverageData, rs: RuleState, *, target: float, deadline: float, max_iter: int = 2000
) -> tuple[float, int]:
    """Lower bound on the fewest sites covering every row (``sum_j a_ij y_j >= 1``).

    For multipliers ``u >= 0``: ``L(u) = sum_i u_i + sum_j min(0, 1 - (A^T u)_j) y_j``
    minimised over ``y`` in [0, 1] with fixed sites at 1 and forbidden at 0 (p,
    budget and groups dropped, which keeps a lower bound valid). The number of
    sites is an integer, so ``ceil(L(u) - 1e-6)`` is also a bound.
    """
    csr, csc = data.csr, data.csc
    deg = np.asarray(csc.sum(axis=0)).ravel()
    inv = np.where(deg > 0, 1.0 / np.maximum(deg, 1.0), 0.0)
    u = np.asarray(csr @ inv)
    u = 1.0 / np.maximum(np.asarray(csr.sum(axis=1)).ravel(), 1.0)
    best, mu, stall, it = -math.inf, 1.0, 0, 0
    for it in range(1, max_iter + 1):  # noqa: B007
        red = 1.0 - np.asarray(csc.T @ u)
        y = np.where(rs.fixed, 1.0, np.where(rs.allowed & (red < 0), 1.0, 0.0))
        val = float(u.sum() + (red * y).sum())
        if val > best + 1e-12:
            best, stall = val, 0
        else:
            stall += 1
            if stall >= 20:
                mu, stall = mu / 2.0, 0
        if math.ceil(best - 1e-6) >= target or mu < 1e-6 or time.perf_counter() > deadline:
            break
        g = 1.0 - np.asarray(csr @ y)
        norm = float(g @ g)
        if norm <= 0:
            break
        u = np.maximum(u + mu * (1.05 * target - val) / norm * g, 0.0)
    return float(math.ceil(best - 1e-6)), it
