"""Input checking, reductions and result building shared by the coverage models."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from siting.errors import InputError, Problem, raise_if_problems
from siting.models.base import Group, SiteRules, SolveResult, Status, frozen_array, relative_gap

__all__ = [
    "AUTO_EXACT_MAX_NNZ",
    "CoverageData",
    "ReducedRows",
    "RuleOptions",
    "RuleState",
    "assign_first_cover",
    "auto_exact",
    "build_rules",
    "check_count",
    "check_coverage",
    "check_method",
    "check_model_input",
    "coverage_result",
    "reduce_rows",
    "row_signature_groups",
    "rows_text",
]

#: ``method="auto"`` solves exactly (HiGHS MIP) when the coverage matrix has at most
#: this many non-zeros after reduction, and heuristically (certified) above it.
AUTO_EXACT_MAX_NNZ = 400_000

GroupsArg = Mapping[str, Sequence[int] | ArrayLike] | Sequence[Group] | None


@dataclass(frozen=True)
class RuleOptions:
    """The site-rule keywords every coverage model accepts (see :class:`SiteRules`)."""

    fixed: Any = None
    forbidden: Any = None
    site_cost: Any = None
    budget: float | None = None
    groups: GroupsArg = None
    min_per_group: int = 1


@dataclass(frozen=True)
class CoverageData:
    """A validated coverage matrix with its demand weights.

    Attributes
    ----------
    csr : scipy.sparse.csr_matrix, shape (n_demand, n_candidates)
        1.0 where candidate ``j`` covers demand ``i`` (sorted indices, no explicit zeros).
    csc : scipy.sparse.csc_matrix, shape (n_demand, n_candidates)
        The same matrix by column.
    weights : ndarray of float, shape (n_demand,)
        Non-negative demand weights (e.g. households or residents).
    """

    csr: sp.csr_matrix
    csc: sp.csc_matrix
    weights: NDArray[np.float64]

    @property
    def n_demand(self) -> int:
        """Number of demand points (rows)."""
        return int(self.csr.shape[0])

    @property
    def n_candidates(self) -> int:
        """Number of candidate sites (columns)."""
        return int(self.csr.shape[1])

    @property
    def total_weight(self) -> float:
        """Sum of all demand weights."""
        return float(self.weights.sum())

    def cover_counts(self, selected: NDArray[np.int64]) -> NDArray[np.int64]:
        """How many of the ``selected`` sites cover each demand point, shape (n_demand,)."""
        y = np.zeros(self.n_candidates)
        y[selected] = 1.0
        return np.rint(self.csr @ y).astype(np.int64)


def check_coverage(
    problems: list[Problem], coverage: object, weights: ArrayLike | None
) -> tuple[CoverageData | None, int | None]:
    """Validate a coverage matrix (sparse or dense, truthy = covered) and its weights.

    Appends every problem found to ``problems``. Returns ``(data, n_candidates)``:
    ``data`` is ``None`` if there is a problem; ``n_candidates`` is known whenever
    the matrix itself is valid (even with bad weights), so the site rules can
    still be checked and every problem reported at once.
    """
    csr = _as_binary_csr(problems, coverage)
    if csr is None:
        if weights is not None:
            _check_weights(problems, weights, None)
        return None, None
    n_candidates = int(csr.shape[1])
    w = _check_weights(problems, weights, csr.shape[0])
    if w is None:
        return None, n_candidates
    return CoverageData(csr=csr, csc=csr.tocsc(), weights=w), n_candidates


def _as_binary_csr(problems: list[Problem], coverage: object) -> sp.csr_matrix | None:
    fix = "pass an (n_demand x n_candidates) scipy.sparse matrix or 2-D array, truthy = covered"
    if sp.issparse(coverage):
        csr = sp.csr_matrix(coverage)
    else:
        try:
            arr = np.asarray(coverage)
        except (TypeError, ValueError) as exc:
            problems.append(Problem("coverage", f"cannot be read as an array ({exc})", fix))
            return None
        if arr.ndim != 2:
            problems.append(Problem("coverage", f"must be 2-D, got {arr.ndim} dimension(s)", fix))
            return None
        if arr.dtype.kind not in "biuf":
            problems.append(Problem("coverage", f"must be boolean or numeric, got dtype {arr.dtype}", fix))
            return None
        if arr.dtype.kind == "f" and np.isnan(arr).any():
            problems.append(
                Problem("coverage", "contains NaN", "use 0/False for not covered (e.g. cost <= radius)")
            )
            return None
        csr = sp.csr_matrix(arr != 0)
    if csr.ndim != 2 or csr.shape[0] == 0 or csr.shape[1] == 0:
        problems.append(Problem("coverage", f"has an empty dimension, shape {csr.shape}", fix))
        return None
    csr.sum_duplicates()
    if csr.dtype.kind == "f" and np.isnan(csr.data).any():
        problems.append(Problem("coverage", "contains NaN", "use 0 for not covered"))
        return None
    keep = csr.data != 0
    out = sp.csr_matrix(
        (np.ones(int(keep.sum())), csr.indices[keep], np.concatenate([[0], np.cumsum(keep)])[csr.indptr]),
        shape=csr.shape,
    )
    out.sort_indices()
    return out


def _check_weights(problems: list[Problem], weights: ArrayLike | None, n: int | None) -> NDArray | None:
    if weights is None:
        return None if n is None else np.ones(n)
    w = np.asarray(weights, dtype=float).ravel()
    ok = True
    if n is not None and w.size != n:
        problems.append(
            Problem("weights", f"has {w.size} values for {n} demand rows", "give one weight per coverage row")
        )
        ok = False
    bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
    if bad.size:
        problems.append(
            Problem(
                "weights",
                f"{bad.size} weights are negative or not finite",
                "use weights >= 0 (households, residents)",
                rows=tuple(str(int(i)) for i in bad[:20]),
            )
        )
        ok = False
    return w if ok else None


def check_count(
    problems: list[Problem], value: object, n_candidates: int | None, *, where: str = "p"
) -> int | None:
    """Validate a site count such as ``p``: an integer in ``1..n_candidates`` (``None`` passes)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        problems.append(
            Problem(where, f"must be an integer, got {value!r}", f"pass {where} as a whole number")
        )
        return None
    v = int(value)
    upper = n_candidates if n_candidates is not None else v
    if v < 1 or v > upper:
        problems.append(
            Problem(where, f"must be between 1 and {upper} (the number of candidates), got {v}", "change p")
        )
        return None
    return v


def build_rules(problems: list[Problem], n_candidates: int | None, opts: RuleOptions) -> SiteRules | None:
    """Build the :class:`SiteRules`, adding their problems to ``problems``."""
    if n_candidates is None:
        return None
    try:
        return SiteRules.build(
            n_candidates,
            fixed=opts.fixed,
            forbidden=opts.forbidden,
            site_cost=opts.site_cost,
            budget=opts.budget,
            groups=opts.groups,
            min_per_group=opts.min_per_group,
        )
    except InputError as exc:
        problems.extend(exc.problems)
        return None


def check_model_input(
    coverage: object,
    weights: ArrayLike | None,
    p: object,
    opts: RuleOptions,
    *,
    title: str,
    need_p_or_budget: bool = False,
    extra: Callable[[list[Problem], int | None], Any] | None = None,
) -> tuple[CoverageData, SiteRules, int | None, Any]:
    """Validate everything a coverage model's ``from_coverage`` takes, raising once for all problems.

    Parameters
    ----------
    coverage, weights
        As in the models' ``from_coverage``.
    p : int or None
        Most sites.
    opts : RuleOptions
        Site-rule keywords.
    title : str
        Heading of the error (``"invalid MCLP input"``).
    need_p_or_budget : bool
        Whether ``p`` or a budget must be given.
    extra : callable, optional
        ``extra(problems, n_candidates)`` validates a model-specific argument and returns it.

    Returns
    -------
    data, rules, p, extra value
    """
    problems: list[Problem] = []
    data, n_cand = check_coverage(problems, coverage, weights)
    p_val = check_count(problems, p, n_cand)
    if need_p_or_budget and p is None and opts.budget is None:
        problems.append(Problem("p", "neither p nor budget given", "pass p=<number of sites> or a budget"))
    value = extra(problems, n_cand) if extra is not None else None
    rules = build_rules(problems, n_cand, opts)
    raise_if_problems(problems, title=title)
    assert data is not None
    assert rules is not None
    return data, rules, p_val, value


def check_method(method: str, time_limit: float | None, mip_gap: float) -> None:
    """Validate the ``solve()`` keywords, raising :class:`InputError` listing every problem."""
    problems: list[Problem] = []
    if method not in ("auto", "exact", "heuristic"):
        problems.append(Problem("method", f"unknown method {method!r}", 'use "auto", "exact" or "heuristic"'))
    if time_limit is not None and not (np.isfinite(time_limit) and time_limit > 0):
        problems.append(Problem("time_limit", f"must be > 0 seconds, got {time_limit}", "pass seconds > 0"))
    if not (0 <= mip_gap < 1):
        problems.append(Problem("mip_gap", f"must be in [0, 1), got {mip_gap}", "use e.g. 1e-6"))
    if problems:
        raise InputError(problems, title="invalid solve options")


def row_signature_groups(csr: sp.csr_matrix, *, seed: int = 12345) -> tuple[NDArray[np.int64], int]:
    """Label demand rows that have identical coverage sets.

    Two independent 64-bit random hashes of each row's column set (plus its
    length) are compared, so distinct rows share a label with probability
    about ``n_rows**2 / 2**128``. Returns ``(labels, n_unique)``.
    """
    rng = np.random.default_rng(seed)
    n_cols = csr.shape[1]
    keys = []
    lengths = np.diff(csr.indptr)
    nonempty = lengths > 0
    for _ in range(2):
        r = rng.integers(1, np.iinfo(np.int64).max, size=n_cols, dtype=np.int64).view(np.uint64)
        h = np.zeros(csr.shape[0], dtype=np.uint64)
        if csr.nnz:
            sums = np.add.reduceat(r[csr.indices], csr.indptr[:-1][nonempty])
            h[nonempty] = sums
        keys.append(h)
    keys.append(lengths.astype(np.uint64))
    stacked = np.stack(keys, axis=1)
    labels = np.asarray(np.unique(stacked, axis=0, return_inverse=True)[1]).ravel()
    return labels.astype(np.int64), int(labels.max()) + 1 if labels.size else 0


def assign_first_cover(data: CoverageData, selected: NDArray[np.int64]) -> NDArray[np.int64]:
    """Assign each demand point to its lowest-index covering open site (``-1`` if uncovered)."""
    assignment = np.full(data.n_demand, -1, dtype=np.int64)
    csc = data.csc
    for j in np.sort(selected)[::-1]:
        rows = csc.indices[csc.indptr[j] : csc.indptr[j + 1]]
        assignment[rows] = j
    return assignment


def coverage_result(
    *,
    model: str,
    data: CoverageData,
    selected: ArrayLike,
    objective: float,
    bound: float,
    status: Status,
    started: float,
    solver: str,
    method: Literal["exact", "heuristic"],
    assignment: NDArray[np.int64] | None = None,
    load: NDArray[np.float64] | None = None,
    reason: str = "",
    extra: Mapping[str, float] | None = None,
) -> SolveResult:
    """Build the frozen :class:`SolveResult` of a coverage model.

    Without ``assignment`` each demand point goes to its lowest-index covering
    open site; ``load`` is then the weight assigned to each site.
    """
    sel = np.unique(np.asarray(selected, dtype=np.int64))
    if assignment is None:
        assignment = assign_first_cover(data, sel)
    if load is None:
        hit = assignment >= 0
        load = np.bincount(assignment[hit], weights=data.weights[hit], minlength=data.n_candidates).astype(
            np.float64
        )
    covered = float(data.weights[assignment >= 0].sum())
    gap = relative_gap(objective, bound)
    return SolveResult(
        model=model,
        status=status,
        objective=float(objective),
        bound=float(bound),
        gap=float(gap),
        selected=frozen_array(sel),
        assignment=frozen_array(assignment.astype(np.int64)),
        load=frozen_array(np.asarray(load, dtype=np.float64)),
        covered_weight=covered,
        total_weight=data.total_weight,
        solve_seconds=time.perf_counter() - started,
        solver=solver,
        method=method,
        reason=reason,
        extra=dict(extra or {}),
    )


def rows_text(rows: NDArray[np.int64], *, limit: int = 20) -> str:
    """Format demand row indices for a reason string (at most ``limit`` shown)."""
    shown = ", ".join(str(int(r)) for r in rows[:limit])
    more = f" and {rows.size - limit} more" if rows.size > limit else ""
    return f"{shown}{more}"


@dataclass(frozen=True)
class ReducedRows:
    """Demand rows left for the optimiser after reductions.

    Attributes
    ----------
    matrix : scipy.sparse.csr_matrix, shape (n_rows, n_candidates)
        Coverage of the kept (merged) rows by allowed candidates only.
    weights : ndarray of float, shape (n_rows,)
        Summed weight of the demand rows merged into each kept row.
    constant : float
        Weight already covered by fixed sites (dropped from the model).
    """

    matrix: sp.csr_matrix
    weights: NDArray[np.float64]
    constant: float


def reduce_rows(
    data: CoverageData, rules: SiteRules, *, drop_fixed: bool = True, drop_zero: bool = True
) -> ReducedRows:
    """Drop forbidden columns, uncoverable rows, zero-weight rows and rows a fixed site covers; merge equal rows.

    ``drop_fixed`` / ``drop_zero`` switch off the last two (a set cover must
    keep zero-weight rows).
    """
    allowed = rules.allowed.astype(np.float64)
    m = sp.csr_matrix(data.csr @ sp.diags(allowed))
    m.eliminate_zeros()
    keep = np.diff(m.indptr) > 0
    if drop_zero:
        keep &= data.weights > 0
    constant = 0.0
    if drop_fixed and rules.fixed.size:
        y = np.zeros(data.n_candidates)
        y[rules.fixed] = 1.0
        by_fixed = (data.csr @ y) > 0
        constant = float(data.weights[by_fixed & (data.weights > 0)].sum())
        keep &= ~by_fixed
    idx = np.flatnonzero(keep)
    sub = sp.csr_matrix(m[idx])
    if idx.size == 0:
        return ReducedRows(sub, np.empty(0), constant)
    labels, n_unique = row_signature_groups(sub)
    first = np.full(n_unique, -1, dtype=np.int64)
    first[labels[::-1]] = np.arange(labels.size)[::-1]
    merged_w = np.bincount(labels, weights=data.weights[idx], minlength=n_unique).astype(np.float64)
    matrix = sp.csr_matrix(sub[first])
    matrix.sort_indices()
    return ReducedRows(matrix, merged_w, constant)


def auto_exact(method: str, nnz: int) -> bool:
    """Whether ``method`` (possibly ``"auto"``) means the exact MIP for a model with ``nnz`` coverage entries."""
    if method == "auto":
        return nnz <= AUTO_EXACT_MAX_NNZ
    return method == "exact"


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
