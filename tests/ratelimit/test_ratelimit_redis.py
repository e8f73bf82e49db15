"""Redis storage against a real redis-server: many processes, expiry, scripts, outages and recovery."""

from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis

from beluga_core import ErrorCode, ProviderError, RateLimited
from beluga_core.testing import kit_with
from beluga_ratelimit import RateLimiter, StorageUnavailable
from beluga_ratelimit.plugin import RateLimitPlugin
from beluga_ratelimit.redis_storage import _ACQUIRE

pytestmark = pytest.mark.redis

T0 = 3_600_000.0

CHILD = textwrap.dedent(
    """
    import sys, time
    from beluga_ratelimit import RateLimiter

    url, key, strategy, start, attempts = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
    limiter = RateLimiter(1000, 3600, url, strategy=strategy, failure_mode="closed")
    limiter.remaining(key)  # connected and script cached before the start line
    time.sleep(max(0.0, start - time.time()))
    print(sum(limiter.allow(key) for _ in range(attempts)))
    """
)


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.005)


@pytest.mark.parametrize("strategy", ["fixed", "sliding"])
def test_four_processes_hammering_one_key_admit_exactly_the_limit(redis_url: str, strategy: str) -> None:
    # Server time decides the window; stay clear of an hour boundary so one window holds the run.
    into_hour = time.time() % 3600
    if into_hour > 3600 - 30:
        time.sleep(3600 - into_hour + 1)
    start = time.time() + 3.0  # every process connected and waiting by then
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, redis_url, "shared", strategy, str(start), "1500"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    counts = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        counts.append(int(out.strip()))
    assert sum(counts) == 1000  # 6000 attempts from four processes, exactly the limit admitted


def test_counter_keys_carry_the_prefix_and_expire_with_their_windows(redis_url: str) -> None:
    fixed = RateLimiter(10, 60, redis_url, key_prefix="myapp:")
    sliding = RateLimiter(10, 60, redis_url, key_prefix="myapp:s:", strategy="sliding")
    assert fixed.allow("acme") and sliding.allow("acme")
    raw = redis.Redis.from_url(redis_url)
    assert sorted(raw.keys("*")) == [b"myapp:60000:acme", b"myapp:s:60000:acme"]
    assert 0 < raw.pttl("myapp:60000:acme") <= 60_000  # gone when its window ends
    assert 60_000 < raw.pttl("myapp:s:60000:acme") <= 120_000  # kept while it still weighs on the next window
    raw.close()
    fixed.close()
    sliding.close()


def test_a_flushed_script_cache_is_reloaded_transparently(redis_url: str) -> None:
    limiter = RateLimiter(3, 60, redis_url, clock=lambda: T0 + 1)
    assert limiter.allow("k")
    raw = redis.Redis.from_url(redis_url)
    raw.script_flush()
    assert raw.script_exists(_ACQUIRE.sha) == [False]
    assert limiter.allow("k")  # NOSCRIPT -> EVAL, which caches it again
    assert raw.script_exists(_ACQUIRE.sha) == [True]
    assert limiter.remaining("k") == 1
    raw.close()
    limiter.close()


def test_fail_open_admits_during_an_outage_and_enforces_again_after_a_restart(
    redis_server: Any, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="beluga.ratelimit")
    limiter = RateLimiter(5, 3600, redis_url, clock=lambda: T0 + 1)
    limiter.storage.recheck_interval = 0.05  # type: ignore[attr-defined]
    phase = ["up"]
    results: list[tuple[str, bool]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            p = phase[0]
            try:
                results.append((p, limiter.allow("acme")))
            except BaseException as exc:  # noqa: BLE001 - recorded and asserted below
                errors.append(exc)
            time.sleep(0.002)

    def seen(p: str, value: bool) -> int:
        return sum(1 for r in list(results) if r == (p, value))

    worker = threading.Thread(target=hammer)
    worker.start()
    try:
        wait_for(lambda: seen("up", False) >= 3)
        phase[0] = "down"
        redis_server.stop()
        wait_for(lambda: seen("down", True) >= 20)
        phase[0] = "back"
        redis_server.start()
        wait_for(lambda: seen("back", False) >= 3)
    finally:
        stop.set()
        worker.join()
    assert errors == []
    up = [r for p, r in results if p == "up"]
    assert up[:5] == [True] * 5 and not any(up[5:])
    assert seen("down", True) >= 20  # fail open: admitted while Redis was gone
    raw = redis.Redis.from_url(redis_url)
    # counted from scratch after the restart, exactly the limit again
    assert sum(int(v) for v in raw.hvals("beluga:rl:3600000:acme")) == 5
    raw.close()
    outages = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(outages) == 1 and outages[0].levelno == logging.WARNING  # once per outage, not per request
    assert "fail open" in outages[0].getMessage()
    assert sum("reachable again" in r.getMessage() for r in caplog.records) == 1
    limiter.close()


def test_fail_closed_denies_during_an_outage_naming_the_storage_then_recovers(
    redis_server: Any, redis_url: str
) -> None:
    limiter = RateLimiter(3, 3600, redis_url, failure_mode="closed", clock=lambda: T0 + 1)
    limiter.storage.recheck_interval = 0.05  # type: ignore[attr-defined]
    assert limiter.allow("acme")
    redis_server.stop()
    assert not limiter.allow("acme")
    with pytest.raises(StorageUnavailable) as err:
        limiter.hit("acme")
    assert err.value.code is ErrorCode.PROVIDER_UNAVAILABLE and err.value.retryable
    assert f"127.0.0.1:{redis_server.port}" in str(err.value) and "failing closed" in str(err.value)
    assert err.value.retry_after == 0.05
    assert limiter.remaining("acme") == 0
    redis_server.start()
    time.sleep(0.1)
    assert limiter.allow("acme")  # reconnected; the restarted server starts counting again
    assert limiter.remaining("acme") == 2
    limiter.close()


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_redis_password_never_reaches_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="beluga.ratelimit")
    url = f"redis://app:s3cret-pass@127.0.0.1:{_dead_port()}/0"
    closed = RateLimiter(1, 60, url, failure_mode="closed")
    with pytest.raises(StorageUnavailable) as err:
        closed.hit("k")
    opened = RateLimiter(1, 60, url, failure_mode="open")

    async def main() -> bool:
        ok = await opened.aallow("k")
        await opened.aclose()
        return ok

    assert asyncio.run(main())  # fail open, async path
    assert "s3cret-pass" not in str(err.value) and "app:***@127.0.0.1" in str(err.value)
    assert "s3cret-pass" not in caplog.text and "app:***@127.0.0.1" in caplog.text
    assert "s3cret-pass" not in repr(closed.storage)


def _kit(url: str, **settings: Any) -> tuple[Any, RateLimitPlugin]:
    plugin = RateLimitPlugin(clock=lambda: T0 + 1)
    config = {"plugins": {"ratelimit": {"storage": url, "recheck_interval": "50ms", **settings}}}
    return kit_with(plugin, config=config), plugin


def test_two_kits_on_one_redis_share_each_projects_limit(redis_url: str) -> None:
    kit_a, plugin_a = _kit(redis_url, requests_per_minute=3)
    kit_b, plugin_b = _kit(redis_url, requests_per_minute=3)
    acme = {"project": "acme"}
    kit_a.generate("one", metadata=acme)
    kit_b.generate("two", metadata=acme)
    kit_a.generate("three", metadata=acme)
    for kit in (kit_a, kit_b):
        with pytest.raises(RateLimited) as err:
            kit.generate("four", metadata=acme)
        assert err.value.retry_after is not None and 0 < err.value.retry_after <= 60
    assert kit_b.generate("hello", metadata={"project": "globex"}).text == "hello"
    assert plugin_b.remaining("globex") == {"requests_per_minute": 2}
    for kit, plugin in ((kit_a, plugin_a), (kit_b, plugin_b)):
        kit.close()
        plugin.close()


def test_kit_fail_closed_raises_provider_error_during_an_outage_and_recovers(
    redis_server: Any, redis_url: str
) -> None:
    kit, plugin = _kit(redis_url, requests_per_minute=10, failure_mode="closed")
    acme = {"project": "acme"}
    assert kit.generate("before", metadata=acme).text == "before"
    redis_server.stop()
    with pytest.raises(ProviderError, match=r"storage redis://127\.0\.0\.1") as err:
        kit.generate("during", metadata=acme)
    assert err.value.code is ErrorCode.PROVIDER_UNAVAILABLE
    redis_server.start()
    time.sleep(0.1)
    assert kit.generate("after", metadata=acme).text == "after"
    kit.close()
    plugin.close()


def test_kit_fail_open_keeps_answering_during_an_outage(redis_server: Any, redis_url: str) -> None:
    kit, plugin = _kit(redis_url, requests_per_minute=2, tokens_per_minute=10_000)
    acme = {"project": "acme"}
    kit.generate("one", metadata=acme)
    kit.generate("two", metadata=acme)
    with pytest.raises(RateLimited):
        kit.generate("three", metadata=acme)
    redis_server.stop()
    assert [kit.generate(f"outage {i}", metadata=acme).text for i in range(5)] == [f"outage {i}" for i in range(5)]
    redis_server.start()
    time.sleep(0.1)
    kit.generate("again", metadata=acme)  # recovered: the restarted server counts from zero
    assert plugin.remaining("acme")["requests_per_minute"] == 1
    kit.close()
    plugin.close()
