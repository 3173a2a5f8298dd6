"""Reading study-area layers from GeoPackages, folders of GeoJSON / Shapefile / CSV, and OSM files."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from siting.errors import Problem, StudyAreaError

__all__ = ["NETWORK_SUFFIXES", "RawLayers", "read_layers", "read_metadata"]

VECTOR_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".parquet")
NETWORK_SUFFIXES = (".osm", ".osm.bz2", ".osm.pbf", ".pbf")
LON_NAMES = ("lon", "lng", "longitude", "x")
LAT_NAMES = ("lat", "latitude", "y")


@dataclass
class RawLayers:
    """Layers as read from disk, before validation.

    Attributes
    ----------
    frames : dict of str to GeoDataFrame
        Spatial layers by name, in the CRS they were stored in.
    tables : dict of str to DataFrame
        Non-spatial tables (e.g. ``population_history``).
    network_path : Path or None
        An OSM file of the street network referenced by the study area.
    problems : list of Problem
        Reading problems (unreadable files, clashing names).
    ignored : list of str
        Files or layers that were not recognised.
    """

    frames: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    network_path: Path | None = None
    problems: list[Problem] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def read_layers(path: str | Path, *, known: frozenset[str]) -> RawLayers:
    """Read every layer of a GeoPackage or a folder.

    Parameters
    ----------
    path : str or Path
        A ``.gpkg`` file (one layer per name) or a folder of files named after
        the layers (``demand.geojson``, ``grids.shp``, ``candidates.csv`` ...).
    known : frozenset of str
        Names of the spatial layers the study area knows.

    Raises
    ------
    StudyAreaError
        If the path does not exist or is of a kind that cannot hold a study area.
    """
    p = Path(path)
    if not p.exists():
        raise StudyAreaError(Problem(str(p), "does not exist", "give the path of a .gpkg file or a folder"))
    if p.is_dir():
        return _read_folder(p, known)
    if p.suffix.lower() == ".gpkg":
        raw = RawLayers()
        _read_gpkg(p, known, raw, prefix="")
        return raw
    raise StudyAreaError(
        Problem(
            str(p),
            f"a single {p.suffix or 'extensionless'} file cannot hold a study area",
            "give a GeoPackage with one layer per name, or a folder with files named demand.geojson, grids.shp ...",
        )
    )


def _read_gpkg(p: Path, known: frozenset[str], raw: RawLayers, *, prefix: str) -> None:
    try:
        listing = pyogrio.list_layers(p)
    except Exception as exc:  # pyogrio raises several DataSourceError types
        raw.problems.append(Problem(str(p), f"cannot be read as a GeoPackage ({exc})", "check the file"))
        return
    for layer_name, geom_type in listing:
        name = str(layer_name)
        if name == "metadata" and geom_type is None:
            _read_metadata(p, raw)
            continue
        if geom_type is None:
            raw.tables[name] = pd.DataFrame(pyogrio.read_dataframe(p, layer=name, read_geometry=False))
        elif name in known:
            _add(raw, name, _read_vector(p, raw, layer=name), f"{prefix}{p.name}:{name}")
        else:
            raw.ignored.append(f"{p.name}:{name}")


def read_metadata(path: str | Path) -> dict[str, str]:
    """Return the key / value ``metadata`` table of a GeoPackage (``{}`` when it has none).

    It holds the study area's title, attribution, assumptions and ``network_path``.
    """
    p = Path(path)
    if p.suffix.lower() != ".gpkg" or "metadata" not in {str(n) for n, _ in pyogrio.list_layers(p)}:
        return {}
    meta = pyogrio.read_dataframe(p, layer="metadata", read_geometry=False)
    if not {"key", "value"} <= set(meta.columns):
        return {}
    return dict(zip(meta["key"].astype(str), meta["value"].astype(str), strict=True))


def _read_metadata(p: Path, raw: RawLayers) -> None:
    values = read_metadata(p)
    if "network_path" in values:
        raw.network_path = (p.parent / values["network_path"]).resolve()


def _read_vector(p: Path, raw: RawLayers, *, layer: str | None = None) -> gpd.GeoDataFrame | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            if p.suffix.lower() == ".parquet":
                return gpd.read_parquet(p)
            return gpd.read_file(p, layer=layer, engine="pyogrio")
    except Exception as exc:  # malformed files raise many error types
        where = f"{p.name}:{layer}" if layer else p.name
        raw.problems.append(
            Problem(where, f"cannot be read ({type(exc).__name__}: {exc})", "check the file format")
        )
        return None


def _add(raw: RawLayers, name: str, gdf: gpd.GeoDataFrame | None, where: str) -> None:
    if gdf is None:
        return
    if name in raw.frames:
        raw.problems.append(
            Problem(name, f"is given twice (again in {where})", "keep one file per layer name")
        )
        return
    raw.frames[name] = gdf


def _read_folder(folder: Path, known: frozenset[str]) -> RawLayers:
    raw = RawLayers()
    for f in sorted(folder.iterdir()):
        lower = f.name.lower()
        stem = lower.split(".")[0]
        if any(lower.endswith(s) for s in NETWORK_SUFFIXES):
            if raw.network_path is None:
                raw.network_path = f.resolve()
            continue
        if f.suffix.lower() == ".gpkg" and stem not in known:
            _read_gpkg(f, known, raw, prefix="")
        elif f.suffix.lower() in VECTOR_SUFFIXES and stem in known:
            _add(raw, stem, _read_vector(f, raw), f.name)
        elif f.suffix.lower() == ".csv":
            _read_csv(f, stem, known, raw)
        elif f.suffix.lower() in VECTOR_SUFFIXES or f.suffix.lower() == ".csv":
            raw.ignored.append(f.name)
    return raw


def _read_csv(f: Path, stem: str, known: frozenset[str], raw: RawLayers) -> None:
    try:
        df = pd.read_csv(f)
    except Exception as exc:  # pandas raises many parser errors
        raw.problems.append(Problem(f.name, f"cannot be read as CSV ({exc})", "check the file"))
        return
    cols = {c.lower(): c for c in df.columns}
    lon = next((cols[c] for c in LON_NAMES if c in cols), None)
    lat = next((cols[c] for c in LAT_NAMES if c in cols), None)
    if stem not in known:
        raw.tables[stem] = df
        return
    if lon is None or lat is None:
        raw.problems.append(
            Problem(
                f.name,
                "has no coordinate columns",
                f"add lon and lat columns (WGS84 degrees); found {', '.join(map(str, df.columns))}",
            )
        )
        return
    x = pd.to_numeric(df[lon], errors="coerce")
    y = pd.to_numeric(df[lat], errors="coerce")
    bad = x.isna() | y.isna()
    if bad.any():
        raw.problems.append(
            Problem(
                f"{stem}.{lon}/{lat}",
                f"{int(bad.sum())} row(s) have missing or non-numeric coordinates",
                "fill lon and lat with decimal degrees",
                rows=tuple(f"#{i}" for i in df.index[bad][:20]),
            )
        )
        return
    crs = str(df["crs"].iloc[0]) if "crs" in df.columns else "EPSG:4326"
    gdf = gpd.GeoDataFrame(df.drop(columns=[lon, lat]), geometry=gpd.points_from_xy(x, y), crs=crs)
    _add(raw, stem, gdf, f.name)
