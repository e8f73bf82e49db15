"""Fixed and sliding windows, on memory and on a real redis-server, with an injected clock."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from beluga_core import ErrorCode, RateLimited
from beluga_ratelimit import CostExceedsLimit, MemoryStorage, RateLimiter, mask_url

T0 = 3_600_000.0  # the start of a minute, of an hour: offsets below are seconds into a window


class FakeClock:
    """Seconds that only move when the test says so."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def storage_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each window test runs on both backends: they must agree to the millisecond."""
    if request.param == "memory":
        yield "memory://"
    else:
        yield request.getfixturevalue("redis_url")


def test_recipe_two_per_minute_admits_two_then_denies_the_third(storage_url: str, clock: FakeClock) -> None:
    limiter = RateLimiter(2, 60, storage_url, clock=clock)
    assert [limiter.allow("test") for _ in range(3)] == [True, True, False]
    limiter.close()


def test_each_key_has_its_own_count(storage_url: str, clock: FakeClock) -> None:
    limiter = RateLimiter(2, 60, storage_url, clock=clock)
    assert limiter.allow("project-a") and limiter.allow("project-a")
    assert not limiter.allow("project-a")
    assert limiter.allow("project-b")
    assert limiter.remaining("project-a") == 0
    assert limiter.remaining("project-b") == 1
    limiter.close()


def test_fixed_window_resets_at_the_window_boundary(storage_url: str, clock: FakeClock) -> None:
    clock.now = T0 + 20
    limiter = RateLimiter(3, 60, storage_url, clock=clock)
    assert [limiter.allow("k") for _ in range(4)] == [True, True, True, False]
    assert limiter.retry_after("k") == pytest.approx(40.0, abs=0.002)
    clock.advance(39.9)
    assert not limiter.allow("k")
    clock.advance(0.2)  # into the next window
    assert limiter.remaining("k") == 3
    assert limiter.allow("k")
    limiter.close()


def test_fixed_window_lets_a_burst_straddle_the_boundary_but_sliding_does_not(
    storage_url: str, clock: FakeClock
) -> None:
    clock.now = T0 + 59  # one second before a boundary
    fixed = RateLimiter(10, 60, storage_url, clock=clock, strategy="fixed", key_prefix="f:")
    sliding = RateLimiter(10, 60, storage_url, clock=clock, strategy="sliding", key_prefix="s:")
    assert all(fixed.allow("k") for _ in range(10)) and all(sliding.allow("k") for _ in range(10))
    clock.advance(2)  # one second after the boundary
    assert sum(fixed.allow("k") for _ in range(10)) == 10  # 20 in 2 seconds: the fixed window's known weakness
    # The previous window still weighs 59/60 of its 10: 9.83, so nothing fits yet.
    assert sum(sliding.allow("k") for _ in range(10)) == 0
    fixed.close()


def test_sliding_window_weights_the_previous_window_by_its_overlap(storage_url: str, clock: FakeClock) -> None:
    clock.now = T0 + 20
    limiter = RateLimiter(10, 60, storage_url, clock=clock, strategy="sliding")
    assert all(limiter.allow("k") for _ in range(10))
    clock.now = T0 + 90  # half-way through the next window: 10 * 0.5 = 5 still count
    assert limiter.remaining("k") == 5
    assert sum(limiter.allow("k") for _ in range(10)) == 5
    clock.now = T0 + 120  # a whole window later the old count weighs nothing; the 5 new ones weigh 5
    assert limiter.remaining("k") == 5
    clock.now = T0 + 180  # two windows later: everything is forgotten
    assert limiter.remaining("k") == 10
    limiter.close()


def test_sliding_retry_after_is_the_moment_the_request_would_fit(storage_url: str, clock: FakeClock) -> None:
    clock.now = T0 + 20
    limiter = RateLimiter(3, 60, storage_url, clock=clock, strategy="sliding")
    for _ in range(3):
        limiter.hit("k")
    with pytest.raises(RateLimited) as err:
        limiter.hit("k")
    wait = err.value.retry_after
    assert wait is not None and err.value.code is ErrorCode.RATE_LIMIT
    # Next window starts in 40 s; there 3 * (1 - f) + 1 <= 3 needs f >= 1/3, i.e. 20 s more.
    assert wait == pytest.approx(60.0, abs=0.002)
    clock.advance(wait - 0.01)
    assert not limiter.allow("k")
    clock.advance(0.02)
    assert limiter.allow("k")
    limiter.close()


def test_hit_raises_rate_limited_with_retry_after_and_names_the_key(storage_url: str, clock: FakeClock) -> None:
    clock.now = T0 + 50
    limiter = RateLimiter(1, 60, storage_url, clock=clock)
    reservation = limiter.hit("acme")
    assert reservation.cost == 1 and reservation.remaining == 0
    with pytest.raises(RateLimited) as err:
        limiter.hit("acme")
    assert err.value.retry_after == pytest.approx(10.0, abs=0.002)
    assert "'acme'" in str(err.value) and "1 units per 60s" in str(err.value)
    assert err.value.retryable
    limiter.close()


def test_a_cost_above_the_whole_limit_is_invalid_input_not_a_wait(storage_url: str, clock: FakeClock) -> None:
    limiter = RateLimiter(100, 60, storage_url, clock=clock)
    assert not limiter.allow("k", cost=101)
    with pytest.raises(CostExceedsLimit) as err:
        limiter.hit("k", cost=101)
    assert err.value.code is ErrorCode.INVALID_INPUT and not err.value.retryable
    assert limiter.remaining("k") == 100  # nothing was charged
    limiter.close()


def test_async_twins_share_the_count_with_the_sync_methods(storage_url: str, clock: FakeClock) -> None:
    limiter = RateLimiter(3, 60, storage_url, clock=clock)

    async def main() -> tuple[bool, int, bool]:
        first = await limiter.aallow("k", cost=2)
        left = await limiter.aremaining("k")
        second = await limiter.aallow("k", cost=2)
        await limiter.aclose()
        return first, left, second

    assert asyncio.run(main()) == (True, 1, False)
    assert limiter.remaining("k") == 1


def test_refund_goes_back_to_the_window_that_was_charged(storage_url: str, clock: FakeClock) -> None:
    clock.now = T0 + 50
    limiter = RateLimiter(100, 60, storage_url, clock=clock, strategy="sliding")
    r = limiter.hit("k", 80)
    clock.now = T0 + 90  # next window, half-way: 80 * 0.5 = 40 still count
    assert limiter.remaining("k") == 60
    limiter.settle(r, 20)  # refund 60 into the previous window: 20 * 0.5 = 10 count now
    assert limiter.remaining("k") == 90
    limiter.reset("k")
    assert limiter.remaining("k") == 100
    limiter.close()


def test_memory_storage_forgets_ended_windows_and_stays_bounded() -> None:
    clock = FakeClock()
    storage = MemoryStorage(max_keys=1000, sweep_interval=30, clock=clock)
    limiter = RateLimiter(5, 60, storage, clock=clock)
    for i in range(500):
        limiter.allow(f"user-{i}")
    assert len(storage) == 500
    clock.advance(121)  # both windows over; the next call sweeps
    limiter.allow("late")
    assert len(storage) == 1
    for i in range(5000):
        limiter.allow(f"flood-{i}")
    assert len(storage) <= 1000


def test_memory_storage_admits_exactly_the_limit_across_threads() -> None:
    limiter = RateLimiter(1000, 3600, clock=lambda: 1_000_000.0)
    admitted = [0] * 8
    start = threading.Barrier(8)

    def hammer(i: int) -> None:
        start.wait()
        admitted[i] = sum(limiter.allow("shared") for _ in range(500))

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(admitted) == 1000


def test_storage_urls_hide_their_password() -> None:
    assert mask_url("redis://:hunter2@127.0.0.1:6379/0") == "redis://:***@127.0.0.1:6379/0"
    assert mask_url("redis://app:hunter2@cache:6379/1") == "redis://app:***@cache:6379/1"
    assert mask_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    limiter = RateLimiter(1, 1, "redis://app:hunter2@127.0.0.1:1/0")
    assert "hunter2" not in repr(limiter)


def test_invalid_arguments_are_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="limit must be at least 1"):
        RateLimiter(0, 60)
    with pytest.raises(ValueError, match="window must be positive"):
        RateLimiter(1, 0)
    with pytest.raises(ValueError, match="strategy must be"):
        RateLimiter(1, 60, strategy="leaky")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown rate-limit storage"):
        RateLimiter(1, 60, "memcached://x")
