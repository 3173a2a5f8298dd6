"""API keys (``Authorization: Bearer KEY`` or ``X-API-Key: KEY``) and the per-key rate limit."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from .errors import ApiError
from .store import ApiKey

__all__ = ["RateLimiter", "require_key"]

_bearer = HTTPBearer(
    auto_error=False, description="Authorization: Bearer KEY (from `siting api-key create`)."
)
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="X-API-Key: KEY, the same key.")


class RateLimiter:
    """Sliding one-minute window per key, in memory (one server process per database).

    Parameters
    ----------
    per_minute : int
        Requests allowed per key in any 60 s.
    """

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, key_id: str, now: float | None = None) -> float:
        """Count a request; return 0 when allowed, else the seconds until the next one is."""
        t = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits.setdefault(key_id, deque())
            while hits and hits[0] <= t - 60.0:
                hits.popleft()
            if len(hits) >= self.per_minute:
                return max(hits[0] + 60.0 - t, 0.001)
            hits.append(t)
            return 0.0


def _unauthorized(detail: str) -> ApiError:
    return ApiError(
        401,
        "unauthorized",
        detail,
        headers={"WWW-Authenticate": 'Bearer realm="siting"'},
        extra={
            "fix": "send Authorization: Bearer KEY or X-API-Key: KEY; create one with `siting api-key create`"
        },
    )


async def require_key(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header_key: Annotated[str | None, Depends(_header)],
) -> ApiKey:
    """Authenticate the request's API key and apply its rate limit (401, 429 with Retry-After)."""
    presented = header_key or (bearer.credentials if bearer is not None else None)
    if not presented:
        raise _unauthorized("this endpoint needs an API key")
    store = request.app.state.store
    key = await run_in_threadpool(store.authenticate, presented.strip())
    if key is None:
        raise _unauthorized("unknown or revoked API key")
    wait = request.app.state.limiter.check(key.id)
    if wait > 0:
        limit = request.app.state.limiter.per_minute
        raise ApiError(
            429,
            "rate-limited",
            f"more than {limit} requests in a minute with this key; retry in {math.ceil(wait)} s",
            headers={"Retry-After": str(math.ceil(wait))},
            extra={"limit_per_minute": limit},
        )
    request.state.key = key
    return key


KeyDep = Annotated[ApiKey, Depends(require_key)]
