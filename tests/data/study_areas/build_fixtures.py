"""Write the small valid study area and the malformed variants used by the validation tests.

Run from the repository root: ``.venv/bin/python tests/data/study_areas/build_fixtures.py``.
Every variant is a folder of layer files; ``CASES`` below says what is wrong with each.
The data is synthetic (a few hundred metres around Taishan street, Jiangbei).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import LineString, Point, Polygon, box

HERE = Path(__file__).parent
LON0, LAT0 = 118.700, 32.080
DX, DY = 0.0025, 0.0021  # about 235 m in x and y


def _cell(i: int, j: int) -> Polygon:
    return box(LON0 + i * DX, LAT0 + j * DY, LON0 + (i + 1) * DX, LAT0 + (j + 1) * DY)


def valid_layers() -> dict[str, gpd.GeoDataFrame | pd.DataFrame]:
    """Return the layers of the valid fixture (WGS84)."""
    rng = np.random.default_rng(7)
    crs = "EPSG:4326"
    boundary = gpd.GeoDataFrame(
        {"name": ["fixture"], "source": ["user"]},
        geometry=[box(LON0, LAT0, LON0 + 2 * DX, LAT0 + 2 * DY)],
        crs=crs,
    )
    grids = gpd.GeoDataFrame(
        {
            "grid_id": ["G1", "G2", "G3", "G4"],
            "community": ["C1", "C1", "C2", "C2"],
            "street": ["Taishan"] * 4,
        },
        geometry=[_cell(0, 0), _cell(1, 0), _cell(0, 1), _cell(1, 1)],
        crs=crs,
    )
    xs = LON0 + rng.uniform(0.0002, 2 * DX - 0.0002, 24)
    ys = LAT0 + rng.uniform(0.0002, 2 * DY - 0.0002, 24)
    demand = gpd.GeoDataFrame(
        {
            "demand_id": [f"D{i:02d}" for i in range(24)],
            "population": rng.integers(50, 400, 24).astype(float),
        },
        geometry=[Point(x, y) for x, y in zip(xs, ys, strict=True)],
        crs=crs,
    )
    cands = [(0.5, 0.5), (1.5, 0.5), (0.5, 1.5), (1.5, 1.5), (1.0, 1.0), (0.2, 1.8)]
    candidates = gpd.GeoDataFrame(
        {
            "site_id": [f"S{i}" for i in range(len(cands))],
            "facility_type": ["red_station"] * len(cands),
            "cost": [1.0] * len(cands),
            "capacity": [2000.0] * len(cands),
        },
        geometry=[Point(LON0 + a * DX, LAT0 + b * DY) for a, b in cands],
        crs=crs,
    )
    existing = gpd.GeoDataFrame(
        {"site_id": ["E1"], "facility_type": ["red_station"]},
        geometry=[Point(LON0 + 0.3 * DX, LAT0 + 0.3 * DY)],
        crs=crs,
    )
    fire_lanes = gpd.GeoDataFrame(
        {"lane_id": ["F1", "F2"], "width_m": [4.0, 6.0]},
        geometry=[
            LineString([(LON0 + 0.1 * DX, LAT0 + 1.0 * DY), (LON0 + 1.9 * DX, LAT0 + 1.0 * DY)]),
            LineString([(LON0 + 1.0 * DX, LAT0 + 0.1 * DY), (LON0 + 1.0 * DX, LAT0 + 0.9 * DY)]),
        ],
        crs=crs,
    )
    roads = gpd.GeoDataFrame(
        {"highway": ["residential", "footway"]},
        geometry=[
            LineString([(LON0, LAT0 + 0.05 * DY), (LON0 + 2 * DX, LAT0 + 0.05 * DY)]),
            LineString([(LON0 + 0.05 * DX, LAT0), (LON0 + 0.05 * DX, LAT0 + 2 * DY)]),
        ],
        crs=crs,
    )
    exclusions = gpd.GeoDataFrame(
        {"kind": ["water"]},
        geometry=[box(LON0 + 1.7 * DX, LAT0 + 0.05 * DY, LON0 + 1.95 * DX, LAT0 + 0.3 * DY)],
        crs=crs,
    )
    history = pd.DataFrame(
        [(g, y, 1000.0 + 40 * (y - 2016)) for g in ["G1", "G2", "G3", "G4"] for y in range(2016, 2025)],
        columns=["grid_id", "year", "population"],
    )
    return {
        "boundary": boundary,
        "grids": grids,
        "demand": demand,
        "candidates": candidates,
        "existing": existing,
        "fire_lanes": fire_lanes,
        "roads": roads,
        "exclusions": exclusions,
        "population_history": history,
    }


def write_folder(folder: Path, layers: dict[str, gpd.GeoDataFrame | pd.DataFrame]) -> None:
    """Write layers as GeoJSON files (tables as CSV) named after the layers."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name, frame in layers.items():
        if isinstance(frame, gpd.GeoDataFrame):
            frame.to_file(folder / f"{name}.geojson", driver="GeoJSON")
        else:
            frame.to_csv(folder / f"{name}.csv", index=False)


def _set(layer: str, column: str, values: list) -> Callable[[dict], None]:
    def mutate(layers: dict) -> None:
        layers[layer][column] = values + list(layers[layer][column].iloc[len(values) :])

    return mutate


def _swap_latlon(layers: dict) -> None:
    d = layers["demand"]
    d.geometry = gpd.points_from_xy(d.geometry.y, d.geometry.x, crs=d.crs)


def _polygons_as_candidates(layers: dict) -> None:
    c = layers["candidates"]
    c.geometry = c.geometry.buffer(0.0003)


def _bowtie(layers: dict) -> None:
    g = layers["grids"]
    x0, y0 = LON0 + 2 * DX, LAT0
    bow = Polygon([(x0, y0), (x0 + DX, y0 + DY), (x0 + DX, y0), (x0, y0 + DY), (x0, y0)])
    layers["grids"] = pd.concat(
        [g, gpd.GeoDataFrame({"grid_id": ["G5"]}, geometry=[bow], crs=g.crs)], ignore_index=True
    )


def _null_geometry(layers: dict) -> None:
    d = layers["demand"]
    d.loc[3, "geometry"] = None


def _drop(layer: str) -> Callable[[dict], None]:
    def mutate(layers: dict) -> None:
        del layers[layer]

    return mutate


def _empty(layer: str) -> Callable[[dict], None]:
    def mutate(layers: dict) -> None:
        layers[layer] = layers[layer].iloc[0:0]

    return mutate


def _drop_column(layer: str, column: str) -> Callable[[dict], None]:
    def mutate(layers: dict) -> None:
        layers[layer] = layers[layer].drop(columns=[column])

    return mutate


def _history_unknown_grid(layers: dict) -> None:
    h = layers["population_history"]
    h.loc[0, "grid_id"] = "G99"


#: name -> (mutation, extra file writer or None, text the error must contain, validate options)
CASES: dict[
    str, tuple[Callable[[dict], None] | None, Callable[[Path], None] | None, str, tuple[str, ...]]
] = {
    "missing_demand": (_drop("demand"), None, "required demand layer is missing", ()),
    "empty_demand": (_empty("demand"), None, "demand: the layer is empty", ()),
    "no_population_column": (
        _drop_column("demand", "population"),
        None,
        "none of the columns population / households",
        (),
    ),
    "population_not_numbers": (
        _set("demand", "population", ["many", "some"]),
        None,
        "demand.population: 2 value(s) are not numbers",
        (),
    ),
    "negative_population": (
        _set("demand", "population", [-5.0]),
        None,
        "demand.population: 1 value(s) are negative",
        (),
    ),
    "nan_population": (
        _set("demand", "population", [float("nan")] * 2),
        None,
        "demand.population: 2 value(s) are missing (NaN)",
        (),
    ),
    "duplicate_site_ids": (
        _set("candidates", "site_id", ["S1", "S1"]),
        None,
        "candidates.site_id: 1 duplicated id(s)",
        (),
    ),
    "grids_without_id": (
        _drop_column("grids", "grid_id"),
        None,
        "grids: missing required column(s) grid_id",
        (),
    ),
    "polygon_candidates": (
        _polygons_as_candidates,
        None,
        "candidates.geometry: 6 feature(s) are Polygon; expected Point",
        (),
    ),
    "invalid_geometry_strict": (_bowtie, None, "grids.geometry: 1 invalid geometries", ("--strict",)),
    "swapped_latlon": (_swap_latlon, None, "demand.geometry: coordinates look like swapped lat/lon", ()),
    "unknown_facility_type": (
        _set("existing", "facility_type", ["fire_station"]),
        None,
        "existing.facility_type: unknown value(s) fire_station",
        (),
    ),
    "zero_width_fire_lane": (
        _set("fire_lanes", "width_m", [0.0]),
        None,
        "fire_lanes.width_m: 1 value(s) are zero or negative",
        (),
    ),
    "negative_cost": (
        _set("candidates", "cost", [-3.0]),
        None,
        "candidates.cost: 1 value(s) are negative",
        (),
    ),
    "null_geometry": (_null_geometry, None, "demand.geometry: 1 feature(s) have no geometry", ()),
    "history_unknown_grid": (
        _history_unknown_grid,
        None,
        "population_history.grid_id: 1 grid id(s) not in the grids layer",
        (),
    ),
    "missing_crs": (_drop("demand"), "shapefile_without_prj", "demand.crs: the layer has no CRS", ()),
    "metres_crs_on_degrees": (
        _drop("demand"),
        "gpkg_wrong_crs",
        "demand.crs: the CRS is WGS 84 / UTM zone 50N (metres) but the coordinates look like degrees",
        (),
    ),
    "csv_without_coordinates": (
        _drop("candidates"),
        "csv_no_coords",
        "candidates.csv: has no coordinate columns",
        (),
    ),
    "unreadable_file": (_drop("demand"), "garbage_geojson", "demand.geojson: cannot be read", ()),
    "layer_given_twice": (None, "second_demand_csv", "demand: is given twice", ()),
}


def _extra(kind: str, folder: Path, base: dict) -> None:
    demand = base["demand"]
    if kind == "shapefile_without_prj":
        demand.to_file(folder / "demand.shp")
        (folder / "demand.prj").unlink()
    elif kind == "gpkg_wrong_crs":
        demand.set_crs("EPSG:32650", allow_override=True).to_file(folder / "demand.gpkg", driver="GPKG")
    elif kind == "csv_no_coords":
        base["candidates"].drop(columns="geometry").to_csv(folder / "candidates.csv", index=False)
    elif kind == "garbage_geojson":
        (folder / "demand.geojson").write_text('{"type": "FeatureCollection", "features": [oops')
    elif kind == "second_demand_csv":
        df = pd.DataFrame(
            {"lon": demand.geometry.x, "lat": demand.geometry.y, "population": demand["population"]}
        )
        df.to_csv(folder / "demand.csv", index=False)


def build(root: Path = HERE) -> None:
    """Write ``valid/`` and ``malformed/<case>/`` under ``root``."""
    write_folder(root / "valid", valid_layers())
    for case, (mutate, extra, _, _) in CASES.items():
        layers = valid_layers()
        if mutate is not None:
            mutate(layers)
        folder = root / "malformed" / case
        write_folder(folder, layers)
        if extra is not None:
            _extra(extra, folder, valid_layers())


if __name__ == "__main__":
    build()
    print(f"wrote {HERE / 'valid'} and {len(CASES)} malformed cases")
