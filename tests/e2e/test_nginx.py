"""A real nginx (deploy/nginx.conf) in front of two socket nodes and the gateway."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from nodechat.client import ChatClient
from tests.e2e.cluster import Cluster, start_split

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def nginx_config(cluster: Cluster, port: int, prefix: Path) -> str:
    """deploy/nginx.conf with this cluster's addresses, wrapped in a minimal main config."""
    site = (Path(__file__).parents[2] / "deploy" / "nginx.conf").read_text()
    sockets = "".join(
        f"    server {cluster.socket(n).removeprefix('ws://').rstrip('/')};\n"
        for n in ("socket1", "socket2")
    )
    site = re.sub(
        r"(upstream nodechat_socket \{\n    least_conn;[^\n]*\n)(    server [^\n]+\n)+",
        lambda m: m.group(1) + sockets,
        site,
    )
    gateway = cluster.gateway.removeprefix("http://")
    site = re.sub(
        r"(upstream nodechat_gateway \{\n)    server [^\n]+\n",
        lambda m: m.group(1) + f"    server {gateway};\n",
        site,
    )
    site = site.replace("listen 80;", f"listen 127.0.0.1:{port};")
    return f"""
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
daemon off;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
{site}
}}
"""


@pytest.fixture
def nginx_available() -> None:
    if not os.path.exists(NGINX):
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("nginx is required in CI (.ci/run installs it)")
        pytest.skip("nginx is not installed")


@pytest.fixture
def fronted(tmp_path: Path, redis_url: str, nginx_available: None) -> Iterator[tuple[str, Cluster]]:
    cluster = start_split(tmp_path / "data", redis=redis_url)
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    port = _free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(nginx_config(cluster, port, prefix))
    proc = subprocess.Popen(
        [NGINX, "-p", str(prefix), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        end = time.monotonic() + 10
        while time.monotonic() < end:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None:
                    raise AssertionError(
                        f"nginx failed: {proc.stderr.read() if proc.stderr else ''}"
                    ) from None
                time.sleep(0.05)
        yield f"127.0.0.1:{port}", cluster
    finally:
        proc.terminate()
        proc.wait(10)
        cluster.stop()


async def test_through_nginx(fronted: tuple[str, Cluster]) -> None:
    host, cluster = fronted
    async with aiohttp.ClientSession() as web:
        async with web.get(f"http://{host}/api/gateway") as response:
            assert response.status == 200
            urls = (await response.json())["urls"]
        assert len(urls) == 2
        async with web.get(f"http://{host}/openapi.json") as response:
            assert (await response.json())["openapi"].startswith("3.")
        async with web.post(
            f"http://{host}/api/v1/auth/register",
            json={"username": "ann", "email": "ann@example.test", "password": "long password"},
        ) as response:
            assert response.status == 201, await response.text()
            ann_tokens = await response.json()

    # many connections through the proxy: least_conn spreads them over both nodes
    clients = [await ChatClient.connect(f"ws://{host}/ws") for _ in range(6)]
    for client in clients:
        await client.authenticate(ann_tokens["access_token"])
    ack = await clients[0].request(
        "message.send", conversation=f"self:{ann_tokens['user']['id']}", body="via nginx", nonce="n"
    )
    for client in clients:  # every session of ann, on either node, gets it
        event = await client.next_event("message.created", timeout=10)
        assert event["data"]["seq"] == ack["seq"]
    per_node = []
    async with aiohttp.ClientSession() as web:
        for name in ("socket1", "socket2"):
            node = cluster.socket(name).replace("ws://", "http://").rstrip("/")
            async with web.get(f"{node}/metrics") as response:
                text = await response.text()
            per_node.append(float(re.search(r"^nodechat_sessions (\S+)$", text, re.M)[1]))
    assert sum(per_node) == 6 and all(per_node), per_node  # both nodes took clients
    await asyncio.gather(*(c.close() for c in clients))
