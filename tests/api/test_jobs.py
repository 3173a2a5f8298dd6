"""Job endpoints: list filters, dismissal of queued and running jobs, time limits, killed workers, restarts."""

from __future__ import annotations

import os
import signal
import time

from fastapi.testclient import TestClient
from siting_api.app import create_app
from siting_api.store import Store

from tests.api.conftest import QUICK, SLOW, SLOW_EXEC, auth, make_settings, wait_done

ASYNC = {"Prefer": "respond-async"}


def _running(client: TestClient, location: str, key: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc = client.get(location, headers=auth(key)).json()
        if doc["status"] == "running":
            return doc
        assert doc["status"] == "accepted", doc
        time.sleep(0.05)
    raise AssertionError("the job never ran")


def test_job_list_filters_and_pages(client: TestClient, key: str) -> None:
    ids = [
        client.post("/processes/evaluate-coverage/execution", json=QUICK, headers=auth(key)).headers["link"]
        for _ in range(3)
    ]
    assert len(ids) == 3
    page = client.get("/jobs?limit=2", headers=auth(key)).json()
    assert len(page["jobs"]) == 2 and page["numberMatched"] == 3
    assert any(link["rel"] == "next" for link in page["links"])
    assert client.get("/jobs?status=successful", headers=auth(key)).json()["numberMatched"] == 3
    assert client.get("/jobs?status=failed", headers=auth(key)).json()["numberMatched"] == 0
    assert client.get("/jobs?processID=coverage-curve", headers=auth(key)).json()["jobs"] == []
    r = client.get("/jobs?status=sleeping", headers=auth(key))
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "query.status.0"


def test_dismiss_running_and_finished_jobs(client: TestClient, key: str, store: Store) -> None:
    r = client.post(SLOW_EXEC, json=SLOW, headers={**auth(key), **ASYNC})
    location = r.headers["location"]
    job_id = r.json()["jobID"]
    _running(client, location, key)
    pid = store.get_job(job_id).worker_pid  # type: ignore[union-attr]
    d = client.delete(location, headers=auth(key))
    assert d.status_code == 200 and d.json()["status"] == "dismissed"
    time.sleep(0.5)
    assert pid is not None and not _alive(pid)
    assert client.get(location, headers=auth(key)).json()["status"] == "dismissed"
    assert client.get(location + "/results", headers=auth(key)).status_code == 404
    assert job_id not in [j["jobID"] for j in client.get("/jobs", headers=auth(key)).json()["jobs"]]
    assert job_id in [
        j["jobID"] for j in client.get("/jobs?status=dismissed", headers=auth(key)).json()["jobs"]
    ]
    done = client.post("/processes/evaluate-coverage/execution", json=QUICK, headers={**auth(key), **ASYNC})
    wait_done(client, done.headers["location"], key)
    client.delete(done.headers["location"], headers=auth(key))
    assert client.get(done.headers["location"] + "/results", headers=auth(key)).status_code == 404


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is not alive
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_job_time_limit(db_url: str, store: Store, key: str) -> None:
    with TestClient(create_app(make_settings(db_url, job_timeout_s=1.5))) as c:
        body = {"inputs": {**SLOW["inputs"], "model": {**SLOW["inputs"]["model"], "time_limit_s": 1}}}
        r = c.post(SLOW_EXEC, json=body, headers=auth(key))
        assert r.status_code == 500, r.text
        assert "longer than the limit of 1.5 s" in r.json()["detail"]
        too_long = {"inputs": {**SLOW["inputs"], "model": {**SLOW["inputs"]["model"], "time_limit_s": 60}}}
        r = c.post(SLOW_EXEC, json=too_long, headers=auth(key))
        assert r.status_code == 422 and r.json()["errors"][0]["path"] == "inputs.model.time_limit_s"


def test_killed_worker_fails_the_job_with_a_reason_and_it_can_be_resubmitted(
    client: TestClient, key: str, store: Store
) -> None:
    headers = {**auth(key), **ASYNC, "Idempotency-Key": "slow-1"}
    r = client.post(SLOW_EXEC, json=SLOW, headers=headers)
    location, job_id = r.headers["location"], r.json()["jobID"]
    _running(client, location, key)
    os.kill(store.get_job(job_id).worker_pid, signal.SIGKILL)  # type: ignore[arg-type,union-attr]
    failed = wait_done(client, location, key)
    assert failed["status"] == "failed" and "SIGKILL" in failed["message"]
    assert failed["exception"]["interrupted"] is True
    # the same Idempotency-Key: a new job replaces the interrupted one
    again = client.post(SLOW_EXEC, json=SLOW, headers=headers)
    assert again.status_code == 201 and again.json()["jobID"] != job_id
    client.delete(again.headers["location"], headers=auth(key))


def test_restart_marks_interrupted_jobs_failed_and_keeps_results(db_url: str, store: Store, key: str) -> None:
    settings = make_settings(db_url)
    with TestClient(create_app(settings)) as c:
        done = c.post("/processes/evaluate-coverage/execution", json=QUICK, headers={**auth(key), **ASYNC})
        finished = wait_done(c, done.headers["location"], key)
        before = c.get(done.headers["location"] + "/results", headers=auth(key)).json()
    k = store.authenticate(key)
    assert finished["status"] == "successful" and k is not None
    # a job the previous server was running when it died (its row still says running)
    ghost, _ = store.create_job(key_id=k.id, process_id="site-red-stations", inputs=SLOW, request_hash="g")
    store.mark_running(ghost.id, 999_999)
    with TestClient(create_app(settings)) as c:
        status = c.get(f"/jobs/{ghost.id}", headers=auth(key)).json()
        assert status["status"] == "failed" and "restarted" in status["message"]
        after = c.get(done.headers["location"] + "/results", headers=auth(key)).json()
        assert after == before
