"""Where answers are kept: the ``CacheStorage`` protocol and the bounded in-memory LRU."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol, runtime_checkable

#: What an entry costs beyond its value and key (the dict slot, the tuple, the bytes headers).
ENTRY_OVERHEAD = 160


@runtime_checkable
class CacheStorage(Protocol):
    """A key-value store of encoded answers with a time to live. ``aget`` gives None for a miss;
    a storage that cannot be reached answers as its failure mode says (a miss, or an error)."""

    url: str

    async def aget(self, key: str) -> bytes | None: ...

    async def aset(self, key: str, value: bytes, ttl: float) -> bool:
        """Store ``value`` for ``ttl`` seconds; False when it was not stored (too large, storage down)."""
        ...

    def close(self) -> None: ...

    async def aclose(self) -> None: ...


class MemoryCache:
    """This process's cache: at most ``max_entries`` answers and ``max_bytes`` bytes (values, keys
    and a fixed overhead per entry), the least recently used evicted first; entries past their
    time to live read as misses and are dropped. Thread-safe (a lock held for dict operations only)."""

    url = "memory://"

    def __init__(
        self, max_entries: int = 10_000, max_bytes: int = 64 << 20, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_entries < 1 or max_bytes < 1:
            raise ValueError("MemoryCache needs max_entries >= 1 and max_bytes >= 1")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._clock = clock
        self._entries: OrderedDict[str, tuple[bytes, float]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @staticmethod
    def _size(key: str, value: bytes) -> int:
        return len(value) + len(key) + ENTRY_OVERHEAD

    def get(self, key: str) -> bytes | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            value, expires = entry
            if expires <= self._clock():
                del self._entries[key]
                self._bytes -= self._size(key, value)
                return None
            self._entries.move_to_end(key)
            return value

    def set(self, key: str, value: bytes, ttl: float) -> bool:
        size = self._size(key, value)
        if size > self.max_bytes:
            return False  # larger than the whole cache: never stored
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= self._size(key, old[0])
            self._entries[key] = (value, self._clock() + ttl)
            self._bytes += size
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                k, (v, _) = self._entries.popitem(last=False)
                self._bytes -= self._size(k, v)
        return True

    async def aget(self, key: str) -> bytes | None:
        return self.get(key)

    async def aset(self, key: str, value: bytes, ttl: float) -> bool:
        return self.set(key, value, ttl)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def nbytes(self) -> int:
        """What the entries count for against ``max_bytes``."""
        return self._bytes

    def close(self) -> None:
        self.clear()

    async def aclose(self) -> None:
        self.clear()

    def __repr__(self) -> str:
        return f"<MemoryCache {len(self)}/{self.max_entries} entries, {self._bytes}/{self.max_bytes} bytes>"


__all__ = ["ENTRY_OVERHEAD", "CacheStorage", "MemoryCache"]
