"""Rate-limit counters on Redis, shared by every process and machine that uses the same server.

One round trip per decision: each operation is one Lua script run atomically on the server
(``EVALSHA`` of a cached script; on ``NOSCRIPT``, after a restart or failover, ``EVAL`` once,
which caches it again). Each key is one hash ``{b, c, p}`` that expires (``PEXPIRE``) when its
windows have ended. Time is the server's (``TIME``) unless the limiter injects a clock, so
processes with skewed clocks still agree on window boundaries.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
import redis.asyncio
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, ReadOnlyError
from redis.retry import Retry

from beluga_core import get_logger
from beluga_ratelimit.storage import Decision, FailureMode, StorageUnavailable, mask_url

log = get_logger("beluga.ratelimit")

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


class _Script:
    __slots__ = ("sha", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.sha = hashlib.sha1(text.encode()).hexdigest()


_ACQUIRE, _PEEK, _ADJUST = _Script(ACQUIRE), _Script(PEEK), _Script(ADJUST)

#: Errors that mean "the storage is not there right now" (as opposed to a bug in a request).
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    ReadOnlyError,
    OSError,
)


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


class RedisStorage:
    """Counters on a Redis server (``redis://[user:password@]host:port/db``).

    ``failure_mode`` decides what happens while Redis cannot be reached: ``"open"`` admits every
    request (one warning per outage), ``"closed"`` denies (``StorageUnavailable``). After a failure
    the server is left alone for ``recheck_interval`` seconds (decisions are the failure mode's,
    without waiting on a socket), then tried again; the first success logs the recovery.
    ``timeout`` bounds connecting and each round trip.
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
        if failure_mode not in ("open", "closed"):
            raise ValueError(f"failure_mode must be 'open' or 'closed', got {failure_mode!r}")
        self._url = url
        self.url = mask_url(url)
        self.failure_mode: FailureMode = failure_mode
        self.recheck_interval = recheck_interval
        self.timeout = timeout
        self._options: dict[str, Any] = {
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            **client_options,
        }
        self._sync: redis.Redis | None = None
        self._local = threading.local()
        self._held: list[Any] = []
        self._afree: dict[redis.asyncio.Redis, list[Any]] = {}
        self._async: dict[asyncio.AbstractEventLoop, redis.asyncio.Redis] = {}
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._outage = False
        self._outage_since = 0.0
        self._outage_decisions = 0  # decisions made by the failure mode during the current outage

    # -- clients -------------------------------------------------------------------------------
    def _client(self) -> redis.Redis:
        client = self._sync
        if client is None:
            with self._lock:
                if self._sync is None:
                    retry = Retry(NoBackoff(), 1, supported_errors=(redis.exceptions.ConnectionError,))
                    self._sync = redis.Redis.from_url(self._url, retry=retry, **self._options)
                client = self._sync
        return client

    def _aclient(self) -> redis.asyncio.Redis:
        loop = asyncio.get_running_loop()
        client = self._async.get(loop)
        if client is None:
            retry = AsyncRetry(NoBackoff(), 1, supported_errors=(redis.exceptions.ConnectionError,))
            options = {**self._options, "socket_timeout": None}  # _aeval bounds each round trip itself
            client = redis.asyncio.Redis.from_url(self._url, retry=retry, **options)
            with self._lock:
                for old in [lp for lp in self._async if lp.is_closed()]:
                    self._afree.pop(self._async.pop(old), None)
                self._async[loop] = client
        return client

    def _conn(self) -> Any:
        # Each thread keeps one connection for its decisions: no pool checkout per round trip.
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._client().connection_pool.get_connection()
            self._local.conn = conn
            with self._lock:
                self._held.append(conn)
        return conn

    def _eval(self, script: _Script, key: str, args: str) -> Any:
        conn = self._conn()
        try:
            try:
                conn.send_command("EVALSHA", script.sha, 1, key, args, check_health=False)
                return conn.read_response()
            except redis.exceptions.ConnectionError:
                # A connection the server dropped (e.g. it restarted): reconnect once.
                conn.disconnect()
                conn.send_command("EVALSHA", script.sha, 1, key, args, check_health=False)
                return conn.read_response()
        except NoScriptError:
            conn.send_command("EVAL", script.text, 1, key, args, check_health=False)
            return conn.read_response()

    async def _aeval(self, script: _Script, key: str, args: str) -> Any:
        # Connections of this loop's client are kept on a free list: no pool checkout per round trip,
        # and as many connections as there are decisions in flight at once. One asyncio.timeout
        # bounds the round trip (the client's own socket_timeout would wrap every read and write
        # in a task of its own).
        client = self._aclient()
        free = self._afree.setdefault(client, [])
        conn = free.pop() if free else await client.connection_pool.get_connection()  # type: ignore[no-untyped-call]
        try:
            async with asyncio.timeout(self.timeout):
                try:
                    try:
                        await conn.send_command("EVALSHA", script.sha, 1, key, args, check_health=False)
                        reply = await conn.read_response()
                    except redis.exceptions.ConnectionError:
                        await conn.disconnect()  # dropped by the server (e.g. a restart): reconnect once
                        await conn.send_command("EVALSHA", script.sha, 1, key, args, check_health=False)
                        reply = await conn.read_response()
                except NoScriptError:
                    await conn.send_command("EVAL", script.text, 1, key, args, check_health=False)
                    reply = await conn.read_response()
        except BaseException:
            # A reply may still be on its way: never reuse this connection as it is.
            await conn.disconnect(nowait=True)
            await client.connection_pool.release(conn)
            raise
        free.append(conn)
        return reply

    # -- outages -------------------------------------------------------------------------------
    def _skipping(self) -> bool:
        return self._down_until != 0.0 and time.monotonic() < self._down_until

    def _failed(self, exc: BaseException) -> None:
        reason = f"{type(exc).__name__}: {exc}"
        with self._lock:
            self._down_until = time.monotonic() + self.recheck_interval
            first = not self._outage
            self._outage = True
            if first:
                self._outage_since = time.monotonic()
                self._outage_decisions = 0
        if first:
            action = "admitting" if self.failure_mode == "open" else "denying"
            log.warning(
                "ratelimit: storage %s is unreachable (%s); %s requests (fail %s) until it returns, retrying every %gs",
                self.url,
                reason,
                action,
                self.failure_mode,
                self.recheck_interval,
            )

    def _recovered(self) -> None:
        with self._lock:
            was, self._outage, self._down_until = self._outage, False, 0.0
            count, lasted = self._outage_decisions, time.monotonic() - self._outage_since
        if was:
            log.warning(
                "ratelimit: storage %s is reachable again after %.1fs; %d request(s) were %s meanwhile; "
                "limits are enforced",
                self.url,
                lasted,
                count,
                "admitted unchecked" if self.failure_mode == "open" else "denied",
            )

    @property
    def outage_decisions(self) -> int:
        """Requests decided by the failure mode (admitted or denied) in the current or last outage."""
        return self._outage_decisions

    def _fallback(self, limit: int, reason: str) -> Decision:
        self._outage_decisions += 1  # under the GIL; a count for the log, not an exact ledger
        if self.failure_mode == "open":
            return Decision(True, limit, 0.0, -1, degraded=True)
        raise StorageUnavailable(self.url, reason, plugin="ratelimit", retry_after=self.recheck_interval)

    @property
    def available(self) -> bool:
        """False while an outage is known (the last attempt failed)."""
        return not self._outage

    # -- operations ----------------------------------------------------------------------------
    @staticmethod
    def _now(now: float | None) -> str:
        return "-" if now is None else str(_ms(now))

    @staticmethod
    def _acquired(reply: bytes) -> Decision:
        allowed, remaining, bucket, retry = reply.split()
        if allowed == b"1":
            return Decision(True, int(remaining), 0.0, int(bucket))
        wait = int(retry)
        return Decision(False, int(remaining), None if wait < 0 else wait / 1000.0, int(bucket))

    @staticmethod
    def _peeked(reply: bytes) -> Decision:
        remaining_, bucket, retry = reply.split()
        remaining = int(remaining_)
        return Decision(remaining >= 1, remaining, 0.0 if remaining >= 1 else int(retry) / 1000.0, int(bucket))

    def _decide(self, script: _Script, key: str, args: str, limit: int, parse: Callable[[Any], Decision]) -> Decision:
        """Run a deciding script; during an outage (or on failure) decide by the fallback policy."""
        if self._outage and self._skipping():
            return self._fallback(limit, "still down")
        try:
            r = self._eval(script, key, args)
        except OUTAGE_ERRORS as exc:
            self._failed(exc)
            return self._fallback(limit, type(exc).__name__)
        if self._outage:
            self._recovered()
        return parse(r)

    async def _adecide(
        self, script: _Script, key: str, args: str, limit: int, parse: Callable[[Any], Decision]
    ) -> Decision:
        if self._outage and self._skipping():
            return self._fallback(limit, "still down")
        try:
            r = await self._aeval(script, key, args)
        except OUTAGE_ERRORS as exc:
            self._failed(exc)
            return self._fallback(limit, type(exc).__name__)
        if self._outage:
            self._recovered()
        return parse(r)

    def acquire(self, key: str, limit: int, window: float, cost: int, sliding: bool, now: float | None) -> Decision:
        args = f"{limit} {_ms(window)} {cost} {1 if sliding else 0} {self._now(now)}"
        return self._decide(_ACQUIRE, key, args, limit, self._acquired)

    async def aacquire(
        self, key: str, limit: int, window: float, cost: int, sliding: bool, now: float | None
    ) -> Decision:
        args = f"{limit} {_ms(window)} {cost} {1 if sliding else 0} {self._now(now)}"
        return await self._adecide(_ACQUIRE, key, args, limit, self._acquired)

    def peek(self, key: str, limit: int, window: float, sliding: bool, now: float | None) -> Decision:
        args = f"{limit} {_ms(window)} {1 if sliding else 0} {self._now(now)}"
        return self._decide(_PEEK, key, args, limit, self._peeked)

    async def apeek(self, key: str, limit: int, window: float, sliding: bool, now: float | None) -> Decision:
        args = f"{limit} {_ms(window)} {1 if sliding else 0} {self._now(now)}"
        return await self._adecide(_PEEK, key, args, limit, self._peeked)

    def adjust(self, key: str, window: float, bucket: int, delta: int, sliding: bool, now: float | None) -> None:
        """Refund into the charged window or charge more; during an outage the change is dropped."""
        if bucket < 0 or delta == 0 or (self._outage and self._skipping()):
            return
        try:
            self._eval(_ADJUST, key, f"{_ms(window)} {bucket} {delta} {1 if sliding else 0} {self._now(now)}")
        except OUTAGE_ERRORS as exc:
            self._failed(exc)

    async def aadjust(
        self, key: str, window: float, bucket: int, delta: int, sliding: bool, now: float | None
    ) -> None:
        if bucket < 0 or delta == 0 or (self._outage and self._skipping()):
            return
        try:
            await self._aeval(_ADJUST, key, f"{_ms(window)} {bucket} {delta} {1 if sliding else 0} {self._now(now)}")
        except OUTAGE_ERRORS as exc:
            self._failed(exc)

    def clear(self, key: str) -> None:
        self._client().delete(key)

    async def aclear(self, key: str) -> None:
        await self._aclient().delete(key)

    # -- lifecycle -----------------------------------------------------------------------------
    def close(self) -> None:
        """Close the sync client, and the async clients of event loops that are not running.

        Call it from the thread that used the limiter (an idle loop is run briefly to close its client).
        """
        with self._lock:
            client, self._sync = self._sync, None
            held, self._held = self._held, []
            self._local = threading.local()
            idle = [(lp, c) for lp, c in self._async.items() if not lp.is_running()]
            for lp, _ in idle:
                del self._async[lp]
        for conn in held:
            conn.disconnect()
        if client is not None:
            client.close()
        for lp, aclient in idle:
            free = self._afree.pop(aclient, [])
            if not lp.is_closed():
                lp.run_until_complete(_aclose(aclient, free))

    async def aclose(self) -> None:
        """Close this loop's async client, then what ``close`` closes."""
        loop = asyncio.get_running_loop()
        with self._lock:
            aclient = self._async.pop(loop, None)
        if aclient is not None:
            for conn in self._afree.pop(aclient, []):
                await aclient.connection_pool.release(conn)
            await aclient.aclose()
        self.close()

    def __repr__(self) -> str:
        return f"<RedisStorage {self.url} failure_mode={self.failure_mode}>"


async def _aclose(client: redis.asyncio.Redis, held: list[Any]) -> None:
    for conn in held:
        await client.connection_pool.release(conn)
    await client.aclose()


__all__ = ["OUTAGE_ERRORS", "RedisStorage"]
