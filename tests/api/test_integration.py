"""End to end on loopback: `siting serve` in a subprocess, a key from `siting api-key create`, async jobs, a crash."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import QUICK, SLOW, SLOW_EXEC

SITING = str(Path(sys.executable).parent / "siting")
pytestmark = pytest.mark.timeout(180)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(db_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        SITING_DATABASE_URL=db_url,
        SITING_PRELOAD="demo:jiangbei",
        SITING_PRELOAD_NETWORKS="false",
        SITING_LOG_LEVEL="WARNING",
    )
    return env


@contextmanager
def server(db_url: str, log: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    port = _free_port()
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [SITING, "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            env=_env(db_url),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the forkserver and workers die with it
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(base + "/conformance", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        yield base, proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


def _poll(base: str, location: str, headers: dict, until: tuple[str, ...], timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc = httpx.get(location, headers=headers, timeout=10).json()
        if doc["status"] in until:
            return doc
        time.sleep(0.1)
    raise AssertionError(f"{location} never reached {until}")


@pytest.mark.slow
def test_serve_key_async_job_crash_and_restart(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'siting.db'}"
    created = subprocess.run(
        [SITING, "api-key", "create", "--name", "integrator", "--database-url", db_url],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("sk_") and " " not in key
    headers = {"Authorization": f"Bearer {key}"}
    log = tmp_path / "server.log"
    with server(db_url, log) as (base, proc):
        r = httpx.post(
            base + "/processes/evaluate-coverage/execution",
            json=QUICK,
            headers={**headers, "Prefer": "respond-async"},
            timeout=30,
        )
        assert r.status_code == 201
        location = r.headers["location"]
        assert location.startswith(base + "/jobs/")
        assert _poll(base, location, headers, ("successful", "failed"))["status"] == "successful"
        before = httpx.get(location + "/results", headers=headers, timeout=30).json()
        assert before["summary"]["sites"] == 3
        slow = httpx.post(
            base + SLOW_EXEC, json=SLOW, headers={**headers, "Prefer": "respond-async"}, timeout=30
        )
        slow_location = slow.headers["location"]
        _poll(base, slow_location, headers, ("running",))
        os.killpg(proc.pid, signal.SIGKILL)  # the server and its worker die mid-job
        proc.wait(10)
        done_path, slow_path = location.removeprefix(base), slow_location.removeprefix(base)
    with server(db_url, log) as (base, _proc):
        job = httpx.get(base + slow_path, headers=headers, timeout=10).json()
        assert job["status"] == "failed" and "restarted" in job["message"], job
        assert job["exception"]["interrupted"] is True
        after = httpx.get(base + done_path + "/results", headers=headers, timeout=30).json()
        assert after == before
        listed = subprocess.run(
            [SITING, "api-key", "list", "--json", "--database-url", db_url],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert '"integrator"' in listed.stdout
