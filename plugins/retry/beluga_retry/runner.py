"""``retry``/``aretry``: run a callable under a ``RetryPolicy`` and a deadline."""

from __future__ import annotations

import asyncio
import functools
import random as _random
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from beluga_core import BudgetExhausted, ErrorCode, TimeoutBudget, get_logger
from beluga_retry.policy import RetryDeadlineExceeded, RetryEvent, RetryExhausted, RetryPolicy, error_code

T = TypeVar("T")
P = ParamSpec("P")

log = get_logger("beluga.retry")

Deadline = float | TimeoutBudget | None
OnRetry = Callable[[RetryEvent], object]


def _deadline(deadline: Deadline, timeout: float | None, clock: Callable[[], float]) -> float | None:
    """One absolute ``clock()`` instant from an instant, a ``TimeoutBudget`` and/or a timeout."""
    if isinstance(deadline, TimeoutBudget):
        end: float | None = clock() + deadline.remaining()
    else:
        end = None if deadline is None else float(deadline)
    if timeout is not None:
        by_timeout = clock() + timeout
        end = by_timeout if end is None else min(end, by_timeout)
    return end


def _describe(error: BaseException) -> str:
    code = error_code(error)
    return f"{code.value if code else type(error).__name__}: {error}"


def _next_wait(
    policy: RetryPolicy,
    error: Exception,
    attempt: int,
    started: float,
    deadline: float | None,
    clock: Callable[[], float],
    random: Callable[[], float],
) -> float:
    """After attempt number ``attempt`` failed with ``error``: the wait before the next, or raise."""
    if isinstance(error, BudgetExhausted):
        if attempt == 1:
            raise error
        raise RetryDeadlineExceeded(
            f"retry: time ran out during attempt {attempt} of {policy.max_attempts}; "
            f"last error: {_describe(error)}",
            reason="deadline",
            attempts=attempt,
            elapsed=clock() - started,
            last_error=error,
            code=ErrorCode.BUDGET_EXHAUSTED,
        ) from error
    if not policy.should_retry(error):
        if attempt > 1:
            error.add_note(f"beluga-retry: not retryable; failed on attempt {attempt} of {policy.max_attempts}")
        raise error
    if attempt >= policy.max_attempts:
        raise RetryExhausted(
            f"retry: gave up after {attempt} attempts (max_attempts={policy.max_attempts}) "
            f"in {clock() - started:.3f}s; last error: {_describe(error)}",
            reason="attempts",
            attempts=attempt,
            elapsed=clock() - started,
            last_error=error,
        ) from error
    wait = policy.delay(attempt, random())
    asked = policy.retry_after(error)
    if asked is not None:
        if asked > policy.max_retry_after:
            raise RetryExhausted(
                f"retry: gave up after {attempt} attempt(s): the error asks to wait {asked:g}s (Retry-After), "
                f"more than max_retry_after={policy.max_retry_after:g}s; last error: {_describe(error)}",
                reason="retry_after",
                attempts=attempt,
                elapsed=clock() - started,
                last_error=error,
            ) from error
        wait = max(wait, asked)
    if deadline is not None:
        left = deadline - clock()
        if wait >= left:
            raise RetryDeadlineExceeded(
                f"retry: time ran out after {attempt} of {policy.max_attempts} attempts: the next wait of "
                f"{wait:.3f}s would outlive the deadline ({max(left, 0.0):.3f}s left); "
                f"last error: {_describe(error)}",
                reason="deadline",
                attempts=attempt,
                elapsed=clock() - started,
                last_error=error,
                code=ErrorCode.BUDGET_EXHAUSTED,
            ) from error
    log.info(
        "attempt %d/%d failed (%s); retrying in %.3fs", attempt, policy.max_attempts, _describe(error), wait
    )
    return wait


def _out_of_time(
    policy: RetryPolicy, attempt: int, started: float, clock: Callable[[], float], last: BaseException | None
) -> RetryDeadlineExceeded:
    when = "before the first attempt" if attempt == 0 else f"after {attempt} of {policy.max_attempts} attempts"
    tail = f"; last error: {_describe(last)}" if last is not None else ""
    return RetryDeadlineExceeded(
        f"retry: time ran out {when}: the deadline has passed{tail}",
        reason="deadline",
        attempts=attempt,
        elapsed=clock() - started,
        last_error=last,
        code=ErrorCode.BUDGET_EXHAUSTED,
    )


def retry(
    policy: RetryPolicy,
    fn: Callable[[], T],
    *,
    deadline: Deadline = None,
    timeout: float | None = None,
    on_retry: OnRetry | None = None,
    sleep: Callable[[float], object] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    random: Callable[[], float] = _random.random,
) -> T:
    """Call ``fn()`` until it succeeds, a non-retryable error occurs, or attempts or time run out.

    ``deadline`` is an absolute ``clock()`` instant (like ``LLMRequest.deadline``) or a
    ``TimeoutBudget``; ``timeout`` is seconds from now. No wait starts that would outlive them.
    Non-retryable errors propagate unchanged; otherwise ``RetryExhausted`` (attempts ran out) or
    ``RetryDeadlineExceeded`` (time ran out) is raised with the last error as ``__cause__``.
    """
    started = clock()
    end = _deadline(deadline, timeout, clock) if deadline is not None or timeout is not None else None
    attempt = 0
    last: Exception | None = None
    while True:
        if end is not None and clock() >= end:
            raise _out_of_time(policy, attempt, started, clock, last) from last
        attempt += 1
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - classified by the policy below
            last = exc
        wait = _next_wait(policy, last, attempt, started, end, clock, random)
        if on_retry is not None:
            on_retry(RetryEvent(attempt, last, wait))
        sleep(wait)


async def _arun(
    policy: RetryPolicy,
    afn: Callable[[], Awaitable[T]],
    end: float | None,
    on_retry: OnRetry | None,
    sleep: Callable[[float], Awaitable[object]],
    clock: Callable[[], float],
    random: Callable[[], float],
    bound_attempts: bool = True,
) -> tuple[T, int]:
    """The async loop: the result and the number of attempts it took.

    ``bound_attempts`` cuts each attempt off at the deadline; the plugin turns it off because
    the chain already holds the provider call (and every middleware) to ``request.deadline``.
    """
    started = clock()
    attempt = 0
    last: Exception | None = None
    while True:
        attempt += 1
        if end is not None and (left := end - clock()) <= 0:
            raise _out_of_time(policy, attempt - 1, started, clock, last) from last
        if end is None or not bound_attempts:
            try:
                return await afn(), attempt
            except Exception as exc:  # noqa: BLE001 - classified by the policy below
                last = exc
        else:
            bound = asyncio.timeout(left)
            try:
                async with bound:
                    return await afn(), attempt
            except Exception as exc:
                if bound.expired():
                    raise RetryDeadlineExceeded(
                        f"retry: time ran out during attempt {attempt} of {policy.max_attempts} "
                        f"({left:.3f}s were left)" + (f"; previous error: {_describe(last)}" if last else ""),
                        reason="deadline",
                        attempts=attempt,
                        elapsed=clock() - started,
                        last_error=last or exc,
                        code=ErrorCode.BUDGET_EXHAUSTED,
                    ) from exc
                last = exc
        wait = _next_wait(policy, last, attempt, started, end, clock, random)
        if on_retry is not None:
            on_retry(RetryEvent(attempt, last, wait))
        await sleep(wait)


async def aretry(
    policy: RetryPolicy,
    afn: Callable[[], Awaitable[T]],
    *,
    deadline: Deadline = None,
    timeout: float | None = None,
    on_retry: OnRetry | None = None,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
    random: Callable[[], float] = _random.random,
) -> T:
    """The async twin of ``retry``: awaits ``afn()``; each attempt is also cut off at the deadline."""
    end = _deadline(deadline, timeout, clock) if deadline is not None or timeout is not None else None
    result, _ = await _arun(policy, afn, end, on_retry, sleep, clock, random)
    return result


def retrying(policy: RetryPolicy, **options: Any) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """Decorator form of ``retry``: ``@retrying(RetryPolicy.default())``; options as for ``retry``."""

    def decorate(fn: Callable[P, T]) -> Callable[P, T]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            return retry(policy, lambda: fn(*args, **kwargs), **options)

        return wrapper

    return decorate


def aretrying(
    policy: RetryPolicy, **options: Any
) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Coroutine[Any, Any, T]]]:
    """Decorator form of ``aretry`` for ``async def`` functions."""

    def decorate(afn: Callable[P, Awaitable[T]]) -> Callable[P, Coroutine[Any, Any, T]]:
        @functools.wraps(afn)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            return await aretry(policy, lambda: afn(*args, **kwargs), **options)

        return wrapper

    return decorate


__all__ = ["aretry", "aretrying", "retry", "retrying"]
