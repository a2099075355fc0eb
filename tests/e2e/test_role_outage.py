"""The auth or the group role is down for 10 s or 30 s on a split deployment (SIGKILL, then
started again on the same address): meanwhile what needs it fails with the retryable
``service_unavailable`` and nothing else breaks; once it listens again, the same requests
succeed without restarting anything else. How fast that happens is measured by
benchmarks/outage_recovery.py, not here."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from nodechat.client import ChatClient, RequestFailed
from tests.e2e.cluster import register, spawn, start_split


@pytest.mark.parametrize(
    ("role", "outage"), [("auth", 10), ("auth", 30), ("group", 10), ("group", 30)]
)
async def test_a_data_role_outage(role: str, outage: float, tmp_path: Path, redis_url: str) -> None:
    cluster = start_split(tmp_path / "data", redis=redis_url)
    try:
        node = cluster.socket("socket1")
        ann, tokens = await register(node, "ann")
        notes = f"self:{tokens['user']['id']}"
        address = cluster.procs[role].address

        async def needs_the_role() -> None:
            if role == "auth":
                probe = await ChatClient.connect(node)
                try:
                    await probe.request("auth.login", login="ann", password="long password")
                finally:
                    await probe.close()
            else:
                await ann.request("group.create", name="probe")

        cluster.procs[role].kill()
        down_until = time.monotonic() + outage
        codes = set()
        while time.monotonic() < down_until:
            try:
                await needs_the_role()
            except RequestFailed as exc:
                codes.add(exc.code)
            else:
                raise AssertionError(f"a request that needs {role} succeeded while it was down")
            # what does not need the role goes on (messages need only the message role)
            await ann.request(
                "message.send", conversation=notes, body="meanwhile", nonce=str(time.monotonic())
            )
            await asyncio.sleep(1)
        assert codes == {"service_unavailable"}

        args = [role, "--listen", address, "--bus", redis_url]
        cluster.procs[role] = spawn(role, args, cluster.env)
        for _ in range(300):  # polls; benchmarks/outage_recovery.py measures the time
            try:
                await needs_the_role()
                break
            except RequestFailed as exc:
                assert exc.code == "service_unavailable"
                await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"{role} calls never succeeded after it came back")
        for proc in cluster.procs.values():
            assert proc.popen.poll() is None, f"{proc.name} died"
            assert "Traceback" not in "".join(proc.log), proc.name
        await ann.close()
    finally:
        cluster.stop()
