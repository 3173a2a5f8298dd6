"""Property tests from the app's own OpenAPI 3.0 description: no 5xx, and every response conforms."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis import checks
from siting_api.app import create_app
from siting_api.store import Store

from tests.api.conftest import QUICK, auth, make_settings, wait_done

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]
#: A bounded set of endpoints: the OGC core, jobs, and execution (whose generated bodies are rejected fast).
PATHS = [
    "/",
    "/conformance",
    "/processes",
    "/processes/{process_id}",
    "/processes/{process_id}/execution",
    "/jobs",
    "/jobs/{job_id}",
    "/jobs/{job_id}/results",
    "/studyareas/{area_id}",
]
_DB = Path(tempfile.mkdtemp(prefix="siting-fuzz-")) / "siting.db"
APP = create_app(make_settings(f"sqlite:///{_DB}"))
KEY: dict[str, str] = {}
schema = schemathesis.openapi.from_asgi("/api", APP).include(path=PATHS)


@pytest.fixture(scope="module", autouse=True)
def running_app() -> Iterator[None]:
    store = Store(f"sqlite:///{_DB}")
    store.create_schema()
    KEY["value"] = store.create_key("fuzz")[1]
    with TestClient(APP) as client:  # runs the lifespan: store, areas, workers
        headers = {**auth(KEY["value"]), "Prefer": "respond-async"}
        r = client.post("/processes/evaluate-coverage/execution", json=QUICK, headers=headers)
        wait_done(client, r.headers["location"], KEY["value"])  # so /jobs lists a real job
        yield
    store.close()
    shutil.rmtree(_DB.parent, ignore_errors=True)


@schema.parametrize()
@settings(
    max_examples=12, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck), database=None
)
def test_api_conforms_to_its_openapi(case: schemathesis.Case) -> None:
    case.call_and_validate(headers=auth(KEY["value"]), checks=CHECKS)
