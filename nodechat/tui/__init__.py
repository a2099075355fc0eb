"""The Textual terminal client (``nodechat chat``)."""
