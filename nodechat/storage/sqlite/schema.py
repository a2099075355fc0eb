"""The SQLite schema, as an append-only list of migrations.

Migration ``n`` (1-based) brings a database from ``user_version`` n-1 to n; the
engine splits each script on ``";\\n"``, so a statement (a trigger body included)
must not contain a semicolon at the end of a line. Never edit a released
migration: append a new one.

Case-insensitive uniqueness of usernames and emails is kept in ``*_key``
columns holding ``str.lower()`` of the value: SQLite's NOCASE folds ASCII only.
Users are not referenced by foreign keys, so the rows of a user id stay valid
whatever the accounts part does; groups own their channels, members, bans,
invites and channel conversations, and conversations own their messages.
"""

from __future__ import annotations

_V1 = """
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    username_key TEXT NOT NULL,
    email TEXT NOT NULL,
    email_key TEXT NOT NULL,
    display_name TEXT NOT NULL,
    about TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    is_admin INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE UNIQUE INDEX users_username_key ON users (username_key);
CREATE UNIQUE INDEX users_email_key ON users (email_key);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER,
    user_agent TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX sessions_user ON sessions (user_id, created_at);

CREATE TABLE refresh_tokens (
    hash TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
) STRICT;
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

CREATE TABLE groups (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE channels (
    id TEXT PRIMARY KEY,
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    position INTEGER NOT NULL,
    topic TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX channels_group ON channels (group_id, position);

CREATE TABLE members (
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    role TEXT NOT NULL,
    joined_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, user_id)
) STRICT;
CREATE INDEX members_user ON members (user_id, joined_at);

CREATE TABLE bans (
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    banned_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, user_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE invites (
    code TEXT PRIMARY KEY,
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    max_uses INTEGER,
    uses INTEGER NOT NULL DEFAULT 0,
    revoked INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX invites_group ON invites (group_id, created_at);

CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    group_id TEXT REFERENCES groups (id) ON DELETE CASCADE,
    user_a TEXT,
    user_b TEXT,
    last_seq INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX conversations_group ON conversations (group_id);
CREATE INDEX conversations_user_a ON conversations (user_a);
CREATE INDEX conversations_user_b ON conversations (user_b);

CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    author_id TEXT NOT NULL,
    body TEXT NOT NULL,
    nonce TEXT NOT NULL,
    reply_to TEXT,
    created_at INTEGER NOT NULL,
    edited_at INTEGER,
    deleted INTEGER NOT NULL DEFAULT 0,
    UNIQUE (conversation_id, seq),
    UNIQUE (author_id, nonce)
) STRICT;

CREATE TABLE read_markers (
    user_id TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (user_id, conversation_id)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER conversations_drop_markers AFTER DELETE ON conversations
BEGIN DELETE FROM read_markers WHERE conversation_id = old.id; END;

CREATE TABLE blocks (
    user_id TEXT NOT NULL,
    blocked_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, blocked_id)
) STRICT, WITHOUT ROWID
"""

# Member lists are paged in (joined_at, user_id) order (member.list cursors).
_V2 = """
CREATE INDEX members_group_order ON members (group_id, joined_at, user_id)
"""

# A group's member count is kept on the group row, so reading it (every group view,
# every connect) does not count the members.
_V3 = """
ALTER TABLE groups ADD COLUMN member_count INTEGER NOT NULL DEFAULT 0;
UPDATE groups SET member_count = (SELECT count(*) FROM members WHERE group_id = groups.id);
CREATE TRIGGER members_counted_in AFTER INSERT ON members
BEGIN UPDATE groups SET member_count = member_count + 1 WHERE id = new.group_id; END;
CREATE TRIGGER members_counted_out AFTER DELETE ON members
BEGIN UPDATE groups SET member_count = member_count - 1 WHERE id = old.group_id; END
"""

# Pinned messages: one row per pinned message; a conversation's pins are read
# newest first. A conversation's deletion (a channel's) takes its pins along.
_V4 = """
CREATE TABLE pins (
    message_id TEXT PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    pinned_by TEXT NOT NULL,
    pinned_at INTEGER NOT NULL
) STRICT;
CREATE INDEX pins_conversation ON pins (conversation_id, pinned_at)
"""

# Emoji reactions: one row per (message, emoji, user); a deleted message drops its own
# (delete_message), a deleted conversation's messages take theirs along.
_V5 = """
CREATE TABLE reactions (
    message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    emoji TEXT NOT NULL,
    user_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (message_id, emoji, user_id)
) STRICT, WITHOUT ROWID
"""

# Threads: a thread is a conversation (kind 'thread', id 'thread:<root message id>')
# whose parent is the root message's conversation; deleting the parent (a channel's
# conversation) takes its threads along, and their messages with them.
_V6 = """
ALTER TABLE conversations ADD COLUMN parent_id TEXT
    REFERENCES conversations (id) ON DELETE CASCADE;
CREATE INDEX conversations_parent ON conversations (parent_id)
"""

# Full-text search (storage/sqlite/search.py): an FTS5 index over messages.body with
# external content (the text lives once, in messages), keyed by the messages rowid.
# Triggers keep it in step with appends, edits and deletes; a deleted message leaves
# it (one update trigger: the old text must leave before the new one comes in,
# and SQLite does not promise an order between two triggers). The INSERT ... SELECT builds it for the messages stored before this migration.
_V7 = """
CREATE VIRTUAL TABLE messages_fts USING fts5(
    body, content='messages', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2'
);
INSERT INTO messages_fts (rowid, body) SELECT rowid, body FROM messages WHERE deleted = 0;
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.deleted = 0
BEGIN INSERT INTO messages_fts (rowid, body) VALUES (new.rowid, new.body); END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN old.deleted = 0
BEGIN INSERT INTO messages_fts (messages_fts, rowid, body)
    VALUES ('delete', old.rowid, old.body); END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF body, deleted ON messages
BEGIN INSERT INTO messages_fts (messages_fts, rowid, body)
    SELECT 'delete', old.rowid, old.body WHERE old.deleted = 0; INSERT INTO messages_fts
    (rowid, body) SELECT new.rowid, new.body WHERE new.deleted = 0; END
"""

# Uploaded files' metadata (the bytes are in the blob store): unattached while
# message_id and conversation_id are NULL; a deleted message releases its files; a
# deleted conversation's messages release theirs (the trigger) for the collector.
_V8 = """
CREATE TABLE files (
    id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    content_type TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    message_id TEXT,  -- no foreign key: a send claims files first
    conversation_id TEXT,
    released INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX files_owner ON files (owner_id, created_at);
CREATE INDEX files_message ON files (message_id);
CREATE INDEX files_unattached ON files (created_at) WHERE message_id IS NULL;
CREATE TRIGGER files_message_gone AFTER DELETE ON messages
BEGIN UPDATE files SET message_id = NULL, released = 1 WHERE message_id = old.id; END
"""

MIGRATIONS: list[str] = [_V1, _V2, _V3, _V4, _V5, _V6, _V7, _V8]
"""Schema scripts in order; ``PRAGMA user_version`` counts those applied."""
