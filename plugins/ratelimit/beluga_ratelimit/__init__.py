"""Per-project rate limits for Beluga: requests and tokens per window, in memory or on Redis.

>>> from beluga_ratelimit import RateLimiter
>>> limiter = RateLimiter(60, 60)            # 60 requests a minute per key, in memory
>>> limiter.allow("project-123")
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from beluga_ratelimit.limiter import CostExceedsLimit, RateLimiter, Reservation
from beluga_ratelimit.plugin import RateLimitPlugin, RateLimitSettings
from beluga_ratelimit.storage import (
    Decision,
    FailureMode,
    MemoryStorage,
    Storage,
    StorageUnavailable,
    Strategy,
    mask_url,
    storage_from_url,
)

if TYPE_CHECKING:
    from beluga_ratelimit.redis_storage import RedisStorage


def __getattr__(name: str) -> object:
    # RedisStorage imports the redis client; load it only when asked for.
    if name == "RedisStorage":
        from beluga_ratelimit.redis_storage import RedisStorage

        return RedisStorage
    raise AttributeError(f"module 'beluga_ratelimit' has no attribute {name!r}")


__all__ = [
    "CostExceedsLimit",
    "Decision",
    "FailureMode",
    "MemoryStorage",
    "RateLimitPlugin",
    "RateLimitSettings",
    "RateLimiter",
    "RedisStorage",
    "Reservation",
    "Storage",
    "StorageUnavailable",
    "Strategy",
    "mask_url",
    "storage_from_url",
]
