"""The Dask path gives the same matrices as the single-process path (LocalCluster, two workers)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from testdata import ROOT

from siting import network
from siting.errors import InputError
from siting.geo.study_area import load_study_area
from siting.scenarios.distributed import connect, worker_peak_memory_mib


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with connect(n_workers=2, threads_per_worker=1, memory_limit="2GiB") as c:
        yield c


@pytest.fixture(scope="module")
def central() -> tuple[Any, Any, Any]:
    area = load_study_area(ROOT / "gis_data" / "nanjing_central.gpkg")
    g = network.load_network(ROOT / "gis_data" / "raw" / "osm_central_nanjing_2018.osm")
    return g, area.layer("demand"), area.layer("candidates")


def _same(a: Any, b: Any) -> None:
    assert a.shape == b.shape
    assert np.array_equal(a.indptr, b.indptr)
    assert np.array_equal(a.indices, b.indices)
    assert np.array_equal(a.data, b.data)


def test_network_cost_matrix_identical_on_two_workers(client, central):
    g, demand, cands = central
    local = network.cost_matrix(g, demand, cands, cutoff=800)
    dist = network.cost_matrix(g, demand, cands, cutoff=800, client=client)
    assert local.nnz > 100_000
    _same(local, dist)
    assert dist.info.mode == "network"
    assert len(client.nthreads()) == 2
    peaks = worker_peak_memory_mib(client)
    assert len(peaks) == 2
    assert all(v > 10 for v in peaks.values())


def test_network_coverage_and_straight_line_identical(client, central):
    g, demand, cands = central
    _same(
        network.coverage_matrix(g, demand, cands, radius=500),
        network.coverage_matrix(g, demand, cands, radius=500, client=client),
    )
    local = network.coverage_matrix(None, demand, cands, radius=500, circuity=1.2)
    dist = network.coverage_matrix(None, demand, cands, radius=500, circuity=1.2, client=client)
    assert local.nnz > 10_000
    _same(local, dist)


def test_unreachable_scheduler_is_a_clear_error():
    with pytest.raises(InputError) as err, connect("tcp://127.0.0.1:9", timeout_s=1.0):
        pass
    assert "scheduler" in str(err.value)
    assert "tcp://127.0.0.1:9" in str(err.value)


def test_far_points_reported_once_on_the_cluster(client, central):
    g, demand, cands = central
    far = demand.head(50).copy()
    far.loc[far.index[:3], "geometry"] = far.geometry.iloc[:3].translate(5_000, 0)
    with pytest.warns(UserWarning, match="3 demand point"):
        local = network.coverage_matrix(g, far, cands, radius=500)
    with pytest.warns(UserWarning, match="3 demand point"):
        dist = network.coverage_matrix(g, far, cands, radius=500, client=client)
    assert dist.info.demand_far == local.info.demand_far
    assert len(dist.info.demand_far) == 3
    _same(local, dist)
