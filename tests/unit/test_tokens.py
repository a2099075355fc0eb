"""Signing keys on disk and access-token verification, including the classic JWT attacks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from nodechat.config import AuthSettings
from nodechat.errors import Unauthenticated
from nodechat.services.tokens import (
    KeyPair,
    TokenIssuer,
    TokenVerifier,
    hash_refresh,
    load_or_create_keys,
    new_refresh_token,
)

SETTINGS = AuthSettings()


class FakeClock:
    """Wall-clock seconds that only move when told."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def keys(tmp_path: Path) -> KeyPair:
    return load_or_create_keys(tmp_path)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": "u_1",
        "sid": "s_1",
        "iat": now,
        "exp": now + 60,
        "iss": SETTINGS.issuer,
        "aud": SETTINGS.audience,
        "typ": "access",
        "jti": "j",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(keys: KeyPair, claims: dict[str, Any]) -> str:
    return jwt.encode(claims, keys.private_key, algorithm="EdDSA")


def _rejected(verifier: TokenVerifier, token: str, code: str = "invalid_token") -> None:
    with pytest.raises(Unauthenticated) as info:
        verifier.verify(token)
    assert info.value.code == code


def test_issue_and_verify(keys: KeyPair) -> None:
    token, expires_at = TokenIssuer(keys, SETTINGS).issue(
        "u_1", "s_1", now_ms=int(time.time() * 1000)
    )
    claims = TokenVerifier(keys.public_pem, SETTINGS).verify(token)
    assert (claims.user_id, claims.session_id) == ("u_1", "s_1")
    assert claims.expires_at == expires_at
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "EdDSA" and header["kid"] == keys.key_id
    payload = jwt.decode(token, options={"verify_signature": False})
    assert set(payload) == {"sub", "sid", "iat", "exp", "iss", "aud", "typ", "jti"}
    assert payload["exp"] - payload["iat"] == SETTINGS.access_ttl


def test_key_file_modes_and_reload(tmp_path: Path) -> None:
    keys = load_or_create_keys(tmp_path)
    private = tmp_path / "keys" / "auth_ed25519.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    assert (tmp_path / "keys" / "auth_ed25519.pub.pem").read_bytes() == keys.public_pem
    token, _ = TokenIssuer(keys, SETTINGS).issue("u_1", "s_1", now_ms=int(time.time() * 1000))

    reloaded = load_or_create_keys(tmp_path)
    assert reloaded.public_pem == keys.public_pem
    assert reloaded.key_id == keys.key_id
    assert TokenVerifier(reloaded.public_pem, SETTINGS).verify(token).user_id == "u_1"


def test_loose_key_file_mode_is_tightened(tmp_path: Path) -> None:
    load_or_create_keys(tmp_path)
    private = tmp_path / "keys" / "auth_ed25519.pem"
    private.chmod(0o644)
    load_or_create_keys(tmp_path)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600


def test_other_key_pair_rejected(keys: KeyPair, tmp_path: Path) -> None:
    other = load_or_create_keys(tmp_path / "other")
    assert other.public_pem != keys.public_pem
    token = _sign(other, _claims())
    _rejected(TokenVerifier(keys.public_pem, SETTINGS), token)


def test_tampered_signature_and_payload(keys: KeyPair) -> None:
    verifier = TokenVerifier(keys.public_pem, SETTINGS)
    token = _sign(keys, _claims())
    head, body, sig = token.split(".")
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    _rejected(verifier, f"{head}.{body}.{flipped}")
    forged_body = _b64(json.dumps(_claims(sub="u_admin")).encode())
    _rejected(verifier, f"{head}.{forged_body}.{sig}")


def test_expired_with_clock(keys: KeyPair) -> None:
    now = int(time.time())
    token, _ = TokenIssuer(keys, SETTINGS).issue("u_1", "s_1", now_ms=now * 1000)
    clock = FakeClock(now + SETTINGS.access_ttl - 1)
    verifier = TokenVerifier(keys.public_pem, SETTINGS, clock=clock)
    assert verifier.verify(token).user_id == "u_1"
    clock.now = now + SETTINGS.access_ttl + 4  # inside the 5 s leeway
    assert verifier.verify(token).user_id == "u_1"
    clock.now = now + SETTINGS.access_ttl + 6
    _rejected(verifier, token, "token_expired")


def test_issued_in_the_future_rejected(keys: KeyPair) -> None:
    now = int(time.time())
    verifier = TokenVerifier(keys.public_pem, SETTINGS, clock=FakeClock(now))
    _rejected(verifier, _sign(keys, _claims(iat=now + 60, exp=now + 600)))


@pytest.mark.parametrize(
    ("claim", "value"),
    [("aud", "someone-else"), ("iss", "evil"), ("typ", "refresh"), ("sub", 42), ("exp", "soon")],
)
def test_wrong_claim_values_rejected(keys: KeyPair, claim: str, value: Any) -> None:
    verifier = TokenVerifier(keys.public_pem, SETTINGS)
    _rejected(verifier, _sign(keys, _claims(**{claim: value})))


@pytest.mark.parametrize("claim", ["sub", "exp", "iat", "iss", "aud", "typ", "sid"])
def test_missing_claim_rejected(keys: KeyPair, claim: str) -> None:
    claims = _claims()
    del claims[claim]
    _rejected(TokenVerifier(keys.public_pem, SETTINGS), _sign(keys, claims))


def test_alg_none_rejected(keys: KeyPair) -> None:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    body = _b64(json.dumps(_claims()).encode())
    verifier = TokenVerifier(keys.public_pem, SETTINGS)
    _rejected(verifier, f"{header}.{body}.")
    _rejected(verifier, f"{header}.{body}")


def test_hs256_with_public_key_as_secret_rejected(keys: KeyPair) -> None:
    # Algorithm confusion: sign HS256 using the (public!) verification key as the HMAC secret.
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps(_claims()).encode())
    signing_input = f"{header}.{body}".encode()
    sig = _b64(hmac.new(keys.public_pem, signing_input, hashlib.sha256).digest())
    _rejected(TokenVerifier(keys.public_pem, SETTINGS), f"{header}.{body}.{sig}")


@pytest.mark.parametrize("junk", ["", "abc", "a.b.c", "x" * 5000, "\ud800.\ud800.\ud800"])
def test_garbage_rejected(keys: KeyPair, junk: str) -> None:
    _rejected(TokenVerifier(keys.public_pem, SETTINGS), junk)


def test_verifier_needs_an_ed25519_public_key() -> None:
    with pytest.raises(ValueError):
        TokenVerifier(b"not a pem", SETTINGS)
    private_pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(ValueError):
        TokenVerifier(private_pem, SETTINGS)
    rsa_pem = (
        rsa.generate_private_key(65537, 2048)
        .public_key()
        .public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
    )
    with pytest.raises(ValueError):
        TokenVerifier(rsa_pem, SETTINGS)


def test_refresh_tokens_are_random_and_stored_hashed() -> None:
    a, b = new_refresh_token(), new_refresh_token()
    assert a != b and len(a) >= 43
    assert hash_refresh(a) == hashlib.sha256(a.encode()).hexdigest()
    assert hash_refresh(a) != hash_refresh(b)
