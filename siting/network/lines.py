"""Walking networks from road-line layers: the walkable filter, T-junctions, lines split at shared vertices."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
import shapely

from siting.errors import InputError, Problem
from siting.geo.points import metric_crs_for
from siting.network.graph import WalkNetwork, build_walk_network

__all__ = ["NON_WALKABLE_HIGHWAYS", "first_tag", "network_from_lines", "walkable_mask"]

#: ``highway`` values people cannot walk on (OSMnx's ``walk`` filter, plus ``motorway*``
#: spelled out). Edges tagged ``foot=no``, ``area=yes``, ``access=private|no`` (unless
#: ``foot=yes|designated|permissive``) or ``service=private`` are removed as well.
NON_WALKABLE_HIGHWAYS = frozenset(
    {
        "abandoned",
        "bus_guideway",
        "construction",
        "cycleway",
        "motorway",
        "motorway_link",
        "motorroad",
        "no",
        "planned",
        "platform",
        "proposed",
        "raceway",
        "razed",
    }
)
_FOOT_OK = {"yes", "designated", "permissive"}
TAGS = ("highway", "foot", "access", "area", "service")


def first_tag(value: Any) -> str:
    """First value of an OSMnx attribute that may be a list; ``""`` when missing."""
    if isinstance(value, list):
        value = value[0] if value else ""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value)


def walkable_mask(tags: pd.DataFrame, *, exclude_highway: frozenset[str]) -> np.ndarray:
    """Return which rows of an OSM tag table are walkable.

    Parameters
    ----------
    tags : DataFrame
        One row per way or edge; columns ``highway`` and optionally ``foot``, ``access``,
        ``area``, ``service`` (missing columns mean the tag is absent).
    exclude_highway : frozenset of str
        ``highway`` values that are never walkable.

    Returns
    -------
    ndarray of bool, shape (len(tags),)
    """
    col = {k: tags[k].map(first_tag) if k in tags else pd.Series("", index=tags.index) for k in TAGS}
    foot_ok = col["foot"].isin(_FOOT_OK)
    ok = (col["highway"] != "") & ~col["highway"].isin(exclude_highway)
    ok &= col["foot"] != "no"
    ok &= col["area"] != "yes"
    ok &= ~(col["access"].isin({"private", "no"}) & ~foot_ok)
    ok &= col["service"] != "private"
    return ok.to_numpy(dtype=bool)


def _node_t_junctions(geoms: np.ndarray, tol: float = 0.01) -> np.ndarray:
    """Insert a vertex where a line end touches (within ``tol`` m) the interior of another line."""
    ends = np.concatenate([shapely.get_point(geoms, 0), shapely.get_point(geoms, -1)])
    owner = np.concatenate([np.arange(geoms.shape[0])] * 2)
    end_i, line_i = shapely.STRtree(geoms).query(ends, predicate="dwithin", distance=tol)
    keep = owner[end_i] != line_i
    end_i, line_i = end_i[keep], line_i[keep]
    if end_i.size == 0:
        return geoms
    at = shapely.line_locate_point(geoms[line_i], ends[end_i])
    inner = (at > tol) & (at < shapely.length(geoms[line_i]) - tol)
    out = geoms.copy()
    for k in np.unique(line_i[inner]):
        sel = inner & (line_i == k)
        coords = shapely.get_coordinates(geoms[k])
        steps = np.r_[0.0, np.cumsum(np.hypot(*np.diff(coords, axis=0).T))]
        new = shapely.get_coordinates(ends[end_i[sel]])
        where = np.r_[steps, at[sel]]
        order = np.argsort(where, kind="stable")
        out[k] = shapely.LineString(np.vstack([coords, new])[order])
    return out


def network_from_lines(
    lines: Any,
    *,
    exclude_highway: frozenset[str] = NON_WALKABLE_HIGHWAYS,
    source: str = "line layer",
    **options: Any,
) -> WalkNetwork:
    """Build a walking network from a road-line GeoDataFrame.

    Graph nodes are line end points and vertices shared by two or more lines (or repeated within
    one line), matched to 1 cm after projection; lines are split there. A line end lying on
    another line's interior (a T-junction drawn without a shared vertex) is inserted into that
    line as a vertex. Lines that cross without a shared vertex (bridges, tunnels) stay unconnected. Rows with a ``highway`` column value
    that is not walkable (see :func:`walkable_mask`) are removed.

    Parameters
    ----------
    lines : GeoDataFrame
        (Multi)LineStrings in any CRS with the CRS set.
    exclude_highway : frozenset of str
        ``highway`` values removed.
    source : str
        Description of the data source.
    **options
        ``walking_speed_kmh``, ``islands``, ``min_island_nodes`` (see :func:`load_network`).

    Returns
    -------
    WalkNetwork
    """
    if getattr(lines, "crs", None) is None:
        raise InputError(
            Problem(
                where="lines.crs", message="the road layer has no CRS", fix="set it with gdf.set_crs(...)"
            )
        )
    lines = lines.loc[~lines.geometry.isna() & ~lines.geometry.is_empty]
    lines = lines.loc[lines.geometry.geom_type.isin(["LineString", "MultiLineString"])]
    removed: Counter[str] = Counter()
    if "highway" in lines:
        ok = walkable_mask(lines, exclude_highway=exclude_highway)
        removed.update(lines.loc[~ok, "highway"].map(lambda h: first_tag(h) or "(no highway tag)"))
        lines = lines.loc[ok]
    lines = lines.explode(index_parts=False)
    if lines.empty:
        raise InputError(
            Problem(where="lines", message=f"{source} has no walkable line", fix="check the layer")
        )
    crs = metric_crs_for(lines.geometry)
    geoms = _node_t_junctions(lines.geometry.to_crs(crs).to_numpy())
    coords, line_of = shapely.get_coordinates(geoms, return_index=True)
    keys = np.round(coords * 100.0).astype(np.int64)
    _, vertex_node, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    vertex_node = vertex_node.ravel()
    start = np.r_[True, line_of[1:] != line_of[:-1]]
    end = np.r_[line_of[1:] != line_of[:-1], True]
    is_node = start | end | (counts[vertex_node] > 1)
    edge_no = np.cumsum(is_node) - 1  # edge started at each node vertex (global numbering)
    edge_no = edge_no - np.cumsum(start) + 1  # skip the phantom edge at each line's last vertex
    body = ~end
    closing = is_node & ~start
    key = np.concatenate([edge_no[body], edge_no[closing] - 1])
    pos = np.concatenate([np.flatnonzero(body), np.flatnonzero(closing)])
    order = np.lexsort((pos, key))
    key, pos = key[order], pos[order]
    _, edge_index = np.unique(key, return_inverse=True)
    edge_geoms = shapely.linestrings(coords[pos], indices=edge_index)
    first_pos = pos[np.r_[True, key[1:] != key[:-1]]]
    last_pos = pos[np.r_[key[1:] != key[:-1], True]]
    used, node_pos = np.unique(vertex_node[np.concatenate([first_pos, last_pos])], return_index=True)
    node_xy = coords[np.concatenate([first_pos, last_pos])[node_pos]]
    remap = pd.Series(np.arange(used.shape[0]), index=used)
    u = remap.loc[vertex_node[first_pos]].to_numpy()
    v = remap.loc[vertex_node[last_pos]].to_numpy()
    line_highway = (
        lines["highway"].map(first_tag).to_numpy(dtype=object)
        if "highway" in lines
        else np.full(len(lines), "", dtype=object)
    )
    keep = ~((u == v) & (shapely.length(edge_geoms) == 0))
    return build_walk_network(
        node_id=np.arange(used.shape[0], dtype=np.int64),
        node_xy=node_xy,
        edge_u=u[keep],
        edge_v=v[keep],
        edge_geometry=edge_geoms[keep],
        edge_highway=line_highway[line_of[first_pos]][keep],
        crs=crs,
        source=source,
        removed_highways=dict(removed),
        **options,
    )
