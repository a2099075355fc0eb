"""Files on messages: what ``message.send`` may attach, the claim, and the read side.

A send claims its files for the message id it is about to append
(``FileStore.attach_files``, all or none: only the author's own unattached
uploads), then appends; if the append fails or finds the nonce already used,
the claim is undone (``detach_message``). A retried send whose files are
already on the message its nonce made gets that message back, as any retry.
Deleting a message releases its files: nobody but the uploader can fetch
them, and the next collection deletes them (blob and row).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from nodechat.blobs import BLOB_ID
from nodechat.errors import InvalidRequest
from nodechat.models import Message
from nodechat.storage.base import MessageStore
from nodechat.storage.files import FileStore

MAX_ATTACHMENTS = 10  # files on one message


def check_attachments(file_ids: Sequence[str]) -> tuple[str, ...]:
    """At most 10 distinct file ids (``invalid_attachments`` otherwise)."""
    ids = tuple(file_ids)
    if (
        len(ids) > MAX_ATTACHMENTS
        or len(set(ids)) != len(ids)
        or not all(isinstance(i, str) and BLOB_ID.fullmatch(i) for i in ids)
    ):
        raise InvalidRequest(
            f"attachments must be at most {MAX_ATTACHMENTS} distinct file ids",
            code="invalid_attachments",
            field="attachments",
        )
    return ids


async def retried_send(
    files: FileStore, messages: MessageStore, file_ids: Sequence[str], author_id: str, nonce: str
) -> Message | None:
    """The message an earlier send with this nonce stored with exactly these files (a
    retry whose claim found them taken), or None."""
    records = [await files.get_file(i) for i in file_ids]
    message_ids = {r.message_id for r in records if r is not None and r.owner_id == author_id}
    if len(message_ids) != 1 or any(r is None for r in records):
        return None
    (message_id,) = message_ids
    if message_id is None:
        return None
    message = await messages.get_message(message_id)
    if message is None or message.author_id != author_id or message.nonce != nonce:
        return None
    return (await with_attachments(files, [message]))[0]


async def with_attachments(files: FileStore, messages: list[Message]) -> list[Message]:
    """The messages with their attached files (a deleted message shows none)."""
    found = await files.attachments([m.id for m in messages if not m.deleted])
    if not found:
        return messages
    return [
        replace(m, attachments=tuple(r.attachment() for r in found[m.id])) if m.id in found else m
        for m in messages
    ]
