"""Sweeps on a Dask cluster: the same rows as in one process, failures kept per combination."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from dask.distributed import Client, LocalCluster
from testdata import ROOT
from typer.testing import CliRunner

import siting.cli.main
import siting.scenarios.distributed
from siting.cli.main import app
from siting.scenarios.schema import load_scenario
from siting.scenarios.sweep import parse_grid, run_sweep

VALID_AREA = ROOT / "tests" / "data" / "study_areas" / "valid"
runner = CliRunner()


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        yield c


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sweep") / "share.yaml"
    path.write_text(
        "name: small-share\n"
        "description: Tiny test area, fewest stations for a share of households.\n"
        f"study_area: {VALID_AREA}\n"
        "facility_type: red_station\n"
        "model:\n  objective: coverage_share\n  radius_m: 150\n  coverage_share: 0.5\n",
        encoding="utf-8",
    )
    return path


def _rows(path: Path) -> pd.DataFrame:
    return pd.read_csv(path / "sweep.csv").drop(columns=["solve_seconds"])


def test_cli_sweep_on_a_scheduler_matches_the_local_run(cluster, scenario, tmp_path):
    local, remote = tmp_path / "local", tmp_path / "remote"
    base = ["sweep", str(scenario), "--set", "radius=150,300", "--set", "p=1:3"]
    assert runner.invoke(app, [*base, "--out", str(local), "--workers", "0"]).exit_code == 0
    result = runner.invoke(app, [*base, "--out", str(remote), "--scheduler", cluster.scheduler_address])
    assert result.exit_code == 0, result.output
    a, b = _rows(local), _rows(remote)
    assert len(a) == 6 and set(a["status"]) == {"optimal"}
    pd.testing.assert_frame_equal(a, b)
    assert a["result_hash"].nunique() == 6


def test_a_failed_combination_keeps_the_others(cluster, scenario):

    sc, base = load_scenario(scenario)
    grid = parse_grid(["share=0.5,0.9,1.0"])
    here = run_sweep(sc, base, grid)
    with Client(cluster) as client:
        seen: list[int] = []
        there = run_sweep(sc, base, grid, client=client, progress=lambda done, n, params: seen.append(done))
    assert sorted(seen) == [1, 2, 3]
    assert list(there["status"]) == ["optimal", "optimal", "failed"]
    assert "at most 94.91% of households are within 150 m" in there["error"].iloc[2]
    pd.testing.assert_frame_equal(here.drop(columns="solve_seconds"), there.drop(columns="solve_seconds"))


def test_cli_reports_failures_and_still_writes_the_rows(scenario, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["sweep", str(scenario), "--set", "share=0.5,1.0", "--out", str(out), "--workers", "0"]
    )
    assert result.exit_code == 1
    assert "failed: share=1.0" in result.output and "Traceback" not in result.output
    frame = pd.read_csv(out / "sweep.csv")
    assert list(frame["status"]) == ["optimal", "failed"]


def test_unreachable_scheduler_names_the_option(scenario, tmp_path, monkeypatch):

    # the CLI calls the `connect` it imported: patch that name (patching siting.scenarios.distributed
    # left the default 10 s timeout in place)
    monkeypatch.setattr(
        siting.cli.main,
        "connect",
        functools.partial(siting.scenarios.distributed.connect, timeout_s=1.0),
    )
    result = runner.invoke(
        app,
        [
            "sweep",
            str(scenario),
            "--set",
            "share=0.5",
            "--out",
            str(tmp_path / "x"),
            "--scheduler",
            "tcp://127.0.0.1:9",
        ],
    )
    assert result.exit_code == 1
    assert "scheduler" in result.output and "tcp://127.0.0.1:9" in result.output
    assert not (tmp_path / "x").exists()


def test_without_dask_a_sweep_runs_here_and_a_cluster_names_the_extra(scenario, tmp_path, monkeypatch):
    # a core install (no `dask` extra): the default sweep runs in this process and says so
    monkeypatch.setattr(siting.cli.main, "dask_available", lambda: False)
    monkeypatch.setattr(siting.scenarios.distributed, "dask_available", lambda: False)
    out = tmp_path / "here"
    result = runner.invoke(app, ["sweep", str(scenario), "--set", "share=0.5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Dask is not installed" in result.output and "siting[dask]" in result.output
    assert list(pd.read_csv(out / "sweep.csv")["status"]) == ["optimal"]
    scheduled = runner.invoke(
        app, ["sweep", str(scenario), "--set", "share=0.5", "--out", str(tmp_path / "x"), "--workers", "2"]
    )
    assert scheduled.exit_code == 1
    assert "needs Dask, which is not installed" in scheduled.output and "siting[dask]" in scheduled.output
    assert "Traceback" not in scheduled.output
