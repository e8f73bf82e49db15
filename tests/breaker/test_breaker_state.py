"""The circuit breaker's state machine, standalone, on a manual clock."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from breaker_fakes import FakeClock, fail, ok, outage

from beluga_breaker import CircuitBreaker, CircuitOpenError, CircuitState
from beluga_core import BudgetExhausted, ErrorCode, GuardBlocked, ProviderError, RateLimited
from beluga_core import CircuitOpenError as CoreCircuitOpenError


def failures(breaker: CircuitBreaker, n: int) -> None:
    for _ in range(n):
        with pytest.raises(ProviderError):
            breaker.call(fail)


def test_circuit_open_error_is_the_core_one() -> None:
    assert CircuitOpenError is CoreCircuitOpenError


def test_opens_after_failure_threshold_consecutive_failures() -> None:
    breaker = CircuitBreaker(failure_threshold=3, reset_timeout=10, clock=FakeClock())
    failures(breaker, 2)
    assert breaker.state is CircuitState.CLOSED
    assert breaker.failure_count == 2
    failures(breaker, 1)
    assert breaker.state == "open"


def test_a_success_resets_the_consecutive_count() -> None:
    breaker = CircuitBreaker(failure_threshold=3, clock=FakeClock())
    failures(breaker, 2)
    assert breaker.call(ok) == "ok"
    failures(breaker, 2)
    assert breaker.state is CircuitState.CLOSED


def test_open_breaker_fails_fast_without_calling_and_says_when_to_retry() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=30, name="search-api", clock=clock)
    failures(breaker, 1)
    clock.advance(10)
    called: list[int] = []
    with pytest.raises(CircuitOpenError) as info:
        breaker.call(lambda: called.append(1))
    assert called == []
    assert info.value.retry_after == pytest.approx(20)
    assert info.value.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert "search-api" in str(info.value) and "1 consecutive failures" in str(info.value)


def test_after_reset_timeout_a_successful_probe_closes_it() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=30, clock=clock)
    failures(breaker, 1)
    clock.advance(30)
    assert breaker.state is CircuitState.HALF_OPEN
    assert breaker.call(ok) == "ok"
    assert breaker.state is CircuitState.CLOSED


def test_a_failed_probe_opens_it_again_for_a_full_reset_timeout() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=30, clock=clock)
    failures(breaker, 1)
    clock.advance(31)
    failures(breaker, 1)
    assert breaker.state is CircuitState.OPEN
    assert breaker.retry_after() == pytest.approx(30)
    assert "a probe failed" in breaker.stats()["opened_because"]


def test_half_open_closes_only_when_every_probe_succeeded() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=5, half_open_max_calls=3, clock=clock)
    failures(breaker, 1)
    clock.advance(5)
    breaker.call(ok)
    breaker.call(ok)
    assert breaker.state is CircuitState.HALF_OPEN
    breaker.call(ok)
    assert breaker.state is CircuitState.CLOSED


def test_listeners_see_every_transition_in_order() -> None:
    clock = FakeClock()
    seen: list[tuple[str, str]] = []
    breaker = CircuitBreaker(failure_threshold=2, reset_timeout=5, clock=clock)
    breaker.add_listener(lambda b, old, new: seen.append((old.value, new.value)))
    failures(breaker, 2)
    clock.advance(5)
    breaker.call(ok)
    assert seen == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]


def test_a_failing_listener_does_not_break_calls() -> None:
    def broken(*_: Any) -> None:
        raise RuntimeError("listener bug")

    breaker = CircuitBreaker(failure_threshold=1, listeners=[broken], clock=FakeClock())
    failures(breaker, 1)
    assert breaker.state is CircuitState.OPEN


def test_manual_trip_and_reset() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(reset_timeout=30, clock=clock)
    breaker.trip()
    assert breaker.state is CircuitState.OPEN
    with pytest.raises(CircuitOpenError, match="tripped by hand"):
        breaker.call(ok)
    breaker.reset()
    assert breaker.state is CircuitState.CLOSED
    assert breaker.call(ok) == "ok"
    breaker.trip(duration=600)
    clock.advance(599)
    assert breaker.state is CircuitState.OPEN
    clock.advance(1)
    assert breaker.state is CircuitState.HALF_OPEN


# -- exactly N probes -------------------------------------------------------------------------------


@pytest.mark.parametrize("probes", [1, 3])
def test_half_open_admits_exactly_n_probes_among_100_concurrent_async_callers(probes: int) -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=1, half_open_max_calls=probes, clock=clock)
    failures(breaker, 1)
    clock.advance(1)

    async def main() -> tuple[int, int]:
        release = asyncio.Event()
        admitted = 0

        async def probe() -> str:
            nonlocal admitted
            admitted += 1
            await release.wait()
            return "ok"

        async def caller() -> bool:
            try:
                await breaker.acall(probe)
                return True
            except CircuitOpenError:
                return False

        tasks = [asyncio.create_task(caller()) for _ in range(100)]
        while admitted + sum(1 for t in tasks if t.done()) < 100:
            await asyncio.sleep(0)
        release.set()
        results = await asyncio.gather(*tasks)
        return admitted, sum(results)

    admitted, succeeded = asyncio.run(main())
    assert admitted == probes
    assert succeeded == probes
    assert breaker.state is CircuitState.CLOSED


@pytest.mark.parametrize("probes", [1, 4])
def test_half_open_admits_exactly_n_probes_among_100_threads(probes: int) -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=1, half_open_max_calls=probes, clock=clock)
    failures(breaker, 1)
    clock.advance(1)
    release = threading.Event()
    start = threading.Barrier(100)
    lock = threading.Lock()
    outcome = {"admitted": 0, "refused": 0}

    def probe() -> None:
        with lock:
            outcome["admitted"] += 1
        assert release.wait(30)

    def caller() -> None:
        start.wait(30)
        try:
            breaker.call(probe)
        except CircuitOpenError:
            with lock:
                outcome["refused"] += 1

    threads = [threading.Thread(target=caller) for _ in range(100)]
    for t in threads:
        t.start()
    for _ in range(3000):
        with lock:
            if outcome["admitted"] + outcome["refused"] == 100:
                break
        threading.Event().wait(0.01)
    release.set()
    for t in threads:
        t.join(30)
    assert outcome == {"admitted": probes, "refused": 100 - probes}
    assert breaker.state is CircuitState.CLOSED


def test_a_cancelled_probe_frees_its_slot() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=1, clock=clock)
    failures(breaker, 1)
    clock.advance(1)

    async def main() -> None:
        task = asyncio.create_task(breaker.acall(asyncio.sleep, 30))
        await asyncio.sleep(0)
        with pytest.raises(CircuitOpenError, match="half-open"):
            await breaker.acall(asyncio.sleep, 0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await breaker.acall(asyncio.sleep, 0, "probe") == "probe"

    asyncio.run(main())
    assert breaker.state is CircuitState.CLOSED


def test_refused_half_open_callers_get_no_retry_after_while_probes_run() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=1, clock=clock)
    failures(breaker, 1)
    clock.advance(1)
    token = breaker.acquire()
    with pytest.raises(CircuitOpenError) as info:
        breaker.acquire()
    assert info.value.retry_after is None
    breaker.on_success(token)
    assert breaker.state is CircuitState.CLOSED


# -- what counts -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        ProviderError("invalid_input", "bad request"),
        ProviderError("auth", "bad key"),
        GuardBlocked("pii", "email"),
        BudgetExhausted("budget_exhausted", "caller's deadline"),
    ],
)
def test_caller_side_errors_do_not_count(error: Exception) -> None:
    breaker = CircuitBreaker(failure_threshold=2, clock=FakeClock())

    def raises() -> None:
        raise error

    for _ in range(5):
        with pytest.raises(type(error)):
            breaker.call(raises)
    assert breaker.state is CircuitState.CLOSED
    assert breaker.failure_count == 0


def test_which_errors_count_is_configurable() -> None:
    breaker = CircuitBreaker(failure_threshold=2, ignored=[], clock=FakeClock())

    def auth() -> None:
        raise ProviderError("auth", "bad key")

    for _ in range(2):
        with pytest.raises(ProviderError):
            breaker.call(auth)
    assert breaker.state is CircuitState.OPEN

    only_timeouts = CircuitBreaker(
        failure_threshold=1, is_failure=lambda e: getattr(e, "code", None) is ErrorCode.TIMEOUT, clock=FakeClock()
    )
    failures(only_timeouts, 3)
    assert only_timeouts.state is CircuitState.CLOSED
    with pytest.raises(TimeoutError):
        only_timeouts.call(lambda: (_ for _ in ()).throw(TimeoutError()))
    assert only_timeouts.state is CircuitState.CLOSED  # a builtin TimeoutError has no code


def test_plain_exceptions_count_as_failures() -> None:
    breaker = CircuitBreaker(failure_threshold=2, clock=FakeClock())
    for _ in range(2):
        with pytest.raises(ConnectionError):
            breaker.call(lambda: (_ for _ in ()).throw(ConnectionError("refused")))
    assert breaker.state is CircuitState.OPEN


# -- failure-rate mode ----------------------------------------------------------------------------------


def test_failure_rate_mode_waits_for_minimum_calls() -> None:
    breaker = CircuitBreaker(failure_rate=0.5, minimum_calls=10, window=60, clock=FakeClock())
    failures(breaker, 9)
    assert breaker.state is CircuitState.CLOSED  # 9 of 9 failed, but only 9 calls
    failures(breaker, 1)
    assert breaker.state is CircuitState.OPEN
    assert "10 of 10 calls failed" in breaker.stats()["opened_because"]


def test_failure_rate_mode_opens_at_the_rate_not_on_consecutive_failures() -> None:
    breaker = CircuitBreaker(failure_threshold=2, failure_rate=0.5, minimum_calls=10, clock=FakeClock())
    for _ in range(6):
        breaker.call(ok)
    failures(breaker, 3)  # 3 consecutive, but 3 of 9
    assert breaker.state is CircuitState.CLOSED
    failures(breaker, 1)  # 4 of 10
    assert breaker.state is CircuitState.CLOSED
    failures(breaker, 2)  # 6 of 12 = 50%
    assert breaker.state is CircuitState.OPEN


def test_failures_slide_out_of_the_window() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_rate=0.5, minimum_calls=4, window=10, clock=clock)
    failures(breaker, 3)
    clock.advance(11)
    assert breaker.stats()["window_calls"] == 0
    breaker.call(ok)
    breaker.call(ok)
    breaker.call(ok)
    failures(breaker, 1)  # 1 of 4 in the window: the old failures are gone
    assert breaker.state is CircuitState.CLOSED


# -- slow calls -----------------------------------------------------------------------------------------


def test_slow_successes_count_as_failures() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=2, slow_call_threshold=2.0, clock=clock)

    def slow() -> str:
        clock.advance(2.5)
        return "late"

    def quick() -> str:
        clock.advance(0.5)
        return "fast"

    assert breaker.call(slow) == "late"  # the caller still gets its result
    assert breaker.failure_count == 1
    assert breaker.call(quick) == "fast"
    assert breaker.failure_count == 0
    breaker.call(slow)
    breaker.call(slow)
    assert breaker.state is CircuitState.OPEN
    assert "slow_call_threshold" in breaker.stats()["opened_because"]


def test_slow_async_calls_count_in_failure_rate_mode() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_rate=0.5, minimum_calls=4, slow_call_threshold=1.0, clock=clock)

    async def slow() -> None:
        clock.advance(1.5)

    async def main() -> None:
        for _ in range(2):
            await breaker.acall(ok_async)
        for _ in range(2):
            await breaker.acall(slow)

    asyncio.run(main())
    assert breaker.state is CircuitState.OPEN


async def ok_async() -> str:
    return "ok"


# -- Retry-After -----------------------------------------------------------------------------------------


def test_a_429_with_retry_after_holds_it_open_for_that_long() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=5, reset_timeout=30, clock=clock)

    def limited() -> None:
        raise RateLimited("429 Too Many Requests", retry_after=12)

    with pytest.raises(RateLimited):
        breaker.call(limited)
    assert breaker.state is CircuitState.OPEN
    with pytest.raises(CircuitOpenError) as info:
        breaker.call(ok)
    assert info.value.retry_after == pytest.approx(12)
    clock.advance(11.9)
    assert breaker.state is CircuitState.OPEN
    clock.advance(0.1)
    assert breaker.call(ok) == "ok"
    assert breaker.state is CircuitState.CLOSED


def test_retry_after_is_capped_and_can_be_turned_off() -> None:
    clock = FakeClock()
    capped = CircuitBreaker(max_retry_after=60, clock=clock)
    with pytest.raises(RateLimited):
        capped.call(lambda: (_ for _ in ()).throw(RateLimited(retry_after=3600)))
    assert capped.retry_after() == pytest.approx(60)

    ignoring = CircuitBreaker(failure_threshold=2, respect_retry_after=False, clock=clock)
    with pytest.raises(RateLimited):
        ignoring.call(lambda: (_ for _ in ()).throw(RateLimited(retry_after=3600)))
    assert ignoring.state is CircuitState.CLOSED
    assert ignoring.failure_count == 1


def test_invalid_settings_are_reported_together() -> None:
    with pytest.raises(ValueError, match=r"failure_threshold.*half_open_max_calls.*failure_rate"):
        CircuitBreaker(failure_threshold=0, half_open_max_calls=0, failure_rate=2.0)


def test_outcomes_of_calls_from_an_earlier_state_are_ignored() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=1, clock=clock)
    early = breaker.acquire()  # admitted while closed
    failures(breaker, 1)
    clock.advance(1)
    probe = breaker.acquire()  # half-open probe
    breaker.on_success(early)  # a stale success must not close the breaker
    assert breaker.state is CircuitState.HALF_OPEN
    breaker.on_error(early, outage())  # nor a stale failure reopen it
    assert breaker.state is CircuitState.HALF_OPEN
    breaker.on_success(probe)
    assert breaker.state is CircuitState.CLOSED
