"""Start nodechat deployments as real processes for end-to-end tests."""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nodechat.client import ChatClient

NODECHAT = [sys.executable, "-m", "nodechat"]
READY = re.compile(r"(serving on|listening on|gateway on) (\S+)")


@dataclass
class Proc:
    """One running nodechat process and the address it announced."""

    name: str
    popen: subprocess.Popen[str]
    address: str
    log: list[str] = field(default_factory=list)
    args: list[str] = field(default_factory=list)  # what it was started with, for restarts

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(10)

    def terminate(self) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        return self.popen.returncode


def spawn(name: str, args: list[str], env: dict[str, str], timeout: float = 60.0) -> Proc:
    """Start ``nodechat *args`` and wait for the line that says where it listens."""
    popen = subprocess.Popen(
        [*NODECHAT, *args],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
    )
    assert popen.stderr is not None
    log: list[str] = []
    found: list[str] = []
    done = threading.Event()

    def pump() -> None:
        assert popen.stderr is not None
        for line in popen.stderr:
            log.append(line)
            match = READY.search(line)
            if match and not found:
                found.append(match.group(2))
                done.set()
        done.set()

    threading.Thread(target=pump, daemon=True).start()
    if not done.wait(timeout) or not found:
        popen.kill()
        raise AssertionError(f"{name} did not start:\n{''.join(log)}")
    return Proc(name, popen, found[0], log, args)


@dataclass
class Cluster:
    """A split deployment: auth, group, message, socket nodes and a gateway."""

    procs: dict[str, Proc]
    env: dict[str, str]

    @property
    def gateway(self) -> str:
        return self.procs["gateway"].address.rstrip("/")

    def socket(self, name: str) -> str:
        return self.procs[name].address

    def restart(self, name: str, env: dict[str, str] | None = None) -> Proc:
        """Start a stopped or killed role again on the address it had, with the cluster's
        environment plus ``env``; its peers reconnect to it there."""
        old = self.procs[name]
        assert old.popen.poll() is not None, f"{name} is still running"
        args = list(old.args)
        args[args.index("--listen") + 1] = old.address
        self.procs[name] = spawn(name, args, {**self.env, **(env or {})})
        return self.procs[name]

    def stop(self) -> None:
        for proc in reversed(list(self.procs.values())):
            proc.terminate()


def start_split(
    data_dir: Path,
    *,
    sockets: int = 2,
    redis: str = "redis://127.0.0.1:6379/0",
    store: str | None = None,
    message_replicas: int = 1,
    public_url: str | None = None,
    redis_for: dict[str, str] | None = None,
    role_env: dict[str, dict[str, str]] | None = None,
) -> Cluster:
    """auth, group, ``message_replicas`` message roles, ``sockets`` socket nodes, gateway;
    real Redis. All share one store: ``store`` (a URL) or one SQLite file in ``data_dir``.
    Socket node *i* talks to message replica *i* modulo the replicas (the gateway to the
    first); the replicas are named ``message``, ``message2``, ... ``redis_for`` gives a
    process (by name: ``auth``, ``socket1``, …) another Redis URL (a proxy a test cuts);
    ``role_env`` adds to the environment of the processes it names (e.g. another store
    URL for one role)."""
    bus_of = {**(redis_for or {})}
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {
        "NODECHAT_SERVICE_TOKEN": secrets.token_urlsafe(24),
        "NODECHAT_STORE": store or f"sqlite:///{data_dir / 'nodechat.db'}",
        "NODECHAT_DATA_DIR": str(data_dir),
        "NODECHAT_BUS_PREFIX": f"e2e{secrets.token_hex(4)}:",
    }
    subprocess.run(
        [*NODECHAT, "keygen", "--data-dir", str(data_dir)],
        check=True,
        env={**os.environ, **env},
        capture_output=True,
    )
    replicas = ["message", *(f"message{i}" for i in range(2, message_replicas + 1))]
    procs: dict[str, Proc] = {}
    try:
        for role in ("auth", "group", *replicas):
            procs[role] = spawn(
                role,
                [
                    role.rstrip("0123456789"),
                    "--listen",
                    "127.0.0.1:0",
                    "--bus",
                    bus_of.get(role, redis),
                ],
                {**env, **(role_env or {}).get(role, {})},
            )

        def upstream(message: str, name: str) -> list[str]:
            return [
                "--auth",
                procs["auth"].address,
                "--group",
                procs["group"].address,
                "--message",
                procs[message].address,
                "--bus",
                bus_of.get(name, redis),
            ]

        for i in range(sockets):
            name = f"socket{i + 1}"
            procs[name] = spawn(
                name,
                [
                    "socket",
                    "--listen",
                    "127.0.0.1:0",
                    *(["--public-url", public_url] if public_url else []),
                    *upstream(replicas[i % len(replicas)], name),
                ],
                env,
            )
        procs["gateway"] = spawn(
            "gateway", ["gateway", "--listen", "127.0.0.1:0", *upstream("message", "gateway")], env
        )
    except BaseException:
        for proc in procs.values():
            proc.kill()
        raise
    return Cluster(procs, env)


async def register(url: str, name: str) -> tuple[ChatClient, dict[str, Any]]:
    """A new account ``name`` with a live, authenticated connection to ``url``; its tokens."""
    client = await ChatClient.connect(url)
    tokens = await client.request(
        "auth.register", username=name, email=f"{name}@example.test", password="long password"
    )
    await client.authenticate(tokens["access_token"])
    return client, tokens
