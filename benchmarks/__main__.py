"""Run every benchmark (``make bench``) or the ones named: ``python -m benchmarks network median``."""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path

SUITES = {
    "network": "benchmarks.bench_network",
    "coverage": "benchmarks.bench_coverage",
    "median": "benchmarks.bench_median",
    "models": "benchmarks.bench_models",  # summary of median + coverage on issue #6's list (no timing)
    "distributed": "benchmarks.bench_distributed",
    "api": "benchmarks.bench_api",
}
RESULTS = Path(__file__).parent / "results"


def main(argv: list[str]) -> int:
    names = argv or list(SUITES)
    unknown = [n for n in names if n not in SUITES]
    if unknown:
        print(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(SUITES)}")
        return 2
    RESULTS.mkdir(exist_ok=True)
    for name in names:
        print(f"\n=== {name} ({SUITES[name]}) ===", flush=True)
        start = time.perf_counter()
        rows = importlib.import_module(SUITES[name]).main()
        seconds = time.perf_counter() - start
        (RESULTS / f"{name}.json").write_text(json.dumps(rows, indent=2, default=str))
        print(f"--- {name}: {seconds:.0f} s; rows saved to {RESULTS / (name + '.json')}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
