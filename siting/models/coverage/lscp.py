"""Location set covering problem (LSCP): the fewest sites that cover every demand point."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from siting.models._inputs import CoverageData, RuleOptions, check_model_input
from siting.models._presolve import ReducedRows, auto_exact, reduce_rows
from siting.models._results import coverage_infeasible, coverage_result, evaluation, selection_indices
from siting.models.base import SolveOptions, SolveResult, rows_text
from siting.models.rules import Group, SiteRules
from siting.models.solvers.greedy import solve_set_cover
from siting.models.solvers.highs import solve_mip

__all__ = ["LSCP", "uncoverable_rows"]

_HEURISTIC_DEFAULT_SECONDS = 30.0


def uncoverable_rows(data: CoverageData, rules: SiteRules) -> NDArray[np.int64]:
    """Demand rows that no allowed (non-forbidden) candidate covers."""
    allowed = rules.allowed.astype(np.float64)
    return np.flatnonzero(np.asarray(data.csr @ allowed) <= 0).astype(np.int64)


@dataclass(frozen=True)
class LSCP:
    r"""Location set covering problem (Toregas et al. 1971) with site rules.

    Formulation, with ``a_ij = 1`` when candidate ``j`` covers demand ``i``::

        minimise    sum_j y_j
        subject to  sum_j a_ij y_j >= 1                for every demand i
                    sum_j y_j <= p                     (when p is given)
                    sum_j c_j y_j <= B                 (when a budget is given)
                    sum_{j in G} y_j >= k_G            for every group G
                    y_j = 1 (fixed j),  y_j = 0 (forbidden j),  y_j in {0, 1}

    Every demand row must be covered, whatever its weight (weights are only
    reported as ``covered_weight``). Exact solves run HiGHS on the rows left
    after dropping rows a fixed site covers and merging rows with the same
    covering set. The heuristic is greedy set cover (most newly covered rows)
    with redundancy elimination, bounded below by a Lagrangian relaxation of
    the cover rows (rounded up: the objective is a whole number of sites).

    Attributes
    ----------
    data : CoverageData
        Coverage matrix (n_demand x n_candidates) and weights.
    rules : SiteRules
        Fixed / forbidden sites, costs and budget, groups.
    p : int or None
        Most sites allowed (fixed ones included); None for no limit.
    """

    #: ``solve()`` minimises the objective (the number of open sites); ``bound`` is a lower bound.
    SENSE: ClassVar[Literal["max", "min"]] = "min"

    data: CoverageData
    rules: SiteRules
    p: int | None = None

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
    ) -> LSCP:
        """Build an LSCP from a coverage matrix.

        Parameters
        ----------
        coverage : scipy.sparse matrix or array-like, shape (n_demand, n_candidates)
            Truthy where candidate ``j`` covers demand ``i`` (e.g. ``cost <= radius``).
        weights : array-like of float, shape (n_demand,), optional
            Demand weights >= 0, only reported (every row must be covered).
        p : int, optional
            Most sites allowed, fixed ones included.
        fixed, forbidden : sequence of int, optional
            Candidate indices that must open / may not open.
        site_cost : array-like of float, shape (n_candidates,), optional
            Opening cost per site; needed by ``budget``.
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
        data, rules, p_val, _ = check_model_input(coverage, weights, p, opts, title="invalid LSCP input")
        return cls(data=data, rules=rules, p=p_val)

    def solve(self, options: SolveOptions | None = None) -> SolveResult:
        """Solve the model.

        Parameters
        ----------
        options : SolveOptions, optional
            ``method="auto"`` runs the exact MIP for reduced matrices up to
            ``AUTO_EXACT_MAX_NNZ`` entries, else the greedy heuristic (30 s at most
            without a time limit).

        Returns
        -------
        SolveResult
            ``objective`` is the number of open sites, ``bound`` a lower bound;
            ``status`` is ``infeasible`` with the uncoverable demand rows named
            in ``reason`` when some row has no allowed covering candidate.
        """
        opts = options or SolveOptions()
        method = opts.method
        start = time.perf_counter()
        kind: Any = "exact" if method == "exact" else "heuristic"
        bad = uncoverable_rows(self.data, self.rules)
        reasons = []
        if bad.size:
            reasons.append(
                f"{bad.size} demand row(s) have no allowed covering candidate: rows {rows_text(bad)}"
            )
        rule_reason = self.rules.infeasibility(self.p)
        if rule_reason:
            reasons.append(rule_reason)
        if reasons:
            return self._infeasible("; ".join(reasons), start, kind)
        reduced = reduce_rows(self.data, self.rules, drop_zero=False)
        if auto_exact(method, reduced.matrix.nnz):
            return self._solve_exact(reduced, start, opts)
        return self._solve_heuristic(reduced, start, opts)

    def evaluate(self, selected: ArrayLike) -> SolveResult:
        """Count given open sites and check that they cover every demand row (no solve).

        The result is an evaluation (see :func:`siting.models._results.evaluation`): NaN bound
        and gap, ``infeasible`` with the broken rules in ``reason``; an index that is not a
        candidate raises :class:`~siting.errors.InputError`.
        """
        start = time.perf_counter()
        sel = selection_indices(selected, self.data.n_candidates)
        result = coverage_result(
            model="LSCP", data=self.data, selected=sel, objective=float(sel.size), bound=float(sel.size),
            status="feasible", started=start, solver="evaluate", method="exact",
        )  # fmt: skip
        return evaluation(result, self.rules, p=self.p, unserved="are not covered")

    def _infeasible(self, reason: str, start: float, method: Any) -> SolveResult:
        solver = "highs-mip" if method == "exact" else "greedy-setcover"
        return coverage_infeasible("LSCP", self.data, reason, started=start, solver=solver, method=method)

    def _solve_exact(self, reduced: ReducedRows, start: float, opts: SolveOptions) -> SolveResult:
        m = reduced.matrix
        n = self.data.n_candidates
        rule_a, rule_lo, rule_hi = self.rules.constraint_rows(p=self.p, p_exact=False)
        a = sp.vstack([m, rule_a], format="csc")
        lo_y, hi_y = self.rules.column_bounds()
        sol = solve_mip(
            np.ones(n),
            a,
            np.concatenate([np.ones(m.shape[0]), rule_lo]),
            np.concatenate([np.full(m.shape[0], np.inf), rule_hi]),
            col_lower=lo_y,
            col_upper=hi_y,
            integer=np.ones(n, dtype=bool),
            sense="min",
            time_limit=opts.time_limit,
            mip_rel_gap=opts.mip_gap,
            threads=opts.threads,
            seed=opts.seed,
        )
        if sol.status == "infeasible" or not sol.has_solution:
            why = "no selection covers every demand row within p, the budget and the group rules"
            if sol.status != "infeasible":
                why = f"no cover found within the time limit of {opts.time_limit} s"
            return self._infeasible(why, start, "exact")
        selected = np.flatnonzero(sol.x > 0.5)
        objective = float(selected.size)
        bound = float(min(np.ceil(sol.bound - 1e-6), objective))
        return coverage_result(
            model="LSCP",
            data=self.data,
            selected=selected,
            objective=objective,
            bound=bound,
            status="optimal" if sol.status == "optimal" or bound >= objective else "time_limit",
            started=start,
            solver="highs-mip",
            method="exact",
            extra={"reduced_rows": float(m.shape[0]), "reduced_nnz": float(m.nnz)},
        )

    def _solve_heuristic(self, reduced: ReducedRows, start: float, opts: SolveOptions) -> SolveResult:
        budget = opts.time_limit if opts.time_limit is not None else _HEURISTIC_DEFAULT_SECONDS
        left = max(0.05, 0.92 * budget - (time.perf_counter() - start))
        out = solve_set_cover(self.data, self.rules, self.p, time_limit=left, seed=opts.seed)
        if out.proven_infeasible:
            return self._infeasible(
                f"covering every demand row needs at least {out.bound:g} sites but p = {self.p}",
                start,
                "heuristic",
            )
        if not out.feasible:
            if reduced.matrix.nnz <= 4 * 400_000:
                return self._solve_exact(reduced, start, opts)
            return self._infeasible(
                "the greedy cover breaks p, the budget or a group rule "
                f"({out.objective:g} sites; not a proof of infeasibility: try method='exact')",
                start,
                "heuristic",
            )
        gap = (out.objective - out.bound) / max(out.objective, 1e-9)
        return coverage_result(
            model="LSCP",
            data=self.data,
            selected=out.selected,
            objective=out.objective,
            bound=out.bound,
            status="optimal" if gap <= opts.mip_gap else "feasible",
            started=start,
            solver="greedy-setcover+lagrangian",
            method="heuristic",
            extra={"bound_iterations": float(out.bound_iterations)},
        )
