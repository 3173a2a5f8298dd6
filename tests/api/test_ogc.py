"""OGC API - Processes core resources: landing, conformance, OpenAPI 3.0, process list and descriptions."""

from __future__ import annotations

from fastapi.testclient import TestClient
from siting_api.processes.inputs import scenario_schema

from siting.scenarios.schema import ModelSettings


def test_landing_page_json_links(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    rels = {link["rel"] for link in r.json()["links"]}
    assert {"self", "service-desc", "http://www.opengis.net/def/rel/ogc/1.0/processes"} <= rels
    assert "http://www.opengis.net/def/rel/ogc/1.0/job-list" in rels
    assert r.headers["x-request-id"]


def test_landing_page_html_when_asked(client: TestClient) -> None:
    r = client.get("/", headers={"Accept": "text/html,application/xhtml+xml"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "site-red-stations" in r.text and "OpenStreetMap" in r.text
    assert (
        client.get("/?f=json", headers={"Accept": "text/html"})
        .headers["content-type"]
        .startswith("application/json")
    )
    assert client.get("/?f=html").headers["content-type"].startswith("text/html")


def test_conformance_and_openapi_30(client: TestClient) -> None:
    conf = client.get("/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/core" in conf
    assert "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/dismiss" in conf
    r = client.get("/api")
    assert r.headers["content-type"].startswith("application/vnd.oai.openapi+json;version=3.0")
    doc = r.json()
    assert doc["openapi"] == "3.0.3"
    assert "/processes/{process_id}/execution" in doc["paths"]
    text = r.text
    assert '"type": "null"' not in text and '"type":"null"' not in text  # 3.0 has nullable, not type null


def test_process_list(client: TestClient) -> None:
    doc = client.get("/processes").json()
    ids = [p["id"] for p in doc["processes"]]
    assert ids == ["site-red-stations", "site-charging-piles", "evaluate-coverage", "coverage-curve"]
    for p in doc["processes"]:
        assert "async-execute" in p["jobControlOptions"] and "sync-execute" in p["jobControlOptions"]
        assert any(link["rel"].endswith("/execute") for link in p["links"])


def test_process_description_uses_the_scenario_schema(client: TestClient) -> None:
    d = client.get("/processes/site-red-stations").json()
    assert d["inputs"]["model"]["schema"] == scenario_schema("model")
    assert d["inputs"]["model"]["minOccurs"] == 1
    assert set(d["inputs"]["model"]["schema"]["properties"]) == set(ModelSettings.model_fields)
    assert d["inputs"]["crs"]["schema"]["enum"] == ["wgs84", "cgcs2000", "gcj02"]
    area = d["inputs"]["study_area"]["schema"]["oneOf"]
    assert area[0]["enum"] == ["demo:jiangbei"]
    assert "layers" in area[1]["properties"]
    assert set(d["outputs"]) == {"sites", "service_areas", "grids", "curve", "phases", "summary"}
    assert d["example"]["inputs"]["study_area"] == "demo:jiangbei"
    ev = client.get("/processes/evaluate-coverage").json()
    assert ev["inputs"]["radius_m"]["schema"] == scenario_schema("model.radius_m")


def test_unknown_process_and_route_are_404_problems(client: TestClient) -> None:
    r = client.get("/processes/nope")
    assert r.status_code == 404
    body = r.json()
    assert body["type"].endswith("/no-such-process") and body["request_id"] == r.headers["x-request-id"]
    r = client.get("/no/such/route")
    assert r.status_code == 404 and r.json()["status"] == 404
    r = client.post("/processes/nope/execution", json={"inputs": {}}, headers={"X-API-Key": "x"})
    assert r.status_code == 401  # authentication comes first
