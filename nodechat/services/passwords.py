"""Password hashing: bcrypt over an HMAC-SHA256 pre-hash, so long passwords are never truncated.

bcrypt reads at most 72 bytes of its input (bcrypt >= 5 refuses longer ones),
so two long passwords sharing a 72-byte prefix would collide. Like passlib's
``bcrypt_sha256`` (v2), the NFC-normalized password is first reduced to
``base64(HMAC-SHA256(key=bcrypt salt, msg=password))``: 44 ASCII bytes, no NUL,
every character of the password counts. Keying the HMAC with the per-hash salt
means a leaked hash cannot be matched against unsalted SHA-256 lists.

Stored format (versioned, so the scheme can evolve)::

    bcrypt-sha256$v2$<standard bcrypt hash: $2b$<cost>$<22 salt><31 checksum>>

Benchmark accounts (``nodechat admin bench-accounts``) share one stored value,
``bench$`` followed by a hash in that format of a random secret that is
discarded: :func:`verify_password` refuses anything that does not start with
the format's prefix, so no password logs in to them, and nothing but the admin
side's bulk path ever writes such a value.

These functions are CPU-bound (~0.2 s at cost 12): call them through
``asyncio.to_thread``, never on the event loop.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import secrets
import unicodedata

import bcrypt

SCHEME = "bcrypt-sha256"
VERSION = "v2"
PREFIX = f"{SCHEME}${VERSION}$"
BENCH_PREFIX = "bench$"
MIN_ROUNDS = 12
MAX_ROUNDS = 31

# "$2b$" cost "$" then 22 salt characters and 31 checksum characters (bcrypt's base64).
_BCRYPT = re.compile(r"\$2b\$(\d\d)\$[./A-Za-z0-9]{53}")
_SALT_LEN = 29  # "$2b$12$" + 22


def _prehash(password: str, salt: bytes) -> bytes:
    """The 44-byte bcrypt input for ``password`` under ``salt`` (the bcrypt salt prefix)."""
    normalized = unicodedata.normalize("NFC", password)
    # surrogatepass: a lone surrogate must not make hashing or verifying raise.
    data = normalized.encode("utf-8", "surrogatepass")
    return base64.b64encode(hmac.new(salt, data, hashlib.sha256).digest())


def hash_password(password: str, rounds: int) -> str:
    """Hash a password with bcrypt at cost ``rounds`` (at least 12) in the versioned format."""
    if not MIN_ROUNDS <= rounds <= MAX_ROUNDS:
        raise ValueError(f"bcrypt rounds must be between {MIN_ROUNDS} and {MAX_ROUNDS}")
    salt: bytes = bcrypt.gensalt(rounds=rounds, prefix=b"2b")
    digest: bytes = bcrypt.hashpw(_prehash(password, salt), salt)
    return PREFIX + digest.decode("ascii")


def _parse(stored: str) -> str | None:
    """The inner bcrypt hash of a stored value, or None if it is not in our format."""
    if not isinstance(stored, str) or not stored.startswith(PREFIX):
        return None
    inner = stored[len(PREFIX) :]
    return inner if _BCRYPT.fullmatch(inner) else None


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored``; False (never an exception) for a malformed hash."""
    inner = _parse(stored)
    if inner is None:
        # Spend the same time as a real check so a broken row does not stand out.
        _verify_inner(password, _dummy_inner(MIN_ROUNDS))
        return False
    return _verify_inner(password, inner)


def _verify_inner(password: str, inner: str) -> bool:
    encoded = inner.encode("ascii")
    try:
        ok: bool = bcrypt.checkpw(_prehash(password, encoded[:_SALT_LEN]), encoded)
    except ValueError:
        return False
    return ok


def needs_rehash(stored: str, rounds: int) -> bool:
    """Whether ``stored`` is in an old format or at a cost other than ``rounds``."""
    inner = _parse(stored)
    return inner is None or int(inner[4:6]) != rounds


@functools.lru_cache(maxsize=8)
def _dummy_inner(rounds: int) -> str:
    return hash_password("nodechat dummy password", rounds)[len(PREFIX) :]


def dummy_hash(rounds: int) -> str:
    """A fixed hash at cost ``rounds`` (computed once) to verify against for unknown users."""
    return PREFIX + _dummy_inner(rounds)


def spend_verification(password: str, rounds: int) -> None:
    """Do the work of one verification and discard the result (unknown user)."""
    verify_password(password, dummy_hash(rounds))


def bench_hash(rounds: int) -> str:
    """The shared value of benchmark accounts: a marked hash of a secret nobody keeps."""
    return BENCH_PREFIX + hash_password(secrets.token_urlsafe(32), rounds)


def is_bench_hash(stored: str) -> bool:
    """Whether a stored value is that of benchmark accounts (no password verifies)."""
    return isinstance(stored, str) and stored.startswith(BENCH_PREFIX + PREFIX)


__all__ = [
    "BENCH_PREFIX",
    "MIN_ROUNDS",
    "PREFIX",
    "bench_hash",
    "dummy_hash",
    "hash_password",
    "is_bench_hash",
    "needs_rehash",
    "spend_verification",
    "verify_password",
]
