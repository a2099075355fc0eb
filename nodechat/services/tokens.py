"""Ed25519 signing keys, access tokens (JWT, EdDSA) and opaque refresh tokens.

The auth role signs with the private key; every other node verifies with the
public key alone, so checking a token costs no RPC. The algorithm is pinned on
decode (``EdDSA`` only), which rules out ``alg: none`` and HMAC-with-public-key
confusion. Refresh tokens are random strings; only their SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from nodechat.config import AuthSettings
from nodechat.errors import NotFound, Unauthenticated

log = logging.getLogger(__name__)

ALGORITHM = "EdDSA"
TOKEN_TYPE = "access"
REQUIRED_CLAIMS = ["sub", "exp", "iat", "iss", "aud", "typ", "sid"]
LEEWAY = 5.0  # seconds of clock skew tolerated between nodes
MAX_TOKEN_LENGTH = 4096  # ours are ~400 bytes; refuse to parse anything huge
PRIVATE_KEY_FILE = "auth_ed25519.pem"
PUBLIC_KEY_FILE = "auth_ed25519.pub.pem"


@dataclass(frozen=True, slots=True)
class KeyPair:
    """The auth role's signing key and its public half (PEM) with a short key id."""

    private_key: Ed25519PrivateKey
    public_pem: bytes
    key_id: str


def _public_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_id(public_pem: bytes) -> str:
    """A short stable id of a public key (the JWT ``kid`` header), for key rotation later."""
    return hashlib.sha256(public_pem).hexdigest()[:16]


def _load_private(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return key


def _write_private_once(path: Path, pem: bytes) -> bool:
    """Write ``pem`` to ``path`` unless it exists; mode 0600 from the first byte. True if written."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())
        try:
            # link() fails if another process created the key meanwhile: first writer wins,
            # and nobody ever sees a half-written key file.
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        tmp.unlink(missing_ok=True)


def load_or_create_keys(data_dir: Path) -> KeyPair:
    """Load ``<data_dir>/keys/auth_ed25519.pem``, generating it (0600, dir 0700) on first start."""
    keys_dir = Path(data_dir) / "keys"
    keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(keys_dir, 0o700)
    private_path = keys_dir / PRIVATE_KEY_FILE
    if not private_path.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        if _write_private_once(private_path, pem):
            log.info("generated a new token signing key at %s", private_path)
    mode = private_path.stat().st_mode & 0o777
    if mode & 0o077:
        log.warning("%s was readable by others (mode %o); setting 0600", private_path, mode)
        os.chmod(private_path, 0o600)
    private_key = _load_private(private_path)
    public_pem = _public_pem(private_key.public_key())
    public_path = keys_dir / PUBLIC_KEY_FILE
    if not public_path.exists() or public_path.read_bytes() != public_pem:
        tmp = public_path.with_name(f".{public_path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(public_pem)
        os.chmod(tmp, 0o600)  # not secret, but nodechat's files are owner-only alike
        os.replace(tmp, public_path)
    return KeyPair(private_key=private_key, public_pem=public_pem, key_id=key_id(public_pem))


def load_keys(data_dir: Path) -> KeyPair:
    """The signing key in ``<data_dir>/keys`` of a deployment; ``NotFound(keys_missing)``
    rather than a new key (tokens signed with a key no server holds are useless)."""
    private_path = Path(data_dir) / "keys" / PRIVATE_KEY_FILE
    if not private_path.exists():
        raise NotFound(
            f"no token signing key at {private_path}; give the data dir of the deployment "
            "(--data-dir, where `nodechat serve` or `nodechat keygen` put its keys)",
            code="keys_missing",
        )
    private_key = _load_private(private_path)
    public_pem = _public_pem(private_key.public_key())
    return KeyPair(private_key=private_key, public_pem=public_pem, key_id=key_id(public_pem))


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """The verified contents of an access token."""

    user_id: str
    session_id: str
    expires_at: int  # ms
    token_id: str


class TokenIssuer:
    """Signs access tokens (auth role only: it holds the private key)."""

    def __init__(self, keys: KeyPair, settings: AuthSettings) -> None:
        self._keys = keys
        self._settings = settings

    def issue(self, user_id: str, session_id: str, *, now_ms: int) -> tuple[str, int]:
        """A signed access token for a session and its expiry in ms."""
        iat = now_ms // 1000
        exp = iat + self._settings.access_ttl
        claims: dict[str, Any] = {
            "sub": user_id,
            "sid": session_id,
            "iat": iat,
            "exp": exp,
            "iss": self._settings.issuer,
            "aud": self._settings.audience,
            "typ": TOKEN_TYPE,
            "jti": secrets.token_urlsafe(12),
        }
        token = jwt.encode(
            claims, self._keys.private_key, algorithm=ALGORITHM, headers={"kid": self._keys.key_id}
        )
        return token, exp * 1000


def _int_claim(claims: dict[str, Any], name: str) -> int:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Unauthenticated(f"token claim {name!r} is not an integer", code="invalid_token")
    return value


def _str_claim(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise Unauthenticated(f"token claim {name!r} is not a string", code="invalid_token")
    return value


class TokenVerifier:
    """Verifies access tokens with the public key only (any node)."""

    def __init__(
        self,
        public_key_pem: bytes,
        settings: AuthSettings,
        *,
        clock: Callable[[], float] = time.time,
        leeway: float = LEEWAY,
    ) -> None:
        key = serialization.load_pem_public_key(public_key_pem)
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("the token verification key must be an Ed25519 public key")
        self._key = key
        self._settings = settings
        self._clock = clock
        self._leeway = leeway

    def verify(self, token: str) -> AccessClaims:
        """Check signature, algorithm, claims and times; ``Unauthenticated`` if anything is off."""
        if (
            not isinstance(token, str)
            or not token
            or len(token) > MAX_TOKEN_LENGTH
            or not token.isascii()
        ):
            raise Unauthenticated("invalid access token", code="invalid_token")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=self._settings.audience,
                issuer=self._settings.issuer,
                # Times are checked below against the injectable clock.
                options={
                    "require": REQUIRED_CLAIMS,
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated("invalid access token", code="invalid_token") from exc
        now = self._clock()
        exp = _int_claim(claims, "exp")
        iat = _int_claim(claims, "iat")
        if exp <= now - self._leeway:
            raise Unauthenticated("the access token has expired", code="token_expired")
        if iat > now + self._leeway:
            raise Unauthenticated("the access token is not valid yet", code="invalid_token")
        if "nbf" in claims and _int_claim(claims, "nbf") > now + self._leeway:
            raise Unauthenticated("the access token is not valid yet", code="invalid_token")
        if claims.get("typ") != TOKEN_TYPE:
            raise Unauthenticated("not an access token", code="invalid_token")
        return AccessClaims(
            user_id=_str_claim(claims, "sub"),
            session_id=_str_claim(claims, "sid"),
            expires_at=exp * 1000,
            token_id=str(claims.get("jti", "")),
        )


def new_refresh_token() -> str:
    """A fresh opaque refresh token (256 random bits)."""
    return secrets.token_urlsafe(32)


def hash_refresh(token: str) -> str:
    """What the store keeps of a refresh token: its SHA-256, hex."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


__all__ = [
    "ALGORITHM",
    "AccessClaims",
    "KeyPair",
    "TokenIssuer",
    "TokenVerifier",
    "hash_refresh",
    "key_id",
    "load_keys",
    "load_or_create_keys",
    "new_refresh_token",
]
