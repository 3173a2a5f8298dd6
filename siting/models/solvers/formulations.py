"""MIP and LP formulations the models share: the p-median, the MCLP, and the capacitated transportation LP."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models._inputs import Neighbours
from siting.models._presolve import ReducedRows
from siting.models.base import SolveOptions
from siting.models.rules import SiteRules
from siting.models.solvers.highs import MipSolution, solve_mip

__all__ = ["MedianModel", "build_median_model", "solve_mclp_mip", "transportation_lp"]


@dataclass(frozen=True)
class MedianModel:
    """A built p-median MIP over columns ``[y (m) | other columns]``.

    Attributes
    ----------
    kind : {"radius", "assignment"}
        Which formulation.
    c, a, lo, hi, col_lo, col_hi, integer
        The arrays :func:`siting.models.solvers.highs.solve_mip` takes.
    constant : float
        Objective constant (radius formulation: ``sum_i w_i D_i^1``).
    nnz : int
        Non-zeros of the constraint matrix.
    """

    kind: str
    c: NDArray[np.float64]
    a: sp.csr_matrix
    lo: NDArray[np.float64]
    hi: NDArray[np.float64]
    col_lo: NDArray[np.float64]
    col_hi: NDArray[np.float64]
    integer: NDArray[np.bool_]
    constant: float
    nnz: int

    def solve(
        self, *, time_limit: float | None, mip_rel_gap: float, threads: int | None, seed: int
    ) -> MipSolution:
        """Run HiGHS; objective and bound include the constant."""
        sol = solve_mip(
            self.c, self.a, self.lo, self.hi, col_lower=self.col_lo, col_upper=self.col_hi,
            integer=self.integer, time_limit=time_limit, mip_rel_gap=mip_rel_gap, threads=threads, seed=seed,
        )  # fmt: skip
        return MipSolution(
            sol.status, sol.x, sol.objective + self.constant, sol.bound + self.constant, sol.seconds
        )


def _levels(nb: Neighbours) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Level (0-based rank of the distinct distance within its row) of each entry, and levels per row."""
    row = nb.row_of_entry
    new = np.ones(nb.vals.size, dtype=bool)
    new[1:] = (nb.vals[1:] != nb.vals[:-1]) | (row[1:] != row[:-1])
    cum = np.cumsum(new)
    level = cum - cum[nb.indptr[row]] if cum.size else cum
    n_levels = np.bincount(row, new, minlength=nb.n).astype(np.int64)
    return level.astype(np.int64), n_levels


def _top_level(
    nb: Neighbours,
    level: NDArray[np.int64],
    n_levels: NDArray[np.int64],
    must_open: NDArray[np.bool_],
    closable: int | None,
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Highest level each row needs, and whether the row still needs a 'reach some site' row.

    A row's distance never exceeds its nearest must-open site; and when at most
    ``closable`` allowed sites stay closed, any ``closable + 1`` of them hold an open one.
    """
    row = nb.row_of_entry
    top = n_levels - 1
    need_reach = np.ones(nb.n, dtype=bool)
    hit = must_open[nb.cols]
    if hit.any():
        r = row[hit]
        first = np.ones(r.size, dtype=bool)
        first[1:] = r[1:] != r[:-1]
        top[r[first]] = np.minimum(top[r[first]], level[hit][first])
        need_reach[r[first]] = False
    if closable is not None:
        rank = np.arange(nb.vals.size) - nb.indptr[row]
        enough = rank >= closable  # the (closable + 1)-th nearest site
        if enough.any():
            r = row[enough]
            first = np.ones(r.size, dtype=bool)
            first[1:] = r[1:] != r[:-1]
            top[r[first]] = np.minimum(top[r[first]], level[enough][first])
            need_reach[r[first]] = False
    return np.maximum(top, 0), need_reach


def _radius(nb: Neighbours, w: NDArray[np.float64], top: NDArray[np.int64], need_reach: NDArray[np.bool_],
            level: NDArray[np.int64]) -> tuple[sp.csr_matrix, NDArray[np.float64], float, int]:  # fmt: skip
    """Rows ``z_ik + sum_{d_ij <= D_i^k} y_j >= 1`` for ``k < top_i`` (+ reach rows); z costs."""
    row = nb.row_of_entry
    first_val = np.zeros(nb.n)
    has = nb.row_lengths() > 0
    first_val[has] = nb.vals[nb.indptr[:-1][has]]
    constant = float(w @ first_val)
    n_z = int(top.sum())
    z_base = np.cumsum(top) - top
    # distinct level values per row, to price z_ik = D^{k+1} - D^k
    new = np.ones(nb.vals.size, dtype=bool)
    new[1:] = (nb.vals[1:] != nb.vals[:-1]) | (row[1:] != row[:-1])
    lv_row, lv_level, lv_val = row[new], level[new], nb.vals[new]
    keep = lv_level >= 1
    keep &= lv_level <= top[lv_row]
    z_cost = np.zeros(n_z)
    idx = z_base[lv_row[keep]] + lv_level[keep] - 1
    lv_prev = np.empty_like(lv_val)
    lv_prev[1:] = lv_val[:-1]
    z_cost[idx] = w[lv_row[keep]] * (lv_val[keep] - lv_prev[keep])
    # y coefficients: entry at level l sits in rows l..top-1
    count = np.maximum(top[row] - level, 0)
    total = int(count.sum())
    ent = np.repeat(np.arange(nb.vals.size), count)
    offs = np.arange(total) - np.repeat(np.cumsum(count) - count, count)
    y_rows = z_base[row[ent]] + level[ent] + offs
    y_cols = nb.cols[ent]
    reach_rows_i = np.flatnonzero(need_reach)
    reach_id = n_z + np.arange(reach_rows_i.size)
    in_reach = need_reach[row]
    rows_all = np.concatenate([y_rows, np.arange(n_z), reach_id.repeat(nb.row_lengths()[reach_rows_i])])
    cols_all = np.concatenate([y_cols, nb.m + np.arange(n_z), nb.cols[in_reach]])
    a = sp.csr_matrix(
        (np.ones(rows_all.size), (rows_all, cols_all)), shape=(n_z + reach_rows_i.size, nb.m + n_z)
    )
    return a, z_cost, constant, int(rows_all.size)


def build_median_model(
    nb: Neighbours,
    w: NDArray[np.float64],
    rules: SiteRules,
    *,
    p: int | None,
    p_exact: bool,
    y_lower: NDArray[np.float64],
    y_upper: NDArray[np.float64],
    force: str | None = None,
) -> MedianModel:
    """Build the smaller of the radius and assignment formulations (by non-zeros).

    ``nb`` must already omit sites with ``y_upper == 0``; ``y_lower == 1`` marks
    sites that must open (fixed, or fixed by reduced costs).
    """
    must_open = y_lower > 0.5
    n_allowed = int((y_upper > 0.5).sum())
    closable = n_allowed - p if (p is not None and p_exact) else None
    level, n_levels = _levels(nb)
    top, need_reach = _top_level(nb, level, n_levels, must_open, closable)
    row = nb.row_of_entry
    radius_nnz = int(np.maximum(top[row] - level, 0).sum() + top.sum() + nb.row_lengths()[need_reach].sum())
    keep = level <= top[row]
    assign_nnz = 3 * int(keep.sum())
    kind = force or ("radius" if radius_nnz <= assign_nnz else "assignment")
    site_a, site_lo, site_hi = rules.constraint_rows(p=p, p_exact=p_exact)
    if kind == "radius":
        a, other_cost, constant, nnz = _radius(nb, w, top, need_reach, level)
        lo_rows, hi_rows = np.ones(a.shape[0]), np.full(a.shape[0], np.inf)
        n_other = a.shape[1] - nb.m
        other_hi = np.full(n_other, np.inf)
    else:
        ent = np.flatnonzero(keep)
        k = ent.size
        r, j = row[ent], nb.cols[ent]
        assign = sp.csr_matrix((np.ones(k), (r, nb.m + np.arange(k))), shape=(nb.n, nb.m + k))
        link = sp.csr_matrix(
            (
                np.concatenate([np.ones(k), -np.ones(k)]),
                (np.tile(np.arange(k), 2), np.concatenate([nb.m + np.arange(k), j])),
            ),
            shape=(k, nb.m + k),
        )
        a = sp.vstack([assign, link], format="csr")
        lo_rows = np.concatenate([np.ones(nb.n), np.full(k, -np.inf)])
        hi_rows = np.concatenate([np.ones(nb.n), np.zeros(k)])
        other_cost, constant, nnz, n_other = w[r] * nb.vals[ent], 0.0, 3 * k, k
        other_hi = np.ones(k)
    n_cols = nb.m + n_other
    full_site = sp.hstack([site_a, sp.csr_matrix((site_a.shape[0], n_other))], format="csr")
    return MedianModel(
        kind=kind,
        c=np.concatenate([np.zeros(nb.m), other_cost]),
        a=sp.vstack([a, full_site], format="csr"),
        lo=np.concatenate([lo_rows, site_lo]),
        hi=np.concatenate([hi_rows, site_hi]),
        col_lo=np.concatenate([y_lower, np.zeros(n_other)]),
        col_hi=np.concatenate([y_upper, other_hi]),
        integer=np.arange(n_cols) < nb.m,
        constant=constant,
        nnz=nnz,
    )


def solve_mclp_mip(
    reduced: ReducedRows,
    rules: SiteRules,
    p: int | None,
    opts: SolveOptions,
    *,
    time_limit: float | None = None,
) -> MipSolution:
    """Solve ``max w @ z`` s.t. ``z_r <= sum_j a_rj y_j``, site rules; columns ``[y, z]``.

    ``reduced`` holds the merged rows (see :func:`reduce_rows`); ``reduced.constant``
    is not added to the objective or bound. ``time_limit`` (seconds) replaces the
    options' own limit when given.
    """
    m = reduced.matrix
    n_rows, n = m.shape
    rule_a, rule_lo, rule_hi = rules.constraint_rows(p=p, p_exact=False)
    cover = sp.hstack([-m, sp.identity(n_rows, format="csr")], format="csr")
    rules_part = sp.hstack([rule_a, sp.csr_matrix((rule_a.shape[0], n_rows))], format="csr")
    lo_y, hi_y = rules.column_bounds()
    return solve_mip(
        np.concatenate([np.zeros(n), reduced.weights]),
        sp.vstack([cover, rules_part], format="csc"),
        np.concatenate([np.full(n_rows, -np.inf), rule_lo]),
        np.concatenate([np.zeros(n_rows), rule_hi]),
        col_lower=np.concatenate([lo_y, np.zeros(n_rows)]),
        col_upper=np.concatenate([hi_y, np.ones(n_rows)]),
        integer=np.concatenate([np.ones(n, dtype=bool), np.zeros(n_rows, dtype=bool)]),
        sense="max",
        time_limit=opts.time_limit if time_limit is None else time_limit,
        mip_rel_gap=opts.mip_gap,
        threads=opts.threads,
        seed=opts.seed,
    )


def transportation_lp(
    rows: NDArray[np.int64],
    sites: NDArray[np.int64],
    weight: NDArray[np.float64],
    capacity: NDArray[np.float64],
    *,
    n_demand: int,
    unit_cost: NDArray[np.float64] | None = None,
    min_served: float | None = None,
    integer: bool = False,
    time_limit: float | None = None,
) -> MipSolution:
    """Assign demand to open sites within their capacities: one column ``x_k`` per allowed pair ``k``.

    Pair ``k`` joins demand row ``rows[k]`` (weight ``weight[k]``) to open site ``sites[k]``
    (an index into ``capacity``)::

        sum_{k: rows[k] = i} x_k <= 1                   every demand row i
        sum_{k: sites[k] = j} weight[k] x_k <= cap_j    every open site j
        0 <= x_k <= 1                                    (binary with ``integer``)

    Without ``unit_cost`` it maximises the served weight ``sum_k weight[k] x_k``; with it, it
    minimises ``sum_k weight[k] unit_cost[k] x_k`` while serving at least ``min_served``.

    Parameters
    ----------
    rows, sites : ndarray of int, shape (k,)
        The pairs: demand row (``0..n_demand-1``) and open site (``0..len(capacity)-1``).
    weight : ndarray of float, shape (k,)
        Demand weight of each pair's row.
    capacity : ndarray of float, shape (n_open,)
        Weight each open site can serve.
    n_demand : int
        Number of demand rows.
    unit_cost : ndarray of float, shape (k,), optional
        Cost per unit of weight of each pair (e.g. walking metres).
    min_served : float, optional
        With ``unit_cost``: the least total weight served.
    integer : bool
        Serve each demand row wholly from one site (a generalised assignment MIP).
    time_limit : float, optional
        Seconds for HiGHS.
    """
    k = rows.size
    blocks = [
        sp.csr_matrix((np.ones(k), (rows, np.arange(k))), shape=(n_demand, k)),
        sp.csr_matrix((weight, (sites, np.arange(k))), shape=(capacity.size, k)),
    ]
    lower = [np.full(n_demand + capacity.size, -np.inf)]
    upper = [np.ones(n_demand), capacity]
    if unit_cost is not None:
        blocks.append(sp.csr_matrix(weight.reshape(1, -1)))
        lower.append(np.array([min_served if min_served is not None else -np.inf]))
        upper.append(np.array([np.inf]))
    return solve_mip(
        weight if unit_cost is None else weight * unit_cost,
        sp.vstack(blocks, format="csc"),
        np.concatenate(lower),
        np.concatenate(upper),
        col_lower=np.zeros(k),
        col_upper=np.ones(k),
        sense="max" if unit_cost is None else "min",
        integer=np.ones(k, dtype=bool) if integer else None,
        time_limit=time_limit,
    )
