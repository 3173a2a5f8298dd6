"""Dask clusters for siting's heavy steps: a LocalCluster or an existing scheduler, ordered maps, memory."""

from __future__ import annotations

import contextlib
import importlib.util
import resource
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from siting.errors import InputError, Problem

__all__ = ["connect", "dask_available", "map_ordered", "peak_memory_mib", "worker_peak_memory_mib"]


def dask_available() -> bool:
    """Whether dask.distributed is installed (the ``dask`` extra)."""
    return importlib.util.find_spec("distributed") is not None


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
        The scheduler cannot be reached (names the address and how to start one), or Dask is
        not installed (names the extra).
    """
    if not dask_available():
        raise InputError(
            Problem(
                "scheduler" if scheduler else "workers",
                "needs Dask, which is not installed",
                "pip install 'siting[dask]', or run in this process (siting sweep --workers 0)",
            )
        )
    from dask.distributed import Client, LocalCluster  # noqa: PLC0415 - dask is an optional extra

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
    from dask.distributed import as_completed  # noqa: PLC0415 - dask is an optional extra

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
