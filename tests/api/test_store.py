"""The job store on SQLite and, when present, PostgreSQL: keys, job states, idempotency, restarts."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from siting_api.app import create_app
from siting_api.store import (
    IdempotencyConflictError,
    JobStatus,
    Store,
    StoreError,
    keys_table,
    meta_table,
    normalise_url,
)

from tests.api.conftest import QUICK, auth, make_settings, postgres_url, wait_done


@pytest.fixture
def st(any_db_url: str):
    s = Store(any_db_url)
    s.create_schema()
    yield s
    s.close()


def _job(st: Store, key_id: str, idem: str | None = None, digest: str = "h1"):
    return st.create_job(
        key_id=key_id,
        process_id="evaluate-coverage",
        inputs={"inputs": {}},
        request_hash=digest,
        idempotency_key=idem,
    )


def test_schema_is_created_once_and_checked(st: Store) -> None:
    st.create_schema()  # idempotent
    with st.engine.begin() as conn:
        conn.execute(meta_table.update().values(value="99"))
    with pytest.raises(StoreError, match="schema version 99"):
        st.create_schema()


def test_keys_are_stored_hashed_and_revocable(st: Store) -> None:
    record, secret = st.create_key("alice")
    assert secret.startswith("sk_") and record.id in secret
    with st.engine.connect() as conn:
        row = conn.execute(sa.select(keys_table)).mappings().one()
    assert secret not in json.dumps(dict(row), default=str)
    assert len(row["salt"]) == 32 and len(row["key_hash"]) == 64
    assert st.authenticate(secret) == record
    assert st.authenticate(secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
    assert st.authenticate("sk_nothing") is None
    with pytest.raises(StoreError, match="active API key"):
        st.create_key("alice")
    revoked = st.revoke_key("alice")
    assert not revoked.active and st.authenticate(secret) is None
    again, _ = st.create_key("alice")  # a revoked name can be reused
    assert {k.name for k in st.list_keys()} == {"alice", f"alice~revoked-{record.id}"}
    assert st.revoke_key(again.id).id == again.id
    with pytest.raises(StoreError, match="no API key"):
        st.revoke_key("nobody")


def test_job_lifecycle_uses_conditional_updates(st: Store) -> None:
    key, _ = st.create_key("k")
    job, created = _job(st, key.id)
    assert created and job.status == JobStatus.ACCEPTED and job.progress == 0
    assert st.mark_running(job.id, 1234)
    assert not st.mark_running(job.id, 1234)
    assert st.set_progress(job.id, 40, "solving")
    assert st.get_job(job.id).progress == 40  # type: ignore[union-attr]
    assert st.finish_job(job.id, json.dumps({"summary": {"x": 1}}))
    done = st.get_job(job.id)
    assert done is not None and done.status == "successful" and done.progress == 100
    assert done.created <= done.started <= done.finished  # type: ignore[operator]
    assert not st.fail_job(job.id, {"status": 500}, "late")  # finished jobs stay finished
    assert json.loads(st.get_result(job.id) or "") == {"summary": {"x": 1}}


def test_jobs_are_listed_per_key_and_dismissed_ones_hidden(st: Store) -> None:
    a, _ = st.create_key("a")
    b, _ = st.create_key("b")
    ja, _ = _job(st, a.id)
    jb, _ = _job(st, b.id)
    assert st.get_job(jb.id, key_id=a.id) is None
    assert [j.id for j in st.list_jobs(key_id=a.id)[0]] == [ja.id]
    st.dismiss_job(ja.id, key_id=a.id)
    assert st.list_jobs(key_id=a.id) == ([], 0)
    assert [j.id for j in st.list_jobs(key_id=a.id, status=["dismissed"])[0]] == [ja.id]


def test_idempotency_replays_conflicts_and_replaces_interrupted_jobs(st: Store) -> None:
    k, _ = st.create_key("k")
    first, created = _job(st, k.id, "idem-1")
    again, created_again = _job(st, k.id, "idem-1")
    assert created and not created_again and again.id == first.id
    with pytest.raises(IdempotencyConflictError):
        _job(st, k.id, "idem-1", digest="other")
    other_key, _ = st.create_key("other")
    assert _job(st, other_key.id, "idem-1")[1]  # keys are per API key
    st.mark_running(first.id, 1)
    assert first.id in st.fail_interrupted("server restarted")
    fresh, created_fresh = _job(st, k.id, "idem-1")
    assert created_fresh and fresh.id != first.id
    assert st.get_job(first.id).interrupted  # type: ignore[union-attr]


def test_restart_fails_interrupted_jobs_and_keeps_results(any_db_url: str) -> None:
    s1 = Store(any_db_url)
    s1.create_schema()
    k, _ = s1.create_key("k")
    done, _ = _job(s1, k.id)
    s1.mark_running(done.id, 1)
    s1.finish_job(done.id, '{"summary": {}}')
    running, _ = _job(s1, k.id)
    s1.mark_running(running.id, 2)
    queued, _ = _job(s1, k.id)
    s1.close()  # the "server" stops without cleaning up
    s2 = Store(any_db_url)
    s2.create_schema()
    assert sorted(s2.fail_interrupted("the server restarted")) == sorted([running.id, queued.id])
    failed = s2.get_job(running.id)
    assert failed is not None and failed.status == "failed" and failed.message == "the server restarted"
    assert failed.error is not None and failed.error["interrupted"] is True
    assert s2.get_result(done.id) == '{"summary": {}}'
    s2.close()


def test_urls_are_normalised_and_bad_ones_refused() -> None:
    assert normalise_url("postgresql://u:p@h/db") == "postgresql+psycopg://u:p@h/db"
    assert normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"
    with pytest.raises(StoreError, match="invalid database URL"):
        Store("not a url")


@pytest.mark.postgres
def test_the_api_runs_jobs_on_postgres() -> None:

    url = postgres_url()
    st = Store(url)
    st.create_schema()
    _, secret = st.create_key("pg")
    with TestClient(create_app(make_settings(url))) as c:
        sync = c.post("/processes/evaluate-coverage/execution", json=QUICK, headers=auth(secret))
        assert sync.status_code == 200 and sync.json()["summary"]["sites"] == 3
        r = c.post(
            "/processes/evaluate-coverage/execution",
            json=QUICK,
            headers={**auth(secret), "Prefer": "respond-async"},
        )
        assert wait_done(c, r.headers["location"], secret)["status"] == "successful"
        assert c.get("/jobs", headers=auth(secret)).json()["numberMatched"] == 2
    assert st.backend == "postgresql"
    st.close()
