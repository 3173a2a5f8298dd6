"""Phased plans: sites opened in earlier phases stay open, coverage maximised over projected demand."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from siting.errors import InputError, Problem, raise_if_problems
from siting.models.base import as_index_array, frozen_array, relative_gap
from siting.models.coverage._common import row_signature_groups
from siting.models.solvers.highs import solve_mip

__all__ = ["PhasedPlan", "solve_phased"]


@dataclass(frozen=True)
class PhasedPlan:
    r"""Nested sites over phases, chosen jointly.

    Formulation (``a_ij`` = 1 when site ``j`` covers demand ``i``; ``w_it`` the projected
    households of demand ``i`` in phase ``t``; ``P_t`` the cumulative number of sites allowed
    by phase ``t``; ``B_t`` the budget of phase ``t``)::

        maximise    sum_t sum_i w_it z_it
        subject to  z_it <= sum_j a_ij y_jt                  every demand i, phase t
                    y_jt <= y_j(t+1)                          opened sites stay open
                    sum_j y_jt <= P_t                         (with sites per phase)
                    sum_j c_j (y_jt - y_j(t-1)) <= B_t        (with budgets; y_j0 = 0)
                    y_j1 = 1 for fixed j, y_jt = 0 for forbidden j
                    y binary, 0 <= z <= 1

    Demand rows with the same covering set are merged (weights summed per phase).

    Attributes
    ----------
    years : tuple of int
        The phase years.
    opened_in : ndarray of int, shape (n_candidates,)
        Phase index (0-based) in which each site opens, ``-1`` when never.
    selected : tuple of ndarray
        Sorted open sites in each phase (nested: each contains the previous one).
    covered_weight : ndarray, shape (n_phases,)
        Demand weight covered in each phase under that phase's projected demand.
    total_weight : ndarray, shape (n_phases,)
        Total projected demand in each phase.
    objective, bound, gap : float
        Sum of covered weight over phases, its proven upper bound, the relative gap.
    status : str
        ``optimal``, ``time_limit`` or ``infeasible``.
    solve_seconds : float
        Wall-clock time.
    """

    years: tuple[int, ...]
    opened_in: NDArray[np.int64]
    selected: tuple[NDArray[np.int64], ...]
    covered_weight: NDArray[np.float64]
    total_weight: NDArray[np.float64]
    objective: float
    bound: float
    gap: float
    status: str
    solve_seconds: float

    @property
    def covered_share(self) -> NDArray[np.float64]:
        """Covered share of the projected demand in each phase (0..1)."""
        return self.covered_weight / np.maximum(self.total_weight, 1e-12)


def _check(
    coverage: object,
    weights: ArrayLike,
    years: Sequence[int],
    sites_per_phase: Sequence[int] | None,
    budgets: Sequence[float] | None,
) -> tuple[sp.csr_matrix, NDArray[np.float64]]:
    problems: list[Problem] = []
    cov = (
        sp.csr_matrix(coverage, dtype=float)
        if sp.issparse(coverage)
        else sp.csr_matrix(np.asarray(coverage) != 0, dtype=float)
    )
    w = np.asarray(weights, dtype=float)
    t = len(years)
    if w.ndim != 2 or w.shape != (t, cov.shape[0]):
        problems.append(
            Problem(
                "weights",
                f"must have shape (n_phases={t}, n_demand={cov.shape[0]}), got {w.shape}",
                "one row of projected demand per phase",
            )
        )
    elif (~np.isfinite(w) | (w < 0)).any():
        problems.append(
            Problem("weights", "has negative or non-finite values", "use projected households >= 0")
        )
    if list(years) != sorted(set(years)):
        problems.append(Problem("years", f"must be increasing, got {list(years)}", "e.g. [2025, 2028, 2030]"))
    if sites_per_phase is None and budgets is None:
        problems.append(
            Problem("sites_per_phase", "give sites_per_phase or budgets", "e.g. sites_per_phase=[20, 10, 10]")
        )
    for name, values in (("sites_per_phase", sites_per_phase), ("budgets", budgets)):
        if values is not None and (len(values) != t or any(v < 0 for v in values)):
            problems.append(
                Problem(name, f"needs {t} values >= 0, got {list(values)}", "one value per phase")
            )
    raise_if_problems(problems, title="invalid phased plan")
    return cov, w


def solve_phased(
    coverage: sp.spmatrix | sp.sparray | ArrayLike,
    weights: ArrayLike,
    *,
    years: Sequence[int],
    sites_per_phase: Sequence[int] | None = None,
    budgets: Sequence[float] | None = None,
    site_cost: ArrayLike | None = None,
    fixed: ArrayLike | None = None,
    forbidden: ArrayLike | None = None,
    time_limit: float | None = 120.0,
    seed: int = 0,
) -> PhasedPlan:
    """Choose nested sites for several phases at once (see :class:`PhasedPlan`).

    Parameters
    ----------
    coverage : sparse matrix or array, shape (n_demand, n_candidates)
        Truthy where a candidate covers a demand point.
    weights : array-like, shape (n_phases, n_demand)
        Projected demand (households) in each phase year.
    years : sequence of int
        Phase years, increasing (e.g. 2025, 2028, 2030).
    sites_per_phase : sequence of int, optional
        New sites allowed in each phase (fixed sites do not count).
    budgets : sequence of float, optional
        Opening budget of each phase (needs ``site_cost``).
    site_cost : array-like, shape (n_candidates,), optional
        Opening cost per site (1 each when omitted).
    fixed, forbidden : array-like of int, optional
        Existing sites (open from the first phase) / sites that may not open.
    time_limit : float, optional
        Seconds for HiGHS; the best plan and bound so far are returned.
    seed : int
        HiGHS random seed.
    """
    start = time.perf_counter()
    cov, w = _check(coverage, weights, years, sites_per_phase, budgets)
    n, m = cov.shape
    t_count = len(years)
    fixed_idx = as_index_array(fixed, where="fixed", n=m)
    forbidden_idx = as_index_array(forbidden, where="forbidden", n=m)
    cost = np.ones(m) if site_cost is None else np.asarray(site_cost, dtype=float)
    labels, n_rows = row_signature_groups(cov)
    first = np.full(n_rows, -1, dtype=np.int64)
    first[labels[::-1]] = np.arange(n)[::-1]
    a = sp.csr_matrix(cov[first])
    wr = np.stack([np.bincount(labels, weights=w[t], minlength=n_rows) for t in range(t_count)])
    # columns: y (m x T) then z (n_rows x T); phase-major blocks
    ny, nz = m * t_count, n_rows * t_count
    rows, lo, hi = _rows(
        a,
        m=m,
        n_rows=n_rows,
        t_count=t_count,
        n_fixed=fixed_idx.size,
        cost=cost,
        sites_per_phase=sites_per_phase,
        budgets=budgets,
    )
    c = np.concatenate([np.zeros(ny), wr.ravel()])
    col_lo, col_hi = np.zeros(ny + nz), np.ones(ny + nz)
    col_lo[fixed_idx] = 1.0  # phase 0 block; nesting carries them on
    for t in range(t_count):
        col_hi[t * m + forbidden_idx] = 0.0
    integer = np.concatenate([np.ones(ny, dtype=bool), np.zeros(nz, dtype=bool)])
    sol = solve_mip(
        c,
        rows,
        lo,
        hi,
        col_lower=col_lo,
        col_upper=col_hi,
        integer=integer,
        sense="max",
        time_limit=time_limit,
        seed=seed,
    )
    if not sol.has_solution:
        return _empty(years, m, w, sol.status, time.perf_counter() - start)
    y = np.rint(sol.x[:ny]).reshape(t_count, m).astype(bool)
    selected = tuple(frozen_array(np.flatnonzero(y[t])) for t in range(t_count))
    opened = np.full(m, -1, dtype=np.int64)
    for t in range(t_count - 1, -1, -1):
        opened[y[t]] = t
    covered = np.array(
        [float(w[t][np.asarray(cov @ y[t].astype(float)).ravel() > 0].sum()) for t in range(t_count)]
    )
    return PhasedPlan(
        years=tuple(int(v) for v in years),
        opened_in=frozen_array(opened),
        selected=selected,
        covered_weight=frozen_array(covered),
        total_weight=frozen_array(w.sum(axis=1)),
        objective=float(covered.sum()),
        bound=float(sol.bound),
        gap=relative_gap(float(covered.sum()), float(sol.bound)),
        status=sol.status,
        solve_seconds=time.perf_counter() - start,
    )


def _rows(
    a: sp.csr_matrix,
    *,
    m: int,
    n_rows: int,
    t_count: int,
    n_fixed: int,
    cost: np.ndarray,
    sites_per_phase: Sequence[int] | None,
    budgets: Sequence[float] | None,
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    ny = m * t_count
    blocks: list[sp.csr_matrix] = []
    lo: list[np.ndarray] = []
    hi: list[np.ndarray] = []
    eye_z = sp.identity(n_rows, format="csr")
    for t in range(t_count):  # z_it - sum_j a_ij y_jt <= 0
        left = sp.hstack([sp.csr_matrix((n_rows, t * m)), -a, sp.csr_matrix((n_rows, ny - (t + 1) * m))])
        right = sp.hstack(
            [sp.csr_matrix((n_rows, t * n_rows)), eye_z, sp.csr_matrix((n_rows, (t_count - t - 1) * n_rows))]
        )
        blocks.append(sp.csr_matrix(sp.hstack([left, right])))
        lo.append(np.full(n_rows, -np.inf))
        hi.append(np.zeros(n_rows))
    eye_y = sp.identity(m, format="csr")
    nz = n_rows * t_count
    for t in range(t_count - 1):  # y_jt - y_j(t+1) <= 0
        blocks.append(
            sp.csr_matrix(
                sp.hstack(
                    [sp.csr_matrix((m, t * m)), eye_y, -eye_y, sp.csr_matrix((m, ny - (t + 2) * m + nz))]
                )
            )
        )
        lo.append(np.full(m, -np.inf))
        hi.append(np.zeros(m))
    for t in range(t_count):
        if sites_per_phase is not None:
            row = np.zeros(ny + nz)
            row[t * m : (t + 1) * m] = 1.0
            blocks.append(sp.csr_matrix(row))
            lo.append(np.array([-np.inf]))
            hi.append(np.array([float(n_fixed + sum(sites_per_phase[: t + 1]))]))
        if budgets is not None:
            row = np.zeros(ny + nz)
            row[t * m : (t + 1) * m] = cost
            if t > 0:
                row[(t - 1) * m : t * m] = -cost
            blocks.append(sp.csr_matrix(row))
            lo.append(np.array([-np.inf]))
            hi.append(np.array([float(budgets[t])]))
    return sp.csr_matrix(sp.vstack(blocks)), np.concatenate(lo), np.concatenate(hi)


def _empty(years: Sequence[int], m: int, w: np.ndarray, status: str, seconds: float) -> PhasedPlan:
    if status != "infeasible":
        raise InputError(Problem("time_limit", "no plan found within the time limit", "allow more time"))
    t_count = len(years)
    return PhasedPlan(
        years=tuple(int(v) for v in years),
        opened_in=frozen_array(np.full(m, -1, dtype=np.int64)),
        selected=tuple(frozen_array(np.empty(0, dtype=np.int64)) for _ in range(t_count)),
        covered_weight=frozen_array(np.zeros(t_count)),
        total_weight=frozen_array(w.sum(axis=1)),
        objective=float("nan"),
        bound=float("nan"),
        gap=float("nan"),
        status="infeasible",
        solve_seconds=seconds,
    )
