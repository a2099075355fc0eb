"""Starting a client session: who it is, the ready snapshot, and the resume plan.

One call, :meth:`SessionService.start`, so every transport starts sessions
the same way: it authenticates the access token, lets the transport
subscribe the session to its topics (before anything is read, so no event
falls between the snapshot and live delivery), reads the snapshot, and
plans the resume: for each conversation the client names with the last seq
it saw, the messages it missed, or the statement that the gap is older than
the store replays. The transport's session protocol
(:class:`nodechat.protocol.session.Session`) then sends the reply, the replay
and the live events, each message once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from nodechat.errors import InvalidRequest, NotFound
from nodechat.models import THREAD_PREFIX, ConversationState, Identity, Message
from nodechat.services.api import (
    AuthService,
    GroupService,
    GroupView,
    MessageService,
    ReplayResult,
)

USERS_PER_CALL = 500  # user profiles asked of the auth service at once
MAX_UNKNOWN_REPORTED = 100  # resume entries for unknown conversations answered "not_found"
MAX_THREADS_RESUMED = 200  # thread entries of one resume replayed (each is a few reads)

Subscribe = Callable[[Identity, list[str]], Awaitable[None]]  # (identity, group ids)
Show = Callable[[list[str]], Awaitable[None]]  # (direct-message peers' user ids)
OnlineLookup = Callable[[list[str]], Awaitable[list[str]]]
VoiceLookup = Callable[[list[GroupView]], Awaitable[dict[str, list[str]]]]
# voice channel -> user -> {handle, muted, deafened, speaking} (socket nodes only), for
# the channels in use of the voice snapshot (channel -> participants)
VoiceStatesLookup = Callable[[dict[str, list[str]]], Awaitable[dict[str, dict[str, Any]]]]


def conversation_dict(state: ConversationState) -> dict[str, Any]:
    """Wire form of a user's view of one conversation."""
    c = state.conversation
    return {
        "id": c.id,
        "kind": c.kind.value,
        "group_id": c.group_id,
        "peer_id": state.peer_id,
        "last_seq": c.last_seq,
        "last_read_seq": state.last_read_seq,
        "unread": state.unread,
    }


@dataclass(frozen=True, slots=True)
class SessionStart:
    """A started session, ready to be sent."""

    identity: Identity
    snapshot: dict[str, Any]  # the data of the auth.authenticate reply
    positions: dict[str, int]  # per conversation: the last seq the client has after the replay
    replay: list[Message]  # what the client missed since its resume point, in order
    presence: dict[str, str]  # the status the snapshot shows per user


class SessionService:
    """Starts sessions over the role interfaces (local or remote alike)."""

    def __init__(
        self,
        auth: AuthService,
        groups: GroupService,
        messages: MessageService,
        *,
        online: OnlineLookup,
        voice: VoiceLookup,
        replay_limit: int,
        voice_states: VoiceStatesLookup | None = None,
    ) -> None:
        self._auth = auth
        self._groups = groups
        self._messages = messages
        self._online = online
        self._voice = voice
        self._voice_states = voice_states
        self._replay_limit = replay_limit
        # over the network the snapshot's independent reads go out together: one round
        # trip instead of three, and a storm of session starts shares Batch calls
        self._concurrent = auth.remote or groups.remote or messages.remote

    async def start(
        self,
        token: str,
        resume: Mapping[str, int],
        subscribe: Subscribe,
        show: Show | None = None,
    ) -> SessionStart:
        """Authenticate ``token``, subscribe the session, read its snapshot, plan its resume.

        ``subscribe`` joins the session to its user's and groups' events,
        ``show`` to its direct-message peers' presence, each before the state
        it covers is read, so no change falls in between. Nothing here grows
        with the size of the user's groups: members come from ``member.list``.
        """
        identity = await self._auth.authenticate(token)
        await subscribe(identity, await self._groups.member_group_ids(identity.user_id))
        user, groups, states = await self._all(
            self._auth.get_user(identity),
            self._groups.list_groups(identity),
            self._messages.conversations(identity),
        )
        peers = sorted({s.peer_id for s in states if s.peer_id} - {identity.user_id})
        if show is not None:
            await show(peers)
        users, (resumed, positions, replay), online, voice = await self._all(
            self._users(identity, peers),
            self._resume(identity, states, resume),
            self._online([identity.user_id, *peers]),
            self._voice(groups),
        )
        presence = {user_id: "offline" for user_id in peers}
        presence.update((user_id, "online") for user_id in online if user_id in presence)
        snapshot = {
            "session_id": identity.session_id,
            "user": user.private(),
            "groups": [v.to_dict() for v in groups],
            "conversations": [conversation_dict(s) for s in states],
            "users": [u.public() for u in users],
            "online": online,
            "voice": voice,
            "resume": resumed,
        }
        if self._voice_states is not None:
            snapshot["voice_states"] = await self._voice_states(voice)
        return SessionStart(identity, snapshot, positions, replay, presence)

    async def _all(self, *reads: Awaitable[Any]) -> list[Any]:
        """The results of independent reads: together over the network, else in turn."""
        if self._concurrent:
            return list(await asyncio.gather(*reads))
        done: list[Any] = []
        try:
            for read in reads:
                done.append(await read)
        except BaseException:
            for left in reads[len(done) + 1 :]:  # never started: no "never awaited" warning
                if asyncio.iscoroutine(left):
                    left.close()
            raise
        return done

    async def _users(self, identity: Identity, peers: list[str]) -> list[Any]:
        users = []
        for start in range(0, len(peers), USERS_PER_CALL):
            users += await self._auth.get_users(identity, peers[start : start + USERS_PER_CALL])
        return users

    async def _resume(
        self, identity: Identity, states: list[ConversationState], resume: Mapping[str, int]
    ) -> tuple[dict[str, Any], dict[str, int], list[Message]]:
        """The resume report, each conversation's position after the replay, the replay."""
        resumed: dict[str, Any] = {}
        positions: dict[str, int] = {}
        replay: list[Message] = []
        for state in states:
            cid = state.conversation.id
            if cid not in resume:
                positions[cid] = state.conversation.last_seq
                continue
            result = await self._messages.replay(identity, cid, resume[cid], self._replay_limit)
            _plan(result, resume[cid], resumed, positions, replay)
        unknown = sorted(set(resume) - {s.conversation.id for s in states})
        # threads are in no snapshot: the client names those it follows, and each one
        # is replayed like a conversation if its root's conversation is still readable
        threads = [cid for cid in unknown if cid.startswith(THREAD_PREFIX)][:MAX_THREADS_RESUMED]
        for cid in threads:
            try:
                result = await self._messages.replay(identity, cid, resume[cid], self._replay_limit)
            except (NotFound, InvalidRequest):
                continue
            unknown.remove(cid)
            _plan(result, resume[cid], resumed, positions, replay)
        for cid in unknown[:MAX_UNKNOWN_REPORTED]:
            resumed[cid] = {"not_found": True}
        return resumed, positions, replay


def _plan(
    result: ReplayResult,
    asked: int,
    resumed: dict[str, Any],
    positions: dict[str, int],
    replay: list[Message],
) -> None:
    """Enter one conversation's replay in the resume report, positions and replay."""
    cid = result.conversation_id
    if result.too_old:
        resumed[cid] = {"too_old": True, "last_seq": result.last_seq}
        positions[cid] = result.last_seq
        return
    resumed[cid] = {"replayed": len(result.messages), "last_seq": result.last_seq}
    replay += result.messages
    # a client claiming more than exists must not hide what comes next
    position = min(asked, result.last_seq)
    if result.messages:
        position = max(position, result.messages[-1].seq)
    positions[cid] = position
