"""Help output: no ``<bool>`` placeholder after flags such as ``--help`` and ``--yes``.

Typer's rich help prints every option's value type, flags included, so every
command listed ``--help <bool>`` as if it took a value. A flag takes none, so
its type column stays empty; options that take a value keep their metavar.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperOption

_type_column = TyperOption.display_type_rich


def _flag_aware(self: TyperOption, ctx: Any) -> str | None:
    if self.is_flag:
        return None
    result: str | None = _type_column(self, ctx)
    return result


def install() -> None:
    """Patch typer's option type column once (idempotent)."""
    TyperOption.display_type_rich = _flag_aware  # type: ignore[method-assign]
