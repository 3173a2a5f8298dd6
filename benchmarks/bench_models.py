"""The optimisation engine against spopt on issue #6's instance list, from the median and coverage suites' rows.

Issue #6 names one list for the spopt comparison: pmed1-10, pmedcap01-05, the San Francisco
data (p-median, MCLP, LSCP, LSCP-B) and the random MCLPs 2,000 x 500 and 10,000 x 2,000. This
suite reads the rows that ``median`` and ``coverage`` saved in ``benchmarks/results/`` (run
those first: ``make bench`` runs them before this one) and prints that list with one median
ratio. Nothing is re-timed here.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"

POOL_MEDIAN = [f"pmed{k}" for k in range(1, 11)] + [f"pmedcap{k:02d}" for k in range(1, 6)] + ["SF p=4"]
POOL_COVERAGE = [("MCLP", "SF R=5000"), ("LSCP", "SF R=5000"), ("LSCP-B", "SF R=5000"),
                 ("MCLP", "rand 2000x500"), ("MCLP", "rand 10000x2000")]  # fmt: skip


def _load(name: str) -> list[dict[str, Any]]:
    path = RESULTS / f"{name}.json"
    if not path.exists():
        raise SystemExit(f"{path} is missing: run `python -m benchmarks {name}` first")
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def pool(median_rows: list[dict[str, Any]], coverage_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's instances: model, instance, ours, spopt, seconds, ratio, same objective."""
    out = [
        _entry(r, r["spopt"], r["spopt_s"], bool(r.get("spopt_hit")))
        for r in median_rows
        if r["instance"] in POOL_MEDIAN and "ratio" in r and r["model"] != "p-center"
    ]
    out += [
        _entry(r, r["spopt"], r["spopt_s"], bool(r.get("spopt_hit")), r.get("spopt_eval"))
        for r in coverage_rows
        if (r["model"], r["instance"]) in POOL_COVERAGE
    ]
    return out


def _entry(
    r: dict[str, Any], spopt: float, spopt_s: float, hit: bool, spopt_eval: Any = None
) -> dict[str, Any]:
    same = math.isfinite(spopt) and abs(spopt - r["ours"]) <= 1e-6 * max(1.0, abs(r["ours"]))
    return {
        "model": r["model"], "instance": r["instance"], "ours": r["ours"], "spopt": spopt,
        "spopt_sites_scored": spopt_eval, "ours_s": r["ours_s"], "spopt_s": spopt_s,
        "ratio": spopt_s / max(r["ours_s"], 1e-9), "spopt_hit_limit": hit, "same_objective": same,
        "status": r["status"],
    }  # fmt: skip


def main() -> list[dict[str, Any]]:
    """Print the issue's list with the median ratio; return its rows."""
    rows = pool(_load("median"), _load("coverage"))
    print(
        f"{'model':13}{'instance':17}{'ours':>12}{'spopt':>12}{'ours s':>9}{'spopt s':>9}{'ratio':>9}  note"
    )
    for r in rows:
        note = "same objective" if r["same_objective"] else "objectives differ"
        if not r["same_objective"] and r["spopt_sites_scored"] is not None:
            note += f" (spopt's own sites score {r['spopt_sites_scored']:,.0f} by the model's definition)"
        if r["spopt_hit_limit"]:
            note += "; spopt hit its time limit (ratio a lower bound)"
        print(f"{r['model']:13}{r['instance']:17}{r['ours']:>12,.2f}{r['spopt']:>12,.2f}{r['ours_s']:>9.3f}"
              f"{r['spopt_s']:>9.2f}{r['ratio']:>8.1f}x  {note}")  # fmt: skip
    ratios = [r["ratio"] for r in rows]
    same = sum(r["same_objective"] for r in rows)
    print(f"issue #6 list: median time ratio spopt/ours {statistics.median(ratios):.1f}x over {len(rows)} "
          f"instances (goal >= 10x); {same}/{len(rows)} identical objectives; "
          f"{sum(r >= 10 for r in ratios)} instances at >= 10x")  # fmt: skip
    return rows


if __name__ == "__main__":
    main()
