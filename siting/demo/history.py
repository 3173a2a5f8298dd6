"""Modelled population history 2016-2024 per grid, calibrated to the published street growth."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "BASE_YEAR",
    "LUHE_GROWTH",
    "PUKOU_GROWTH",
    "TAISHAN_GAIN",
    "YEARS",
    "population_history",
    "street_totals",
]

#: Years of the history table.
YEARS = tuple(range(2016, 2025))
#: Year of the published 843,400 residents the demand layer is calibrated to.
BASE_YEAR = 2019
#: Taishan grew by 120,000 residents in five to six years: modelled as +20,000 a year from 2016 to 2022.
TAISHAN_GAIN = 120_000.0
TAISHAN_YEARS = (2016, 2022)
#: Assumed yearly growth after 2022 in Taishan, and throughout in the other Pukou and the Luhe streets.
TAISHAN_LATE_GROWTH = 0.02
PUKOU_GROWTH = 0.03
LUHE_GROWTH = 0.01
#: Standard deviation of each grid's own yearly growth deviation (log scale), before re-calibration.
GRID_GROWTH_SD = 0.02


def street_totals(base: pd.Series, district: pd.Series) -> pd.DataFrame:
    """Return the modelled residents of each street per year.

    Parameters
    ----------
    base : pandas.Series
        Residents of each street in :data:`BASE_YEAR`, indexed by street code.
    district : pandas.Series
        District adcode of each street (``"320111"`` Pukou, ``"320116"`` Luhe), same index.

    Returns
    -------
    pandas.DataFrame
        Rows = street codes, columns = :data:`YEARS`.
    """
    out = pd.DataFrame(index=base.index, columns=list(YEARS), dtype=float)
    t0, t1 = TAISHAN_YEARS
    per_year = TAISHAN_GAIN / (t1 - t0)
    for code, p in zip(base.index.astype(str), base.to_numpy(dtype=float), strict=True):
        for year in YEARS:
            if code == "TS":
                lin = p + per_year * (min(year, t1) - BASE_YEAR)
                value = lin * (1 + TAISHAN_LATE_GROWTH) ** max(0, year - t1)
            else:
                rate = PUKOU_GROWTH if str(district.loc[code]) == "320111" else LUHE_GROWTH
                value = p * (1 + rate) ** (year - BASE_YEAR)
            out.loc[code, year] = value
    return out


def population_history(grids: pd.DataFrame, district: pd.Series, *, seed: int) -> pd.DataFrame:
    """Model each grid's residents from 2016 to 2024.

    Each grid follows its street's curve (:func:`street_totals`) with its own seeded growth deviation;
    the grids of a street are then rescaled so that every year they sum to the street curve exactly,
    and in :data:`BASE_YEAR` each grid equals its demand-layer population.

    Parameters
    ----------
    grids : pandas.DataFrame
        Columns ``grid_id``, ``street``, ``population`` (residents in :data:`BASE_YEAR`), sorted by id.
    district : pandas.Series
        District adcode per street code.
    seed : int
        Seed of the grid growth deviations.

    Returns
    -------
    pandas.DataFrame
        Long table ``grid_id``, ``year``, ``population``, ``source = "modelled"``.
    """
    rng = np.random.default_rng(seed)
    g = grids.sort_values("grid_id").reset_index(drop=True)
    base = g.groupby("street")["population"].sum()
    totals = street_totals(base, district)
    dev = rng.normal(0.0, GRID_GROWTH_SD, size=len(g))
    years = np.array(YEARS)
    raw = g["population"].to_numpy()[:, None] * np.exp(dev[:, None] * (years[None, :] - BASE_YEAR))
    frame = pd.DataFrame(raw, columns=years)
    frame["street"] = g["street"].to_numpy()
    sums = frame.groupby("street")[list(years)].transform("sum")
    scale = totals.loc[g["street"].to_numpy(), list(years)].to_numpy() / sums.to_numpy()
    values = raw * np.nan_to_num(scale, nan=0.0)
    long = pd.DataFrame(
        {
            "grid_id": np.repeat(g["grid_id"].to_numpy(), len(years)),
            "year": np.tile(years, len(g)).astype(np.int64),
            "population": np.round(values.ravel(), 3),
            "source": "modelled",
        }
    )
    return long.sort_values(["grid_id", "year"]).reset_index(drop=True)
