"""Local FileService: uploads streamed to the blob store, downloads by membership.

An upload's type is sniffed from its bytes (magic numbers via ``filetype``);
what the client says is never used. Bytes that match no signature are
``text/plain; charset=utf-8`` if the whole file is valid UTF-8, else
``application/octet-stream``. Who may download: the uploader while the file is
unattached (or released), and afterwards whoever may read the conversation it
is attached to, asked through the MessageService interface; anyone else gets
the same ``file_not_found`` as for a file that does not exist.
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import unicodedata
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass

import filetype

from nodechat.blobs import BlobStore, check_blob_id
from nodechat.config import FileSettings
from nodechat.errors import ChatError, NotFound, TooLarge
from nodechat.models import FileRecord, Identity, new_id, now_ms
from nodechat.services.api import FileList, FileService, MessageService
from nodechat.storage.files import FileStore, quota_exceeded

log = logging.getLogger(__name__)

SNIFF_BYTES = 8192  # what filetype looks at (its signatures all sit in the first 8 KiB)
MAX_NAME = 255
COLLECT_PAGE = 500
TEXT = "text/plain; charset=utf-8"
BINARY = "application/octet-stream"


def file_not_found() -> NotFound:
    """The one answer for an absent file and for one the caller may not see."""
    return NotFound("no such file", code="file_not_found")


def file_too_large(limit: int) -> TooLarge:
    """The error of an upload over ``files.max_size``."""
    return TooLarge(f"a file may be at most {limit} bytes", code="file_too_large", limit=limit)


def clean_name(name: str) -> str:
    """A display name from the client's: its last path part, without control or format
    characters, at most 255 characters; ``file`` if nothing is left."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    kept = "".join(c for c in base if not unicodedata.category(c).startswith("C")).strip()
    kept = kept.lstrip(".") or "file"  # no hidden files, no "..", on the saving side either
    return kept[:MAX_NAME]


def sniff(head: bytes, utf8: bool) -> str:
    """The media type of a file that starts with ``head`` (``utf8``: the whole file
    decodes as UTF-8)."""
    kind = filetype.guess(head) if head else None
    if kind is not None:
        return str(kind.mime)
    return TEXT if utf8 else BINARY


@dataclass(slots=True)
class _Reading:
    """What the upload stream told us while it passed through."""

    size: int = 0
    head: bytes = b""
    utf8: bool = True


class LocalFileService(FileService):
    """FileService over a file store part, a blob store and the message service."""

    def __init__(
        self,
        files: FileStore,
        blobs: BlobStore,
        messages: MessageService,
        settings: FileSettings,
        *,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self._files = files
        self._blobs = blobs
        self._messages = messages
        self._settings = settings
        self._clock = clock

    async def upload(
        self, identity: Identity, name: str, chunks: AsyncIterable[bytes]
    ) -> FileRecord:
        settings = self._settings
        used = (await self._files.usage(identity.user_id)).bytes
        room = settings.quota - used
        if room <= 0:
            raise quota_exceeded(settings.quota)
        file_id = new_id("f")
        reading = _Reading()
        digest = hashlib.sha256()
        decoder = codecs.getincrementaldecoder("utf-8")()

        async def counted() -> AsyncIterator[bytes]:
            async for chunk in chunks:
                reading.size += len(chunk)
                if reading.size > settings.max_size:
                    raise file_too_large(settings.max_size)
                if reading.size > room:
                    raise quota_exceeded(settings.quota)
                if len(reading.head) < SNIFF_BYTES:
                    reading.head += chunk[: SNIFF_BYTES - len(reading.head)]
                if reading.utf8:
                    try:
                        decoder.decode(chunk)
                    except UnicodeDecodeError:
                        reading.utf8 = False
                digest.update(chunk)
                yield chunk
            if reading.utf8:
                try:
                    decoder.decode(b"", final=True)
                except UnicodeDecodeError:
                    reading.utf8 = False

        size = await self._blobs.put(file_id, counted())
        record = FileRecord(
            file_id,
            identity.user_id,
            clean_name(name),
            size,
            digest.hexdigest(),
            sniff(reading.head, reading.utf8),
            self._clock(),
        )
        try:
            return await self._files.create_file(record, quota=settings.quota)
        except BaseException:
            await self._blobs.delete(file_id)  # a racing upload took the room: leave nothing
            raise

    async def _readable(self, identity: Identity, file_id: str) -> FileRecord:
        try:
            check_blob_id(file_id)
        except ChatError:
            raise file_not_found() from None
        record = await self._files.get_file(file_id)
        if record is None:
            raise file_not_found()
        if record.owner_id == identity.user_id and record.message_id is None:
            return record
        if record.message_id is None or record.conversation_id is None:
            raise file_not_found()
        try:
            # the message role decides who reads a conversation; one message of history
            # is the cheapest question its interface answers (over gRPC too)
            await self._messages.history(identity, record.conversation_id, limit=1)
        except NotFound:
            raise file_not_found() from None
        return record

    async def download(
        self, identity: Identity, file_id: str
    ) -> tuple[FileRecord, AsyncIterator[bytes]]:
        record = await self._readable(identity, file_id)
        chunks = self._blobs.get(record.id)
        return record, chunks

    async def list_files(self, identity: Identity) -> FileList:
        usage = await self._files.usage(identity.user_id)
        files = await self._files.list_files(identity.user_id)
        return FileList(
            files, usage.bytes, usage.files, self._settings.quota, self._settings.max_size
        )

    async def collect(self) -> int:
        before = self._clock() - self._settings.unattached_ttl * 1000
        return await collect_stale(self._files, self._blobs, before)


async def collect_stale(files: FileStore, blobs: BlobStore, created_before: int) -> int:
    """Delete every stale file (``FileStore.stale_files``), blob and row; how many."""
    collected = 0
    while True:
        stale = await files.stale_files(created_before, limit=COLLECT_PAGE)
        for record in stale:
            # blob first: a row without a blob is retried next time, a blob without a
            # row would never be found again
            await blobs.delete(record.id)
            await files.delete_file(record.id)
            collected += 1
        if len(stale) < COLLECT_PAGE:
            break
    if collected:
        log.info("collected %d stale files", collected)
    return collected
