"""The processes the API offers, by id."""

from __future__ import annotations

from .base import Context, Limits, Process, Reporter
from .coverage import COVERAGE_CURVE, EVALUATE_COVERAGE
from .siting_runs import CHARGING_PILES, RED_STATIONS

__all__ = ["PROCESSES", "Context", "Limits", "Process", "Reporter"]

#: Every process by id, in the order /processes lists them.
PROCESSES: dict[str, Process] = {
    p.id: p for p in (RED_STATIONS, CHARGING_PILES, EVALUATE_COVERAGE, COVERAGE_CURVE)
}
