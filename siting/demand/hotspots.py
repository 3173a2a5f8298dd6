"""Residents' reports as charging-demand evidence: kernel density and DBSCAN hotspots (scikit-learn)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from siting.demand.reports import (
    CATEGORY_ALIASES,
    CHARGING_CATEGORIES,
    REPORT_CATEGORIES,
    prepare_reports,
    synthetic_reports,
)
from siting.errors import InputError, Problem, raise_if_problems

__all__ = [
    "CATEGORY_ALIASES",
    "CHARGING_CATEGORIES",
    "REPORT_CATEGORIES",
    "ReportDemand",
    "add_report_demand",
    "prepare_reports",
    "report_hotspots",
    "report_intensity",
    "synthetic_reports",
]

Method = Literal["kde", "dbscan"]


def report_intensity(
    points_xy: np.ndarray,
    reports_xy: np.ndarray,
    *,
    bandwidth_m: float,
    kernel: str = "epanechnikov",
) -> np.ndarray:
    """Kernel density of the reports at some points, in reports per km².

    Uses :class:`sklearn.neighbors.KernelDensity` (density integrating to 1) times the number of
    reports, so the value is an expected count per km². The Epanechnikov kernel (default) is zero
    beyond ``bandwidth_m``: only points within that distance of a report get any weight.

    Parameters
    ----------
    points_xy : ndarray, shape (n, 2)
        Where to evaluate, projected metres.
    reports_xy : ndarray, shape (m, 2)
        Report locations, same CRS.
    bandwidth_m : float
        Kernel bandwidth in metres (> 0).
    kernel : str
        Any scikit-learn kernel (``epanechnikov``, ``gaussian``, ``tophat``, ...).

    Returns
    -------
    ndarray, shape (n,), float64
    """
    if reports_xy.shape[0] == 0 or points_xy.shape[0] == 0:
        return np.zeros(points_xy.shape[0])
    from sklearn.neighbors import KernelDensity  # noqa: PLC0415 - scikit-learn takes about 0.6 s to import; only the fits need it

    kde = KernelDensity(bandwidth=float(bandwidth_m), kernel=kernel).fit(reports_xy)
    dens = np.exp(kde.score_samples(points_xy))
    return dens * reports_xy.shape[0] * 1e6


def report_hotspots(
    reports: gpd.GeoDataFrame, *, eps_m: float = 100.0, min_samples: int = 5
) -> gpd.GeoDataFrame:
    """Clusters of reports found by DBSCAN (scikit-learn) in a projected CRS.

    Parameters
    ----------
    reports : GeoDataFrame
        Reports from :func:`prepare_reports` (projected points with ``date`` and ``category``).
    eps_m : float
        DBSCAN neighbourhood radius in metres (> 0).
    min_samples : int
        Reports within ``eps_m`` (itself included) that make a core point (>= 1).

    Returns
    -------
    GeoDataFrame
        One row per hotspot, largest first: ``hotspot_id``, ``n_reports``, ``first_date``,
        ``last_date``, ``top_category``, ``radius_m`` (largest distance of a member from the
        centroid) and the centroid as geometry; ``attrs["labels"]`` holds the cluster label of
        every input report (-1 = noise), in input order.
    """
    _check_positive(eps_m, "eps_m")
    if not (isinstance(min_samples, int | np.integer) and min_samples >= 1):
        raise InputError(Problem("min_samples", f"must be an integer >= 1, got {min_samples!r}", "e.g. 5"))
    from sklearn.cluster import DBSCAN  # noqa: PLC0415 - scikit-learn takes about 0.6 s to import; only the fits need it

    xy = shapely.get_coordinates(reports.geometry.to_numpy())
    labels = (
        DBSCAN(eps=float(eps_m), min_samples=int(min_samples)).fit_predict(xy)
        if len(xy)
        else np.zeros(0, dtype=int)
    )
    rows = []
    for lab in sorted(set(labels.tolist()) - {-1}):
        members = reports.iloc[np.flatnonzero(labels == lab)]
        pts = xy[labels == lab]
        c = pts.mean(axis=0)
        rows.append(
            {
                "n_reports": len(members),
                "first_date": members["date"].min(),
                "last_date": members["date"].max(),
                "top_category": members["category"].value_counts().index[0],
                "radius_m": float(np.hypot(*(pts - c).T).max()),
                "geometry": shapely.Point(c),
            }
        )
    cols = ["n_reports", "first_date", "last_date", "top_category", "radius_m", "geometry"]
    out = gpd.GeoDataFrame(pd.DataFrame(rows, columns=cols), geometry="geometry", crs=reports.crs)
    out = out.sort_values("n_reports", ascending=False, kind="stable").reset_index(drop=True)
    out.insert(0, "hotspot_id", [f"hs{i:03d}" for i in range(1, len(out) + 1)])
    out.attrs["labels"] = labels
    return out


@dataclass(frozen=True, eq=False)
class ReportDemand:
    """Demand weights with the report evidence added.

    Parameters
    ----------
    weights : ndarray, shape (n_demand,), float64
        ``base + added``: the new demand weights, in demand-row order.
    base, added : ndarray, shape (n_demand,), float64
        The weights before, and the part added from the reports.
    score : ndarray, shape (n_demand,), float64
        Report intensity at each demand point: reports per km² (``kde``) or hotspot reports within
        ``bandwidth_m`` (``dbscan``).
    share_requested : float
        The ``share`` asked for: added total / base total.
    share_added : float
        The share actually added (0 when no report falls near any demand point).
    n_reports : int
        Reports left after the category and date filters.
    n_reports_used : int
        Reports that weigh: all kept ones (``kde``) or those inside hotspots (``dbscan``).
    method : str
        ``kde`` or ``dbscan``.
    hotspots : GeoDataFrame
        DBSCAN hotspots of the kept reports (always computed, for maps and tables).
    parameters : mapping
        Every parameter used.
    """

    weights: np.ndarray
    base: np.ndarray
    added: np.ndarray
    score: np.ndarray
    share_requested: float
    share_added: float
    n_reports: int
    n_reports_used: int
    method: str
    hotspots: gpd.GeoDataFrame
    parameters: Mapping[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """JSON-ready figures: shares, totals, report and hotspot counts."""
        return {
            "method": self.method,
            "share_requested": self.share_requested,
            "share_added": round(self.share_added, 6),
            "base_total": round(float(self.base.sum()), 3),
            "added_total": round(float(self.added.sum()), 3),
            "demand_points_raised": int((self.added > 0).sum()),
            "reports": self.n_reports,
            "reports_used": self.n_reports_used,
            "hotspots": len(self.hotspots),
        }


def _check_positive(value: Any, where: str) -> None:
    try:
        ok = bool(np.isfinite(value) and value > 0)
    except TypeError:
        ok = False
    if not ok:
        raise InputError(Problem(where, f"must be a positive number of metres, got {value!r}", "e.g. 150"))


def _check_options(
    *, share: Any, method: Any, bandwidth_m: Any, eps_m: Any, min_samples: Any, kernel: Any
) -> list[Problem]:
    problems: list[Problem] = []
    try:
        share_ok = bool(np.isfinite(share) and 0 <= share <= 1)
    except TypeError:
        share_ok = False
    if not share_ok:
        problems.append(
            Problem("share", f"must be within [0, 1], got {share!r}", "e.g. 0.1 adds 10 % of demand")
        )
    if method not in ("kde", "dbscan"):
        problems.append(Problem("method", f"unknown method {method!r}", "use 'kde' or 'dbscan'"))
    for value, where in ((bandwidth_m, "bandwidth_m"), (eps_m, "eps_m")):
        try:
            _check_positive(value, where)
        except InputError as exc:
            problems.extend(exc.problems)
    if not (isinstance(min_samples, int | np.integer) and min_samples >= 1):
        problems.append(Problem("min_samples", f"must be an integer >= 1, got {min_samples!r}", "e.g. 5"))
    kernels = ("gaussian", "tophat", "epanechnikov", "exponential", "linear", "cosine")
    if kernel not in kernels:
        problems.append(Problem("kernel", f"unknown kernel {kernel!r}", f"use one of {', '.join(kernels)}"))
    return problems


def add_report_demand(
    demand: gpd.GeoDataFrame,
    reports: pd.DataFrame | gpd.GeoDataFrame,
    *,
    weights: Any = "households",
    share: float = 0.1,
    method: Method = "kde",
    bandwidth_m: float = 150.0,
    kernel: str = "epanechnikov",
    eps_m: float = 100.0,
    min_samples: int = 5,
    categories: Iterable[str] | None = CHARGING_CATEGORIES,
    start: Any = None,
    end: Any = None,
    known_categories: Iterable[str] = REPORT_CATEGORIES,
) -> ReportDemand:
    """Add ``share`` of the total demand where residents' reports cluster.

    ``added_i = share * sum(base) * s_i / sum(s)``, where ``s_i`` is the report score at demand
    point ``i``: the kernel density of the reports (``kde``, reports per km²), or the number of
    reports inside DBSCAN hotspots within ``bandwidth_m`` of the point (``dbscan``: isolated
    reports, DBSCAN noise, do not count). When no report scores at any demand point nothing is
    added and ``share_added`` is 0: the share actually added is always stated.

    Parameters
    ----------
    demand : GeoDataFrame
        Demand points (any CRS; projected to the reports' metric CRS).
    reports : DataFrame or GeoDataFrame
        See :func:`prepare_reports`.
    weights : str or array-like, shape (n_demand,)
        Base weights: a demand column (``households`` by default) or an array.
    share : float
        Added total as a share of the base total, in [0, 1].
    method : {"kde", "dbscan"}
        Score by kernel density or by DBSCAN hotspot membership.
    bandwidth_m : float
        KDE bandwidth / hotspot reach in metres (> 0).
    kernel : str
        KDE kernel; Epanechnikov (default) has compact support of radius ``bandwidth_m``.
    eps_m, min_samples
        DBSCAN parameters (metres, count); the hotspot table is built with them for both methods.
    categories : iterable of str or None
        Report categories that count (the charging-related ones by default; None = all known).
    start, end : date-like, optional
        Date range of the reports that count (inclusive).
    known_categories : iterable of str
        Vocabulary of categories (see :func:`prepare_reports`).

    Returns
    -------
    ReportDemand

    Raises
    ------
    InputError
        Listing every problem with the options, the reports and the weights.
    """
    problems = _check_options(
        share=share,
        method=method,
        bandwidth_m=bandwidth_m,
        eps_m=eps_m,
        min_samples=min_samples,
        kernel=kernel,
    )
    base = _base_weights(demand, weights, problems)
    kept: gpd.GeoDataFrame | None = None
    try:
        crs = demand.crs if demand.crs is not None and demand.crs.is_projected else "EPSG:32650"
        kept = prepare_reports(
            reports, crs=crs, categories=categories, start=start, end=end, known_categories=known_categories
        )
    except InputError as exc:
        problems.extend(exc.problems)
    raise_if_problems(problems, title="invalid report demand input")
    assert kept is not None
    assert base is not None
    demand_xy = shapely.get_coordinates(demand.geometry.to_crs(kept.crs).representative_point().to_numpy())
    report_xy = shapely.get_coordinates(kept.geometry.to_numpy())
    hotspots = report_hotspots(kept, eps_m=eps_m, min_samples=min_samples)
    labels = hotspots.attrs.pop("labels")
    if method == "kde":
        score = report_intensity(demand_xy, report_xy, bandwidth_m=bandwidth_m, kernel=kernel)
        used = int(report_xy.shape[0])
    else:
        hot = report_xy[labels >= 0]
        score = np.zeros(len(demand_xy))
        if hot.shape[0]:
            near = cKDTree(hot).query_ball_point(demand_xy, r=float(bandwidth_m), return_length=True)
            score = np.asarray(near, dtype=float)
        used = int(hot.shape[0])
    total = float(score.sum())
    added = share * float(base.sum()) * score / total if total > 0 else np.zeros_like(base)
    params = {
        "share": float(share),
        "method": method,
        "bandwidth_m": float(bandwidth_m),
        "kernel": kernel,
        "eps_m": float(eps_m),
        "min_samples": int(min_samples),
        "categories": None if categories is None else sorted(set(kept["category"].dropna().astype(str))),
        "start": None if start is None else str(pd.Timestamp(start).date()),
        "end": None if end is None else str(pd.Timestamp(end).date()),
        "crs": kept.crs.to_string(),
    }
    return ReportDemand(
        weights=base + added,
        base=base,
        added=added,
        score=score,
        share_requested=float(share),
        share_added=float(added.sum() / base.sum()) if base.sum() > 0 else 0.0,
        n_reports=len(kept),
        n_reports_used=used,
        method=method,
        hotspots=hotspots,
        parameters=params,
    )


def _base_weights(demand: Any, weights: Any, problems: list[Problem]) -> np.ndarray | None:
    if not isinstance(demand, gpd.GeoDataFrame) or demand.crs is None:
        problems.append(
            Problem("demand", "expected a GeoDataFrame with a CRS", "load it as a study-area layer")
        )
        return None
    if isinstance(weights, str):
        if weights not in demand.columns:
            problems.append(Problem(f"demand.{weights}", "weight column is missing", "name a numeric column"))
            return None
        values = pd.to_numeric(demand[weights], errors="coerce").to_numpy(dtype=float)
    else:
        values = np.asarray(weights, dtype=float).ravel()
        if values.shape[0] != len(demand):
            problems.append(
                Problem(
                    "weights", f"has {values.shape[0]} values for {len(demand)} demand points", "one each"
                )
            )
            return None
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        problems.append(
            Problem(
                "weights",
                f"{int(bad.sum())} weight(s) are missing or negative",
                "use finite weights >= 0",
                rows=tuple(str(i) for i in demand.index[bad]),
            )
        )
        return None
    return values
