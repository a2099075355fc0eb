"""The MongoDB layout: collections, their indexes, and the layout version.

Documents carry the portable columns (nodechat.storage.portable) under the
same names. A single-column key is the document's ``_id`` (users, sessions,
groups, channels, conversations, messages by id; refresh_tokens by hash;
invites by code). Compound keys (members, bans, read_markers, blocks, reactions) get an
ObjectId ``_id`` and a unique compound index; the ObjectId also breaks ties in
insertion order, as SQLite's rowid does. ``users`` keep lower-cased copies of
username and email (``username_key``, ``email_key``) for case-insensitive
uniqueness, as the SQLite schema does.

The unique indexes carry the invariants SQLite gets from transactions:
``messages (conversation_id, seq)`` makes seq allocation safe without locks
(see messages.py), ``messages (author_id, nonce)`` makes a send idempotent,
``members (group_id, user_id)`` makes a join happen once.

Creating an index that exists is a no-op, so :func:`prepare` runs on every
open. Index builds on a large existing collection take time and, for a unique
index, fail if the data already breaks it: only a real server shows that.
"""

from __future__ import annotations

from nodechat.errors import Unavailable
from nodechat.storage.mongo.engine import Db

ASC, DESC = 1, -1
LAYOUT_VERSION = 6  # 2: pins, 3: reactions, 4: threads (conversations.parent_id),
# 5: the messages text index (search), 6: files

# collection -> [(keys, unique)]
INDEXES: dict[str, list[tuple[list[tuple[str, int]], bool]]] = {
    "users": [([("username_key", ASC)], True), ([("email_key", ASC)], True)],
    "sessions": [([("user_id", ASC), ("created_at", ASC)], False)],
    "refresh_tokens": [([("session_id", ASC)], False)],
    "groups": [],
    "channels": [([("group_id", ASC), ("position", ASC)], False)],
    "members": [
        ([("group_id", ASC), ("user_id", ASC)], True),
        ([("user_id", ASC), ("joined_at", ASC)], False),
        ([("group_id", ASC), ("joined_at", ASC), ("user_id", ASC)], False),
    ],
    "bans": [([("group_id", ASC), ("user_id", ASC)], True)],
    "invites": [([("group_id", ASC), ("created_at", DESC)], False)],
    "conversations": [
        ([("group_id", ASC)], False),
        ([("user_a", ASC)], False),
        ([("user_b", ASC)], False),
        # a thread's parent: deleting a channel finds its threads (compound.drop_conversations)
        ([("parent_id", ASC)], False),
    ],
    "messages": [
        # Also the history index: seq ranges in either direction, and the max seq.
        ([("conversation_id", ASC), ("seq", ASC)], True),
        ([("author_id", ASC), ("nonce", ASC)], True),
    ],
    "read_markers": [
        ([("user_id", ASC), ("conversation_id", ASC)], True),
        ([("conversation_id", ASC)], False),
    ],
    "blocks": [([("user_id", ASC), ("blocked_id", ASC)], True)],
    # one document per pinned message (``_id`` is the message id), read newest first
    "pins": [([("conversation_id", ASC), ("pinned_at", DESC)], False)],
    "reactions": [([("message_id", ASC), ("emoji", ASC), ("user_id", ASC)], True)],
    # one document per uploaded file (``_id`` is the file id)
    "files": [
        ([("owner_id", ASC), ("created_at", ASC)], False),
        ([("message_id", ASC)], False),
        ([("created_at", ASC)], False),
    ],
}

# collection -> [(field, index name)]: text indexes for search (storage/mongo/search.py);
# "none": no stemming or stop words, any language is searchable. A server builds one
# over the existing documents when it is created, so older history becomes searchable.
TEXT_INDEXES: dict[str, list[tuple[str, str]]] = {"messages": [("body", "body_text")]}


def prepare(db: Db) -> None:
    """Create the indexes (idempotent) and refuse a layout newer than this code knows."""
    meta = db["meta"].find_one({"_id": "layout"})
    stored = int(meta["version"]) if meta is not None else 0
    if stored > LAYOUT_VERSION:
        raise Unavailable(
            f"the MongoDB database {db.name} has layout version {stored}, newer than this "
            f"nodechat understands ({LAYOUT_VERSION}); upgrade nodechat",
            code="schema_too_new",
        )
    for collection, indexes in INDEXES.items():
        for keys, unique in indexes:
            name = "_".join(f"{field}_{order}" for field, order in keys)
            db[collection].create_index(keys, unique=unique, name=name)
    for collection, texts in TEXT_INDEXES.items():
        for field, name in texts:
            db[collection].create_index([(field, "text")], name=name, default_language="none")
    db["meta"].update_one({"_id": "layout"}, {"$max": {"version": LAYOUT_VERSION}}, upsert=True)
