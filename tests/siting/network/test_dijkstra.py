import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from siting.network._dijkstra import points_within


def _edges_layout(u, v, n_nodes, to_u, to_v, per_edge):
    """Kernel arguments for points grouped by edge (``per_edge[k]`` points on edge k)."""
    count = np.asarray(per_edge, dtype=np.int64)
    start = np.cumsum(count) - count
    ends = np.concatenate([u, v])
    order = np.argsort(ends, kind="stable")
    return {
        "node_ptr": np.r_[0, np.cumsum(np.bincount(ends, minlength=n_nodes))].astype(np.int64),
        "node_edges": np.tile(np.arange(len(u), dtype=np.int64), 2)[order],
        "edge_u": np.asarray(u, dtype=np.int64),
        "edge_v": np.asarray(v, dtype=np.int64),
        "edge_start": start.astype(np.int64),
        "edge_count": count,
        "to_u": np.asarray(to_u, dtype=np.float64),
        "to_v": np.asarray(to_v, dtype=np.float64),
    }


def _graph(rows, cols, w, n):
    a = sp.coo_array((np.r_[w, w], (np.r_[rows, cols], np.r_[cols, rows])), shape=(n, n)).tocsr()
    return a.indptr.astype(np.int64), a.indices.astype(np.int64), a.data.astype(np.float64), a


def test_hand_made_path():
    # 0 --100-- 1 --50-- 2 --200-- 3 ; points: A on (0,1) 30 m from 0, B on (2,3) 20 m from 2
    indptr, indices, w, _ = _graph([0, 1, 2], [1, 2, 3], [100.0, 50.0, 200.0], 4)
    lay = _edges_layout([0, 2], [1, 3], 4, to_u=[30.0, 20.0], to_v=[70.0, 180.0], per_edge=[1, 1])
    src, pos, d = points_within(indptr, indices, w, np.array([0, 3]), np.array([200.0, 200.0]), **lay)
    got = {(int(s), int(p)): float(x) for s, p, x in zip(src, pos, d, strict=True)}
    # from 0: A at 30, B at 100 + 50 + 20 = 170; from 3: B at 180, A beyond 200 (3 -> 1 is 250 m)
    assert got == {(0, 0): 30.0, (0, 1): 170.0, (1, 1): 180.0}
    assert list(src) == sorted(src)


def test_limit_is_inclusive_and_per_source():
    indptr, indices, w, _ = _graph([0], [1], [100.0], 2)
    lay = _edges_layout([0], [1], 2, to_u=[40.0], to_v=[60.0], per_edge=[1])
    src, _, d = points_within(indptr, indices, w, np.array([0, 0, 1]), np.array([40.0, 39.9, 60.0]), **lay)
    assert src.tolist() == [0, 2]
    assert d.tolist() == [40.0, 60.0]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_scipy_dijkstra_on_random_graph(seed):
    rng = np.random.default_rng(seed)
    n = 300
    rows = rng.integers(0, n, 900)
    cols = rng.integers(0, n, 900)
    keep = rows != cols
    rows, cols = rows[keep], cols[keep]
    w = rng.uniform(5.0, 80.0, rows.size)
    indptr, indices, weights, a = _graph(rows, cols, w, n)
    # demand points on some of the graph's edges, 1-3 each
    pick = rng.choice(rows.size, 120, replace=False)
    eu, ev, length = rows[pick], cols[pick], a[rows[pick], cols[pick]]
    per_edge = rng.integers(1, 4, pick.size)
    t = rng.uniform(0, 1, per_edge.sum()) * np.repeat(length, per_edge)
    leg = rng.uniform(0, 10, t.size)
    to_u, to_v = t + leg, np.repeat(length, per_edge) - t + leg
    lay = _edges_layout(eu, ev, n, to_u=to_u, to_v=to_v, per_edge=per_edge)
    sources = rng.choice(n, 40, replace=False)
    limits = rng.uniform(50.0, 250.0, sources.size)
    src, pos, d = points_within(indptr, indices, weights, sources, limits, **lay)
    full = dijkstra(a, indices=sources)
    pu, pv = np.repeat(eu, per_edge), np.repeat(ev, per_edge)
    ref = np.minimum(full[:, pu] + to_u, full[:, pv] + to_v)
    want = np.argwhere(ref <= limits[:, None])
    assert sorted(zip(src.tolist(), pos.tolist(), strict=True)) == sorted(map(tuple, want.tolist()))
    assert np.allclose(d, ref[src, pos], rtol=0, atol=1e-9)
