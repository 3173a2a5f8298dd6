"""OGC API - Processes core resources: landing page (JSON or HTML), conformance, API description, processes."""

from __future__ import annotations

import html
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from ..errors import ApiError
from ..models import ConfClasses, LandingPage, ProblemDoc, ProcessDescription, ProcessList
from ..openapi import openapi_30
from ..processes import PROCESSES, Context, Process

__all__ = ["CONFORMANCE", "router"]

router = APIRouter()
REL = "http://www.opengis.net/def/rel/ogc/1.0/"
_CONF = "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/"
CONFORMANCE = [
    _CONF + c for c in ("core", "ogc-process-description", "json", "oas30", "job-list", "dismiss")
] + ["http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core"]
OAS_TYPE = "application/vnd.oai.openapi+json;version=3.0"
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ProblemDoc, "description": "No such process."}}


def base_url(request: Request) -> str:
    """Return the server's base URL as the client sees it (no trailing slash)."""
    return str(request.base_url).rstrip("/")


def _wants_html(request: Request, f: str | None) -> bool:
    if f is not None:
        return f.lower() == "html"
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept.split(",")[0]


def _landing(base: str, title: str) -> dict[str, Any]:
    links = [
        {"href": f"{base}/", "rel": "self", "type": "application/json", "title": "this document"},
        {
            "href": f"{base}/?f=html",
            "rel": "alternate",
            "type": "text/html",
            "title": "this document as HTML",
        },
        {"href": f"{base}/api", "rel": "service-desc", "type": OAS_TYPE, "title": "the API definition"},
        {
            "href": f"{base}/conformance",
            "rel": "conformance",
            "type": "application/json",
            "title": "conformance",
        },
        {"href": f"{base}/conformance", "rel": REL + "conformance", "type": "application/json"},
        {
            "href": f"{base}/processes",
            "rel": REL + "processes",
            "type": "application/json",
            "title": "processes",
        },
        {
            "href": f"{base}/jobs",
            "rel": REL + "job-list",
            "type": "application/json",
            "title": "jobs (API key)",
        },
        {
            "href": f"{base}/map",
            "rel": "related",
            "type": "text/html",
            "title": "map of study areas and results",
        },
    ]
    description = (
        "OGC API - Processes for siting grid red stations and e-bike charging piles in Nanjing's Jiangbei New "
        "Area. Execution and job endpoints need an API key (Authorization: Bearer KEY or X-API-Key)."
    )
    return {"title": title, "description": description, "links": links}


def _landing_html(doc: dict[str, Any]) -> str:
    items = "".join(
        f'<li><a href="{html.escape(link["href"])}">{html.escape(link.get("title") or link["rel"])}</a>'
        f" <small>({html.escape(link['rel'])})</small></li>"
        for link in doc["links"]
    )
    procs = "".join(
        f'<li><a href="/processes/{p.id}?f=json"><code>{p.id}</code></a>: {html.escape(p.title)}</li>'
        for p in PROCESSES.values()
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(doc['title'])}</title>"
        "<style>body{font:15px/1.5 system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem}"
        "code{background:#f2f2f2;padding:0 .2em}</style></head><body>"
        f"<h1>{html.escape(doc['title'])}</h1><p>{html.escape(doc['description'])}</p>"
        f"<h2>Links</h2><ul>{items}</ul><h2>Processes</h2><ul>{procs}</ul>"
        "<p>Map data © OpenStreetMap contributors (ODbL).</p></body></html>"
    )


@router.get(
    "/",
    summary="Landing page",
    response_model=None,
    responses={200: {"model": LandingPage, "content": {"text/html": {"schema": {"type": "string"}}}}},
)
async def landing(
    request: Request,
    f: Annotated[str | None, Query(pattern="^(json|html)$", description="json or html")] = None,
) -> Response:
    """Return links to the API description, conformance, processes and jobs (HTML when the client asks)."""
    doc = _landing(base_url(request), request.app.state.settings.title)
    if _wants_html(request, f):
        return HTMLResponse(_landing_html(doc))
    return JSONResponse(doc)


@router.get("/conformance", summary="Conformance classes", response_model=ConfClasses)
async def conformance() -> dict[str, Any]:
    """List the OGC conformance classes this server implements."""
    return {"conformsTo": CONFORMANCE}


@router.get(
    "/api",
    summary="API definition (OpenAPI 3.0)",
    response_model=None,
    responses={200: {"content": {OAS_TYPE: {"schema": {"type": "object"}}}}},
)
async def api_definition(request: Request) -> Response:
    """Return the OpenAPI 3.0 description of this API."""
    return JSONResponse(openapi_30(request.app), media_type=OAS_TYPE)


def summary_doc(process: Process, base: str) -> dict[str, Any]:
    """Return the process summary listed at /processes."""
    return {
        "id": process.id,
        "title": process.title,
        "description": process.description,
        "version": process.version,
        "keywords": list(process.keywords),
        "jobControlOptions": ["sync-execute", "async-execute", "dismiss"],
        "outputTransmission": ["value"],
        "links": [
            {"href": f"{base}/processes/{process.id}", "rel": "self", "type": "application/json"},
            {"href": f"{base}/processes/{process.id}/execution", "rel": REL + "execute", "title": "execute"},
        ],
    }


@router.get("/processes", summary="Processes", response_model=ProcessList, response_model_exclude_none=True)
async def processes(request: Request) -> dict[str, Any]:
    """List every process the server offers."""
    base = base_url(request)
    return {
        "processes": [summary_doc(p, base) for p in PROCESSES.values()],
        "links": [{"href": f"{base}/processes", "rel": "self", "type": "application/json"}],
    }


def get_process(process_id: str) -> Process:
    """Return the process with this id, or raise 404."""
    if process_id not in PROCESSES:
        raise ApiError(
            404, "no-such-process", f"no process {process_id!r}; use one of {', '.join(PROCESSES)}"
        )
    return PROCESSES[process_id]


@router.get(
    "/processes/{process_id}",
    summary="Process description",
    response_model=None,
    responses={200: {"model": ProcessDescription}, **NOT_FOUND},
)
async def process_description(process_id: str, request: Request) -> JSONResponse:
    """Describe a process: its inputs and outputs as JSON Schema and an example that runs on a demo."""
    process = get_process(process_id)
    ctx: Context = request.app.state.context
    cache: dict[str, dict[str, Any]] = request.app.state.descriptions
    base = base_url(request)
    if process_id not in cache:
        cache[process_id] = {
            "inputs": process.inputs(ctx),
            "outputs": {k: v.describe() for k, v in process.outputs.items()},
            "example": dict(process.example),
        }
    return JSONResponse({**summary_doc(process, base), **cache[process_id]})
