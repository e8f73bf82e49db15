"""``RetryPolicy``: how many attempts, how long to wait between them, and which errors earn one."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import attrs

from beluga_core import RETRYABLE_BY_DEFAULT, BelugaError, BudgetExhausted, ErrorCode


def _codes(value: Iterable[ErrorCode | str]) -> frozenset[ErrorCode]:
    if isinstance(value, str | ErrorCode):
        value = (value,)
    try:
        return frozenset(ErrorCode(v) for v in value)
    except ValueError as exc:
        known = ", ".join(c.value for c in ErrorCode)
        raise ValueError(f"retryable: {exc} (known error codes: {known})") from None


def _at_least(bound: float) -> Callable[[Any, attrs.Attribute[Any], float], None]:
    def check(_: Any, a: attrs.Attribute[Any], v: float) -> None:
        if not v >= bound:  # also rejects NaN
            raise ValueError(f"RetryPolicy.{a.name} must be at least {bound:g}, got {v!r}")

    return check


def _fraction(_: Any, a: attrs.Attribute[Any], v: float) -> None:
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"RetryPolicy.{a.name} must be between 0 and 1, got {v!r}")


def _exception_types(value: Iterable[type[BaseException]]) -> tuple[type[BaseException], ...]:
    return tuple(value)


@attrs.frozen(slots=True)
class RetryPolicy:
    """What to retry and how long to wait: exponential backoff with jitter, capped at ``max_backoff``.

    ``max_attempts`` counts every call, the first included. The wait before retry ``n`` (1-based) is
    ``initial_backoff * backoff_factor ** (n - 1)``, capped at ``max_backoff``, then spread by
    ``jitter`` (a fraction: 0.1 is ±10%) without ever leaving ``[0, max_backoff]``. An error is
    retried when its ``ErrorCode`` is in ``retryable`` (or it is one of ``retry_on``); a
    ``retry_after`` it carries (Retry-After) is waited for when longer, up to ``max_retry_after``.
    """

    max_attempts: int = attrs.field(default=3, validator=_at_least(1))
    initial_backoff: float = attrs.field(default=1.0, converter=float, validator=_at_least(0.0))
    max_backoff: float = attrs.field(default=30.0, converter=float, validator=_at_least(0.0))
    backoff_factor: float = attrs.field(default=2.0, converter=float, validator=_at_least(1.0))
    jitter: float = attrs.field(default=0.1, converter=float, validator=_fraction)
    retryable: frozenset[ErrorCode] = attrs.field(default=RETRYABLE_BY_DEFAULT, converter=_codes)
    honor_retry_after: bool = True
    max_retry_after: float = attrs.field(default=60.0, converter=float, validator=_at_least(0.0))
    #: Exception classes retried whatever their code (e.g. a client library's connection error).
    retry_on: tuple[type[BaseException], ...] = attrs.field(default=(), converter=_exception_types)

    @classmethod
    def default(cls) -> RetryPolicy:
        """3 attempts; waits of about 1 s and 2 s (±10% jitter), never above 30 s."""
        return cls()

    @classmethod
    def none(cls) -> RetryPolicy:
        """A single attempt: errors propagate unchanged."""
        return cls(max_attempts=1)

    def delay(self, retry: int, draw: float = 0.5) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry).

        ``draw`` is a number in [0, 1) that places the wait inside the jitter window (the runners
        pass ``random()``, the callable they were given). The result is always within
        ``[0, max_backoff]``.
        """
        try:
            base = self.initial_backoff * self.backoff_factor ** max(0, retry - 1)
        except OverflowError:
            base = self.max_backoff
        base = min(base, self.max_backoff)
        low = base * (1.0 - self.jitter)
        high = min(base * (1.0 + self.jitter), self.max_backoff)
        wait = low + (high - low) * draw
        return min(max(wait, 0.0), self.max_backoff)

    def should_retry(self, error: BaseException) -> bool:
        """True when ``error`` is worth another attempt under this policy."""
        if self.retry_on and isinstance(error, self.retry_on):
            return True
        code = error_code(error)
        return code is not None and code in self.retryable

    def retry_after(self, error: BaseException) -> float | None:
        """The wait ``error`` asks for (Retry-After), if the policy honours it."""
        if not self.honor_retry_after:
            return None
        after = getattr(error, "retry_after", None)
        if isinstance(after, int | float) and after >= 0:
            return float(after)
        return None


def error_code(error: BaseException) -> ErrorCode | None:
    """The ``ErrorCode`` of an error: Beluga's own, or a builtin timeout or connection error's."""
    code = getattr(error, "code", None)
    if isinstance(code, ErrorCode):
        return code
    if isinstance(error, TimeoutError):
        return ErrorCode.TIMEOUT
    if isinstance(error, ConnectionError):
        return ErrorCode.PROVIDER_UNAVAILABLE
    return None


@attrs.frozen(slots=True)
class RetryEvent:
    """Passed to ``on_retry`` before each wait: which attempt failed, with what, and the wait."""

    attempt: int
    error: BaseException
    wait: float


class RetryExhausted(BelugaError):
    """Retries gave up; ``reason`` says why: ``"attempts"``, ``"deadline"`` or ``"retry_after"``.

    ``attempts`` were made in ``elapsed`` seconds; ``last_error`` (also ``__cause__``) is the last
    failure. The code is the last error's, so a gateway still answers 429 or 503 as it should.
    """

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        attempts: int,
        elapsed: float,
        last_error: BaseException | None,
        code: ErrorCode | None = None,
    ) -> None:
        self.reason = reason
        self.attempts = attempts
        self.elapsed = elapsed
        self.last_error = last_error
        if code is None:
            code = error_code(last_error) if last_error is not None else None
        super().__init__(
            code or ErrorCode.PROVIDER_UNAVAILABLE,
            message,
            retry_after=getattr(last_error, "retry_after", None),
        )


class RetryDeadlineExceeded(RetryExhausted, BudgetExhausted):
    """Time ran out: the deadline passed, or the next wait would have outlived it.

    Also a ``BudgetExhausted``, so ``except BudgetExhausted`` catches it with or without retries.
    """

    default_code = ErrorCode.BUDGET_EXHAUSTED


__all__ = ["RetryDeadlineExceeded", "RetryEvent", "RetryExhausted", "RetryPolicy", "error_code"]
