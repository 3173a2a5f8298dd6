"""Residents' reports as charging demand: validation, filters, KDE and DBSCAN shares known by hand."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from siting.demand.hotspots import (
    add_report_demand,
    prepare_reports,
    report_hotspots,
    report_intensity,
    synthetic_reports,
)
from siting.errors import InputError
from siting.geo.study_area import StudyArea

X0, Y0 = 660_000.0, 3_560_000.0  # EPSG:32650, Jiangbei


def _demand(xs=(0.0, 100.0, 1000.0), hh=(10.0, 10.0, 10.0)) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"demand_id": [f"d{i}" for i in range(len(xs))], "households": list(hh)},
        geometry=[shapely.Point(X0 + x, Y0) for x in xs],
        crs=32650,
    )


def _reports_at(
    points: list[tuple[float, float]], category: str = "flying-wire charging"
) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"date": ["2024-03-01"] * len(points), "category": [category] * len(points)},
        geometry=[shapely.Point(X0 + x, Y0 + y) for x, y in points],
        crs=32650,
    )


def _lonlat_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "lon": [118.70, 118.71, 118.72, 118.73],
            "lat": [32.15, 32.16, 32.17, 32.18],
            "date": ["2023-05-01", "2024-02-10", "2024-06-30", "2024-12-31"],
            "category": ["飞线充电", "Fire_Lane Blocked", "other", "charging request"],
        }
    )


def test_prepare_reports_maps_aliases_filters_and_projects():
    out = prepare_reports(_lonlat_table(), start="2024-01-01", end="2024-12-31")
    assert out.crs.to_epsg() == 32650
    assert list(out["category"]) == ["fire-lane blocked", "other", "charging request"]
    kept = prepare_reports(_lonlat_table(), categories=["flying-wire charging", "fire-lane blocked"])
    assert list(kept["category"]) == ["flying-wire charging", "fire-lane blocked"]
    # 118.70 E, 32.15 N in UTM 50N: x about 660 km east of the zone's false origin.
    assert 655_000 < kept.geometry.x.iloc[0] < 670_000


def test_prepare_reports_lists_every_problem():
    bad = _lonlat_table()
    bad.loc[0, "lat"] = np.nan
    bad.loc[1, "date"] = "not a date"
    bad.loc[2, "category"] = "noise at night"
    with pytest.raises(InputError) as err:
        prepare_reports(bad, categories=["flying wire"], start="2025-01-01", end="2024-01-01")
    where = {p.where for p in err.value.problems}
    assert where == {"reports.lon/lat", "reports.date", "reports.category", "categories", "start/end"}
    lonlat = next(p for p in err.value.problems if p.where == "reports.lon/lat")
    assert lonlat.rows == ("0",)


def test_prepare_reports_missing_columns():
    with pytest.raises(InputError) as err:
        prepare_reports(pd.DataFrame({"x": [1.0]}))
    assert {p.where for p in err.value.problems} == {"reports.lon/lat", "reports.date", "reports.category"}


def test_report_intensity_is_epanechnikov_density_per_km2():
    dens = report_intensity(
        np.array([[0.0, 0.0], [100.0, 0.0], [1000.0, 0.0]]), np.zeros((1, 2)), bandwidth_m=150
    )
    peak = 2 / (math.pi * 150**2) * 1e6  # 2-D Epanechnikov kernel at its centre, per km²
    np.testing.assert_allclose(dens, [peak, peak * 5 / 9, 0.0], rtol=1e-9)


def test_kde_share_added_by_hand():
    # One report on d0: the Epanechnikov kernel (h = 150 m) gives d0 weight 1, d1 (100 m) 1 - 100²/150² = 5/9,
    # d2 (1 km) 0. Added total = 0.1 * 30 = 3, split 9/14 : 5/14 : 0.
    rd = add_report_demand(_demand(), _reports_at([(0.0, 0.0)]), share=0.1, bandwidth_m=150)
    np.testing.assert_allclose(rd.added, [27 / 14, 15 / 14, 0.0], rtol=1e-9)
    np.testing.assert_allclose(rd.weights, [10 + 27 / 14, 10 + 15 / 14, 10.0], rtol=1e-9)
    assert rd.share_added == pytest.approx(0.1)
    assert rd.summary()["demand_points_raised"] == 2
    assert rd.n_reports == rd.n_reports_used == 1


def test_dbscan_counts_only_hotspot_reports():
    # Five reports within 10 m of d0 form a hotspot (eps 50 m, min 3); the lone report by d2 is noise.
    pts = [(0.0, 0.0), (5.0, 0.0), (0.0, 5.0), (-5.0, 0.0), (0.0, -5.0), (1000.0, 0.0)]
    rd = add_report_demand(
        _demand(), _reports_at(pts), share=0.2, method="dbscan", eps_m=50, min_samples=3, bandwidth_m=150
    )
    np.testing.assert_allclose(rd.score, [5, 5, 0])
    np.testing.assert_allclose(rd.added, [3.0, 3.0, 0.0])
    assert rd.n_reports == 6
    assert rd.n_reports_used == 5
    assert len(rd.hotspots) == 1
    assert rd.hotspots.loc[0, "n_reports"] == 5
    assert rd.hotspots.loc[0, "radius_m"] == pytest.approx(5.0)


def test_filters_and_nothing_near_states_zero_share():
    # Reports of another category, or out of the date range, add nothing; the stated share is 0.
    rd = add_report_demand(_demand(), _reports_at([(0.0, 0.0)], category="other"), share=0.1)
    assert rd.n_reports == 0
    assert rd.share_added == 0.0
    np.testing.assert_array_equal(rd.weights, rd.base)
    far = add_report_demand(_demand(), _reports_at([(5000.0, 0.0)]), share=0.1)
    assert far.n_reports == 1
    assert far.share_added == 0.0
    old = add_report_demand(_demand(), _reports_at([(0.0, 0.0)]), share=0.1, start="2024-06-01")
    assert old.n_reports == 0


def test_add_report_demand_rejects_bad_parameters():
    with pytest.raises(InputError) as err:
        add_report_demand(
            _demand(), _reports_at([(0.0, 0.0)]), share=1.5, method="grid", bandwidth_m=-1, min_samples=0
        )
    assert {p.where for p in err.value.problems} == {"share", "method", "bandwidth_m", "min_samples"}
    with pytest.raises(InputError, match="weight column"):
        add_report_demand(_demand(), _reports_at([(0.0, 0.0)]), weights="population")


def test_report_hotspots_rejects_bad_eps():
    with pytest.raises(InputError, match="eps_m"):
        report_hotspots(prepare_reports(_reports_at([(0.0, 0.0)])), eps_m=0)


def _tiny_area() -> StudyArea:
    square = shapely.box(X0, Y0, X0 + 300, Y0 + 300)
    lane = shapely.LineString([(X0 + 20, Y0 + 150), (X0 + 280, Y0 + 150)])
    return StudyArea.from_frames(
        demand=_demand(xs=(50.0, 150.0), hh=(10.0, 10.0)).set_geometry([shapely.Point(X0 + 50, Y0 + 50)] * 2),
        compounds=gpd.GeoDataFrame(
            {"compound_id": ["c1"], "name": ["A"], "source": ["modelled"]}, geometry=[square], crs=32650
        ),
        fire_lanes=gpd.GeoDataFrame(
            {"lane_id": ["fl1"], "compound": ["c1"], "width_m": [4.0], "source": ["modelled"]},
            geometry=[lane],
            crs=32650,
        ),
    )


def test_synthetic_reports_are_seeded_modelled_and_near_lanes():
    area = _tiny_area()
    a = synthetic_reports(area, n=50, seed=3, background=0.2)
    b = synthetic_reports(area, n=50, seed=3, background=0.2)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(synthetic_reports(area, n=50, seed=4))
    assert (a["source"] == "modelled").all()
    assert set(a["channel"]) <= {"12345 hotline", "digital city management", "grid patrol"}
    pts = gpd.GeoSeries(gpd.points_from_xy(a["lon"], a["lat"]), crs=4326).to_crs(32650)
    lane = area.layer("fire_lanes").geometry.iloc[0]
    d = pts.distance(lane).to_numpy()
    # 40 of 50 scatter around the lane (sigma 40 m: beyond 200 m is a 5-sigma event); 10 fall in the compound.
    assert (d[:40] < 200).all()
    assert pts.iloc[40:].within(area.layer("compounds").geometry.iloc[0]).all()
    rd = add_report_demand(area.layer("demand"), a, share=0.05)
    assert rd.share_added == pytest.approx(0.05)


def test_synthetic_reports_rejects_bad_options():
    with pytest.raises(InputError) as err:
        synthetic_reports(_tiny_area(), n=-1, spread_m=0, background=2)
    assert {p.where for p in err.value.problems} == {"n", "spread_m", "background"}
