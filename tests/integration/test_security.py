"""Security defaults seen from a client: bad tokens, refresh reuse, revocation of live sessions."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from nodechat.client import ChatClient, RequestFailed
from nodechat.models import now_ms
from nodechat.server.node import ChatNode
from nodechat.services.tokens import TokenIssuer, load_or_create_keys
from tests.integration.conftest import Signup, connect


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def _auth_error(node: ChatNode, token: str) -> str:
    client = await ChatClient.connect(node.url)
    try:
        with pytest.raises(RequestFailed) as err:
            await client.authenticate(token)
        # the connection stays usable for another attempt
        assert (await client.request("ping")) == {"pong": True}
        return err.value.code
    finally:
        await client.close()


async def wait_closed(client: ChatClient, within: float = 1.0) -> int | None:
    """Wait for the server to close the connection; return the close code."""
    await asyncio.wait_for(client.ws.wait_closed(), within)
    return client.ws.close_code


async def test_bad_access_tokens_are_rejected(node: ChatNode, signup: Signup) -> None:
    ann = await signup("ann")
    token = ann.tokens["access_token"]
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))

    tampered = ".".join([header, _b64({**claims, "sub": "u_someone_else"}), signature])
    assert await _auth_error(node, tampered) == "invalid_token"

    alg_none = ".".join([_b64({"alg": "none", "typ": "JWT"}), payload, ""])
    assert await _auth_error(node, alg_none) == "invalid_token"

    keys = load_or_create_keys(node.settings.serve.data_dir)
    auth = node.settings.auth
    expired, _ = TokenIssuer(keys, auth).issue(
        ann.id, claims["sid"], now_ms=now_ms() - 2 * auth.access_ttl * 1000
    )
    assert await _auth_error(node, expired) == "token_expired"

    other_aud, _ = TokenIssuer(keys, dataclasses.replace(auth, audience="elsewhere")).issue(
        ann.id, claims["sid"], now_ms=now_ms()
    )
    assert await _auth_error(node, other_aud) == "invalid_token"
    assert await _auth_error(node, "not.a.token") == "invalid_token"


async def test_refresh_reuse_revokes_the_family(node: ChatNode, signup: Signup) -> None:
    ann = await signup("ann")
    first = ann.tokens["refresh_token"]
    rotated = await ann.client.request("auth.refresh", refresh_token=first)
    assert rotated["session_id"] == ann.tokens["session_id"]
    assert rotated["refresh_token"] != first

    thief = await ChatClient.connect(node.url)
    with pytest.raises(RequestFailed) as err:
        await thief.request("auth.refresh", refresh_token=first)  # replay of a spent token
    assert err.value.code == "refresh_token_reused"
    assert await wait_closed(ann.client) == 4001  # the family's live session ends
    with pytest.raises(RequestFailed) as err:
        await thief.request("auth.refresh", refresh_token=rotated["refresh_token"])
    assert err.value.code == "invalid_refresh_token"
    assert await _auth_error(node, rotated["access_token"]) == "session_revoked"
    await thief.close()


async def test_logout_closes_live_sessions_within_a_second(node: ChatNode, signup: Signup) -> None:
    ann = await signup("ann")
    laptop, _ = await connect(node, ann)  # same session, second connection
    await ann.client.request("auth.logout")
    assert await wait_closed(ann.client) == 4001
    assert await wait_closed(laptop) == 4001
    assert await _auth_error(node, ann.tokens["access_token"]) == "session_revoked"


async def test_logout_all_and_password_change(node: ChatNode, signup: Signup) -> None:
    ann = await signup("ann", password="first password")
    phone = await ChatClient.connect(node.url)
    second = await phone.request("auth.login", login="ann", password="first password")
    await phone.authenticate(second["access_token"])
    await ann.client.request(
        "auth.change_password", old_password="first password", new_password="second password"
    )
    assert await wait_closed(phone) == 4001  # other sessions end
    assert await ann.client.request("ping") == {"pong": True}  # this one stays
    with pytest.raises(RequestFailed) as err:
        await ann.client.request("auth.login", login="ann", password="first password")
    assert err.value.code == "invalid_credentials"
    await ann.client.request("auth.logout_all")
    assert await wait_closed(ann.client) == 4001
    await phone.close()


async def test_login_errors_do_not_reveal_accounts(node: ChatNode, signup: Signup) -> None:
    await signup("ann", password="right password")
    client = await ChatClient.connect(node.url)
    codes = []
    for login, password in [
        ("ann", "wrong password"),
        ("nobody", "wrong password"),
        ("ann@example.test", "wrong password"),
    ]:
        with pytest.raises(RequestFailed) as err:
            await client.request("auth.login", login=login, password=password)
        codes.append((err.value.code, err.value.message))
    assert len(set(codes)) == 1 and codes[0][0] == "invalid_credentials"
    await client.close()


async def test_ops_need_authentication(node: ChatNode) -> None:
    client = await ChatClient.connect(node.url)
    with pytest.raises(RequestFailed) as err:
        await client.request("group.list")
    assert err.value.code == "unauthenticated"
    await client.close()


async def test_what_serve_creates_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    """Under the usual umask 022 the data dir, the database (password hashes, every
    message), its WAL and shared-memory files and the signing key are owner-only."""
    from tests.integration.conftest import make_settings

    old = os.umask(0o022)
    try:
        data = tmp_path / "fresh" / "data"
        node = ChatNode(make_settings(data))
        await node.start()
        try:
            client = await ChatClient.connect(node.url)
            await client.request(
                "auth.register", username="ann", email="ann@example.test", password="long pw here"
            )
            await client.close()
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in data.rglob("*")}
        finally:
            await node.stop()
    finally:
        os.umask(old)
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert modes["nodechat.db"] == 0o600
    assert modes["nodechat.db-wal"] == 0o600 and modes["nodechat.db-shm"] == 0o600
    files = {name: mode for name, mode in modes.items() if (data / name).is_file()}
    assert all(mode & 0o077 == 0 for mode in modes.values()), modes
    assert files


async def test_behind_a_trusted_proxy_each_client_has_its_own_login_limit(node: ChatNode) -> None:
    """Loopback is a trusted proxy by default (the bundled nginx): the address it
    appends to X-Forwarded-For is the client's, so one guesser does not block
    every user behind the proxy."""
    owner = await ChatClient.connect(node.url)
    await owner.request(
        "auth.register", username="ann", email="ann@example.test", password="long pw here"
    )
    await owner.close()

    def behind_proxy(address: str) -> dict[str, Any]:
        return {"additional_headers": {"X-Forwarded-For": f"198.51.100.1, {address}"}}

    guesser = await ChatClient.connect(node.url, **behind_proxy("203.0.113.5"))
    for i in range(node.settings.auth.login_failures_per_address):
        with pytest.raises(RequestFailed) as info:
            await guesser.request("auth.login", login=f"nobody{i}", password="wrong password")
        assert info.value.code == "invalid_credentials"
    with pytest.raises(RequestFailed) as info:
        await guesser.request("auth.login", login="ann", password="long pw here")
    assert info.value.code == "too_many_login_attempts"
    await guesser.close()
    neighbour = await ChatClient.connect(node.url, **behind_proxy("203.0.113.6"))
    assert (await neighbour.request("auth.login", login="ann", password="long pw here"))["user"]
    await neighbour.close()
    # the client's own claim left of the proxy's entry is never believed
    spoofer = await ChatClient.connect(
        node.url, additional_headers={"X-Forwarded-For": "203.0.113.6, 203.0.113.5"}
    )
    with pytest.raises(RequestFailed) as info:
        await spoofer.request("auth.login", login="ann", password="long pw here")
    assert info.value.code == "too_many_login_attempts"
    await spoofer.close()
