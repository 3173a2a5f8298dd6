"""Walking networks from OpenStreetMap files: OSM XML read with OSMnx, OSM PBF cut with pyosmium first."""

from __future__ import annotations

import contextlib
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import osmium
import pandas as pd
import pyproj
import shapely

from siting.errors import InputError, Problem
from siting.geo.points import metric_crs_for
from siting.network.graph import (
    DEFAULT_WALKING_SPEED_KMH,
    IslandPolicy,
    WalkNetwork,
    build_walk_network,
)
from siting.network.lines import NON_WALKABLE_HIGHWAYS, TAGS, first_tag, network_from_lines, walkable_mask

__all__ = ["load_network"]

_OSM_XML_SUFFIXES = (".osm", ".xml", ".osm.bz2", ".xml.bz2")
_PBF_SUFFIXES = (".pbf",)
_LINE_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".fgb")
BBox = tuple[float, float, float, float]


def _bbox_polygon(bbox: BBox | Sequence[float] | None, polygon: Any) -> Any:
    """Validate ``bbox`` / ``polygon`` (WGS84) and return one clip polygon or None."""
    if bbox is None:
        return polygon
    values = [float(x) for x in bbox]
    west, south, east, north = values if len(values) == 4 else (np.nan,) * 4
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise InputError(
            Problem(
                where="bbox",
                message=f"not a WGS84 (west, south, east, north) box: {tuple(bbox)}",
                fix="pass (min_lon, min_lat, max_lon, max_lat), e.g. (118.70, 32.00, 118.85, 32.10)",
            )
        )
    box = shapely.box(west, south, east, north)
    return box if polygon is None else shapely.intersection(box, polygon)


@contextlib.contextmanager
def _osmnx_way_tags() -> Iterator[None]:
    """Temporarily make OSMnx keep the tags the walkable filter needs."""
    import osmnx as ox  # noqa: PLC0415 - osmnx takes about 2 s to import; only OSM files need it

    saved = list(ox.settings.useful_tags_way)
    ox.settings.useful_tags_way = sorted(set(saved) | set(TAGS))
    try:
        yield
    finally:
        ox.settings.useful_tags_way = saved


def _osm_xml_graph(path: Path, exclude_highway: frozenset[str]) -> tuple[Any, Counter[str]]:
    """Read OSM XML with OSMnx, drop non-walkable edges, then simplify; return graph and removals."""
    import osmnx as ox  # noqa: PLC0415 - osmnx takes about 2 s to import; only OSM files need it

    with _osmnx_way_tags():
        graph = ox.graph_from_xml(path, bidirectional=True, simplify=False, retain_all=True)
    edges = list(graph.edges(keys=True, data=True))
    tags = pd.DataFrame([{k: d.get(k) for k in (*TAGS, "osmid")} for *_, d in edges])
    removed: Counter[str] = Counter()
    if edges:
        ok = walkable_mask(tags, exclude_highway=exclude_highway)
        gone = tags.loc[~ok].drop_duplicates("osmid")
        removed.update(gone["highway"].map(lambda h: first_tag(h) or "(no highway tag)"))
        graph.remove_edges_from([(u, v, k) for (u, v, k, _), good in zip(edges, ok, strict=True) if not good])
    graph.remove_nodes_from([n for n, deg in dict(graph.degree()).items() if deg == 0])
    if graph.number_of_edges():
        graph = ox.simplify_graph(graph, edge_attrs_differ=["highway"], remove_rings=False)
    return graph, removed


def _network_from_osm_graph(
    graph: Any, clip: Any, source: str, removed: Counter[str], **options: Any
) -> WalkNetwork:
    """Turn a WGS84 OSMnx MultiDiGraph into a projected undirected :class:`WalkNetwork`."""
    import osmnx as ox  # noqa: PLC0415 - osmnx takes about 2 s to import; only OSM files need it

    empty = InputError(
        Problem(
            where="path",
            message=f"{source} has no walkable street in the requested area",
            fix="check the file, the bbox (west, south, east, north in WGS84) or exclude_highway",
        )
    )
    if graph.number_of_edges() == 0:
        raise empty
    nodes, edges = ox.graph_to_gdfs(graph, nodes=True, edges=True, fill_edge_geometry=True)
    edges = edges.reset_index()
    if clip is not None:
        edges = edges.loc[edges.intersects(clip)]
    if edges.empty:
        raise empty
    ends = np.minimum(edges["u"].to_numpy(), edges["v"].to_numpy())
    other = np.maximum(edges["u"].to_numpy(), edges["v"].to_numpy())
    norm = shapely.to_wkb(shapely.normalize(edges.geometry.to_numpy()))
    first = ~pd.DataFrame({"a": ends, "b": other, "g": norm}).duplicated().to_numpy()
    edges = edges.loc[first]
    used = np.unique(np.concatenate([edges["u"].to_numpy(), edges["v"].to_numpy()]))
    nodes = nodes.loc[used]
    crs = metric_crs_for(gpd.GeoSeries(shapely.points(nodes["x"], nodes["y"]), crs=4326))
    to_metric = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
    node_xy = np.column_stack(to_metric.transform(nodes["x"].to_numpy(), nodes["y"].to_numpy()))
    position = pd.Series(np.arange(len(nodes)), index=nodes.index)
    geoms = gpd.GeoSeries(edges.geometry.to_numpy(), crs=4326).to_crs(crs).to_numpy()
    return build_walk_network(
        node_id=nodes.index.to_numpy(dtype=np.int64),
        node_xy=node_xy,
        edge_u=position.loc[edges["u"]].to_numpy(),
        edge_v=position.loc[edges["v"]].to_numpy(),
        edge_geometry=geoms,
        edge_highway=edges["highway"].map(first_tag).to_numpy(dtype=object)
        if "highway" in edges
        else np.full(len(edges), "", dtype=object),
        crs=crs,
        source=source,
        removed_highways=dict(removed),
        **options,
    )


def _pbf_to_osm_xml(path: Path, clip: Any, out: Path) -> None:
    """Copy the ``highway`` ways of an OSM PBF (and their nodes) that touch ``clip`` to OSM XML."""
    window = None if clip is None else shapely.buffer(clip, 0.01)  # ~1 km margin; exact clip later
    if window is not None:
        shapely.prepare(window)
    nodes: dict[int, tuple[float, float]] = {}
    ways: list[tuple[int, list[int], dict[str, str]]] = []
    processor = (
        osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.KeyFilter("highway"))
    )
    for obj in processor:
        if not isinstance(obj, osmium.osm.Way):
            continue
        refs = [(n.ref, n.lon, n.lat) for n in obj.nodes if n.location.valid()]
        if len(refs) < 2:
            continue
        if window is not None:
            lon_lat = np.array([(x, y) for _, x, y in refs])
            if not shapely.intersects(window, shapely.linestrings(lon_lat)):
                continue
        nodes.update((ref, (x, y)) for ref, x, y in refs)
        ways.append((obj.id, [ref for ref, _, _ in refs], {t.k: t.v for t in obj.tags}))
    with osmium.SimpleWriter(str(out), overwrite=True) as writer:
        for ref in sorted(nodes):
            writer.add_node(osmium.osm.mutable.Node(id=ref, location=nodes[ref], version=1))
        for way_id, way_nodes, tags in ways:
            writer.add_way(osmium.osm.mutable.Way(id=way_id, nodes=way_nodes, tags=tags, version=1))


def _kind(path: Path) -> str:
    """Return 'xml', 'pbf' or 'lines' from the file name."""
    name = path.name.lower()
    if name.endswith(_OSM_XML_SUFFIXES):
        return "xml"
    if name.endswith(_PBF_SUFFIXES):
        return "pbf"
    if name.endswith(_LINE_SUFFIXES):
        return "lines"
    raise InputError(
        Problem(
            where="path",
            message=f"unknown network file type {path.name!r}",
            fix="use OSM XML (.osm, .osm.bz2), OSM PBF (.osm.pbf) or a road-line layer (.geojson, .gpkg)",
        )
    )


def load_network(
    path: str | Path,
    bbox: BBox | Sequence[float] | None = None,
    *,
    polygon: Any = None,
    layer: str | None = None,
    walking_speed_kmh: float = DEFAULT_WALKING_SPEED_KMH,
    islands: IslandPolicy = "keep",
    min_island_nodes: int = 20,
    exclude_highway: frozenset[str] = NON_WALKABLE_HIGHWAYS,
) -> WalkNetwork:
    """Load a walking network, projected to the UTM zone of its extent (EPSG:32650 for Nanjing).

    OSM XML is read with ``osmnx.graph_from_xml`` (all ways, both directions: walking ignores
    one-way rules); non-walkable edges are removed *before* OSMnx simplification, which then
    keeps interstitial nodes where the ``highway`` type changes. OSM PBF (e.g. a Geofabrik
    extract) is first cut to the ``highway`` ways touching the area with pyosmium, then read the
    same way. Road-line layers go through :func:`network_from_lines`. Edge lengths are planar
    lengths in the UTM CRS (within 0.01 % of geodesic lengths near a zone centre).

    Parameters
    ----------
    path : str or Path
        ``.osm`` / ``.osm.bz2`` XML, ``.osm.pbf``, or ``.geojson`` / ``.gpkg`` / ``.shp`` lines.
    bbox : (west, south, east, north), optional
        WGS84 box; only edges intersecting it are kept (whole edges, not cut).
    polygon : shapely Polygon, optional
        WGS84 polygon, used like ``bbox`` (both may be given; their intersection is used).
    layer : str, optional
        Layer name in a GeoPackage.
    walking_speed_kmh : float
        Walking speed for minutes (default 4.5 km/h).
    islands : {"keep", "drop_small", "largest"}
        Disconnected components: keep all (default; reported in ``g.islands``), drop those with
        fewer than ``min_island_nodes`` nodes, or keep only the largest.
    min_island_nodes : int
        Threshold for ``"drop_small"``.
    exclude_highway : frozenset of str
        ``highway`` values treated as not walkable (default :data:`NON_WALKABLE_HIGHWAYS`).

    Returns
    -------
    WalkNetwork

    Raises
    ------
    InputError
        Missing file, unknown file type, bad bbox or options, or no walkable street.
    """
    path = Path(path)
    kind = _kind(path)
    problems = []
    if not path.is_file():
        problems.append(Problem(where="path", message=f"no such file: {path}", fix="check the path"))
    if islands not in ("keep", "drop_small", "largest"):
        problems.append(
            Problem(
                where="islands", message=f"unknown policy {islands!r}", fix="use keep, drop_small or largest"
            )
        )
    if problems:
        raise InputError(problems)
    clip = _bbox_polygon(bbox, polygon)
    options: dict[str, Any] = {
        "walking_speed_kmh": walking_speed_kmh,
        "islands": islands,
        "min_island_nodes": min_island_nodes,
    }
    if kind == "lines":
        lines = gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
        if clip is not None and lines.crs is not None:
            lines = lines.loc[lines.intersects(gpd.GeoSeries([clip], crs=4326).to_crs(lines.crs).iloc[0])]
        return network_from_lines(lines, exclude_highway=exclude_highway, source=f"{path} (lines)", **options)
    if kind == "pbf":
        with tempfile.TemporaryDirectory() as tmp:
            xml = Path(tmp) / "walk.osm"
            _pbf_to_osm_xml(path, clip, xml)
            graph, removed = _osm_xml_graph(xml, exclude_highway)
        return _network_from_osm_graph(
            graph, clip, f"{path} (OSM PBF via pyosmium + osmnx)", removed, **options
        )
    graph, removed = _osm_xml_graph(path, exclude_highway)
    return _network_from_osm_graph(graph, clip, f"{path} (OSM XML via osmnx)", removed, **options)
