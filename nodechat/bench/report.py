"""The results of a ``nodechat bench`` run: the workers' answers summed, the verdict, the text.

A run is INVALID when the generator, not the server, may have been the
bottleneck: a worker used 90 % of a core or more in the measured window, or
its send timetable lagged (p99 over 50 ms), so latencies and rates say more
about the generator than about the server. It FAILED when acked messages did
not reach every member connection (lost) or reached one twice (duplicated).
"""

from __future__ import annotations

import os
import platform
from array import array
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from nodechat import __version__
from nodechat.bench.histogram import Histogram

WORKER_CPU_LIMIT = 90.0  # % of one core
LAG_P99_LIMIT_MS = 50.0


def merge_acked(runs: Sequence[Mapping[str, Any]]) -> dict[str, bytes]:
    """Every worker's acked seqs, per conversation (as ``array('q')`` bytes)."""
    acked: dict[str, array[int]] = {}
    for run in runs:
        for conv, raw in run["acked"].items():
            acked.setdefault(conv, array("q")).frombytes(raw)
    return {conv: seqs.tobytes() for conv, seqs in acked.items()}


def _histogram(answers: Sequence[Mapping[str, Any]], key: str) -> Histogram:
    total = Histogram()
    for answer in answers:
        total.merge(Histogram.load(answer[key]))
    return total


def _sum(answers: Sequence[Mapping[str, Any]], key: str) -> Counter[str]:
    total: Counter[str] = Counter()
    for answer in answers:
        total.update(answer[key])
    return total


def environment() -> dict[str, Any]:
    """Where the generator ran."""
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(
                (line.split(":", 1)[1].strip() for line in f if line.startswith("model name")),
                model,
            )
    except OSError:
        pass
    return {
        "nodechat": __version__,
        "python": platform.python_version(),
        "nproc": os.cpu_count(),
        "cpu_model": model,
    }


def cpu_summary(cpu: Mapping[str, float | None], workers: int) -> dict[str, Any]:
    """CPU % (100 = one core) of the generator's workers, the generator, its own server (or
    None) and the machine, over one interval."""
    per_worker = [cpu.get(f"worker{i}") for i in range(workers)]
    return {
        "generator_workers_pct": per_worker,
        "generator_pct": round(sum(w or 0.0 for w in per_worker) + (cpu.get("parent") or 0.0), 1),
        "server_pct": cpu.get("server"),
        "machine_busy_pct": cpu.get("machine"),
        "cores": os.cpu_count(),
    }


def build(
    *,
    config: dict[str, Any],
    provision: dict[str, Any],
    connect: dict[str, Any],
    runs: Sequence[Mapping[str, Any]],
    collects: Sequence[Mapping[str, Any]],
    cpu: Mapping[str, float | None],
    duration: float,
    server: dict[str, Any] | None,
) -> dict[str, Any]:
    """The report (the ``--json`` document)."""
    counters = _sum(collects, "counters")
    errors = _sum(collects, "errors")
    closed = _sum(collects, "closed")
    lag = _histogram(runs, "send_lag")
    summary = cpu_summary(cpu, len(runs))
    workers = summary["generator_workers_pct"]
    messages = {
        "sent": counters["sent"],
        "acked": counters["acked"],
        "unacked": sum(r["unacked"] for r in runs),
        "expected_deliveries": sum(c["expected"] for c in collects),
        "deliveries": sum(c["delivered_acked"] for c in collects),
        "lost": sum(c["lost"] for c in collects),
        "lost_on_closed_connections": sum(c["lost_on_closed"] for c in collects),
        "duplicated": sum(c["duplicates"] for c in collects),
        "duplicate_acks": counters["duplicate_acks"],
        "other_deliveries": sum(c["others"] for c in collects),
    }
    reasons = []
    busy = [(i, w) for i, w in enumerate(workers) if w is not None and w >= WORKER_CPU_LIMIT]
    if busy:
        reasons.append(
            "generator saturated: worker CPU "
            + ", ".join(f"{w:.0f} %" for _, w in busy)
            + f" of a core (limit {WORKER_CPU_LIMIT:.0f} %); use more --workers"
        )
    lag_p99 = lag.summary_ms()["p99"]
    if lag_p99 is not None and lag_p99 > LAG_P99_LIMIT_MS:
        why = "the generator could not keep up"
        machine, cores = summary["machine_busy_pct"], summary["cores"] or 1
        if machine is not None and machine >= 0.95 * 100 * cores:
            why += f" (the machine was saturated: {machine:.0f} % of {100 * cores} %)"
        reasons.append(
            f"send schedule lagging: p99 {lag_p99:.1f} ms behind the timetable (limit "
            f"{LAG_P99_LIMIT_MS:.0f} ms); {why}"
        )
    failed = messages["lost"] > 0 or messages["duplicated"] > 0
    return {
        "valid": not reasons,
        "invalid_reasons": reasons,
        "passed": not failed,
        "config": config,
        "environment": environment(),
        "provision": provision,
        "connect": connect,
        "measured_s": round(duration, 3),
        "offered_per_s": round(counters["scheduled_in_window"] / duration, 1),
        "achieved_per_s": round(counters["sent_in_window"] / duration, 1),
        "acks_per_s": round(counters["acked_in_window"] / duration, 1),
        "deliveries_per_s": round(counters["delivered_in_window"] / duration, 1),
        "latency_ms": {
            "send_to_ack": _histogram(runs, "ack_latency").summary_ms(),
            "send_to_deliver": _histogram(collects, "deliver_latency").summary_ms(),
        },
        "messages": messages,
        "errors": dict(sorted(errors.items())),
        "closed_connections": dict(sorted(closed.items())),
        "send_lag_ms": lag.summary_ms(),
        "cpu": summary,
        "server": server,
    }


def _lat(summary: Mapping[str, Any]) -> str:
    if not summary["count"]:
        return "no samples"
    return " ".join(f"{k} {summary[k]:.2f}" for k in ("p50", "p95", "p99", "max")) + " ms"


def _pct(value: float | None) -> str:
    return f"{value:.0f} %" if value is not None else "not measured"


def text(report: Mapping[str, Any]) -> str:
    """The human summary."""
    cfg, msg, cpu, conn = report["config"], report["messages"], report["cpu"], report["connect"]
    verdict = "VALID" if report["valid"] else "INVALID"
    outcome = "PASS" if report["passed"] else "FAIL"
    lines = [
        f"nodechat bench: {cfg['connections']} connections over {len(cfg['urls'])} URL(s), "
        f"{cfg['groups']} group(s), {cfg['senders']} senders, {cfg['rate']:g} msg/s offered, "
        f"{report['measured_s']:g} s measured after {cfg['warmup_s']:g} s warm-up, "
        f"{cfg['workers']} worker(s)",
        f"connect+authenticate: {conn['connected']}/{cfg['connections']} in "
        f"{conn['seconds']:.2f} s ({conn['per_s']:.0f}/s; CPU: generator "
        f"{conn['cpu']['generator_pct']:.0f} %, server {_pct(conn['cpu']['server_pct'])})"
        + (f", failed {conn['failed']}" if conn["failed"] else ""),
        f"msgs/s  offered {report['offered_per_s']:,.1f}  achieved {report['achieved_per_s']:,.1f}"
        f"  acks {report['acks_per_s']:,.1f}  deliveries {report['deliveries_per_s']:,.1f}",
        f"send->ack      {_lat(report['latency_ms']['send_to_ack'])}",
        f"send->deliver  {_lat(report['latency_ms']['send_to_deliver'])}",
        f"messages: sent {msg['sent']:,}, acked {msg['acked']:,}, unacked {msg['unacked']:,}; "
        f"deliveries {msg['deliveries']:,} of {msg['expected_deliveries']:,} expected, "
        f"lost {msg['lost']:,}, duplicated {msg['duplicated']:,}",
    ]
    if report["errors"]:
        lines.append(f"errors: {report['errors']}")
    if report["closed_connections"]:
        lines.append(f"connections closed by the server: {report['closed_connections']}")
    workers = ", ".join(f"{w:.0f}" if w is not None else "?" for w in cpu["generator_workers_pct"])
    server = _pct(cpu["server_pct"])
    lines.append(
        f"CPU (100 % = one core): generator workers {workers} %, server {server}, machine "
        f"{cpu['machine_busy_pct']} % of {cpu['cores'] * 100} %; send lag p99 "
        f"{report['send_lag_ms']['p99']} ms"
    )
    lines.append(f"run: {verdict}, {outcome}")
    lines.extend(f"  INVALID: {reason}" for reason in report["invalid_reasons"])
    return "\n".join(lines)
