"""Files for the chat client: upload a path, save an attachment, over the HTTP API.

The client talks WebSocket to a socket node; files go over HTTP (docs/protocol.md
§11.1). Where the API lives is the server's URL with an http(s) scheme: for
``ws://host:7801/`` (``nodechat serve``'s default ports) it is port 7800 of the
same host; for any other URL the same origin (behind a reverse proxy that
routes ``/api/`` to the gateway). A profile may name it (``--api-url``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp

from nodechat.errors import ChatError, InvalidRequest, NotFound, TooLarge, Unavailable

CHUNK = 64 * 1024
Progress = Callable[[int, int], None]  # (bytes done, bytes in all)


@dataclass(frozen=True, slots=True)
class FileRef:
    """An attachment as a message lists it."""

    id: str
    name: str
    size: int
    type: str

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> FileRef:
        """From ``{"id", "name", "size", "type"}``."""
        return cls(
            str(data["id"]),
            str(data.get("name") or "file"),
            int(data.get("size") or 0),
            str(data.get("type") or ""),
        )


def api_base(server: str) -> str:
    """The HTTP API origin that goes with a WebSocket server URL (see the module doc)."""
    parts = urlsplit(server)
    scheme = "https" if parts.scheme == "wss" else "http"
    host = parts.hostname or "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port == 7801 and parts.path in ("", "/"):
        port = 7800  # nodechat serve: --port 7801, --api-port 7800
    return f"{scheme}://{host}" + (f":{port}" if port else "")


def size_text(size: int) -> str:
    """``532 B``, ``1.2 KiB``, ``3.4 MiB``."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def free_path(wanted: Path) -> Path:
    """``wanted``, or ``name (1).ext``, ``name (2).ext``… if it exists: never overwrite."""
    if not wanted.exists():
        return wanted
    for n in range(1, 10_000):
        other = wanted.with_name(f"{wanted.stem} ({n}){wanted.suffix}")
        if not other.exists():
            return other
    raise InvalidRequest(f"{wanted} and its numbered variants all exist", code="file_exists")


def default_dir() -> Path:
    """Where saved files go by default: ~/Downloads if it exists, else the working directory."""
    downloads = Path.home() / "Downloads"
    return downloads if downloads.is_dir() else Path.cwd()


def _error(status: int, body: Any) -> ChatError:
    error = body.get("error", {}) if isinstance(body, dict) else {}
    code = str(error.get("code") or "http_error")
    message = str(error.get("message") or f"HTTP {status}")
    if status == 413:
        return TooLarge(message, code=code)
    if status == 404:
        return NotFound(message, code=code)
    if status >= 500:
        return Unavailable(message, code=code)
    return ChatError(message, code=code)


async def _reading(path: Path, total: int, progress: Progress | None) -> AsyncIterator[bytes]:
    done = 0
    with path.open("rb") as handle:
        while chunk := await asyncio.to_thread(handle.read, CHUNK):
            done += len(chunk)
            if progress is not None:
                progress(done, total)
            yield chunk


async def upload_file(
    api: str, token: str, path: Path, progress: Progress | None = None
) -> dict[str, Any]:
    """Upload the file at ``path``; the server's file record."""
    if not path.is_file():
        raise InvalidRequest(f"no such file: {path}", code="no_such_file")
    total = path.stat().st_size
    url = f"{api}/api/v1/files?name={quote(path.name, safe='')}"
    headers = {"Authorization": f"Bearer {token}", "Content-Length": str(total)}
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.post(url, data=_reading(path, total, progress), headers=headers) as resp,
        ):
            body = await resp.json(content_type=None)
            if resp.status != 201:
                raise _error(resp.status, body)
            return dict(body)
    except aiohttp.ClientError as exc:
        raise Unavailable(f"cannot reach the file API at {api}: {exc}") from exc


async def download_file(
    api: str, token: str, file: FileRef, dest: Path, progress: Progress | None = None
) -> Path:
    """Save a file to ``dest`` (a directory: its name inside it) without overwriting
    anything; the path written. A partial download leaves nothing."""
    target = free_path(dest / file.name if dest.is_dir() else dest)
    tmp = target.with_name(f".{target.name}.part")
    url = f"{api}/api/v1/files/{quote(file.id, safe='')}"
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(url, headers={"Authorization": f"Bearer {token}"}) as resp,
        ):
            if resp.status != 200:
                raise _error(resp.status, await resp.json(content_type=None))
            done = 0
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(fd, "wb") as out:
                    async for chunk in resp.content.iter_chunked(CHUNK):
                        await asyncio.to_thread(out.write, chunk)
                        done += len(chunk)
                        if progress is not None:
                            progress(done, file.size)
                target = free_path(target)  # something may have appeared meanwhile
                os.link(tmp, target)  # fails rather than overwrite, unlike rename
            finally:
                tmp.unlink(missing_ok=True)
    except aiohttp.ClientError as exc:
        raise Unavailable(f"cannot reach the file API at {api}: {exc}") from exc
    return target
