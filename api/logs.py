"""Structured JSON logs: one object a line, carrying the request id of the request being served."""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import sys
from typing import Any

__all__ = ["REQUEST_ID", "JsonFormatter", "configure_logging", "log"]

#: Request id of the request being served ("-" outside a request).
REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("siting_request_id", default="-")
log = logging.getLogger("siting.api")

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object: time, level, logger, message, request id and extras."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the JSON line of ``record`` (``extra=`` fields become members)."""
        doc: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or REQUEST_ID.get(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in doc:
                doc[key] = value
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str, ensure_ascii=False)


def configure_logging(level: str = "INFO") -> None:
    """Send the ``siting`` loggers to stderr as JSON lines (idempotent)."""
    root = logging.getLogger("siting")
    root.setLevel(level)
    if not any(getattr(h, "_siting_json", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler._siting_json = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        root.propagate = False
