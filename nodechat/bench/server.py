"""``nodechat bench --serve``: its own ``nodechat serve`` as a subprocess, on port 0, with a
fresh temporary data dir and default settings (no ``NODECHAT_*`` variables)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

from nodechat.config import Settings, load_settings
from nodechat.errors import Unavailable

READY = re.compile(r"nodechat serving on (ws://\S+)")
HOST = "127.0.0.1"


class OwnServer:
    """One ``nodechat serve`` process and its data dir."""

    def __init__(self, *, keep_data: bool = False) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="nodechat-bench-"))
        self.data_dir = self.tmp / "data"
        self.log_path = self.tmp / "serve.log"
        self.keep_data = keep_data
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.command = [
            sys.executable,
            "-m",
            "nodechat",
            "serve",
            "--host",
            HOST,
            "--port",
            "0",
            "--api-port=-1",  # no HTTP API: only the socket is measured
            "--data-dir",
            str(self.data_dir),
            "--log-level",
            "warning",
        ]

    @property
    def pid(self) -> int | None:
        """The server's pid while it runs."""
        return self.proc.pid if self.proc is not None else None

    def settings(self) -> Settings:
        """The settings the server runs with (for provisioning on its store)."""
        return load_settings(env={}, overrides={"serve": {"data_dir": self.data_dir}})

    def start(self, timeout: float = 60.0) -> str:
        """Start it and return its WebSocket URL; ``Unavailable(serve_failed)`` if it does
        not come up."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("NODECHAT_")}
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            match = READY.search(self.log_path.read_text(errors="replace"))
            if match:
                return match.group(1)
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise Unavailable(
            f"nodechat serve did not start; its output:\n{self.log_tail()}", code="serve_failed"
        )

    def log_tail(self, chars: int = 2000) -> str:
        """The end of the server's output."""
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, wait, kill if need be; its exit code. Removes the data dir unless kept."""
        code = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            code = self.proc.returncode
        if self._log is not None:
            self._log.close()
            self._log = None
        if not self.keep_data:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return code
