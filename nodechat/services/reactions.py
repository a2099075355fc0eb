"""Emoji reactions: what an emoji may be, the per-message limit, and the event.

The rules the local message service applies (services/messages.py decides who
may react: whoever may read the conversation). A reaction is an emoji (one
grapheme-ish sequence of symbols, joiners and modifiers) or a ``:shortcode:``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import replace

from nodechat.bus import Event
from nodechat.errors import Conflict, InvalidRequest
from nodechat.models import Message
from nodechat.services.api import ReactionResult
from nodechat.storage.base import ReactionStore

MAX_EMOJI = 32  # characters (code points): room for a ZWJ family sequence
MAX_REACTIONS = 20  # distinct emoji per message
_SHORTCODE = re.compile(r":[a-z0-9_+-]{1,30}:")
_JOINERS = {"\u200d"}  # zero width joiner: the only format character an emoji uses
_KEYCAP = "\u20e3"


def _fits_emoji(emoji: str) -> bool:
    symbol = False
    for char in emoji:
        category = unicodedata.category(char)
        if char.isspace() or (category.startswith("C") and char not in _JOINERS):
            return False
        if char.isascii():
            if char.isalpha():
                return False
        elif category.startswith("S") or char == _KEYCAP:
            symbol = True
    return symbol


def check_emoji(emoji: str) -> str:
    """An emoji of 1-32 characters or a ``:shortcode:``; ``invalid_emoji`` otherwise."""
    if 1 <= len(emoji) <= MAX_EMOJI and (
        _SHORTCODE.fullmatch(emoji) is not None or _fits_emoji(emoji)
    ):
        return emoji
    raise InvalidRequest(
        f"emoji must be one emoji or a :shortcode: (at most {MAX_EMOJI} characters)",
        code="invalid_emoji",
        field="emoji",
    )


async def apply_reaction(
    reactions: ReactionStore,
    publish: Callable[[Event], Awaitable[None]],
    message: Message,
    user_id: str,
    emoji: str,
    *,
    add: bool,
    now: int,
) -> ReactionResult:
    """Add or remove one reaction, then ``publish`` ``message.reaction`` (to the
    conversation's audience) if it changed anything."""
    if add:
        if message.deleted:
            raise Conflict("this message was deleted", code="message_deleted")
        change = await reactions.add_reaction(
            message.id, emoji, user_id, now, max_distinct=MAX_REACTIONS
        )
    else:
        change = await reactions.remove_reaction(message.id, emoji, user_id)
    if change.changed:
        event = Event(
            "message.reaction",
            {
                "message_id": message.id,
                "conversation": message.conversation_id,
                "emoji": emoji,
                "user_id": user_id,
                "count": change.count,
                "added": add,
            },
        )
        await publish(event)
    return ReactionResult(
        message.id, message.conversation_id, emoji, change.count, add, change.changed
    )


async def with_reactions(
    reactions: ReactionStore, messages: list[Message], viewer_id: str
) -> list[Message]:
    """The messages with their reactions as ``viewer_id`` sees them."""
    found = await reactions.reactions([m.id for m in messages if not m.deleted], viewer_id)
    if not found:
        return messages
    return [replace(m, reactions=found[m.id]) if m.id in found else m for m in messages]
