"""Dask scale-out: the city-scale coverage matrix on 1 and 2 workers against the single-process path.

City-scale instance (as in the models benchmark): 100,000 demand points x 10,000 candidates on a
generated 53,533-node street grid (26.7 km x 26.7 km, UTM 50N), 1,000 m walking cutoff. The
same matrix is computed in this process (``network.cost_matrix``) and on a LocalCluster with 1 and
2 worker processes (``client=``); the results must be identical. Reported: wall seconds, speed-up
against 1 worker, stored pairs, peak resident memory of each worker (``ru_maxrss``) and of this
process, and per-task figures used for the estimate in ``docs/scaling.md``.

A sweep row (scenario radius x p) runs through ``siting.scenarios.sweep`` when it is available.

Run: ``.venv/bin/python -m benchmarks distributed``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.bench_network import grid_network, sample_points
from siting import network
from siting.geo.points import project_point_layers
from siting.network.routing import routing_context, tile_pairs
from siting.network.snapping import snap_points
from siting.scenarios.distributed import connect, peak_memory_mib, worker_peak_memory_mib
from siting.scenarios.schema import load_scenario
from siting.scenarios.sweep import parse_grid, run_sweep

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


#: Nanjing at 50 m demand cells (the estimate in docs/scaling.md). Built-up land 868 km2
#: (Nanjing statistical yearbook 2020: urban construction land); one demand cell per 50 m x 50 m
#: of it; candidates at the Jiangbei demo's ratio of 0.18 per demand cell.
NANJING = {"built_up_km2": 868.0, "cell_m": 50.0, "candidates_per_cell": 0.18}


def per_chunk(g: Any, demand: Any, cands: Any) -> dict[str, float]:
    """Measure, in this process, the per-unit costs that the Nanjing estimate scales up."""
    d, c = project_point_layers([("demand", demand), ("candidates", cands)], crs=g.crs)
    start = time.perf_counter()
    ds = snap_points(g, d.xy, max_snap_m=250.0)
    cs = snap_points(g, c.xy, max_snap_m=250.0)
    snap_s = time.perf_counter() - start
    ctx, tiles = routing_context(g, ds, cs, CUTOFF)
    start = time.perf_counter()
    counts = [sum(p[0].shape[0] for p in tile_pairs(ctx, t)) for t in tiles]
    tiles_s = time.perf_counter() - start
    pairs = float(sum(counts))
    area_km2 = float(np.prod(g.node_xy.max(axis=0) - g.node_xy.min(axis=0))) / 1e6
    return {
        "snap_points_per_s": (len(d) + len(c)) / snap_s,
        "pairs_per_s": pairs / tiles_s,
        "tiles": float(len(tiles)),
        "seconds_per_tile": tiles_s / len(tiles),
        "max_pairs_per_tile": float(max(counts)),
        # stored pairs per demand point per (candidate per km2): the reach area in km2
        "reach_km2": pairs / len(d) / (len(c) / area_km2),
    }


def nanjing_estimate(unit: dict[str, float], workers: int) -> dict[str, float]:
    """Scale the measured per-unit costs to all of Nanjing at 50 m cells, 1,000 m radius."""
    n_demand = NANJING["built_up_km2"] * 1e6 / NANJING["cell_m"] ** 2
    n_cand = n_demand * NANJING["candidates_per_cell"]
    per_demand = unit["reach_km2"] * n_cand / NANJING["built_up_km2"]
    pairs = n_demand * per_demand
    serial = (n_demand + n_cand) / unit["snap_points_per_s"] + pairs / unit["pairs_per_s"]
    return {
        "workers": workers,
        "demand": n_demand,
        "candidates": n_cand,
        "pairs": pairs,
        "cost_matrix_mib": pairs * 12 / 2**20,  # float64 value + int32 column index
        "coverage_matrix_mib": pairs * 5 / 2**20,  # bool value + int32 column index
        "compute_s": serial / workers,
        "pairs_mib_per_worker": pairs * 24 / workers / 2**20,  # (row, col, metres) triples in flight
    }


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


SWEEP_SCENARIO = "scenarios/red_stations_500m.yaml"
SWEEP_GRID = ("radius=300,500,1000", "p=20:80:20")


def _sweep_rows() -> list[dict[str, Any]]:
    """The same Jiangbei sweep in this process and on LocalClusters of 1 and 2 workers."""

    sc, base = load_scenario(Path(__file__).resolve().parents[1] / SWEEP_SCENARIO)
    grid = parse_grid(list(SWEEP_GRID))
    start = time.perf_counter()
    ref = run_sweep(sc, base, grid).drop(columns="solve_seconds")
    rows = [
        {
            "run": "sweep, this process",
            "workers": 0,
            "seconds": time.perf_counter() - start,
            "identical": True,
        }
    ]
    for workers in (1, 2):
        with connect(n_workers=workers, threads_per_worker=1) as client:
            client.run(lambda: np.zeros(1))
            start = time.perf_counter()
            out = run_sweep(sc, base, grid, client=client).drop(columns="solve_seconds")
            seconds = time.perf_counter() - start
            peaks = worker_peak_memory_mib(client)
        rows.append(
            {
                "run": f"sweep, LocalCluster {workers} worker(s)",
                "workers": workers,
                "seconds": seconds,
                "identical": bool(out.equals(ref)),
                "peak_worker_mib": max(peaks.values()),
            }
        )
    one = rows[1]["seconds"]
    print(f"\nsweep {SWEEP_SCENARIO} {' '.join(SWEEP_GRID)} ({len(ref)} combinations)")
    for r in rows:
        r["speedup_vs_1_worker"] = one / r["seconds"]
        print(
            f"{r['run']:34} {r['seconds']:8.2f} s {r['speedup_vs_1_worker']:6.2f}x identical={r['identical']}"
            + (f" peak/worker {r['peak_worker_mib']:.0f} MiB" if "peak_worker_mib" in r else "")
        )
    return rows


def main() -> list[dict[str, Any]]:
    rows = _coverage_rows()
    _print(rows)
    rows += _sweep_rows()
    g = grid_network()
    unit = per_chunk(g, sample_points(g, N_DEMAND, seed=11), sample_points(g, N_CANDIDATES, seed=12))
    print(
        f"\nper chunk (this process): snapping {unit['snap_points_per_s']:,.0f} points/s; routing "
        f"{unit['pairs_per_s']:,.0f} pairs/s over {unit['tiles']:.0f} tiles ({unit['seconds_per_tile']:.3f} s "
        f"and at most {unit['max_pairs_per_tile']:,.0f} pairs per tile); reach {unit['reach_km2']:.2f} km2 at 1,000 m"
    )
    print("estimate for all of Nanjing, 50 m demand cells, 1,000 m walking radius (docs/scaling.md):")
    for workers in (1, 8, 32):
        e = nanjing_estimate(unit, workers)
        print(
            f"  {workers:>3} worker(s): {e['demand']:,.0f} demand x {e['candidates']:,.0f} candidates, "
            f"{e['pairs'] / 1e6:,.0f} M pairs, cost matrix {e['cost_matrix_mib']:,.0f} MiB, "
            f"compute {e['compute_s']:,.0f} s, pairs in flight {e['pairs_mib_per_worker']:,.0f} MiB per worker"
        )
        rows.append({"run": f"nanjing estimate {workers} workers", **unit, **e})
    return rows


if __name__ == "__main__":
    main()
