"""Validated cost matrices as sorted neighbour lists, shared by the median and center models."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from siting.errors import Problem

__all__ = ["Neighbours", "check_cost", "check_weights", "row_positions"]


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


def rows_text(rows: NDArray[np.int64], limit: int = 20) -> str:
    """``"3, 7, 9"`` (first ``limit`` rows and how many more)."""
    shown = ", ".join(str(int(r)) for r in rows[:limit])
    return shown + (f" and {rows.size - limit} more" if rows.size > limit else "")
