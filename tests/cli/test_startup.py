"""Server commands refuse bad values with one line naming the value, its source and the fix."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from tests.cli.conftest import Cli


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def one_line(result_stderr: str) -> str:
    lines = result_stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "Traceback" not in result_stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["--port", "abc"],
            "nodechat serve: --port 'abc' is not a port number (give 1-65535, or 0 for a free port)",
        ),
        (
            ["--log-level", "loud"],
            "nodechat serve: --log-level 'loud' is not a log level "
            "(give debug, info, warning or error)",
        ),
        (["--api-port", "70000"], "nodechat serve: --api-port '70000' is not a port number"),
        (["--bus", "kafka://x"], "nodechat serve: --bus 'kafka://x' is not a supported URL"),
        (["--store", "oracle://x"], "nodechat serve: --store 'oracle://x' is not a supported URL"),
        (
            ["--data-dir", "/proc/nope/data"],
            "nodechat serve: --data-dir '/proc/nope/data' cannot be used as the data directory",
        ),
    ],
)
def test_a_bad_flag_is_one_line_and_exit_2(cli: Cli, args: list[str], line: str) -> None:
    result = cli.run("serve", "--port", "0", "--api-port", "-1", *args)
    assert result.exit_code == 2
    assert one_line(result.stderr).startswith(line)


def test_a_variable_is_named_when_the_value_came_from_it(cli: Cli, tmp_path: Path) -> None:
    result = cli.run("serve", env={"NODECHAT_PORT": "abc"})
    assert result.exit_code == 2
    assert one_line(result.stderr).startswith("nodechat serve: NODECHAT_PORT='abc' is not a port")
    toml = tmp_path / "n.toml"
    toml.write_text('[serve]\nport = "abc"\n')
    result = cli.run("serve", "--config", str(toml))
    assert result.exit_code == 2
    assert one_line(result.stderr).startswith(f"nodechat serve: serve.port = 'abc' in {toml} ")


def test_a_flag_beats_the_variable(cli: Cli) -> None:
    # The flag's value is the one used, so the one reported: never the variable's.
    result = cli.run("serve", "--port", "99999", env={"NODECHAT_PORT": "abc"})
    assert result.exit_code == 2
    assert one_line(result.stderr).startswith("nodechat serve: --port '99999' is not a port")


def test_every_bad_value_is_listed(cli: Cli) -> None:
    result = cli.run("serve", "--port", "x", "--api-port", "y", env={"NODECHAT_BUS": "nats://"})
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert sorted(line.split()[2] for line in lines) == [
        "--api-port",
        "--port",
        "NODECHAT_BUS='nats://'",
    ]


def test_an_unreachable_bus_is_one_line_and_exit_1(cli: Cli, tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{closed_port()}/0"
    result = cli.run("serve", "--port", "0", "--data-dir", str(tmp_path / "d"), "--bus", url)
    assert result.exit_code == 1
    line = one_line(result.stderr)
    assert line.startswith(f"nodechat serve: --bus '{url}' cannot be reached (")
    assert "start Redis" in line


@pytest.mark.parametrize("role", ["auth", "group", "message", "socket", "gateway"])
def test_roles_name_the_bad_flag(cli: Cli, role: str) -> None:
    result = cli.run(role, "--listen", "nohost")
    assert result.exit_code == 2
    assert one_line(result.stderr).startswith(
        f"nodechat {role}: --listen 'nohost' is not HOST:PORT"
    )


@pytest.mark.parametrize(
    ("role", "listen"),
    [("auth", "7810"), ("group", "7811"), ("message", "7812"), ("socket", "7801")],
)
def test_role_help_shows_defaults_and_variables(cli: Cli, role: str, listen: str) -> None:
    result = cli.run(role, "--help", env={"COLUMNS": "200"})
    assert result.exit_code == 0
    text = result.stdout
    assert f"[default: 127.0.0.1:{listen}]" in text
    for var in (
        "NODECHAT_SERVICE_TOKEN",
        "NODECHAT_RPC_TLS_CERT",
        "NODECHAT_RPC_TLS_KEY",
        "NODECHAT_RPC_TLS_CA",
        "NODECHAT_LISTEN",
    ):
        assert var in text, var
    assert "<bool>" not in text and "HOST:PORT" in text


def test_serve_help_shows_defaults(cli: Cli) -> None:
    text = cli.run("serve", "--help", env={"COLUMNS": "200"}).stdout
    for default in ("[default: 127.0.0.1]", "[default: 7801]", "[default: ./nodechat-data]"):
        assert default in text, default
    assert "[env var: NODECHAT_PORT]" in text and "<bool>" not in text


def test_keygen_prints_a_fresh_service_token_and_writes_nothing(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "cwd"
    empty.mkdir()
    monkeypatch.chdir(empty)
    first = cli.run("keygen", "--service-token")
    second = cli.run("keygen", "--service-token")
    assert first.exit_code == 0 and second.exit_code == 0
    token = first.stdout.strip()
    assert len(token) >= 43 and re.fullmatch(r"[A-Za-z0-9_-]+", token)
    assert token != second.stdout.strip() and first.stderr == ""
    assert list(empty.iterdir()) == []  # no data dir, no key


def test_keygen_names_a_data_dir_it_cannot_create(cli: Cli) -> None:
    result = cli.run("keygen", "--data-dir", "/proc/nope/keys")
    assert result.exit_code == 2
    assert one_line(result.stderr).startswith("nodechat keygen: --data-dir '/proc/nope/keys' ")


@pytest.mark.parametrize("token", ["a", "password", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", ""])
@pytest.mark.parametrize("role", ["auth", "message"])
def test_a_missing_or_weak_service_token_is_refused(cli: Cli, role: str, token: str) -> None:
    result = cli.run(role, "--listen", "127.0.0.1:0", env={"NODECHAT_SERVICE_TOKEN": token})
    assert result.exit_code == 2
    line = one_line(result.stderr)
    assert line.startswith(f"nodechat {role}: rpc.service_token is ")
    assert "nodechat keygen --service-token" in line
    if len(token) >= 5:  # the secret itself is never printed
        assert token not in line
