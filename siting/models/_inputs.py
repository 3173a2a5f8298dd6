"""The validated inputs of the models: coverage matrices, cost matrices as neighbour lists, and their checks.

Every check appends to a list of :class:`~siting.errors.Problem` so a constructor reports all
problems of its input at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from siting.errors import InputError, Problem, raise_if_problems
from siting.models.rules import Group, SiteRules

__all__ = [
    "CoverageData",
    "Neighbours",
    "RuleOptions",
    "build_rules",
    "check_cost",
    "check_count",
    "check_coverage",
    "check_model_input",
    "check_p",
    "check_weights",
    "row_positions",
    "unreachable_rows",
]

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


def check_cost(problems: list[Problem], cost: object, *, where: str = "cost") -> sp.csr_matrix | None:
    """Validate a cost matrix and return it as CSR with only the reachable pairs stored.

    A dense array may use ``inf`` for unreachable pairs; a sparse matrix stores
    reachable pairs only (a stored explicit 0 is a distance of 0, duplicates are summed).
    Costs must be finite where stored and ``>= 0``.
    """
    if sp.issparse(cost):
        if len(cost.shape) != 2:  # type: ignore[attr-defined]
            problems.append(Problem(where, "must be 2-D (n_demand x n_candidates)", "pass a 2-D matrix"))
            return None
        csr = sp.csr_matrix(cost, dtype=np.float64, copy=True)
        csr.sum_duplicates()
        bad_nan, bad_inf, bad_neg = np.isnan(csr.data).any(), np.isinf(csr.data).any(), (csr.data < 0).any()
    else:
        try:
            arr = np.asarray(cost, dtype=np.float64)
        except (TypeError, ValueError):
            problems.append(
                Problem(where, "is not numeric", "pass a numeric 2-D array or scipy.sparse matrix")
            )
            return None
        if arr.ndim != 2:
            problems.append(
                Problem(where, f"must be 2-D (n_demand x n_candidates), got {arr.ndim}-D", "reshape it")
            )
            return None
        bad_nan, bad_inf, bad_neg = bool(np.isnan(arr).any()), False, bool((arr < 0).any())
        rows, cols = np.nonzero(np.isfinite(arr))
        csr = sp.csr_matrix((arr[rows, cols], (rows, cols)), shape=arr.shape)
    if bad_nan or bad_inf:
        problems.append(
            Problem(
                where,
                "has NaN (or inf stored in a sparse matrix)",
                "use inf (dense) or omit the pair (sparse)",
            )
        )
    if bad_neg:
        problems.append(Problem(where, "has negative costs", "costs are distances or times >= 0"))
    if bad_nan or bad_inf or bad_neg:
        return None
    if csr.shape[0] == 0 or csr.shape[1] == 0:
        problems.append(
            Problem(where, f"has shape {csr.shape}", "give at least one demand and one candidate")
        )
        return None
    return csr


def check_weights(
    problems: list[Problem], weights: ArrayLike | None, n: int, *, where: str = "weights"
) -> NDArray[np.float64]:
    """Validate demand weights (one per demand row, finite, ``>= 0``); ones when ``None``."""
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, dtype=np.float64).ravel()
    if w.shape != (n,):
        problems.append(Problem(where, f"has {w.size} values for {n} demand rows", "give one per demand row"))
        return np.ones(n)
    if not np.isfinite(w).all() or (w < 0).any():
        bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
        problems.append(
            Problem(
                where, "has negative or non-finite values", "use weights >= 0", rows=tuple(map(str, bad[:20]))
            )
        )
        return np.ones(n)
    return w


def row_positions(indptr: NDArray[np.int64], rows: NDArray[np.int64]) -> tuple[NDArray, NDArray]:
    """Flat positions of every entry of ``rows`` in a CSR layout, and which of ``rows`` each came from."""
    starts = indptr[rows]
    lengths = indptr[rows + 1] - starts
    total = int(lengths.sum())
    which = np.repeat(np.arange(rows.size), lengths)
    offsets = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return starts[which] + offsets, which


@dataclass(frozen=True)
class Neighbours:
    """Each demand row's reachable candidates sorted by cost (ascending), plus the column view.

    Attributes
    ----------
    n, m : int
        Number of demand rows and candidates.
    indptr : ndarray of int64, shape (n + 1,)
        Row ``i``'s entries are ``cols[indptr[i]:indptr[i+1]]`` with costs ``vals[...]``.
    cols, vals : ndarray
        Candidate index and cost of each entry, sorted by cost within each row.
    col_indptr, col_rows, col_vals : ndarray
        The same entries grouped by candidate (CSC).
    """

    n: int
    m: int
    indptr: NDArray[np.int64]
    cols: NDArray[np.int64]
    vals: NDArray[np.float64]
    col_indptr: NDArray[np.int64]
    col_rows: NDArray[np.int64]
    col_vals: NDArray[np.float64]

    @classmethod
    def build(cls, csr: sp.csr_matrix, allowed: NDArray[np.bool_] | None = None) -> Neighbours:
        """Sort each row by cost, dropping columns that are not ``allowed``."""
        coo = csr.tocoo()
        keep = np.ones(coo.nnz, dtype=bool) if allowed is None else allowed[coo.col]
        r = coo.row[keep].astype(np.int64)
        c = coo.col[keep].astype(np.int64)
        v = coo.data[keep].astype(np.float64)
        order = np.lexsort((c, v, r))
        r, c, v = r[order], c[order], v[order]
        n, m = csr.shape
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(r, minlength=n), out=indptr[1:])
        corder = np.argsort(c, kind="stable")
        col_indptr = np.zeros(m + 1, dtype=np.int64)
        np.cumsum(np.bincount(c, minlength=m), out=col_indptr[1:])
        return cls(n, m, indptr, c, v, col_indptr, r[corder], v[corder])

    @property
    def row_of_entry(self) -> NDArray[np.int64]:
        """Row index of each entry in row order."""
        return np.repeat(np.arange(self.n), np.diff(self.indptr))

    @property
    def col_of_entry(self) -> NDArray[np.int64]:
        """Column index of each entry in column order."""
        return np.repeat(np.arange(self.m), np.diff(self.col_indptr))

    def row_lengths(self) -> NDArray[np.int64]:
        """Return the number of reachable candidates of each demand row."""
        return np.diff(self.indptr)

    def assign(self, open_mask: NDArray[np.bool_]) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Nearest open candidate of each row and its cost (``-1`` / ``inf`` when none is reachable)."""
        ok = open_mask[self.cols]
        rows = self.row_of_entry[ok]
        pos = np.flatnonzero(ok)
        first = np.ones(rows.size, dtype=bool)
        first[1:] = rows[1:] != rows[:-1]
        best = np.full(self.n, -1, dtype=np.int64)
        dist = np.full(self.n, np.inf)
        best[rows[first]] = self.cols[pos[first]]
        dist[rows[first]] = self.vals[pos[first]]
        return best, dist


def check_p(problems: list[Problem], p: object, m: int, *, budget: float | None) -> int | None:
    """Validate ``p`` (an integer in ``1..m``; may be ``None`` only with a budget)."""
    if p is None:
        if budget is None:
            problems.append(Problem("p", "is missing", "give p (number of sites) or site_cost with budget"))
        return None
    if isinstance(p, bool) or not isinstance(p, int | np.integer) or not 1 <= int(p) <= m:
        problems.append(
            Problem("p", f"must be an integer in 1..{m} (candidates), got {p!r}", "set 1 <= p <= m")
        )
        return None
    return int(p)


def unreachable_rows(nb: Neighbours) -> NDArray[np.int64]:
    """Demand rows that reach no allowed candidate."""
    return np.flatnonzero(nb.row_lengths() == 0)
