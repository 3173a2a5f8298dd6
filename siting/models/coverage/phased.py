"""Phased plans: sites opened in earlier phases stay open, coverage maximised over projected demand."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import ClassVar, Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from siting.errors import InputError, Problem, raise_if_problems
from siting.models._inputs import CoverageData
from siting.models._presolve import row_signature_groups
from siting.models._results import assign_first_cover, selection_indices
from siting.models.base import SolveOptions, SolveResult, frozen_array, relative_gap, rows_text
from siting.models.rules import SiteRules
from siting.models.solvers.highs import solve_mip

__all__ = ["PhasedMCLP", "PhasedResult"]


@dataclass(frozen=True, kw_only=True)
class PhasedResult(SolveResult):
    """A :class:`SolveResult` of a phased plan, with the sites and coverage of every phase.

    The inherited figures are over all phases: ``objective`` and ``covered_weight`` are the
    covered weight summed over the phases (what the model maximises), ``total_weight`` the
    projected demand summed over the phases, ``load`` the weight each site serves summed over
    the phases; ``selected`` and ``assignment`` are those of the last phase.

    Attributes
    ----------
    years : tuple of int
        The phase years.
    opened_in : ndarray of int, shape (n_candidates,)
        Phase index (0-based) in which each site opens, ``-1`` when never.
    phase_selected : tuple of ndarray
        Sorted open sites in each phase (nested: each contains the previous one).
    phase_covered_weight, phase_total_weight : ndarray, shape (n_phases,)
        Covered and total projected demand in each phase.
    """

    years: tuple[int, ...]
    opened_in: NDArray[np.int64]
    phase_selected: tuple[NDArray[np.int64], ...]
    phase_covered_weight: NDArray[np.float64]
    phase_total_weight: NDArray[np.float64]

    @property
    def phase_covered_share(self) -> NDArray[np.float64]:
        """Covered share of the projected demand in each phase (0..1)."""
        return self.phase_covered_weight / np.maximum(self.phase_total_weight, 1e-12)


@dataclass(frozen=True)
class PhasedMCLP:
    r"""Nested sites over phases, chosen jointly (a multi-period MCLP).

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

    Demand rows with the same covering set are merged (weights summed per phase); HiGHS
    solves the MIP (``method`` is always exact).

    Attributes
    ----------
    coverage : scipy.sparse.csr_matrix, shape (n_demand, n_candidates)
        1.0 where a candidate covers a demand point.
    weights : ndarray, shape (n_phases, n_demand)
        Projected demand (households) in each phase.
    years : tuple of int
        Phase years, increasing.
    sites_per_phase, budgets : tuple or None
        New sites (fixed ones not counted) / opening budget allowed in each phase.
    rules : SiteRules
        Fixed sites (open from the first phase), forbidden sites, and the opening cost per site.
    """

    #: ``solve()`` maximises the objective (the covered demand weight summed over the phases); ``bound`` is an upper bound.
    SENSE: ClassVar[Literal["max", "min"]] = "max"

    coverage: sp.csr_matrix
    weights: NDArray[np.float64]
    years: tuple[int, ...]
    sites_per_phase: tuple[int, ...] | None
    budgets: tuple[float, ...] | None
    rules: SiteRules

    @classmethod
    def from_coverage(
        cls,
        coverage: sp.spmatrix | sp.sparray | ArrayLike,
        *,
        weights: ArrayLike,
        years: Sequence[int],
        sites_per_phase: Sequence[int] | None = None,
        budgets: Sequence[float] | None = None,
        site_cost: ArrayLike | None = None,
        fixed: ArrayLike | None = None,
        forbidden: ArrayLike | None = None,
    ) -> PhasedMCLP:
        """Build a phased plan's model.

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
            Opening budget of each phase (with ``site_cost``; 1 per site without it).
        site_cost : array-like, shape (n_candidates,), optional
            Opening cost per site (1 each when omitted).
        fixed, forbidden : array-like of int, optional
            Existing sites (open from the first phase) / sites that may not open.

        Raises
        ------
        InputError
            Listing every problem with the inputs.
        """
        cov, w = _check(coverage, weights, years, sites_per_phase, budgets)
        m = cov.shape[1]
        cost = np.ones(m) if site_cost is None else np.asarray(site_cost, dtype=float)
        rules = SiteRules.build(m, fixed=fixed, forbidden=forbidden, site_cost=cost)
        return cls(
            coverage=cov,
            weights=frozen_array(w),
            years=tuple(int(v) for v in years),
            sites_per_phase=None if sites_per_phase is None else tuple(int(v) for v in sites_per_phase),
            budgets=None if budgets is None else tuple(float(v) for v in budgets),
            rules=rules,
        )

    def solve(self, options: SolveOptions | None = None) -> PhasedResult:
        """Solve the joint MIP (HiGHS) and return a :class:`PhasedResult`.

        Parameters
        ----------
        options : SolveOptions, optional
            ``time_limit``, ``mip_gap``, ``threads`` and ``seed`` go to HiGHS; the best plan and
            bound so far are returned at the time limit (``status="time_limit"``).
        """
        opts = options or SolveOptions()
        start = time.perf_counter()
        cov, w, cost = self.coverage, self.weights, np.asarray(self.rules.site_cost)
        n, m = cov.shape
        t_count = len(self.years)
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
            n_fixed=self.rules.fixed.size,
            cost=cost,
            sites_per_phase=self.sites_per_phase,
            budgets=self.budgets,
        )
        c = np.concatenate([np.zeros(ny), wr.ravel()])
        col_lo, col_hi = np.zeros(ny + nz), np.ones(ny + nz)
        col_lo[self.rules.fixed] = 1.0  # phase 0 block; nesting carries them on
        for t in range(t_count):
            col_hi[t * m + self.rules.forbidden] = 0.0
        integer = np.concatenate([np.ones(ny, dtype=bool), np.zeros(nz, dtype=bool)])
        sol = solve_mip(
            c, rows, lo, hi, col_lower=col_lo, col_upper=col_hi, integer=integer, sense="max",
            time_limit=opts.time_limit, mip_rel_gap=opts.mip_gap, threads=opts.threads, seed=opts.seed,
        )  # fmt: skip
        if not sol.has_solution:
            reason = (
                "no nested plan meets the sites per phase, the budgets and the fixed sites"
                if sol.status == "infeasible"
                else "the time limit ran out before any plan was found"
            )
            return self._infeasible(reason, start)
        y = np.rint(sol.x[:ny]).reshape(t_count, m).astype(bool)
        opened = np.full(m, -1, dtype=np.int64)
        for t in range(t_count - 1, -1, -1):
            opened[y[t]] = t
        status = "optimal" if sol.status == "optimal" else "time_limit"
        return self._result(opened, float(sol.bound), status=status, start=start)

    def evaluate(self, selected: ArrayLike, *, opened_in: ArrayLike | None = None) -> PhasedResult:
        """Compute the plan's figures for given sites: every phase covered by the sites open by then.

        Parameters
        ----------
        selected : array-like of int
            Sites open in the last phase.
        opened_in : array-like of int, shape (n_candidates,), optional
            Phase index in which each site opens (``-1`` never); without it every ``selected``
            site is open from the first phase.

        Returns
        -------
        PhasedResult
            ``status="feasible"`` when the plan keeps every rule (``bound`` and ``gap`` are
            NaN: nothing is proven), else ``"infeasible"`` with the broken rules in
            ``reason`` and the figures still computed.

        Raises
        ------
        InputError
            When an index is out of range or ``opened_in`` does not match ``selected``.
        """
        start = time.perf_counter()
        m = self.coverage.shape[1]
        sel = selection_indices(selected, m)
        if opened_in is None:
            phase = np.full(m, -1, dtype=np.int64)
            phase[sel] = 0
        else:
            phase = np.asarray(opened_in, dtype=np.int64).ravel()
            bad = phase.shape != (m,) or bool(((phase < -1) | (phase >= len(self.years))).any())
            if bad or not np.array_equal(np.flatnonzero(phase >= 0), sel):
                raise InputError(
                    Problem("opened_in", f"must give, for each of the {m} candidates, the phase index "
                            "(-1 never) with exactly the selected sites opening", "use result.opened_in")
                )  # fmt: skip
        result = self._result(phase, float("nan"), status="feasible", start=start)
        broken = self._broken(phase)
        return result if not broken else replace(result, status="infeasible", reason="; ".join(broken))

    def _broken(self, phase: NDArray[np.int64]) -> list[str]:
        """Say which rules a plan breaks (empty when it keeps them all)."""
        out = []
        fixed_late = self.rules.fixed[phase[self.rules.fixed] != 0]
        if fixed_late.size:
            out.append(f"fixed sites {rows_text(fixed_late)} must open in the first phase")
        opened_bad = self.rules.forbidden[phase[self.rules.forbidden] >= 0]
        if opened_bad.size:
            out.append(f"forbidden sites {rows_text(opened_bad)} are open")
        cost = np.asarray(self.rules.site_cost)
        for t in range(len(self.years)):
            if self.sites_per_phase is not None:
                allowed = self.rules.fixed.size + sum(self.sites_per_phase[: t + 1])
                if int(((phase >= 0) & (phase <= t)).sum()) > allowed:
                    out.append(f"phase {self.years[t]} has more than {allowed} sites")
            if self.budgets is not None and float(cost[phase == t].sum()) > self.budgets[t] + 1e-9:
                out.append(f"phase {self.years[t]} spends more than its budget {self.budgets[t]:g}")
        return out

    def _result(self, phase: NDArray[np.int64], bound: float, *, status: str, start: float) -> PhasedResult:
        """Build the frozen result of the plan ``phase`` (phase index per candidate, -1 never)."""
        cov, w = self.coverage, self.weights
        t_count, m = len(self.years), cov.shape[1]
        csc = cov.tocsc()
        selected = tuple(frozen_array(np.flatnonzero((phase >= 0) & (phase <= t))) for t in range(t_count))
        covered = np.zeros(t_count)
        load = np.zeros(m)
        assignment = np.full(cov.shape[0], -1, dtype=np.int64)
        for t in range(t_count):
            assignment = assign_first_cover(CoverageData(csr=cov, csc=csc, weights=w[t]), selected[t])
            hit = assignment >= 0
            covered[t] = float(w[t][hit].sum())
            load += np.bincount(assignment[hit], weights=w[t][hit], minlength=m)
        objective = float(covered.sum())
        bound = max(bound, objective) if np.isfinite(bound) else bound
        return PhasedResult(
            model="PhasedMCLP",
            status=status,  # type: ignore[arg-type]
            objective=objective,
            bound=bound,
            gap=relative_gap(objective, bound) if np.isfinite(bound) else float("nan"),
            selected=selected[-1],
            assignment=frozen_array(assignment),
            load=frozen_array(load),
            covered_weight=objective,
            total_weight=float(w.sum()),
            solve_seconds=time.perf_counter() - start,
            solver="highs-mip (joint nested phases)" if np.isfinite(bound) else "evaluate",
            method="exact",
            years=self.years,
            opened_in=frozen_array(phase),
            phase_selected=selected,
            phase_covered_weight=frozen_array(covered),
            phase_total_weight=frozen_array(w.sum(axis=1)),
        )

    def _infeasible(self, reason: str, start: float) -> PhasedResult:
        n, m = self.coverage.shape
        t_count = len(self.years)
        empty = frozen_array(np.empty(0, dtype=np.int64))
        return PhasedResult(
            model="PhasedMCLP", status="infeasible", objective=float("nan"), bound=float("nan"),
            gap=float("nan"), selected=empty, assignment=frozen_array(np.full(n, -1, dtype=np.int64)),
            load=frozen_array(np.zeros(m)), covered_weight=0.0, total_weight=float(self.weights.sum()),
            solve_seconds=time.perf_counter() - start, solver="highs-mip (joint nested phases)",
            method="exact", reason=reason, years=self.years,
            opened_in=frozen_array(np.full(m, -1, dtype=np.int64)),
            phase_selected=tuple(empty for _ in range(t_count)),
            phase_covered_weight=frozen_array(np.zeros(t_count)),
            phase_total_weight=frozen_array(self.weights.sum(axis=1)),
        )  # fmt: skip


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
