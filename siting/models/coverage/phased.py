"""Phased plans: sites opened in earlier phases stay open, coverage maximised over projected demand."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import ClassVar, Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from siting.errors import InputError, Problem, raise_if_problems
from siting.models._inputs import CoverageData
from siting.models._results import assign_first_cover, selection_indices
from siting.models.base import SolveOptions, SolveResult, frozen_array, relative_gap, rows_text
from siting.models.coverage._phased_mip import PhasedMip, build_phased_mip, merge_rows
from siting.models.rules import DemandShare, Group, SiteRules, demand_shares
from siting.models.solvers.highs import MipSolution

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
class Service:
    """A solved phased MIP and the merged row of every demand row: who serves whom."""

    mip: PhasedMip
    x: NDArray[np.float64]
    labels: NDArray[np.int64]

    def read(
        self, t: int, w: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
        """Return the served weight per demand row, load per site and each row's main site in phase ``t``."""
        mip = self.mip
        assert mip.pair_row is not None
        assert mip.pair_site is not None
        share = mip.service(self.x)[t]
        n_rows = int(self.labels.max()) + 1 if self.labels.size else 0
        frac = np.minimum(np.bincount(mip.pair_row, weights=share, minlength=n_rows), 1.0)
        wr = np.bincount(self.labels, weights=w, minlength=n_rows)
        site_load = np.bincount(mip.pair_site, weights=share * wr[mip.pair_row], minlength=mip.m)
        best = np.full(n_rows, -1, dtype=np.int64)
        on = share > 1e-9
        order = np.argsort(share[on], kind="stable")  # the largest share of each row wins
        best[mip.pair_row[on][order]] = mip.pair_site[on][order]
        return frac[self.labels] * w, site_load.astype(np.float64), best[self.labels]


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
                    sum_{j in G} y_j1 >= k_G                  every group G (then in every phase)
                    sum_{i in S} w_it z_it >= s_S W_St        every demand share S and phase t
                    y binary, 0 <= z <= 1

    With site capacities ``q_j`` the coverage ``z_it`` becomes service: ``x_ijt`` is the share of
    demand ``i`` served by site ``j`` in phase ``t`` (split over sites; only covering pairs)::

        maximise    sum_t sum_ij w_it x_ijt
        subject to  sum_j x_ijt <= 1,   sum_i w_it x_ijt <= q_j y_jt,   x_ijt <= y_jt

    and the demand shares count served weight. Demand rows with the same covering set (and the
    same demand-share parts) are merged, weights summed per phase; HiGHS solves the MIP
    (``method`` is always exact).

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
        Fixed sites (open from the first phase), forbidden sites, the opening cost per site and
        the group rules.
    capacity : ndarray of float, shape (n_candidates,), or None
        Weight each site can serve in a phase; None: coverage without capacities.
    shares : tuple of DemandShare
        Parts of the demand served (covered) to at least their share in every phase.
    """

    #: ``solve()`` maximises the objective (the covered demand weight summed over the phases); ``bound`` is an upper bound.
    SENSE: ClassVar[Literal["max", "min"]] = "max"

    coverage: sp.csr_matrix
    weights: NDArray[np.float64]
    years: tuple[int, ...]
    sites_per_phase: tuple[int, ...] | None
    budgets: tuple[float, ...] | None
    rules: SiteRules
    capacity: NDArray[np.float64] | None = None
    shares: tuple[DemandShare, ...] = ()

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
        capacity: float | ArrayLike | None = None,
        groups: Mapping[str, Sequence[int] | ArrayLike] | Sequence[Group] | None = None,
        min_per_group: int = 1,
        served_shares: Mapping[str, tuple[Sequence[int] | ArrayLike, float]]
        | Sequence[DemandShare]
        | None = None,
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
        capacity : float or array-like, shape (n_candidates,), optional
            Weight each site can serve in a phase (e.g. households); None: no capacities.
        groups, min_per_group : optional
            Group rules, as for :class:`~siting.models.coverage.mclp.MCLP`, held from the first phase.
        served_shares : mapping of name to (demand rows, min share), or sequence of DemandShare, optional
            Each part of the demand served to at least its share, in every phase.

        Raises
        ------
        InputError
            Listing every problem with the inputs.
        """
        cov, w = _check(coverage, weights, years, sites_per_phase, budgets)
        m = cov.shape[1]
        cost = np.ones(m) if site_cost is None else np.asarray(site_cost, dtype=float)
        problems: list[Problem] = []
        cap = None if capacity is None else _capacity(problems, capacity, m)
        shares = demand_shares(problems, served_shares, cov.shape[0])
        raise_if_problems(problems, title="invalid phased plan")
        rules = SiteRules.build(
            m, fixed=fixed, forbidden=forbidden, site_cost=cost, groups=groups, min_per_group=min_per_group
        )
        return cls(
            coverage=cov,
            weights=frozen_array(w),
            years=tuple(int(v) for v in years),
            sites_per_phase=None if sites_per_phase is None else tuple(int(v) for v in sites_per_phase),
            budgets=None if budgets is None else tuple(float(v) for v in budgets),
            rules=rules,
            capacity=None if cap is None else frozen_array(cap),
            shares=shares,
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
        reason = self.rules.infeasibility(None)
        if reason:
            return self._infeasible(reason, start)
        sol, service = self._run(opts)
        if not sol.has_solution:
            reason = (
                "no nested plan meets the sites per phase, the budgets, the fixed sites, the group rules "
                "and the demand shares together"
                if sol.status == "infeasible"
                else "the time limit ran out before any plan was found"
            )
            return self._infeasible(reason, start)
        y = service.mip.open_sites(sol.x)
        opened = np.full(self.rules.n_candidates, -1, dtype=np.int64)
        for t in range(len(self.years) - 1, -1, -1):
            opened[y[t]] = t
        status = "optimal" if sol.status == "optimal" else "time_limit"
        return self._result(opened, float(sol.bound), status=status, start=start, service=service)

    def _run(
        self, opts: SolveOptions, open_by_phase: NDArray[np.bool_] | None = None
    ) -> tuple[MipSolution, Service]:
        """Build (rows merged) and solve the MIP; ``open_by_phase`` fixes the sites (an evaluation)."""
        labels, _, a, wr = merge_rows(self.coverage, self.weights, self.shares)
        share_rows = [(np.unique(labels[s.rows]), s.min_share) for s in self.shares]
        mip = build_phased_mip(
            a, wr, self.rules, sites_per_phase=self.sites_per_phase, budgets=self.budgets,
            capacity=self.capacity, share_rows=share_rows, open_by_phase=open_by_phase,
        )  # fmt: skip
        sol = mip.solve(opts)
        return sol, Service(mip, sol.x, labels)

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
        service = None
        if self.capacity is not None or self.shares:  # the best service of these sites: an LP
            open_by_phase = np.stack([(phase >= 0) & (phase <= t) for t in range(len(self.years))])
            sol, found = self._run(SolveOptions(), open_by_phase=open_by_phase)
            service = found if sol.has_solution else None
        result = self._result(phase, float("nan"), status="feasible", start=start, service=service)
        broken = self._broken(phase)
        if (self.capacity is not None or self.shares) and service is None:
            broken.append("no service of the demand meets the demand shares with these sites")
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
        first = np.flatnonzero(phase == 0)
        out.extend(r for r in self.rules.violations(first, p=None) if r.startswith("group"))
        return out

    def _result(
        self,
        phase: NDArray[np.int64],
        bound: float,
        *,
        status: str,
        start: float,
        service: Service | None = None,
    ) -> PhasedResult:
        """Build the frozen result of the plan ``phase`` (phase index per candidate, -1 never).

        Without capacities a demand point is covered when an open site covers it (assigned to the
        lowest-index one); with them ``service`` (the MIP and its solution) says who serves whom.
        """
        cov, w = self.coverage, self.weights
        t_count, m = len(self.years), cov.shape[1]
        selected = tuple(frozen_array(np.flatnonzero((phase >= 0) & (phase <= t))) for t in range(t_count))
        covered = np.zeros(t_count)
        load = np.zeros(m)
        assignment = np.full(cov.shape[0], -1, dtype=np.int64)
        for t in range(t_count):
            if self.capacity is None or service is None:
                assignment = assign_first_cover(
                    CoverageData(csr=cov, csc=cov.tocsc(), weights=w[t]), selected[t]
                )
                hit = assignment >= 0
                covered[t] = float(w[t][hit].sum())
                load += np.bincount(assignment[hit], weights=w[t][hit], minlength=m)
            else:
                served, site_load, assignment = service.read(t, w[t])
                covered[t], load = float(served.sum()), load + site_load
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


def _capacity(problems: list[Problem], capacity: float | ArrayLike, m: int) -> NDArray[np.float64]:
    """Capacities: one value for every site or one per site, finite and > 0."""
    cap = np.asarray(capacity, dtype=float).ravel()
    cap = np.full(m, float(cap[0])) if cap.size == 1 else cap
    if cap.shape != (m,):
        problems.append(Problem("capacity", f"has {cap.size} values for {m} candidates", "one per site"))
    elif not np.isfinite(cap).all() or (cap <= 0).any():
        problems.append(Problem("capacity", "has non-positive or non-finite values", "use capacities > 0"))
    return cap
