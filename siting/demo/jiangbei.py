"""Build the Jiangbei demo study area (gis_data/jiangbei.gpkg) from the raw OSM layers, seeded."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siting.demo.common import CRS, write_gpkg
from siting.demo.grids import bisect, dissolve, grid_of_points, partition
from siting.demo.history import population_history
from siting.demo.land import demand_cells, load_land
from siting.demo.sites import candidates, fire_lanes
from siting.geo.study_area import HOUSEHOLD_SIZE

__all__ = [
    "COMMUNITY_TARGET_HH",
    "GRID_TARGET_HH",
    "HOUSEHOLD_SIZE",
    "RESIDENTS_2019",
    "build_jiangbei",
]

#: Published residents of the 7 directly managed streets of Jiangbei New Area (2019).
RESIDENTS_2019 = 843_400.0
#: Target households per grid (urban grids hold about 300-500).
GRID_TARGET_HH = 400.0
#: Target households per modelled community (社区).
COMMUNITY_TARGET_HH = 3_000.0


def _demand(land_compounds: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Allocate the published residents over the 50 m pieces of residential land, by area."""
    pieces = demand_cells(land_compounds)
    share = pieces["area_m2"].to_numpy() / pieces["area_m2"].sum()
    pop = np.round(RESIDENTS_2019 * share, 3)
    pop[int(np.argmax(pop))] += round(RESIDENTS_2019 - float(pop.sum()), 3)  # rounding residue: total exact
    pieces["population"] = pop
    pieces["households"] = np.round(pieces["population"] / HOUSEHOLD_SIZE, 3)
    pieces["area_m2"] = pieces["area_m2"].round(1)
    pieces["demand_id"] = [f"d{i:05d}" for i in range(1, len(pieces) + 1)]
    return pieces


def _grids(pieces: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Partition the pieces into grids; return the grid layer and the grid id of each piece."""
    labels = partition(pieces, weight="households", zone="compound", target=GRID_TARGET_HH)
    geoms = dissolve(pieces, labels)
    agg = pd.DataFrame(
        {"label": labels, "street": pieces["street"], "compound": pieces["compound"]}
    ).drop_duplicates("label")
    agg = agg.sort_values("label").reset_index(drop=True)
    hh = np.bincount(labels, weights=pieces["households"].to_numpy())
    pop = np.bincount(labels, weights=pieces["population"].to_numpy())
    counter: dict[str, int] = {}
    ids = []
    for street in agg["street"]:
        counter[street] = counter.get(street, 0) + 1
        ids.append(f"{street}-{counter[street]:04d}")
    grids = gpd.GeoDataFrame(
        {
            "grid_id": ids,
            "street": agg["street"],
            "compound": agg["compound"],
            "population": np.round(pop, 3),
            "households": np.round(hh, 3),
            "source": "modelled",
        },
        geometry=geoms.to_numpy(),
        crs=CRS,
    )
    grids["community"] = _communities(grids)
    grids["area_m2"] = grids.geometry.area.round(1)
    return grids, np.asarray(ids, dtype=object)[labels]


def _communities(grids: gpd.GeoDataFrame) -> list[str]:
    """Group each street's grids into communities of about 3,000 households by recursive bisection."""
    cen = grids.geometry.centroid
    x, y = cen.x.to_numpy(), cen.y.to_numpy()
    w = grids["households"].to_numpy()
    out = np.empty(len(grids), dtype=object)
    for street in sorted(grids["street"].unique()):
        idx = np.flatnonzero(grids["street"].to_numpy() == street)
        k = max(1, round(float(w[idx].sum()) / COMMUNITY_TARGET_HH))
        for n, group in enumerate(bisect(idx, k, x, y, w), start=1):
            out[group] = f"{street}-C{n:02d}"
    return list(out)


def build_jiangbei(raw_dir: str | Path, out_path: str | Path, *, seed: int = 20190) -> dict[str, int]:
    """Build ``jiangbei.gpkg`` from the raw OSM layers.

    Parameters
    ----------
    raw_dir : str or Path
        Folder with the raw files (see ``gis_data/README.md``).
    out_path : str or Path
        GeoPackage to write (replaced).
    seed : int
        Seed of the modelled population history.

    Returns
    -------
    dict of str to int
        Feature count per written layer.
    """
    land = load_land(raw_dir)
    pieces = _demand(land.compounds)
    grids, grid_of_piece = _grids(pieces)
    pieces["grid_id"] = grid_of_piece
    reps = shapely.point_on_surface(pieces.geometry.to_numpy())
    demand = gpd.GeoDataFrame(
        pieces[["demand_id", "grid_id", "compound", "street", "area_m2", "population", "households"]].assign(
            source="modelled"
        ),
        geometry=reps,
        crs=CRS,
    )
    lanes = fire_lanes(land.compounds)
    cands = candidates(land.compounds, lanes, land.exclusions)
    cands["grid_id"] = grid_of_points(cands, grids)
    district = land.streets.set_index("street_id")["district"]
    history = population_history(grids[["grid_id", "street", "population"]], district, seed=seed)
    layers = {
        "boundary": land.boundary,
        "streets": land.streets,
        "compounds": land.compounds,
        "exclusions": land.exclusions,
        "demand": demand,
        "grids": grids,
        "fire_lanes": lanes,
        "candidates": cands,
    }
    meta = {
        "name": "jiangbei",
        "title": "Jiangbei New Area, Nanjing (7 streets): OSM land, modelled population, grids and sites",
        "attribution": "residential, water and industrial land: © OpenStreetMap contributors, ODbL 1.0",
        "assumptions": (
            f"{RESIDENTS_2019:,.0f} residents (2019) over residential land by area; "
            f"households = residents / {HOUSEHOLD_SIZE}; grids of about {GRID_TARGET_HH:g} households"
        ),
        "seed": str(seed),
    }
    write_gpkg(out_path, layers, {"population_history": history}, metadata=meta)
    counts = {name: len(gdf) for name, gdf in layers.items()}
    counts["population_history"] = len(history)
    return counts
