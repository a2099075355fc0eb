"""Password hashing: versioned bcrypt over an HMAC-SHA256 pre-hash (each hash costs ~0.2 s)."""

from __future__ import annotations

import unicodedata

import bcrypt
import pytest

from nodechat.services import passwords
from nodechat.services.passwords import (
    PREFIX,
    dummy_hash,
    hash_password,
    needs_rehash,
    verify_password,
)

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def stored() -> str:
    return hash_password(PASSWORD, 12)


def test_round_trip_and_format(stored: str) -> None:
    assert stored.startswith("bcrypt-sha256$v2$$2b$12$")
    assert verify_password(PASSWORD, stored)
    assert not verify_password(PASSWORD + "!", stored)
    assert not verify_password("", stored)


def test_salted_hashes_differ(stored: str) -> None:
    again = hash_password(PASSWORD, 12)
    assert again != stored
    assert verify_password(PASSWORD, again)


def test_long_ascii_passwords_sharing_72_bytes_differ() -> None:
    a = "a" * 100
    b = "a" * 99 + "b"
    assert a.encode()[:72] == b.encode()[:72]
    h = hash_password(a, 12)
    assert verify_password(a, h)
    assert not verify_password(b, h)


def test_long_emoji_passwords_sharing_72_bytes_differ() -> None:
    a = "\U0001f600" * 200  # 800 bytes of UTF-8
    b = "\U0001f600" * 199 + "\U0001f601"
    assert a.encode()[:72] == b.encode()[:72]
    h = hash_password(b, 12)
    assert verify_password(b, h)
    assert not verify_password(a, h)


def test_plain_bcrypt_would_truncate_or_refuse() -> None:
    # Why the pre-hash exists: bcrypt alone refuses (>= 5) or truncates (< 5) at 72 bytes.
    salt = bcrypt.gensalt(4)
    with pytest.raises(ValueError):
        bcrypt.hashpw(b"a" * 100, salt)


def test_nfc_normalized(stored: str) -> None:
    composed = "caf\u00e9 au lait!"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    h = hash_password(composed, 12)
    assert verify_password(decomposed, h)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "garbage",
        "bcrypt-sha256$v2$",
        "bcrypt-sha256$v2$$2b$12$tooshort",
        "bcrypt-sha256$v9$$2b$12$" + "a" * 53,
        "$2b$12$" + "a" * 53,  # plain bcrypt, not our format
        "bcrypt-sha256$v2$$2b$12$" + "!" * 53,
    ],
)
def test_malformed_stored_hash_is_false_not_error(bad: str) -> None:
    assert verify_password(PASSWORD, bad) is False


def test_well_formed_but_corrupt_hash_is_false(stored: str) -> None:
    # Valid alphabet, wrong salt encoding: bcrypt may raise ValueError; we answer False.
    corrupt = stored[: len(PREFIX) + 7] + "." * 53
    assert verify_password(PASSWORD, corrupt) is False


def test_lone_surrogate_never_raises(stored: str) -> None:
    assert verify_password("\ud800abcdefgh", stored) is False
    h = hash_password("\ud800abcdefgh", 12)
    assert verify_password("\ud800abcdefgh", h)


def test_cost_below_12_refused() -> None:
    with pytest.raises(ValueError):
        hash_password(PASSWORD, 11)


def test_needs_rehash(stored: str) -> None:
    assert not needs_rehash(stored, 12)
    assert needs_rehash(stored, 13)
    assert needs_rehash("$2b$12$" + "a" * 53, 12)


def test_dummy_hash_is_cached_and_matches_nothing_useful() -> None:
    first = dummy_hash(12)
    assert first.startswith(PREFIX + "$2b$12$")
    assert dummy_hash(12) == first
    assert not verify_password(PASSWORD, first)
    passwords.spend_verification(PASSWORD, 12)  # must not raise


def test_a_bench_hash_verifies_no_password_not_even_its_secret(stored: str) -> None:
    # The marker alone refuses: even the password the inner hash was made of fails.
    marked = passwords.BENCH_PREFIX + stored
    assert passwords.is_bench_hash(marked)
    assert verify_password(PASSWORD, stored) and not verify_password(PASSWORD, marked)
    made = passwords.bench_hash(12)
    assert passwords.is_bench_hash(made) and made.startswith("bench$" + PREFIX + "$2b$12$")
    assert made != passwords.bench_hash(12)  # a new random secret each time
    assert not passwords.is_bench_hash(stored)  # what registration stores
