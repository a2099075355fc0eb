"""The filesystem blob store: one file per blob under a root directory.

``<root>/<last two id characters>/<id>``; a put writes a private temp file in
the same directory and renames it into place, so a reader sees the whole blob
or none, and a failed upload leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path

from nodechat.blobs import CHUNK, BlobStore, blob_not_found, check_blob_id
from nodechat.files import make_private_dir


class FsBlobStore(BlobStore):
    """Blobs as files under ``root`` (made 0700 on first write)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, blob_id: str) -> Path:
        check_blob_id(blob_id)
        # the id's tail is random; its head is the time, which would crowd one directory
        return self.root / blob_id[-2:] / blob_id

    async def put(self, blob_id: str, chunks: AsyncIterable[bytes]) -> int:
        """Write to a temp file, fsync, rename into place; nothing stays on failure."""
        path = self._path(blob_id)
        await asyncio.to_thread(make_private_dir, path.parent)
        tmp = path.with_name(f".{blob_id}.{os.getpid()}.{id(chunks)}.tmp")
        fd = await asyncio.to_thread(os.open, tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                async for chunk in chunks:
                    await asyncio.to_thread(out.write, chunk)
                    size += len(chunk)
                await asyncio.to_thread(out.flush)
                await asyncio.to_thread(os.fsync, out.fileno())
            await asyncio.to_thread(os.replace, tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
        return size

    async def get(self, blob_id: str) -> AsyncIterator[bytes]:
        """The file's bytes in 64 KiB chunks."""
        path = self._path(blob_id)
        try:
            handle = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError:
            raise blob_not_found() from None
        try:
            while chunk := await asyncio.to_thread(handle.read, CHUNK):
                yield chunk
        finally:
            handle.close()

    async def delete(self, blob_id: str) -> None:
        """Unlink the file (absent: nothing to do)."""
        path = self._path(blob_id)
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(path.unlink)

    async def exists(self, blob_id: str) -> bool:
        """Whether the file is there."""
        return await asyncio.to_thread(self._path(blob_id).is_file)
