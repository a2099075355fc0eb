"""The generator's worker processes: start, command, gather, stop."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import time
from collections.abc import Callable
from typing import Any

from nodechat.bench.worker import worker_main

Progress = Callable[[int, dict[str, int]], None]


class WorkerFailed(RuntimeError):
    """A worker died, answered with an error, or did not answer in time."""


class Pool:
    """``n`` worker processes (spawned, so nothing of the parent's state is shared)."""

    def __init__(self, n: int) -> None:
        ctx = mp.get_context("spawn")
        self.progress = ctx.Queue()
        self.pipes: list[Any] = []
        self.procs: list[Any] = []
        for i in range(n):
            parent_end, child_end = ctx.Pipe()
            proc = ctx.Process(
                target=worker_main,
                args=(i, child_end, self.progress),
                daemon=True,
                name=f"nodechat-bench-{i}",
            )
            proc.start()
            self.pipes.append(parent_end)
            self.procs.append(proc)

    def ready(self, timeout: float = 60.0) -> None:
        """Wait until every worker has started (so its start-up is not timed as work)."""
        self.send([("hello", None)] * len(self.pipes))
        self.gather(timeout)

    def pids(self) -> dict[str, int]:
        """Worker name -> pid."""
        return {f"worker{i}": p.pid for i, p in enumerate(self.procs) if p.pid is not None}

    def send(self, cmds: list[tuple[str, Any]]) -> None:
        """One command to each worker."""
        for pipe, cmd in zip(self.pipes, cmds, strict=True):
            pipe.send(cmd)

    def pump(self, on_progress: Progress | None) -> None:
        """Hand the queued progress snapshots to ``on_progress``."""
        while on_progress is not None:
            try:
                index, snapshot = self.progress.get_nowait()
            except Exception:  # queue.Empty, or the queue is gone
                return
            on_progress(index, snapshot)

    def gather(self, timeout: float, on_progress: Progress | None = None) -> list[Any]:
        """Every worker's answer to the last command; ``WorkerFailed`` otherwise."""
        results: list[Any] = [None] * len(self.pipes)
        waiting = set(range(len(self.pipes)))
        end = time.monotonic() + timeout
        while waiting:
            if time.monotonic() > end:
                raise WorkerFailed(f"generator workers {sorted(waiting)} did not answer in time")
            self.pump(on_progress)
            for i in sorted(waiting):
                if self.pipes[i].poll(0.05 / len(self.pipes)):
                    status, value = self.pipes[i].recv()
                    if status != "ok":
                        raise WorkerFailed(f"generator worker {i}: {value}")
                    results[i] = value
                    waiting.discard(i)
                elif not self.procs[i].is_alive():
                    raise WorkerFailed(f"generator worker {i} died")
        self.pump(on_progress)
        return results

    def stop(self) -> None:
        """Ask every worker to close its connections and exit; terminate the stragglers."""
        with contextlib.suppress(Exception):
            self.send([("stop", None)] * len(self.pipes))
            self.gather(10.0)
        for proc in self.procs:
            proc.join(5)
            if proc.is_alive():
                proc.terminate()
                proc.join(5)
