"""HTML building blocks of the reports: escaping, number formats, tables, the page shell and assets."""

from __future__ import annotations

import html
import json
import math
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

__all__ = [
    "ASSET_DIR",
    "OSM_ATTRIBUTION",
    "Column",
    "copy_assets",
    "esc",
    "facts",
    "fmt_int",
    "fmt_num",
    "fmt_share",
    "page",
    "records",
    "script_json",
    "table",
]

#: Folder (inside a run folder) the report's scripts, styles and Leaflet are copied to.
ASSET_DIR = "assets"

#: The attribution every map made from OpenStreetMap data carries.
OSM_ATTRIBUTION = "© OpenStreetMap contributors, ODbL"

#: Content Security Policy of every report: only files of the report folder, nothing fetched remotely.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'none'; font-src 'self'; object-src 'none'; "
    "frame-src 'none'; form-action 'none'; base-uri 'none'"
)


def esc(value: Any) -> str:
    """Escape any value for HTML text or a quoted attribute (``None`` becomes empty)."""
    return "" if value is None else html.escape(str(value), quote=True)


def _finite(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def fmt_int(value: Any) -> str:
    """Format a count with thousands separators (``–`` when missing)."""
    v = _finite(value)
    return "–" if v is None else f"{v:,.0f}"


def fmt_num(value: Any, digits: int = 1) -> str:
    """Format a number with ``digits`` decimals and thousands separators."""
    v = _finite(value)
    return "–" if v is None else f"{v:,.{digits}f}"


def fmt_share(value: Any, digits: int = 1) -> str:
    """Format a 0..1 share as a percentage."""
    v = _finite(value)
    return "–" if v is None else f"{100 * v:.{digits}f} %"


@dataclass(frozen=True)
class Column:
    """A table column: row key, header label, formatter and whether it is numeric (right-aligned)."""

    key: str
    label: str
    format: Callable[[Any], str] = str
    numeric: bool = False


def _cell(col: Column, row: Mapping[str, Any], tag: str = "td") -> str:
    value = row.get(col.key)
    text = "–" if value is None else col.format(value)
    if not col.numeric:
        return f"<{tag}>{esc(text)}</{tag}>"
    raw = _finite(value)
    data = f' data-v="{raw!r}"' if raw is not None else ""
    return f'<{tag} class="n"{data}>{esc(text)}</{tag}>'


def table(
    columns: Sequence[Column],
    rows: Iterable[Mapping[str, Any]],
    *,
    total: Mapping[str, Any] | None = None,
    sortable: bool = False,
    scroll: bool = False,
    table_id: str | None = None,
) -> str:
    """Render rows as an HTML table; every cell is escaped.

    Parameters
    ----------
    columns : sequence of Column
        What to show, in order.
    rows : iterable of mapping
        One mapping per row (missing keys show ``–``).
    total : mapping, optional
        A bold totals row at the bottom.
    sortable : bool
        Let readers sort by clicking a header (report.js).
    scroll : bool
        Put the table in a scrolling box (long tables).
    table_id : str, optional
        ``id`` attribute of the table.
    """
    head = "".join(f"<th{' class=n' if c.numeric else ''}>{esc(c.label)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(_cell(c, r) for c in columns) + "</tr>" for r in rows)
    foot = ""
    if total is not None:
        foot = '<tfoot><tr class="total">' + "".join(_cell(c, total) for c in columns) + "</tr></tfoot>"
    attrs = f' id="{esc(table_id)}"' if table_id else ""
    attrs += ' class="sortable"' if sortable else ""
    out = f"<table{attrs}><thead><tr>{head}</tr></thead><tbody>{body}</tbody>{foot}</table>"
    return f'<div class="scroll">{out}</div>' if scroll else out


def records(frame: Any) -> list[dict[str, Any]]:
    """Rows of a DataFrame as dicts keyed by column name (geometry dropped)."""
    plain = frame.drop(columns="geometry", errors="ignore")
    return [{str(k): v for k, v in row.items()} for row in plain.to_dict("records")]


def facts(items: Iterable[tuple[str, Any]]) -> str:
    """Render label / value pairs as a definition list (values escaped; ``None`` values skipped)."""
    rows = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items if v is not None and v != "")
    return f'<dl class="facts">{rows}</dl>'


def script_json(data: Any) -> str:
    """JSON for a ``<script type="application/json">`` element: ``<``, ``>`` and ``&`` escaped.

    The escapes keep user data (grid names, scenario descriptions) from closing the script
    element; ``JSON.parse`` reads them back unchanged.
    """
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def page(title: str, body: str, *, data: Any = None, lang: str = "en") -> str:
    """Assemble a complete report page that loads only files from its own ``assets/`` folder.

    Parameters
    ----------
    title : str
        Page title (escaped).
    body : str
        Already-escaped HTML of the page body.
    data : optional
        JSON-ready map data for report.js (the page then has a map).
    lang : str
        Language of the page.
    """
    blob = ""
    if data is not None:
        blob = f'<script type="application/json" id="siting-data">{script_json(data)}</script>\n'
    return (
        f'<!DOCTYPE html>\n<html lang="{esc(lang)}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="siting">\n<title>{esc(title)}</title>\n'
        f'<link rel="stylesheet" href="{ASSET_DIR}/leaflet/leaflet.css">\n'
        f'<link rel="stylesheet" href="{ASSET_DIR}/report.css">\n</head>\n<body>\n{body}\n{blob}'
        f'<script src="{ASSET_DIR}/leaflet/leaflet.js"></script>\n'
        f'<script src="{ASSET_DIR}/leaflet.heat/leaflet-heat.js"></script>\n'
        f'<script src="{ASSET_DIR}/report.js"></script>\n</body>\n</html>\n'
    )


def copy_assets(folder: Path) -> Path:
    """Copy Leaflet, Leaflet.heat, report.js and report.css into ``folder/assets`` (replacing it)."""
    target = Path(folder) / ASSET_DIR
    if target.exists():
        shutil.rmtree(target)
    with as_file(files("siting.reports") / "assets") as src:
        shutil.copytree(src, target, ignore=shutil.ignore_patterns("README.md", "__pycache__"))
    return target
