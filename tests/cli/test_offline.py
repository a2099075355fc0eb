"""``nodechat admin`` offline (``--store``): bootstrap, confirmations, secrets from stdin,
JSON output, exit codes."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path
from typing import Any

import pytest

from nodechat.models import AuthSession, now_ms
from nodechat.services import passwords
from nodechat.storage import open_store
from tests.cli.conftest import PASSWORD, Cli


def read_store(cli: Cli, fn: Any) -> Any:
    """Run ``await fn(store)`` on a fresh connection to the CLI's store."""

    async def go() -> Any:
        store = open_store(cli.store)
        try:
            return await fn(store)
        finally:
            await store.close()

    return asyncio.run(go())


def test_bootstrap_first_admin_with_password_from_stdin(cli: Cli) -> None:
    result = cli.offline(
        "users",
        "create",
        "root",
        "--email",
        "root@example.test",
        "--admin",
        "--password-stdin",
        "--json",
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.stderr
    created = json.loads(result.stdout)  # stdout is only the data
    assert created["is_admin"] is True and created["username"] == "root"
    assert "created root" in result.stderr
    found = read_store(cli, lambda s: s.accounts.find_user("root"))
    assert found is not None and passwords.verify_password(PASSWORD, found[1])
    assert PASSWORD not in result.stdout + result.stderr


def test_password_prompt_asks_twice_and_never_echoes(cli: Cli) -> None:
    result = cli.offline(
        "users", "create", "ann", "--email", "ann@example.test", input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    mismatch = cli.offline(
        "users",
        "create",
        "bob",
        "--email",
        "bob@example.test",
        input=f"{PASSWORD}\nsomething else\n\n\n",
    )
    assert mismatch.exit_code != 0
    assert read_store(cli, lambda s: s.accounts.find_user("bob")) is None


def test_empty_stdin_secret_is_a_usage_error(cli: Cli) -> None:
    result = cli.offline(
        "users", "create", "ann", "--email", "ann@example.test", "--password-stdin", input=""
    )
    assert result.exit_code == 2
    assert "error: usage:" in result.stderr


def test_a_bad_password_is_refused_with_its_code_and_nothing_is_written(cli: Cli) -> None:
    result = cli.offline(
        "users", "create", "ann", "--email", "ann@example.test", "--password-stdin", input="short\n"
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("error: invalid_password: ")
    assert not Path(cli.store.removeprefix("sqlite:///")).exists()  # no empty store left


def test_delete_asks_first_refusal_changes_nothing_yes_skips(cli: Cli) -> None:
    cli.create_user("root", admin=True)
    ann = cli.create_user("ann")
    group = cli.json("groups", "create", "Hikers", "--owner", "root")
    cli.json("groups", "add-member", group["id"], "ann")
    refused = cli.offline("users", "delete", "ann", input="n\n")
    assert refused.exit_code == 1
    assert "error: aborted:" in refused.stderr
    shown = cli.json("users", "show", "ann")
    assert shown["disabled"] is False and [g["id"] for g in shown["groups"]] == [group["id"]]
    no_answer = cli.offline("users", "delete", "ann", input="")  # stdin closed: not a yes
    assert no_answer.exit_code == 1
    assert cli.json("users", "show", "ann")["disabled"] is False
    done = cli.json("users", "delete", ann["id"], "--yes")
    assert done["groups_left"] == 1 and done["user"]["disabled"] is True
    shown = cli.json("users", "show", "ann")
    assert shown["display_name"] == "deleted user" and shown["groups"] == []


def test_confirmed_by_typing_yes(cli: Cli) -> None:
    cli.create_user("root", admin=True)
    group = cli.json("groups", "create", "Hikers", "--owner", "root")
    result = cli.offline("groups", "delete", group["id"], input="y\n")
    assert result.exit_code == 0, result.stderr
    assert cli.json("groups", "list")["groups"] == []


def test_deleting_a_group_owner_fails_with_its_code(cli: Cli) -> None:
    cli.create_user("root", admin=True)
    cli.json("groups", "create", "Hikers", "--owner", "root")
    result = cli.offline("users", "delete", "root", "--yes")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: user_owns_groups: ")
    assert cli.json("users", "show", "root")["disabled"] is False


def test_not_found_exits_3(cli: Cli) -> None:
    cli.create_user("root", admin=True)
    for args in (
        ["users", "show", "ghost"],
        ["groups", "show", "g_nope"],
        ["channels", "rename", "ch_nope", "x"],
        ["sessions", "revoke", "s_x", "--yes"],
    ):
        result = cli.offline(*args)
        assert result.exit_code == 3, (args, result.stderr)
        assert result.stderr.startswith("error: ") and "_not_found" in result.stderr


def test_usage_errors_exit_2(cli: Cli) -> None:
    both = cli.run("admin", "users", "list", "--store", cli.store, "--server", "ws://x/")
    assert both.exit_code == 2 and "not both" in both.stderr
    assert cli.run("admin", "users", "list", "--limit", "0", "--store", cli.store).exit_code == 2
    assert cli.run("admin", "users", "frobnicate").exit_code == 2


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (["--store", "oracle://x"], {}, "--store 'oracle://x' is not a store URL"),
        (["--store", "sqlite:///"], {}, "names no database file"),
        (["--server", "notaurl"], {}, "--server 'notaurl' is not a server URL"),
        (["--server", "http://x/"], {}, "is not a server URL"),
        ([], {"NODECHAT_ADMIN_SERVER": "x y"}, "NODECHAT_ADMIN_SERVER 'x y' is not a server URL"),
        (
            [],
            {"NODECHAT_ADMIN_STORE": "sqlite:///a.db", "NODECHAT_ADMIN_SERVER": "ws://x/"},
            "are both set",
        ),
    ],
)
def test_a_bad_target_is_a_usage_error(
    cli: Cli, args: list[str], env: dict[str, str], says: str
) -> None:
    result = cli.run("admin", "users", "list", *args, env=env)
    assert result.exit_code == 2, result.stderr
    assert says in result.stderr and len(result.stderr.splitlines()) == 1


def test_a_store_flag_beats_the_server_variable(cli: Cli) -> None:
    cli.create_user("root", admin=True)
    result = cli.run(
        "admin",
        "users",
        "list",
        "--store",
        cli.store,
        "--json",
        env={"NODECHAT_ADMIN_SERVER": "ws://127.0.0.1:1/"},
    )
    assert result.exit_code == 0, result.stderr
    assert [u["username"] for u in json.loads(result.stdout)["users"]] == ["root"]
    by_variable = cli.run("admin", "users", "list", env={"NODECHAT_ADMIN_STORE": cli.store})
    assert by_variable.exit_code == 0, by_variable.stderr


def test_without_store_or_login_exits_4(cli: Cli) -> None:
    result = cli.run("admin", "users", "list")
    assert result.exit_code == 4
    assert result.stderr.startswith("error: not_logged_in: ")


def test_users_list_filters_pages_and_all(cli: Cli) -> None:
    cli.create_user("root", admin=True)
    for name in ("ann", "anna", "bob"):
        cli.create_user(name)
    cli.json("users", "disable", "bob", "--yes")
    assert [u["username"] for u in cli.json("users", "list", "--admins")["users"]] == ["root"]
    assert [u["username"] for u in cli.json("users", "list", "--disabled")["users"]] == ["bob"]
    page = cli.json("users", "list", "--query", "ANN", "--limit", "1")
    assert len(page["users"]) == 1 and page["next"] == page["users"][0]["id"]
    rest = cli.json("users", "list", "--query", "ann", "--after", page["next"])
    assert len(rest["users"]) == 1 and rest["next"] is None
    everyone = cli.offline("users", "list", "--all", "--json")
    assert sorted(u["username"] for u in json.loads(everyone.stdout)["users"]) == [
        "ann",
        "anna",
        "bob",
        "root",
    ]
    assert everyone.stderr == ""  # no progress display when stderr is not a terminal
    table = cli.offline("users", "list")
    assert table.exit_code == 0 and "username" in table.stdout and "4 user(s)" in table.stderr


def test_groups_channels_invites_and_roles(cli: Cli) -> None:
    cli.create_user("root", admin=True)
    cli.create_user("ann")
    gid = cli.json("groups", "create", "Hikers", "--owner", "root", "--description", "walks")["id"]
    assert cli.json("groups", "add-member", gid, "ann", "--role", "admin")["role"] == "admin"
    assert cli.json("groups", "set-role", gid, "ann", "member")["role"] == "member"
    bad_role = cli.offline("groups", "set-role", gid, "ann", "owner")
    assert bad_role.exit_code == 1 and "invalid_role" in bad_role.stderr
    bob = cli.create_user("bob")
    added = cli.offline("groups", "add-member", gid, bob["id"])  # by id: the table names him
    assert added.exit_code == 0, added.stderr
    (row,) = [line for line in added.stdout.splitlines() if bob["id"] in line]
    assert " bob " in row and " - " not in row
    channel = cli.json("channels", "create", gid, "general", "--topic", "chat")
    cli.json("channels", "rename", channel["id"], "lobby")
    assert [c["name"] for c in cli.json("channels", "list", gid)["channels"]] == [
        "welcome",
        "lobby",
    ]
    invite = cli.json("invites", "create", gid, "--max-uses", "5", "--expires-in", "0")
    assert invite["max_uses"] == 5 and invite["expires_at"] is None
    assert cli.json("invites", "revoke", invite["code"], "--yes")["revoked"] is True
    assert [i["revoked"] for i in cli.json("invites", "list", gid)["invites"]] == [True]
    cli.json("channels", "delete", channel["id"], "--yes")
    cli.json("groups", "remove-member", gid, "ann", "--yes")
    shown = cli.json("groups", "show", gid)
    assert [m["username"] for m in shown["members"]] == ["root", "bob"]
    assert [c["name"] for c in shown["channels"]] == ["welcome"]
    human = cli.offline("groups", "show", gid)
    assert human.exit_code == 0 and "members" in human.stdout and "welcome" in human.stdout


def test_admin_flags_reset_password_and_sessions(cli: Cli) -> None:
    cli.create_user("ann")
    assert cli.json("users", "grant-admin", "ann")["user"]["is_admin"] is True
    assert cli.json("users", "revoke-admin", "ann", "--yes")["user"]["is_admin"] is False
    new = "another long passphrase"
    result = cli.json("users", "reset-password", "ann", "--password-stdin", input=new + "\n")
    assert result["sessions_revoked"] == 0
    found = read_store(cli, lambda s: s.accounts.find_user("ann"))
    assert passwords.verify_password(new, found[1])
    assert cli.json("sessions", "list", "ann")["sessions"] == []
    stats = cli.json("stats", "--days", "3")
    assert stats["users"] == 1 and len(stats["messages_per_day"]) == 3
    assert stats["online"] is None  # only a server knows who is connected


def test_no_color_output_has_no_escape_sequences(cli: Cli) -> None:
    cli.create_user("root", admin=True)
    coloured = cli.run("admin", "users", "list", "--store", cli.store, env={"FORCE_COLOR": "1"})
    assert "\x1b[" in coloured.stdout  # the check below would see escapes if there were any
    plain = cli.run(
        "admin", "users", "list", "--store", cli.store, env={"FORCE_COLOR": "1", "NO_COLOR": "1"}
    )
    assert plain.exit_code == 0 and "root" in plain.stdout
    assert "\x1b" not in plain.stdout + plain.stderr


def test_credential_file_is_private(cli: Cli) -> None:
    from nodechat.cli.admin_target import Credentials

    creds = Credentials.load(cli.credentials)
    creds.put("ws://example.test/", {"username": "root", "refresh_token": "secret"})
    assert stat.S_IMODE(cli.credentials.stat().st_mode) == 0o600
    assert Credentials.load(cli.credentials).get(None) == (
        "ws://example.test/",
        {"username": "root", "refresh_token": "secret"},
    )


def test_an_unreachable_server_is_an_error_not_a_traceback(cli: Cli) -> None:
    from nodechat.cli.admin_target import Credentials

    creds = Credentials.load(cli.credentials)
    for url in ("ws://127.0.0.1:9/", "not a url"):
        creds.put(
            url,
            {
                "username": "root",
                "access_token": "x",
                "access_expires_at": 2**52,
                "refresh_token": "y",
            },
        )
        result = cli.run("admin", "users", "list", "--server", url)
        if url.startswith("ws://"):
            assert result.exit_code == 1, result.stderr
            assert result.stderr.startswith("error: unavailable: cannot reach the server")
        else:  # an unparsable URL is a bad value, not a failed login (exit 2, not 4)
            assert result.exit_code == 2, result.stderr
            assert result.stderr.startswith("error: usage: --server 'not a url' is not a server")
    # The last login's server (no flag): reached, not judged, as before.
    assert cli.run("admin", "users", "list").stderr.startswith("error: unavailable: ")
    logout = cli.run("admin", "logout", "--server", "ws://127.0.0.1:9/")
    assert logout.exit_code == 0 and "forgetting it anyway" in logout.stderr


def test_bootstrap_on_postgresql(tmp_path: Any) -> None:
    from tests.postgres_databases import create_database, drop_database

    url = create_database()
    try:
        pg = Cli(tmp_path / "admin.json", url)
        pg.create_user("root", admin=True)
        pg.create_user("ann")
        listed = pg.json("users", "list", "--admins")
        assert [u["username"] for u in listed["users"]] == ["root"]
        assert pg.json("stats")["users"] == 2
    finally:
        drop_database(url)


def test_a_mistyped_sqlite_path_is_not_created(cli: Cli, tmp_path: Any) -> None:
    typo = tmp_path / "data" / "nodechat.bd"
    result = cli.run("admin", "users", "list", "--store", f"sqlite:///{typo}")
    assert result.exit_code == 3
    assert result.stderr.startswith("error: store_not_found: ")
    assert not typo.exists()


def test_dry_runs_say_what_would_happen_and_change_nothing(cli: Cli) -> None:
    cli.create_user("root", admin=True)
    cli.create_user("ann")
    cli.create_user("bob")
    gid = cli.json("groups", "create", "Hikers", "--owner", "bob")["id"]
    cli.json("groups", "add-member", gid, "ann")
    before = (cli.json("users", "list"), cli.json("groups", "show", gid))

    for args, says in (
        (["users", "delete", "ann"], "would delete ann (u_"),
        (["users", "disable", "ann"], "would disable ann (u_"),
        (["users", "revoke-admin", "root"], "would revoke server admin from root"),
        (["users", "revoke-admin", "ann"], "ann (u_"),
        (["groups", "delete", gid], f"would delete group Hikers ({gid}) with its 1 channel(s)"),
        (["groups", "remove-member", gid, "ann"], "would remove ann (u_"),
    ):
        result = cli.offline(*args, "--dry-run")  # no --yes, no input: it must not ask
        assert result.exit_code == 0, (args, result.stderr)
        assert result.stderr.startswith("dry run: ") and says in result.stderr, result.stderr
        assert "nothing was changed" in result.stderr and "[y/N]" not in result.stderr

    refused = cli.offline("users", "delete", "bob", "--dry-run")
    assert refused.exit_code == 1 and "error: user_owns_groups: dry run" in refused.stderr
    owner = cli.offline("groups", "remove-member", gid, "bob", "--dry-run")
    assert owner.exit_code == 1 and "owner_protected" in owner.stderr
    stranger = cli.offline("groups", "remove-member", gid, "root", "--dry-run")
    assert stranger.exit_code == 3 and "member_not_found" in stranger.stderr
    assert cli.offline("users", "delete", "ghost", "--dry-run").exit_code == 3

    report = cli.json("users", "disable", "ann", "--dry-run")
    assert report["dry_run"] is True and report["target"]["username"] == "ann"
    assert (cli.json("users", "list"), cli.json("groups", "show", gid)) == before


def test_dry_runs_of_channel_invite_and_session_change_nothing(cli: Cli) -> None:
    cli.create_user("bob")
    bob_id = cli.json("users", "show", "bob")["id"]
    gid = cli.json("groups", "create", "Hikers", "--owner", "bob")["id"]
    channel = cli.json("channels", "create", gid, "general")["id"]
    code = cli.json("invites", "create", gid)["code"]
    used = cli.json("invites", "create", gid)["code"]
    cli.json("invites", "revoke", used, "--yes")
    start = now_ms()
    live = AuthSession("s_live", bob_id, start, start + 86_400_000, user_agent="pytest")
    ended = AuthSession("s_ended", bob_id, start, start + 86_400_000, revoked_at=start)

    async def add_sessions(store: Any) -> None:
        for session in (live, ended):
            await store.accounts.create_session(session, f"hash-{session.id}", session.expires_at)

    read_store(cli, add_sessions)

    def state() -> Any:
        return (
            cli.json("groups", "show", gid),
            cli.json("invites", "list", gid),
            cli.json("sessions", "list", "bob"),
        )

    before = state()
    for args, says in (
        (["channels", "delete", channel], f"would delete text channel general ({channel}) of"),
        (["invites", "revoke", code], f"would revoke invite {code} of group Hikers ({gid})"),
        (["invites", "revoke", used], f"would change nothing: invite {used} of group Hikers"),
        (["sessions", "revoke", "s_live"], "would end session s_live of bob (u_"),
        (["sessions", "revoke", "s_ended"], "would change nothing: session s_ended of bob"),
    ):
        result = cli.offline(*args, "--dry-run")  # no --yes, no input: it must not ask
        assert result.exit_code == 0, (args, result.stderr)
        assert result.stderr.startswith("dry run: ") and says in result.stderr, result.stderr
        assert "nothing was changed" in result.stderr and "[y/N]" not in result.stderr

    for args, code_name in (
        (["channels", "delete", "ch_nope"], "channel_not_found"),
        (["invites", "revoke", "nope"], "invite_invalid"),
        (["sessions", "revoke", "s_nope"], "session_not_found"),
    ):
        dry = cli.offline(*args, "--dry-run")
        real = cli.offline(*args, "--yes")
        assert dry.exit_code == real.exit_code == 3, (args, dry.stderr, real.stderr)
        assert dry.stderr.startswith(f"error: {code_name}: "), dry.stderr
        assert real.stderr.startswith(f"error: {code_name}: "), real.stderr

    session = cli.json("sessions", "revoke", "s_live", "--dry-run")
    assert session["dry_run"] is True and session["target"]["username"] == "bob"
    assert session["target"]["active"] is True and "refresh" not in str(session["target"])
    invite = cli.json("invites", "revoke", code, "--dry-run")
    assert invite["target"]["code"] == code and invite["target"]["group"]["name"] == "Hikers"
    shown = cli.json("channels", "delete", channel, "--dry-run")
    assert shown["target"]["group"] == {"id": gid, "name": "Hikers"}
    assert shown["would"].startswith("delete text channel general")
    assert state() == before
