"""The cost of a budget decision next to a rate-limit decision, in memory and on Redis.

    .venv/bin/python benchmarks/bench_budget.py

1. Storage: time per decision of ``RateLimiter.allow`` (one script), a budget reservation (one
   script) and a reservation with its settlement (two), sync, in memory and on one redis-server
   (started here on a free loopback port).
2. Through a Kit: time per ``kit.agenerate`` with a stand-in model answering at once, with no
   plugin, with the ratelimit plugin (a request limit and a token limit) and with the budget plugin
   (a daily budget), in memory and on Redis; and the Redis round trips and commands each call makes
   (from ``INFO commandstats``).

Every decision is admitted (1,000 keys in turn, far below their limits), so rows compare the same
path. Results are printed, never asserted.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import header, table

from beluga_budget import BudgetPlugin, Hold, Periods, ledger_from_url
from beluga_core import AIMessage, CallNext, LLMRequest, LLMResponse, Usage, hookimpl
from beluga_core.testing import kit_with
from beluga_ratelimit import RateLimiter
from beluga_ratelimit.plugin import RateLimitPlugin

STORAGE_N = {"memory": 20_000, "redis": 2_000}
KIT_N = {"memory": 5_000, "redis": 1_000}
ROUNDS = 3
KEYS = [f"project-{i}" for i in range(1000)]


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
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
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


def best_ns(fns: dict[str, Callable[[], Any]], n: int) -> dict[str, float]:
    """Best mean ns per call of each function over alternating rounds."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(ROUNDS):
        for name, fn in fns.items():
            t0 = time.perf_counter_ns()
            for _ in range(n):
                fn()
            best[name] = min(best[name], (time.perf_counter_ns() - t0) / n)
    return best


# -- storage decisions -----------------------------------------------------------------------------


def storage_rows(url: str, n: int) -> list[list[Any]]:
    limiter = RateLimiter(10**9, 3600, url)
    ledger = ledger_from_url(url)
    periods = Periods.at(time.time())
    keys = itertools.cycle(KEYS)

    def allow() -> None:
        assert limiter.allow(next(keys))

    def reserve() -> None:
        assert ledger.reserve(next(keys), 12_000, 10**15, 10**15, periods).allowed

    def reserve_settle() -> None:
        key = next(keys)
        assert ledger.reserve(key, 12_000, 10**15, 10**15, periods).allowed
        ledger.settle(Hold(key, 12_000, periods), 9_000)

    ns = best_ns({"ratelimit: allow": allow, "budget: reserve": reserve,
                  "budget: reserve + settle": reserve_settle}, n)
    limiter.close()
    ledger.close()
    base = ns["ratelimit: allow"]
    return [[name, v / 1000, 1e9 / v, f"{v / base:.2f}x"] for name, v in ns.items()]


# -- through a Kit ---------------------------------------------------------------------------------


class Instant:
    """A stand-in model: answers at once with fixed usage."""

    name = "instant"

    @hookimpl
    async def wrap_llm_call(self, request: LLMRequest, call_next: CallNext) -> LLMResponse:
        return LLMResponse(AIMessage("ok"), model="gpt-4o-mini", usage=Usage(12, 8))


def _kit(which: str, url: str) -> Any:
    order: list[str] = []
    plugins: list[Any] = []
    settings: dict[str, Any] = {}
    if which == "ratelimit":
        order, plugins = ["ratelimit"], [RateLimitPlugin()]
        settings = {"ratelimit": {"storage": url, "requests_per_minute": 10**8, "tokens_per_minute": 10**9}}
    elif which == "budget":
        order, plugins = ["budget"], [BudgetPlugin()]
        settings = {"budget": {"storage": url, "usd_per_day": 10**6}}
    config = {"beluga": {"plugins": [*order, "instant"], "model": "gpt-4o-mini"}, "plugins": settings}
    return kit_with(*plugins, Instant(), config=config)


def redis_commands(url: str) -> dict[str, int]:
    import redis

    client = redis.Redis.from_url(url)
    stats = client.info("commandstats")
    client.close()
    return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()}


def kit_rows(url: str, n: int) -> tuple[list[list[Any]], list[list[Any]]]:
    rows: list[list[Any]] = []
    ops: list[list[Any]] = []

    async def main() -> None:
        kits = {which: _kit(which, url) for which in ("no plugin", "ratelimit", "budget")}
        keys = itertools.cycle(KEYS)
        for kit in kits.values():  # connect, load the scripts
            await kit.agenerate("hi", metadata={"project": "warm"}, max_tokens=16)
        best = dict.fromkeys(kits, float("inf"))
        for _ in range(ROUNDS):
            for which, kit in kits.items():
                t0 = time.perf_counter_ns()
                for _ in range(n):
                    await kit.agenerate("hi", metadata={"project": next(keys)}, max_tokens=16)
                best[which] = min(best[which], (time.perf_counter_ns() - t0) / n)
        base = best["no plugin"]
        for which, v in best.items():
            rows.append([which, v / 1000, (v - base) / 1000])
        if url.startswith("redis"):
            for which in ("ratelimit", "budget"):
                before = redis_commands(url)
                for _ in range(200):
                    await kits[which].agenerate("hi", metadata={"project": next(keys)}, max_tokens=16)
                after = redis_commands(url)
                diff = {k: after.get(k, 0) - before.get(k, 0) for k in after}
                trips = diff.get("evalsha", 0) + diff.get("eval", 0)
                inside = sum(v for k, v in diff.items() if k not in ("evalsha", "eval", "info"))
                ops.append([which, trips / 200, inside / 200])
        for kit in kits.values():
            await kit.aclose()

    asyncio.run(main())
    return rows, ops


def main() -> None:
    header("budget decisions next to rate-limit decisions")
    with redis_server() as redis_url:
        where = {"memory": "memory://", **({"redis": redis_url} if redis_url else {})}
        if redis_url is None:
            print("redis-server not installed: the Redis rows are skipped\n")
        for name, url in where.items():
            print(f"### storage, {name} (sync, one decision each)\n")
            print(table(["decision", "µs/decision", "decisions/s", "vs ratelimit"], storage_rows(url, STORAGE_N[name])))
            print()
        for name, url in where.items():
            rows, ops = kit_rows(url, KIT_N[name])
            print(f"### kit.agenerate through the plugin, {name} (stand-in model answering at once)\n")
            print(table(["chain", "µs/call", "added µs/call"], rows))
            print()
            if ops:
                print("### Redis work per call\n")
                print(table(["plugin", "round trips/call", "commands inside scripts/call"], ops))
                print()


if __name__ == "__main__":
    main()
