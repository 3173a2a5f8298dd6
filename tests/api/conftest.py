"""Fixtures of the API tests: a SQLite store per test, API keys, a TestClient, and PostgreSQL when present."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from siting_api.app import create_app
from siting_api.settings import Settings
from siting_api.store import Store, metadata

POSTGRES_HINT = (
    "PostgreSQL is not available: install and start it (Debian: apt-get install -y postgresql && "
    "service postgresql start), create a user and database, and export "
    "SITING_TEST_POSTGRES_URL=postgresql+psycopg://USER:PASSWORD@127.0.0.1:5432/DB (.ci/run does this)"
)
#: The demo sites most of the tests evaluate (Jiangbei red-station candidates).
SITES = ["rs00203", "rs00291", "rs00275"]
QUICK = {
    "inputs": {"study_area": "demo:jiangbei", "sites": SITES, "life_circle": "10min", "service_areas": False}
}

SLOW = {  # many exact MCLP solves: seconds of work, long enough to catch a job running
    "inputs": {
        "study_area": "demo:jiangbei",
        "model": {
            "objective": "coverage_share",
            "coverage_share": 0.95,
            "life_circle": "5min",
            "time_limit_s": 5,
        },
        "service_areas": False,
    }
}
SLOW_EXEC = "/processes/site-red-stations/execution"


def make_settings(db_url: str, **over: object) -> Settings:
    base: dict[str, object] = {
        "database_url": db_url,
        "preload": ("demo:jiangbei",),
        "preload_networks": False,
        "workers": 2,
        "rate_limit_per_minute": 10_000,
        "sync_wait_s": 60.0,
        "log_level": "WARNING",
    }
    base.update(over)
    return Settings(**base)  # type: ignore[arg-type]


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'siting.db'}"


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store(db_url)
    s.create_schema()
    yield s
    s.close()


@pytest.fixture
def key(store: Store) -> str:
    return store.create_key("alice")[1]


@pytest.fixture
def other_key(store: Store) -> str:
    return store.create_key("bob")[1]


def auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def client(db_url: str, store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(db_url))) as c:
        yield c


def wait_done(client: TestClient, location: str, secret: str, timeout: float = 60.0) -> dict:
    """Poll a job until it leaves accepted/running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc = client.get(location, headers=auth(secret)).json()
        if doc["status"] not in ("accepted", "running"):
            return doc
        time.sleep(0.1)
    raise AssertionError(f"job {location} did not finish in {timeout} s")


#: Tried when SITING_TEST_POSTGRES_URL is not set: the role and database .ci/run creates.
DEFAULT_POSTGRES_URL = "postgresql+psycopg://siting:siting@127.0.0.1:5432/siting_test"


def postgres_url() -> str:
    url = os.environ.get("SITING_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL
    try:
        s = Store(url)
        with s.engine.connect():
            pass
    except Exception as exc:
        pytest.skip(f"{POSTGRES_HINT} (connecting to {url!r} failed: {type(exc).__name__})")
    metadata.drop_all(s.engine)
    s.close()
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_db_url(request: pytest.FixtureRequest, db_url: str) -> str:
    return db_url if request.param == "sqlite" else postgres_url()
