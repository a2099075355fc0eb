#!/usr/bin/env python3
"""The baseline of benchmarks/compare.py: a bare websockets broadcast server.

One room holds every authenticated connection. A client's first text frame is
its token (``{"token": "..."}``); a right one is answered ``{"ok":true}`` and
the connection joins the room, a wrong one closes it with 4001. Every later
text frame is sent, unchanged, to every member (the sender too) with
``websockets.broadcast()``, so whatever the client embedded (its send time)
comes back byte for byte. No store, no ids, no JSON on the message path: the
least a WebSocket chat server in Python can do per delivery.

    python benchmarks/peers/raw_ws_server.py --port 0 --token SECRET
    # prints "listening on 127.0.0.1:PORT" once it accepts connections
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal

from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed


async def main(host: str, port: int, token: str) -> None:
    room: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        try:
            first = await asyncio.wait_for(ws.recv(), 30)
            if not isinstance(first, str) or json.loads(first).get("token") != token:
                await ws.close(4001, "bad token")
                return
            await ws.send('{"ok":true}')
            room.add(ws)
            async for message in ws:
                broadcast(room, message)
        except (ConnectionClosed, TimeoutError, ValueError):
            pass
        finally:
            room.discard(ws)

    # compression=None: no client of the comparison asks for permessage-deflate anyway
    async with serve(handler, host, port, compression=None, max_size=65536) as server:
        bound = next(iter(server.sockets)).getsockname()
        print(f"listening on {bound[0]}:{bound[1]}", flush=True)
        stop = asyncio.get_running_loop().create_future()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
        await stop


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--token", required=True)
    args = ap.parse_args()
    asyncio.run(main(args.host, args.port, args.token))
