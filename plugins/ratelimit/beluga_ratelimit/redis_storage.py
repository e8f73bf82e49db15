"""Rate-limit counters on Redis, shared by every process and machine that uses the same server
(or the same Redis Cluster).

One round trip per decision: each operation is one Lua script run atomically on the server
(``EVALSHA`` of a cached script; on ``NOSCRIPT``, after a restart or failover, ``EVAL`` once,
which caches it again). Each key is one hash ``{b, c, p}`` that expires (``PEXPIRE``) when its
windows have ended. Time is the server's (``TIME``) unless the limiter injects a clock, so
processes with skewed clocks still agree on window boundaries. Every script reads and writes one
key, so on a Redis Cluster it runs on the node that owns that key's slot.
"""

from __future__ import annotations

from typing import Any

from beluga_ratelimit.storage import Decision, FailureMode
from beluga_redis import OUTAGE_ERRORS, RedisBackend, Script

# Each key is a hash of window number -> count, holding the current and the previous window.
# Arguments travel as one space-separated string and answers come back as one (fewer values to
# encode and parse per round trip); "-" for now means the server's time (TIME).
_COMMON = """
local function server_now(given)
  local now = tonumber(given)
  if now then return now end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- First count in a window: set the key's expiry and drop windows that no longer count.
local function new_window(bucket, window, sliding, now)
  local life = window
  if sliding then life = 2 * window end
  redis.call('PEXPIRE', KEYS[1], bucket * window + life - now)
  for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
    if tonumber(f) < bucket - 1 then redis.call('HDEL', KEYS[1], f) end
  end
end
local function retry_after(limit, window, sliding, c, p, cost, elapsed, bucket, now)
  if cost > limit then return -1 end
  local r
  if not sliding then
    r = (bucket + 1) * window - now
  elseif c + cost <= limit then
    r = math.max(0, window * (1 - (limit - c - cost) / p) - elapsed)
  else
    r = (window - elapsed) + math.max(0, window * (1 - (limit - cost) / c))
  end
  return math.ceil(r)
end
"""

# "limit window_ms cost sliding(0/1) now_ms" -> "allowed remaining bucket retry_after_ms(-1: never)"
# The hot path, written out flat (no closures): a fixed window admits with one HINCRBY, taken back
# if it overshot; a sliding window reads both windows first.
ACQUIRE = """
local limit, window, cost, sliding, now = string.match(ARGV[1], '(%d+) (%d+) (%d+) (%d) (%S+)')
limit, window, cost, now = tonumber(limit), tonumber(window), tonumber(cost), tonumber(now)
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local bucket = math.floor(now / window)
local c, p, used
if sliding == '0' then
  if cost <= limit then
    c = redis.call('HINCRBY', KEYS[1], bucket, cost)
    if c <= limit then
      if c == cost then
        redis.call('PEXPIRE', KEYS[1], (bucket + 1) * window - now)
        for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
          if tonumber(f) < bucket - 1 then redis.call('HDEL', KEYS[1], f) end
        end
      end
      return string.format('1 %d %d 0', limit - c, bucket)
    end
    redis.call('HINCRBY', KEYS[1], bucket, -cost)
    return string.format('0 %d %d %d', math.max(0, limit - c + cost), bucket, (bucket + 1) * window - now)
  end
  c = tonumber(redis.call('HGET', KEYS[1], bucket)) or 0
  return string.format('0 %d %d -1', math.max(0, limit - c), bucket)
end
local elapsed = now - bucket * window
local s = redis.call('HMGET', KEYS[1], bucket, bucket - 1)
c, p = tonumber(s[1]) or 0, tonumber(s[2]) or 0
used = c + p * (window - elapsed) / window
if used + cost <= limit then
  redis.call('HINCRBY', KEYS[1], bucket, cost)
  if c == 0 then
    redis.call('PEXPIRE', KEYS[1], (bucket + 2) * window - now)
    for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
      if tonumber(f) < bucket - 1 then redis.call('HDEL', KEYS[1], f) end
    end
  end
  return string.format('1 %d %d 0', math.floor(limit - used - cost), bucket)
end
local r = -1
if cost <= limit then
  if c + cost <= limit then
    r = math.max(0, window * (1 - (limit - c - cost) / p) - elapsed)
  else
    r = (window - elapsed) + math.max(0, window * (1 - (limit - cost) / c))
  end
  r = math.ceil(r)
end
return string.format('0 %d %d %d', math.max(0, math.floor(limit - used)), bucket, r)
"""

# "limit window_ms sliding now_ms" -> "remaining bucket retry_after_ms"
PEEK = (
    _COMMON
    + """
local limit, window, sliding, given = string.match(ARGV[1], '(%d+) (%d+) (%d) (%S+)')
limit, window, sliding = tonumber(limit), tonumber(window), sliding == '1'
local now = server_now(given)
local bucket = math.floor(now / window)
local elapsed = now - bucket * window
local s = redis.call('HMGET', KEYS[1], bucket, bucket - 1)
local c, p = tonumber(s[1]) or 0, tonumber(s[2]) or 0
local used = c
if sliding then used = c + p * (window - elapsed) / window end
local remaining = math.max(0, math.floor(limit - used))
if remaining >= 1 then return string.format('%d %d 0', remaining, bucket) end
return string.format('0 %d %d', bucket, retry_after(limit, window, sliding, c, p, 1, elapsed, bucket, now))
"""
)

# "window_ms charged_bucket delta sliding now_ms" -> 1 if applied. A refund goes to the window
# charged (dropped once that window no longer counts); an extra charge to the current window.
ADJUST = (
    _COMMON
    + """
local window, charged, delta, sliding, given = string.match(ARGV[1], '(%d+) (%d+) (%-?%d+) (%d) (%S+)')
window, charged, delta, sliding = tonumber(window), tonumber(charged), tonumber(delta), sliding == '1'
local now = server_now(given)
local bucket = math.floor(now / window)
if delta < 0 then
  if charged ~= bucket and charged ~= bucket - 1 then return 0 end
  local v = tonumber(redis.call('HGET', KEYS[1], charged))
  if not v then return 0 end
  redis.call('HSET', KEYS[1], charged, math.max(0, v + delta))
  return 1
end
local c = redis.call('HINCRBY', KEYS[1], bucket, delta)
if c == delta then new_window(bucket, window, sliding, now) end
return 1
"""
)


_ACQUIRE, _PEEK, _ADJUST = Script(ACQUIRE), Script(PEEK), Script(ADJUST)


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


class RedisStorage:
    """Counters on a Redis server (``redis://[user:password@]host:port/db``) or a Redis Cluster
    (``redis+cluster://host:port``).

    ``failure_mode`` decides what happens while Redis cannot be reached: ``"open"`` admits every
    request (one warning per outage), ``"closed"`` denies (``StorageUnavailable``). After a failure
    the server is left alone for ``recheck_interval`` seconds (decisions are the failure mode's,
    without waiting on a socket), then tried again; the first success logs the recovery.
    ``timeout`` bounds connecting and each round trip. Every script touches one key (one slot).
    """

    def __init__(
        self,
        url: str,
        *,
        failure_mode: FailureMode = "open",
        timeout: float = 0.5,
        recheck_interval: float = 1.0,
        **client_options: Any,
    ) -> None:
        self._redis = RedisBackend(
            url,
            plugin="ratelimit",
            failure_mode=failure_mode,
            timeout=timeout,
            recheck_interval=recheck_interval,
            **client_options,
        )
        self.url = self._redis.url
        self.failure_mode: FailureMode = failure_mode
        self.timeout = timeout

    @property
    def recheck_interval(self) -> float:
        """Seconds after a failure during which the failure mode decides without trying Redis."""
        return self._redis.recheck_interval

    @recheck_interval.setter
    def recheck_interval(self, seconds: float) -> None:
        self._redis.recheck_interval = seconds

    @property
    def outage_decisions(self) -> int:
        """Requests decided by the failure mode (admitted or denied) in the current or last outage."""
        return self._redis.outage_decisions

    @property
    def available(self) -> bool:
        """False while an outage is known (the last attempt failed)."""
        return self._redis.available

    # -- operations ----------------------------------------------------------------------------
    @staticmethod
    def _now(now: float | None) -> str:
        return "-" if now is None else str(_ms(now))

    @staticmethod
    def _acquired(reply: bytes | None, limit: int) -> Decision:
        if reply is None:  # storage down, failing open
            return Decision(True, limit, 0.0, -1, degraded=True)
        allowed, remaining, bucket, retry = reply.split()
        if allowed == b"1":
            return Decision(True, int(remaining), 0.0, int(bucket))
        wait = int(retry)
        return Decision(False, int(remaining), None if wait < 0 else wait / 1000.0, int(bucket))

    @staticmethod
    def _peeked(reply: bytes | None, limit: int) -> Decision:
        if reply is None:
            return Decision(True, limit, 0.0, -1, degraded=True)
        remaining_, bucket, retry = reply.split()
        remaining = int(remaining_)
        return Decision(remaining >= 1, remaining, 0.0 if remaining >= 1 else int(retry) / 1000.0, int(bucket))

    def acquire(self, key: str, limit: int, window: float, cost: int, sliding: bool, now: float | None) -> Decision:
        args = f"{limit} {_ms(window)} {cost} {1 if sliding else 0} {self._now(now)}"
        return self._acquired(self._redis.run(_ACQUIRE, (key,), args), limit)

    async def aacquire(
        self, key: str, limit: int, window: float, cost: int, sliding: bool, now: float | None
    ) -> Decision:
        args = f"{limit} {_ms(window)} {cost} {1 if sliding else 0} {self._now(now)}"
        return self._acquired(await self._redis.arun(_ACQUIRE, (key,), args), limit)

    def peek(self, key: str, limit: int, window: float, sliding: bool, now: float | None) -> Decision:
        args = f"{limit} {_ms(window)} {1 if sliding else 0} {self._now(now)}"
        return self._peeked(self._redis.run(_PEEK, (key,), args), limit)

    async def apeek(self, key: str, limit: int, window: float, sliding: bool, now: float | None) -> Decision:
        args = f"{limit} {_ms(window)} {1 if sliding else 0} {self._now(now)}"
        return self._peeked(await self._redis.arun(_PEEK, (key,), args), limit)

    def adjust(self, key: str, window: float, bucket: int, delta: int, sliding: bool, now: float | None) -> None:
        """Refund into the charged window or charge more; during an outage the change is dropped."""
        if bucket < 0 or delta == 0:
            return
        args = f"{_ms(window)} {bucket} {delta} {1 if sliding else 0} {self._now(now)}"
        self._redis.run(_ADJUST, (key,), args, decides=False)

    async def aadjust(
        self, key: str, window: float, bucket: int, delta: int, sliding: bool, now: float | None
    ) -> None:
        if bucket < 0 or delta == 0:
            return
        args = f"{_ms(window)} {bucket} {delta} {1 if sliding else 0} {self._now(now)}"
        await self._redis.arun(_ADJUST, (key,), args, decides=False)

    def clear(self, key: str) -> None:
        self._redis.client().delete(key)

    async def aclear(self, key: str) -> None:
        await self._redis.aclient().delete(key)

    # -- lifecycle -----------------------------------------------------------------------------
    def close(self) -> None:
        """Close the sync client, and the async clients of event loops that are not running.

        Call it from the thread that used the limiter (an idle loop is run briefly to close its client).
        """
        self._redis.close()

    async def aclose(self) -> None:
        """Close this loop's async client, then what ``close`` closes."""
        await self._redis.aclose()

    def __repr__(self) -> str:
        return f"<RedisStorage {self.url} failure_mode={self.failure_mode}>"


__all__ = ["OUTAGE_ERRORS", "RedisStorage"]
