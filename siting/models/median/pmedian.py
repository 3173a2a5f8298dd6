"""p-median: open p sites that minimise the total weighted cost from demand to its nearest open site."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from siting.models._inputs import Neighbours
from siting.models.base import SolveOptions, SolveResult, relative_gap
from siting.models.median._common import (
    cost_input,
    evaluate_nearest,
    infeasible_result,
    lower_bound,
    median_result,
    n_open,
    precheck,
)
from siting.models.rules import Group, SiteRules
from siting.models.solvers.fixing import reduced_cost_fixing
from siting.models.solvers.formulations import build_median_model
from siting.models.solvers.interchange import InterchangeResult, interchange
from siting.models.solvers.lagrangian import LagrangianBound, lagrangian_bound

__all__ = ["PMedian"]

#: Reachable pairs up to which ``method="auto"`` runs the exact solver.
EXACT_MAX_ENTRIES = 400_000
#: Interchange starts (greedy, then GRASP) up to :data:`FEW_STARTS_ABOVE` reachable pairs; one above.
INTERCHANGE_STARTS = 4
#: Reachable pairs above which interchange makes a single (greedy) start.
FEW_STARTS_ABOVE = 2_000_000


def _total(dist: NDArray[np.float64], weights: NDArray[np.float64]) -> float:
    """Weighted total cost of the assigned demand."""
    return float(weights @ dist)


@dataclass(frozen=True)
class PMedian:
    r"""The p-median model (Hakimi 1964; ReVelle & Swain 1970).

    Open sites :math:`y_j \in \{0, 1\}` to minimise :math:`\sum_i w_i d_i(y)`, where
    :math:`d_i(y) = \min_{j: y_j = 1} c_{ij}` over the pairs stored in the cost
    matrix, subject to :math:`\sum_j y_j = p` (at most ``p`` when a budget is
    given; no count limit when only a budget is given), fixed sites open,
    forbidden sites closed, :math:`\sum_j s_j y_j \le B` and
    :math:`\sum_{j \in G} y_j \ge k_G` for every group :math:`G`.

    Every demand row must be assigned: with a sparse cost matrix a missing pair
    is unreachable, a row that reaches no allowed candidate makes the model
    infeasible (the reason names the rows), and a selection leaving a row
    unreached is not a solution.

    **Exact** (HiGHS). Radius formulation (Cornuejols, Nemhauser & Wolsey 1980;
    Elloumi 2010): for demand :math:`i` with sorted distinct costs
    :math:`D_i^1 < \dots < D_i^{K_i}` and :math:`z_i^k \ge 0`,

    .. math::

        \min \sum_i w_i \Big(D_i^1 + \sum_{k=1}^{K_i - 1} (D_i^{k+1} - D_i^k) z_i^k\Big)
        \quad\text{s.t.}\quad z_i^k + \sum_{j: c_{ij} \le D_i^k} y_j \ge 1,

    truncated at the level of the nearest site that must open and, with exactly
    ``p`` sites, at the level holding the :math:`(m - p + 1)`-th nearest
    candidate (one of them is always open). When the assignment formulation
    (:math:`x_{ij} \le y_j`, :math:`\sum_j x_{ij} = 1`) has fewer non-zeros it is
    used instead. Before the MIP, fast interchange gives an incumbent and the
    Lagrangian bound (:mod:`siting.models.solvers.lagrangian`) closes the gap or fixes
    sites by reduced costs, so HiGHS only searches for strictly better solutions.

    **Heuristic** (city scale). Greedy + GRASP starts and fast swap interchange
    (:mod:`siting.models.solvers.interchange`); the Lagrangian bound certifies the gap.

    Build with :meth:`from_cost_matrix`.

    Attributes
    ----------
    cost : scipy.sparse.csr_matrix, shape (n_demand, n_candidates)
        Reachable pairs and their cost.
    weights : ndarray of float, shape (n_demand,)
        Demand weights.
    p : int or None
        Sites to open.
    rules : SiteRules
        Fixed / forbidden sites, costs and budget, groups.
    """

    #: ``solve()`` minimises the objective (the weighted total cost); ``bound`` is a lower bound.
    SENSE: ClassVar[Literal["max", "min"]] = "min"
    #: Name in results.
    MODEL: ClassVar[str] = "p-median"
    #: The ``from_cost_matrix`` keyword of the demand column (for :mod:`siting.adapters`).
    weights_option: ClassVar[str] = "weights"

    cost: sp.csr_matrix
    weights: NDArray[np.float64]
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
        p: int | None = None,
        weights: ArrayLike | None = None,
        fixed: Sequence[int] | ArrayLike | None = None,
        forbidden: Sequence[int] | ArrayLike | None = None,
        site_cost: ArrayLike | None = None,
        budget: float | None = None,
        groups: Mapping[str, Sequence[int] | ArrayLike] | Sequence[Group] | None = None,
        min_per_group: int = 1,
    ) -> PMedian:
        """Build the model from a cost matrix.

        Parameters
        ----------
        cost : array-like or scipy.sparse matrix, shape (n_demand, n_candidates)
            Travel cost (metres, seconds, ...). Dense: ``inf`` = unreachable.
            Sparse: missing = unreachable (beyond the cutoff); a stored 0 is a cost of 0.
        p : int, optional
            Number of sites to open (exactly; at most when ``budget`` is also given).
        weights : array-like, shape (n_demand,), optional
            Demand weight (e.g. households); ones when omitted.
        fixed, forbidden : sequence of int, optional
            Candidate indices that must open / may not open.
        site_cost : array-like, shape (n_candidates,), optional
            Opening cost of each site, with ``budget``.
        budget : float, optional
            Most total opening cost (instead of or besides ``p``).
        groups : mapping of name to candidate indices, or sequence of Group, optional
            Each group needs at least ``min_per_group`` open sites.
        min_per_group : int
            ``k`` for groups given as a mapping.

        Raises
        ------
        InputError
            Listing every problem with the inputs.
        """
        data, _ = cost_input(
            cost, p=p, weights=weights, fixed=fixed, forbidden=forbidden, site_cost=site_cost,
            budget=budget, groups=groups, min_per_group=min_per_group, title=f"invalid {cls.MODEL} input",
        )  # fmt: skip
        return cls(cost=data.cost, weights=data.weights, p=data.p, rules=data.rules)

    def solve(self, options: SolveOptions | None = None) -> SolveResult:
        """Solve and return a :class:`~siting.models.base.SolveResult`.

        Parameters
        ----------
        options : SolveOptions, optional
            ``method="auto"`` runs the exact solver up to ``EXACT_MAX_ENTRIES`` reachable
            pairs; the seed drives the GRASP starts and HiGHS (same seed, same answer).
        """
        opts = options or SolveOptions()
        time_limit, method, seed = opts.time_limit, opts.method, opts.seed
        start = time.perf_counter()
        deadline = start + time_limit if time_limit is not None else np.inf
        nb = Neighbours.build(self.cost, self.rules.allowed)
        chosen = method
        if method == "auto":
            chosen = "exact" if nb.vals.size <= EXACT_MAX_ENTRIES else "heuristic"
        kind: Any = chosen
        reason = precheck(nb, self.rules, self.p, p_exact=self.p_exact)
        if reason:
            return self._infeasible(reason, start, kind)
        heur = interchange(
            nb, self.weights, self.rules, p=self.p, p_exact=self.p_exact, seed=seed,
            n_starts=INTERCHANGE_STARTS if nb.vals.size <= FEW_STARTS_ABOVE else 1, deadline=deadline,
        )  # fmt: skip
        if chosen == "heuristic":
            return self._heuristic_result(nb, heur, start, deadline)
        return self._exact(nb, heur, start, deadline, opts=opts)

    def _bound(
        self, nb: Neighbours, incumbent: NDArray[np.int64], upper: float, deadline: float
    ) -> LagrangianBound:
        return lower_bound(
            nb, self.weights, self.rules, self.p, p_exact=self.p_exact, incumbent=incumbent, upper=upper,
            deadline=deadline,
        )  # fmt: skip

    def _polish(
        self, nb: Neighbours, lb: LagrangianBound, heur: InterchangeResult, deadline: float
    ) -> InterchangeResult:
        """Run interchange from the Lagrangian relaxation's sites; keep the better of it and ``heur``."""
        fixed = np.zeros(nb.m, dtype=bool)
        fixed[self.rules.fixed] = True
        first = lb.selection(
            allowed=self.rules.allowed, fixed=fixed, n_open=n_open(self.rules, self.p), exact=self.p_exact
        )
        again = interchange(
            nb, self.weights, self.rules, p=self.p, p_exact=self.p_exact, n_starts=1, deadline=deadline,
            initial=first,
        )  # fmt: skip
        if again is not None and not again.unreached and again.objective < heur.objective:
            return InterchangeResult(
                again.selected, again.objective, 0, heur.moves + again.moves, heur.starts + 1, again.timed_out
            )
        return heur

    def _reduce(
        self, lb: LagrangianBound, upper: float, deadline: float
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], bool, str]:
        """Fix sites by reduced costs, re-bound the reduced problem, then probe each remaining site.

        Every fixing keeps all solutions cheaper than ``upper``; ``proven`` is true
        when no cheaper solution is left (the incumbent is optimal).
        """
        assert self.p is not None
        y_lo, y_hi = self.rules.column_bounds()
        for _ in range(4):
            allowed, fixed = y_hi > 0.5, y_lo > 0.5
            close, must = reduced_cost_fixing(lb, allowed=allowed, fixed=fixed, n_open=self.p, upper=upper)
            if not ((close & allowed).any() or (must & ~fixed).any()):
                break
            y_hi[close], y_lo[must] = 0.0, 1.0
            sub = Neighbours.build(self.cost, y_hi > 0.5)
            lb = lagrangian_bound(
                sub, self.weights, allowed=y_hi > 0.5, fixed=y_lo > 0.5, n_open=self.p, exact=True,
                upper=upper, start=lb.multipliers, deadline=deadline, max_iter=300,
            )  # fmt: skip
            if lb.bound >= upper - 1e-9 * max(1.0, abs(upper)):
                return y_lo, y_hi, True, f"reduced-cost fixing closed the gap ({lb.iterations} it)"
        free = np.flatnonzero((y_hi > 0.5) & (y_lo < 0.5))
        probed = 0
        if free.size <= 120:
            sub = Neighbours.build(self.cost, y_hi > 0.5)
            for j in free:
                if time.perf_counter() > deadline:
                    break
                fixed = y_lo > 0.5
                fixed[j] = True
                lbj = lagrangian_bound(
                    sub, self.weights, allowed=y_hi > 0.5, fixed=fixed, n_open=self.p, exact=True,
                    upper=upper, start=lb.multipliers, deadline=deadline, max_iter=150,
                )  # fmt: skip
                if lbj.bound >= upper - 1e-9 * max(1.0, abs(upper)):
                    y_hi[j] = 0.0
                    probed += 1
        closed = int((y_hi < 0.5).sum()) - self.rules.forbidden.size
        opened = int((y_lo > 0.5).sum()) - self.rules.fixed.size
        proven = int((y_hi > 0.5).sum()) < self.p
        return y_lo, y_hi, proven, f"fixed {closed} closed ({probed} by probing), {opened} open"

    def _heuristic_result(
        self, nb: Neighbours, heur: InterchangeResult | None, start: float, deadline: float
    ) -> SolveResult:
        if heur is None:
            return self._infeasible(
                "interchange found no selection meeting the budget / group rules (not proven; try method='exact')",
                start, "heuristic",
            )  # fmt: skip
        if heur.unreached:
            return self._infeasible(
                f"interchange found no selection reaching every demand ({heur.unreached} rows unreached; "
                "not proven; try method='exact' or a larger cutoff)",
                start, "heuristic",
            )  # fmt: skip
        lb = self._bound(nb, heur.selected, heur.objective, deadline)
        if lb.bound < heur.objective and not heur.timed_out:
            heur = self._polish(nb, lb, heur, deadline)
        bound = min(lb.bound, heur.objective)
        status = "optimal" if relative_gap(heur.objective, bound) <= 1e-9 else "feasible"
        if heur.timed_out:
            status = "time_limit"
        solver = f"interchange({heur.starts} starts, {heur.moves} moves)+lagrangian({lb.iterations} it)"
        return self._result(
            nb, heur.selected, bound, status=status, start=start, solver=solver, method="heuristic"
        )

    def _exact(
        self, nb: Neighbours, heur: InterchangeResult | None, start: float, deadline: float, *,
        opts: SolveOptions,
    ) -> SolveResult:  # fmt: skip
        upper = heur.objective if heur is not None and not heur.unreached else np.inf
        y_lo, y_hi = self.rules.column_bounds()
        notes = []
        lower = -np.inf
        if np.isfinite(upper) and heur is not None:
            lb = self._bound(nb, heur.selected, upper, deadline)
            lower = lb.bound
            notes.append(f"lagrangian({lb.iterations} it)")
            if lower < upper - 1e-9 * max(1.0, abs(upper)):
                heur = self._polish(nb, lb, heur, deadline)
                upper = heur.objective
            if lower >= upper - 1e-9 * max(1.0, abs(upper)):
                solver = f"interchange({heur.starts} starts)+" + notes[0]
                return self._result(
                    nb, heur.selected, upper, status="optimal", start=start, solver=solver, method="exact"
                )
            if self.p_exact and self.p is not None:
                y_lo, y_hi, proven, note = self._reduce(lb, upper, deadline)
                notes.append(note)
                if proven:
                    solver = "+".join([f"interchange({heur.starts} starts)", *notes])
                    return self._result(
                        nb, heur.selected, upper, status="optimal", start=start, solver=solver, method="exact"
                    )
        sub = Neighbours.build(self.cost, y_hi > 0.5) if notes[1:] else nb
        model = build_median_model(
            sub, self.weights, self.rules, p=self.p, p_exact=self.p_exact, y_lower=y_lo, y_upper=y_hi
        )
        left = None if not np.isfinite(deadline) else max(deadline - time.perf_counter(), 0.1)
        sol = model.solve(time_limit=left, mip_rel_gap=opts.mip_gap, threads=opts.threads, seed=opts.seed)
        solver = "+".join(["interchange", *notes, f"highs-mip({model.kind}, nnz {model.nnz})"])
        if sol.has_solution and sol.objective < upper:
            selected = np.flatnonzero(sol.x[: nb.m] > 0.5)
        elif np.isfinite(upper) and heur is not None:
            selected = heur.selected
        else:
            if sol.status == "infeasible":
                return self._infeasible(
                    "no selection meets the site rules and reaches every demand row", start, "exact"
                )
            return self._infeasible("the time limit ran out before any solution was found", start, "exact")
        mip_bound = sol.bound if sol.status != "infeasible" else np.inf
        if sol.status == "optimal":
            mip_bound = min(sol.objective, sol.bound) if sol.has_solution else mip_bound
        bound = max(lower, min(upper, mip_bound)) if np.isfinite(mip_bound) or np.isfinite(upper) else lower
        status = "optimal" if sol.status in ("optimal", "infeasible") else "time_limit"
        return self._result(nb, selected, bound, status=status, start=start, solver=solver, method="exact")

    def evaluate(self, selected: ArrayLike) -> SolveResult:
        """Compute the figures of given open sites: each demand served by its nearest one (no solve).

        Parameters
        ----------
        selected : array-like of int
            Open candidate sites (column positions).

        Returns
        -------
        SolveResult
            ``objective`` the weighted cost of the reached demand; ``status="feasible"`` when
            every demand row reaches an open site and the site rules hold (``bound`` and ``gap``
            NaN), else ``"infeasible"`` with the reason.
        """
        return evaluate_nearest(
            self.MODEL, self.cost, self.weights, self.rules, p=self.p, selected=selected, objective_of=_total
        )

    def _result(
        self, nb: Neighbours, selected: NDArray[np.int64], bound: float, *, status: Any, start: float,
        solver: str, method: Any,
    ) -> SolveResult:  # fmt: skip
        return median_result(
            self.MODEL, nb, self.weights, selected, bound, objective_of=_total, status=status, start=start,
            solver=solver, method=method,
        )  # fmt: skip

    def _infeasible(self, reason: str, start: float, method: Any) -> SolveResult:
        return infeasible_result(self.MODEL, self.cost, self.weights, reason, start=start, method=method)
