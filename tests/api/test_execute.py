"""Executing processes: every example runs on the demo, sync and async, outputs, CRS choice, inline areas."""

from __future__ import annotations

import copy
import math

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import QUICK, SITES, auth, wait_done

# Jiangbei New Area, WGS84: every output coordinate must fall in this box.
LON, LAT = (118.4, 119.0), (31.9, 32.5)


def _points(fc: dict) -> list[tuple[float, float]]:
    return [tuple(f["geometry"]["coordinates"]) for f in fc["features"]]


def _in_nanjing(fc: dict) -> bool:
    return all(LON[0] < x < LON[1] and LAT[0] < y < LAT[1] for x, y in _points(fc))


@pytest.mark.parametrize(
    "process_id", ["site-red-stations", "site-charging-piles", "evaluate-coverage", "coverage-curve"]
)
def test_every_example_runs_synchronously(client: TestClient, key: str, process_id: str) -> None:
    example = client.get(f"/processes/{process_id}").json()["example"]
    example = copy.deepcopy(example)
    if "model" in example["inputs"]:  # keep the suite quick: fewer sites, same inputs
        example["inputs"]["model"]["p"] = 5
    r = client.post(f"/processes/{process_id}/execution", json=example, headers=auth(key))
    assert r.status_code == 200, r.text
    doc = r.json()
    described = client.get(f"/processes/{process_id}").json()["outputs"]
    assert set(doc) == set(described)
    if "sites" in doc:
        sites = doc["sites"]
        assert sites["type"] == "FeatureCollection" and "crs" not in sites and sites["crs_name"] == "wgs84"
        assert _in_nanjing(sites)
        props = sites["features"][0]["properties"]
        assert props["rank"] == 1 and "grid_id" in props
        assert ("households_gained" in props) or ("piles" in props)
        assert doc["grids"]["features"] and "covered_share" in doc["grids"]["features"][0]["properties"]
    else:
        assert [row["p"] for row in doc["curve"]] == [5, 10, 20]
        shares = [row["covered_share"] for row in doc["curve"]]
        assert shares == sorted(shares)
    assert doc["summary"]


def test_async_job_reports_status_progress_and_results(client: TestClient, key: str) -> None:
    body = {"inputs": {"study_area": "demo:jiangbei", "model": {"objective": "max_coverage", "p": 4}}}
    r = client.post(
        "/processes/site-red-stations/execution", json=body, headers={**auth(key), "Prefer": "respond-async"}
    )
    assert r.status_code == 201, r.text
    assert r.headers["preference-applied"] == "respond-async"
    location = r.headers["location"]
    info = r.json()
    assert info["status"] in ("accepted", "running") and info["jobID"] in location
    assert info["created"].endswith("Z") and 0 <= info["progress"] <= 100
    assert client.get(location + "/results", headers=auth(key)).status_code in (200, 404)
    done = wait_done(client, location, key)
    assert done["status"] == "successful" and done["progress"] == 100
    assert done["created"] <= done["started"] <= done["finished"] <= done["updated"]
    assert any(link["rel"].endswith("/results") for link in done["links"])
    res = client.get(location + "/results", headers=auth(key))
    assert res.status_code == 200
    assert len(res.json()["sites"]["features"]) == 4
    listed = client.get("/jobs", headers=auth(key)).json()
    assert info["jobID"] in [j["jobID"] for j in listed["jobs"]] and listed["numberMatched"] >= 1


def test_a_sync_request_that_waits_too_long_becomes_a_job(client: TestClient, key: str) -> None:
    r = client.post(
        "/processes/evaluate-coverage/execution", json=QUICK, headers={**auth(key), "Prefer": "wait=0"}
    )
    assert r.status_code == 201 and r.headers["location"].endswith(r.json()["jobID"])
    assert wait_done(client, r.headers["location"], key)["status"] == "successful"


def test_crs_choice_moves_points_as_expected(client: TestClient, key: str) -> None:
    out = {}
    for crs in ("wgs84", "cgcs2000", "gcj02"):
        body = copy.deepcopy(QUICK)
        body["inputs"]["crs"] = crs
        doc = client.post("/processes/evaluate-coverage/execution", json=body, headers=auth(key)).json()
        assert doc["sites"]["crs_name"] == crs
        out[crs] = dict(
            zip(
                [f["properties"]["site_id"] for f in doc["sites"]["features"]],
                _points(doc["sites"]),
                strict=True,
            )
        )
    for site in SITES:
        (x, y), (cx, cy), (gx, gy) = out["wgs84"][site], out["cgcs2000"][site], out["gcj02"][site]
        metres = lambda dx, dy: math.hypot(dx * 94_000, dy * 111_000)  # noqa: E731 (degrees near 32 N)
        assert metres(cx - x, cy - y) < 1.0  # CGCS2000 ~ WGS84 (centimetres)
        assert 300 < metres(gx - x, gy - y) < 800  # GCJ-02 offset around Nanjing


def test_outputs_selection_and_raw_response(client: TestClient, key: str) -> None:
    body = copy.deepcopy(QUICK)
    body["outputs"] = {"summary": {}}
    doc = client.post("/processes/evaluate-coverage/execution", json=body, headers=auth(key)).json()
    assert set(doc) == {"summary"} and doc["summary"]["sites"] == 3
    body = copy.deepcopy(QUICK)
    body.update(outputs={"sites": {}}, response="raw")
    r = client.post("/processes/evaluate-coverage/execution", json=body, headers=auth(key))
    assert r.headers["content-type"].startswith("application/geo+json")
    assert r.json()["type"] == "FeatureCollection"


def test_evaluate_geojson_points_and_inline_study_area(client: TestClient, key: str) -> None:
    # a tiny inline study area: 4 demand points around two proposed sites, in WGS84
    def pt(x: float, y: float, **props: object) -> dict:
        return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [x, y]}, "properties": props}

    demand = {
        "type": "FeatureCollection",
        "features": [
            pt(118.7000, 32.1500, households=10),
            pt(118.7010, 32.1500, households=20),
            pt(118.7200, 32.1500, households=35),
            pt(118.7600, 32.1800, households=40),
        ],
    }
    sites = {
        "type": "FeatureCollection",
        "features": [pt(118.7005, 32.1500, site_id="A"), pt(118.7200, 32.1505, site_id="B")],
    }
    body = {"inputs": {"study_area": {"layers": {"demand": demand}}, "sites": sites, "radius_m": 300}}
    r = client.post("/processes/evaluate-coverage/execution", json=body, headers=auth(key))
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["summary"]["households_covered"] == pytest.approx(65.0)
    ranks = {f["properties"]["site_id"]: f["properties"]["rank"] for f in doc["sites"]["features"]}
    assert ranks == {"A": 2, "B": 1}  # B reaches 35 households, A 30; the point 4 km away none
    assert doc["summary"]["study_area_id"] == "inline"


def test_inline_study_area_runs_red_stations(client: TestClient, key: str) -> None:
    def pt(x: float, y: float, **props: object) -> dict:
        return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [x, y]}, "properties": props}

    demand = {
        "type": "FeatureCollection",
        "features": [pt(118.70 + 0.002 * i, 32.15, households=5 + i) for i in range(10)],
    }
    cands = {
        "type": "FeatureCollection",
        "features": [pt(118.701 + 0.006 * i, 32.1502, site_id=f"c{i}") for i in range(3)],
    }
    body = {
        "inputs": {
            "study_area": {"layers": {"demand": demand, "candidates": cands}, "crs": "wgs84"},
            "model": {"objective": "max_coverage", "p": 1, "radius_m": 400},
            "crs": "gcj02",
        }
    }
    r = client.post("/processes/site-red-stations/execution", json=body, headers=auth(key))
    assert r.status_code == 200, r.text
    doc = r.json()
    assert len(doc["sites"]["features"]) == 1 and doc["sites"]["crs_name"] == "gcj02"
    assert doc["summary"]["study_area"]["path"] == "inline"
