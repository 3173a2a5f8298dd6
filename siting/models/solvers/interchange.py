"""Fast interchange for the p-median: greedy / GRASP start, then swap local search.

The swap evaluation follows Whitaker's fast interchange as implemented by
Resende & Werneck (2007, "A fast swap-based local search procedure for
location problems"): for each demand ``i`` keep its closest open site
``c1(i)`` at cost ``d1(i)`` and the second closest ``c2(i)`` at ``d2(i)``; then

* ``gain[j] = sum_i w_i max(0, d1(i) - d_ij)`` (saving of opening ``j``),
* ``loss[f] = sum_{i: c1(i)=f} w_i (d2(i) - d1(i))`` (cost of closing ``f``),
* ``extra[f, j] = sum_{i: c1(i)=f, d_ij < d2(i)} w_i (d2(i) - max(d_ij, d1(i)))``,

and the saving of swapping ``f`` out for ``j`` is ``gain[j] - loss[f] + extra[f, j]``.
After a swap only the demands whose ``c1`` or ``c2`` changed are re-scored,
touching only the prefix of each demand's sorted neighbour list up to ``c2``.
Unreachable pairs cost a large penalty ``M`` so that a selection reaching every
demand is always preferred.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models._inputs import Neighbours
from siting.models.rules import SiteRules

__all__ = ["InterchangeResult", "interchange"]

_CHUNK = 4_000_000  # entries gathered at once when scanning whole rows
_REFRESH = 200  # moves between full recomputations (bounds float drift)


@dataclass(frozen=True)
class InterchangeResult:
    """Best selection found by :func:`interchange`.

    Attributes
    ----------
    selected : ndarray of int
        Sorted open candidates.
    objective : float
        Weighted cost of the selection (``inf`` when some demand is unreached).
    unreached : int
        Demand rows (with weight > 0) that no open site reaches.
    moves : int
        Improving moves made over all starts.
    starts : int
        Starts run (greedy first, then GRASP).
    timed_out : bool
        Whether the deadline stopped the search.
    """

    selected: NDArray[np.int64]
    objective: float
    unreached: int
    moves: int
    starts: int
    timed_out: bool


def _ranges(starts: NDArray[np.int64], ends: NDArray[np.int64]) -> tuple[NDArray, NDArray]:
    lengths = np.maximum(ends - starts, 0)
    total = int(lengths.sum())
    which = np.repeat(np.arange(starts.size), lengths)
    offsets = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return starts[which] + offsets, which


class _Search:
    """Mutable state of one interchange run (closest / second closest and the move tables)."""

    def __init__(self, nb: Neighbours, w: NDArray[np.float64], rules: SiteRules, cap: int) -> None:
        self.nb, self.w, self.rules = nb, w, rules
        finite_max = float(nb.vals.max()) if nb.vals.size else 1.0
        wpos = w[w > 0]
        ratio = float(w.sum() / wpos.min()) if wpos.size else 1.0
        self.big = min((finite_max + 1.0) * (ratio + 1.0) * 2.0, 1e13)
        n, m = nb.n, nb.m
        self.open = np.zeros(m, dtype=bool)
        self.slot = np.full(m, -1, dtype=np.int64)
        self.free_slots = list(range(cap - 1, -1, -1))
        self.cap = cap
        self.c1 = np.full(n, -1, dtype=np.int64)
        self.c2 = np.full(n, -1, dtype=np.int64)
        self.d1 = np.full(n, self.big)
        self.d2 = np.full(n, self.big)
        self.end2 = nb.indptr[1:].copy()
        self.gain = np.zeros(m)
        self.loss = np.zeros(m)
        self.extra = np.zeros((cap, m))
        self.moves = 0

    # -- bookkeeping -------------------------------------------------------
    def open_sites(self, sites: NDArray[np.int64]) -> None:
        for j in sites:
            self.open[j] = True
            self.slot[j] = self.free_slots.pop()
        self.refresh()

    def refresh(self) -> None:
        self.gain[:] = 0.0
        self.loss[:] = 0.0
        self.extra[:] = 0.0
        rows = np.arange(self.nb.n)
        self._top2(rows)
        self._scatter(rows, 1.0)

    def _top2(self, rows: NDArray[np.int64]) -> None:
        nb = self.nb
        lengths = nb.indptr[rows + 1] - nb.indptr[rows]
        bounds = np.searchsorted(np.cumsum(lengths), np.arange(_CHUNK, int(lengths.sum()), _CHUNK))
        for part in np.split(rows, bounds):
            if part.size:
                self._top2_part(part)

    def _top2_part(self, rows: NDArray[np.int64]) -> None:
        nb = self.nb
        pos, which = _ranges(nb.indptr[rows], nb.indptr[rows + 1])
        ok = self.open[nb.cols[pos]]
        pos, which = pos[ok], which[ok]
        first = np.ones(which.size, dtype=bool)
        first[1:] = which[1:] != which[:-1]
        second = np.zeros(which.size, dtype=bool)
        second[1:] = first[:-1] & ~first[1:]
        self.c1[rows], self.d1[rows] = -1, self.big
        self.c2[rows], self.d2[rows] = -1, self.big
        self.end2[rows] = nb.indptr[rows + 1]
        r1, r2 = rows[which[first]], rows[which[second]]
        self.c1[r1], self.d1[r1] = nb.cols[pos[first]], nb.vals[pos[first]]
        self.c2[r2], self.d2[r2] = nb.cols[pos[second]], nb.vals[pos[second]]
        self.end2[r2] = pos[second]

    def _scatter(self, rows: NDArray[np.int64], sign: float) -> None:
        nb, m = self.nb, self.nb.m
        pos, which = _ranges(nb.indptr[rows], self.end2[rows])
        r = rows[which]
        dist = nb.vals[pos]
        cand = nb.cols[pos]
        wr = self.w[r]
        d1 = self.d1[r]
        self.gain += sign * np.bincount(cand, wr * np.maximum(0.0, d1 - dist), minlength=m)
        has1 = self.c1[r] >= 0
        if not has1.any():
            return
        c1 = self.c1[r[has1]]
        vals = wr[has1] * (self.d2[r[has1]] - np.maximum(dist[has1], d1[has1]))
        flat = self.slot[c1] * m + cand[has1]
        if flat.size > self.extra.size // 8:
            self.extra += sign * np.bincount(flat, vals, minlength=self.extra.size).reshape(self.extra.shape)
        else:
            np.add.at(self.extra.reshape(-1), flat, sign * vals)
        ok = self.c1[rows] >= 0
        rr = rows[ok]
        self.loss += sign * np.bincount(self.c1[rr], self.w[rr] * (self.d2[rr] - self.d1[rr]), minlength=m)

    def _column_rows(self, j: int, against: NDArray[np.float64]) -> NDArray[np.int64]:
        nb = self.nb
        lo, hi = nb.col_indptr[j], nb.col_indptr[j + 1]
        rows = nb.col_rows[lo:hi]
        return rows[nb.col_vals[lo:hi] < against[rows]]

    def swap(self, out: int, into: int) -> None:
        """Close ``out`` and open ``into``, re-scoring only the demands affected."""
        near = np.flatnonzero((self.c1 == out) | (self.c2 == out))
        rows = np.union1d(near, self._column_rows(into, self.d2))
        self._scatter(rows, -1.0)
        slot = int(self.slot[out])
        self.extra[slot] = 0.0
        self.open[out], self.slot[out] = False, -1
        self.open[into], self.slot[into] = True, slot
        self._top2(rows)
        self._scatter(rows, 1.0)
        self._count()

    def add(self, into: int) -> None:
        """Open ``into``."""
        rows = self._column_rows(into, self.d2)
        self._scatter(rows, -1.0)
        self.open[into], self.slot[into] = True, self.free_slots.pop()
        self._top2(rows)
        self._scatter(rows, 1.0)
        self._count()

    def _count(self) -> None:
        self.moves += 1
        if self.moves % _REFRESH == 0:
            self.refresh()

    def objective(self) -> tuple[float, int]:
        """Return the true weighted cost (``inf`` when a weighted demand is unreached) and the unreached count."""
        unreached = int(((self.c1 < 0) & (self.w > 0)).sum())
        if unreached:
            return float("inf"), unreached
        return float(self.w @ np.where(self.c1 >= 0, self.d1, 0.0)), 0


@dataclass
class _Limits:
    p: int | None
    p_exact: bool
    cost: NDArray[np.float64]
    budget: float
    allowed: NDArray[np.bool_]
    fixed: NDArray[np.bool_]
    members: sp.csr_matrix  # groups x candidates
    mins: NDArray[np.int64]
    deadline: float

    @classmethod
    def build(cls, rules: SiteRules, p: int | None, p_exact: bool, deadline: float) -> _Limits:
        m = rules.n_candidates
        fixed = np.zeros(m, dtype=bool)
        fixed[rules.fixed] = True
        cost = rules.site_cost if rules.site_cost is not None else np.zeros(m)
        budget = rules.budget if rules.budget is not None else np.inf
        rows = [np.full(g.candidates.size, k) for k, g in enumerate(rules.groups)]
        cols = [g.candidates for g in rules.groups]
        ng = len(rules.groups)
        members = sp.csr_matrix(
            (np.ones(sum(c.size for c in cols)), (np.concatenate([*rows, []]), np.concatenate([*cols, []]))),
            shape=(ng, m),
        )
        mins = np.asarray([g.min_sites for g in rules.groups], dtype=np.int64)
        return cls(
            p, p_exact, np.asarray(cost, float), float(budget), rules.allowed, fixed, members, mins, deadline
        )

    def max_open(self) -> int:
        """Most sites any selection can open."""
        k = int(self.allowed.sum())
        if self.p is not None:
            k = min(k, self.p)
        if np.isfinite(self.budget):
            fixed_cost = float(self.cost[self.fixed].sum())
            rest = np.sort(self.cost[self.allowed & ~self.fixed])
            k = min(
                k,
                int(self.fixed.sum())
                + int(np.searchsorted(np.cumsum(rest), self.budget - fixed_cost + 1e-9, "right")),
            )
        return max(k, int(self.fixed.sum()), 1)

    def timed_out(self) -> bool:
        return time.perf_counter() > self.deadline


def _greedy(search: _Search, lim: _Limits, rng: np.random.Generator | None) -> bool:
    """Open fixed sites, then satisfy groups, then add sites; ``False`` if a rule cannot be met."""
    search.open_sites(np.flatnonzero(lim.fixed))
    budget_left = lim.budget - float(lim.cost[lim.fixed].sum())
    while True:
        count = int(search.open.sum())
        counts = np.asarray(lim.members @ search.open.astype(float)).ravel()
        short = counts < lim.mins
        eligible = ~search.open & lim.allowed & (lim.cost <= budget_left + 1e-9)
        if short.any():
            eligible &= np.asarray(lim.members[short].sum(axis=0)).ravel() > 0
            if lim.p is not None and count >= lim.p:
                return False
        elif lim.p is not None and count >= lim.p:
            return True
        score = search.gain / (lim.cost + 1e-12) if np.isfinite(lim.budget) else search.gain.copy()
        if not short.any() and not (lim.p is not None and lim.p_exact):
            eligible &= search.gain > 0
        if not eligible.any():
            return not short.any() and not (lim.p is not None and lim.p_exact)
        idx = np.flatnonzero(eligible)
        if rng is not None and idx.size > 1:
            top = idx[np.argsort(-score[idx], kind="stable")[: max(2, idx.size // 20)]]
            j = int(top[rng.integers(top.size)])
        else:
            j = int(idx[np.argmax(score[idx])])
        budget_left -= float(lim.cost[j])
        search.add(j)


def _swap_ok(search: _Search, lim: _Limits, outs: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Which (out, into) swaps keep the budget and group rules, shape (len(outs), m)."""
    ok = np.broadcast_to(~search.open & lim.allowed, (outs.size, search.nb.m)).copy()
    ok[lim.fixed[outs]] = False
    if np.isfinite(lim.budget):
        spent = float(lim.cost[search.open].sum())
        ok &= spent - lim.cost[outs][:, None] + lim.cost[None, :] <= lim.budget + 1e-9
    if lim.mins.size:
        counts = np.asarray(lim.members @ search.open.astype(float)).ravel()
        tight = sp.diags((counts <= lim.mins).astype(float))
        t_f = (tight @ lim.members[:, outs]).tocsc()  # groups x outs, tight groups holding each out
        need = np.asarray(t_f.sum(axis=0)).ravel()
        rows = np.flatnonzero(need > 0)
        if rows.size:
            have = (t_f[:, rows].T @ lim.members).toarray()
            ok[rows] &= have >= need[rows][:, None]
    return ok


def _local_search(search: _Search, lim: _Limits, max_moves: int) -> bool:
    """Best-improvement swaps (and additions when allowed) until no move saves; ``True`` on timeout."""
    for _ in range(max_moves):
        if lim.timed_out():
            return True
        obj_scale = float(search.w @ np.minimum(search.d1, search.big))
        tol = 1e-9 * max(obj_scale, 1.0)
        count = int(search.open.sum())
        can_add = (lim.p is None or count < lim.p) and count < search.cap
        if can_add:
            spent = float(lim.cost[search.open].sum())
            add_ok = ~search.open & lim.allowed & (spent + lim.cost <= lim.budget + 1e-9)
            if add_ok.any():
                j = int(np.argmax(np.where(add_ok, search.gain, -np.inf)))
                if search.gain[j] > tol:
                    search.add(j)
                    continue
        outs = np.flatnonzero(search.open)
        profit = search.gain[None, :] - search.loss[outs][:, None] + search.extra[search.slot[outs]]
        profit[~_swap_ok(search, lim, outs)] = -np.inf
        k = int(np.argmax(profit))
        f, j = divmod(k, search.nb.m)
        if not profit[f, j] > tol:
            return False
        search.swap(int(outs[f]), j)
    return False


def interchange(
    nb: Neighbours,
    weights: NDArray[np.float64],
    rules: SiteRules,
    *,
    p: int | None,
    p_exact: bool = True,
    seed: int = 0,
    n_starts: int = 1,
    deadline: float = np.inf,
    max_moves: int = 100_000,
    initial: NDArray[np.int64] | None = None,
) -> InterchangeResult | None:
    """Greedy (then GRASP) starts improved by fast swap interchange; the best selection found.

    Parameters
    ----------
    nb : Neighbours
        Sorted neighbour lists of the cost matrix (forbidden sites already dropped).
    weights : ndarray of float, shape (n_demand,)
        Demand weights.
    rules : SiteRules
        Fixed / forbidden sites, budget and group rules; every move keeps them.
    p : int or None
        Number of sites (``None``: limited by the budget only).
    p_exact : bool
        Open exactly ``p`` sites (else at most ``p``).
    seed : int
        Seed of the GRASP starts (start 0 is the plain greedy); deterministic.
    n_starts : int
        Number of starts.
    deadline : float
        ``time.perf_counter()`` value at which to stop and return the best so far.
    max_moves : int
        Most moves per start.
    initial : ndarray of int, optional
        A first selection to improve (e.g. from the Lagrangian relaxation), run
        before the greedy starts when it meets the site rules.

    Returns
    -------
    InterchangeResult or None
        ``None`` when no start could satisfy the site rules.
    """
    lim = _Limits.build(rules, p, p_exact, deadline)
    cap = lim.max_open()
    rng = np.random.default_rng(seed)
    best: tuple[float, int, NDArray[np.int64]] | None = None
    moves, starts, timed_out = 0, 0, False
    first = (
        initial if initial is not None and rules.satisfied_by(initial, p=p) and initial.size <= cap else None
    )
    for start in range(max(1, n_starts)):
        search = _Search(nb, weights, rules, cap)
        if start == 0 and first is not None:
            search.open_sites(np.unique(first))
        elif not _greedy(search, lim, None if start == 0 else rng):
            continue
        timed_out = _local_search(search, lim, max_moves)
        search.refresh()
        obj, unreached = search.objective()
        starts += 1
        moves += search.moves
        if best is None or (unreached, obj) < (best[1], best[0]):
            best = (obj, unreached, np.flatnonzero(search.open))
        if timed_out:
            break
    if best is None:
        return None
    return InterchangeResult(best[2].astype(np.int64), best[0], best[1], moves, starts, timed_out)
