"""MCLP / LSCP / LSCP-B: siting vs spopt 0.7 (PuLP + CBC), side by side on the same instances.

Run: ``.venv/bin/python -m benchmarks.bench_coverage`` (or ``python -m benchmarks coverage``).

Instances: spopt's San Francisco data (205 tracts x 16 stores, network distance, R = 5,000 m)
for MCLP (p = 4, POP2000 weights), LSCP and LSCP-B; two seeded random MCLPs (2,000 x 500 and
10,000 x 2,000 points in a square); and a city-scale MCLP, 100,000 demand points x 10,000
candidates, p = 200, about 0.5 % coverage density (seeded clustered geometry, coverage built
sparse with a KD-tree), where ours must reach a gap <= 1 % within ``solve(time_limit=60)``.

Fairness: both sides get the same coverage (``distance <= radius``). Ours gets it as a sparse
matrix, spopt as the dense cost matrix ``from_cost_matrix`` needs (``inf`` where a pair is
beyond the radius; float32 for the city instance to halve its memory). Timed on both sides:
model build and solve, not instance generation. Ours runs in-process (HiGHS, at most 2
threads) with ``time_limit=120`` (60 for the city instance); spopt runs in a subprocess worker
of this script (CBC via PuLP, default threads) with CBC's ``timeLimit = SPOPT_LIMIT`` and a
wall limit on build + solve of ``SPOPT_WALL`` (``SPOPT_CITY_WALL`` for the city instance),
enforced by a watchdog thread that kills the worker's process group (CBC included) and
reports where spopt's model build had got to. The worker's address space is capped at
``SPOPT_MEM_GB`` and it does not start when its dense matrices would not fit in memory.
Identical objectives are counted as spopt reports them and with spopt's selected sites scored
by the model's own definition (spopt's LSCP-B objective also counts, as covered twice, every
demand row that only one candidate can cover).

Environment: ``SPOPT_LIMIT`` (s, default 60), ``SPOPT_WALL`` (s, default SPOPT_LIMIT + 300),
``SPOPT_CITY_WALL`` (s, default 120), ``SPOPT_MEM_GB`` (default 16). Memory: peak resident set
size from ``/proc/self/status`` (``VmHWM``, reset before each measured phase through
``/proc/self/clear_refs``) and the process-lifetime peak ``resource.getrusage(RUSAGE_SELF)
.ru_maxrss``, in MiB; both include HiGHS's C++ memory (tracemalloc would not).
"""

from __future__ import annotations

import json
import math
import os
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pulp
import scipy.sparse as sp
from scipy.spatial import cKDTree
from spopt.locate import LSCP, LSCPB, MCLP

from benchmarks.spopt_sf import load_sf
from siting import models
from siting.models import SolveOptions

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "benchmarks"
SPOPT_LIMIT = float(os.environ.get("SPOPT_LIMIT", "60"))
SPOPT_WALL = float(os.environ.get("SPOPT_WALL", str(SPOPT_LIMIT + 300)))
SPOPT_CITY_WALL = float(os.environ.get("SPOPT_CITY_WALL", "120"))
SPOPT_MEM_GB = float(os.environ.get("SPOPT_MEM_GB", "16"))
SF_RADIUS = 5000.0
SF_MCLP_KNOWN = 875_247.0  # spopt's documented SF MCLP (p = 4): 875,247 covered, 21 tracts uncovered
SF_MCLP_UNCOVERED = 21
SF_LSCP_KNOWN = 8.0
CITY_LIMIT = 60.0
CITY_GAP = 0.01
OURS_LIMIT = 120.0

# name: (n_demand, n_candidates, target density, p, seed, clustered)
RANDOM = {
    "rand 2000x500": (2_000, 500, 0.02, 25, 11, False),
    "rand 10000x2000": (10_000, 2_000, 0.005, 100, 12, False),
    "city 100kx10k": (100_000, 10_000, 0.005, 200, 13, True),
}


@dataclass
class Instance:
    """One coverage instance: sparse pairs within the radius, weights and p."""

    name: str
    n_demand: int
    n_candidates: int
    radius: float
    rows: np.ndarray
    cols: np.ndarray
    dist: np.ndarray
    weights: np.ndarray | None
    p: int | None
    extra: dict[str, Any] = field(default_factory=dict)

    def coverage(self) -> sp.csr_matrix:
        """Sparse 0/1 coverage (``dist <= radius``), shape (n_demand, n_candidates)."""
        keep = self.dist <= self.radius
        return sp.csr_matrix(
            (np.ones(int(keep.sum())), (self.rows[keep], self.cols[keep])),
            shape=(self.n_demand, self.n_candidates),
        )

    def dense_cost(self, dtype: Any = np.float64) -> np.ndarray:
        """Dense cost matrix for spopt: the distance within the radius, ``inf`` beyond it."""
        cost = np.full((self.n_demand, self.n_candidates), np.inf, dtype=dtype)
        cost[self.rows, self.cols] = self.dist
        return cost

    @property
    def density(self) -> float:
        """Share of demand-candidate pairs covered."""
        return float((self.dist <= self.radius).sum()) / (self.n_demand * self.n_candidates)


def _points(rng: np.random.Generator, n: int, side: float, clustered: bool) -> np.ndarray:
    if not clustered:
        return rng.uniform(0.0, side, (n, 2))
    # a city: 70 % of the points in 40 neighbourhoods of 300-1,500 m spread, 30 % scattered
    n_clu = int(0.7 * n)
    centres = rng.uniform(0.1 * side, 0.9 * side, (40, 2))
    spread = rng.uniform(300.0, 1500.0, 40)
    which = rng.integers(0, 40, n_clu)
    pts = centres[which] + rng.normal(size=(n_clu, 2)) * spread[which, None]
    pts = np.vstack([pts, rng.uniform(0.0, side, (n - n_clu, 2))])
    return np.clip(pts, 0.0, side)[rng.permutation(n)]


def _calibrated_radius(demand: np.ndarray, tree: cKDTree, n_cand: int, density: float, side: float) -> float:
    """Radius giving about ``density`` covered pairs (measured on a sample of demand points)."""
    sample = demand[:: max(1, demand.shape[0] // 4000)]
    r = side * math.sqrt(density / math.pi)
    for _ in range(4):
        got = float(np.mean(tree.query_ball_point(sample, r, return_length=True))) / n_cand
        r *= math.sqrt(density / max(got, 1e-12))
    return float(round(r, 1))


def random_instance(name: str) -> Instance:
    """The seeded random MCLP ``name`` (a key of :data:`RANDOM`), geometry in metres."""
    n, m, density, p, seed, clustered = RANDOM[name]
    rng = np.random.default_rng(seed)
    side = 20_000.0 if clustered else 10_000.0
    demand = _points(rng, n, side, clustered)
    if clustered:  # half the candidates near demand (plots in built-up areas), half anywhere
        near = demand[rng.integers(0, n, m // 2)] + rng.normal(size=(m // 2, 2)) * 200.0
        cand = np.vstack([np.clip(near, 0.0, side), rng.uniform(0.0, side, (m - m // 2, 2))])
    else:
        cand = rng.uniform(0.0, side, (m, 2))
    weights = rng.integers(1, 101, n).astype(np.float64)
    tree = cKDTree(cand)
    radius = _calibrated_radius(demand, tree, m, density, side)
    pairs = cKDTree(demand).sparse_distance_matrix(tree, radius, output_type="ndarray")
    return Instance(
        name, n, m, radius, pairs["i"].astype(np.int64), pairs["j"].astype(np.int64),
        pairs["v"].astype(np.float64), weights, p, {"side_m": side},
    )  # fmt: skip


def sf_instance(kind: str) -> Instance:
    """spopt's SF data as an :class:`Instance` (every pair kept: network distance, R = 5,000 m)."""

    sf = load_sf(DATA / "spopt_sf")
    n, m = sf.cost.shape
    rows, cols = np.divmod(np.arange(n * m), m)
    weights = sf.population if kind == "mclp" else None
    return Instance(
        "SF R=5000",
        n,
        m,
        SF_RADIUS,
        rows,
        cols,
        sf.cost.ravel().copy(),
        weights,
        4 if kind == "mclp" else None,
    )


def _instance(kind: str, name: str) -> Instance:
    return sf_instance(kind) if name.startswith("SF") else random_instance(name)


# --------------------------------------------------------------------------- memory


def _status_mib(key: str) -> float:
    """``VmRSS`` / ``VmHWM`` of this process in MiB (nan if /proc is unavailable)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def _meminfo_mib(key: str) -> float:
    """A field of ``/proc/meminfo`` in MiB (inf if /proc is unavailable)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("inf")


def _reset_peak() -> bool:
    """Reset ``VmHWM`` to the current RSS (Linux >= 4.0); False when not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# --------------------------------------------------------------------------- spopt worker


def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _where_main() -> dict[str, Any]:
    """The innermost spopt/PuLP frame of the main thread, with its client counter ``i`` if any."""
    frame = sys._current_frames().get(threading.main_thread().ident or -1)
    while frame is not None:
        fname = frame.f_code.co_filename
        if "spopt" in fname or "pulp" in fname:
            out: dict[str, Any] = {
                "in": f"{Path(fname).parent.name}/{Path(fname).name}:{frame.f_code.co_name}"
            }
            outer = frame
            while outer is not None:  # the builder loops of spopt count clients in ``i``
                if "spopt" in outer.f_code.co_filename and outer.f_code.co_name.startswith("add_"):
                    i = outer.f_locals.get("i")
                    rng = outer.f_locals.get("range_client")
                    out["in"] = f"spopt:{outer.f_code.co_name}"
                    if isinstance(i, int | np.integer):
                        out["client"] = int(i)
                    if isinstance(rng, range):
                        out["clients"] = len(rng)
                    break
                outer = outer.f_back
            return out
        frame = frame.f_back
    return {}


class _Watchdog(threading.Thread):
    """Heartbeat lines every ``every`` s; past ``wall`` s prints the outcome and kills the process group."""

    def __init__(self, wall: float, every: float = 5.0) -> None:
        super().__init__(daemon=True)
        self.start_t = time.perf_counter()
        self.wall, self.every = wall, every
        self.phase = "build"
        self.phase_s: dict[str, float] = {}

    def run(self) -> None:
        while True:
            time.sleep(self.every)
            elapsed = time.perf_counter() - self.start_t
            beat = {
                "event": "beat", "elapsed": elapsed, "phase": self.phase,
                "rss_mib": _status_mib("VmRSS"), "hwm_mib": _status_mib("VmHWM"), **_where_main(),
            }  # fmt: skip
            if elapsed >= self.wall:
                beat.update(event="result", outcome="wall_limit", seconds=elapsed, objective=float("nan"))
                beat.update(phase_s=self.phase_s)
                _emit(beat)
                if os.getpgrp() == os.getpid():  # own session (the parent starts it so): take CBC along
                    os.killpg(os.getpid(), signal.SIGKILL)
                os._exit(3)
            _emit(beat)


def spopt_worker(kind: str, name: str, limit: float, wall: float) -> None:
    """Build and solve one instance with spopt + CBC; print JSON lines (beats, then one result)."""
    cap = int(SPOPT_MEM_GB * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    t_setup = time.perf_counter()
    inst = _instance(kind, name)
    dense_dtype = np.float32 if inst.n_demand * inst.n_candidates > 10**8 else np.float64
    # spopt holds the cost matrix, a float64 0/1 copy (``aij``) and a boolean mask at once
    need_mib = inst.n_demand * inst.n_candidates * (np.dtype(dense_dtype).itemsize + 8 + 1) / 2**20
    avail_mib = _meminfo_mib("MemAvailable")
    if need_mib > min(0.9 * avail_mib, cap / 2**20):
        _emit({"event": "result", "outcome": "memory: not started", "phase": "dense cost matrix",
               "seconds": 0.0, "objective": float("nan"),
               "error": f"spopt's dense matrices need ~{need_mib:,.0f} MiB; {avail_mib:,.0f} MiB available, "
                        f"cap {cap / 2**20:,.0f} MiB"})  # fmt: skip
        return
    try:
        cost = inst.dense_cost(dense_dtype)
    except MemoryError:
        _emit({"event": "result", "outcome": "memory_error", "phase": "dense cost matrix",
               "seconds": 0.0, "objective": float("nan")})  # fmt: skip
        return
    weights, p, radius = inst.weights, inst.p, inst.radius
    del inst
    setup_s = time.perf_counter() - t_setup
    _emit({"event": "setup", "seconds": setup_s, "dense_mib": cost.nbytes / 2**20, "dtype": str(cost.dtype),
           "rss_mib": _status_mib("VmRSS")})  # fmt: skip
    _reset_peak()
    dog = _Watchdog(wall)
    dog.start()
    start = dog.start_t
    solver = pulp.PULP_CBC_CMD(msg=False, timeLimit=limit)
    try:
        if kind == "mclp":
            model = MCLP.from_cost_matrix(cost, weights, service_radius=radius, p_facilities=p)
        elif kind == "lscp":
            model = LSCP.from_cost_matrix(cost, service_radius=radius)
        else:  # LSCP-B solves the LSCP inside its constructor (part of its build time)
            model = LSCPB.from_cost_matrix(cost, service_radius=radius, solver=solver)
        dog.phase_s["build"] = time.perf_counter() - start
        dog.phase = "solve"
        t_solve = time.perf_counter()
        error = ""
        try:
            model = model.solve(results=False) if kind == "lscpb" else model.solve(solver, results=False)
        except RuntimeError as exc:  # spopt's check_status: no solution within the limit
            error = str(exc)
        dog.phase_s["solve"] = time.perf_counter() - t_solve
    except MemoryError:
        _emit({"event": "result", "outcome": "memory_error", "phase": dog.phase, "phase_s": dog.phase_s,
               "seconds": time.perf_counter() - start, "objective": float("nan"),
               "hwm_mib": _status_mib("VmHWM")})  # fmt: skip
        return
    seconds = time.perf_counter() - start
    objective = pulp.value(model.problem.objective)
    evaluated = float("nan")
    if not error:  # spopt's selection scored by the model's own definition (as ours is)
        sel = np.flatnonzero([(v.value() or 0.0) > 0.5 for v in model.fac_vars])
        count = (cost[:, sel] <= radius).sum(axis=1)
        if kind == "mclp":
            evaluated = float((weights if weights is not None else np.ones(count.size))[count >= 1].sum())
        elif kind == "lscp":
            evaluated = float(sel.size) if (count >= 1).all() else float("nan")
        else:
            evaluated = float((count >= 2).sum())
    _emit({
        "event": "result", "outcome": "error" if error else "solved", "error": error,
        "objective": float("nan") if objective is None or error else float(objective), "evaluated": evaluated,
        "seconds": seconds, "phase_s": dog.phase_s,
        "status": pulp.LpStatus[model.problem.status], "sol_status": pulp.LpSolution[model.problem.sol_status],
        "hwm_mib": _status_mib("VmHWM"), "maxrss_mib": _maxrss_mib(),
    })  # fmt: skip


def _run_spopt(kind: str, name: str, wall: float) -> dict[str, Any]:
    """Run the worker in its own session; kill that process group on the hard timeout."""
    cmd = [sys.executable, "-m", "benchmarks.bench_coverage", "--spopt-worker", kind, name,
           str(SPOPT_LIMIT), str(wall)]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )  # fmt: skip
    killed = False
    try:
        out, err = proc.communicate(timeout=wall + 300)  # the watchdog should fire long before
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        killed = True
    total = time.perf_counter() - start
    events = [json.loads(ln) for ln in out.splitlines() if ln.startswith("{")]
    result = next((e for e in reversed(events) if e["event"] == "result"), None)
    beats = [e for e in events if e["event"] == "beat"]
    setup = next((e for e in events if e["event"] == "setup"), {})
    if result is None:
        result = {"outcome": "killed" if killed else f"crashed (rc {proc.returncode})",
                  "objective": float("nan"), "seconds": total - float(setup.get("seconds", 0.0)),
                  "error": err[-400:]}  # fmt: skip
        if beats:
            result.update(
                {k: beats[-1][k] for k in ("phase", "in", "client", "clients", "hwm_mib") if k in beats[-1]}
            )
    result["setup"] = setup
    loop = [b for b in beats if "client" in b and "clients" in b]
    if len(loop) >= 2 and loop[-1]["client"] > loop[0]["client"]:  # pace of spopt's per-client build loop
        (t1, c1), (t2, c2) = (
            (loop[0]["elapsed"], loop[0]["client"]),
            (loop[-1]["elapsed"], loop[-1]["client"]),
        )
        rate = (c2 - c1) / (t2 - t1)
        result["loop"] = {"in": loop[-1]["in"], "clients_per_s": rate,
                          "build_estimate_s": t2 + (loop[-1]["clients"] - c2) / rate}  # fmt: skip
    result["hwm_mib"] = max(
        [float(result.get("hwm_mib", float("nan")))] + [float(b.get("hwm_mib", 0.0)) for b in beats]
    )
    solved = result["outcome"] == "solved"
    # CBC reports "Optimal" with an integer-feasible (not proven optimal) solution when it hits timeLimit
    proven = solved and result.get("sol_status") == "Optimal Solution Found"
    result["hit_limit"] = not proven
    return result


# --------------------------------------------------------------------------- ours


def _ours(kind: str, inst: Instance, time_limit: float) -> tuple[Any, float]:
    start = time.perf_counter()
    cov = inst.coverage()
    if kind == "mclp":
        res = models.MCLP.from_coverage(cov, weights=inst.weights, p=inst.p).solve(
            SolveOptions(time_limit=time_limit)
        )
    elif kind == "lscp":
        res = models.LSCP.from_coverage(cov).solve(SolveOptions(time_limit=time_limit))
    else:
        res = models.BackupCoverage.from_coverage(cov).solve(SolveOptions(time_limit=time_limit))
    return res, time.perf_counter() - start


MODEL_NAMES = {"mclp": "MCLP", "lscp": "LSCP", "lscpb": "LSCP-B"}


def _row(kind: str, name: str, known: float | None, *, city: bool = False) -> dict[str, Any]:
    inst = _instance(kind, name)
    row: dict[str, Any] = {
        "model": MODEL_NAMES[kind], "instance": name, "n_demand": inst.n_demand,
        "n_candidates": inst.n_candidates, "p": inst.p, "radius": inst.radius, "density": inst.density,
        "known": known,
    }  # fmt: skip
    rss_before = _status_mib("VmRSS")
    reset = _reset_peak()
    res, seconds = _ours(kind, inst, CITY_LIMIT if city else OURS_LIMIT)
    row.update(
        ours=res.objective, bound=res.bound, gap=res.gap, status=res.status, solver=res.solver,
        method=res.method, ours_s=seconds, uncovered=int((res.assignment < 0).sum()), n_selected=len(res.selected),
        ours_rss_before_mib=rss_before, ours_peak_mib=_status_mib("VmHWM") if reset else float("nan"),
        ours_maxrss_mib=_maxrss_mib(), extra=dict(res.extra),
    )  # fmt: skip
    del inst
    wall = SPOPT_CITY_WALL if city else SPOPT_WALL
    sp_res = _run_spopt(kind, name, wall)
    row.update(
        spopt=sp_res["objective"], spopt_eval=float(sp_res.get("evaluated", float("nan"))),
        spopt_s=sp_res["seconds"], spopt_hit=sp_res["hit_limit"],
        spopt_outcome=sp_res["outcome"], spopt_detail=sp_res,
    )  # fmt: skip
    ran = not sp_res["outcome"].startswith("memory: not started")
    row["ratio"] = sp_res["seconds"] / max(seconds, 1e-9) if ran else float("nan")
    return row


# --------------------------------------------------------------------------- output


def _same(a: float, b: float) -> bool:
    return math.isfinite(a) and math.isfinite(b) and abs(a - b) <= 1e-6 * max(1.0, abs(b))


def _fmt(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    return f"{x:,.0f}" if abs(x - round(x)) < 1e-6 else f"{x:,.2f}"


def _print(rows: list[dict[str, Any]]) -> None:
    head = (f"{'model':7} {'instance':16} {'ours':>12} {'known':>10} {'spopt':>12} {'ours s':>8} "
            f"{'spopt s':>9} {'ratio':>8} {'gap':>8}  status")  # fmt: skip
    print(head)
    print("-" * (len(head) + 30))
    for r in rows:
        hit = r["spopt_hit"]
        sp_s = f"{r['spopt_s']:.2f}" + ("*" if hit else "")
        ratio = (">=" if hit else "") + f"{r['ratio']:.1f}x" if math.isfinite(r["ratio"]) else "-"
        sp_note = "" if r["spopt_outcome"] == "solved" else f"; spopt {r['spopt_outcome']}"
        if r["spopt_outcome"] == "wall_limit":
            d = r["spopt_detail"]
            sp_note += f" in {d.get('phase', '?')}"
            if d.get("phase") == "build" and d.get("clients"):
                sp_note += f" ({100 * (d.get('client', 0) + 1) / d['clients']:.1f} % of the client rows)"
        if math.isfinite(r["spopt_eval"]) and not _same(r["spopt_eval"], r["spopt"]):
            sp_note += f"; spopt's sites score {_fmt(r['spopt_eval'])}"
        print(f"{r['model']:7} {r['instance']:16} {_fmt(r['ours']):>12} {_fmt(r['known']):>10} "
              f"{_fmt(r['spopt']):>12} {r['ours_s']:>8.2f} {sp_s:>9} {ratio:>8} {r['gap']:>8.1e}  "
              f"{r['status']} ({r['solver']}){sp_note}")  # fmt: skip


def _print_city(r: dict[str, Any]) -> None:
    d = r["spopt_detail"]
    print(f"\ncity scale: {r['n_demand']:,} demand x {r['n_candidates']:,} candidates, p = {r['p']}, "
          f"radius {r['radius']:.0f} m, density {100 * r['density']:.3f} %")  # fmt: skip
    ok = r["gap"] <= CITY_GAP and r["ours_s"] <= CITY_LIMIT + 5
    print(f"  ours : objective {_fmt(r['ours'])}, bound {_fmt(r['bound'])}, gap {100 * r['gap']:.3f} %, "
          f"{r['ours_s']:.1f} s (solve(time_limit={CITY_LIMIT:.0f}), build included) -> "
          f"{'meets' if ok else 'MISSES'} gap <= {100 * CITY_GAP:.0f} % in {CITY_LIMIT:.0f} s")  # fmt: skip
    print(f"         solver {r['solver']}, status {r['status']}, extra "
          + ", ".join(f"{k}={v:g}" for k, v in r["extra"].items()))  # fmt: skip
    print(f"         memory: RSS before the build {r['ours_rss_before_mib']:,.0f} MiB, peak RSS during "
          f"build + solve (VmHWM) {r['ours_peak_mib']:,.0f} MiB, process ru_maxrss {r['ours_maxrss_mib']:,.0f} MiB")  # fmt: skip
    setup = d.get("setup", {})
    print(f"  spopt: {d['outcome']} after {r['spopt_s']:.1f} s of build + solve "
          f"(wall limit {SPOPT_CITY_WALL:.0f} s, address space cap {SPOPT_MEM_GB:.0f} GiB); "
          f"objective {_fmt(r['spopt'])}")  # fmt: skip
    if setup:
        print(f"         untimed setup: dense {setup.get('dtype')} cost matrix {setup.get('dense_mib', 0):,.0f} MiB "
              f"in {setup.get('seconds', 0):.1f} s")  # fmt: skip
    where = d.get("in", "")
    if where:
        prog = ""
        if "client" in d and d.get("clients"):
            done = (d["client"] + 1) / d["clients"]
            prog = f", client {d['client']:,} of {d['clients']:,} ({100 * done:.2f} %)"
            if "loop" in d:
                prog += (f"; {d['loop']['clients_per_s']:.1f} clients/s, so building the model alone "
                         f"would take ~{d['loop']['build_estimate_s']:,.0f} s")  # fmt: skip
        print(f"         stopped in {where}{prog}")
    print(f"         peak RSS of the worker (VmHWM) {d.get('hwm_mib', float('nan')):,.0f} MiB"
          + (f"; phases {d['phase_s']}" if d.get("phase_s") else "")
          + (f"; error: {d['error']}" if d.get("error") else ""))  # fmt: skip


def warm_up() -> None:
    """Solve tiny instances of each model once, untimed (spopt's imports are outside its timing too)."""
    dense = np.random.default_rng(0).uniform(size=(30, 8)) < 0.3
    dense[:, 0] = True
    cov = sp.csr_matrix(dense)
    models.MCLP.from_coverage(cov, weights=np.ones(30), p=2).solve()
    models.LSCP.from_coverage(cov).solve()
    models.BackupCoverage.from_coverage(cov).solve()


def main() -> list[dict[str, Any]]:
    """Run every instance, print the table and return the rows."""
    warm_up()
    rows: list[dict[str, Any]] = []
    plan: list[tuple[str, str, float | None, bool]] = [
        ("mclp", "SF R=5000", SF_MCLP_KNOWN, False),
        ("lscp", "SF R=5000", SF_LSCP_KNOWN, False),
        ("lscpb", "SF R=5000", None, False),
        ("mclp", "rand 2000x500", None, False),
        ("mclp", "rand 10000x2000", None, False),
        ("mclp", "city 100kx10k", None, True),
    ]
    for kind, name, known, city in plan:
        rows.append(_row(kind, name, known, city=city))
        _print(rows[-1:])
    sf = rows[0]
    print(f"\nSF MCLP: ours covers {_fmt(sf['ours'])} with {sf['uncovered']} tracts uncovered "
          f"(known {_fmt(SF_MCLP_KNOWN)}, {SF_MCLP_UNCOVERED} uncovered)")  # fmt: skip
    for r in rows:
        if r["instance"].startswith(("rand", "city")):
            print(f"{r['instance']}: radius {r['radius']:.0f} m, density {100 * r['density']:.3f} %, "
                  f"p = {r['p']}, nnz {round(r['density'] * r['n_demand'] * r['n_candidates']):,}")  # fmt: skip
    _print_city(rows[-1])
    print(f"\nsiting vs spopt (CBC timeLimit {SPOPT_LIMIT:.0f} s; * = spopt hit a limit or did not finish, "
          "ratio then a lower bound)")  # fmt: skip
    _print(rows)
    ratios = [r["ratio"] for r in rows if math.isfinite(r["ratio"])]
    compared = [r for r in rows if math.isfinite(r["spopt"])]
    same = sum(1 for r in compared if _same(r["spopt"], r["ours"]))
    same_eval = sum(1 for r in compared if _same(r["spopt_eval"], r["ours"]))
    known = [r for r in rows if r["known"] is not None]
    exact = sum(1 for r in known if _same(r["ours"], r["known"]))
    print(f"median time ratio spopt/ours: {statistics.median(ratios):.1f}x over {len(ratios)} instances "
          f"({sum(r['spopt_hit'] for r in rows)} spopt runs hit a limit: lower bounds); identical objectives: "
          f"{same}/{len(compared)} as spopt reports them, {same_eval}/{len(compared)} with spopt's sites "
          f"scored like ours; equal to the known optimum: {exact}/{len(known)}")  # fmt: skip
    return rows


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--spopt-worker":
        spopt_worker(sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5]))
    else:
        main()
