"""PNG maps of the demo study areas, layers coloured by kind (matplotlib object-oriented API)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from siting.demo.common import read_layers

__all__ = ["DETAIL", "plot_study_area"]

ATTRIBUTION = "Map data © OpenStreetMap contributors (ODbL 1.0); modelled layers: siting demo build"

#: Detail window of each demo map, EPSG:32650 metres (minx, miny, maxx, maxy).
DETAIL: dict[str, tuple[float, float, float, float]] = {
    "jiangbei": (661960.0, 3557890.0, 663360.0, 3559090.0),
    "nanjing_central": (667700.0, 3545400.0, 668700.0, 3546200.0),
}

# (layer, filter column, filter value, style, legend label)
_STYLE: tuple[tuple[str, str | None, str | None, dict, str], ...] = (
    ("boundary", None, None, {"facecolor": "#f4f1ea", "edgecolor": "#555555", "linewidth": 1.0}, "boundary"),
    (
        "streets",
        None,
        None,
        {"facecolor": "none", "edgecolor": "#8a8a8a", "linewidth": 0.8, "linestyle": "--"},
        "street zones (modelled)",
    ),
    ("exclusions", "kind", "water", {"color": "#9cc9e8"}, "water (OSM)"),
    ("exclusions", "kind", "industrial", {"color": "#b9b0a8"}, "industrial (OSM)"),
    ("compounds", None, None, {"color": "#f2c9a0"}, "residential compounds (OSM)"),
    ("buildings", None, None, {"color": "#d9a57b", "linewidth": 0}, "buildings (OSM)"),
    (
        "grids",
        None,
        None,
        {"facecolor": "none", "edgecolor": "#b5651d", "linewidth": 0.3},
        "grids (modelled)",
    ),
    ("roads", None, None, {"color": "#777777", "linewidth": 0.6}, "roads (OSM)"),
    ("fire_lanes", None, None, {"color": "#d7301f", "linewidth": 0.7}, "fire lanes (modelled or proxy)"),
    ("demand", None, None, {"color": "#444444", "markersize": 0.3}, "demand points"),
    (
        "candidates",
        "facility_type",
        "charging_pile",
        {"color": "#1a9850", "markersize": 1.5},
        "charging-pile candidates",
    ),
    (
        "candidates",
        "facility_type",
        "red_station",
        {"color": "#c51b7d", "markersize": 5, "marker": "^"},
        "red-station candidates",
    ),
)


def _handle(style: dict, label: str, geom_type: str) -> Patch | Line2D:
    """Legend entry for one styled layer."""
    if geom_type.endswith("Point"):
        return Line2D(
            [],
            [],
            linestyle="none",
            marker=style.get("marker", "o"),
            color=style["color"],
            markersize=4,
            label=label,
        )
    if geom_type.endswith("LineString"):
        return Line2D([], [], color=style["color"], linewidth=1.5, label=label)
    face = style.get("facecolor", style.get("color", "none"))
    return Patch(facecolor=face, edgecolor=style.get("edgecolor", face), label=label)


def _draw(
    ax: Axes, layers: dict[str, gpd.GeoDataFrame], *, overview: bool, legend: dict[str, Patch | Line2D]
) -> None:
    """Draw the styled layers on one axes; the overview leaves out points and labels the streets."""
    for name, col, value, style, label in _STYLE:
        gdf = layers.get(name)
        if gdf is None or gdf.empty or (overview and name in ("demand", "candidates")):
            continue
        if col is not None:
            gdf = gdf.loc[gdf[col] == value]
            if gdf.empty:
                continue
        gdf.plot(ax=ax, **style)
        legend.setdefault(label, _handle(style, label, str(gdf.geom_type.iloc[0])))
    if overview and "streets" in layers:
        streets = layers["streets"]
        for label, pt in zip(streets["name"], streets.geometry.representative_point(), strict=True):
            ax.annotate(label, (pt.x, pt.y), fontsize=9, ha="center", color="#333333")
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")


def plot_study_area(
    gpkg: str | Path,
    out_png: str | Path,
    *,
    title: str,
    zoom: tuple[float, float, float, float] | None = None,
) -> Path:
    """Draw every layer of a demo GeoPackage into a PNG (an overview, and a detail panel if ``zoom``).

    Uses matplotlib's object-oriented API only, so it never changes the caller's pyplot backend.

    Parameters
    ----------
    gpkg : str or Path
        A demo study area GeoPackage.
    out_png : str or Path
        PNG to write.
    title : str
        Figure title.
    zoom : tuple of float, optional
        ``(minx, miny, maxx, maxy)`` in the layers' CRS (metres) for the detail panel.

    Returns
    -------
    Path
        The written PNG.
    """
    layers = {k: v for k, v in read_layers(gpkg).items() if isinstance(v, gpd.GeoDataFrame)}
    fig = Figure(figsize=(18 if zoom else 9, 10))
    axes = fig.subplots(1, 2 if zoom else 1, squeeze=False)[0]
    legend: dict[str, Patch | Line2D] = {}
    _draw(axes[0], layers, overview=zoom is not None, legend=legend)
    if zoom is not None:
        b = layers["boundary"].total_bounds
        axes[0].set_xlim(b[0], b[2])
        axes[0].set_ylim(b[1], b[3])
        w, h = zoom[2] - zoom[0], zoom[3] - zoom[1]
        axes[0].add_patch(Rectangle((zoom[0], zoom[1]), w, h, fill=False, edgecolor="black", linewidth=1.2))
        _draw(axes[1], layers, overview=False, legend=legend)
        axes[1].set_xlim(zoom[0], zoom[2])
        axes[1].set_ylim(zoom[1], zoom[3])
        axes[1].set_title(f"detail ({w / 1000:.1f} km x {h / 1000:.1f} km)", fontsize=10)
    fig.legend(handles=list(legend.values()), loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=13)
    fig.text(0.99, 0.005, ATTRIBUTION, ha="right", va="bottom", fontsize=7, color="#555555")
    fig.tight_layout(rect=(0, 0.07, 1, 0.96))
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    return out
