"""Settings and fixtures every test shares.

Hypothesis: CI runs on two busy cores, often with another worker of this suite
beside it, so generating inputs can be slow through no fault of the code under
test. The ``nodechat`` profile turns off the per-example deadline and the
"too slow" health checks; everything that checks correctness stays on.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from hypothesis import HealthCheck, settings
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from redis.exceptions import RedisError

from tests.redis_server import private_redis  # noqa: F401  (a fixture for every test)

settings.register_profile(
    "nodechat",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example],
    print_blob=True,
)
settings.load_profile("nodechat")


# -- Redis (bus, presence, node registry) ----------------------------------------

REDIS_URL = os.environ.get("NODECHAT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_url() -> str:
    """The test Redis; skipped locally when it is down, a failure in CI (``CI=true``)."""
    client = SyncRedis.from_url(REDIS_URL, socket_connect_timeout=1.0, socket_timeout=1.0)
    try:
        client.ping()
    except (RedisError, OSError) as exc:
        message = f"no Redis at {REDIS_URL} ({exc})"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A fresh key and channel prefix; its keys are deleted after the test."""
    prefix = f"nodechat-test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = SyncRedis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
async def redis_admin(redis_url: str) -> AsyncIterator[Redis]:
    """A separate client for what a test does behind the backends' backs."""
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()
