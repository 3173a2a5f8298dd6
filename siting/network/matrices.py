"""Sparse coverage and cost matrices (demand x candidates) along a walking network or in straight lines."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra
from scipy.spatial.distance import cdist

from siting.errors import InputError, Problem
from siting.geo.points import MetricPoints, project_point_layers
from siting.network.dask_tiles import dask_tile_mapper, snap_rows, straight_line_rows
from siting.network.graph import DEFAULT_WALKING_SPEED_KMH, WalkNetwork
from siting.network.routing import direct_pairs, network_csr, network_pairs
from siting.network.snapping import DEFAULT_MAX_SNAP_M, SnapResult, attach_points, snap_points
from siting.network.straight import straight_line_pairs

__all__ = [
    "AccessInfo",
    "DenseCost",
    "SiteMatrix",
    "cost_matrix",
    "coverage_matrix",
    "full_cost_matrix",
    "network_pairs",
    "straight_line_pairs",
]

Mode = Literal["network", "straight-line"]

#: Largest demand x candidates matrix :func:`full_cost_matrix` builds (200 MB of float64).
MAX_DENSE_CELLS = 25_000_000


@dataclass(frozen=True)
class AccessInfo:
    """How a coverage or cost matrix was computed.

    Parameters
    ----------
    mode : {"network", "straight-line"}
        Shortest walking path along the network, or straight-line distance times ``circuity``.
    kind : {"coverage", "cost", "full-cost"}
        Which function built the matrix.
    threshold_m : float or None
        The coverage radius or cost cutoff in metres (None for a full matrix).
    unit : {"bool", "m", "min"}
        Unit of the stored values.
    circuity : float
        Factor applied to straight-line distances (1.0 in network mode).
    walking_speed_kmh : float
        Speed used for minutes.
    crs : str
        Projected CRS the distances were measured in.
    n_pairs : int
        Stored (demand, candidate) pairs.
    demand_ids, candidate_ids : tuple of str
        Row and column labels (the input GeoDataFrame indexes).
    demand_far, candidates_far : tuple of str
        Points farther than ``max_snap_m`` from the network: their rows / columns are empty.
    max_snap_m : float or None
        Maximum off-network leg (network mode).
    network : str or None
        ``WalkNetwork.source`` (network mode).
    """

    mode: Mode
    kind: str
    threshold_m: float | None
    unit: str
    circuity: float
    walking_speed_kmh: float
    crs: str
    n_pairs: int
    demand_ids: tuple[str, ...] = field(repr=False)
    candidate_ids: tuple[str, ...] = field(repr=False)
    demand_far: tuple[str, ...] = ()
    candidates_far: tuple[str, ...] = ()
    max_snap_m: float | None = None
    network: str | None = None


class SiteMatrix(sp.csr_array):
    """A ``scipy.sparse.csr_array`` (demand x candidates) carrying an :class:`AccessInfo`.

    It is a plain CSR array for every model; ``info`` says how it was built. A stored entry is a
    reachable pair; a missing entry means beyond the radius / cutoff (unreachable). In cost
    matrices an explicit stored ``0.0`` is a real zero distance (demand on top of a candidate),
    so test reachability with the sparsity pattern (``m.indices`` / ``m.indptr`` or
    :meth:`pattern`), never with ``m > 0``, and do not call ``eliminate_zeros()``.
    Matrices derived by scipy operations (slices, sums, transposes) have ``info = None``.
    """

    info: AccessInfo | None = None

    def pattern(self) -> sp.csr_array:
        """Boolean CSR array of the stored (reachable) pairs, explicit zeros included."""
        return sp.csr_array(
            (np.ones(self.nnz, dtype=bool), self.indices.copy(), self.indptr.copy()), shape=self.shape
        )


@dataclass(frozen=True, eq=False)
class DenseCost:
    """A full demand x candidates cost matrix for small instances.

    Parameters
    ----------
    values : ndarray, shape (n_demand, n_candidates), float64
        Distance (metres) or time (minutes); ``inf`` where unreachable (other component or far).
    info : AccessInfo
        How it was computed.
    """

    values: np.ndarray
    info: AccessInfo


def _positive(value: float, where: str, example: str) -> list[Problem]:
    """Return a problem if ``value`` is not a finite positive number."""
    try:
        ok = bool(np.isfinite(value) and value > 0)
    except TypeError:
        ok = False
    if ok:
        return []
    return [Problem(where=where, message=f"must be a positive number of metres, got {value!r}", fix=example)]


def _prepare(
    g: WalkNetwork | None,
    demand: Any,
    candidates: Any,
    problems: list[Problem],
    *,
    circuity: float,
    unit: str,
) -> tuple[MetricPoints, MetricPoints]:
    """Validate options and layers together, raise once, return projected points."""
    if g is not None and not isinstance(g, WalkNetwork):
        problems.append(
            Problem(
                where="g",
                message=f"expected a WalkNetwork or None, got {type(g).__name__}",
                fix="build it with siting.network.load_network(path), or pass None for straight lines",
            )
        )
    if not (np.isfinite(circuity) and circuity >= 1.0):
        problems.append(
            Problem(
                where="circuity",
                message=f"must be >= 1, got {circuity}",
                fix="use 1.0 to 1.6 (1.3 is typical)",
            )
        )
    if unit not in ("m", "min"):
        problems.append(Problem(where="unit", message=f"unknown unit {unit!r}", fix="use 'm' or 'min'"))
    try:
        layers = project_point_layers(
            [("demand", demand), ("candidates", candidates)],
            crs=g.crs if isinstance(g, WalkNetwork) else None,
        )
    except InputError as exc:
        problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    return layers[0], layers[1]


def _pairs(
    g: WalkNetwork | None,
    d: MetricPoints,
    c: MetricPoints,
    cutoff: float,
    *,
    circuity: float,
    max_snap_m: float,
    on_far: str,
    client: Any = None,
) -> tuple[sp.csr_array, dict[str, Any]]:
    """Distances within ``cutoff`` (CSR, metres) in either mode, plus the mode-specific info fields."""
    if g is None:
        info: dict[str, Any] = {"mode": "straight-line", "circuity": float(circuity)}
        if client is not None:
            rows, cols, vals = straight_line_rows(client, d.xy, c.xy, cutoff, circuity=circuity)
        else:
            rows, cols, vals = straight_line_pairs(d.xy, c.xy, cutoff, circuity=circuity)
        csr = sp.coo_array((vals, (rows, cols)), shape=(len(d), len(c))).tocsr()
        csr.sort_indices()
        return csr, info
    if client is None:
        ds = snap_points(g, d.xy, ids=d.ids, name="demand", max_snap_m=max_snap_m, on_far=on_far)
        cs = snap_points(g, c.xy, ids=c.ids, name="candidates", max_snap_m=max_snap_m, on_far=on_far)
    else:
        ds, cs = _snap_on(client, g, d, c, max_snap_m=max_snap_m, on_far=on_far)
    info = {
        "mode": "network",
        "circuity": 1.0,
        "demand_far": ds.far_ids,
        "candidates_far": cs.far_ids,
        "max_snap_m": float(max_snap_m),
        "network": g.source,
    }
    mapper = None
    if client is not None:
        mapper = dask_tile_mapper(client)
    return network_csr(g, ds, cs, cutoff, d_xy=d.xy, c_xy=c.xy, map_tiles=mapper), info


def _snap_on(
    client: Any, g: WalkNetwork, d: MetricPoints, c: MetricPoints, *, max_snap_m: float, on_far: str
) -> tuple[SnapResult, SnapResult]:
    """Snap both layers on a Dask cluster, scattering the network once."""
    shared = client.scatter(g, broadcast=True, hash=False)
    opts: dict[str, Any] = {"max_snap_m": max_snap_m, "on_far": on_far, "shared_g": shared}
    return (
        snap_rows(client, g, d.xy, ids=d.ids, name="demand", **opts),
        snap_rows(client, g, c.xy, ids=c.ids, name="candidates", **opts),
    )


def _site_matrix(csr: sp.csr_array, values: np.ndarray, info: AccessInfo) -> SiteMatrix:
    """Wrap a CSR pattern with new values and info; explicit zeros survive (no ``eliminate_zeros``)."""
    out = SiteMatrix((values, csr.indices, csr.indptr), shape=csr.shape)
    out.info = info
    return out


def coverage_matrix(
    g: WalkNetwork | None,
    demand: Any,
    candidates: Any,
    radius: float,
    *,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
    circuity: float = 1.0,
    on_far: str = "warn",
    client: Any = None,
) -> SiteMatrix:
    """Which candidates each demand point reaches within ``radius`` metres.

    Parameters
    ----------
    g : WalkNetwork or None
        Walking network; ``None`` uses straight-line distance times ``circuity``.
    demand, candidates : GeoDataFrame
        Points in any CRS (projected to ``g.crs``, or to the UTM zone of their extent).
    radius : float
        Walking radius in metres (> 0), inclusive: 300 / 500 / 800-1,000 m for the
        5 / 10 / 15-minute life circles of GB 50180-2018.
    max_snap_m : float
        Maximum off-network leg; farther points are reported in ``info`` and cover nothing.
    circuity : float
        Straight-line mode only: network / straight-line ratio (>= 1; 1.0 = plain distance).
    on_far : {"warn", "raise", "ignore"}
        Besides listing far points in ``info``: warn (default), raise, or stay quiet.
    client : dask.distributed.Client, optional
        Compute on this Dask cluster (:mod:`siting.scenarios.distributed`): the network with the
        candidates inserted is scattered once and tiles of candidates run as tasks (network
        mode), or chunks of demand rows do (straight-line mode). The result is identical.

    Returns
    -------
    SiteMatrix
        Boolean CSR array, shape (n_demand, n_candidates), rows and columns in input order.
    """
    problems = _positive(radius, "radius", "use a walking radius such as 500 (metres)")
    d, c = _prepare(g, demand, candidates, problems, circuity=circuity, unit="m")
    pairs, extra = _pairs(
        g, d, c, float(radius), circuity=circuity, max_snap_m=max_snap_m, on_far=on_far, client=client
    )
    info = AccessInfo(
        kind="coverage",
        threshold_m=float(radius),
        unit="bool",
        walking_speed_kmh=g.walking_speed_kmh if g is not None else DEFAULT_WALKING_SPEED_KMH,
        crs=d.crs.to_string(),
        n_pairs=int(pairs.nnz),
        demand_ids=d.ids,
        candidate_ids=c.ids,
        **extra,
    )
    return _site_matrix(pairs, np.ones(pairs.nnz, dtype=bool), info)


def cost_matrix(
    g: WalkNetwork | None,
    demand: Any,
    candidates: Any,
    cutoff: float,
    *,
    unit: str = "m",
    walking_speed_kmh: float | None = None,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
    circuity: float = 1.0,
    on_far: str = "warn",
    client: Any = None,
) -> SiteMatrix:
    """Compute the walking distance (or time) of every demand-candidate pair within ``cutoff`` metres.

    Parameters
    ----------
    g : WalkNetwork or None
        Walking network; ``None`` uses straight-line distance times ``circuity``.
    demand, candidates : GeoDataFrame
        Points in any CRS.
    cutoff : float
        Maximum distance in metres (> 0, inclusive). Pairs beyond it are not stored.
    unit : {"m", "min"}
        Store metres, or minutes at the walking speed.
    walking_speed_kmh : float, optional
        Speed for minutes; default ``g.walking_speed_kmh`` (4.5 km/h without a network).
    max_snap_m, circuity, on_far, client
        As in :func:`coverage_matrix`.

    Returns
    -------
    SiteMatrix
        Float64 CSR array, shape (n_demand, n_candidates). Missing entry = beyond the cutoff;
        a stored explicit 0.0 = zero distance (see :class:`SiteMatrix`).
    """
    problems = _positive(cutoff, "cutoff", "use a cutoff such as 1000 (metres)")
    speed = walking_speed_kmh or (
        g.walking_speed_kmh if isinstance(g, WalkNetwork) else DEFAULT_WALKING_SPEED_KMH
    )
    problems += _positive(speed, "walking_speed_kmh", "use e.g. 4.5")
    d, c = _prepare(g, demand, candidates, problems, circuity=circuity, unit=unit)
    pairs, extra = _pairs(
        g, d, c, float(cutoff), circuity=circuity, max_snap_m=max_snap_m, on_far=on_far, client=client
    )
    values = pairs.data if unit == "m" else pairs.data / (speed * 1000.0 / 60.0)
    info = AccessInfo(
        kind="cost",
        threshold_m=float(cutoff),
        unit=unit,
        walking_speed_kmh=float(speed),
        crs=d.crs.to_string(),
        n_pairs=int(values.shape[0]),
        demand_ids=d.ids,
        candidate_ids=c.ids,
        **extra,
    )
    return _site_matrix(pairs, values, info)


def full_cost_matrix(
    g: WalkNetwork | None,
    demand: Any,
    candidates: Any,
    *,
    unit: str = "m",
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
    circuity: float = 1.0,
    on_far: str = "warn",
    max_cells: int = MAX_DENSE_CELLS,
) -> DenseCost:
    """Dense demand x candidates distance matrix without cutoff, for small instances.

    Parameters
    ----------
    g, demand, candidates, unit, max_snap_m, circuity, on_far
        As in :func:`cost_matrix`.
    max_cells : int
        Refuse (``InputError``) when ``n_demand * n_candidates`` exceeds it; use
        :func:`cost_matrix` with a cutoff instead.

    Returns
    -------
    DenseCost
        ``values`` has shape (n_demand, n_candidates); ``inf`` = unreachable.
    """
    problems: list[Problem] = []
    n_cells = (
        len(demand) * len(candidates) if hasattr(demand, "__len__") and hasattr(candidates, "__len__") else 0
    )
    if n_cells > max_cells:
        problems.append(
            Problem(
                where="demand x candidates",
                message=f"{n_cells} cells exceed the dense limit {max_cells}",
                fix="use cost_matrix(..., cutoff=...) for a sparse matrix",
            )
        )
    d, c = _prepare(g, demand, candidates, problems, circuity=circuity, unit=unit)
    speed = g.walking_speed_kmh if g is not None else DEFAULT_WALKING_SPEED_KMH
    extra: dict[str, Any]
    if g is None:
        values = cdist(d.xy, c.xy) * circuity
        extra = {"mode": "straight-line", "circuity": float(circuity)}
    else:
        values, extra = _network_dense(g, d, c, max_snap_m, on_far)
    if unit == "min":
        values = values / (speed * 1000.0 / 60.0)
    info = AccessInfo(
        kind="full-cost",
        threshold_m=None,
        unit=unit,
        walking_speed_kmh=float(speed),
        crs=d.crs.to_string(),
        n_pairs=int(np.isfinite(values).sum()),
        demand_ids=d.ids,
        candidate_ids=c.ids,
        **extra,
    )
    return DenseCost(values=values, info=info)


def _network_dense(
    g: WalkNetwork, d: MetricPoints, c: MetricPoints, max_snap_m: float, on_far: str
) -> tuple[np.ndarray, dict[str, Any]]:
    """Dense network distances: one Dijkstra per candidate position, no limit."""
    ds = snap_points(g, d.xy, ids=d.ids, name="demand", max_snap_m=max_snap_m, on_far=on_far)
    cs = snap_points(g, c.xy, ids=c.ids, name="candidates", max_snap_m=max_snap_m, on_far=on_far)
    att = attach_points(g, ds, cs)
    d_node, c_node = att.junctions
    values = np.full((len(d), len(c)), np.inf)
    dem, cand = np.flatnonzero(d_node >= 0), np.flatnonzero(c_node >= 0)
    if dem.size and cand.size:
        sources, inv = np.unique(c_node[cand], return_inverse=True)
        paths = dijkstra(att.csr, directed=True, indices=sources)[:, d_node[dem]]
        block = paths[inv].T + ds.leg[dem, None] + cs.leg[None, cand]
        values[np.ix_(dem, cand)] = block
        direct = direct_pairs(d.xy, c.xy, ds, cs, np.inf)
        if direct is not None:
            i, j, v = direct
            values[i, j] = np.minimum(values[i, j], v)
    extra = {
        "mode": "network",
        "circuity": 1.0,
        "demand_far": ds.far_ids,
        "candidates_far": cs.far_ids,
        "max_snap_m": float(max_snap_m),
        "network": g.source,
    }
    return values, extra
