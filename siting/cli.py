"""The ``siting`` command line: validate study areas, build the demo, run scenarios, serve the API."""

from __future__ import annotations

import json
import logging
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
    from siting.cli_demo import demo_app

    app.add_typer(demo_app, name="demo")


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
    path: Annotated[Path, typer.Argument(help="A study area: .gpkg file or folder of layer files.")],
    strict: Annotated[
        bool, typer.Option(help="Reject invalid geometries instead of repairing them.")
    ] = False,
    crs: Annotated[str | None, typer.Option(help="Projected CRS for metric work, e.g. EPSG:32650.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Validate a study area and print its summary; exit 1 listing every problem when it is invalid."""
    from siting.study_area import load_study_area

    try:
        area = load_study_area(path, crs=crs, strict=strict)
    except Exception as exc:
        raise fail(exc) from None
    summary = area.summary()
    if as_json:
        console.print_json(json.dumps(summary))
        return
    print_summary(summary)


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
    """Run a scenario and write result.gpkg, sites.geojson, summary.json and report.html."""
    from siting.outputs import write_run
    from siting.runner import run_scenario
    from siting.scenario import load_scenario

    try:
        sc, base = load_scenario(scenario)
        target = out or Path("runs") / sc.name
        with steps(sc.name) as step:
            result = run_scenario(sc, base, progress=step)
            step(f"writing {target}")
            write_run(result, target, report=_report_writer())
    except Exception as exc:
        raise fail(exc) from None
    _print_run(result.summary, target)


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
