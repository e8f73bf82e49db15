"""Answers on Redis or Redis Cluster, shared by every process that uses the same storage.

Each lookup is one round trip (a ``GET`` in a Lua script, by ``EVALSHA``) and each store one more
(``SET`` with ``PX``, the time to live in milliseconds). Each touches a single key, so on a Redis
Cluster it goes to the node that owns that key's slot; redirections and failovers are the cluster
client's. The connections, the scripts and the outage policy are ``beluga_redis``'s.
"""

from __future__ import annotations

from typing import Any

from beluga_redis import FailureMode, RedisBackend, Script

_GET = Script("return redis.call('GET', KEYS[1])")
_SET = Script("redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1")


class RedisCache:
    """Encoded answers on ``redis://``, ``rediss://``, ``unix://``, ``redis+cluster://`` or
    ``rediss+cluster://`` storage, each with its time to live.

    While Redis cannot be reached, ``failure_mode`` decides: ``"open"`` reads every lookup as a miss
    (the model answers; nothing is stored), ``"closed"`` raises ``StorageUnavailable`` from lookups.
    After a failure Redis is left alone for ``recheck_interval`` seconds. Passwords never show.
    """

    def __init__(
        self,
        url: str,
        *,
        failure_mode: FailureMode = "open",
        timeout: float = 0.25,
        recheck_interval: float = 1.0,
        **client_options: Any,
    ) -> None:
        self.backend = RedisBackend(
            url,
            plugin="cache",
            failure_mode=failure_mode,
            timeout=timeout,
            recheck_interval=recheck_interval,
            **client_options,
        )
        self.url = self.backend.url  # masked

    async def aget(self, key: str) -> bytes | None:
        reply = await self.backend.arun(_GET, (key,))
        return reply if isinstance(reply, bytes) else None

    async def aset(self, key: str, value: bytes, ttl: float) -> bool:
        reply = await self.backend.arun(_SET, (key,), value, max(1, round(ttl * 1000)), decides=False)  # type: ignore[arg-type]
        return bool(reply == 1)  # None: Redis is down and the answer was dropped

    def get(self, key: str) -> bytes | None:
        reply = self.backend.run(_GET, (key,))
        return reply if isinstance(reply, bytes) else None

    def set(self, key: str, value: bytes, ttl: float) -> bool:
        reply = self.backend.run(_SET, (key,), value, max(1, round(ttl * 1000)), decides=False)  # type: ignore[arg-type]
        return bool(reply == 1)

    @property
    def available(self) -> bool:
        """False while an outage is known (the last round trip failed)."""
        return bool(self.backend.available)

    def close(self) -> None:
        self.backend.close()

    async def aclose(self) -> None:
        await self.backend.aclose()

    def __repr__(self) -> str:
        return f"<RedisCache {self.url} failure_mode={self.backend.failure_mode}>"


__all__ = ["RedisCache"]
