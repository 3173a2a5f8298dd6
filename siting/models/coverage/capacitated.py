"""Capacitated maximal covering (CMCLP): cover the most demand with p sites of limited capacity."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from siting.errors import Problem
from siting.models._inputs import CoverageData, RuleOptions, check_model_input
from siting.models._presolve import AUTO_EXACT_MAX_NNZ
from siting.models._results import coverage_infeasible, coverage_result, evaluation, selection_indices
from siting.models.base import SolveOptions, SolveResult
from siting.models.rules import DemandShare, Group, RuleState, SiteRules, demand_shares
from siting.models.solvers.formulations import transportation_lp
from siting.models.solvers.highs import solve_mip
from siting.models.solvers.lagrangian_cover import capacity_bound

__all__ = ["CapacitatedMCLP"]

_HEURISTIC_DEFAULT_SECONDS = 30.0
#: Seconds ``evaluate`` gives the single-source assignment MIP of given sites.
EVALUATE_TIME_LIMIT = 60.0


@dataclass(frozen=True)
class CapacitatedMCLP:
    r"""Capacitated maximal covering location problem (Current & Storbeck 1988) with site rules.

    Each demand point is served (possibly split over several sites, unless
    ``single_source``) by open sites that cover it, and no site serves more
    weight than its capacity ``q_j``; maximise the weight served. ``x_ij`` is
    the share of demand ``i`` served by site ``j``, defined only where
    ``a_ij = 1``::

        maximise    sum_i sum_j w_i x_ij
        subject to  sum_j x_ij <= 1                    for every demand i
                    sum_i w_i x_ij <= q_j y_j          for every site j
                    x_ij <= y_j                        for every covering pair
                    sum_j y_j <= p                     (when p is given)
                    sum_j c_j y_j <= B                 (when a budget is given)
                    sum_{j in G} y_j >= k_G            for every group G
                    sum_{i in S} sum_j w_i x_ij >= s_S sum_{i in S} w_i
                                                       for every demand share S (equity)
                    y_j = 1 (fixed j),  y_j = 0 (forbidden j),  y_j in {0, 1}
                    0 <= x_ij <= 1  (x_ij in {0, 1} with single_source=True)

    Assignment is **fractional by default** (a demand point may be split over
    sites: ``assignment`` then names the site with the largest share and
    ``load`` holds the exact served weight); ``single_source=True`` makes
    ``x`` binary. The heuristic opens sites by lazy greedy on
    ``min(q_j, unserved weight covered)``, serves the most constrained demand
    first, re-optimises the assignment of the chosen sites as an LP
    (fractional) and bounds the optimum by relaxing ``sum_j x_ij <= 1`` with
    Lagrange multipliers (each site's value is then a fractional knapsack).

    Attributes
    ----------
    data : CoverageData
        Coverage matrix (n_demand x n_candidates) and weights.
    capacity : ndarray of float, shape (n_candidates,)
        Weight each site can serve.
    rules : SiteRules
        Fixed / forbidden sites, costs and budget, groups.
    p : int or None
        Most sites (fixed ones included).
    single_source : bool
        Whether each demand point goes wholly to one site.
    shares : tuple of DemandShare
        Parts of the demand that must each be served to at least their share (the exact MIP
        holds them; the heuristic reports a plan that misses one as infeasible, not proven).
    """

    #: ``solve()`` maximises the objective (the served demand weight); ``bound`` is an upper bound.
    SENSE: ClassVar[Literal["max", "min"]] = "max"

    data: CoverageData
    capacity: NDArray[np.float64]
    rules: SiteRules
    p: int | None
    single_source: bool = False
    shares: tuple[DemandShare, ...] = ()

    @classmethod
    def from_coverage(
        cls,
        coverage: sp.spmatrix | sp.sparray | ArrayLike,
        *,
        weights: ArrayLike | None = None,
        capacity: float | ArrayLike,
        p: int | None = None,
        single_source: bool = False,
        fixed: Sequence[int] | ArrayLike | None = None,
        forbidden: Sequence[int] | ArrayLike | None = None,
        site_cost: ArrayLike | None = None,
        budget: float | None = None,
        groups: Mapping[str, Sequence[int] | ArrayLike] | Sequence[Group] | None = None,
        min_per_group: int = 1,
        served_shares: Mapping[str, tuple[Sequence[int] | ArrayLike, float]]
        | Sequence[DemandShare]
        | None = None,
    ) -> CapacitatedMCLP:
        """Build a capacitated MCLP from a coverage matrix.

        Parameters
        ----------
        coverage : scipy.sparse matrix or array-like, shape (n_demand, n_candidates)
            Truthy where candidate ``j`` covers demand ``i``.
        weights : array-like of float, shape (n_demand,), optional
            Demand weights >= 0 (e.g. households); 1 each when omitted.
        capacity : float or array-like of float, shape (n_candidates,)
            Weight each site can serve (same unit as ``weights``), > 0.
        p : int, optional
            Most sites, fixed ones included; ``p`` or ``budget`` is required.
        single_source : bool
            Serve each demand point from one site only (binary assignment).
        fixed, forbidden, site_cost, budget, groups, min_per_group
            Site rules, as for :class:`~siting.models.coverage.mclp.MCLP`.
        served_shares : mapping of name to (demand rows, min share), or sequence of DemandShare, optional
            Each part of the demand must be served to at least its share (e.g. every street 80 %).

        Raises
        ------
        InputError
            Listing every problem with the inputs.
        """
        opts = RuleOptions(fixed, forbidden, site_cost, budget, groups, min_per_group)
        shape = getattr(coverage, "shape", None) or np.shape(coverage)
        n_demand = int(shape[0]) if len(shape) == 2 else None
        data, rules, p_val, (cap, shares) = check_model_input(
            coverage,
            weights,
            p,
            opts,
            title="invalid CapacitatedMCLP input",
            need_p_or_budget=True,
            extra=lambda problems, n: (
                _check_capacity(problems, capacity, n),
                demand_shares(problems, served_shares, n_demand),
            ),
        )
        return cls(
            data=data, capacity=cap, rules=rules, p=p_val, single_source=bool(single_source), shares=shares
        )

    def solve(self, options: SolveOptions | None = None) -> SolveResult:
        """Solve the model.

        Parameters
        ----------
        options : SolveOptions, optional
            ``method="auto"`` runs the exact MIP when the coverage matrix has at most
            ``AUTO_EXACT_MAX_NNZ / 4`` entries (one variable per covering pair), else the
            heuristic (always fractional assignment; 30 s at most without a time limit).

        Returns
        -------
        SolveResult
            ``objective`` is the served weight; ``load`` the weight each site serves;
            ``extra["split_demand"]`` the number of demand points split over sites.
        """
        opts = options or SolveOptions()
        method = opts.method
        start = time.perf_counter()
        reason = "; ".join(r for r in (self.rules.infeasibility(self.p), self._share_precheck()) if r)
        if reason:
            return self._infeasible(reason, start, "exact" if method == "exact" else "heuristic")
        small = self.data.csr.nnz <= AUTO_EXACT_MAX_NNZ // 4
        exact = method == "exact" or (method == "auto" and (small or bool(self.shares)))
        if exact:
            return self._solve_exact(start, opts)
        result = self._solve_heuristic(start, opts)
        missed = self._missed_shares(np.asarray(result.selected))
        if result.status == "infeasible" or not missed:
            return result
        return self._infeasible(
            f"the heuristic plan misses the served share of {missed} (not proven: try method='exact')",
            start,
            "heuristic",
        )

    def _share_precheck(self) -> str:
        """Parts of the demand that cannot reach their share even with every allowed site open."""
        reachable = np.asarray(self.data.csr @ self.rules.allowed.astype(float)).ravel() > 0
        w = self.data.weights
        short = [
            s.name for s in self.shares if s.served_share(np.where(reachable, w, 0.0), w) < s.min_share - 1e-9
        ]
        return f"no site can reach the share of demand of {', '.join(short)}" if short else ""

    def _missed_shares(self, selected: NDArray[np.int64]) -> str:
        """Names of the demand shares a plan misses (served weight per row from its assignment LP)."""
        if not self.shares:
            return ""
        rows, _, x = _assign_lp(self.data, self.capacity, selected, single_source=self.single_source,
                                time_limit=EVALUATE_TIME_LIMIT)  # fmt: skip
        served = np.asarray(
            np.bincount(rows, weights=self.data.weights[rows] * x, minlength=self.data.n_demand),
            dtype=np.float64,
        )
        w = self.data.weights
        return ", ".join(s.name for s in self.shares if s.served_share(served, w) < s.min_share - 1e-6)

    def evaluate(self, selected: ArrayLike) -> SolveResult:
        """Compute the most demand given open sites serve within their capacities (an assignment LP).

        With ``single_source`` the assignment is the binary MIP (each demand point wholly to
        one site), given :data:`EVALUATE_TIME_LIMIT` seconds.

        The result is an evaluation (see :func:`siting.models._results.evaluation`): NaN bound
        and gap, ``infeasible`` with the broken rules in ``reason``; an index that is not a
        candidate raises :class:`~siting.errors.InputError`.
        """
        start = time.perf_counter()
        sel = selection_indices(selected, self.data.n_candidates)
        rows, cols, x = _assign_lp(
            self.data, self.capacity, sel, single_source=self.single_source, time_limit=EVALUATE_TIME_LIMIT
        )
        objective = float((self.data.weights[rows] * x).sum())
        result = self._result(
            sel, rows, cols, x, objective=objective, bound=objective, status="feasible", start=start,
            solver="evaluate", method="exact",
        )  # fmt: skip
        out = evaluation(result, self.rules, p=self.p)
        missed = self._missed_shares(sel)
        if not missed:
            return out
        reasons = [r for r in (out.reason, f"the served share of {missed} is below its minimum") if r]
        return replace(out, status="infeasible", reason="; ".join(reasons))

    def _infeasible(self, reason: str, start: float, method: Any) -> SolveResult:
        solver = "highs-mip" if method == "exact" else "greedy+lp"
        return coverage_infeasible(
            "CapacitatedMCLP", self.data, reason, started=start, solver=solver, method=method
        )

    def _pairs(self) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Covering pairs ``(i, j)`` worth a variable: allowed site, positive weight."""
        coo = self.data.csr.tocoo()
        keep = self.rules.allowed[coo.col] & (self.data.weights[coo.row] > 0)
        return coo.row[keep].astype(np.int64), coo.col[keep].astype(np.int64)

    def _solve_exact(self, start: float, opts: SolveOptions) -> SolveResult:
        n_dem, n = self.data.n_demand, self.data.n_candidates
        rows, cols = self._pairs()
        k = rows.size
        w = self.data.weights
        xs = np.arange(k)
        one = np.ones(k)
        demand_rows = sp.csr_matrix((one, (rows, n + xs)), shape=(n_dem, n + k))
        cap_rows = sp.csr_matrix(
            (
                np.concatenate([w[rows], -self.capacity]),
                (np.concatenate([cols, np.arange(n)]), np.concatenate([n + xs, np.arange(n)])),
            ),
            shape=(n, n + k),
        )
        link_rows = sp.csr_matrix(
            (np.concatenate([one, -one]), (np.concatenate([xs, xs]), np.concatenate([n + xs, cols]))),
            shape=(k, n + k),
        )
        rule_a, rule_lo, rule_hi = self.rules.constraint_rows(p=self.p, p_exact=False)
        rules_part = sp.hstack([rule_a, sp.csr_matrix((rule_a.shape[0], k))], format="csr")
        share_a, share_lo = self._share_rows(rows, n)
        lo_y, hi_y = self.rules.column_bounds()
        sol = solve_mip(
            np.concatenate([np.zeros(n), w[rows]]),
            sp.vstack([demand_rows, cap_rows, link_rows, rules_part, share_a], format="csc"),
            np.concatenate([np.full(n_dem + n + k, -np.inf), rule_lo, share_lo]),
            np.concatenate([np.ones(n_dem), np.zeros(n + k), rule_hi, np.full(share_lo.size, np.inf)]),
            col_lower=np.concatenate([lo_y, np.zeros(k)]),
            col_upper=np.concatenate([hi_y, np.ones(k)]),
            integer=np.concatenate([np.ones(n, dtype=bool), np.full(k, self.single_source)]),
            sense="max",
            time_limit=opts.time_limit,
            mip_rel_gap=opts.mip_gap,
            threads=opts.threads,
            seed=opts.seed,
        )
        if sol.status == "infeasible" or not sol.has_solution:
            why = "no selection meets p, the budget, the group rules and the demand shares together"
            if sol.status != "infeasible":
                why = f"no solution found within the time limit of {opts.time_limit} s"
            return self._infeasible(why, start, "exact")
        x = np.clip(sol.x[n:], 0.0, 1.0)
        selected = np.flatnonzero(sol.x[:n] > 0.5)
        status: Any = "optimal" if sol.status == "optimal" else "time_limit"
        objective = float((w[rows] * x).sum())
        return self._result(
            selected,
            rows,
            cols,
            x,
            objective=objective,
            bound=max(sol.bound, objective),
            status=status,
            start=start,
            solver="highs-mip",
            method="exact",
        )

    def _share_rows(self, rows: NDArray[np.int64], n: int) -> tuple[sp.csr_matrix, NDArray[np.float64]]:
        """Rows ``sum_{pairs of S} w_i x_ij >= s_S W_S`` over the columns ``[y (n), x (pairs)]``."""
        w = self.data.weights
        k = rows.size
        if not self.shares:
            return sp.csr_matrix((0, n + k)), np.empty(0)
        member = np.zeros((len(self.shares), self.data.n_demand), dtype=bool)
        for g, s in enumerate(self.shares):
            member[g, s.rows] = True
        g_idx, pair = np.nonzero(member[:, rows])
        a = sp.csr_matrix((w[rows][pair], (g_idx, n + pair)), shape=(len(self.shares), n + k))
        need = np.array([s.min_share * float(w[s.rows].sum()) for s in self.shares]) * (1 - 1e-9)
        return a, need

    def _result(
        self,
        selected: Any,
        rows: Any,
        cols: Any,
        x: Any,
        *,
        objective: float,
        bound: float,
        status: Any,
        start: float,
        solver: str,
        method: Any,
    ) -> SolveResult:
        w = self.data.weights
        n_dem, n = self.data.n_demand, self.data.n_candidates
        served = x > 1e-9
        load = np.bincount(cols[served], weights=w[rows[served]] * x[served], minlength=n).astype(np.float64)
        assignment = np.full(n_dem, -1, dtype=np.int64)
        share = np.zeros(n_dem)
        order = np.argsort(x[served], kind="stable")
        r_s, c_s, x_s = rows[served][order], cols[served][order], x[served][order]
        assignment[r_s] = c_s
        share[r_s] = x_s
        split = int((np.bincount(rows[served], minlength=n_dem) > 1).sum())
        result = coverage_result(
            model="CapacitatedMCLP",
            data=self.data,
            selected=selected,
            objective=objective,
            bound=bound,
            status=status,
            started=start,
            solver=solver,
            method=method,
            assignment=assignment,
            load=load,
            extra={"split_demand": float(split), "single_source": float(self.single_source)},
        )
        return _with_covered(result, objective)

    def _solve_heuristic(self, start: float, opts: SolveOptions) -> SolveResult:
        budget = opts.time_limit if opts.time_limit is not None else _HEURISTIC_DEFAULT_SECONDS
        deadline = start + 0.92 * budget
        selected = _greedy_sites(self.data, self.capacity, self.rules, self.p, opts.seed)
        if selected is None:
            return self._infeasible(
                "the greedy heuristic found no selection meeting the group and budget rules "
                "(not a proof of infeasibility: try method='exact')",
                start,
                "heuristic",
            )
        rows, cols, x = _assign_lp(
            self.data,
            self.capacity,
            selected,
            single_source=self.single_source,
            time_limit=max(0.1, deadline - time.perf_counter()) / 2,
        )
        objective = float((self.data.weights[rows] * x).sum())
        bound = capacity_bound(
            self.data, self.capacity, RuleState(self.rules, self.p), target=objective, deadline=deadline
        )
        bound = max(bound, objective)
        gap = (bound - objective) / max(objective, 1e-9)
        status: Any = "optimal" if gap <= opts.mip_gap else "feasible"
        return self._result(
            selected,
            rows,
            cols,
            x,
            objective=objective,
            bound=bound,
            status=status,
            start=start,
            solver="greedy+lp+lagrangian",
            method="heuristic",
        )


def _with_covered(result: SolveResult, served: float) -> SolveResult:
    """Return ``result`` with the served weight as its covered weight."""
    return replace(result, covered_weight=served)


def _check_capacity(problems: list[Problem], capacity: object, n: int | None) -> NDArray[np.float64] | None:
    try:
        cap = np.asarray(capacity, dtype=float)
    except (TypeError, ValueError):
        problems.append(
            Problem("capacity", "must be a number or one number per candidate", "pass capacity=q")
        )
        return None
    if cap.ndim == 0 and n is not None:
        cap = np.full(n, float(cap))
    cap = cap.ravel()
    if n is not None and cap.size != n:
        problems.append(Problem("capacity", f"has {cap.size} values for {n} candidates", "give one per site"))
        return None
    if not np.isfinite(cap).all() or (cap <= 0).any():
        problems.append(Problem("capacity", "must be finite and > 0", "use the weight each site can serve"))
        return None
    return cap


def _greedy_sites(
    data: CoverageData, capacity: NDArray[np.float64], rules: SiteRules, p: int | None, seed: int
) -> NDArray[np.int64] | None:
    """Open sites by largest ``min(q_j, unserved covered weight)``; serve the most constrained demand first."""
    rs = RuleState(rules, p)
    residual = data.weights.astype(np.float64).copy()
    degree = np.asarray(data.csr @ rules.allowed.astype(np.float64)).ravel()
    csc = data.csc
    selected = np.zeros(data.n_candidates, dtype=bool)
    tie = np.random.default_rng(seed).random(data.n_candidates) * 1e-9

    def open_site(j: int) -> None:
        selected[j] = True
        rs.on_add(j)
        r = csc.indices[csc.indptr[j] : csc.indptr[j + 1]]
        r = r[np.argsort(degree[r], kind="stable")]
        take = np.minimum(
            residual[r], np.maximum(capacity[j] - np.concatenate([[0.0], np.cumsum(residual[r])[:-1]]), 0)
        )
        residual[r] -= take

    for j in rules.fixed:
        open_site(int(j))
    pools = [np.asarray(g.candidates) for g in rules.groups] + [np.flatnonzero(rules.allowed)]
    for gi, pool in enumerate(pools):
        while True:
            if gi < len(rules.groups) and rs.group_count[gi] >= rs.group_min[gi]:
                break
            cand = pool[rules.allowed[pool] & ~selected[pool]]
            cand = cand[[rs.can_add(int(j)) for j in cand]] if cand.size else cand
            if cand.size == 0:
                break
            gains = np.minimum(capacity[cand], np.asarray(csc[:, cand].T @ residual).ravel()) + tie[cand]
            if math.isfinite(rs.budget):
                gains = gains / np.maximum(rs.cost[cand], 1e-12)
            best = int(cand[np.argmax(gains)])
            if gi == len(rules.groups) and gains.max() <= 1e-9:
                break
            open_site(best)
    if any(rs.group_count < rs.group_min):
        return None
    return np.flatnonzero(selected).astype(np.int64)


def _assign_lp(
    data: CoverageData,
    capacity: NDArray[np.float64],
    selected: NDArray[np.int64],
    *,
    single_source: bool,
    time_limit: float | None,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Best assignment of demand to the open ``selected`` sites (the transportation LP, or MIP).

    A transportation LP for split demand; with ``single_source`` the same model with binary
    ``x`` (a generalised assignment MIP) under ``time_limit``.
    """
    sub = data.csc[:, selected].tocoo()
    w = data.weights
    keep = w[sub.row] > 0
    rows, cols = sub.row[keep].astype(np.int64), selected[sub.col[keep]].astype(np.int64)
    if rows.size == 0:
        return rows, cols, np.zeros(0)
    sol = transportation_lp(
        rows, np.searchsorted(selected, cols), w[rows], capacity[selected], n_demand=data.n_demand,
        integer=single_source, time_limit=time_limit,
    )  # fmt: skip
    if not sol.has_solution:
        return rows, cols, np.zeros(rows.size)
    x = np.clip(sol.x, 0.0, 1.0)
    return rows, cols, np.rint(x) if single_source else x
