"""Metrics: one registry per instance, Prometheus text, timing helper (no sockets)."""

from __future__ import annotations

import pytest

from nodechat.server.metrics import Metrics


def _value(m: Metrics, name: str, **labels: str) -> float | None:
    return m.registry.get_sample_value(name, labels)


def test_instances_do_not_share_a_registry() -> None:
    a, b = Metrics(), Metrics()  # the global registry would refuse the second
    a.message_received(3)
    assert _value(a, "nodechat_messages_in_total") == 3
    assert _value(b, "nodechat_messages_in_total") == 0


def test_render_has_every_metric() -> None:
    m = Metrics()
    m.connection_opened()
    m.connection_opened()
    m.connection_closed()
    m.session_started()
    m.messages_delivered(5)
    m.error("not_found")
    m.observe_http("GET", "/api/v1/groups", 200, 0.01)
    text = m.render().decode()
    for line in (
        "nodechat_connections 1.0",
        "nodechat_sessions 1.0",
        "nodechat_messages_out_total 5.0",
        'nodechat_errors_total{code="not_found"} 1.0',
        'nodechat_http_requests_total{method="GET",route="/api/v1/groups",status="200"}',
        "nodechat_http_latency_seconds_bucket",
        "nodechat_build_info{version=",
    ):
        assert line in text, line


async def test_time_rpc_records_success_and_failure() -> None:
    m = Metrics()

    async def ok() -> int:
        return 7

    async def fail() -> int:
        raise RuntimeError("down")

    assert await m.time_rpc("auth.login", ok()) == 7
    with pytest.raises(RuntimeError):
        await m.time_rpc("auth.login", fail())
    assert _value(m, "nodechat_rpc_latency_seconds_count", method="auth.login") == 2
