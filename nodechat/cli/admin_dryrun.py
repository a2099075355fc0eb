"""``--dry-run`` of the destructive admin commands: look the target up, say what the
command would do, change nothing.

Only read-only ops are sent (``admin.user.get``, ``admin.group.get``), so a dry run
works offline and online alike and needs no new protocol op. A change the real
command would refuse (``user_owns_groups``, ``owner_protected``, ``member_not_found``)
fails the dry run the same way, with the same exit code, so a script can test first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from nodechat.cli.admin_io import EXIT_FAILED, EXIT_NOT_FOUND, Output, fail, say
from nodechat.cli.admin_target import run_op

DryRunOption = Annotated[
    bool,
    typer.Option("--dry-run", help="Say what would be changed and change nothing (asks nothing)."),
]


class Target:
    """Where the read-only lookups go (the command's --store/--server/--credentials)."""

    def __init__(self, store: str | None, server: str | None, credentials: Path | None) -> None:
        self.store, self.server, self.credentials = store, server, credentials

    def get(self, op: str, **args: Any) -> Any:
        """Run a read-only op."""
        return run_op(op, args, store=self.store, server=self.server, credentials=self.credentials)


def report(as_json: bool, would: str, target: dict[str, Any]) -> None:
    """Print the verdict (stderr; with --json also the looked-up target on stdout)."""
    if as_json:
        Output(True).json({"dry_run": True, "would": would, "target": target})
    say(f"dry run: would {would}; nothing was changed")


def _user_label(user: dict[str, Any]) -> str:
    return f"{user['username']} ({user['id']})"


def disable_user(target: Target, user: str, as_json: bool) -> None:
    """``users disable --dry-run``."""
    found = target.get("admin.user.get", user=user)
    active = found["sessions"]["active"]
    state = " (already disabled)" if found["disabled"] else ""
    report(
        as_json,
        f"disable {_user_label(found)}{state} and end {active} active session(s)",
        found,
    )


def delete_user(target: Target, user: str, as_json: bool) -> None:
    """``users delete --dry-run``."""
    found = target.get("admin.user.get", user=user)
    owned = [g["id"] for g in found["groups"] if g["role"] == "owner"]
    if owned:
        fail(
            "user_owns_groups",
            f"dry run: would refuse: {found['username']} owns {len(owned)} group(s) "
            f"({', '.join(owned[:5])}); delete them or transfer ownership first",
            EXIT_FAILED,
        )
    report(
        as_json,
        f"delete {_user_label(found)}: disable the account, end "
        f"{found['sessions']['active']} active session(s), leave {len(found['groups'])} "
        "group(s), make the password unusable"
        + (", revoke server admin" if found["is_admin"] else "")
        + " and scrub the profile (messages stay)",
        found,
    )


def revoke_admin(target: Target, user: str, as_json: bool) -> None:
    """``users revoke-admin --dry-run``."""
    found = target.get("admin.user.get", user=user)
    if not found["is_admin"]:
        report(as_json, f"change nothing: {_user_label(found)} is not a server admin", found)
        return
    report(as_json, f"revoke server admin from {_user_label(found)}", found)


def delete_group(target: Target, group_id: str, as_json: bool) -> None:
    """``groups delete --dry-run``."""
    found = target.get("admin.group.get", group_id=group_id)
    report(
        as_json,
        f"delete group {found['name']} ({found['id']}) with its "
        f"{len(found['channels'])} channel(s), their messages and its invites; its "
        f"{len(found['members'])} member(s) lose it",
        found,
    )


def remove_member(target: Target, group_id: str, user: str, as_json: bool) -> None:
    """``groups remove-member --dry-run``."""
    found = target.get("admin.group.get", group_id=group_id)
    person = target.get("admin.user.get", user=user)
    member = next((m for m in found["members"] if m["user_id"] == person["id"]), None)
    if member is None:
        fail(
            "member_not_found",
            f"dry run: would refuse: {person['username']} is not a member",
            EXIT_NOT_FOUND,
        )
    if member["role"] == "owner":
        fail(
            "owner_protected",
            f"dry run: would refuse: {person['username']} owns {found['name']}; "
            "delete the group instead",
            EXIT_FAILED,
        )
    report(
        as_json,
        f"remove {_user_label(person)} ({member['role']}) from group {found['name']} "
        f"({found['id']})",
        {"group": found, "member": member},
    )
