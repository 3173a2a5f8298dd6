"""The network matrices on a Dask cluster: routing tiles, snapping and straight lines in chunks of rows.

Every function here takes a ``dask.distributed.Client`` and gives the same result as the
single-process code; the client comes from the caller (see :mod:`siting.scenarios.distributed`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from siting.network.graph import WalkNetwork
from siting.network.routing import Pairs, RoutingContext, TileMapper, tile_pairs
from siting.network.snapping import SnapResult, report_far, snap_points
from siting.network.straight import straight_line_pairs

__all__ = ["ProgressFn", "dask_tile_mapper", "snap_rows", "straight_line_rows"]

#: ``progress(done, total)`` after each finished task.
ProgressFn = Callable[[int, int], None]


def _run_tiles(ctx: RoutingContext, tiles: Sequence[np.ndarray]) -> list[list[Pairs]]:
    """Worker side: the pairs of a batch of tiles, in order."""
    return [tile_pairs(ctx, t) for t in tiles]


def dask_tile_mapper(
    client: Any, *, tiles_per_task: int | None = None, progress: ProgressFn | None = None
) -> TileMapper:
    """Return a ``map_tiles`` for :func:`siting.network.routing.network_csr` that runs tiles on ``client``.

    The routing context (the network with the candidates inserted, the snapped demand) is
    scattered once to every worker; each task then carries only the source indices of a few
    tiles. The per-tile results come back in tile order, so the matrix is identical to the
    single-process one.

    Parameters
    ----------
    client : dask.distributed.Client
        The cluster.
    tiles_per_task : int, optional
        Tiles per task; default spreads the tiles over about 4 tasks per worker thread.
    progress : callable, optional
        ``progress(done, total)`` after each finished task.
    """

    def run(ctx: RoutingContext, tiles: list[np.ndarray]) -> list[list[Pairs]]:
        if not tiles:
            return []
        from dask.distributed import as_completed  # noqa: PLC0415 - dask is an optional extra

        threads = max(1, sum(client.nthreads().values()))
        per = tiles_per_task or max(1, -(-len(tiles) // (4 * threads)))
        batches = [tiles[i : i + per] for i in range(0, len(tiles), per)]
        shared = client.scatter(ctx, broadcast=True, hash=False)
        futures = [client.submit(_run_tiles, shared, b, pure=False) for b in batches]
        position = {f.key: k for k, f in enumerate(futures)}
        out: list[list[list[Pairs]]] = [[] for _ in batches]
        for done, fut in enumerate(as_completed(futures), start=1):
            out[position[fut.key]] = fut.result()
            if progress is not None:
                progress(done, len(batches))
        return [tile for batch in out for tile in batch]

    return run


def _snap_chunk(g: WalkNetwork, xy: np.ndarray, max_snap_m: float) -> SnapResult:
    """Worker side: snap one chunk of points, reporting nothing (the client reports once)."""
    return snap_points(g, xy, max_snap_m=max_snap_m, on_far="ignore")


def snap_rows(
    client: Any,
    g: WalkNetwork,
    xy: np.ndarray,
    *,
    ids: tuple[str, ...],
    name: str,
    max_snap_m: float,
    on_far: str,
    shared_g: Any = None,
    rows_per_task: int = 25_000,
) -> SnapResult:
    """:func:`siting.network.snapping.snap_points` in chunks of rows on ``client`` (same result).

    ``shared_g`` is ``g`` already scattered to the workers (scattered here when omitted).
    """
    if not np.isfinite(max_snap_m) or max_snap_m <= 0:
        snap_points(g, xy[:0], name=name, max_snap_m=max_snap_m)  # raises the usual InputError
    shared = shared_g if shared_g is not None else client.scatter(g, broadcast=True, hash=False)
    futures = [
        client.submit(_snap_chunk, shared, xy[i : i + rows_per_task], max_snap_m, pure=False)
        for i in range(0, xy.shape[0], rows_per_task)
    ]
    parts: list[SnapResult] = client.gather(futures)
    result = SnapResult(
        name=name,
        ids=ids,
        edge=np.concatenate([p.edge for p in parts]) if parts else np.zeros(0, dtype=np.int64),
        offset=np.concatenate([p.offset for p in parts]) if parts else np.zeros(0),
        leg=np.concatenate([p.leg for p in parts]) if parts else np.zeros(0),
        max_snap_m=float(max_snap_m),
    )
    report_far(result, on_far)
    return result


def _straight_chunk(
    demand_xy: np.ndarray, candidate_xy: np.ndarray, offset: int, cutoff: float, circuity: float
) -> Pairs:
    """Worker side: straight-line pairs of one chunk of demand rows (row numbers shifted back)."""
    rows, cols, vals = straight_line_pairs(demand_xy, candidate_xy, cutoff, circuity=circuity)
    return rows + offset, cols, vals


def straight_line_rows(
    client: Any,
    demand_xy: np.ndarray,
    candidate_xy: np.ndarray,
    cutoff: float,
    *,
    circuity: float = 1.0,
    rows_per_task: int = 20_000,
) -> Pairs:
    """Straight-line pairs within ``cutoff`` computed in chunks of demand rows on ``client``.

    The candidate coordinates are scattered once; the pairs are those of
    :func:`siting.network.matrices.straight_line_pairs` on the whole input.
    """
    n = demand_xy.shape[0]
    if n == 0 or candidate_xy.shape[0] == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), np.zeros(0)
    shared = client.scatter(candidate_xy, broadcast=True, hash=False)
    futures = [
        client.submit(
            _straight_chunk, demand_xy[i : i + rows_per_task], shared, i, cutoff, circuity, pure=False
        )
        for i in range(0, n, rows_per_task)
    ]
    parts = client.gather(futures)
    return tuple(np.concatenate([p[k] for p in parts]) for k in range(3))  # type: ignore[return-value]
