"""A stateful model of membership and delivery, run against a real node.

Hypothesis drives an owner and three users, two devices (connections) each, in
one group with one text channel, everyone a member and online at the start:
members send (one at a time or pipelined),
retry earlier nonces, join with the group's invite, leave, get kicked, banned
and unbanned; devices disconnect (closing or dropping the socket) and come
back resuming from the last seq they saw. After every step the model checks:

- history: the channel's seqs are exactly 1..N, N is the number of distinct
  accepted nonces, each ``(author, nonce)`` is stored once, under the id and
  seq its ack gave;
- delivery: each connected device received exactly the channel's messages the
  protocol promises it, in order, once: every message sent while its user was
  a member, from where it started (its snapshot, its resume value, or the
  ``last_seqs`` of its ``member.joined``), and nothing while its user was not a
  member; the membership events about its own user (``member.joined`` with the
  channel's head, ``member.left`` / ``kicked`` / ``banned``), and no others.
  A device that resumes while its user is a member gets every message after its
  resume value (docs/protocol.md §6.4), also those sent while the user was out,
  if the user left and rejoined from its other device meanwhile; one that
  resumes after its user was removed gets ``not_found`` and nothing;
- refusals: a non-member's send and retry get ``conversation_not_found``; a
  banned user's join ``banned``; the documented codes for the rest.

"Nothing arrived" is checked after a round trip: the device sends itself a note
and waits for its event, which goes through the same per-connection queue (and
the same holds while a join or a gap is being read from the store) as the
channel's events. Everything else waits for a condition, never for a time.

Each machine run gets a node of its own on a copy of a data directory in which
the cast was registered and joined once (bcrypt's cost would otherwise be most
of the run); its access tokens stay valid for the file's whole run.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import tempfile
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from nodechat.client import ChatClient, RequestFailed
from nodechat.server.node import ChatNode
from tests.integration.conftest import make_settings

T = TypeVar("T")

WAIT = 10.0  # for a condition on a busy 2-core machine; only a broken server waits it out
OWNER = "owner"
USERS = ("amy", "bob", "cyd")
CAST = (OWNER, *USERS)
DEVICES = (0, 1)
DESK = (OWNER, 0)  # the owner's device that stays connected: moderation and history
REMOVALS = ("member.left", "member.kicked", "member.banned")

MODEL = settings(
    max_examples=25,
    stateful_step_count=30,
    deadline=None,
    derandomize=True,  # the same runs in CI every time
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@dataclass(frozen=True)
class Cast:
    """A data directory with the cast registered and the group founded."""

    data_dir: Path
    tokens: dict[str, str]  # name -> access token
    ids: dict[str, str]  # name -> user id
    group_id: str
    channel: str
    invite: str


async def found_cast(data_dir: Path) -> Cast:
    """Register the cast, found the group, make an invite that never runs out, and
    have everyone join it."""
    node = ChatNode(make_settings(data_dir))
    await node.start()
    tokens: dict[str, str] = {}
    ids: dict[str, str] = {}
    try:
        clients = []
        for name in CAST:
            client = await ChatClient.connect(node.url)
            clients.append(client)
            pair = await client.request(
                "auth.register",
                username=name,
                email=f"{name}@example.test",
                password="correct horse 1",
            )
            tokens[name], ids[name] = pair["access_token"], pair["user"]["id"]
        owner = clients[0]
        await owner.authenticate(tokens[OWNER])
        group = await owner.request("group.create", name="model")
        invite = await owner.request("invite.create", group_id=group["id"], expires_in=0)
        for name, client in zip(USERS, clients[1:], strict=True):
            await client.authenticate(tokens[name])
            await client.request("group.join", code=invite["code"])
        for client in clients:
            await client.close()
    finally:
        await node.stop()
    return Cast(data_dir, tokens, ids, group["id"], group["channels"][0]["id"], invite["code"])


@pytest.fixture(scope="module")
def cast(tmp_path_factory: pytest.TempPathFactory) -> Cast:
    return asyncio.run(found_cast(tmp_path_factory.mktemp("cast") / "data"))


@dataclass(frozen=True)
class Sent:
    """An accepted send: what its ack said."""

    id: str
    seq: int
    body: str


@dataclass
class Device:
    """One connection slot of a user, what it received and what the model expects."""

    user: str
    slot: int
    client: ChatClient | None = None
    received: list[int] = field(default_factory=list)  # channel seqs, as they arrived
    expected: list[int] = field(default_factory=list)
    membership: list[tuple[str, int | None]] = field(default_factory=list)  # about its user
    expected_membership: list[tuple[str, int | None]] = field(default_factory=list)
    marks: set[str] = field(default_factory=set)  # its own round-trip notes, arrived
    # what this client would resume the channel from: None while it does not track it
    last_seen: int | None = None

    @property
    def name(self) -> str:
        return f"{self.user}/{self.slot}"


class ChatModel(RuleBasedStateMachine):
    """The cast, the group and what each device must have received."""

    def __init__(self, cast: Cast) -> None:
        super().__init__()
        self.cast = cast
        self.channel = cast.channel
        self.members = set(CAST)
        self.banned: set[str] = set()
        self.last_seq = 0
        self.sent: dict[tuple[str, str], Sent] = {}  # (author, nonce) -> its ack
        self.devices = {(u, s): Device(u, s) for u in CAST for s in DEVICES}
        self.counter = itertools.count(1)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.dir = Path(tempfile.mkdtemp(prefix="nodechat-model-"))
        self.node: ChatNode | None = None
        try:
            shutil.copytree(cast.data_dir, self.dir / "data")
            self.node = ChatNode(make_settings(self.dir / "data"))
            self.run(self.node.start())
            for device in self.devices.values():
                self.run(self.connect(device))
        except BaseException:
            self.teardown()
            raise

    # -- plumbing ----------------------------------------------------------------

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the machine's loop and wait for it."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout=6 * WAIT)
        finally:
            future.cancel()

    def teardown(self) -> None:
        try:
            self.run(self._close())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(WAIT)
            self.loop.close()
            shutil.rmtree(self.dir, ignore_errors=True)

    async def _close(self) -> None:
        for device in self.devices.values():
            if device.client is not None:
                await device.client.close()
                device.client = None
        if self.node is not None:
            await self.node.stop()
        current = asyncio.current_task()
        leaked = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
        assert not leaked, f"tasks left running after the node stopped: {leaked}"

    def connected(self, user: str | None = None) -> Iterator[Device]:
        for device in self.devices.values():
            if device.client is not None and (user is None or device.user == user):
                yield device

    def nonce(self) -> str:
        return f"n{next(self.counter)}"

    def absorb(self, device: Device, first: dict[str, Any] | None = None) -> None:
        """Take the events a device's client has received (``first``, then the rest of its
        queue), as a client would."""
        assert device.client is not None
        me = self.cast.ids[device.user]
        frames = device.client.drain_events()
        for frame in frames if first is None else [first, *frames]:
            kind, data = frame["event"], frame["data"]
            if kind == "message.created" and data["conversation"] == self.channel:
                device.received.append(data["seq"])
                device.last_seen = data["seq"]
            elif kind == "message.created" and data["nonce"].startswith(f"mark-{device.name}-"):
                device.marks.add(data["nonce"])
            elif kind == "member.joined" and data["user_id"] == me:
                head = data["last_seqs"][self.channel]
                device.membership.append((kind, head))
                device.last_seen = head
            elif kind in REMOVALS and data["user_id"] == me:
                device.membership.append((kind, None))
                device.last_seen = None

    async def connect(self, device: Device) -> None:
        """Connect a device: resume the channel from what it last saw, if it tracks it."""
        assert self.node is not None and device.client is None
        client = await ChatClient.connect(self.node.url)
        device.client = client
        resume = None if device.last_seen is None else {self.channel: device.last_seen}
        ready = await client.authenticate(self.cast.tokens[device.user], resume)
        member = device.user in self.members
        listed = {c["id"]: c for c in ready["conversations"]}
        assert (self.channel in listed) == member, f"{device.name}: snapshot vs membership"
        assert ({g["id"] for g in ready["groups"]} == {self.cast.group_id}) == member
        device.received, device.membership, device.expected_membership = [], [], []
        if resume is None:
            assert ready["resume"] == {}
            device.expected = []
            device.last_seen = self.last_seq if member else None
            if member:
                assert listed[self.channel]["last_seq"] == self.last_seq
        elif member:
            start = resume[self.channel]
            assert ready["resume"][self.channel] == {
                "replayed": self.last_seq - start,
                "last_seq": self.last_seq,
            }, device.name
            device.expected = list(range(start + 1, self.last_seq + 1))
        else:
            assert ready["resume"][self.channel] == {"not_found": True}, device.name
            device.expected = []
            device.last_seen = None

    async def settle(self, device: Device) -> None:
        """Wait until the device has what it must have, then, after a round trip of its
        own, check that it has exactly that."""
        assert device.client is not None
        loop = asyncio.get_running_loop()
        end = loop.time() + WAIT
        while (
            len(device.received) < len(device.expected)
            or len(device.membership) < len(device.expected_membership)
        ) and loop.time() < end:
            await self.wait_event(device, end)
        mark = f"mark-{device.name}-{next(self.counter)}"
        await device.client.request(
            "message.send", conversation=f"self:{self.cast.ids[device.user]}", body="·", nonce=mark
        )
        while mark not in device.marks and loop.time() < end:
            await self.wait_event(device, end)
        assert mark in device.marks, f"{device.name}: its own note never came back"
        assert device.received == device.expected, (
            f"{device.name} received channel seqs {device.received}, "
            f"expected {device.expected} (members {sorted(self.members)})"
        )
        assert device.membership == device.expected_membership, (
            f"{device.name} received {device.membership}, expected {device.expected_membership}"
        )

    async def wait_event(self, device: Device, end: float) -> None:
        assert device.client is not None
        timeout = max(0.0, end - asyncio.get_running_loop().time())
        try:
            frame = await asyncio.wait_for(device.client.events.get(), timeout)
        except TimeoutError:
            return
        self.absorb(device, frame)

    async def refused(self, client: ChatClient, error: str, op: str, /, **data: Any) -> None:
        """``op`` is refused with the error code ``error``."""
        try:
            await client.request(op, **data)
        except RequestFailed as exc:
            assert exc.code == error, f"{op} {data}: {exc.code}, expected {error}"
        else:
            raise AssertionError(f"{op} {data} succeeded; expected {error}")

    def desk(self) -> ChatClient:
        client = self.devices[DESK].client
        assert client is not None
        return client

    def accepted(self, author: str, nonce: str, body: str, ack: dict[str, Any]) -> None:
        """A new message: every connected device of every member must receive it."""
        self.last_seq += 1
        assert ack["seq"] == self.last_seq and not ack["duplicate"], ack
        assert ack["conversation"] == self.channel
        self.sent[(author, nonce)] = Sent(ack["id"], ack["seq"], body)
        for user in self.members:
            for device in self.connected(user):
                device.expected.append(ack["seq"])

    def removed(self, user: str, kind: str) -> None:
        self.members.discard(user)
        for device in self.connected(user):
            device.expected_membership.append((kind, None))

    # -- choosing ----------------------------------------------------------------

    def devices_of(self, *, member: bool) -> list[Device]:
        return [d for d in self.connected() if (d.user in self.members) == member]

    def authors(self) -> list[Device]:
        return [d for d in self.connected() if any(a == d.user for a, _ in self.sent)]

    def pick(self, data: st.DataObject, devices: list[Device]) -> Device:
        by_name = {d.name: d for d in devices}
        return by_name[data.draw(st.sampled_from(sorted(by_name)), label="device")]

    # -- rules: messages ------------------------------------------------------------

    # Hypothesis draws rules from a list sorted by their number of arguments, and favours
    # the first: this one, so the channel is busy whoever is in it.
    @rule()
    def owner_sends(self) -> None:
        self.send_from(self.devices[DESK])

    @precondition(lambda self: bool(self.devices_of(member=True)))
    @rule(data=st.data())
    def send(self, data: st.DataObject) -> None:
        self.send_from(self.pick(data, self.devices_of(member=True)))

    def send_from(self, device: Device) -> None:
        assert device.client is not None
        nonce = self.nonce()
        body = f"{device.user} says {nonce}"
        ack = self.run(
            device.client.request("message.send", conversation=self.channel, body=body, nonce=nonce)
        )
        self.accepted(device.user, nonce, body, ack)

    @precondition(lambda self: bool(self.devices_of(member=True)))
    @rule(data=st.data())
    def send_pipelined(self, data: st.DataObject) -> None:
        """Several sends at once from one device, some repeating a nonce of the batch or
        an earlier one: stored in order, each nonce once."""
        device = self.pick(data, self.devices_of(member=True))
        client = device.client
        assert client is not None
        old = sorted(n for a, n in self.sent if a == device.user)
        batch: list[str] = []
        for _ in range(data.draw(st.integers(2, 4), label="batch size")):
            choice = data.draw(st.sampled_from(["new", "again", "old"]), label="nonce")
            if choice == "again" and batch:
                batch.append(data.draw(st.sampled_from(batch)))
            elif choice == "old" and old:
                batch.append(data.draw(st.sampled_from(old)))
            else:
                batch.append(self.nonce())
        bodies = {
            n: self.sent[(device.user, n)].body
            if (device.user, n) in self.sent
            else f"{device.user} pipelines {n}"
            for n in batch
        }

        async def pipeline() -> list[Any]:
            return await asyncio.gather(
                *(
                    client.request(
                        "message.send", conversation=self.channel, body=bodies[n], nonce=n
                    )
                    for n in batch
                )
            )

        for nonce, ack in zip(batch, self.run(pipeline()), strict=True):
            known = self.sent.get((device.user, nonce))
            if known is None:
                self.accepted(device.user, nonce, bodies[nonce], ack)
            else:
                assert (ack["id"], ack["seq"], ack["duplicate"]) == (known.id, known.seq, True)

    @precondition(lambda self: bool(self.authors()))
    @rule(data=st.data())
    def retry(self, data: st.DataObject) -> None:
        """The same nonce, conversation and body again: the stored message, nothing new;
        refused once its author is no longer a member."""
        device = self.pick(data, self.authors())
        assert device.client is not None
        nonce = data.draw(st.sampled_from(sorted(n for a, n in self.sent if a == device.user)))
        known = self.sent[(device.user, nonce)]
        again = {"conversation": self.channel, "body": known.body, "nonce": nonce}
        if device.user in self.members:
            ack = self.run(device.client.request("message.send", **again))
            assert (ack["id"], ack["seq"], ack["duplicate"]) == (known.id, known.seq, True)
        else:
            self.run(self.refused(device.client, "conversation_not_found", "message.send", **again))

    # -- rules: membership -------------------------------------------------------------

    def joinable(self) -> list[Device]:
        return [d for d in self.devices_of(member=False) if d.user not in self.banned]

    @precondition(lambda self: bool(self.joinable()))
    @rule(data=st.data())
    def join(self, data: st.DataObject) -> None:
        device = self.pick(data, self.joinable())
        assert device.client is not None
        view = self.run(device.client.request("group.join", code=self.cast.invite))
        assert view["id"] == self.cast.group_id and view["role"] == "member"
        self.members.add(device.user)
        for mine in self.connected(device.user):
            mine.expected_membership.append(("member.joined", self.last_seq))

    def unjoinable(self) -> list[Device]:
        return [d for d in self.connected() if d.user in self.banned | self.members]

    def leavers(self) -> list[Device]:
        return [d for d in self.devices_of(member=True) if d.user != OWNER]

    @precondition(lambda self: bool(self.leavers()))
    @rule(data=st.data())
    def leave(self, data: st.DataObject) -> None:
        device = self.pick(data, self.leavers())
        assert device.client is not None
        self.run(device.client.request("group.leave", group_id=self.cast.group_id))
        self.removed(device.user, "member.left")

    @precondition(lambda self: self.members != {OWNER})
    @rule(data=st.data())
    def kick(self, data: st.DataObject) -> None:
        user = data.draw(st.sampled_from(sorted(self.members - {OWNER})), label="kicked")
        self.run(
            self.desk().request(
                "member.kick", group_id=self.cast.group_id, user_id=self.cast.ids[user]
            )
        )
        self.removed(user, "member.kicked")

    @rule(user=st.sampled_from(USERS))
    def ban(self, user: str) -> None:
        """Members and non-members alike (a pre-emptive ban); again is fine."""
        self.run(
            self.desk().request(
                "member.ban", group_id=self.cast.group_id, user_id=self.cast.ids[user]
            )
        )
        self.banned.add(user)
        if user in self.members:
            self.removed(user, "member.banned")

    @precondition(lambda self: bool(self.banned))
    @rule(data=st.data())
    def unban(self, data: st.DataObject) -> None:
        user = data.draw(st.sampled_from(sorted(self.banned)), label="unbanned")
        self.run(
            self.desk().request(
                "member.unban", group_id=self.cast.group_id, user_id=self.cast.ids[user]
            )
        )
        self.banned.discard(user)

    @rule(data=st.data())
    def refusals(self, data: st.DataObject) -> None:
        """What the protocol refuses, with its documented code; nothing changes."""
        gid, ids = self.cast.group_id, self.cast.ids
        desk = self.desk()
        outsiders = self.devices_of(member=False)
        unjoinable = self.unjoinable()
        strangers = sorted(set(USERS) - self.members)
        unbanned = sorted(set(USERS) - self.banned)
        cases = ["owner"]
        cases += ["outsider"] * bool(outsiders) + ["join"] * bool(unjoinable)
        cases += ["kick"] * bool(strangers) + ["unban"] * bool(unbanned)
        case = data.draw(st.sampled_from(cases), label="refusal")
        if case == "owner":
            coros = [
                self.refused(desk, "self_target", "member.kick", group_id=gid, user_id=ids[OWNER]),
                self.refused(desk, "owner_cannot_leave", "group.leave", group_id=gid),
            ]
        elif case == "outsider":
            device = self.pick(data, outsiders)
            assert device.client is not None
            coros = [
                self.refused(
                    device.client,
                    "conversation_not_found",
                    "message.send",
                    conversation=self.channel,
                    body="let me in",
                    nonce=self.nonce(),
                ),
                self.refused(
                    device.client,
                    "conversation_not_found",
                    "message.history",
                    conversation=self.channel,
                ),
            ]
        elif case == "join":
            device = self.pick(data, unjoinable)
            assert device.client is not None
            error = "already_member" if device.user in self.members else "banned"
            coros = [self.refused(device.client, error, "group.join", code=self.cast.invite)]
        elif case == "kick":
            user = data.draw(st.sampled_from(strangers), label="stranger")
            coros = [
                self.refused(
                    desk, "member_not_found", "member.kick", group_id=gid, user_id=ids[user]
                )
            ]
        else:
            user = data.draw(st.sampled_from(unbanned), label="not banned")
            coros = [
                self.refused(desk, "ban_not_found", "member.unban", group_id=gid, user_id=ids[user])
            ]

        async def all_refused() -> None:
            for coro in coros:
                await coro

        self.run(all_refused())

    # -- rules: connections ---------------------------------------------------------------

    def online(self) -> list[Device]:
        return [d for d in self.connected() if (d.user, d.slot) != DESK]

    def offline(self) -> list[Device]:
        return [d for d in self.devices.values() if d.client is None]

    @precondition(lambda self: bool(self.online()))
    @rule(data=st.data(), abort=st.booleans())
    def disconnect(self, data: st.DataObject, abort: bool) -> None:
        """Close the socket (or drop it, no close handshake) once the device has what it
        must have, so what it resumes from is what it really saw."""
        device = self.pick(data, self.online())
        client = device.client
        assert client is not None
        self.run(self.settle(device))

        async def hang_up() -> None:
            if abort:
                client.ws.transport.abort()
                await client.wait_closed()
            await client.close()

        self.run(hang_up())
        device.client = None
        assert device.last_seen == (self.last_seq if device.user in self.members else None)

    @precondition(lambda self: bool(self.offline()))
    @rule(data=st.data())
    def reconnect(self, data: st.DataObject) -> None:
        device = self.pick(data, self.offline())
        self.run(self.connect(device))

    def away_and_tracking(self) -> list[Device]:
        return [
            d
            for d in self.offline()
            if d.last_seen is not None and d.user in self.members and d.user != OWNER
        ]

    @precondition(lambda self: bool(self.away_and_tracking()))
    @rule(data=st.data(), kind=st.sampled_from(["member.kicked", "member.banned"]))
    def removed_while_away(self, data: st.DataObject, kind: str) -> None:
        """A device comes back, resuming, after its user was removed: ``not_found``, and
        none of what was sent meanwhile."""
        device = self.pick(data, self.away_and_tracking())
        op = "member.kick" if kind == "member.kicked" else "member.ban"
        self.run(
            self.desk().request(op, group_id=self.cast.group_id, user_id=self.cast.ids[device.user])
        )
        if kind == "member.banned":
            self.banned.add(device.user)
        self.removed(device.user, kind)
        self.owner_sends()
        self.run(self.connect(device))

    # -- invariants ---------------------------------------------------------------------

    @invariant()
    def history_is_gap_free_and_each_nonce_stored_once(self) -> None:
        async def read() -> list[dict[str, Any]]:
            messages: list[dict[str, Any]] = []
            while True:
                page = await self.desk().request(
                    "message.history",
                    conversation=self.channel,
                    after=messages[-1]["seq"] if messages else 0,
                    limit=100,
                )
                messages += page["messages"]
                if not page["has_more"]:
                    return messages

        history = self.run(read())
        assert [m["seq"] for m in history] == list(range(1, self.last_seq + 1))
        stored = [(m["author_id"], m["nonce"]) for m in history]
        assert len(set(stored)) == len(stored) == len(self.sent)
        names = {uid: name for name, uid in self.cast.ids.items()}
        for message in history:
            known = self.sent[(names[message["author_id"]], message["nonce"])]
            assert (message["id"], message["seq"], message["body"]) == (
                known.id,
                known.seq,
                known.body,
            )

    @invariant()
    def each_device_received_what_its_membership_promises(self) -> None:
        async def settle_all() -> None:
            await asyncio.gather(*(self.settle(d) for d in self.connected()))

        self.run(settle_all())


# A pass takes seconds; shrinking a failure to its shortest steps can take minutes.
@pytest.mark.timeout(600)
def test_membership_and_delivery_model(cast: Cast) -> None:
    class Model(ChatModel):
        def __init__(self) -> None:
            super().__init__(cast)

    run_state_machine_as_test(Model, settings=MODEL)
