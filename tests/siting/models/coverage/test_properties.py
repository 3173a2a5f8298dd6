"""Property tests for the coverage models on small random instances.

Exact answers equal a brute force over every subset of candidates (written here,
independent of the models); heuristic answers are bracketed by the optimum and their
own bound; results are deterministic for a seed.
"""

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import maximum_flow

from siting.models import SolveOptions
from siting.models.coverage.backup import BackupCoverage
from siting.models.coverage.capacitated import CapacitatedMCLP
from siting.models.coverage.lscp import LSCP
from siting.models.coverage.mclp import MCLP
from siting.models.rules import SiteRules

FAST = settings(max_examples=40, deadline=None, derandomize=True, database=None)
FEW = settings(max_examples=30, deadline=None, derandomize=True, database=None)
TOL = 1e-6


# --- instances ---------------------------------------------------------------------------


@st.composite
def instances(draw, max_m=8, max_n=15, rules=True, need_p=False, coverable=False):
    """A random coverage matrix, integer weights and random site rules (as keyword arguments).

    With ``coverable`` (the set-cover models) every row gets at least one covering
    candidate and ``p`` may be left out without a budget (LSCP-B: p = LSCP optimum);
    otherwise ``p`` or a budget is always given (MCLP needs one).
    """
    m = draw(st.integers(2, max_m))
    n = draw(st.integers(1, max_n))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    cov = rng.random((n, m)) < rng.uniform(0.15, 0.6)
    if coverable:
        cov[np.arange(n), rng.integers(0, m, size=n)] = True
    weights = rng.integers(0, 10, size=n).astype(float)
    kw: dict = {"weights": weights}
    if draw(st.booleans()) or need_p:
        kw["p"] = int(rng.integers(1, m + 1))
    if rules:
        order = rng.permutation(m)
        n_fixed, n_forb = draw(st.integers(0, 2)), draw(st.integers(0, 2))
        if n_fixed:
            kw["fixed"] = sorted(order[:n_fixed].tolist())
        if n_forb:
            kw["forbidden"] = sorted(order[n_fixed : n_fixed + n_forb].tolist())
        if draw(st.booleans()):
            kw["site_cost"] = rng.integers(1, 6, size=m).astype(float)
            kw["budget"] = float(rng.integers(1, 3 * m))
        if draw(st.booleans()):
            n_groups = int(rng.integers(1, 3))
            kw["groups"] = {
                f"g{k}": sorted(rng.choice(m, size=int(rng.integers(1, m + 1)), replace=False).tolist())
                for k in range(n_groups)
            }
            kw["min_per_group"] = int(rng.integers(1, 3))
    if "p" not in kw and "budget" not in kw and not coverable:
        kw["p"] = int(rng.integers(1, m + 1))
    return cov, kw


def all_subsets(m):
    """Every subset of range(m) as rows of a boolean matrix, shape (2**m, m)."""
    codes = np.arange(2**m)
    return ((codes[:, None] >> np.arange(m)) & 1).astype(bool)


def rule_mask(y, kw, p):
    """Which subsets (rows of ``y``) meet p, fixed, forbidden, budget and the groups."""
    ok = np.ones(len(y), dtype=bool)
    if p is not None:
        ok &= y.sum(axis=1) <= p
    if kw.get("fixed"):
        ok &= y[:, kw["fixed"]].all(axis=1)
    if kw.get("forbidden"):
        ok &= ~y[:, kw["forbidden"]].any(axis=1)
    if kw.get("budget") is not None:
        ok &= y @ kw["site_cost"] <= kw["budget"] + 1e-9
    for members in (kw.get("groups") or {}).values():
        ok &= y[:, members].sum(axis=1) >= kw.get("min_per_group", 1)
    return ok


def cover_counts(cov, y):
    return y.astype(np.int64) @ cov.T.astype(np.int64)  # (subsets, rows)


def brute_mclp(cov, kw):
    y = all_subsets(cov.shape[1])
    ok = rule_mask(y, kw, kw.get("p"))
    if not ok.any():
        return None
    return float(((cover_counts(cov, y[ok]) >= 1) @ kw["weights"]).max())


def brute_lscp(cov, kw):
    y = all_subsets(cov.shape[1])
    ok = rule_mask(y, kw, kw.get("p")) & (cover_counts(cov, y) >= 1).all(axis=1)
    if not ok.any():
        return None
    return float(y[ok].sum(axis=1).min())


def brute_backup(cov, kw):
    m = cov.shape[1]
    p = kw.get("p")
    if p is None:
        if kw.get("budget") is None:
            lscp = brute_lscp(cov, kw)
            if lscp is None:
                return None
            p = int(lscp)
        else:
            p = m
    y = all_subsets(m)
    counts = cover_counts(cov, y)
    ok = rule_mask(y, kw, p) & (counts >= 1).all(axis=1)
    if not ok.any():
        return None
    return float(((counts[ok] >= 2) @ kw["weights"]).max())


def served_by_flow(cov, weights, capacity, sites):
    """Most weight the open ``sites`` can serve with split demand: a max flow (integer data)."""
    n, _ = cov.shape
    rows, cols = np.nonzero(cov[:, sites] & (weights[:, None] > 0))
    k = len(sites)
    # nodes: 0 source, 1..n demand, n+1..n+k sites, n+k+1 sink
    src = np.concatenate([np.zeros(n, int), 1 + rows, n + 1 + np.arange(k)])
    dst = np.concatenate([1 + np.arange(n), n + 1 + cols, np.full(k, n + k + 1)])
    cap = np.concatenate([weights, np.full(rows.size, weights.sum()), capacity[sites]]).astype(np.int32)
    graph = sp.csr_matrix((cap, (src, dst)), shape=(n + k + 2, n + k + 2))
    return float(maximum_flow(graph, 0, n + k + 1).flow_value)


def served_single_source(cov, weights, capacity, sites):
    """Most weight the open ``sites`` can serve when each row goes wholly to one site (enumeration)."""
    rows = [i for i in range(cov.shape[0]) if weights[i] > 0 and cov[i, sites].any()]
    options = [[-1, *[j for j in sites if cov[i, j]]] for i in rows]
    best = 0.0
    for choice in itertools.product(*options):
        load = np.zeros(cov.shape[1])
        for i, j in zip(rows, choice, strict=True):
            if j >= 0:
                load[j] += weights[i]
        if (load <= capacity + 1e-9).all():
            best = max(best, float(load.sum()))
    return best


def brute_cmclp(cov, kw, capacity, single_source=False):
    y = all_subsets(cov.shape[1])
    ok = rule_mask(y, kw, kw.get("p"))
    if not ok.any():
        return None
    feasible = y[ok]
    # serving only grows with more open sites: only maximal feasible subsets matter
    codes = feasible @ (1 << np.arange(cov.shape[1]))
    code_set = set(codes.tolist())
    maximal = [
        row
        for row, c in zip(feasible, codes, strict=True)
        if not any((c | (1 << j)) in code_set for j in range(cov.shape[1]) if not row[j])
    ]
    serve = served_single_source if single_source else served_by_flow
    return max(serve(cov, kw["weights"], capacity, np.flatnonzero(row)) for row in maximal)


def check_rules(res, cov, kw, p):
    rules = SiteRules.build(
        cov.shape[1],
        fixed=kw.get("fixed"),
        forbidden=kw.get("forbidden"),
        site_cost=kw.get("site_cost"),
        budget=kw.get("budget"),
        groups=kw.get("groups"),
        min_per_group=kw.get("min_per_group", 1),
    )
    assert rules.satisfied_by(res.selected, p=p)


def covered(cov, weights, selected, level=1):
    return float(weights[cov[:, selected].sum(axis=1) >= level].sum())


def heuristic_infeasible_ok(res, opt):
    """A heuristic may fail to find a feasible answer only when it says it is no proof."""
    assert res.status == "infeasible"
    if opt is not None:
        assert "not a proof" in res.reason


# --- MCLP --------------------------------------------------------------------------------


@FAST
@given(instances())
def test_mclp_exact_equals_brute_force(inst):
    cov, kw = inst
    opt = brute_mclp(cov, kw)
    res = MCLP.from_coverage(cov, **kw).solve(SolveOptions(method="exact"))
    if opt is None:
        assert res.status == "infeasible"
        assert res.reason
        return
    assert res.status == "optimal"
    assert res.objective == pytest.approx(opt)
    assert res.objective == covered(cov, kw["weights"], res.selected)
    assert res.bound >= res.objective - TOL
    check_rules(res, cov, kw, kw.get("p"))


@FAST
@given(instances())
def test_mclp_heuristic_bracketed(inst):
    cov, kw = inst
    opt = brute_mclp(cov, kw)
    res = MCLP.from_coverage(cov, **kw).solve(SolveOptions(method="heuristic", seed=1))
    if res.status == "infeasible":
        heuristic_infeasible_ok(res, opt)
        return
    assert opt is not None
    assert res.objective <= opt + TOL
    assert res.bound >= opt - TOL
    assert res.objective == covered(cov, kw["weights"], res.selected)
    check_rules(res, cov, kw, kw.get("p"))
    again = MCLP.from_coverage(cov, **kw).solve(SolveOptions(method="heuristic", seed=1))
    assert again.selected.tolist() == res.selected.tolist()
    assert (again.objective, again.bound) == (res.objective, res.bound)


@FAST
@given(instances(rules=False, need_p=True))
def test_mclp_heuristic_without_rules_is_always_feasible(inst):
    cov, kw = inst
    opt = brute_mclp(cov, kw)
    res = MCLP.from_coverage(cov, **kw).solve(SolveOptions(method="heuristic", seed=3))
    assert res.status in {"optimal", "feasible"}
    assert res.objective <= opt + TOL <= res.bound + 2 * TOL
    if res.status == "optimal":
        assert res.objective == pytest.approx(opt)


# --- LSCP --------------------------------------------------------------------------------


@FAST
@given(instances(max_n=12, coverable=True))
def test_lscp_exact_equals_brute_force(inst):
    cov, kw = inst
    opt = brute_lscp(cov, kw)
    res = LSCP.from_coverage(cov, **kw).solve(SolveOptions(method="exact"))
    if opt is None:
        assert res.status == "infeasible"
        assert res.reason
        return
    assert res.status == "optimal"
    assert res.objective == opt == res.selected.size
    assert res.bound <= res.objective
    assert (cov[:, res.selected].any(axis=1)).all()
    check_rules(res, cov, kw, kw.get("p"))


@FAST
@given(instances(max_n=12, coverable=True))
def test_lscp_heuristic_bracketed(inst):
    cov, kw = inst
    opt = brute_lscp(cov, kw)
    res = LSCP.from_coverage(cov, **kw).solve(SolveOptions(method="heuristic", seed=2))
    if res.status == "infeasible":
        # the heuristic falls back to the MIP on small instances, so it never misses a cover
        assert opt is None
        assert res.reason
        return
    assert opt is not None
    assert res.objective >= opt
    assert res.bound <= opt
    assert res.objective == res.selected.size
    assert (cov[:, res.selected].any(axis=1)).all()
    check_rules(res, cov, kw, kw.get("p"))
    again = LSCP.from_coverage(cov, **kw).solve(SolveOptions(method="heuristic", seed=2))
    assert again.selected.tolist() == res.selected.tolist()
    assert again.bound == res.bound


# --- backup coverage ---------------------------------------------------------------------


@FAST
@given(instances(max_n=12, coverable=True))
def test_backup_exact_equals_brute_force(inst):
    cov, kw = inst
    opt = brute_backup(cov, kw)
    res = BackupCoverage.from_coverage(cov, **kw).solve(SolveOptions(method="exact"))
    if opt is None:
        assert res.status == "infeasible"
        assert res.reason
        return
    assert res.status == "optimal"
    assert res.objective == pytest.approx(opt)
    assert res.objective == covered(cov, kw["weights"], res.selected, level=2)
    assert (cov[:, res.selected].any(axis=1)).all()
    assert res.bound >= res.objective - TOL
    check_rules(res, cov, kw, int(res.extra["p"]) if np.isfinite(res.extra["p"]) else None)


@FAST
@given(instances(max_n=12, coverable=True))
def test_backup_heuristic_bracketed(inst):
    cov, kw = inst
    opt = brute_backup(cov, kw)
    res = BackupCoverage.from_coverage(cov, **kw).solve(SolveOptions(method="heuristic", seed=4))
    if res.status == "infeasible":
        heuristic_infeasible_ok(res, opt)
        return
    assert opt is not None
    assert res.objective <= opt + TOL
    assert res.bound >= opt - TOL
    assert res.objective == covered(cov, kw["weights"], res.selected, level=2)
    assert (cov[:, res.selected].any(axis=1)).all()
    again = BackupCoverage.from_coverage(cov, **kw).solve(SolveOptions(method="heuristic", seed=4))
    assert again.selected.tolist() == res.selected.tolist()
    assert (again.objective, again.bound) == (res.objective, res.bound)


@st.composite
def set_cover_instances(draw):
    """Coverable instances without rules or p: spopt's LSCP-B (p = the LSCP optimum)."""
    cov, kw = draw(instances(max_n=15, rules=False, coverable=True))
    kw.pop("p", None)
    return cov, kw


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(set_cover_instances())
def test_lscp_b_heuristic_uses_the_lscp_optimum(inst):
    cov, kw = inst
    p_opt = brute_lscp(cov, kw)
    opt = brute_backup(cov, kw)
    res = BackupCoverage.from_coverage(cov, **kw).solve(SolveOptions(method="heuristic", seed=6))
    assert res.status in {"optimal", "feasible"}
    assert res.extra["p"] == p_opt
    assert res.selected.size <= p_opt
    assert res.objective <= opt + TOL <= res.bound + 2 * TOL
    assert (cov[:, res.selected].any(axis=1)).all()


# --- capacitated MCLP --------------------------------------------------------------------


@st.composite
def capacitated(draw, max_m=7, max_n=10):
    cov, kw = draw(instances(max_m=max_m, max_n=max_n))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    capacity = rng.integers(1, 15, size=cov.shape[1]).astype(float)
    return cov, kw, capacity


@FAST
@given(capacitated())
def test_cmclp_exact_equals_brute_force(inst):
    cov, kw, capacity = inst
    opt = brute_cmclp(cov, kw, capacity)
    res = CapacitatedMCLP.from_coverage(cov, capacity=capacity, **kw).solve(SolveOptions(method="exact"))
    if opt is None:
        assert res.status == "infeasible"
        return
    assert res.status == "optimal"
    assert res.objective == pytest.approx(opt, abs=1e-5)
    assert res.bound >= res.objective - 1e-5
    assert (res.load <= capacity + 1e-6).all()
    assert res.load.sum() == pytest.approx(res.objective, abs=1e-5)
    check_rules(res, cov, kw, kw.get("p"))


@FAST
@given(capacitated())
def test_cmclp_heuristic_bracketed(inst):
    cov, kw, capacity = inst
    opt = brute_cmclp(cov, kw, capacity)
    res = CapacitatedMCLP.from_coverage(cov, capacity=capacity, **kw).solve(
        SolveOptions(method="heuristic", seed=5)
    )
    if res.status == "infeasible":
        heuristic_infeasible_ok(res, opt)
        return
    assert opt is not None
    assert res.objective <= opt + 1e-5
    assert res.bound >= opt - 1e-5
    assert (res.load <= capacity + 1e-6).all()
    check_rules(res, cov, kw, kw.get("p"))
    again = CapacitatedMCLP.from_coverage(cov, capacity=capacity, **kw).solve(
        SolveOptions(method="heuristic", seed=5)
    )
    assert again.selected.tolist() == res.selected.tolist()
    assert (again.objective, again.bound) == (res.objective, res.bound)


@FEW
@given(capacitated(max_m=5, max_n=6))
def test_cmclp_single_source_equals_brute_force(inst):
    cov, kw, capacity = inst
    opt = brute_cmclp(cov, kw, capacity, single_source=True)
    model = CapacitatedMCLP.from_coverage(cov, capacity=capacity, single_source=True, **kw)
    res = model.solve(SolveOptions(method="exact"))
    if opt is None:
        assert res.status == "infeasible"
        return
    assert res.status == "optimal"
    assert res.objective == pytest.approx(opt, abs=1e-6)
    assert res.extra["split_demand"] == 0.0
    heur = model.solve(SolveOptions(method="heuristic"))
    if heur.status != "infeasible":
        assert heur.objective <= opt + 1e-6
        assert heur.bound >= opt - 1e-6
        assert heur.extra["split_demand"] == 0.0
