"""Capacitated MCLP: hand-solved instances (split and single-source), rules, loads and input errors."""

from itertools import combinations

import numpy as np
import pytest
from scipy.optimize import linprog
from testdata import BENCHMARKS

from benchmarks.spopt_sf import load_sf
from siting import models
from siting.errors import InputError
from siting.models import SolveOptions
from siting.models.coverage.capacitated import CapacitatedMCLP

DATA = BENCHMARKS

#        c0 c1 c2 c3 c4
# d0  4   1  0  0  1  0
# d1  3   1  1  0  0  0
# d2  2   0  1  1  0  0
# d3  6   0  0  1  0  1
# capacity  6  2  5  3  4
COV = np.array(
    [
        [1, 0, 0, 1, 0],
        [1, 1, 0, 0, 0],
        [0, 1, 1, 0, 0],
        [0, 0, 1, 0, 1],
    ],
    dtype=bool,
)
W = np.array([4.0, 3, 2, 6])
CAP = np.array([6.0, 2, 5, 3, 4])
COST = np.array([1.0, 2, 5, 2, 1])
METHODS = ["exact", "heuristic", "auto"]


def solve(method, **kw):
    kw.setdefault("weights", W)
    kw.setdefault("capacity", CAP)
    return CapacitatedMCLP.from_coverage(COV, **kw).solve(SolveOptions(method=method))


def check_loads(res, cov=COV, cap=CAP, weights=W):
    """Loads within capacity, only on open sites, and adding up to the served weight."""
    assert (res.load <= np.asarray(cap) + 1e-7).all()
    closed = np.setdiff1d(np.arange(cov.shape[1]), res.selected)
    assert np.allclose(res.load[closed], 0.0)
    assert res.load.sum() == pytest.approx(res.objective)
    assert res.covered_weight == pytest.approx(res.objective)
    hit = res.assignment >= 0
    assert cov[np.flatnonzero(hit), res.assignment[hit]].all()
    assert np.isin(res.assignment[hit], res.selected).all()
    assert res.objective <= float(np.asarray(weights)[hit].sum()) + 1e-7


@pytest.mark.parametrize("method", METHODS)
def test_by_hand_split(method):
    one = solve(method, p=1)
    assert one.selected.tolist() == [0]
    assert one.objective == pytest.approx(6.0)
    two = solve(method, p=2)
    assert two.selected.tolist() == [0, 2]
    assert two.objective == pytest.approx(11.0)
    assert two.bound == pytest.approx(11.0)
    assert two.status == "optimal"
    assert two.load[[0, 2]] == pytest.approx([6.0, 5.0])
    assert two.total_weight == 15.0
    check_loads(two)
    three = solve(method, p=3)
    assert three.selected.tolist() == [0, 2, 4]
    assert three.objective == pytest.approx(14.0)
    assert three.load[[0, 2, 4]].sum() == pytest.approx(14.0)
    # serving 14 needs all of d3 (6): c4 takes at most 4, so d3 is split over c2 and c4
    assert three.extra["split_demand"] == 1.0
    assert three.load[2] + three.load[4] == pytest.approx(8.0)
    check_loads(three)


@pytest.mark.parametrize("method", METHODS)
def test_large_capacity_is_mclp(method):
    res = solve(method, p=2, capacity=100.0)
    ref = models.MCLP.from_coverage(COV, weights=W, p=2).solve(SolveOptions(method="exact"))
    assert res.selected.tolist() == ref.selected.tolist() == [0, 2]
    assert res.objective == pytest.approx(ref.objective)
    assert res.extra["split_demand"] == 0.0


@pytest.mark.parametrize("method", METHODS)
def test_single_source(method):
    res = solve(method, p=2, single_source=True)
    # c0 (cap 6) takes d0 (4) or d1 (3), not both; c1 and c2 can each take only d2 (2)
    assert res.objective == pytest.approx(6.0)
    assert res.extra["single_source"] == 1.0
    assert res.extra["split_demand"] == 0.0
    check_loads(res)
    # every served row is served whole by its one site
    hit = res.assignment >= 0
    served = np.bincount(res.assignment[hit], weights=W[hit], minlength=5)
    assert res.load == pytest.approx(served)
    one = solve(method, p=1, single_source=True)
    assert one.selected.tolist() == [0]
    assert one.objective == pytest.approx(4.0)
    split = solve(method, p=2)
    assert split.objective >= res.objective


@pytest.mark.parametrize("method", METHODS)
def test_fixed_forbidden(method):
    fixed = solve(method, p=2, fixed=[4])
    assert fixed.selected.tolist() == [0, 4]
    assert fixed.objective == pytest.approx(10.0)
    forb = solve(method, p=2, forbidden=[2])
    assert forb.selected.tolist() == [0, 4]
    assert forb.objective == pytest.approx(10.0)
    check_loads(forb)


@pytest.mark.parametrize("method", METHODS)
def test_budget_and_groups(method):
    res = solve(method, site_cost=COST, budget=4)
    assert res.selected.tolist() == [0, 1, 4]
    assert res.objective == pytest.approx(12.0)
    assert COST[res.selected].sum() <= 4
    check_loads(res)
    grp = solve(method, p=2, groups={"north": [3]})
    assert grp.selected.tolist() == [2, 3]
    assert grp.objective == pytest.approx(8.0)
    two = solve(method, p=3, groups={"g": [1, 3]}, min_per_group=2)
    # c3 serves 3 of d0 and c1 2 of d1/d2; a third site c2 adds 5 (10), c0 adds 4 (9), c4 adds 4
    assert two.selected.tolist() == [1, 2, 3]
    assert two.objective == pytest.approx(10.0)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({"p": 2, "forbidden": [3], "groups": {"g9": [3]}}, "group 'g9' needs 1 site(s) but has 0"),
        ({"p": 3, "groups": {"a": [0], "b": [1], "c": [2], "d": [3]}}, "the groups need at least 4 sites"),
        ({"p": 1, "fixed": [0, 1]}, "2 fixed sites but p = 1"),
        ({"fixed": [2], "site_cost": COST, "budget": 4}, "fixed sites cost 5, above the budget 4"),
    ],
)
def test_infeasible_rules_named(method, kw, needle):
    res = solve(method, **kw)
    assert res.status == "infeasible"
    assert needle in res.reason
    assert np.isnan(res.objective)
    assert res.load.tolist() == [0.0] * 5


def test_zero_weight_rows_are_ignored():
    cov = np.array([[1, 0], [1, 1], [0, 1]])
    res = CapacitatedMCLP.from_coverage(cov, weights=[0.0, 5.0, 3.0], capacity=[4.0, 10.0], p=1).solve()
    assert res.selected.tolist() == [1]
    assert res.objective == pytest.approx(8.0)
    assert res.assignment.tolist() == [-1, 1, 1]


def test_spopt_sf_capacity_bounds_coverage():
    sf = load_sf(DATA / "spopt_sf")
    cov = sf.cost <= 5000
    pop = sf.population
    free = models.MCLP.from_coverage(cov, weights=pop, p=4).solve()
    cap = CapacitatedMCLP.from_coverage(cov, weights=pop, capacity=200_000.0, p=4).solve(
        SolveOptions(method="exact")
    )
    assert cap.status == "optimal"
    assert cap.objective <= min(free.objective, 4 * 200_000.0)
    check_loads(cap, cov=cov, cap=np.full(16, 200_000.0), weights=pop)
    big = CapacitatedMCLP.from_coverage(cov, weights=pop, capacity=1e9, p=4).solve(
        SolveOptions(method="exact")
    )
    assert big.objective == pytest.approx(875_247)
    heur = CapacitatedMCLP.from_coverage(cov, weights=pop, capacity=200_000.0, p=4).solve(
        SolveOptions(method="heuristic")
    )
    assert heur.objective <= cap.objective + 1e-6
    assert heur.bound >= cap.objective - 1e-6
    check_loads(heur, cov=cov, cap=np.full(16, 200_000.0), weights=pop)


@pytest.mark.parametrize("method", ["exact", "heuristic"])
def test_deterministic_for_a_seed(method):
    rng = np.random.default_rng(2)
    cov = rng.random((40, 10)) < 0.3
    w = rng.integers(1, 9, size=40).astype(float)
    cap = rng.integers(5, 30, size=10).astype(float)
    a = CapacitatedMCLP.from_coverage(cov, weights=w, capacity=cap, p=3).solve(
        SolveOptions(method=method, seed=4)
    )
    b = CapacitatedMCLP.from_coverage(cov, weights=w, capacity=cap, p=3).solve(
        SolveOptions(method=method, seed=4)
    )
    assert a.selected.tolist() == b.selected.tolist()
    assert a.objective == b.objective
    assert a.bound == b.bound
    assert a.load.tolist() == b.load.tolist()
    check_loads(a, cov=cov, cap=cap, weights=w)


# --- input errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "where"),
    [
        ({"capacity": 0.0, "p": 1}, "capacity"),
        ({"capacity": -5.0, "p": 1}, "capacity"),
        ({"capacity": [1.0, 2.0], "p": 1}, "capacity"),
        ({"capacity": [1.0, 2, np.nan, 4, 5], "p": 1}, "capacity"),
        ({"capacity": "lots", "p": 1}, "capacity"),
        ({"capacity": 5.0}, "p"),
        ({"capacity": 5.0, "p": -1}, "p"),
        ({"capacity": 5.0, "p": 1, "weights": [1, 2, -3, 4]}, "weights"),
        ({"capacity": 5.0, "p": 1, "weights": [1, 2]}, "weights"),
        ({"capacity": 5.0, "p": 1, "fixed": [5]}, "fixed"),
        ({"capacity": 5.0, "budget": 2.0}, "budget"),
    ],
)
def test_input_error_names_the_field(kw, where):
    with pytest.raises(InputError) as err:
        CapacitatedMCLP.from_coverage(COV, **kw)
    assert where in {p.where for p in err.value.problems}
    assert str(err.value).startswith("invalid CapacitatedMCLP input")


def test_several_problems_in_one_error():
    with pytest.raises(InputError) as err:
        CapacitatedMCLP.from_coverage(COV, weights=[1, 1, 1, -1], capacity=[1.0, 2.0], p=0, forbidden=[7])
    assert {"weights", "capacity", "p", "forbidden"} <= {p.where for p in err.value.problems}


def test_non_matrix_coverage():
    with pytest.raises(InputError) as err:
        CapacitatedMCLP.from_coverage(np.arange(4), capacity=1.0, p=1)
    assert "coverage" in {p.where for p in err.value.problems}


def _served_lp(cov, w, cap, sites, part=None, share=0.0):
    """Most weight the open ``sites`` serve within capacity (scipy's LP), with part's share kept; None if not."""
    pairs = [(i, j) for j in sites for i in range(cov.shape[0]) if cov[i, j]]
    if not pairs:
        return 0.0 if share == 0 else None
    k = len(pairs)
    a_ub = np.zeros((cov.shape[0] + len(sites), k))
    for c, (i, j) in enumerate(pairs):
        a_ub[i, c] = 1.0
        a_ub[cov.shape[0] + list(sites).index(j), c] = w[i]
    b_ub = np.concatenate([np.ones(cov.shape[0]), np.full(len(sites), cap)])
    if part is not None:
        row = np.array([-w[i] if i in part else 0.0 for i, _ in pairs])
        a_ub = np.vstack([a_ub, row])
        b_ub = np.concatenate([b_ub, [-share * w[list(part)].sum()]])
    res = linprog(
        -np.array([w[i] for i, _ in pairs]), A_ub=a_ub, b_ub=b_ub, bounds=[(0, 1)] * k, method="highs"
    )
    return -res.fun if res.status == 0 else None


@pytest.mark.parametrize(("seed", "share"), [(3, 0.6), (4, 0.7), (6, 0.8)])  # binding for seeds 4 and 6
def test_served_share_of_a_part_equals_brute_force(seed, share):
    rng = np.random.default_rng(seed)
    cov = rng.random((24, 7)) < 0.3
    w = rng.integers(1, 20, 24).astype(float)
    part = set(range(12, 24))
    model = CapacitatedMCLP.from_coverage(
        cov, weights=w, capacity=80.0, p=2, served_shares={"east": (sorted(part), share)}
    )
    res = model.solve(SolveOptions(method="exact"))
    values = [_served_lp(cov, w, 80.0, s, part, share) for s in combinations(range(7), 2)]
    feasible = [v for v in values if v is not None]
    if not feasible:
        assert res.status == "infeasible"
        return
    assert res.status == "optimal"
    assert res.objective == pytest.approx(max(feasible), abs=1e-6)
    served_part = _served_lp(cov, w, 80.0, list(res.selected), part, share)
    assert served_part is not None  # the chosen sites can keep the share
    assert model.evaluate(res.selected).status == "feasible"
