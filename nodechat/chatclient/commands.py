"""Slash commands typed in the compose box, parsed without side effects."""

from __future__ import annotations

from dataclasses import dataclass

from nodechat.errors import InvalidRequest

# name -> (argument hint, help line)
COMMANDS: dict[str, tuple[str, str]] = {
    "join": ("CODE", "join a group with an invite code"),
    "invite": ("", "create an invite code for the current group"),
    "group": ("new NAME", "create a group"),
    "channel": ("new NAME [voice]", "create a channel in the current group"),
    "dm": ("USER", "open a direct conversation"),
    "leave": ("", "leave the current group"),
    "mute": ("", "mute or unmute notifications of this conversation"),
    "notify": ("all|mentions|none", "what notifies in this conversation"),
    "dnd": ("[on|off]", "do not disturb: counters only, no bell or notifications"),
    "voice": (
        "[join|leave|mute|deafen]",
        "join or leave the current voice channel; mute or deafen yourself (F6, F7)",
    ),
    "members": ("", "show or hide the member list"),
    "pins": ("", "list the pinned messages of this conversation"),
    "search": ("[here] WORDS", "search all you can read on the server (here: this conversation)"),
    "attach": ("PATH", "upload a file and send it here"),
    "save": ("[PATH]", "save the chosen (or latest) message's file; s on a message"),
    "logout": ("", "log out and forget the saved session"),
    "help": ("", "keys and commands"),
}


@dataclass(frozen=True)
class SlashCommand:
    """A parsed ``/name args``."""

    name: str
    args: tuple[str, ...] = ()

    @property
    def rest(self) -> str:
        """The arguments joined back with spaces."""
        return " ".join(self.args)


def parse_command(text: str) -> SlashCommand | None:
    """``/join abc`` -> SlashCommand("join", ("abc",)); None if not a command.

    ``//text`` is not a command (it sends ``/text``). Unknown names and missing
    arguments raise :class:`InvalidRequest` with a message fit for the user.
    """
    text = text.strip()
    if not text.startswith("/") or text.startswith("//"):
        return None
    name, *args = text[1:].split()
    name = name.lower()
    if name not in COMMANDS:
        raise InvalidRequest(f"unknown command /{name}; try /help", code="unknown_command")
    needs = {"join": 1, "dm": 1, "notify": 1, "search": 1, "attach": 1}
    if name in ("group", "channel"):
        if len(args) < 2 or args[0].lower() != "new":
            raise InvalidRequest(f"usage: /{name} {COMMANDS[name][0]}", code="bad_command")
    elif len(args) < needs.get(name, 0):
        raise InvalidRequest(f"usage: /{name} {COMMANDS[name][0]}", code="bad_command")
    if name == "notify" and args[0].lower() not in ("all", "mentions", "none"):
        raise InvalidRequest(f"usage: /notify {COMMANDS[name][0]}", code="bad_command")
    if name == "dnd" and args and args[0].lower() not in ("on", "off"):
        raise InvalidRequest(f"usage: /dnd {COMMANDS[name][0]}", code="bad_command")
    return SlashCommand(name, tuple(args))


def help_lines() -> list[str]:
    """One line per command, for the help screen."""
    return [f"/{name} {hint}".strip().ljust(24) + text for name, (hint, text) in COMMANDS.items()]
