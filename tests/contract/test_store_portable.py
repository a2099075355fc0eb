"""Portable export/import: a store's rows copied into an empty store read back the same."""

from __future__ import annotations

from typing import Any

from nodechat.models import (
    Channel,
    ChannelKind,
    Conversation,
    ConversationKind,
    FileRecord,
    Group,
    Member,
    Pin,
    Reaction,
    Role,
    User,
    direct_conversation_id,
)
from nodechat.storage.base import Store
from nodechat.storage.portable import TABLES


async def fill(store: Store) -> None:
    for name in ("ann", "bob"):
        await store.accounts.create_user(
            User(f"u_{name}", name, f"{name}@example.test", name.title(), "hi", 1000), "hash"
        )
    group = Group("g_1", "G", "", "u_ann", 1000)
    await store.groups.create_group(
        group,
        Member("g_1", "u_ann", Role.OWNER, 1000),
        [Channel("ch_1", "g_1", "welcome", ChannelKind.TEXT, 0)],
    )
    await store.groups.add_member(Member("g_1", "u_bob", Role.MEMBER, 1001))
    dm = direct_conversation_id("u_ann", "u_bob")
    await store.messages.ensure_conversation(
        Conversation(dm, ConversationKind.DIRECT, participants=("u_ann", "u_bob"))
    )
    for i in range(25):
        await store.messages.append(
            "ch_1",
            message_id=f"m_{i:03}",
            author_id="u_ann",
            body=f"b{i}",
            nonce=f"n{i}",
            reply_to=None,
            now=2000 + i,
        )
    await store.messages.append(
        dm, message_id="m_dm", author_id="u_bob", body="psst", nonce="d", reply_to=None, now=3000
    )
    await store.messages.delete_message("m_003", 4000)
    await store.messages.set_read_marker("u_bob", "ch_1", 7)
    await store.messages.block("u_bob", "u_ann", 5000)
    for i, message_id in enumerate(("m_001", "m_020", "m_010")):
        await store.messages.pin(Pin("ch_1", message_id, "u_ann", 6000 + i), limit=50)
    await store.messages.pin(Pin(dm, "m_dm", "u_bob", 6100), limit=50)
    for i, (message, emoji, user) in enumerate(
        [
            ("m_001", "👍", "u_ann"),
            ("m_001", "👍", "u_bob"),
            ("m_002", ":tada:", "u_bob"),
            ("m_dm", "🎉", "u_ann"),
        ]
    ):
        await store.reactions.add_reaction(message, emoji, user, 6000 + i, max_distinct=20)
    for parent, root in (("ch_1", "m_001"), (dm, "m_dm")):
        await store.messages.ensure_conversation(
            Conversation(
                f"thread:{root}",
                ConversationKind.THREAD,
                "g_1" if parent == "ch_1" else None,
                parent_id=parent,
            )
        )
    for i in range(2):
        await store.messages.append(
            "thread:m_001",
            message_id=f"m_t{i}",
            author_id="u_bob",
            body=f"reply {i}",
            nonce=f"t{i}",
            reply_to=None,
            now=7000 + i,
        )
    await store.messages.set_read_marker("u_ann", "thread:m_001", 1)
    for i, name in enumerate(("notes.txt", "photo.png")):
        await store.files.create_file(
            FileRecord(f"f_{i:022}", "u_ann", name, 10 + i, "ab" * 32, "text/plain", 8000 + i),
            quota=1 << 20,
        )
    await store.files.attach_files([f"f_{0:022}"], "u_ann", "m_002", "ch_1")


async def dump(store: Store) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for spec in TABLES:
        rows: list[dict[str, Any]] = []
        after = None
        while True:
            page = await store.export_rows(spec.name, after=after, limit=7)
            rows += page
            if len(page) < 7:
                break
            after = tuple(page[-1][k] for k in spec.key)
        out[spec.name] = rows
    return out


async def test_round_trip(store: Store, store_factory: Any) -> None:
    await fill(store)
    source = await dump(store)
    assert len(source["messages"]) == 28 and source["users"][0]["disabled"] is False
    assert len(source["pins"]) == 4
    assert len(source["reactions"]) == 4
    assert len(source["files"]) == 2
    target = await store_factory()
    for spec in TABLES:
        assert await target.import_rows(spec.name, source[spec.name]) == len(source[spec.name])
        assert await target.import_rows(spec.name, source[spec.name]) == 0  # idempotent
        assert await target.count_rows(spec.name) == len(source[spec.name])
    assert await dump(target) == source
    # the copy is a working store: seq continues without a gap
    result = await target.messages.append(
        "ch_1",
        message_id="m_new",
        author_id="u_bob",
        body="after",
        nonce="x",
        reply_to=None,
        now=9000,
    )
    assert result.message.seq == 26
    summaries = await target.threads.summaries(["thread:m_001", "thread:m_dm"])
    assert [(s.conversation, s.count, s.last_at) for s in summaries.values()] == [
        ("thread:m_001", 2, 7001)
    ]
    thread = await target.messages.get_conversation("thread:m_001")
    assert thread is not None and thread.parent_id == "ch_1" and thread.group_id == "g_1"
    seen = await target.reactions.reactions(["m_001", "m_dm"], "u_bob")
    assert seen == {"m_001": (Reaction("👍", 2, True),), "m_dm": (Reaction("🎉", 1, False),)}
    attached = await target.files.attachments(["m_002"])
    assert [r.name for r in attached["m_002"]] == ["notes.txt"]
    assert (await target.files.usage("u_ann")).bytes == 21
    found = await target.accounts.find_user("ANN")
    assert found is not None and found[0].id == "u_ann"


async def test_migrate_from_sqlite_into_every_backend(store: Store, tmp_path: Any) -> None:
    from nodechat.storage.migrate import Checkpoint, copy_all, verify
    from nodechat.storage.sqlite import open_sqlite

    source = open_sqlite(tmp_path / "source.db")
    try:
        await fill(source)
        await copy_all(source, store, Checkpoint(None, "a", "b"))
        assert await verify(source, store) == []
        assert await dump(store) == await dump(source)
        pinned = [e.message.id for e in await store.messages.list_pins("ch_1")]
        assert pinned == ["m_010", "m_020", "m_001"]
        await store.messages.edit_message("m_010", "changed", 9999)
        problems = await verify(source, store)
        assert [p.what for p in problems] == ["messages of ch_1"]
    finally:
        await source.close()
