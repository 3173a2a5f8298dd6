"""Population growth per grid: model families compared by time-series cross-validation, projections with bands."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from siting.errors import InputError, Problem, raise_if_problems
from siting.geo.study_area import HOUSEHOLD_SIZE

__all__ = [
    "FAMILIES",
    "GrowthFit",
    "Override",
    "apply_overrides",
    "fit_growth",
    "scale_demand",
]

Family = Literal["linear", "log-linear", "poisson", "gradient-boosting"]
FAMILIES: tuple[Family, ...] = ("linear", "log-linear", "poisson", "gradient-boosting")


def _linear() -> Any:
    """Return a least-squares fit without intercept (the design carries one column per grid)."""
    from sklearn.linear_model import LinearRegression  # noqa: PLC0415 - scikit-learn takes about 0.6 s to import; only the fits need it

    return LinearRegression(fit_intercept=False)


def _check_history(history: pd.DataFrame) -> pd.DataFrame:
    problems: list[Problem] = []
    missing = [c for c in ("grid_id", "year", "population") if c not in history.columns]
    if missing:
        raise InputError(
            Problem("history", f"missing column(s) {', '.join(missing)}", "give grid_id, year, population")
        )
    h = history[["grid_id", "year", "population"]].copy()
    h["grid_id"] = h["grid_id"].astype(str)
    h["year"] = pd.to_numeric(h["year"], errors="coerce")
    h["population"] = pd.to_numeric(h["population"], errors="coerce")
    bad = h["year"].isna() | h["population"].isna() | (h["population"] < 0)
    if bad.any():
        problems.append(
            Problem(
                "history.population",
                f"{int(bad.sum())} row(s) have a missing year or a missing or negative population",
                "use whole years and residents >= 0",
                rows=tuple(f"#{i}" for i in h.index[bad][:20]),
            )
        )
    years = sorted(h["year"].dropna().unique())
    if len(years) < 4:
        problems.append(
            Problem("history.year", f"only {len(years)} year(s) of history", "give at least 4 years per grid")
        )
    if h.duplicated(["grid_id", "year"]).any():
        problems.append(
            Problem("history", "a grid has two rows for the same year", "keep one row per grid and year")
        )
    raise_if_problems(problems, title="invalid population history")
    wide = h.pivot_table(index="grid_id", columns="year", values="population", aggfunc="first").sort_index()
    if wide.isna().any().any():
        gaps = wide.index[wide.isna().any(axis=1)]
        raise InputError(
            Problem(
                "history",
                f"{len(gaps)} grid(s) miss some years",
                "give every grid a population for every year (interpolate gaps first)",
                rows=tuple(map(str, gaps[:20])),
            ),
            title="invalid population history",
        )
    wide.columns = wide.columns.astype(int)
    return wide


def _design(n_grids: int, grid_idx: np.ndarray, t: np.ndarray) -> sp.csr_matrix:
    """One intercept and one slope per grid: columns ``[onehot(grid), onehot(grid) * t]``."""
    rows = np.arange(grid_idx.size)
    onehot = sp.csr_matrix((np.ones(grid_idx.size), (rows, grid_idx)), shape=(grid_idx.size, n_grids))
    slope = sp.csr_matrix((t.astype(float), (rows, grid_idx)), shape=(grid_idx.size, n_grids))
    return sp.hstack([onehot, slope], format="csr")


def _forecast(
    family: Family, wide: pd.DataFrame, years: Sequence[int], features: pd.DataFrame | None, seed: int
) -> np.ndarray:
    """Fit ``family`` on every year of ``wide`` and forecast ``years``: array (n_grids, len(years))."""
    n, cols = wide.shape
    obs_years = np.asarray(wide.columns, dtype=int)
    y = wide.to_numpy(dtype=float)
    base = obs_years.max()
    grid_idx = np.repeat(np.arange(n), cols)
    t = np.tile(obs_years - base, n).astype(float)
    fut_idx = np.repeat(np.arange(n), len(years))
    fut_t = np.tile(np.asarray(years) - base, n).astype(float)
    if family == "linear":
        est = _linear().fit(_design(n, grid_idx, t), y.ravel())
        pred = est.predict(_design(n, fut_idx, fut_t))
    elif family == "log-linear":
        est = _linear().fit(_design(n, grid_idx, t), np.log1p(y.ravel()))
        pred = np.expm1(est.predict(_design(n, fut_idx, fut_t)))
    elif family == "poisson":
        pred = _poisson_per_grid(y, obs_years - base, np.asarray(years) - base).ravel()
    else:
        pred = _gbr_forecast(wide, years, features, seed).ravel()
    return np.maximum(np.asarray(pred).reshape(n, len(years)), 0.0)


def _poisson_per_grid(y: np.ndarray, t: np.ndarray, t_new: np.ndarray, iters: int = 50) -> np.ndarray:
    """Poisson regression with a log link, one ``(a, b)`` per grid: ``E[y_gt] = exp(a_g + b_g t)``.

    The maximum-likelihood fit of each grid is what ``sklearn.linear_model.PoissonRegressor``
    (``alpha=0``) gives on that grid's rows alone (the tests check this); solving all grids'
    2x2 Newton systems at once keeps 800+ grids x 4 folds to milliseconds instead of
    one sklearn fit per grid.

    Parameters
    ----------
    y : ndarray, shape (n_grids, n_years)
        Observed residents.
    t, t_new : ndarray of float
        Observed and forecast years, centred on the last observed year.
    iters : int
        Most Newton steps.
    """
    tt = t.astype(float)
    a = np.log(np.maximum(y.mean(axis=1), 1e-9))
    b = np.zeros(y.shape[0])
    for _ in range(iters):
        mu = np.exp(a[:, None] + b[:, None] * tt[None, :])
        ga, gb = (y - mu).sum(1), ((y - mu) * tt).sum(1)
        haa, hab, hbb = mu.sum(1), (mu * tt).sum(1), (mu * tt * tt).sum(1)
        det = np.maximum(haa * hbb - hab * hab, 1e-300)
        da, db = (hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det
        a, b = a + da, b + db
        if np.max(np.abs(da)) < 1e-12 and np.max(np.abs(db)) < 1e-12:
            break
    return np.exp(a[:, None] + b[:, None] * t_new.astype(float)[None, :])


def _gbr_features(wide: pd.DataFrame, features: pd.DataFrame | None) -> np.ndarray:
    y = np.log1p(wide.to_numpy(dtype=float))
    recent = y[:, -1] - y[:, -min(4, y.shape[1])]
    trend = (y[:, -1] - y[:, 0]) / max(y.shape[1] - 1, 1)
    cols = [y[:, -1], recent, trend]
    if features is not None:
        f = features.reindex(wide.index).fillna(0.0).to_numpy(dtype=float)
        cols.extend(f.T)
    return np.column_stack(cols)


def _gbr_forecast(
    wide: pd.DataFrame, years: Sequence[int], features: pd.DataFrame | None, seed: int
) -> np.ndarray:
    """Forecast with one global model of log growth over ``h`` years from a grid's recent trend and features."""
    obs = np.asarray(wide.columns, dtype=int)
    xs, ys = [], []
    for k in range(3, obs.size - 1):  # origins with at least 3 years before them
        past = wide.iloc[:, : k + 1]
        x0 = _gbr_features(past, features)
        for j in range(k + 1, obs.size):
            h = obs[j] - obs[k]
            xs.append(np.column_stack([np.full(len(wide), h), x0]))
            ys.append(np.log1p(wide.iloc[:, j].to_numpy(float)) - np.log1p(past.iloc[:, -1].to_numpy(float)))
    if not xs:
        raise InputError(
            Problem("history.year", "too few years for gradient boosting", "give at least 5 years")
        )
    from sklearn.ensemble import HistGradientBoostingRegressor  # noqa: PLC0415 - scikit-learn takes about 0.6 s to import; only the fits need it

    est = HistGradientBoostingRegressor(max_iter=150, learning_rate=0.08, random_state=seed)
    est.fit(np.vstack(xs), np.concatenate(ys))
    x_now = _gbr_features(wide, features)
    last = wide.iloc[:, -1].to_numpy(float)
    out = []
    for year in years:
        h = year - obs.max()
        growth = est.predict(np.column_stack([np.full(len(wide), h), x_now]))
        out.append(np.expm1(np.log1p(last) + growth))
    return np.column_stack(out)


@dataclass(frozen=True)
class GrowthFit:
    """A fitted growth model: the chosen family, its cross-validation error and projection bands.

    Attributes
    ----------
    family : str
        The family with the lowest cross-validated error.
    cv_error : mapping of str to float
        Weighted absolute percentage error (%) of each family's out-of-sample forecasts:
        ``100 * sum |forecast - actual| / sum actual`` over grids, origins and horizons.
    cv_origins : tuple of int
        Last training year of each rolling-origin fold.
    band_quantiles : mapping of int to (float, float)
        For each horizon ``h`` (years), the 5th and 95th percentile of the chosen family's
        relative forecast error ``forecast / actual - 1`` in cross-validation; projections
        beyond the longest horizon scale the widest band by ``sqrt(h / h_max)``.
    history : DataFrame
        Grids x years of observed residents.
    features : DataFrame or None
        Grid features used by gradient boosting.
    seed : int
        Random seed (gradient boosting).
    """

    family: Family
    cv_error: Mapping[str, float]
    cv_origins: tuple[int, ...]
    band_quantiles: Mapping[int, tuple[float, float]]
    history: pd.DataFrame = field(repr=False)
    features: pd.DataFrame | None = field(default=None, repr=False)
    seed: int = 0
    _mid: dict[int, np.ndarray] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def last_year(self) -> int:
        """Last observed year."""
        return int(self.history.columns.max())

    def project(self, year: int) -> pd.DataFrame:
        """Project every grid to ``year``.

        Returns
        -------
        DataFrame
            One row per grid: ``grid_id``, ``year``, ``base`` (last observed residents),
            ``low``, ``mid``, ``high`` (residents); ``mid`` is the chosen family's forecast.
        """
        return self.projections([year])[0]

    def projections(self, years: Sequence[int]) -> list[pd.DataFrame]:
        """Project every grid to each of ``years`` (one fit of the family for all of them).

        Forecasts are cached on the fit, so asking again for a year costs nothing.

        Returns
        -------
        list of DataFrame
            One :meth:`project` table per year, in the order given.
        """
        late = [int(y) for y in years if int(y) <= self.last_year]
        if late:
            raise InputError(
                Problem(
                    "year",
                    f"{', '.join(map(str, late))} not after the last observed year {self.last_year}",
                    "project to a later year",
                )
            )
        todo = sorted({int(y) for y in years} - set(self._mid))
        if todo:
            forecast = _forecast(self.family, self.history, todo, self.features, self.seed)
            for k, y in enumerate(todo):
                self._mid[y] = forecast[:, k]
        return [self._table(int(y)) for y in years]

    def _table(self, year: int) -> pd.DataFrame:
        mid = self._mid[year]
        lo_q, hi_q = self._band(year - self.last_year)
        # forecast = actual * (1 + e)  =>  actual = forecast / (1 + e): high error -> low actual
        low = mid / (1.0 + hi_q)
        high = mid / (1.0 + lo_q) if lo_q > -1 else mid * 2.0
        return pd.DataFrame(
            {
                "grid_id": self.history.index.to_numpy(),
                "year": year,
                "base": self.history.iloc[:, -1].to_numpy(float),
                "low": np.minimum(low, mid),
                "mid": mid,
                "high": np.maximum(high, mid),
            }
        )

    def _band(self, h: int) -> tuple[float, float]:
        if h in self.band_quantiles:
            return self.band_quantiles[h]
        h_max = max(self.band_quantiles)
        lo, hi = self.band_quantiles[h_max]
        scale = float(np.sqrt(h / h_max))
        return lo * scale, hi * scale

    def summary(self) -> dict[str, Any]:
        """JSON-ready description: family, error of every family, folds, bands."""
        return {
            "family": self.family,
            "cv_error_percent": {k: round(v, 3) for k, v in self.cv_error.items()},
            "cv_origins": list(self.cv_origins),
            "bands": {str(h): [round(a, 4), round(b, 4)] for h, (a, b) in self.band_quantiles.items()},
            "grids": len(self.history),
            "years": [int(self.history.columns.min()), self.last_year],
        }


def fit_growth(
    history: pd.DataFrame,
    *,
    families: Sequence[Family] = FAMILIES,
    features: pd.DataFrame | None = None,
    n_origins: int = 3,
    seed: int = 0,
) -> GrowthFit:
    """Fit per-grid population growth and choose a family by rolling-origin cross-validation.

    Parameters
    ----------
    history : DataFrame
        Long table ``grid_id, year, population`` with every grid in every year.
    families : sequence of str
        Model families to compare: ``linear`` (a straight line per grid), ``log-linear``
        (constant growth rate per grid), ``poisson`` (Poisson regression with a log link
        per grid), ``gradient-boosting`` (one global model of log growth over ``h`` years
        from each grid's level, recent trend and ``features``).
    features : DataFrame, optional
        Grid features indexed by ``grid_id`` (e.g. new housing area), numeric.
    n_origins : int
        Folds: the last ``n_origins`` possible origins, each trained on the years up to
        it and tested on every later year.
    seed : int
        Random seed for gradient boosting.

    Raises
    ------
    InputError
        Missing columns, gaps, too few years, unknown family.
    """
    unknown = [f for f in families if f not in FAMILIES]
    if unknown or not families:
        raise InputError(
            Problem("families", f"unknown family {unknown}", f"use some of {', '.join(FAMILIES)}")
        )
    wide = _check_history(history)
    years = np.asarray(wide.columns, dtype=int)
    origins = tuple(int(y) for y in years[-1 - n_origins : -1] if (years <= y).sum() >= 4)
    if not origins:
        raise InputError(Problem("history.year", "too few years to cross-validate", "give at least 5 years"))
    errors: dict[str, float] = {}
    rel_errors: dict[str, dict[int, list[np.ndarray]]] = {}
    for fam in families:
        abs_err, total = 0.0, 0.0
        rel: dict[int, list[np.ndarray]] = {}
        for origin in origins:
            train = wide.loc[:, years <= origin]
            test_years = [int(y) for y in years[years > origin]]
            pred = _forecast(fam, train, test_years, features, seed)
            actual = wide.loc[:, test_years].to_numpy(float)
            abs_err += float(np.abs(pred - actual).sum())
            total += float(actual.sum())
            for k, ty in enumerate(test_years):
                ok = actual[:, k] > 0
                rel.setdefault(ty - origin, []).append(pred[ok, k] / actual[ok, k] - 1.0)
        errors[fam] = 100.0 * abs_err / max(total, 1e-9)
        rel_errors[fam] = rel
    best: Family = min(families, key=lambda f: errors[f])
    bands = {
        h: (float(np.quantile(np.concatenate(v), 0.05)), float(np.quantile(np.concatenate(v), 0.95)))
        for h, v in sorted(rel_errors[best].items())
    }
    return GrowthFit(
        family=best,
        cv_error=errors,
        cv_origins=origins,
        band_quantiles=bands,
        history=wide,
        features=features,
        seed=seed,
    )


@dataclass(frozen=True)
class Override:
    """New housing: ``residents`` more people in a grid or a compound from ``year`` on.

    Exactly one of ``grid_id`` and ``compound`` is given; a compound's residents are split
    over its grids in proportion to their projected residents.
    """

    residents: float
    grid_id: str | None = None
    compound: str | None = None
    year: int | None = None


def apply_overrides(
    projection: pd.DataFrame, overrides: Sequence[Override], *, grid_compound: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """Add the residents of new housing to a projection (``low``, ``mid`` and ``high`` alike).

    Parameters
    ----------
    projection : DataFrame
        Output of :meth:`GrowthFit.project`.
    overrides : sequence of Override
        Additions; an override whose ``year`` is after the projection year is skipped.
    grid_compound : mapping of grid_id to compound, optional
        Needed for overrides by compound.

    Raises
    ------
    InputError
        Unknown grid ids or compounds, both or neither of grid_id / compound, negative residents.
    """
    out = projection.copy()
    grids = pd.Index(out["grid_id"].astype(str))
    problems: list[Problem] = []
    add = np.zeros(len(out))
    year = int(out["year"].iloc[0]) if len(out) else 0
    for k, ov in enumerate(overrides):
        where = f"overrides[{k}]"
        if (ov.grid_id is None) == (ov.compound is None):
            problems.append(
                Problem(where, "give exactly one of grid_id and compound", "name the grid or the compound")
            )
            continue
        if not np.isfinite(ov.residents) or ov.residents < 0:
            problems.append(
                Problem(f"{where}.residents", f"must be >= 0, got {ov.residents}", "use a head count")
            )
            continue
        if ov.year is not None and ov.year > year:
            continue
        if ov.grid_id is not None:
            if ov.grid_id not in grids:
                problems.append(
                    Problem(
                        f"{where}.grid_id",
                        f"unknown grid id {ov.grid_id!r}",
                        "use a grid_id of the grids layer",
                    )
                )
                continue
            add[grids.get_loc(ov.grid_id)] += ov.residents
            continue
        members = [g for g, c in (grid_compound or {}).items() if c == ov.compound and g in grids]
        if not members:
            problems.append(
                Problem(
                    f"{where}.compound",
                    f"unknown compound {ov.compound!r}",
                    "use a compound named on the grids layer",
                )
            )
            continue
        idx = np.array([grids.get_loc(g) for g in members])
        share = out["mid"].to_numpy(float)[idx]
        share = share / share.sum() if share.sum() > 0 else np.full(idx.size, 1.0 / idx.size)
        add[idx] += ov.residents * share
    raise_if_problems(problems, title="invalid growth overrides")
    for col in ("low", "mid", "high"):
        out[col] = out[col].to_numpy(float) + add
    out["added"] = add
    return out


def scale_demand(
    demand: pd.DataFrame,
    projection: pd.DataFrame,
    *,
    band: Literal["low", "mid", "high"] = "mid",
    household_size: float = HOUSEHOLD_SIZE,
) -> pd.DataFrame:
    """Scale demand points to a projection: each point grows with its grid.

    Parameters
    ----------
    demand : DataFrame or GeoDataFrame
        Demand points with ``grid_id`` and ``population``.
    projection : DataFrame
        Output of :meth:`GrowthFit.project` (or :func:`apply_overrides`).
    band : {"low", "mid", "high"}
        Which projection to use.
    household_size : float
        Persons per household for the ``households`` column.

    Returns
    -------
    DataFrame
        A copy with ``population`` and ``households`` projected; a grid's new residents
        are spread over its points in proportion to their current residents (evenly when
        the grid had none).
    """
    if "grid_id" not in demand.columns or "population" not in demand.columns:
        raise InputError(
            Problem("demand", "needs grid_id and population columns", "assign demand points to grids")
        )
    proj = projection.set_index(projection["grid_id"].astype(str))
    gid = demand["grid_id"].astype(str)
    unknown = sorted(set(gid) - set(proj.index))
    if unknown:
        raise InputError(
            Problem(
                "demand.grid_id",
                f"{len(unknown)} grid id(s) have no projection",
                "project every grid",
                rows=tuple(unknown[:20]),
            )
        )
    current = demand.groupby(gid)["population"].transform("sum").to_numpy(float)
    count = demand.groupby(gid)["population"].transform("size").to_numpy(float)
    target = proj[band].reindex(gid.to_numpy()).to_numpy(float)
    pop = demand["population"].to_numpy(float)
    share = np.where(current > 0, pop / np.where(current > 0, current, 1.0), 1.0 / count)
    out = demand.copy()
    out["population"] = target * share
    out["households"] = out["population"] / household_size
    return out
