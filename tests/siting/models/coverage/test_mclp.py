"""MCLP: spopt's San Francisco numbers, hand-solved instances, site rules and input errors."""

from itertools import combinations

import numpy as np
import pytest
import scipy.sparse as sp
from testdata import BENCHMARKS

from benchmarks.spopt_sf import load_sf
from siting import models
from siting.errors import InputError
from siting.models import SolveOptions
from siting.models.coverage import mclp as mclp_module
from siting.models.coverage.mclp import MCLP

DATA = BENCHMARKS

# 4 demand rows x 5 candidates.
#        c0 c1 c2 c3 c4
# d0  4   1  0  0  1  0
# d1  3   1  1  0  0  0
# d2  2   0  1  1  0  0
# d3  6   0  0  1  0  1
# single sites cover 7, 5, 8, 4, 6; {0, 2} is the only pair covering every row (15).
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
COST = np.array([1.0, 2, 5, 2, 1])
METHODS = ["exact", "heuristic", "auto"]


def covered(cov, weights, selected):
    hit = np.asarray(cov, dtype=bool)[:, list(selected)].any(axis=1)
    return float(np.asarray(weights)[hit].sum())


def solve(method, **kw):
    kw.setdefault("weights", W)
    return MCLP.from_coverage(COV, **kw).solve(SolveOptions(method=method))


# --- spopt San Francisco ---------------------------------------------------------------


@pytest.fixture(scope="module")
def sf():
    return load_sf(DATA / "spopt_sf")


@pytest.mark.parametrize("method", METHODS)
def test_spopt_sf_p4_covers_875247(sf, method):
    coverage = sf.cost <= 5000
    res = models.MCLP.from_coverage(coverage, weights=sf.population, p=4).solve(SolveOptions(method=method))
    assert res.status == "optimal"
    assert res.objective == 875_247
    assert res.bound == 875_247
    assert res.gap == 0.0
    assert res.covered_weight == 875_247
    assert res.total_weight == sf.population.sum()
    assert res.selected.size == 4
    assert int((res.assignment == -1).sum()) == 21
    assert covered(coverage, sf.population, res.selected) == 875_247
    # every assigned tract really is within 5 km of its site, and loads add up
    rows = np.flatnonzero(res.assignment >= 0)
    assert (sf.cost[rows, res.assignment[rows]] <= 5000).all()
    assert set(res.assignment[rows]) <= set(res.selected.tolist())
    assert res.load.sum() == pytest.approx(875_247)
    assert res.method == ("heuristic" if method == "heuristic" else "exact")


def test_spopt_sf_sparse_input_matches_dense(sf):
    dense = sf.cost <= 5000
    a = models.MCLP.from_coverage(dense, weights=sf.population, p=4).solve()
    b = models.MCLP.from_coverage(sp.csr_matrix(dense), weights=sf.population, p=4).solve()
    assert a.selected.tolist() == b.selected.tolist()
    assert a.objective == b.objective == 875_247


# --- hand-solved -------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_by_hand_p1_p2_p3(method):
    one = solve(method, p=1)
    assert one.selected.tolist() == [2]
    assert one.objective == 8.0
    assert one.assignment.tolist() == [-1, -1, 2, 2]
    assert one.load.tolist() == [0, 0, 8, 0, 0]
    assert one.covered_weight == 8.0
    assert one.total_weight == 15.0
    assert one.covered_share == pytest.approx(8 / 15)
    two = solve(method, p=2)
    assert two.selected.tolist() == [0, 2]
    assert two.objective == two.bound == 15.0
    assert two.status == "optimal"
    assert two.gap == 0.0
    # lowest-index covering open site
    assert two.assignment.tolist() == [0, 0, 2, 2]
    assert two.load.tolist() == [7, 0, 8, 0, 0]
    # a third site cannot add anything, and never breaks p
    three = solve(method, p=3)
    assert three.objective == 15.0
    assert three.selected.size <= 3


@pytest.mark.parametrize("method", METHODS)
def test_unit_weights_by_default(method):
    res = MCLP.from_coverage(COV, p=1).solve(SolveOptions(method=method))
    # c0 and c2 both cover two rows; either is optimal
    assert res.objective == 2.0
    assert res.total_weight == 4.0
    assert res.selected.tolist() in ([0], [1], [2])
    assert covered(COV, np.ones(4), res.selected) == 2.0


@pytest.mark.parametrize("method", METHODS)
def test_fixed_forbidden(method):
    fixed = solve(method, p=2, fixed=[4])
    assert fixed.selected.tolist() == [0, 4]
    assert fixed.objective == 13.0
    forb = solve(method, p=2, forbidden=[2])
    assert forb.selected.tolist() == [0, 4]
    assert forb.objective == 13.0
    assert 2 not in forb.selected
    # fixed sites only (p == number of fixed)
    only = solve(method, p=2, fixed=[1, 3])
    assert only.selected.tolist() == [1, 3]
    assert only.objective == 9.0


@pytest.mark.parametrize("method", METHODS)
def test_budget(method):
    # cost <= 4 keeps c2 out; {0, 1, 4} (cost 4) is the only cover of every row
    res = solve(method, site_cost=COST, budget=4)
    assert res.selected.tolist() == [0, 1, 4]
    assert res.objective == 15.0
    assert COST[res.selected].sum() <= 4
    both = solve(method, p=2, site_cost=COST, budget=4)
    assert both.objective == 13.0
    assert both.selected.size <= 2
    assert COST[both.selected].sum() <= 4
    # the budget counts fixed sites: c2 (5) fixed leaves 1 for one more site
    fixed = solve(method, fixed=[2], site_cost=COST, budget=6)
    assert fixed.objective == 15.0
    assert 2 in fixed.selected
    assert COST[fixed.selected].sum() <= 6
    assert fixed.selected.tolist() == [0, 2]


@pytest.mark.parametrize("method", METHODS)
def test_groups(method):
    one = solve(method, p=2, groups={"north": [3]})
    assert one.selected.tolist() == [2, 3]
    assert one.objective == 12.0
    two = solve(method, p=2, groups={"g": [1, 3, 4]}, min_per_group=2)
    assert two.selected.tolist() == [1, 4]
    assert two.objective == 11.0
    objs = solve(
        method, p=3, groups=[models.Group("a", np.array([3]), 1), models.Group("b", np.array([1, 4]), 2)]
    )
    assert objs.selected.tolist() == [1, 3, 4]
    assert objs.objective == 15.0


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({"p": 2, "forbidden": [2], "groups": {"g9": [2]}}, "group 'g9' needs 1 site(s) but has 0"),
        ({"p": 3, "groups": {"tiny": [0, 1]}, "min_per_group": 3}, "group 'tiny' needs 3"),
        ({"p": 2, "groups": {"a": [0], "b": [1], "c": [2]}}, "the groups need at least 3 sites"),
        ({"p": 2, "fixed": [0, 1, 2]}, "3 fixed sites but p = 2"),
        ({"fixed": [2], "site_cost": COST, "budget": 4}, "fixed sites cost 5, above the budget 4"),
    ],
)
def test_infeasible_rules_named(method, kw, needle):
    res = solve(method, **kw)
    assert res.status == "infeasible"
    assert needle in res.reason
    assert np.isnan(res.objective) and np.isnan(res.bound)
    assert res.selected.size == 0
    assert res.assignment.tolist() == [-1] * 4
    assert res.covered_weight == 0.0
    assert res.total_weight == 15.0


def test_budget_with_groups_exact():
    # c0 (cost 1) alone meets both overlapping groups
    res = solve("exact", site_cost=COST, budget=1, groups={"a": [0, 4], "b": [0, 1]}, min_per_group=1)
    assert res.status == "optimal"  # c0 alone meets both groups
    assert res.selected.tolist() == [0]
    # c4 and c0 are both needed but the budget pays for one: only the MIP can tell
    res = solve("exact", site_cost=COST, budget=1, groups={"a": [4], "b": [0]})
    assert res.status == "infeasible"
    assert res.reason


def test_zero_weight_and_uncoverable_rows():
    cov = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 0], [0, 0, 1]])
    w = [0.0, 2.0, 5.0, 1.0]
    res = MCLP.from_coverage(cov, weights=w, p=1).solve()
    assert res.selected.tolist() == [1]
    assert res.objective == 2.0
    assert res.assignment.tolist() == [-1, 1, -1, -1]
    p2 = MCLP.from_coverage(cov, weights=w, p=2).solve()
    assert p2.selected.tolist() == [1, 2]
    assert p2.objective == 3.0
    assert p2.covered_weight == 3.0


def test_result_is_frozen():
    res = solve("exact", p=2)
    with pytest.raises(ValueError, match="read-only"):
        res.selected[0] = 1
    with pytest.raises(AttributeError):
        res.objective = 1.0  # type: ignore[misc]


@pytest.mark.parametrize("method", ["exact", "heuristic"])
def test_deterministic_for_a_seed(method):
    rng = np.random.default_rng(7)
    cov = rng.random((60, 12)) < 0.2
    w = rng.integers(0, 20, size=60).astype(float)
    a = MCLP.from_coverage(cov, weights=w, p=3).solve(SolveOptions(method=method, seed=5))
    b = MCLP.from_coverage(cov, weights=w, p=3).solve(SolveOptions(method=method, seed=5))
    assert a.selected.tolist() == b.selected.tolist()
    assert a.objective == b.objective
    assert a.bound == b.bound
    assert a.objective == covered(cov, w, a.selected)


# --- input errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "where"),
    [
        ({"weights": [1, -2, 3, 4], "p": 1}, "weights"),
        ({"weights": [1, np.nan, 3, 4], "p": 1}, "weights"),
        ({"weights": [1, 2, 3], "p": 1}, "weights"),
        ({"p": -1}, "p"),
        ({"p": 0}, "p"),
        ({"p": 6}, "p"),
        ({"p": 1.5}, "p"),
        ({"p": True}, "p"),
        ({}, "p"),
        ({"p": 1, "fixed": [7]}, "fixed"),
        ({"p": 1, "forbidden": [-1]}, "forbidden"),
        ({"p": 2, "fixed": [1], "forbidden": [1]}, "fixed"),
        ({"p": 1, "budget": 3}, "budget"),
        ({"p": 1, "site_cost": [1, 2], "budget": 3}, "site_cost"),
        ({"p": 1, "site_cost": [1, 2, -3, 4, 5], "budget": 3}, "site_cost"),
        ({"p": 1, "groups": {"west": [0, 9]}}, "groups.west"),
    ],
)
def test_input_error_names_the_field(kw, where):
    with pytest.raises(InputError) as err:
        MCLP.from_coverage(COV, **kw)
    assert f"{where}:" in str(err.value)
    assert where in {p.where for p in err.value.problems}


@pytest.mark.parametrize(
    ("coverage", "needle"),
    [
        (np.array([1, 0, 1]), "must be 2-D"),
        (np.zeros((2, 2, 2)), "must be 2-D"),
        (np.array([["a", "b"], ["c", "d"]]), "must be boolean or numeric"),
        (np.array([[1.0, np.nan]]), "NaN"),
        (np.zeros((0, 3)), "empty dimension"),
    ],
)
def test_non_matrix_coverage(coverage, needle):
    with pytest.raises(InputError, match=needle) as err:
        MCLP.from_coverage(coverage, p=1)
    assert "coverage" in {p.where for p in err.value.problems}


def test_several_problems_in_one_error():
    with pytest.raises(InputError) as err:
        MCLP.from_coverage(COV, weights=[1, -1, 2], p=0, fixed=[9], site_cost=[1.0], budget=-1)
    wheres = [p.where for p in err.value.problems]
    assert {"weights", "p", "fixed", "site_cost", "budget"} <= set(wheres)
    assert wheres.count("weights") == 2  # wrong length and negative
    assert str(err.value).startswith(f"invalid MCLP input: {len(wheres)} problems")


@pytest.mark.parametrize(
    ("kw", "where"),
    [({"method": "magic"}, "method"), ({"time_limit": 0}, "time_limit"), ({"mip_gap": 1.5}, "mip_gap")],
)
def test_bad_solve_options(kw, where):
    with pytest.raises(InputError, match=f"{where}:"):
        MCLP.from_coverage(COV, p=1).solve(SolveOptions(**kw))


@pytest.mark.parametrize("seed", [6, 9, 15])
def test_exact_by_reduced_cost_fixing_equals_brute_force(seed, monkeypatch):
    # geometric instances where greedy + swaps alone do not prove optimality: the exact path
    # leaves out candidates whose Lagrangian bound cannot beat the incumbent and solves the rest
    monkeypatch.setattr(mclp_module, "CORE_MIN_NNZ", 0)  # these instances are below the size it needs
    rng = np.random.default_rng(seed)
    xy_d, xy_c = rng.uniform(0, 1000, (80, 2)), rng.uniform(0, 1000, (18, 2))
    cov = sp.csr_matrix(np.hypot(*(xy_d[:, None, :] - xy_c[None, :, :]).transpose(2, 0, 1)) <= 220)
    w = rng.integers(1, 50, 80).astype(float)
    res = MCLP.from_coverage(cov, weights=w, p=4).solve(SolveOptions(method="exact"))
    best = max(
        w[np.asarray(cov[:, list(c)].sum(axis=1)).ravel() > 0].sum() for c in combinations(range(18), 4)
    )
    assert "reduced-cost-fixing" in res.solver
    assert res.extra["core_size"] < 18
    assert res.status == "optimal"
    assert res.objective == res.bound == best


def test_reduced_cost_fixing_matches_the_full_mip_at_default_size(monkeypatch):
    rng = np.random.default_rng(3)
    xy_d, xy_c = rng.uniform(0, 5000, (3000, 2)), rng.uniform(0, 5000, (300, 2))
    cov = sp.csr_matrix(np.hypot(*(xy_d[:, None, :] - xy_c[None, :, :]).transpose(2, 0, 1)) <= 600)
    w = rng.integers(1, 100, 3000).astype(float)
    assert cov.nnz >= mclp_module.CORE_MIN_NNZ
    fast = MCLP.from_coverage(cov, weights=w, p=12).solve(SolveOptions(method="exact"))
    monkeypatch.setattr(mclp_module, "CORE_MIN_NNZ", 10**9)
    full = MCLP.from_coverage(cov, weights=w, p=12).solve(SolveOptions(method="exact"))
    assert full.solver == "highs-mip"
    assert fast.solver.startswith("lazy-greedy+swap+lagrangian")
    assert fast.status == full.status == "optimal"
    assert fast.objective == full.objective
