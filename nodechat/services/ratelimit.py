"""Rate limiters: plain Python, no I/O, with an injectable monotonic clock.

:class:`FailureLimiter` counts failures per key (an account, an address) in a
sliding window; :class:`TokenBucket` limits a steady request rate with bursts.
Neither is thread-safe: use them from one event loop.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable

from nodechat.errors import RateLimited

Clock = Callable[[], float]

DEFAULT_MAX_KEYS = 100_000


class FailureLimiter:
    """At most ``max_failures`` failures per key within ``window`` seconds.

    Memory is bounded: a key holds at most ``max_failures`` timestamps, keys
    whose failures have all aged out are pruned as new ones arrive, and past
    ``max_keys`` the least recently failed key is dropped.
    """

    def __init__(
        self,
        max_failures: int,
        window: float,
        *,
        max_keys: int = DEFAULT_MAX_KEYS,
        code: str | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        if max_failures < 1 or window <= 0 or max_keys < 1:
            raise ValueError("max_failures, window and max_keys must be positive")
        self.max_failures = max_failures
        self.window = float(window)
        self.max_keys = max_keys
        self._code = code
        self._clock = clock
        # key -> failure times, oldest first; the dict is ordered by last failure.
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._failures)

    def _live(self, key: str, now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        cutoff = now - self.window
        while times and times[0] <= cutoff:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` may try again; 0.0 if it may now."""
        now = self._clock()
        times = self._live(key, now)
        if times is None or len(times) < self.max_failures:
            return 0.0
        return max(times[0] + self.window - now, 0.0)

    def check(self, key: str) -> None:
        """Raise ``RateLimited`` if ``key`` has used up its failures."""
        wait = self.retry_after(key)
        if wait > 0:
            raise RateLimited(
                "too many failed attempts; try again later", retry_after=wait, code=self._code
            )

    def record_failure(self, key: str) -> float:
        """Count a failure for ``key``; return its timestamp (for :meth:`forgive`)."""
        now = self._clock()
        self._prune(now)
        times = self._failures.get(key)
        if times is None:
            times = self._failures[key] = deque(maxlen=self.max_failures)
        else:
            self._failures.move_to_end(key)
        times.append(now)
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)
        return now

    def forgive(self, key: str, stamp: float) -> None:
        """Take back one failure recorded at ``stamp`` (it turned out not to be one)."""
        times = self._failures.get(key)
        if times is None:
            return
        try:
            times.remove(stamp)
        except ValueError:
            return
        if not times:
            del self._failures[key]

    def reset(self, key: str) -> None:
        """Forget every failure of ``key`` (after a success)."""
        self._failures.pop(key, None)

    def _prune(self, now: float) -> None:
        # Keys are ordered by their last failure, so the stale ones are at the front.
        cutoff = now - self.window
        while self._failures:
            key, times = next(iter(self._failures.items()))
            if times and times[-1] > cutoff:
                break
            del self._failures[key]


class LockoutBackoff:
    """After ``max_failures`` failures of a key within ``window`` seconds, the key is
    locked out for ``base`` seconds, then twice as long after each further lockout
    (up to ``cap``); a success (:meth:`reset`) clears it.

    Memory is bounded: past ``max_keys`` the least recently failed key is dropped.
    """

    def __init__(
        self,
        max_failures: int,
        window: float,
        *,
        base: float,
        cap: float,
        max_keys: int = DEFAULT_MAX_KEYS,
        code: str | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        if max_failures < 1 or window <= 0 or base <= 0 or cap < base or max_keys < 1:
            raise ValueError("max_failures, window, base, cap and max_keys must be positive")
        self.max_failures = max_failures
        self.window = float(window)
        self.base = float(base)
        self.cap = float(cap)
        self.max_keys = max_keys
        self._code = code
        self._clock = clock
        # key -> [failures since the last lockout, first of them at, lockouts, locked until]
        self._keys: OrderedDict[str, list[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._keys)

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` may try again; 0.0 if it may now."""
        entry = self._keys.get(key)
        return 0.0 if entry is None else max(entry[3] - self._clock(), 0.0)

    def check(self, key: str) -> None:
        """Raise ``RateLimited`` while ``key`` is locked out."""
        wait = self.retry_after(key)
        if wait > 0:
            raise RateLimited(
                "too many failed attempts; try again later", retry_after=wait, code=self._code
            )

    def record_failure(self, key: str) -> None:
        """Count a failure for ``key``; lock it out when it reaches ``max_failures``."""
        now = self._clock()
        entry = self._keys.get(key)
        if entry is None:
            entry = self._keys[key] = [0.0, now, 0.0, 0.0]
        else:
            self._keys.move_to_end(key)
        if now - entry[1] > self.window:  # the earlier failures have aged out
            entry[0], entry[1] = 0.0, now
            if now > entry[3] + self.cap:  # and so has its history of lockouts
                entry[2] = 0.0
        entry[0] += 1
        if entry[0] >= self.max_failures:
            entry[2] += 1
            entry[3] = now + min(self.cap, self.base * 2 ** (entry[2] - 1))
            entry[0], entry[1] = 0.0, now
        while len(self._keys) > self.max_keys:
            self._keys.popitem(last=False)

    def reset(self, key: str) -> None:
        """Forget ``key`` (after a success)."""
        self._keys.pop(key, None)


class TokenBucket:
    """``rate`` tokens per second, holding at most ``burst``; starts full."""

    __slots__ = ("rate", "burst", "_clock", "_tokens", "_at")  # two per connection

    def __init__(self, rate: float, burst: float, *, clock: Clock = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = float(rate)
        self.burst = float(burst)
        self._clock = clock
        self._tokens = self.burst
        self._at = clock()

    def _refill(self) -> float:
        now = self._clock()
        elapsed = max(now - self._at, 0.0)
        self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
        self._at = now
        return self._tokens

    @property
    def tokens(self) -> float:
        """Tokens available now."""
        return self._refill()

    def take(self, n: float = 1) -> bool:
        """Spend ``n`` tokens if available; False (nothing spent) otherwise."""
        if self._refill() >= n:
            self._tokens -= n
            return True
        return False

    def retry_after(self, n: float = 1) -> float:
        """Seconds until ``n`` tokens are available (0.0 if they are now; inf if never)."""
        missing = n - self._refill()
        if missing <= 0:
            return 0.0
        if n > self.burst:
            return float("inf")
        return missing / self.rate


__all__ = ["FailureLimiter", "TokenBucket"]
