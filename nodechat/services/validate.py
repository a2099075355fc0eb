"""Field rules shared by the services: one place that says what a valid name is."""

from __future__ import annotations

from nodechat.errors import InvalidRequest


def text(
    value: str,
    field: str,
    *,
    min_len: int = 1,
    max_len: int,
    code: str | None = None,
    single_line: bool = True,
) -> str:
    """Trim and check a human-entered string."""
    cleaned = value.strip()
    if not min_len <= len(cleaned) <= max_len:
        raise InvalidRequest(
            f"{field} must be {min_len}-{max_len} characters",
            code=code or f"invalid_{field}",
            field=field,
        )
    if single_line and any(ch in cleaned for ch in "\r\n\x00"):
        raise InvalidRequest(
            f"{field} must be a single line", code=code or f"invalid_{field}", field=field
        )
    return cleaned


def bounded_int(value: int | None, field: str, *, low: int, high: int) -> int | None:
    """Check an optional integer range."""
    if value is not None and not low <= value <= high:
        raise InvalidRequest(f"{field} must be between {low} and {high}", field=field)
    return value
