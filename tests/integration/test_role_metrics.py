"""The gRPC data roles serve /healthz, /readyz and /metrics; calls show up in the histograms."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from nodechat.config import load_settings
from nodechat.errors import NotFound
from nodechat.models import Identity
from nodechat.server.grpc import RemoteMessageService
from nodechat.server.metrics import Metrics
from nodechat.server.roles import DataRole


async def test_message_role_metrics(tmp_path: Path, redis_url: str) -> None:
    settings = load_settings(
        env={},
        overrides={
            "serve": {
                "data_dir": tmp_path,
                "store": f"sqlite:///{tmp_path / 'db'}",
                "bus": redis_url,
            },
            "node": {"listen": "127.0.0.1:0", "http": "127.0.0.1:0"},
            "rpc": {"service_token": "role-metrics-test-service-token"},
        },
    )
    role = DataRole("message", settings)
    await role.start()
    client_metrics = Metrics()
    client = RemoteMessageService(role.address, settings.rpc)
    client.rpc.observer = client_metrics.observe_call
    try:
        with pytest.raises(NotFound):
            await client.history(Identity("u_nobody", "s_x"), "self:u_somebody_else")
        assert await client.direct_peer_ids("u_nobody") == []
        ops = role.ops_url()
        assert ops is not None
        async with aiohttp.ClientSession() as web:
            async with web.get(f"{ops}/readyz") as response:
                assert response.status == 200
            async with web.get(f"{ops}/metrics") as response:
                text = await response.text()
        method = "nodechat.v1.MessageService/History"
        assert f'nodechat_rpc_latency_seconds_count{{method="{method}"}} 1.0' in text
        assert 'nodechat_errors_total{code="conversation_not_found"} 1.0' in text
        # No client connects to a data role: no connection or message gauges there.
        for name in ("connections", "sessions", "messages_in", "messages_out"):
            assert f"nodechat_{name}" not in text, name
        assert "nodechat_build_info" in text
        mine = client_metrics.render().decode()
        assert "nodechat_connections 0.0" in mine  # the default keeps them
        assert f'nodechat_rpc_latency_seconds_count{{method="{method}"}} 1.0' in mine
    finally:
        await client.close()
        await role.stop()
