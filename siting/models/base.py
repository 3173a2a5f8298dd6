"""What every model shares: the options of ``solve()`` and the frozen result it returns."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from siting.errors import InputError, Problem

__all__ = [
    "Method",
    "SolveOptions",
    "SolveResult",
    "Status",
    "frozen_array",
    "relative_gap",
    "rows_text",
]

Status = Literal["optimal", "feasible", "infeasible", "time_limit"]
Method = Literal["auto", "exact", "heuristic"]


@dataclass(frozen=True, kw_only=True)
class SolveOptions:
    """How to solve: the same options for every model's ``solve()``.

    Size thresholds (when ``method="auto"`` turns heuristic, how many starts a heuristic makes)
    are constants of each model's module, not options.

    Attributes
    ----------
    time_limit : float or None
        Seconds for the whole solve; the best solution and proven bound so far are returned
        when it runs out (``status="time_limit"``). None: no limit for exact solves; heuristics
        then stop by themselves (at most 30 s for the coverage heuristics).
    mip_gap : float
        Relative gap ``|objective - bound| / |objective|`` at which a solution counts as optimal,
        in [0, 1).
    threads : int or None
        HiGHS threads; None lets siting choose (at most 2).
    seed : int
        Random seed of HiGHS and of the heuristics' tie-breaking and restarts: the same seed
        gives the same answer.
    method : {"auto", "exact", "heuristic"}
        ``exact``: a proven optimum (or a proven gap at the time limit); ``heuristic``: a
        certified heuristic (its bound is proven); ``auto``: exact up to the model's size
        threshold, heuristic above it.

    Raises
    ------
    InputError
        Listing every bad option.
    """

    time_limit: float | None = None
    mip_gap: float = 1e-6
    threads: int | None = None
    seed: int = 0
    method: Method = "auto"

    def __post_init__(self) -> None:
        problems: list[Problem] = []
        if self.method not in ("auto", "exact", "heuristic"):
            problems.append(
                Problem("method", f"unknown method {self.method!r}", 'use "auto", "exact" or "heuristic"')
            )
        limit = self.time_limit
        if limit is not None and not (isinstance(limit, int | float) and math.isfinite(limit) and limit > 0):
            problems.append(Problem("time_limit", f"must be > 0 seconds, got {limit}", "pass seconds > 0"))
        if not (isinstance(self.mip_gap, int | float) and 0 <= self.mip_gap < 1):
            problems.append(Problem("mip_gap", f"must be in [0, 1), got {self.mip_gap}", "use e.g. 1e-6"))
        if self.threads is not None and (isinstance(self.threads, bool) or not isinstance(self.threads, int)
                                         or self.threads < 1):  # fmt: skip
            problems.append(
                Problem("threads", f"must be an integer >= 1, got {self.threads!r}", "use 1 or 2")
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int | np.integer):
            problems.append(Problem("seed", f"must be an integer, got {self.seed!r}", "use e.g. 0"))
        if problems:
            raise InputError(problems, title="invalid solve options")

    def deadline(self, start: float) -> float:
        """``time.perf_counter()`` value at which the solve must stop (``inf`` without a limit)."""
        return start + self.time_limit if self.time_limit is not None else math.inf


def frozen_array(values: ArrayLike, dtype: type | np.dtype | None = None) -> NDArray:
    """Return a read-only copy of ``values`` (results never change after ``solve()``)."""
    arr = np.array(values, dtype=dtype, copy=True)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True)
class SolveResult:
    """What ``solve()`` returns for every model.

    Attributes
    ----------
    model : str
        Model name, e.g. ``"MCLP"``.
    status : {"optimal", "feasible", "infeasible", "time_limit"}
        ``optimal``: proven optimal (gap within the solver tolerance);
        ``feasible``: a solution with a proven bound but not proven optimal (heuristic);
        ``time_limit``: stopped by the time limit, best solution and bound reported;
        ``infeasible``: no solution satisfies the rules, ``reason`` says why.
    objective : float
        Objective of the returned solution in the model's own units (covered
        weight for coverage models, weighted distance for p-median, metres for
        p-center, number of sites for LSCP). ``nan`` when infeasible.
    bound : float
        Best proven bound on the optimal objective (upper bound when maximising,
        lower bound when minimising). ``nan`` when infeasible.
    gap : float
        Relative gap ``|objective - bound| / max(|objective|, 1e-9)``; 0 when optimal,
        ``nan`` when infeasible.
    selected : ndarray of int, shape (k,)
        Sorted indices of the open candidate sites (fixed sites included).
    assignment : ndarray of int, shape (n_demand,)
        Candidate index serving each demand point; ``-1`` when unassigned
        (uncovered, or beyond the cost cutoff).
    load : ndarray of float, shape (n_candidates,)
        Demand weight assigned to each candidate (0 for closed sites).
    covered_weight : float
        Total weight of demand within reach of (assigned to) an open site.
    total_weight : float
        Total weight of all demand.
    solve_seconds : float
        Wall-clock time spent in ``solve()``.
    solver : str
        What produced the answer, e.g. ``"highs-mip"``, ``"lazy-greedy+swap"``.
    method : {"exact", "heuristic"}
        Which path ``method="auto"`` (or the caller) chose.
    reason : str
        Why the model is infeasible or why the solve stopped; empty otherwise.
    extra : mapping
        Model-specific figures (e.g. ``{"covered_twice": ...}`` for backup coverage).
    """

    model: str
    status: Status
    objective: float
    bound: float
    gap: float
    selected: NDArray[np.int64]
    assignment: NDArray[np.int64]
    load: NDArray[np.float64]
    covered_weight: float
    total_weight: float
    solve_seconds: float
    solver: str
    method: Literal["exact", "heuristic"]
    reason: str = ""
    extra: Mapping[str, float] = field(default_factory=dict)

    @property
    def covered_share(self) -> float:
        """Share of the total demand weight that is covered (0..1)."""
        return self.covered_weight / self.total_weight if self.total_weight > 0 else 0.0

    @classmethod
    def infeasible(
        cls,
        *,
        model: str,
        reason: str,
        n_demand: int,
        n_candidates: int,
        total_weight: float,
        solve_seconds: float,
        solver: str,
        method: Literal["exact", "heuristic"],
    ) -> SolveResult:
        """Build the result of an infeasible model; ``reason`` names the blocking rule or demand."""
        return cls(
            model=model,
            status="infeasible",
            objective=float("nan"),
            bound=float("nan"),
            gap=float("nan"),
            selected=frozen_array(np.empty(0, dtype=np.int64)),
            assignment=frozen_array(np.full(n_demand, -1, dtype=np.int64)),
            load=frozen_array(np.zeros(n_candidates)),
            covered_weight=0.0,
            total_weight=float(total_weight),
            solve_seconds=float(solve_seconds),
            solver=solver,
            method=method,
            reason=reason,
        )


def relative_gap(objective: float, bound: float) -> float:
    """Relative gap between a solution's objective and a proven bound (0 when equal)."""
    if not (np.isfinite(objective) and np.isfinite(bound)):
        return float("inf")
    return abs(objective - bound) / max(abs(objective), 1e-9)


def rows_text(rows: NDArray[np.int64], *, limit: int = 20) -> str:
    """Format demand row indices for a reason string (at most ``limit`` shown)."""
    shown = ", ".join(str(int(r)) for r in rows[:limit])
    more = f" and {rows.size - limit} more" if rows.size > limit else ""
    return f"{shown}{more}"
