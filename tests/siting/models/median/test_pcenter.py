import numpy as np
import pytest
import scipy.sparse as sp
from testdata import BENCHMARKS

from benchmarks.orlib import read_optima, read_pmed
from siting.errors import InputError
from siting.models import SolveOptions
from siting.models.median.pcenter import PCenter

DATA = BENCHMARKS
COST = np.array([[1.0, 4, 6, 9], [5, 2, 7, 3], [8, 6, 1, 4]])


def test_small_by_hand():
    one = PCenter.from_cost_matrix(COST, p=1).solve()
    assert one.selected.tolist() == [1]
    assert one.objective == 6.0
    assert one.status == "optimal"
    two = PCenter.from_cost_matrix(COST, p=2).solve()
    assert two.objective == 4.0
    assert two.bound == 4.0
    assert two.gap == 0.0
    assert two.selected.size <= 2
    assert two.extra["max_cost"] == 4.0


@pytest.mark.parametrize("method", ["exact", "heuristic"])
def test_rules(method):
    assert PCenter.from_cost_matrix(COST, p=2, fixed=[3]).solve(SolveOptions(method=method)).objective == 4.0
    forbid = PCenter.from_cost_matrix(COST, p=2, forbidden=[0, 1]).solve(SolveOptions(method=method))
    assert forbid.selected.tolist() == [2, 3]
    assert forbid.objective == 6.0
    budget = PCenter.from_cost_matrix(COST, site_cost=[5, 1, 5, 1], budget=2).solve(
        SolveOptions(method=method)
    )
    assert budget.selected.tolist() == [1, 3]
    assert budget.objective == 4.0


def test_group_rule_and_infeasible_reason():
    res = PCenter.from_cost_matrix(COST, p=2, groups={"north": [2]}).solve()
    assert 2 in res.selected.tolist()
    assert res.objective == 4.0  # {1, 2}
    bad = PCenter.from_cost_matrix(COST, p=1, groups={"a": [0], "b": [1]}).solve()
    assert bad.status == "infeasible"
    assert "p = 1" in bad.reason


def test_unreachable_row_is_infeasible():
    cost = sp.csr_matrix(([1.0, 2.0], ([0, 1], [0, 1])), shape=(3, 2))
    res = PCenter.from_cost_matrix(cost, p=2).solve()
    assert res.status == "infeasible"
    assert "demand rows 2 " in res.reason


def test_bad_method():
    with pytest.raises(InputError, match="method"):
        PCenter.from_cost_matrix(COST, p=1).solve(SolveOptions(method="magic"))  # type: ignore[arg-type]


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_orlib_pcenter(k):
    opt = read_optima(DATA / "orlib" / "pcenter" / "pcenter_opt.txt")[f"pmed{k}"]
    inst = read_pmed(DATA / "orlib" / "pmed" / f"pmed{k}.txt")
    res = PCenter.from_cost_matrix(inst.cost, p=inst.p).solve(SolveOptions(time_limit=60))
    assert res.objective == opt
    assert res.bound == opt
    assert res.status == "optimal"
    heur = PCenter.from_cost_matrix(inst.cost, p=inst.p).solve(SolveOptions(method="heuristic"))
    assert heur.bound <= opt <= heur.objective
