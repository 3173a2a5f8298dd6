"""``POST /processes/{id}/execution``: synchronous when small, ``Prefer: respond-async`` for a job (201)."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from ..errors import ApiError
from ..models import ExecuteRequest, ProblemDoc, StatusInfo
from ..processes import Process
from ..security import KeyDep
from ..store import IdempotencyConflictError, Job, JobStatus, Store
from .jobs import AUTH, failure, status_info
from .ogc import base_url, get_process

__all__ = ["router"]

router = APIRouter()
_WAIT = re.compile(r"\bwait=(\d+)")

_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": ExecuteRequest.model_json_schema(),
            "example": {
                "inputs": {"study_area": "demo:jiangbei", "model": {"objective": "max_coverage", "p": 20}}
            },
        }
    },
}


async def _body(request: Request) -> tuple[ExecuteRequest, dict[str, Any]]:
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if ctype not in ("application/json", "application/geo+json", ""):
        raise ApiError(415, "unsupported-media-type", f"send the request as application/json, not {ctype}")
    raw = await request.body()
    try:
        data = json.loads(raw or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, "invalid-json", f"the body is not valid JSON ({exc})") from None
    try:
        parsed = ExecuteRequest.model_validate(data)
    except ValidationError as exc:
        errors = [
            {
                "path": ".".join(str(p) for p in e["loc"]) or "body",
                "message": "unknown key" if e["type"] == "extra_forbidden" else e["msg"],
                "fix": 'send {"inputs": {...}} as the process example shows',
            }
            for e in exc.errors()
        ]
        raise ApiError(
            422, "invalid-input", f"invalid execute request: {len(errors)} problem(s)", errors=errors
        ) from None
    return parsed, data


def _check_outputs(process: Process, body: ExecuteRequest) -> None:
    unknown = [k for k in body.outputs or {} if k not in process.outputs]
    errors = [
        {"path": f"outputs.{k}", "message": "unknown output", "fix": f"use {', '.join(process.outputs)}"}
        for k in unknown
    ]
    if body.response == "raw" and len(body.outputs or {}) != 1:
        errors.append(
            {"path": "response", "message": "raw needs exactly one output", "fix": "name one in outputs"}
        )
    if errors:
        raise ApiError(422, "invalid-input", "invalid outputs", errors=errors)


def _request_hash(process_id: str, data: Any) -> str:
    canon = json.dumps({"process": process_id, "body": data}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canon.encode()).hexdigest()


def _async_response(job: Job, base: str, replayed: bool) -> JSONResponse:
    headers = {"Location": f"{base}/jobs/{job.id}", "Preference-Applied": "respond-async"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(status_info(job, base), status_code=201, headers=headers)


async def _result_response(request: Request, job: Job, body: ExecuteRequest) -> Response:
    store: Store = request.app.state.store
    if job.status == JobStatus.FAILED:
        return failure(job)
    if job.status != JobStatus.SUCCESSFUL:
        raise ApiError(404, "no-such-job", f"job {job.id} was {job.status}")
    text = await run_in_threadpool(store.get_result, job.id)
    link = {"Link": f'<{base_url(request)}/jobs/{job.id}>; rel="monitor"'}
    if text is None:
        raise ApiError(404, "no-such-job", f"the results of job {job.id} are gone")
    if body.response == "raw" and body.outputs:
        value = json.loads(text).get(next(iter(body.outputs)))
        geo = isinstance(value, dict) and value.get("type") == "FeatureCollection"
        media = "application/geo+json" if geo else "application/json"
        return Response(json.dumps(value, ensure_ascii=False).encode(), media_type=media, headers=link)
    return Response(text.encode(), media_type="application/json", headers=link)


async def _create(
    request: Request, process: Process, key_id: str, idem: str | None, data: Any
) -> tuple[Job, bool]:
    """Create the job, or find the one the idempotency key names; return it and whether it was replayed."""
    store: Store = request.app.state.store
    digest = _request_hash(process.id, data)
    try:
        if idem is not None:
            found = await run_in_threadpool(store.find_idempotent, key_id, idem, digest)
            if found is not None:
                return found, True
        await run_in_threadpool(process.check, data.get("inputs") or {}, request.app.state.context)
        job, created = await run_in_threadpool(
            lambda: store.create_job(
                key_id=key_id, process_id=process.id, inputs=data, request_hash=digest, idempotency_key=idem
            )
        )
    except IdempotencyConflictError as exc:
        raise ApiError(
            422,
            "idempotency-key-reused",
            f"Idempotency-Key was already used with a different request (job {exc.job_id})",
            extra={"jobID": exc.job_id, "fix": "use a new Idempotency-Key for a different request"},
        ) from None
    if created:
        request.app.state.jobs.submit(job.id)
    return job, not created


@router.post(
    "/processes/{process_id}/execution",
    summary="Execute a process",
    response_model=None,
    openapi_extra={"requestBody": _BODY},
    responses={
        200: {
            "description": "Synchronous: every output by id.",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        201: {"model": StatusInfo, "description": "Asynchronous: the job's status; Location names it."},
        400: {"model": ProblemDoc, "description": "The body is not JSON."},
        **AUTH,
        404: {"model": ProblemDoc, "description": "No such process."},
        409: {"model": ProblemDoc, "description": "No plan satisfies the rules (infeasible)."},
        413: {"model": ProblemDoc, "description": "Body or layer too large."},
        415: {"model": ProblemDoc, "description": "Not JSON."},
        422: {
            "model": ProblemDoc,
            "description": "Invalid inputs: errors lists each field path, message and fix.",
        },
        500: {"model": ProblemDoc, "description": "Unexpected failure (with request_id)."},
    },
)
async def execute(
    process_id: str,
    request: Request,
    key: KeyDep,
    prefer: Annotated[
        str | None, Header(description="respond-async for a job (201); wait=N caps a sync wait")
    ] = None,
    idempotency_key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", max_length=255, description="Same key and body: the same job."),
    ] = None,
) -> Response:
    """Run a process: wait for the outputs (sync), or get a job to poll (``Prefer: respond-async``)."""
    process = get_process(process_id)
    body, data = await _body(request)
    _check_outputs(process, body)
    job, replayed = await _create(request, process, key.id, idempotency_key, data)
    base = base_url(request)
    prefs = (prefer or "").lower()
    if "respond-async" in prefs:
        return _async_response(job, base, replayed)
    wait = float(request.app.state.settings.sync_wait_s)
    if m := _WAIT.search(prefs):
        wait = min(wait, float(m.group(1)))
    if not await request.app.state.jobs.wait(job.id, wait):
        return _async_response(job, base, replayed)
    store: Store = request.app.state.store
    done = await run_in_threadpool(store.get_job, job.id)
    assert done is not None
    return await _result_response(request, done, body)
