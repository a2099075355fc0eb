"""schemathesis against the OpenAPI document a real node serves: no 5xx, every reply as documented.

One in-process ``serve`` node (SQLite, ports 0, its own data dir) runs on an
event loop in a thread of its own, because schemathesis calls the API with a
blocking HTTP client. Before the run, an owner with a bearer token, two members,
a group with channels, a message, an invite and a DM exist; the path and body
parameters that name such things draw those real ids half the time, so requests
reach the success paths as well as the 404s. Every operation of the document
the node serves at ``/openapi.json`` runs schemathesis' coverage and fuzzing
phases with every check it has (no response-time limit), except where noted
below for a rule no schema can state. The seed is fixed, so a run is the same
run every time. The stateful phase (links between operations) runs by hand only
(docs/reliability.md).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from nodechat.server.node import ChatNode
from tests.integration.conftest import make_settings

PASSWORD = "correct horse 1"
# What answers a request the schema calls valid, or invalid; spelled out because
# schemathesis' defaults vary between versions (and leave out 413 and, before 4.3x, 429).
ACCEPTED = ["2xx", "401", "403", "404", "409", "429", "5xx"]
REJECTED = [
    "400",
    "401",
    "403",
    "404",
    "405",
    "406",
    "409",
    "413",
    "415",
    "422",
    "428",
    "429",
    "5xx",
]
TIMEOUT = 30.0  # only a server that hangs ever waits this long
# Ops that end the caller's sessions or change its password: they get an account of
# their own, so the token every other operation uses stays valid all run.
SPENDS_TOKEN = {"auth_logout", "auth_logout_all", "auth_change_password"}
# Valid by the schema, refused by a rule about state that no schema can state (or,
# for an emoji, by Unicode categories that no portable pattern says):
# operation id → (status, error code) that a well-formed request may still get.
UNSTATEABLE = {
    # the query must hold a word (letters or digits: Unicode categories again)
    "message_search": (400, "invalid_query"),
    "message_react": (400, "invalid_emoji"),
    "message_unreact": (400, "invalid_emoji"),
    # the order must name exactly the group's channels, each once
    "channel_reorder": (400, "bad_channel_order"),
    # reply_to must name a message of the same conversation
    "message_send": (400, "invalid_reply"),
}


class NodeThread:
    """A :class:`ChatNode` on its own event loop in a daemon thread."""

    def __init__(self, data_dir: Path) -> None:
        self.node = ChatNode(make_settings(data_dir))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def run(self, coro: Any) -> Any:
        """Run a coroutine on the node's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(TIMEOUT)

    def start(self) -> str:
        """Start the loop and the node; the HTTP API's base URL."""
        self.thread.start()
        self.run(self.node.start())
        assert self.node.api_url is not None
        return self.node.api_url

    def stop(self) -> None:
        """Stop the node, then the loop and its thread."""
        try:
            self.run(self.node.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(TIMEOUT)
            self.loop.close()


@dataclass
class Api:
    """The running node's API and the real things in it."""

    base: str
    token: str  # the group owner's
    tokens: dict[str, str]  # operation id → an account of its own (SPENDS_TOKEN)
    ids: dict[str, list[str]]  # parameter name → real values
    own_ids: dict[str, dict[str, list[str]]]  # operation id → its own real values


def _call(base: str, method: str, path: str, token: str | None = None, **body: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    resp = requests.request(
        method, base + "/api/v1" + path, json=body or None, headers=headers, timeout=TIMEOUT
    )
    assert resp.status_code in (200, 201), (path, resp.status_code, resp.text)
    return resp.json()


def _register(base: str, username: str) -> tuple[str, str]:
    """A new account: its id and access token."""
    email = f"{username}@example.test"
    pair = _call(base, "POST", "/auth/register", username=username, email=email, password=PASSWORD)
    return pair["user"]["id"], pair["access_token"]


def _group(base: str, token: str, name: str, *members: str) -> tuple[str, str]:
    """A new group with these members (tokens) joined: its id and #welcome's."""
    group = _call(base, "POST", "/groups", token, name=name)
    invite = _call(base, "POST", f"/groups/{group['id']}/invites", token)["code"]
    for member in members:
        _call(base, "POST", "/groups/join", member, code=invite)
    return group["id"], group["channels"][0]["id"]


def _populate(base: str) -> Api:
    (ann, token), (bob, bob_token), (carl, carl_token) = (
        _register(base, name) for name in ("ann", "bob", "carl")
    )
    gid, welcome = _group(base, token, "Hikers", bob_token, carl_token)
    trails = _call(base, "POST", f"/groups/{gid}/channels", token, name="trails")["id"]
    doomed_channel = _call(base, "POST", f"/groups/{gid}/channels", token, name="old")["id"]
    invite = _call(base, "POST", f"/groups/{gid}/invites", token)["code"]
    message = _call(
        base, "POST", f"/conversations/{welcome}/messages", token, body="hello", nonce="n-1"
    )["id"]
    dm = _call(base, "POST", "/dms", token, user_id=bob)["id"]
    doomed_group, _ = _group(base, token, "Doomed")
    given_group, _ = _group(base, token, "Given", bob_token)
    return Api(
        base,
        token,
        {op: _register(base, op.replace("_", "."))[1] for op in SPENDS_TOKEN},
        {
            "group_id": [gid],
            "channel_id": [trails, welcome],
            "user_id": [bob, ann],
            "message_id": [message],
            "reply_to": [message],
            "conversation": [welcome, dm, f"self:{ann}"],
            "code": [invite],
        },
        # What ends a thing gets a thing of its own, so the ops after it still find theirs.
        {
            "group_delete": {"group_id": [doomed_group]},
            "group_transfer": {"group_id": [given_group], "user_id": [bob]},
            "group_leave": {"group_id": [given_group]},  # ann's, once transferred
            "channel_delete": {"channel_id": [doomed_channel]},
            "member_kick": {"user_id": [carl]},
            "member_ban": {"user_id": [carl]},
        },
    )


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    node = NodeThread(tmp_path_factory.mktemp("schemathesis") / "data")
    try:
        yield _populate(node.start())
    finally:
        node.stop()


def _bindings(prefix: str, ids: dict[str, list[str]]) -> dict[str, Any]:
    """Path and body parameters drawing from the dictionaries ``prefix + name`` half the time."""
    return {
        f"{where}.{name}": {"dictionary": prefix + name, "probability": 0.5}
        for name in ids
        for where in ("path", "body")
    }


@pytest.fixture
def api_schema(api: Api, request: pytest.FixtureRequest) -> Any:
    """The document the node serves, with the real ids as fuzz dictionaries."""
    if not hasattr(request.node, "_nodeid"):
        # schemathesis' from_fixture (4.32) renames the test item through Node._nodeid,
        # which pytest 9.2 no longer has (the node id is derived from Node._id)
        request.node._nodeid = request.node.nodeid
    dictionaries = {name: {"values": values} for name, values in api.ids.items()}
    operations = []
    for operation_id, ids in api.own_ids.items():
        prefix = operation_id + "."
        dictionaries.update({prefix + name: {"values": values} for name, values in ids.items()})
        operations.append(
            {"include-operation-id": operation_id, "parameters": _bindings(prefix, ids)}
        )
    config = schemathesis.Config.from_dict(
        {
            "seed": 20260,
            "dictionaries": dictionaries,
            "parameters": _bindings("", api.ids),
            "operations": operations,
            "checks": {
                # 413: a body over the 64 KiB limit is refused before it is read
                "negative_data_rejection": {"expected-statuses": REJECTED},
                # 429: too many failed logins from one address (auth_login, change_password)
                "positive_data_acceptance": {"expected-statuses": ACCEPTED},
            },
        }
    )
    return schemathesis.openapi.from_url(api.base + "/openapi.json", config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
@schema.parametrize()
def test_the_api_does_what_its_openapi_document_says(case: Any, api: Api) -> None:
    operation_id = case.operation.definition.raw["operationId"]
    token = api.tokens.get(operation_id, api.token)
    headers = {"Authorization": f"Bearer {token}"}
    response = case.call(base_url=api.base, headers=headers, timeout=TIMEOUT)
    excluded = []
    if operation_id in UNSTATEABLE and _error(response) == UNSTATEABLE[operation_id]:
        excluded.append(positive_data_acceptance)
    case.validate_response(
        response,
        excluded_checks=excluded,
        headers=headers,
        transport_kwargs={"base_url": api.base, "headers": headers, "timeout": TIMEOUT},
    )


def _error(response: Any) -> tuple[int, str | None]:
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        code = None
    return response.status_code, code
