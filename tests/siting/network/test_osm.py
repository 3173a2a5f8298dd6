"""Loading walking networks: OSM XML (.osm, .osm.bz2), OSM PBF, road-line layers; filters, islands, errors."""

import bz2

import geopandas as gpd
import numpy as np
import osmium
import pytest
import shapely
from testdata import OSM_CENTRAL

from siting import network
from siting.errors import InputError

OSM = OSM_CENTRAL

# A hand-made OSM file near Nanjing: a 3-node residential street, a footway branch, a motorway,
# a private service road, a foot=no path, a landuse polygon and a detached 2-node footway.
NODES = {
    1: (118.780, 32.050),
    2: (118.781, 32.050),
    3: (118.782, 32.050),
    4: (118.781, 32.051),
    5: (118.783, 32.050),
    6: (118.781, 32.049),
    7: (118.790, 32.060),
    8: (118.791, 32.060),
    9: (118.782, 32.049),
}
WAYS = [
    (101, [1, 2, 3], {"highway": "residential", "name": "A"}),
    (102, [2, 4], {"highway": "footway"}),
    (103, [3, 5], {"highway": "motorway"}),
    (104, [2, 6], {"highway": "service", "access": "private"}),
    (105, [3, 9], {"highway": "path", "foot": "no"}),
    (106, [1, 4, 6, 1], {"landuse": "residential"}),
    (107, [7, 8], {"highway": "footway"}),
]


def write_osm(path):
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    lines += [f'  <node id="{i}" lat="{lat}" lon="{lon}" version="1"/>' for i, (lon, lat) in NODES.items()]
    for wid, refs, tags in WAYS:
        lines.append(f'  <way id="{wid}" version="1">')
        lines += [f'    <nd ref="{r}"/>' for r in refs]
        lines += [f'    <tag k="{k}" v="{v}"/>' for k, v in tags.items()]
        lines.append("  </way>")
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def xml_to_pbf(src, dst):
    with osmium.SimpleWriter(str(dst)) as writer:
        for obj in osmium.FileProcessor(str(src)):
            if obj.is_node():
                writer.add_node(obj)
            elif obj.is_way():
                writer.add_way(obj)
    return dst


@pytest.fixture
def small_osm(tmp_path):
    return write_osm(tmp_path / "small.osm")


def test_small_osm_filters_non_walkable(small_osm):
    g = network.load_network(small_osm)
    assert g.crs.to_epsg() == 32650
    assert sorted(g.node_id.tolist()) == [1, 2, 3, 4, 7, 8]
    assert sorted(g.edge_highway.tolist()) == ["footway", "footway", "residential", "residential"]
    assert g.removed_highways == {
        "motorway": 1,
        "service": 1,
        "path": 1,
        "(no highway tag)": 1,
    }
    assert g.islands.n_components == 2
    assert g.islands.component_sizes == (4, 2)
    # 0.001 deg of longitude at 32.05 N is about 94.4 m; of latitude about 110.9 m
    assert g.edge_length.sum() == pytest.approx(2 * 94.4 + 110.9 + 94.4, rel=0.01)
    assert "6 nodes" in g.summary()


def test_island_policies(small_osm):
    dropped = network.load_network(small_osm, islands="largest")
    assert dropped.n_nodes == 4
    assert dropped.islands.dropped_nodes == 2
    assert dropped.islands.dropped_components == 1
    small = network.load_network(small_osm, islands="drop_small", min_island_nodes=3)
    assert small.n_nodes == 4
    kept = network.load_network(small_osm, islands="drop_small", min_island_nodes=2)
    assert kept.n_nodes == 6


def test_bz2_and_pbf_give_the_same_network(small_osm, tmp_path):
    plain = network.load_network(small_osm)
    packed = tmp_path / "small.osm.bz2"
    packed.write_bytes(bz2.compress(small_osm.read_bytes()))
    pbf = xml_to_pbf(small_osm, tmp_path / "small.osm.pbf")
    for other in (network.load_network(packed), network.load_network(pbf)):
        assert sorted(other.node_id.tolist()) == sorted(plain.node_id.tolist())
        assert np.sort(other.edge_length) == pytest.approx(np.sort(plain.edge_length))


def test_bbox_keeps_intersecting_edges(small_osm, tmp_path):
    g = network.load_network(small_osm, bbox=(118.7795, 32.0495, 118.7815, 32.0515))
    assert g.islands.n_components == 1
    assert sorted(g.node_id.tolist()) == [1, 2, 3, 4]
    pbf = xml_to_pbf(small_osm, tmp_path / "small.osm.pbf")
    assert sorted(network.load_network(pbf, bbox=(118.789, 32.059, 118.792, 32.061)).node_id.tolist()) == [
        7,
        8,
    ]


def test_nanjing_xml_and_pbf(tmp_path):
    g = network.load_network(OSM)
    assert g.crs.to_epsg() == 32650
    assert g.n_nodes > 1000
    assert g.islands.component_sizes[0] > 1000
    assert not set(g.edge_highway) & network.NON_WALKABLE_HIGHWAYS
    assert "" not in set(g.edge_highway)
    assert (g.csr != g.csr.T).nnz == 0
    ends = shapely.get_coordinates(shapely.get_point(g.edge_geometry, 0))
    assert np.abs(ends - g.node_xy[g.edge_u]).max() < 1e-6
    pbf = network.load_network(xml_to_pbf(OSM, tmp_path / "nanjing.osm.pbf"))
    assert pbf.n_nodes == g.n_nodes
    assert pbf.edge_length.sum() == pytest.approx(g.edge_length.sum(), rel=1e-9)


def test_line_layers_geojson_and_gpkg(tmp_path):
    x0, y0 = 500_000.0, 3_500_000.0
    # an unsplit line crossing another at a shared vertex, and a motorway
    lines = gpd.GeoDataFrame(
        {"highway": ["residential", "footway", "motorway"]},
        geometry=[
            shapely.LineString([(x0, y0), (x0 + 100, y0), (x0 + 200, y0)]),
            shapely.LineString([(x0 + 100, y0 - 50), (x0 + 100, y0), (x0 + 100, y0 + 50)]),
            shapely.LineString([(x0, y0 + 500), (x0 + 300, y0 + 500)]),
        ],
        crs=32650,
    ).to_crs(4326)
    lines.to_file(tmp_path / "roads.geojson", driver="GeoJSON")
    lines.to_file(tmp_path / "roads.gpkg", layer="roads", driver="GPKG")
    for g in (
        network.load_network(tmp_path / "roads.geojson"),
        network.load_network(tmp_path / "roads.gpkg", layer="roads"),
    ):
        assert g.n_nodes == 5
        assert g.n_edges == 4
        assert sorted(g.edge_length) == pytest.approx([50, 50, 100, 100], abs=1e-3)
        assert g.removed_highways == {"motorway": 1}
        assert g.source.endswith("(lines)")


def test_load_errors(tmp_path, small_osm):
    with pytest.raises(InputError, match="unknown network file type"):
        network.load_network(tmp_path / "roads.csv")
    with pytest.raises(InputError, match="no such file"):
        network.load_network(tmp_path / "missing.osm")
    with pytest.raises(InputError, match="bbox"):
        network.load_network(small_osm, bbox=(119, 32, 118, 33))
    with pytest.raises(InputError, match="islands"):
        network.load_network(small_osm, islands="sometimes")
    with pytest.raises(InputError, match="walking_speed_kmh"):
        network.load_network(small_osm, walking_speed_kmh=0)
    with pytest.raises(InputError, match="no walkable street"):
        network.load_network(small_osm, bbox=(100.0, 10.0, 100.1, 10.1))
    no_crs = gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (1, 1)])])
    with pytest.raises(InputError, match=r"lines\.crs"):
        network.network_from_lines(no_crs)
