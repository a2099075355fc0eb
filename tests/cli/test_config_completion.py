"""``nodechat admin config generate|check``, ``nodechat completion`` and ``--version``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nodechat import __version__
from tests.cli.conftest import Cli


def test_generated_config_checks_clean_and_loads_as_defaults(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "nodechat.toml"
    written = cli.run("admin", "config", "generate", "--output", str(target))
    assert written.exit_code == 0, written.stderr
    for section in ("[serve]", "[auth]", "[socket]", "[rpc]", "[node]"):
        assert section in target.read_text()
    checked = cli.run("admin", "config", "check", str(target), "--json")
    assert checked.exit_code == 0, checked.stderr
    report = json.loads(checked.stdout)
    assert report["ok"] is True and report["settings"]["socket"]["max_frame"] == 65536
    again = cli.run("admin", "config", "generate", "--output", str(target))
    assert again.exit_code == 2 and "--force" in again.stderr  # never overwrites silently
    assert cli.run("admin", "config", "generate").stdout == target.read_text()


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[socket]\nmax_frme = 10\n", "socket.max_frme"),
        ('[socket]\nmax_frame = "lots"\n', "socket.max_frame"),
        ("[sockets]\nmax_frame = 1\n", "[sockets]"),
        ("[auth]\nbcrypt_rounds = 4\n", "auth.bcrypt_rounds"),
        ("[socket]\nmax_frame = -5\n", "socket.max_frame = -5"),
        ("[serve]\nport = 70000\n", "serve.port = 70000"),
        ('[node]\nlisten = "nohost"\n', "node.listen"),
        ('[serve]\nbus = "kafka://x"\n', "serve.bus"),
        ("[rpc]\ntimeout = 0\n", "rpc.timeout"),
    ],
)
def test_check_names_the_bad_key_and_fails(cli: Cli, tmp_path: Path, toml: str, key: str) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(toml)
    result = cli.run("admin", "config", "check", str(bad))
    assert result.exit_code == 1
    assert result.stderr.startswith("error: bad_config: ")
    assert key in result.stderr and str(bad) in result.stderr
    assert result.stdout == ""


def test_check_lists_every_bad_key_at_once(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[socket]\nmax_frame = -5\nping_interval = "often"\nmax_frme = 1\n'
        "[serve]\nport = -1\n[auth]\nbcrypt_rounds = 40\n"
    )
    result = cli.run("admin", "config", "check", str(bad))
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 5 and all(line.startswith("error: bad_config: ") for line in lines)
    for key in ("socket.max_frame", "socket.ping_interval", "socket.max_frme", "serve.port"):
        assert sum(key in line for line in lines) == 1, (key, lines)
    assert "auth.bcrypt_rounds = 40" in result.stderr and "give 12-31" in result.stderr
    report = json.loads(cli.run("admin", "config", "check", str(bad), "--json").stdout)
    assert report["ok"] is False
    assert len(report["error"]["problems"]) == 5


def test_check_of_broken_toml_or_missing_file_fails(cli: Cli, tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[socket\n")
    assert cli.run("admin", "config", "check", str(broken)).exit_code == 1
    missing = cli.run("admin", "config", "check", str(tmp_path / "nope.toml"))
    assert missing.exit_code == 1 and "cannot read" in missing.stderr


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(cli: Cli, shell: str) -> None:
    result = cli.run("completion", shell)
    assert result.exit_code == 0
    assert "_NODECHAT_COMPLETE=complete_" + shell in result.stdout


def test_completion_of_an_unknown_shell_is_a_usage_error(cli: Cli) -> None:
    result = cli.run("completion", "tcsh")
    assert result.exit_code == 2 and "unknown shell" in result.stderr


def test_the_completion_script_gets_answers_from_nodechat() -> None:
    # What the bash script runs on <TAB>: the real entry point, completion classes registered.
    env = {
        "_NODECHAT_COMPLETE": "complete_bash",
        "COMP_WORDS": "nodechat admin us",
        "COMP_CWORD": "2",
        "PATH": "",
    }
    script = Path(sys.executable).parent / "nodechat"  # the console script, as installed
    out = subprocess.run([str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["users"], out.stderr


def test_version(cli: Cli) -> None:
    result = cli.run("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"nodechat {__version__}"
