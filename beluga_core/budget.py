"""One deadline per call, shared out between the steps that make the call."""

from __future__ import annotations

import time
from collections.abc import Callable

from beluga_core.errors import BudgetExhausted, ErrorCode


class TimeoutBudget:
    """A total time budget that steps draw on: ``allocate(fraction)`` of what is left.

    >>> budget = TimeoutBudget(10.0)
    >>> retrieval = budget.allocate(0.3)   # up to 3 s for this step
    >>> budget.remaining()                 # whatever is left, read at any time
    """

    __slots__ = ("_clock", "deadline", "started", "total")

    def __init__(self, total: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if total < 0:
            raise ValueError(f"a budget cannot be negative, got {total!r}")
        self.total = float(total)
        self._clock = clock
        self.started = clock()
        self.deadline = self.started + self.total

    @classmethod
    def until(cls, deadline: float, *, clock: Callable[[], float] = time.monotonic) -> TimeoutBudget:
        """A budget that ends at an absolute ``clock()`` instant (e.g. ``LLMRequest.deadline``)."""
        return cls(max(0.0, deadline - clock()), clock=clock)

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self.deadline - self._clock())

    def elapsed(self) -> float:
        return self._clock() - self.started

    @property
    def expired(self) -> bool:
        return self._clock() >= self.deadline

    def allocate(self, fraction: float) -> float:
        """Seconds for the next step: ``fraction`` (0 < f <= 1) of what remains now."""
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
        return self.remaining() * fraction

    def check(self, what: str = "the call") -> None:
        """Raise ``BudgetExhausted`` if no time is left."""
        if self.expired:
            raise BudgetExhausted(ErrorCode.BUDGET_EXHAUSTED, f"time budget of {self.total:g}s exhausted before {what}")

    def __repr__(self) -> str:
        return f"TimeoutBudget(total={self.total:g}, remaining={self.remaining():.3f})"


__all__ = ["TimeoutBudget"]
