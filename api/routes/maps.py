"""The map page (local Leaflet, no tile server) and the open study-area resources it draws."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, Response

from ..errors import ApiError
from ..models import ProblemDoc
from ..studyareas import ServerAreas
from .ogc import base_url

__all__ = ["LEAFLET_DIR", "STATIC", "router"]

router = APIRouter()
STATIC = Path(__file__).resolve().parent.parent / "static"
#: Leaflet 1.9.4, bundled with the report assets of the core (package data of siting.reports).
LEAFLET_DIR = Path(str(files("siting.reports") / "assets" / "leaflet"))
_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png", ".html": "text/html"}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ProblemDoc, "description": "Not found."}}
CrsQuery = Annotated[Literal["wgs84", "cgcs2000", "gcj02"], Query(description="Output CRS.")]


def _areas(request: Request) -> ServerAreas:
    areas: ServerAreas = request.app.state.areas
    return areas


@router.get("/map", summary="Map page", response_class=HTMLResponse, include_in_schema=True)
async def map_page() -> HTMLResponse:
    """Show a Leaflet map of a study area's layers and a job's result: ``/map?job=ID`` or ``/map?area=demo:jiangbei``."""
    return HTMLResponse((STATIC / "map.html").read_text(encoding="utf-8"))


def _asset(folder: Path, name: str) -> FileResponse:
    path = (folder / name).resolve()
    if folder.resolve() not in path.parents or not path.is_file():
        raise ApiError(404, "not-found", f"no static file {name!r}")
    return FileResponse(path, media_type=_TYPES.get(path.suffix, "application/octet-stream"))


@router.get("/static/leaflet/{name:path}", summary="Leaflet assets", include_in_schema=False)
async def leaflet_asset(name: str) -> FileResponse:
    """Serve Leaflet's own files (local copy)."""
    if (LEAFLET_DIR / "leaflet.js").is_file():
        return _asset(LEAFLET_DIR, name)
    raise ApiError(404, "not-found", "Leaflet is not installed (siting/reports/assets/leaflet)")


@router.get("/static/{name}", summary="Map page assets", include_in_schema=False)
async def static_asset(name: str) -> FileResponse:
    """Serve the map page's script and style."""
    return _asset(STATIC, name)


@router.get("/studyareas", summary="Server-held study areas")
async def study_areas(request: Request) -> dict[str, Any]:
    """List the study areas held by the server (usable as the study_area input), with layer counts."""
    areas = _areas(request)
    base = base_url(request)
    return {
        "studyareas": [
            {
                "id": area_id,
                "title": area.name,
                "layers": {k: len(v) for k, v in area.layers.items()},
                "links": [
                    {"href": f"{base}/studyareas/{area_id}", "rel": "self", "type": "application/json"}
                ],
            }
            for area_id, area in areas.areas.items()
        ]
    }


@router.get("/studyareas/{area_id}", summary="A study area", responses=NOT_FOUND)
async def study_area(area_id: str, request: Request) -> dict[str, Any]:
    """Return the summary of a server-held study area and links to its layers."""
    area = _areas(request).get(area_id)
    base = base_url(request)
    summary = await run_in_threadpool(_areas(request).summary, area_id)
    links = [
        {
            "href": f"{base}/studyareas/{area_id}/layers/{name}",
            "rel": "item",
            "type": "application/geo+json",
            "title": name,
        }
        for name in area.layers
    ]
    return {"id": area_id, **summary, "links": links}


@router.get(
    "/studyareas/{area_id}/layers/{layer}",
    summary="A study-area layer as GeoJSON",
    response_class=Response,
    responses={200: {"content": {"application/geo+json": {"schema": {"type": "object"}}}}, **NOT_FOUND},
)
async def layer(area_id: str, layer: str, request: Request, crs: CrsQuery = "wgs84") -> Response:
    """Return one layer of a server-held study area (RFC 7946 lon/lat in ``crs``)."""
    body = await run_in_threadpool(_areas(request).layer_json, area_id, layer, crs)
    return Response(body, media_type="application/geo+json", headers={"Cache-Control": "max-age=3600"})
