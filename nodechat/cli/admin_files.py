"""``nodechat admin files``: uploaded files on the store and blob store of a deployment.

Local only (``--data-dir``, ``--config``, ``--store`` as for ``serve``): ``collect``
deletes stale uploads now, as the server's periodic task does; ``copy`` puts
every file's bytes into the blob store another settings file names (e.g. from
``fs`` to ``s3``), the bytes' half of moving a deployment (``admin migrate``
carries the file rows with the rest of the store).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from nodechat.blobs import open_blob_store
from nodechat.cli.admin_io import reported, say
from nodechat.cli.common import ConfigOption, DataDirOption, StoreOption, load
from nodechat.config import Settings
from nodechat.models import now_ms
from nodechat.services.files import collect_stale
from nodechat.storage import open_store

app = typer.Typer(name="files", help="Uploaded files: collect stale ones, copy blobs.")


async def _collect(settings: Settings) -> int:
    store = open_store(settings.serve.store_url)
    blobs = open_blob_store(settings.files, settings.serve.data_dir)
    try:
        before = now_ms() - settings.files.unattached_ttl * 1000
        return await collect_stale(store.files, blobs, before)
    finally:
        await blobs.close()
        await store.close()


async def _copy(settings: Settings, target: Settings) -> tuple[int, int]:
    store = open_store(settings.serve.store_url)
    source = open_blob_store(settings.files, settings.serve.data_dir)
    into = open_blob_store(target.files, target.serve.data_dir)
    copied = skipped = 0
    try:
        after: tuple[str, ...] | None = None
        while rows := await store.export_rows("files", after=after, limit=500):
            for row in rows:
                if await into.exists(row["id"]):
                    skipped += 1
                    continue
                await into.put(row["id"], source.get(row["id"]))
                copied += 1
            after = (rows[-1]["id"],)
    finally:
        await into.close()
        await source.close()
        await store.close()
    return copied, skipped


@app.command("collect")
def collect(
    data_dir: DataDirOption = None, store: StoreOption = None, config: ConfigOption = None
) -> None:
    """Delete released files and uploads unattached past files.unattached_ttl, now."""
    with reported():
        settings = load(config, {"--data-dir": data_dir, "--store": store}).settings
        count = asyncio.run(_collect(settings))
    say(f"collected {count} stale file(s)")


@app.command("copy")
def copy(
    to_config: Annotated[
        Path,
        typer.Option(
            "--to-config",
            help="Settings file whose [files] section (and data_dir) names the target.",
            metavar="FILE",
        ),
    ],
    data_dir: DataDirOption = None,
    store: StoreOption = None,
    config: ConfigOption = None,
) -> None:
    """Copy every file's bytes into another blob store (blobs already there are kept)."""
    with reported():
        settings = load(config, {"--data-dir": data_dir, "--store": store}).settings
        target = load(to_config, {}).settings
        copied, skipped = asyncio.run(_copy(settings, target))
    say(f"copied {copied} blob(s), {skipped} already there")
