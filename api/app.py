"""The FastAPI application: ``create_app(settings)`` wires the store, workers, limits, routes and errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from siting import __version__

from .errors import install_handlers
from .jobs import JobManager
from .logs import configure_logging, log
from .middleware import BodyLimitMiddleware, RequestContextMiddleware
from .processes import Context, Limits
from .routes import execute, jobs, maps, ogc
from .security import RateLimiter
from .settings import Settings
from .store import Store
from .studyareas import ServerAreas
from .worker import WorkerConfig

__all__ = ["create_app"]

RESTART_REASON = "the server restarted while the job was queued or running; submit it again"


def _lifespan(settings: Settings) -> object:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = Store(settings.database_url)
        await asyncio.to_thread(store.create_schema)
        failed = await asyncio.to_thread(store.fail_interrupted, RESTART_REASON)
        if failed:
            log.warning("interrupted jobs marked failed", extra={"jobs": failed})
        areas = ServerAreas(settings.preload)
        await asyncio.to_thread(areas.load)
        limits = Limits(
            max_features=settings.max_features_per_layer,
            max_pairs=settings.max_pairs,
            max_time_s=settings.job_timeout_s,
        )
        config = WorkerConfig(store.url, settings.preload, limits, settings.log_level)
        manager = JobManager(
            store,
            config,
            workers=settings.workers,
            timeout_s=settings.job_timeout_s,
            preload_networks=settings.preload_networks,
        )
        await manager.start()
        app.state.store = store
        app.state.areas = areas
        app.state.context = Context(areas=areas, limits=limits)
        app.state.jobs = manager
        log.info(
            "siting API ready",
            extra={"database": store.backend, "areas": areas.ids, "workers": settings.workers},
        )
        try:
            yield
        finally:
            await manager.stop()
            store.close()

    return lifespan


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API (``uvicorn api.app:create_app --factory``).

    Parameters
    ----------
    settings : Settings, optional
        Read from ``SITING_*`` environment variables when omitted.
    """
    settings = settings or Settings()
    configure_logging(settings.log_level)
    app = FastAPI(
        title=settings.title,
        version=__version__,
        description=(
            "OGC API - Processes (Part 1: Core) for siting grid red stations and e-bike charging piles. "
            "Execution and job endpoints need an API key: `Authorization: Bearer KEY` or `X-API-Key: KEY`."
        ),
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        lifespan=_lifespan(settings),  # type: ignore[arg-type]
    )
    app.state.settings = settings
    app.state.limiter = RateLimiter(settings.rate_limit_per_minute)
    app.state.descriptions = {}
    install_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=[
                "Authorization",
                "X-API-Key",
                "Content-Type",
                "Prefer",
                "Idempotency-Key",
                "X-Request-ID",
            ],
            expose_headers=["Location", "Retry-After", "X-Request-ID", "Preference-Applied", "Link"],
        )
    for module in (ogc, execute, jobs, maps):
        app.include_router(module.router)
    if settings.reports_dir:
        app.mount("/reports", StaticFiles(directory=settings.reports_dir, html=True), name="reports")
    return app
