"""Running siting's heavy steps on a Dask cluster (dask.distributed): a LocalCluster or an existing scheduler."""

from __future__ import annotations

import contextlib
import resource
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from siting.errors import InputError, Problem
from siting.routing import Pairs, RoutingContext, TileMapper, tile_pairs
from siting.snapping import SnapResult, report_far, snap_points
from siting.walk_graph import WalkNetwork

__all__ = [
    "ProgressFn",
    "connect",
    "dask_tile_mapper",
    "map_ordered",
    "peak_memory_mib",
    "snap_rows",
    "straight_line_rows",
    "worker_peak_memory_mib",
]

#: ``progress(done, total)`` after each finished task.
ProgressFn = Callable[[int, int], None]


@contextlib.contextmanager
def connect(
    scheduler: str | None = None,
    *,
    n_workers: int = 2,
    threads_per_worker: int = 1,
    memory_limit: str | float | None = "auto",
    timeout_s: float = 10.0,
) -> Iterator[Any]:
    """Yield a ``dask.distributed.Client``: to ``scheduler`` if given, else to a new LocalCluster.

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler, such as ``tcp://10.0.0.5:8786``. The caller (CLI, API)
        reads it from ``--scheduler`` or ``SITING_DASK_SCHEDULER``; the core never reads the
        environment itself.
    n_workers, threads_per_worker : int
        LocalCluster size when no scheduler is given (worker processes x threads each).
    memory_limit : str or float, optional
        LocalCluster memory limit per worker (``"auto"`` shares the machine's memory).
    timeout_s : float
        Seconds to wait for ``scheduler`` to answer.

    Raises
    ------
    InputError
        The scheduler cannot be reached (names the address and how to start one).
    """
    from dask.distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout=f"{timeout_s}s")
        except (OSError, TimeoutError) as exc:
            raise InputError(
                Problem(
                    "scheduler",
                    f"cannot reach the Dask scheduler at {scheduler!r}: {exc}",
                    "start one with `dask scheduler` and `dask worker ADDRESS`, or leave it out for a local cluster",
                )
            ) from None
        try:
            yield client
        finally:
            client.close()
        return
    with (
        LocalCluster(
            n_workers=n_workers,
            threads_per_worker=threads_per_worker,
            processes=True,
            memory_limit=memory_limit,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _run_tiles(ctx: RoutingContext, tiles: Sequence[np.ndarray]) -> list[list[Pairs]]:
    """Worker side: the pairs of a batch of tiles, in order."""
    return [tile_pairs(ctx, t) for t in tiles]


def dask_tile_mapper(
    client: Any, *, tiles_per_task: int | None = None, progress: ProgressFn | None = None
) -> TileMapper:
    """Return a ``map_tiles`` for :func:`siting.routing.network_csr` that runs tiles on ``client``.

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
        from dask.distributed import as_completed

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
    """:func:`siting.snapping.snap_points` in chunks of rows on ``client`` (same result).

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
    from siting.accessibility import straight_line_pairs

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
    :func:`siting.accessibility.straight_line_pairs` on the whole input.
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


def map_ordered(
    client: Any,
    fn: Callable[..., Any],
    arguments: Sequence[tuple[Any, ...]],
    *,
    progress: Callable[[int, int, int], None] | None = None,
    on_error: Callable[[int, BaseException], Any] | None = None,
) -> list[Any]:
    """Run ``fn(*args)`` for each tuple of ``arguments`` on ``client``; results in input order.

    Parameters
    ----------
    client : dask.distributed.Client
        The cluster.
    fn : callable
        A function importable on the workers (module level).
    arguments : sequence of tuple
        One argument tuple per task.
    progress : callable, optional
        ``progress(done, total, index)`` as each task finishes (``index`` into ``arguments``).
    on_error : callable, optional
        ``on_error(index, exception)`` gives the result of a task that failed on the cluster
        (for example a lost worker); without it the exception propagates.
    """
    from dask.distributed import as_completed

    futures = [client.submit(fn, *args, pure=False) for args in arguments]
    position = {f.key: k for k, f in enumerate(futures)}
    out: list[Any] = [None] * len(futures)
    for done, fut in enumerate(as_completed(futures), start=1):
        k = position[fut.key]
        try:
            out[k] = fut.result()
        except Exception as exc:
            if on_error is None:
                raise
            out[k] = on_error(k, exc)
        if progress is not None:
            progress(done, len(futures), k)
    return out


def peak_memory_mib() -> float:
    """Peak resident memory of this process in MiB.

    Linux: ``VmHWM`` of ``/proc/self/status`` (the high-water mark of this process's own
    address space; ``ru_maxrss`` is inherited across fork and exec, so a worker started by a
    large parent would report the parent's peak). Elsewhere ``ru_maxrss``.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def worker_peak_memory_mib(client: Any) -> dict[str, float]:
    """Peak resident memory (MiB) of each worker process of ``client``'s cluster, by address."""
    return {str(k): float(v) for k, v in client.run(peak_memory_mib).items()}
