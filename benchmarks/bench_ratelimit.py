"""``beluga_ratelimit`` against the ``limits`` library, side by side in one run.

    .venv/bin/python benchmarks/bench_ratelimit.py

In memory: time per admitted decision, Beluga's ``RateLimiter.allow`` against ``limits``
(``MemoryStorage``) with fixed window, moving window (limits' exact log) and sliding-window counter.
On Redis: decisions per second, one client, on the same redis-server (started here on a free
loopback port), sync and async. Every decision is admitted (1,000 keys in turn, far below their
limits), so rows compare the same path. Targets: in memory no slower than limits; Redis at least
as many decisions per second as limits.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import header, table
from limits import RateLimitItemPerHour, RateLimitItemPerMinute
from limits.aio.storage import RedisStorage as LimitsAsyncRedis
from limits.aio.strategies import FixedWindowRateLimiter as AioFixed
from limits.aio.strategies import MovingWindowRateLimiter as AioMoving
from limits.aio.strategies import SlidingWindowCounterRateLimiter as AioSliding
from limits.storage import MemoryStorage as LimitsMemory
from limits.storage import RedisStorage as LimitsRedis
from limits.strategies import (
    FixedWindowRateLimiter,
    MovingWindowRateLimiter,
    SlidingWindowCounterRateLimiter,
)

from beluga_ratelimit import RateLimiter

MEM_N = 20_000
REDIS_N = 1_000
KEYS = [f"project-{i}" for i in range(1000)]


def _cycle() -> Iterator[str]:
    return itertools.cycle(KEYS)


def _check(fn: Callable[[], Any], name: str) -> Callable[[], Any]:
    assert fn(), f"{name}: the first decision was a denial; the benchmark would not compare like with like"
    return fn


def interleaved_ns(fns: dict[str, Callable[[], Any]], n: int, rounds: int) -> dict[str, float]:
    """Best mean ns per call of each function, measured in alternating rounds.

    Alternating keeps a burst of load from other processes from landing on one side only.
    """
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = time.perf_counter_ns()
            for _ in range(n):
                fn()
            best[name] = min(best[name], (time.perf_counter_ns() - t0) / n)
    return best


AsyncMaker = Callable[[], Callable[[], Awaitable[Any]]]


def ainterleaved_ns(makers: dict[str, AsyncMaker], n: int, rounds: int) -> dict[str, float]:
    """``interleaved_ns`` for async calls; ``makers`` build their clients inside the measuring loop."""

    async def main() -> dict[str, float]:
        fns = {name: make() for name, make in makers.items()}
        for name, fn in fns.items():
            assert await fn(), f"{name}: the first decision was a denial"
        best = dict.fromkeys(fns, float("inf"))
        for _ in range(rounds):
            for name, fn in fns.items():
                t0 = time.perf_counter_ns()
                for _ in range(n):
                    await fn()
                best[name] = min(best[name], (time.perf_counter_ns() - t0) / n)
        return best

    return asyncio.run(main())


def _ours(limiter: RateLimiter) -> Callable[[], bool]:
    keys = _cycle()
    return lambda: limiter.allow(next(keys))


def _theirs(lim: Any, item: Any, tag: str) -> Callable[[], Any]:
    keys = _cycle()
    return lambda: lim.hit(item, tag, next(keys))


COMPARE = {"fixed": ("fixed",), "sliding": ("moving", "sliding")}


def _rows(ns: dict[str, float], label: Callable[[str], str], per_second_first: bool) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for strategy, peers in COMPARE.items():
        ours = ns[f"beluga {strategy}"]
        figures = [1e9 / ours, ours / 1000] if per_second_first else [ours, 1e9 / ours]
        rows.append([label(f"beluga {strategy}"), *figures, ""])
        for peer in peers:
            theirs = ns[f"limits {peer}"]
            figures = [1e9 / theirs, theirs / 1000] if per_second_first else [theirs, 1e9 / theirs]
            rows.append([label(f"limits {peer}"), *figures, f"beluga {theirs / ours:.2f}x"])
    return rows


def bench_memory() -> list[list[Any]]:
    item = RateLimitItemPerMinute(1_000_000)
    fns = {
        "beluga fixed": _check(_ours(RateLimiter(1_000_000, 60)), "beluga fixed"),
        "limits fixed": _check(_theirs(FixedWindowRateLimiter(LimitsMemory()), item, "f"), "limits fixed"),
        "beluga sliding": _check(_ours(RateLimiter(1_000_000, 60, strategy="sliding")), "beluga sliding"),
        "limits moving": _check(_theirs(MovingWindowRateLimiter(LimitsMemory()), item, "m"), "limits moving"),
        "limits sliding": _check(_theirs(SlidingWindowCounterRateLimiter(LimitsMemory()), item, "s"), "limits sliding"),
    }
    ns = interleaved_ns(fns, MEM_N, 9)
    names = {
        "beluga fixed": "beluga RateLimiter.allow (fixed)",
        "beluga sliding": "beluga RateLimiter.allow (sliding)",
        "limits fixed": "  limits fixed window (MemoryStorage)",
        "limits moving": "  limits moving window (MemoryStorage)",
        "limits sliding": "  limits sliding window counter (MemoryStorage)",
    }
    return _rows(ns, names.__getitem__, per_second_first=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def redis_server() -> Iterator[str | None]:
    binary = shutil.which("redis-server") or shutil.which("valkey-server")
    if binary is None:
        yield None
        return
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", tmp],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("redis-server did not start") from None
                    time.sleep(0.02)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def bench_redis(url: str) -> tuple[list[list[Any]], list[list[Any]]]:
    item = RateLimitItemPerHour(1_000_000)
    storage = LimitsRedis(url)
    fns = {
        "beluga fixed": _check(_ours(RateLimiter(1_000_000, 3600, url, failure_mode="closed")), "beluga fixed"),
        "limits fixed": _check(_theirs(FixedWindowRateLimiter(storage), item, "f"), "limits fixed"),
        "beluga sliding": _check(
            _ours(RateLimiter(1_000_000, 3600, url, strategy="sliding", failure_mode="closed")), "beluga sliding"
        ),
        "limits moving": _check(_theirs(MovingWindowRateLimiter(storage), item, "m"), "limits moving"),
        "limits sliding": _check(_theirs(SlidingWindowCounterRateLimiter(storage), item, "s"), "limits sliding"),
    }
    sync_ns = interleaved_ns(fns, REDIS_N, 15)

    def ours_async(strategy: str) -> Callable[[], Callable[[], Awaitable[bool]]]:
        def make() -> Callable[[], Awaitable[bool]]:
            limiter = RateLimiter(1_000_000, 3600, url, strategy=strategy, key_prefix="aio:", failure_mode="closed")
            keys = _cycle()
            return lambda: limiter.aallow(next(keys))

        return make

    def theirs_async(cls: Any, tag: str) -> Callable[[], Callable[[], Awaitable[bool]]]:
        def make() -> Callable[[], Awaitable[bool]]:
            lim = cls(LimitsAsyncRedis("async+" + url, implementation="redispy"))
            keys = _cycle()
            return lambda: lim.hit(item, "aio", tag, next(keys))  # type: ignore[no-any-return]

        return make

    async_ns = ainterleaved_ns(
        {
            "beluga fixed": ours_async("fixed"),
            "limits fixed": theirs_async(AioFixed, "f"),
            "beluga sliding": ours_async("sliding"),
            "limits moving": theirs_async(AioMoving, "m"),
            "limits sliding": theirs_async(AioSliding, "s"),
        },
        REDIS_N // 2,
        15,
    )
    sync_names = {
        "beluga fixed": "beluga allow (fixed)",
        "beluga sliding": "beluga allow (sliding)",
        "limits fixed": "  limits fixed window",
        "limits moving": "  limits moving window",
        "limits sliding": "  limits sliding window counter",
    }
    async_names = {
        k: v.replace("beluga allow", "beluga aallow").replace("limits ", "limits.aio ") for k, v in sync_names.items()
    }
    return (
        _rows(sync_ns, sync_names.__getitem__, per_second_first=True),
        _rows(async_ns, async_names.__getitem__, per_second_first=True),
    )


def _concurrent(url: str, tasks: int = 50, each: int = 200) -> float:
    async def main() -> float:
        ours = RateLimiter(1_000_000, 3600, url, failure_mode="closed")

        async def worker(i: int) -> None:
            for j in range(each):
                await ours.aallow(KEYS[(i * each + j) % len(KEYS)])

        await ours.aallow("warm-up")
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(tasks)))
        elapsed = time.perf_counter() - t0
        await ours.aclose()
        return tasks * each / elapsed

    return asyncio.run(main())


def main() -> None:
    header("rate limiting: beluga_ratelimit vs limits")
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; rows alternate, best round kept\n")
    print("In memory (every decision admitted; 1,000 keys in turn):\n")
    print(table(["limiter", "ns/decision", "decisions/s", "vs limits"], bench_memory()))
    with redis_server() as url:
        if url is None:
            print("\nredis-server not installed: Redis rows skipped (apt-get install redis-server)")
            return
        sync_rows, async_rows = bench_redis(url)
        where = url.rsplit("/", 1)[0]
        print(f"\nOn Redis, sync, one client, sequential (same redis-server on {where}):\n")
        print(table(["limiter", "decisions/s", "µs/decision", "vs limits"], sync_rows))
        print("\nOn Redis, asyncio (redis.asyncio for both), one task, sequential:\n")
        print(table(["limiter", "decisions/s", "µs/decision", "vs limits"], async_rows))
        print(f"\nbeluga aallow, 50 concurrent tasks (fixed): {_concurrent(url):,.0f} decisions/s")


if __name__ == "__main__":
    main()
