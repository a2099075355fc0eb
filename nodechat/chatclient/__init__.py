"""The chat client library: a session that owns the connection and a pure state model.

The terminal client (``nodechat chat``) and the tests use it; widgets never do I/O.
"""

from nodechat.chatclient.commands import SlashCommand, parse_command
from nodechat.chatclient.profiles import Profile, ProfileStore
from nodechat.chatclient.session import ChatSession, normalize_url
from nodechat.chatclient.state import (
    Change,
    ChatState,
    Conversation,
    Group,
    Message,
    Notice,
    SidebarEntry,
)

__all__ = [
    "Change",
    "ChatSession",
    "ChatState",
    "Conversation",
    "Group",
    "Message",
    "Notice",
    "Profile",
    "ProfileStore",
    "SidebarEntry",
    "SlashCommand",
    "normalize_url",
    "parse_command",
]
