"""Who hears about a user: the topics of their groups and of their direct-conversation peers."""

from __future__ import annotations

from nodechat.bus import group_topic, user_topic
from nodechat.storage.base import Store


async def audience_topics(store: Store, user_id: str) -> list[str]:
    """Topics that reach everyone who shares a group or a direct conversation with the user."""
    topics = [group_topic(g) for g in await store.groups.member_group_ids(user_id)]
    for conversation in await store.messages.list_direct(user_id):
        topics += [user_topic(p) for p in conversation.participants if p != user_id]
    return topics
