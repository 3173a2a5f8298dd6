"""One contract for every model class, as scikit-learn's ``check_estimator`` runs one suite over estimators.

Each model is built on a small seeded instance by its one ``from_*`` constructor and must be a
frozen dataclass; ``solve(SolveOptions(...))`` must return a consistent frozen ``SolveResult``
(objective, bound and gap agree with the model's sense; assignment and load match the selected
sites); ``evaluate(result.selected)`` must reproduce the objective (recomputed independently
here where the model is simple); the same seed must give the same answer; bad input must come
back as one ``InputError`` listing every problem.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from siting.errors import InputError
from siting.models import MODELS, PhasedResult, SolveOptions, SolveResult
from siting.models.base import relative_gap
from siting.models.coverage.backup import BackupCoverage
from siting.models.coverage.capacitated import CapacitatedMCLP
from siting.models.coverage.lscp import LSCP
from siting.models.coverage.mclp import MCLP
from siting.models.coverage.phased import PhasedMCLP
from siting.models.median.capacitated import CapacitatedPMedian
from siting.models.median.pcenter import PCenter
from siting.models.median.pmedian import PMedian

RNG_SEED = 20261203
N_DEMAND, N_SITES, RADIUS = 40, 12, 330.0


def _instance() -> tuple[np.ndarray, np.ndarray]:
    """Distances (metres) of 40 demand points to 12 candidates in a 1 km square, and weights."""
    rng = np.random.default_rng(RNG_SEED)
    dist = cdist(rng.uniform(0, 1000, (N_DEMAND, 2)), rng.uniform(0, 1000, (N_SITES, 2)))
    weights = rng.integers(1, 40, N_DEMAND).astype(float)
    return dist, weights


DIST, W = _instance()
COVER = DIST <= RADIUS
assert COVER.any(axis=1).all(), "every demand point must be coverable (LSCP)"

#: How to build each model from the instance, with the keywords of its one constructor.
BUILD: dict[type, Callable[..., Any]] = {
    LSCP: lambda **kw: LSCP.from_coverage(COVER, weights=W, **kw),
    MCLP: lambda **kw: MCLP.from_coverage(COVER, weights=W, p=3, **kw),
    BackupCoverage: lambda **kw: BackupCoverage.from_coverage(COVER, weights=W, **kw),
    CapacitatedMCLP: lambda **kw: CapacitatedMCLP.from_coverage(COVER, weights=W, capacity=150.0, p=4, **kw),
    PhasedMCLP: lambda **kw: PhasedMCLP.from_coverage(
        COVER,
        weights=np.stack([W, 1.2 * W, 1.5 * W]),
        years=[2025, 2028, 2030],
        sites_per_phase=[2, 1, 1],
        **kw,
    ),
    PMedian: lambda **kw: PMedian.from_cost_matrix(DIST, weights=W, p=3, **kw),
    PCenter: lambda **kw: PCenter.from_cost_matrix(DIST, weights=W, p=3, **kw),
    CapacitatedPMedian: lambda **kw: CapacitatedPMedian.from_cost_matrix(
        DIST, demand=W, capacity=400.0, p=4, **kw
    ),
}


#: Each model's objective recomputed from the selected sites, independently of the models.
def _covered(sel: np.ndarray) -> np.ndarray:
    return COVER[:, sel].sum(axis=1)


OBJECTIVE: dict[type, Callable[[np.ndarray], float]] = {
    LSCP: lambda sel: float(sel.size),
    MCLP: lambda sel: float(W[_covered(sel) >= 1].sum()),
    BackupCoverage: lambda sel: float(W[_covered(sel) >= 2].sum()),
    PMedian: lambda sel: float(W @ DIST[:, sel].min(axis=1)),
    PCenter: lambda sel: float(DIST[:, sel].min(axis=1).max()),
}


def test_every_model_class_is_covered() -> None:
    assert set(MODELS) == set(BUILD)


def _evaluate(model: Any, result: SolveResult) -> SolveResult:
    """Re-score a result: a phased plan needs the phase in which each site opens."""
    if isinstance(result, PhasedResult):
        return model.evaluate(result.selected, opened_in=result.opened_in)
    return model.evaluate(result.selected)


def _check_consistent(model_cls: type, res: SolveResult, *, proven: bool) -> None:
    assert isinstance(res, SolveResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.objective = 0.0  # type: ignore[misc]
    sel = np.asarray(res.selected)
    assert sel.tolist() == sorted(set(sel.tolist()))
    assert np.isfinite(res.objective)
    if proven:
        assert res.gap == pytest.approx(relative_gap(res.objective, res.bound), abs=1e-12)
        if model_cls.SENSE == "max":
            assert res.bound >= res.objective - 1e-6 * max(1.0, abs(res.objective))
        else:
            assert res.bound <= res.objective + 1e-6 * max(1.0, abs(res.objective))
        if res.status == "optimal":
            assert res.gap <= 1e-6
    else:  # an evaluation proves nothing
        assert np.isnan(res.bound)
        assert np.isnan(res.gap)
    assigned = np.asarray(res.assignment)
    assert assigned.shape == (N_DEMAND,)
    assert set(assigned[assigned >= 0].tolist()) <= set(sel.tolist())
    load = np.asarray(res.load)
    assert load.shape == (N_SITES,)
    outside = np.setdiff1d(np.arange(N_SITES), sel)
    assert np.all(load[outside] == 0)
    assert load.sum() == pytest.approx(res.covered_weight)
    assert res.covered_weight <= res.total_weight + 1e-9


@pytest.mark.parametrize("model_cls", MODELS, ids=lambda c: c.__name__)
def test_frozen_dataclass_with_one_constructor(model_cls: type) -> None:
    assert dataclasses.is_dataclass(model_cls)
    model = BUILD[model_cls]()
    assert isinstance(model, model_cls)
    field = dataclasses.fields(model)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(model, field, None)
    constructors = [
        name
        for name, member in inspect.getmembers(model_cls)
        if name.startswith("from_") and inspect.ismethod(member)
    ]
    assert constructors in (["from_coverage"], ["from_cost_matrix"])
    assert model_cls.SENSE in ("max", "min")


@pytest.mark.parametrize("model_cls", MODELS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("method", ["exact", "heuristic"])
def test_solve_is_consistent_and_evaluate_reproduces_it(model_cls: type, method: str) -> None:
    model = BUILD[model_cls]()
    res = model.solve(SolveOptions(method=method, time_limit=60, seed=1))
    assert res.status in ("optimal", "feasible", "time_limit")
    _check_consistent(model_cls, res, proven=True)
    again = _evaluate(model, res)
    assert again.status == "feasible", again.reason
    assert again.solver == "evaluate"
    assert again.objective == pytest.approx(res.objective, rel=1e-9)
    assert np.asarray(again.selected).tolist() == np.asarray(res.selected).tolist()
    _check_consistent(model_cls, again, proven=False)
    if model_cls in OBJECTIVE:
        assert res.objective == pytest.approx(OBJECTIVE[model_cls](np.asarray(res.selected)), rel=1e-9)


@pytest.mark.parametrize("model_cls", MODELS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("method", ["exact", "heuristic"])
def test_same_seed_same_answer(model_cls: type, method: str) -> None:
    opts = SolveOptions(method=method, seed=7, time_limit=60)
    a, b = BUILD[model_cls]().solve(opts), BUILD[model_cls]().solve(opts)
    assert np.asarray(a.selected).tolist() == np.asarray(b.selected).tolist()
    assert a.objective == b.objective
    assert a.status == b.status


@pytest.mark.parametrize("model_cls", MODELS, ids=lambda c: c.__name__)
def test_evaluate_names_broken_rules_and_bad_indices(model_cls: type) -> None:
    model = BUILD[model_cls](fixed=[0])
    res = model.evaluate(np.array([1, 2]))  # leaves the fixed site 0 closed
    assert res.status == "infeasible"
    assert "fixed sites 0" in res.reason
    with pytest.raises(InputError, match="selected"):
        model.evaluate([0, N_SITES])


@pytest.mark.parametrize("model_cls", MODELS, ids=lambda c: c.__name__)
def test_bad_input_is_one_error_listing_every_problem(model_cls: type) -> None:
    with pytest.raises(InputError) as err:
        BUILD[model_cls](fixed=[N_SITES + 5], forbidden=[-1])
    wheres = [p.where for p in err.value.problems]
    assert {"fixed", "forbidden"} <= set(wheres), wheres


@pytest.mark.parametrize(
    ("kw", "where"),
    [
        ({"method": "magic"}, "method"),
        ({"time_limit": 0}, "time_limit"),
        ({"mip_gap": 1.5}, "mip_gap"),
        ({"threads": 0}, "threads"),
        ({"seed": 1.5}, "seed"),
    ],
)
def test_bad_solve_options_name_the_option(kw: dict[str, Any], where: str) -> None:
    with pytest.raises(InputError, match=f"{where}:"):
        SolveOptions(**kw)
