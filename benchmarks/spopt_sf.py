"""Loader for spopt's San Francisco test data (205 census tracts x 16 candidate stores)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from siting.errors import InputError, Problem

__all__ = ["SFData", "load_sf"]

DEMAND_FILE = "SF_demand_205_centroid_uniform_weight.csv"
STORE_FILE = "SF_store_site_16_longlat.csv"
DISTANCE_FILE = "SF_network_distance_candidateStore_16_censusTract_205_new.csv"


@dataclass(frozen=True)
class SFData:
    """The SF instance as arrays (tuple-unpackable as ``cost, population, tracts, stores``).

    Attributes
    ----------
    cost : ndarray of float, shape (205, 16)
        Network distance in metres from each tract centroid (rows, in the demand
        file's order) to each store (columns, in the store file's order).
    population : ndarray of float, shape (205,)
        ``POP2000`` of each tract.
    tracts : ndarray of str, shape (205,)
        Tract ``NAME`` (e.g. ``"060816029.00"``).
    stores : ndarray of str, shape (16,)
        Store ``NAME`` (``"Store_1"`` ...).
    """

    cost: NDArray[np.float64]
    population: NDArray[np.float64]
    tracts: NDArray[np.str_]
    stores: NDArray[np.str_]

    def __iter__(self) -> Iterator[NDArray[Any]]:
        """Unpack as ``cost, population, tracts, stores``."""
        return iter((self.cost, self.population, self.tracts, self.stores))


def load_sf(data_dir: str | Path) -> SFData:
    """Read spopt's SF data from ``data_dir`` and build the 205 x 16 cost matrix.

    The long-format distance file's ``name`` is matched to the store ``NAME``
    and its ``DestinationName`` to the tract ``NAME`` (both read as text, so
    leading zeros are kept).

    Parameters
    ----------
    data_dir : str or Path
        Folder holding the three spopt CSV files (in this project:
        ``tests/data/benchmarks/spopt_sf``).

    Raises
    ------
    InputError
        If a file is missing or a tract/store pair has no distance.
    """
    folder = Path(data_dir)
    missing = [f for f in (DEMAND_FILE, STORE_FILE, DISTANCE_FILE) if not (folder / f).is_file()]
    if missing:
        raise InputError(
            [
                Problem("data_dir", f"{f} not found in {folder}", "point data_dir at spopt_sf/")
                for f in missing
            ]
        )
    demand = pd.read_csv(folder / DEMAND_FILE, dtype={"NAME": str})
    stores = pd.read_csv(folder / STORE_FILE, dtype={"NAME": str})
    dist = pd.read_csv(folder / DISTANCE_FILE, dtype={"name": str, "DestinationName": str})
    wide = dist.pivot_table(values="distance", index="DestinationName", columns="name", aggfunc="first")
    tracts = demand["NAME"].to_numpy(dtype=str)
    store_names = stores["NAME"].to_numpy(dtype=str)
    cost = wide.reindex(index=tracts, columns=store_names).to_numpy(dtype=float)
    holes = np.argwhere(np.isnan(cost))
    if holes.size:
        pairs = tuple(f"{tracts[i]}/{store_names[j]}" for i, j in holes[:20])
        raise InputError(
            Problem(DISTANCE_FILE, f"{len(holes)} tract/store pairs have no distance", "", pairs)
        )
    population = demand["POP2000"].to_numpy(dtype=float)
    return SFData(cost=cost, population=population, tracts=tracts, stores=store_names)
