"""``nodechat admin files``: collect stale uploads now; copy blobs into another store (S3)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from typer.testing import CliRunner

from nodechat.blobs import open_blob_store
from nodechat.cli import app
from nodechat.config import FileSettings
from nodechat.models import FileRecord, new_id, now_ms
from nodechat.storage import open_store
from tests.s3_server import s3_server

runner = CliRunner()
DAY = 24 * 3600 * 1000


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _seed(data_dir: Path, ages: dict[str, int]) -> dict[str, str]:
    """Files of the given ages (ms) by name; their ids by name."""

    async def build() -> dict[str, str]:
        store = open_store(f"sqlite:///{data_dir / 'nodechat.db'}")
        blobs = open_blob_store(FileSettings(), data_dir)
        ids: dict[str, str] = {}
        try:
            for name, age in ages.items():
                fid = new_id("f")
                data = name.encode()
                await blobs.put(fid, _chunks(data))
                record = FileRecord(
                    fid, "usr_a", name, len(data), "0" * 64, "text/plain", now_ms() - age
                )
                await store.files.create_file(record, quota=10**9)
                ids[name] = fid
        finally:
            await store.close()
        return ids

    return asyncio.run(build())


def test_collect_deletes_only_stale_uploads(tmp_path: Path) -> None:
    ids = _seed(tmp_path, {"old": 2 * DAY, "new": 1000})
    result = runner.invoke(app, ["admin", "files", "collect", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "collected 1 stale file" in result.output
    blobs = open_blob_store(FileSettings(), tmp_path)
    assert not asyncio.run(blobs.exists(ids["old"]))
    assert asyncio.run(blobs.exists(ids["new"]))


def test_copy_puts_every_blob_into_s3(tmp_path: Path) -> None:
    ids = _seed(tmp_path, {"a": 0, "b": 0})
    with s3_server() as s3:
        s3.create_bucket("moved")
        target = tmp_path / "target.toml"
        target.write_text(
            "[files]\n"
            'backend = "s3"\n'
            's3_bucket = "moved"\n'
            f's3_endpoint = "{s3.endpoint}"\n'
            f's3_region = "{s3.region}"\n'
            f's3_access_key = "{s3.access_key}"\n'
            f's3_secret_key = "{s3.secret_key}"\n'
        )
        args = ["admin", "files", "copy", "--to-config", str(target), "--data-dir", str(tmp_path)]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert "copied 2 blob(s), 0 already there" in result.output
        again = runner.invoke(app, args)
        assert "copied 0 blob(s), 2 already there" in again.output
        into = open_blob_store(
            FileSettings(
                backend="s3",
                s3_bucket="moved",
                s3_endpoint=s3.endpoint,
                s3_region=s3.region,
                s3_access_key=s3.access_key,
                s3_secret_key=s3.secret_key,
            ),
            tmp_path,
        )

        async def read(fid: str) -> bytes:
            return b"".join([c async for c in into.get(fid)])

        assert asyncio.run(read(ids["a"])) == b"a"
