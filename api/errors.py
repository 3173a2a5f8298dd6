"""Errors as RFC 7807 problem documents: siting's typed errors, validation errors and limits mapped to HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from siting.errors import InfeasibleError, InputError, Problem, SitingError, SolverError

from .logs import REQUEST_ID

__all__ = [
    "OGC",
    "ApiError",
    "error_document",
    "install_handlers",
    "invalid_input",
    "problem_response",
]

#: OGC API - Processes exception types; siting's own codes use ``urn:siting:error:<code>``.
OGC = "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/"
_OGC_CODES = {"no-such-process", "no-such-job", "result-not-ready"}
_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
}

PathMap = Callable[[str], str]


def type_uri(code: str) -> str:
    """Return the ``type`` member of a problem: an OGC exception URI, or ``urn:siting:error:<code>``."""
    return OGC + code if code in _OGC_CODES else f"urn:siting:error:{code}"


class ApiError(Exception):
    """An error answered as a problem document.

    Parameters
    ----------
    status : int
        HTTP status.
    code : str
        Short machine-readable code (``invalid-input``, ``no-such-job`` ...).
    detail : str
        What went wrong and how to fix it, in words.
    errors : sequence of mapping, optional
        One entry per field: ``path`` (``inputs.model.radius_m``), ``message``, ``fix``.
    headers : mapping, optional
        Extra response headers (``Retry-After``, ``WWW-Authenticate``).
    extra : mapping, optional
        More members of the document (``jobID`` ...).
    """

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        errors: Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.errors = list(errors or [])
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    def document(self) -> dict[str, Any]:
        """Return the problem document (``type``, ``title``, ``status``, ``detail``, ``request_id``, ``errors``)."""
        doc: dict[str, Any] = {
            "type": type_uri(self.code),
            "title": _TITLES.get(self.status, "Error"),
            "status": self.status,
            "detail": self.detail,
            "request_id": REQUEST_ID.get(),
        }
        if self.errors:
            doc["errors"] = self.errors
        doc.update(self.extra)
        return doc


def problem_response(error: ApiError) -> JSONResponse:
    """JSON response of an :class:`ApiError` with its headers."""
    return JSONResponse(error.document(), status_code=error.status, headers=error.headers)


def _entries(problems: Iterable[Problem], path: PathMap) -> list[dict[str, Any]]:
    out = []
    for p in problems:
        fix = p.fix or "check this value against the process description (GET /processes/{id})"
        entry: dict[str, Any] = {"path": path(p.where), "message": p.message, "fix": fix}
        if p.rows:
            entry["rows"] = list(p.rows[:20])
        out.append(entry)
    return out


def invalid_input(
    problems: Iterable[Problem], path: PathMap = str, *, title: str = "invalid input"
) -> ApiError:
    """422 listing every problem with its field path."""
    entries = _entries(problems, path)
    n = len(entries)
    return ApiError(422, "invalid-input", f"{title}: {n} problem{'s' if n != 1 else ''}", errors=entries)


def from_siting_error(exc: SitingError, path: PathMap = str) -> ApiError:
    """Map siting's typed errors: InputError 422, InfeasibleError 409, SolverError and others 500."""
    if isinstance(exc, InputError):
        return invalid_input(exc.problems, path, title=exc.title)
    if isinstance(exc, InfeasibleError):
        return ApiError(
            409,
            "infeasible",
            f"no plan satisfies every rule: {exc.reason}",
            extra={"reason": exc.reason, "fix": "relax the grid rule, p, the budget or the radius"},
        )
    if isinstance(exc, SolverError):
        return ApiError(500, "solver-error", f"the solver failed: {exc}")
    return ApiError(500, "internal-error", "an unexpected error occurred; quote the request id")


def error_document(error: ApiError) -> dict[str, Any]:
    """Return what a failed job stores: the problem document without the request's id."""
    doc = error.document()
    doc.pop("request_id", None)
    doc["code"] = error.code
    return doc


def _validation_entries(errors: Sequence[Any]) -> list[dict[str, Any]]:
    out = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ())]
        fix = "add it" if err.get("type") == "missing" else "see the API description at /api"
        out.append(
            {"path": ".".join(loc) or "request", "message": str(err.get("msg", "invalid")), "fix": fix}
        )
    return out


def install_handlers(app: FastAPI) -> None:
    """Answer ApiError, siting errors, request validation and HTTP errors with problem documents."""

    async def api_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return problem_response(exc)

    async def siting_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, SitingError)
        return problem_response(from_siting_error(exc))

    async def validation(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        entries = _validation_entries(exc.errors())
        return problem_response(
            ApiError(422, "invalid-request", f"invalid request: {len(entries)} problem(s)", errors=entries)
        )

    async def http_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        detail = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "error")
        if exc.status_code == 404:
            detail = "no such resource; start at / for the links"
        return problem_response(ApiError(exc.status_code, code, detail, headers=exc.headers))

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(SitingError, siting_error)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, http_error)
