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
from nodechat.server.http.files import file_paths
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
        schema = {
            "type": "object",
            "maxProperties": 10_000,
            "propertyNames": {"maxLength": 200},
            "additionalProperties": {"type": "integer", "minimum": 0, "maximum": 2**53 - 1},
        }
    if not spec.required:
        schema["type"] = [schema["type"], "null"]
    return schema


def _parameters(route: Route) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = []
    for where, names in (("path", route.path_fields), ("query", route.query)):
        for name in names:
            spec = route.fields[name]
            # a parameter is a string on the wire; null is not a thing in a URL
            schema = ruled_schema(route.op, name, Field(spec.kind, True, spec.max_len))
            params.append(
                {
                    "name": name,
                    "in": where,
                    "required": where == "path" or spec.required,
                    "schema": schema,
                }
            )
    return params


# The services' own rules for human-entered fields (nodechat/services/auth.py and
# validate.py), stated in the schema so that what it calls valid the server accepts.
# Where a rule cannot be said exactly (lengths are checked after trimming), the
# schema says something stricter, never looser.
_NAME = {"maxLength": 100, "pattern": r"^[^\r\n\u0000]*\S[^\r\n\u0000]*$"}
_ONE_LINE = {"pattern": r"^[^\r\n\u0000]*$"}
_BODY = {"maxLength": 4000, "pattern": r"\S"}  # 1-4000 characters, not blank
FIELD_RULES: dict[tuple[str, str], Schema] = {
    ("auth.register", "username"): {"pattern": "^[A-Za-z0-9_.-]{3,32}$"},
    ("auth.register", "email"): {
        "maxLength": 254,
        # no space or control character; a dot inside the domain, not at its ends
        "pattern": r"^[^@\s\u0000-\u001f\u007f-\u009f]+@([^@\s.\u0000-\u001f\u007f-\u009f]+\.)+"
        r"[^@\s.\u0000-\u001f\u007f-\u009f]+$",
    },
    ("auth.register", "password"): {"minLength": 8, "maxLength": 256},
    ("auth.register", "display_name"): {**_NAME, "maxLength": 64},
    ("auth.change_password", "new_password"): {"minLength": 8, "maxLength": 256},
    ("group.create", "name"): _NAME,
    ("group.update", "name"): _NAME,
    ("channel.create", "name"): _NAME,
    ("channel.update", "name"): _NAME,
    ("channel.create", "topic"): {**_ONE_LINE, "maxLength": 500},
    ("channel.update", "topic"): {**_ONE_LINE, "maxLength": 500},
    ("group.create", "description"): {"maxLength": 1000},
    ("group.update", "description"): {"maxLength": 1000},
    ("user.update", "display_name"): {**_NAME, "maxLength": 64},
    ("user.update", "about"): {"maxLength": 190},
    ("channel.create", "kind"): {"enum": ["text", "voice", None]},
    ("member.set_role", "role"): {"enum": ["admin", "member"]},
    ("invite.create", "max_uses"): {"minimum": 1, "maximum": 1_000_000},
    ("invite.create", "expires_in"): {"minimum": 0, "maximum": 365 * 24 * 3600},
    ("message.send", "body"): _BODY,
    ("message.edit", "body"): _BODY,
    ("message.history", "limit"): {"minimum": 1, "maximum": 100},
    ("member.list", "limit"): {"minimum": 1, "maximum": 1000},
    ("message.history", "before"): {"minimum": 0},
    ("message.history", "after"): {"minimum": 0},
    ("message.send", "nonce"): {"minLength": 1, "maxLength": 64},
    ("message.send", "attachments"): {
        "maxItems": 10,
        "uniqueItems": True,
        "items": {"type": "string", "pattern": "^f_[0-9a-z]{22}$"},
    },
    # opaque to clients, but only the form member_cursor() gives can be one
    ("member.list", "after"): {"pattern": "^[0-9]{1,16}:."},
    ("channel.reorder", "channel_ids"): {"minItems": 1, "uniqueItems": True},
    # only the length: "one emoji" is a matter of Unicode categories (services/reactions.py)
    ("message.react", "emoji"): {"minLength": 1, "maxLength": 32},
    ("message.unreact", "emoji"): {"minLength": 1, "maxLength": 32},
    # a word in the query is a matter of Unicode categories (services/snippet.py)
    ("message.search", "query"): {"minLength": 1, "maxLength": 500},
    ("message.search", "limit"): {"minimum": 1, "maximum": 50},
    ("message.search", "before"): {"minimum": 0},
    ("message.search", "after"): {"minimum": 0},
    # opaque to clients, but only the form encode_cursor() gives can be one
    ("message.search", "cursor"): {"pattern": "^[0-9]{1,3}[.][0-9]{1,16}$"},
}


def ruled_schema(op: str, name: str, spec: Field) -> Schema:
    """A field's schema with the service's rule for it, if any (FIELD_RULES)."""
    schema = field_schema(spec)
    rule = FIELD_RULES.get((op, name))
    if rule:
        schema = {**schema, **rule}
        if "maxLength" in rule:
            schema["maxLength"] = min(spec.max_len, rule["maxLength"])
    return schema


def _request_body(route: Route) -> dict[str, Any] | None:
    fields = route.body_fields
    if not fields:
        return None
    schema: Schema = {
        "type": "object",
        "properties": {name: ruled_schema(route.op, name, spec) for name, spec in fields.items()},
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
    if "/" in route.reply:  # a media type: JSON is this document, anything else text
        body: Schema = {"type": "object"} if route.reply == _JSON else {"type": "string"}
        content: dict[str, Any] = {route.reply: {"schema": body}}
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
    paths.update(file_paths())
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
