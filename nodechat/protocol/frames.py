"""Client frame codec and validation (protocol v1). Plain Python, no I/O.

A request is a JSON object ``{"id": <string|int>, "op": <string>, "data": {…}}``.
``decode_request`` turns frame text into a :class:`Request` whose ``data`` has
exactly the fields the op declares, with the declared types, or raises a
:class:`~nodechat.errors.ChatError` whose code the client can act on:
``bad_frame`` (not a JSON object), ``unknown_op``, ``invalid_request``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from nodechat.errors import ChatError

PROTOCOL_VERSION = 1
# Announced in ``hello``: the snapshot carries no member lists (member.list pages them)
# and presence goes only to sessions that show the user (presence.subscribe).
CAPABILITIES = ("lazy_members", "presence_subscriptions")
MAX_ID_LENGTH = 64
MAX_STRING = 8192
MAX_LIST = 1000


@dataclass(frozen=True, slots=True)
class Field:
    """One declared field of an op's ``data``."""

    kind: str  # "str", "int", "bool", "str_list", "seq_map"
    required: bool = True
    max_len: int = MAX_STRING


def _s(max_len: int = MAX_STRING) -> Field:
    return Field("str", True, max_len)


def _os(max_len: int = MAX_STRING) -> Field:
    return Field("str", False, max_len)


INT = Field("int")
OINT = Field("int", False)
ID = _s(128)
OBOOL = Field("bool", False)
OID = _os(128)

# Ops a connection may use before it has authenticated.
PUBLIC_OPS = frozenset({"auth.register", "auth.login", "auth.refresh", "auth.authenticate", "ping"})

OPS: dict[str, dict[str, Field]] = {
    "ping": {},
    "auth.register": {
        "username": _s(64),
        "email": _s(320),
        "password": _s(1024),
        "display_name": _os(200),
    },
    "auth.login": {"login": _s(320), "password": _s(1024)},
    "auth.refresh": {"refresh_token": _s(512)},
    "auth.authenticate": {"token": _s(4096), "resume": Field("seq_map", False)},
    "auth.logout": {},
    "auth.logout_all": {},
    "auth.change_password": {"old_password": _s(1024), "new_password": _s(1024)},
    "user.get": {"user_id": OID},
    "user.find": {"username": _s(64)},
    "user.list": {"user_ids": Field("str_list")},
    "user.update": {"display_name": _os(200), "about": _os(1000)},
    "user.block": {"user_id": ID},
    "user.unblock": {"user_id": ID},
    "group.create": {"name": _s(400), "description": _os(4000)},
    "group.list": {},
    "group.get": {"group_id": ID},
    "group.update": {"group_id": ID, "name": _os(400), "description": _os(4000)},
    "group.delete": {"group_id": ID},
    "group.transfer": {"group_id": ID, "user_id": ID},
    "group.join": {"code": _s(128)},
    "group.leave": {"group_id": ID},
    "channel.create": {"group_id": ID, "name": _s(400), "kind": _os(16), "topic": _os(2000)},
    "channel.update": {"channel_id": ID, "name": _os(400), "topic": _os(2000)},
    "channel.delete": {"channel_id": ID},
    "channel.reorder": {"group_id": ID, "channel_ids": Field("str_list")},
    "member.list": {"group_id": ID, "after": _os(200), "limit": OINT},
    "member.kick": {"group_id": ID, "user_id": ID},
    "member.ban": {"group_id": ID, "user_id": ID},
    "member.unban": {"group_id": ID, "user_id": ID},
    "member.set_role": {"group_id": ID, "user_id": ID, "role": _s(16)},
    "invite.create": {"group_id": ID, "expires_in": OINT, "max_uses": OINT},
    "invite.list": {"group_id": ID},
    "invite.revoke": {"code": _s(128)},
    "conversation.list": {},
    "dm.open": {"user_id": ID},
    "message.send": {
        "conversation": _s(200),
        "body": _s(16000),
        "nonce": _s(128),
        "reply_to": OID,
        # file ids of the author's uploads (services/attachments.py: invalid_attachments)
        "attachments": Field("str_list", False),
    },
    "message.edit": {"message_id": ID, "body": _s(16000)},
    "message.delete": {"message_id": ID},
    # ``emoji`` is checked by the message service (services/reactions.py: invalid_emoji)
    "message.react": {"message_id": ID, "emoji": _s(64)},
    "message.unreact": {"message_id": ID, "emoji": _s(64)},
    "message.history": {"conversation": _s(200), "before": OINT, "after": OINT, "limit": OINT},
    "message.pin": {"message_id": ID},
    "message.unpin": {"message_id": ID},
    "pin.list": {"conversation": _s(200)},
    # services/search.py checks the rest: limit 1-50, a word in query, the cursor's form
    "message.search": {
        "query": _s(500),
        "conversation": _os(200),
        "author": _os(128),
        "before": OINT,
        "after": OINT,
        "cursor": _os(64),
        "limit": OINT,
    },
    "read.mark": {"conversation": _s(200), "seq": INT},
    "typing": {"conversation": _s(200)},
    "voice.join": {"channel": ID},
    "voice.leave": {},
    "voice.state": {"muted": OBOOL, "deafened": OBOOL},
    # peer-to-peer signaling to another participant (nodechat.server.voice_ops)
    "voice.signal": {"to": ID, "kind": _s(16), "payload": _s(MAX_STRING)},
    # Presence subscriptions (nodechat.server.hub): socket only, no HTTP route.
    "presence.subscribe": {"user_ids": Field("str_list")},
    "presence.unsubscribe": {"user_ids": Field("str_list", False)},
    # Server administration (nodechat.services.admin): server admins only. ``user``
    # takes a user id or a username.
    "admin.user.list": {
        "after": OID,
        "limit": OINT,
        "query": _os(320),
        "admins": OBOOL,
        "disabled": OBOOL,
    },
    "admin.user.get": {"user": _s(128)},
    "admin.user.create": {
        "username": _s(64),
        "email": _s(320),
        "password": _s(1024),
        "display_name": _os(200),
        "admin": OBOOL,
    },
    "admin.user.disable": {"user": _s(128)},
    "admin.user.enable": {"user": _s(128)},
    "admin.user.reset_password": {"user": _s(128), "password": _s(1024)},
    "admin.user.delete": {"user": _s(128)},
    "admin.user.set_admin": {"user": _s(128), "admin": Field("bool")},
    "admin.group.list": {"after": OID, "limit": OINT},
    "admin.group.get": {"group_id": ID},
    "admin.group.create": {"name": _s(400), "owner": _os(128), "description": _os(4000)},
    "admin.group.delete": {"group_id": ID},
    "admin.member.add": {"group_id": ID, "user": _s(128), "role": _os(16)},
    "admin.member.remove": {"group_id": ID, "user": _s(128)},
    "admin.member.set_role": {"group_id": ID, "user": _s(128), "role": _s(16)},
    "admin.channel.list": {"group_id": ID},
    "admin.channel.get": {"channel_id": ID},
    "admin.channel.create": {"group_id": ID, "name": _s(400), "kind": _os(16), "topic": _os(2000)},
    "admin.channel.rename": {"channel_id": ID, "name": _s(400)},
    "admin.channel.delete": {"channel_id": ID},
    "admin.invite.list": {"group_id": ID},
    "admin.invite.get": {"code": _s(128)},
    "admin.invite.create": {"group_id": ID, "expires_in": OINT, "max_uses": OINT},
    "admin.invite.revoke": {"code": _s(128)},
    "admin.session.list": {"user": _s(128), "active": OBOOL},
    "admin.session.get": {"session_id": ID},
    "admin.session.revoke": {"session_id": ID},
    "admin.stats": {"days": OINT},
}


@dataclass(frozen=True, slots=True)
class Request:
    """A decoded, validated client request."""

    id: str | int
    op: str
    data: dict[str, Any]


class FrameError(ChatError):
    """A frame that cannot be answered as a request; ``request_id`` if one was readable."""

    def __init__(
        self, message: str, *, code: str, request_id: str | int | None = None, **details: Any
    ) -> None:
        super().__init__(message, code=code, **details)
        self.request_id = request_id


def _whole(value: Any) -> Any:
    """A JSON number with no fraction as an int (JSON does not tell ``1`` from ``1.0``,
    and JSON Schema's ``integer`` admits both); anything else as it is."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _check_field(op: str, name: str, spec: Field, value: Any, rid: str | int) -> Any:
    kind = spec.kind
    ok: bool
    if kind == "int":
        value = _whole(value)
    elif kind == "seq_map" and isinstance(value, dict):
        value = {k: _whole(v) for k, v in value.items()}
    if kind == "str":
        ok = isinstance(value, str) and len(value) <= spec.max_len
    elif kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool) and -(2**53) <= value < 2**53
    elif kind == "bool":
        ok = isinstance(value, bool)
    elif kind == "str_list":
        ok = (
            isinstance(value, list)
            and len(value) <= MAX_LIST
            and all(isinstance(v, str) and len(v) <= 128 for v in value)
        )
    elif kind == "seq_map":
        ok = (
            isinstance(value, dict)
            and len(value) <= 10_000
            and all(
                isinstance(k, str)
                and len(k) <= 200
                and isinstance(v, int)
                and not isinstance(v, bool)
                and 0 <= v < 2**53
                for k, v in value.items()
            )
        )
    else:  # pragma: no cover - the table above is the only source of kinds
        ok = False
    if not ok:
        expected = {
            "str": f"a string of at most {spec.max_len} characters",
            "int": "an integer",
            "bool": "a boolean",
            "str_list": "a list of strings",
            "seq_map": "an object of seq numbers",
        }[kind]
        raise FrameError(
            f"{op}: field {name!r} must be {expected}",
            code="invalid_request",
            request_id=rid,
            field=name,
        )
    return value


def decode_request(text: str | bytes) -> Request:
    """Parse and validate one client frame."""
    try:
        frame = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise FrameError("frame is not valid JSON", code="bad_frame") from None
    if not isinstance(frame, dict):
        raise FrameError("frame must be a JSON object", code="bad_frame")
    rid = frame.get("id")
    if not (isinstance(rid, str) and 0 < len(rid) <= MAX_ID_LENGTH) and not (
        isinstance(rid, int) and not isinstance(rid, bool) and 0 <= rid < 2**53
    ):
        raise FrameError(
            f"id must be a non-empty string (max {MAX_ID_LENGTH}) or an integer", code="bad_frame"
        )
    extra = set(frame) - {"id", "op", "data"}
    if extra:
        raise FrameError(
            f"unexpected top-level field(s): {', '.join(sorted(extra))}",
            code="invalid_request",
            request_id=rid,
        )
    op = frame.get("op")
    if not isinstance(op, str):
        raise FrameError("op must be a string", code="invalid_request", request_id=rid)
    spec = OPS.get(op)
    if spec is None:
        raise FrameError(f"unknown op {op[:64]!r}", code="unknown_op", request_id=rid)
    data = frame.get("data", {})
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise FrameError("data must be a JSON object", code="invalid_request", request_id=rid)
    unknown = set(data) - set(spec)
    if unknown:
        name = sorted(unknown)[0]
        raise FrameError(
            f"{op}: unknown field {name[:64]!r}",
            code="invalid_request",
            request_id=rid,
            field=name[:64],
        )
    clean: dict[str, Any] = {}
    for name, field in spec.items():
        if name not in data or data[name] is None:
            if field.required:
                raise FrameError(
                    f"{op}: field {name!r} is required",
                    code="invalid_request",
                    request_id=rid,
                    field=name,
                )
            continue
        clean[name] = _check_field(op, name, field, data[name], rid)
    return Request(rid, op, clean)


def encode_reply(request_id: str | int, data: Any) -> bytes:
    """A successful reply frame."""
    return orjson.dumps({"type": "reply", "id": request_id, "ok": True, "data": data})


def encode_error(request_id: str | int | None, error: ChatError) -> bytes:
    """An error reply (or, with no id, a connection-level error frame)."""
    if request_id is None:
        return orjson.dumps({"type": "error", "error": error.to_dict()})
    return orjson.dumps({"type": "reply", "id": request_id, "ok": False, "error": error.to_dict()})


def encode_hello(*, auth_deadline: float, heartbeat: float, max_frame: int) -> bytes:
    """The first frame the server sends on every connection."""
    return orjson.dumps(
        {
            "type": "hello",
            "protocol": PROTOCOL_VERSION,
            "auth_deadline": auth_deadline,
            "heartbeat": heartbeat,
            "max_frame": max_frame,
            "capabilities": list(CAPABILITIES),
        }
    )
