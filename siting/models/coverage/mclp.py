"""Maximal covering location problem (MCLP): cover the most demand weight with p sites."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from siting.models._inputs import CoverageData, RuleOptions, check_model_input
from siting.models._presolve import auto_exact, reduce_rows
from siting.models._results import coverage_infeasible, coverage_result, evaluation, selection_indices
from siting.models.base import SolveOptions, SolveResult
from siting.models.rules import Group, SiteRules
from siting.models.solvers.fixing import solve_core
from siting.models.solvers.formulations import solve_mclp_mip
from siting.models.solvers.greedy import solve_max_cover

__all__ = ["MCLP"]

_HEURISTIC_DEFAULT_SECONDS = 30.0
#: Reduced coverage entries from which the exact solve goes through reduced-cost fixing (below
#: it the whole MIP is faster than the heuristic's Lagrangian iterations).
CORE_MIN_NNZ = 10_000


@dataclass(frozen=True)
class MCLP:
    r"""Maximal covering location problem (Church & ReVelle 1974) with site rules.

    Formulation, with ``a_ij = 1`` when candidate ``j`` covers demand ``i``::

        maximise    sum_i w_i z_i
        subject to  z_i <= sum_j a_ij y_j              for every demand i
                    sum_j y_j <= p                     (when p is given)
                    sum_j c_j y_j <= B                 (when a budget is given)
                    sum_{j in G} y_j >= k_G            for every group G
                    y_j = 1 (fixed j),  y_j = 0 (forbidden j)
                    y_j in {0, 1},  0 <= z_i <= 1

    ``z`` needs no integrality: for binary ``y`` the optimum has
    ``z_i = min(1, sum_j a_ij y_j)``. ``sum y <= p`` gives the same optimum as
    ``= p`` (an extra site never lowers coverage) and leaves room for budgets.

    Exact solves use HiGHS on a reduced model: forbidden columns, zero-weight
    rows, rows no allowed site covers and rows a fixed site covers are dropped,
    and rows with the same covering set are merged (weights summed). With only
    p, fixed and forbidden sites the exact solve first runs the heuristic, then
    drops every candidate ``j`` whose Lagrangian bound with ``j`` open,
    ``UB(lam) - c_(s) + c_j``, cannot beat the incumbent (reduced-cost fixing),
    and solves the MIP over the candidates left: exact for the whole model
    (from ``CORE_MIN_NNZ`` reduced coverage entries; smaller models go to the MIP
    directly). The
    heuristic is lazy greedy + swap local search with a Lagrangian upper bound
    (see :mod:`siting.models.solvers.greedy`).

    Build with :meth:`from_coverage` or :meth:`from_geodataframes`.

    Attributes
    ----------
    data : CoverageData
        Coverage matrix (n_demand x n_candidates) and weights.
    rules : SiteRules
        Fixed / forbidden sites, costs and budget, groups.
    p : int or None
        Most sites to open (fixed ones included).
    """

    #: ``solve()`` maximises the objective (the covered demand weight); ``bound`` is an upper bound.
    SENSE: ClassVar[Literal["max", "min"]] = "max"

    data: CoverageData
    rules: SiteRules
    p: int | None

    @classmethod
    def from_coverage(
        cls,
        coverage: sp.spmatrix | sp.sparray | ArrayLike,
        *,
        weights: ArrayLike | None = None,
        p: int | None = None,
        fixed: Sequence[int] | ArrayLike | None = None,
        forbidden: Sequence[int] | ArrayLike | None = None,
        site_cost: ArrayLike | None = None,
        budget: float | None = None,
        groups: Mapping[str, Sequence[int] | ArrayLike] | Sequence[Group] | None = None,
        min_per_group: int = 1,
    ) -> MCLP:
        """Build an MCLP from a coverage matrix.

        Parameters
        ----------
        coverage : scipy.sparse matrix or array-like, shape (n_demand, n_candidates)
            Truthy where candidate ``j`` covers demand ``i`` (e.g. ``cost <= radius``).
        weights : array-like of float, shape (n_demand,), optional
            Demand weights >= 0 (households, residents); 1 each when omitted.
        p : int, optional
            Most sites to open, fixed ones included, ``1 <= p <= n_candidates``.
            ``p`` or ``budget`` (or both) is required.
        fixed, forbidden : sequence of int, optional
            Candidate indices that must open (existing stations) / may not open.
        site_cost : array-like of float, shape (n_candidates,), optional
            Opening cost per site (any currency unit); needed by ``budget``.
        budget : float, optional
            Most total opening cost, fixed sites included.
        groups : mapping of name to candidate indices, or sequence of Group, optional
            Each group needs at least ``min_per_group`` (or its ``min_sites``) open sites.
        min_per_group : int
            Sites each group of a mapping needs.

        Raises
        ------
        InputError
            Listing every problem with the inputs.
        """
        opts = RuleOptions(fixed, forbidden, site_cost, budget, groups, min_per_group)
        data, rules, p_val, _ = check_model_input(
            coverage, weights, p, opts, title="invalid MCLP input", need_p_or_budget=True
        )
        return cls(data=data, rules=rules, p=p_val)

    def solve(self, options: SolveOptions | None = None) -> SolveResult:
        """Solve the model.

        Parameters
        ----------
        options : SolveOptions, optional
            ``method="auto"`` runs the exact MIP when the reduced coverage matrix has at
            most ``AUTO_EXACT_MAX_NNZ`` entries, else the certified heuristic (30 s at most
            without a time limit).

        Returns
        -------
        SolveResult
            ``objective`` and ``covered_weight`` are the covered demand weight;
            ``bound`` an upper bound on the optimum; ``assignment`` the
            lowest-index open site covering each demand point (``-1`` if none).
        """
        opts = options or SolveOptions()
        method = opts.method
        start = time.perf_counter()
        reason = self.rules.infeasibility(self.p)
        if reason:
            return self._infeasible(reason, start, "exact" if method == "exact" else "heuristic")
        reduced = reduce_rows(self.data, self.rules)
        if auto_exact(method, reduced.matrix.nnz):
            return self._solve_exact(reduced, start, opts)
        return self._solve_heuristic(start, opts)

    def evaluate(self, selected: ArrayLike) -> SolveResult:
        """Compute the demand weight covered by given open sites (no solve).

        The result is an evaluation (see :func:`siting.models._results.evaluation`): NaN bound
        and gap, ``infeasible`` with the broken rules in ``reason``; an index that is not a
        candidate raises :class:`~siting.errors.InputError`.
        """
        start = time.perf_counter()
        sel = selection_indices(selected, self.data.n_candidates)
        objective = self._covered(sel)
        result = coverage_result(
            model="MCLP", data=self.data, selected=sel, objective=objective, bound=objective,
            status="feasible", started=start, solver="evaluate", method="exact",
        )  # fmt: skip
        return evaluation(result, self.rules, p=self.p)

    def _infeasible(self, reason: str, start: float, method: Any) -> SolveResult:
        solver = "highs-mip" if method == "exact" else "lazy-greedy+swap"
        return coverage_infeasible("MCLP", self.data, reason, started=start, solver=solver, method=method)

    def _solve_exact(self, reduced: Any, start: float, opts: SolveOptions) -> SolveResult:
        simple = not self.rules.groups and self.rules.budget is None and self.p is not None
        if simple and reduced.matrix.nnz >= CORE_MIN_NNZ:
            fixed_out = self._exact_by_core(start, opts)
            if fixed_out is not None:
                return fixed_out
        m = reduced.matrix
        n_rows, n = m.shape
        sol = solve_mclp_mip(reduced, self.rules, self.p, opts)
        if sol.status == "infeasible" or not sol.has_solution:
            why = "no selection meets p, the budget and the group rules together"
            if sol.status != "infeasible":
                why = f"no solution found within the time limit of {opts.time_limit} s"
            return self._infeasible(why, start, "exact")
        selected = np.flatnonzero(sol.x[:n] > 0.5)
        objective = self._covered(selected)
        bound = max(sol.bound + reduced.constant, objective)
        status: Any = "optimal" if sol.status == "optimal" else "time_limit"
        return coverage_result(
            model="MCLP",
            data=self.data,
            selected=selected,
            objective=objective,
            bound=bound,
            status=status,
            started=start,
            solver="highs-mip",
            method="exact",
            extra={"reduced_rows": float(n_rows), "reduced_nnz": float(m.nnz)},
        )

    def _exact_by_core(self, start: float, opts: SolveOptions) -> SolveResult | None:
        """Exact MCLP by Lagrangian reduced-cost fixing: heuristic, then the MIP over the candidates left.

        Greedy + swaps give an incumbent and Lagrangian multipliers (a few seconds at most);
        every candidate whose Lagrangian bound with it open cannot beat the incumbent is
        left out, and the MIP over the rest is exact for the whole model. None when the
        heuristic gives no multipliers or no time is left (the caller runs the full MIP).
        """
        assert self.p is not None
        time_limit, seed, mip_gap = opts.time_limit, opts.seed, opts.mip_gap
        left = np.inf if time_limit is None else time_limit - (time.perf_counter() - start)
        out = solve_max_cover(
            self.data, self.rules, self.p, level=1, time_limit=float(min(max(0.05, 0.2 * left), 10.0)),
            seed=seed, gap_target=mip_gap,
        )  # fmt: skip
        if not out.feasible or out.multipliers is None:
            return None
        objective = self._covered(out.selected)
        extra = {"swaps": float(out.swaps), "bound_iterations": float(out.bound_iterations)}
        solver = "lazy-greedy+swap+lagrangian"
        bound = max(out.bound, objective)
        if bound - objective > mip_gap * max(objective, 1e-9):
            integral = bool(np.array_equal(self.data.weights, np.round(self.data.weights)))
            beat = objective + 1.0 - 1e-6 if integral else objective * (1.0 + 1e-12)
            deadline = np.inf if time_limit is None else start + time_limit
            core = solve_core(self.data, self.rules, self.p, out.multipliers, out.selected, deadline=deadline,
                              opts=opts, beat=beat)  # fmt: skip
            if core is None:
                return None
            solver += "+reduced-cost-fixing+highs-mip"
            extra.update(core_size=float(core.core_size), heuristic_objective=objective)
            selected = core.selected if self._covered(core.selected) > objective else out.selected
            objective = self._covered(selected)
            bound = max(min(bound, core.bound), objective)
            if integral:
                bound = max(float(np.floor(bound + 1e-7 * max(1.0, abs(bound)))), objective)
        else:
            selected = out.selected
        gap = (bound - objective) / max(abs(objective), 1e-9)
        return coverage_result(
            model="MCLP", data=self.data, selected=selected, objective=objective, bound=bound,
            status="optimal" if gap <= mip_gap else "time_limit", started=start, solver=solver,
            method="exact", extra=extra,
        )  # fmt: skip

    def _solve_heuristic(self, start: float, opts: SolveOptions) -> SolveResult:
        seed, mip_gap = opts.seed, opts.mip_gap
        budget = opts.time_limit if opts.time_limit is not None else _HEURISTIC_DEFAULT_SECONDS
        end = start + 0.92 * budget
        simple = not self.rules.groups and self.rules.budget is None and self.p is not None
        share = 0.45 if simple else 1.0
        left = max(0.05, share * (end - time.perf_counter()))
        out = solve_max_cover(
            self.data, self.rules, self.p, level=1, time_limit=left, seed=seed, gap_target=mip_gap
        )
        if not out.feasible:
            return self._infeasible(
                "the greedy heuristic found no selection meeting the group and budget rules "
                "(not a proof of infeasibility: try method='exact')",
                start,
                "heuristic",
            )
        selected, objective, bound = out.selected, self._covered(out.selected), out.bound
        extra = {"swaps": float(out.swaps), "bound_iterations": float(out.bound_iterations)}
        solver = "lazy-greedy+swap+lagrangian"
        if simple and out.multipliers is not None and bound - objective > mip_gap * max(objective, 1e-9):
            assert self.p is not None
            core = solve_core(
                self.data,
                self.rules,
                self.p,
                out.multipliers,
                selected,
                deadline=end,
                opts=opts,
            )
            if core is not None:
                solver += "+core-mip"
                extra.update(core_size=float(core.core_size), heuristic_objective=objective)
                core_obj = self._covered(core.selected)
                if core_obj > objective:
                    selected, objective = core.selected, core_obj
                bound = min(bound, core.bound)
                if np.array_equal(self.data.weights, np.round(self.data.weights)):
                    bound = float(np.floor(bound + 1e-7 * max(1.0, abs(bound))))
        bound = max(bound, objective)
        gap = (bound - objective) / max(abs(objective), 1e-9)
        return coverage_result(
            model="MCLP",
            data=self.data,
            selected=selected,
            objective=objective,
            bound=bound,
            status="optimal" if gap <= mip_gap else "feasible",
            started=start,
            solver=solver,
            method="heuristic",
            extra=extra,
        )

    def _covered(self, selected: Any) -> float:
        counts = self.data.cover_counts(np.asarray(selected, dtype=np.int64))
        return float(self.data.weights[counts > 0].sum())
