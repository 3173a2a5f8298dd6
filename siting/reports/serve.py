"""Serving a folder of reports on localhost with the standard library's http.server (``siting serve-reports``).

This is a static file server for reading reports in a browser; the HTTP API for the city
governance platform (FastAPI) is a separate service.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

from siting.errors import InputError, Problem

__all__ = ["ReportHandler", "find_reports", "index_page", "make_server", "serve_folder"]


def find_reports(root: Path, *, depth: int = 3) -> list[Path]:
    """Every ``report.html`` under ``root`` (at most ``depth`` folders down), sorted by path."""
    root = Path(root)
    found = []
    for level in range(depth + 1):
        pattern = "/".join(["*"] * level + ["report.html"])
        found += [
            p
            for p in root.glob(pattern)
            if not any(part.startswith(".") for part in p.relative_to(root).parts)
        ]
    return sorted(set(found))


def index_page(root: Path) -> str:
    """Render an HTML index linking every report under ``root`` (names escaped, links URL-quoted)."""
    items = []
    for report in find_reports(root):
        rel = report.relative_to(root).as_posix()
        label = report.parent.relative_to(root).as_posix() if report.parent != root else "(this folder)"
        items.append(f'<li><a href="{html.escape(quote(rel))}">{html.escape(label)}</a></li>')
    listing = "".join(items) or "<li>No report.html here yet: run <code>siting run SCENARIO</code>.</li>"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>siting reports</title></head>'
        f"<body><h1>siting reports</h1><p>{html.escape(str(root))}</p><ul>{listing}</ul></body></html>"
    )


class ReportHandler(SimpleHTTPRequestHandler):
    """Static files of one folder; ``/`` lists the reports found under it. Quiet access log."""

    def do_GET(self) -> None:
        """Serve the report index at ``/`` (unless the folder has its own index.html), files otherwise."""
        root = Path(self.directory)
        if self.path in ("/", "/index.html") and not (root / "index.html").exists():
            body = index_page(root).encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request log (the CLI prints the address once)."""
        if os.environ.get("SITING_SERVE_LOG"):
            super().log_message(format, *args)


def make_server(root: str | Path, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    """Make a threading HTTP server for ``root`` (``port=0`` picks a free port; see ``server_address``)."""
    handler = partial(ReportHandler, directory=str(Path(root).resolve()))
    return ThreadingHTTPServer((host, port), handler)


def serve_folder(
    folder: str | Path, host: str = "127.0.0.1", port: int = 8000, *, say: Callable[[str], Any] = print
) -> None:
    """Serve ``folder`` until Ctrl-C, after ``say``-ing its address.

    Raises
    ------
    InputError
        When ``folder`` is not a folder or the address cannot be bound.
    """
    root = Path(folder)
    if not root.is_dir():
        raise InputError(Problem(str(root), "is not a folder", "give a folder of reports, e.g. runs"))
    try:
        server = make_server(root, host, port)
    except OSError as exc:
        raise InputError(
            Problem(f"{host}:{port}", f"cannot listen ({exc.strerror})", "try --port 0")
        ) from None
    bound_host, bound_port = str(server.server_address[0]), int(server.server_address[1])
    say(f"serving {root.resolve()} at http://{bound_host}:{bound_port}/ (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        say("stopped")
    finally:
        server.server_close()
