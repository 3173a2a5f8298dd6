"""Job resources: list, status, dismissal and results (each API key sees only its own jobs)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from ..errors import ApiError, type_uri
from ..logs import REQUEST_ID
from ..models import JobList, ProblemDoc, StatusInfo
from ..security import KeyDep
from ..store import Job, JobStatus, Store
from .ogc import REL, base_url

__all__ = ["failure", "router", "status_info"]

router = APIRouter()
AUTH: dict[int | str, dict[str, Any]] = {
    401: {"model": ProblemDoc, "description": "Missing, unknown or revoked API key."},
    429: {"model": ProblemDoc, "description": "Rate limit; see Retry-After."},
}
NO_JOB: dict[int | str, dict[str, Any]] = {
    404: {"model": ProblemDoc, "description": "No such job for this key."}
}


def _iso(value: dt.datetime | None) -> str | None:
    return (
        None
        if value is None
        else value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def status_info(job: Job, base: str) -> dict[str, Any]:
    """Return the OGC statusInfo of a job (with ``exception`` when it failed)."""
    links = [
        {"href": f"{base}/jobs/{job.id}", "rel": "self", "type": "application/json", "title": "status"},
        {"href": f"{base}/map?job={job.id}", "rel": "alternate", "type": "text/html", "title": "map"},
    ]
    if job.status == JobStatus.SUCCESSFUL:
        links.append(
            {
                "href": f"{base}/jobs/{job.id}/results",
                "rel": REL + "results",
                "type": "application/json",
                "title": "results",
            }
        )
    doc: dict[str, Any] = {
        "processID": job.process_id,
        "type": "process",
        "jobID": job.id,
        "status": job.status,
        "message": job.message,
        "created": _iso(job.created),
        "started": _iso(job.started),
        "finished": _iso(job.finished),
        "updated": _iso(job.updated),
        "progress": max(0, min(100, job.progress)),
        "links": links,
    }
    if job.status == JobStatus.FAILED and job.error:
        doc["exception"] = {k: v for k, v in job.error.items() if k != "code"} | {
            "type": type_uri(str(job.error.get("code") or job.error.get("type") or "job-failed"))
        }
    return doc


def failure(job: Job) -> JSONResponse:
    """Return the problem response of a failed job: its own status (422, 409, 500) and reason."""
    error = dict(job.error or {})
    status = int(error.get("status") or 500)
    code = str(error.pop("code", None) or error.get("type") or "job-failed")
    doc = {
        **error,
        "type": type_uri(code),
        "title": error.get("title") or "job failed",
        "status": status,
        "detail": error.get("detail") or job.message,
        "request_id": REQUEST_ID.get(),
        "jobID": job.id,
    }
    return JSONResponse(doc, status_code=status)


async def own_job(request: Request, job_id: str, key_id: str) -> Job:
    """Return the job if it belongs to the key, else raise 404 (another key's job does not exist for you)."""
    store: Store = request.app.state.store
    job = await run_in_threadpool(store.get_job, job_id, key_id=key_id)
    if job is None:
        raise ApiError(404, "no-such-job", f"no job {job_id!r} for this API key")
    return job


StatusFilter = Annotated[
    list[JobStatus] | None, Query(description="Only jobs in these states (dismissed ones only when named).")
]


@router.get(
    "/jobs", summary="Jobs of this API key", response_model=None, responses={200: {"model": JobList}, **AUTH}
)
async def jobs(
    request: Request,
    key: KeyDep,
    *,
    status: StatusFilter = None,
    processID: Annotated[list[str] | None, Query(description="Only jobs of these processes.")] = None,  # noqa: N803
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> JSONResponse:
    """List the jobs of the caller's key, newest first (OGC job list)."""
    store: Store = request.app.state.store
    found, total = await run_in_threadpool(
        store.list_jobs,
        key_id=key.id,
        status=[s.value for s in status] if status else None,
        process_id=processID,
        limit=limit,
        offset=offset,
    )
    base = base_url(request)
    links = [
        {"href": f"{base}/jobs?limit={limit}&offset={offset}", "rel": "self", "type": "application/json"}
    ]
    if offset + limit < total:
        links.append({"href": f"{base}/jobs?limit={limit}&offset={offset + limit}", "rel": "next"})
    return JSONResponse(
        {"jobs": [status_info(j, base) for j in found], "links": links, "numberMatched": total}
    )


@router.get(
    "/jobs/{job_id}",
    summary="Job status",
    response_model=None,
    responses={200: {"model": StatusInfo}, **AUTH, **NO_JOB},
)
async def job_status(job_id: str, request: Request, key: KeyDep) -> JSONResponse:
    """Return the status of a job: accepted, running, successful, failed or dismissed, with progress 0-100."""
    return JSONResponse(status_info(await own_job(request, job_id, key.id), base_url(request)))


@router.delete(
    "/jobs/{job_id}",
    summary="Dismiss a job",
    response_model=None,
    responses={200: {"model": StatusInfo}, **AUTH, **NO_JOB},
)
async def dismiss(job_id: str, request: Request, key: KeyDep) -> JSONResponse:
    """Dismiss: cancel a queued or running job (its worker is stopped), or discard a finished job's results."""
    await own_job(request, job_id, key.id)
    store: Store = request.app.state.store
    job = await run_in_threadpool(store.dismiss_job, job_id, key_id=key.id)
    request.app.state.jobs.kill(job_id)
    assert job is not None
    return JSONResponse(status_info(job, base_url(request)))


@router.get(
    "/jobs/{job_id}/results",
    summary="Job results",
    response_model=None,
    responses={
        200: {
            "description": "Every output by id.",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        **AUTH,
        404: {"model": ProblemDoc, "description": "No such job, or not finished (result-not-ready)."},
        409: {"model": ProblemDoc, "description": "The job failed: no plan satisfies the rules."},
        422: {"model": ProblemDoc, "description": "The job failed on its inputs."},
        500: {"model": ProblemDoc, "description": "The job failed unexpectedly or was interrupted."},
    },
)
async def results(job_id: str, request: Request, key: KeyDep) -> Response:
    """Return the outputs of a successful job; the reason (with its status code) of a failed one."""
    job = await own_job(request, job_id, key.id)
    if job.status == JobStatus.FAILED:
        return failure(job)
    if job.status == JobStatus.DISMISSED:
        raise ApiError(404, "no-such-job", f"job {job_id} was dismissed; its results are gone")
    if job.status != JobStatus.SUCCESSFUL:
        raise ApiError(
            404, "result-not-ready", f"job {job_id} is {job.status} ({job.progress}%); poll /jobs/{job_id}"
        )
    store: Store = request.app.state.store
    body = await run_in_threadpool(store.get_result, job_id)
    if body is None:
        raise ApiError(404, "no-such-job", f"the results of job {job_id} are gone")
    return Response(body.encode(), media_type="application/json")
