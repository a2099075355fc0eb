"""Contract: the blob stores (filesystem, and S3 against moto's server over real HTTP)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from nodechat.blobs import BlobStore, open_blob_store
from nodechat.blobs.fs import FsBlobStore
from nodechat.blobs.s3 import PART
from nodechat.config import FileSettings
from nodechat.errors import InvalidRequest, NotFound
from nodechat.models import new_id
from tests.s3_server import S3Server, s3_server


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with s3_server() as server:
        yield server


@pytest.fixture(params=["fs", "s3"])
async def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    if request.param == "fs":
        settings = FileSettings()
    else:
        server: S3Server = request.getfixturevalue("s3")
        bucket = new_id("b").replace("_", "-")
        server.create_bucket(bucket)
        settings = FileSettings(
            backend="s3",
            s3_bucket=bucket,
            s3_endpoint=server.endpoint,
            s3_region=server.region,
            s3_access_key=server.access_key,
            s3_secret_key=server.secret_key,
            s3_prefix="files/",
        )
    store = open_blob_store(settings, tmp_path)
    try:
        yield store
    finally:
        await store.close()


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def _read(store: BlobStore, blob_id: str) -> bytes:
    return b"".join([chunk async for chunk in store.get(blob_id)])


class Broken(Exception):
    pass


async def _failing(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part
    raise Broken


async def test_put_get_exists_delete(blobs: BlobStore) -> None:
    blob_id = new_id("f")
    assert not await blobs.exists(blob_id)
    assert await blobs.put(blob_id, _chunks(b"hello ", b"world")) == 11
    assert await blobs.exists(blob_id)
    assert await _read(blobs, blob_id) == b"hello world"
    await blobs.delete(blob_id)
    assert not await blobs.exists(blob_id)
    await blobs.delete(blob_id)  # absent: no error
    with pytest.raises(NotFound) as caught:
        await _read(blobs, blob_id)
    assert caught.value.code == "file_not_found"


async def test_empty_blob(blobs: BlobStore) -> None:
    blob_id = new_id("f")
    assert await blobs.put(blob_id, _chunks()) == 0
    assert await _read(blobs, blob_id) == b""


async def test_large_blob_in_parts(blobs: BlobStore) -> None:
    data = bytes(range(256)) * (PART // 256) + b"tail" * 1000  # over one S3 part
    blob_id = new_id("f")
    pieces = [data[i : i + 100_000] for i in range(0, len(data), 100_000)]
    assert await blobs.put(blob_id, _chunks(*pieces)) == len(data)
    got = await _read(blobs, blob_id)
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()


async def test_failed_put_leaves_nothing(blobs: BlobStore, tmp_path: Path) -> None:
    blob_id = new_id("f")
    with pytest.raises(Broken):
        await blobs.put(blob_id, _failing(b"x" * PART, b"y" * 10))
    assert not await blobs.exists(blob_id)
    if isinstance(blobs, FsBlobStore):
        assert [p for p in blobs.root.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize(
    "bad", ["../etc/passwd", "f_../../x", "F_" + "a" * 22, "", "f_" + "a" * 23]
)
async def test_ids_are_validated_before_use(blobs: BlobStore, bad: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await blobs.exists(bad)
    assert caught.value.code == "invalid_file_id"


async def test_fs_files_are_private(tmp_path: Path) -> None:
    store = FsBlobStore(tmp_path / "files")
    blob_id = new_id("f")
    await store.put(blob_id, _chunks(b"secret"))
    (path,) = [p for p in store.root.rglob("*") if p.is_file()]
    assert path.name == blob_id
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700


def test_unknown_backend_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest) as caught:
        open_blob_store(FileSettings(backend="ftp"), tmp_path)
    assert caught.value.code == "bad_config"
