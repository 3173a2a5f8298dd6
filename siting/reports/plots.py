"""Static figures of the reports (matplotlib, no display): the print map, coverage curves, sweep plots."""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from siting.reports.html import OSM_ATTRIBUTION
from siting.reports.map import COVERAGE_CLASSES, coverage_color, scenario_colors

__all__ = ["compare_curves_png", "compare_maps_png", "curve_frame", "curve_png", "map_png", "sweep_png"]

#: Fonts tried in order; the CJK ones draw Chinese names when installed.
FONT_CHOICES = (
    "Noto Sans CJK SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Source Han Sans SC",
    "Microsoft YaHei",
    "DejaVu Sans",
)


@lru_cache(maxsize=1)
def _fonts() -> list[str]:

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return [f for f in FONT_CHOICES if f in installed] or ["sans-serif"]


_BASEMAP = (
    ("basemap_streets", {"facecolor": "#f4f1ea", "edgecolor": "#6b7b8c", "linewidth": 0.8}),
    ("basemap_exclusions", {"facecolor": "#bcd4e6", "edgecolor": "#7fa7c9", "linewidth": 0.3}),
    ("basemap_compounds", {"facecolor": "#e6dfd3", "edgecolor": "#a89f91", "linewidth": 0.3}),
    ("basemap_roads", {"color": "#9a9a9a", "linewidth": 0.5}),
    ("basemap_fire_lanes", {"color": "#d94801", "linewidth": 0.4}),
    ("basemap_boundary", {"facecolor": "none", "edgecolor": "#222222", "linewidth": 1.2}),
)


@contextmanager
def _figure(width: float, height: float) -> Iterator[Figure]:
    """Yield a pyplot-free figure (safe in threads and servers) with glyph warnings silenced."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Gg]lyph.*missing.*")
        yield Figure(figsize=(width, height), dpi=110, layout="constrained")


def _save(fig: Figure, path: Path) -> Path:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Gg]lyph.*missing.*")
        fig.savefig(path, format="png", metadata={"Software": "siting"})
    return path


def _frame(data: Mapping[str, Any], key: str) -> gpd.GeoDataFrame | None:
    frame = data.get(key)
    return frame if isinstance(frame, gpd.GeoDataFrame) and not frame.empty else None


def draw_run(ax: Axes, data: Mapping[str, Any], *, color: str = "#1f77b4", full: bool = True) -> None:
    """Draw one run on ``ax`` in its metric CRS: basemap, grids by coverage, service areas, sites."""
    for key, style in _BASEMAP:
        frame = _frame(data, key)
        if frame is not None and (full or key in ("basemap_boundary", "basemap_exclusions")):
            frame.plot(ax=ax, **style)
    grids = _frame(data, "grids")
    if full and grids is not None and "covered_share" in grids:
        colors = [coverage_color(float(s)) for s in grids["covered_share"].fillna(0.0)]
        grids.plot(ax=ax, color=colors, edgecolor="#666666", linewidth=0.15, alpha=0.75)
    areas = _frame(data, "service_areas")
    if areas is not None:
        areas.boundary.plot(ax=ax, color=color, linewidth=0.5, alpha=0.8)
    demand = _frame(data, "assignments")
    if full and demand is not None and "unserved" in demand:
        left = demand[demand["unserved"] > 1e-9]
        if not left.empty:
            size = 2 + 18 * left["unserved"].to_numpy(float) / max(float(left["unserved"].max()), 1e-9)
            left.plot(ax=ax, color="#b3261e", markersize=size, alpha=0.5, linewidth=0)
    sites = _frame(data, "sites")
    if sites is not None:
        existing = (
            sites["existing"].fillna(False).astype(bool)
            if "existing" in sites
            else pd.Series(False, index=sites.index)
        )
        if not bool(existing.all()):
            sites[~existing].plot(
                ax=ax, color=color, markersize=22, edgecolor="white", linewidth=0.6, zorder=5
            )
        if bool(existing.any()):
            sites[existing].plot(ax=ax, color="#111111", marker="s", markersize=20, zorder=5)
    ax.set_axis_off()
    ax.set_aspect("equal")


def _scale_bar(ax: Axes) -> None:
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    span = (x1 - x0) / 5
    length = float(10 ** np.floor(np.log10(span)))
    length *= 5 if span / length >= 5 else 2 if span / length >= 2 else 1
    x, y = x0 + 0.04 * (x1 - x0), y0 + 0.04 * (y1 - y0)
    ax.plot([x, x + length], [y, y], color="black", linewidth=2.5)
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    ax.text(x + length / 2, y + 0.012 * (y1 - y0), label, ha="center", va="bottom", fontsize=8)


def map_png(data: Mapping[str, Any], path: Path, *, title: str) -> Path:
    """Draw the print map of one run (PNG): basemap, grids by coverage, service areas, uncovered, sites."""
    with _figure(9, 8.5) as fig:
        ax = fig.add_subplot()
        draw_run(ax, data)
        _scale_bar(ax)
        handles: list[Any] = [
            Patch(facecolor=c, edgecolor="#666666", label=lab) for _, c, lab in COVERAGE_CLASSES
        ]
        handles += [
            Line2D([], [], marker="o", color="w", markerfacecolor="#1f77b4", markersize=7, label="new site"),
            Line2D(
                [], [], marker="s", color="w", markerfacecolor="#111111", markersize=6, label="existing site"
            ),
            Line2D([], [], marker="o", color="w", markerfacecolor="#b3261e", markersize=5, label="uncovered"),
        ]
        ax.legend(handles=handles, loc="upper right", fontsize=7, title="households covered", framealpha=0.9)
        ax.set_title(title, fontsize=11, family=_fonts())
        fig.text(0.01, 0.005, OSM_ATTRIBUTION, fontsize=7, color="#444444")
        return _save(fig, path)


def compare_maps_png(runs: Sequence[tuple[str, Mapping[str, Any]]], path: Path) -> Path:
    """Small multiples of compared runs side by side (same extent, one colour per scenario)."""
    n = max(len(runs), 1)
    cols = min(n, 3)
    rows = int(np.ceil(n / cols))
    colors = scenario_colors(n)
    with _figure(4.2 * cols, 4.2 * rows + 0.3) as fig:
        axes = fig.subplots(rows, cols, squeeze=False).ravel()
        for ax, (label, data), color in zip(axes, runs, colors, strict=False):
            draw_run(ax, data, color=color)
            summary = data.get("summary", {})
            share = summary.get("covered_share")
            sub = f"{summary.get('stations', '?')} sites" + (
                f", {share:.1%} covered" if share is not None else ""
            )
            ax.set_title(f"{label}\n{sub}", fontsize=9, family=_fonts())
        for ax in axes[len(runs) :]:
            ax.set_axis_off()
        fig.text(0.01, 0.002, OSM_ATTRIBUTION, fontsize=7, color="#444444")
        return _save(fig, path)


def curve_frame(data: Mapping[str, Any]) -> tuple[pd.DataFrame, str]:
    """Coverage against number of sites: the scenario's curve, else the ranking of the chosen sites.

    Returns
    -------
    (DataFrame, str)
        Columns ``p``, ``covered_share``, ``households_covered``, ``marginal_per_station``, and where
        the figures come from (``"optimal"`` solves per p, or ``"ranking"`` of the sites opened).
    """
    summary = data.get("summary", {})
    curve = data.get("curve")
    if isinstance(curve, pd.DataFrame) and not curve.empty and "covered_share" in curve:
        out = curve.sort_values("p").reset_index(drop=True)
        return out, "optimal"
    sites = data.get("sites")
    total = float(summary.get("households") or 0.0)
    columns: list[str] = [str(c) for c in sites.columns] if isinstance(sites, pd.DataFrame) else []
    gain = next((c for c in ("households_gained", "households_served") if c in columns), None)
    if not isinstance(sites, pd.DataFrame) or sites.empty or gain is None or total <= 0:
        return pd.DataFrame(columns=["p", "covered_share", "households_covered", "marginal_per_station"]), ""
    order = sites.sort_values("rank") if "rank" in sites else sites
    if gain == "households_gained" and "existing" in order:
        base = float(summary.get("households_covered", 0.0)) - float(order[gain].fillna(0.0).sum())
    else:
        base = 0.0
    covered = base + order[gain].fillna(0.0).cumsum().to_numpy(float)
    out = pd.DataFrame({"p": np.arange(1, len(order) + 1), "households_covered": covered})
    out["covered_share"] = out["households_covered"] / total
    out["marginal_per_station"] = order[gain].fillna(0.0).to_numpy(float)
    return out, "ranking"


def curve_png(data: Mapping[str, Any], path: Path, *, title: str) -> Path | None:
    """Coverage (line, left axis) and marginal households per added site (bars, right axis) against p."""
    curve, source = curve_frame(data)
    if curve.empty:
        return None
    summary = data.get("summary", {})
    with _figure(8, 4.2) as fig:
        ax = fig.add_subplot()
        right = ax.twinx()
        p = curve["p"].to_numpy(float)
        width = 0.7 * float(np.min(np.diff(p))) if p.size > 1 else 0.7
        marginal = curve["marginal_per_station"].fillna(0.0).to_numpy(float)
        if p.size > 40:  # many sites: a step line reads better than a comb of thin bars
            right.fill_between(
                p, marginal, step="mid", color="#c7d7e8", label="households gained per added site"
            )
        else:
            right.bar(p, marginal, width=width, color="#c7d7e8", label="households gained per added site")
        right.set_ylabel("households gained per added site")
        right.set_ylim(bottom=0)
        style = "o-" if p.size <= 40 else "-"
        ax.plot(p, 100 * curve["covered_share"], style, color="#b3261e", label="households covered (%)")
        ax.set_zorder(right.get_zorder() + 1)
        ax.patch.set_visible(False)
        chosen, share = summary.get("stations"), summary.get("covered_share")
        if chosen is not None and share is not None:
            ax.plot([chosen], [100 * share], marker="*", markersize=14, color="#111111", label="this plan")
        ax.set_xlabel("number of sites (existing included)")
        ax.set_ylabel("households covered (%)")
        ax.set_ylim(0, 102)
        ax.grid(alpha=0.3)
        note = "optimal solve per number of sites" if source == "optimal" else "ranking of the sites opened"
        ax.set_title(f"{title}: coverage curve ({note})", fontsize=10, family=_fonts())
        ax.legend(loc="center right", fontsize=8)
        return _save(fig, path)


def compare_curves_png(runs: Sequence[tuple[str, Mapping[str, Any]]], path: Path) -> Path | None:
    """Coverage curves of compared runs on one chart."""
    curves = [(label, *curve_frame(data), data.get("summary", {})) for label, data in runs]
    if all(c[1].empty for c in curves):
        return None
    with _figure(8, 4.5) as fig:
        ax = fig.add_subplot()
        for (label, curve, _, summary), color in zip(curves, scenario_colors(len(curves)), strict=True):
            if not curve.empty:
                ax.plot(
                    curve["p"], 100 * curve["covered_share"], "o-", color=color, label=label, markersize=4
                )
            if summary.get("stations") is not None and summary.get("covered_share") is not None:
                ax.plot(
                    [summary["stations"]], [100 * summary["covered_share"]], "*", color=color, markersize=13
                )
        ax.set_xlabel("number of sites")
        ax.set_ylabel("households covered (%)")
        ax.set_ylim(0, 102)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right", prop={"family": _fonts(), "size": 8})
        ax.set_title("Coverage against number of sites (stars: the plans)", fontsize=10)
        return _save(fig, path)


def sweep_png(frame: pd.DataFrame, path: Path, *, x: str, series: Sequence[str], title: str) -> Path:
    """Covered share against the sweep parameter ``x``, one line per combination of the ``series`` parameters."""
    with _figure(8, 4.5) as fig:
        ax = fig.add_subplot()
        groups = list(frame.groupby(list(series), sort=True)) if series else [((), frame)]
        for (key, part), color in zip(groups, scenario_colors(len(groups)), strict=True):
            keys = key if isinstance(key, tuple) else (key,)
            label = ", ".join(f"{s}={v}" for s, v in zip(series, keys, strict=True)) or "coverage"
            line = part.sort_values(x)
            ax.plot(line[x], 100 * line["covered_share"], "o-", color=color, label=label, markersize=4)
        ax.set_xlabel("p (number of sites)" if x == "p" else x)
        ax.set_ylabel("households covered (%)")
        ax.set_ylim(0, 102)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
        ax.set_title(title, fontsize=10, family=_fonts())
        return _save(fig, path)
