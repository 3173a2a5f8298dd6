"""Parameter sweeps: the coverage of every combination of radius, p ... (one pure function per combination)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from siting.errors import Problem, ScenarioError
from siting.scenarios.distributed import map_ordered
from siting.scenarios.outputs import atomic_folder
from siting.scenarios.runner import run_scenario
from siting.scenarios.schema import Scenario, parse_scenario, scenario_hash

__all__ = [
    "ALIASES",
    "apply_params",
    "combinations",
    "evaluate",
    "evaluate_safely",
    "parse_grid",
    "parse_values",
    "run_sweep",
    "write_sweep",
]

#: Short names accepted by ``--set`` and the scenario keys they stand for (any dotted key works too).
ALIASES: Mapping[str, str] = {
    "radius": "model.radius_m",
    "radius_m": "model.radius_m",
    "p": "model.p",
    "budget": "model.budget",
    "share": "model.coverage_share",
    "coverage_share": "model.coverage_share",
    "objective": "model.objective",
    "method": "model.method",
    "time_limit": "model.time_limit_s",
    "circuity": "circuity",
    "year": "target_year",
    "target_year": "target_year",
    "users_per_pile": "charging.users_per_pile",
    "ownership_rate": "charging.ownership_rate",
}

#: Objectives that take p; sweeping p with another objective switches to max_coverage.
USES_P = frozenset({"max_coverage", "min_distance", "min_max_distance"})

_MAX_COMBINATIONS = 10_000


class SweepReport(Protocol):
    """Writes a sweep's figures and page into its folder."""

    def __call__(
        self, frame: pd.DataFrame, folder: Path, /, *, scenario: Scenario, grid: Mapping[str, Sequence[Any]]
    ) -> Any: ...


def _number(text: str) -> int | float | str:
    try:
        value = float(text)
    except ValueError:
        return text.strip()
    if not np.isfinite(value):
        return text.strip()
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


def parse_values(text: str) -> list[Any]:
    """Values of one ``--set``: ``300,500,1000`` (a list) or ``10:100:10`` (start:stop:step, stop included).

    Raises
    ------
    ValueError
        A range with a step <= 0, stop before start, non-numbers, or no values.
    """
    text = text.strip()
    if ":" in text and "," not in text:
        parts = [_number(p) for p in text.split(":")]
        if len(parts) not in (2, 3) or not all(isinstance(p, int | float) for p in parts):
            raise ValueError(f"range {text!r} must be start:stop or start:stop:step with numbers")
        start, stop = float(parts[0]), float(parts[1])
        step = float(parts[2]) if len(parts) == 3 else 1.0
        if step <= 0 or stop < start:
            raise ValueError(f"range {text!r} needs step > 0 and stop >= start")
        count = int(np.floor((stop - start) / step + 1e-9)) + 1
        values = [start + i * step for i in range(count)]
        integral = all(isinstance(p, int) for p in parts)
        return [round(v) for v in values] if integral else [round(v, 10) for v in values]
    items: list[Any] = [_number(v) for v in text.split(",") if v.strip()]
    if not items:
        raise ValueError("no values")
    return items


def parse_grid(sets: Sequence[str]) -> dict[str, list[Any]]:
    """Parse ``--set NAME=VALUES`` options into an ordered grid ``{name: [values]}``.

    Raises
    ------
    ScenarioError
        Naming each bad ``--set`` (no ``=``, bad values, a name given twice).
    """
    grid: dict[str, list[Any]] = {}
    problems = []
    for item in sets:
        name, sep, values = item.partition("=")
        name = name.strip()
        if not sep or not name:
            problems.append(Problem(f"--set {item}", "must be NAME=VALUES", "e.g. --set radius=300,500,1000"))
            continue
        if name in grid:
            problems.append(Problem(f"--set {name}", "given twice", "give each parameter once"))
            continue
        try:
            grid[name] = parse_values(values)
        except ValueError as exc:
            problems.append(Problem(f"--set {name}", str(exc), "e.g. 300,500,1000 or 10:100:10"))
    if not sets:
        problems.append(
            Problem("--set", "no parameter to sweep", "e.g. --set radius=300,500 --set p=10:50:10")
        )
    if problems:
        raise ScenarioError(problems, title="invalid sweep")
    return grid


def combinations(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, the last parameter varying fastest."""
    names = list(grid)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*grid.values())]


def _set(doc: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = doc
    for key in parents:
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        if not isinstance(child, dict):
            raise ScenarioError(Problem(dotted, f"{key} is not a section", "use a key like model.p"))
        node = child
    node[leaf] = value


def apply_params(scenario: Scenario, params: Mapping[str, Any]) -> Scenario:
    """Return the scenario with ``params`` set (short names or dotted keys), validated again.

    The coverage curve, service areas and report are switched off (a sweep needs the figures
    only); sweeping ``p`` with an objective that ignores p asks for the best p sites instead
    (``max_coverage``); sweeping the radius overrides the life-circle preset.

    Raises
    ------
    ScenarioError
        Naming the bad key, e.g. ``model.p``, for a value the schema rejects.
    """
    doc = scenario.model_dump(mode="json")
    for name, value in params.items():
        key = ALIASES.get(name, name)
        _set(doc, key, value)
        if key == "model.radius_m":
            doc["model"]["life_circle"] = None
        if key == "model.p" and doc["model"].get("objective") not in USES_P and "objective" not in params:
            doc["model"]["objective"] = "max_coverage"
    doc["model"]["curve"] = None
    doc["outputs"] = {**doc.get("outputs", {}), "service_areas": False, "report": False}
    return parse_scenario(doc, source="sweep")


def _own_grid_share(grids: pd.DataFrame) -> float | None:
    if grids.empty or "own_grid_share" not in grids:
        return None
    hh = grids["households"].astype(float)
    return float((hh * grids["own_grid_share"]).sum() / hh.sum()) if hh.sum() > 0 else None


def evaluate(scenario: Scenario, base_dir: Path | None, params: Mapping[str, Any]) -> dict[str, Any]:
    """Solve one combination and return its row (pure: reads inputs, writes nothing).

    Parameters
    ----------
    scenario : Scenario
        The base scenario.
    base_dir : Path or None
        Folder of the scenario file (relative study-area paths start there).
    params : mapping
        This combination, e.g. ``{"radius": 500, "p": 20}``.

    Returns
    -------
    dict
        ``params`` plus ``objective``, ``objective_value``, ``status``, ``gap``, ``stations``,
        ``households``, ``households_covered``, ``covered_share``, ``own_grid_share``,
        ``solve_seconds`` and ``result_hash``.
    """
    sc = apply_params(scenario, params)
    result = run_scenario(sc, base_dir)
    s = result.summary
    return {
        **dict(params),
        "objective": sc.model.objective,
        "objective_value": s.get("objective"),
        "status": s.get("status"),
        "gap": s.get("gap"),
        "stations": s.get("stations"),
        "households": s.get("households"),
        "households_covered": s.get("households_covered"),
        "covered_share": s.get("covered_share"),
        "own_grid_share": _own_grid_share(result.grids),
        "solve_seconds": s.get("solve_seconds"),
        "result_hash": s.get("result_hash"),
    }


def evaluate_safely(scenario: Scenario, base_dir: Path | None, params: Mapping[str, Any]) -> dict[str, Any]:
    """Like :func:`evaluate`, but a failure becomes a row with ``status = "failed"`` and its ``error``.

    One failing combination (an infeasible radius, a solver error, a lost worker) then never
    loses the rows of the others.
    """
    try:
        return evaluate(scenario, base_dir, params)
    except Exception as exc:  # every failure is reported in its row, with the combination
        return _failed(params, exc)


def _failed(params: Mapping[str, Any], exc: BaseException) -> dict[str, Any]:
    """Build the row of a combination that failed: its parameters, ``status = "failed"`` and the error."""
    return {**dict(params), "status": "failed", "error": f"{type(exc).__name__}: {exc}"}


def run_sweep(
    scenario: Scenario,
    base: Path | None,
    grid: Mapping[str, Sequence[Any]],
    *,
    progress: Callable[[int, int, Mapping[str, Any]], None] | None = None,
    client: Any = None,
) -> pd.DataFrame:
    """Evaluate every combination of ``grid``: one row each (see :func:`evaluate`).

    Every combination is checked before the first solve. A combination that fails gets
    ``status = "failed"`` and an ``error`` column naming the cause; the other rows are kept.
    When ``p`` is swept, ``marginal_per_station`` is the households gained per added site
    against the next smaller p with the other parameters equal.

    Parameters
    ----------
    scenario : Scenario
        The base scenario.
    base : Path or None
        Folder of the scenario file.
    grid : mapping of str to sequence
        Parameter values (short names such as ``radius``, ``p``, or dotted scenario keys).
    progress : callable, optional
        ``progress(done, total, params)`` as combinations finish.
    client : dask.distributed.Client, optional
        Run the combinations as tasks on this cluster (:func:`siting.scenarios.distributed.connect`);
        the rows are the same as in this process, in the same order.

    Raises
    ------
    ScenarioError
        A combination the schema rejects (named by key), or more than 10,000 combinations.
    """
    combos = combinations(grid)
    if len(combos) > _MAX_COMBINATIONS:
        raise ScenarioError(Problem("--set", f"{len(combos):,} combinations", "sweep fewer values"))
    for params in combos:
        apply_params(scenario, params)
    if client is not None:
        rows = map_ordered(
            client,
            evaluate_safely,
            [(scenario, base, params) for params in combos],
            progress=None if progress is None else (lambda done, n, k: progress(done, n, combos[k])),
            on_error=lambda k, exc: _failed(combos[k], exc),
        )
    else:
        rows = []
        for i, params in enumerate(combos):
            if progress is not None:
                progress(i, len(combos), params)
            rows.append(evaluate_safely(scenario, base, params))
    return _with_marginals(pd.DataFrame(rows), grid)


def _with_marginals(frame: pd.DataFrame, grid: Mapping[str, Sequence[Any]]) -> pd.DataFrame:
    """Add ``marginal_per_station`` (households gained per added site) when ``p`` is swept."""
    if "error" not in frame:
        frame["error"] = None
    if "p" not in grid or "households_covered" not in frame:
        return frame
    others = [k for k in grid if k != "p"]
    frame = frame.sort_values([*others, "p"], kind="stable").reset_index(drop=True)
    grouped = frame.groupby(others, sort=False) if others else [((), frame)]
    marginal = pd.Series(np.nan, index=frame.index)
    for _, part in grouped:
        marginal[part.index] = part["households_covered"].diff() / part["p"].diff()
    frame["marginal_per_station"] = marginal
    return frame


def write_sweep(
    frame: pd.DataFrame,
    out: str | Path,
    scenario: Scenario,
    grid: Mapping[str, Sequence[Any]],
    *,
    report: SweepReport | None = None,
) -> Path:
    """Write a sweep folder (atomically): sweep.csv, sweep.json, then what ``report`` adds.

    ``report(frame, folder, scenario=..., grid=...)`` writes the figures and the page (e.g.
    :func:`siting.reports.sweep.write_sweep_report`: sweep.png and report.html).
    """
    target = Path(out)
    with atomic_folder(target) as tmp:
        frame.to_csv(tmp / "sweep.csv", index=False)
        meta = {
            "scenario": scenario.model_dump(mode="json"),
            "scenario_hash": scenario_hash(scenario),
            "grid": {k: list(v) for k, v in grid.items()},
            "combinations": len(frame),
        }
        (tmp / "sweep.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
        if report is not None:
            report(frame, tmp, scenario=scenario, grid=grid)
    return target
