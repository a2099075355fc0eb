"""CPU use from /proc: of processes by pid and of the whole machine (Linux only).

100 % is one core. A pid that is gone, or a system without /proc, reads as
no use at all rather than an error: the figures are reported, not relied on.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_ticks(pid: int) -> int:
    """utime + stime of a process, in clock ticks (0 if unreadable)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0
    return int(fields[11]) + int(fields[12])


def machine_ticks() -> tuple[int, int]:
    """(total, busy) clock ticks of every core since boot ((0, 0) if unreadable)."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
        idle = values[3] + (values[4] if len(values) > 4 else 0)
        return sum(values), sum(values) - idle
    return 0, 0


@dataclass(frozen=True)
class CpuSample:
    """Ticks of some processes (by name) and of the machine, at one moment."""

    t: float
    ticks: Mapping[str, int]
    machine: tuple[int, int]
    pids: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def take(cls, pids: Mapping[str, int]) -> CpuSample:
        """Read /proc now."""
        ticks = {name: process_ticks(pid) for name, pid in pids.items()}
        return cls(time.perf_counter(), ticks, machine_ticks(), dict(pids))


def usage(a: CpuSample, b: CpuSample) -> dict[str, float | None]:
    """Per process name, CPU % between two samples (100 = one core); ``machine`` is the
    whole machine's busy %, out of 100 x cores."""
    secs = b.t - a.t
    out: dict[str, float | None] = {}
    for name, ticks in b.ticks.items():
        used = ticks - a.ticks.get(name, 0)
        out[name] = round(100.0 * used / CLK_TCK / secs, 1) if secs > 0 else None
    total = b.machine[0] - a.machine[0]
    busy = b.machine[1] - a.machine[1]
    cores = os.cpu_count() or 1
    out["machine"] = round(100.0 * cores * busy / total, 1) if total > 0 else None
    return out
