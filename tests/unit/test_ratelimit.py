"""Failure limiter and token bucket, driven by a fake clock."""

from __future__ import annotations

import math

import pytest

from nodechat.errors import RateLimited
from nodechat.services.ratelimit import FailureLimiter, LockoutBackoff, TokenBucket


class FakeClock:
    """Monotonic seconds that only move when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_blocks_after_max_failures_until_window_passes(clock: FakeClock) -> None:
    limiter = FailureLimiter(3, 60, code="too_many_login_attempts", clock=clock)
    for _ in range(2):
        limiter.record_failure("alice")
        clock.now += 10
    limiter.check("alice")  # 2 failures: still allowed
    limiter.record_failure("alice")  # failures at 1000, 1010, 1020
    with pytest.raises(RateLimited) as info:
        limiter.check("alice")
    assert info.value.code == "too_many_login_attempts"
    assert info.value.retry_after == pytest.approx(40.0)  # the first one ages out at 1060
    assert info.value.to_dict()["retry_after"] == 40.0
    limiter.check("bob")  # other keys are unaffected
    clock.now = 1059.9
    assert limiter.retry_after("alice") == pytest.approx(0.1)
    clock.now = 1060.0
    limiter.check("alice")  # sliding window: one failure aged out
    assert limiter.retry_after("alice") == 0.0


def test_reset_and_forgive(clock: FakeClock) -> None:
    limiter = FailureLimiter(2, 60, clock=clock)
    limiter.record_failure("k")
    limiter.record_failure("k")
    with pytest.raises(RateLimited):
        limiter.check("k")
    limiter.reset("k")
    limiter.check("k")
    assert len(limiter) == 0

    limiter.record_failure("k")
    clock.now += 1
    stamp = limiter.record_failure("k")
    limiter.forgive("k", stamp)
    limiter.check("k")
    limiter.forgive("k", 12345.0)  # unknown stamp: no effect, no error
    limiter.forgive("nobody", stamp)
    limiter.record_failure("k")
    with pytest.raises(RateLimited):
        limiter.check("k")


def test_default_code_is_rate_limited(clock: FakeClock) -> None:
    limiter = FailureLimiter(1, 5, clock=clock)
    limiter.record_failure("k")
    with pytest.raises(RateLimited) as info:
        limiter.check("k")
    assert info.value.code == "rate_limited"


def test_memory_per_key_is_bounded(clock: FakeClock) -> None:
    limiter = FailureLimiter(3, 60, clock=clock)
    for _ in range(1000):
        limiter.record_failure("k")
    assert len(limiter._failures["k"]) == 3


def test_stale_keys_are_pruned(clock: FakeClock) -> None:
    limiter = FailureLimiter(3, 60, clock=clock)
    for i in range(100):
        limiter.record_failure(f"old{i}")
    clock.now += 61
    limiter.record_failure("new")
    assert len(limiter) == 1


def test_key_count_is_capped_dropping_oldest(clock: FakeClock) -> None:
    limiter = FailureLimiter(1, 3600, max_keys=10, clock=clock)
    for i in range(25):
        limiter.record_failure(f"k{i}")
        clock.now += 1
    assert len(limiter) == 10
    limiter.check("k0")  # dropped: allowed again
    with pytest.raises(RateLimited):
        limiter.check("k24")


def test_recent_failure_keeps_key_from_being_dropped(clock: FakeClock) -> None:
    limiter = FailureLimiter(1, 3600, max_keys=2, clock=clock)
    limiter.record_failure("a")
    limiter.record_failure("b")
    limiter.record_failure("a")  # a is now the most recent
    limiter.record_failure("c")  # drops b, the least recently failed
    assert limiter.retry_after("a") > 0
    assert limiter.retry_after("b") == 0.0


def test_invalid_parameters() -> None:
    with pytest.raises(ValueError):
        FailureLimiter(0, 60)
    with pytest.raises(ValueError):
        FailureLimiter(1, 0)
    with pytest.raises(ValueError):
        TokenBucket(0, 10)
    with pytest.raises(ValueError):
        TokenBucket(1, 0)


def test_token_bucket_burst_then_rate(clock: FakeClock) -> None:
    bucket = TokenBucket(rate=2, burst=4, clock=clock)
    assert all(bucket.take() for _ in range(4))
    assert not bucket.take()
    assert bucket.retry_after() == pytest.approx(0.5)
    clock.now += 0.25
    assert not bucket.take()
    assert bucket.retry_after() == pytest.approx(0.25)
    clock.now += 0.25
    assert bucket.take()
    assert not bucket.take()
    clock.now += 100  # refills to the burst, not beyond
    assert bucket.tokens == pytest.approx(4)
    assert bucket.take(3)
    assert not bucket.take(2)  # a failed take spends nothing
    assert bucket.take(1)


def test_token_bucket_retry_after(clock: FakeClock) -> None:
    bucket = TokenBucket(rate=10, burst=5, clock=clock)
    assert bucket.retry_after() == 0.0
    assert bucket.take(5)
    assert bucket.retry_after(3) == pytest.approx(0.3)
    assert math.isinf(bucket.retry_after(6))  # more than the bucket can ever hold


def test_token_bucket_ignores_clock_going_backwards(clock: FakeClock) -> None:
    bucket = TokenBucket(rate=1, burst=1, clock=clock)
    assert bucket.take()
    clock.now -= 10
    assert not bucket.take()
    clock.now += 1
    assert bucket.take()


def test_lockout_backoff_doubles_is_capped_bounded_and_cleared() -> None:
    clock = FakeClock()
    limiter = LockoutBackoff(2, 60, base=10, cap=25, max_keys=2, clock=clock)
    for expected in (10, 20, 25):  # doubling, up to the cap
        limiter.record_failure("k")
        limiter.record_failure("k")
        assert limiter.retry_after("k") == expected
        with pytest.raises(RateLimited):
            limiter.check("k")
        clock.now += expected
        limiter.check("k")
    limiter.reset("k")
    limiter.record_failure("k")
    limiter.record_failure("k")
    assert limiter.retry_after("k") == 10  # a success forgot the history
    for key in ("a", "b", "c"):
        limiter.record_failure(key)
    assert len(limiter) == 2  # the least recently failed key was dropped
