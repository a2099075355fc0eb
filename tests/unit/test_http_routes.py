"""The gateway's route table, its OpenAPI document and the wire-form schemas (no sockets)."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from aiohttp.test_utils import make_mocked_request

from nodechat.errors import ChatError, Unauthenticated
from nodechat.models import (
    Channel,
    ChannelKind,
    Conversation,
    ConversationKind,
    ConversationState,
    Group,
    Identity,
    Invite,
    Member,
    Message,
    Role,
    ThreadSummary,
    TokenPair,
    User,
)
from nodechat.protocol.frames import OPS, Field
from nodechat.server.dispatch import HANDLERS
from nodechat.server.http import ROUTES, SYSTEM_ROUTES, build_openapi
from nodechat.server.http.decode import bearer_token, request_address
from nodechat.server.http.openapi import field_schema
from nodechat.server.http.schemas import COMPONENTS
from nodechat.services.admin import ADMIN_OPS
from nodechat.services.api import GroupView
from nodechat.services.sessions import conversation_dict

# socket-only ops; typing, voice and presence subscriptions have no handler here
REALTIME_ONLY = {"ping"}
SOCKET_ONLY = set(ADMIN_OPS)  # server administration is not routed over HTTP (docs/admin.md)


def test_every_op_has_a_route_and_every_route_an_op() -> None:
    assert {r.op for r in ROUTES} == set(HANDLERS) - REALTIME_ONLY - SOCKET_ONLY
    assert all(r.op in OPS for r in ROUTES)


def test_routes_and_operation_ids_are_unique() -> None:
    keys = [(r.method, r.url) for r in ROUTES] + [(r.method, r.path) for r in SYSTEM_ROUTES]
    assert len(keys) == len(set(keys))
    names = [r.name for r in ROUTES] + [r.name for r in SYSTEM_ROUTES]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_every_required_field_has_a_place(route: Any) -> None:
    placed = set(route.path_fields) | set(route.query) | set(route.body_fields)
    assert placed <= set(OPS[route.op])
    required = {name for name, spec in OPS[route.op].items() if spec.required}
    assert required <= placed
    assert not set(route.path_fields) & set(route.body_fields)
    if route.method in ("GET", "DELETE"):
        assert route.body_fields == {}


def test_openapi_lists_every_route_with_its_reply_schema() -> None:
    doc = build_openapi()
    assert doc["openapi"] == "3.1.0"
    for route in ROUTES:
        operation = doc["paths"][route.url][route.method.lower()]
        status = "201" if route.created else "200"
        ref = operation["responses"][status]["content"]["application/json"]["schema"]["$ref"]
        assert ref.rsplit("/", 1)[1] in COMPONENTS
        assert "429" in operation["responses"] and "400" in operation["responses"]
        params = {p["name"] for p in operation["parameters"]}
        assert params == set(route.path_fields) | set(route.query)
    for sys_route in SYSTEM_ROUTES:
        reply = sys_route.reply
        assert "/" in reply or reply in COMPONENTS


def test_field_schema_carries_limits_and_nullability() -> None:
    assert field_schema(Field("str", True, 64)) == {"type": "string", "maxLength": 64}
    assert field_schema(Field("str", False, 64))["type"] == ["string", "null"]
    assert field_schema(Field("int", False))["type"] == ["integer", "null"]
    assert field_schema(Field("str_list"))["maxItems"] == 1000


def _props(name: str) -> set[str]:
    return set(COMPONENTS[name]["properties"])


def test_component_schemas_match_the_wire_forms() -> None:
    user = User("u_1", "ann", "a@x.test", "Ann", "", 1)
    channel = Channel("ch_1", "g_1", "welcome", ChannelKind.TEXT, 0)
    group = Group("g_1", "G", "", "u_1", 1)
    message = Message("m_1", "ch_1", 1, "u_1", "hi", "n", 1)
    state = ConversationState(Conversation("ch_1", ConversationKind.CHANNEL, "g_1"), 0, 0)
    assert _props("UserPublic") == set(user.public())
    assert _props("UserPrivate") == set(user.private()) == _props("User")
    assert _props("TokenPair") == set(TokenPair("a", "r", 1, "s_1", user).to_dict())
    assert _props("Channel") == set(channel.to_dict())
    assert _props("GroupView") == set(GroupView(group, [channel], "owner", 1).to_dict())
    assert _props("Member") == set(Member("g_1", "u_1", Role.OWNER, 1).to_dict())
    assert _props("Invite") == set(Invite("c", "g_1", "u_1", 1, None, None).to_dict())
    assert _props("Message") == set(message.to_dict()) | {"thread"}  # thread: when it has one
    summary = ThreadSummary("thread:m_1", 2, 5, unread=1)
    threaded = Message("m_1", "ch_1", 1, "u_1", "hi", "n", 1, thread=summary)
    assert _props("Message") == set(threaded.to_dict())
    assert _props("ThreadSummary") == set(summary.to_dict())
    assert _props("Conversation") == set(conversation_dict(state))


def _request(peer: str, headers: dict[str, str]) -> Any:
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda key, default=None: (
        (peer, 4000) if key == "peername" else default
    )
    return make_mocked_request("GET", "/", headers=headers, transport=transport)


def test_request_address_believes_only_trusted_proxies() -> None:
    forwarded = {"X-Forwarded-For": "203.0.113.9, 198.51.100.7"}
    trusted = ("127.0.0.1",)
    xff = "x-forwarded-for"
    assert request_address(_request("127.0.0.1", forwarded), trusted, xff) == "198.51.100.7"
    assert request_address(_request("192.0.2.1", forwarded), trusted, xff) == "192.0.2.1"
    assert request_address(_request("127.0.0.1", {}), trusted, xff) == "127.0.0.1"


def test_bearer_token_parsing() -> None:
    assert bearer_token(_request("x", {"Authorization": "bearer abc.def"})) == "abc.def"
    for value in ("", "Basic abc", "Bearer", "Bearer   "):
        with pytest.raises(Unauthenticated):
            bearer_token(_request("x", {"Authorization": value}))


RULE_SAMPLES = [
    # (op, field, value, valid): the schema and the service agree on each
    ("auth.register", "username", "ab", False),
    ("auth.register", "username", "Ann_1.x", True),
    ("auth.register", "email", "ann@localhost", False),
    ("auth.register", "email", "ann@example.org", True),
    ("auth.register", "password", "short", False),
    ("auth.register", "password", "long enough", True),
    ("group.create", "name", "   ", False),
    ("group.create", "name", "two\nlines", False),
    ("group.create", "name", "Hikers", True),
    ("message.send", "body", " \n ", False),
    ("message.send", "body", "two\nlines", True),
    ("message.send", "nonce", "", False),
    ("member.list", "after", "not-a-cursor", False),
    ("member.list", "after", "\u00b2:u_1", False),
    ("member.list", "after", "1700000000:u_1", True),
]


@pytest.mark.parametrize(("op", "name", "value", "valid"), RULE_SAMPLES)
def test_the_schema_states_the_services_rules(op: str, name: str, value: str, valid: bool) -> None:
    from jsonschema import Draft202012Validator

    from nodechat.server.http.openapi import ruled_schema
    from nodechat.services import auth, groups, messages, validate
    from nodechat.services.api import SendItem

    schema = ruled_schema(op, name, OPS[op][name])
    assert Draft202012Validator(schema).is_valid(value) is valid
    service_check = {
        "username": auth.normalize_username,
        "email": auth.normalize_email,
        "password": auth.check_password,
        "name": lambda v: validate.text(v, "name", max_len=100),
        "body": messages.check_body,
        "after": groups.member_key,
        "nonce": lambda v: messages._check_fields(
            SendItem(Identity("u", "s"), "self:u", "body", v, None)
        ),
    }[name]
    try:
        service_check(value)
        accepted = True
    except ChatError:
        accepted = False
    assert accepted is valid
