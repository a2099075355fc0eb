"""Which users' presence one session shows, and the status it last sent for each.

Plain Python, no I/O, owned by a :class:`~nodechat.protocol.session.Session`.
A session hears the presence of its direct-message peers (from the start)
and of the users it subscribed to with ``presence.subscribe`` (at most
:data:`MAX_WATCHED` at a time); the transport joins and leaves the users'
presence topics as the answers here say.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set

from nodechat.errors import InvalidRequest

MAX_WATCHED = 1000  # explicit presence subscriptions per session
_NOBODY: frozenset[str] = frozenset()  # shared until a session shows someone (an empty
# set costs 216 bytes, times two, times every connection)


class PresenceView:
    """A session's presence subscriptions and the last status sent per user."""

    __slots__ = ("peers", "watched", "_sent")

    def __init__(self) -> None:
        self.peers: Set[str] = _NOBODY  # direct-message peers: always shown
        self.watched: Set[str] = _NOBODY  # presence.subscribe
        self._sent: dict[str, str] = {}  # user id -> last status the client was told

    def shows(self, user_id: str) -> bool:
        """Whether the session hears ``user_id``'s presence."""
        return user_id in self.peers or user_id in self.watched

    def add_peers(self, user_ids: Iterable[str]) -> list[str]:
        """Show these direct-message peers; the ones not shown before (topics to join)."""
        new = [u for u in dict.fromkeys(user_ids) if not self.shows(u)]
        if new:
            self.peers = {*self.peers, *new}
        return new

    def watch(self, user_ids: Iterable[str]) -> list[str]:
        """Subscribe to these users; the ones not shown before (topics to join).

        ``too_many_subscriptions`` if the session would watch more than
        :data:`MAX_WATCHED` users; then nothing changes.
        """
        wanted = [u for u in dict.fromkeys(user_ids) if u not in self.watched]
        if len(self.watched) + len(wanted) > MAX_WATCHED:
            raise InvalidRequest(
                f"at most {MAX_WATCHED} presence subscriptions per session "
                "(unsubscribe from some first)",
                code="too_many_subscriptions",
                field="user_ids",
            )
        new = [u for u in wanted if u not in self.peers]
        for user_id in new:
            self._sent.pop(user_id, None)  # the next status is the subscription's answer
        if wanted:
            self.watched = {*self.watched, *wanted}
        return new

    def unwatch(self, user_ids: Iterable[str] | None = None) -> list[str]:
        """Unsubscribe from these users (None: all); the ones no longer shown (topics to
        leave)."""
        gone = set(self.watched) if user_ids is None else self.watched & set(user_ids)
        self.watched = set(self.watched) - gone if gone else self.watched
        left = sorted(u for u in gone if u not in self.peers)
        for user_id in left:
            self._sent.pop(user_id, None)
        return left

    def answer(self, statuses: Mapping[str, str]) -> dict[str, str]:
        """The statuses to report for a start or a subscription, given what a lookup
        found: a change the client was already sent since then is newer, so it wins."""
        return {u: self._sent.setdefault(u, status) for u, status in statuses.items()}

    def admit(self, user_id: str, status: str) -> bool:
        """A live presence change: whether the client is to be told (shown, and not a
        repeat of what it was last told)."""
        if not self.shows(user_id) or self._sent.get(user_id) == status:
            return False
        self._sent[user_id] = status
        return True
