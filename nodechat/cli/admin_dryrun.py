"""``--dry-run`` of the destructive admin commands: look the target up, say what the
command would do, change nothing.

Only read-only ops are sent (``admin.user.get``, ``admin.group.get``,
``admin.channel.get``, ``admin.invite.get``, ``admin.session.get``), so a dry run
works offline and online alike. A change the real command would refuse
(``user_owns_groups``, ``owner_protected``, ``member_not_found``, or an unknown
target) fails the dry run the same way, with the same exit code, so a script can
test first.
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


def _group_label(group: dict[str, Any] | None, group_id: str) -> str:
    return f"{group['name']} ({group['id']})" if group else group_id


def delete_channel(target: Target, channel_id: str, as_json: bool) -> None:
    """``channels delete --dry-run``."""
    found = target.get("admin.channel.get", channel_id=channel_id)
    report(
        as_json,
        f"delete {found['kind']} channel {found['name']} ({found['id']}) of group "
        f"{_group_label(found['group'], found['group_id'])} and its messages",
        found,
    )


def revoke_invite(target: Target, code: str, as_json: bool) -> None:
    """``invites revoke --dry-run``."""
    found = target.get("admin.invite.get", code=code)
    group = _group_label(found["group"], found["group_id"])
    if found["revoked"]:
        report(
            as_json,
            f"change nothing: invite {found['code']} of group {group} is already revoked",
            found,
        )
        return
    state = "" if found["usable"] else " (no longer usable: expired or used up)"
    report(
        as_json,
        f"revoke invite {found['code']} of group {group}{state}, used "
        f"{found['uses']} time(s) so far",
        found,
    )


def revoke_session(target: Target, session_id: str, as_json: bool) -> None:
    """``sessions revoke --dry-run``."""
    found = target.get("admin.session.get", session_id=session_id)
    owner = f"{found['username'] or 'unknown user'} ({found['user_id']})"
    if found["revoked_at"] is not None:
        report(
            as_json, f"change nothing: session {found['id']} of {owner} has already ended", found
        )
        return
    if not found["active"]:
        report(as_json, f"mark the expired session {found['id']} of {owner} revoked", found)
        return
    report(as_json, f"end session {found['id']} of {owner} and close its live connections", found)
