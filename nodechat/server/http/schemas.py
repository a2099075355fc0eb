"""JSON Schemas of the wire forms (docs/protocol.md §2.6), for the OpenAPI document.

``tests/unit/test_http_openapi.py`` checks them against the models' ``to_dict``
so they cannot drift from what the server sends.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
BOOL: Schema = {"type": "boolean"}
NULL_STR: Schema = {"type": ["string", "null"]}
NULL_INT: Schema = {"type": ["integer", "null"]}
ROLE: Schema = {"type": "string", "enum": ["owner", "admin", "member"]}


def ref(name: str) -> Schema:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict[str, Schema], optional: tuple[str, ...] = ()) -> Schema:
    """An object whose properties are all present except ``optional`` ones."""
    required = [name for name in properties if name not in optional]
    return {"type": "object", "properties": properties, "required": required}


def array_of(name: str) -> Schema:
    """A list of a component."""
    return {"type": "array", "items": ref(name)}


_USER_PUBLIC = {"id": STR, "username": STR, "display_name": STR, "about": STR}
_CHANNEL = {
    "id": STR,
    "group_id": STR,
    "name": STR,
    "kind": {"type": "string", "enum": ["text", "voice"]},
    "position": INT,
    "topic": STR,
}

COMPONENTS: dict[str, Schema] = {
    "Error": obj(
        {
            "error": obj(
                {
                    "code": {
                        "type": "string",
                        "description": "stable error code (docs/protocol.md §7)",
                    },
                    "message": {"type": "string", "description": "human-readable; may change"},
                    "field": {"type": "string", "description": "the offending request field"},
                    "retry_after": {
                        "type": "number",
                        "description": "seconds to wait (rate limits)",
                    },
                    "allowed": {
                        "type": "array",
                        "items": STR,
                        "description": "allowed methods (405)",
                    },
                },
                optional=("field", "retry_after", "allowed"),
            )
        }
    ),
    "Empty": {"type": "object", "maxProperties": 0},
    "UserPublic": obj(_USER_PUBLIC),
    "UserPrivate": obj({**_USER_PUBLIC, "email": STR, "created_at": INT, "is_admin": BOOL}),
    "User": {
        **obj(
            {**_USER_PUBLIC, "email": STR, "created_at": INT, "is_admin": BOOL},
            optional=("email", "created_at", "is_admin"),
        ),
        "description": "UserPublic, or UserPrivate when it is you",
    },
    "TokenPair": obj(
        {
            "access_token": STR,
            "refresh_token": STR,
            "access_expires_at": INT,
            "session_id": STR,
            "user": ref("UserPrivate"),
        }
    ),
    "SessionCount": obj({"sessions": INT}),
    "UserList": obj({"users": array_of("UserPublic")}),
    "Channel": obj(_CHANNEL),
    "ChannelList": obj({"channels": array_of("Channel")}),
    "GroupView": obj(
        {
            "id": STR,
            "name": STR,
            "description": STR,
            "owner_id": STR,
            "created_at": INT,
            "channels": array_of("Channel"),
            "role": ROLE,
            "member_count": INT,
        }
    ),
    "GroupList": obj({"groups": array_of("GroupView")}),
    "Member": obj({"group_id": STR, "user_id": STR, "role": ROLE, "joined_at": INT}),
    "MemberList": obj(
        {
            "members": array_of("Member"),
            "users": array_of("UserPublic"),
            "next": {**NULL_STR, "description": "cursor of the next page (after=); null: last"},
        }
    ),
    "Invite": obj(
        {
            "code": STR,
            "group_id": STR,
            "created_by": STR,
            "created_at": INT,
            "expires_at": NULL_INT,
            "max_uses": NULL_INT,
            "uses": INT,
            "revoked": BOOL,
        }
    ),
    "InviteList": obj({"invites": array_of("Invite")}),
    "Conversation": obj(
        {
            "id": STR,
            "kind": {"type": "string", "enum": ["channel", "direct", "self", "thread"]},
            "group_id": NULL_STR,
            "peer_id": NULL_STR,
            "last_seq": INT,
            "last_read_seq": INT,
            "unread": INT,
        }
    ),
    "ConversationList": obj({"conversations": array_of("Conversation")}),
    "Message": obj(
        {
            "id": STR,
            "conversation": STR,
            "seq": INT,
            "author_id": STR,
            "body": STR,
            "nonce": STR,
            "created_at": INT,
            "reply_to": NULL_STR,
            "edited_at": NULL_INT,
            "deleted": BOOL,
            "mentions": {
                "type": "array",
                "items": STR,
                "description": "usernames the body mentions as @name",
            },
            "reactions": {
                **array_of("Reaction"),
                "description": "emoji in first-use order as the caller sees them "
                "(history and resume); empty in events",
            },
            "thread": {
                **ref("ThreadSummary"),
                "description": "the thread under the message, once it has a reply "
                "(history and resume)",
            },
            "attachments": {
                **array_of("Attachment"),
                "description": "files on the message, in upload order (GET /api/v1/files/{id})",
            },
        },
        optional=("thread",),
    ),
    "ThreadSummary": obj(
        {
            "conversation": {"type": "string", "description": "thread:<root message id>"},
            "count": {"type": "integer", "description": "replies (the thread's last seq)"},
            "last_at": NULL_INT,
            "unread": {"type": "integer", "description": "the caller's unread replies"},
        },
        optional=("unread",),
    ),
    "Attachment": obj({"id": STR, "name": STR, "size": INT, "type": STR}),
    "File": obj(
        {
            "id": STR,
            "name": STR,
            "size": INT,
            "type": {"type": "string", "description": "sniffed from the bytes"},
            "sha256": STR,
            "created_at": INT,
            "message_id": NULL_STR,
            "conversation": NULL_STR,
        }
    ),
    "FileList": obj(
        {
            "files": array_of("File"),
            "usage": obj({"bytes": INT, "files": INT}),
            "quota": INT,
            "max_size": INT,
        }
    ),
    "Reaction": obj(
        {
            "emoji": STR,
            "count": INT,
            "me": {"type": "boolean", "description": "whether the caller reacted with it"},
        }
    ),
    "ReactionAck": obj(
        {
            "message_id": STR,
            "conversation": STR,
            "emoji": STR,
            "count": INT,
            "me": BOOL,
            "changed": {
                "type": "boolean",
                "description": "false for a repeat: the reaction was already there (or gone)",
            },
        }
    ),
    "SearchHit": obj(
        {
            "message": ref("Message"),
            "snippet": {"type": "string", "description": "an excerpt around the first match"},
            "highlights": {
                "type": "array",
                "items": {"type": "array", "items": INT, "minItems": 2, "maxItems": 2},
                "description": "[start, end) code-point spans of the matched words in snippet",
            },
        }
    ),
    "SearchPage": obj(
        {
            "results": array_of("SearchHit"),
            "next_cursor": {
                "type": ["string", "null"],
                "description": "pass as cursor for the next page; null on the last page",
            },
        }
    ),
    "History": obj(
        {
            "messages": array_of("Message"),
            "has_more": {
                "type": "boolean",
                "description": "more messages lie beyond, same direction",
            },
        }
    ),
    "SendAck": obj(
        {
            "id": STR,
            "conversation": STR,
            "seq": INT,
            "created_at": INT,
            "duplicate": {
                "type": "boolean",
                "description": "true when the nonce was already used: "
                "the original message is returned",
            },
        }
    ),
    "DeleteAck": obj({"id": STR, "conversation": STR, "seq": INT}),
    "PinnedMessage": obj(
        {
            "message": ref("Message"),
            "pinned_by": {"type": "string", "description": "user id of who pinned it"},
            "pinned_at": {"type": "integer", "description": "when, in ms since the epoch"},
        }
    ),
    "UnpinAck": obj({"conversation": STR, "message_id": STR}),
    "PinList": obj({"conversation": STR, "pins": array_of("PinnedMessage")}),
    "Session": obj(
        {
            "session_id": STR,
            "user": ref("UserPrivate"),
            "groups": array_of("GroupView"),
            "conversations": array_of("Conversation"),
            "users": array_of("UserPublic"),
            "online": {"type": "array", "items": STR, "description": "user ids online now"},
            "voice": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": STR},
                "description": "voice channel id -> participant user ids",
            },
            "resume": {
                "type": "object",
                "additionalProperties": obj(
                    {"replayed": INT, "last_seq": INT, "too_old": BOOL, "not_found": BOOL},
                    optional=("replayed", "last_seq", "too_old", "not_found"),
                ),
                "description": "per conversation asked for: replayed count and last_seq, "
                "too_old and last_seq, or not_found",
            },
            "messages": {
                **array_of("Message"),
                "description": "what was missed since each resume point, in order",
            },
        }
    ),
    "ReadMarker": obj({"conversation": STR, "seq": INT}),
    "Gateway": obj({"url": STR, "urls": {"type": "array", "items": STR}}),
    "Health": obj(
        {"status": STR, "version": STR, "reasons": {"type": "array", "items": STR}},
        optional=("version", "reasons"),
    ),
}
