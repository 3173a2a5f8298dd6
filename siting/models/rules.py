"""Which sites may or must open: site rules, their checks, and their incremental state for heuristics."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from siting.errors import InputError, Problem, raise_if_problems
from siting.models.base import frozen_array, rows_text

__all__ = ["DemandShare", "Group", "RuleState", "SiteRules", "as_index_array", "demand_shares"]


@dataclass(frozen=True)
class Group:
    """A group rule: at least ``min_sites`` open sites among ``candidates``.

    Parameters
    ----------
    name : str
        Group name, e.g. a ``grid_id`` or a cluster of grids ("G01+G02").
    candidates : ndarray of int
        Candidate indices that count for this group.
    min_sites : int
        The least number of open sites among them (``k``; default 1).
    """

    name: str
    candidates: NDArray[np.int64]
    min_sites: int = 1


@dataclass(frozen=True)
class DemandShare:
    """A demand rule: at least ``min_share`` of the weight of demand ``rows`` is served.

    Equity between parts of a study area (every street, every community gets its share).

    Parameters
    ----------
    name : str
        Name of the part, e.g. a street.
    rows : ndarray of int
        Demand rows of the part.
    min_share : float
        Least served share of their weight, in [0, 1].
    """

    name: str
    rows: NDArray[np.int64]
    min_share: float

    def served_share(self, served: NDArray[np.float64], weights: NDArray[np.float64]) -> float:
        """Return the served share of this part, from each demand row's served weight (1 when it has none)."""
        total = float(weights[self.rows].sum())
        return float(served[self.rows].sum()) / total if total > 0 else 1.0


def demand_shares(
    problems: list[Problem],
    shares: Mapping[str, tuple[Sequence[int] | ArrayLike, float]] | Sequence[DemandShare] | None,
    n_demand: int | None,
) -> tuple[DemandShare, ...]:
    """Validate demand-share rules (rows in ``0..n_demand-1``, shares in [0, 1]), adding problems."""
    if shares is None:
        return ()
    items = (
        [(str(k), rows, share) for k, (rows, share) in shares.items()]
        if isinstance(shares, Mapping)
        else [(s.name, s.rows, s.min_share) for s in shares]
    )
    out = []
    for name, rows, share in items:
        where = f"served_shares.{name}"
        if not (isinstance(share, int | float) and 0 <= share <= 1):
            problems.append(Problem(where, f"min share must be in [0, 1], got {share!r}", "use e.g. 0.8"))
            continue
        if n_demand is None:
            continue
        try:
            idx = as_index_array(rows, where=where, n=n_demand)
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        out.append(DemandShare(name=name, rows=frozen_array(idx), min_share=float(share)))
    return tuple(out)


def as_index_array(values: Iterable[int] | ArrayLike | None, *, where: str, n: int) -> NDArray[np.int64]:
    """Validate candidate indices: integers in ``[0, n)``, returned sorted and unique.

    Raises
    ------
    InputError
        If an index is out of range or not an integer.
    """
    if values is None:
        return np.empty(0, dtype=np.int64)
    arr = values if isinstance(values, np.ndarray) else np.asarray(list(cast(Iterable[Any], values)))
    if arr.size == 0:
        return np.empty(0, dtype=np.int64)
    if not np.issubdtype(arr.dtype, np.integer):
        raise InputError(Problem(where, "candidate indices must be integers", "pass column positions 0..n-1"))
    bad = arr[(arr < 0) | (arr >= n)]
    if bad.size:
        raise InputError(
            Problem(
                where,
                f"{bad.size} indices outside 0..{n - 1}",
                f"use candidate positions between 0 and {n - 1}",
                rows=tuple(str(int(b)) for b in bad[:20]),
            )
        )
    return np.unique(arr.astype(np.int64))


@dataclass(frozen=True)
class SiteRules:
    """Rules on which candidate sites may or must open, shared by every model.

    Build with :meth:`SiteRules.build`, which validates and collects problems.

    Attributes
    ----------
    n_candidates : int
        Number of candidate sites (columns of the cost / coverage matrix).
    fixed : ndarray of int
        Sites that must stay open (existing stations).
    forbidden : ndarray of int
        Sites that may not open.
    site_cost : ndarray of float, shape (n_candidates,) or None
        Cost of opening each site (any currency unit); required with ``budget``.
    budget : float or None
        Most total opening cost allowed (fixed sites' costs count).
    groups : tuple of Group
        Each group needs at least ``min_sites`` open sites among its candidates.
    """

    n_candidates: int
    fixed: NDArray[np.int64]
    forbidden: NDArray[np.int64]
    site_cost: NDArray[np.float64] | None = None
    budget: float | None = None
    groups: tuple[Group, ...] = ()

    @classmethod
    def build(
        cls,
        n_candidates: int,
        *,
        fixed: Iterable[int] | ArrayLike | None = None,
        forbidden: Iterable[int] | ArrayLike | None = None,
        site_cost: ArrayLike | None = None,
        budget: float | None = None,
        groups: Mapping[str, Sequence[int] | ArrayLike] | Sequence[Group] | None = None,
        min_per_group: int = 1,
    ) -> SiteRules:
        """Validate the rules and return them.

        Parameters
        ----------
        n_candidates : int
            Number of candidate sites.
        fixed, forbidden : sequence of int, optional
            Candidate indices that must open / may not open.
        site_cost : array-like of float, shape (n_candidates,), optional
            Opening cost per site, non-negative.
        budget : float, optional
            Most total opening cost; needs ``site_cost``.
        groups : mapping of name to candidate indices, or sequence of Group, optional
            Group rules; with a mapping, each group needs ``min_per_group`` sites.
        min_per_group : int
            ``k`` for groups given as a mapping.

        Raises
        ------
        InputError
            Listing every problem found.
        """
        problems: list[Problem] = []
        fixed_arr = _collect(problems, fixed, "fixed", n_candidates)
        forbidden_arr = _collect(problems, forbidden, "forbidden", n_candidates)
        both = np.intersect1d(fixed_arr, forbidden_arr)
        if both.size:
            problems.append(
                Problem(
                    "fixed",
                    "sites are both fixed and forbidden",
                    "remove them from one of the two lists",
                    rows=tuple(map(str, both)),
                )
            )
        cost_arr = _check_cost(problems, site_cost, budget, n_candidates)
        group_list = _check_groups(problems, groups, min_per_group, n_candidates)
        raise_if_problems(problems, title="invalid site rules")
        return cls(
            n_candidates=n_candidates,
            fixed=frozen_array(fixed_arr),
            forbidden=frozen_array(forbidden_arr),
            site_cost=None if cost_arr is None else frozen_array(cost_arr),
            budget=None if budget is None else float(budget),
            groups=tuple(group_list),
        )

    @property
    def allowed(self) -> NDArray[np.bool_]:
        """Boolean mask of candidates that may open, shape (n_candidates,)."""
        mask = np.ones(self.n_candidates, dtype=bool)
        mask[self.forbidden] = False
        return mask

    def infeasibility(self, p: int | None) -> str:
        """Return why the rules cannot be met with ``p`` sites (empty string when they can).

        Checks what is decidable without the demand: fixed sites beyond ``p``,
        fixed costs beyond the budget, groups with too few allowed candidates,
        and a lower bound on the sites the groups need (each group's shortfall
        after the fixed sites, summed over disjoint groups) against ``p``.
        """
        reasons: list[str] = []
        if p is not None and self.fixed.size > p:
            reasons.append(f"{self.fixed.size} fixed sites but p = {p}")
        if self.budget is not None and self.site_cost is not None:
            fixed_cost = float(self.site_cost[self.fixed].sum())
            if fixed_cost > self.budget + 1e-9:
                reasons.append(f"fixed sites cost {fixed_cost:g}, above the budget {self.budget:g}")
        allowed = self.allowed
        is_fixed = np.zeros(self.n_candidates, dtype=bool)
        is_fixed[self.fixed] = True
        for g in self.groups:
            n_ok = int(allowed[g.candidates].sum())
            if n_ok < g.min_sites:
                reasons.append(
                    f"group {g.name!r} needs {g.min_sites} site(s) but has {n_ok} allowed candidate(s)"
                )
        if p is not None and self.groups and self._disjoint_groups():
            need = sum(max(0, g.min_sites - int(is_fixed[g.candidates].sum())) for g in self.groups)
            if self.fixed.size + need > p:
                reasons.append(
                    f"the groups need at least {self.fixed.size + need} sites "
                    f"({self.fixed.size} fixed + {need} more) but p = {p}"
                )
        return "; ".join(reasons)

    def _disjoint_groups(self) -> bool:
        if not self.groups:
            return True
        allc = np.concatenate([g.candidates for g in self.groups])
        return bool(np.unique(allc).size == allc.size)

    def constraint_rows(
        self, *, p: int | None, p_exact: bool = True
    ) -> tuple[sp.csr_matrix, NDArray[np.float64], NDArray[np.float64]]:
        """Linear rows over the site variables ``y`` (length ``n_candidates``).

        Returns ``(A, lower, upper)`` with ``lower <= A @ y <= upper`` for: the
        number of sites (``sum y == p`` when ``p_exact``, else ``<= p``), the
        budget (``cost @ y <= budget``) and each group (``sum_{j in G} y_j >= k``).
        Fixed and forbidden sites are column bounds: see :meth:`column_bounds`.
        """
        n = self.n_candidates
        rows: list[sp.csr_matrix] = []
        lo: list[float] = []
        hi: list[float] = []
        if p is not None:
            rows.append(sp.csr_matrix(np.ones((1, n))))
            lo.append(float(p) if p_exact else 0.0)
            hi.append(float(p))
        if self.budget is not None and self.site_cost is not None:
            rows.append(sp.csr_matrix(self.site_cost.reshape(1, n)))
            lo.append(-np.inf)
            hi.append(self.budget)
        for g in self.groups:
            row = sp.csr_matrix(
                (np.ones(g.candidates.size), (np.zeros(g.candidates.size, dtype=np.int64), g.candidates)),
                shape=(1, n),
            )
            rows.append(row)
            lo.append(float(g.min_sites))
            hi.append(np.inf)
        if not rows:
            return sp.csr_matrix((0, n)), np.empty(0), np.empty(0)
        return sp.vstack(rows, format="csr"), np.asarray(lo), np.asarray(hi)

    def column_bounds(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Bounds of the site variables: fixed sites ``[1, 1]``, forbidden ``[0, 0]``, others ``[0, 1]``."""
        lower = np.zeros(self.n_candidates)
        upper = np.ones(self.n_candidates)
        lower[self.fixed] = 1.0
        upper[self.forbidden] = 0.0
        return lower, upper

    def satisfied_by(self, selected: ArrayLike, *, p: int | None) -> bool:
        """Check a selection against every rule (used by heuristics and tests)."""
        return not self.violations(selected, p=p)

    def violations(self, selected: ArrayLike, *, p: int | None) -> list[str]:
        """Say which rules a selection breaks (an empty list when it keeps them all)."""
        sel = np.unique(np.asarray(selected, dtype=np.int64))
        y = np.zeros(self.n_candidates, dtype=bool)
        y[sel] = True
        out = []
        closed = self.fixed[~y[self.fixed]]
        if closed.size:
            out.append(f"fixed sites {rows_text(closed)} are not open")
        opened = self.forbidden[y[self.forbidden]]
        if opened.size:
            out.append(f"forbidden sites {rows_text(opened)} are open")
        if p is not None and sel.size > p:
            out.append(f"{sel.size} sites open but p = {p}")
        if self.budget is not None and self.site_cost is not None:
            spent = float(self.site_cost[sel].sum())
            if spent > self.budget + 1e-9:
                out.append(f"the sites cost {spent:g}, above the budget {self.budget:g}")
        out.extend(
            f"group {g.name!r} has {int(y[g.candidates].sum())} open site(s), needs {g.min_sites}"
            for g in self.groups
            if int(y[g.candidates].sum()) < g.min_sites
        )
        return out


def _collect(problems: list[Problem], values: object, where: str, n: int) -> NDArray[np.int64]:
    try:
        return as_index_array(values, where=where, n=n)  # type: ignore[arg-type]
    except InputError as exc:
        problems.extend(exc.problems)
        return np.empty(0, dtype=np.int64)


def _check_cost(
    problems: list[Problem], site_cost: ArrayLike | None, budget: float | None, n: int
) -> NDArray[np.float64] | None:
    cost_arr = None
    if site_cost is not None:
        cost_arr = np.asarray(site_cost, dtype=float).ravel()
        if cost_arr.shape != (n,):
            problems.append(
                Problem(
                    "site_cost", f"has {cost_arr.size} values for {n} candidates", "give one cost per site"
                )
            )
            cost_arr = None
        elif not np.isfinite(cost_arr).all() or (cost_arr < 0).any():
            problems.append(Problem("site_cost", "has negative or non-finite values", "use costs >= 0"))
            cost_arr = None
    if budget is not None:
        if not np.isfinite(budget) or budget < 0:
            problems.append(
                Problem("budget", f"must be a finite number >= 0, got {budget}", "set budget >= 0")
            )
        if site_cost is None:
            problems.append(
                Problem("budget", "needs site_cost", "pass site_cost with one cost per candidate")
            )
    return cost_arr


def _check_groups(
    problems: list[Problem],
    groups: Mapping[str, Sequence[int] | ArrayLike] | Sequence[Group] | None,
    min_per_group: int,
    n: int,
) -> list[Group]:
    if groups is None:
        return []
    items: list[tuple[str, object, int]]
    if isinstance(groups, Mapping):
        items = [(str(k), v, min_per_group) for k, v in groups.items()]
    else:
        items = [(g.name, g.candidates, g.min_sites) for g in groups]
    out: list[Group] = []
    for name, members, k in items:
        if k < 0:
            problems.append(Problem(f"groups.{name}", f"min_sites must be >= 0, got {k}", "use 1 or more"))
            continue
        idx = _collect(problems, members, f"groups.{name}", n)
        out.append(Group(name=name, candidates=frozen_array(idx), min_sites=int(k)))
    return out


_EPS = 1e-9


class RuleState:
    """Incremental checks of the site rules (p, budget, fixed, forbidden, groups)."""

    def __init__(self, rules: SiteRules, p: int | None) -> None:
        n = rules.n_candidates
        self.rules = rules
        self.p = p if p is not None else n
        self.cost = rules.site_cost if rules.site_cost is not None else np.zeros(n)
        self.budget = rules.budget if rules.budget is not None else math.inf
        self.allowed = rules.allowed
        self.fixed = np.zeros(n, dtype=bool)
        self.fixed[rules.fixed] = True
        self.group_min = np.array([g.min_sites for g in rules.groups], dtype=np.int64)
        rows = [np.full(g.candidates.size, k) for k, g in enumerate(rules.groups)]
        cols = [g.candidates for g in rules.groups]
        self.gmat = sp.csr_matrix(
            (
                np.ones(sum(c.size for c in cols)),
                (np.concatenate(rows) if rows else [], np.concatenate(cols) if cols else []),
            ),
            shape=(len(rules.groups), n),
        )
        self.gcsc = self.gmat.tocsc()
        self.group_count = np.zeros(len(rules.groups), dtype=np.int64)
        self.n_open = 0
        self.spent = 0.0

    def on_add(self, j: int) -> None:
        """Record that site ``j`` opened."""
        self.n_open += 1
        self.spent += float(self.cost[j])
        self.group_count[self._groups_of(j)] += 1

    def on_remove(self, k: int) -> None:
        """Record that site ``k`` closed."""
        self.n_open -= 1
        self.spent -= float(self.cost[k])
        self.group_count[self._groups_of(k)] -= 1

    def _groups_of(self, j: int) -> NDArray[np.int32]:
        return self.gcsc.indices[self.gcsc.indptr[j] : self.gcsc.indptr[j + 1]]

    def can_add(self, j: int) -> bool:
        """Whether site ``j`` may open now (count and budget)."""
        return self.n_open < self.p and self.spent + float(self.cost[j]) <= self.budget + _EPS

    def short_groups(self) -> NDArray[np.int64]:
        """Return the indices of groups still below their minimum."""
        return np.flatnonzero(self.group_count < self.group_min)

    @property
    def static_swaps(self) -> bool:
        """Whether any open non-fixed site may swap with any closed one (no budget, no groups)."""
        return not math.isfinite(self.budget) and self.group_min.size == 0

    def swap_mask_static(self, selected: NDArray[np.bool_]) -> NDArray[np.bool_]:
        """Open sites that may close in a swap when :attr:`static_swaps` holds."""
        return selected & ~self.fixed

    def swap_mask(self, j: int, selected: NDArray[np.bool_]) -> NDArray[np.bool_]:
        """Open sites ``k`` that may close if ``j`` opens in their place."""
        ok = selected & ~self.fixed
        if math.isfinite(self.budget):
            ok &= self.spent - self.cost + float(self.cost[j]) <= self.budget + _EPS
        if self.group_min.size:
            tight = self.group_count <= self.group_min
            tight[self._groups_of(j)] = False
            if tight.any():
                blocked = np.asarray(self.gmat[np.flatnonzero(tight)].sum(axis=0)).ravel() > 0
                ok &= ~blocked
        return ok
