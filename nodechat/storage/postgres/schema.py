"""The PostgreSQL schema as an append-only list of migrations, applied at open.

Migration ``n`` (1-based) brings a database from version n-1 to n; the
versions applied are rows of ``schema_migrations``. Several processes may
open the same database at once: :func:`migrate` holds a session advisory lock
while it reads the version and applies what is missing, so exactly one of
them applies each migration and the others wait and then find it done. Never
edit a released migration: append a new one.

Identifiers and other keys are ``COLLATE "C"``: keyset pages (``WHERE id >
$1 ORDER BY id``) then follow code-point order whatever the database locale,
as in SQLite. Usernames and emails keep the database collation, because
``lower()`` folds with it; their case-insensitive uniqueness is a unique
index on ``lower(...)``. Users are not referenced by foreign keys (as in
SQLite); groups own their channels, members, bans, invites and channel
conversations, conversations own their messages, and a trigger drops the
read markers of a deleted conversation.

``nodechat_append`` stores one message with the next seq of its
conversation, server-side in one round trip: it returns an ``outcome`` of
``created``, ``existing`` (the ``(author_id, nonce)`` was stored before, the
stored message follows), ``no_conversation``, ``id_taken`` or ``seq_taken``.
It never raises for those, so appends can be pipelined in one transaction
without a savepoint each.
"""

from __future__ import annotations

import logging

import psycopg
from psycopg.rows import TupleRow

from nodechat.errors import Unavailable

log = logging.getLogger(__name__)

# Any constant works; it only has to be the same in every nodechat process.
MIGRATION_LOCK = 0x6E6F6465636861  # "nodecha"

_V1 = """
CREATE TABLE users (
    id TEXT COLLATE "C" PRIMARY KEY,
    username TEXT NOT NULL,
    email TEXT NOT NULL,
    display_name TEXT NOT NULL,
    about TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    is_admin BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE sessions (
    id TEXT COLLATE "C" PRIMARY KEY,
    user_id TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    user_agent TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (user_id, created_at);

CREATE TABLE refresh_tokens (
    hash TEXT COLLATE "C" PRIMARY KEY,
    session_id TEXT COLLATE "C" NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

CREATE TABLE groups (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    owner_id TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE channels (
    id TEXT COLLATE "C" PRIMARY KEY,
    group_id TEXT COLLATE "C" NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    position INTEGER NOT NULL,
    topic TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE INDEX channels_group ON channels (group_id, position);

CREATE TABLE members (
    group_id TEXT COLLATE "C" NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id TEXT COLLATE "C" NOT NULL,
    role TEXT NOT NULL,
    joined_at BIGINT NOT NULL,
    ord BIGINT GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX members_user ON members (user_id, joined_at);

CREATE TABLE bans (
    group_id TEXT COLLATE "C" NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id TEXT COLLATE "C" NOT NULL,
    banned_by TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);

CREATE TABLE invites (
    code TEXT COLLATE "C" PRIMARY KEY,
    group_id TEXT COLLATE "C" NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    created_by TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    max_uses BIGINT,
    uses BIGINT NOT NULL DEFAULT 0,
    revoked BOOLEAN NOT NULL DEFAULT FALSE,
    ord BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX invites_group ON invites (group_id, created_at);

CREATE TABLE conversations (
    id TEXT COLLATE "C" PRIMARY KEY,
    kind TEXT NOT NULL,
    group_id TEXT COLLATE "C" REFERENCES groups (id) ON DELETE CASCADE,
    user_a TEXT COLLATE "C",
    user_b TEXT COLLATE "C",
    last_seq BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX conversations_group ON conversations (group_id);
CREATE INDEX conversations_user_a ON conversations (user_a);
CREATE INDEX conversations_user_b ON conversations (user_b);

CREATE TABLE messages (
    id TEXT COLLATE "C" PRIMARY KEY,
    conversation_id TEXT COLLATE "C" NOT NULL
        REFERENCES conversations (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    author_id TEXT COLLATE "C" NOT NULL,
    body TEXT NOT NULL,
    nonce TEXT COLLATE "C" NOT NULL,
    reply_to TEXT COLLATE "C",
    created_at BIGINT NOT NULL,
    edited_at BIGINT,
    deleted BOOLEAN NOT NULL DEFAULT FALSE,
    CONSTRAINT messages_conversation_seq UNIQUE (conversation_id, seq),
    CONSTRAINT messages_author_nonce UNIQUE (author_id, nonce)
);

CREATE TABLE read_markers (
    user_id TEXT COLLATE "C" NOT NULL,
    conversation_id TEXT COLLATE "C" NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (user_id, conversation_id)
);
CREATE INDEX read_markers_conversation ON read_markers (conversation_id);

CREATE FUNCTION nodechat_drop_read_markers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM read_markers WHERE conversation_id = OLD.id;
    RETURN NULL;
END $$;
CREATE TRIGGER conversations_drop_markers AFTER DELETE ON conversations
    FOR EACH ROW EXECUTE FUNCTION nodechat_drop_read_markers();

CREATE TABLE blocks (
    user_id TEXT COLLATE "C" NOT NULL,
    blocked_id TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, blocked_id)
);

CREATE FUNCTION nodechat_append(
    p_conversation TEXT, p_id TEXT, p_author TEXT, p_body TEXT, p_nonce TEXT,
    p_reply_to TEXT, p_now BIGINT
) RETURNS TABLE (
    outcome TEXT, o_id TEXT, o_conversation_id TEXT, o_seq BIGINT, o_author_id TEXT,
    o_body TEXT, o_nonce TEXT, o_reply_to TEXT, o_created_at BIGINT, o_edited_at BIGINT,
    o_deleted BOOLEAN
) LANGUAGE plpgsql AS $$
DECLARE
    next_seq BIGINT;
BEGIN
    RETURN QUERY SELECT 'existing', m.id, m.conversation_id, m.seq, m.author_id, m.body,
        m.nonce, m.reply_to, m.created_at, m.edited_at, m.deleted
        FROM messages m WHERE m.author_id = p_author AND m.nonce = p_nonce;
    IF FOUND THEN
        RETURN;
    END IF;
    -- The row lock taken here serializes every writer of this conversation until commit.
    UPDATE conversations c SET last_seq = c.last_seq + 1 WHERE c.id = p_conversation
        RETURNING c.last_seq INTO next_seq;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'no_conversation', NULL::TEXT, NULL::TEXT, NULL::BIGINT,
            NULL::TEXT, NULL::TEXT, NULL::TEXT, NULL::TEXT, NULL::BIGINT, NULL::BIGINT,
            NULL::BOOLEAN;
        RETURN;
    END IF;
    -- A concurrent insert of the same (author_id, nonce) makes this wait for its
    -- transaction; if that one commits, nothing is inserted here.
    INSERT INTO messages (id, conversation_id, seq, author_id, body, nonce, reply_to,
                          created_at, edited_at, deleted)
        VALUES (p_id, p_conversation, next_seq, p_author, p_body, p_nonce, p_reply_to,
                p_now, NULL, FALSE)
        ON CONFLICT DO NOTHING;
    IF FOUND THEN
        RETURN QUERY SELECT 'created', p_id, p_conversation, next_seq, p_author, p_body,
            p_nonce, p_reply_to, p_now, NULL::BIGINT, FALSE;
        RETURN;
    END IF;
    -- Not stored. This transaction still holds the conversation's row lock, so
    -- no one took a seq after ours: giving it back leaves no gap.
    UPDATE conversations c SET last_seq = c.last_seq - 1 WHERE c.id = p_conversation;
    RETURN QUERY SELECT 'existing', m.id, m.conversation_id, m.seq, m.author_id, m.body,
        m.nonce, m.reply_to, m.created_at, m.edited_at, m.deleted
        FROM messages m WHERE m.author_id = p_author AND m.nonce = p_nonce;
    IF FOUND THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT
        CASE WHEN EXISTS (SELECT 1 FROM messages m WHERE m.id = p_id)
             THEN 'id_taken' ELSE 'seq_taken' END,
        NULL::TEXT, NULL::TEXT, NULL::BIGINT, NULL::TEXT, NULL::TEXT, NULL::TEXT, NULL::TEXT,
        NULL::BIGINT, NULL::BIGINT, NULL::BOOLEAN;
END $$
"""

# Member lists are paged in (joined_at, user_id) order (member.list cursors).
_V2 = """
CREATE INDEX members_group_order ON members (group_id, joined_at, user_id)
"""

# A group's member count is kept on the group row, so reading it (every group view,
# every connect) does not count the members.
_V3 = """
ALTER TABLE groups ADD COLUMN member_count BIGINT NOT NULL DEFAULT 0;
UPDATE groups SET member_count = (SELECT count(*) FROM members WHERE group_id = groups.id);
CREATE FUNCTION nodechat_count_members() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE groups SET member_count = member_count + 1 WHERE id = NEW.group_id;
    ELSE
        UPDATE groups SET member_count = member_count - 1 WHERE id = OLD.group_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER members_counted AFTER INSERT OR DELETE ON members
    FOR EACH ROW EXECUTE FUNCTION nodechat_count_members();
"""

# Pinned messages: one row per pinned message; a conversation's pins are read
# newest first. A conversation's deletion (a channel's) takes its pins along.
_V4 = """
CREATE TABLE pins (
    message_id TEXT PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    pinned_by TEXT NOT NULL,
    pinned_at BIGINT NOT NULL
);
CREATE INDEX pins_conversation ON pins (conversation_id, pinned_at);
"""

# Emoji reactions: one row per (message, emoji, user); a deleted message drops its own
# (delete_message), a deleted conversation's messages take theirs along.
_V5 = """
CREATE TABLE reactions (
    message_id TEXT COLLATE "C" NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    emoji TEXT COLLATE "C" NOT NULL,
    user_id TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (message_id, emoji, user_id)
);
"""

# Threads: a thread is a conversation (kind 'thread', id 'thread:<root message id>')
# whose parent is the root message's conversation; deleting the parent (a channel's
# conversation) takes its threads along, and their messages with them.
_V6 = """
ALTER TABLE conversations ADD COLUMN parent_id TEXT COLLATE "C"
    REFERENCES conversations (id) ON DELETE CASCADE;
CREATE INDEX conversations_parent ON conversations (parent_id);
"""

# Full-text search (storage/postgres/search.py): a generated tsvector of the body
# ('simple': no stemming, no stop words, so any language is searchable) and a GIN
# index on it. Adding the stored column computes it for every existing row; an edit
# or a delete (the body becomes '') recomputes it. messages_created lets a search of a
# common word walk the newest messages first and stop at its window (search.py).
_V7 = """
ALTER TABLE messages ADD COLUMN body_tsv tsvector
    GENERATED ALWAYS AS (to_tsvector('simple', body)) STORED;
CREATE INDEX messages_body_tsv ON messages USING GIN (body_tsv);
CREATE INDEX messages_created ON messages (created_at, id);
"""

# Uploaded files' metadata (the bytes are in the blob store): unattached while
# message_id and conversation_id are NULL; a deleted message releases its files; a
# deleted conversation's messages release theirs (the trigger) for the collector.
_V8 = """
CREATE TABLE files (
    id TEXT COLLATE "C" PRIMARY KEY,
    owner_id TEXT COLLATE "C" NOT NULL,
    name TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    content_type TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    message_id TEXT COLLATE "C",  -- no foreign key: a send claims files first
    conversation_id TEXT COLLATE "C",
    released BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX files_owner ON files (owner_id, created_at);
CREATE INDEX files_message ON files (message_id);
CREATE INDEX files_unattached ON files (created_at) WHERE message_id IS NULL;
CREATE FUNCTION nodechat_release_files() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE files SET message_id = NULL, released = true WHERE message_id = OLD.id;
    RETURN OLD;
END $$;
CREATE TRIGGER files_message_gone AFTER DELETE ON messages
    FOR EACH ROW EXECUTE FUNCTION nodechat_release_files();
"""

MIGRATIONS: list[str] = [_V1, _V2, _V3, _V4, _V5, _V6, _V7, _V8]
"""Schema scripts in order; ``schema_migrations`` holds the versions applied."""


def migrate(conn: psycopg.Connection[TupleRow], migrations: list[str] | None = None) -> list[int]:
    """Apply the migrations the database lacks, under the advisory lock; return those applied.

    ``conn`` must be in autocommit mode. ``Unavailable(code='schema_too_new')``
    if the database is ahead of this code.
    """
    scripts = MIGRATIONS if migrations is None else migrations
    applied: list[int] = []
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY,"
            " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
        current = int(row[0]) if row is not None else 0
        if current > len(scripts):
            raise Unavailable(
                f"the database schema is version {current}, newer than this nodechat "
                f"understands ({len(scripts)}); upgrade nodechat",
                code="schema_too_new",
            )
        for version, script in enumerate(scripts[current:], start=current + 1):
            log.info("applying schema migration %d", version)
            with conn.transaction():
                conn.execute(script)  # no parameters: several statements in one call
                conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
            applied.append(version)
    finally:
        if not conn.closed and not conn.broken:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
    return applied
