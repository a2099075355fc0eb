"""nodechat: a chat server for communities, in one command or split into services."""

__version__ = "0.1.0"

__all__ = ["__version__"]
