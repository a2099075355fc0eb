"""Per-connection session state (sans-I/O): what a connection may do, and which
message events it has already seen.

The transport feeds it ops and events; it answers whether an op is allowed
now and what to do with each event: deliver it, drop a duplicate, or fetch a
gap from the store first. It never touches a socket.
"""

from __future__ import annotations

from enum import Enum

from nodechat.errors import Conflict, Unauthenticated
from nodechat.models import Identity
from nodechat.protocol.frames import PUBLIC_OPS


class Phase(Enum):
    """Where a connection is in its life."""

    UNAUTHENTICATED = "unauthenticated"
    READY = "ready"
    CLOSED = "closed"


class Verdict(Enum):
    """What to do with one message event."""

    DELIVER = "deliver"
    DUPLICATE = "duplicate"
    GAP = "gap"


class SessionState:
    """The protocol state of one client connection."""

    __slots__ = ("phase", "identity", "seen", "fresh")

    def __init__(self) -> None:
        self.phase = Phase.UNAUTHENTICATED
        self.identity: Identity | None = None
        self.seen: dict[str, int] = {}  # conversation id -> last seq delivered
        # conversations first seen live (not in the snapshot), whose start is not known yet
        self.fresh: set[str] = set()

    def check_op(self, op: str) -> None:
        """Raise if ``op`` is not allowed in the current phase."""
        if self.phase is Phase.UNAUTHENTICATED:
            if op not in PUBLIC_OPS:
                raise Unauthenticated("authenticate first (op auth.authenticate)")
        elif op == "auth.authenticate":
            raise Conflict("this connection is already authenticated", code="already_authenticated")

    def authenticated(self, identity: Identity) -> None:
        """Enter the ready phase."""
        self.phase = Phase.READY
        self.identity = identity

    def reset(self) -> None:
        """Back to unauthenticated (an authentication that failed half-way)."""
        self.phase = Phase.UNAUTHENTICATED
        self.identity = None
        self.seen.clear()
        self.fresh.clear()

    def closed(self) -> None:
        """Nothing more is sent."""
        self.phase = Phase.CLOSED

    def admit(self, conversation: str, seq: int) -> Verdict:
        """Classify a message of ``conversation`` numbered ``seq``.

        A conversation first seen live starts at seq 1 when that arrives. A
        direct conversation not in the snapshot was opened after it, so all of
        its messages are new: anything later than 1 is an ordinary gap from 0.
        A channel first seen live may be one of a group joined midway: a later
        seq is a gap from 0 marked *fresh*, whose first messages may still be on
        their way from another node or may predate the join (see
        ``ClientConnection``).
        """
        last = self.seen.get(conversation)
        if last is None and seq > 1:
            self.seen[conversation] = 0
            if not conversation.startswith("dm:"):
                self.fresh.add(conversation)
            return Verdict.GAP
        if last is None or seq == last + 1:
            self.seen[conversation] = seq
            return Verdict.DELIVER
        if seq <= last:
            return Verdict.DUPLICATE
        return Verdict.GAP

    def advance(self, conversation: str, seq: int) -> None:
        """Record that everything up to ``seq`` has been delivered."""
        if seq > self.seen.get(conversation, 0):
            self.seen[conversation] = seq

    def forget(self, conversations: list[str]) -> None:
        """Stop tracking conversations the user can no longer see."""
        for conversation in conversations:
            self.seen.pop(conversation, None)
