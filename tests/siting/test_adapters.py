"""The GeoDataFrame adapters: the model built from layers equals the model built from the matrix."""

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from shapely.geometry import Point

from siting.adapters import from_geodataframes
from siting.models import SolveOptions
from siting.models.coverage.backup import BackupCoverage
from siting.models.coverage.capacitated import CapacitatedMCLP
from siting.models.coverage.lscp import LSCP
from siting.models.coverage.mclp import MCLP
from siting.models.median.pmedian import PMedian


def test_from_geodataframes_matches_straight_line_matrix():
    gpd = pytest.importorskip("geopandas")

    rng = np.random.default_rng(3)
    origin = np.array([440_000.0, 3_500_000.0])  # UTM 50N, metres
    dxy = origin + rng.uniform(0, 3000, size=(30, 2))
    cxy = origin + rng.uniform(0, 3000, size=(8, 2))
    hh = rng.integers(1, 50, size=30).astype(float)
    demand = gpd.GeoDataFrame({"households": hh}, geometry=[Point(x, y) for x, y in dxy], crs="EPSG:32650")
    cand = gpd.GeoDataFrame(geometry=[Point(x, y) for x, y in cxy], crs="EPSG:32650")
    radius = 800.0
    dist = cdist(dxy, cxy)
    assert np.abs(dist - radius).min() > 1e-3  # no pair on the boundary
    for kw in ({"p": 3}, {"p": 3, "fixed": [5], "forbidden": [0]}):
        geo = from_geodataframes(MCLP, demand, cand, radius=radius, **kw).solve()
        ref = MCLP.from_coverage(dist <= radius, weights=hh, **kw).solve()
        assert geo.selected.tolist() == ref.selected.tolist()
        assert geo.objective == ref.objective
        assert geo.assignment.tolist() == ref.assignment.tolist()
    unit = from_geodataframes(MCLP, demand, cand, radius=radius, weight_column=None, p=2).solve()
    assert unit.objective == MCLP.from_coverage(dist <= radius, p=2).solve().objective
    assert unit.total_weight == 30.0


@pytest.mark.parametrize(
    ("model", "kw"),
    [
        (MCLP, {"p": 3}),
        (LSCP, {}),
        (BackupCoverage, {}),
        (BackupCoverage, {"p": 6}),
        (CapacitatedMCLP, {"p": 3, "capacity": 60.0}),
    ],
)
def test_from_geodataframes_equals_from_coverage(model, kw):
    gpd = pytest.importorskip("geopandas")

    rng = np.random.default_rng(11)
    origin = np.array([440_000.0, 3_500_000.0])  # UTM 50N, metres
    dxy = origin + rng.uniform(0, 2000, size=(25, 2))
    cxy = origin + rng.uniform(0, 2000, size=(8, 2))
    hh = rng.integers(1, 30, size=25).astype(float)
    radius = 900.0
    dist = cdist(dxy, cxy)
    assert np.abs(dist - radius).min() > 1e-3
    coverage = dist <= radius
    assert coverage.any(axis=1).all()  # LSCP-feasible
    demand = gpd.GeoDataFrame({"households": hh}, geometry=[Point(*xy) for xy in dxy], crs="EPSG:32650")
    cands = gpd.GeoDataFrame(
        {"name": [f"s{j}" for j in range(8)]}, geometry=[Point(*xy) for xy in cxy], crs="EPSG:32650"
    )
    geo = from_geodataframes(model, demand, cands, radius=radius, **kw).solve(SolveOptions(method="exact"))
    ref = model.from_coverage(coverage, weights=hh, **kw).solve(SolveOptions(method="exact"))
    assert geo.status == ref.status == "optimal"
    assert geo.selected.tolist() == ref.selected.tolist()
    assert geo.objective == pytest.approx(ref.objective)
    assert geo.total_weight == hh.sum()


def test_from_geodataframes_pmedian():
    gpd = pytest.importorskip("geopandas")

    demand = gpd.GeoDataFrame(
        {"households": [1.0, 2.0, 3.0]},
        geometry=[Point(0, 0), Point(100, 0), Point(1000, 0)],
        crs="EPSG:32650",
    )
    candidates = gpd.GeoDataFrame(geometry=[Point(50, 0), Point(900, 0)], crs="EPSG:32650")
    res = from_geodataframes(PMedian, demand, candidates, p=1).solve()
    # site 0: 1*50 + 2*50 + 3*950 = 3000; site 1: 900 + 2*800 + 3*100 = 2800
    assert res.selected.tolist() == [1]
    assert res.objective == pytest.approx(2800.0)
