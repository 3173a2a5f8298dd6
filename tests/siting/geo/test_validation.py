"""Every validation rule, on committed malformed fixtures, through the library and the CLI."""

from __future__ import annotations

import importlib.util
import sys

import pytest
from testdata import STUDY_AREAS
from typer.testing import CliRunner

from siting.cli.main import app
from siting.errors import StudyAreaError
from siting.geo.study_area import load_study_area

FIXTURES = STUDY_AREAS
_spec = importlib.util.spec_from_file_location("build_fixtures", FIXTURES / "build_fixtures.py")
assert _spec
assert _spec.loader
build_fixtures = importlib.util.module_from_spec(_spec)
sys.modules["build_fixtures"] = build_fixtures
_spec.loader.exec_module(build_fixtures)
CASES = build_fixtures.CASES


def test_there_are_at_least_15_malformed_fixtures():
    folders = sorted(p.name for p in (FIXTURES / "malformed").iterdir() if p.is_dir())
    assert folders == sorted(CASES)
    assert len(folders) >= 15


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_fixture_is_rejected_with_its_message(case):
    _, _, expected, options = CASES[case]
    with pytest.raises(StudyAreaError) as info:
        load_study_area(FIXTURES / "malformed" / case, strict="--strict" in options)
    message = str(info.value)
    assert expected in message
    assert "Fix:" in message


@pytest.mark.parametrize("case", sorted(CASES))
def test_cli_validate_prints_one_clean_message_and_exits_1(case):
    _, _, expected, options = CASES[case]
    result = CliRunner().invoke(app, ["validate", *options, str(FIXTURES / "malformed" / case)])
    assert result.exit_code == 1
    out = " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert expected in out
    assert out.count("error:") == 1


def test_invalid_geometry_is_repaired_and_reported_when_not_strict():
    area = load_study_area(FIXTURES / "malformed" / "invalid_geometry_strict")
    assert area.layer("grids").geometry.is_valid.all()
    warnings = [str(w) for w in area.warnings]
    assert any("1 invalid geometries repaired with make_valid" in w and "G5" in w for w in warnings)


def test_all_problems_are_collected_in_one_error(tmp_path):
    layers = build_fixtures.valid_layers()
    layers["demand"]["population"] = [-1.0, *list(layers["demand"]["population"].iloc[1:])]
    layers["candidates"]["site_id"] = ["S0"] * len(layers["candidates"])
    layers["fire_lanes"]["width_m"] = [0.0, 4.0]
    build_fixtures.write_folder(tmp_path / "many", layers)
    with pytest.raises(StudyAreaError) as info:
        load_study_area(tmp_path / "many")
    assert len(info.value.problems) == 3
    assert {p.where for p in info.value.problems} == {
        "demand.population",
        "candidates.site_id",
        "fire_lanes.width_m",
    }


def test_features_outside_the_boundary_are_counted(tmp_path):
    layers = build_fixtures.valid_layers()
    c = layers["candidates"]
    c.loc[0, "geometry"] = c.geometry.iloc[0].__class__(118.9, 32.3)
    build_fixtures.write_folder(tmp_path / "outside", layers)
    area = load_study_area(tmp_path / "outside")
    msgs = [str(w) for w in area.warnings]
    assert any("candidates.geometry: 1 of 6 feature(s) lie outside the boundary (rows S0)" in m for m in msgs)


def test_cli_unexpected_path_is_a_clean_error(tmp_path):
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "nope.gpkg")])
    assert result.exit_code == 1
    assert "does not exist" in result.output
    assert "Traceback" not in result.output
