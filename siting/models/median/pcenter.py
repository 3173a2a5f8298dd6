"""p-center: open p sites that minimise the largest cost from any demand to its nearest open site."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from siting.models._inputs import Neighbours
from siting.models.base import SolveOptions, SolveResult
from siting.models.median._common import (
    cost_input,
    evaluate_nearest,
    infeasible_result,
    median_result,
    precheck,
)
from siting.models.rules import Group, SiteRules
from siting.models.solvers.highs import solve_mip

__all__ = ["PCenter"]

#: Reachable pairs up to which ``method="auto"`` runs the exact search.
EXACT_MAX_ENTRIES = 1_500_000


def _largest(dist: NDArray[np.float64], weights: NDArray[np.float64]) -> float:
    """Largest cost over the assigned demand (weights do not count)."""
    return float(dist.max()) if dist.size else 0.0


@dataclass(frozen=True)
class PCenter:
    r"""The vertex p-center model (Hakimi 1965; Minieka 1970).

    Open sites :math:`y_j \in \{0, 1\}` to minimise
    :math:`r(y) = \max_i \min_{j: y_j = 1} c_{ij}` (weights are not used by the
    objective; they only fill ``load`` and ``covered_weight``), subject to at
    most ``p`` sites (more never hurts), fixed sites open, forbidden sites
    closed, :math:`\sum_j s_j y_j \le B` and :math:`\sum_{j \in G} y_j \ge k_G`.
    Every demand must be reached (sparse: missing = unreachable), as in
    :class:`~siting.models.median.pmedian.PMedian`.

    **Exact**: the optimum is one of the sorted distinct costs
    :math:`R_1 < R_2 < \dots`. Radius ``R`` is achievable iff the set-cover MIP

    .. math::

        \exists y:\ \sum_{j: c_{ij} \le R} y_j \ge 1\ \forall i,\quad
        \sum_j y_j \le p,\ \text{site rules}

    is feasible (solved by HiGHS, minimising :math:`\sum_j y_j`). Binary search
    runs between the lower bound :math:`\max_i \min_j c_{ij}` and the radius of
    a greedy solution; the bound reported is the smallest radius not yet
    proven unachievable.

    **Heuristic**: the same binary search with greedy set cover as the test
    (an achievable radius when greedy covers with ``p`` sites); the bound is
    :math:`\max_i \min_j c_{ij}`.

    Build with :meth:`from_cost_matrix`.

    Attributes
    ----------
    cost : scipy.sparse.csr_matrix, shape (n_demand, n_candidates)
        Reachable pairs and their cost.
    weights : ndarray of float, shape (n_demand,)
        Demand weights (reported only).
    p : int or None
        Most sites to open.
    rules : SiteRules
        Fixed / forbidden sites, costs and budget, groups.
    """

    #: ``solve()`` minimises the objective (the largest cost); ``bound`` is a lower bound.
    SENSE: ClassVar[Literal["max", "min"]] = "min"
    #: Name in results.
    MODEL: ClassVar[str] = "p-center"
    #: The ``from_cost_matrix`` keyword of the demand column (for :mod:`siting.adapters`).
    weights_option: ClassVar[str] = "weights"
    #: At most ``p`` sites: an extra site never lengthens the largest cost.
    p_exact: ClassVar[bool] = False

    cost: sp.csr_matrix
    weights: NDArray[np.float64]
    p: int | None
    rules: SiteRules

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
    ) -> PCenter:
        """Build the model from a cost matrix (arguments as :meth:`PMedian.from_cost_matrix`).

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
        """Solve and return a :class:`~siting.models.base.SolveResult` (objective = largest cost).

        Parameters
        ----------
        options : SolveOptions, optional
            ``method="auto"`` is exact up to ``EXACT_MAX_ENTRIES`` reachable pairs; the
            feasibility MIPs are solved to optimality (``mip_gap`` is not used).
        """
        opts = options or SolveOptions()
        time_limit, method, seed, threads = opts.time_limit, opts.method, opts.seed, opts.threads
        start = time.perf_counter()
        deadline = start + time_limit if time_limit is not None else np.inf
        nb = Neighbours.build(self.cost, self.rules.allowed)
        chosen: Any = (
            method if method != "auto" else ("exact" if nb.vals.size <= EXACT_MAX_ENTRIES else "heuristic")
        )
        reason = precheck(nb, self.rules, self.p, p_exact=False)
        if reason:
            return self._infeasible(reason, start, chosen)
        radii = np.unique(nb.vals)
        lower = float(nb.vals[nb.indptr[:-1]].max())  # every demand's nearest site
        lo = int(np.searchsorted(radii, lower))
        best = self._greedy_search(nb, radii, lo)
        if best is None and chosen == "heuristic":
            return self._infeasible(
                "greedy cover found no selection meeting the site rules (not proven)", start, chosen
            )
        hi = int(np.searchsorted(radii, self._radius(nb, best))) if best is not None else radii.size
        if chosen == "heuristic":
            assert best is not None
            status = "optimal" if hi <= lo else "feasible"
            return self._result(
                nb, best, float(radii[lo]), status=status, start=start, solver="greedy-cover-search",
                method="heuristic",
            )  # fmt: skip
        return self._exact_search(
            nb, radii, lo=lo, hi=hi, best=best, start=start, deadline=deadline, seed=seed, threads=threads
        )

    def _radius(self, nb: Neighbours, selected: NDArray[np.int64]) -> float:
        mask = np.zeros(nb.m, dtype=bool)
        mask[selected] = True
        _, dist = nb.assign(mask)
        return float(dist.max())

    def _greedy_cover(self, nb: Neighbours, radius: float) -> NDArray[np.int64] | None:
        """Greedy set cover within ``radius`` (fixed sites first, then groups); ``None`` if over the rules."""
        within = nb.vals <= radius
        rows, cols = nb.row_of_entry[within], nb.cols[within]
        cover = sp.csc_matrix((np.ones(rows.size), (rows, cols)), shape=(nb.n, nb.m))
        opened = np.zeros(nb.m, dtype=bool)
        opened[self.rules.fixed] = True
        for g in self.rules.groups:
            need = g.min_sites - int(opened[g.candidates].sum())
            pool = g.candidates[self.rules.allowed[g.candidates] & ~opened[g.candidates]]
            opened[pool[: max(need, 0)]] = True
        covered = np.asarray(cover[:, opened].sum(axis=1)).ravel() > 0
        allowed = self.rules.allowed
        price = self.rules.site_cost if self.rules.site_cost is not None else np.zeros(nb.m)
        left = (self.rules.budget if self.rules.budget is not None else np.inf) - float(price[opened].sum())
        while not covered.all():
            gain = np.asarray(cover[~covered].sum(axis=0)).ravel()
            gain[~allowed | opened | (price > left + 1e-9)] = 0
            score = gain / (price + 1e-9) if self.rules.budget is not None else gain
            j = int(np.argmax(score))
            if gain[j] <= 0:
                return None
            opened[j] = True
            left -= float(price[j])
            covered |= cover[:, j].toarray().ravel() > 0
        selected = np.flatnonzero(opened)
        return selected if self.rules.satisfied_by(selected, p=self.p) else None

    def _greedy_search(self, nb: Neighbours, radii: NDArray[np.float64], lo: int) -> NDArray[np.int64] | None:
        """Binary search for the least radius greedy cover achieves within the rules."""
        best: NDArray[np.int64] | None = None
        a, b = lo, radii.size - 1
        top = self._greedy_cover(nb, float(radii[b]))
        if top is None:
            return None
        best = top
        while a < b:
            mid = (a + b) // 2
            sel = self._greedy_cover(nb, float(radii[mid]))
            if sel is None:
                a = mid + 1
            else:
                best, b = sel, mid
        return best

    def _feasible(
        self, nb: Neighbours, radius: float, deadline: float, *, seed: int, threads: int | None
    ) -> tuple[str, NDArray[np.int64] | None]:
        """Set-cover MIP at ``radius``: ("yes", sites) | ("no", None) | ("unknown", None) on timeout."""
        within = nb.vals <= radius
        rows, cols = nb.row_of_entry[within], nb.cols[within]
        cover = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(nb.n, nb.m))
        site_a, site_lo, site_hi = self.rules.constraint_rows(p=self.p, p_exact=False)
        a = sp.vstack([cover, site_a], format="csr")
        lo = np.concatenate([np.ones(nb.n), site_lo])
        hi = np.concatenate([np.full(nb.n, np.inf), site_hi])
        y_lo, y_hi = self.rules.column_bounds()
        left = None if not np.isfinite(deadline) else max(deadline - time.perf_counter(), 0.05)
        sol = solve_mip(
            np.ones(nb.m), a, lo, hi, col_lower=y_lo, col_upper=y_hi, integer=np.ones(nb.m, dtype=bool),
            time_limit=left, threads=threads, seed=seed,
        )  # fmt: skip
        if sol.status == "infeasible":
            return "no", None
        if sol.has_solution:
            return "yes", np.flatnonzero(sol.x > 0.5)
        return "unknown", None

    def _exact_search(
        self, nb: Neighbours, radii: NDArray[np.float64], *, lo: int, hi: int, best: NDArray[np.int64] | None,
        start: float, deadline: float, seed: int, threads: int | None,
    ) -> SolveResult:  # fmt: skip
        """Binary search with feasibility MIPs: ``radii[lo]`` stays a bound, ``radii[hi]`` achievable."""
        mips, timed_out = 0, False
        hi = min(hi, radii.size - 1)
        if best is None:
            verdict, sel = self._feasible(nb, float(radii[hi]), deadline, seed=seed, threads=threads)
            mips += 1
            if verdict == "no":
                return self._infeasible(
                    "no selection of sites meets the site rules and reaches every demand", start, "exact"
                )
            if sel is None:
                return self._infeasible(
                    "the time limit ran out before any solution was found", start, "exact"
                )
            best = sel
            hi = int(np.searchsorted(radii, self._radius(nb, best)))
        while lo < hi:
            mid = (lo + hi) // 2
            verdict, sel = self._feasible(nb, float(radii[mid]), deadline, seed=seed, threads=threads)
            mips += 1
            if verdict == "unknown":
                timed_out = True
                break
            if verdict == "no":
                lo = mid + 1
            else:
                assert sel is not None
                best = sel
                hi = int(np.searchsorted(radii, self._radius(nb, best)))
        status: Any = "optimal" if lo >= hi else "time_limit"
        if timed_out:
            status = "time_limit"
        return self._result(
            nb, best, float(radii[lo]), status=status, start=start,
            solver=f"greedy+highs-setcover({mips} MIPs)", method="exact",
        )  # fmt: skip

    def evaluate(self, selected: ArrayLike) -> SolveResult:
        """Compute the largest cost to the nearest of given open sites (no solve).

        Returns
        -------
        SolveResult
            ``status="feasible"`` when every demand row reaches an open site and the site
            rules hold (``bound`` and ``gap`` NaN), else ``"infeasible"`` with the reason.
        """
        return evaluate_nearest(
            self.MODEL,
            self.cost,
            self.weights,
            self.rules,
            p=self.p,
            selected=selected,
            objective_of=_largest,
        )

    def _result(
        self, nb: Neighbours, selected: NDArray[np.int64], bound: float, *, status: Any, start: float,
        solver: str, method: Any,
    ) -> SolveResult:  # fmt: skip
        return median_result(
            self.MODEL, nb, self.weights, selected, bound, objective_of=_largest, status=status, start=start,
            solver=solver, method=method,
        )  # fmt: skip

    def _infeasible(self, reason: str, start: float, method: Any) -> SolveResult:
        return infeasible_result(self.MODEL, self.cost, self.weights, reason, start=start, method=method)
