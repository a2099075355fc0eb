"""A small client library for protocol v1 (used by the terminal client, tools and tests).

async with await ChatClient.connect("ws://127.0.0.1:7801/") as client:
    tokens = await client.request("auth.login", login="ann", password="…")
    ready = await client.authenticate(tokens["access_token"])
    await client.request("message.send", conversation=cid, body="hi", nonce="n1")
    event = await client.next_event("message.created")
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from types import TracebackType
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from nodechat.errors import ChatError, Unavailable

MEDIA_QUEUE = 500  # binary frames kept for the reader (10 s of one speaker)


class RequestFailed(ChatError):
    """The server answered a request with an error frame."""


class ChatClient:
    """One WebSocket connection speaking protocol v1."""

    def __init__(self, ws: ClientConnection, hello: dict[str, Any]) -> None:
        self.ws = ws
        self.hello = hello
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.errors: list[dict[str, Any]] = []  # connection-level error frames
        # binary frames (voice media), with their arrival on the loop clock; bounded: a
        # reader that stops taking them loses the oldest
        self.media: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(MEDIA_QUEUE)
        self.media_dropped = 0
        self._ids = itertools.count(1)
        self._pending: dict[int | str, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def connect(cls, url: str, *, timeout: float = 10.0, **kwargs: Any) -> ChatClient:
        """Open a connection and read the server's hello."""
        ws = await asyncio.wait_for(
            connect(url, compression=None, max_size=2**22, **kwargs), timeout
        )
        hello = orjson.loads(await asyncio.wait_for(ws.recv(), timeout))
        if hello.get("type") != "hello":
            await ws.close()
            raise Unavailable("the server did not greet with a hello frame", code="bad_server")
        return cls(ws, hello)

    async def __aenter__(self) -> ChatClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _read(self) -> None:
        try:
            loop = asyncio.get_running_loop()
            async for raw in self.ws:
                if isinstance(raw, bytes):
                    if self.media.full():
                        self.media.get_nowait()
                        self.media_dropped += 1
                    self.media.put_nowait((loop.time(), raw))
                    continue
                frame = orjson.loads(raw)
                kind = frame.get("type")
                if kind == "reply":
                    future = self._pending.pop(frame.get("id"), None)
                    if future is not None and not future.done():
                        future.set_result(frame)
                elif kind == "event":
                    self.events.put_nowait(frame)
                elif kind == "error":
                    self.errors.append(frame["error"])
        except ConnectionClosed:
            pass
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(Unavailable("connection closed", code="disconnected"))
            self._pending.clear()

    async def send_raw(self, frame: str | bytes) -> None:
        """Send a frame as is (for tools and tests)."""
        await self.ws.send(frame)

    async def request_frame(
        self, op: str, data: dict[str, Any] | None = None, *, timeout: float = 30.0
    ) -> dict[str, Any]:
        """Send one request and return the whole reply frame (ok or not)."""
        rid = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = future
        payload = {"id": rid, "op": op, "data": data or {}}
        try:
            await self.ws.send(orjson.dumps(payload).decode())
            return await asyncio.wait_for(future, timeout)
        except ConnectionClosed as exc:
            raise Unavailable("connection closed", code="disconnected") from exc
        finally:
            self._pending.pop(rid, None)
            if not future.done():
                future.cancel()

    async def request(self, op: str, /, **data: Any) -> Any:
        """Send one request; return its ``data`` or raise :class:`RequestFailed`."""
        frame = await self.request_frame(op, {k: v for k, v in data.items() if v is not None})
        if frame.get("ok"):
            return frame.get("data")
        error = dict(frame.get("error") or {})
        code = error.pop("code", "error")
        message = error.pop("message", code)
        raise RequestFailed(message, code=code, **error)

    async def authenticate(self, token: str, resume: dict[str, int] | None = None) -> Any:
        """Authenticate the connection; return the ready snapshot."""
        return await self.request("auth.authenticate", token=token, resume=resume)

    async def next_event(self, kind: str | None = None, *, timeout: float = 5.0) -> dict[str, Any]:
        """The next event (of ``kind``, skipping others) within ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            frame = await asyncio.wait_for(self.events.get(), max(0.0, end - loop.time()))
            if kind is None or frame.get("event") == kind:
                return frame

    def drain_events(self) -> list[dict[str, Any]]:
        """Every event received so far and not yet taken."""
        out = []
        while not self.events.empty():
            out.append(self.events.get_nowait())
        return out

    @property
    def closed(self) -> bool:
        """Whether the connection has ended (the reader stopped)."""
        return self._reader.done()

    @property
    def close_code(self) -> int | None:
        """The WebSocket close code once closed (e.g. 4001 session revoked), else None."""
        return self.ws.close_code

    async def wait_closed(self) -> None:
        """Wait until the connection ends, from either side."""
        await asyncio.wait({self._reader})

    async def close(self) -> None:
        """Close the connection."""
        await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
