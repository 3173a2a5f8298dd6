"""Backup coverage (Hogan & ReVelle BACOP1 / spopt's LSCP-B): maximise demand covered twice."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from siting.models._inputs import CoverageData, RuleOptions, check_model_input
from siting.models._presolve import ReducedRows, auto_exact, reduce_rows
from siting.models._results import coverage_infeasible, coverage_result, evaluation, selection_indices
from siting.models.base import SolveOptions, SolveResult, rows_text
from siting.models.coverage.lscp import LSCP, uncoverable_rows
from siting.models.rules import Group, SiteRules
from siting.models.solvers.greedy import solve_max_cover
from siting.models.solvers.highs import solve_mip

__all__ = ["BackupCoverage"]

_HEURISTIC_DEFAULT_SECONDS = 30.0


@dataclass(frozen=True)
class BackupCoverage:
    r"""Backup coverage, BACOP1 of Hogan & ReVelle (1986), with site rules.

    Every demand point must be covered at least once; among such selections,
    maximise the demand weight covered at least twice::

        maximise    sum_i w_i u_i
        subject to  sum_j a_ij y_j >= 1 + u_i          for every demand i
                    sum_j y_j <= p
                    sum_j c_j y_j <= B                 (when a budget is given)
                    sum_{j in G} y_j >= k_G            for every group G
                    y_j = 1 (fixed j),  y_j = 0 (forbidden j)
                    y_j in {0, 1},  0 <= u_i <= 1

    ``u`` needs no integrality: for binary ``y``, ``u_i = min(1, cover_i - 1)``.
    With ``p=None`` and no budget, ``p`` is the LSCP optimum under the same
    rules, which is spopt's LSCP-B (weights of 1 reproduce its objective: the
    number of demand points covered twice).

    Exact solves use HiGHS with rows of equal covering sets merged; the
    heuristic runs a greedy set cover, then lazy greedy on the second cover
    and swaps that keep every row covered, bounded by a Lagrangian relaxation.

    Attributes
    ----------
    data : CoverageData
        Coverage matrix (n_demand x n_candidates) and weights.
    rules : SiteRules
        Fixed / forbidden sites, costs and budget, groups.
    p : int or None
        Most sites (fixed ones included); None means the LSCP optimum.
    """

    #: ``solve()`` maximises the objective (the demand weight covered twice); ``bound`` is an upper bound.
    SENSE: ClassVar[Literal["max", "min"]] = "max"

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
    ) -> BackupCoverage:
        """Build a backup-coverage model from a coverage matrix.

        Parameters
        ----------
        coverage : scipy.sparse matrix or array-like, shape (n_demand, n_candidates)
            Truthy where candidate ``j`` covers demand ``i``.
        weights : array-like of float, shape (n_demand,), optional
            Demand weights >= 0; 1 each when omitted.
        p : int, optional
            Most sites, fixed ones included; the LSCP optimum when omitted (LSCP-B).
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
        data, rules, p_val, _ = check_model_input(
            coverage, weights, p, opts, title="invalid BackupCoverage input"
        )
        return cls(data=data, rules=rules, p=p_val)

    def solve(self, options: SolveOptions | None = None) -> SolveResult:
        """Solve the model.

        Parameters
        ----------
        options : SolveOptions, optional
            ``method="auto"`` runs the exact MIP for reduced matrices up to
            ``AUTO_EXACT_MAX_NNZ`` entries, else the heuristic (30 s at most without a
            time limit).

        Returns
        -------
        SolveResult
            ``objective`` is the weight covered at least twice (``bound`` an
            upper bound on it); ``covered_weight`` the weight covered at least
            once (all of it); ``extra["p"]`` the number of sites allowed. With
            ``p=None`` a heuristic LSCP cover that is not proven minimal is
            re-solved exactly; if that runs out of time the status is
            ``time_limit`` and ``reason`` says ``p`` is not proven minimal.
        """
        opts = options or SolveOptions()
        method = opts.method
        start = time.perf_counter()
        kind: Any = "exact" if method == "exact" else "heuristic"
        bad = uncoverable_rows(self.data, self.rules)
        if bad.size:
            return self._infeasible(
                f"{bad.size} demand row(s) have no allowed covering candidate: rows {rows_text(bad)}",
                start,
                kind,
            )
        p = self.p
        p_note = ""
        cover = None
        if p is None and self.rules.budget is None:
            lscp = self._lscp_optimum(start, opts)
            if lscp.status == "infeasible":
                return self._infeasible(f"no cover of every demand row: {lscp.reason}", start, kind)
            cover, p = lscp.selected, len(lscp.selected)
            if lscp.status != "optimal":
                p_note = (
                    f"p = {p} is the smallest cover found, not proven to be the LSCP optimum "
                    f"(lower bound {lscp.bound:g} sites) within the time limit"
                )
        reason = self.rules.infeasibility(p)
        if reason:
            return self._infeasible(reason, start, kind)
        reduced = reduce_rows(self.data, self.rules, drop_fixed=False, drop_zero=False)
        if auto_exact(method, reduced.matrix.nnz):
            result = self._solve_exact(reduced, p, start=start, opts=opts)
        else:
            result = self._solve_heuristic(p, start, opts, cover=cover)
        if p_note and result.status != "infeasible":
            result = replace(result, status="time_limit", reason=p_note)
        return result

    def _lscp_optimum(self, start: float, opts: SolveOptions) -> SolveResult:
        """Solve the LSCP under the same rules, proving its optimum when the first answer does not.

        LSCP-B allows exactly the LSCP optimum number of sites: a heuristic cover
        that is not proven minimal would allow more sites than that (a different,
        easier problem), so it is re-solved exactly within the time left.
        """
        lscp = LSCP(data=self.data, rules=self.rules)
        res = lscp.solve(opts)
        if res.status == "feasible":
            total = opts.time_limit if opts.time_limit is not None else _HEURISTIC_DEFAULT_SECONDS
            left = max(0.05, total - (time.perf_counter() - start))
            exact = lscp.solve(replace(opts, time_limit=left, method="exact"))
            if exact.status != "infeasible" and exact.objective <= res.objective:
                res = exact
        return res

    def evaluate(self, selected: ArrayLike) -> SolveResult:
        """Compute the demand weight covered twice by given open sites, checking every row is covered once.

        The result is an evaluation (see :func:`siting.models._results.evaluation`): NaN bound
        and gap, ``infeasible`` with the broken rules in ``reason``; an index that is not a
        candidate raises :class:`~siting.errors.InputError`.
        """
        start = time.perf_counter()
        sel = selection_indices(selected, self.data.n_candidates)
        objective = self._twice(sel)
        result = self._result(
            sel,
            objective,
            objective,
            status="feasible",
            start=start,
            solver="evaluate",
            method="exact",
            p=self.p,
        )
        return evaluation(result, self.rules, p=self.p, unserved="are not covered")

    def _infeasible(self, reason: str, start: float, method: Any) -> SolveResult:
        solver = "highs-mip" if method == "exact" else "greedy+swap"
        return coverage_infeasible(
            "BackupCoverage", self.data, reason, started=start, solver=solver, method=method
        )

    def _solve_exact(
        self,
        reduced: ReducedRows,
        p: int | None,
        *,
        start: float,
        opts: SolveOptions,
    ) -> SolveResult:
        m = reduced.matrix
        n_rows, n = m.shape
        rule_a, rule_lo, rule_hi = self.rules.constraint_rows(p=p, p_exact=False)
        cover = sp.hstack([m, -sp.identity(n_rows, format="csr")], format="csr")
        rules_part = sp.hstack([rule_a, sp.csr_matrix((rule_a.shape[0], n_rows))], format="csr")
        lo_y, hi_y = self.rules.column_bounds()
        sol = solve_mip(
            np.concatenate([np.zeros(n), reduced.weights]),
            sp.vstack([cover, rules_part], format="csc"),
            np.concatenate([np.ones(n_rows), rule_lo]),
            np.concatenate([np.full(n_rows, np.inf), rule_hi]),
            col_lower=np.concatenate([lo_y, np.zeros(n_rows)]),
            col_upper=np.concatenate([hi_y, np.ones(n_rows)]),
            integer=np.concatenate([np.ones(n, dtype=bool), np.zeros(n_rows, dtype=bool)]),
            sense="max",
            time_limit=opts.time_limit,
            mip_rel_gap=opts.mip_gap,
            threads=opts.threads,
            seed=opts.seed,
        )
        if sol.status == "infeasible" or not sol.has_solution:
            why = (
                f"no selection of at most {p} sites covers every demand row within the budget and group rules"
            )
            if sol.status != "infeasible":
                why = f"no solution found within the time limit of {opts.time_limit} s"
            return self._infeasible(why, start, "exact")
        selected = np.flatnonzero(sol.x[:n] > 0.5)
        objective = self._twice(selected)
        status: Any = "optimal" if sol.status == "optimal" else "time_limit"
        return self._result(
            selected,
            objective,
            max(sol.bound, objective),
            status=status,
            start=start,
            solver="highs-mip",
            method="exact",
            p=p,
        )

    def _solve_heuristic(
        self,
        p: int | None,
        start: float,
        opts: SolveOptions,
        *,
        cover: NDArray[np.int64] | None = None,
    ) -> SolveResult:
        seed, mip_gap = opts.seed, opts.mip_gap
        budget = opts.time_limit if opts.time_limit is not None else _HEURISTIC_DEFAULT_SECONDS
        left = max(0.05, 0.92 * budget - (time.perf_counter() - start))
        out = solve_max_cover(
            self.data,
            self.rules,
            p,
            level=2,
            cover_all=True,
            time_limit=left,
            seed=seed,
            gap_target=mip_gap,
            fallback=cover,
        )
        if not out.feasible or not self.rules.satisfied_by(out.selected, p=p):
            return self._infeasible(
                "the greedy cover breaks p, the budget or a group rule "
                "(not a proof of infeasibility: try method='exact')",
                start,
                "heuristic",
            )
        objective = self._twice(out.selected)
        bound = max(out.bound, objective)
        gap = (bound - objective) / max(abs(objective), 1e-9)
        status: Any = "optimal" if gap <= mip_gap else "feasible"
        return self._result(
            out.selected,
            objective,
            bound,
            status=status,
            start=start,
            solver="greedy+swap+lagrangian",
            method="heuristic",
            p=p,
        )

    def _twice(self, selected: Any) -> float:
        counts = self.data.cover_counts(np.asarray(selected, dtype=np.int64))
        return float(self.data.weights[counts >= 2].sum())

    def _result(
        self,
        selected: Any,
        objective: float,
        bound: float,
        *,
        status: Any,
        start: float,
        solver: str,
        method: Any,
        p: Any,
    ) -> SolveResult:
        counts = self.data.cover_counts(np.asarray(selected, dtype=np.int64))
        return coverage_result(
            model="BackupCoverage",
            data=self.data,
            selected=selected,
            objective=objective,
            bound=bound,
            status=status,
            started=start,
            solver=solver,
            method=method,
            extra={
                "covered_twice": objective,
                "covered_twice_rows": float((counts >= 2).sum()),
                "p": float(p) if p is not None else float("nan"),
            },
        )
