"""Lagrangian relaxation by subgradient optimisation: the one driver, and the p-median's lower bound.

:func:`subgradient` runs every Lagrangian bound of the models (this p-median bound and the
coverage bounds of :mod:`siting.models.solvers.lagrangian_cover`): Polyak steps towards a target
with a scale that halves after a run of iterations without improvement (Held, Wolfe &
Crowder 1974). Each bound is a :class:`Relaxation` that says how to evaluate ``L(lambda)``, its
subgradient, its step and when it is done.

The p-median bound relaxes the assignment rows ``sum_j x_ij = 1`` with multipliers
``lambda_i``::

    L(lambda) = sum_i lambda_i + min_{y in Y} sum_j rho_j y_j,
    rho_j     = sum_i min(0, w_i d_ij - lambda_i)      (reachable pairs only),

where ``Y`` keeps fixed sites open, forbidden sites closed and opens ``p``
sites (exactly, or at most when ``p_exact`` is false; with a budget and no
``p``, at most the number of sites the budget can buy). Group and budget rules
are dropped, which only relaxes further, so every ``L(lambda)`` is a valid lower
bound on the optimal p-median cost. With integral weights and costs the bound
is rounded up. The same ``rho`` gives reduced-cost fixing
(:func:`siting.models.solvers.fixing.forced_bounds`): a site whose forced opening (or
closing) lifts the bound to the incumbent's cost cannot be part of a strictly better solution.
"""

from __future__ import annotations

import abc
import math
import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from siting.models._inputs import Neighbours

__all__ = ["LagrangianBound", "Relaxation", "StepRule", "SubgradientState", "lagrangian_bound", "subgradient"]


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


@dataclass(frozen=True)
class StepRule:
    """How :func:`subgradient` steps: the scale, when it halves, and what counts as progress.

    Attributes
    ----------
    sense : {"max", "min"}
        ``max``: ``L`` is a lower bound to raise; ``min``: an upper bound to lower.
    scale : float
        Initial step scale (``theta`` or ``mu`` in the literature).
    patience : int
        Iterations without improvement after which the scale halves.
    min_scale : float
        The run stops once the scale falls below this.
    tol : float
        An iteration improves when it beats the best by more than ``tol`` times
        ``max(1, |best|)`` (or ``max(1, |value|)`` with ``tol_of_value``); the first always does.
    tol_of_value : bool
        Scale ``tol`` by the new value instead of the best one.
    absolute : bool
        ``tol`` is absolute (not scaled at all).
    """

    sense: Literal["max", "min"]
    scale: float = 1.0
    patience: int = 20
    min_scale: float = 1e-6
    tol: float = 1e-12
    tol_of_value: bool = False
    absolute: bool = False

    def improves(self, value: float, best: float) -> bool:
        """Whether ``value`` is progress over ``best``."""
        if not math.isfinite(best):
            return True
        size = 1.0 if self.absolute else max(1.0, abs(value if self.tol_of_value else best))
        if self.sense == "max":
            return value > best + self.tol * size
        return value < best - self.tol * size


@dataclass
class SubgradientState:
    """Where a subgradient run stands; runs may be resumed (:class:`CoverLagrangian` does).

    Attributes
    ----------
    lam : ndarray of float
        Current multipliers.
    scale : float
        Current step scale.
    best : float
        Best ``L`` seen (``-inf`` / ``inf`` before the first iteration).
    best_lam : ndarray of float
        Multipliers of ``best``.
    iterations : int
        Iterations so far.
    stall : int
        Iterations since the last improvement (or the last halving).
    """

    lam: NDArray[np.float64]
    scale: float
    best: float
    best_lam: NDArray[np.float64] = field(repr=False)
    iterations: int = 0
    stall: int = 0

    @classmethod
    def start(cls, lam: NDArray[np.float64], rule: StepRule) -> SubgradientState:
        """Return the state before the first iteration, from multipliers ``lam``."""
        worst = -math.inf if rule.sense == "max" else math.inf
        return cls(lam=lam, scale=rule.scale, best=worst, best_lam=lam.copy())


class Relaxation(abc.ABC):
    """One Lagrangian relaxation: what :func:`subgradient` needs to optimise it."""

    @abc.abstractmethod
    def value(self, lam: NDArray[np.float64]) -> float:
        """Evaluate ``L(lam)``, keeping what :meth:`direction` needs."""

    @abc.abstractmethod
    def direction(self) -> NDArray[np.float64]:
        """Return the subgradient at the last ``lam``, oriented so that stepping along it improves ``L``."""

    @abc.abstractmethod
    def step_length(self, value: float, target: float) -> float:
        """Return the Polyak numerator of the step (``target - value`` or a variant)."""

    @abc.abstractmethod
    def reached(self, best: float, target: float) -> bool:
        """Whether the best bound is close enough to ``target`` to stop."""

    def on_improve(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Remember what goes with a new best bound (called right after :meth:`value`)."""

    def update_target(self, target: float) -> float:
        """Return the target after this iteration (a primal heuristic may raise it)."""
        return target

    def project(self, lam: NDArray[np.float64]) -> NDArray[np.float64]:
        """Return ``lam`` projected on the multipliers' domain (unconstrained by default)."""
        return lam


def subgradient(
    relax: Relaxation,
    state: SubgradientState,
    rule: StepRule,
    *,
    target: float,
    deadline: float,
    max_iter: int,
) -> float:
    """Run up to ``max_iter`` subgradient iterations on ``relax`` from ``state`` (updated in place).

    Each iteration evaluates ``L``, records a new best (or counts a stall, halving the scale
    after ``rule.patience`` of them), lets the relaxation raise the target, stops when the
    relaxation has reached it, the scale is below ``rule.min_scale`` or the ``deadline``
    (``time.perf_counter()``) has passed, and otherwise steps
    ``lam <- project(lam + scale * step_length / |g|^2 * g)``. A zero subgradient stops the run.

    Returns
    -------
    float
        The target after the run (raised by the relaxation's primal heuristic, if any).
    """
    for _ in range(max_iter):
        state.iterations += 1
        value = relax.value(state.lam)
        if rule.improves(value, state.best):
            state.best, state.best_lam, state.stall = value, state.lam.copy(), 0
            relax.on_improve()
        else:
            state.stall += 1
            if state.stall >= rule.patience:
                state.scale, state.stall = state.scale / 2.0, 0
        target = relax.update_target(target)
        if (
            relax.reached(state.best, target)
            or state.scale < rule.min_scale
            or time.perf_counter() > deadline
        ):
            break
        g = relax.direction()
        norm = float(g @ g)
        if norm <= 0:
            break
        state.lam = relax.project(state.lam + state.scale * relax.step_length(value, target) / norm * g)
    return target


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
    relax = _MedianRelaxation(nb, weights, allowed=allowed, fixed=fixed, n_open=n_open, exact=exact,
                              integral=integral, rel_tol=rel_tol)  # fmt: skip
    rule = StepRule(sense="max", scale=2.0, patience=patience, min_scale=1e-4, tol=1e-12, tol_of_value=True)
    state = SubgradientState.start(
        np.array(start, dtype=float) if start is not None else np.zeros(nb.n), rule
    )
    subgradient(relax, state, rule, target=upper if np.isfinite(upper) else np.inf, deadline=deadline,
                max_iter=max_iter)  # fmt: skip
    best = state.best
    return LagrangianBound(
        _rounded(best, integral), best, state.best_lam, relax.best_rho, state.iterations, integral
    )


class _MedianRelaxation(Relaxation):
    """The p-median relaxation of the assignment rows (see the module docstring)."""

    def __init__(
        self, nb: Neighbours, weights: NDArray[np.float64], *, allowed: NDArray[np.bool_],
        fixed: NDArray[np.bool_], n_open: int, exact: bool, integral: bool, rel_tol: float,
    ) -> None:  # fmt: skip
        self.nb, self.fixed, self.exact, self.integral, self.rel_tol = nb, fixed, exact, integral, rel_tol
        self.free = allowed & ~fixed
        self.k = n_open - int(fixed.sum())
        self.prefix = _Prefix(nb, weights)
        self.best_rho: NDArray[np.float64] = np.zeros(nb.m)

    def value(self, lam: NDArray[np.float64]) -> float:
        """Compute ``L(lam)``: the negative reduced costs ``rho`` and the cheapest site choice."""
        self.rows, self.cols, red = self.prefix.negative(lam)
        self.rho: NDArray[np.float64] = np.bincount(self.cols, red, minlength=self.nb.m).astype(float)
        self.y = _inner(self.rho, self.free, self.fixed, self.k, self.exact)
        return float(lam.sum() + self.rho[self.y].sum())

    def on_improve(self) -> None:
        """Keep the reduced costs of the best bound (for fixing and for the relaxation's sites)."""
        self.best_rho = self.rho

    def direction(self) -> NDArray[np.float64]:
        """Return ``1 - (number of chosen sites each demand is assigned to)``."""
        assigned = np.bincount(self.rows[self.y[self.cols]], minlength=self.nb.n)
        return np.asarray(1.0 - assigned, dtype=np.float64)

    def step_length(self, value: float, target: float) -> float:
        """Return the gap to the incumbent (5 % of the value without one), at least a tiny step."""
        gap = (target - value) if np.isfinite(target) else max(1.0, abs(value)) * 0.05
        return max(gap, 1e-9 * max(1.0, abs(value)))

    def reached(self, best: float, target: float) -> bool:
        """Whether the (rounded) bound meets the incumbent's cost within ``rel_tol``."""
        return _rounded(best, self.integral) >= target - self.rel_tol * max(1.0, abs(target))
