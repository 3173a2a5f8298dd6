"""The ``siting`` command line: validate, run, compare and sweep scenarios, render and serve reports."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from siting import __version__
from siting.errors import SitingError

app = typer.Typer(
    name="siting",
    help="Siting of grid red stations and e-bike charging piles (Nanjing Jiangbei New Area).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)
log = logging.getLogger("siting")


@contextmanager
def steps(title: str) -> Iterator[Callable[[str], None]]:
    """Show a rich progress display; yields a callback that starts the next named step."""
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    ) as progress:
        current: list[Any] = []

        def step(message: str) -> None:
            if current:
                progress.update(current[-1], completed=1, total=1)
            current.append(progress.add_task(f"{title}: {message}", total=None))

        yield step
        if current:
            progress.update(current[-1], completed=1, total=1)


def _mount_subcommands() -> None:
    from siting.cli_api import api_key_app, serve_api
    from siting.cli_demo import demo_app

    app.add_typer(demo_app, name="demo")
    app.add_typer(api_key_app, name="api-key")
    app.command("serve")(serve_api)  # the API; `siting serve FOLDER` still serves reports


def fail(exc: BaseException, *, code: int = 1) -> typer.Exit:
    """Print an error as a clean message (no traceback) and return the exit to raise."""
    if isinstance(exc, SitingError):
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
    else:
        log.exception("unexpected error")
        err_console.print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {exc}\n"
            "This is a bug in siting, not in your input; please report it with the command you ran.",
            highlight=False,
        )
        code = 2
    return typer.Exit(code)


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
    from siting.study_area import load_study_area

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
    from siting.runner import check_network, resolve_study_area
    from siting.scenario import load_scenario
    from siting.study_area import load_study_area

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
    from siting.report import objective_label

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
    from siting.outputs import write_run
    from siting.runner import run_scenario
    from siting.scenario import load_scenario

    try:
        sc, base = load_scenario(scenario)
        target = out or Path("runs") / sc.name
        with steps(sc.name) as step:
            result = run_scenario(sc, base, progress=step)
            step(f"writing {target} (and the report)")
            write_run(result, target, report=_report_writer())
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
    from siting.compare import run_compare

    try:
        with steps("compare") as step:
            folder = run_compare(scenarios, out, progress=step)
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
    from siting.scenario import load_scenario
    from siting.sweep import combinations, parse_grid, run_sweep, write_sweep

    try:
        sc, base = load_scenario(scenario)
        grid = parse_grid(sets)
        target = out or Path("runs") / f"{sc.name}-sweep"
        n = len(combinations(grid))
        with _cluster(scheduler, workers, n) as client, _bar(f"{sc.name} sweep", n) as advance:
            frame = run_sweep(sc, base, grid, progress=advance, client=client)
        with steps(sc.name) as step:
            step(f"writing {target}")
            write_sweep(frame, target, sc, grid)
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
    """Yield a Dask client (the scheduler, or a LocalCluster), or None to run in this process."""
    import os

    from siting.distributed import connect

    n_workers = workers if workers is not None else min(os.cpu_count() or 1, max(n_tasks, 1))
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
    from rich.progress import BarColumn, MofNCompleteColumn

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
    from siting.compare import COMPARE_FILE, read_compare

    if (folder / COMPARE_FILE).is_file():
        from siting.report_compare import render_compare

        return render_compare(read_compare(folder), folder)
    if (folder / "sweep.json").is_file():
        return _render_sweep(folder)
    from siting.report import write_report

    return write_report(folder)


def _render_sweep(folder: Path) -> Path:
    import pandas as pd

    from siting.report_plots import sweep_png
    from siting.report_sweep import render_sweep
    from siting.scenario import parse_scenario

    meta = json.loads((folder / "sweep.json").read_text(encoding="utf-8"))
    sc = parse_scenario(meta["scenario"], source="sweep.json")
    grid = meta["grid"]
    frame = pd.read_csv(folder / "sweep.csv")
    x = "p" if "p" in grid else next(iter(grid))
    sweep_png(
        frame,
        folder / "sweep.png",
        x=x,
        series=[k for k in grid if k != x],
        title=f"{sc.name}: coverage sweep",
    )
    return render_sweep(frame, folder, scenario=sc, grid=grid)


@app.command()
def serve(
    folder: Annotated[Path, typer.Argument(help="Folder of reports to serve.")] = Path("runs"),
    host: Annotated[str, typer.Option(help="Address to listen on (localhost by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 picks a free one).")] = 8000,
) -> None:
    """Serve a folder of reports on localhost (Python's http.server) until Ctrl-C.

    Static files only, for reading reports in a browser: / lists every report.html found. Reports also open straight from disk, without a server.

    This never starts the HTTP API of the city governance platform (FastAPI, api/): that is a separate service.
    """
    from siting.errors import InputError, Problem
    from siting.report_serve import make_server

    if not folder.is_dir():
        raise fail(InputError(Problem(str(folder), "is not a folder", "give a folder of reports, e.g. runs")))
    try:
        server = make_server(folder, host, port)
    except OSError as exc:
        raise fail(
            InputError(Problem(f"{host}:{port}", f"cannot listen ({exc.strerror})", "try --port 0"))
        ) from None
    bound_host, bound_port = str(server.server_address[0]), int(server.server_address[1])
    address = f"http://{bound_host}:{bound_port}/"
    console.print(f"serving {folder.resolve()} at {address} (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        console.print("stopped")
    finally:
        server.server_close()


def _report_writer() -> Callable[[Path], Any] | None:
    try:
        from siting.report import write_report
    except ImportError:
        return None
    return write_report


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


_mount_subcommands()
