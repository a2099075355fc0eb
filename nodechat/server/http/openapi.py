"""The OpenAPI 3.1 document of the gateway, generated from the route table.

Parameters and request bodies come from the op field specs of protocol v1
(types, required, maximum lengths), replies from the wire-form schemas, and
every operation lists the error responses with their shared error schema.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from nodechat import __version__
from nodechat.protocol.frames import MAX_LIST, Field
from nodechat.server.http.routes import ROUTES, SYSTEM_ROUTES, Route, SystemRoute
from nodechat.server.http.schemas import COMPONENTS, Schema, ref

OPENAPI_VERSION = "3.1.0"
SECURITY_SCHEME = "bearerAuth"
_JSON = "application/json"

_ERRORS: dict[str, tuple[str, str]] = {  # status → (component name, description)
    "400": (
        "BadRequest",
        "Invalid request: bad JSON, unknown or invalid field "
        "(`field` names it), or a specific `invalid_*` code",
    ),
    "401": ("Unauthenticated", "Missing, invalid or expired bearer token, or bad credentials"),
    "403": ("Forbidden", "Authenticated, but not allowed"),
    "404": ("NotFound", "Absent, or hidden from the caller"),
    "409": ("Conflict", "A unique value is taken, or the state does not allow this"),
    "413": ("PayloadTooLarge", "The request body is too large"),
    "429": ("RateLimited", "Slow down; see `Retry-After` and `retry_after`"),
    "500": ("Internal", "Server bug; details are only logged"),
    "503": ("Unavailable", "The server or a backend cannot serve now"),
}


def field_schema(spec: Field) -> Schema:
    """The JSON Schema of one op field (nullable when optional: null means absent)."""
    schema: Schema
    if spec.kind == "str":
        schema = {"type": "string", "maxLength": spec.max_len}
    elif spec.kind == "int":
        schema = {"type": "integer", "minimum": -(2**53), "maximum": 2**53 - 1}
    elif spec.kind == "bool":
        schema = {"type": "boolean"}
    elif spec.kind == "str_list":
        schema = {
            "type": "array",
            "maxItems": MAX_LIST,
            "items": {"type": "string", "maxLength": 128},
        }
    else:
        schema = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}
    if not spec.required:
        schema["type"] = [schema["type"], "null"]
    return schema


def _parameters(route: Route) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = []
    for where, names in (("path", route.path_fields), ("query", route.query)):
        for name in names:
            spec = route.fields[name]
            # a parameter is a string on the wire; null is not a thing in a URL
            schema = field_schema(Field(spec.kind, True, spec.max_len))
            params.append(
                {
                    "name": name,
                    "in": where,
                    "required": where == "path" or spec.required,
                    "schema": schema,
                }
            )
    return params


def _request_body(route: Route) -> dict[str, Any] | None:
    fields = route.body_fields
    if not fields:
        return None
    schema: Schema = {
        "type": "object",
        "properties": {name: field_schema(spec) for name, spec in fields.items()},
        "additionalProperties": False,
    }
    required = [name for name, spec in fields.items() if spec.required]
    if required:
        schema["required"] = required
    return {"required": bool(required), "content": {_JSON: {"schema": schema}}}


def _operation(route: Route) -> dict[str, Any]:
    status = "201" if route.created else "200"
    responses: dict[str, Any] = {
        status: {"description": "Success", "content": {_JSON: {"schema": ref(route.reply)}}}
    }
    if route.op == "message.send":
        responses["200"] = {
            "description": "The nonce was used before: the original message",
            "content": {_JSON: {"schema": ref(route.reply)}},
        }
    for code, (name, _) in _ERRORS.items():
        if code == "413" and not route.body_fields:
            continue
        responses[code] = {"$ref": f"#/components/responses/{name}"}
    op: dict[str, Any] = {
        "operationId": route.name,
        "summary": route.summary,
        "description": f"Protocol v1 op `{route.op}` (docs/protocol.md §4).",
        "tags": [route.tag],
        "parameters": _parameters(route),
        "responses": responses,
        "security": [{SECURITY_SCHEME: []}] if route.authenticated else [],
    }
    body = _request_body(route)
    if body is not None:
        op["requestBody"] = body
    return op


def _system_operation(route: SystemRoute) -> dict[str, Any]:
    if "/" in route.reply:
        content: dict[str, Any] = {route.reply: {"schema": {"type": "string"}}}
    else:
        content = {_JSON: {"schema": ref(route.reply)}}
    responses: dict[str, Any] = {"200": {"description": "Success", "content": content}}
    if route.name in ("gateway", "readyz", "healthz"):
        schema = ref(route.reply) if route.name != "gateway" else ref("Error")
        responses["503"] = {"description": "Not available", "content": {_JSON: {"schema": schema}}}
    return {
        "operationId": route.name,
        "summary": route.summary,
        "tags": ["system"],
        "responses": responses,
        "security": [],
    }


def build_openapi(
    routes: Iterable[Route] = ROUTES, system_routes: Iterable[SystemRoute] = SYSTEM_ROUTES
) -> dict[str, Any]:
    """The OpenAPI 3.1 document for these routes."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.url, {})[route.method.lower()] = _operation(route)
    for sys_route in system_routes:
        paths.setdefault(sys_route.path, {})[sys_route.method.lower()] = _system_operation(
            sys_route
        )
    error_content = {_JSON: {"schema": ref("Error")}}
    responses: dict[str, Any] = {
        name: {"description": text, "content": error_content} for name, text in _ERRORS.values()
    }
    responses["RateLimited"]["headers"] = {
        "Retry-After": {
            "description": "Seconds to wait before retrying",
            "schema": {"type": "integer"},
        }
    }
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "nodechat HTTP API",
            "version": __version__,
            "description": "The public HTTP/JSON API of nodechat: every non-realtime op of "
            "protocol v1, with the same fields, limits, replies and error "
            "codes. Realtime events need the WebSocket endpoint; "
            "`GET /api/gateway` says where to connect.",
        },
        "paths": paths,
        "components": {
            "schemas": COMPONENTS,
            "responses": responses,
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "The access token of auth/register, auth/login or auth/refresh",
                }
            },
        },
    }
