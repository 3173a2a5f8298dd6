"""Residents' reports (12345 hotline, digital city management, grid patrols): categories, checks, modelled data."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from siting.errors import InputError, Problem, raise_if_problems

__all__ = [
    "CATEGORY_ALIASES",
    "CHARGING_CATEGORIES",
    "REPORT_CATEGORIES",
    "prepare_reports",
    "synthetic_reports",
]

#: Canonical report categories this module knows.
REPORT_CATEGORIES: tuple[str, ...] = (
    "flying-wire charging",
    "fire-lane blocked",
    "indoor charging",
    "e-bike fire",
    "charging request",
    "other",
)
#: Categories that signal unmet e-bike charging demand (the default filter of :func:`add_report_demand`).
CHARGING_CATEGORIES: tuple[str, ...] = (
    "flying-wire charging",
    "fire-lane blocked",
    "indoor charging",
    "e-bike fire",
    "charging request",
)
#: Usual Chinese wordings of the hotline / city-management categories, mapped to the canonical ones.
CATEGORY_ALIASES: Mapping[str, str] = {
    "飞线充电": "flying-wire charging",
    "私拉电线充电": "flying-wire charging",
    "占用消防通道": "fire-lane blocked",
    "堵塞消防通道": "fire-lane blocked",
    "消防通道堵塞": "fire-lane blocked",
    "电动车入户充电": "indoor charging",
    "电动自行车进楼入户": "indoor charging",
    "电动自行车火灾": "e-bike fire",
    "电动车起火": "e-bike fire",
    "增设充电桩": "charging request",
    "充电桩需求": "charging request",
    "其他": "other",
}

_CHANNELS = ("12345 hotline", "digital city management", "grid patrol")


def _key(value: str) -> str:
    """Case-, space-, hyphen- and underscore-insensitive form of a category name."""
    return re.sub(r"[\s_\-]+", " ", value.strip().lower())


def _canonical(values: pd.Series, known: Iterable[str] = REPORT_CATEGORIES) -> pd.Series:
    """Map category names to their spelling in ``known`` (Chinese aliases included); others to their key."""
    lookup = {_key(k): k for k in known}
    lookup.update({_key(a): lookup.get(_key(c), c) for a, c in CATEGORY_ALIASES.items()})

    def one(v: Any) -> Any:
        return lookup.get(_key(v), _key(v)) if isinstance(v, str) else pd.NA

    return pd.Series([one(v) for v in values], index=values.index, dtype="string")


def _date_bound(value: Any, where: str, problems: list[Problem]) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        return pd.Timestamp(value)
    except (TypeError, ValueError):
        problems.append(
            Problem(where, f"cannot read {value!r} as a date", "use ISO dates such as '2024-01-31'")
        )
        return None


def _locations(reports: Any, problems: list[Problem]) -> gpd.GeoSeries | None:
    """Report points as a GeoSeries: the geometry of a GeoDataFrame, or lon/lat columns (WGS84)."""
    if isinstance(reports, gpd.GeoDataFrame) and reports.geometry.name in reports:
        geom = reports.geometry
        if reports.crs is None:
            problems.append(Problem("reports.crs", "the layer has no CRS", "set_crs(4326) for lon/lat"))
            return None
        bad = (geom.isna() | geom.is_empty | (geom.geom_type != "Point")).to_numpy()
        if bad.any():
            problems.append(
                Problem(
                    "reports.geometry",
                    f"{int(bad.sum())} report(s) have no point location",
                    "give each report a point (lon/lat)",
                    rows=tuple(str(i) for i in reports.index[bad]),
                )
            )
        return geom
    missing = [c for c in ("lon", "lat") if c not in getattr(reports, "columns", ())]
    if missing:
        problems.append(
            Problem(
                f"reports.{'/'.join(missing)}",
                "column(s) missing",
                "give lon and lat columns in WGS84 degrees (or pass a GeoDataFrame with a CRS)",
            )
        )
        return None
    lon = pd.to_numeric(reports["lon"], errors="coerce").to_numpy(dtype=float)
    lat = pd.to_numeric(reports["lat"], errors="coerce").to_numpy(dtype=float)
    bad = ~(np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90))
    if bad.any():
        problems.append(
            Problem(
                "reports.lon/lat",
                f"{int(bad.sum())} report(s) have a missing or impossible lon/lat",
                "fill WGS84 degrees (lon -180..180, lat -90..90) or drop the rows",
                rows=tuple(str(i) for i in reports.index[bad]),
            )
        )
    return gpd.GeoSeries(gpd.points_from_xy(lon, lat), index=reports.index, crs=4326)


def _dates(reports: Any, problems: list[Problem]) -> pd.Series | None:
    if "date" not in reports.columns:
        problems.append(
            Problem("reports.date", "column missing", "add the report date (ISO, e.g. 2024-05-01)")
        )
        return None
    raw = reports["date"]
    parsed = pd.to_datetime(raw, errors="coerce", format="mixed")
    bad = parsed.isna().to_numpy()
    if bad.any():
        problems.append(
            Problem(
                "reports.date",
                f"{int(bad.sum())} date(s) are missing or cannot be read",
                "use ISO dates such as 2024-05-01",
                rows=tuple(str(i) for i in reports.index[bad]),
            )
        )
    return parsed


def _categories(
    reports: Any, known: tuple[str, ...], wanted: Iterable[str] | None, problems: list[Problem]
) -> tuple[pd.Series | None, tuple[str, ...]]:
    known_set = set(known)
    chosen: tuple[str, ...] = tuple(sorted(known_set))
    if wanted is not None:
        if isinstance(wanted, str):
            wanted = [wanted]
        wanted = list(wanted)
        canon = _canonical(pd.Series(wanted, dtype="string"), known)
        unknown = sorted({str(w) for w, c in zip(wanted, canon, strict=True) if c not in known_set})
        if unknown:
            problems.append(
                Problem(
                    "categories",
                    f"unknown categor{'y' if len(unknown) == 1 else 'ies'} {', '.join(map(repr, unknown))}",
                    f"use some of {', '.join(sorted(known_set))}",
                )
            )
        chosen = tuple(sorted(set(canon.dropna()) & known_set))
    if "category" not in reports.columns:
        problems.append(Problem("reports.category", "column missing", f"add one of {', '.join(known)}"))
        return None, chosen
    cats = _canonical(reports["category"], known)
    bad = ~cats.isin(known_set).fillna(False).to_numpy(dtype=bool)
    if bad.any():
        seen = sorted({str(v) for v in reports["category"][bad]})[:5]
        problems.append(
            Problem(
                "reports.category",
                f"{int(bad.sum())} report(s) have an unknown category ({', '.join(map(repr, seen))})",
                f"map them to one of {', '.join(sorted(known_set))}, or pass known_categories=",
                rows=tuple(str(i) for i in reports.index[bad]),
            )
        )
    return cats, chosen


def prepare_reports(
    reports: pd.DataFrame | gpd.GeoDataFrame,
    *,
    crs: Any = "EPSG:32650",
    categories: Iterable[str] | None = None,
    start: Any = None,
    end: Any = None,
    known_categories: Iterable[str] = REPORT_CATEGORIES,
) -> gpd.GeoDataFrame:
    """Validate residents' reports, keep the chosen categories and dates, project to metres.

    Parameters
    ----------
    reports : DataFrame or GeoDataFrame
        One row per report: ``lon``, ``lat`` (WGS84 degrees; or point geometries with a CRS),
        ``date`` (anything ``pandas.to_datetime`` reads) and ``category`` (canonical English names of
        :data:`REPORT_CATEGORIES` or their Chinese wordings in :data:`CATEGORY_ALIASES`).
    crs : optional
        Projected CRS of the output (metres; EPSG:32650 for Nanjing).
    categories : iterable of str, optional
        Keep only these categories (all known ones when None).
    start, end : date-like, optional
        Keep reports dated within ``[start, end]`` (inclusive).
    known_categories : iterable of str
        The vocabulary; any report outside it is an error (so typos are not silently dropped).

    Returns
    -------
    GeoDataFrame
        The kept reports in ``crs`` with ``date`` (datetime64) and canonical ``category``; other
        columns are carried over.

    Raises
    ------
    InputError
        Listing every problem: missing or impossible lon/lat, unreadable dates, unknown categories,
        ``start`` after ``end``, a geographic ``crs``.
    """
    problems: list[Problem] = []
    if not isinstance(reports, pd.DataFrame):
        raise InputError(
            Problem(
                "reports", f"expected a DataFrame, got {type(reports).__name__}", "pass a pandas DataFrame"
            )
        )
    target = CRS.from_user_input(crs)
    if not target.is_projected:
        problems.append(
            Problem("crs", f"{target.name} is not projected", "use a metric CRS such as EPSG:32650")
        )
    geom = _locations(reports, problems)
    dates = _dates(reports, problems)
    cats, chosen = _categories(reports, tuple(known_categories), categories, problems)
    lo, hi = _date_bound(start, "start", problems), _date_bound(end, "end", problems)
    if lo is not None and hi is not None and lo > hi:
        problems.append(Problem("start/end", f"start {lo.date()} is after end {hi.date()}", "swap them"))
    raise_if_problems(problems, title="invalid reports")
    assert geom is not None
    assert dates is not None
    assert cats is not None
    keep = cats.isin(chosen).to_numpy(dtype=bool, na_value=False).copy()
    if lo is not None:
        keep &= (dates >= lo).to_numpy(dtype=bool)
    if hi is not None:
        keep &= (dates <= hi).to_numpy(dtype=bool)
    out = gpd.GeoDataFrame(
        reports.drop(columns=[c for c in ("lon", "lat", "geometry") if c in reports.columns]).assign(
            date=dates.to_numpy(), category=cats.to_numpy()
        ),
        geometry=geom.to_crs(target).to_numpy(),
        crs=target,
    )
    return out.loc[keep]


def synthetic_reports(
    area: Any,
    *,
    n: int = 400,
    seed: int = 0,
    n_hotspots: int = 12,
    spread_m: float = 40.0,
    background: float = 0.2,
    start: str = "2023-01-01",
    end: str = "2024-12-31",
) -> pd.DataFrame:
    """MODELLED residents' reports for demos and tests (not real hotline data).

    ``n_hotspots`` compounds that have fire lanes are drawn at random; ``1 - background`` of the
    reports scatter (Gaussian, ``spread_m`` metres) around random points on those compounds' fire
    lanes, the rest fall uniformly on random compounds. Categories are drawn with weights
    flying-wire charging 0.4, fire-lane blocked 0.3, indoor charging 0.15, charging request 0.1,
    e-bike fire 0.05; dates uniformly within ``[start, end]``; channel one of 12345 hotline, digital
    city management, grid patrol. Every row has ``source = "modelled"``.

    Parameters
    ----------
    area : StudyArea
        Needs ``compounds`` and ``fire_lanes`` layers (metric CRS).
    n : int
        Number of reports (>= 0).
    seed : int
        Random seed; the same seed gives the same table.
    n_hotspots : int
        Compounds where reports cluster (>= 1).
    spread_m : float
        Standard deviation of the scatter around a hotspot, metres (> 0).
    background : float
        Share of reports spread over all compounds, in [0, 1].
    start, end : str
        Date range.

    Returns
    -------
    DataFrame
        ``report_id, lon, lat, date, category, channel, compound, source`` (lon/lat WGS84).
    """
    problems: list[Problem] = []
    if not (isinstance(n, int | np.integer) and n >= 0):
        problems.append(Problem("n", f"must be an integer >= 0, got {n!r}", "e.g. 400"))
    if not (isinstance(n_hotspots, int | np.integer) and n_hotspots >= 1):
        problems.append(Problem("n_hotspots", f"must be an integer >= 1, got {n_hotspots!r}", "e.g. 12"))
    if not (np.isfinite(spread_m) and spread_m > 0):
        problems.append(Problem("spread_m", f"must be > 0 metres, got {spread_m!r}", "e.g. 40"))
    if not (0 <= background <= 1):
        problems.append(Problem("background", f"must be within [0, 1], got {background!r}", "e.g. 0.2"))
    problems.extend(
        Problem(name, "the study area has no such layer", f"add a {name} layer")
        for name in ("compounds", "fire_lanes")
        if not area.has(name)
    )
    raise_if_problems(problems, title="invalid synthetic_reports options")
    rng = np.random.default_rng(seed)
    lanes = area.layer("fire_lanes")
    comps = area.layer("compounds")
    lane_comps = sorted(set(lanes["compound"].astype(str)) & set(comps["compound_id"].astype(str)))
    hot = rng.choice(lane_comps, size=min(n_hotspots, len(lane_comps)), replace=False)
    n_bg = round(n * background)
    xy = np.empty((n, 2))
    where = np.empty(n, dtype=object)
    for k in range(n - n_bg):
        cid = hot[rng.integers(len(hot))]
        lane = lanes.geometry[lanes["compound"].astype(str) == cid].to_numpy()
        line = lane[rng.integers(len(lane))]
        pt = shapely.line_interpolate_point(line, rng.random(), normalized=True)
        xy[k] = shapely.get_coordinates(pt)[0] + rng.normal(0.0, spread_m, 2)
        where[k] = cid
    polys = comps.geometry.to_numpy()
    ids = comps["compound_id"].astype(str).to_numpy()
    for k in range(n - n_bg, n):
        j = int(rng.integers(len(polys)))
        minx, miny, maxx, maxy = polys[j].bounds
        while True:
            p = rng.uniform((minx, miny), (maxx, maxy))
            if polys[j].contains(shapely.Point(p)):
                break
        xy[k] = p
        where[k] = ids[j]
    lonlat = gpd.GeoSeries(gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=area.crs).to_crs(4326)
    cats = ["flying-wire charging", "fire-lane blocked", "indoor charging", "charging request", "e-bike fire"]
    t0, t1 = pd.Timestamp(start), pd.Timestamp(end)
    days = rng.integers(0, (t1 - t0).days + 1, n)
    return pd.DataFrame(
        {
            "report_id": [f"r{i:05d}" for i in range(1, n + 1)],
            "lon": lonlat.x.round(7).to_numpy(),
            "lat": lonlat.y.round(7).to_numpy(),
            "date": [str((t0 + pd.Timedelta(days=int(d))).date()) for d in days],
            "category": rng.choice(cats, size=n, p=[0.4, 0.3, 0.15, 0.1, 0.05]),
            "channel": rng.choice(_CHANNELS, size=n),
            "compound": where,
            "source": "modelled",
        }
    )
