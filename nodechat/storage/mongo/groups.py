"""MongoDB groups: groups, channels, members, bans and invites.

Single-document operations live here; the ones SQLite does in one transaction
over several rows are ordered steps in :mod:`nodechat.storage.mongo.compound`,
which also says what a crash between two steps leaves. A group being deleted
(``deleting: true``) is hidden from every read here.
"""

from __future__ import annotations

from collections.abc import Sequence

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from nodechat.errors import Conflict, InvalidRequest, NotFound
from nodechat.models import Channel, ChannelKind, Group, Invite, Member, Role
from nodechat.storage.base import GroupStore, MemberKey
from nodechat.storage.mongo import compound
from nodechat.storage.mongo.compound import LIVE, NO_GROUP, invite_from_document
from nodechat.storage.mongo.engine import Db, Document, Engine

_MEMBER_ORDER = [("joined_at", ASCENDING), ("_id", ASCENDING)]
_PAGE_ORDER = [("joined_at", ASCENDING), ("user_id", ASCENDING)]
_CHANNEL_ORDER = [("position", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)]


def _group(doc: Document) -> Group:
    return Group(
        id=doc["_id"],
        name=doc["name"],
        description=doc["description"],
        owner_id=doc["owner_id"],
        created_at=doc["created_at"],
    )


def _channel(doc: Document) -> Channel:
    return Channel(
        id=doc["_id"],
        group_id=doc["group_id"],
        name=doc["name"],
        kind=ChannelKind(doc["kind"]),
        position=doc["position"],
        topic=doc.get("topic", ""),
        created_at=doc["created_at"],
    )


def _member(doc: Document) -> Member:
    return Member(
        group_id=doc["group_id"],
        user_id=doc["user_id"],
        role=Role(doc["role"]),
        joined_at=doc["joined_at"],
    )


def _changes(**fields: str | None) -> Document:
    return {name: value for name, value in fields.items() if value is not None}


def _update(db: Db, collection: str, query: Document, changes: Document) -> Document | None:
    """Apply ``$set`` changes (if any) and return the document after, or None."""
    if not changes:
        return db[collection].find_one(query)
    return db[collection].find_one_and_update(
        query, {"$set": changes}, return_document=ReturnDocument.AFTER
    )


def _channels_of(db: Db, group_id: str) -> list[Channel]:
    return [_channel(doc) for doc in db.channels.find({"group_id": group_id}, sort=_CHANNEL_ORDER)]


class MongoGroupStore(GroupStore):
    """Groups in the ``groups``, ``channels``, ``members``, ``bans`` and ``invites`` collections."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- groups ----------------------------------------------------------

    async def create_group(self, group: Group, owner: Member, channels: Sequence[Channel]) -> None:
        """Insert a group with its owner membership and first channels."""
        await self.engine.run(lambda db: compound.create_group(db, group, owner, channels))

    async def get_group(self, group_id: str) -> Group | None:
        """The group, or None."""
        doc = await self.engine.run(lambda db: db.groups.find_one({"_id": group_id, **LIVE}))
        return _group(doc) if doc is not None else None

    async def update_group(
        self, group_id: str, *, name: str | None = None, description: str | None = None
    ) -> Group:
        """Change the fields that are not None; ``NotFound`` if no such group."""
        changes = _changes(name=name, description=description)
        doc = await self.engine.run(
            lambda db: _update(db, "groups", {"_id": group_id, **LIVE}, changes)
        )
        if doc is None:
            raise NO_GROUP
        return _group(doc)

    async def delete_group(self, group_id: str) -> None:
        """Delete the group and everything in it (see compound.delete_group)."""
        await self.engine.run(lambda db: compound.delete_group(db, group_id))

    async def list_groups(self, user_id: str) -> list[Group]:
        """The groups a user is a member of, oldest membership first."""

        def fn(db: Db) -> list[Group]:
            ids = [
                doc["group_id"]
                for doc in db.members.find(
                    {"user_id": user_id}, {"group_id": 1}, sort=_MEMBER_ORDER
                )
            ]
            if not ids:
                return []
            groups = {
                doc["_id"]: _group(doc) for doc in db.groups.find({"_id": {"$in": ids}, **LIVE})
            }
            return [groups[gid] for gid in ids if gid in groups]

        return await self.engine.run(fn)

    async def list_all_groups(self, *, after: str | None = None, limit: int = 100) -> list[Group]:
        """Every group ordered by id."""
        if limit <= 0:  # MongoDB reads limit 0 as "no limit"
            return []
        docs = await self.engine.run(
            lambda db: list(
                db.groups.find(
                    {"_id": {"$gt": after or ""}, **LIVE}, sort=[("_id", ASCENDING)], limit=limit
                )
            )
        )
        return [_group(doc) for doc in docs]

    # -- members ---------------------------------------------------------

    async def get_member(self, group_id: str, user_id: str) -> Member | None:
        """The membership, or None."""
        doc = await self.engine.run(
            lambda db: db.members.find_one({"group_id": group_id, "user_id": user_id})
        )
        return _member(doc) if doc is not None else None

    async def list_members(
        self, group_id: str, *, after: MemberKey | None = None, limit: int | None = None
    ) -> list[Member]:
        """Members of a group ordered by (join time, user id), from after ``after``."""
        query: Document = {"group_id": group_id}
        if after is not None:
            joined, user = after
            query["$or"] = [
                {"joined_at": {"$gt": joined}},
                {"joined_at": joined, "user_id": {"$gt": user}},
            ]
        docs = await self.engine.run(
            lambda db: list(
                db.members.find(query, sort=_PAGE_ORDER, limit=limit if limit is not None else 0)
            )
        )
        return [_member(doc) for doc in docs]

    async def count_members(self, group_id: str) -> int:
        """How many members a group has."""
        return int(
            await self.engine.run(lambda db: db.members.count_documents({"group_id": group_id}))
        )

    async def member_group_ids(self, user_id: str) -> list[str]:
        """Ids of the groups a user belongs to, oldest membership first."""
        docs = await self.engine.run(
            lambda db: list(
                db.members.find({"user_id": user_id}, {"group_id": 1}, sort=_MEMBER_ORDER)
            )
        )
        return [doc["group_id"] for doc in docs]

    async def add_member(self, member: Member) -> None:
        """Add a membership; ``Conflict(already_member)``, ``NotFound(group_not_found)``."""

        def fn(db: Db) -> None:
            compound.require_group(db, member.group_id)
            compound.insert_member(db, member)
            if not compound.group_alive(db, member.group_id):  # deleted meanwhile: undo
                db.members.delete_one({"group_id": member.group_id, "user_id": member.user_id})
                raise NO_GROUP

        await self.engine.run(fn)

    async def remove_member(self, group_id: str, user_id: str) -> bool:
        """Remove a membership; False if there was none."""
        result = await self.engine.run(
            lambda db: db.members.delete_one({"group_id": group_id, "user_id": user_id})
        )
        return result.deleted_count > 0

    async def set_role(self, group_id: str, user_id: str, role: Role) -> Member:
        """Change a member's role; ``NotFound(not_member)`` if not a member."""
        doc = await self.engine.run(
            lambda db: db.members.find_one_and_update(
                {"group_id": group_id, "user_id": user_id},
                {"$set": {"role": role.value}},
                return_document=ReturnDocument.AFTER,
            )
        )
        if doc is None:
            raise NotFound("not a member of this group", code="not_member")
        return _member(doc)

    async def transfer_owner(self, group_id: str, from_user: str, to_user: str) -> Group:
        """Make ``to_user`` owner and ``from_user`` admin; ``Conflict(not_owner)`` if stale."""
        doc = await self.engine.run(
            lambda db: compound.transfer_owner(db, group_id, from_user, to_user)
        )
        return _group(doc)

    # -- bans ------------------------------------------------------------

    async def ban(self, group_id: str, user_id: str, by: str, now: int) -> None:
        """Ban a user and remove the membership if any (idempotent)."""
        await self.engine.run(lambda db: compound.ban(db, group_id, user_id, by, now))

    async def unban(self, group_id: str, user_id: str) -> bool:
        """Lift a ban; False if there was none."""
        result = await self.engine.run(
            lambda db: db.bans.delete_one({"group_id": group_id, "user_id": user_id})
        )
        return result.deleted_count > 0

    async def is_banned(self, group_id: str, user_id: str) -> bool:
        """Whether the user is banned from the group."""
        doc = await self.engine.run(
            lambda db: db.bans.find_one({"group_id": group_id, "user_id": user_id}, {"_id": 1})
        )
        return doc is not None

    # -- channels --------------------------------------------------------

    async def create_channel(self, channel: Channel) -> None:
        """Insert a channel and its conversation; ``Conflict(channel_exists)``, ``NotFound``."""

        def fn(db: Db) -> None:
            compound.require_group(db, channel.group_id)
            created = compound.insert_channel(db, channel)
            if not compound.group_alive(db, channel.group_id):  # deleted meanwhile: undo
                compound.remove_channel(db, channel.id, drop_conversation=created)
                raise NO_GROUP

        await self.engine.run(fn)

    async def get_channel(self, channel_id: str) -> Channel | None:
        """The channel, or None."""
        doc = await self.engine.run(lambda db: db.channels.find_one({"_id": channel_id}))
        return _channel(doc) if doc is not None else None

    async def list_channels(self, group_id: str) -> list[Channel]:
        """Channels of a group ordered by position."""
        return await self.engine.run(lambda db: _channels_of(db, group_id))

    async def update_channel(
        self, channel_id: str, *, name: str | None = None, topic: str | None = None
    ) -> Channel:
        """Change the fields that are not None; ``NotFound(channel_not_found)``."""
        changes = _changes(name=name, topic=topic)
        doc = await self.engine.run(
            lambda db: _update(db, "channels", {"_id": channel_id}, changes)
        )
        if doc is None:
            raise NotFound("no such channel", code="channel_not_found")
        return _channel(doc)

    async def delete_channel(self, channel_id: str) -> None:
        """Delete a channel, its conversation and its messages (see compound.delete_channel)."""
        await self.engine.run(lambda db: compound.delete_channel(db, channel_id))

    async def reorder_channels(self, group_id: str, channel_ids: Sequence[str]) -> list[Channel]:
        """Set positions 0..n-1 in the given order; ``InvalidRequest`` unless exactly the group's.

        One update per channel: a reader in between may see a mix of old and
        new positions, and a crash may leave that mix (still a complete order,
        ties broken by creation); reordering again fixes it.
        """
        wanted = list(channel_ids)

        def fn(db: Db) -> list[Channel]:
            compound.require_group(db, group_id)
            existing = {doc["_id"] for doc in db.channels.find({"group_id": group_id}, {"_id": 1})}
            if len(wanted) != len(set(wanted)) or set(wanted) != existing:
                raise InvalidRequest(
                    "the ids must be exactly the group's channels, once each",
                    code="bad_channel_order",
                )
            for position, channel_id in enumerate(wanted):
                db.channels.update_one(
                    {"_id": channel_id, "group_id": group_id}, {"$set": {"position": position}}
                )
            return _channels_of(db, group_id)

        return await self.engine.run(fn)

    # -- invites ---------------------------------------------------------

    async def create_invite(self, invite: Invite) -> None:
        """Insert an invite; ``Conflict(invite_exists)``, ``NotFound(group_not_found)``."""
        doc = {
            "_id": invite.code,
            "group_id": invite.group_id,
            "created_by": invite.created_by,
            "created_at": invite.created_at,
            "expires_at": invite.expires_at,
            "max_uses": invite.max_uses,
            "uses": invite.uses,
            "revoked": invite.revoked,
        }

        def fn(db: Db) -> None:
            compound.require_group(db, invite.group_id)
            try:
                db.invites.insert_one(doc)
            except DuplicateKeyError as exc:
                raise Conflict("this invite code exists", code="invite_exists") from exc
            if not compound.group_alive(db, invite.group_id):  # deleted meanwhile: undo
                db.invites.delete_one({"_id": invite.code})
                raise NO_GROUP

        await self.engine.run(fn)

    async def get_invite(self, code: str) -> Invite | None:
        """The invite, or None."""
        doc = await self.engine.run(lambda db: db.invites.find_one({"_id": code}))
        return invite_from_document(doc) if doc is not None else None

    async def list_invites(self, group_id: str) -> list[Invite]:
        """A group's invites, newest first (same-millisecond ties by code, descending)."""
        docs = await self.engine.run(
            lambda db: list(
                db.invites.find(
                    {"group_id": group_id}, sort=[("created_at", DESCENDING), ("_id", DESCENDING)]
                )
            )
        )
        return [invite_from_document(doc) for doc in docs]

    async def revoke_invite(self, code: str) -> Invite:
        """Mark an invite revoked; ``NotFound(invite_not_found)``."""
        doc = await self.engine.run(
            lambda db: db.invites.find_one_and_update(
                {"_id": code}, {"$set": {"revoked": True}}, return_document=ReturnDocument.AFTER
            )
        )
        if doc is None:
            raise NotFound("no such invite", code="invite_not_found")
        return invite_from_document(doc)

    async def join_with_invite(self, code: str, user_id: str, now: int) -> Member:
        """Check the invite and the user, count a use and add the member (see compound)."""
        return await self.engine.run(lambda db: compound.join_with_invite(db, code, user_id, now))
