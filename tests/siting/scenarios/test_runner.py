"""Scenario files, the runner and the output folder: schema errors by key, reproducible runs."""

from __future__ import annotations

import json
from pathlib import Path

import pyogrio
import pytest
from testdata import ROOT

from siting.errors import ScenarioError
from siting.scenarios.outputs import atomic_folder, read_run, write_run
from siting.scenarios.runner import layer_kind, run_scenario
from siting.scenarios.schema import load_scenario, parse_scenario, scenario_hash

VALID_AREA = ROOT / "tests" / "data" / "study_areas" / "valid"

SMALL = f"""
name: small-200m
description: Tiny test area, 200 m, best 2 stations.
study_area: {VALID_AREA}
facility_type: red_station
model:
  objective: max_coverage
  radius_m: 200
  p: 2
  curve: [1, 2, 3]
"""


def write_scenario(folder: Path, text: str = SMALL, name: str = "small.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_scenario(tmp_path_factory.mktemp("scenario"))


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_demo_scenario_validates(path: Path) -> None:
    sc, base = load_scenario(path)
    assert base == (ROOT / "scenarios").resolve()
    assert sc.study_area.startswith("demo:")
    assert sc.model.radius in (300.0, 500.0, 1000.0)


def test_unknown_key_is_named_with_its_path(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, SMALL.replace("radius_m: 200", "radius_mm: 200"))
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    where = [p.where for p in info.value.problems]
    assert "model.radius_mm" in where
    assert "unknown key" in str(info.value)


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    bad = SMALL.replace("facility_type: red_station", "facility_type: red_stations").replace("p: 2", "p: 0")
    with pytest.raises(ScenarioError) as info:
        load_scenario(write_scenario(tmp_path, bad))
    assert {p.where for p in info.value.problems} == {"facility_type", "model.p"}


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, SMALL + "model: [unclosed\n")
    with pytest.raises(ScenarioError, match=r"small\.yaml:\d+"):
        load_scenario(path)


def test_missing_file_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_scenario(tmp_path / "nope.yaml")
    with pytest.raises(ScenarioError, match="must be a mapping"):
        parse_scenario(["name", "x"])


def test_hash_ignores_key_order_and_formatting(small: Path) -> None:
    sc, _ = load_scenario(small)
    shuffled = dict(reversed(list(sc.model_dump(mode="json").items())))
    assert scenario_hash(parse_scenario(shuffled)) == scenario_hash(sc)
    other = parse_scenario({**sc.model_dump(mode="json"), "circuity": 1.2})
    assert scenario_hash(other) != scenario_hash(sc)


def test_layer_kind() -> None:
    assert layer_kind(["osm"]) == "real"
    assert layer_kind(["modelled"]) == "modelled"
    assert layer_kind(["osm", "proxy"]) == "proxy"
    assert layer_kind(["user"]) == "user"
    assert layer_kind([]) == "unlabelled"


def test_same_scenario_and_data_give_the_same_result(small: Path, tmp_path: Path) -> None:
    sc, base = load_scenario(small)
    first, second = run_scenario(sc, base), run_scenario(sc, base)
    for key in ("scenario_hash", "data_hash", "inputs_hash", "result_hash", "covered_share", "stations"):
        assert first.summary[key] == second.summary[key], key
    assert first.sites["site_id"].tolist() == second.sites["site_id"].tolist()
    a, b = write_run(first, tmp_path / "a"), write_run(second, tmp_path / "b")
    assert (a / "sites.geojson").read_bytes() == (b / "sites.geojson").read_bytes()
    sa, sb = (json.loads((d / "summary.json").read_text()) for d in (a, b))
    assert sa["result_hash"] == sb["result_hash"] == first.summary["result_hash"]


def test_run_figures_add_up(small: Path) -> None:
    sc, base = load_scenario(small)
    result = run_scenario(sc, base)
    s = result.summary
    assert s["households"] == pytest.approx(2177.419, abs=0.01)  # 5,400 residents / 2.48
    assert result.grids["households"].sum() == pytest.approx(s["households"], abs=0.01)
    covered = (result.grids["households"] * result.grids["covered_share"]).sum()
    assert covered == pytest.approx(s["households_covered"], rel=1e-6)
    assert result.demand["unserved"].sum() == pytest.approx(
        s["households"] - s["households_covered"], abs=0.01
    )
    assert s["status"] == "optimal" and s["gap"] == pytest.approx(0.0, abs=1e-9)
    assert len(result.sites) == 2 and result.sites["existing"].sum() == 1  # E1 is kept open
    assert result.curve["covered_share"].is_monotonic_increasing
    assert s["data_sources"]["layers"]["boundary"]["kind"] == "user"


def test_charging_summary_has_the_common_figures(tmp_path: Path) -> None:
    area = tmp_path / "area"
    area.mkdir()
    for f in VALID_AREA.iterdir():
        if f.name != "existing.geojson":
            text = f.read_text(encoding="utf-8")
            (area / f.name).write_text(text.replace('"red_station"', '"charging_pile"'), encoding="utf-8")
    text = (
        f"name: small-charging\nstudy_area: {area}\nfacility_type: charging_pile\n"
        "model: {objective: max_coverage, radius_m: 200, p: 3}\n"
        "charging: {max_piles_per_site: 5}\nfire_lanes: {reach_m: 200}\n"
    )
    sc, base = load_scenario(write_scenario(tmp_path, text))
    result = run_scenario(sc, base)
    s = result.summary
    assert s["households"] == pytest.approx(s["households_total"])
    assert s["covered_share"] == pytest.approx(s["households_covered"] / s["households"])
    grids = result.grids
    assert len(grids) == 4 and grids["piles"].sum() == s["piles"] == 15
    assert (grids["households"] * grids["covered_share"]).sum() == pytest.approx(
        s["households_covered"], rel=1e-4
    )


def _fail_inside(target: Path) -> None:
    with atomic_folder(target) as tmp:
        (tmp / "partial.txt").write_text("x")
        raise RuntimeError("boom")


def test_atomic_folder_leaves_nothing_on_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        _fail_inside(tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_output_folder_layers_and_read_back(small: Path, tmp_path: Path) -> None:
    sc, base = load_scenario(small)
    out = write_run(run_scenario(sc, base), tmp_path / "run")
    layers = {str(name) for name, _ in pyogrio.list_layers(out / "result.gpkg")}
    assert {"sites", "assignments", "grids", "service_areas", "curve", "basemap_boundary"} <= layers
    assert {"basemap_roads", "basemap_fire_lanes", "basemap_exclusions"} <= layers
    data = read_run(out)
    assert data["summary"]["scenario"]["name"] == "small-200m"
    assert len(data["service_areas"]) == len(data["sites"]) == 2
    assert out.stat().st_mode & 0o777 == 0o755  # readable like any folder, not mkdtemp's 0700


def test_every_problem_comes_with_a_fix() -> None:
    doc = {
        "name": "bad",
        "study_area": "demo:jiangbei",
        "facility_type": "red_stations",
        "model": {"objective": "max_coverage", "radius_m": -5, "p": -3, "colour": "red"},
    }
    with pytest.raises(ScenarioError) as err:
        parse_scenario(doc)
    fixes = {p.where: p.fix for p in err.value.problems}
    assert fixes == {
        "facility_type": "use one of the allowed values",
        "model.radius_m": "use a value above 0.0",
        "model.p": "use a value of at least 1",
        "model.colour": "remove it or check its spelling (every key: docs/scenarios.md)",
    }
