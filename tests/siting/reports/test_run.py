"""The HTML report: offline assets, escaping, tables that add up, and the map rendered in Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from testdata import ROOT

from siting.reports.html import esc, script_json
from siting.reports.run import grid_rows, render_report, write_report
from siting.scenarios.outputs import read_run, write_run
from siting.scenarios.runner import run_scenario
from siting.scenarios.schema import parse_scenario

VALID_AREA = ROOT / "tests" / "data" / "study_areas" / "valid"
SCENARIO = {
    "name": "small-report",
    "description": "Tiny test area <for the report> & its tables",
    "study_area": str(VALID_AREA),
    "facility_type": "red_station",
    "model": {"objective": "max_coverage", "radius_m": 150, "p": 2, "curve": [1, 2, 3, 4]},
}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    result = run_scenario(parse_scenario(SCENARIO))
    return write_run(result, tmp_path_factory.mktemp("report") / "run", report=write_report)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [v for k, v in attrs if k in ("src", "href") and v is not None]


def local_urls_only(html_text: str) -> list[str]:
    """Every src / href of the page; asserts none leaves the folder (no scheme, no //, no ..)."""
    parser = _Links()
    parser.feed(html_text)
    for url in parser.urls:
        assert not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:|^//", url), url
    return parser.urls


def test_report_files_and_local_assets(run_dir: Path) -> None:
    names = {p.name for p in run_dir.iterdir()}
    assert {"report.html", "map.png", "curve.png", "assets", "result.gpkg", "summary.json"} <= names
    html_text = (run_dir / "report.html").read_text(encoding="utf-8")
    urls = local_urls_only(html_text)
    assert "assets/leaflet/leaflet.js" in urls and "map.png" in urls
    for url in urls:
        assert (run_dir / url).is_file(), url
    for lib in ("leaflet", "leaflet.heat"):
        licence = (run_dir / "assets" / lib / "LICENSE").read_text()
        assert "Redistribution and use in source and binary forms" in licence
    assert (run_dir / "assets" / "leaflet" / "images" / "layers.png").is_file()
    assert "http://" not in html_text and "https://" not in html_text
    assert "© OpenStreetMap contributors, ODbL" in html_text
    assert "Content-Security-Policy" in html_text


def test_report_content(run_dir: Path) -> None:
    html_text = (run_dir / "report.html").read_text(encoding="utf-8")
    for text in ("Per grid", "Coverage against number of sites", "Assumptions", "real or modelled"):
        assert text in html_text
    assert "Tiny test area &lt;for the report&gt; &amp; its tables" in html_text
    assert "150 m" in html_text and "2.48 persons per household" in html_text


def test_grid_table_sums_to_the_study_area_households(run_dir: Path) -> None:
    data = read_run(run_dir)
    rows, total = grid_rows(data)
    assert len(rows) == 4
    households = sum(r["households"] for r in rows)
    assert households == pytest.approx(data["summary"]["households"], abs=0.01)
    assert total["households"] == pytest.approx(2177.419, abs=0.01)
    assert total["covered_share"] == pytest.approx(data["summary"]["covered_share"], rel=1e-6)
    assert total["stations"] == data["summary"]["stations"] == 2
    html_text = (run_dir / "report.html").read_text(encoding="utf-8")
    assert re.search(r'<tr class="total"><td>4 grids</td>.*?2,177</td>', html_text)


def test_rows_outside_every_grid_keep_the_total(run_dir: Path) -> None:
    data = read_run(run_dir)
    data["summary"] = {**data["summary"], "households": data["summary"]["households"] + 100.0}
    rows, total = grid_rows(data)
    assert rows[-1]["grid_id"] == "(outside any grid)"
    assert rows[-1]["households"] == pytest.approx(100.0, abs=0.01)
    assert total["households"] == pytest.approx(data["summary"]["households"])


def test_user_text_is_escaped(run_dir: Path, tmp_path: Path) -> None:
    data = read_run(run_dir)
    evil = '<script>alert("x")</script>网格'
    data["grids"]["grid_id"] = [f"{evil}{i}" for i in range(len(data["grids"]))]
    data["summary"] = {**data["summary"], "scenario": {**data["summary"]["scenario"], "name": evil}}
    html_text = render_report(data, tmp_path).read_text(encoding="utf-8")
    assert "<script>alert" not in html_text
    assert esc(evil) in html_text  # the tables and title show it as text
    blob = html_text.split('id="siting-data">')[1].split("</script>")[0]
    assert "<" not in blob and json.loads(blob)["layers"]  # the map data cannot close its element
    assert script_json({"a": "</script>&"}) == '{"a":"\\u003c/script\\u003e\\u0026"}'


def test_map_data_layers(run_dir: Path) -> None:
    html_text = (run_dir / "report.html").read_text(encoding="utf-8")
    data = json.loads(html_text.split('id="siting-data">')[1].split("</script>")[0])
    layers = {layer["id"]: layer for layer in data["layers"]}
    assert {"basemap_boundary", "basemap_roads", "basemap_fire_lanes", "grids", "sites", "uncovered"} <= set(
        layers
    )
    lon, lat = np.array([f["geometry"]["coordinates"] for f in layers["sites"]["geojson"]["features"]]).T
    assert ((lon > 118.3) & (lon < 119.3) & (lat > 31.2) & (lat < 32.7)).all()
    run = read_run(run_dir)
    unserved = run["assignments"]["unserved"]
    assert len(layers["uncovered"]["points"]) == int((unserved > 0).sum()) > 0
    assert sum(p[2] for p in layers["uncovered"]["points"]) == pytest.approx(unserved.sum(), abs=0.1)


def test_rerender_is_deterministic(run_dir: Path) -> None:
    before = (run_dir / "report.html").read_bytes()
    write_report(run_dir)
    assert (run_dir / "report.html").read_bytes() == before


# -- in a real browser ---------------------------------------------------------------------------

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--virtual-time-budget=10000",
)


@pytest.fixture(scope="module")
def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("headless Chromium not found: install it with `apt-get install chromium` (Debian/Ubuntu)")


def run_chromium(binary: str, *args: str) -> str:
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "HOME": profile},
            check=False,
        )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.mark.browser
def test_map_renders_offline_in_chromium(chromium: str, run_dir: Path) -> None:
    dom = run_chromium(chromium, "--dump-dom", (run_dir / "report.html").as_uri())
    body = re.search(r"<body([^>]*)>", dom)
    assert body, dom[:500]
    attrs = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', body.group(1)))
    assert attrs.get("ready") == "1" and "error" not in attrs, attrs
    assert attrs["external"] == "0", attrs  # no resource came from outside the folder
    counts = json.loads(attrs["layers"].replace("&quot;", '"'))
    run = read_run(run_dir)
    assert counts["sites"] == len(run["sites"]) == 2
    assert counts["grids"] == len(run["grids"]) == 4
    assert counts["service_areas"] == 2
    assert counts["basemap_roads"] == 2 and counts["basemap_boundary"] == 1
    assert int(attrs["features"]) == sum(counts.values())
    assert "leaflet-container" in dom and "leaflet-control-layers" in dom
    local_urls_only(dom)


@pytest.mark.browser
def test_screenshot_is_not_blank(chromium: str, run_dir: Path, tmp_path: Path) -> None:

    shot = tmp_path / "shot.png"
    run_chromium(
        chromium, "--window-size=1000,900", f"--screenshot={shot}", (run_dir / "report.html").as_uri()
    )
    image = np.asarray(Image.open(shot).convert("RGB"))
    assert image.shape[:2] == (900, 1000)
    colours = np.unique(image.reshape(-1, 3), axis=0)
    assert len(colours) > 200  # text, the map's polygons and markers, not a blank page
    assert shot.stat().st_size > 20_000
