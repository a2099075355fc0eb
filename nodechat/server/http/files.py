"""The byte-stream routes of the HTTP API: file upload, download and the caller's list.

Not generated from the op table (their bodies are bytes, not JSON), but
authenticated with the same bearer token, answering errors the same way and
described in the same OpenAPI document (:func:`file_paths`).

``POST /api/v1/files?name=…`` takes the file as the raw request body (any
``Content-Type``, which is ignored: the type is sniffed); ``GET
/api/v1/files/{id}`` streams it back as an attachment with the sniffed type and
``nosniff``; ``GET /api/v1/files`` lists the caller's files and usage.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from aiohttp import web

from nodechat.errors import ChatError, InvalidRequest
from nodechat.server.http.decode import bearer_token
from nodechat.server.http.errors import json_response
from nodechat.services.api import FileService, Services
from nodechat.services.files import file_too_large

log = logging.getLogger(__name__)

FILES_PATH = "/api/v1/files"
CHUNK = 64 * 1024
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]")  # what a quoted ASCII filename may keep
FILE_CSP = "default-src 'none'; sandbox"  # a file opened in a browser runs nothing


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII fallback name and the exact one in RFC 5987 form."""
    ascii_name = _UNSAFE.sub("_", name).strip() or "file"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


async def _body(request: web.Request) -> AsyncIterator[bytes]:
    async for chunk in request.content.iter_chunked(CHUNK):
        yield chunk


def add_file_routes(app: web.Application, services: Services, max_size: int) -> None:
    """Add the three file routes to ``app`` (``services.files`` must be set)."""
    files: FileService | None = services.files
    if files is None:
        return
    service: FileService = files

    async def upload(request: web.Request) -> web.StreamResponse:
        identity = await services.auth.authenticate(bearer_token(request))
        name = request.query.get("name", "")
        if not 1 <= len(name) <= 1024:
            raise InvalidRequest("name (1-1024 characters) is required", field="name")
        if request.content_length is not None and request.content_length > max_size:
            raise file_too_large(max_size)  # said up front: no need to read it
        record = await service.upload(identity, name, _body(request))
        return json_response(record.to_dict(), 201)

    async def listing(request: web.Request) -> web.StreamResponse:
        identity = await services.auth.authenticate(bearer_token(request))
        return json_response((await service.list_files(identity)).to_dict())

    async def download(request: web.Request) -> web.StreamResponse:
        identity = await services.auth.authenticate(bearer_token(request))
        record, chunks = await service.download(identity, request.match_info["file_id"])
        first = await anext(chunks, b"")  # a missing blob fails here, before any header
        response = web.StreamResponse(
            headers={
                "Content-Type": record.content_type,
                "Content-Disposition": content_disposition(record.name),
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": FILE_CSP,
                "Cache-Control": "private, no-store",
            }
        )
        response.content_length = record.size
        await response.prepare(request)
        try:
            await response.write(first)
            async for chunk in chunks:
                await response.write(chunk)
        except (ChatError, OSError):
            # the headers are out: an error body is impossible, so the connection is cut
            # and the client sees a short read, never a wrong file
            log.warning("download of %s broke off", record.id, exc_info=True)
            if request.transport is not None:
                request.transport.close()
            return response
        await response.write_eof()
        return response

    app.router.add_post(FILES_PATH, upload, name="file_upload")
    app.router.add_get(FILES_PATH, listing, name="file_list")
    app.router.add_get(FILES_PATH + "/{file_id}", download, name="file_download")


def _errors(*codes: str) -> dict[str, Any]:
    names = {
        "400": "BadRequest",
        "401": "Unauthenticated",
        "404": "NotFound",
        "413": "PayloadTooLarge",
        "429": "RateLimited",
        "500": "Internal",
        "503": "Unavailable",
    }
    return {code: {"$ref": f"#/components/responses/{names[code]}"} for code in codes}


def _json(name: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}


def file_paths() -> dict[str, dict[str, Any]]:
    """The OpenAPI path items of the file routes."""
    security: list[dict[str, list[str]]] = [{"bearerAuth": []}]
    return {
        FILES_PATH: {
            "post": {
                "operationId": "file_upload",
                "summary": "Upload a file (the raw body; its type is sniffed, not trusted)",
                "description": "The request body is the file's bytes, streamed; its "
                "`Content-Type` is ignored. 413 `file_too_large` past `files.max_size`, "
                "413 `quota_exceeded` past the caller's quota; nothing is kept then. Attach "
                "the returned id with `message.send`'s `attachments`; an upload never "
                "attached is deleted after `files.unattached_ttl`.",
                "tags": ["files"],
                "parameters": [
                    {
                        "name": "name",
                        "in": "query",
                        "required": True,
                        "description": "the file's name (its last path part is kept)",
                        "schema": {"type": "string", "minLength": 1, "maxLength": 1024},
                    }
                ],
                "requestBody": {
                    "description": "the file's bytes; an empty body stores an empty file",
                    "required": False,
                    "content": {
                        "application/octet-stream": {
                            "schema": {"type": "string", "format": "binary"}
                        }
                    },
                },
                "responses": {
                    "201": {"description": "Stored", "content": _json("File")},
                    **_errors("400", "401", "413", "429", "500", "503"),
                },
                "security": security,
            },
            "get": {
                "operationId": "file_list",
                "summary": "Your files, newest first, with your usage and quota",
                "tags": ["files"],
                "responses": {
                    "200": {"description": "Success", "content": _json("FileList")},
                    **_errors("401", "429", "500", "503"),
                },
                "security": security,
            },
        },
        FILES_PATH + "/{file_id}": {
            "get": {
                "operationId": "file_download",
                "summary": "Download a file (members of its conversation; unattached: its owner)",
                "description": "The bytes, with the sniffed `Content-Type`, "
                "`Content-Disposition: attachment` and `X-Content-Type-Options: nosniff`. "
                "404 `file_not_found` alike for an absent file and one you may not read.",
                "tags": ["files"],
                "parameters": [
                    {
                        "name": "file_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "maxLength": 128},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "The file's bytes, with the sniffed type",
                        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    **_errors("401", "404", "429", "500", "503"),
                },
                "security": security,
            },
        },
    }
