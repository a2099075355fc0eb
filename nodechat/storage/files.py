"""The file store part: metadata of uploaded files (the bytes are in nodechat.blobs).

One row per file. A file is unattached until ``attach_files`` gives it a message;
deleting the message releases it (``release_message``) and the collector then
deletes it; so does an upload no message attached within the configured age.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from nodechat.errors import NotFound, TooLarge
from nodechat.models import FileRecord

FILE_COLUMNS = (
    "id",
    "owner_id",
    "name",
    "size",
    "sha256",
    "content_type",
    "created_at",
    "message_id",
    "conversation_id",
    "released",
)


def quota_exceeded(quota: int) -> TooLarge:
    """The error of an upload that would take its owner past ``quota`` bytes."""
    return TooLarge(
        f"your files would exceed your quota of {quota} bytes", code="quota_exceeded", quota=quota
    )


def not_attachable() -> NotFound:
    """What attaching a file one does not own, or one already attached, raises."""
    return NotFound("no such file, or it is attached already", code="file_not_found")


@dataclass(frozen=True, slots=True)
class FileUsage:
    """What one user's files take: how many and how many bytes."""

    files: int
    bytes: int


def file_record(row: Sequence[object]) -> FileRecord:
    """A FileRecord from a row in ``FILE_COLUMNS`` order."""
    (fid, owner, name, size, sha, ctype, created, message_id, conversation_id, released) = row
    return FileRecord(
        str(fid),
        str(owner),
        str(name),
        int(size),  # type: ignore[call-overload]
        str(sha),
        str(ctype),
        int(created),  # type: ignore[call-overload]
        None if message_id is None else str(message_id),
        None if conversation_id is None else str(conversation_id),
        bool(released),
    )


class FileStore(ABC):
    """Metadata of uploaded files."""

    @abstractmethod
    async def create_file(self, record: FileRecord, *, quota: int) -> FileRecord:
        """Store a new file's row; ``TooLarge(quota_exceeded)`` if the owner's files would
        then take more than ``quota`` bytes (and nothing is stored)."""

    @abstractmethod
    async def get_file(self, file_id: str) -> FileRecord | None:
        """One file's row, or None."""

    @abstractmethod
    async def list_files(self, owner_id: str, *, limit: int = 100) -> list[FileRecord]:
        """The owner's files, newest first."""

    @abstractmethod
    async def usage(self, owner_id: str) -> FileUsage:
        """How many files the owner keeps and their total size."""

    @abstractmethod
    async def attach_files(
        self, file_ids: Sequence[str], owner_id: str, message_id: str, conversation_id: str
    ) -> list[FileRecord]:
        """Attach every one of the owner's attachable ``file_ids`` to the message, all or
        none: ``NotFound(file_not_found)`` (nothing changed) if any is not attachable.
        The attached rows, in ``file_ids`` order."""

    @abstractmethod
    async def detach_message(self, message_id: str) -> int:
        """Undo ``attach_files`` for a message that was not stored after all: its files
        are unattached again; how many."""

    @abstractmethod
    async def release_message(self, message_id: str) -> int:
        """Release the files of a deleted message (readable by nobody but their owner,
        collected next); how many."""

    @abstractmethod
    async def attachments(self, message_ids: Sequence[str]) -> dict[str, tuple[FileRecord, ...]]:
        """Per message, its attached files in upload order; messages without any are absent."""

    @abstractmethod
    async def stale_files(self, created_before: int, *, limit: int = 500) -> list[FileRecord]:
        """Files due for collection: released ones (their message was deleted, or its
        conversation), and unattached ones created before the time."""

    @abstractmethod
    async def delete_file(self, file_id: str) -> bool:
        """Delete a file's row; whether there was one."""


def group_attachments(records: Sequence[FileRecord]) -> dict[str, tuple[FileRecord, ...]]:
    """Attached records (in upload order) grouped per message."""
    found: dict[str, list[FileRecord]] = {}
    for record in records:
        if record.message_id is not None:
            found.setdefault(record.message_id, []).append(record)
    return {message_id: tuple(items) for message_id, items in found.items()}
