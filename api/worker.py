"""The job worker: runs one job in its own process, writing progress, results or the error to the store."""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

from siting.errors import SitingError
from siting.network.routing import warm_kernels

from .errors import ApiError, error_document, from_siting_error
from .logs import REQUEST_ID, configure_logging
from .processes import PROCESSES, Context, Limits
from .store import Store
from .studyareas import ServerAreas, cached_network

__all__ = ["PRELOAD_ENV", "WorkerConfig", "preload", "run_job"]

log = logging.getLogger("siting.api.worker")
#: Environment variable through which the server tells the forkserver what to preload.
PRELOAD_ENV = "SITING_WORKER_PRELOAD"
_AREAS: dict[tuple[str, ...], ServerAreas] = {}
#: Modules the processes import lazily; the forkserver imports them once.
WARM_MODULES = (
    "scipy.spatial",
    "siting.network.matrices",
    "siting.network.service_areas",
    "siting.scenarios.red_stations",
    "siting.scenarios.charging",
    "siting.planning.charging",
    "siting.demand.growth",
    "siting.models.coverage.phased",
    "siting.models.coverage.mclp",
    "siting.models.coverage.lscp",
    "siting.models.median.pmedian",
    "siting.models.median.pcenter",
    "siting.models.coverage.capacitated",
)


class Cancelled(Exception):  # noqa: N818 (a signal, not an error)
    """The job was dismissed or taken away while it ran."""


def preload(areas: tuple[str, ...], networks: bool) -> ServerAreas:
    """Load server-held areas (and their networks) once; forked workers inherit them."""
    if areas not in _AREAS:
        loaded = ServerAreas(areas)
        loaded.load()
        _AREAS[areas] = loaded
    if networks:
        for area in _AREAS[areas].areas.values():
            cached_network(area)
    return _AREAS[areas]


def warm_up(areas: ServerAreas) -> None:
    """Import what jobs import lazily and fill per-process caches (CRS transformers), without solving.

    Runs in the forkserver, so every job process starts warm. Nothing here starts a solver
    (HiGHS threads must not exist before a fork).
    """
    for name in WARM_MODULES:
        importlib.import_module(name)
    warm_kernels()  # the compiled routing / snapping code, loaded once for every job
    warm = Store("sqlite://")  # loads the SQLite dialect and driver once, for every job's store
    with warm.engine.connect():
        pass
    warm.close()
    try:  # the PostgreSQL dialect and driver, when installed
        importlib.import_module("sqlalchemy.dialects.postgresql.psycopg")
        importlib.import_module("psycopg")
    except ImportError:
        pass
    if not areas.areas:
        return
    area_id, area = next(iter(areas.areas.items()))
    ids = [str(i) for i in area.layers["candidates"]["site_id"].head(2)] if area.has("candidates") else []
    if ids:
        example = {"study_area": area_id, "sites": ids, "radius_m": 300, "crs": "gcj02"}
        PROCESSES["evaluate-coverage"].run(example, Context(areas=areas), lambda _p, _m: None)


def preload_from_env() -> None:
    """Preload what ``SITING_WORKER_PRELOAD`` names (JSON ``{"areas": [...], "networks": bool}``)."""
    raw = os.environ.get(PRELOAD_ENV)
    if not raw:
        return
    spec = json.loads(raw)
    main_path = spec.get("main_path")
    if main_path:
        # Jobs need nothing from the server's main script: naming it as this process's main stops
        # multiprocessing from re-running it in every job process (the job target is siting_api.worker.run_job).
        sys.modules["__main__"].__file__ = main_path
    areas = preload(tuple(spec.get("areas", ())), bool(spec.get("networks", False)))
    try:
        warm_up(areas)
    except Exception:  # a cold start is slower, not wrong
        log.exception("worker warm-up failed")


class WorkerConfig:
    """What a worker needs from the server's settings (picklable)."""

    def __init__(self, database_url: str, areas: tuple[str, ...], limits: Limits, log_level: str) -> None:
        self.database_url = database_url
        self.areas = areas
        self.limits = limits
        self.log_level = log_level


def _watch_parent() -> None:
    """End this process when its parent (the forkserver, hence the server) is gone."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=watch, name="siting-parent-watch", daemon=True).start()


class _Progress:
    def __init__(self, store: Store, job_id: str) -> None:
        self.store = store
        self.job_id = job_id

    def __call__(self, percent: int, message: str) -> None:
        if not self.store.set_progress(self.job_id, percent, message):
            raise Cancelled(self.job_id)


def _select(doc: dict[str, Any], outputs: Mapping[str, Any] | None) -> dict[str, Any]:
    if not outputs:
        return doc
    return {k: v for k, v in doc.items() if k in outputs}


def _fail(store: Store, job_id: str, error: ApiError) -> None:
    store.fail_job(job_id, error_document(error), error.detail)


def run_job(config: WorkerConfig, job_id: str, request_id: str = "-") -> None:
    """Run job ``job_id`` (target of the worker process); every outcome is written to the store."""
    configure_logging(config.log_level)
    REQUEST_ID.set(request_id)
    _watch_parent()
    store = Store(config.database_url)
    try:
        job = store.get_job(job_id)
        if job is None or not store.mark_running(job_id, os.getpid()):
            return
        started = time.perf_counter()
        body = job.inputs
        wanted = frozenset(body["outputs"]) if body.get("outputs") else None
        ctx = Context(areas=preload(config.areas, networks=False), limits=config.limits, outputs=wanted)
        try:
            doc = PROCESSES[job.process_id].run(body.get("inputs") or {}, ctx, _Progress(store, job_id))
            text = json.dumps(_select(doc, body.get("outputs")), ensure_ascii=False, allow_nan=False)
            store.finish_job(job_id, text, message=f"done in {time.perf_counter() - started:.1f} s")
        except Cancelled:
            log.info("job cancelled", extra={"job_id": job_id})
        except ApiError as exc:
            _fail(store, job_id, exc)
        except SitingError as exc:
            _fail(store, job_id, from_siting_error(exc, lambda w: f"inputs.{w}"))
        except Exception:
            log.exception("job failed unexpectedly", extra={"job_id": job_id, "process_id": job.process_id})
            _fail(
                store,
                job_id,
                ApiError(500, "internal-error", f"unexpected failure; the server log has job {job_id}"),
            )
        log.info("job ended", extra={"job_id": job_id, "seconds": round(time.perf_counter() - started, 3)})
    finally:
        store.close()
