"""Comparing scenarios: run (or read back) several, put their figures side by side, write one report."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from siting.errors import InputError, Problem, ScenarioError
from siting.scenarios.outputs import atomic_folder, read_run, write_run
from siting.scenarios.runner import run_scenario
from siting.scenarios.schema import Scenario, load_scenario

__all__ = [
    "COMPARE_FILE",
    "CompareEntry",
    "compare_table",
    "headline_figures",
    "is_run_folder",
    "read_compare",
    "run_compare",
    "write_compare",
]

#: The file that marks a comparison folder (and lets ``siting report`` re-render it).
COMPARE_FILE = "compare.json"

Progress = Callable[[str], None]
#: ``run_report(folder)``: writes the report of a run folder.
RunReport = Callable[[Path], Any]
#: ``compare_report(entries, folder)``: writes the report of a comparison.
CompareReport = Callable[[Sequence["CompareEntry"], Path], Any]


@dataclass(frozen=True)
class CompareEntry:
    """One compared run: its label, its folder (as linked from the comparison) and its data.

    Attributes
    ----------
    label : str
        The scenario name.
    link : str
        Path of the run folder relative to the comparison folder (``red-stations-300m`` or
        ``../red-stations-300m``).
    data : mapping
        The run read back with :func:`siting.scenarios.outputs.read_run`.
    """

    label: str
    link: str
    data: Mapping[str, Any]


def is_run_folder(path: Path) -> bool:
    """Tell whether ``path`` is a folder written by ``siting run`` (summary.json and result.gpkg)."""
    return path.is_dir() and (path / "summary.json").is_file() and (path / "result.gpkg").is_file()


def compare_table(summaries: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per run with the headline figures (scenario, radius, sites, coverage, status, hashes)."""
    return pd.DataFrame([headline_figures(s) for s in summaries])


def _plan(items: Sequence[Path]) -> list[tuple[Path, Scenario | None, Path | None]]:
    """Check every item before running anything: run folders, or scenario files that validate."""
    plan: list[tuple[Path, Scenario | None, Path | None]] = []
    problems: list[Problem] = []
    for item in items:
        path = Path(item)
        if is_run_folder(path):
            plan.append((path, None, None))
            continue
        if path.is_dir():
            problems.append(Problem(str(path), "is a folder but not a run folder", "give a scenario .yaml"))
            continue
        try:
            sc, base = load_scenario(path)
        except ScenarioError as exc:
            problems.extend(Problem(f"{path.name}: {p.where}", p.message, p.fix) for p in exc.problems)
            continue
        plan.append((path, sc, base))
    if len(items) < 2:
        problems.append(
            Problem("scenarios", f"got {len(items)}", "give two or more scenarios or run folders")
        )
    names = [sc.name for _, sc, _ in plan if sc is not None]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        problems.append(
            Problem("name", f"scenario names repeat: {', '.join(dupes)}", "give each a unique name")
        )
    if problems:
        raise ScenarioError(problems, title="cannot compare")
    return plan


def run_compare(
    items: Sequence[Path],
    out: str | Path,
    *,
    progress: Progress | None = None,
    run_report: RunReport | None = None,
    compare_report: CompareReport | None = None,
) -> Path:
    """Run or read every item and write a comparison folder (atomically).

    Parameters
    ----------
    items : sequence of Path
        Scenario YAML files (run now, each into ``out/<scenario name>/`` with its own report) or
        run folders already written by ``siting run`` (read back and linked, not copied).
    out : str or Path
        The comparison folder: ``report.html`` (scenarios side by side), ``compare.csv``,
        ``compare.json``, ``curves.png``, ``maps.png`` and the new run folders.
    progress : callable, optional
        Called with a short message at each step.
    run_report : callable, optional
        ``run_report(folder)`` writes the report of each new run folder (e.g.
        :func:`siting.reports.run.write_report`); none when omitted.
    compare_report : callable, optional
        ``compare_report(entries, folder)`` writes the comparison's report (e.g.
        :func:`siting.reports.compare.render_compare`); none when omitted.

    Raises
    ------
    ScenarioError
        A bad scenario (named by file and key) before anything runs; no folder is left behind.
    """
    say = progress or (lambda _msg: None)
    plan = _plan(items)
    final = Path(out).resolve()
    inside = [str(p) for p, sc, _ in plan if sc is None and final in (p.resolve(), *p.resolve().parents)]
    if inside:
        raise ScenarioError(
            Problem(
                "--out",
                f"{final} holds the run folders {', '.join(inside)}",
                "write the comparison elsewhere",
            ),
            title="cannot compare",
        )
    with atomic_folder(final) as tmp:
        entries = [
            _entry(path, sc, base, tmp=tmp, final=final, say=say, run_report=run_report)
            for path, sc, base in plan
        ]
        say("writing the comparison")
        write_compare(entries, tmp, report=compare_report)
    return final


def _entry(
    path: Path,
    sc: Scenario | None,
    base: Path | None,
    *,
    tmp: Path,
    final: Path,
    say: Progress,
    run_report: RunReport | None,
) -> CompareEntry:
    """Read a run folder, or run a scenario into ``tmp/<name>``; link it from the comparison."""
    if sc is None:
        say(f"reading {path}")
        data = read_run(path)
        link = os.path.relpath(path.resolve(), final)
    else:
        result = run_scenario(sc, base, progress=_prefixed(say, sc.name))
        say(f"{sc.name}: writing")
        write_run(result, tmp / sc.name, report=run_report)
        data = read_run(tmp / sc.name)
        link = sc.name
    return CompareEntry(str(data["summary"]["scenario"]["name"]), Path(link).as_posix(), data)


def _prefixed(say: Progress, name: str) -> Progress:
    return lambda message: say(f"{name}: {message}")


def write_compare(
    entries: Sequence[CompareEntry], folder: Path, *, report: CompareReport | None = None
) -> None:
    """Write compare.csv and compare.json for ``entries`` into ``folder``, then ``report(entries, folder)``."""
    table = compare_table([e.data["summary"] for e in entries])
    table.to_csv(folder / "compare.csv", index=False)
    doc = {
        "scenarios": [{"label": e.label, "folder": e.link} for e in entries],
        "figures": json.loads(table.to_json(orient="records")),
    }
    (folder / COMPARE_FILE).write_text(json.dumps(doc, indent=2, ensure_ascii=False), encoding="utf-8")
    if report is not None:
        report(entries, folder)


def read_compare(folder: str | Path) -> list[CompareEntry]:
    """Read a comparison folder back: every run it links, in order.

    Raises
    ------
    InputError
        When the folder is not a comparison or a linked run folder is gone.
    """
    folder = Path(folder)
    meta = folder / COMPARE_FILE
    if not meta.is_file():
        raise InputError(
            Problem(str(folder), f"has no {COMPARE_FILE}", "give a folder written by siting compare")
        )
    doc = json.loads(meta.read_text(encoding="utf-8"))
    entries = []
    for item in doc.get("scenarios", []):
        path = folder / item["folder"]
        if not is_run_folder(path):
            raise InputError(
                Problem(f"{COMPARE_FILE}: {item['folder']}", "run folder not found", "re-run siting compare")
            )
        entries.append(CompareEntry(str(item["label"]), str(item["folder"]), read_run(path)))
    return entries


def headline_figures(summary: Mapping[str, Any]) -> dict[str, Any]:
    """Return the figures compared side by side (raw values; formatting is left to the caller)."""
    sc = summary.get("scenario", {})
    m = sc.get("model", {})
    return {
        "scenario": sc.get("name"),
        "facility_type": sc.get("facility_type"),
        "objective": m.get("objective"),
        "radius_m": summary.get("radius_m"),
        "distance": summary.get("distance"),
        "target_year": sc.get("target_year"),
        "stations": summary.get("stations"),
        "existing_stations": summary.get("existing_stations", summary.get("existing_sites_kept")),
        "households": summary.get("households"),
        "households_covered": summary.get("households_covered"),
        "covered_share": summary.get("covered_share"),
        "status": summary.get("status"),
        "gap": summary.get("gap"),
        "solver": summary.get("solver"),
        "solve_seconds": summary.get("solve_seconds"),
        "scenario_hash": summary.get("scenario_hash"),
        "data_hash": summary.get("data_hash"),
        "result_hash": summary.get("result_hash"),
    }
