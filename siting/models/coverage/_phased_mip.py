"""The MIP of a phased plan: nested sites over phases, coverage or capacitated service, site and demand rules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models._presolve import row_signature_groups
from siting.models.base import SolveOptions
from siting.models.rules import DemandShare, SiteRules
from siting.models.solvers.highs import MipSolution, solve_mip

__all__ = ["PhasedMip", "build_phased_mip", "merge_rows"]


def merge_rows(
    coverage: sp.csr_matrix, weights: NDArray[np.float64], shares: Sequence[DemandShare]
) -> tuple[NDArray[np.int64], NDArray[np.int64], sp.csr_matrix, NDArray[np.float64]]:
    """Merge demand rows with the same covering set and the same demand-share parts.

    Returns ``(labels, first, a, wr)``: the merged row of each demand row, one demand row of each
    merged row, the merged coverage (n_rows x n_candidates) and the merged weights
    (n_phases x n_rows). Splitting service fractionally, a merged row is exactly its members.
    """
    n = coverage.shape[0]
    key = coverage
    if shares:
        member = sp.csr_matrix(
            (np.ones(sum(s.rows.size for s in shares)),
             (np.concatenate([s.rows for s in shares]),
              np.concatenate([np.full(s.rows.size, g) for g, s in enumerate(shares)]))),
            shape=(n, len(shares)),
        )  # fmt: skip
        key = sp.csr_matrix(sp.hstack([coverage, member]))
        key.data[:] = 1.0
    labels, n_rows = row_signature_groups(key)
    first = np.full(n_rows, -1, dtype=np.int64)
    first[labels[::-1]] = np.arange(n)[::-1]
    wr = np.stack([np.bincount(labels, weights=w, minlength=n_rows) for w in weights]).astype(np.float64)
    return labels, first, sp.csr_matrix(coverage[first]), wr


@dataclass(frozen=True)
class PhasedMip:
    """A built phased MIP over columns ``[y (T x m) | service (T x width)]``, phase-major.

    ``service`` is ``z`` (one column per merged row: covered or not) without capacities, or
    ``x`` (one column per merged row and covering site: the share served there) with them.

    Attributes
    ----------
    m, t_count, width : int
        Candidates, phases, service columns per phase.
    pair_row, pair_site : ndarray of int
        With capacities: merged row and site of each ``x`` column of a phase.
    c, a, lo, hi, col_lo, col_hi, integer
        What :func:`siting.models.solvers.highs.solve_mip` takes.
    """

    m: int
    t_count: int
    width: int
    pair_row: NDArray[np.int64] | None
    pair_site: NDArray[np.int64] | None
    c: NDArray[np.float64]
    a: sp.csr_matrix
    lo: NDArray[np.float64]
    hi: NDArray[np.float64]
    col_lo: NDArray[np.float64]
    col_hi: NDArray[np.float64]
    integer: NDArray[np.bool_]

    def solve(self, opts: SolveOptions, *, time_limit: float | None = None) -> MipSolution:
        """Run HiGHS (``time_limit`` replaces the options' own when given)."""
        return solve_mip(
            self.c, self.a, self.lo, self.hi, col_lower=self.col_lo, col_upper=self.col_hi,
            integer=self.integer, sense="max", mip_rel_gap=opts.mip_gap, threads=opts.threads, seed=opts.seed,
            time_limit=opts.time_limit if time_limit is None else time_limit,
        )  # fmt: skip

    def open_sites(self, x: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Open sites per phase, shape (T, m)."""
        return np.rint(x[: self.m * self.t_count]).reshape(self.t_count, self.m).astype(bool)

    def service(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """Service columns per phase, shape (T, width), clipped to [0, 1]."""
        return np.clip(x[self.m * self.t_count :].reshape(self.t_count, self.width), 0.0, 1.0)


def build_phased_mip(
    a: sp.csr_matrix,
    wr: NDArray[np.float64],
    rules: SiteRules,
    *,
    sites_per_phase: Sequence[int] | None,
    budgets: Sequence[float] | None,
    capacity: NDArray[np.float64] | None,
    share_rows: Sequence[tuple[NDArray[np.int64], float]] = (),
    open_by_phase: NDArray[np.bool_] | None = None,
) -> PhasedMip:
    """Build the phased MIP (see :class:`~siting.models.coverage.phased.PhasedMCLP` for the model).

    ``share_rows`` are the demand shares on merged rows (rows, min share); ``open_by_phase``
    (T x m) fixes the sites of every phase (an evaluation: the MIP becomes an LP).
    """
    n_rows, m = a.shape
    t_count = wr.shape[0]
    ny = m * t_count
    if capacity is None:
        width, pair_row, pair_site = n_rows, None, None
    else:
        coo = a.tocoo()
        order = np.lexsort((coo.col, coo.row))
        pair_row, pair_site = coo.row[order].astype(np.int64), coo.col[order].astype(np.int64)
        width = pair_row.size
    blocks: list[sp.csr_matrix] = []
    lo: list[NDArray[np.float64]] = []
    hi: list[NDArray[np.float64]] = []

    def add(block: sp.spmatrix, low: NDArray[np.float64] | float, high: NDArray[np.float64] | float) -> None:
        rows = block.shape[0]
        blocks.append(sp.csr_matrix(block))
        lo.append(np.broadcast_to(np.asarray(low, dtype=float), (rows,)).copy())
        hi.append(np.broadcast_to(np.asarray(high, dtype=float), (rows,)).copy())

    total = ny + width * t_count
    for t in range(t_count):
        y_t = sp.csr_matrix((np.ones(m), (np.arange(m), t * m + np.arange(m))), shape=(m, total))
        s0 = ny + t * width
        if capacity is None:  # z_rt - sum_j a_rj y_jt <= 0
            z = sp.csr_matrix(
                (np.ones(n_rows), (np.arange(n_rows), s0 + np.arange(n_rows))), shape=(n_rows, total)
            )
            cov = sp.csr_matrix(
                sp.hstack([sp.csr_matrix((n_rows, t * m)), a, sp.csr_matrix((n_rows, total - (t + 1) * m))])
            )
            add(z - cov, -np.inf, 0.0)
        else:
            assert pair_row is not None
            assert pair_site is not None
            k = np.arange(width)
            add(sp.csr_matrix((np.ones(width), (pair_row, s0 + k)), shape=(n_rows, total)), -np.inf, 1.0)
            load = sp.csr_matrix((wr[t][pair_row], (pair_site, s0 + k)), shape=(m, total))
            add(load - sp.diags(capacity) @ y_t, -np.inf, 0.0)
            link = sp.csr_matrix((np.ones(width), (k, s0 + k)), shape=(width, total))
            add(
                link - sp.csr_matrix((np.ones(width), (k, t * m + pair_site)), shape=(width, total)),
                -np.inf,
                0.0,
            )
        if t + 1 < t_count:  # y_jt - y_j(t+1) <= 0: opened sites stay open
            nxt = sp.csr_matrix((np.ones(m), (np.arange(m), (t + 1) * m + np.arange(m))), shape=(m, total))
            add(y_t - nxt, -np.inf, 0.0)
        row = sp.csr_matrix((np.ones(m), (np.zeros(m), t * m + np.arange(m))), shape=(1, total))
        if sites_per_phase is not None:
            add(row, -np.inf, float(rules.fixed.size + sum(sites_per_phase[: t + 1])))
        if budgets is not None:
            cost = np.asarray(rules.site_cost, dtype=float)
            spend = sp.csr_matrix((cost, (np.zeros(m), t * m + np.arange(m))), shape=(1, total))
            if t > 0:
                spend = spend - sp.csr_matrix(
                    (cost, (np.zeros(m), (t - 1) * m + np.arange(m))), shape=(1, total)
                )
            add(spend, -np.inf, float(budgets[t]))
        for rows, share in share_rows:  # served weight of the part >= share of its phase weight
            served = _served_row(rows, wr[t], s0, total, pair_row)
            add(served, share * float(wr[t][rows].sum()) * (1 - 1e-9), np.inf)
    for g in rules.groups:  # the group rules hold from the first phase (nesting keeps them)
        add(sp.csr_matrix((np.ones(g.candidates.size), (np.zeros(g.candidates.size), g.candidates)),
                          shape=(1, total)), float(g.min_sites), np.inf)  # fmt: skip
    c = np.zeros(total)
    for t in range(t_count):
        c[ny + t * width : ny + (t + 1) * width] = wr[t] if pair_row is None else wr[t][pair_row]
    col_lo, col_hi = np.zeros(total), np.ones(total)
    col_lo[rules.fixed] = 1.0  # phase 0 block; nesting carries them on
    for t in range(t_count):
        col_hi[t * m + rules.forbidden] = 0.0
    if open_by_phase is not None:
        col_lo[:ny] = col_hi[:ny] = open_by_phase.ravel().astype(float)
    integer = np.concatenate([np.ones(ny, dtype=bool), np.zeros(total - ny, dtype=bool)])
    return PhasedMip(m, t_count, width, pair_row, pair_site, c, sp.csr_matrix(sp.vstack(blocks)),
                     np.concatenate(lo), np.concatenate(hi), col_lo, col_hi, integer)  # fmt: skip


def _served_row(
    rows: NDArray[np.int64], w: NDArray[np.float64], s0: int, total: int, pair_row: NDArray[np.int64] | None
) -> sp.csr_matrix:
    """One row: the served weight of merged ``rows`` in a phase whose service columns start at ``s0``."""
    if pair_row is None:
        return sp.csr_matrix((w[rows], (np.zeros(rows.size), s0 + rows)), shape=(1, total))
    k = np.flatnonzero(np.isin(pair_row, rows))
    return sp.csr_matrix((w[pair_row[k]], (np.zeros(k.size), s0 + k)), shape=(1, total))
