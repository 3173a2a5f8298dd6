"""Lagrangian relaxation lower bound for the p-median, by subgradient optimisation.

Relax the assignment rows ``sum_j x_ij = 1`` with multipliers ``lambda_i``::

    L(lambda) = sum_i lambda_i + min_{y in Y} sum_j rho_j y_j,
    rho_j     = sum_i min(0, w_i d_ij - lambda_i)      (reachable pairs only),

where ``Y`` keeps fixed sites open, forbidden sites closed and opens ``p``
sites (exactly, or at most when ``p_exact`` is false; with a budget and no
``p``, at most the number of sites the budget can buy). Group and budget rules
are dropped, which only relaxes further, so every ``L(lambda)`` is a valid lower
bound on the optimal p-median cost. With integral weights and costs the bound
is rounded up. The same ``rho`` gives reduced-cost fixing: a site whose forced
opening (or closing) lifts the bound to the incumbent's cost cannot be part of
a strictly better solution.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from siting.models._inputs import Neighbours

__all__ = ["LagrangianBound", "lagrangian_bound"]


@dataclass(frozen=True)
class LagrangianBound:
    """The best Lagrangian bound found.

    Attributes
    ----------
    bound : float
        Valid lower bound on the optimal cost (rounded up when the data are integral).
    raw : float
        ``L(lambda)`` before rounding.
    multipliers : ndarray of float, shape (n_demand,)
        The multipliers giving ``raw``.
    rho : ndarray of float, shape (n_candidates,)
        Reduced cost of opening each site at those multipliers.
    iterations : int
        Subgradient iterations run.
    integral : bool
        Whether weights and costs are all integers (bounds are rounded up).
    """

    bound: float
    raw: float
    multipliers: NDArray[np.float64]
    rho: NDArray[np.float64]
    iterations: int
    integral: bool

    def selection(
        self, *, allowed: NDArray[np.bool_], fixed: NDArray[np.bool_], n_open: int, exact: bool
    ) -> NDArray[np.int64]:
        """Return the sites the relaxation opens at the best multipliers (a good start for interchange)."""
        y = _inner(self.rho, allowed & ~fixed, fixed, n_open - int(fixed.sum()), exact)
        return np.flatnonzero(y).astype(np.int64)

    def rounded(self, value: float) -> float:
        """Round ``value`` down to a number surely at or below the exact bound it approximates."""
        return _rounded(value, self.integral)


def _rounded(value: float, integral: bool) -> float:
    slack = 1e-7 * max(1.0, abs(value))
    return float(math.ceil(value - slack)) if integral else value - slack


class _Prefix:
    """Entries with ``w_i d_ij < lambda_i``: a prefix of each demand's sorted neighbour list.

    Rows are found by binary search on ``row * span + cost`` (globally sorted);
    the search is widened by a margin larger than its rounding error, and the
    exact sign is then taken on the gathered entries, so no negative entry is lost.
    """

    def __init__(self, nb: Neighbours, weights: NDArray[np.float64]) -> None:
        self.nb, self.w = nb, weights
        self.row = nb.row_of_entry
        top = float(nb.vals.max()) if nb.vals.size else 0.0
        self.span = 2.0 * top + 2.0
        self.key = self.row * self.span + nb.vals
        self.margin = 1e-6 * self.span * max(1.0, nb.n * 1e-6) + 1e-9
        self.top = top
        self.base = np.arange(nb.n) * self.span

    def negative(self, lam: NDArray[np.float64]) -> tuple[NDArray, NDArray, NDArray]:
        """Rows, columns and ``w_i d_ij - lambda_i`` of the entries where it is negative."""
        w = self.w
        with np.errstate(divide="ignore", invalid="ignore"):
            thr = np.where(w > 0, lam / w, np.where(lam > 0, np.inf, -1.0))
        thr = np.clip(thr, -1.0, self.top + 1.0)
        ends = np.searchsorted(self.key, self.base + thr + self.margin, side="left")
        starts = self.nb.indptr[:-1]
        lengths = np.maximum(ends - starts, 0)
        which = np.repeat(np.arange(self.nb.n), lengths)
        pos = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths) + starts[which]
        red = w[which] * self.nb.vals[pos] - lam[which]
        neg = red < 0
        return which[neg], self.nb.cols[pos[neg]], red[neg]


def _inner(
    rho: NDArray[np.float64], free: NDArray[np.bool_], fixed: NDArray[np.bool_], k: int, exact: bool
) -> NDArray[np.bool_]:
    """Cheapest ``y``: fixed sites plus the ``k`` free sites with the least ``rho`` (only negative ones unless exact)."""
    y = fixed.copy()
    idx = np.flatnonzero(free)
    if k > 0 and idx.size:
        k = min(k, idx.size)
        part = idx[np.argpartition(rho[idx], k - 1)[:k]] if k < idx.size else idx
        if not exact:
            part = part[rho[part] < 0]
        y[part] = True
    return y


def lagrangian_bound(
    nb: Neighbours,
    weights: NDArray[np.float64],
    *,
    allowed: NDArray[np.bool_],
    fixed: NDArray[np.bool_],
    n_open: int,
    exact: bool,
    upper: float,
    start: NDArray[np.float64] | None = None,
    deadline: float = np.inf,
    max_iter: int = 1000,
    rel_tol: float = 1e-9,
    patience: int = 20,
) -> LagrangianBound:
    """Maximise ``L(lambda)`` by subgradient steps (Held-Wolfe-Crowder with halving ``theta``).

    Parameters
    ----------
    nb : Neighbours
        Sorted neighbour lists (forbidden sites dropped).
    weights : ndarray of float, shape (n_demand,)
        Demand weights.
    allowed, fixed : ndarray of bool, shape (n_candidates,)
        Sites that may open / must open.
    n_open : int
        Sites to open in total (fixed included): exactly when ``exact``, else at most.
    exact : bool
        Whether exactly ``n_open`` sites open.
    upper : float
        Cost of a known solution (the step size target; stops when the bound reaches it).
    start : ndarray of float, optional
        Initial multipliers, e.g. ``w_i * d_i`` of the known solution.
    deadline : float
        ``time.perf_counter()`` value at which to stop.
    max_iter : int
        Most iterations.
    rel_tol : float
        Stop once the bound is within this relative gap of ``upper``.
    patience : int
        Iterations without improvement before ``theta`` halves.
    """
    integral = bool(np.all(np.mod(weights, 1) == 0) and np.all(np.mod(nb.vals, 1) == 0))
    free = allowed & ~fixed
    k = n_open - int(fixed.sum())
    lam = np.array(start, dtype=float) if start is not None else np.zeros(nb.n)
    best_raw, best_lam, best_rho = -np.inf, lam.copy(), np.zeros(nb.m)
    theta, stall, it = 2.0, 0, 0
    target = upper if np.isfinite(upper) else np.inf
    prefix = _Prefix(nb, weights)
    for _ in range(max_iter):
        it += 1
        rows, cols, red = prefix.negative(lam)
        rho: NDArray[np.float64] = np.bincount(cols, red, minlength=nb.m).astype(float)
        y = _inner(rho, free, fixed, k, exact)
        raw = float(lam.sum() + rho[y].sum())
        if raw > best_raw + 1e-12 * max(1.0, abs(raw)):
            best_raw, best_lam, best_rho, stall = raw, lam.copy(), rho, 0
        else:
            stall += 1
            if stall >= patience:
                theta, stall = theta / 2, 0
        done = _rounded(best_raw, integral) >= target - rel_tol * max(1.0, abs(target))
        if done or theta < 1e-4 or time.perf_counter() > deadline:
            break
        g = 1.0 - np.bincount(rows[y[cols]], minlength=nb.n)
        norm = float(g @ g)
        if norm == 0:
            break
        gap = (target - raw) if np.isfinite(target) else max(1.0, abs(raw)) * 0.05
        lam = lam + theta * max(gap, 1e-9 * max(1.0, abs(raw))) / norm * g
    out = LagrangianBound(best_raw, best_raw, best_lam, best_rho, it, integral)
    return LagrangianBound(out.rounded(best_raw), best_raw, best_lam, best_rho, it, integral)


def reduced_cost_fixing(
    lb: LagrangianBound,
    *,
    allowed: NDArray[np.bool_],
    fixed: NDArray[np.bool_],
    n_open: int,
    upper: float,
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Sites that no solution cheaper than ``upper`` opens / closes (for exactly ``n_open`` sites).

    Returns
    -------
    close, open : ndarray of bool, shape (n_candidates,)
        ``close[j]``: every solution with ``j`` open costs at least ``upper``;
        ``open[j]``: every solution with ``j`` closed costs at least ``upper``.
    """
    rho = lb.rho
    free = np.flatnonzero(allowed & ~fixed)
    k = n_open - int(fixed.sum())
    close = np.zeros(rho.size, dtype=bool)
    must = np.zeros(rho.size, dtype=bool)
    if k <= 0 or k >= free.size:
        return close, must
    order = free[np.argsort(rho[free], kind="stable")]
    chosen, rest = order[:k], order[k:]
    kth, next_ = rho[chosen[-1]], rho[rest[0]]
    bar = upper - 1e-9 * max(1.0, abs(upper))
    lift_open = np.array([lb.rounded(lb.raw + rho[j] - kth) for j in rest])
    close[rest[lift_open >= bar]] = True
    lift_close = np.array([lb.rounded(lb.raw - rho[j] + next_) for j in chosen])
    must[chosen[lift_close >= bar]] = True
    return close, must
