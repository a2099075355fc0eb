"""Blob stores: where the bytes of uploaded files live (their metadata is in the store).

A blob is named by its file id (``f_…``); every backend checks the id against
:data:`BLOB_ID` before it becomes a path or a key, so an id is never a raw path.
``fs`` (the default) keeps blobs under ``<data_dir>/files``; ``s3`` in a bucket of
any S3-compatible server. :func:`open_blob_store` picks one from ``FileSettings``.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from nodechat.errors import InvalidRequest, NotFound

if TYPE_CHECKING:
    from nodechat.config import FileSettings

BLOB_ID = re.compile(r"f_[0-9a-z]{22}")
CHUNK = 64 * 1024  # bytes per chunk a backend yields on get


def check_blob_id(blob_id: str) -> str:
    """``blob_id`` if it is a file id (``f_`` + 22 base32 characters), else ``invalid_file_id``."""
    if BLOB_ID.fullmatch(blob_id) is None:
        raise InvalidRequest("not a file id", code="invalid_file_id", field="id")
    return blob_id


def blob_not_found() -> NotFound:
    """What every backend raises for a blob it does not hold."""
    return NotFound("no such file", code="file_not_found")


class BlobStore(ABC):
    """Bytes by file id: streamed in, streamed out, deleted."""

    @abstractmethod
    async def put(self, blob_id: str, chunks: AsyncIterable[bytes]) -> int:
        """Store the chunks under ``blob_id`` all or nothing; the size in bytes.

        If ``chunks`` raises, nothing is left behind and the exception propagates."""

    @abstractmethod
    def get(self, blob_id: str) -> AsyncIterator[bytes]:
        """The blob's bytes in chunks; ``NotFound(file_not_found)`` if it is absent
        (raised by the first ``__anext__``)."""

    @abstractmethod
    async def delete(self, blob_id: str) -> None:
        """Remove the blob; an absent one is no error."""

    @abstractmethod
    async def exists(self, blob_id: str) -> bool:
        """Whether the blob is stored."""

    async def close(self) -> None:  # noqa: B027 - optional for backends without resources
        """Release the backend's connections."""


def open_blob_store(settings: FileSettings, data_dir: Path) -> BlobStore:
    """The blob store ``settings.backend`` names (``fs`` under ``data_dir`` or ``s3``)."""
    if settings.backend == "fs":
        from nodechat.blobs.fs import FsBlobStore

        return FsBlobStore(Path(settings.path) if settings.path else data_dir / "files")
    if settings.backend == "s3":
        from nodechat.blobs.s3 import S3BlobStore

        return S3BlobStore(
            bucket=settings.s3_bucket,
            endpoint_url=settings.s3_endpoint or None,
            region=settings.s3_region or None,
            access_key=settings.s3_access_key or None,
            secret_key=settings.s3_secret_key or None,
            prefix=settings.s3_prefix,
        )
    raise InvalidRequest(f"unknown files.backend {settings.backend!r}", code="bad_config")
