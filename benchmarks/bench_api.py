"""HTTP API benchmark on loopback: ``evaluate-coverage`` under 50 concurrent clients, and a sync red-station run.

A ``siting serve`` subprocess listens on 127.0.0.1 (a free port, a temporary SQLite store, the
Jiangbei demo preloaded, two job workers); httpx AsyncClient tasks send synchronous execute requests.
Every loop is bounded by a request count and a duration, and the server is stopped at the end.
Run: ``.venv/bin/python -m benchmarks.bench_api``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from siting_api.store import Store

CLIENTS = 50
REQUESTS = 150  # per load scenario
MAX_SECONDS = 45.0  # per load scenario
SITES = ["rs00203", "rs00291", "rs00275", "rs00323", "rs00256"]
EVALUATE = {"study_area": "demo:jiangbei", "sites": SITES, "life_circle": "10min"}
LOADS = {
    "evaluate-coverage, summary only": {
        "inputs": {**EVALUATE, "service_areas": False},
        "outputs": {"summary": {}},
    },
    "evaluate-coverage, every output": {"inputs": EVALUATE},
}
RED = {
    "inputs": {
        "study_area": "demo:jiangbei",
        "model": {"objective": "max_coverage", "life_circle": "10min", "p": 20},
    }
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(folder: Path, port: int) -> subprocess.Popen:
    env = dict(os.environ)
    env.update(
        SITING_DATABASE_URL=f"sqlite:///{folder / 'bench.db'}",
        SITING_PRELOAD="demo:jiangbei",
        SITING_PRELOAD_NETWORKS="false",
        SITING_WORKERS="2",
        SITING_RATE_LIMIT_PER_MINUTE="1000000",
        SITING_SYNC_WAIT_S="300",
        SITING_LOG_LEVEL="WARNING",
    )
    siting = str(Path(sys.executable).parent / "siting")
    cmd = [siting, "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    log = (folder / "server.log").open("wb")
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def wait_ready(base: str, proc: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the server exited during start-up")
        try:
            if httpx.get(base + "/conformance", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the server did not start")


async def _client(
    client: httpx.AsyncClient,
    *,
    url: str,
    body: dict,
    budget: list[int],
    deadline: float,
    out: list[tuple[float, int]],
) -> None:
    while budget[0] > 0 and time.monotonic() < deadline:
        budget[0] -= 1
        t0 = time.perf_counter()
        try:
            r = await client.post(url, json=body)
            status = r.status_code
        except httpx.HTTPError:
            status = 0
        out.append((time.perf_counter() - t0, status))


async def load(base: str, key: str, name: str, body: dict) -> dict[str, Any]:
    """Send ``REQUESTS`` sync requests from ``CLIENTS`` concurrent clients (at most ``MAX_SECONDS``)."""
    url = base + "/processes/evaluate-coverage/execution"
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(limits=limits, headers=headers, timeout=300) as client:
        for _ in range(3):  # warm-up, not timed
            await client.post(url, json=body)
        out: list[tuple[float, int]] = []
        budget = [REQUESTS]
        start = time.perf_counter()
        deadline = time.monotonic() + MAX_SECONDS
        await asyncio.gather(
            *(
                _client(client, url=url, body=body, budget=budget, deadline=deadline, out=out)
                for _ in range(CLIENTS)
            )
        )
        seconds = time.perf_counter() - start
    lat = np.array([t for t, _ in out]) * 1000
    ok = sum(1 for _, s in out if s == 200)
    return {
        "name": name,
        "clients": CLIENTS,
        "requests": len(out),
        "ok": ok,
        "errors": len(out) - ok,
        "seconds": round(seconds, 2),
        "throughput_rps": round(len(out) / seconds, 2),
        "p50_ms": round(float(np.percentile(lat, 50)), 1),
        "p95_ms": round(float(np.percentile(lat, 95)), 1),
        "p99_ms": round(float(np.percentile(lat, 99)), 1),
    }


def sync_red_stations(base: str, key: str, repeats: int = 3) -> dict[str, Any]:
    """Time a synchronous ``site-red-stations`` request (best 20 stations on Jiangbei), end to end."""
    url = base + "/processes/site-red-stations/execution"
    times, statuses = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        r = httpx.post(url, json=RED, headers={"Authorization": f"Bearer {key}"}, timeout=300)
        times.append(time.perf_counter() - t0)
        statuses.append(r.status_code)
    ms = np.array(times) * 1000
    ok = statuses.count(200)
    return {
        "name": "site-red-stations sync, p=20, Jiangbei",
        "clients": 1,
        "requests": repeats,
        "ok": ok,
        "errors": repeats - ok,
        "seconds": round(sum(times), 2),
        "throughput_rps": round(repeats / sum(times), 2),
        "p50_ms": round(statistics.median(ms), 1),
        "p95_ms": round(float(np.percentile(ms, 95)), 1),
        "p99_ms": round(float(np.percentile(ms, 99)), 1),
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    cols = [
        "name",
        "clients",
        "requests",
        "ok",
        "errors",
        "seconds",
        "throughput_rps",
        "p50_ms",
        "p95_ms",
        "p99_ms",
    ]
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in cols]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)))
    for r in rows:
        print("  ".join(str(r[c]).ljust(w) for c, w in zip(cols, widths, strict=True)))


def main() -> list[dict[str, Any]]:
    """Start the server, run the loads and the sync run, print the table and return the rows."""
    folder = Path(tempfile.mkdtemp(prefix="siting-bench-api-"))
    port = _free_port()
    store = Store(f"sqlite:///{folder / 'bench.db'}")
    store.create_schema()
    _, key = store.create_key("bench")
    store.close()
    base = f"http://127.0.0.1:{port}"
    proc = start_server(folder, port)
    rows: list[dict[str, Any]] = []
    try:
        wait_ready(base, proc)
        for name, body in LOADS.items():
            rows.append(asyncio.run(load(base, key, name, body)))
        rows.append(sync_red_stations(base, key))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    print(
        f"siting API on {base} (uvicorn, SQLite store, 2 job workers, {os.cpu_count()} cores), loopback only"
    )
    print_table(rows)
    return rows


if __name__ == "__main__":
    main()
