"""Embedded demo study areas: Jiangbei New Area (real OSM land + modelled layers) and central Nanjing.

Both are built deterministically from the raw files in ``gis_data/raw/`` (see ``gis_data/README.md``
for provenance and the method of every modelled layer) and committed as GeoPackages in ``gis_data/``,
which installs as the package ``siting.demo.data``: ``demo_path`` finds them in a checkout and in a
wheel alike.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

import geopandas as gpd

from siting.demo.central import build_central
from siting.demo.common import SOURCES, canonical_digest, read_layers
from siting.demo.jiangbei import build_jiangbei
from siting.geo.io import read_metadata

__all__ = [
    "DEMOS",
    "GIS_DATA",
    "build_central",
    "build_jiangbei",
    "canonical_digest",
    "demo_path",
    "summarise",
]

#: Folder of the demo data: ``gis_data/`` in a checkout, ``siting/demo/data/`` when installed.
GIS_DATA = Path(str(files("siting.demo.data"))).resolve()
#: Demo names and their titles.
DEMOS: dict[str, str] = {
    "jiangbei": "Jiangbei New Area, Nanjing (7 streets): OSM land, modelled population, grids and sites",
    "nanjing_central": "Central Nanjing (2018 OSM export): real roads and buildings, modelled households",
}


def demo_path(name: str) -> Path:
    """Return the committed GeoPackage of a demo study area.

    Parameters
    ----------
    name : str
        ``"jiangbei"`` or ``"nanjing_central"``.

    Returns
    -------
    Path
        ``<name>.gpkg`` in :data:`GIS_DATA`.

    Raises
    ------
    ValueError
        For an unknown name.
    """
    if name not in DEMOS:
        raise ValueError(f"unknown demo {name!r}; choose one of {sorted(DEMOS)}")
    return GIS_DATA / f"{name}.gpkg"


def summarise(path: str | Path) -> dict[str, Any]:
    """Summarise a demo GeoPackage: layers, counts, sources, residents, households, grids.

    Parameters
    ----------
    path : str or Path
        A study-area GeoPackage.

    Returns
    -------
    dict
        ``layers`` (name -> ``count``, ``geometry``, ``sources``), ``residents``, ``households``,
        ``grids``, ``demand_points``, ``candidates`` (facility type -> count), ``real_layers``,
        ``modelled_layers``, ``proxy_layers``, ``size_bytes``, ``metadata`` (the key/value table).
    """
    layers = read_layers(path)
    info: dict[str, Any] = {"path": str(path), "size_bytes": Path(path).stat().st_size, "layers": {}}
    real, modelled, proxy = [], [], []
    layers.pop("metadata", None)
    info["metadata"] = read_metadata(path)
    for name, frame in sorted(layers.items()):
        sources = sorted(str(s) for s in frame["source"].unique()) if "source" in frame else []
        geom = (
            "/".join(sorted(str(t) for t in frame.geom_type.unique()))
            if isinstance(frame, gpd.GeoDataFrame)
            else "table"
        )
        info["layers"][name] = {"count": len(frame), "geometry": geom, "sources": sources}
        if sources and set(sources) <= {"osm", "published"}:
            real.append(name)
        if "modelled" in sources:
            modelled.append(name)
        if "proxy" in sources:
            proxy.append(name)
    demand = layers.get("demand")
    info["demand_points"] = 0 if demand is None else len(demand)
    info["residents"] = (
        float(demand["population"].sum()) if demand is not None and "population" in demand else 0.0
    )
    info["households"] = (
        float(demand["households"].sum()) if demand is not None and "households" in demand else 0.0
    )
    info["grids"] = len(layers["grids"]) if "grids" in layers else 0
    cands = layers.get("candidates")
    info["candidates"] = (
        {}
        if cands is None
        else {str(k): int(v) for k, v in cands["facility_type"].value_counts().sort_index().items()}
    )
    info["real_layers"] = real
    info["modelled_layers"] = modelled
    info["proxy_layers"] = proxy
    info["allowed_sources"] = list(SOURCES)
    return info
