"""The gateway's HTTP/JSON API over real HTTP on port 0, with local services.

Every 2xx reply is checked against the schema the OpenAPI document declares
for it, and one test walks every route of the table.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from yarl import URL

from nodechat.bus import MemoryBus
from nodechat.cluster import LocalPresence, LocalVoiceRoster
from nodechat.config import AuthSettings, load_settings
from nodechat.errors import RateLimited
from nodechat.models import Identity
from nodechat.server.http import (
    ROUTES,
    SYSTEM_ROUTES,
    Route,
    bound_port,
    build_gateway_app,
    serve_app,
    start_ops_server,
)
from nodechat.server.metrics import Metrics
from nodechat.server.wiring import with_http_sessions
from nodechat.services.api import Services
from nodechat.services.auth import LocalAuthService
from nodechat.services.groups import LocalGroupService
from nodechat.services.messages import LocalMessageService
from nodechat.services.tokens import TokenIssuer, TokenVerifier, load_or_create_keys
from nodechat.storage import open_store

_names = itertools.count(1)
PASSWORD = "correct horse 1"
BY_NAME = {route.name: route for route in ROUTES}


@dataclass
class Reply:
    status: int
    body: Any
    headers: Any


@dataclass
class Gateway:
    """A running gateway app and what its hooks report."""

    base: str
    session: aiohttp.ClientSession
    metrics: Metrics
    not_ready: list[str] = field(default_factory=list)
    socket_urls: list[str] = field(default_factory=lambda: ["ws://127.0.0.1:7801/"])
    openapi: dict[str, Any] = field(default_factory=dict)

    async def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        *,
        json: Any = None,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
        encoded: bool = False,
    ) -> Reply:
        """One request; ``encoded`` sends ``path`` exactly as given (percent-escapes kept)."""
        hdrs = dict(headers or {})
        if token is not None:
            hdrs["Authorization"] = f"Bearer {token}"
        url = URL(self.base + path, encoded=True) if encoded else self.base + path
        async with self.session.request(method, url, json=json, data=data, headers=hdrs) as resp:
            ctype = resp.headers.get("Content-Type", "")
            body = await resp.json() if "json" in ctype else await resp.text()
            return Reply(resp.status, body, resp.headers)

    async def op(
        self,
        name: str,
        token: str | None = None,
        *,
        expect: int | None = None,
        query: dict[str, Any] | None = None,
        body: Any = None,
        **params: str,
    ) -> Any:
        """Call the route with operation id ``name``; check the status and the reply schema."""
        route = BY_NAME[name]
        path = route.url.format(**{k: quote(v, safe="") for k, v in params.items()})
        if query:
            path += "?" + "&".join(f"{k}={quote(str(v), safe='')}" for k, v in query.items())
        reply = await self.call(route.method, path, token, json=body, encoded=True)
        want = expect or (201 if route.created else 200)
        assert reply.status == want, (name, reply.status, reply.body)
        check_reply(self.openapi, route, reply)
        return reply.body


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = doc
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def check_schema(doc: dict[str, Any], schema: dict[str, Any], value: Any, at: str = "$") -> None:
    """A small JSON Schema check: types, required and no undeclared properties."""
    schema = _resolve(doc, schema)
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if value is None:
        assert "null" in kinds, f"{at}: null not allowed"
    elif "object" in kinds:
        assert isinstance(value, dict), at
        props = dict(schema.get("properties", {}))
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):  # a map: every other key's value has this schema
            props.update((key, extra) for key in value if key not in props)
        assert set(value) <= set(props), f"{at}: undeclared {set(value) - set(props)}"
        assert set(schema.get("required", [])) <= set(value), f"{at}: missing properties"
        if "maxProperties" in schema:
            assert len(value) <= schema["maxProperties"], at
        for key, item in value.items():
            check_schema(doc, props[key], item, f"{at}.{key}")
    elif "array" in kinds:
        assert isinstance(value, list), at
        for i, item in enumerate(value):
            check_schema(doc, schema["items"], item, f"{at}[{i}]")
    elif "integer" in kinds:
        assert isinstance(value, int) and not isinstance(value, bool), at
    elif "boolean" in kinds:
        assert isinstance(value, bool), at
    elif "string" in kinds:
        assert isinstance(value, str), at
        assert value in schema.get("enum", [value]), at


def check_reply(doc: dict[str, Any], route: Route, reply: Reply) -> None:
    """The reply matches the schema documented for its route and status."""
    responses = doc["paths"][route.url][route.method.lower()]["responses"]
    declared = responses[str(reply.status)]
    if "$ref" in declared:
        declared = _resolve(doc, declared)
    check_schema(doc, declared["content"]["application/json"]["schema"], reply.body)


def build_services(tmp_path: Path) -> tuple[Services, Any, MemoryBus]:
    """All three roles local, as ``nodechat serve`` wires them."""
    settings = AuthSettings()
    store = open_store(f"sqlite:///{tmp_path}/db")
    bus = MemoryBus()
    keys = load_or_create_keys(tmp_path)
    auth = LocalAuthService(
        store, bus, TokenIssuer(keys, settings), TokenVerifier(keys.public_pem, settings), settings
    )
    services = Services(auth, LocalGroupService(store, bus), LocalMessageService(store, bus))
    sessions = with_http_sessions(
        services,
        load_settings(env={}),
        presence=LocalPresence(),
        voice=LocalVoiceRoster(),
        bus=bus,
    )
    return sessions, store, bus


async def _start(services: Services, metrics: Metrics, **options: Any) -> AsyncIterator[Gateway]:
    gw: Gateway | None = None

    async def socket_urls() -> list[str]:
        assert gw is not None
        return list(gw.socket_urls)

    app = build_gateway_app(
        services,
        ready=lambda: list(gw.not_ready) if gw else [],
        socket_urls=socket_urls,
        metrics=metrics,
        **options,
    )
    runner = await serve_app(app, "127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as session:
            gw = Gateway(f"http://127.0.0.1:{bound_port(runner)}", session, metrics)
            gw.openapi = (await gw.call("GET", "/openapi.json")).body
            yield gw
    finally:
        await runner.cleanup()


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    services, store, bus = build_services(tmp_path)
    try:
        async for gw in _start(services, Metrics()):
            yield gw
    finally:
        await bus.close()
        await store.close()


@dataclass
class User:
    id: str
    name: str
    token: str
    refresh: str


async def register(gw: Gateway, name: str | None = None) -> User:
    username = name or f"web{next(_names)}"
    body = await gw.op(
        "auth_register",
        body={"username": username, "password": PASSWORD, "email": f"{username}@example.test"},
    )
    return User(body["user"]["id"], username, body["access_token"], body["refresh_token"])


async def test_accounts_tokens_and_profile(gateway: Gateway) -> None:
    gw = gateway
    ann = await register(gw, "webann")
    err = await gw.call(
        "POST",
        "/api/v1/auth/register",
        json={"username": "webann", "email": "other@example.test", "password": PASSWORD},
    )
    assert err.status == 409 and err.body["error"]["code"] == "username_taken"
    bad = await gw.call(
        "POST", "/api/v1/auth/login", json={"login": "webann", "password": "wrong password"}
    )
    assert bad.status == 401 and bad.body["error"]["code"] == "invalid_credentials"
    assert bad.headers["WWW-Authenticate"].startswith("Bearer")
    pair = await gw.op("auth_login", body={"login": "webann@example.test", "password": PASSWORD})
    me = await gw.op("user_get_me", pair["access_token"])
    assert me["id"] == ann.id and me["email"] == "webann@example.test"
    me = await gw.op("user_update", ann.token, body={"display_name": "Ann", "about": "hi"})
    assert (me["display_name"], me["about"]) == ("Ann", "hi")
    found = await gw.op("user_find", pair["access_token"], query={"username": "webann"})
    assert found == {"id": ann.id, "username": "webann", "display_name": "Ann", "about": "hi"}
    other = await gw.op("user_get", pair["access_token"], user_id=ann.id)
    assert other["id"] == ann.id
    fresh = await gw.op("auth_refresh", body={"refresh_token": ann.refresh})
    assert fresh["session_id"] and fresh["refresh_token"] != ann.refresh
    await gw.op("auth_logout", fresh["access_token"])
    gone = await gw.call("GET", "/api/v1/users/me", fresh["access_token"])
    assert gone.status == 401 and gone.body["error"]["code"] == "session_revoked"
    await gw.op(
        "auth_change_password",
        pair["access_token"],
        body={"old_password": PASSWORD, "new_password": "another horse 2"},
    )
    assert (await gw.op("auth_logout_all", pair["access_token"])) == {"sessions": 1}


async def test_group_chat_over_http(gateway: Gateway) -> None:
    gw = gateway
    ann, bob, carol = await register(gw), await register(gw), await register(gw)
    group = await gw.op("group_create", ann.token, body={"name": "Hikers"})
    gid, welcome = group["id"], group["channels"][0]["id"]
    invite = await gw.op("invite_create", ann.token, group_id=gid, body={"max_uses": 5})
    joined = await gw.op("group_join", bob.token, body={"code": invite["code"]})
    assert joined["id"] == gid and joined["role"] == "member"
    members = await gw.op("member_list", bob.token, group_id=gid)
    assert {m["user_id"] for m in members["members"]} == {ann.id, bob.id}
    assert [g["id"] for g in (await gw.op("group_list", bob.token))["groups"]] == [gid]

    first = await gw.op(
        "message_send", ann.token, conversation=welcome, body={"body": "hello", "nonce": "n-1"}
    )
    again = await gw.op(
        "message_send",
        ann.token,
        conversation=welcome,
        expect=200,
        body={"body": "hello", "nonce": "n-1"},
    )
    assert (again["id"], again["seq"], again["duplicate"]) == (first["id"], 1, True)
    assert first["duplicate"] is False
    for i in range(2, 6):
        await gw.op(
            "message_send",
            bob.token,
            conversation=welcome,
            body={"body": f"msg {i}", "nonce": f"b-{i}"},
        )
    newest = await gw.op("message_history", bob.token, conversation=welcome, query={"limit": 2})
    assert [m["seq"] for m in newest["messages"]] == [5, 4] and newest["has_more"] is True
    older = await gw.op("message_history", bob.token, conversation=welcome, query={"before": 2})
    assert [m["seq"] for m in older["messages"]] == [1] and older["has_more"] is False
    forward = await gw.op(
        "message_history", bob.token, conversation=welcome, query={"after": 2, "limit": 2}
    )
    assert [m["seq"] for m in forward["messages"]] == [3, 4] and forward["has_more"] is True

    assert await gw.op("read_mark", ann.token, conversation=welcome, body={"seq": 3}) == {
        "conversation": welcome,
        "seq": 3,
    }
    states = {c["id"]: c for c in (await gw.op("conversation_list", ann.token))["conversations"]}
    assert (states[welcome]["last_read_seq"], states[welcome]["unread"]) == (3, 2)

    dm = await gw.op("dm_open", ann.token, body={"user_id": bob.id})
    assert dm["id"].startswith("dm:") and dm["peer_id"] == bob.id
    sent = await gw.op(
        "message_send",
        ann.token,
        conversation=dm["id"],  # ':' as %3A
        body={"body": "psst", "nonce": "dm-1", "reply_to": None},
    )
    raw = await gw.call("GET", f"/api/v1/conversations/{dm['id']}/messages", bob.token)
    assert raw.status == 200 and [m["body"] for m in raw.body["messages"]] == ["psst"]
    notes = f"self:{carol.id}"
    await gw.op(
        "message_send", carol.token, conversation=notes, body={"body": "milk", "nonce": "s-1"}
    )

    edited = await gw.op("message_edit", ann.token, message_id=sent["id"], body={"body": "hm"})
    assert edited["body"] == "hm" and edited["edited_at"] is not None
    deleted = await gw.op("message_delete", ann.token, message_id=sent["id"])
    assert deleted == {"id": sent["id"], "conversation": dm["id"], "seq": 1}
    after = await gw.op("message_history", bob.token, conversation=dm["id"])
    assert after["messages"][0]["deleted"] is True and after["messages"][0]["body"] == ""

    hidden = await gw.call("GET", f"/api/v1/groups/{gid}", carol.token)
    assert hidden.status == 404 and hidden.body["error"]["code"] == "group_not_found"
    hidden = await gw.call("GET", f"/api/v1/conversations/{welcome}/messages", carol.token)
    assert hidden.status == 404 and hidden.body["error"]["code"] == "conversation_not_found"
    hidden = await gw.call("GET", f"/api/v1/conversations/{notes}/messages", ann.token)
    assert hidden.status == 404
    forbidden = await gw.call(
        "PATCH", f"/api/v1/messages/{first['id']}", bob.token, json={"body": "not mine"}
    )
    assert forbidden.status == 403 and forbidden.body["error"]["code"] == "forbidden"


async def test_pins_over_http(gateway: Gateway) -> None:
    gw = gateway
    ann, bob, carol = await register(gw), await register(gw), await register(gw)
    group = await gw.op("group_create", ann.token, body={"name": "Pinners"})
    gid, welcome = group["id"], group["channels"][0]["id"]
    invite = await gw.op("invite_create", ann.token, group_id=gid)
    await gw.op("group_join", bob.token, body={"code": invite["code"]})
    sent = await gw.op(
        "message_send", bob.token, conversation=welcome, body={"body": "rules", "nonce": "r"}
    )
    pinned = await gw.op("message_pin", ann.token, message_id=sent["id"])
    assert pinned["message"]["id"] == sent["id"] and pinned["pinned_by"] == ann.id
    assert await gw.op("message_pin", ann.token, message_id=sent["id"]) == pinned  # idempotent
    listed = await gw.op("pin_list", bob.token, conversation=welcome)
    assert listed == {"conversation": welcome, "pins": [pinned]}

    path = f"/api/v1/messages/{sent['id']}/pin"
    refused = await gw.call("PUT", path, bob.token)
    assert refused.status == 403 and refused.body["error"]["code"] == "forbidden"
    hidden = await gw.call("PUT", path, carol.token)
    assert hidden.status == 404 and hidden.body["error"]["code"] == "message_not_found"
    hidden = await gw.call("GET", f"/api/v1/conversations/{welcome}/pins", carol.token)
    assert hidden.status == 404 and hidden.body["error"]["code"] == "conversation_not_found"

    notes = f"self:{carol.id}"
    for i in range(51):
        note = await gw.op(
            "message_send", carol.token, conversation=notes, body={"body": "n", "nonce": f"{i}"}
        )
        reply = await gw.call("PUT", f"/api/v1/messages/{note['id']}/pin", carol.token)
    assert reply.status == 409 and reply.body["error"]["code"] == "too_many_pins"

    gone = await gw.op("message_unpin", ann.token, message_id=sent["id"])
    assert gone == {"conversation": welcome, "message_id": sent["id"]}
    assert (await gw.op("pin_list", ann.token, conversation=welcome))["pins"] == []


async def test_search_over_http(gateway: Gateway) -> None:
    gw = gateway
    ann, bob, carol = await register(gw), await register(gw), await register(gw)
    group = await gw.op("group_create", ann.token, body={"name": "Searchers"})
    gid, welcome = group["id"], group["channels"][0]["id"]
    invite = await gw.op("invite_create", ann.token, group_id=gid)
    await gw.op("group_join", bob.token, body={"code": invite["code"]})
    for i in range(3):
        await gw.op(
            "message_send",
            ann.token,
            conversation=welcome,
            body={"body": f"harbour walk {i}", "nonce": f"h{i}"},
        )
    page = await gw.op("message_search", bob.token, query={"query": "Harbour", "limit": 2})
    assert len(page["results"]) == 2 and page["next_cursor"] is not None
    assert page["results"][0]["message"]["conversation"] == welcome
    rest = await gw.op(
        "message_search",
        bob.token,
        query={"query": "harbour", "limit": 2, "cursor": page["next_cursor"]},
    )
    assert len(rest["results"]) == 1 and rest["next_cursor"] is None
    only = await gw.op("message_search", bob.token, query={"query": "harbour", "author": bob.id})
    assert only["results"] == []

    outsider = await gw.op("message_search", carol.token, query={"query": "harbour"})
    assert outsider["results"] == []
    hidden = await gw.call(
        "GET", f"/api/v1/search?query=harbour&conversation={welcome}", carol.token
    )
    assert hidden.status == 404 and hidden.body["error"]["code"] == "conversation_not_found"
    await gw.op("member_kick", ann.token, group_id=gid, user_id=bob.id)
    kicked = await gw.op("message_search", bob.token, query={"query": "harbour"})
    assert kicked["results"] == []
    bad = await gw.call("GET", "/api/v1/search?query=%22*%22", ann.token)
    assert bad.status == 400 and bad.body["error"]["code"] == "invalid_query"


async def test_reactions_over_http(gateway: Gateway) -> None:
    gw = gateway
    ann, bob, carol = await register(gw), await register(gw), await register(gw)
    group = await gw.op("group_create", ann.token, body={"name": "Voters"})
    welcome = group["channels"][0]["id"]
    invite = await gw.op("invite_create", ann.token, group_id=group["id"])
    await gw.op("group_join", bob.token, body={"code": invite["code"]})
    sent = await gw.op(
        "message_send", ann.token, conversation=welcome, body={"body": "lunch?", "nonce": "n-1"}
    )
    mid = sent["id"]
    added = await gw.op("message_react", bob.token, message_id=mid, emoji="🎉")
    assert added == {
        "message_id": mid,
        "conversation": welcome,
        "emoji": "🎉",
        "count": 1,
        "me": True,
        "changed": True,
    }
    again = await gw.op("message_react", bob.token, message_id=mid, emoji="🎉")
    assert (again["count"], again["changed"]) == (1, False)
    await gw.op("message_react", ann.token, message_id=mid, emoji=":thumbsup:")
    page = await gw.op("message_history", bob.token, conversation=welcome)
    assert page["messages"][0]["reactions"] == [
        {"emoji": "🎉", "count": 1, "me": True},
        {"emoji": ":thumbsup:", "count": 1, "me": False},
    ]
    gone = await gw.op("message_unreact", bob.token, message_id=mid, emoji="🎉")
    assert (gone["count"], gone["me"], gone["changed"]) == (0, False, True)
    bad = await gw.op("message_react", bob.token, message_id=mid, emoji="nope", expect=400)
    assert bad["error"]["code"] == "invalid_emoji"
    hidden = await gw.op("message_react", carol.token, message_id=mid, emoji="🎉", expect=404)
    assert hidden["error"]["code"] == "message_not_found"


async def test_threads_over_http(gateway: Gateway) -> None:
    gw = gateway
    ann, bob, carol = await register(gw), await register(gw), await register(gw)
    group = await gw.op("group_create", ann.token, body={"name": "Readers"})
    welcome = group["channels"][0]["id"]
    invite = await gw.op("invite_create", ann.token, group_id=group["id"])
    await gw.op("group_join", bob.token, body={"code": invite["code"]})
    root = await gw.op(
        "message_send", ann.token, conversation=welcome, body={"body": "Dune?", "nonce": "n-1"}
    )
    thread = f"thread:{root['id']}"
    reply = await gw.op(
        "message_send", bob.token, conversation=thread, body={"body": "yes", "nonce": "n-2"}
    )
    assert (reply["conversation"], reply["seq"]) == (thread, 1)
    page = await gw.op("message_history", ann.token, conversation=welcome)
    assert page["messages"][0]["thread"] == {
        "conversation": thread,
        "count": 1,
        "last_at": reply["created_at"],
        "unread": 1,
    }
    replies = await gw.op("message_history", ann.token, conversation=thread)
    assert [m["body"] for m in replies["messages"]] == ["yes"]
    await gw.op("read_mark", ann.token, conversation=thread, body={"seq": 1})
    page = await gw.op("message_history", ann.token, conversation=welcome)
    assert page["messages"][0]["thread"]["unread"] == 0
    nested = await gw.op(
        "message_send",
        ann.token,
        conversation=f"thread:{reply['id']}",
        body={"body": "deeper", "nonce": "n-3"},
        expect=400,
    )
    assert nested["error"]["code"] == "thread_nested"
    hidden = await gw.op("message_history", carol.token, conversation=thread, expect=404)
    assert hidden["error"]["code"] == "conversation_not_found"


async def test_a_session_starts_over_http_as_on_the_socket(gateway: Gateway) -> None:
    gw = gateway
    ann, bob = await register(gw), await register(gw)
    g = await gw.op("group_create", ann.token, body={"name": "Walkers"})
    channel = g["channels"][0]["id"]
    invite = await gw.op("invite_create", ann.token, group_id=g["id"])
    await gw.op("group_join", bob.token, body={"code": invite["code"]})
    for i in range(3):
        await gw.op(
            "message_send", bob.token, conversation=channel, body={"body": f"m{i}", "nonce": f"{i}"}
        )
    started = await gw.op(
        "auth_authenticate",
        body={"token": ann.token, "resume": {channel: 1, "self:u_nobody": 0}},
    )
    assert started["user"]["id"] == ann.id
    assert [v["id"] for v in started["groups"]] == [g["id"]]
    assert started["users"] == []  # no direct conversations; members come from member.list
    assert started["groups"][0]["member_count"] == 2
    assert [(m["seq"], m["body"]) for m in started["messages"]] == [(2, "m1"), (3, "m2")]
    assert started["resume"][channel] == {"replayed": 2, "last_seq": 3}
    assert started["resume"]["self:u_nobody"] == {"not_found": True}
    bad = await gw.call("POST", "/api/v1/auth/session", json={"token": "not.a.token"})
    assert bad.status == 401 and bad.body["error"]["code"] == "invalid_token"


async def test_every_route_of_the_table_is_served(gateway: Gateway) -> None:
    gw = gateway
    ann, bob = await register(gw), await register(gw)
    g = await gw.op("group_create", ann.token, body={"name": "Admins", "description": "x"})
    gid, welcome = g["id"], g["channels"][0]["id"]
    await gw.op("group_get", ann.token, group_id=gid)
    await gw.op("group_update", ann.token, group_id=gid, body={"name": "Admins 2"})
    ch = await gw.op(
        "channel_create", ann.token, group_id=gid, body={"name": "voice", "kind": "voice"}
    )
    await gw.op("channel_update", ann.token, channel_id=ch["id"], body={"topic": "talk"})
    order = await gw.op(
        "channel_reorder", ann.token, group_id=gid, body={"channel_ids": [ch["id"], welcome]}
    )
    assert [c["id"] for c in order["channels"]] == [ch["id"], welcome]
    await gw.op("channel_delete", ann.token, channel_id=ch["id"])
    invite = await gw.op("invite_create", ann.token, group_id=gid)
    assert [
        i["code"] for i in (await gw.op("invite_list", ann.token, group_id=gid))["invites"]
    ] == [invite["code"]]
    await gw.op("group_join", bob.token, body={"code": invite["code"]})
    member = await gw.op(
        "member_set_role", ann.token, group_id=gid, user_id=bob.id, body={"role": "admin"}
    )
    assert member["role"] == "admin"
    await gw.op("member_set_role", ann.token, group_id=gid, user_id=bob.id, body={"role": "member"})
    await gw.op("member_kick", ann.token, group_id=gid, user_id=bob.id)
    await gw.op("group_join", bob.token, body={"code": invite["code"]})
    await gw.op("member_ban", ann.token, group_id=gid, user_id=bob.id)
    banned = await gw.call("POST", "/api/v1/groups/join", bob.token, json={"code": invite["code"]})
    assert banned.status == 403 and banned.body["error"]["code"] == "banned"
    await gw.op("member_unban", ann.token, group_id=gid, user_id=bob.id)
    await gw.op("group_join", bob.token, body={"code": invite["code"]})
    first = await gw.op("member_list", ann.token, group_id=gid, query={"limit": 1})
    rest = await gw.op("member_list", ann.token, group_id=gid, query={"after": first["next"]})
    assert [m["user_id"] for m in first["members"] + rest["members"]] == [ann.id, bob.id]
    assert [u["id"] for u in rest["users"]] == [bob.id] and rest["next"] is None
    looked = await gw.op("user_list", ann.token, body={"user_ids": [bob.id, "u_nobody"]})
    assert [u["id"] for u in looked["users"]] == [bob.id] and "email" not in looked["users"][0]
    revoked = await gw.op("invite_revoke", ann.token, code=invite["code"])
    assert revoked["revoked"] is True
    await gw.op("group_transfer", ann.token, group_id=gid, body={"user_id": bob.id})
    await gw.op("group_leave", ann.token, group_id=gid)
    await gw.op("group_delete", bob.token, group_id=gid)
    dm = await gw.op("dm_open", ann.token, body={"user_id": bob.id})
    await gw.op("user_block", ann.token, user_id=bob.id)
    blocked = await gw.call(
        "POST",
        f"/api/v1/conversations/{dm['id']}/messages",
        bob.token,
        json={"body": "hi", "nonce": "n-1"},
    )
    assert blocked.status == 403 and blocked.body["error"]["code"] == "blocked"
    await gw.op("user_unblock", ann.token, user_id=bob.id)
    sent = await gw.op(
        "message_send", bob.token, conversation=dm["id"], body={"body": "hi", "nonce": "n-1"}
    )
    await gw.op("message_history", ann.token, conversation=dm["id"])
    started = await gw.op("auth_authenticate", body={"token": ann.token, "resume": {dm["id"]: 0}})
    assert [m["id"] for m in started["messages"]] == [sent["id"]]
    await gw.op("read_mark", ann.token, conversation=dm["id"], body={"seq": sent["seq"]})
    await gw.op("conversation_list", ann.token)
    await gw.op("message_pin", ann.token, message_id=sent["id"])
    await gw.op("pin_list", bob.token, conversation=dm["id"])
    await gw.op("message_unpin", bob.token, message_id=sent["id"])
    await gw.op("message_react", ann.token, message_id=sent["id"], emoji="👍")
    await gw.op("message_unreact", ann.token, message_id=sent["id"], emoji="👍")
    await gw.op("message_search", ann.token, query={"query": "hi"})
    await gw.op("message_edit", bob.token, message_id=sent["id"], body={"body": "hello"})
    await gw.op("message_delete", bob.token, message_id=sent["id"])
    await gw.op("user_get_me", ann.token)
    await gw.op("user_update", ann.token, body={"about": "walking"})
    await gw.op("user_get", ann.token, user_id=bob.id)
    await gw.op("user_find", ann.token, query={"username": bob.name})
    await gw.op("group_list", ann.token)
    await gw.op("auth_login", body={"login": ann.name, "password": PASSWORD})
    await gw.op(
        "auth_change_password",
        bob.token,
        body={"old_password": PASSWORD, "new_password": "another horse 2"},
    )
    pair = await gw.op("auth_refresh", body={"refresh_token": ann.refresh})
    await gw.op("auth_logout", pair["access_token"])
    await gw.op("auth_logout_all", bob.token)

    served = {
        (s.labels["method"], s.labels["route"])
        for s in _samples(gw.metrics, "nodechat_http_requests_total")
        if s.labels["status"].startswith("2")
    }
    assert {(r.method, r.url) for r in ROUTES} - served == set()


def _samples(metrics: Metrics, name: str) -> list[Any]:
    return [s for family in metrics.registry.collect() for s in family.samples if s.name == name]


async def test_bad_requests_name_the_field(gateway: Gateway) -> None:
    gw = gateway
    ann = await register(gw)

    async def bad(method: str, path: str, *, status: int = 400, **kw: Any) -> dict[str, Any]:
        reply = await gw.call(method, path, ann.token, **kw)
        assert reply.status == status, reply.body
        assert reply.headers["Content-Type"].startswith("application/json")
        error: dict[str, Any] = reply.body["error"]
        assert set(error) >= {"code", "message"}
        return error

    err = await bad("POST", "/api/v1/groups", json={"name": "x", "colour": "red"})
    assert (err["code"], err["field"]) == ("invalid_request", "colour")
    err = await bad("POST", "/api/v1/groups", json={"description": "no name"})
    assert (err["code"], err["field"]) == ("invalid_request", "name")
    err = await bad("POST", "/api/v1/groups", json={"name": 7})
    assert (err["code"], err["field"]) == ("invalid_request", "name")
    err = await bad("POST", "/api/v1/groups", json={"name": "x" * 401})
    assert err["field"] == "name"
    err = await bad("POST", "/api/v1/groups", json={"name": "   "})
    assert (err["code"], err["field"]) == ("invalid_name", "name")
    err = await bad("GET", f"/api/v1/conversations/self:{ann.id}/messages?limit=ten")
    assert (err["code"], err["field"]) == ("invalid_request", "limit")
    err = await bad("GET", f"/api/v1/conversations/self:{ann.id}/messages?colour=red")
    assert err["field"] == "colour"
    err = await bad("GET", f"/api/v1/conversations/self:{ann.id}/messages?limit=1&limit=2")
    assert err["field"] == "limit"
    both = await gw.call(
        "GET", f"/api/v1/conversations/self:{ann.id}/messages?before=3&after=1", ann.token
    )
    assert both.status == 200 and both.body == {"messages": [], "has_more": False}  # a range
    err = await bad("GET", "/api/v1/users")
    assert err["field"] == "username"
    err = await bad("POST", "/api/v1/groups/g_1/channels", json={"name": "x", "group_id": "g_2"})
    assert err["field"] == "group_id"  # a path field cannot be overridden by the body
    err = await bad(
        "POST", "/api/v1/groups", data=b'{"name": ', headers={"Content-Type": "application/json"}
    )
    assert err["code"] == "bad_frame"
    err = await bad("POST", "/api/v1/groups", json=["not", "an", "object"])
    assert err["code"] == "bad_frame"
    err = await bad("POST", "/api/v1/groups", data=b"x" * (65 * 1024), status=413)
    assert err["code"] == "payload_too_large"
    err = await bad("DELETE", "/api/v1/groups", status=405)
    assert err["code"] == "method_not_allowed" and err["allowed"] == ["GET", "POST"]
    reply = await gw.call("DELETE", "/api/v1/groups", ann.token)
    assert reply.headers["Allow"] == "GET, POST"
    # a static segment is never taken for an id: /groups/join is not group "join"
    for method in ("GET", "OPTIONS", "DELETE"):
        reply = await gw.call(method, "/api/v1/groups/join", ann.token)
        assert reply.status == 405 and reply.headers["Allow"] == "POST", method
    reply = await gw.call("POST", "/api/v1/users/me/block", ann.token)
    assert reply.status == 404 and reply.body["error"]["code"] == "not_found"
    err = await bad("GET", "/api/v1/nothing/here", status=404)
    assert err["code"] == "not_found"
    err = await bad("GET", "/api/v1/users/u_nobody", status=404)
    assert err["code"] == "user_not_found"


async def test_authentication_is_required(gateway: Gateway) -> None:
    gw = gateway
    for headers in (
        {},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer not.a.jwt"},
        {"Authorization": "Bearer " + "x" * 5000},
    ):
        reply = await gw.call("GET", "/api/v1/groups", headers=headers)
        assert reply.status == 401, headers
        assert reply.body["error"]["code"] in ("unauthenticated", "invalid_token")
        assert reply.headers["WWW-Authenticate"] == 'Bearer realm="nodechat"'
    # authentication comes before body validation: nothing about the API leaks
    reply = await gw.call("POST", "/api/v1/groups", json={"bogus": 1})
    assert reply.status == 401


async def test_unexpected_errors_are_500_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    services, store, bus = build_services(tmp_path)

    class Broken(LocalMessageService):
        async def conversations(self, identity: Identity) -> Any:
            raise RuntimeError("secret detail")

        async def open_direct(self, identity: Identity, user_id: str) -> Any:
            raise RateLimited("slow down", retry_after=1.2)

    broken = Services(services.auth, services.groups, Broken(store, bus))
    try:
        async for gw in _start(broken, Metrics()):
            ann = await register(gw)
            with caplog.at_level(logging.ERROR):
                reply = await gw.call("GET", "/api/v1/conversations", ann.token)
            assert reply.status == 500
            assert reply.body == {"error": {"code": "internal", "message": "internal server error"}}
            records = [r for r in caplog.records if r.exc_info]
            assert len(records) == 1 and "secret detail" in caplog.text
            assert "secret detail" not in str(reply.body)
            limited = await gw.call("POST", "/api/v1/dms", ann.token, json={"user_id": "u_x"})
            assert limited.status == 429 and limited.headers["Retry-After"] == "2"
            assert limited.body["error"] == {
                "code": "rate_limited",
                "message": "slow down",
                "retry_after": 1.2,
            }
            metrics = (await gw.call("GET", "/metrics")).body
            assert 'nodechat_errors_total{code="internal"} 1.0' in metrics
            assert 'nodechat_errors_total{code="rate_limited"} 1.0' in metrics
    finally:
        await bus.close()
        await store.close()


async def test_openapi_document_and_docs_page(gateway: Gateway) -> None:
    from jsonschema import Draft202012Validator

    gw = gateway
    doc = gw.openapi
    assert doc["openapi"] == "3.1.0"
    for route in ROUTES:
        operation = doc["paths"][route.url][route.method.lower()]
        assert operation["operationId"] == route.name
        assert bool(operation["security"]) == route.authenticated
        body = operation.get("requestBody")
        assert (body is not None) == bool(route.body_fields), route.name
    for sys_route in SYSTEM_ROUTES:
        assert sys_route.method.lower() in doc["paths"][sys_route.path]
    itself = doc["paths"]["/openapi.json"]["get"]["responses"]["200"]["content"]
    assert Draft202012Validator(itself["application/json"]["schema"]).is_valid(doc)
    send = doc["paths"]["/api/v1/conversations/{conversation}/messages"]["post"]
    schema = send["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["body", "nonce"] and schema["additionalProperties"] is False
    # the real rule: 1-4000 characters, not blank (not the 16000-character frame limit)
    assert schema["properties"]["body"] == {"type": "string", "maxLength": 4000, "pattern": r"\S"}
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"

    page = await gw.call("GET", "/docs")
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "openapi.json" in page.body and "<script>" in page.body
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page.body)  # nothing remote
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]


async def test_openapi_document_passes_the_spec_validator(gateway: Gateway) -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(gateway.openapi)


async def test_gateway_discovery_and_probes(gateway: Gateway) -> None:
    gw = gateway
    gw.socket_urls = ["ws://10.0.0.1:7801/", "ws://10.0.0.2:7801/"]
    reply = await gw.call("GET", "/api/gateway")
    assert reply.status == 200 and reply.body["urls"] == gw.socket_urls
    assert reply.body["url"] in gw.socket_urls
    gw.socket_urls = []
    reply = await gw.call("GET", "/api/gateway")
    assert reply.status == 503 and reply.body["error"]["code"] == "unavailable"

    health = await gw.call("GET", "/healthz")
    assert health.status == 200 and health.body["status"] == "ok"
    assert (await gw.call("GET", "/readyz")).body == {"status": "ready"}
    gw.not_ready.append("bus disconnected")
    reply = await gw.call("GET", "/readyz")
    assert reply.status == 503
    assert reply.body == {"status": "not ready", "reasons": ["bus disconnected"]}
    assert (await gw.call("GET", "/healthz")).status == 200  # alive all the same


async def test_metrics_after_requests(gateway: Gateway) -> None:
    gw = gateway
    ann = await register(gw)
    await gw.op(
        "message_send",
        ann.token,
        conversation=f"self:{ann.id}",
        body={"body": "one", "nonce": "m-1"},
    )
    await gw.call("GET", "/no/such/path")
    reply = await gw.call("GET", "/metrics")
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/plain")
    text = reply.body
    for name in (
        "nodechat_connections",
        "nodechat_sessions",
        "nodechat_messages_in_total 1.0",
        "nodechat_messages_out_total",
        "nodechat_http_latency_seconds_bucket",
        "nodechat_rpc_latency_seconds",
        'nodechat_errors_total{code="not_found"} 1.0',
    ):
        assert name in text, name
    assert (
        'nodechat_http_requests_total{method="POST",'
        'route="/api/v1/conversations/{conversation}/messages",status="201"} 1.0'
    ) in text
    assert 'route="unmatched",status="404"' in text
    assert "/no/such/path" not in text  # raw paths never become labels


async def test_ops_server(tmp_path: Path) -> None:
    metrics = Metrics()
    reasons: list[str] = []

    async def ready() -> list[str]:
        return reasons

    def broken_health() -> list[str]:
        raise RuntimeError("probe bug")

    runner = await start_ops_server("127.0.0.1", 0, ready=ready, metrics=metrics)
    other = await start_ops_server(
        "127.0.0.1", 0, health=broken_health, ready=ready, metrics=Metrics()
    )
    try:
        async with aiohttp.ClientSession() as session:
            base = f"http://127.0.0.1:{bound_port(runner)}"
            async with session.get(base + "/healthz") as resp:
                assert resp.status == 200 and (await resp.json())["status"] == "ok"
            async with session.get(base + "/readyz") as resp:
                assert resp.status == 200
            reasons.append("auth role unreachable")
            async with session.get(base + "/readyz") as resp:
                assert resp.status == 503
                assert (await resp.json())["reasons"] == ["auth role unreachable"]
            metrics.connection_opened()
            async with session.get(base + "/metrics") as resp:
                assert "nodechat_connections 1.0" in await resp.text()
            async with session.get(base + "/api/v1/groups") as resp:
                assert resp.status == 404
                assert (await resp.json())["error"]["code"] == "not_found"
            async with session.get(f"http://127.0.0.1:{bound_port(other)}/healthz") as resp:
                assert resp.status == 503
                assert (await resp.json())["reasons"] == ["probe failed"]
    finally:
        await runner.cleanup()
        await other.cleanup()
