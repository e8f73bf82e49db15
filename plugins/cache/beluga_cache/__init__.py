"""An exact-match response cache for Beluga: per project, in memory (bounded, LRU) or on Redis.

>>> from beluga_cache import MemoryCache
>>> cache = MemoryCache(max_entries=2)
>>> cache.set("a", b"1", ttl=60); cache.set("b", b"2", ttl=60); cache.set("c", b"3", ttl=60)
>>> cache.get("a") is None, cache.get("c")
(True, b'3')
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from beluga_cache.keys import canonical, request_digest
from beluga_cache.plugin import CachePlugin, CacheSettings, directives, storage_from_settings
from beluga_cache.storage import CacheStorage, MemoryCache

if TYPE_CHECKING:
    from beluga_cache.redis_storage import RedisCache


def __getattr__(name: str) -> object:
    # RedisCache imports the redis client; load it only when asked for.
    if name == "RedisCache":
        from beluga_cache.redis_storage import RedisCache

        return RedisCache
    raise AttributeError(f"module 'beluga_cache' has no attribute {name!r}")


__all__ = [
    "CachePlugin",
    "CacheSettings",
    "CacheStorage",
    "MemoryCache",
    "RedisCache",
    "canonical",
    "directives",
    "request_digest",
    "storage_from_settings",
]
