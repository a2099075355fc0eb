"""Group operations that touch several documents, as ordered single-document steps.

SQLite runs each of these in one transaction. Without transactions (mongomock
has none, and they would tie the backend to replica sets), each step here is
one atomic single-document operation, and the order is chosen so that:

* concurrent callers cannot break an invariant: a unique index or a
  conditional update (``find_one_and_update`` with a filter) decides every
  race, and a step that lost is undone before the error is raised;
* a crash (process killed, connection lost) between two steps leaves a state
  that is harmless and that a retry of the same call completes or reports.

Three patterns recur:

* **Parent last on delete.** A cascade marks the group ``deleting`` (it
  disappears from every read at once), removes the children, and removes the
  group document last. A crash leaves a hidden group with some children;
  calling ``delete_group`` again finishes the job.
* **Re-check the parent after inserting a child.** ``add_member``, a join,
  ``create_channel``, ``create_invite`` and ``ban`` insert, then check the
  group is still live, and undo the insert if not. A cascade marks before it
  sweeps, so either the re-check sees the mark, or the sweep runs after the
  insert and removes the child: no orphan either way.
* **Count, then act, then undo the count.** A join takes an invite use with
  one conditional ``$inc`` (so an invite is never used more than ``max_uses``
  times), then inserts the member, and gives the use back if the insert fails.
"""

from __future__ import annotations

from collections.abc import Sequence

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from nodechat.errors import Conflict, Forbidden, NotFound
from nodechat.models import Channel, ConversationKind, Group, Invite, Member, Role
from nodechat.storage.mongo.engine import Db, Document

LIVE: Document = {"deleting": {"$ne": True}}
NO_GROUP = NotFound("no such group", code="group_not_found")


def require_group(db: Db, group_id: str) -> Document:
    """The live group document, or ``NotFound(group_not_found)``."""
    doc = db.groups.find_one({"_id": group_id, **LIVE})
    if doc is None:
        raise NO_GROUP
    return doc


def group_alive(db: Db, group_id: str) -> bool:
    """Whether the group exists and is not being deleted."""
    return db.groups.find_one({"_id": group_id, **LIVE}, {"_id": 1}) is not None


def member_document(member: Member) -> Document:
    """A membership as stored."""
    return {
        "group_id": member.group_id,
        "user_id": member.user_id,
        "role": member.role.value,
        "joined_at": member.joined_at,
    }


def insert_member(db: Db, member: Member) -> None:
    """Insert a membership; ``Conflict(already_member)`` if the unique index holds it."""
    try:
        db.members.insert_one(member_document(member))
    except DuplicateKeyError as exc:
        raise Conflict("already a member of this group", code="already_member") from exc


def insert_channel(db: Db, channel: Channel) -> bool:
    """Insert a channel and its conversation (conversation first); True if that was new.

    A crash between the two leaves a conversation without a channel: no one
    can reach it (appends are authorized through the channel), and creating
    the channel again reuses it.
    """
    result = db.conversations.update_one(
        {"_id": channel.id},
        {
            "$setOnInsert": {
                "kind": ConversationKind.CHANNEL.value,
                "group_id": channel.group_id,
                "user_a": None,
                "user_b": None,
                "last_seq": 0,
            }
        },
        upsert=True,
    )
    created = result.upserted_id is not None
    if not created:
        existing = db.conversations.find_one({"_id": channel.id}) or {}
        if (existing.get("kind"), existing.get("group_id")) != (
            ConversationKind.CHANNEL.value,
            channel.group_id,
        ):
            raise Conflict("a channel or conversation with this id exists", code="channel_exists")
    try:
        db.channels.insert_one(
            {
                "_id": channel.id,
                "group_id": channel.group_id,
                "name": channel.name,
                "kind": channel.kind.value,
                "position": channel.position,
                "topic": channel.topic,
                "created_at": channel.created_at,
            }
        )
    except DuplicateKeyError as exc:
        if created:
            db.conversations.delete_one({"_id": channel.id})
        raise Conflict(
            "a channel or conversation with this id exists", code="channel_exists"
        ) from exc
    return created


def remove_channel(db: Db, channel_id: str, *, drop_conversation: bool) -> None:
    """Undo :func:`insert_channel`."""
    db.channels.delete_one({"_id": channel_id})
    if drop_conversation:
        drop_conversations(db, [channel_id])


def drop_conversations(db: Db, conversation_ids: Sequence[str]) -> None:
    """Delete channel conversations and their threads, then their messages, then their
    read markers.

    Conversations go first: an append that raced past its existence check
    finds the conversation gone when it bumps ``last_seq`` and removes its
    message, or it was inserted before this sweep and is swept with the rest.
    """
    if not conversation_ids:
        return
    # their threads go with them (what SQL's parent_id cascade does)
    threads = db.conversations.find({"parent_id": {"$in": list(conversation_ids)}}, {"_id": 1})
    ids = {"$in": [*conversation_ids, *(doc["_id"] for doc in threads)]}
    kinds = [ConversationKind.CHANNEL.value, ConversationKind.THREAD.value]
    db.conversations.delete_many({"_id": ids, "kind": {"$in": kinds}})
    drop_reactions(db, ids)
    # as SQL's trigger on deleted messages: their files are released for the collector
    db.files.update_many(
        {"conversation_id": ids, "message_id": {"$ne": None}},
        {"$set": {"message_id": None, "released": True}},
    )
    db.messages.delete_many({"conversation_id": ids})
    db.read_markers.delete_many({"conversation_id": ids})
    db.pins.delete_many({"conversation_id": ids})


def drop_reactions(db: Db, conversation_ids: Document) -> None:
    """Delete the reactions on the messages of these conversations, a page at a time."""
    cursor = db.messages.find({"conversation_id": conversation_ids}, {"_id": 1})
    page: list[str] = []
    for doc in cursor:
        page.append(doc["_id"])
        if len(page) == 1000:
            db.reactions.delete_many({"message_id": {"$in": page}})
            page = []
    if page:
        db.reactions.delete_many({"message_id": {"$in": page}})


def create_group(db: Db, group: Group, owner: Member, channels: Sequence[Channel]) -> None:
    """Group, then owner membership, then channels; undone in reverse on a conflict.

    A crash part-way leaves a group with fewer channels than asked (the owner
    adds more) or, between the first two steps, a group without an owner,
    which only an operator sees (``admin``) and can delete.
    """
    try:
        db.groups.insert_one(
            {
                "_id": group.id,
                "name": group.name,
                "description": group.description,
                "owner_id": group.owner_id,
                "created_at": group.created_at,
            }
        )
    except DuplicateKeyError as exc:
        raise Conflict("a group with this id exists", code="group_exists") from exc
    made: list[tuple[str, bool]] = []
    member_added = False
    try:
        insert_member(db, owner)
        member_added = True
        for channel in channels:
            made.append((channel.id, insert_channel(db, channel)))
    except Exception:
        for channel_id, new_conversation in reversed(made):
            remove_channel(db, channel_id, drop_conversation=new_conversation)
        if member_added:
            db.members.delete_one({"group_id": owner.group_id, "user_id": owner.user_id})
        db.groups.delete_one({"_id": group.id})
        raise


def delete_group(db: Db, group_id: str) -> None:
    """Mark the group deleting, remove everything in it, remove the group last.

    The mark hides the group from every read and makes new children undo
    themselves (see the module docstring). A crash leaves the group hidden
    with part of its content; calling this again (the mark does not hide it
    from here) completes the deletion.
    """
    if db.groups.find_one_and_update({"_id": group_id}, {"$set": {"deleting": True}}) is None:
        raise NO_GROUP
    channel_ids = {doc["_id"] for doc in db.channels.find({"group_id": group_id}, {"_id": 1})}
    channel_ids |= {
        doc["_id"]
        for doc in db.conversations.find(
            {"group_id": group_id, "kind": ConversationKind.CHANNEL.value}, {"_id": 1}
        )
    }
    drop_conversations(db, sorted(channel_ids))
    for collection in ("channels", "members", "bans", "invites"):
        db[collection].delete_many({"group_id": group_id})
    db.groups.delete_one({"_id": group_id})


def delete_channel(db: Db, channel_id: str) -> None:
    """Remove the conversation, its messages and markers, then the channel.

    A crash leaves the channel listed with an empty history where appends fail
    (no conversation); deleting it again completes the job.
    """
    if db.channels.find_one({"_id": channel_id}, {"_id": 1}) is None:
        raise NotFound("no such channel", code="channel_not_found")
    drop_conversations(db, [channel_id])
    if db.channels.delete_one({"_id": channel_id}).deleted_count == 0:
        raise NotFound("no such channel", code="channel_not_found")  # a concurrent delete won


def ban(db: Db, group_id: str, user_id: str, by: str, now: int) -> None:
    """Record the ban, then remove the membership.

    Ban first: a join re-checks bans after inserting its member, so a join
    racing with this ban either sees the ban or is removed by the step below.
    A crash between the steps leaves a banned member, and banning again
    (idempotent) removes them.
    """
    require_group(db, group_id)
    result = db.bans.update_one(
        {"group_id": group_id, "user_id": user_id},
        {"$setOnInsert": {"banned_by": by, "created_at": now}},
        upsert=True,
    )
    db.members.delete_one({"group_id": group_id, "user_id": user_id})
    if not group_alive(db, group_id):
        if result.upserted_id is not None:
            db.bans.delete_one({"_id": result.upserted_id})
        raise NO_GROUP


def join_with_invite(db: Db, code: str, user_id: str, now: int) -> Member:
    """Check, take a use of the invite, insert the member, re-check; undo on failure.

    The use is taken with one conditional ``$inc`` (not revoked, uses below
    ``max_uses``), so an invite never admits more than ``max_uses`` members.
    A crash after taking the use and before inserting the member loses that
    one use: a limited invite may run out one join early. It never admits
    too many, a banned user, or anyone into a deleted group.
    """
    doc = db.invites.find_one({"_id": code})
    invite = invite_from_document(doc) if doc is not None else None
    if invite is None or not invite.usable(now) or not group_alive(db, invite.group_id):
        raise NotFound("this invite is unknown, expired or used up", code="invite_invalid")
    group_id = invite.group_id
    if _banned(db, group_id, user_id):
        raise Forbidden("you are banned from this group", code="banned")
    if db.members.find_one({"group_id": group_id, "user_id": user_id}, {"_id": 1}):
        raise Conflict("already a member of this group", code="already_member")
    usable: Document = {"_id": code, "revoked": False}
    if invite.max_uses is not None:
        usable["uses"] = {"$lt": invite.max_uses}
    if db.invites.find_one_and_update(usable, {"$inc": {"uses": 1}}) is None:
        raise NotFound("this invite is unknown, expired or used up", code="invite_invalid")
    member = Member(group_id=group_id, user_id=user_id, role=Role.MEMBER, joined_at=now)
    try:
        insert_member(db, member)
        if _banned(db, group_id, user_id):
            raise Forbidden("you are banned from this group", code="banned")
        if not group_alive(db, group_id):
            raise NotFound("this invite is unknown, expired or used up", code="invite_invalid")
    except Conflict:
        db.invites.update_one({"_id": code}, {"$inc": {"uses": -1}})
        raise
    except Exception:
        db.members.delete_one({"group_id": group_id, "user_id": user_id, "joined_at": now})
        db.invites.update_one({"_id": code}, {"$inc": {"uses": -1}})
        raise
    return member


def transfer_owner(db: Db, group_id: str, from_user: str, to_user: str) -> Document:
    """Promote the new owner, swap ``owner_id`` on the group, demote the old owner.

    The swap is conditional on ``owner_id == from_user``: of two concurrent
    transfers one wins and the other undoes its promotion. Crashes leave two
    members with role owner, never none: before the swap, the old owner still
    owns the group and can transfer again; after it, calling this again
    (``owner_id`` already ``to_user``, ``from_user`` still role owner) only
    finishes the demotion.
    """
    group = db.groups.find_one({"_id": group_id, **LIVE})
    if group is None:
        raise NO_GROUP
    if group["owner_id"] == to_user and _role(db, group_id, from_user) == Role.OWNER.value:
        _demote(db, group_id, from_user)  # resume a transfer a crash interrupted
        return group
    if group["owner_id"] != from_user:
        raise Conflict("the group is not owned by this user", code="not_owner")
    before = db.members.find_one_and_update(
        {"group_id": group_id, "user_id": to_user}, {"$set": {"role": Role.OWNER.value}}
    )
    if before is None:
        raise NotFound("the new owner is not a member", code="not_member")
    swapped = db.groups.find_one_and_update(
        {"_id": group_id, "owner_id": from_user, **LIVE},
        {"$set": {"owner_id": to_user}},
        return_document=ReturnDocument.AFTER,
    )
    if swapped is None:
        if before["role"] != Role.OWNER.value:
            db.members.update_one(
                {"group_id": group_id, "user_id": to_user, "role": Role.OWNER.value},
                {"$set": {"role": before["role"]}},
            )
        raise Conflict("the group is not owned by this user", code="not_owner")
    _demote(db, group_id, from_user)
    return swapped


def _demote(db: Db, group_id: str, user_id: str) -> None:
    db.members.update_one(
        {"group_id": group_id, "user_id": user_id, "role": Role.OWNER.value},
        {"$set": {"role": Role.ADMIN.value}},
    )


def _role(db: Db, group_id: str, user_id: str) -> str | None:
    doc = db.members.find_one({"group_id": group_id, "user_id": user_id}, {"role": 1})
    return doc["role"] if doc is not None else None


def _banned(db: Db, group_id: str, user_id: str) -> bool:
    return db.bans.find_one({"group_id": group_id, "user_id": user_id}, {"_id": 1}) is not None


def invite_from_document(doc: Document) -> Invite:
    """An invite as the model has it."""
    return Invite(
        code=doc["_id"],
        group_id=doc["group_id"],
        created_by=doc["created_by"],
        created_at=doc["created_at"],
        expires_at=doc.get("expires_at"),
        max_uses=doc.get("max_uses"),
        uses=doc.get("uses", 0),
        revoked=bool(doc.get("revoked", False)),
    )
