"""The session protocol of one client connection, sans I/O.

A :class:`Session` owns every rule of what a connection receives and when:
the phase (what it may ask), the last seq delivered per conversation, live
events held while the snapshot or a replay goes out, seq gaps and their
grace, resume and replay ordering, presence repeats, and revocation. It is
fed requests' ops, the session start, bus events, timer expiries and store
replays; it never touches a socket, a clock or the store. What it decides
comes out in two queues the transport drains (the way python-websockets'
``protocol.py`` hands ``data_to_send()`` to its connection):

- :attr:`Session.outgoing`: complete WebSocket frames to write, in order;
- :attr:`Session.actions`: :class:`Backfill` (read these seqs from the
  store, then call :meth:`Session.backfilled`), :class:`ArmTimer` /
  :class:`CancelTimer` (call :meth:`Session.timer_expired` after the delay)
  and :class:`Close`.

Exactly once, in order: a live message at or below the conversation's last
delivered seq is a duplicate and dropped; one above ``last + 1`` is a gap.
During a gap live events are held: events of one conversation can arrive out
of order when published by different nodes, so the held events get
:data:`GAP_GRACE` seconds to close the gap themselves before the store is
read. Replays from the store and held events are merged by seq, so every
message goes out once, whichever path brought it first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from nodechat.bus.events import Event
from nodechat.errors import Conflict, Unauthenticated
from nodechat.models import Identity, Message
from nodechat.protocol.frames import PUBLIC_OPS
from nodechat.protocol.framing import text_frame
from nodechat.protocol.presence import PresenceView

GAP_GRACE = 0.05  # seconds a seq gap may wait for its events before the store is read
# The ``fresh`` of every session that has none: it is only ever replaced, never changed
# in place (an empty set per connection is 216 bytes).
_NOTHING_FRESH: set[str] = set()
TO_LATEST = -1  # ``Backfill.through`` after a bus outage: whatever the store has

CLOSE_REVOKED = 4001
CLOSE_AUTH_TIMEOUT = 4002
CLOSE_RATE_LIMIT = 4008
CLOSE_SLOW_CONSUMER = 4009


class Phase(Enum):
    """Where a connection is in its life."""

    UNAUTHENTICATED = "unauthenticated"
    READY = "ready"
    CLOSED = "closed"


class Verdict(Enum):
    """What to do with one live message event."""

    DELIVER = "deliver"
    DUPLICATE = "duplicate"
    GAP = "gap"


@dataclass(frozen=True, slots=True)
class Backfill:
    """Read ``conversation``'s messages after seq ``after`` from the store (up to
    ``through``, or :data:`TO_LATEST`), then call :meth:`Session.backfilled`."""

    conversation: str
    after: int
    through: int


@dataclass(frozen=True, slots=True)
class ArmTimer:
    """Call :meth:`Session.timer_expired` after ``delay`` seconds (one timer per session)."""

    delay: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    """The armed timer is no longer needed."""


@dataclass(frozen=True, slots=True)
class Close:
    """Close the connection with this code (once what is outgoing has been written)."""

    code: int
    reason: str


Action = Backfill | ArmTimer | CancelTimer | Close


def message_frame(message: Message) -> bytes:
    """The ``message.created`` event frame of a stored message (replays, backfills)."""
    return text_frame(Event("message.created", message.to_dict()).frame)


class Session:
    """The protocol state of one client connection."""

    __slots__ = (
        "phase",
        "identity",
        "seen",
        "fresh",
        "outgoing",
        "actions",
        "_held",
        "_gap",
        "_backfills",
        "_filling",
        "presence",
    )

    def __init__(self) -> None:
        self.phase = Phase.UNAUTHENTICATED
        self.identity: Identity | None = None
        self.seen: dict[str, int] = {}  # conversation id -> last seq delivered
        # conversations first seen live (not in the snapshot), whose start is not known yet
        self.fresh: set[str] = _NOTHING_FRESH  # shared while empty (most of the time)
        self.outgoing: list[bytes] = []  # frames to write, in order (the transport drains it)
        self.actions: list[Action] = []  # what the transport is to do (it drains it)
        self._held: list[Event] | None = None  # live events held, in arrival order
        self._gap: tuple[str, int] | None = None  # (conversation, last missing seq) in grace
        # store reads still to do, one at a time (a list: a deque costs 600 bytes more per
        # connection, and the queue is empty almost always and short otherwise)
        self._backfills: list[Backfill] = []
        self._filling = False  # a Backfill is out; its answer is awaited
        self.presence = PresenceView()  # whose presence it shows, and what it was told

    # -- phase -------------------------------------------------------------------

    def check_op(self, op: str) -> None:
        """Raise if ``op`` is not allowed in the current phase."""
        if self.phase is Phase.UNAUTHENTICATED:
            if op not in PUBLIC_OPS:
                raise Unauthenticated("authenticate first (op auth.authenticate)")
        elif op == "auth.authenticate":
            raise Conflict("this connection is already authenticated", code="already_authenticated")

    @property
    def held(self) -> bool:
        """Whether live events are being held (starting, or in a gap or replay)."""
        return self._held is not None

    def begin(self, identity: Identity) -> None:
        """Authenticated: live events are held until :meth:`start` (subscribe, replay,
        then go live, so nothing falls in between)."""
        self.phase = Phase.READY
        self.identity = identity
        if self._held is None:
            self._held = []

    def abort(self) -> None:
        """Back to unauthenticated: the session did not start (the client may retry)."""
        self.phase = Phase.UNAUTHENTICATED
        self.identity = None
        self.seen.clear()
        self.fresh = _NOTHING_FRESH
        self.presence = PresenceView()
        self._held = None
        self._backfills.clear()
        self._filling = False
        if self._gap is not None:
            self._gap = None
            self.actions.append(CancelTimer())

    def start(
        self,
        reply: bytes,
        positions: Mapping[str, int],
        replay: Iterable[Message] = (),
        presence: Mapping[str, str] | None = None,
    ) -> None:
        """The session started: send the ready ``reply`` frame, then the ``replay``
        (messages missed since the client's resume point), then what was held.

        ``positions`` is each conversation's last seq the client has after the
        replay; ``presence`` the status the snapshot showed per user, so repeats
        are not sent again.
        """
        for conversation, seq in positions.items():
            self.advance(conversation, seq)
        if presence is not None:
            self.presence.answer(presence)
        self.outgoing.append(reply)
        for message in replay:
            self.outgoing.append(message_frame(message))
        self._release()

    def close(self) -> None:
        """Nothing more is sent or asked for."""
        self.phase = Phase.CLOSED
        self._held = None
        self._backfills.clear()
        if self._gap is not None:
            self._gap = None
            self.actions.append(CancelTimer())

    # -- live events -------------------------------------------------------------

    def receive(self, event: Event, frame: bytes | None = None) -> None:
        """A live event of one of the session's topics (``frame``: its shared frame)."""
        if self.phase is not Phase.READY:
            return
        kind = event.kind
        if kind == "session.revoked":
            self._revoked(event.data)
            return
        if self._held is not None:
            self._held.append(event)
            gap = self._gap
            if (
                gap is not None
                and kind == "message.created"
                and event.data["conversation"] == gap[0]
                and self._fill_from_held(gap[0]) >= gap[1]
            ):
                # the missing events came after all: no store read
                self._gap = None
                self.fresh.discard(gap[0])
                self.actions.append(CancelTimer())
                self._release()
            return
        if kind == "message.created":
            data: dict[str, Any] = event.data
            conversation, seq = data["conversation"], data["seq"]
            verdict = self.admit(conversation, seq)
            if verdict is Verdict.DUPLICATE:
                return
            if verdict is Verdict.GAP:
                self._held = [event]
                self._gap = (conversation, seq - 1)
                self.actions.append(ArmTimer(GAP_GRACE))
                return
        elif kind == "presence" and not self.presence.admit(
            event.data["user_id"], event.data["status"]
        ):
            return
        self.outgoing.append(frame if frame is not None else text_frame(event.frame))

    def take_next(self, conversation: str, seq: int, frame: bytes) -> bool:
        """Queue ``frame``, a live ``message.created`` numbered ``seq``, if it is the
        common case: ready, nothing held, and the next seq of a conversation being
        followed. False leaves the decision to :meth:`receive`, which reaches the same
        verdict for this case (the fan-out of one message calls this per recipient)."""
        seen = self.seen
        if self._held is None and self.phase is Phase.READY and seen.get(conversation) == seq - 1:
            seen[conversation] = seq
            self.outgoing.append(frame)
            return True
        return False

    def _revoked(self, data: Mapping[str, Any]) -> None:
        revoked = data.get("session_ids")
        assert self.identity is not None
        if revoked is None or (isinstance(revoked, list) and self.identity.session_id in revoked):
            self.actions.append(Close(CLOSE_REVOKED, "session revoked"))
            self.close()

    def admit(self, conversation: str, seq: int) -> Verdict:
        """Classify a live message of ``conversation`` numbered ``seq`` (and record it
        when it is delivered).

        A conversation first seen live starts at seq 1 when that arrives; a thread
        first seen live starts at whatever seq arrives. A
        direct conversation not in the snapshot was opened after it, so all of
        its messages are new: anything later than 1 is an ordinary gap from 0.
        A channel first seen live may be one of a group joined midway: a later
        seq is a gap from 0 marked *fresh*, whose first messages may still be on
        their way from another node or may predate the join; if they do not come
        within the grace, it starts with what came first.
        """
        last = self.seen.get(conversation)
        if last is None and conversation.startswith("thread:"):
            # a thread is in no snapshot: it is followed from its first reply seen live,
            # and the client reads what came before with message.history
            self.seen[conversation] = seq
            return Verdict.DELIVER
        if last is None and seq > 1:
            self.seen[conversation] = 0
            if not conversation.startswith("dm:"):
                self.fresh = {*self.fresh, conversation}
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

    def forget(self, conversations: Iterable[str]) -> None:
        """Stop tracking conversations the user can no longer see."""
        for conversation in conversations:
            self.seen.pop(conversation, None)

    # -- gaps, replays and catching up ---------------------------------------------

    def timer_expired(self) -> None:
        """The gap's grace is over: fill it from what arrived, or read the store."""
        if self._gap is None or self.phase is not Phase.READY:
            return
        conversation, through = self._gap
        self._gap = None
        reached = self._fill_from_held(conversation)
        if conversation in self.fresh:
            # first seen live and its start never arrived: it starts with what came first
            self.fresh.discard(conversation)
            self.advance(conversation, through)
            self._release()
            return
        if reached >= through:
            self._release()
            return
        self._backfills.insert(0, Backfill(conversation, reached, through))
        self._next_backfill()

    def joined(self, heads: Mapping[str, int]) -> None:
        """The user joined a group whose channels stood at ``heads`` (conversation: last
        seq) when it joined: deliver what follows, even what was sent before this node
        subscribed the session to the group (read from the store after subscribing,
        with :meth:`catch_up_on`)."""
        # A channel tracked already was seen in an earlier membership (left, kicked,
        # banned): what came after that predates this join and is not delivered. One
        # tracked past its head (a snapshot taken after the join) stays where it is.
        for conversation, seq in heads.items():
            self.seen[conversation] = max(seq, self.seen.get(conversation, seq))

    def catch_up_on(self, conversations: Iterable[str]) -> None:
        """Read these conversations to the latest from the store, holding live events
        meanwhile (after :meth:`joined`, once the session hears the group)."""
        if self.phase is not Phase.READY:
            return
        wanted = [
            Backfill(conversation, self.seen[conversation], TO_LATEST)
            for conversation in conversations
            if conversation in self.seen
        ]
        if not wanted:
            return
        if self._held is None:
            self._held = []
        self._backfills.extend(wanted)
        self._next_backfill()

    def catch_up(self) -> None:
        """The bus reconnected: events published meanwhile never arrived, so read every
        conversation the session tracks from the store, holding live events meanwhile.

        A session that is holding already (starting, or filling a gap) is left
        alone: its snapshot or replay must go out first, and it reads the store anyway.
        """
        if self.phase is not Phase.READY or self._held is not None:
            return
        self._held = []
        self._backfills.extend(
            Backfill(conversation, seq, TO_LATEST) for conversation, seq in self.seen.items()
        )
        self._next_backfill()

    def backfilled(
        self, conversation: str, messages: Iterable[Message], *, too_old: int | None = None
    ) -> None:
        """The store's answer to a :class:`Backfill`: ``messages`` in seq order, or, when
        the gap is older than the store replays, ``too_old`` = the conversation's last seq
        (the client is told to reload it: ``resync.required``)."""
        self._filling = False
        if self.phase is not Phase.READY:
            return
        if too_old is not None:
            resync = Event("resync.required", {"conversation": conversation, "last_seq": too_old})
            self.outgoing.append(text_frame(resync.frame))
            self.advance(conversation, too_old)
        else:
            for message in messages:
                if message.seq > self.seen.get(conversation, 0):
                    self.outgoing.append(message_frame(message))
                    self.seen[conversation] = message.seq
        self._next_backfill()

    def backfill_failed(self, conversation: str) -> None:
        """The store could not answer: go on with what arrived (a later gap retries)."""
        self.backfilled(conversation, ())

    def _next_backfill(self) -> None:
        if self._filling:
            return
        while self._backfills:
            backfill = self._backfills.pop(0)
            reached = self._fill_from_held(backfill.conversation)
            if 0 <= backfill.through <= reached:
                continue  # merely reordered: what was held closed it
            self._filling = True
            self.actions.append(Backfill(backfill.conversation, reached, backfill.through))
            return
        self._release()

    def _fill_from_held(self, conversation: str) -> int:
        """Send the held messages of ``conversation`` that continue it without a gap, in
        seq order; the last seq delivered. (The release then drops them as duplicates.)"""
        last = self.seen.get(conversation, 0)
        if self._held:
            waiting = sorted(
                (
                    e
                    for e in self._held
                    if e.kind == "message.created" and e.data["conversation"] == conversation
                ),
                key=lambda e: int(e.data["seq"]),
            )
            for event in waiting:
                seq = event.data["seq"]
                if seq <= last:
                    continue
                if seq != last + 1:
                    break
                self.outgoing.append(text_frame(event.frame))
                last = self.seen[conversation] = seq
        return last

    def _release(self) -> None:
        """Deliver what was held, in arrival order, through the normal checks."""
        if self._filling or self._backfills:
            return
        held = self._held or []
        self._held = None
        for index, event in enumerate(held):
            self.receive(event)
            if self._held is not None:  # a new gap: hold the rest behind it
                self._held.extend(held[index + 1 :])
                return
