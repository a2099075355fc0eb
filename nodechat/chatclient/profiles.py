"""Saved client profiles: server URL, username and refresh token, one file each, mode 0600.

Files live in ``platformdirs.user_config_dir("nodechat")/profiles/<name>.json``
(``~/.config/nodechat/profiles/`` on Linux, honouring ``XDG_CONFIG_HOME``). The
refresh token is a credential, so the file is created owner-only and replaced
atomically; the access token is never written.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from platformdirs import user_config_dir

from nodechat.errors import InvalidRequest
from nodechat.files import write_private_json

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class Profile:
    """One saved login."""

    name: str
    server: str
    username: str = ""
    refresh_token: str | None = None
    muted: tuple[str, ...] = field(default=())
    last_conversation: str | None = None  # reopened on the next start
    notify: tuple[tuple[str, str], ...] = field(default=())  # (conversation, level) not default
    dnd: bool = False  # do not disturb


def default_root() -> Path:
    """Where profiles live for this OS user."""
    return Path(user_config_dir("nodechat")) / "profiles"


class ProfileStore:
    """Reads and writes profile files under one directory."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root if root is not None else default_root()

    def path(self, name: str) -> Path:
        """The file of profile ``name``."""
        if not _NAME.match(name):
            raise InvalidRequest(f"bad profile name {name!r}", code="invalid_profile")
        return self.root / f"{name}.json"

    def load(self, name: str) -> Profile | None:
        """The saved profile, or None if absent or unreadable."""
        try:
            raw = json.loads(self.path(name).read_text(encoding="utf-8"))
            return Profile(
                name=name,
                server=str(raw["server"]),
                username=str(raw.get("username") or ""),
                refresh_token=raw.get("refresh_token") or None,
                muted=tuple(str(m) for m in raw.get("muted") or ()),
                last_conversation=raw.get("last_conversation") or None,
                notify=tuple(
                    sorted((str(c), str(v)) for c, v in (raw.get("notify") or {}).items())
                ),
                dnd=bool(raw.get("dnd")),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, profile: Profile) -> Path:
        """Write the profile owner-only (0600), atomically."""
        target = self.path(profile.name)
        data = asdict(profile)
        data.pop("name")
        data["muted"] = list(profile.muted)
        data["notify"] = dict(profile.notify)
        write_private_json(target, data)
        return target

    def forget_token(self, name: str) -> None:
        """Drop the refresh token (logout), keeping server and username."""
        profile = self.load(name)
        if profile is not None:
            self.save(replace(profile, refresh_token=None))
