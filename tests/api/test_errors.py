"""Error paths: keys, validation with field paths, limits, idempotency, infeasibility, crashes, CORS."""

from __future__ import annotations

import copy
import dataclasses
import json
import logging

import pytest
from fastapi.testclient import TestClient
from siting_api import worker
from siting_api.app import create_app
from siting_api.processes import PROCESSES, Limits
from siting_api.routes import ogc
from siting_api.store import Store

from tests.api.conftest import QUICK, auth, make_settings

EXEC = "/processes/evaluate-coverage/execution"


def _paths(r) -> list[str]:
    return [e["path"] for e in r.json()["errors"]]


def test_keys_are_required_and_checked(client: TestClient, key: str, store: Store) -> None:
    r = client.post(EXEC, json=QUICK)
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    assert client.get("/jobs").status_code == 401
    assert client.post(EXEC, json=QUICK, headers=auth("sk_000000000000_wrong")).status_code == 401
    assert client.get("/jobs", headers={"X-API-Key": key}).status_code == 200
    assert client.get("/jobs", headers=auth(key)).status_code == 200
    store.revoke_key("alice")
    r = client.get("/jobs", headers=auth(key))
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    # landing, conformance, processes stay open
    assert all(client.get(p).status_code == 200 for p in ("/", "/conformance", "/processes", "/api"))


def test_another_keys_job_is_404(client: TestClient, key: str, other_key: str) -> None:
    r = client.post(EXEC, json=QUICK, headers={**auth(key), "Prefer": "respond-async"})
    location = r.headers["location"]
    for path in (location, location + "/results"):
        r2 = client.get(path, headers=auth(other_key))
        assert r2.status_code == 404 and r2.json()["type"].endswith("/no-such-job")
    assert client.delete(location, headers=auth(other_key)).status_code == 404
    assert client.get("/jobs", headers=auth(other_key)).json()["jobs"] == []
    assert client.get("/jobs/nope", headers=auth(key)).status_code == 404


@pytest.mark.parametrize(
    ("inputs", "paths"),
    [
        ({"model": {"objective": "max_coverage", "radius_m": -3, "p": 2}}, ["inputs.model.radius_m"]),
        ({"model": {"objective": "max_coverage"}}, ["inputs.model"]),
        ({"model": {"objective": "best", "p": 2}}, ["inputs.model.objective"]),
        ({"model": {"p": 2}, "colour": "red"}, ["inputs.colour"]),
        ({}, ["inputs.model"]),
        ({"model": {"p": 2}, "crs": "mercator"}, ["inputs.crs"]),
        ({"model": {"p": 2, "radius": 5}}, ["inputs.model.radius"]),
        ({"model": {"p": 2}, "distance": "network"}, ["inputs.distance"]),
        (  # every problem at once
            {"model": {"objective": "max_coverage", "radius_m": -500}, "colour": "red", "circuity": 9},
            ["inputs.colour", "inputs.model.radius_m", "inputs.circuity"],
        ),
    ],
)
def test_validation_errors_name_the_field(
    client: TestClient, key: str, inputs: dict, paths: list[str]
) -> None:
    body = {"inputs": {"study_area": "demo:jiangbei", **inputs}}
    r = client.post("/processes/site-red-stations/execution", json=body, headers=auth(key))
    assert r.status_code == 422, r.text
    doc = r.json()
    assert _paths(r) == paths
    assert all(e["message"] for e in doc["errors"]) and "fix" in doc["errors"][0]
    assert doc["type"] == "urn:siting:error:invalid-input" and doc["request_id"]


def test_bad_study_area_and_sites(client: TestClient, key: str) -> None:
    body = copy.deepcopy(QUICK)
    body["inputs"]["study_area"] = "/etc/passwd"  # server paths are never accepted
    assert _paths(client.post(EXEC, json=body, headers=auth(key))) == ["inputs.study_area"]
    body = copy.deepcopy(QUICK)
    body["inputs"]["sites"] = ["rs00203", "nope"]
    r = client.post(EXEC, json=body, headers=auth(key))
    assert r.status_code == 422 and r.json()["errors"][0]["rows"] == ["nope"]
    bad_layer = {
        "layers": {
            "demand": {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": [118.7, 32.1]},
                        "properties": {"households": -5},
                    }
                ],
            }
        }
    }
    body = {"inputs": {"study_area": bad_layer, "sites": {"type": "FeatureCollection", "features": []}}}
    r = client.post(EXEC, json=body, headers=auth(key))
    assert r.status_code == 422
    assert any(p.startswith("inputs.study_area.layers.demand") for p in _paths(r)), r.text


def test_execute_request_shape_json_and_media_type(client: TestClient, key: str) -> None:
    r = client.post(EXEC, content=b"{not json", headers={**auth(key), "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["type"].endswith("invalid-json")
    r = client.post(EXEC, content=b"inputs", headers={**auth(key), "Content-Type": "text/plain"})
    assert r.status_code == 415
    r = client.post(EXEC, json={"input": {}}, headers=auth(key))
    assert r.status_code == 422 and set(_paths(r)) == {"inputs", "input"}
    r = client.post(EXEC, json={**QUICK, "outputs": {"nope": {}}}, headers=auth(key))
    assert _paths(r) == ["outputs.nope"]


def test_limits_body_features_pairs(db_url: str, store: Store, key: str) -> None:
    settings = make_settings(db_url, max_body_bytes=5_000, max_features_per_layer=3, max_pairs=1_000)
    with TestClient(create_app(settings)) as c:
        big = json.dumps({"inputs": {"pad": "x" * 6_000}}).encode()
        r = c.post(EXEC, content=big, headers={**auth(key), "Content-Type": "application/json"})
        assert r.status_code == 413 and r.json()["limit_bytes"] == 5_000

        def chunks():
            yield big[:3_000]
            yield big[3_000:]

        r = c.post(EXEC, content=chunks(), headers={**auth(key), "Content-Type": "application/json"})
        assert r.status_code == 413
        pts = [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [118.7, 32.1 + i / 1e3]},
                "properties": {"households": 1},
            }
            for i in range(4)
        ]
        body = {
            "inputs": {
                "study_area": {"layers": {"demand": {"type": "FeatureCollection", "features": pts}}},
                "sites": ["a"],
            }
        }
        r = c.post(EXEC, json=body, headers=auth(key))
        assert r.status_code == 413 and r.json()["errors"][0]["path"] == "inputs.study_area.layers.demand"
        r = c.post(EXEC, json=QUICK, headers=auth(key))  # 8,124 demand points x 3 sites > 1,000
        assert r.status_code == 422 and r.json()["type"].endswith("too-many-pairs")


def test_rate_limit_answers_429_with_retry_after(db_url: str, store: Store, key: str, other_key: str) -> None:
    with TestClient(create_app(make_settings(db_url, rate_limit_per_minute=3))) as c:
        codes = [c.get("/jobs", headers=auth(key)).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        r = c.get("/jobs", headers=auth(key))
        assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 60
        assert c.get("/jobs", headers=auth(other_key)).status_code == 200  # per key
        assert c.get("/processes").status_code == 200  # open endpoints are not limited


def test_idempotency_key(client: TestClient, key: str) -> None:
    headers = {**auth(key), "Prefer": "respond-async", "Idempotency-Key": "order-42"}
    first = client.post(EXEC, json=QUICK, headers=headers)
    again = client.post(EXEC, json=QUICK, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["jobID"] == again.json()["jobID"] and again.headers["idempotent-replayed"] == "true"
    other = copy.deepcopy(QUICK)
    other["inputs"]["life_circle"] = "5min"
    r = client.post(EXEC, json=other, headers=headers)
    assert r.status_code == 422 and r.json()["jobID"] == first.json()["jobID"]
    assert r.json()["type"].endswith("idempotency-key-reused")


def test_infeasible_is_409_with_the_reason(client: TestClient, key: str) -> None:
    body = {
        "inputs": {
            "study_area": "demo:jiangbei",
            "model": {"objective": "max_coverage", "radius_m": 300, "p": 5},
            "fire_lanes": {"clearance_m": 0, "reach_m": 2.01},
        }
    }
    r = client.post("/processes/site-charging-piles/execution", json=body, headers=auth(key))
    assert r.status_code == 409, r.text
    doc = r.json()
    assert (
        doc["type"] == "urn:siting:error:infeasible" and "fire-lane rules" in doc["reason"] and doc["jobID"]
    )
    job = client.get(f"/jobs/{doc['jobID']}", headers=auth(key)).json()
    assert job["status"] == "failed" and job["exception"]["status"] == 409


def test_unexpected_errors_are_500_with_request_id_and_logged(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:

    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(ogc, "summary_doc", boom)
    logging.getLogger("siting").propagate = True
    with caplog.at_level(logging.ERROR, logger="siting.api"):
        r = client.get("/processes", headers={"X-Request-ID": "req-123"})
    assert r.status_code == 500
    assert r.json()["request_id"] == "req-123" and r.headers["x-request-id"] == "req-123"
    assert "secret" not in r.text and "Traceback" not in r.text
    record = next(rec for rec in caplog.records if rec.getMessage() == "unexpected error")
    assert record.exc_info is not None


def test_worker_failures_are_stored_as_500(store: Store, key: str, monkeypatch: pytest.MonkeyPatch) -> None:

    def crash(*_a: object) -> dict:
        raise ZeroDivisionError("boom")

    monkeypatch.setitem(
        PROCESSES, "evaluate-coverage", dataclasses.replace(PROCESSES["evaluate-coverage"], run=crash)
    )
    k = store.authenticate(key)
    assert k is not None
    job, _ = store.create_job(key_id=k.id, process_id="evaluate-coverage", inputs=QUICK, request_hash="x")
    worker.run_job(worker.WorkerConfig(store.url, ("demo:jiangbei",), Limits(), "WARNING"), job.id)
    failed = store.get_job(job.id)
    assert failed is not None and failed.status == "failed" and failed.error is not None
    assert failed.error["status"] == 500 and job.id in failed.message and "boom" not in failed.message


def test_cors_allows_the_platform_origin_only(db_url: str, store: Store) -> None:
    settings = make_settings(db_url, cors_origins=["https://platform.example.cn"])
    with TestClient(create_app(settings)) as c:
        pre = {
            "Origin": "https://platform.example.cn",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,prefer",
        }
        r = c.options(EXEC, headers=pre)
        assert (
            r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://platform.example.cn"
        )
        r = c.get("/processes", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers
        r = c.get("/processes", headers={"Origin": "https://platform.example.cn"})
        assert "location" in r.headers["access-control-expose-headers"].lower()
