"""Benchmark accounts in bulk: ``<prefix>-<i:06d>`` users in ``<prefix>-g<j>`` groups, each
with a fresh session and access token, for ``nodechat bench`` and other load generators.

Registering 10,000 accounts costs 10,000 bcrypt hashes (~45 minutes at cost
12); here every account shares one stored value (``passwords.bench_hash``,
computed once, of a secret that is discarded, and marked so that no password
ever verifies against it), and users, memberships and sessions are written a
chunk per store call (``store.bulk``). Only the admin side with local access to
the store gets here: no op, route or RPC provisions bench accounts.

Provisioning is idempotent: the accounts, groups and memberships of an earlier
run with the same prefix are found and reused; only sessions and tokens are
new each time. An existing ``<prefix>-…`` account that is not a bench account
(it has a password of its own) is refused, never taken over.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from nodechat.config import AuthSettings
from nodechat.errors import Conflict, InvalidRequest
from nodechat.models import (
    AuthSession,
    Channel,
    ChannelKind,
    Group,
    Member,
    Role,
    User,
    new_id,
    now_ms,
)
from nodechat.services import passwords
from nodechat.services.tokens import KeyPair, TokenIssuer, hash_refresh, new_refresh_token
from nodechat.storage.base import Store
from nodechat.storage.bulk import NewSession

CHUNK = 1000  # rows per store call
GROUP_CHUNK = 200  # groups created concurrently (one SQLite or PostgreSQL group commit)
MAX_COUNT = 1_000_000  # <prefix>-<i:06d>
MAX_TTL = 30 * 24 * 3600
PREFIX_RE = re.compile(r"[a-z0-9_.-]{1,25}")  # "<prefix>-000000" is a valid username
EMAIL_DOMAIN = "bench.invalid"  # RFC 2606: never a real address
ABOUT = "nodechat bench account"
USER_AGENT = "nodechat bench-accounts"
CHANNEL_NAME = "bench"

Progress = Callable[[str, int, int], None]
"""``(step, done, total)``: steps are accounts, groups, members, tokens."""


@dataclass(frozen=True, slots=True)
class BenchPlan:
    """What to provision."""

    count: int
    groups: int = 1
    prefix: str = "bench"
    ttl: int = 3600  # seconds the sessions and access tokens are valid

    def check(self) -> None:
        """``InvalidRequest`` naming the first bad value."""
        if not 1 <= self.count <= MAX_COUNT:
            raise _bad("count", f"--count must be 1-{MAX_COUNT}")
        if not 1 <= self.groups <= self.count:
            raise _bad("groups", "--groups must be 1 or more, and at most --count")
        if not PREFIX_RE.fullmatch(self.prefix):
            raise _bad("prefix", "--prefix must be 1-25 characters of a-z, 0-9, '_', '.', '-'")
        if not 1 <= self.ttl <= MAX_TTL:
            raise _bad("ttl", f"--ttl must be 1-{MAX_TTL} seconds")

    def username(self, i: int) -> str:
        """The username of account ``i``."""
        return f"{self.prefix}-{i:06d}"

    def group_name(self, j: int) -> str:
        """The name of group ``j``."""
        return f"{self.prefix}-g{j}"


def _bad(field: str, message: str) -> InvalidRequest:
    return InvalidRequest(message, code="invalid_request", field=field)


@dataclass(frozen=True, slots=True)
class BenchAccounts:
    """What was provisioned: the groups, then every account with its token."""

    groups: list[dict[str, str]]
    accounts: list[dict[str, str]]
    created_accounts: int
    created_groups: int
    created_members: int

    def to_dict(self) -> dict[str, Any]:
        """The JSON ``bench-accounts`` writes: ``{"groups": [...], "accounts": [...]}``."""
        return {"groups": self.groups, "accounts": self.accounts}


def _chunks(n: int, size: int = CHUNK) -> list[range]:
    return [range(start, min(start + size, n)) for start in range(0, n, size)]


def _names(names: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


async def _find(store: Store, names: list[str]) -> dict[str, tuple[User, str]]:
    found: dict[str, tuple[User, str]] = {}
    for part in _chunks(len(names)):
        for user, stored in await store.bulk.find_users([names[i] for i in part]):
            found[user.username] = (user, stored)
    return found


def _refuse_foreign(found: dict[str, tuple[User, str]]) -> None:
    """Never take over an account with a password of its own, nor use a disabled one."""
    foreign = sorted(name for name, (_, h) in found.items() if not passwords.is_bench_hash(h))
    if foreign:
        raise Conflict(
            f"{_names(foreign)} already exist as ordinary accounts (with a password of "
            "their own), not bench accounts; choose another --prefix",
            code="not_a_bench_account",
        )
    disabled = sorted(name for name, (u, _) in found.items() if u.disabled)
    if disabled:
        raise Conflict(
            f"the bench accounts {_names(disabled)} are disabled; enable them "
            "(`nodechat admin users enable`) or choose another --prefix",
            code="bench_account_disabled",
        )


async def _ensure_users(
    store: Store, plan: BenchPlan, rounds: int, progress: Progress, now: int
) -> tuple[list[User], int]:
    names = [plan.username(i) for i in range(plan.count)]
    found = await _find(store, names)
    _refuse_foreign(found)
    missing = [name for name in names if name not in found]
    created = 0
    if missing:
        shared = Counter(h for _, h in found.values()).most_common(1)
        value = shared[0][0] if shared else await asyncio.to_thread(passwords.bench_hash, rounds)
        for part in _chunks(len(missing)):
            batch = [
                User(
                    id=new_id("u"),
                    username=missing[i],
                    email=f"{missing[i]}@{EMAIL_DOMAIN}",
                    display_name=missing[i],
                    about=ABOUT,
                    created_at=now,
                )
                for i in part
            ]
            created += await store.bulk.create_users(batch, value)
            progress("accounts", len(found) + part.stop, plan.count)
        again = await _find(store, missing)
        _refuse_foreign(again)  # a sign-up may have raced this run
        found |= again
        lost = [name for name in missing if name not in found]
        if lost:
            raise Conflict(
                f"could not create {_names(lost)}: their email addresses "
                f"(NAME@{EMAIL_DOMAIN}) are taken by other accounts",
                code="bench_account_conflict",
            )
    progress("accounts", plan.count, plan.count)
    return [found[name][0] for name in names], created


async def _text_channel(store: Store, group: Group, now: int) -> str:
    channels = await store.groups.list_channels(group.id)
    for channel in channels:
        if channel.kind is ChannelKind.TEXT:
            return channel.id
    made = Channel(
        new_id("ch"),
        group.id,
        CHANNEL_NAME,
        ChannelKind.TEXT,
        max((c.position for c in channels), default=-1) + 1,
        created_at=now,
    )
    await store.groups.create_channel(made)
    return made.id


async def _ensure_groups(
    store: Store, plan: BenchPlan, owner: User, progress: Progress, now: int
) -> tuple[list[tuple[str, str]], int]:
    """(group id, text channel id) of each group, and how many were created."""
    wanted = {plan.group_name(j): j for j in range(plan.groups)}
    found: dict[int, Group] = {}
    for group in await store.groups.list_groups(owner.id):  # oldest first: it wins a tie
        j = wanted.get(group.name)
        if j is not None and group.owner_id == owner.id and j not in found:
            found[j] = group
    out: dict[int, tuple[str, str]] = {}
    for part in _chunks(plan.groups, GROUP_CHUNK):
        old = [found[j] for j in part if j in found]
        channels = await asyncio.gather(*(_text_channel(store, g, now) for g in old))
        out |= {wanted[g.name]: (g.id, ch) for g, ch in zip(old, channels, strict=True)}
        new = {j: (new_id("g"), new_id("ch")) for j in part if j not in found}
        await asyncio.gather(
            *(
                store.groups.create_group(
                    Group(gid, plan.group_name(j), "nodechat bench group", owner.id, now),
                    Member(gid, owner.id, Role.OWNER, now),
                    [Channel(ch, gid, CHANNEL_NAME, ChannelKind.TEXT, 0, created_at=now)],
                )
                for j, (gid, ch) in new.items()
            )
        )
        out |= new
        progress("groups", part.stop, plan.groups)
    return [out[j] for j in range(plan.groups)], plan.groups - len(found)


async def _ensure_members(
    store: Store,
    plan: BenchPlan,
    users: list[User],
    groups: list[tuple[str, str]],
    now: int,
    progress: Progress,
) -> int:
    added = 0
    for part in _chunks(plan.count):
        batch = [Member(groups[i % plan.groups][0], users[i].id, Role.MEMBER, now) for i in part]
        added += await store.bulk.add_members(batch)
        progress("members", part.stop, plan.count)
    return added


async def _mint(
    store: Store,
    issuer: TokenIssuer,
    plan: BenchPlan,
    users: list[User],
    now: int,
    progress: Progress,
) -> list[str]:
    """A new session and access token per account, a chunk of sessions per store call."""
    tokens: list[str] = []
    expires = now + plan.ttl * 1000
    for part in _chunks(plan.count):
        batch = []
        for i in part:
            session = AuthSession(new_id("s"), users[i].id, now, expires, user_agent=USER_AGENT)
            # The refresh token is never handed out: a bench session only lives --ttl.
            batch.append(NewSession(session, hash_refresh(new_refresh_token()), expires))
            tokens.append(issuer.issue(users[i].id, session.id, now_ms=now)[0])
        await store.bulk.create_sessions(batch)
        progress("tokens", part.stop, plan.count)
    return tokens


def _quiet(step: str, done: int, total: int) -> None:
    """No progress display."""


async def provision(
    store: Store,
    keys: KeyPair,
    auth: AuthSettings,
    plan: BenchPlan,
    *,
    progress: Progress = _quiet,
    clock: Callable[[], int] = now_ms,
) -> BenchAccounts:
    """Ensure the plan's accounts, groups and memberships exist; mint a session and token each."""
    plan.check()
    now = clock()
    users, created_accounts = await _ensure_users(store, plan, auth.bcrypt_rounds, progress, now)
    groups, created_groups = await _ensure_groups(store, plan, users[0], progress, now)
    created_members = await _ensure_members(store, plan, users, groups, now, progress)
    issuer = TokenIssuer(keys, dataclasses.replace(auth, access_ttl=plan.ttl))
    tokens = await _mint(store, issuer, plan, users, now, progress)
    return BenchAccounts(
        groups=[{"group_id": g, "channel_id": ch} for g, ch in groups],
        accounts=[
            {
                "user_id": user.id,
                "username": user.username,
                "group_id": groups[i % plan.groups][0],
                "channel_id": groups[i % plan.groups][1],
                "access_token": token,
            }
            for i, (user, token) in enumerate(zip(users, tokens, strict=True))
        ],
        created_accounts=created_accounts,
        created_groups=created_groups,
        created_members=created_members,
    )


__all__ = ["BenchAccounts", "BenchPlan", "Progress", "provision"]
