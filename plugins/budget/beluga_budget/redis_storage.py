"""Spend on Redis (one server or a Redis Cluster), exact across every process and machine sharing it.

A key value's day and month records are two hashes ``{s: spent, h: held, k: key value}``, named
``<prefix>{<hash of the key value>}:d:<YYYYMMDD>`` and ``...:m:<YYYYMM>``: the hash tag puts both
on one cluster slot, so each reservation and settlement is one Lua script run atomically on the node
that owns them (one round trip). The key value itself is never part of a Redis key; it is stored in
the record (``k``) for ``beluga spend``. Records expire a day after their period ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from beluga_budget.storage import GRACE, Hold, Periods, Spend, Verdict
from beluga_redis import FailureMode, RedisBackend, Script, hash_tag

# KEYS: day, month. ARGV: amount, day limit, month limit (-1: none), day ttl ms, month ttl ms, key value.
# -> {allowed 1/0, refused by 0 none / 1 day / 2 month, day used, month used}
RESERVE = Script("""
local amount, dl, ml = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local d = redis.call('HMGET', KEYS[1], 's', 'h')
local m = redis.call('HMGET', KEYS[2], 's', 'h')
local du = (tonumber(d[1]) or 0) + (tonumber(d[2]) or 0)
local mu = (tonumber(m[1]) or 0) + (tonumber(m[2]) or 0)
if dl >= 0 and du + amount > dl then return {0, 1, du, mu} end
if ml >= 0 and mu + amount > ml then return {0, 2, du, mu} end
if redis.call('HSETNX', KEYS[1], 'k', ARGV[6]) == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
if redis.call('HSETNX', KEYS[2], 'k', ARGV[6]) == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[5]) end
redis.call('HINCRBY', KEYS[1], 'h', amount)
redis.call('HINCRBY', KEYS[2], 'h', amount)
return {1, 0, du + amount, mu + amount}
""")

# KEYS: day, month. ARGV: held, actual, day ttl ms, month ttl ms, key value. Releases the hold
# (never below zero) and adds the cost, in the periods the call was reserved in.
SETTLE = Script("""
local held, actual = tonumber(ARGV[1]), tonumber(ARGV[2])
for i = 1, 2 do
  if redis.call('HSETNX', KEYS[i], 'k', ARGV[5]) == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[2 + i]) end
  if held > 0 then
    if redis.call('HINCRBY', KEYS[i], 'h', -held) < 0 then redis.call('HSET', KEYS[i], 'h', 0) end
  end
  if actual > 0 then redis.call('HINCRBY', KEYS[i], 's', actual) end
end
return 1
""")


class RedisLedger:
    """Spend records on Redis (``redis://...``) or a Redis Cluster (``redis+cluster://...``).

    ``failure_mode`` decides while Redis cannot be reached: ``"open"`` admits calls unchecked (one
    warning per outage; their cost is recorded if Redis is back when they settle), ``"closed"``
    refuses them with ``StorageUnavailable``. ``clock`` (seconds) gives the periods' boundaries.
    """

    def __init__(
        self,
        url: str,
        *,
        failure_mode: FailureMode = "open",
        timeout: float = 0.5,
        recheck_interval: float = 1.0,
        key_prefix: str = "beluga:budget:",
        clock: Callable[[], float] = time.time,
        **client_options: Any,
    ) -> None:
        self.redis = RedisBackend(url, plugin="budget", failure_mode=failure_mode, timeout=timeout,
                                  recheck_interval=recheck_interval, **client_options)
        self.url = self.redis.url
        self.failure_mode: FailureMode = failure_mode
        self.key_prefix = key_prefix
        self._clock = clock

    def keys(self, key: str, periods: Periods) -> tuple[str, str]:
        """The day and month record names of ``key`` (one hash tag: one cluster slot)."""
        base = f"{self.key_prefix}{hash_tag(key)}"
        return f"{base}:d:{periods.day}", f"{base}:m:{periods.month}"

    def _ttls(self, periods: Periods) -> tuple[int, int]:
        now = self._clock()
        return (max(1, round((periods.day_ends + GRACE - now) * 1000)),
                max(1, round((periods.month_ends + GRACE - now) * 1000)))

    @staticmethod
    def _verdict(reply: Any, amount: int) -> Verdict:
        if reply is None:  # storage down, failing open
            return Verdict(True, "", 0, 0, degraded=True)
        allowed, refused, day, month = (int(v) for v in reply)
        return Verdict(allowed == 1, ("", "day", "month")[refused], day, month)

    def reserve(self, key: str, amount: int, day_limit: int, month_limit: int, periods: Periods) -> Verdict:
        dttl, mttl = self._ttls(periods)
        reply = self.redis.run(RESERVE, self.keys(key, periods), amount, day_limit, month_limit, dttl, mttl, key)
        return self._verdict(reply, amount)

    async def areserve(self, key: str, amount: int, day_limit: int, month_limit: int, periods: Periods) -> Verdict:
        dttl, mttl = self._ttls(periods)
        reply = await self.redis.arun(RESERVE, self.keys(key, periods), amount, day_limit, month_limit, dttl, mttl,
                                      key)
        return self._verdict(reply, amount)

    def _settle_args(self, hold: Hold, actual: int) -> tuple[Any, ...]:
        dttl, mttl = self._ttls(hold.periods)
        return 0 if hold.degraded else hold.amount, max(0, actual), dttl, mttl, hold.key

    def settle(self, hold: Hold, actual: int) -> None:
        """Release the hold and add ``actual``; during an outage the settlement is dropped."""
        if hold.amount <= 0 and actual <= 0:
            return
        self.redis.run(SETTLE, self.keys(hold.key, hold.periods), *self._settle_args(hold, actual), decides=False)

    async def asettle(self, hold: Hold, actual: int) -> None:
        if hold.amount <= 0 and actual <= 0:
            return
        await self.redis.arun(SETTLE, self.keys(hold.key, hold.periods), *self._settle_args(hold, actual),
                              decides=False)

    def spend(self, periods: Periods) -> list[Spend]:
        """Every key's spend in ``periods`` (a SCAN over every node; for reports, not the request path)."""
        client = self.redis.client()
        found: dict[str, list[int]] = {}
        for suffix, at in ((f":d:{periods.day}", 0), (f":m:{periods.month}", 2)):
            for name in client.scan_iter(match=f"{_glob_escape(self.key_prefix)}*{suffix}", count=500):
                key, spent, held = client.hmget(name, "k", "s", "h")
                if key is None:
                    continue
                row = found.setdefault(key.decode("utf-8", "replace"), [0, 0, 0, 0])
                row[at], row[at + 1] = int(spent or 0), int(held or 0)
        return sorted(Spend(k, *v) for k, v in found.items())

    def close(self) -> None:
        self.redis.close()

    async def aclose(self) -> None:
        await self.redis.aclose()

    def __repr__(self) -> str:
        return f"<RedisLedger {self.url} failure_mode={self.failure_mode}>"


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


__all__ = ["RESERVE", "SETTLE", "RedisLedger"]
