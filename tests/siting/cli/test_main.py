"""The siting command line: run, compare, sweep, validate, report and serve on a tiny study area."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from testdata import ROOT
from typer.testing import CliRunner

from siting.cli.main import app
from siting.reports.serve import make_server
from siting.scenarios.schema import load_scenario
from siting.scenarios.sweep import parse_grid, parse_values, run_sweep

VALID_AREA = ROOT / "tests" / "data" / "study_areas" / "valid"
RADII = (150, 250, 300)

runner = CliRunner()


def scenario_text(radius: int, *, p: int = 2, name: str | None = None) -> str:
    return (
        f"name: {name or f'small-{radius}m'}\n"
        f"description: Tiny test area, {radius} m, best {p} stations.\n"
        f"study_area: {VALID_AREA}\n"
        "facility_type: red_station\n"
        f"model:\n  objective: max_coverage\n  radius_m: {radius}\n  p: {p}\n  curve: [1, 2, 3]\n"
    )


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    folder = tmp_path_factory.mktemp("scenarios")
    out = {}
    for r in RADII:
        out[r] = folder / f"small_{r}.yaml"
        out[r].write_text(scenario_text(r), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def run_dir(scenarios: dict[int, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "run"
    result = runner.invoke(app, ["run", str(scenarios[300]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_run_writes_the_output_folder(run_dir: Path) -> None:
    assert {p.name for p in run_dir.iterdir()} >= {
        "result.gpkg",
        "sites.geojson",
        "summary.json",
        "report.html",
        "map.png",
        "curve.png",
        "assets",
    }
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["scenario"]["name"] == "small-300m"
    assert summary["status"] == "optimal" and summary["gap"] == pytest.approx(0.0, abs=1e-9)
    assert len(summary["scenario_hash"]) == len(summary["data_hash"]) == len(summary["result_hash"]) == 64
    assert summary["versions"]["siting"] and summary["data_sources"]["layers"]["demand"]["features"] == 24


def test_sites_geojson_is_rfc7946_in_nanjing(run_dir: Path) -> None:
    doc = json.loads((run_dir / "sites.geojson").read_text())
    assert doc["type"] == "FeatureCollection" and "crs" not in doc
    assert len(doc["features"]) == 2
    for f in doc["features"]:
        assert f["type"] == "Feature" and f["geometry"]["type"] == "Point"
        lon, lat = f["geometry"]["coordinates"]
        assert 118.3 < lon < 119.3 and 31.2 < lat < 32.7  # lon first, WGS84 degrees, Nanjing
        assert len(str(lon).split(".")[-1]) <= 7
        assert f["properties"]["site_id"]
    west, south, east, north = doc["bbox"]
    assert west <= east and south <= north and 118.3 < west < 119.3


def test_malformed_scenario_names_the_key_and_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(scenario_text(300).replace("radius_m:", "radius_mm:"), encoding="utf-8")
    out = tmp_path / "runs" / "bad"
    result = runner.invoke(app, ["run", str(bad), "--out", str(out)])
    assert result.exit_code == 1
    assert "model.radius_mm" in result.output and "unknown key" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()
    assert not (tmp_path / "runs").exists() or list((tmp_path / "runs").iterdir()) == []


def test_failing_run_leaves_no_partial_folder(tmp_path: Path) -> None:
    # valid schema, but the study area has no street network: fails inside the run
    sc = tmp_path / "net.yaml"
    sc.write_text(scenario_text(300) + "distance: network\n", encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(sc), "--out", str(out)])
    assert result.exit_code == 1 and "distance" in result.output and "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == [sc]


def test_validate_accepts_a_scenario(scenarios: dict[int, Path], tmp_path: Path) -> None:
    ok = runner.invoke(app, ["validate", str(scenarios[150])])
    assert ok.exit_code == 0, ok.output
    assert "small-150m" in ok.output and "valid" in ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(scenario_text(150).replace("objective: max_coverage", "objective: max_cover"))
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 1 and "model.objective" in result.output and "Traceback" not in result.output
    as_json = runner.invoke(app, ["validate", str(scenarios[150]), "--json"])
    assert json.loads(as_json.stdout)["scenario"]["model"]["radius_m"] == 150


def test_compare_three_radii(scenarios: dict[int, Path], tmp_path: Path) -> None:
    out = tmp_path / "compare"
    result = runner.invoke(app, ["compare", *[str(scenarios[r]) for r in RADII], "--out", str(out)])
    assert result.exit_code == 0, result.output
    html_text = (out / "report.html").read_text(encoding="utf-8")
    for r in RADII:
        assert f"small-{r}m" in html_text
        assert (out / f"small-{r}m" / "report.html").is_file()
        assert f'href="small-{r}m/report.html"' in html_text
    table = pd.read_csv(out / "compare.csv").set_index("radius_m")
    assert list(table["scenario"]) == [f"small-{r}m" for r in RADII]
    assert table["covered_share"].is_monotonic_increasing  # same p, larger radius: never less covered
    assert table.loc[150.0, "covered_share"] == pytest.approx(1070.968 / 2177.419, abs=1e-4)
    assert {"curves.png", "maps.png", "compare.json"} <= {p.name for p in out.iterdir()}


def test_compare_reads_run_folders_and_rerenders(
    run_dir: Path, scenarios: dict[int, Path], tmp_path: Path
) -> None:
    out = tmp_path / "cmp"
    result = runner.invoke(app, ["compare", str(run_dir), str(scenarios[150]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "compare.json").read_text())
    assert [s["label"] for s in doc["scenarios"]] == ["small-300m", "small-150m"]
    assert not (out / "small-300m").exists()  # linked, not copied
    (out / "report.html").unlink()
    again = runner.invoke(app, ["report", str(out)])
    assert again.exit_code == 0, again.output
    assert "small-300m" in (out / "report.html").read_text(encoding="utf-8")


def test_compare_checks_every_scenario_before_running(scenarios: dict[int, Path], tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(scenario_text(200).replace("p: 2", "p: -1"))
    out = tmp_path / "compare"
    result = runner.invoke(app, ["compare", str(scenarios[150]), str(bad), "--out", str(out)])
    assert result.exit_code == 1 and "bad.yaml: model.p" in result.output
    assert not out.exists()


def test_sweep_writes_a_monotone_coverage_curve(scenarios: dict[int, Path], tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    args = ["sweep", str(scenarios[150]), "--set", "radius=150,300", "--set", "p=1:3", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out / "sweep.csv")
    assert len(frame) == 6 and set(frame["status"]) == {"optimal"}
    table = frame.pivot(index="p", columns="radius", values="covered_share")
    assert (table.diff().dropna() >= -1e-9).all().all()  # non-decreasing in p
    assert (table[300] >= table[150] - 1e-9).all()  # and in radius
    assert table.loc[3, 300] == pytest.approx(1.0)
    assert {"sweep.png", "report.html", "sweep.json"} <= {p.name for p in out.iterdir()}
    assert runner.invoke(app, ["report", str(out)]).exit_code == 0


def test_sweep_rejects_bad_sets(scenarios: dict[int, Path], tmp_path: Path) -> None:
    for bad, named in (("radius", "--set radius"), ("p=5:1", "--set p"), ("p=0,1", "model.p")):
        result = runner.invoke(
            app, ["sweep", str(scenarios[150]), "--set", bad, "--out", str(tmp_path / "s")]
        )
        assert result.exit_code == 1 and named in result.output, (bad, result.output)
        assert "Traceback" not in result.output and not (tmp_path / "s").exists()


def test_run_sweep_is_importable_and_pure(scenarios: dict[int, Path]) -> None:
    sc, base = load_scenario(scenarios[300])
    grid = parse_grid(["p=1,2"])
    frame = run_sweep(sc, base, grid)
    assert list(frame["p"]) == [1, 2] and frame["marginal_per_station"].iloc[1] == pytest.approx(850.0)
    again = run_sweep(sc, base, grid)
    assert frame.drop(columns="solve_seconds").equals(again.drop(columns="solve_seconds"))
    assert parse_values("10:100:10") == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    assert parse_values("0.5:1:0.25") == [0.5, 0.75, 1.0]
    assert parse_values("300, 500,1000") == [300, 500, 1000]


def test_report_rerenders_a_run_folder(run_dir: Path) -> None:
    (run_dir / "report.html").unlink()
    result = runner.invoke(app, ["report", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert (run_dir / "report.html").is_file()
    missing = runner.invoke(app, ["report", str(run_dir / "nope")])
    assert missing.exit_code == 1 and "not a run folder" in missing.output


@pytest.fixture
def server(run_dir: Path) -> Iterator[str]:
    srv = make_server(run_dir.parent, port=0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


def test_serve_lists_and_serves_reports(server: str) -> None:
    with urllib.request.urlopen(f"{server}/", timeout=10) as resp:
        index = resp.read().decode()
    assert 'href="run/report.html"' in index
    with urllib.request.urlopen(f"{server}/run/report.html", timeout=10) as resp:
        assert resp.status == 200 and b"leaflet" in resp.read()
    help_text = " ".join(runner.invoke(app, ["serve", "--help"]).output.split())
    assert "folder of reports" in help_text
