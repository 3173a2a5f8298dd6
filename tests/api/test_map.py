"""The map page: local assets only (no CDN, no tile server), and the open study-area layers it draws."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from siting_api.app import create_app
from siting_api.routes.maps import STATIC

from tests.api.conftest import make_settings


def test_map_page_uses_local_assets_only(client: TestClient) -> None:
    r = client.get("/map?job=abc")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assets = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    assert "static/leaflet/leaflet.js" in assets and "static/map.js" in assets
    for name in ("map.html", "map.js", "map.css"):
        text = (STATIC / name).read_text(encoding="utf-8")
        assert not re.search(r"https?://", text), f"{name} must not load anything remote"
    for path in assets:
        asset = client.get("/" + path)
        assert asset.status_code == 200, path
    assert client.get("/static/leaflet/leaflet.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/static/leaflet/images/marker-icon.png").headers["content-type"] == "image/png"
    assert client.get("/static/../app.py").status_code == 404
    assert client.get("/static/leaflet/../../cli.py").status_code == 404


def test_study_area_layers_for_the_map(client: TestClient) -> None:
    areas = client.get("/studyareas").json()["studyareas"]
    assert [a["id"] for a in areas] == ["demo:jiangbei"] and areas[0]["layers"]["grids"] == 856
    info = client.get("/studyareas/demo:jiangbei").json()
    assert info["households"] > 0 and any(link["title"] == "fire_lanes" for link in info["links"])
    r = client.get("/studyareas/demo:jiangbei/layers/boundary")
    assert r.headers["content-type"].startswith("application/geo+json")
    fc = r.json()
    x, y = fc["features"][0]["geometry"]["coordinates"][0][0][0]
    assert 118 < x < 119.5 and 31.5 < y < 32.8  # lon/lat order
    gcj = client.get("/studyareas/demo:jiangbei/layers/boundary?crs=gcj02").json()
    assert gcj["crs_name"] == "gcj02" and gcj["features"][0]["geometry"] != fc["features"][0]["geometry"]
    assert client.get("/studyareas/demo:nope").status_code == 404
    assert client.get("/studyareas/demo:jiangbei/layers/roads").status_code == 404
    assert client.get("/studyareas/demo:jiangbei/layers/boundary?crs=mercator").status_code == 422


def test_reports_folder_is_served_when_configured(db_url, store, tmp_path) -> None:

    run = tmp_path / "runs" / "red-stations-500m"
    run.mkdir(parents=True)
    (run / "report.html").write_text("<html><body>report 红色驿站</body></html>", encoding="utf-8")
    with TestClient(create_app(make_settings(db_url, reports_dir=str(tmp_path / "runs")))) as c:
        r = c.get("/reports/red-stations-500m/report.html")
        assert r.status_code == 200 and "report 红色驿站" in r.text
        assert c.get("/reports/missing/report.html").status_code == 404
    with TestClient(create_app(make_settings(db_url))) as c:
        assert c.get("/reports/red-stations-500m/report.html").status_code == 404
