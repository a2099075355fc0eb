"""Bulk writes, many rows per call: the store side of ``nodechat admin bench-accounts``.

Provisioning 10,000 benchmark accounts one ``create_user`` (and one bcrypt
hash) at a time takes most of an hour; these methods take a whole chunk of
rows per call, in one transaction where the backend has transactions (SQLite
and PostgreSQL; MongoDB runs one unordered ``insert_many`` per collection).
They are reachable only with local access to the store: no service, socket op
or RPC calls them, so ordinary registration can never create accounts that
share a password hash.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from nodechat.models import AuthSession, Member, User


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session to store with its first refresh token (the arguments of ``create_session``)."""

    session: AuthSession
    refresh_hash: str
    refresh_expires_at: int


class BulkStore(ABC):
    """Users, memberships and sessions by the chunk."""

    @abstractmethod
    async def find_users(self, usernames: Sequence[str]) -> list[tuple[User, str]]:
        """The users whose username is among ``usernames`` (case-insensitive), each with its
        password hash, in any order."""

    @abstractmethod
    async def create_users(self, users: Sequence[User], password_hash: str) -> int:
        """Insert users that all share one password hash, skipping any whose id, username or
        email (case-insensitive) is taken; how many were inserted."""

    @abstractmethod
    async def add_members(self, members: Sequence[Member]) -> int:
        """Insert memberships, skipping those that exist (bans are not checked); how many
        were new. ``NotFound(group_not_found)`` and nothing inserted if a group is missing."""

    @abstractmethod
    async def create_sessions(self, sessions: Sequence[NewSession]) -> None:
        """Store sessions with their first refresh tokens (stored as hashes);
        ``Conflict(session_exists)`` if an id is taken."""


__all__ = ["BulkStore", "NewSession"]
