"""Request handlers of protocol v1: decode fields, call one service method, encode.

No business rule lives here; every check is in the services. Each handler
gets the caller's identity (``None`` only for the public ops) and the
validated ``data`` of its request and returns the reply's ``data``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from nodechat.errors import Unavailable
from nodechat.models import Identity
from nodechat.services.admin import ADMIN_OPS, invoke
from nodechat.services.api import MEMBER_PAGE_MAX, SearchRequest, SendResult, Services
from nodechat.services.sessions import conversation_dict

__all__ = ["HANDLERS", "Call", "Handler", "Services", "conversation_dict", "send_ack"]


@dataclass(frozen=True, slots=True)
class Call:
    """One request in context."""

    services: Services
    identity: Identity | None
    data: dict[str, Any]
    address: str = ""

    @property
    def me(self) -> Identity:
        """The caller (handlers of authenticated ops only)."""
        assert self.identity is not None
        return self.identity


Handler = Callable[[Call], Awaitable[Any]]


async def _register(c: Call) -> Any:
    d = c.data
    pair = await c.services.auth.register(
        d["username"],
        d["email"],
        d["password"],
        display_name=d.get("display_name"),
        address=c.address,
    )
    return pair.to_dict()


async def _login(c: Call) -> Any:
    pair = await c.services.auth.login(c.data["login"], c.data["password"], address=c.address)
    return pair.to_dict()


async def _no_subscription(identity: Identity, group_ids: list[str]) -> None:
    """An HTTP session receives no live events: nothing to subscribe."""


async def _start_session(c: Call) -> Any:
    """auth.authenticate over HTTP: the ready snapshot, plus the replay as ``messages``
    (a socket sends the replay as events after the reply instead)."""
    sessions = c.services.sessions
    if sessions is None:
        raise Unavailable("this node does not start sessions over HTTP", code="unavailable")
    started = await sessions.start(c.data["token"], c.data.get("resume") or {}, _no_subscription)
    return {**started.snapshot, "messages": [m.to_dict() for m in started.replay]}


async def _refresh(c: Call) -> Any:
    return (await c.services.auth.refresh(c.data["refresh_token"])).to_dict()


async def _ping(c: Call) -> Any:
    return {"pong": True}


async def _logout(c: Call) -> Any:
    await c.services.auth.logout(c.me)
    return {}


async def _logout_all(c: Call) -> Any:
    return {"sessions": await c.services.auth.logout_all(c.me)}


async def _change_password(c: Call) -> Any:
    await c.services.auth.change_password(c.me, c.data["old_password"], c.data["new_password"])
    return {}


async def _user_get(c: Call) -> Any:
    user = await c.services.auth.get_user(c.me, c.data.get("user_id"))
    return user.private() if user.id == c.me.user_id else user.public()


async def _user_find(c: Call) -> Any:
    return (await c.services.auth.find_user(c.me, c.data["username"])).public()


async def _user_list(c: Call) -> Any:
    users = await c.services.auth.get_users(c.me, c.data["user_ids"])
    return {"users": [u.public() for u in users]}


async def _user_update(c: Call) -> Any:
    user = await c.services.auth.update_profile(
        c.me, display_name=c.data.get("display_name"), about=c.data.get("about")
    )
    return user.private()


async def _block(c: Call) -> Any:
    await c.services.messages.block(c.me, c.data["user_id"])
    return {}


async def _unblock(c: Call) -> Any:
    await c.services.messages.unblock(c.me, c.data["user_id"])
    return {}


async def _group_create(c: Call) -> Any:
    view = await c.services.groups.create_group(c.me, c.data["name"], c.data.get("description", ""))
    return view.to_dict()


async def _group_list(c: Call) -> Any:
    return {"groups": [v.to_dict() for v in await c.services.groups.list_groups(c.me)]}


async def _group_get(c: Call) -> Any:
    return (await c.services.groups.get_group(c.me, c.data["group_id"])).to_dict()


async def _group_update(c: Call) -> Any:
    d = c.data
    view = await c.services.groups.update_group(
        c.me, d["group_id"], name=d.get("name"), description=d.get("description")
    )
    return view.to_dict()


async def _group_delete(c: Call) -> Any:
    await c.services.groups.delete_group(c.me, c.data["group_id"])
    return {}


async def _group_transfer(c: Call) -> Any:
    view = await c.services.groups.transfer_ownership(c.me, c.data["group_id"], c.data["user_id"])
    return view.to_dict()


async def _group_join(c: Call) -> Any:
    return (await c.services.groups.join(c.me, c.data["code"])).to_dict()


async def _group_leave(c: Call) -> Any:
    await c.services.groups.leave(c.me, c.data["group_id"])
    return {}


async def _channel_create(c: Call) -> Any:
    d = c.data
    channel = await c.services.groups.create_channel(
        c.me, d["group_id"], d["name"], d.get("kind", "text"), d.get("topic", "")
    )
    return channel.to_dict()


async def _channel_update(c: Call) -> Any:
    d = c.data
    channel = await c.services.groups.update_channel(
        c.me, d["channel_id"], name=d.get("name"), topic=d.get("topic")
    )
    return channel.to_dict()


async def _channel_delete(c: Call) -> Any:
    await c.services.groups.delete_channel(c.me, c.data["channel_id"])
    return {}


async def _channel_reorder(c: Call) -> Any:
    channels = await c.services.groups.reorder_channels(
        c.me, c.data["group_id"], c.data["channel_ids"]
    )
    return {"channels": [ch.to_dict() for ch in channels]}


async def _member_list(c: Call) -> Any:
    d = c.data
    limit = d.get("limit")
    page = await c.services.groups.list_members(
        c.me,
        d["group_id"],
        after=d.get("after") or None,
        limit=MEMBER_PAGE_MAX if limit is None else limit,
    )
    return {
        "members": [m.to_dict() for m in page.members],
        "users": [u.public() for u in page.users],
        "next": page.next,
    }


async def _kick(c: Call) -> Any:
    await c.services.groups.kick(c.me, c.data["group_id"], c.data["user_id"])
    return {}


async def _ban(c: Call) -> Any:
    await c.services.groups.ban(c.me, c.data["group_id"], c.data["user_id"])
    return {}


async def _unban(c: Call) -> Any:
    await c.services.groups.unban(c.me, c.data["group_id"], c.data["user_id"])
    return {}


async def _set_role(c: Call) -> Any:
    d = c.data
    return (
        await c.services.groups.set_role(c.me, d["group_id"], d["user_id"], d["role"])
    ).to_dict()


async def _invite_create(c: Call) -> Any:
    d = c.data
    invite = await c.services.groups.create_invite(
        c.me, d["group_id"], expires_in=d.get("expires_in"), max_uses=d.get("max_uses")
    )
    return invite.to_dict()


async def _invite_list(c: Call) -> Any:
    invites = await c.services.groups.list_invites(c.me, c.data["group_id"])
    return {"invites": [i.to_dict() for i in invites]}


async def _invite_revoke(c: Call) -> Any:
    return (await c.services.groups.revoke_invite(c.me, c.data["code"])).to_dict()


async def _conversation_list(c: Call) -> Any:
    states = await c.services.messages.conversations(c.me)
    return {"conversations": [conversation_dict(s) for s in states]}


async def _dm_open(c: Call) -> Any:
    return conversation_dict(await c.services.messages.open_direct(c.me, c.data["user_id"]))


async def _send(c: Call) -> Any:
    d = c.data
    return send_ack(
        await c.services.messages.send(
            c.me,
            d["conversation"],
            d["body"],
            d["nonce"],
            d.get("reply_to"),
            tuple(d.get("attachments") or ()),
        )
    )


def send_ack(result: SendResult) -> dict[str, Any]:
    """The reply to ``message.send``."""
    m = result.message
    return {
        "id": m.id,
        "conversation": m.conversation_id,
        "seq": m.seq,
        "created_at": m.created_at,
        "duplicate": not result.created,
    }


async def _edit(c: Call) -> Any:
    return (await c.services.messages.edit(c.me, c.data["message_id"], c.data["body"])).to_dict()


async def _delete(c: Call) -> Any:
    m = await c.services.messages.delete(c.me, c.data["message_id"])
    return {"id": m.id, "conversation": m.conversation_id, "seq": m.seq}


async def _react(c: Call) -> Any:
    d = c.data
    return (await c.services.messages.react(c.me, d["message_id"], d["emoji"])).to_dict()


async def _unreact(c: Call) -> Any:
    d = c.data
    return (await c.services.messages.unreact(c.me, d["message_id"], d["emoji"])).to_dict()


async def _history(c: Call) -> Any:
    d = c.data
    limit = d.get("limit", 50)
    page = await c.services.messages.history(
        c.me, d["conversation"], before=d.get("before"), after=d.get("after"), limit=limit
    )
    return {"messages": [m.to_dict() for m in page.messages], "has_more": page.has_more}


async def _search(c: Call) -> Any:
    d = c.data
    request = SearchRequest(
        d["query"],
        conversation_id=d.get("conversation"),
        author_id=d.get("author"),
        before=d.get("before"),
        after=d.get("after"),
        cursor=d.get("cursor"),
        limit=d.get("limit", 20),
    )
    return (await c.services.messages.search(c.me, request)).to_dict()


async def _pin(c: Call) -> Any:
    return (await c.services.messages.pin(c.me, c.data["message_id"])).to_dict()


async def _unpin(c: Call) -> Any:
    m = await c.services.messages.unpin(c.me, c.data["message_id"])
    return {"conversation": m.conversation_id, "message_id": m.id}


async def _pin_list(c: Call) -> Any:
    pins = await c.services.messages.pins(c.me, c.data["conversation"])
    return {"conversation": c.data["conversation"], "pins": [p.to_dict() for p in pins]}


async def _mark_read(c: Call) -> Any:
    seq = await c.services.messages.mark_read(c.me, c.data["conversation"], c.data["seq"])
    return {"conversation": c.data["conversation"], "seq": seq}


def _admin_handler(op: str) -> Handler:
    async def handle(c: Call) -> Any:
        if c.services.admin is None:
            raise Unavailable("this node does not serve admin ops", code="admin_unavailable")
        return await invoke(c.services.admin, c.me, op, c.data)

    return handle


HANDLERS: dict[str, Handler] = {
    "ping": _ping,
    "auth.register": _register,
    "auth.login": _login,
    "auth.refresh": _refresh,
    "auth.authenticate": _start_session,
    "auth.logout": _logout,
    "auth.logout_all": _logout_all,
    "auth.change_password": _change_password,
    "user.get": _user_get,
    "user.find": _user_find,
    "user.list": _user_list,
    "user.update": _user_update,
    "user.block": _block,
    "user.unblock": _unblock,
    "group.create": _group_create,
    "group.list": _group_list,
    "group.get": _group_get,
    "group.update": _group_update,
    "group.delete": _group_delete,
    "group.transfer": _group_transfer,
    "group.join": _group_join,
    "group.leave": _group_leave,
    "channel.create": _channel_create,
    "channel.update": _channel_update,
    "channel.delete": _channel_delete,
    "channel.reorder": _channel_reorder,
    "member.list": _member_list,
    "member.kick": _kick,
    "member.ban": _ban,
    "member.unban": _unban,
    "member.set_role": _set_role,
    "invite.create": _invite_create,
    "invite.list": _invite_list,
    "invite.revoke": _invite_revoke,
    "conversation.list": _conversation_list,
    "dm.open": _dm_open,
    "message.send": _send,
    "message.edit": _edit,
    "message.delete": _delete,
    "message.react": _react,
    "message.unreact": _unreact,
    "message.history": _history,
    "message.pin": _pin,
    "message.unpin": _unpin,
    "pin.list": _pin_list,
    "message.search": _search,
    "read.mark": _mark_read,
    **{op: _admin_handler(op) for op in ADMIN_OPS},
}
