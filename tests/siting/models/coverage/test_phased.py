"""Phased plans: nested sites, brute-force optimality on small cases, and the Jiangbei 2025/2028/2030 plan."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import shapely
from scipy.optimize import linprog
from testdata import ROOT

from siting.demand.growth import fit_growth, scale_demand
from siting.errors import InputError
from siting.geo.study_area import load_study_area
from siting.models.coverage.phased import PhasedMCLP
from siting.planning import red_stations as rs


def _brute(cov: np.ndarray, w: np.ndarray, per_phase: list[int]) -> float:
    m = cov.shape[1]
    best = -1.0

    # enumerate nested chains: choose phase-1 set, then additions
    def rec(t: int, chosen: frozenset[int], acc: float) -> None:
        nonlocal best
        if t == len(per_phase):
            best = max(best, acc)
            return
        rest = [j for j in range(m) if j not in chosen]
        for k in range(per_phase[t] + 1):
            for add in itertools.combinations(rest, k):
                s = chosen | set(add)
                y = np.zeros(m)
                y[list(s)] = 1
                rec(t + 1, frozenset(s), acc + float(w[t][(cov @ y) > 0].sum()))

    rec(0, frozenset(), 0.0)
    return best


@pytest.mark.parametrize("seed", range(5))
def test_joint_plan_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    cov = (rng.random((9, 5)) < 0.35).astype(int)
    w = rng.uniform(1, 10, (3, 9)).cumsum(axis=0)  # demand grows
    plan = PhasedMCLP.from_coverage(
        cov, weights=w, years=[2025, 2028, 2030], sites_per_phase=[1, 1, 1]
    ).solve()
    assert plan.status == "optimal"
    assert plan.objective == pytest.approx(_brute(cov, w, [1, 1, 1]))
    for a, b in itertools.pairwise(plan.phase_selected):
        assert set(a) <= set(b)


def test_nesting_beats_nothing_and_a_late_need_opens_late():
    # demand point 2 only appears in the last phase; site 2 covers only it
    cov = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    w = np.array([[10.0, 5.0, 0.0], [10.0, 5.0, 0.0], [10.0, 5.0, 50.0]])
    plan = PhasedMCLP.from_coverage(
        cov, weights=w, years=[2025, 2028, 2030], sites_per_phase=[1, 1, 1]
    ).solve()
    assert plan.opened_in.tolist() == [0, 1, 2]
    assert plan.phase_covered_share.tolist() == pytest.approx([10 / 15, 1.0, 1.0])


def test_fixed_sites_and_budgets():
    cov = np.eye(4, dtype=int)
    w = np.array([[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0]])
    plan = PhasedMCLP.from_coverage(
        cov, weights=w, years=[2025, 2030], budgets=[5.0, 5.0], site_cost=[1, 1, 5, 5], fixed=[0]
    ).solve()
    assert plan.opened_in[0] == 0
    # phase 1: the fixed site costs 1 of the 5, site 1 (cost 1) fits; phase 2: site 3 (cost 5) fits
    assert plan.phase_covered_weight.tolist() == pytest.approx([3.0, 7.0])
    assert plan.opened_in.tolist() == [0, 0, -1, 1]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"years": [2030, 2025], "sites_per_phase": [1, 1]}, "years: must be increasing"),
        ({"years": [2025, 2030]}, "give sites_per_phase or budgets"),
        ({"years": [2025, 2030], "sites_per_phase": [1]}, "sites_per_phase: needs 2 values"),
        ({"years": [2025, 2028, 2030], "sites_per_phase": [1, 1, 1]}, "weights: must have shape"),
    ],
)
def test_bad_parameters(kwargs, message):
    with pytest.raises(InputError, match=message):
        PhasedMCLP.from_coverage(np.eye(2), weights=np.ones((2, 2)), **kwargs)


def test_jiangbei_phased_plan_2025_2028_2030():
    area = load_study_area(ROOT / "gis_data" / "jiangbei.gpkg")
    problem = rs.prepare_red_stations(area, life_circle="10min")
    fit = fit_growth(area.tables["population_history"], families=("linear", "log-linear", "poisson"))
    projections = [fit.project(y) for y in (2025, 2028, 2030)]
    plan, sites = rs.phased_stations(problem, projections, sites_per_phase=[30, 15, 10])
    assert plan.status == "optimal"
    assert [len(s) for s in plan.phase_selected] == [30, 45, 55]
    for a, b in itertools.pairwise(plan.phase_selected):
        assert set(a) <= set(b)  # earlier sites stay open
    assert sites["opens_in"].value_counts().sort_index().tolist() == [30, 15, 10]
    share = plan.phase_covered_share
    assert share[0] < share[1] < share[2]
    # recompute each phase's covered households from geometry: projected demand within 500 m
    demand = problem.demand
    for t, proj in enumerate(projections):
        weights = scale_demand(demand, proj)["households"].to_numpy()
        open_sites = sites.loc[sites["opens_in"] <= proj["year"].iloc[0]]
        tree = shapely.STRtree(open_sites.geometry.to_numpy())
        d_idx, _ = tree.query(demand.geometry.to_numpy(), predicate="dwithin", distance=500.0)
        covered = np.zeros(len(demand), dtype=bool)
        covered[d_idx] = True
        assert weights[covered].sum() == pytest.approx(plan.phase_covered_weight[t], rel=1e-9)


def _served(cov, w, cap, sites):
    """Most weight ``sites`` serve within capacity ``cap`` each (scipy's LP, split demand)."""
    pairs = [(i, j) for j in sites for i in range(cov.shape[0]) if cov[i, j]]
    if not pairs:
        return 0.0
    a = np.zeros((cov.shape[0] + len(sites), len(pairs)))
    for c, (i, j) in enumerate(pairs):
        a[i, c] = 1.0
        a[cov.shape[0] + list(sites).index(j), c] = w[i]
    b = np.concatenate([np.ones(cov.shape[0]), np.full(len(sites), cap)])
    res = linprog(
        -np.array([w[i] for i, _ in pairs]), A_ub=a, b_ub=b, bounds=[(0, 1)] * len(pairs), method="highs"
    )
    return -res.fun


@pytest.mark.parametrize("seed", range(4))
def test_capacitated_phases_equal_brute_force(seed):
    rng = np.random.default_rng(seed)
    cov = rng.random((10, 5)) < 0.4
    w = rng.uniform(1, 10, (2, 10)).cumsum(axis=0)
    cap = 25.0
    plan = PhasedMCLP.from_coverage(
        cov, weights=w, years=[2025, 2030], sites_per_phase=[1, 1], capacity=cap
    ).solve()
    best = -1.0
    for first in itertools.combinations(range(5), 1):
        for add in [(), *[(j,) for j in range(5) if j not in first]]:
            best = max(best, _served(cov, w[0], cap, first) + _served(cov, w[1], cap, first + add))
    assert plan.status == "optimal"
    assert plan.objective == pytest.approx(best, abs=1e-6)
    for t, sites in enumerate(plan.phase_selected):  # each phase's figure is the best service of its sites
        assert plan.phase_covered_weight[t] == pytest.approx(_served(cov, w[t], cap, list(sites)), abs=1e-6)
        assert (np.asarray(plan.load) <= 2 * cap + 1e-6).all()
    again = PhasedMCLP.from_coverage(cov, weights=w, years=[2025, 2030], sites_per_phase=[1, 1], capacity=cap)
    assert again.evaluate(plan.selected, opened_in=plan.opened_in).objective == pytest.approx(plan.objective)


def test_phases_keep_the_group_rule_and_the_demand_shares():
    # sites 0 and 1 cover the west rows, 2 and 3 the east; the group {2, 3} needs a site from the first phase
    cov = np.array([[1, 1, 0, 0]] * 4 + [[0, 0, 1, 1]] * 2)
    w = np.array([[10.0] * 4 + [1.0] * 2, [10.0] * 4 + [1.0] * 2])
    free = PhasedMCLP.from_coverage(cov, weights=w, years=[2025, 2030], sites_per_phase=[1, 0]).solve()
    assert free.phase_selected[0].tolist() in ([0], [1])  # the west first without the rule
    ruled = PhasedMCLP.from_coverage(
        cov, weights=w, years=[2025, 2030], sites_per_phase=[1, 0], groups={"east": [2, 3]}
    ).solve()
    assert set(ruled.phase_selected[0].tolist()) <= {2, 3}
    model = PhasedMCLP.from_coverage(
        cov, weights=w, years=[2025, 2030], sites_per_phase=[1, 0], served_shares={"east": ([4, 5], 0.5)}
    )
    shared = model.solve()
    assert set(shared.phase_selected[0].tolist()) <= {2, 3}
    assert shared.phase_covered_weight.tolist() == pytest.approx([2.0, 2.0])
    bad = model.evaluate([0])  # the west site alone leaves the east with nothing
    assert bad.status == "infeasible"
