"""Server-to-client WebSocket framing, done once per payload.

Server frames are never masked and nodechat negotiates no extensions, so a
text frame is a fixed header plus the payload: the same bytes can be written
to every recipient's transport. That is what makes fan-out cheap (see
docs/performance.md).
"""

from __future__ import annotations

import struct


def text_frame(payload: bytes) -> bytes:
    """A complete, unmasked, final text frame carrying ``payload``."""
    n = len(payload)
    if n < 126:
        header = bytes((0x81, n))
    elif n < 65536:
        header = struct.pack("!BBH", 0x81, 126, n)
    else:
        header = struct.pack("!BBQ", 0x81, 127, n)
    return header + payload
