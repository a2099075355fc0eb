"""The integration fixtures: a real ``serve`` node on port 0 and real, signed-up clients."""

from tests.integration.conftest import node, signup  # noqa: F401
