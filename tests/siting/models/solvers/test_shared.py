"""The solvers the models share, checked on their own against independent answers.

The subgradient driver against a dual whose optimum is known and against scipy's LP optimum;
the reduced-cost-fixing helper against brute force over every choice of sites; the
transportation LP against scipy's ``linprog``.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog

from siting.models._inputs import CoverageData
from siting.models.rules import RuleState, SiteRules
from siting.models.solvers.fixing import forced_bounds
from siting.models.solvers.formulations import transportation_lp
from siting.models.solvers.lagrangian import Relaxation, StepRule, SubgradientState, subgradient
from siting.models.solvers.lagrangian_cover import CoverLagrangian, lagrangian_setcover_bound


class _Toy(Relaxation):
    """The dual of ``min x  s.t.  x >= 1, 0 <= x <= 2``: ``L(l) = l + min(0, 2 (1 - l))``, maximum 1 at l = 1."""

    def value(self, lam: np.ndarray) -> float:
        self.x = 2.0 if 1.0 - lam[0] < 0 else 0.0
        return float(lam[0] + (1.0 - lam[0]) * self.x)

    def direction(self) -> np.ndarray:
        return np.array([1.0 - self.x])

    def step_length(self, value: float, target: float) -> float:
        return target - value

    def reached(self, best: float, target: float) -> bool:
        return best >= target - 1e-9

    def project(self, lam: np.ndarray) -> np.ndarray:
        return np.maximum(lam, 0.0)


def test_driver_climbs_to_the_known_dual_optimum() -> None:
    rule = StepRule(sense="max", scale=1.0, patience=5, min_scale=1e-9)
    state = SubgradientState.start(np.array([0.0]), rule)
    subgradient(_Toy(), state, rule, target=1.2, deadline=math.inf, max_iter=500)
    assert 0.99 <= state.best <= 1.0 + 1e-12  # a valid lower bound, close to the optimum 1
    assert state.iterations <= 500


def test_driver_stops_when_the_target_is_reached() -> None:
    rule = StepRule(sense="max", scale=1.0)
    state = SubgradientState.start(np.array([0.0]), rule)
    subgradient(_Toy(), state, rule, target=0.0, deadline=math.inf, max_iter=500)
    assert state.iterations == 1  # L(0) = 0 already meets the target


def _instance(seed: int) -> tuple[sp.csr_matrix, np.ndarray]:
    rng = np.random.default_rng(seed)
    cov = sp.csr_matrix(rng.random((30, 10)) < 0.25, dtype=float)
    cov = sp.csr_matrix(
        cov + sp.csr_matrix((np.ones(30), (np.arange(30), np.arange(30) % 10)), shape=(30, 10))
    )
    cov.data[:] = 1.0
    return cov, rng.integers(1, 20, 30).astype(float)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_set_cover_bound_is_valid_and_near_the_lp(seed: int) -> None:
    cov, _ = _instance(seed)
    data = CoverageData(csr=cov, csc=cov.tocsc(), weights=np.ones(30))
    lp = linprog(np.ones(10), A_ub=-cov.toarray(), b_ub=-np.ones(30), bounds=[(0, 1)] * 10, method="highs")
    best = min(
        k
        for k in range(1, 11)
        for s in itertools.combinations(range(10), k)
        if cov[:, list(s)].sum(axis=1).min() > 0
    )
    bound, _ = lagrangian_setcover_bound(
        data, RuleState(SiteRules.build(10), None), target=best, deadline=math.inf
    )
    assert bound <= best
    assert bound >= math.ceil(lp.fun - 1e-6) - 1  # within one site of the rounded LP bound


@pytest.mark.parametrize("seed", [4, 5])
def test_cover_bound_is_above_the_lp_optimum_and_close_to_it(seed: int) -> None:
    cov, w = _instance(seed)
    p = 3
    # LP relaxation of the MCLP: max w z  s.t.  z <= A y, sum y <= p, 0 <= y, z <= 1
    a = cov.toarray()
    c = np.concatenate([np.zeros(10), -w])
    a_ub = np.vstack([np.hstack([-a, np.eye(30)]), np.concatenate([np.ones(10), np.zeros(30)])[None, :]])
    lp = linprog(c, A_ub=a_ub, b_ub=np.concatenate([np.zeros(30), [p]]), bounds=[(0, 1)] * 40, method="highs")
    data = CoverageData(csr=cov, csc=cov.tocsc(), weights=w)
    lag = CoverLagrangian(data, w, RuleState(SiteRules.build(10), p), level=1)
    bound = lag.run(target=0.0, deadline=math.inf, max_iter=3000)
    assert bound >= -lp.fun - 1e-6  # every multiplier gives a valid upper bound
    assert bound <= -lp.fun * 1.05  # and the driver gets near the LP optimum


@pytest.mark.parametrize(("seed", "best"), [(0, "low"), (1, "low"), (2, "high"), (3, "high")])
def test_forced_bounds_equal_brute_force(seed: int, best: str) -> None:
    rng = np.random.default_rng(seed)
    value = rng.normal(size=9)
    free, k, base = np.array([0, 1, 2, 4, 5, 7, 8]), 3, 10.0
    sign = 1.0 if best == "low" else -1.0  # the inner problem minimises sign * value
    subsets = list(itertools.combinations(free.tolist(), k))
    score = {s: sign * value[list(s)].sum() for s in subsets}
    top = min(score.values())
    forced = forced_bounds(value, free, k, base, best=best)  # type: ignore[arg-type]
    assert forced is not None
    for j, b in zip(forced.rest, forced.if_opened, strict=True):
        with_j = min(v for s, v in score.items() if j in s)
        assert b == pytest.approx(base + sign * (with_j - top))
    for j, b in zip(forced.chosen, forced.if_closed, strict=True):
        without_j = min(v for s, v in score.items() if j not in s)
        assert b == pytest.approx(base + sign * (without_j - top))
    assert forced_bounds(value, free, 0, base, best=best) is None  # type: ignore[arg-type]
    assert forced_bounds(value, free, free.size, base, best=best) is None  # type: ignore[arg-type]


def test_transportation_lp_equals_linprog() -> None:
    rng = np.random.default_rng(7)
    rows = np.repeat(np.arange(12), 2)
    sites = rng.integers(0, 4, rows.size)
    w = rng.integers(1, 10, 12).astype(float)
    cap = np.array([10.0, 8.0, 12.0, 5.0])
    sol = transportation_lp(rows, sites, w[rows], cap, n_demand=12)
    a = np.zeros((16, rows.size))
    a[rows, np.arange(rows.size)] = 1.0
    a[12 + sites, np.arange(rows.size)] = w[rows]
    ref = linprog(
        -w[rows], A_ub=a, b_ub=np.concatenate([np.ones(12), cap]), bounds=[(0, 1)] * rows.size, method="highs"
    )
    assert sol.objective == pytest.approx(-ref.fun)
    cost = rng.uniform(50, 300, rows.size)
    cheap = transportation_lp(
        rows, sites, w[rows], cap, n_demand=12, unit_cost=cost, min_served=-ref.fun - 1e-6
    )
    a_served = np.vstack([a, -w[rows][None, :]])
    ref2 = linprog(w[rows] * cost, A_ub=a_served, b_ub=np.concatenate([np.ones(12), cap, [ref.fun + 1e-6]]),
                   bounds=[(0, 1)] * rows.size, method="highs")  # fmt: skip
    assert cheap.objective == pytest.approx(ref2.fun)
