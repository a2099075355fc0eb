"""``nodechat admin groups|channels|invites``: any group, whoever owns it."""

from __future__ import annotations

from typing import Annotated

import typer

from nodechat.cli import admin_dryrun
from nodechat.cli.admin_dryrun import DryRunOption, Target
from nodechat.cli.admin_io import JsonOption, Output, YesOption, confirm_or_exit, emit
from nodechat.cli.admin_target import CredentialsOption, ServerOption, StoreOption, run_op

groups = typer.Typer(name="groups", help="Groups and their members.", no_args_is_help=True)
channels = typer.Typer(name="channels", help="Channels of a group.", no_args_is_help=True)
invites = typer.Typer(name="invites", help="Invite codes of a group.", no_args_is_help=True)

GroupArg = Annotated[str, typer.Argument(help="Group id (g_…).", show_default=False)]
UserArg = Annotated[str, typer.Argument(help="User id (u_…) or username.", show_default=False)]
ChannelArg = Annotated[str, typer.Argument(help="Channel id (ch_…).", show_default=False)]
RoleOption = Annotated[str, typer.Option(help="admin or member.")]

GROUP_COLUMNS = [
    ("id", "id"),
    ("name", "name"),
    ("owner_id", "owner"),
    ("member_count", "members"),
    ("channel_count", "channels"),
    ("created_at", "created (UTC)"),
]
MEMBER_COLUMNS = [
    ("user_id", "user id"),
    ("username", "username"),
    ("role", "role"),
    ("joined_at", "joined (UTC)"),
]
CHANNEL_COLUMNS = [
    ("id", "id"),
    ("name", "name"),
    ("kind", "kind"),
    ("position", "position"),
    ("topic", "topic"),
]
INVITE_COLUMNS = [
    ("code", "code"),
    ("uses", "uses"),
    ("max_uses", "max uses"),
    ("expires_at", "expires (UTC)"),
    ("revoked", "revoked"),
    ("created_by", "created by"),
    ("created_at", "created (UTC)"),
]


# -- groups ----------------------------------------------------------------


@groups.command("list")
def list_groups(
    limit: Annotated[int, typer.Option(min=1, max=500, help="Groups per page.")] = 50,
    after: Annotated[
        str | None, typer.Option(help="Start after this group id.", show_default=False)
    ] = None,
    store: StoreOption = None,
    server: ServerOption = None,
    credentials: CredentialsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every group by id, one page at a time."""
    result = run_op(
        "admin.group.list",
        {"after": after, "limit": limit},
        store=store,
        server=server,
        credentials=credentials,
    )
    nxt = result["next"]
    emit(
        as_json,
        result,
        result["groups"],
        GROUP_COLUMNS,
        f"{len(result['groups'])} group(s)" + (f"; next page: --after {nxt}" if nxt else ""),
    )


@groups.command("show")
def show_group(
    group_id: GroupArg,
    store: StoreOption = None,
    server: ServerOption = None,
    credentials: CredentialsOption = None,
    as_json: JsonOption = False,
) -> None:
    """A group with its members and channels."""
    result = run_op(
        "admin.group.get",
        {"group_id": group_id},
        store=store,
        server=server,
        credentials=credentials,
    )
    out = Output(as_json)
    if as_json:
        out.json(result)
        return
    out.fields(
        result,
        [
            ("id", "id"),
            ("name", "name"),
            ("description", "description"),
            ("owner_id", "owner"),
            ("created_at", "created (UTC)"),
        ],
    )
    out.table(result["members"], MEMBER_COLUMNS, title="members")
    out.table(result["channels"], CHANNEL_COLUMNS, title="channels")


@groups.command("create")
def create_group(
    name: Annotated[str, typer.Argument(help="Group name.", show_default=False)],
    owner: Annotated[
        str | None,
        typer.Option(
            help="Owner (user id or username). \\[default: you; required with --store]",
            show_default=False,
        ),
    ] = None,
    description: Annotated[str, typer.Option(help="Description.")] = "",
    store: StoreOption = None,
    server: ServerOption = None,
    credentials: CredentialsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a group (with a welcome channel) owned by --owner."""
    result = run_op(
        "admin.group.create",
        {"name": name, "owner": owner, "description": description},
        store=store,
        server=server,
        credentials=credentials,
    )
    emit(as_json, result, [result], GROUP_COLUMNS, f"created group {result['id']}")


@groups.command("delete")
def delete_group(
    group_id: GroupArg,
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    store: StoreOption = None,
    server: ServerOption = None,
    credentials: CredentialsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete a group with its channels, messages and invites."""
    if dry_run:
        return admin_dryrun.delete_group(Target(store, server, credentials), group_id, as_json)
    confirm_or_exit(f"Delete group {group_id} with all its channels and messages?", yes)
    result = run_op(
        "admin.group.delete",
        {"group_id": group_id},
        store=store,
        server=server,
        credentials=credentials,
    )
    emit(as_json, result, [result], [("group_id", "deleted group")])


@groups.command("add-member")
def add_member(
    group_id: GroupArg,
    user: UserArg,
    role: RoleOption = "member",
    store: StoreOption = None,
    server: ServerOption = None,
    credentials: CredentialsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a user to a group."""
    result = run_op(
        "admin.member.add",
        {"group_id": group_id, "user": user, "role": role},
        store=store,
        server=server,
        credentials=credentials,
    )
    emit(as_json, result, [result], MEMBER_COLUMNS, f"added {user} as {result['role']}")


@groups.command("remove-member")
def remove_member(
    group_id: GroupArg,
    user: UserArg,
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    store: StoreOption = None,
    server: ServerOption = None,
    credentials: CredentialsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Remove a member (not the owner) from a group."""
    if dry_run:
        target = Target(store, server, credentials)
        return admin_dryrun.remove_member(target, group_id, user, as_json)
    confirm_or_exit(f"Remove {user} from group {group_id}?", yes)
    result = run_op(
        "admin.member.remove",
        {"group_id": group_id, "user": user},
        store=store,
        server=server,
        credentials=credentials,
    )
    emit(as_json, result, [result], [("group_id", "group"), ("user_id", "removed user")])


@groups.command("set-role")
def set_role(
    group_id: GroupArg,
    user: UserArg,
    role: Annotated[str, typer.Argument(help="admin or member.", show_default=False)],
    store: StoreOption = None,
    server: ServerOption = None,
    credentials: CredentialsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Make a member an admin of the group, or a plain member."""
    result = run_op(
        "admin.member.set_role",
        {"group_id": group_id, "user": user, "role": role},
        store=store,
        server=server,
        credentials=credentials,
    )
    emit(as_json, result, [result], MEMBER_COLUMNS)


# -- channels --------------------------------------------------------------


@channels.command("list")
def list_channels(
    group_id: GroupArg,
    store: StoreOption = None,
    server: ServerOption = None,
    credentials: CredentialsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Channels of a group, by position."""
    result = run_op(
        "admin.channel.list",
        {"group_id": group_id},
        store=store,
        server=server,
        credentials=credentials,
    )
    emit(as_json, result, result["channels"], CHANNEL_COLUMNS)


@channels.command("create")
def create_channel(
    group_id: GroupArg,
    name: Annotated[str, typer.Argument(help="Channel name.", show_default=False)],
    kind: Annotated[str, typer.Option(help="text or voice.")] = "text",
    topic: Annotated[str, typer.Option(help="Topic.")] = "",
    store: StoreOption = None,
    server: ServerOption = None,
    credentials: CredentialsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a channel at the end of a group."""
    result = run_op(
        "admin.channel.create",
        {"group_id": group_id, "name": name, "kind": kind, "topic": topic},
        store=store,
        server=server,
        credentials=credentials,
    )
    emit(as_json, result, [result], CHANNEL_COLUMNS, f"created channel {result['id']}")


@channels.command("rename")
def rename_channel(
    channel_id: ChannelArg,
    name: Annotated[str, typer.Argument(help="New name.", show_default=False)],
    store: StoreOption = None,
    server: ServerOption = None,
    credentials: CredentialsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rename a channel."""
    result = run_op(
        "admin.channel.rename",
        {"channel_id": channel_id, "name": name},
        store=store,
        server=server,
        credentials=credentials,
    )
    emit(as_json, result, [result], CHANNEL_COLUMNS)


@channels.command("delete")
def delete_channel(
    channel_id: ChannelArg,
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    store: StoreOption = None,
    server: ServerOption = None,
    credentials: CredentialsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete a channel and its messages."""
    if dry_run:
        return admin_dryrun.delete_channel(Target(store, server, credentials), channel_id, as_json)
    confirm_or_exit(f"Delete channel {channel_id} and all its messages?", yes)
    result = run_op(
        "admin.channel.delete",
        {"channel_id": channel_id},
        store=store,
        server=server,
        credentials=credentials,
    )
    emit(as_json, result, [result], [("id", "deleted channel"), ("group_id", "group")])


# -- invites ---------------------------------------------------------------


@invites.command("list")
def list_invites(
    group_id: GroupArg,
    store: StoreOption = None,
    server: ServerOption = None,
    credentials: CredentialsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Invites of a group, newest first (revoked and expired ones too)."""
    result = run_op(
        "admin.invite.list",
        {"group_id": group_id},
        store=store,
        server=server,
        credentials=credentials,
    )
    emit(as_json, result, result["invites"], INVITE_COLUMNS)


@invites.command("create")
def create_invite(
    group_id: GroupArg,
    expires_in: Annotated[
        int | None,
        typer.Option(
            help="Seconds until it expires (0: never). \\[default: 7 days]", show_default=False
        ),
    ] = None,
    max_uses: Annotated[
        int | None, typer.Option(help="Uses allowed. \\[default: unlimited]", show_default=False)
    ] = None,
    store: StoreOption = None,
    server: ServerOption = None,
    credentials: CredentialsOption = None,
    as_json: JsonOption = False,
) -> None:
    """A new invite code for a group."""
    result = run_op(
        "admin.invite.create",
        {"group_id": group_id, "expires_in": expires_in, "max_uses": max_uses},
        store=store,
        server=server,
        credentials=credentials,
    )
    emit(as_json, result, [result], INVITE_COLUMNS)


@invites.command("revoke")
def revoke_invite(
    code: Annotated[str, typer.Argument(help="Invite code.", show_default=False)],
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    store: StoreOption = None,
    server: ServerOption = None,
    credentials: CredentialsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Revoke an invite code."""
    if dry_run:
        return admin_dryrun.revoke_invite(Target(store, server, credentials), code, as_json)
    confirm_or_exit(f"Revoke invite {code}?", yes)
    result = run_op(
        "admin.invite.revoke", {"code": code}, store=store, server=server, credentials=credentials
    )
    emit(as_json, result, [result], INVITE_COLUMNS)
