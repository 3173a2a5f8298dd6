"""What the median and center models share: input checks, prechecks, the Lagrangian bound, results."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from siting.errors import InputError, Problem, raise_if_problems
from siting.models._inputs import Neighbours, check_cost, check_p, check_weights, unreachable_rows
from siting.models._results import evaluation, selection_indices
from siting.models.base import SolveResult, frozen_array, relative_gap, rows_text
from siting.models.rules import Group, SiteRules
from siting.models.solvers.lagrangian import LagrangianBound, lagrangian_bound

__all__ = [
    "CostInput",
    "Objective",
    "cost_input",
    "evaluate_nearest",
    "infeasible_result",
    "lower_bound",
    "median_result",
    "n_open",
    "precheck",
]

#: ``objective(dist, weights)`` of the assigned demand: a weighted sum, a maximum ...
Objective = Callable[[NDArray[np.float64], NDArray[np.float64]], float]
GroupsArg = Mapping[str, Sequence[int] | ArrayLike] | Sequence[Group] | None


@dataclass(frozen=True)
class CostInput:
    """A validated cost matrix with its weights, ``p`` and site rules."""

    cost: sp.csr_matrix
    weights: NDArray[np.float64]
    p: int | None
    rules: SiteRules


def cost_input(
    cost: ArrayLike | sp.spmatrix | sp.sparray,
    *,
    p: int | None,
    weights: ArrayLike | None,
    fixed: Sequence[int] | ArrayLike | None,
    forbidden: Sequence[int] | ArrayLike | None,
    site_cost: ArrayLike | None,
    budget: float | None,
    groups: GroupsArg,
    min_per_group: int,
    title: str,
    weights_name: str = "weights",
    extra: Callable[[list[Problem], int | None], Any] | None = None,
) -> tuple[CostInput, Any]:
    """Validate what a median or center model's ``from_cost_matrix`` takes, raising once for all problems.

    ``extra(problems, n_candidates)`` checks a model-specific argument and returns it (second
    item of the result).
    """
    problems: list[Problem] = []
    csr = check_cost(problems, cost)
    shape = csr.shape if csr is not None else tuple(getattr(cost, "shape", np.shape(cost)))
    known = len(shape) == 2
    n, m = (int(shape[0]), int(shape[1])) if known else (0, 0)
    w = check_weights(problems, weights, n, where=weights_name) if known else np.ones(0)
    p_int = check_p(problems, p, m, budget=budget) if known else None
    value = extra(problems, m if known else None) if extra is not None else None
    rules: SiteRules | None = None
    try:
        if known:
            rules = SiteRules.build(
                m, fixed=fixed, forbidden=forbidden, site_cost=site_cost, budget=budget,
                groups=groups, min_per_group=min_per_group,
            )  # fmt: skip
    except InputError as exc:
        problems.extend(exc.problems)
    raise_if_problems(problems, title=title)
    assert csr is not None
    assert rules is not None
    return CostInput(csr, frozen_array(w), p_int, rules), value


def n_open(rules: SiteRules, p: int | None) -> int:
    """Sites a Lagrangian inner problem opens: ``p``, or the most the budget buys."""
    if p is not None:
        return p
    costs = rules.site_cost if rules.site_cost is not None else np.zeros(rules.n_candidates)
    fixed = np.zeros(rules.n_candidates, dtype=bool)
    fixed[rules.fixed] = True
    rest = np.sort(costs[rules.allowed & ~fixed])
    left = (rules.budget or 0.0) - float(costs[fixed].sum()) + 1e-9
    return int(fixed.sum()) + int(np.searchsorted(np.cumsum(rest), left, side="right"))


def precheck(nb: Neighbours, rules: SiteRules, p: int | None, *, p_exact: bool) -> str:
    """Why no selection can work (empty when the site rules and the reachable pairs allow one)."""
    reason = rules.infeasibility(p)
    if p is not None and int(rules.allowed.sum()) < p and p_exact:
        reason = "; ".join(
            filter(None, [reason, f"p = {p} but only {int(rules.allowed.sum())} allowed candidates"])
        )
    bad = unreachable_rows(nb)
    if bad.size:
        text = f"demand rows {rows_text(bad)} reach no allowed candidate within the cost cutoff"
        reason = "; ".join(filter(None, [reason, text]))
    return reason


def lower_bound(
    nb: Neighbours,
    weights: NDArray[np.float64],
    rules: SiteRules,
    p: int | None,
    *,
    p_exact: bool,
    incumbent: NDArray[np.int64],
    upper: float,
    deadline: float,
) -> LagrangianBound:
    """Bound the (uncapacitated) p-median from below by Lagrangian relaxation, from an incumbent's costs."""
    open_mask = np.zeros(nb.m, dtype=bool)
    open_mask[incumbent] = True
    _, dist = nb.assign(open_mask)
    fixed = np.zeros(nb.m, dtype=bool)
    fixed[rules.fixed] = True
    start = weights * np.where(np.isfinite(dist), dist, 0.0)
    return lagrangian_bound(
        nb, weights, allowed=rules.allowed, fixed=fixed, n_open=n_open(rules, p), exact=p_exact,
        upper=upper, start=start, deadline=deadline, patience=20 if nb.n <= 10_000 else 5,
    )  # fmt: skip


def median_result(
    model: str,
    nb: Neighbours,
    weights: NDArray[np.float64],
    selected: NDArray[np.int64],
    bound: float,
    *,
    objective_of: Objective,
    status: Any,
    start: float,
    solver: str,
    method: Any,
) -> SolveResult:
    """Build the result of assigning every demand to its nearest open site (``objective_of`` scores it)."""
    open_mask = np.zeros(nb.m, dtype=bool)
    open_mask[selected] = True
    assign, dist = nb.assign(open_mask)
    reached = assign >= 0
    objective = objective_of(dist[reached], weights[reached])
    bound = min(float(bound), objective)
    gap = relative_gap(objective, bound)
    if status == "optimal" and gap > 1e-6:
        status = "feasible"
    total = float(weights.sum())
    return SolveResult(
        model=model,
        status=status,
        objective=objective,
        bound=bound,
        gap=gap,
        selected=frozen_array(np.sort(selected).astype(np.int64)),
        assignment=frozen_array(assign),
        load=frozen_array(np.bincount(assign[reached], weights[reached], minlength=nb.m)),
        covered_weight=float(weights[reached].sum()),
        total_weight=total,
        solve_seconds=time.perf_counter() - start,
        solver=solver,
        method=method,
        extra={
            "mean_cost": float(weights[reached] @ dist[reached]) / total if total > 0 else 0.0,
            "max_cost": float(dist[reached].max()) if reached.any() else 0.0,
        },
    )


def infeasible_result(
    model: str, cost: sp.csr_matrix, weights: NDArray[np.float64], reason: str, *, start: float, method: Any
) -> SolveResult:
    """Build the result of a model no selection can satisfy; ``reason`` names the rule or the demand rows."""
    return SolveResult.infeasible(
        model=model, reason=reason, n_demand=cost.shape[0], n_candidates=cost.shape[1],
        total_weight=float(weights.sum()), solve_seconds=time.perf_counter() - start,
        solver="precheck" if method else "", method=method,
    )  # fmt: skip


def evaluate_nearest(
    model: str,
    cost: sp.csr_matrix,
    weights: NDArray[np.float64],
    rules: SiteRules,
    *,
    p: int | None,
    selected: ArrayLike,
    objective_of: Objective,
) -> SolveResult:
    """Score given open sites, each demand served by its nearest one (the ``evaluate`` of the models).

    ``status`` is ``feasible`` when every demand row reaches an open site and the site rules
    hold (``bound`` and ``gap`` NaN), else ``infeasible`` with the reason.
    """
    start = time.perf_counter()
    sel = selection_indices(selected, rules.n_candidates)
    result = median_result(
        model, Neighbours.build(cost), weights, sel, np.inf, objective_of=objective_of, status="feasible",
        start=start, solver="evaluate", method="exact",
    )  # fmt: skip
    return evaluation(result, rules, p=p, unserved="reach no open site")
