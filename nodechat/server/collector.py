"""The periodic collection of stale uploads, in the process that owns the files.

Every ``files.collect_interval`` seconds it calls :meth:`FileService.collect`;
a failed run is logged and the next one tries again (collection is idempotent).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from nodechat.services.api import FileService

log = logging.getLogger(__name__)


class FileCollector:
    """A background task around :meth:`FileService.collect`."""

    def __init__(self, files: FileService, interval: float) -> None:
        self.files = files
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start collecting (the first run after one interval)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="file-collector")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.files.collect()
            except Exception:  # the next run retries; a collector must not die
                log.warning("file collection failed", exc_info=True)

    async def stop(self) -> None:
        """Stop the task and wait for it."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
