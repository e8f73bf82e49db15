"""The standalone retry API: which errors are retried, how long it waits, and how it gives up."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from retry_fakes import FakeClock

from beluga_core import BelugaError, BudgetExhausted, ErrorCode, GuardBlocked, ProviderError, RateLimited, TimeoutBudget
from beluga_retry import (
    RetryDeadlineExceeded,
    RetryEvent,
    RetryExhausted,
    RetryPolicy,
    aretry,
    aretrying,
    retry,
    retrying,
)

FAST = RetryPolicy(max_attempts=3, initial_backoff=0.1, max_backoff=1.0, jitter=0.0)


def failing(error: BaseException, times: int, result: str = "done") -> tuple[Callable[[], str], list[int]]:
    """A callable that raises ``error`` ``times`` times, then returns ``result``; and its call log."""
    calls: list[int] = []

    def fn() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise error
        return result

    return fn, calls


# -- which errors are retried --------------------------------------------------------------------


@pytest.mark.parametrize("code", ["rate_limit", "timeout", "provider_unavailable"])
def test_retryable_codes_are_tried_max_attempts_times(code: str) -> None:
    clock = FakeClock()
    fn, calls = failing(ProviderError(code, "boom"), times=99)
    with pytest.raises(RetryExhausted) as info:
        retry(FAST, fn, sleep=clock.sleep, clock=clock)
    assert len(calls) == 3
    assert info.value.attempts == 3
    assert info.value.reason == "attempts"
    assert info.value.code == ErrorCode(code)


@pytest.mark.parametrize(
    "code", ["auth", "invalid_input", "guard_blocked", "not_found", "tool_failed", "budget_exhausted"]
)
def test_non_retryable_codes_fail_at_once_with_the_original_error(code: str) -> None:
    clock = FakeClock()
    error = ProviderError(code, "no")
    fn, calls = failing(error, times=99)
    with pytest.raises(ProviderError) as info:
        retry(FAST, fn, sleep=clock.sleep, clock=clock)
    assert info.value is error
    assert len(calls) == 1
    assert clock.sleeps == []


def test_guard_blocked_is_never_retried() -> None:
    fn, calls = failing(GuardBlocked("pii", "an email address"), times=99)
    with pytest.raises(GuardBlocked):
        retry(FAST, fn, sleep=FakeClock().sleep)
    assert len(calls) == 1


def test_retryable_codes_are_configurable() -> None:
    policy = RetryPolicy(max_attempts=4, initial_backoff=0, retryable=["auth"])
    fn, calls = failing(ProviderError("auth", "expired token"), times=2)
    assert retry(policy, fn, sleep=FakeClock().sleep) == "done"
    assert len(calls) == 3
    fn, calls = failing(RateLimited(), times=2)
    with pytest.raises(RateLimited):
        retry(policy, fn, sleep=FakeClock().sleep)
    assert len(calls) == 1


def test_unknown_retryable_code_is_rejected_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="known error codes: rate_limit"):
        RetryPolicy(retryable=["rate-limit"])


def test_builtin_timeout_and_connection_errors_are_retried_but_other_exceptions_are_not() -> None:
    for error in (TimeoutError("slow"), ConnectionResetError("reset")):
        fn, calls = failing(error, times=1)
        assert retry(FAST, fn, sleep=FakeClock().sleep) == "done"
        assert len(calls) == 2
    fn, calls = failing(ValueError("bug"), times=1)
    with pytest.raises(ValueError, match="bug"):
        retry(FAST, fn, sleep=FakeClock().sleep)
    assert len(calls) == 1


def test_retry_on_adds_exception_classes() -> None:
    class FlakyLibraryError(Exception):
        pass

    policy = RetryPolicy(initial_backoff=0, retry_on=(FlakyLibraryError,))
    fn, calls = failing(FlakyLibraryError(), times=2)
    assert retry(policy, fn, sleep=FakeClock().sleep) == "done"
    assert len(calls) == 3


def test_success_after_failures_returns_the_result_and_reports_each_retry() -> None:
    clock = FakeClock()
    events: list[RetryEvent] = []
    fn, calls = failing(RateLimited(), times=2, result="third time lucky")
    assert retry(FAST, fn, sleep=clock.sleep, clock=clock, on_retry=events.append) == "third time lucky"
    assert len(calls) == 3
    assert [e.attempt for e in events] == [1, 2]
    assert [e.wait for e in events] == pytest.approx([0.1, 0.2])


def test_a_retry_that_fails_differently_keeps_the_attempt_in_a_note() -> None:
    errors = [RateLimited(), ProviderError("auth", "revoked")]

    def fn() -> str:
        raise errors.pop(0)

    with pytest.raises(ProviderError) as info:
        retry(FAST, fn, sleep=FakeClock().sleep)
    assert info.value.code is ErrorCode.AUTH
    assert "failed on attempt 2 of 3" in "".join(info.value.__notes__)


def test_exhausted_error_names_attempts_and_chains_the_last_error() -> None:
    last = ProviderError("provider_unavailable", "503 from upstream")
    fn, _ = failing(last, times=99)
    with pytest.raises(RetryExhausted) as info:
        retry(FAST, fn, sleep=FakeClock().sleep)
    assert isinstance(info.value, BelugaError)
    assert not isinstance(info.value, BudgetExhausted)
    assert info.value.__cause__ is last
    assert info.value.last_error is last
    assert "gave up after 3 attempts" in str(info.value)
    assert "503 from upstream" in str(info.value)


def test_default_policy_is_three_attempts_with_exponential_jittered_backoff() -> None:
    policy = RetryPolicy.default()
    assert policy.max_attempts == 3
    assert policy.backoff_factor == 2.0
    assert 0 < policy.jitter <= 1
    assert policy.delay(2, 0.5) == pytest.approx(2 * policy.delay(1, 0.5))
    assert policy.delay(1, 0.0) < policy.delay(1, 0.999)


def test_none_policy_makes_a_single_attempt() -> None:
    fn, calls = failing(RateLimited(), times=1)
    with pytest.raises(RetryExhausted):
        retry(RetryPolicy.none(), fn)
    assert len(calls) == 1


# -- backoff bounds --------------------------------------------------------------------------------


def test_waits_grow_exponentially_and_stop_at_max_backoff() -> None:
    clock = FakeClock()
    policy = RetryPolicy(max_attempts=7, initial_backoff=0.5, max_backoff=4.0, backoff_factor=2.0, jitter=0.0)
    fn, _ = failing(RateLimited(), times=99)
    with pytest.raises(RetryExhausted):
        retry(policy, fn, sleep=clock.sleep, clock=clock)
    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


@given(
    initial=st.floats(0, 100, allow_nan=False),
    maximum=st.floats(0, 100, allow_nan=False),
    factor=st.floats(1, 10, allow_nan=False),
    jitter=st.floats(0, 1, allow_nan=False),
    retry_number=st.integers(1, 5000),
    draw=st.floats(0, 1, exclude_max=True, allow_nan=False),
)
def test_every_wait_is_within_zero_and_max_backoff(
    initial: float, maximum: float, factor: float, jitter: float, retry_number: int, draw: float
) -> None:
    policy = RetryPolicy(
        initial_backoff=initial, max_backoff=maximum, backoff_factor=factor, jitter=jitter, max_attempts=2
    )
    wait = policy.delay(retry_number, draw)
    assert 0.0 <= wait <= maximum


@given(
    jitter=st.floats(0, 1, allow_nan=False),
    draws=st.lists(st.floats(0, 1, exclude_max=True, allow_nan=False), min_size=5, max_size=5),
)
def test_jittered_waits_of_a_whole_run_stay_within_bounds(jitter: float, draws: list[float]) -> None:
    clock = FakeClock()
    policy = RetryPolicy(max_attempts=6, initial_backoff=1.0, max_backoff=3.0, jitter=jitter)
    fn, _ = failing(RateLimited(), times=99)
    feed = iter(draws)
    with pytest.raises(RetryExhausted):
        retry(policy, fn, sleep=clock.sleep, clock=clock, random=lambda: next(feed))
    assert len(clock.sleeps) == 5
    for n, wait in enumerate(clock.sleeps, start=1):
        base = min(1.0 * 2 ** (n - 1), 3.0)
        assert 0.0 <= wait <= 3.0
        assert base * (1 - jitter) - 1e-9 <= wait <= base * (1 + jitter) + 1e-9


def test_jitter_spreads_waits_so_clients_do_not_retry_in_step() -> None:
    policy = RetryPolicy(initial_backoff=1.0, jitter=0.5)
    waits = {round(policy.delay(1, r / 10), 3) for r in range(10)}
    assert len(waits) == 10
    assert min(waits) >= 0.5 and max(waits) <= 1.5


def test_invalid_policies_are_rejected_with_the_field_named() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="jitter"):
        RetryPolicy(jitter=1.5)
    with pytest.raises(ValueError, match="backoff_factor"):
        RetryPolicy(backoff_factor=0.5)


# -- Retry-After -----------------------------------------------------------------------------------


def test_retry_after_longer_than_the_backoff_is_waited_for() -> None:
    clock = FakeClock()
    fn, calls = failing(RateLimited(retry_after=7.5), times=1)
    assert retry(FAST, fn, sleep=clock.sleep, clock=clock) == "done"
    assert clock.sleeps == [7.5]
    assert len(calls) == 2


def test_retry_after_shorter_than_the_backoff_keeps_the_backoff() -> None:
    clock = FakeClock()
    policy = RetryPolicy(initial_backoff=2.0, jitter=0.0)
    fn, _ = failing(ProviderError("provider_unavailable", "503", retry_after=0.5), times=1)
    retry(policy, fn, sleep=clock.sleep, clock=clock)
    assert clock.sleeps == [2.0]


def test_retry_after_is_ignored_when_the_policy_says_so() -> None:
    clock = FakeClock()
    policy = RetryPolicy(initial_backoff=0.1, jitter=0.0, honor_retry_after=False)
    fn, _ = failing(RateLimited(retry_after=30), times=1)
    retry(policy, fn, sleep=clock.sleep, clock=clock)
    assert clock.sleeps == [0.1]


def test_retry_after_beyond_max_retry_after_gives_up_without_waiting() -> None:
    clock = FakeClock()
    policy = RetryPolicy(max_retry_after=10)
    error = RateLimited(retry_after=120)
    fn, calls = failing(error, times=99)
    with pytest.raises(RetryExhausted) as info:
        retry(policy, fn, sleep=clock.sleep, clock=clock)
    assert clock.sleeps == []
    assert len(calls) == 1
    assert info.value.reason == "retry_after"
    assert info.value.retry_after == 120
    assert info.value.code is ErrorCode.RATE_LIMIT
    assert "120s (Retry-After)" in str(info.value)
    assert info.value.__cause__ is error


# -- the deadline ------------------------------------------------------------------------------------


def test_no_wait_starts_that_would_outlive_the_deadline() -> None:
    clock = FakeClock()
    policy = RetryPolicy(max_attempts=10, initial_backoff=1.0, jitter=0.0)  # waits 1, 2, 4, ...
    error = RateLimited()
    fn, calls = failing(error, times=99)
    with pytest.raises(RetryDeadlineExceeded) as info:
        retry(policy, fn, deadline=clock() + 5.0, sleep=clock.sleep, clock=clock)
    assert clock.sleeps == [1.0, 2.0]  # the next wait, 4 s, would end after the deadline
    assert len(calls) == 3
    assert clock.now <= 1000.0 + 5.0
    assert info.value.reason == "deadline"
    assert "time ran out" in str(info.value)
    assert "4.000s would outlive the deadline" in str(info.value)
    assert info.value.__cause__ is error
    assert isinstance(info.value, BudgetExhausted)
    assert info.value.code is ErrorCode.BUDGET_EXHAUSTED


def test_a_long_retry_after_is_not_waited_for_past_the_deadline() -> None:
    clock = FakeClock()
    fn, calls = failing(RateLimited(retry_after=20), times=1)
    with pytest.raises(RetryDeadlineExceeded, match="time ran out after 1 of 3 attempts"):
        retry(FAST, fn, timeout=10, sleep=clock.sleep, clock=clock)
    assert clock.sleeps == []
    assert len(calls) == 1


def test_timeout_budget_bounds_the_retries() -> None:
    clock = FakeClock()
    budget = TimeoutBudget(3.5, clock=clock)
    policy = RetryPolicy(max_attempts=10, initial_backoff=1.0, jitter=0.0)
    fn, _ = failing(RateLimited(), times=99)
    with pytest.raises(RetryDeadlineExceeded):
        retry(policy, fn, deadline=budget, sleep=clock.sleep, clock=clock)
    assert sum(clock.sleeps) <= 3.5
    assert clock.sleeps == [1.0, 2.0]


def test_a_deadline_already_past_makes_no_attempt() -> None:
    clock = FakeClock()
    fn, calls = failing(RateLimited(), times=0)
    with pytest.raises(RetryDeadlineExceeded, match="before the first attempt"):
        retry(FAST, fn, deadline=clock() - 1, clock=clock)
    assert calls == []


def test_attempts_running_out_before_time_says_attempts() -> None:
    clock = FakeClock()
    fn, _ = failing(RateLimited(), times=99)
    with pytest.raises(RetryExhausted) as info:
        retry(FAST, fn, timeout=60, sleep=clock.sleep, clock=clock)
    assert not isinstance(info.value, RetryDeadlineExceeded)
    assert info.value.reason == "attempts"


# -- async -----------------------------------------------------------------------------------------


def test_aretry_retries_coroutines_and_returns_their_result() -> None:
    clock = FakeClock()
    calls: list[int] = []

    async def flaky() -> int:
        calls.append(1)
        if len(calls) < 3:
            raise ProviderError("timeout", "read timeout")
        return 42

    assert asyncio.run(aretry(FAST, flaky, sleep=clock.asleep, clock=clock)) == 42
    assert len(calls) == 3
    assert clock.sleeps == pytest.approx([0.1, 0.2])


def test_aretry_cuts_an_attempt_off_at_the_deadline() -> None:
    calls: list[int] = []

    async def hangs() -> str:
        calls.append(1)
        await asyncio.sleep(30)
        return "never"

    started = time.monotonic()
    with pytest.raises(RetryDeadlineExceeded, match="time ran out during attempt 1") as info:
        asyncio.run(aretry(RetryPolicy.default(), hangs, timeout=0.05))
    assert time.monotonic() - started < 5
    assert calls == [1]
    assert isinstance(info.value.__cause__, TimeoutError)


def test_aretry_does_not_retry_non_retryable_errors() -> None:
    calls: list[int] = []

    async def bad() -> None:
        calls.append(1)
        raise ProviderError("invalid_input", "bad request")

    with pytest.raises(ProviderError, match="bad request"):
        asyncio.run(aretry(FAST, bad))
    assert calls == [1]


def test_decorators_keep_arguments_and_result_types() -> None:
    attempts: list[int] = []

    @retrying(RetryPolicy(initial_backoff=0))
    def add(a: int, b: int = 0) -> int:
        attempts.append(1)
        if len(attempts) < 2:
            raise RateLimited()
        return a + b

    @aretrying(RetryPolicy(initial_backoff=0))
    async def mul(a: int, b: int) -> int:
        return a * b

    assert add(2, b=3) == 5
    assert len(attempts) == 2
    assert asyncio.run(mul(4, 5)) == 20
    assert add.__name__ == "add"
