"""Files: type sniffing, safe download headers, the client's API URL and save paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from nodechat.chatclient.files import api_base, free_path, size_text
from nodechat.errors import InvalidRequest
from nodechat.server.http.files import content_disposition
from nodechat.services.attachments import check_attachments
from nodechat.services.files import BINARY, TEXT, sniff


@pytest.mark.parametrize(
    ("head", "utf8", "kind"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 16, True, "image/png"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 16, False, "image/jpeg"),
        (b"%PDF-1.7\n", True, "application/pdf"),
        (b"PK\x03\x04" + b"\x00" * 40, False, "application/zip"),
        (b"GIF89a" + b"\x00" * 10, False, "image/gif"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script/></svg>", True, TEXT),
        (b"<!doctype html><script>alert(1)</script>", True, TEXT),
        (b"\x00\x01\x02 binary", False, BINARY),
        (b"", True, TEXT),
    ],
)
def test_sniff_from_bytes(head: bytes, utf8: bool, kind: str) -> None:
    assert sniff(head, utf8) == kind


def test_content_disposition_is_safe() -> None:
    value = content_disposition('évil"; filename=x.html\r\nSet-Cookie: a=b')
    assert "\r" not in value and "\n" not in value
    assert value.startswith('attachment; filename="_vil__ filename_x.html__Set-Cookie_ a_b"')
    assert (
        "filename*=UTF-8''%C3%A9vil%22%3B%20filename%3Dx.html%0D%0ASet-Cookie%3A%20a%3Db" in value
    )


@pytest.mark.parametrize(
    ("server", "api"),
    [
        ("ws://127.0.0.1:7801/", "http://127.0.0.1:7800"),
        ("ws://chat.local:9000/", "http://chat.local:9000"),
        ("wss://chat.example.org/ws", "https://chat.example.org"),
        ("ws://[::1]:7801/", "http://[::1]:7800"),
    ],
)
def test_api_base(server: str, api: str) -> None:
    assert api_base(server) == api


def test_free_path_never_overwrites(tmp_path: Path) -> None:
    wanted = tmp_path / "plan.pdf"
    assert free_path(wanted) == wanted
    wanted.write_bytes(b"x")
    assert free_path(wanted) == tmp_path / "plan (1).pdf"
    (tmp_path / "plan (1).pdf").write_bytes(b"x")
    assert free_path(wanted) == tmp_path / "plan (2).pdf"


def test_size_text() -> None:
    assert [size_text(n) for n in (0, 1023, 1024, 5 * 1024 * 1024)] == [
        "0 B",
        "1023 B",
        "1.0 KiB",
        "5.0 MiB",
    ]


def test_attachment_ids_are_checked() -> None:
    good = "f_" + "0" * 22
    assert check_attachments([good]) == (good,)
    assert check_attachments([]) == ()
    for bad in (["x"], [good, good], [f"f_{n:022d}" for n in range(11)], ["f_" + "A" * 22]):
        with pytest.raises(InvalidRequest) as caught:
            check_attachments(bad)
        assert caught.value.code == "invalid_attachments"
