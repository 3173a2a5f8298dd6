"""Capacitated p-median with single sourcing: each demand goes whole to one open site within capacity."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from siting.errors import Problem
from siting.models._inputs import Neighbours
from siting.models._results import evaluation, selection_indices
from siting.models.base import SolveOptions, SolveResult, frozen_array, relative_gap, rows_text
from siting.models.median._common import cost_input, infeasible_result, lower_bound, precheck
from siting.models.rules import Group, SiteRules
from siting.models.solvers.highs import solve_mip
from siting.models.solvers.interchange import interchange

__all__ = ["CapacitatedPMedian"]

#: Reachable pairs up to which ``method="auto"`` runs the exact MIP.
EXACT_MAX_ENTRIES = 250_000
#: Interchange starts of the heuristic (one when it only opens the exact MIP).
INTERCHANGE_STARTS = 4
#: Seconds ``evaluate`` gives the assignment MIP of given sites.
EVALUATE_TIME_LIMIT = 60.0


@dataclass(frozen=True)
class CapacitatedPMedian:
    r"""Capacitated p-median, single sourcing (Osman & Christofides 1994).

    With demand :math:`q_i`, capacity :math:`Q_j`, binary :math:`y_j` (open) and
    :math:`x_{ij}` (demand ``i`` served wholly by ``j``, only for stored pairs):

    .. math::

        \min \sum_{ij} c_{ij} x_{ij}\quad\text{s.t.}\quad \sum_j x_{ij} = 1,\
        \sum_i q_i x_{ij} \le Q_j y_j,\ x_{ij} \le y_j,\ \sum_j y_j = p

    plus fixed / forbidden sites, budget (``p`` then an upper limit) and group
    rules. The objective is **not** demand-weighted (weight ``cost`` yourself if
    you want it). ``load`` is the demand served by each site.

    **Exact**: this MIP in HiGHS. **Heuristic**: sites from fast interchange
    on the uncapacitated problem (unit weights), then regret-ordered greedy
    assignment within capacities; the bound is the uncapacitated Lagrangian
    bound (valid: dropping capacities only relaxes).

    Build with :meth:`from_cost_matrix`.

    Attributes
    ----------
    cost : scipy.sparse.csr_matrix, shape (n_demand, n_candidates)
        Allowed pairs and their cost.
    demand : ndarray of float, shape (n_demand,)
        Demand of each row (the unit of ``capacity``).
    capacity : ndarray of float, shape (n_candidates,)
        Capacity of each site.
    p : int or None
        Sites to open.
    rules : SiteRules
        Fixed / forbidden sites, costs and budget, groups.
    """

    #: ``solve()`` minimises the objective (the total assigned cost); ``bound`` is a lower bound.
    SENSE: ClassVar[Literal["max", "min"]] = "min"
    #: Name in results.
    MODEL: ClassVar[str] = "capacitated p-median"
    #: The ``from_cost_matrix`` keyword of the demand column (for :mod:`siting.adapters`).
    weights_option: ClassVar[str] = "demand"

    cost: sp.csr_matrix
    demand: NDArray[np.float64]
    capacity: NDArray[np.float64]
    p: int | None
    rules: SiteRules

    @property
    def p_exact(self) -> bool:
        """Whether exactly ``p`` sites open (no budget); with a budget at most ``p``."""
        return self.p is not None and self.rules.budget is None

    @classmethod
    def from_cost_matrix(
        cls,
        cost: ArrayLike | sp.spmatrix | sp.sparray,
        *,
        demand: ArrayLike,
        capacity: float | ArrayLike,
        p: int | None = None,
        fixed: Sequence[int] | ArrayLike | None = None,
        forbidden: Sequence[int] | ArrayLike | None = None,
        site_cost: ArrayLike | None = None,
        budget: float | None = None,
        groups: Mapping[str, Sequence[int] | ArrayLike] | Sequence[Group] | None = None,
        min_per_group: int = 1,
    ) -> CapacitatedPMedian:
        """Build from a cost matrix, demands and capacities.

        Parameters
        ----------
        cost : array-like or scipy.sparse matrix, shape (n_demand, n_candidates)
            Cost of serving each demand from each site (dense ``inf`` / sparse missing = not allowed).
        demand : array-like, shape (n_demand,)
            Demand of each row (same unit as capacity), ``>= 0``.
        capacity : float or array-like, shape (n_candidates,)
            Capacity of every site, or of each site.
        p, fixed, forbidden, site_cost, budget, groups, min_per_group
            As in :meth:`PMedian.from_cost_matrix`.

        Raises
        ------
        InputError
            Listing every problem with the inputs.
        """
        data, cap = cost_input(
            cost, p=p, weights=demand, fixed=fixed, forbidden=forbidden, site_cost=site_cost,
            budget=budget, groups=groups, min_per_group=min_per_group, title=f"invalid {cls.MODEL} input",
            weights_name="demand", extra=lambda problems, m: _check_capacity(problems, capacity, m),
        )  # fmt: skip
        return cls(
            cost=data.cost, demand=data.weights, capacity=frozen_array(cap), p=data.p, rules=data.rules
        )

    def _capacity_precheck(self, nb: Neighbours) -> str:
        reasons = []
        fits = self.demand[nb.row_of_entry] <= self.capacity[nb.cols] + 1e-9
        n_fit = np.bincount(nb.row_of_entry[fits], minlength=nb.n)
        bad = np.flatnonzero(n_fit == 0)
        if bad.size:
            reasons.append(f"demand rows {rows_text(bad)} fit no reachable allowed site's capacity")
        if self.p is not None:
            caps = np.sort(self.capacity[self.rules.allowed])[::-1]
            best = float(caps[: self.p].sum())
            if best + 1e-9 < float(self.demand.sum()):
                reasons.append(
                    f"total demand {self.demand.sum():g} exceeds the {self.p} largest capacities ({best:g})"
                )
        return "; ".join(reasons)

    def solve(self, options: SolveOptions | None = None) -> SolveResult:
        """Solve and return a :class:`~siting.models.base.SolveResult` (objective = sum of assigned costs).

        Parameters
        ----------
        options : SolveOptions, optional
            ``method="auto"`` is exact up to ``EXACT_MAX_ENTRIES`` reachable pairs.
        """
        opts = options or SolveOptions()
        time_limit, method, seed, mip_rel_gap = opts.time_limit, opts.method, opts.seed, opts.mip_gap
        start = time.perf_counter()
        deadline = start + time_limit if time_limit is not None else np.inf
        nb = Neighbours.build(self.cost, self.rules.allowed)
        chosen: Any = (
            method if method != "auto" else ("exact" if nb.vals.size <= EXACT_MAX_ENTRIES else "heuristic")
        )
        reason = "; ".join(
            filter(
                None, [precheck(nb, self.rules, self.p, p_exact=self.p_exact), self._capacity_precheck(nb)]
            )
        )
        if reason:
            return self._infeasible(reason, start, chosen)
        if chosen == "exact":
            first = self._heuristic(nb, start, deadline, seed=seed, n_starts=1)
            if first.status == "feasible" and first.gap <= mip_rel_gap:  # the Lagrangian bound proves it
                return replace(first, status="optimal", method="exact")
            incumbent = (
                (np.asarray(first.selected), np.asarray(first.assignment))
                if first.status == "feasible"
                else None
            )
            return self._exact_mip(nb, start, deadline, opts, incumbent=incumbent)
        return self._heuristic(nb, start, deadline, seed=seed, n_starts=INTERCHANGE_STARTS)

    def _exact_mip(
        self,
        nb: Neighbours,
        start: float,
        deadline: float,
        opts: SolveOptions,
        *,
        incumbent: tuple[NDArray[np.int64], NDArray[np.int64]] | None = None,
        rules: SiteRules | None = None,
        count_sites: bool = True,
    ) -> SolveResult:
        """Solve the assignment MIP in HiGHS; ``rules`` replaces the model's own (``evaluate`` fixes the sites)."""
        rules = rules if rules is not None else self.rules
        m = nb.m
        fits = self.demand[nb.row_of_entry] <= self.capacity[nb.cols] + 1e-9
        ent = np.flatnonzero(fits)
        k = ent.size
        r, j = nb.row_of_entry[ent], nb.cols[ent]
        xc = m + np.arange(k)
        assign = sp.csr_matrix((np.ones(k), (r, xc)), shape=(nb.n, m + k))
        cap_rows = sp.csr_matrix(
            (np.concatenate([self.demand[r], -self.capacity]), (np.concatenate([j, np.arange(m)]),
             np.concatenate([xc, np.arange(m)]))), shape=(m, m + k),
        )  # fmt: skip
        link = sp.csr_matrix(
            (np.concatenate([np.ones(k), -np.ones(k)]), (np.tile(np.arange(k), 2), np.concatenate([xc, j]))),
            shape=(k, m + k),
        )
        site_a, site_lo, site_hi = rules.constraint_rows(
            p=self.p if count_sites else None, p_exact=self.p_exact
        )
        a = sp.vstack(
            [assign, cap_rows, link, sp.hstack([site_a, sp.csr_matrix((site_a.shape[0], k))])], format="csr"
        )
        lo = np.concatenate([np.ones(nb.n), np.full(m + k, -np.inf), site_lo])
        hi = np.concatenate([np.ones(nb.n), np.zeros(m + k), site_hi])
        y_lo, y_hi = rules.column_bounds()
        initial = None if incumbent is None else _as_columns(incumbent, m, r, j)
        left = None if not np.isfinite(deadline) else max(deadline - time.perf_counter(), 0.1)
        sol = solve_mip(
            np.concatenate([np.zeros(m), nb.vals[ent]]), a, lo, hi,
            col_lower=np.concatenate([y_lo, np.zeros(k)]), col_upper=np.concatenate([y_hi, np.ones(k)]),
            integer=np.ones(m + k, dtype=bool), time_limit=left, mip_rel_gap=opts.mip_gap, threads=opts.threads,
            seed=opts.seed,
            initial=initial,
        )  # fmt: skip
        if sol.status == "infeasible":
            return self._infeasible("no selection meets the site rules and serves every demand within capacity",
                                    start, "exact")  # fmt: skip
        if not sol.has_solution:
            return self._infeasible("the time limit ran out before any solution was found", start, "exact")
        on = sol.x[m:] > 0.5
        assignment = np.full(nb.n, -1, dtype=np.int64)
        assignment[r[on]] = j[on]
        status: Any = "optimal" if sol.status == "optimal" else "time_limit"
        return self._cap_result(
            nb, np.flatnonzero(sol.x[:m] > 0.5), assignment, sol.bound, status=status, start=start,
            solver="highs-mip(assignment)", method="exact",
        )  # fmt: skip

    def _heuristic(
        self, nb: Neighbours, start: float, deadline: float, *, seed: int, n_starts: int
    ) -> SolveResult:
        ones = np.ones(nb.n)
        heur = interchange(nb, ones, self.rules, p=self.p, p_exact=self.p_exact, seed=seed, n_starts=n_starts,
                           deadline=deadline)  # fmt: skip
        if heur is None or heur.unreached:
            return self._infeasible(
                "interchange found no selection meeting the rules (not proven)", start, "heuristic"
            )
        assignment = self._greedy_assign(nb, heur.selected)
        if assignment is None:
            return self._infeasible("greedy assignment could not fit the demand into the chosen sites' "
                                    "capacities (not proven; try method='exact')", start, "heuristic")  # fmt: skip
        lb = lower_bound(
            nb, ones, self.rules, self.p, p_exact=self.p_exact, incumbent=heur.selected, upper=heur.objective,
            deadline=deadline,
        )  # fmt: skip
        solver = f"interchange+regret-assignment+lagrangian({lb.iterations} it)"
        return self._cap_result(
            nb,
            heur.selected,
            assignment,
            lb.bound,
            status="feasible",
            start=start,
            solver=solver,
            method="heuristic",
        )

    def _greedy_assign(self, nb: Neighbours, selected: NDArray[np.int64]) -> NDArray[np.int64] | None:
        """Assign demand in order of regret (second-best minus best cost) to the nearest site with room."""
        is_open = np.zeros(nb.m, dtype=bool)
        is_open[selected] = True
        room = self.capacity.copy()
        ok = is_open[nb.cols]
        rows, cols, vals = nb.row_of_entry[ok], nb.cols[ok], nb.vals[ok]
        starts = np.searchsorted(rows, np.arange(nb.n))
        ends = np.searchsorted(rows, np.arange(nb.n), side="right")
        first = np.where(ends > starts, vals[np.minimum(starts, max(vals.size - 1, 0))], np.inf)
        second = np.where(ends - starts > 1, vals[np.minimum(starts + 1, max(vals.size - 1, 0))], np.inf)
        regret = np.where(np.isfinite(second), second - first, np.inf)
        order = np.lexsort((-self.demand, -regret))
        assignment = np.full(nb.n, -1, dtype=np.int64)
        for i in order:
            for e in range(starts[i], ends[i]):
                if room[cols[e]] + 1e-9 >= self.demand[i]:
                    assignment[i] = cols[e]
                    room[cols[e]] -= self.demand[i]
                    break
            else:
                return None
        return assignment

    def _cap_result(
        self, nb: Neighbours, selected: NDArray[np.int64], assignment: NDArray[np.int64], bound: float, *,
        status: Any, start: float, solver: str, method: Any,
    ) -> SolveResult:  # fmt: skip
        dense_cost = self.cost.tocsr()
        served = assignment >= 0
        dist = np.zeros(nb.n)
        dist[served] = np.asarray(dense_cost[np.flatnonzero(served), assignment[served]]).ravel()
        objective = float(dist.sum())
        bound = min(float(bound), objective)
        gap = relative_gap(objective, bound)
        if status == "optimal" and gap > 1e-6:
            status = "feasible"
        return SolveResult(
            model=self.MODEL, status=status, objective=objective, bound=bound, gap=gap,
            selected=frozen_array(np.sort(selected).astype(np.int64)), assignment=frozen_array(assignment),
            load=frozen_array(np.bincount(assignment[served], self.demand[served], minlength=nb.m)),
            covered_weight=float(self.demand[served].sum()), total_weight=float(self.demand.sum()),
            solve_seconds=time.perf_counter() - start, solver=solver, method=method,
            extra={"max_utilisation": float(
                (np.bincount(assignment[served], self.demand[served], minlength=nb.m)[selected]
                 / np.maximum(self.capacity[selected], 1e-12)).max()) if selected.size else 0.0},
        )  # fmt: skip

    def evaluate(self, selected: ArrayLike) -> SolveResult:
        """Compute the cheapest single-source assignment of the demand to given open sites (a MIP).

        The assignment MIP gets :data:`EVALUATE_TIME_LIMIT` seconds; an assignment not proven
        cheapest by then is reported with a note in ``reason``. As for every model, ``p`` is
        checked as the most sites (fewer sites are scored, not refused).

        Returns
        -------
        SolveResult
            ``status="feasible"`` when the demand fits the sites' capacities and the site rules
            hold (``bound`` and ``gap`` NaN), else ``"infeasible"`` with the reason.
        """
        start = time.perf_counter()
        m = self.rules.n_candidates
        sel = selection_indices(selected, m)
        nb = Neighbours.build(self.cost)
        fixed_sites = SiteRules.build(m, fixed=sel, forbidden=np.setdiff1d(np.arange(m), sel))
        opts = SolveOptions(method="exact")
        result = self._exact_mip(
            nb, start, start + EVALUATE_TIME_LIMIT, opts, rules=fixed_sites, count_sites=False
        )
        if result.status == "infeasible":
            empty = self._cap_result(nb, sel, np.full(nb.n, -1, dtype=np.int64), np.inf, status="feasible",
                                     start=start, solver="evaluate", method="exact")  # fmt: skip
            out = evaluation(empty, self.rules, p=self.p)
            why = "the demand does not fit the sites' capacities"
            if "time limit" in result.reason:
                why = f"no assignment within the sites' capacities found in {EVALUATE_TIME_LIMIT:g} s"
            reason = "; ".join(r for r in (out.reason, why) if r)
            return replace(out, status="infeasible", reason=reason)
        out = evaluation(result, self.rules, p=self.p, unserved="reach no open site")
        if result.status == "time_limit":
            note = f"assignment not proven cheapest within {EVALUATE_TIME_LIMIT:g} s"
            out = replace(out, reason="; ".join(r for r in (out.reason, note) if r))
        return out

    def _infeasible(self, reason: str, start: float, method: Any) -> SolveResult:
        return infeasible_result(self.MODEL, self.cost, self.demand, reason, start=start, method=method)


def _check_capacity(problems: list[Problem], capacity: object, m: int | None) -> NDArray[np.float64]:
    """Validate the capacities (one value for every site, or one per site; finite, ``>= 0``)."""
    cap = np.asarray(capacity, dtype=float).ravel()
    if m is not None:
        cap = np.full(m, float(cap[0])) if cap.size == 1 else cap
        if cap.shape != (m,):
            problems.append(Problem("capacity", f"has {cap.size} values for {m} candidates", "one per site"))
    if not np.isfinite(cap).all() or (cap < 0).any():
        problems.append(Problem("capacity", "has negative or non-finite values", "use capacities >= 0"))
    return cap


def _as_columns(
    incumbent: tuple[NDArray[np.int64], NDArray[np.int64]], m: int, r: NDArray[np.int64], j: NDArray[np.int64]
) -> NDArray[np.float64]:
    """Write a (selected sites, assignment) plan as MIP columns ``[y (m), x (one per pair (r, j))]``."""
    selected, assigned = incumbent
    x = np.zeros(m + r.shape[0])
    x[selected] = 1.0
    x[m + np.flatnonzero(assigned[r] == j)] = 1.0
    return x
