"""The sweep report: coverage for every parameter combination, as a plot and a table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from siting.reports.facts import objective_label
from siting.reports.html import Column, copy_assets, esc, fmt_int, fmt_share, page, records, table
from siting.reports.plots import sweep_png
from siting.reports.run import footer_html
from siting.scenarios.schema import Scenario

__all__ = ["render_sweep", "write_sweep_report"]


def render_sweep(
    frame: pd.DataFrame, folder: Path, *, scenario: Scenario, grid: Mapping[str, Sequence[Any]]
) -> Path:
    """Render ``report.html`` of a sweep (plot sweep.png must be in ``folder``)."""
    copy_assets(folder)
    cols = [Column(k, k, str, True) for k in grid]
    cols += [
        Column("stations", "sites", fmt_int, True),
        Column("households_covered", "households covered", fmt_int, True),
        Column("covered_share", "covered", fmt_share, True),
        Column("own_grid_share", "served inside own grid", fmt_share, True),
        Column("marginal_per_station", "gained per added site", fmt_int, True),
        Column("status", "status", str),
        Column("gap", "gap", lambda v: fmt_share(v, 2), True),
    ]
    cols = [c for c in cols if c.key in frame]
    swept = "; ".join(f"{k} = {', '.join(map(str, v))}" for k, v in grid.items())
    sc = scenario.model_dump(mode="json")
    body = (
        f'<header><h1>Sweep: {esc(scenario.name)}</h1><p class="lead">{esc(scenario.description)}</p>'
        f"<p><strong>Base question:</strong> {esc(objective_label(sc))}. <strong>Swept:</strong> "
        f"{esc(swept)} ({len(frame):,} combinations).</p></header><main>"
        '<section id="plot"><h2>Coverage</h2><figure><img src="sweep.png" alt="coverage of every '
        'combination"></figure></section>'
        '<section id="table"><h2>Every combination</h2><p>The same rows are in sweep.csv.</p>'
        f"{table(cols, records(frame), sortable=True, scroll=len(frame) > 30)}</section></main>"
        f"{footer_html({})}"
    )
    out = folder / "report.html"
    out.write_text(page(f"Sweep: {scenario.name} – siting", body), encoding="utf-8")
    return out


def write_sweep_report(
    frame: pd.DataFrame, folder: Path, *, scenario: Scenario, grid: Mapping[str, Sequence[Any]]
) -> Path:
    """Draw ``sweep.png`` (coverage against the first swept parameter, ``p`` when swept) and render the report."""
    x = "p" if "p" in grid else next(iter(grid))
    series = [k for k in grid if k != x]
    sweep_png(frame, folder / "sweep.png", x=x, series=series, title=f"{scenario.name}: coverage sweep")
    return render_sweep(frame, folder, scenario=scenario, grid=grid)
