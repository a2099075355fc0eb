"""deploy/: the systemd units and the environment file can be copied as they are."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nodechat.cli import app
from nodechat.config import load_settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))


def env_file() -> dict[str, str]:
    lines = (DEPLOY / "nodechat.env.example").read_text().splitlines()
    pairs = (line.split("=", 1) for line in lines if line and not line.startswith("#"))
    return {key: value for key, value in pairs}


def directives(unit: Path, name: str) -> list[str]:
    text = unit.read_text().replace("\\\n", " ")
    return [m.group(1).strip() for m in re.finditer(rf"^{name}=(.*)$", text, re.M)]


def test_the_environment_file_is_valid_settings() -> None:
    env = env_file()
    settings = load_settings(env=env)
    assert settings.serve.bus.startswith("redis://")
    assert settings.node.public_url.startswith("ws")
    assert settings.rpc.auth and settings.rpc.group and settings.rpc.message


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_units_take_urls_from_the_environment_file(unit: Path) -> None:
    (command,) = directives(unit, "ExecStart")
    assert "redis://" not in command and "ws://" not in command and "example" not in command
    assert directives(unit, "EnvironmentFile") == ["/etc/nodechat/nodechat.env"]
    words = command.split()
    role = words[1]
    help_text = CliRunner().invoke(app, [role, "--help"], env={"COLUMNS": "200"}).stdout
    for flag in (w for w in words[2:] if w.startswith("--")):
        assert flag in help_text, (unit.name, flag)


@pytest.mark.parametrize("name", ["nodechat-socket@.service", "nodechat-gateway.service"])
def test_redis_users_are_ordered_after_redis(name: str) -> None:
    unit = DEPLOY / "systemd" / name
    after = " ".join(directives(unit, "After")).split()
    wants = " ".join(directives(unit, "Wants")).split()
    assert "redis-server.service" in after and "redis-server.service" in wants
    assert "nodechat-auth.service" in after and "network-online.target" in wants


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "nodechat"  # the installed console script
    for unit in UNITS:
        name = unit.name.replace("@.", "@7801.")
        text = unit.read_text().replace("/opt/nodechat/bin/nodechat", str(script))
        (tmp_path / name).write_text(text)
    out = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *sorted(map(str, tmp_path.iterdir()))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    complaints = [line for line in out.stderr.splitlines() if "nodechat" in line]
    assert complaints == [], out.stderr
