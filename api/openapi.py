"""The OpenAPI 3.0 description served at ``/api`` (FastAPI writes 3.1 JSON Schema; this rewrites it)."""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI

__all__ = ["deref", "openapi_30"]


def deref(schema: dict[str, Any]) -> dict[str, Any]:
    """Inline every ``#/$defs/...`` reference of a pydantic JSON Schema (no ``$defs`` left)."""
    defs = schema.get("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                target = walk(copy.deepcopy(defs[ref.split("/")[-1]]))
                rest = {k: walk(v) for k, v in node.items() if k != "$ref"}
                return {**target, **rest}
            return {k: walk(v) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    out = walk(schema)
    assert isinstance(out, dict)
    return out


def _nullable(node: dict[str, Any]) -> dict[str, Any]:
    """``anyOf: [X, {type: null}]`` -> ``X`` with ``nullable: true``."""
    options = node.get("anyOf")
    if not isinstance(options, list) or not any(o == {"type": "null"} for o in options):
        return node
    rest = [o for o in options if o != {"type": "null"}]
    out = {k: v for k, v in node.items() if k != "anyOf"}
    if len(rest) == 1 and "$ref" not in rest[0]:
        out.update(rest[0])
    elif len(rest) == 1:
        out["allOf"] = rest
    else:
        out["anyOf"] = rest
    out["nullable"] = True
    return out


def _schema(node: Any) -> Any:
    """Rewrite one JSON Schema (2020-12) node as an OpenAPI 3.0 Schema Object, recursively."""
    if isinstance(node, list):
        return [_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    node = _nullable(node)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "const":
            out["enum"] = [value]
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
            out["minimum" if key == "exclusiveMinimum" else "maximum"] = value
            out[key] = True
        elif key == "examples" and isinstance(value, list):
            if value:
                out["example"] = value[0]
        elif key == "type" and isinstance(value, list):
            types = [t for t in value if t != "null"]
            out["type"] = types[0] if len(types) == 1 else "string"
            if "null" in value:
                out["nullable"] = True
        elif key in ("properties", "patternProperties", "$defs", "definitions"):
            out[key] = {k: _schema(v) for k, v in value.items()}
        else:
            out[key] = _schema(value)
    if "$ref" in out and len(out) > 1:
        ref = out.pop("$ref")
        out["allOf"] = [{"$ref": ref}]
    return out


def _walk(doc: Any) -> Any:
    """Rewrite every ``schema`` member and every component schema of an OpenAPI document."""
    if isinstance(doc, list):
        return [_walk(v) for v in doc]
    if not isinstance(doc, dict):
        return doc
    out = {}
    for key, value in doc.items():
        if key == "schema":
            out[key] = _schema(value)
        elif key == "schemas" and isinstance(value, dict):
            out[key] = {k: _schema(v) for k, v in value.items()}
        else:
            out[key] = _walk(value)
    return out


def _problem_responses(doc: dict[str, Any]) -> None:
    """Every error here is a problem document: replace FastAPI's default 422 schema by ProblemDoc."""
    ref = {"$ref": "#/components/schemas/ProblemDoc"}
    for item in doc.get("paths", {}).values():
        for op in item.values():
            for status, resp in op.get("responses", {}).items():
                media = resp.get("content", {}).get("application/json", {})
                if "HTTPValidationError" in str(media.get("schema", "")) or (
                    status.startswith(("4", "5")) and not media.get("schema")
                ):
                    resp["content"] = {"application/json": {"schema": ref}}
    schemas = doc.get("components", {}).get("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)


def openapi_30(app: FastAPI) -> dict[str, Any]:
    """Return the app's OpenAPI description as OpenAPI 3.0.3 (cached on the app)."""
    cached = getattr(app.state, "openapi_30", None)
    if cached is None:
        doc = _walk(app.openapi())
        _problem_responses(doc)
        doc["openapi"] = "3.0.3"
        app.state.openapi_30 = doc
        cached = doc
    return dict(cached)
