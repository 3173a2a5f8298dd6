"""Building the frozen :class:`~siting.models.base.SolveResult` of a selection, for solves and evaluations."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from siting.errors import InputError, Problem
from siting.models._inputs import CoverageData
from siting.models.base import SolveResult, Status, frozen_array, relative_gap, rows_text
from siting.models.rules import SiteRules, as_index_array

__all__ = ["assign_first_cover", "coverage_infeasible", "coverage_result", "evaluation", "selection_indices"]


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


def selection_indices(selected: ArrayLike, n_candidates: int) -> NDArray[np.int64]:
    """Validate the sites given to ``evaluate``: integers in ``0..n_candidates-1``, sorted and unique.

    Raises
    ------
    InputError
        Naming ``selected`` and the indices out of range.
    """
    try:
        return as_index_array(np.asarray(selected).ravel(), where="selected", n=n_candidates)
    except InputError:
        raise
    except (TypeError, ValueError) as exc:
        raise InputError(
            Problem("selected", f"cannot be read as candidate indices ({exc})", "pass column positions")
        ) from None


def evaluation(
    result: SolveResult, rules: SiteRules, *, p: int | None, unserved: str | None = None
) -> SolveResult:
    """Mark a result built by ``evaluate`` as such: no bound is proven; broken rules make it infeasible.

    ``bound`` and ``gap`` become NaN and ``solver`` ``"evaluate"``; ``status`` is ``feasible``
    when the selection keeps every site rule (at most ``p`` sites, fixed open, forbidden
    closed, budget, groups) and, with ``unserved`` (how to say it, e.g. ``"are not covered"``),
    serves every demand row; else ``infeasible`` with the broken rules in ``reason`` (the figures
    stay those of the selection).
    """
    broken = rules.violations(result.selected, p=p)
    rows = np.flatnonzero(np.asarray(result.assignment) < 0)
    if unserved is not None and rows.size:
        broken.append(f"demand rows {rows_text(rows)} {unserved}")
    return replace(
        result,
        status="infeasible" if broken else "feasible",
        bound=float("nan"),
        gap=float("nan"),
        solver="evaluate",
        method="exact",
        reason="; ".join(broken),
    )


def coverage_infeasible(
    model: str,
    data: CoverageData,
    reason: str,
    *,
    started: float,
    solver: str,
    method: Literal["exact", "heuristic"],
) -> SolveResult:
    """Build the result of a coverage model that found (or has) no solution; ``reason`` says why."""
    return SolveResult.infeasible(
        model=model,
        reason=reason,
        n_demand=data.n_demand,
        n_candidates=data.n_candidates,
        total_weight=data.total_weight,
        solve_seconds=time.perf_counter() - started,
        solver=solver,
        method=method,
    )
