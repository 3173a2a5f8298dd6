import numpy as np
import pytest
import shapely

from siting.network._edge_index import SegmentIndex


def _random_lines(rng, n):
    start = rng.uniform(0, 2_000, (n, 2))
    mid = start + rng.normal(0, 60, (n, 2))
    end = mid + rng.normal(0, 60, (n, 2))
    return shapely.linestrings(np.stack([start, mid, end], axis=1))


@pytest.mark.parametrize("seed", [0, 1])
def test_matches_shapely_nearest(seed):
    rng = np.random.default_rng(seed)
    lines = _random_lines(rng, 400)
    xy = rng.uniform(-200, 2_200, (3_000, 2))
    edge, dist, along = SegmentIndex.build(lines).nearest(xy, 150.0)
    pts = shapely.points(xy)
    (pi, _), dd = shapely.STRtree(lines).query_nearest(pts, max_distance=150.0, return_distance=True)
    ref_d = np.full(xy.shape[0], np.nan)
    ref_d[pi] = dd
    assert np.array_equal(edge >= 0, np.isfinite(ref_d))
    ok = edge >= 0
    assert ok.sum() > 1_000 and (~ok).sum() > 50
    assert np.allclose(dist[ok], ref_d[ok], rtol=0, atol=1e-9)
    # the chosen edge is at that distance, and the offset is where the nearest point lies on it
    assert np.allclose(shapely.distance(lines[edge[ok]], pts[ok]), dist[ok], rtol=0, atol=1e-9)
    assert np.allclose(shapely.line_locate_point(lines[edge[ok]], pts[ok]), along[ok], rtol=0, atol=1e-6)
    assert np.isnan(dist[~ok]).all() and np.isnan(along[~ok]).all()


def test_hand_made_cases():
    lines = np.array([
        shapely.LineString([(0, 0), (100, 0)]),
        shapely.LineString([(100, 0), (100, 100), (200, 100)]),
        shapely.LineString([(500, 500), (500, 500)]),  # zero length
    ])  # fmt: skip
    index = SegmentIndex.build(lines)
    xy = np.array([[50, 10], [120, 50], [110, 110], [100, -1], [500, 503], [np.nan, 0], [900, 900]])
    edge, dist, along = index.nearest(xy, 20.0)
    assert edge.tolist() == [0, 1, 1, 0, 2, -1, -1]
    assert dist[:5] == pytest.approx([10, 20, 10, 1, 3])
    assert along[:5] == pytest.approx([50, 50, 110, 100, 0])


def test_ties_go_to_the_lower_edge():
    lines = np.array([shapely.LineString([(0, 0), (0, 100)]), shapely.LineString([(20, 0), (20, 100)])])
    edge, dist, _ = SegmentIndex.build(lines).nearest(np.array([[10.0, 50.0]]), 50.0)
    assert edge.tolist() == [0]
    assert dist.tolist() == [10.0]
