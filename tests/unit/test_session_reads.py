"""SessionService.start's snapshot reads: in turn when local, together when remote.

Plain stand-ins for the three role interfaces (only the calls a start makes):
what is checked is the order and the clean-up of reads, not the roles.
"""

from __future__ import annotations

import gc
import warnings
from typing import Any

import pytest

from nodechat.errors import NotFound
from nodechat.models import Identity
from nodechat.services.sessions import SessionService


class Roles:
    def __init__(self, remote: bool) -> None:
        self.remote = remote
        self.calls: list[str] = []

    async def authenticate(self, token: str) -> Identity:
        return Identity("u1", "s1")

    async def member_group_ids(self, user_id: str) -> list[str]:
        return []

    async def get_user(self, identity: Identity) -> Any:
        self.calls.append("get_user")
        raise NotFound("no such user", code="user_not_found")

    async def list_groups(self, identity: Identity) -> list[Any]:
        self.calls.append("list_groups")
        return []

    async def conversations(self, identity: Identity) -> list[Any]:
        self.calls.append("conversations")
        return []


async def nothing(*args: Any) -> Any:
    return {}


@pytest.mark.parametrize("remote", [False, True], ids=["local", "remote"])
async def test_a_failed_read_fails_the_start_and_leaves_no_coroutine_unawaited(
    remote: bool,
) -> None:
    roles = Roles(remote)
    sessions = SessionService(
        roles,  # type: ignore[arg-type]
        roles,  # type: ignore[arg-type]
        roles,  # type: ignore[arg-type]
        online=nothing,
        voice=nothing,
        replay_limit=10,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a "coroutine ... was never awaited" fails the test
        with pytest.raises(NotFound):
            await sessions.start("token", {}, nothing)
        gc.collect()
    if remote:  # together: the other reads were under way already
        assert sorted(roles.calls) == ["conversations", "get_user", "list_groups"]
    else:  # in turn: nothing after the read that failed
        assert roles.calls == ["get_user"]
