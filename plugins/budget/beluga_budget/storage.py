"""Where spend is kept: the ``Ledger`` protocol, the periods it is kept by, and the in-memory ledger.

Per key value (a project) and period (a UTC day, a UTC month) a ledger keeps two numbers in whole
nano-dollars: ``spent`` (settled calls) and ``held`` (reservations of calls in flight). A
reservation is admitted only while ``spent + held + amount`` stays within every limit; settling
releases it and adds what the call cost.
"""

from __future__ import annotations

import calendar
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import NamedTuple, Protocol, runtime_checkable

import attrs

from beluga_redis import REDIS_SCHEMES, URL_FORMS, FailureMode, mask_url

#: Seconds a period's record is kept after the period ends (so yesterday's spend can still be read).
GRACE = 86_400.0


class Periods(NamedTuple):
    """The UTC day (``"20261206"``) and month (``"202612"``) an instant falls in, and when each ends."""

    day: str
    month: str
    day_ends: float
    month_ends: float

    @classmethod
    def at(cls, now: float) -> Periods:
        t = datetime.fromtimestamp(now, UTC)
        day_start = calendar.timegm((t.year, t.month, t.day, 0, 0, 0))
        next_month = (t.year + 1, 1) if t.month == 12 else (t.year, t.month + 1)
        month_ends = calendar.timegm((*next_month, 1, 0, 0, 0))
        return cls(f"{t.year:04d}{t.month:02d}{t.day:02d}", f"{t.year:04d}{t.month:02d}", day_start + 86_400.0,
                   float(month_ends))


@attrs.frozen(slots=True)
class Hold:
    """What a reservation holds: settle it with ``Ledger.settle``. ``degraded``: storage was down and
    the reservation was admitted unchecked (nothing is held)."""

    key: str
    amount: int
    periods: Periods
    degraded: bool = False


class Verdict(NamedTuple):
    """The answer to a reservation. ``period`` names the limit that refused it (``"day"``/``"month"``);
    ``day``/``month`` are the nano-dollars used (spent + held) in each period, this reservation
    included when admitted."""

    allowed: bool
    period: str
    day: int
    month: int
    degraded: bool = False


class Spend(NamedTuple):
    """One key's spend in today's and this month's period, nano-dollars (settled, and held by calls
    in flight)."""

    key: str
    day: int
    day_held: int
    month: int
    month_held: int


@runtime_checkable
class Ledger(Protocol):
    """What a spend backend implements. Limits are nano-dollars; -1 means no limit."""

    url: str

    def reserve(self, key: str, amount: int, day_limit: int, month_limit: int, periods: Periods) -> Verdict: ...

    async def areserve(self, key: str, amount: int, day_limit: int, month_limit: int, periods: Periods) -> Verdict: ...

    def settle(self, hold: Hold, actual: int) -> None: ...

    async def asettle(self, hold: Hold, actual: int) -> None: ...

    def spend(self, periods: Periods) -> list[Spend]: ...

    def close(self) -> None: ...

    async def aclose(self) -> None: ...


class MemoryLedger:
    """Spend in this process: thread- and asyncio-safe (one short lock, never held across an await).

    Bounded: records of ended periods are dropped when a key is next touched and by a sweep every
    ``sweep_interval`` seconds; past ``max_keys`` keys the oldest are forgotten (their spend starts
    again from zero, so size ``max_keys`` above your number of projects).
    """

    url = "memory://"

    def __init__(self, *, max_keys: int = 100_000, sweep_interval: float = 600.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.max_keys = max_keys
        self.sweep_interval = sweep_interval
        self._clock = clock
        self._lock = threading.Lock()
        # key -> [day, day spent, day held, month, month spent, month held]
        self._data: dict[str, list[str | int]] = {}
        self._next_sweep = 0.0

    def __len__(self) -> int:
        return len(self._data)

    def _entry(self, key: str, periods: Periods, create: bool) -> list[str | int] | None:
        # Called with the lock held.
        e = self._data.get(key)
        if e is None:
            if not create:
                return None
            if len(self._data) >= self.max_keys:
                self._make_room(periods)
            e = self._data[key] = [periods.day, 0, 0, periods.month, 0, 0]
            return e
        if e[0] != periods.day:
            e[0], e[1], e[2] = periods.day, 0, 0
        if e[3] != periods.month:
            e[3], e[4], e[5] = periods.month, 0, 0
        return e

    def reserve(self, key: str, amount: int, day_limit: int, month_limit: int, periods: Periods) -> Verdict:
        with self._lock:
            now = self._clock()
            if now >= self._next_sweep:
                self._sweep(periods, now)
            e = self._entry(key, periods, True)
            assert e is not None
            day = int(e[1]) + int(e[2])
            month = int(e[4]) + int(e[5])
            if 0 <= day_limit < day + amount:
                return Verdict(False, "day", day, month)
            if 0 <= month_limit < month + amount:
                return Verdict(False, "month", day, month)
            e[2] = int(e[2]) + amount
            e[5] = int(e[5]) + amount
            return Verdict(True, "", day + amount, month + amount)

    async def areserve(self, key: str, amount: int, day_limit: int, month_limit: int, periods: Periods) -> Verdict:
        return self.reserve(key, amount, day_limit, month_limit, periods)

    def settle(self, hold: Hold, actual: int) -> None:
        """Release what ``hold`` held in its periods and add ``actual`` to their spend."""
        held = 0 if hold.degraded else hold.amount
        p = hold.periods
        with self._lock:
            e = self._data.get(hold.key)
            if e is None:
                if actual <= 0:
                    return
                e = self._data[hold.key] = [p.day, 0, 0, p.month, 0, 0]
            if e[0] == p.day:
                e[1], e[2] = int(e[1]) + actual, max(0, int(e[2]) - held)
            if e[3] == p.month:
                e[4], e[5] = int(e[4]) + actual, max(0, int(e[5]) - held)

    async def asettle(self, hold: Hold, actual: int) -> None:
        self.settle(hold, actual)

    def spend(self, periods: Periods) -> list[Spend]:
        with self._lock:
            rows = list(self._data.items())
        out = []
        for key, e in rows:
            day = (int(e[1]), int(e[2])) if e[0] == periods.day else (0, 0)
            month = (int(e[4]), int(e[5])) if e[3] == periods.month else (0, 0)
            if any(day) or any(month):
                out.append(Spend(key, day[0], day[1], month[0], month[1]))
        return sorted(out)

    def _sweep(self, periods: Periods, now: float) -> None:
        # Called with the lock held: drop keys with nothing in the current month.
        self._next_sweep = now + self.sweep_interval
        dead = [k for k, e in self._data.items() if e[3] != periods.month]
        for k in dead:
            del self._data[k]

    def _make_room(self, periods: Periods) -> None:
        self._sweep(periods, self._clock())
        if len(self._data) >= self.max_keys:
            for k in list(self._data)[: max(1, self.max_keys // 10)]:
                del self._data[k]

    def close(self) -> None:
        """Nothing to release."""

    async def aclose(self) -> None:
        """Nothing to release."""

    def __repr__(self) -> str:
        return f"<MemoryLedger keys={len(self._data)}>"


def ledger_from_url(
    url: str,
    *,
    failure_mode: FailureMode = "open",
    timeout: float = 0.5,
    recheck_interval: float = 1.0,
    key_prefix: str = "beluga:budget:",
    clock: Callable[[], float] = time.time,
) -> Ledger:
    """``memory://``, ``redis://[user:password@]host:port/db`` (also ``rediss://``, ``unix://``) or a
    Redis Cluster, ``redis+cluster://host:port`` (also ``rediss+cluster://``)."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme == "memory":
        return MemoryLedger(clock=clock)
    if scheme in REDIS_SCHEMES:
        from beluga_budget.redis_storage import RedisLedger

        return RedisLedger(url, failure_mode=failure_mode, timeout=timeout, recheck_interval=recheck_interval,
                           key_prefix=key_prefix, clock=clock)
    raise ValueError(f"unknown budget storage {mask_url(url)!r}: use {URL_FORMS}")


__all__ = ["GRACE", "Hold", "Ledger", "MemoryLedger", "Periods", "Spend", "Verdict", "ledger_from_url"]
