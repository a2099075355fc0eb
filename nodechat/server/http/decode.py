"""HTTP request → the validated ``data`` of one op, and the caller's identity.

Path segments, query parameters and JSON body fields are gathered into one
``data`` object and validated by the frame codec of protocol v1
(:func:`nodechat.protocol.frames.decode_request`), so the HTTP API has the
same field types, limits and error codes as the socket.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

import orjson
from aiohttp import web

from nodechat.errors import ChatError, InvalidRequest, Unauthenticated
from nodechat.protocol.frames import decode_request
from nodechat.server.forwarded import client_address
from nodechat.server.http.routes import Route

MAX_TOKEN = 4096  # the frame max of auth.authenticate's token
_INT = re.compile(r"-?[0-9]{1,16}")


def _unknown(route: Route, name: str, where: str) -> InvalidRequest:
    return InvalidRequest(f"{route.op}: unknown {where} {name[:64]!r}", field=name[:64])


def _query_value(route: Route, name: str, value: str) -> Any:
    if route.fields[name].kind == "int":
        if not _INT.fullmatch(value):
            raise InvalidRequest(f"{route.op}: field {name!r} must be an integer", field=name)
        return int(value)
    return value


async def read_body(route: Route, request: web.Request) -> dict[str, Any]:
    """The JSON object body of a request (``{}`` when empty); only declared fields."""
    raw = await request.read()  # raises HTTPRequestEntityTooLarge past client_max_size
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ChatError("request body is not valid JSON", code="bad_frame") from None
    if not isinstance(body, dict):
        raise ChatError("request body must be a JSON object", code="bad_frame")
    allowed = route.body_fields
    for name in body:
        if name not in allowed:
            raise _unknown(route, name, "field")
    return body


async def decode(route: Route, request: web.Request) -> dict[str, Any]:
    """Validated op data from the path, the query string and the body."""
    data: dict[str, Any] = {name: request.match_info[name] for name in route.path_fields}
    for name in sorted(set(request.query)):
        if name not in route.query:
            raise _unknown(route, name, "query parameter")
        values = request.query.getall(name)
        if len(values) > 1:
            raise InvalidRequest(
                f"{route.op}: query parameter {name!r} given more than once", field=name
            )
        data[name] = _query_value(route, name, values[0])
    if route.has_body:
        data.update(await read_body(route, request))
    return decode_request(orjson.dumps({"id": 0, "op": route.op, "data": data})).data


def bearer_token(request: web.Request) -> str:
    """The access token of ``Authorization: Bearer <token>``."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("send the access token as 'Authorization: Bearer <token>'")
    if len(token) > MAX_TOKEN:
        raise Unauthenticated("the access token is malformed", code="invalid_token")
    return token


def request_address(request: web.Request, trusted_proxies: Collection[str], header: str) -> str:
    """The client's address; behind a trusted proxy, the one the proxy names."""
    return client_address(
        request.remote or "", trusted_proxies, header, request.headers.getall(header, [])
    )
