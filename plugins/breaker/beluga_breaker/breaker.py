"""``CircuitBreaker``: stop calling a dependency that keeps failing, then probe it back to health.

closed  → open       after ``failure_threshold`` consecutive failures (or a failure rate over a
                     sliding window, or one error carrying Retry-After)
open    → half_open  once ``reset_timeout`` (or the Retry-After) has passed
half_open → closed   when ``half_open_max_calls`` probes have all succeeded
half_open → open     on any failed probe
"""

from __future__ import annotations

import enum
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, ParamSpec, TypeVar

from beluga_core import CircuitOpenError, ErrorCode, get_logger

T = TypeVar("T")
P = ParamSpec("P")

log = get_logger("beluga.breaker")


class CircuitState(enum.StrEnum):
    """Where a breaker is: letting calls through, refusing them, or probing."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


CLOSED, OPEN, HALF_OPEN = CircuitState.CLOSED, CircuitState.OPEN, CircuitState.HALF_OPEN

#: Errors that say nothing about the dependency's health: the caller's request, credentials,
#: guards or deadline were at fault. They count as neither success nor failure.
DEFAULT_IGNORED: frozenset[ErrorCode] = frozenset(
    {
        ErrorCode.INVALID_INPUT,
        ErrorCode.AUTH,
        ErrorCode.GUARD_BLOCKED,
        ErrorCode.NOT_FOUND,
        ErrorCode.BUDGET_EXHAUSTED,
    }
)

StateListener = Callable[["CircuitBreaker", CircuitState, CircuitState], object]


class _Window:
    """Calls and failures over the last ``span`` seconds, kept in ten buckets (O(1) memory)."""

    __slots__ = ("buckets", "failures", "size", "total", "width")

    def __init__(self, span: float, size: int = 10) -> None:
        self.width = span / size
        self.size = size
        self.buckets: deque[list[int]] = deque()
        self.total = 0
        self.failures = 0

    def add(self, now: float, failed: bool) -> None:
        index = int(now // self.width)
        self.trim(index)
        if self.buckets and self.buckets[-1][0] == index:
            bucket = self.buckets[-1]
        else:
            bucket = [index, 0, 0]
            self.buckets.append(bucket)
        bucket[1] += 1
        self.total += 1
        if failed:
            bucket[2] += 1
            self.failures += 1

    def trim(self, index: int) -> None:
        while self.buckets and self.buckets[0][0] <= index - self.size:
            _, total, failures = self.buckets.popleft()
            self.total -= total
            self.failures -= failures

    def clear(self) -> None:
        self.buckets.clear()
        self.total = self.failures = 0


class CircuitBreaker:
    """A thread- and asyncio-safe circuit breaker for one dependency.

    >>> breaker = CircuitBreaker(failure_threshold=5, reset_timeout=30.0)
    >>> breaker.call(fetch, url)            # or: await breaker.acall(afetch, url)

    While open, calls fail fast with ``CircuitOpenError`` whose ``retry_after`` says when probing
    starts. Half-open admits exactly ``half_open_max_calls`` probes, however many callers race.
    With ``failure_rate`` set (0-1), the breaker trips when that share of the calls in the last
    ``window`` seconds failed, once at least ``minimum_calls`` were made, instead of counting
    consecutive failures. A success slower than ``slow_call_threshold`` seconds counts as a failure.
    Errors whose code is in ``ignored`` (or for which ``is_failure`` returns False) count as
    neither. An error carrying ``retry_after`` (a 429 with Retry-After) opens the breaker for that
    long, up to ``max_retry_after``, when ``respect_retry_after`` is on.
    """

    def __init__(
        self,
        failure_threshold: int = 5,
        reset_timeout: float = 30.0,
        *,
        half_open_max_calls: int = 1,
        failure_rate: float | None = None,
        window: float = 60.0,
        minimum_calls: int = 10,
        slow_call_threshold: float | None = None,
        ignored: Iterable[ErrorCode | str] = DEFAULT_IGNORED,
        is_failure: Callable[[BaseException], bool] | None = None,
        respect_retry_after: bool = True,
        max_retry_after: float = 300.0,
        name: str = "",
        listeners: Iterable[StateListener] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        problems = []
        if failure_threshold < 1:
            problems.append(f"failure_threshold must be at least 1, got {failure_threshold!r}")
        if not reset_timeout >= 0:
            problems.append(f"reset_timeout must be at least 0 seconds, got {reset_timeout!r}")
        if half_open_max_calls < 1:
            problems.append(f"half_open_max_calls must be at least 1, got {half_open_max_calls!r}")
        if failure_rate is not None and not 0 < failure_rate <= 1:
            problems.append(f"failure_rate must be in (0, 1], got {failure_rate!r}")
        if not window > 0:
            problems.append(f"window must be more than 0 seconds, got {window!r}")
        if minimum_calls < 1:
            problems.append(f"minimum_calls must be at least 1, got {minimum_calls!r}")
        if slow_call_threshold is not None and not slow_call_threshold > 0:
            problems.append(f"slow_call_threshold must be more than 0 seconds, got {slow_call_threshold!r}")
        if problems:
            raise ValueError(f"CircuitBreaker{f' {name!r}' if name else ''}: " + "; ".join(problems))
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout = float(reset_timeout)
        self.half_open_max_calls = half_open_max_calls
        self.failure_rate = failure_rate
        self.window = float(window)
        self.minimum_calls = minimum_calls
        self.slow_call_threshold = slow_call_threshold
        self.ignored = frozenset(ErrorCode(c) for c in ignored)
        self.is_failure = is_failure
        self.respect_retry_after = respect_retry_after
        self.max_retry_after = float(max_retry_after)
        self._clock = clock
        self._listeners: list[StateListener] = list(listeners)
        self._lock = threading.Lock()
        self._pending: deque[tuple[CircuitState, CircuitState]] = deque()
        # (state, epoch) in one attribute, so the closed fast path reads both without the lock.
        # The epoch changes on every transition; an outcome from an older epoch is ignored.
        self._phase: tuple[CircuitState, int] = (CLOSED, 0)
        self._failures = 0
        self._window = _Window(self.window)
        self._open_until = 0.0
        self._opened_because = ""
        self._probes = 0
        self._probe_successes = 0

    # -- state ---------------------------------------------------------------------------------
    @property
    def state(self) -> CircuitState:
        """The current state (an open breaker whose time is up reads as half-open)."""
        state = self._phase[0]
        if state is OPEN and self._clock() >= self._open_until:
            with self._lock:
                if self._phase[0] is OPEN and self._clock() >= self._open_until:
                    self._to(HALF_OPEN)
            self._flush()
            return self._phase[0]
        return state

    @property
    def failure_count(self) -> int:
        """Consecutive failures (or failures in the window, in failure-rate mode) while closed."""
        return self._window.failures if self.failure_rate is not None else self._failures

    def retry_after(self) -> float | None:
        """Seconds until an open breaker starts probing; None unless open."""
        if self._phase[0] is not OPEN:
            return None
        return max(0.0, self._open_until - self._clock())

    def stats(self) -> dict[str, Any]:
        """A snapshot for dashboards and tests."""
        state = self.state
        with self._lock:
            if self.failure_rate is not None:
                self._window.trim(int(self._clock() // self._window.width))
            total, failed = self._window.total, self._window.failures
            return {
                "name": self.name,
                "state": state.value,
                "consecutive_failures": self._failures,
                "window_calls": total,
                "window_failures": failed,
                "failure_rate": (failed / total) if total else 0.0,
                "retry_after": max(0.0, self._open_until - self._clock()) if state is OPEN else None,
                "opened_because": self._opened_because if state is not CLOSED else "",
                "probes_in_flight": self._probes - self._probe_successes if state is HALF_OPEN else 0,
            }

    def add_listener(self, listener: StateListener) -> None:
        """Call ``listener(breaker, old_state, new_state)`` after every state change."""
        self._listeners.append(listener)

    def trip(self, duration: float | None = None) -> None:
        """Open the breaker now, for ``duration`` seconds (default ``reset_timeout``)."""
        with self._lock:
            self._open(self.reset_timeout if duration is None else duration, "tripped by hand")
        self._flush()

    def reset(self) -> None:
        """Close the breaker now and forget past failures."""
        with self._lock:
            if self._phase[0] is CLOSED:
                self._failures = 0
                self._window.clear()
            else:
                self._to(CLOSED)
        self._flush()

    # -- calls -----------------------------------------------------------------------------------
    def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` through the breaker; raises ``CircuitOpenError`` when open."""
        token = self.acquire()
        started = self._clock() if self.slow_call_threshold is not None else 0.0
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            self.on_error(token, exc)
            raise
        except BaseException:
            self.release(token)
            raise
        self.on_success(token, self._clock() - started if self.slow_call_threshold is not None else None)
        return result

    async def acall(self, afn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """The async twin of ``call``: awaits ``afn(*args, **kwargs)``."""
        token = self.acquire()
        started = self._clock() if self.slow_call_threshold is not None else 0.0
        try:
            result = await afn(*args, **kwargs)
        except Exception as exc:
            self.on_error(token, exc)
            raise
        except BaseException:  # cancelled: says nothing about the dependency
            self.release(token)
            raise
        self.on_success(token, self._clock() - started if self.slow_call_threshold is not None else None)
        return result

    # -- the low-level protocol (for middleware whose outcome arrives later) -------------------
    def acquire(self) -> int:
        """Admit one call or raise ``CircuitOpenError``. Report its outcome with the returned token
        to exactly one of ``on_success``, ``on_error`` or ``release``."""
        phase = self._phase
        if phase[0] is CLOSED:
            return phase[1]
        try:
            with self._lock:
                return self._admit()
        finally:
            if self._pending:
                self._flush()

    def on_success(self, token: int, elapsed: float | None = None) -> None:
        """The call admitted with ``token`` succeeded (in ``elapsed`` seconds, if known)."""
        if elapsed is not None and self.slow_call_threshold is not None and elapsed > self.slow_call_threshold:
            self._failure(token, f"a call took {elapsed:.3f}s (slow_call_threshold {self.slow_call_threshold:g}s)")
            return
        phase = self._phase
        if phase[0] is CLOSED and phase[1] == token and not self._failures and self.failure_rate is None:
            return  # the fast path: nothing to reset
        with self._lock:
            phase = self._phase
            if phase[1] != token:
                return
            if phase[0] is CLOSED:
                if self.failure_rate is None:
                    self._failures = 0
                else:
                    self._window.add(self._clock(), False)
            elif phase[0] is HALF_OPEN:
                self._probe_successes += 1
                if self._probe_successes >= self.half_open_max_calls:
                    self._to(CLOSED)
        self._flush()

    def on_error(self, token: int, error: BaseException) -> None:
        """The call admitted with ``token`` raised ``error``; counted if it is a failure."""
        if not self.counts(error):
            self.release(token)
            return
        after = getattr(error, "retry_after", None) if self.respect_retry_after else None
        hold = min(float(after), self.max_retry_after) if isinstance(after, int | float) and after >= 0 else None
        self._failure(token, _describe(error), hold)

    def release(self, token: int) -> None:
        """The call admitted with ``token`` ended without a verdict (cancelled or ignored error)."""
        with self._lock:
            if self._phase == (HALF_OPEN, token):
                self._probes -= 1

    def counts(self, error: BaseException) -> bool:
        """Whether ``error`` counts as a failure of the dependency (never a local one: ``error.local``)."""
        if getattr(error, "local", False) is True:  # e.g. this process's connection pool was busy
            return False
        if self.is_failure is not None:
            return self.is_failure(error)
        code = getattr(error, "code", None)
        return not (isinstance(code, ErrorCode) and code in self.ignored)

    # -- internals (call with the lock held, except _flush) -------------------------------------
    def _admit(self) -> int:
        state, epoch = self._phase
        if state is CLOSED:
            return epoch
        now = self._clock()
        if state is OPEN:
            if now < self._open_until:
                left = self._open_until - now
                raise CircuitOpenError(
                    f"circuit breaker {self.name or '(unnamed)'} is open ({self._opened_because}); "
                    f"calls are refused for another {left:.2f}s",
                    retry_after=left,
                )
            self._to(HALF_OPEN)
            state, epoch = self._phase
        if self._probes < self.half_open_max_calls:
            self._probes += 1
            return epoch
        raise CircuitOpenError(
            f"circuit breaker {self.name or '(unnamed)'} is half-open and its {self.half_open_max_calls} "
            "probe call(s) are in flight; try again shortly",
        )

    def _failure(self, token: int, why: str, hold: float | None = None) -> None:
        with self._lock:
            state, epoch = self._phase
            if epoch != token:
                return
            if state is HALF_OPEN:
                self._open(self.reset_timeout if hold is None else hold, f"a probe failed: {why}")
            elif state is CLOSED:
                if hold is not None:
                    self._open(hold, f"the dependency asked to wait {hold:g}s: {why}")
                elif self.failure_rate is None:
                    self._failures += 1
                    if self._failures >= self.failure_threshold:
                        self._open(self.reset_timeout, f"{self._failures} consecutive failures, last: {why}")
                else:
                    window = self._window
                    window.add(self._clock(), True)
                    if window.total >= self.minimum_calls and window.failures >= self.failure_rate * window.total:
                        self._open(
                            self.reset_timeout,
                            f"{window.failures} of {window.total} calls failed in {self.window:g}s, last: {why}",
                        )
        self._flush()

    def _open(self, duration: float, because: str) -> None:
        self._to(OPEN)
        self._open_until = self._clock() + duration
        self._opened_because = because

    def _to(self, new: CircuitState) -> None:
        old, epoch = self._phase
        self._phase = (new, epoch + 1)
        self._failures = 0
        self._window.clear()
        self._probes = 0
        self._probe_successes = 0
        if new is CLOSED:
            self._opened_because = ""
        if old is not new:
            self._pending.append((old, new))

    def _flush(self) -> None:
        while self._pending:
            try:
                old, new = self._pending.popleft()
            except IndexError:  # another thread took it
                return
            if new is OPEN:
                log.warning("circuit breaker %s opened: %s", self.name or "(unnamed)", self._opened_because)
            else:
                log.info("circuit breaker %s is now %s", self.name or "(unnamed)", new.value)
            for listener in self._listeners:
                try:
                    listener(self, old, new)
                except Exception:
                    log.exception("circuit breaker listener %r failed", listener)

    def __repr__(self) -> str:
        return f"<CircuitBreaker {self.name or '(unnamed)'} {self.state.value}>"


def _describe(error: BaseException) -> str:
    code = getattr(error, "code", None)
    return f"{code.value if isinstance(code, ErrorCode) else type(error).__name__}: {error}"


__all__ = ["DEFAULT_IGNORED", "CircuitBreaker", "CircuitState", "StateListener"]
