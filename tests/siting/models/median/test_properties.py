"""Property tests: exact answers equal brute force; heuristics are bracketed by the optimum and their bound."""

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from siting.models import SolveOptions
from siting.models.median.capacitated import CapacitatedPMedian
from siting.models.median.pcenter import PCenter
from siting.models.median.pmedian import PMedian


@st.composite
def instances(draw, max_n=7, max_m=6):
    n = draw(st.integers(2, max_n))
    m = draw(st.integers(2, max_m))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    cost = rng.integers(0, 30, size=(n, m)).astype(float)
    weights = rng.integers(0, 5, size=n).astype(float)
    p = draw(st.integers(1, m))
    return cost, weights, p


def brute(cost, weights, p, center=False):
    best = np.inf
    for sites in itertools.combinations(range(cost.shape[1]), p):
        d = cost[:, list(sites)].min(axis=1)
        best = min(best, d.max() if center else float(weights @ d))
    return best


@settings(max_examples=40, deadline=None)
@given(instances())
def test_pmedian_exact_equals_brute_force(inst):
    cost, weights, p = inst
    res = PMedian.from_cost_matrix(cost, p=p, weights=weights).solve(SolveOptions(method="exact"))
    assert res.status == "optimal"
    assert res.objective == brute(cost, weights, p)
    assert res.selected.size == p
    assert res.bound <= res.objective


@settings(max_examples=40, deadline=None)
@given(instances())
def test_pmedian_heuristic_bracketed(inst):
    cost, weights, p = inst
    opt = brute(cost, weights, p)
    res = PMedian.from_cost_matrix(cost, p=p, weights=weights).solve(SolveOptions(method="heuristic", seed=1))
    assert res.objective >= opt - 1e-9
    assert res.bound <= opt + 1e-9
    assert res.bound <= res.objective


@settings(max_examples=30, deadline=None)
@given(instances())
def test_pcenter_exact_equals_brute_force(inst):
    cost, _, p = inst
    opt = brute(cost, None, p, center=True)
    res = PCenter.from_cost_matrix(cost, p=p).solve(SolveOptions(method="exact"))
    assert res.objective == opt
    assert res.bound == opt
    heur = PCenter.from_cost_matrix(cost, p=p).solve(SolveOptions(method="heuristic"))
    assert heur.bound <= opt <= heur.objective


def brute_capacitated(cost, demand, capacity, p):
    n, m = cost.shape
    best = np.inf
    for sites in itertools.combinations(range(m), p):
        for assign in itertools.product(sites, repeat=n):
            load = np.bincount(assign, demand, minlength=m)
            if (load <= capacity + 1e-9).all():
                best = min(best, float(cost[np.arange(n), list(assign)].sum()))
    return best


@settings(max_examples=25, deadline=None)
@given(instances(max_n=5, max_m=4), st.integers(3, 12))
def test_capacitated_exact_equals_brute_force(inst, capacity):
    cost, weights, p = inst
    demand = weights + 1
    opt = brute_capacitated(cost, demand, capacity, p)
    model = CapacitatedPMedian.from_cost_matrix(cost, demand=demand, capacity=capacity, p=p)
    res = model.solve(SolveOptions(method="exact"))
    if np.isinf(opt):
        assert res.status == "infeasible"
        return
    assert res.status == "optimal"
    assert res.objective == opt
    heur = model.solve(SolveOptions(method="heuristic"))
    if heur.status != "infeasible":  # the greedy assignment may fail on a tight instance
        assert heur.bound <= opt + 1e-9 <= heur.objective + 2e-9
