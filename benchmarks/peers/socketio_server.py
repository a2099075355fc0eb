#!/usr/bin/env python3
"""python-socketio peer of benchmarks/compare.py: AsyncServer on aiohttp.

The common asyncio production setup of python-socketio (``async_mode="aiohttp"``,
one process, aiohttp's own web server; aiohttp is already a nodechat
dependency, python-socketio comes with the ``bench`` extra). A client connects
to ``/socket.io/`` with Socket.IO's connect-time auth ``{"token": ...}``; a
wrong token is refused, a right one joins the room ``r``. Each ``msg`` event
is emitted to the whole room (the sender too) with the payload unchanged.

    pip install -e '.[bench]'
    python benchmarks/peers/socketio_server.py --port 0 --token SECRET
    # prints "listening on 127.0.0.1:PORT" once it accepts connections
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

import socketio
from aiohttp import web

ROOM = "r"


async def main(host: str, port: int, token: str) -> None:
    # Engine.IO's defaults (ping every 25 s) are kept; only websocket is offered, as
    # the generator never polls. Logging off, as in a production deployment.
    sio = socketio.AsyncServer(
        async_mode="aiohttp", transports=["websocket"], logger=False, engineio_logger=False
    )
    app = web.Application()
    sio.attach(app)

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> bool:
        if not isinstance(auth, dict) or auth.get("token") != token:
            return False
        await sio.enter_room(sid, ROOM)
        return True

    @sio.event
    async def msg(sid: str, body: Any) -> None:
        await sio.emit("msg", body, room=ROOM)

    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0]
    print(f"listening on {bound[0]}:{bound[1]}", flush=True)
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    await stop
    await runner.cleanup()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--token", required=True)
    args = ap.parse_args()
    asyncio.run(main(args.host, args.port, args.token))
