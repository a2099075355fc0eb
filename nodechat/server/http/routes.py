"""The one route table of the public HTTP/JSON API (``/api/v1``).

Each route exposes one op of protocol v1 (``nodechat.protocol.frames.OPS``):
its fields come from the path (``{name}`` segments carry the op field of the
same name), the query string (``query``) or, except for GET and DELETE, the
JSON body (every other field of the op). The app, the request decoder and the OpenAPI document are all
generated from :data:`ROUTES`, and replies are the op's reply ``data``,
exactly as on the socket.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nodechat.protocol.frames import OPS, PUBLIC_OPS, Field

API_PREFIX = "/api/v1"
_PARAM = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True, slots=True)
class Route:
    """One HTTP route: method, path template, the op it calls and how to document it."""

    method: str
    path: str  # template below API_PREFIX; ``{field}`` segments name op fields
    op: str
    summary: str
    tag: str
    reply: str  # name of the reply schema in the OpenAPI components
    query: tuple[str, ...] = ()
    created: bool = False  # 201 Created instead of 200
    operation_id: str = ""

    @property
    def url(self) -> str:
        """The full path template, prefix included."""
        return API_PREFIX + self.path

    @property
    def name(self) -> str:
        """A unique operation id (the op with ``_`` for ``.`` unless given)."""
        return self.operation_id or self.op.replace(".", "_")

    @property
    def path_fields(self) -> tuple[str, ...]:
        """Op fields taken from the path, in order."""
        return tuple(_PARAM.findall(self.path))

    @property
    def fields(self) -> dict[str, Field]:
        """Every field of the op."""
        return OPS[self.op]

    @property
    def has_body(self) -> bool:
        """Whether the route reads a JSON body (GET and DELETE never do)."""
        return self.method not in ("GET", "DELETE")

    @property
    def body_fields(self) -> dict[str, Field]:
        """Op fields taken from the JSON body (the rest of the op's fields)."""
        if not self.has_body:
            return {}
        taken = set(self.path_fields) | set(self.query)
        return {k: v for k, v in OPS[self.op].items() if k not in taken}

    @property
    def authenticated(self) -> bool:
        """Whether the route needs a bearer token."""
        return self.op not in PUBLIC_OPS


@dataclass(frozen=True, slots=True)
class SystemRoute:
    """A route outside ``/api/v1`` (discovery, docs, probes, metrics)."""

    method: str
    path: str
    summary: str
    reply: str  # OpenAPI component schema name, or a media type for non-JSON replies
    name: str


def _r(
    method: str,
    path: str,
    op: str,
    summary: str,
    tag: str,
    reply: str,
    *,
    query: tuple[str, ...] = (),
    created: bool = False,
    operation_id: str = "",
) -> Route:
    return Route(method, path, op, summary, tag, reply, query, created, operation_id)


_A, _U, _G, _C, _M, _I, _CV, _MS = (
    "auth",
    "users",
    "groups",
    "channels",
    "members",
    "invites",
    "conversations",
    "messages",
)

ROUTES: tuple[Route, ...] = (
    _r(
        "POST",
        "/auth/register",
        "auth.register",
        "Create an account and log in",
        _A,
        "TokenPair",
        created=True,
    ),
    _r("POST", "/auth/login", "auth.login", "Log in by username or email", _A, "TokenPair"),
    _r(
        "POST",
        "/auth/refresh",
        "auth.refresh",
        "Spend a refresh token for a new pair",
        _A,
        "TokenPair",
    ),
    _r(
        "POST",
        "/auth/session",
        "auth.authenticate",
        "Start a session: the ready snapshot, and the messages missed since `resume`",
        _A,
        "Session",
    ),
    _r("POST", "/auth/logout", "auth.logout", "End this session", _A, "Empty"),
    _r(
        "POST",
        "/auth/logout_all",
        "auth.logout_all",
        "End every session of the account",
        _A,
        "SessionCount",
    ),
    _r(
        "POST",
        "/auth/change_password",
        "auth.change_password",
        "Change the password (every other session ends)",
        _A,
        "Empty",
    ),
    _r(
        "GET",
        "/users/me",
        "user.get",
        "Your own account",
        _U,
        "UserPrivate",
        operation_id="user_get_me",
    ),
    _r(
        "PATCH",
        "/users/me",
        "user.update",
        "Change display name and/or about text",
        _U,
        "UserPrivate",
    ),
    _r(
        "GET",
        "/users",
        "user.find",
        "Look a user up by username",
        _U,
        "UserPublic",
        query=("username",),
    ),
    _r("POST", "/users/lookup", "user.list", "Public profiles of several users", _U, "UserList"),
    _r("GET", "/users/{user_id}", "user.get", "A user's public profile", _U, "User"),
    _r("POST", "/users/{user_id}/block", "user.block", "Block a user", _U, "Empty"),
    _r("DELETE", "/users/{user_id}/block", "user.unblock", "Lift a block", _U, "Empty"),
    _r("POST", "/groups", "group.create", "Create a group", _G, "GroupView", created=True),
    _r("GET", "/groups", "group.list", "Your groups with their channels", _G, "GroupList"),
    _r("POST", "/groups/join", "group.join", "Join a group by invite code", _G, "GroupView"),
    _r("GET", "/groups/{group_id}", "group.get", "One group", _G, "GroupView"),
    _r(
        "PATCH", "/groups/{group_id}", "group.update", "Rename or describe a group", _G, "GroupView"
    ),
    _r("DELETE", "/groups/{group_id}", "group.delete", "Delete a group (owner)", _G, "Empty"),
    _r(
        "POST",
        "/groups/{group_id}/transfer",
        "group.transfer",
        "Hand the group to another member (owner)",
        _G,
        "GroupView",
    ),
    _r("POST", "/groups/{group_id}/leave", "group.leave", "Leave a group", _G, "Empty"),
    _r(
        "POST",
        "/groups/{group_id}/channels",
        "channel.create",
        "Add a channel",
        _C,
        "Channel",
        created=True,
    ),
    _r(
        "PUT",
        "/groups/{group_id}/channels/order",
        "channel.reorder",
        "Set the channel order",
        _C,
        "ChannelList",
    ),
    _r(
        "PATCH",
        "/channels/{channel_id}",
        "channel.update",
        "Rename or set the topic",
        _C,
        "Channel",
    ),
    _r(
        "DELETE",
        "/channels/{channel_id}",
        "channel.delete",
        "Delete a channel and its history",
        _C,
        "Empty",
    ),
    _r(
        "GET",
        "/groups/{group_id}/members",
        "member.list",
        "One page of a group's members",
        _M,
        "MemberList",
        query=("after", "limit"),
    ),
    _r(
        "PATCH",
        "/groups/{group_id}/members/{user_id}",
        "member.set_role",
        "Make a member admin or member (owner)",
        _M,
        "Member",
    ),
    _r(
        "DELETE",
        "/groups/{group_id}/members/{user_id}",
        "member.kick",
        "Remove a member",
        _M,
        "Empty",
    ),
    _r(
        "PUT",
        "/groups/{group_id}/bans/{user_id}",
        "member.ban",
        "Remove a member and keep them out",
        _M,
        "Empty",
    ),
    _r("DELETE", "/groups/{group_id}/bans/{user_id}", "member.unban", "Lift a ban", _M, "Empty"),
    _r(
        "POST",
        "/groups/{group_id}/invites",
        "invite.create",
        "Create an invite code",
        _I,
        "Invite",
        created=True,
    ),
    _r("GET", "/groups/{group_id}/invites", "invite.list", "The group's invites", _I, "InviteList"),
    _r("DELETE", "/invites/{code}", "invite.revoke", "Revoke an invite", _I, "Invite"),
    _r(
        "GET",
        "/conversations",
        "conversation.list",
        "Your conversations with last seq, read marker and unread count",
        _CV,
        "ConversationList",
    ),
    _r(
        "POST",
        "/dms",
        "dm.open",
        "Open (or get) the direct conversation with a user",
        _CV,
        "Conversation",
    ),
    _r(
        "PUT",
        "/conversations/{conversation}/read",
        "read.mark",
        "Move your read marker",
        _CV,
        "ReadMarker",
    ),
    _r(
        "GET",
        "/conversations/{conversation}/messages",
        "message.history",
        "History by seq cursor: newest first, or oldest first with `after`",
        _MS,
        "History",
        query=("before", "after", "limit"),
    ),
    _r(
        "POST",
        "/conversations/{conversation}/messages",
        "message.send",
        "Send a message (idempotent on nonce)",
        _MS,
        "SendAck",
        created=True,
    ),
    _r("PATCH", "/messages/{message_id}", "message.edit", "Edit your message", _MS, "Message"),
    _r("DELETE", "/messages/{message_id}", "message.delete", "Delete a message", _MS, "DeleteAck"),
    _r(
        "PUT",
        "/messages/{message_id}/pin",
        "message.pin",
        "Pin a message in its conversation (idempotent)",
        _MS,
        "PinnedMessage",
    ),
    _r(
        "DELETE",
        "/messages/{message_id}/pin",
        "message.unpin",
        "Unpin a message (idempotent)",
        _MS,
        "UnpinAck",
    ),
    _r(
        "GET",
        "/conversations/{conversation}/pins",
        "pin.list",
        "A conversation's pinned messages, newest pin first",
        _MS,
        "PinList",
    ),
    _r(
        "GET",
        "/search",
        "message.search",
        "Full-text search over what you may read (or one conversation): best match first",
        _MS,
        "SearchPage",
        query=("query", "conversation", "author", "before", "after", "cursor", "limit"),
    ),
    _r(
        "PUT",
        "/messages/{message_id}/reactions/{emoji}",
        "message.react",
        "React with an emoji (idempotent)",
        _MS,
        "ReactionAck",
    ),
    _r(
        "DELETE",
        "/messages/{message_id}/reactions/{emoji}",
        "message.unreact",
        "Take your reaction back (idempotent)",
        _MS,
        "ReactionAck",
    ),
)

SYSTEM_ROUTES: tuple[SystemRoute, ...] = (
    SystemRoute(
        "GET",
        "/api/gateway",
        "A socket node URL to connect to, and every live one",
        "Gateway",
        "gateway",
    ),
    SystemRoute("GET", "/healthz", "Liveness: the process runs", "Health", "healthz"),
    SystemRoute("GET", "/readyz", "Readiness: the process can serve requests", "Health", "readyz"),
    SystemRoute("GET", "/metrics", "Prometheus metrics", "text/plain", "metrics"),
    SystemRoute("GET", "/openapi.json", "This OpenAPI document", "application/json", "openapi"),
    SystemRoute("GET", "/docs", "Browsable API documentation", "text/html", "docs"),
)
