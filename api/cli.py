"""``siting serve`` and ``siting api-key create | revoke | list``: the HTTP API and its keys, from the CLI.

Registered with ``siting`` through the entry-point group ``siting.commands`` (see pyproject.toml);
the core never names this package.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console
from rich.table import Table

from siting.cli.console import fail
from siting.errors import SitingError
from siting.reports.serve import serve_folder

from .store import Store, StoreError, default_database_url

__all__ = ["api_key_app", "demo_banner", "serve_api"]

api_key_app = typer.Typer(
    help="API keys of the HTTP API (stored hashed in SITING_DATABASE_URL, default sqlite:///siting.db).",
    no_args_is_help=True,
)
console = Console()
err_console = Console(stderr=True)

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--database-url", help="SQLAlchemy URL; default SITING_DATABASE_URL or sqlite:///siting.db."
    ),
]
DEMO_KEY = "demo"
#: The request ``siting serve --demo`` prints: evaluate five Jiangbei candidate sites.
DEMO_BODY = {
    "inputs": {
        "study_area": "demo:jiangbei",
        "sites": ["rs00203", "rs00291", "rs00275", "rs00323", "rs00256"],
        "life_circle": "10min",
        "service_areas": False,
    },
    "outputs": {"summary": {}},
}


def _store(url: str | None) -> Store:
    try:
        store = Store(url or default_database_url())
        store.create_schema()
    except StoreError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(1) from None
    return store


@api_key_app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="Who the key is for (unique among active keys).")],
    database_url: DbOpt = None,
) -> None:
    """Create an API key and print it: it is stored hashed and shown only this once (last line alone)."""
    store = _store(database_url)
    try:
        record, secret = store.create_key(name)
    except StoreError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(1) from None
    typer.echo(f"created API key {record.name!r} (id {record.id}) in {store.url}")
    typer.echo("send it as 'Authorization: Bearer KEY' or 'X-API-Key: KEY'; it cannot be shown again:")
    typer.echo(secret)


@api_key_app.command("revoke")
def revoke(
    name_or_id: Annotated[str, typer.Argument(help="Name or id of the key.")],
    database_url: DbOpt = None,
) -> None:
    """Revoke an API key: it stops working at once; its jobs stay."""
    store = _store(database_url)
    try:
        record = store.revoke_key(name_or_id)
    except StoreError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(1) from None
    typer.echo(f"revoked API key {record.name!r} (id {record.id})")


@api_key_app.command("list")
def list_keys(
    database_url: DbOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List API keys (names, ids, dates; never the keys themselves)."""
    keys = _store(database_url).list_keys()
    if as_json:
        rows = [
            {
                "id": k.id,
                "name": k.name,
                "created": k.created.isoformat(),
                "revoked": k.revoked.isoformat() if k.revoked else None,
            }
            for k in keys
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="API keys", title_justify="left")
    for col in ("id", "name", "created", "status"):
        table.add_column(col)
    for k in keys:
        status = "active" if k.active else f"revoked {k.revoked:%Y-%m-%d %H:%M}"
        table.add_row(k.id, k.name, f"{k.created:%Y-%m-%d %H:%M}", status)
    console.print(table)
    if not keys:
        console.print("no keys yet: siting api-key create --name NAME")


def demo_banner(url: str, key: str, database: str) -> str:
    """Return the text ``siting serve --demo`` prints: the URLs and a request to paste."""
    body = json.dumps(DEMO_BODY, ensure_ascii=False)
    curl = (
        f"curl -s -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \\\n"
        f"       -d {shlex.quote(body)} \\\n"
        f"       {url}/processes/evaluate-coverage/execution"
    )
    return "\n".join(
        [
            f"siting API: {url}/   (database {database}; demo areas demo:jiangbei, demo:nanjing_central)",
            f"  processes  {url}/processes",
            f"  map        {url}/map?area=demo:jiangbei",
            f"  API key '{DEMO_KEY}' (a new one at every --demo start): {key}",
            "Try:",
            f"  {curl}",
            "Stop with Ctrl+C.",
        ]
    )


def _demo_key(store: Store) -> str:
    if any(k.name == DEMO_KEY and k.active for k in store.list_keys()):
        store.revoke_key(DEMO_KEY)
    return store.create_key(DEMO_KEY)[1]


def serve_api(
    folder: Annotated[
        Path | None,
        typer.Argument(help="Serve this folder of reports (static files) instead of the API."),
    ] = None,
    host: Annotated[
        str, typer.Option(help="Address to listen on (127.0.0.1: this machine only).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    *,
    database_url: DbOpt = None,
    workers: Annotated[int | None, typer.Option(help="Jobs running at once (SITING_WORKERS).")] = None,
    demo: Annotated[
        bool,
        typer.Option("--demo", help="Create a fresh 'demo' API key and print the URL and a curl request."),
    ] = False,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    reports: Annotated[
        Path | None,
        typer.Option(
            help="Also serve this folder of run reports (e.g. runs) at /reports/ (SITING_REPORTS_DIR)."
        ),
    ] = None,
) -> None:
    """Serve the HTTP API (OGC API - Processes, FastAPI on uvicorn); settings come from SITING_* variables.

    With a FOLDER, serve that folder of reports as static files instead (no API).
    """
    if folder is not None:
        try:
            serve_folder(folder, host, port, say=typer.echo)
        except SitingError as exc:
            raise fail(exc) from None
        return
    if database_url:
        os.environ["SITING_DATABASE_URL"] = database_url
    if workers is not None:
        os.environ["SITING_WORKERS"] = str(workers)
    if reports is not None:
        if not reports.is_dir():
            typer.echo(
                f"error: --reports {reports} is not a folder (run `make run` or siting run first)", err=True
            )
            raise typer.Exit(1)
        os.environ["SITING_REPORTS_DIR"] = str(reports.resolve())
    url = f"http://{host}:{port}"
    if demo:
        store = _store(None)
        key = _demo_key(store)
        store.close()
        typer.echo(demo_banner(url, key, default_database_url()))
    if reports is not None:
        typer.echo(
            f"reports: {url}/reports/<run>/report.html, e.g. {url}/reports/red_stations_500m/report.html"
        )
    uvicorn.run(
        f"{__package__}.app:create_app",
        factory=True,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
    )
