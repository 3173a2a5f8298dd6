"""The run report: report.html (offline Leaflet map, tables, assumptions) with map.png and curve.png."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from siting import __version__
from siting.reports.facts import assumption_items, objective_label
from siting.reports.html import (
    OSM_ATTRIBUTION,
    Column,
    copy_assets,
    esc,
    facts,
    fmt_int,
    fmt_num,
    fmt_share,
    page,
    records,
    table,
)
from siting.reports.map import attribution, basemap_layers, coverage_legend, map_bounds, result_layers
from siting.reports.plots import curve_frame, curve_png, map_png
from siting.scenarios.outputs import read_run

__all__ = ["grid_rows", "objective_label", "render_report", "write_report"]

_LIFE_CIRCLE = {"5min": "5-minute", "10min": "10-minute", "15min": "15-minute"}
_KIND_LABEL = {
    "real": "real (OpenStreetMap)",
    "modelled": "modelled",
    "proxy": "real, used as a proxy",
    "user": "your data",
    "unlabelled": "your data (no source column)",
}


def write_report(folder: str | Path) -> Path:
    """Render ``report.html`` (and ``map.png``, ``curve.png``, ``assets/``) in a run folder from its files.

    Parameters
    ----------
    folder : str or Path
        A run folder written by :func:`siting.scenarios.outputs.write_run` (result.gpkg and summary.json).

    Returns
    -------
    Path
        The report file.
    """
    folder = Path(folder)
    return render_report(read_run(folder), folder)


def render_report(data: Mapping[str, Any], folder: Path) -> Path:
    """Render the report of a run read back with :func:`siting.scenarios.outputs.read_run` into ``folder``."""
    summary = data["summary"]
    name = str(summary.get("scenario", {}).get("name", "scenario"))
    copy_assets(folder)
    map_png(data, folder / "map.png", title=name)
    curve = curve_png(data, folder / "curve.png", title=name)
    body = "\n".join(
        [
            f"<header>{header_html(summary)}</header>",
            "<main>",
            _map_section(),
            _curve_section(data, curve is not None),
            _phases_section(data),
            _grid_section(data),
            _sites_section(data),
            assumptions_html(summary),
            data_sources_html(summary),
            "</main>",
            footer_html(summary),
        ]
    )
    map_data = {
        "bounds": map_bounds(data),
        "layers": basemap_layers(data) + result_layers(data),
        "legend": [coverage_legend()],
        "attribution": attribution(summary),
    }
    out = folder / "report.html"
    out.write_text(page(f"{name} – siting report", body, data=map_data), encoding="utf-8")
    return out


def _radius_text(summary: Mapping[str, Any]) -> str:
    m = summary.get("scenario", {}).get("model", {})
    radius = summary.get("radius_m") or m.get("radius_m")
    circle = _LIFE_CIRCLE.get(m.get("life_circle") or "")
    text = f"{fmt_int(radius)} m"
    return f"{text} ({circle} life circle)" if circle and not m.get("radius_m") else text


def _card(value: str, key: str) -> str:
    return f'<div class="card"><div class="v">{esc(value)}</div><div class="k">{esc(key)}</div></div>'


def header_html(summary: Mapping[str, Any]) -> str:
    """Title, description and the headline figures of a run."""
    sc = summary.get("scenario", {})
    src = summary.get("data_sources", {})
    kind = (
        "Grid red stations (网格红色驿站)"
        if sc.get("facility_type") == "red_station"
        else "E-bike charging piles"
    )
    cards = [
        _card(fmt_int(summary.get("households")), "households" + _year_note(summary)),
        _card(fmt_share(summary.get("covered_share")), _covered_label(sc)),
        _card(
            fmt_int(summary.get("stations")),
            f"sites ({fmt_int(summary.get('existing_stations', 0))} existing)",
        ),
        _card(_radius_text(summary), f"walking radius, {summary.get('distance', '')}"),
        _card(str(summary.get("status", "–")), f"solver status, gap {fmt_share(summary.get('gap'), 2)}"),
    ]
    if sc.get("facility_type") == "charging_pile":
        cards.insert(2, _card(fmt_share(summary.get("households_within_radius_share")), "within the radius"))
        cards.insert(4, _card(fmt_int(summary.get("piles")), "charging piles"))
    return (
        f"<h1>{esc(sc.get('name', 'scenario'))}</h1>"
        f'<p class="lead">{esc(kind)} · {esc(src.get("title") or summary.get("study_area", {}).get("name"))}</p>'
        f"<p>{esc(sc.get('description', ''))}</p>"
        f"<p><strong>Question:</strong> {esc(objective_label(sc))}.</p>"
        f'<div class="cards">{"".join(cards)}</div>'
    )


def _covered_label(scenario: Mapping[str, Any]) -> str:
    if scenario.get("facility_type") == "charging_pile":
        return "households served (pile capacity)"
    return "households covered"


def _year_note(summary: Mapping[str, Any]) -> str:
    year = summary.get("scenario", {}).get("target_year")
    return f" (projected {year})" if year else ""


def _map_section() -> str:
    return (
        '<section id="map-section"><h2>Map</h2>'
        '<p class="no-print">The basemap is drawn from the study area\'s own layers (boundary, streets, '
        "compounds, water and excluded land, roads, fire lanes): no tile server is used, so the map works "
        "offline. Click a grid or a site for its figures; toggle layers at the top right.</p>"
        '<div id="map" role="img" aria-label="interactive map of the sites and coverage"></div>'
        '<figure><img src="map.png" alt="static map of the sites and coverage">'
        "<figcaption>Static map for print: grids coloured by households covered, service-area outlines, "
        "uncovered households (red dots, sized by households), sites.</figcaption></figure></section>"
    )


_CURVE_COLUMNS = (
    Column("p", "sites", fmt_int, True),
    Column("households_covered", "households covered", fmt_int, True),
    Column("covered_share", "covered", fmt_share, True),
    Column("marginal_per_station", "gained per added site", fmt_int, True),
)


def _curve_section(data: Mapping[str, Any], has_png: bool) -> str:
    curve, source = curve_frame(data)
    if curve.empty:
        return ""
    note = (
        "Each point is an optimal solve with that many sites (model.curve)."
        if source == "optimal"
        else "No model.curve in the scenario: the curve follows the ranking of the sites opened."
    )
    img = '<figure><img src="curve.png" alt="coverage against number of sites"></figure>' if has_png else ""
    rows = records(curve)
    return (
        f'<section id="curve"><h2>Coverage against number of sites</h2><p>{esc(note)} Marginal gains '
        f"shrink as sites are added: compare them with the cost of one more site.</p>{img}"
        f"{table(_CURVE_COLUMNS, rows, scroll=len(rows) > 25)}</section>"
    )


def _phases_section(data: Mapping[str, Any]) -> str:
    phases = data.get("phases")
    if not isinstance(phases, pd.DataFrame) or phases.empty:
        return ""
    cols = (
        Column("year", "year", str),
        Column("stations", "sites open", fmt_int, True),
        Column("new_stations", "new in phase", fmt_int, True),
        Column("households", "households", fmt_int, True),
        Column("households_covered", "households covered", fmt_int, True),
        Column("covered_share", "covered", fmt_share, True),
    )
    return (
        '<section id="phases"><h2>Phases</h2><p>Sites opened in an earlier phase stay open.</p>'
        f"{table(cols, records(phases))}</section>"
    )


def _street_names(data: Mapping[str, Any]) -> dict[str, str]:
    streets = data.get("basemap_streets")
    if not isinstance(streets, pd.DataFrame) or "street_id" not in streets:
        return {}
    names = {}
    for _, row in streets.iterrows():
        label = " ".join(str(row[c]) for c in ("name_zh", "name") if c in row and pd.notna(row[c]))
        names[str(row["street_id"])] = f"{row['street_id']} {label}".strip()
    return names


def grid_rows(data: Mapping[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows of the per-grid table and its totals row (households add up to the study area's).

    Households outside every grid, if any, get their own row so the table always sums to the
    run's households.
    """
    grids = data.get("grids")
    summary = data["summary"]
    if not isinstance(grids, pd.DataFrame) or grids.empty:
        return [], {}
    frame = pd.DataFrame(grids.drop(columns="geometry", errors="ignore")).sort_values("grid_id")
    names = _street_names(data)
    if names and "street" in frame:
        frame["street"] = frame["street"].map(lambda s: names.get(str(s), s))
    hh = frame["households"].astype(float)
    covered = float((hh * frame["covered_share"]).sum())
    own = float((hh * frame["own_grid_share"]).sum()) if "own_grid_share" in frame else 0.0
    rows = records(frame)
    total_hh = float(summary.get("households") or hh.sum())
    rest = total_hh - float(hh.sum())
    if rest > 0.5:
        rest_cov = max(float(summary.get("households_covered") or 0.0) - covered, 0.0)
        rows.append({"grid_id": "(outside any grid)", "households": rest, "covered_share": rest_cov / rest})
        covered += rest_cov
    total: dict[str, Any] = {
        "grid_id": f"{len(frame):,} grids",
        "households": float(hh.sum()) + max(rest, 0.0),
    }
    total["covered_share"] = covered / total["households"] if total["households"] > 0 else None
    total["own_grid_share"] = own / total["households"] if total["households"] > 0 else None
    for col in ("stations", "piles"):
        if col in frame:
            total[col] = int(frame[col].sum())
    return rows, total


def _grid_section(data: Mapping[str, Any]) -> str:
    rows, total = grid_rows(data)
    if not rows:
        return ""
    grids = data["grids"]
    cols = [Column("grid_id", "grid", str)]
    cols += [Column(c, c, str) for c in ("street", "community") if c in grids]
    cols += [
        Column("households", "households", fmt_int, True),
        Column("covered_share", "covered", fmt_share, True),
        Column("own_grid_share", "served inside own grid", fmt_share, True),
        Column("stations", "sites", fmt_int, True),
    ]
    if "piles" in grids:
        cols.append(Column("piles", "piles", fmt_int, True))
    return (
        '<section id="grids"><h2>Per grid</h2><p>Households of each grid (网格), the share within the '
        "walking radius of an open site, the share served by a site inside the same grid, and the sites "
        f"in it. Click a header to sort.</p>{table(cols, rows, total=total, sortable=True, scroll=True, table_id='grid-table')}"
        "</section>"
    )


_SITE_COLUMNS = (
    Column("rank", "rank", fmt_int, True),
    Column("site_id", "site", str),
    Column("existing", "existing", lambda v: "yes" if v else "no"),
    Column("opens_in", "opens in", lambda v: fmt_int(v).replace(",", "")),
    Column("grid_id", "grid", str),
    Column("households_gained", "households gained", fmt_int, True),
    Column("households_in_reach", "households in reach", fmt_int, True),
    Column("piles", "piles", fmt_int, True),
    Column("households_served", "households served", fmt_int, True),
    Column("users_served", "e-bikes served", fmt_int, True),
    Column("mean_walk_m", "mean walk (m)", fmt_num, True),
    Column("lane_distance_m", "to fire lane (m)", fmt_num, True),
)


def _sites_section(data: Mapping[str, Any]) -> str:
    sites = data.get("sites")
    if not isinstance(sites, gpd.GeoDataFrame) or sites.empty:
        return '<section id="sites"><h2>Sites</h2><p>No site is open in this plan.</p></section>'
    frame = pd.DataFrame(sites.drop(columns="geometry"))
    frame = frame.sort_values("rank") if "rank" in frame else frame
    cols = [c for c in _SITE_COLUMNS if c.key in frame]
    return (
        f'<section id="sites"><h2>Sites ({len(frame):,})</h2><p>In order of rank (1 = the most '
        "households gained). The same sites are in sites.geojson and result.gpkg.</p>"
        f"{table(cols, records(frame), sortable=True, scroll=len(frame) > 30)}</section>"
    )


def assumptions_html(summary: Mapping[str, Any]) -> str:
    """Every assumption and parameter the figures rest on."""
    return f'<section id="assumptions"><h2>Assumptions</h2>{facts(assumption_items(summary))}</section>'


def data_sources_html(summary: Mapping[str, Any]) -> str:
    """Which layers are real (OpenStreetMap) and which modelled, the hashes and the versions."""
    src = summary.get("data_sources", {})
    rows = [
        {"layer": k, "kind": _KIND_LABEL.get(v.get("kind", ""), v.get("kind")), **v}
        for k, v in sorted(src.get("layers", {}).items())
    ]
    cols = (
        Column("layer", "layer", str),
        Column("kind", "real or modelled", str),
        Column("sources", "source values", lambda v: ", ".join(map(str, v)) or "–"),
        Column("features", "features", fmt_int, True),
    )
    versions = ", ".join(f"{k} {v}" for k, v in summary.get("versions", {}).items())
    items = [
        ("Study area", summary.get("study_area", {}).get("path")),
        ("Street network", summary.get("study_area", {}).get("network")),
        ("Data attribution", src.get("attribution")),
        ("Scenario hash", summary.get("scenario_hash")),
        ("Data hash", summary.get("data_hash") or summary.get("study_area", {}).get("data_hash")),
        ("Inputs hash (scenario + data)", summary.get("inputs_hash")),
        ("Result hash (sites + figures)", summary.get("result_hash")),
        ("Versions", versions),
    ]
    return (
        '<section id="data"><h2>Data: real and modelled layers</h2><p>Layers marked real come from '
        "OpenStreetMap; modelled layers (population, grids, candidate sites ...) are estimates made for the "
        f"demo and carry source = modelled on every feature.</p>{table(cols, rows)}{facts(items)}</section>"
    )


def footer_html(summary: Mapping[str, Any]) -> str:
    """Attribution and provenance footer of every report."""
    digest = str(summary.get("result_hash") or "")[:12]
    same = f"; the same scenario and data give the same result (result hash {esc(digest)})" if digest else ""
    return (
        f"<footer><p>Map data {esc(OSM_ATTRIBUTION)} (Open Database License 1.0, "
        "www.openstreetmap.org/copyright) for the layers marked real; all other layers are modelled. "
        f"Made with siting {esc(__version__)}{same}.</p></footer>"
    )
