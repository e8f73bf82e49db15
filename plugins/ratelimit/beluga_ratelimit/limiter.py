"""``RateLimiter``: at most ``limit`` units (requests or tokens) per ``window`` seconds, per key."""

from __future__ import annotations

from collections.abc import Callable

import attrs

from beluga_core import BelugaError, ErrorCode, RateLimited
from beluga_ratelimit.storage import (
    Decision,
    FailureMode,
    Storage,
    StorageUnavailable,
    Strategy,
    storage_from_url,
)


class CostExceedsLimit(BelugaError):
    """One request costs more than the whole limit, so no wait would ever admit it (not retryable)."""

    default_code = ErrorCode.INVALID_INPUT


@attrs.frozen(slots=True)
class Reservation:
    """What ``hit`` charged: settle it with ``RateLimiter.settle(reservation, actual_cost)``."""

    key: str
    cost: int
    bucket: int
    remaining: int


class RateLimiter:
    """Allow at most ``limit`` units per ``window`` seconds for each key.

    ``strategy="fixed"`` counts in windows aligned to the clock (``[0, w)``, ``[w, 2w)``, ...);
    ``"sliding"`` estimates the count over the last ``window`` seconds from the current and
    previous windows (see docs/ratelimit.md for its accuracy). ``storage`` is ``"memory://"``,
    ``"redis://host:port/db"`` or a ``Storage`` object (shared by several limiters).
    ``clock`` (seconds) replaces the storage's clock, for tests; Redis otherwise uses server time.

    >>> limiter = RateLimiter(2, 60)
    >>> limiter.allow("project-123"), limiter.allow("project-123"), limiter.allow("project-123")
    (True, True, False)
    """

    def __init__(
        self,
        limit: int,
        window: float = 60.0,
        storage: str | Storage = "memory://",
        *,
        strategy: Strategy = "fixed",
        key_prefix: str = "beluga:rl:",
        failure_mode: FailureMode = "open",
        clock: Callable[[], float] | None = None,
        name: str = "",
    ) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit!r}")
        if window <= 0:
            raise ValueError(f"window must be positive seconds, got {window!r}")
        if strategy not in ("fixed", "sliding"):
            raise ValueError(f"strategy must be 'fixed' or 'sliding', got {strategy!r}")
        self.limit = int(limit)
        self.window = float(window)
        self.strategy: Strategy = strategy
        self.key_prefix = key_prefix
        self.name = name or f"{self.limit} per {self.window:g}s"
        self._sliding = strategy == "sliding"
        self._clock = clock
        if isinstance(storage, str):
            storage = storage_from_url(storage, failure_mode=failure_mode)
        self.storage: Storage = storage
        self._prefix = f"{key_prefix}{round(self.window * 1000)}:"

    def _key(self, key: str) -> str:
        return self._prefix + key

    def _now(self) -> float | None:
        return None if self._clock is None else self._clock()

    # -- deciding ------------------------------------------------------------------------------
    def acquire(self, key: str, cost: int = 1) -> Decision:
        """Charge ``cost`` if it fits and say so; never raises for a denial (may raise ``StorageUnavailable``)."""
        return self.storage.acquire(self._key(key), self.limit, self.window, cost, self._sliding, self._now())

    async def aacquire(self, key: str, cost: int = 1) -> Decision:
        return await self.storage.aacquire(self._key(key), self.limit, self.window, cost, self._sliding, self._now())

    def allow(self, key: str, cost: int = 1) -> bool:
        """True (and ``cost`` charged) if it fits in ``key``'s limit; False otherwise, or when storage
        is down and the failure mode is ``closed``."""
        try:
            return self.acquire(key, cost).allowed
        except StorageUnavailable:
            return False

    async def aallow(self, key: str, cost: int = 1) -> bool:
        try:
            return (await self.aacquire(key, cost)).allowed
        except StorageUnavailable:
            return False

    def remaining(self, key: str) -> int:
        """Units ``key`` may still use now (0 when storage is down and failing closed)."""
        try:
            return self.storage.peek(self._key(key), self.limit, self.window, self._sliding, self._now()).remaining
        except StorageUnavailable:
            return 0

    async def aremaining(self, key: str) -> int:
        try:
            d = await self.storage.apeek(self._key(key), self.limit, self.window, self._sliding, self._now())
        except StorageUnavailable:
            return 0
        return d.remaining

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` may make one more request (0 if it may now)."""
        d = self.storage.peek(self._key(key), self.limit, self.window, self._sliding, self._now())
        return d.retry_after or 0.0

    def hit(self, key: str, cost: int = 1) -> Reservation:
        """Charge ``cost`` or raise ``RateLimited`` carrying ``retry_after``.

        Raises ``CostExceedsLimit`` if ``cost`` alone is over the limit, and ``StorageUnavailable``
        when storage is down and failing closed.
        """
        return self._reservation(key, cost, self.acquire(key, cost))

    async def ahit(self, key: str, cost: int = 1) -> Reservation:
        return self._reservation(key, cost, await self.aacquire(key, cost))

    def _reservation(self, key: str, cost: int, d: Decision) -> Reservation:
        if d.allowed:
            return Reservation(key, cost, d.bucket, d.remaining)
        raise self.denial(key, cost, d)

    def denial(self, key: str, cost: int, d: Decision, what: str = "units") -> BelugaError:
        """The error for a denied ``acquire``: ``RateLimited`` with ``retry_after``, or ``CostExceedsLimit``."""
        if d.retry_after is None:
            return CostExceedsLimit(
                ErrorCode.INVALID_INPUT,
                f"ratelimit: {key!r} asked for {cost} {what} but the limit is {self.limit} per {self.window:g}s, "
                "so it can never be admitted; ask for less or raise the limit",
            )
        return RateLimited(
            f"ratelimit: {key!r} is over its limit of {self.limit} {what} per {self.window:g}s "
            f"({self.strategy} window); retry in {d.retry_after:.3g}s",
            retry_after=d.retry_after,
        )

    # -- settling ------------------------------------------------------------------------------
    def settle(self, reservation: Reservation, actual: int) -> None:
        """Correct a reservation to what was really used: refund the difference, or charge the excess.

        A refund goes back to the window that was charged (dropped if that window has ended); an
        excess is charged to the current window even past the limit, so later requests wait for it.
        """
        delta = int(actual) - reservation.cost
        if delta:
            self.storage.adjust(
                self._key(reservation.key), self.window, reservation.bucket, delta, self._sliding, self._now()
            )

    async def asettle(self, reservation: Reservation, actual: int) -> None:
        delta = int(actual) - reservation.cost
        if delta:
            await self.storage.aadjust(
                self._key(reservation.key), self.window, reservation.bucket, delta, self._sliding, self._now()
            )

    def refund(self, reservation: Reservation) -> None:
        """Give a whole reservation back (the work it paid for did not happen)."""
        self.settle(reservation, 0)

    async def arefund(self, reservation: Reservation) -> None:
        await self.asettle(reservation, 0)

    def reset(self, key: str) -> None:
        """Forget ``key``'s counts."""
        self.storage.clear(self._key(key))

    async def areset(self, key: str) -> None:
        await self.storage.aclear(self._key(key))

    # -- lifecycle -----------------------------------------------------------------------------
    def close(self) -> None:
        self.storage.close()

    async def aclose(self) -> None:
        await self.storage.aclose()

    def __repr__(self) -> str:
        return f"<RateLimiter {self.name} {self.strategy} storage={self.storage.url}>"


__all__ = ["CostExceedsLimit", "RateLimiter", "Reservation"]
