"""The comparison report: several scenarios side by side (figures, curves, maps, grids, parameters)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from siting.reports.facts import objective_label
from siting.reports.html import Column, copy_assets, esc, fmt_int, fmt_share, page, table
from siting.reports.map import attribution, basemap_layers, map_bounds, result_layers, scenario_colors
from siting.reports.plots import compare_curves_png, compare_maps_png
from siting.reports.run import footer_html
from siting.scenarios.compare import CompareEntry

__all__ = ["differing_parameters", "grid_comparison", "render_compare"]


def _per_site(summary: Mapping[str, Any]) -> str:
    n = summary.get("stations") or 0
    return fmt_int(float(summary.get("households_covered") or 0) / n) if n else "–"


_ROWS: tuple[tuple[str, Callable[[Mapping[str, Any]], str]], ...] = (
    ("facility type", lambda s: str(s.get("scenario", {}).get("facility_type", "–"))),
    ("question", lambda s: objective_label(s.get("scenario", {}))),
    ("walking radius", lambda s: f"{fmt_int(s.get('radius_m'))} m"),
    ("distance", lambda s: str(s.get("distance", "–"))),
    ("target year", lambda s: str(s.get("scenario", {}).get("target_year") or "as built")),
    ("sites", lambda s: fmt_int(s.get("stations"))),
    ("of which existing", lambda s: fmt_int(s.get("existing_stations", s.get("existing_sites_kept")))),
    ("households", lambda s: fmt_int(s.get("households"))),
    ("households covered", lambda s: fmt_int(s.get("households_covered"))),
    ("covered", lambda s: fmt_share(s.get("covered_share"))),
    ("households per site", _per_site),
    ("solver status", lambda s: str(s.get("status", "–"))),
    ("optimality gap", lambda s: fmt_share(s.get("gap"), 2)),
    ("solve time", lambda s: f"{float(s.get('solve_seconds') or 0):.1f} s"),
    ("result hash", lambda s: str(s.get("result_hash", ""))[:12]),
)


def _side_by_side(entries: Sequence[CompareEntry]) -> str:
    head = "<th></th>" + "".join(
        f'<th><a href="{esc(e.link)}/report.html">{esc(e.label)}</a></th>' for e in entries
    )
    body = "".join(
        f"<tr><th>{esc(label)}</th>"
        + "".join(f'<td class="n">{esc(fn(e.data["summary"]))}</td>' for e in entries)
        + "</tr>"
        for label, fn in _ROWS
    )
    return f'<table id="side-by-side"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix.rstrip("."): value}


def differing_parameters(entries: Sequence[CompareEntry]) -> list[dict[str, Any]]:
    """Scenario keys whose values differ between the compared runs (name and description left out)."""
    flat = [_flatten(e.data["summary"].get("scenario", {})) for e in entries]
    keys = sorted({k for f in flat for k in f} - {"name", "description"})
    rows = []
    for key in keys:
        values = [f.get(key) for f in flat]
        if any(v != values[0] for v in values[1:]):
            rows.append({"key": key, **{e.label: v for e, v in zip(entries, values, strict=True)}})
    return rows


def grid_comparison(entries: Sequence[CompareEntry]) -> pd.DataFrame:
    """Per grid: households (of the first run) and the covered share in every run, by grid id."""
    frames = []
    for e in entries:
        grids = e.data.get("grids")
        if not isinstance(grids, pd.DataFrame) or grids.empty:
            return pd.DataFrame()
        frames.append(pd.DataFrame(grids[["grid_id", "covered_share"]]).set_index("grid_id")["covered_share"])
    first = pd.DataFrame(entries[0].data["grids"][["grid_id", "households"]]).set_index("grid_id")
    table = pd.concat(
        [first["households"], *frames], axis=1, keys=["households", *[e.label for e in entries]]
    )
    return table.reset_index().sort_values("grid_id")


def _grid_section(entries: Sequence[CompareEntry]) -> str:
    hashes = {
        e.data["summary"].get("data_hash") or e.data["summary"].get("study_area", {}).get("data_hash")
        for e in entries
    }
    frame = grid_comparison(entries) if len(hashes) == 1 else pd.DataFrame()
    if frame.empty:
        return ""
    cols = [Column("grid_id", "grid", str), Column("households", "households", fmt_int, True)]
    cols += [Column(e.label, f"covered: {e.label}", fmt_share, True) for e in entries]
    rows = [{str(k): v for k, v in r.items()} for r in frame.to_dict("records")]
    return (
        '<section id="grids"><h2>Per grid</h2><p>Share of each grid\'s households covered in each scenario '
        f"(same study area). Click a header to sort.</p>{table(cols, rows, sortable=True, scroll=True)}</section>"
    )


def _params_section(entries: Sequence[CompareEntry]) -> str:
    rows = differing_parameters(entries)
    if not rows:
        return '<section id="parameters"><h2>What differs</h2><p>The scenarios share every parameter.</p></section>'
    cols = [Column("key", "scenario key", str)] + [Column(e.label, e.label, _plain) for e in entries]
    return (
        '<section id="parameters"><h2>What differs</h2><p>Scenario keys with different values; every '
        "other key is the same. Each scenario's own report lists all its assumptions.</p>"
        f"{table(cols, rows)}</section>"
    )


def _plain(value: Any) -> str:
    return "–" if value is None else str(value)


def _map_data(entries: Sequence[CompareEntry]) -> dict[str, Any]:
    first = entries[0].data
    layers = basemap_layers(first)
    for i, (e, color) in enumerate(zip(entries, scenario_colors(len(entries)), strict=True)):
        extra = result_layers(e.data, prefix=f"s{i}_", label=e.label, color=color, full=False)
        if i == 0:
            for spec in extra:
                spec["visible"] = True
        layers += extra
    legend = {
        "title": "Scenarios",
        "items": [[c, e.label] for e, c in zip(entries, scenario_colors(len(entries)), strict=True)],
    }
    return {
        "bounds": map_bounds(first),
        "layers": layers,
        "legend": [legend],
        "attribution": attribution(first["summary"]),
    }


def render_compare(entries: Sequence[CompareEntry], folder: Path) -> Path:
    """Render ``report.html`` (with curves.png, maps.png and assets/) comparing ``entries`` into ``folder``."""
    copy_assets(folder)
    runs = [(e.label, e.data) for e in entries]
    curves = compare_curves_png(runs, folder / "curves.png")
    compare_maps_png(runs, folder / "maps.png")
    names = ", ".join(e.label for e in entries)
    links = "".join(
        f'<li><a href="{esc(e.link)}/report.html">{esc(e.label)}</a>: {esc(e.data["summary"].get("scenario", {}).get("description", ""))}</li>'
        for e in entries
    )
    curve_img = (
        '<figure><img src="curves.png" alt="coverage curves of the scenarios"></figure>' if curves else ""
    )
    body = (
        f'<header><h1>Comparison: {esc(names)}</h1><p class="lead">{len(entries)} scenarios side by side</p>'
        f"<ul>{links}</ul></header><main>"
        f'<section id="figures"><h2>Side by side</h2>{_side_by_side(entries)}</section>'
        '<section id="map-section"><h2>Map</h2><p class="no-print">Sites of every scenario (one colour each); '
        'the first scenario\'s service areas are shown, the others can be switched on.</p><div id="map"></div>'
        '<figure><img src="maps.png" alt="maps of the scenarios side by side"><figcaption>Grids coloured by '
        "households covered in each scenario.</figcaption></figure></section>"
        f'<section id="curves"><h2>Coverage against number of sites</h2>{curve_img}</section>'
        f"{_params_section(entries)}{_grid_section(entries)}</main>{footer_html({})}"
    )
    out = folder / "report.html"
    out.write_text(page(f"Comparison: {names} – siting", body, data=_map_data(entries)), encoding="utf-8")
    return out
