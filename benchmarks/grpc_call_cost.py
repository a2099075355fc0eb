"""The CPU of one bare grpc.aio unary call on this machine, the unit the split connect is read in.

One process holds a grpc.aio server with a handler that returns at once and a
client calling it over 127.0.0.1, so the figure is client and server together,
without nodechat's interceptor, metadata or handlers:

    python benchmarks/grpc_call_cost.py [--calls 3000] [--concurrency 50]

It prints the CPU per call made one after another and made ``--concurrency``
at a time. A split session start made five such calls in turn before reads
were batched (docs/performance.md, "2026-12-04: connect storms, split").
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time
from typing import Any

import grpc
from google.protobuf.empty_pb2 import Empty


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def echo(request: Empty, context: Any) -> Empty:
    return Empty()


async def main(calls: int, concurrency: int) -> None:
    server = grpc.aio.server()
    handler = grpc.unary_unary_rpc_method_handler(
        echo, request_deserializer=Empty.FromString, response_serializer=Empty.SerializeToString
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("bench.S", {"M": handler}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        method = channel.unary_unary(
            "/bench.S/M",
            request_serializer=Empty.SerializeToString,
            response_deserializer=Empty.FromString,
        )
        for _ in range(200):  # warm up
            await method(Empty(), timeout=5)
        started, wall = cpu(), time.perf_counter()
        for _ in range(calls):
            await method(Empty(), timeout=5)
        print(
            f"one at a time: {1e6 * (cpu() - started) / calls:.0f} us CPU per call, "
            f"{1e6 * (time.perf_counter() - wall) / calls:.0f} us wall"
        )
        started = cpu()
        for _ in range(calls // concurrency):
            await asyncio.gather(*(method(Empty(), timeout=5) for _ in range(concurrency)))
        done = calls // concurrency * concurrency
        print(f"{concurrency} at a time: {1e6 * (cpu() - started) / done:.0f} us CPU per call")
    await server.stop(None)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=50)
    args = ap.parse_args()
    asyncio.run(main(args.calls, args.concurrency))
