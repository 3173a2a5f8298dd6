"""A thin wrapper over HiGHS (highspy) for the mixed-integer programs of every model."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from typing import Any, Literal

import highspy
import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from siting.errors import SolverError

__all__ = ["MipSolution", "new_highs", "solve_mip"]

_banner_silenced = False


def new_highs() -> Any:
    """Return a quiet ``highspy.Highs`` instance.

    HiGHS prints a copyright banner to the process's stdout (from C++) the first time
    an instance is created; that would corrupt CLI output and JSON on stdout, so the
    first construction runs with file descriptor 1 pointed at ``/dev/null``.
    """
    global _banner_silenced  # noqa: PLW0603 - once per process

    if _banner_silenced:
        h = highspy.Highs()
    else:
        sys.stdout.flush()
        saved = os.dup(1)
        try:
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 1)
                h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        _banner_silenced = True
    h.setOptionValue("output_flag", False)
    return h


@dataclass(frozen=True)
class MipSolution:
    """Outcome of one HiGHS run.

    Attributes
    ----------
    status : {"optimal", "time_limit", "infeasible"}
        ``time_limit`` also covers other early stops that leave a solution.
    x : ndarray of float, shape (n_cols,)
        Column values (``nan`` when no solution was found).
    objective : float
        Objective of ``x`` in the caller's sense (``nan`` without a solution).
    bound : float
        Best proven bound (lower when minimising, upper when maximising).
    seconds : float
        Wall-clock time of the run.
    """

    status: Literal["optimal", "time_limit", "infeasible"]
    x: NDArray[np.float64]
    objective: float
    bound: float
    seconds: float

    @property
    def has_solution(self) -> bool:
        """Whether HiGHS returned a primal solution."""
        return bool(np.isfinite(self.objective))


def solve_mip(
    c: ArrayLike,
    a: sp.spmatrix | sp.sparray,
    row_lower: ArrayLike,
    row_upper: ArrayLike,
    *,
    col_lower: ArrayLike,
    col_upper: ArrayLike,
    integer: ArrayLike | None = None,
    sense: Literal["min", "max"] = "min",
    time_limit: float | None = None,
    mip_rel_gap: float = 1e-6,
    threads: int | None = None,
    seed: int = 0,
    initial: ArrayLike | None = None,
) -> MipSolution:
    """Solve ``opt c @ x  s.t.  row_lower <= A x <= row_upper, col_lower <= x <= col_upper``.

    Parameters
    ----------
    c : array-like, shape (n,)
        Objective coefficients.
    a : scipy.sparse matrix, shape (m, n)
        Constraint matrix.
    row_lower, row_upper : array-like, shape (m,)
        Row bounds (``-inf`` / ``inf`` for one-sided rows).
    col_lower, col_upper : array-like, shape (n,)
        Column bounds.
    integer : array-like of bool, shape (n,), optional
        Which columns are integer; all continuous when omitted.
    sense : {"min", "max"}
        Optimisation sense.
    time_limit : float, optional
        Seconds; the best solution and bound so far are returned when it runs out.
    mip_rel_gap : float
        Relative gap at which HiGHS stops and calls the solution optimal.
    threads : int, optional
        HiGHS threads (default: what HiGHS chooses).
    seed : int
        HiGHS random seed (results are deterministic for a given seed).
    initial : array-like, shape (n,), optional
        A feasible solution to start from (HiGHS checks it and keeps it as the incumbent).

    Raises
    ------
    SolverError
        When HiGHS fails for a reason other than infeasibility or a limit.
    """
    start = time.perf_counter()
    cost = np.asarray(c, dtype=float)
    n = cost.size
    csc = sp.csc_matrix(a, dtype=float)
    if csc.shape[1] != n:
        raise SolverError(f"constraint matrix has {csc.shape[1]} columns for {n} variables")
    lp = highspy.HighsLp()
    lp.num_col_ = n
    lp.num_row_ = csc.shape[0]
    lp.col_cost_ = cost
    lp.col_lower_ = np.asarray(col_lower, dtype=float)
    lp.col_upper_ = np.asarray(col_upper, dtype=float)
    lp.row_lower_ = np.asarray(row_lower, dtype=float)
    lp.row_upper_ = np.asarray(row_upper, dtype=float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = csc.indptr.astype(np.int32)
    lp.a_matrix_.index_ = csc.indices.astype(np.int32)
    lp.a_matrix_.value_ = csc.data
    lp.sense_ = highspy.ObjSense.kMaximize if sense == "max" else highspy.ObjSense.kMinimize
    if integer is not None:
        flags = np.asarray(integer, dtype=bool)
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if f else highspy.HighsVarType.kContinuous for f in flags
        ]
    h = new_highs()
    h.setOptionValue("random_seed", int(seed))
    h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    if time_limit is not None:
        h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("threads", int(threads or min(2, os.cpu_count() or 1)))
    h.passModel(lp)
    if initial is not None:
        start_sol = highspy.HighsSolution()
        start_sol.col_value = np.asarray(initial, dtype=float).tolist()
        start_sol.value_valid = True
        h.setSolution(start_sol)
    h.run()
    return _read_solution(h, highspy, n=n, is_mip=integer is not None, seconds=time.perf_counter() - start)


def _read_solution(h: Any, highspy: Any, *, n: int, is_mip: bool, seconds: float) -> MipSolution:
    status = h.getModelStatus()
    ms = highspy.HighsModelStatus
    info = h.getInfo()
    if status in (ms.kInfeasible, ms.kUnboundedOrInfeasible):
        return MipSolution("infeasible", np.full(n, np.nan), float("nan"), float("nan"), seconds)
    has_primal = int(info.primal_solution_status) == 2
    if status == ms.kOptimal:
        kind: Literal["optimal", "time_limit", "infeasible"] = "optimal"
    elif status in (ms.kTimeLimit, ms.kIterationLimit, ms.kSolutionLimit, ms.kInterrupt, ms.kObjectiveBound):
        kind = "time_limit"
    else:
        raise SolverError(f"HiGHS stopped with status {h.modelStatusToString(status)}")
    x = np.asarray(h.getSolution().col_value, dtype=np.float64) if has_primal else np.full(n, np.nan)
    objective = float(info.objective_function_value) if has_primal else float("nan")
    bound = float(info.mip_dual_bound) if is_mip else objective
    if kind == "optimal" and not np.isfinite(bound):
        bound = objective
    return MipSolution(kind, x, objective, bound, seconds)
