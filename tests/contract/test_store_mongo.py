"""MongoDB specifics: URLs and start-up, error mapping, and the multi-step operations
under forced interleavings and simulated crashes (on mongomock, see tests/mongo_databases.py).

The contract suite runs the MongoDB store like any other; these tests pin down what is
particular to it: the steps that replace SQLite's transactions must hold when other
writers run between them, and a crash between them must leave something a retry finishes.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import mongomock
import pytest
from pymongo.errors import AutoReconnect, OperationFailure, PyMongoError, WriteConcernError

from nodechat.errors import (
    ChatError,
    Forbidden,
    InternalError,
    InvalidRequest,
    NotFound,
    Unavailable,
)
from nodechat.models import (
    AuthSession,
    Channel,
    ChannelKind,
    Conversation,
    ConversationKind,
    Group,
    Invite,
    Member,
    Role,
    direct_conversation_id,
)
from nodechat.storage import RefreshOutcome, open_store
from nodechat.storage.mongo import MongoStore, open_mongo
from nodechat.storage.mongo.client import parse_url
from tests.mongo_databases import MOCK_URL, Locked

T0 = 1_700_000_000_000
G = "grp_1"
DM = direct_conversation_id("usr_a", "usr_b")


@pytest.fixture
async def mongo() -> AsyncIterator[MongoStore]:
    store = open_mongo(MOCK_URL, client=Locked(mongomock.MongoClient()))
    yield store
    await store.close()


class Gate:
    """Wraps ``db.<collection>.<method>``: the first ``parties`` calls wait for each other
    (so they all act on the same earlier state), then ``after`` runs after each call."""

    def __init__(
        self,
        store: MongoStore,
        collection: str,
        method: str,
        parties: int = 1,
        after: Callable[[Any], None] | None = None,
    ) -> None:
        self.db, self.collection, self.method, self.after = (
            store.engine.db,
            collection,
            method,
            after,
        )
        self.released = threading.Event()
        self.barrier = threading.Barrier(parties, action=self.released.set, timeout=10)
        self.failures = 0
        store.engine.db = self  # type: ignore[assignment]

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.db, name)
        return _GatedCollection(self, target) if name == self.collection else target

    def __getitem__(self, name: str) -> Any:
        return self.db[name]


class _GatedCollection:
    def __init__(self, gate: Gate, target: Any) -> None:
        self.gate, self.target = gate, target

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.target, name)
        if name != self.gate.method:
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            if not self.gate.released.is_set():
                self.gate.barrier.wait()
            try:
                result = attr(*args, **kwargs)
            except PyMongoError:
                self.gate.failures += 1
                raise
            if self.gate.after is not None:
                self.gate.after(self.gate.db)
            return result

        return call


async def make_group(store: MongoStore) -> None:
    await store.groups.create_group(
        Group(id=G, name="g", description="", owner_id="usr_owner", created_at=T0),
        Member(group_id=G, user_id="usr_owner", role=Role.OWNER, joined_at=T0),
        [Channel(id="chn_1", group_id=G, name="general", kind=ChannelKind.TEXT, position=0)],
    )


async def send(store: MongoStore, n: int, conversation: str = DM, nonce: str | None = None) -> Any:
    return await store.messages.append(
        conversation,
        message_id=f"msg_{n}",
        author_id="usr_a",
        body="x",
        nonce=nonce or f"n{n}",
        reply_to=None,
        now=T0,
    )


# -- URLs and start-up ------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"w": "majority", "j": True}),
        ("?w=1", {"w": 1, "j": True}),
        ("?journal=false", {"w": "majority", "j": False}),
        ("?w=2&wtimeoutMS=500", {"w": 2, "j": True, "wtimeout": 500}),
        ("?fsync=true", {"w": "majority", "fsync": True}),
    ],
)
def test_write_concern_is_majority_journaled_unless_the_url_says(
    query: str, expected: dict[str, Any]
) -> None:
    assert parse_url(f"mongodb://db.example/chat{query}").write_concern().document == expected


def test_parse_url_keeps_hosts_and_database_and_drops_credentials() -> None:
    parsed = parse_url("mongodb://alice:s3cret@h1:27017,h2/chat?replicaSet=rs0")
    assert (parsed.hosts, parsed.database) == ("h1:27017,h2", "chat")
    assert parsed.options == {"replicaset": "rs0"}
    assert "s3cret" not in parsed.redacted and "alice" not in parsed.redacted
    assert parse_url("mongodb+srv://cluster.example").database == "nodechat"


@pytest.mark.parametrize(
    "url",
    [
        "mongodb://",
        "mongodb:///chat",
        "mongodb://h/bad.name",
        "mongodb://h/chat?journal=maybe",
        "mongodb://h/chat?w=x&fsync=1&j=1",
        "mongodb://h/chat?wtimeoutMS=soon",
    ],
)
def test_bad_urls_are_bad_config(url: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        open_mongo(url, client=Locked(mongomock.MongoClient()))
    assert err.value.code == "bad_config"


def test_unreachable_server_fails_at_open_naming_the_host() -> None:
    with pytest.raises(Unavailable) as err:  # nothing listens on port 1
        open_store("mongodb://alice:s3cret@127.0.0.1:1/chat?serverSelectionTimeoutMS=300")
    assert err.value.code == "store_unavailable"
    assert "127.0.0.1:1" in err.value.message
    assert "s3cret" not in err.value.message


async def test_open_refuses_a_newer_layout() -> None:
    client = Locked(mongomock.MongoClient())
    await open_mongo(MOCK_URL, client=client).close()
    client.get_database("nodechat").meta.update_one({"_id": "layout"}, {"$set": {"version": 99}})
    with pytest.raises(Unavailable) as err:
        open_mongo(MOCK_URL, client=client)
    assert err.value.code == "schema_too_new"


@pytest.mark.parametrize(
    ("error", "mapped"),
    [
        (AutoReconnect("connection reset"), Unavailable),
        (WriteConcernError("waiting for replication timed out", 64), Unavailable),
        (OperationFailure("unexpected", 2), InternalError),
    ],
)
async def test_pymongo_errors_are_mapped(
    mongo: MongoStore, error: PyMongoError, mapped: type[ChatError]
) -> None:
    class Broken:
        def __getattr__(self, name: str) -> Any:
            return self

        def __getitem__(self, name: str) -> Any:
            return self

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            raise error

    mongo.engine.db = Broken()  # type: ignore[assignment]
    with pytest.raises(mapped) as err:
        await mongo.messages.append(
            DM, message_id="m", author_id="a", body="", nonce="n", reply_to=None, now=T0
        )
    assert isinstance(err.value.__cause__, PyMongoError)
    with pytest.raises(mapped):
        await mongo.accounts.get_user("usr_a")


# -- seq allocation ---------------------------------------------------------


async def test_appends_that_collide_on_a_seq_retry_above_it(mongo: MongoStore) -> None:
    await mongo.messages.ensure_conversation(
        Conversation(DM, ConversationKind.DIRECT, participants=("usr_a", "usr_b"))
    )
    gate = Gate(mongo, "messages", "insert_one", parties=8)  # all 8 first try seq 1
    results = await asyncio.gather(*(send(mongo, n) for n in range(8)))
    assert sorted(r.message.seq for r in results) == list(range(1, 9))
    assert gate.failures >= 7
    assert (await mongo.messages.get_conversation(DM)).last_seq == 8  # type: ignore[union-attr]


async def test_racing_retries_of_one_send_store_it_once(mongo: MongoStore) -> None:
    await mongo.messages.ensure_conversation(
        Conversation(DM, ConversationKind.DIRECT, participants=("usr_a", "usr_b"))
    )
    Gate(mongo, "messages", "insert_one", parties=6)  # all passed the nonce check
    results = await asyncio.gather(*(send(mongo, n, nonce="same") for n in range(6)))
    assert sum(r.created for r in results) == 1
    assert len({r.message for r in results}) == 1
    assert await mongo.messages.count_messages() == 1


async def test_append_to_a_conversation_deleted_meanwhile_is_undone(mongo: MongoStore) -> None:
    await make_group(mongo)
    Gate(
        mongo,
        "messages",
        "insert_one",
        after=lambda db: db.conversations.delete_one({"_id": "chn_1"}),
    )
    with pytest.raises(NotFound) as err:
        await send(mongo, 1, conversation="chn_1")
    assert err.value.code == "conversation_not_found"
    assert await mongo.messages.count_messages() == 0


# -- multi-step group operations --------------------------------------------


async def test_concurrent_joins_never_exceed_max_uses(mongo: MongoStore) -> None:
    await make_group(mongo)
    await mongo.groups.create_invite(Invite("inv", G, "usr_owner", T0, None, max_uses=3))
    Gate(mongo, "invites", "find_one_and_update", parties=10)  # all 10 saw uses == 0
    results = await asyncio.gather(
        *(mongo.groups.join_with_invite("inv", f"usr_{n}", T0 + 1) for n in range(10)),
        return_exceptions=True,
    )
    assert sum(isinstance(r, Member) for r in results) == 3
    assert all(isinstance(r, Member) or getattr(r, "code", "") == "invite_invalid" for r in results)
    assert (await mongo.groups.get_invite("inv")).uses == 3  # type: ignore[union-attr]
    assert len(await mongo.groups.list_members(G)) == 4


async def test_a_join_racing_a_ban_is_undone(mongo: MongoStore) -> None:
    await make_group(mongo)
    await mongo.groups.create_invite(Invite("inv", G, "usr_owner", T0, None, None))
    Gate(
        mongo,
        "members",
        "insert_one",
        after=lambda db: db.bans.insert_one(
            {"group_id": G, "user_id": "usr_a", "banned_by": "usr_owner", "created_at": T0}
        ),
    )
    with pytest.raises(Forbidden):
        await mongo.groups.join_with_invite("inv", "usr_a", T0 + 1)
    assert await mongo.groups.get_member(G, "usr_a") is None
    assert (await mongo.groups.get_invite("inv")).uses == 0  # type: ignore[union-attr]


async def test_delete_group_interrupted_is_hidden_and_finishes_on_retry(mongo: MongoStore) -> None:
    await make_group(mongo)
    await mongo.groups.add_member(Member(G, "usr_a", Role.MEMBER, T0 + 1))
    await send(mongo, 1, conversation="chn_1")
    db = mongo.engine.db  # a crash after the mark and part of the sweep:
    db.groups.update_one({"_id": G}, {"$set": {"deleting": True}})
    db.conversations.delete_one({"_id": "chn_1"})

    assert await mongo.groups.get_group(G) is None
    assert await mongo.groups.list_all_groups() == []
    assert await mongo.groups.list_groups("usr_a") == []
    with pytest.raises(NotFound):
        await mongo.groups.add_member(Member(G, "usr_b", Role.MEMBER, T0 + 2))

    await mongo.groups.delete_group(G)
    assert await mongo.groups.list_members(G) == []
    assert await mongo.groups.get_channel("chn_1") is None
    assert await mongo.messages.count_messages() == 0
    assert await mongo.count_rows("groups") == 0
    with pytest.raises(NotFound):
        await mongo.groups.delete_group(G)


@pytest.mark.parametrize("swapped", [False, True])
async def test_transfer_owner_interrupted_finishes_on_retry(
    mongo: MongoStore, swapped: bool
) -> None:
    await make_group(mongo)
    await mongo.groups.add_member(Member(G, "usr_a", Role.MEMBER, T0 + 1))
    db = mongo.engine.db  # a crash after promoting usr_a (and maybe after the swap)
    db.members.update_one({"group_id": G, "user_id": "usr_a"}, {"$set": {"role": "owner"}})
    if swapped:
        db.groups.update_one({"_id": G}, {"$set": {"owner_id": "usr_a"}})

    group = await mongo.groups.transfer_owner(G, "usr_owner", "usr_a")
    assert group.owner_id == "usr_a"
    assert (await mongo.groups.get_member(G, "usr_a")).role is Role.OWNER  # type: ignore[union-attr]
    assert (await mongo.groups.get_member(G, "usr_owner")).role is Role.ADMIN  # type: ignore[union-attr]


async def test_concurrent_transfers_leave_one_owner(mongo: MongoStore) -> None:
    await make_group(mongo)
    for user in ("usr_a", "usr_b"):
        await mongo.groups.add_member(Member(G, user, Role.MEMBER, T0 + 1))
    Gate(mongo, "groups", "find_one_and_update", parties=2)  # both promoted before the swap
    results = await asyncio.gather(
        mongo.groups.transfer_owner(G, "usr_owner", "usr_a"),
        mongo.groups.transfer_owner(G, "usr_owner", "usr_b"),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, Group)]
    assert len(winners) == 1
    roles = {m.user_id: m.role for m in await mongo.groups.list_members(G)}
    assert roles == {
        "usr_owner": Role.ADMIN,
        winners[0].owner_id: Role.OWNER,
        ({"usr_a", "usr_b"} - {winners[0].owner_id}).pop(): Role.MEMBER,
    }


async def test_concurrent_presentations_of_one_refresh_token(mongo: MongoStore) -> None:
    await mongo.accounts.create_session(
        AuthSession("ses_1", "usr_a", T0, T0 + 10_000), "r1", T0 + 10_000
    )
    Gate(mongo, "refresh_tokens", "find_one_and_update", parties=2)  # both saw it unspent
    results = await asyncio.gather(
        mongo.accounts.rotate_refresh("r1", "r2", T0 + 10_000, T0 + 1),
        mongo.accounts.rotate_refresh("r1", "r3", T0 + 10_000, T0 + 1),
    )
    assert sorted(r.outcome for r in results) == [RefreshOutcome.REUSED, RefreshOutcome.ROTATED]
    assert (await mongo.accounts.get_session("ses_1")).revoked_at == T0 + 1  # type: ignore[union-attr]
