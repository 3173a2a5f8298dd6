"""ASGI middleware: request ids, JSON access logs, a catch-all 500 without stack traces, and the body limit."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import ApiError
from .logs import REQUEST_ID, log

__all__ = ["BodyLimitMiddleware", "RequestContextMiddleware"]

_SAFE_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")


async def _send_problem(send: Send, error: ApiError) -> None:
    body = json.dumps(error.document()).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestContextMiddleware:
    """Give every request an id (``X-Request-ID``, taken from the client when safe), log it, and catch crashes.

    An unexpected exception is logged with its traceback and the request id, and answered
    with a 500 problem document that carries the request id and no stack trace.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request inside its request-id context."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _SAFE_ID.match(given) else uuid.uuid4().hex
        token = REQUEST_ID.set(request_id)
        state: dict[str, Any] = {"status": 500, "started": False}
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                state["started"] = True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception(
                "unexpected error", extra={"path": scope.get("path"), "method": scope.get("method")}
            )
            if not state["started"]:
                await _send_problem(
                    send_with_id,
                    ApiError(500, "internal-error", "an unexpected error occurred; quote the request id"),
                )
        finally:
            log.info(
                "request",
                extra={
                    "method": scope.get("method"),
                    "path": scope.get("path"),
                    "status": state["status"],
                    "ms": round((time.perf_counter() - start) * 1000, 1),
                    "client": (scope.get("client") or ("-",))[0],
                },
            )
            REQUEST_ID.reset(token)


class BodyLimitMiddleware:
    """Refuse request bodies larger than ``max_bytes`` with 413 (checked on Content-Length and while reading)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> ApiError:
        return ApiError(
            413,
            "body-too-large",
            f"the request body is larger than {self.max_bytes:,} bytes",
            extra={"limit_bytes": self.max_bytes, "fix": "send fewer features, or a server-held study area"},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Read the whole body (up to the limit) and replay it to the app."""
        if scope["type"] != "http" or scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await _send_problem(send, self._too_large())
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _send_problem(send, self._too_large())
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
