"""Settings: flags over variables over the file, every bad value reported with its source."""

from __future__ import annotations

from pathlib import Path

import pytest

from nodechat.config import ConfigError, env_name, given_as, load_settings


def test_flags_beat_variables_beat_the_file(tmp_path: Path) -> None:
    toml = tmp_path / "n.toml"
    toml.write_text('[serve]\nport = 1111\nhost = "10.0.0.1"\nbus = "memory://"\n')
    env = {"NODECHAT_PORT": "2222", "NODECHAT_SERVE_HOST": "10.0.0.2"}
    settings = load_settings(config_file=toml, env=env, overrides={"serve": {"port": "3333"}})
    assert (settings.serve.port, settings.serve.host) == (3333, "10.0.0.2")
    assert load_settings(config_file=toml, env=env).serve.port == 2222
    assert load_settings(config_file=toml, env={}).serve.port == 1111


def test_every_problem_names_its_source_and_fix(tmp_path: Path) -> None:
    toml = tmp_path / "n.toml"
    toml.write_text("[socket]\nmax_frame = -5\n[nodes]\nx = 1\n")
    with pytest.raises(ConfigError) as info:
        load_settings(
            config_file=toml,
            env={"NODECHAT_API_PORT": "99999", "NODECHAT_RPC_RETRIES": "many"},
            overrides={"serve": {"port": "abc"}},
            flags={"serve.port": "--port"},
        )
    lines = [p.line() for p in info.value.problems]
    assert "--port 'abc' is not a port number (give 1-65535, or 0 for a free port)" in lines
    assert any(line.startswith("NODECHAT_API_PORT='99999' is not a port number") for line in lines)
    assert any(
        line.startswith("NODECHAT_RPC_RETRIES='many' is not a whole number") for line in lines
    )
    assert any(line.startswith(f"socket.max_frame = -5 in {toml} is below 1024") for line in lines)
    assert any(line.startswith(f"[nodes] in {toml} is not a section") for line in lines)
    assert len(lines) == 5 and info.value.code == "bad_config"


def test_variable_names_and_origins(tmp_path: Path) -> None:
    assert env_name("serve.port") == "NODECHAT_PORT"
    assert env_name("rpc.tls_cert") == "NODECHAT_RPC_TLS_CERT"
    env = {"NODECHAT_DATA_DIR": "/x"}
    assert given_as("serve.data_dir", env=env) == "NODECHAT_DATA_DIR='/x'"
    flagged = given_as(
        "serve.data_dir",
        env=env,
        overrides={"serve": {"data_dir": "/y"}},
        flags={"serve.data_dir": "--data-dir"},
    )
    assert flagged == "--data-dir '/y'"
    assert given_as("serve.bus", env={}) == "serve.bus 'memory://' (the default)"
