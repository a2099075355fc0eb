"""Socket nodes behind one public URL print their own listen address and the public URL apart."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

from tests.e2e.cluster import start_split

PUBLIC = "ws://chat.example.test/ws"


def test_each_node_prints_its_listen_address_and_the_shared_public_url(
    tmp_path: Path, redis_url: str
) -> None:
    cluster = start_split(tmp_path / "data", sockets=2, redis=redis_url, public_url=PUBLIC)
    try:
        listening = []
        for name in ("socket1", "socket2"):
            log = "".join(cluster.procs[name].log)
            match = re.search(r"nodechat socket listening on (ws://127\.0\.0\.1:\d+/)", log)
            assert match, log
            listening.append(match.group(1))
            assert f"public URL (advertised by the gateway): {PUBLIC}" in log
            assert cluster.socket(name) == match.group(1)  # what the tests connect to
        assert listening[0] != listening[1]
        with urllib.request.urlopen(f"{cluster.gateway}/api/gateway", timeout=10) as reply:
            assert PUBLIC in json.dumps(json.loads(reply.read()))
    finally:
        cluster.stop()
