"""One-off: copy the real layers the demos need from the shared data folder into gis_data/raw/, clipped.

Run once by a developer (the build never reads the shared folder):

    .venv/bin/python gis_data/prepare_raw.py PATH_TO_THE_TEAM_DATA/nanjing

What it does is described file by file in gis_data/README.md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import geopandas as gpd
import shapely
from shapely.geometry import mapping, shape

from siting.demo.streets import LUHE, PUKOU, street_cells

RAW = Path(__file__).resolve().parent / "raw"
CENTRAL = "osm_central_nanjing_2018_overpass.geojson"
#: Per-feature edit metadata of the overpass export, dropped from the copy (not needed, and it names mappers).
EDIT_METADATA = ("timestamp", "version", "changeset", "user", "uid")


def _dump(features: list[dict], out: Path) -> None:
    """Write a FeatureCollection compactly, keeping Chinese names readable."""
    fc = {"type": "FeatureCollection", "features": features}
    out.write_text(json.dumps(fc, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {out} ({len(features)} features, {out.stat().st_size / 1e6:.2f} MB)")


def _round(obj: object) -> object:
    """Round nested coordinate lists to 7 decimals (OSM's own precision)."""
    if isinstance(obj, float):
        return round(obj, 7)
    if isinstance(obj, list | tuple):
        return [_round(v) for v in obj]
    return obj


def main(shared: Path) -> None:
    """Copy and clip the shared files into gis_data/raw."""
    RAW.mkdir(parents=True, exist_ok=True)
    src_d = json.loads((shared / "districts_nanjing_320100_wgs84.geojson").read_text(encoding="utf-8"))
    districts = [f for f in src_d["features"] if str(f["properties"]["id"]) in (PUKOU, LUHE)]
    _dump(districts, RAW / "districts_pukou_luhe_wgs84.geojson")

    cells = street_cells(gpd.GeoDataFrame.from_features(districts, crs="EPSG:4326"))
    region_utm = shapely.union_all(cells.loc[cells["member"]].geometry.to_numpy())
    region = gpd.GeoSeries([region_utm], crs=cells.crs).to_crs("EPSG:4326").iloc[0]
    window = shapely.box(*region.bounds)

    landuse = json.loads((shared / "osm_landuse_nanjing_320100.geojson").read_text(encoding="utf-8"))
    kept = [f for f in landuse["features"] if shape(f["geometry"]).intersects(region)]
    _dump(kept, RAW / "osm_landuse_jiangbei.geojson")

    water = json.loads((shared / "osm_water_nanjing_320100.geojson").read_text(encoding="utf-8"))
    clipped = []
    for f in water["features"]:
        geom = shape(f["geometry"])
        if not geom.intersects(window):
            continue
        if not window.contains(geom):
            geom = shapely.make_valid(geom).intersection(window)
            if geom.is_empty or geom.area == 0:
                continue
        g = mapping(geom)
        clipped.append({"type": "Feature", "properties": f["properties"], "geometry": _round(g)})
    _dump(clipped, RAW / "osm_water_jiangbei.geojson")

    src = json.loads((shared / CENTRAL).read_text(encoding="utf-8"))
    kept = []
    for f in src["features"]:
        props = f["properties"]
        gtype = f["geometry"]["type"]
        used = (
            "building" in props
            or ("highway" in props and gtype in ("LineString", "MultiLineString"))
            or props.get("natural") == "water"
            or props.get("waterway") == "riverbank"
            or props.get("landuse") == "basin"
            or props.get("type") == "boundary"
        )
        if used:
            slim = {k: v for k, v in props.items() if k not in EDIT_METADATA}
            kept.append({"type": "Feature", "properties": slim, "geometry": f["geometry"]})
    _dump(kept, RAW / CENTRAL)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: prepare_raw.py NANJING_DATA_FOLDER (the team's nanjing/ data folder; see gis_data/README.md)")
    main(Path(sys.argv[1]))
