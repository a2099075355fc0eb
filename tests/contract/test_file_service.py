"""Contract: the file service, with the message role local or behind gRPC.

The file service asks the message role who may read a conversation through the
MessageService interface, so in ``grpc`` mode every download's authorization
and every send with attachments crosses a real gRPC server (the split path).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from nodechat.blobs.fs import FsBlobStore
from nodechat.config import FileSettings
from nodechat.errors import ChatError, InvalidRequest, NotFound, TooLarge
from nodechat.models import Attachment, Identity, direct_conversation_id
from nodechat.services.files import BINARY, TEXT, LocalFileService, clean_name
from tests.contract.service_env import MODES, ServiceEnv, open_services
from tests.contract.test_services import chatting_in_a_channel

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


class Clock:
    """A settable clock (ms) for the collection's age."""

    def __init__(self) -> None:
        self.now = 1_700_000_000_000

    def __call__(self) -> int:
        return self.now


@pytest.fixture(params=MODES)
async def services(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ServiceEnv]:
    async with open_services(request.param, tmp_path) as env:
        yield env


def file_service(
    env: ServiceEnv, tmp_path: Path, clock: Clock | None = None, **settings: int
) -> LocalFileService:
    assert env.store is not None
    return LocalFileService(
        env.store.files,
        FsBlobStore(tmp_path / "blobs"),
        env.messages,
        FileSettings(**settings),  # type: ignore[arg-type]
        clock=clock or Clock(),
    )


async def _stream(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def _bytes(files: LocalFileService, who: Identity, file_id: str) -> bytes:
    _, chunks = await files.download(who, file_id)
    return b"".join([c async for c in chunks])


def _blobs(tmp_path: Path) -> list[Path]:
    return [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]


async def test_upload_sniffs_the_type_from_the_bytes(services: ServiceEnv, tmp_path: Path) -> None:
    files = file_service(services, tmp_path)
    _, alice = await services.user()
    png = await files.upload(alice, "notes.txt", _stream(PNG[:5], PNG[5:]))
    assert (png.content_type, png.size, png.name) == ("image/png", len(PNG), "notes.txt")
    text = await files.upload(alice, "x.exe", _stream("héllo".encode()[:2], "héllo".encode()[2:]))
    assert text.content_type == TEXT  # a UTF-8 character split across chunks is still text
    binary = await files.upload(alice, "a.txt", _stream(b"\xff\xfe\x00 not utf-8"))
    assert binary.content_type == BINARY
    assert await _bytes(files, alice, png.id) == PNG
    listing = await files.list_files(alice)
    assert [f.id for f in listing.files] == [binary.id, text.id, png.id]
    assert listing.used_bytes == png.size + text.size + binary.size
    assert listing.file_count == 3


async def test_size_limit_and_quota_leave_nothing(services: ServiceEnv, tmp_path: Path) -> None:
    files = file_service(services, tmp_path, max_size=10, quota=15)
    _, alice = await services.user()
    with pytest.raises(TooLarge) as caught:
        await files.upload(alice, "big", _stream(b"12345", b"678901"))
    assert caught.value.code == "file_too_large"
    assert _blobs(tmp_path) == []
    await files.upload(alice, "ten", _stream(b"1234567890"))
    with pytest.raises(TooLarge) as caught:
        await files.upload(alice, "six", _stream(b"123456"))
    assert caught.value.code == "quota_exceeded"
    assert len(_blobs(tmp_path)) == 1
    assert (await files.list_files(alice)).used_bytes == 10


async def test_attach_and_download_by_membership(services: ServiceEnv, tmp_path: Path) -> None:
    env = services
    files = file_service(env, tmp_path)
    alice, bob, gid, channel = await chatting_in_a_channel(env)
    _, outsider = await env.user()
    _, kicked = await env.user()
    invite = await env.groups.create_invite(alice, gid)
    await env.groups.join(kicked, invite.code)
    up = await files.upload(alice, "../../etc/report.pdf", _stream(b"%PDF-1.4 body"))
    assert up.name == "report.pdf" and up.content_type == "application/pdf"
    # unattached: its owner only
    for other in (bob, outsider):
        with pytest.raises(NotFound) as caught:
            await _bytes(files, other, up.id)
        assert caught.value.code == "file_not_found"
    sent = await env.messages.send(alice, channel, "the report", "n-1", attachments=[up.id])
    want = (Attachment(up.id, "report.pdf", up.size, "application/pdf"),)
    assert sent.message.attachments == want
    created = env.seen("message.created")
    assert created[-1].data["attachments"] == [a.to_dict() for a in want]
    history = await env.messages.history(bob, channel)
    assert history.messages[0].attachments == want
    await env.messages.pin(alice, sent.message.id)
    assert (await env.messages.pins(bob, channel))[0].message.attachments == want
    assert (await env.messages.replay(bob, channel, 0, 10)).messages[0].attachments == want
    kicked_upload = await files.upload(kicked, "k.txt", _stream(b"k"))
    await env.groups.kick(alice, gid, kicked.user_id)
    with pytest.raises(NotFound):  # a kicked member sends nothing there, files or not
        await env.messages.send(kicked, channel, "x", "k-1", attachments=[kicked_upload.id])
    assert (await _bytes(files, kicked, kicked_upload.id)) == b"k"  # still theirs, unattached
    assert await _bytes(files, bob, up.id) == b"%PDF-1.4 body"
    for other in (outsider, kicked):  # the same answer as for no such file
        with pytest.raises(NotFound) as caught:
            await _bytes(files, other, up.id)
        assert caught.value.code == "file_not_found"
    with pytest.raises(NotFound):
        await _bytes(files, bob, "f_" + "0" * 22)
    with pytest.raises(NotFound):
        await _bytes(files, bob, "../chat.db")


async def test_only_the_authors_unattached_files(services: ServiceEnv, tmp_path: Path) -> None:
    env = services
    files = file_service(env, tmp_path)
    alice, bob, _, channel = await chatting_in_a_channel(env)
    mine = await files.upload(alice, "a", _stream(b"a"))
    theirs = await files.upload(bob, "b", _stream(b"b"))
    with pytest.raises(NotFound) as caught:
        await env.messages.send(alice, channel, "x", "n-1", attachments=[mine.id, theirs.id])
    assert caught.value.code == "file_not_found"
    assert (await env.messages.history(alice, channel)).messages == []  # nothing sent
    first = await env.messages.send(alice, channel, "x", "n-2", attachments=[mine.id])
    retry = await env.messages.send(alice, channel, "x", "n-2", attachments=[mine.id])
    assert (retry.created, retry.message.id) == (False, first.message.id)
    assert retry.message.attachments == first.message.attachments
    with pytest.raises(NotFound):  # attached already, to another message
        await env.messages.send(alice, channel, "y", "n-3", attachments=[mine.id])
    for bad in (["nope"], [mine.id, mine.id], ["f_" + "0" * 22] * 11):
        with pytest.raises(InvalidRequest) as invalid:
            await env.messages.send(alice, channel, "z", "n-4", attachments=bad)
        assert invalid.value.code == "invalid_attachments"


async def test_collection_of_stale_and_released_files(services: ServiceEnv, tmp_path: Path) -> None:
    env = services
    clock = Clock()
    files = file_service(env, tmp_path, clock, unattached_ttl=3600)
    alice, bob, _, channel = await chatting_in_a_channel(env)
    old = await files.upload(alice, "old", _stream(b"old"))
    kept = await files.upload(alice, "kept", _stream(b"kept"))
    sent = await env.messages.send(alice, channel, "with file", "n-1", attachments=[kept.id])
    clock.now += 3_600_000 - 1
    young = await files.upload(alice, "young", _stream(b"young"))
    assert await files.collect() == 0  # nothing is older than an hour yet
    clock.now += 2
    assert await files.collect() == 1  # the unattached upload of over an hour ago
    with pytest.raises(NotFound):
        await _bytes(files, alice, old.id)
    assert await _bytes(files, bob, kept.id) == b"kept"  # attached: kept
    assert await _bytes(files, alice, young.id) == b"young"
    await env.messages.delete(alice, sent.message.id)
    with pytest.raises(NotFound):  # released: only its owner, until collected
        await _bytes(files, bob, kept.id)
    assert await files.collect() == 1
    assert sorted(p.name for p in _blobs(tmp_path)) == [young.id]


async def test_direct_conversation_files(services: ServiceEnv, tmp_path: Path) -> None:
    env = services
    files = file_service(env, tmp_path)
    _, alice = await env.user()
    _, bob = await env.user()
    _, carol = await env.user()
    dm = direct_conversation_id(alice.user_id, bob.user_id)
    await env.messages.open_direct(alice, bob.user_id)
    up = await files.upload(alice, "a.txt", _stream(b"hi bob"))
    await env.messages.send(alice, dm, "file", "n-1", attachments=[up.id])
    assert await _bytes(files, bob, up.id) == b"hi bob"
    with pytest.raises(ChatError) as caught:
        await _bytes(files, carol, up.id)
    assert caught.value.code == "file_not_found"


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("report.pdf", "report.pdf"),
        ("C:\\Users\\x\\evil.exe", "evil.exe"),
        ("../../.ssh/id_rsa", "id_rsa"),
        ("..", "file"),
        ("a\x00b\u202ec", "abc"),
        ("", "file"),
        ("x" * 300, "x" * 255),
    ],
)
def test_clean_name(given: str, kept: str) -> None:
    assert clean_name(given) == kept
