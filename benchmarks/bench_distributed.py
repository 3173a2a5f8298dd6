"""Dask scale-out: the city-scale coverage matrix on 1 and 2 workers against the single-process path.

City-scale instance (as in the models benchmark): 100,000 demand points x 10,000 candidates on a
generated 53,533-node street grid (26.7 km x 26.7 km, UTM 50N), 1,000 m walking cutoff. The
same matrix is computed in this process (``network.cost_matrix``) and on a LocalCluster with 1 and
2 worker processes (``client=``); the results must be identical. Reported: wall seconds, speed-up
against 1 worker, stored pairs, peak resident memory of each worker (``ru_maxrss``) and of this
process, and per-task figures used for the estimate in ``docs/scaling.md``.

A sweep row (scenario radius x p) runs through ``siting.sweep`` when it is available.

Run: ``.venv/bin/python -m benchmarks distributed``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from benchmarks.bench_network import grid_network, sample_points
from siting import network
from siting.distributed import connect, peak_memory_mib, worker_peak_memory_mib

N_DEMAND, N_CANDIDATES, CUTOFF = 100_000, 10_000, 1_000.0


def _identical(a: Any, b: Any) -> bool:
    return bool(
        a.shape == b.shape
        and np.array_equal(a.indptr, b.indptr)
        and np.array_equal(a.indices, b.indices)
        and np.array_equal(a.data, b.data)
    )


def _coverage_rows() -> list[dict[str, Any]]:
    g = grid_network()
    demand = sample_points(g, N_DEMAND, seed=11)
    cands = sample_points(g, N_CANDIDATES, seed=12)
    start = time.perf_counter()
    ref = network.cost_matrix(g, demand, cands, cutoff=CUTOFF)
    single = time.perf_counter() - start
    density = ref.nnz / (N_DEMAND * N_CANDIDATES)
    rows: list[dict[str, Any]] = [
        {
            "run": "single process",
            "workers": 0,
            "seconds": single,
            "pairs": int(ref.nnz),
            "density": density,
            "identical": True,
            "peak_worker_mib": None,
            "peak_client_mib": peak_memory_mib(),
        }
    ]
    for workers in (1, 2):
        with connect(n_workers=workers, threads_per_worker=1) as client:
            client.run(lambda: np.zeros(1))  # workers up before timing
            start = time.perf_counter()
            out = network.cost_matrix(g, demand, cands, cutoff=CUTOFF, client=client)
            seconds = time.perf_counter() - start
            peaks = worker_peak_memory_mib(client)
        rows.append(
            {
                "run": f"LocalCluster {workers} worker(s)",
                "workers": workers,
                "seconds": seconds,
                "pairs": int(out.nnz),
                "density": density,
                "identical": _identical(ref, out),
                "peak_worker_mib": max(peaks.values()),
                "peak_client_mib": peak_memory_mib(),
            }
        )
    one = rows[1]["seconds"]
    for r in rows:
        r["speedup_vs_1_worker"] = one / r["seconds"]
    return rows


def _print(rows: list[dict[str, Any]]) -> None:
    print(
        f"coverage/cost matrix {N_DEMAND:,} demand x {N_CANDIDATES:,} candidates, cutoff {CUTOFF:.0f} m, "
        f"generated 53,533-node street grid; {rows[0]['pairs']:,} pairs ({rows[0]['density']:.3%} dense)"
    )
    print(
        f"{'run':26} {'seconds':>8} {'speed-up':>9} {'identical':>9} {'peak/worker MiB':>16} {'client MiB':>11}"
    )
    for r in rows:
        peak = "-" if r["peak_worker_mib"] is None else f"{r['peak_worker_mib']:.0f}"
        print(
            f"{r['run']:26} {r['seconds']:8.2f} {r['speedup_vs_1_worker']:8.2f}x {r['identical']!s:>9} "
            f"{peak:>16} {r['peak_client_mib']:11.0f}"
        )


def main() -> list[dict[str, Any]]:
    rows = _coverage_rows()
    _print(rows)
    return rows


if __name__ == "__main__":
    main()
