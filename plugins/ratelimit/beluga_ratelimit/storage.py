"""Where rate-limit counters live: the ``Storage`` protocol and the in-memory backend.

Every backend keeps, per key, the same three numbers: the current window's number (``bucket``),
its count (``c``) and the previous window's count (``p``). A fixed window reads only ``c``; the
sliding window weights ``p`` by how much of the previous window still overlaps the last
``window`` seconds. The state is the same for both, so a reload may switch strategy.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Literal, NamedTuple, Protocol, runtime_checkable

from beluga_core import StorageUnavailable
from beluga_redis import REDIS_SCHEMES, URL_FORMS, FailureMode, mask_url

Strategy = Literal["fixed", "sliding"]


class Decision(NamedTuple):
    """The answer to one acquire or peek.

    ``retry_after`` is seconds until ``cost`` could be admitted (0 when allowed; None when the cost
    exceeds the limit itself and never can be). ``bucket`` identifies the window charged, for
    settling; ``degraded`` is True when storage was down and the decision is the failure mode's.
    """

    allowed: bool
    remaining: int
    retry_after: float | None
    bucket: int
    degraded: bool = False


@runtime_checkable
class Storage(Protocol):
    """What a counter backend implements, sync and async. ``now`` is seconds (None: the backend's clock)."""

    url: str

    def acquire(self, key: str, limit: int, window: float, cost: int, sliding: bool, now: float | None) -> Decision: ...

    async def aacquire(
        self, key: str, limit: int, window: float, cost: int, sliding: bool, now: float | None
    ) -> Decision: ...

    def peek(self, key: str, limit: int, window: float, sliding: bool, now: float | None) -> Decision: ...

    async def apeek(self, key: str, limit: int, window: float, sliding: bool, now: float | None) -> Decision: ...

    def adjust(self, key: str, window: float, bucket: int, delta: int, sliding: bool, now: float | None) -> None: ...

    async def aadjust(
        self, key: str, window: float, bucket: int, delta: int, sliding: bool, now: float | None
    ) -> None: ...

    def clear(self, key: str) -> None: ...

    async def aclear(self, key: str) -> None: ...

    def close(self) -> None: ...

    async def aclose(self) -> None: ...


def sliding_retry_after(p: float, c: float, cost: float, limit: float, window: float, elapsed: float) -> float | None:
    """Seconds until ``cost`` fits under a sliding-window counter, assuming no other hits meanwhile."""
    if cost > limit:
        return None
    if c + cost <= limit:
        if p <= 0:
            return 0.0
        return max(0.0, window * (1.0 - (limit - c - cost) / p) - elapsed)
    # Not within this window: in the next one the current count becomes the previous one.
    return (window - elapsed) + max(0.0, window * (1.0 - (limit - cost) / c))


def _counts(entry: list[float] | None, bucket: int) -> tuple[float, float]:
    """(this window's count, the previous window's) for an entry ``[bucket, count, previous, ttl]``."""
    if entry is None:
        return 0.0, 0.0
    if entry[0] == bucket:
        return entry[1], entry[2]
    return 0.0, (entry[1] if entry[0] == bucket - 1 else 0.0)


class MemoryStorage:
    """Counters in this process: thread- and asyncio-safe (one short lock, never held across an await).

    Bounded: every ``sweep_interval`` seconds (by the clock in use) entries whose windows have ended
    are dropped; past ``max_keys`` entries a sweep runs at once and, if still full, the oldest
    entries are evicted (their counts restart, so size ``max_keys`` above your number of live keys).
    """

    url = "memory://"

    def __init__(
        self,
        *,
        max_keys: int = 100_000,
        sweep_interval: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_keys = max_keys
        self.sweep_interval = sweep_interval
        self._clock = clock
        self._lock = threading.Lock()
        # key -> [bucket, current count, previous count, expires at]
        self._data: dict[str, list[float]] = {}
        self._next_sweep = 0.0

    def __len__(self) -> int:
        return len(self._data)

    def acquire(self, key: str, limit: int, window: float, cost: int, sliding: bool, now: float | None) -> Decision:
        if now is None:
            now = self._clock()
        bucket = int(now // window)
        with self._lock:
            if now >= self._next_sweep:
                self._sweep(now)
            e = self._data.get(key)
            c, p = _counts(e, bucket)
            elapsed = now - bucket * window
            used = p * (window - elapsed) / window + c if sliding else c
            if used + cost <= limit:
                c += cost
                ttl = (bucket + (2 if sliding else 1)) * window
                if e is None:
                    if len(self._data) >= self.max_keys:
                        self._make_room(now)
                    self._data[key] = [bucket, c, p, ttl]
                else:
                    e[0], e[1], e[2], e[3] = bucket, c, p, ttl
                return Decision(True, int(limit - used - cost), 0.0, bucket)
        if sliding:
            retry = sliding_retry_after(p, c, cost, limit, window, elapsed)
        else:
            retry = None if cost > limit else (bucket + 1) * window - now
        return Decision(False, max(0, int(limit - used)), retry, bucket)

    async def aacquire(
        self, key: str, limit: int, window: float, cost: int, sliding: bool, now: float | None
    ) -> Decision:
        return self.acquire(key, limit, window, cost, sliding, now)

    def peek(self, key: str, limit: int, window: float, sliding: bool, now: float | None) -> Decision:
        if now is None:
            now = self._clock()
        bucket = int(now // window)
        with self._lock:
            c, p = _counts(self._data.get(key), bucket)
        elapsed = now - bucket * window
        used = p * (window - elapsed) / window + c if sliding else c
        remaining = max(0, math.floor(limit - used))
        if remaining >= 1:
            return Decision(True, remaining, 0.0, bucket)
        retry = sliding_retry_after(p, c, 1, limit, window, elapsed) if sliding else (bucket + 1) * window - now
        return Decision(False, 0, retry, bucket)

    async def apeek(self, key: str, limit: int, window: float, sliding: bool, now: float | None) -> Decision:
        return self.peek(key, limit, window, sliding, now)

    def adjust(self, key: str, window: float, bucket: int, delta: int, sliding: bool, now: float | None) -> None:
        """Refund (``delta`` < 0) into the window that was charged, or charge more to the current one."""
        if now is None:
            now = self._clock()
        current = int(now // window)
        with self._lock:
            e = self._data.get(key)
            if e is None:
                if delta <= 0:
                    return
                e = self._data[key] = [current, 0.0, 0.0, 0.0]
            elif e[0] != current:
                e[2] = e[1] if e[0] == current - 1 else 0.0
                e[0], e[1] = current, 0.0
            if delta < 0:
                if bucket == current:
                    e[1] = max(0.0, e[1] + delta)
                elif bucket == current - 1:
                    e[2] = max(0.0, e[2] + delta)
            else:
                e[1] += delta
            e[3] = (current + (2 if sliding else 1)) * window

    async def aadjust(
        self, key: str, window: float, bucket: int, delta: int, sliding: bool, now: float | None
    ) -> None:
        self.adjust(key, window, bucket, delta, sliding, now)

    def clear(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)

    async def aclear(self, key: str) -> None:
        self.clear(key)

    def _sweep(self, now: float) -> None:
        # Called with the lock held.
        self._next_sweep = now + self.sweep_interval
        dead = [k for k, e in self._data.items() if e[3] <= now]
        for k in dead:
            del self._data[k]

    def _make_room(self, now: float) -> None:
        # Called with the lock held, when full: drop ended windows, else the oldest tenth.
        self._sweep(now)
        if len(self._data) >= self.max_keys:
            for k in list(self._data)[: max(1, self.max_keys // 10)]:
                del self._data[k]

    def close(self) -> None:
        """Nothing to release; the counts stay (a closed limiter's storage may be shared)."""

    async def aclose(self) -> None:
        """Nothing to release."""

    def __repr__(self) -> str:
        return f"<MemoryStorage keys={len(self._data)}>"


def storage_from_url(
    url: str,
    *,
    failure_mode: FailureMode = "open",
    timeout: float = 0.5,
    recheck_interval: float = 1.0,
) -> Storage:
    """``memory://``, ``redis://[user:password@]host:port/db`` (also ``rediss://``, ``unix://``) or a
    Redis Cluster, ``redis+cluster://host:port`` (also ``rediss+cluster://``)."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme == "memory":
        return MemoryStorage()
    if scheme in REDIS_SCHEMES:
        from beluga_ratelimit.redis_storage import RedisStorage

        return RedisStorage(url, failure_mode=failure_mode, timeout=timeout, recheck_interval=recheck_interval)
    raise ValueError(f"unknown rate-limit storage {mask_url(url)!r}: use {URL_FORMS}")


__all__ = [
    "Decision",
    "FailureMode",
    "MemoryStorage",
    "Storage",
    "StorageUnavailable",
    "Strategy",
    "mask_url",
    "sliding_retry_after",
    "storage_from_url",
]
