"""A session's tokens: the access token in memory, the newest refresh token on disk."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from nodechat.chatclient.profiles import Profile, ProfileStore
from nodechat.client import ChatClient

REFRESH_MARGIN = 60.0  # seconds before access-token expiry to refresh


class Credentials:
    """Token pair of one profile; ``auth.refresh`` rotates it and the new one is saved."""

    def __init__(self, store: ProfileStore | None, profile: str) -> None:
        self.store = store
        self.profile = profile
        self.tokens: dict[str, Any] = {}

    def saved(self) -> Profile | None:
        """The stored profile, if any."""
        return self.store.load(self.profile) if self.store else None

    @property
    def access_token(self) -> str:
        """The current access token ('' if none)."""
        return str(self.tokens.get("access_token") or "")

    def use_refresh_token(self, token: str) -> None:
        """Start from a saved refresh token (no access token yet)."""
        self.tokens = {"refresh_token": token}

    def adopt(self, tokens: dict[str, Any], server: str, muted: set[str]) -> None:
        """Keep a new token pair and save its refresh token with the profile."""
        self.tokens = dict(tokens)
        if self.store is None:
            return
        saved = self.store.load(self.profile)
        username = str((tokens.get("user") or {}).get("username") or "")
        same = saved is not None and saved.server == server and username in ("", saved.username)
        base = saved if saved is not None and same else Profile(self.profile, server)
        # the same account on the same server keeps its place and notification settings
        self.store.save(
            replace(
                base,
                server=server,
                username=username or base.username,
                refresh_token=tokens.get("refresh_token"),
                muted=tuple(sorted(muted)),
            )
        )

    def fresh(self) -> bool:
        """Whether the access token is valid for at least REFRESH_MARGIN more seconds."""
        expires = self.tokens.get("access_expires_at")
        return bool(self.access_token and expires and expires / 1000 - time.time() > REFRESH_MARGIN)

    def refresh_in(self) -> float | None:
        """Seconds until the access token should be refreshed (None: no token)."""
        expires = self.tokens.get("access_expires_at")
        return max(5.0, expires / 1000 - time.time() - REFRESH_MARGIN) if expires else None

    async def refresh(self, client: ChatClient, server: str, muted: set[str]) -> None:
        """Spend the refresh token for a new pair (saved at once: the old one is dead)."""
        self.adopt(
            await client.request("auth.refresh", refresh_token=self.tokens.get("refresh_token")),
            server,
            muted,
        )

    def forget(self) -> None:
        """Drop the tokens here and on disk (logout, revoked session)."""
        self.tokens = {}
        if self.store is not None:
            self.store.forget_token(self.profile)

    def save_notifications(self, muted: set[str], levels: dict[str, str], dnd: bool) -> None:
        """Store the notification settings with the profile."""
        saved = self.saved()
        if self.store is not None and saved is not None:
            self.store.save(
                replace(
                    saved, muted=tuple(sorted(muted)), notify=tuple(sorted(levels.items())), dnd=dnd
                )
            )

    def save_last_conversation(self, conversation: str) -> None:
        """Remember the open conversation, to reopen it on the next start."""
        saved = self.saved()
        if self.store is not None and saved is not None and saved.last_conversation != conversation:
            self.store.save(replace(saved, last_conversation=conversation))
