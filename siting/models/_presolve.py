"""Reductions before a coverage model is solved: drop rows that cannot matter, merge rows with equal covers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models._inputs import CoverageData
from siting.models.rules import SiteRules

__all__ = ["AUTO_EXACT_MAX_NNZ", "ReducedRows", "auto_exact", "reduce_rows", "row_signature_groups"]

#: ``method="auto"`` solves exactly (HiGHS MIP) when the coverage matrix has at most
#: this many non-zeros after reduction, and heuristically (certified) above it.
AUTO_EXACT_MAX_NNZ = 400_000


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
