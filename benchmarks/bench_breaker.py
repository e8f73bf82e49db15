"""Success-path overhead of ``beluga_breaker.CircuitBreaker.call`` against pybreaker, in one run.

    .venv/bin/python benchmarks/bench_breaker.py

Every row wraps the same trivial function that succeeds, through a closed breaker with
failure_threshold=5 and reset_timeout=30 s. "Overhead" is the row's time per call minus the bare
call's. Target: beluga no slower than pybreaker.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pybreaker
from _util import aper_call_ns, header, per_call_ns, table

from beluga_breaker import CircuitBreaker
from beluga_breaker.plugin import BreakerPlugin
from beluga_core import LLMRequest
from beluga_core.testing import kit_with

N = 300_000


def work() -> int:
    return 42


async def awork() -> int:
    return 42


def sync_rows() -> list[list[Any]]:
    bare = per_call_ns(work, N)
    consecutive = CircuitBreaker(failure_threshold=5, reset_timeout=30.0)
    rate = CircuitBreaker(failure_rate=0.5, minimum_calls=10, window=60.0)
    slow = CircuitBreaker(failure_threshold=5, reset_timeout=30.0, slow_call_threshold=10.0)
    peer = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=30)
    measured = {
        "bare call": bare,
        "beluga call (consecutive mode)": per_call_ns(lambda: consecutive.call(work), N),
        "beluga call (failure-rate mode)": per_call_ns(lambda: rate.call(work), N),
        "beluga call (slow-call timing)": per_call_ns(lambda: slow.call(work), N),
        "pybreaker call": per_call_ns(lambda: peer.call(work), N),
    }
    peer_over = measured["pybreaker call"] - bare
    return [
        [name, ns, ns - bare, "" if ns == bare else f"{(ns - bare) / peer_over:.2f}"] for name, ns in measured.items()
    ]


def async_rows() -> list[list[Any]]:
    bare = aper_call_ns(awork, N // 3)
    breaker = CircuitBreaker(failure_threshold=5, reset_timeout=30.0)
    acall = aper_call_ns(lambda: breaker.acall(awork), N // 3)
    return [["bare await", bare, 0.0, ""], ["beluga acall (consecutive mode)", acall, acall - bare, ""]]


def plugin_rows() -> list[list[Any]]:
    request = LLMRequest("Hello, how are you today?", provider="echo", model="echo-1")
    plain = kit_with()
    guarded = kit_with(BreakerPlugin())
    a = aper_call_ns(lambda: plain._chain.call(request), N // 6)
    b = aper_call_ns(lambda: guarded._chain.call(request), N // 6)
    return [["Kit, echo, no plugins", a, 0.0, ""], ["Kit, echo, breaker plugin", b, b - a, ""]]


def main() -> None:
    header("breaker: success-path overhead vs pybreaker")
    cols = ["row", "ns/call", "overhead ns", "overhead vs pybreaker"]
    sync = sync_rows()
    print("sync (pybreaker has no asyncio call)\n" + table(cols, sync) + "\n")
    print("async\n" + table(cols, async_rows()) + "\n")
    print("plugin through the chain (one breaker per provider/model)\n" + table(cols, plugin_rows()))
    print(f"\nbeluga call overhead / pybreaker call overhead: {sync[1][3]} (target: at most 1.00)")


if __name__ == "__main__":
    main()
