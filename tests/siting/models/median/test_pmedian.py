import numpy as np
import pytest
import scipy.sparse as sp
from testdata import BENCHMARKS

from benchmarks.orlib import read_optima, read_pmed
from benchmarks.spopt_sf import load_sf
from siting.errors import InputError
from siting.models import SolveOptions
from siting.models.median.pmedian import PMedian

DATA = BENCHMARKS
COST = np.array([[1.0, 4, 6, 9], [5, 2, 7, 3], [8, 6, 1, 4]])
W = np.array([1.0, 2, 3])


def test_p1_and_p2_by_hand():
    one = PMedian.from_cost_matrix(COST, p=1, weights=W).solve()
    assert one.selected.tolist() == [2]
    assert one.objective == 23.0
    assert one.assignment.tolist() == [2, 2, 2]
    assert one.load.tolist() == [0, 0, 6, 0]
    two = PMedian.from_cost_matrix(COST, p=2, weights=W).solve()
    assert two.selected.tolist() == [1, 2]
    assert two.objective == 11.0
    assert two.bound == 11.0
    assert two.gap == 0.0
    assert two.status == "optimal"
    assert two.method == "exact"
    assert two.assignment.tolist() == [1, 1, 2]
    assert two.covered_weight == two.total_weight == 6.0
    assert two.extra["mean_cost"] == pytest.approx(11 / 6)


def test_result_is_frozen():
    res = PMedian.from_cost_matrix(COST, p=2).solve()
    with pytest.raises(ValueError, match="read-only"):
        res.selected[0] = 3
    with pytest.raises(AttributeError):
        res.objective = 0  # type: ignore[misc]


@pytest.mark.parametrize("method", ["exact", "heuristic"])
def test_fixed_forbidden_budget_groups(method):
    def solve(**kw):
        return PMedian.from_cost_matrix(COST, weights=W, **kw).solve(SolveOptions(method=method))

    assert solve(p=2, fixed=[0]).selected.tolist() == [0, 2]
    assert solve(p=2, fixed=[0]).objective == 14.0
    assert solve(p=2, forbidden=[2]).selected.tolist() == [0, 3]
    assert solve(p=2, forbidden=[2]).objective == 19.0
    budget = solve(site_cost=[1, 5, 5, 1], budget=6)
    assert budget.selected.tolist() == [0, 2]
    assert budget.objective == 14.0
    grouped = solve(p=2, groups={"a": [0, 3]})
    assert grouped.selected.tolist() == [0, 2]
    assert grouped.objective == 14.0


def test_infeasible_group_names_it():
    res = PMedian.from_cost_matrix(COST, p=2, forbidden=[2], groups={"g7": [2]}).solve()
    assert res.status == "infeasible"
    assert "g7" in res.reason
    assert np.isnan(res.objective)
    assert res.assignment.tolist() == [-1, -1, -1]


def test_sparse_cutoff_unreachable_rows_named():
    cost = sp.csr_matrix(np.where(COST <= 5, COST, 0))
    cost.eliminate_zeros()
    cost = cost.tolil()
    cost[2, :] = 0  # row 2 reaches nothing
    res = PMedian.from_cost_matrix(sp.csr_matrix(cost), p=2).solve()
    assert res.status == "infeasible"
    assert "demand rows 2 " in res.reason


def test_sparse_needs_enough_sites_and_keeps_explicit_zero():
    dense = np.where(COST <= 5, COST, np.inf)
    rows, cols = np.nonzero(np.isfinite(dense))
    cost = sp.csr_matrix((dense[rows, cols], (rows, cols)), shape=COST.shape)
    # no single site reaches all three rows within the cutoff
    assert PMedian.from_cost_matrix(cost, p=1).solve().status == "infeasible"
    two = PMedian.from_cost_matrix(cost, p=2, weights=W).solve()
    assert two.selected.tolist() == [1, 2]
    assert two.objective == 11.0
    zero = cost.tolil()
    zero[0, 1] = 0.0
    zero = sp.csr_matrix(zero)
    zero.data[zero.data == 0] = 0.0
    coo = sp.coo_matrix(
        (np.append(dense[rows, cols], 0.0), (np.append(rows, 0), np.append(cols, 3))), shape=(3, 4)
    )
    res = PMedian.from_cost_matrix(coo, p=2, weights=W).solve()
    # stored 0 at (0, 3): {1, 2} now costs 4 + 4 + 3 = 11, {2, 3} costs 0 + 6 + 3 = 9
    assert res.selected.tolist() == [2, 3]
    assert res.objective == 9.0


def test_dense_inf_is_unreachable():
    cost = COST.copy()
    cost[0, 1:] = np.inf
    res = PMedian.from_cost_matrix(cost, p=1).solve()
    assert res.selected.tolist() == [0]
    assert res.objective == 1 + 5 + 8


def test_input_errors_listed_together():
    with pytest.raises(InputError) as err:
        PMedian.from_cost_matrix(-COST, p=0, weights=[1, 2], fixed=[9])
    text = str(err.value)
    for where in ("cost", "weights", "p", "fixed"):
        assert f"{where}:" in text
    assert "4 problems" in text


def test_p_needed_without_budget():
    with pytest.raises(InputError, match="p: is missing"):
        PMedian.from_cost_matrix(COST)


@pytest.mark.parametrize("name", ["pmed1", "pmed2", "pmed5", "pmed8"])
def test_orlib_optimum(name):
    opt = read_optima(DATA / "orlib" / "pmed" / "pmedopt.txt")[name]
    inst = read_pmed(DATA / "orlib" / "pmed" / f"{name}.txt")
    res = PMedian.from_cost_matrix(inst.cost, p=inst.p).solve(SolveOptions(time_limit=60))
    assert res.objective == opt
    assert res.bound == opt
    assert res.status == "optimal"
    assert res.selected.size == inst.p


def test_heuristic_reports_valid_bound():
    inst = read_pmed(DATA / "orlib" / "pmed" / "pmed4.txt")
    res = PMedian.from_cost_matrix(inst.cost, p=inst.p).solve(SolveOptions(method="heuristic", seed=3))
    assert res.method == "heuristic"
    assert res.bound <= 3034 <= res.objective
    assert res.gap == pytest.approx((res.objective - res.bound) / res.objective)
    again = PMedian.from_cost_matrix(inst.cost, p=inst.p).solve(SolveOptions(method="heuristic", seed=3))
    assert again.selected.tolist() == res.selected.tolist()


def test_time_limit_keeps_a_valid_bound():
    inst = read_pmed(DATA / "orlib" / "pmed" / "pmed16.txt")
    res = PMedian.from_cost_matrix(inst.cost, p=inst.p).solve(SolveOptions(time_limit=1.0))
    assert res.status in {"time_limit", "optimal", "feasible"}
    assert res.bound <= 8162 <= res.objective
    assert res.solve_seconds < 10


def test_spopt_sf_mean_distance():

    sf = load_sf(DATA / "spopt_sf")
    res = PMedian.from_cost_matrix(sf.cost, p=4, weights=sf.population).solve()
    assert res.status == "optimal"
    assert res.objective / res.total_weight == pytest.approx(2982.1268579890657, rel=1e-12)
    assert res.extra["mean_cost"] == pytest.approx(2982.1268579890657, rel=1e-12)
