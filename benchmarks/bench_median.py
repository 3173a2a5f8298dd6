"""p-median / p-center / capacitated p-median: siting vs spopt 0.7 (PuLP + CBC), side by side.

Run: ``.venv/bin/python -m benchmarks.bench_median`` (``SPOPT_LIMIT`` seconds per
spopt run, default 60). spopt runs in a subprocess with CBC's time limit and a
hard timeout; its time covers model build and solve, as ours does.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pulp
from spopt.locate import PMedian as SpoptPMedian

from benchmarks.orlib import read_optima, read_pmed, read_pmedcap
from benchmarks.spopt_sf import load_sf
from siting.models import SolveOptions
from siting.models.median.capacitated import CapacitatedPMedian
from siting.models.median.pcenter import PCenter
from siting.models.median.pmedian import PMedian

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "benchmarks"
SF_MEAN = 2982.1268579890657
SPOPT_LIMIT = float(os.environ.get("SPOPT_LIMIT", "60"))


def _instance(kind: str, name: str) -> tuple[np.ndarray, dict[str, Any]]:
    if kind in ("pmedian", "pcenter"):
        inst = read_pmed(DATA / "orlib" / "pmed" / f"{name}.txt")
        return inst.cost, {"p": inst.p}
    if kind == "cap":
        cap = read_pmedcap(DATA / "orlib" / "pmedcap" / f"{name}.txt")
        return cap.cost, {"p": cap.p, "demand": cap.demand, "capacity": cap.capacity}

    sf = load_sf(DATA / "spopt_sf")
    return sf.cost, {"p": 4, "weights": sf.population}


def spopt_worker(kind: str, name: str, limit: float) -> None:
    """Solve one instance with spopt + CBC and print ``{"objective", "seconds"}`` as JSON."""

    cost, opts = _instance(kind, name)
    start = time.perf_counter()
    solver = pulp.PULP_CBC_CMD(msg=False, timeLimit=limit)
    if kind == "cap":
        demand = opts["demand"]
        # aij = weights * cost_matrix = c_ij: unweighted objective, demand in the capacity rows
        model = SpoptPMedian.from_cost_matrix(
            cost / demand[:, None], demand, p_facilities=opts["p"],
            facility_capacities=np.full(cost.shape[1], opts["capacity"]),
        )  # fmt: skip
    else:
        weights = opts.get("weights", np.ones(cost.shape[0]))
        model = SpoptPMedian.from_cost_matrix(cost, weights, p_facilities=opts["p"])
    model = model.solve(solver, results=False)
    seconds = time.perf_counter() - start
    objective = float(pulp.value(model.problem.objective))
    if kind == "sf":
        objective /= float(opts["weights"].sum())
    status = pulp.LpStatus[model.problem.status]
    print(json.dumps({"objective": objective, "seconds": seconds, "status": status}))


def _run_spopt(kind: str, name: str) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.bench_median", "--spopt-worker", kind, name, str(SPOPT_LIMIT)]
    start = time.perf_counter()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=SPOPT_LIMIT + 60, check=False)
    except subprocess.TimeoutExpired:
        return {"objective": float("nan"), "seconds": time.perf_counter() - start, "hit_limit": True}
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        return {"objective": float("nan"), "seconds": time.perf_counter() - start, "hit_limit": True,
                "error": out.stderr[-300:]}  # fmt: skip
    res = json.loads(lines[-1])
    res["hit_limit"] = res["seconds"] >= SPOPT_LIMIT * 0.98
    return res


def _ours(kind: str, name: str) -> tuple[Any, float]:
    cost, opts = _instance(kind, name)
    start = time.perf_counter()
    if kind == "cap":
        res = CapacitatedPMedian.from_cost_matrix(
            cost, demand=opts["demand"], capacity=opts["capacity"], p=opts["p"]
        ).solve(SolveOptions(time_limit=120))
    elif kind == "pcenter":
        res = PCenter.from_cost_matrix(cost, p=opts["p"]).solve(SolveOptions(time_limit=120))
    else:
        res = PMedian.from_cost_matrix(cost, p=opts["p"], weights=opts.get("weights")).solve(
            SolveOptions(time_limit=120)
        )
    return res, time.perf_counter() - start


def _row(kind: str, name: str, known: float, *, spopt: bool) -> dict[str, Any]:
    res, seconds = _ours(kind, name)
    objective = res.objective / res.total_weight if kind == "sf" else res.objective
    row: dict[str, Any] = {
        "model": {"pmedian": "p-median", "cap": "cap-p-median", "sf": "p-median SF", "pcenter": "p-center"}[kind],
        "instance": name, "ours": objective, "known": known, "status": res.status, "gap": res.gap,
        "ours_s": seconds, "solver": res.solver,
    }  # fmt: skip
    if spopt:
        sp_res = _run_spopt(kind, name)
        row.update(spopt=sp_res["objective"], spopt_s=sp_res["seconds"], spopt_hit=sp_res["hit_limit"])
        row["ratio"] = sp_res["seconds"] / max(seconds, 1e-9)
    return row


def _print(rows: list[dict[str, Any]]) -> None:
    head = f"{'model':13} {'instance':10} {'ours':>12} {'known':>12} {'spopt':>12} {'ours s':>8} {'spopt s':>9} {'ratio':>8} {'gap':>8} status"
    print(head)
    print("-" * len(head))
    for r in rows:
        sp_obj = (
            ""
            if "spopt" not in r
            else (f"{r['spopt']:.4f}" if r["model"] == "p-median SF" else f"{r['spopt']:.0f}")
        )
        ours = f"{r['ours']:.4f}" if r["model"] == "p-median SF" else f"{r['ours']:.0f}"
        known = f"{r['known']:.4f}" if r["model"] == "p-median SF" else f"{r['known']:.0f}"
        sp_s = "" if "spopt_s" not in r else f"{r['spopt_s']:.2f}" + ("*" if r["spopt_hit"] else "")
        ratio = "" if "ratio" not in r else (">=" if r["spopt_hit"] else "") + f"{r['ratio']:.1f}x"
        print(f"{r['model']:13} {r['instance']:10} {ours:>12} {known:>12} {sp_obj:>12} {r['ours_s']:>8.2f} "
              f"{sp_s:>9} {ratio:>8} {r['gap']:>8.1e} {r['status']}")  # fmt: skip


def warm_up() -> None:
    """Solve tiny instances of each model once, untimed (spopt's imports are outside its timing too)."""
    cost = np.random.default_rng(0).uniform(1.0, 10.0, (12, 6))
    PMedian.from_cost_matrix(cost, p=2).solve()
    PCenter.from_cost_matrix(cost, p=2).solve()
    CapacitatedPMedian.from_cost_matrix(cost, demand=np.ones(12), capacity=np.full(6, 7.0), p=2).solve()


def main() -> list[dict[str, Any]]:
    """Run every instance, print the table and return the rows."""
    warm_up()
    pmed_opt = read_optima(DATA / "orlib" / "pmed" / "pmedopt.txt")
    pc_opt = read_optima(DATA / "orlib" / "pcenter" / "pcenter_opt.txt")
    rows: list[dict[str, Any]] = []
    for k in range(1, 11):
        rows.append(_row("pmedian", f"pmed{k}", pmed_opt[f"pmed{k}"], spopt=True))
        _print(rows[-1:])
    for k in range(1, 6):
        name = f"pmedcap{k:02d}"
        rows.append(
            _row("cap", name, read_pmedcap(DATA / "orlib" / "pmedcap" / f"{name}.txt").optimum, spopt=True)
        )
        _print(rows[-1:])
    rows.append(_row("sf", "SF p=4", SF_MEAN, spopt=True))
    _print(rows[-1:])
    rows.extend(_row("pmedian", f"pmed{k}", pmed_opt[f"pmed{k}"], spopt=False) for k in range(11, 21))
    rows.extend(_row("pcenter", f"pmed{k}", pc_opt[f"pmed{k}"], spopt=False) for k in range(1, 21))
    print(
        f"\nsiting vs spopt {SPOPT_LIMIT:.0f} s limit per spopt run (* = hit the limit; ratio then a lower bound)"
    )
    _print(rows)
    ratios = [r["ratio"] for r in rows if "ratio" in r]
    same = sum(
        1 for r in rows if "spopt" in r and abs(r["spopt"] - r["ours"]) <= 1e-6 * max(1, abs(r["ours"]))
    )
    exact = sum(1 for r in rows if abs(r["ours"] - r["known"]) <= 1e-6 * max(1, abs(r["known"])))
    print(f"median time ratio spopt/ours: {statistics.median(ratios):.1f}x over {len(ratios)} instances; "
          f"identical objectives: {same}/{len(ratios)}; equal to the known optimum: {exact}/{len(rows)}")  # fmt: skip
    return rows


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--spopt-worker":
        spopt_worker(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    else:
        main()
