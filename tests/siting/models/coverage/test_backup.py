"""Backup coverage (BACOP1 / spopt's LSCP-B): SF consistency, hand-solved instances, rules, errors."""

import dataclasses
import itertools

import numpy as np
import pytest
from testdata import BENCHMARKS

from benchmarks.spopt_sf import load_sf
from siting import models
from siting.errors import InputError
from siting.models import SolveOptions
from siting.models.coverage.backup import BackupCoverage

DATA = BENCHMARKS

#        c0 c1 c2 c3
# d0  1   1  1  0  0
# d1  2   1  0  1  0
# d2  3   0  1  1  1
# No single site covers all rows; the two-site covers are {0,1}, {0,2}, {1,2}, each
# covering exactly one row twice (d0, d1, d2 respectively).
COV = np.array([[1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 1, 1]], dtype=bool)
W = np.array([1.0, 2, 3])
COST = np.array([3.0, 1, 1, 1])
METHODS = ["exact", "heuristic", "auto"]


def counts(cov, selected):
    return np.asarray(cov, dtype=int)[:, list(selected)].sum(axis=1)


def twice(cov, weights, selected):
    return float(np.asarray(weights)[counts(cov, selected) >= 2].sum())


def solve(method, cov=COV, **kw):
    kw.setdefault("weights", W)
    return BackupCoverage.from_coverage(cov, **kw).solve(SolveOptions(method=method))


def check_consistent(res, cov, weights):
    """Every row covered once, objective recomputed from ``selected``."""
    c = counts(cov, res.selected)
    assert (c >= 1).all()
    assert res.objective == twice(cov, weights, res.selected)
    assert res.extra["covered_twice"] == res.objective
    assert res.extra["covered_twice_rows"] == float((c >= 2).sum())
    assert res.covered_weight == res.total_weight == float(np.sum(weights))
    assert (res.assignment >= 0).all()
    assert res.bound >= res.objective


# --- spopt San Francisco (LSCP-B) --------------------------------------------------------


@pytest.fixture(scope="module")
def sf_cov():
    return load_sf(DATA / "spopt_sf").cost <= 5000


@pytest.fixture(scope="module")
def sf_brute(sf_cov):
    return brute_lscp_b(sf_cov)


def brute_lscp_b(cov):
    """Fewest sites covering every row, then the most rows covered twice among such covers."""
    a = cov.astype(np.int64)
    n = a.shape[1]
    for k in range(1, n + 1):
        sets = np.array(list(itertools.combinations(range(n), k)))
        y = np.zeros((len(sets), n), dtype=np.int64)
        np.put_along_axis(y, sets, 1, axis=1)
        c = y @ a.T  # (subsets, rows)
        ok = (c >= 1).all(axis=1)
        if ok.any():
            return k, int((c[ok] >= 2).sum(axis=1).max())
    raise AssertionError("no cover")


@pytest.mark.parametrize("method", METHODS)
def test_spopt_sf_lscp_b(sf_cov, sf_brute, method):
    res = models.BackupCoverage.from_coverage(sf_cov).solve(SolveOptions(method=method))
    assert res.status in {"optimal", "feasible"}
    check_consistent(res, sf_cov, np.ones(sf_cov.shape[0]))
    assert res.extra["p"] == 8.0  # the LSCP optimum at 5,000 m
    assert res.selected.size <= 8
    p, best = sf_brute
    assert (p, best) == (8, 145)  # 8 sites; at most 145 of the 205 tracts covered twice
    assert res.objective <= best <= res.bound
    if method != "heuristic":
        assert res.status == "optimal"
        assert res.objective == best


def test_spopt_sf_lscp_b_weighted_matches_explicit_p(sf_cov):
    pop = load_sf(DATA / "spopt_sf").population
    auto = models.BackupCoverage.from_coverage(sf_cov, weights=pop).solve()
    explicit = models.BackupCoverage.from_coverage(sf_cov, weights=pop, p=8).solve()
    assert auto.objective == explicit.objective
    check_consistent(auto, sf_cov, pop)


# --- hand-solved -------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_by_hand_lscp_b(method):
    res = solve(method)
    assert res.extra["p"] == 2.0
    assert res.selected.tolist() == [1, 2]
    assert res.objective == 3.0
    assert res.bound == 3.0
    assert res.status == "optimal"
    check_consistent(res, COV, W)
    unit = solve(method, weights=None)
    assert unit.objective == 1.0
    assert unit.selected.size == 2
    check_consistent(unit, COV, np.ones(3))


@pytest.mark.parametrize("method", METHODS)
def test_by_hand_with_p(method):
    three = solve(method, p=3)
    assert three.selected.tolist() == [0, 1, 2]
    assert three.objective == 6.0
    check_consistent(three, COV, W)
    four = solve(method, p=4)
    assert four.objective == 6.0
    check_consistent(four, COV, W)


@pytest.mark.parametrize("method", METHODS)
def test_fixed_forbidden(method):
    fixed = solve(method, fixed=[3])
    assert fixed.extra["p"] == 2.0
    assert fixed.selected.tolist() == [0, 3]
    assert fixed.objective == 0.0
    fixed3 = solve(method, p=3, fixed=[3])
    assert fixed3.selected.tolist() == [0, 2, 3]
    assert fixed3.objective == 5.0
    forb = solve(method, forbidden=[0])
    assert forb.selected.tolist() == [1, 2]
    assert forb.objective == 3.0
    forb3 = solve(method, p=3, forbidden=[0])
    assert 0 not in forb3.selected
    assert forb3.objective == 3.0
    check_consistent(forb3, COV, W)


@pytest.mark.parametrize("method", METHODS)
def test_budget_and_groups(method):
    cheap = solve(method, site_cost=COST, budget=3)
    assert cheap.objective == 3.0
    assert COST[cheap.selected].sum() <= 3
    check_consistent(cheap, COV, W)
    rich = solve(method, site_cost=COST, budget=5)
    assert rich.selected.tolist() == [0, 1, 2]
    assert rich.objective == 6.0
    grouped = solve(method, p=3, groups={"g": [3]})
    assert grouped.selected.tolist() == [0, 2, 3]
    assert grouped.objective == 5.0
    two = solve(method, p=3, groups={"h": [1, 3]}, min_per_group=2)
    assert two.selected.tolist() == [0, 1, 3]
    assert two.objective == 4.0


@pytest.mark.parametrize("method", METHODS)
def test_infeasible(method):
    p1 = solve(method, p=1)
    assert p1.status == "infeasible"
    assert p1.reason
    cov = COV.copy()
    cov[1] = False
    bad = solve(method, cov=cov)
    assert bad.status == "infeasible"
    assert "have no allowed covering candidate: rows 1" in bad.reason
    forb = solve(method, forbidden=[1, 2, 3])
    assert "rows 2" in forb.reason
    grp = solve(method, p=3, forbidden=[3], groups={"g4": [3]})
    assert grp.status == "infeasible"
    assert "g4" in grp.reason
    fixed_cost = solve(method, fixed=[0], site_cost=COST, budget=2)
    assert "fixed sites cost 3, above the budget 2" in fixed_cost.reason
    too_many = solve(method, p=2, groups={"a": [0], "b": [1], "c": [2]})
    assert "the groups need at least 3 sites" in too_many.reason
    lscp_groups = solve(method, groups={"big": [0, 1]}, min_per_group=3)
    assert "group 'big' needs 3" in lscp_groups.reason


@pytest.mark.parametrize("method", ["exact", "heuristic"])
def test_deterministic_for_a_seed(method):
    rng = np.random.default_rng(5)
    cov = rng.random((50, 10)) < 0.3
    cov[np.arange(50), rng.integers(0, 10, size=50)] = True
    w = rng.integers(1, 9, size=50).astype(float)
    a = BackupCoverage.from_coverage(cov, weights=w, p=5).solve(SolveOptions(method=method, seed=2))
    b = BackupCoverage.from_coverage(cov, weights=w, p=5).solve(SolveOptions(method=method, seed=2))
    assert a.selected.tolist() == b.selected.tolist()
    assert a.objective == b.objective
    assert a.bound == b.bound
    check_consistent(a, cov, w)


# --- LSCP-B when the greedy cover is not minimal ----------------------------------------

# rows 0-6 | 14 by c0, rows 7-13 | 14 by c1 (the only 2-site cover, row 14 covered twice);
# greedy set cover takes c2 (9 rows), c3 (4), c4 (2): 3 sites, none redundant.
TRAP = np.zeros((15, 5), dtype=bool)
for _j, _rows in enumerate(
    [[*range(7), 14], [*range(7, 14), 14], [0, 1, 2, 3, 7, 8, 9, 10, 14], [4, 5, 11, 12], [6, 13]]
):
    TRAP[_rows, _j] = True


def test_greedy_cover_trap_is_not_minimal():
    greedy = models.LSCP.from_coverage(TRAP).solve(SolveOptions(method="heuristic"))
    assert greedy.selected.tolist() == [2, 3, 4]
    assert greedy.status == "feasible"
    assert greedy.bound == 2.0
    assert models.LSCP.from_coverage(TRAP).solve(SolveOptions(method="exact")).selected.tolist() == [0, 1]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("seed", [0, 1])
def test_lscp_b_uses_the_lscp_optimum_even_after_a_greedy_cover(method, seed):
    # LSCP-B allows exactly the LSCP optimum (2 sites), not the greedy cover's 3
    res = BackupCoverage.from_coverage(TRAP).solve(SolveOptions(method=method, seed=seed))
    assert res.extra["p"] == 2.0
    assert res.selected.tolist() == [0, 1]
    assert res.objective == 1.0
    assert res.status == "optimal"
    assert res.reason == ""
    check_consistent(res, TRAP, np.ones(15))


def test_lscp_b_flags_a_cover_not_proven_minimal(monkeypatch):
    real = models.LSCP.solve

    def exact_times_out(self, options=None):
        res = real(self, options)
        if options is not None and options.method == "exact":  # no cover found in time
            return dataclasses.replace(res, status="infeasible", selected=res.selected[:0])
        return res

    monkeypatch.setattr(models.LSCP, "solve", exact_times_out)
    res = BackupCoverage.from_coverage(TRAP).solve(SolveOptions(method="heuristic"))
    assert res.extra["p"] == 3.0
    assert res.status == "time_limit"
    assert "p = 3 is the smallest cover found, not proven to be the LSCP optimum" in res.reason
    assert "lower bound 2 sites" in res.reason
    check_consistent(res, TRAP, np.ones(15))


# --- input errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "where"),
    [
        ({"weights": [1, -1, 1]}, "weights"),
        ({"weights": [1, 1, 1, 1]}, "weights"),
        ({"p": -1}, "p"),
        ({"p": 0}, "p"),
        ({"p": 5}, "p"),
        ({"fixed": [4]}, "fixed"),
        ({"forbidden": [2], "fixed": [2]}, "fixed"),
        ({"budget": -1, "site_cost": COST}, "budget"),
        ({"groups": {"q": [-3]}}, "groups.q"),
    ],
)
def test_input_error_names_the_field(kw, where):
    with pytest.raises(InputError) as err:
        BackupCoverage.from_coverage(COV, **kw)
    assert where in {p.where for p in err.value.problems}
    assert str(err.value).startswith("invalid BackupCoverage input")


def test_non_matrix_coverage_and_weights_together():
    with pytest.raises(InputError) as err:
        BackupCoverage.from_coverage([1, 2, 3], weights=[-1, 1, 1])
    assert {p.where for p in err.value.problems} == {"coverage", "weights"}
