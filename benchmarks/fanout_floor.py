#!/usr/bin/env python3
"""The floor under any fan-out here: one ``write()`` per recipient, nothing else.

No WebSocket library, no event loop, no JSON: ``--clients`` loopback TCP
connections (TCP_NODELAY, non-blocking, as asyncio sets them up), a reader
process draining them all with one ``epoll`` every 50 ms (as the compare
generator reads its counting connections), and a loop of ``os.write`` of one
``--size``-byte frame to every connection, ``--rate`` times a second for
``--rounds`` rounds. ``--threads 2`` splits each round over two threads (the
GIL is released around each ``write``).

It prints the CPU per delivery of the writing process (user + system, the
kernel's TCP send path charged to the sender) and the wall time of one fan-out
round. A chat server cannot deliver a message to N sockets for less than N
times that CPU: benchmarks/compare.py's "server CPU per delivery" of raw
websockets and nodechat are to be read against it (docs/performance.md).

    python benchmarks/fanout_floor.py --clients 1000 --rate 25 --rounds 500
    python benchmarks/fanout_floor.py --clients 10000 --rate 10 --rounds 30 --threads 2
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import resource
import select
import socket
import threading
import time


def drain(port: int, clients: int, ready: mp.synchronize.Event) -> None:
    conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(clients)]
    poller = select.epoll()
    by_fd = {}
    for conn in conns:
        conn.setblocking(False)
        poller.register(conn.fileno(), select.EPOLLIN)
        by_fd[conn.fileno()] = conn
    ready.set()
    while True:
        for fd, _ in poller.poll(0.05):
            with contextlib.suppress(BlockingIOError):
                by_fd[fd].recv(1 << 20)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=25.0, help="fan-out rounds per second")
    ap.add_argument("--rounds", type=int, default=500)
    ap.add_argument("--size", type=int, default=400, help="bytes per delivery")
    ap.add_argument("--threads", type=int, default=1, choices=(1, 2))
    args = ap.parse_args()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4096)
    ready = mp.Event()
    reader = mp.Process(
        target=drain, args=(listener.getsockname()[1], args.clients, ready), daemon=True
    )
    reader.start()
    fds: list[int] = []
    socks = []
    while len(fds) < args.clients:
        conn, _ = listener.accept()
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        socks.append(conn)
        fds.append(conn.fileno())
    ready.wait()
    frame = b"x" * args.size
    write = os.write
    unsent = 0

    def send(part: list[int]) -> None:
        nonlocal unsent
        for fd in part:
            try:
                write(fd, frame)
            except BlockingIOError:
                unsent += 1

    half = fds[: len(fds) // 2], fds[len(fds) // 2 :]
    walls: list[float] = []
    period = 1.0 / args.rate
    cpu0 = time.process_time()
    for _ in range(args.rounds):
        started = time.perf_counter()
        if args.threads == 1:
            send(fds)
        else:
            other = threading.Thread(target=send, args=(half[1],))
            other.start()
            send(half[0])
            other.join()
        wall = time.perf_counter() - started
        walls.append(wall)
        time.sleep(max(0.0, period - wall))
    cpu = time.process_time() - cpu0
    reader.terminate()
    walls.sort()
    deliveries = args.rounds * args.clients
    print(
        f"{args.clients} connections, {args.rounds} rounds at {args.rate:g}/s, "
        f"{args.size} B, {args.threads} thread(s): CPU per delivery "
        f"{cpu / deliveries * 1e6:.2f} us; one round p50 {walls[len(walls) // 2] * 1e3:.1f} ms, "
        f"max {walls[-1] * 1e3:.1f} ms; {unsent} writes refused (socket buffer full)"
    )


if __name__ == "__main__":
    main()
