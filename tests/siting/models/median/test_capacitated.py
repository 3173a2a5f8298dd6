import numpy as np
import pytest
from testdata import BENCHMARKS

from benchmarks.orlib import read_pmedcap
from siting.errors import InputError
from siting.models import SolveOptions
from siting.models.median.capacitated import CapacitatedPMedian

DATA = BENCHMARKS / "orlib" / "pmedcap"
COST = np.array([[1.0, 4, 6, 9], [5, 2, 7, 3], [8, 6, 1, 4]])


def test_capacity_changes_the_answer():
    free = CapacitatedPMedian.from_cost_matrix(COST, demand=[1, 1, 1], capacity=10, p=1).solve()
    # unweighted sum: col 2 costs 6 + 7 + 1 = 14, col 1 costs 4 + 2 + 6 = 12
    assert free.selected.tolist() == [1]
    assert free.objective == 12.0
    tight = CapacitatedPMedian.from_cost_matrix(COST, demand=[1, 1, 1], capacity=2, p=2).solve()
    # {1, 2}: 4 + 2 + 1 = 7 and {0, 2}: 1 + 5 + 1 = 7 tie; nothing beats 7 with two sites of capacity 2
    assert tight.objective == 7.0
    assert tight.status == "optimal"
    assert sorted(tight.load.tolist()) == [0, 0, 1, 2]
    squeezed = CapacitatedPMedian.from_cost_matrix(COST, demand=[1, 2, 1], capacity=2, p=2).solve()
    # row 1 (demand 2) fills a site alone; best: rows 0, 2 at site 2 (6 + 1), row 1 at site 1 (2) = 9
    assert squeezed.objective == 9.0
    assert squeezed.assignment.tolist() == [2, 1, 2]
    assert squeezed.load.tolist() == [0, 2, 2, 0]


def test_not_demand_weighted():
    res = CapacitatedPMedian.from_cost_matrix(COST, demand=[5, 1, 1], capacity=100, p=1).solve()
    assert res.objective == 12.0
    assert res.load.tolist() == [0, 7, 0, 0]


def test_infeasible_capacity_reasons():
    res = CapacitatedPMedian.from_cost_matrix(COST, demand=[1, 1, 5], capacity=2, p=2).solve()
    assert res.status == "infeasible"
    assert "demand rows 2 fit no" in res.reason
    assert "exceeds the 2 largest capacities" in res.reason


def test_input_errors():
    with pytest.raises(InputError) as err:
        CapacitatedPMedian.from_cost_matrix(COST, demand=[1, -1], capacity=[1, 2], p=9)
    text = str(err.value)
    assert "demand:" in text
    assert "capacity:" in text
    assert "p:" in text


@pytest.mark.parametrize("name", ["pmedcap02", "pmedcap04"])
def test_orlib_pmedcap(name):
    inst = read_pmedcap(DATA / f"{name}.txt")
    model = CapacitatedPMedian.from_cost_matrix(
        inst.cost, demand=inst.demand, capacity=inst.capacity, p=inst.p
    )
    res = model.solve(SolveOptions(time_limit=60))
    assert res.objective == inst.optimum
    assert res.status == "optimal"
    assert (res.load <= inst.capacity + 1e-9).all()
    assert (res.assignment >= 0).all()
    heur = model.solve(SolveOptions(method="heuristic"))
    assert heur.bound <= inst.optimum <= heur.objective
    assert (heur.load <= inst.capacity + 1e-9).all()


@pytest.mark.parametrize(("name", "proof"), [("pmedcap02", "interchange"), ("pmedcap04", "highs-mip")])
def test_exact_proves_with_the_lagrangian_bound_when_it_meets_the_heuristic(name, proof):
    # pmedcap02: the heuristic's plan already meets the uncapacitated Lagrangian bound (740),
    # so no MIP runs; pmedcap04: it does not (653 against 637) and the MIP, started from it, proves 651
    inst = read_pmedcap(DATA / f"{name}.txt")
    res = CapacitatedPMedian.from_cost_matrix(
        inst.cost, demand=inst.demand, capacity=inst.capacity, p=inst.p
    ).solve(SolveOptions(method="exact"))
    assert res.solver.startswith(proof)
    assert res.method == "exact"
    assert res.status == "optimal"
    assert res.objective == res.bound == inst.optimum


def test_evaluate_fewer_sites_than_p_scores_them():
    # p = 2 is the most sites; one open site that holds all the demand is a valid (costlier) plan
    cost = np.array([[1.0, 5.0, 9.0], [2.0, 1.0, 9.0], [3.0, 9.0, 1.0]])
    model = CapacitatedPMedian.from_cost_matrix(cost, demand=[1.0, 1.0, 1.0], capacity=10.0, p=2)
    res = model.evaluate([0])
    assert res.status == "feasible", res.reason
    assert res.objective == 1.0 + 2.0 + 3.0
    assert res.assignment.tolist() == [0, 0, 0]
    tight = CapacitatedPMedian.from_cost_matrix(cost, demand=[1.0, 1.0, 1.0], capacity=2.0, p=2)
    over = tight.evaluate([0])
    assert over.status == "infeasible"
    assert "does not fit the sites' capacities" in over.reason
