"""The ``siting`` command line: validate, run, compare and sweep scenarios, render and serve reports.

Other packages add commands through the entry-point group ``siting.commands`` (the HTTP API adds
``siting serve`` and ``siting api-key``); a command whose package misses an optional dependency
stays listed and says which extra to install.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from typer.main import get_group

from siting import __version__
from siting.cli.console import console, err_console, fail, steps
from siting.cli.demo import demo_app
from siting.errors import InputError, Problem, SitingError
from siting.geo.study_area import load_study_area
from siting.reports.compare import render_compare
from siting.reports.facts import objective_label
from siting.reports.run import write_report
from siting.reports.serve import serve_folder
from siting.reports.sweep import write_sweep_report
from siting.scenarios.compare import COMPARE_FILE, read_compare, run_compare
from siting.scenarios.distributed import connect, dask_available
from siting.scenarios.outputs import write_run
from siting.scenarios.runner import check_network, resolve_study_area, run_scenario
from siting.scenarios.schema import load_scenario, parse_scenario
from siting.scenarios.sweep import combinations, parse_grid, run_sweep, write_sweep

#: Entry-point group of the commands other packages add.
COMMANDS_GROUP = "siting.commands"

app = typer.Typer(
    name="siting",
    help="Siting of grid red stations and e-bike charging piles (Nanjing Jiangbei New Area).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _mount_subcommands(target: typer.Typer, commands: Iterable[EntryPoint] | None = None) -> None:
    """Add ``siting demo`` and a command for each entry point to ``target``.

    ``commands`` defaults to the entry points of the group ``siting.commands``. A typer app becomes a
    command group, a function a command, and one whose import fails a command that says what to install.
    """
    target.add_typer(demo_app, name="demo")
    taken = _command_names(target)
    found = entry_points(group=COMMANDS_GROUP) if commands is None else commands
    for ep in sorted(found, key=lambda e: e.name):
        if ep.name in taken:
            continue  # never two commands of one name: the first registered wins
        taken.add(ep.name)
        try:
            command = ep.load()
        except ImportError as exc:
            target.command(ep.name, **_UNAVAILABLE)(_unavailable(ep, exc))
            continue
        if isinstance(command, typer.Typer):
            target.add_typer(command, name=ep.name)
        else:
            target.command(ep.name)(command)


def _command_names(target: typer.Typer) -> set[str]:
    """Names of the commands and groups of ``target``, as typer resolves them.

    ``@app.command()`` leaves the name unset until typer builds the click group (it is the
    function's name, ``_`` as ``-``), so the names come from that group.
    """
    return set(get_group(target).commands)


_UNAVAILABLE: dict[str, Any] = {
    "context_settings": {"allow_extra_args": True, "ignore_unknown_options": True},
    "add_help_option": False,
}


def _extra_for(ep: EntryPoint, module: str) -> str | None:
    """Return the extra of ``ep``'s distribution that requires ``module`` (by distribution name), if any."""
    wanted = re.sub(r"[-_.]+", "-", module.split(".", maxsplit=1)[0]).lower()
    for req in (ep.dist.requires or []) if ep.dist is not None else []:
        found = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*).*extra\s*==\s*[\"']([^\"']+)[\"']", req)
        if found and re.sub(r"[-_.]+", "-", found.group(1)).lower() == wanted:
            return found.group(2)
    return None


def _unavailable(ep: EntryPoint, exc: ImportError) -> Callable[..., None]:
    """Return a command that explains why ``ep`` cannot run here (a missing optional dependency)."""
    missing = exc.name or str(exc)
    dist = ep.dist.name if ep.dist is not None else "siting"
    extra = _extra_for(ep, missing)
    fix = f"pip install '{dist}[{extra}]'" if extra else f"install the optional dependencies of {dist}"

    def command(ctx: typer.Context) -> None:
        raise fail(InputError(Problem(f"siting {ep.name}", f"needs {missing}, which is not installed", fix)))

    # help texts are rich markup: escape the "[api]" of the fix
    command.__doc__ = f"Not available here: needs {missing} ({escape(fix)})."
    return command


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress to stderr.")] = False,
) -> None:
    """Siting of grid red stations and e-bike charging piles."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(message)s"
    )


@app.command()
def version() -> None:
    """Print the version of siting."""
    console.print(__version__)


@app.command()
def validate(
    path: Annotated[
        Path, typer.Argument(help="A study area (.gpkg file or folder of layer files) or a scenario .yaml.")
    ],
    strict: Annotated[
        bool, typer.Option(help="Reject invalid geometries instead of repairing them.")
    ] = False,
    crs: Annotated[str | None, typer.Option(help="Projected CRS for metric work, e.g. EPSG:32650.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Validate a study area or a scenario and print its summary; exit 1 listing every problem.

    A scenario is checked against the schema (every bad key named), then its study area is loaded and validated, and a street network is looked for when it asks for one.
    """
    if path.suffix.lower() in (".yaml", ".yml"):
        _validate_scenario(path, strict=strict, crs=crs, as_json=as_json)
        return
    try:
        area = load_study_area(path, crs=crs, strict=strict)
    except Exception as exc:
        raise fail(exc) from None
    summary = area.summary()
    if as_json:
        console.print_json(json.dumps(summary))
        return
    print_summary(summary)


def _validate_scenario(path: Path, *, strict: bool, crs: str | None, as_json: bool) -> None:
    try:
        sc, base = load_scenario(path)
        with steps(sc.name) as step:
            area_path = resolve_study_area(sc.study_area, base)
            step(f"validating study area {area_path.name}")
            area = load_study_area(area_path, crs=crs, strict=strict)
        check_network(sc, area, area_path)
    except Exception as exc:
        raise fail(exc) from None
    if as_json:
        console.print_json(json.dumps({"scenario": sc.model_dump(mode="json"), "study_area": area.summary()}))
        return
    _print_scenario(sc)
    print_summary(area.summary())


def _print_scenario(sc: Any) -> None:
    table = Table(title=f"scenario {sc.name}", title_justify="left", show_header=False)
    table.add_column("key")
    table.add_column("value")
    dump = sc.model_dump(mode="json")
    rows = [
        ("facility type", sc.facility_type),
        ("study area", sc.study_area),
        ("question", objective_label(dump)),
        ("radius", f"{sc.model.radius:g} m ({sc.distance})"),
        ("target year", str(sc.target_year or "-")),
        ("phases", ", ".join(map(str, sc.phases.years)) if sc.phases else "-"),
    ]
    for key, value in rows:
        table.add_row(key, str(value))
    console.print(table)


def print_summary(summary: dict) -> None:
    """Print a study-area summary as a rich table with its totals and warnings."""
    table = Table(title=f"{summary['name']}  ({summary['crs']})", title_justify="left")
    for col in ("layer", "features", "geometry", "source"):
        table.add_column(col, justify="right" if col == "features" else "left")
    for name, info in summary["layers"].items():
        table.add_row(
            name, f"{info['features']:,}", ", ".join(info["geometry"]), ", ".join(info["sources"]) or "-"
        )
    console.print(table)
    console.print(
        f"residents {summary['population']:,.0f}   households {summary['households']:,.0f}   "
        f"grids {summary['grids']:,}   tables {', '.join(summary['tables']) or '-'}"
    )
    if summary.get("network"):
        console.print(f"street network: {summary['network']}")
    for w in summary["warnings"]:
        console.print(f"[yellow]warning:[/] {w}", highlight=False)
    console.print("[green]valid[/]")


@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder (default: runs/<scenario name>).")
    ] = None,
) -> None:
    """Run a scenario and write result.gpkg, sites.geojson, summary.json and report.html.

    The folder appears whole or not at all: a bad scenario or a failed run leaves nothing behind.
    """
    try:
        sc, base = load_scenario(scenario)
        target = out or Path("runs") / sc.name
        with steps(sc.name) as step:
            result = run_scenario(sc, base, progress=step)
            step(f"writing {target} (and the report)")
            write_run(result, target, report=write_report)
    except Exception as exc:
        raise fail(exc) from None
    _print_run(result.summary, target)


@app.command()
def compare(
    scenarios: Annotated[
        list[Path], typer.Argument(help="Two or more scenario YAML files or run folders (from siting run).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Output folder of the comparison.")] = Path(
        "runs/compare"
    ),
) -> None:
    """Run (or read) several scenarios and write one report with them side by side.

    Scenario files are run into OUT/<scenario name>/ (each with its own report); run folders are read back and linked. OUT gets report.html, compare.csv, compare.json, curves.png and maps.png.

    Every scenario is validated before the first one runs.
    """
    try:
        with steps("compare") as step:
            folder = run_compare(
                scenarios, out, progress=step, run_report=write_report, compare_report=render_compare
            )
    except Exception as exc:
        raise fail(exc) from None
    console.print(f"wrote {folder / 'report.html'}")


@app.command()
def sweep(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file (the base of every combination).")],
    sets: Annotated[
        list[str],
        typer.Option(
            "--set",
            help="NAME=VALUES: a list (radius=300,500,1000) or a range start:stop:step, stop included "
            "(p=10:100:10). Names: radius, p, budget, share, circuity, year, method, or any scenario "
            "key such as model.time_limit_s. Repeat for a grid.",
        ),
    ],
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder (default: runs/<scenario name>-sweep).")
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            envvar="SITING_DASK_SCHEDULER",
            help="Dask scheduler address (tcp://HOST:8786) to run the combinations on; "
            "default: a LocalCluster of --workers processes.",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=0,
            help="LocalCluster worker processes when no --scheduler is given (default: one per CPU); "
            "0 runs every combination in this process.",
        ),
    ] = None,
) -> None:
    """Solve every combination of the --set values and write sweep.csv, sweep.png and report.html.

    One row per combination: the parameters, objective, status, gap, sites, households covered, covered share, share served inside the own grid and (sweeping p) the gain per added site.

    Sweeping p with an objective that ignores p asks for the best p sites (max_coverage). Example: siting sweep scenarios/red_stations_500m.yaml --set radius=300,500,1000 --set p=10:100:10
    """
    try:
        sc, base = load_scenario(scenario)
        grid = parse_grid(sets)
        target = out or Path("runs") / f"{sc.name}-sweep"
        n = len(combinations(grid))
        with _cluster(scheduler, workers, n) as client, _bar(f"{sc.name} sweep", n) as advance:
            frame = run_sweep(sc, base, grid, progress=advance, client=client)
        with steps(sc.name) as step:
            step(f"writing {target}")
            write_sweep(frame, target, sc, grid, report=write_sweep_report)
    except Exception as exc:
        raise fail(exc) from None
    _print_sweep(frame, list(grid))
    console.print(f"wrote {target / 'sweep.csv'} and {target / 'report.html'}")
    failed = frame.loc[frame["status"] == "failed"]
    for _, row in failed.iterrows():
        label = ", ".join(f"{k}={row[k]}" for k in grid)
        err_console.print(f"[red]failed:[/] {label}: {row['error']}", highlight=False)
    if len(failed):
        err_console.print(f"{len(failed)} of {len(frame)} combination(s) failed; the others are in sweep.csv")
        raise typer.Exit(1)


@contextmanager
def _cluster(scheduler: str | None, workers: int | None, n_tasks: int) -> Iterator[Any]:
    """Yield a Dask client (the scheduler, or a LocalCluster), or None to run in this process.

    Without Dask installed and without a scheduler, the combinations run in this process.
    """
    n_workers = workers if workers is not None else min(os.cpu_count() or 1, max(n_tasks, 1))
    if not scheduler and workers is None and not dask_available():
        fix = escape("pip install 'siting[dask]'")
        err_console.print(f"Dask is not installed ({fix}): running the combinations in this process")
        n_workers = 0
    if not scheduler and n_workers == 0:
        yield None
        return
    with connect(scheduler, n_workers=max(n_workers, 1)) as client:
        yield client


def _print_sweep(frame: Any, params: list[str]) -> None:
    """Print the sweep as a table: parameters, sites, households covered, share, gain per added site."""
    table = Table(title="sweep", title_justify="left")
    cols = [*params, "stations", "households_covered", "covered_share", "marginal_per_station", "status"]
    cols = [c for c in cols if c in frame.columns]
    for col in cols:
        table.add_column(col.replace("_", " "), justify="left" if col == "status" else "right")
    for row in frame[cols].itertuples(index=False):
        cells = []
        for col, value in zip(cols, row, strict=True):
            missing = isinstance(value, float) and math.isnan(value)  # first p of a line, or failed
            if missing:
                cells.append("-")
            elif col == "covered_share":
                cells.append(f"{value:.1%}")
            elif col in ("households_covered", "marginal_per_station"):
                cells.append(f"{value:,.0f}")
            elif col == "stations":
                cells.append(f"{value:.0f}")
            else:
                cells.append(str(value))
        table.add_row(*cells)
    console.print(table)


@contextmanager
def _bar(title: str, total: int) -> Iterator[Callable[[int, int, Mapping[str, Any]], None]]:
    """Show a rich progress bar over ``total`` combinations; yields the callback run_sweep calls."""
    columns = (SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=err_console) as progress:
        task = progress.add_task(title, total=total)

        def advance(done: int, _total: int, params: Mapping[str, Any]) -> None:
            label = ", ".join(f"{k}={v}" for k, v in params.items())
            progress.update(task, completed=done, description=f"{title}: {label}")

        yield advance
        progress.update(task, completed=total, description=title)


@app.command()
def report(
    result_dir: Annotated[Path, typer.Argument(help="A folder written by siting run, compare or sweep.")],
) -> None:
    """Re-render report.html (and its maps, plots and assets) from the files of a result folder."""
    try:
        with steps("report") as step:
            step(f"rendering {result_dir}")
            path = render_folder(result_dir)
    except Exception as exc:
        raise fail(exc) from None
    console.print(f"wrote {path}")


def render_folder(folder: Path) -> Path:
    """Re-render the report of a run, comparison or sweep folder from its files; returns report.html."""
    if (folder / COMPARE_FILE).is_file():
        return render_compare(read_compare(folder), folder)
    if (folder / "sweep.json").is_file():
        meta = json.loads((folder / "sweep.json").read_text(encoding="utf-8"))
        sc = parse_scenario(meta["scenario"], source="sweep.json")
        frame = pd.read_csv(folder / "sweep.csv")
        return write_sweep_report(frame, folder, scenario=sc, grid=meta["grid"])
    return write_report(folder)


@app.command("serve-reports")
def serve_reports(
    folder: Annotated[Path, typer.Argument(help="Folder of reports to serve.")] = Path("runs"),
    host: Annotated[str, typer.Option(help="Address to listen on (localhost by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 picks a free one).")] = 8000,
) -> None:
    """Serve a folder of reports on localhost (Python's http.server) until Ctrl-C.

    Static files only, for reading reports in a browser: / lists every report.html found. Reports also open straight from disk, without a server.

    This never starts the HTTP API of the city governance platform (siting serve).
    """
    try:
        serve_folder(folder, host, port, say=console.print)
    except SitingError as exc:
        raise fail(exc) from None


def _print_run(summary: Mapping[str, Any], target: Path) -> None:
    share = summary.get("covered_share")
    parts = [f"[bold]{summary['scenario']['name']}[/]", f"status {summary.get('status')}"]
    if share is not None:
        parts.append(f"covered {share:.1%}")
    parts.append(f"sites {summary.get('stations')}")
    gap = summary.get("gap")
    if isinstance(gap, float):
        parts.append(f"gap {gap:.2%}")
    console.print("   ".join(parts))
    console.print(f"wrote {target}/")


_mount_subcommands(app)
