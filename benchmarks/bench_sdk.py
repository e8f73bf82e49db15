"""Per-call overhead of the SDK drop-in (``beluga_sdk``) against the bare official ``openai`` SDK.

    .venv/bin/python benchmarks/bench_sdk.py        (BENCH_CALLS=N changes the calls per round)

Both clients talk to the same canned Chat Completions server in a subprocess on 127.0.0.1
(bench_providers.py's: keep-alive, answers at once, JSON or 20-chunk SSE). The bare client goes
to it directly; the drop-in is the same SDK client on ``beluga_sdk.Transport``/``AsyncTransport``
over a Kit whose openai provider points at that server, either with no plugins (the transport's
and the chain's own cost) or with the full chain as the README configures it (tracing exporting
nowhere, rate limit, both guards, retry, breaker). Each call is timed alone; rounds of every client
are interleaved so drift on a shared machine hits all alike. "added" is the drop-in's percentile
minus the bare SDK's. Printed, never asserted.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import header, table
from bench_providers import KEY, MODEL, start_server

CALLS = int(os.environ.get("BENCH_CALLS", "300"))
ROUNDS = 3
WARMUP = 20
FULL_CHAIN = ["tracing", "ratelimit", "guard-injection", "guard-pii", "retry", "breaker"]
MESSAGES: Any = [{"role": "user", "content": "Hello, how are you today?"}]


def pct(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(q * len(s)))] * 1e6


def kit_for(url: str, plugins: list[str]) -> Any:
    from beluga_core import Kit

    return Kit({"beluga": {"provider": "openai", "plugins": [*plugins, "openai"], "load_unlisted": False},
                "plugins": {"ratelimit": {"requests_per_minute": 10_000_000}},
                "providers": {"openai": {"api_key": KEY, "base_url": url, "model": MODEL}}})


def sync_clients(url: str, kits: dict[str, Any]) -> list[tuple[str, Any]]:
    import openai

    import beluga_sdk

    out = [("bare openai.OpenAI", openai.OpenAI(api_key=KEY, base_url=url + "/v1", max_retries=0))]
    out += [(f"drop-in OpenAI, {name}", beluga_sdk.openai_client(kit, max_retries=0)) for name, kit in kits.items()]
    return out


def async_clients(url: str, kits: dict[str, Any]) -> list[tuple[str, Any]]:
    import openai

    import beluga_sdk

    out = [("bare openai.AsyncOpenAI", openai.AsyncOpenAI(api_key=KEY, base_url=url + "/v1", max_retries=0))]
    out += [(f"drop-in AsyncOpenAI, {name}", beluga_sdk.async_openai_client(kit, max_retries=0))
            for name, kit in kits.items()]
    return out


def run_sync(clients: list[tuple[str, Any]]) -> dict[tuple[str, str], list[float]]:
    def chat(c: Any) -> Any:
        return c.chat.completions.create(model=MODEL, messages=MESSAGES)

    def stream(c: Any) -> Any:
        for _ in c.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True):
            pass

    samples: dict[tuple[str, str], list[float]] = {}
    for kind, fn in (("chat", chat), ("stream", stream)):
        for _, client in clients:
            for _ in range(WARMUP):
                fn(client)
        for _ in range(ROUNDS):
            for name, client in clients:
                out = samples.setdefault((name, kind), [])
                for _ in range(CALLS):
                    t0 = time.perf_counter()
                    fn(client)
                    out.append(time.perf_counter() - t0)
    return samples


async def run_async(clients: list[tuple[str, Any]]) -> dict[tuple[str, str], list[float]]:
    async def chat(c: Any) -> Any:
        return await c.chat.completions.create(model=MODEL, messages=MESSAGES)

    async def stream(c: Any) -> Any:
        async for _ in await c.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True):
            pass

    samples: dict[tuple[str, str], list[float]] = {}
    kinds: list[tuple[str, Callable[[Any], Awaitable[Any]]]] = [("chat", chat), ("stream", stream)]
    for kind, fn in kinds:
        for _, client in clients:
            for _ in range(WARMUP):
                await fn(client)
        for _ in range(ROUNDS):
            for name, client in clients:
                out = samples.setdefault((name, kind), [])
                for _ in range(CALLS):
                    t0 = time.perf_counter()
                    await fn(client)
                    out.append(time.perf_counter() - t0)
    for _, client in clients:
        await client.close()
    return samples


def rows(samples: dict[tuple[str, str], list[float]], bare: str) -> list[list[Any]]:
    out = []
    for (name, kind), s in samples.items():
        base = samples[(bare, kind)]
        p50, p99 = pct(s, 0.5), pct(s, 0.99)
        added = "" if name == bare else f"{p50 - pct(base, 0.5):+.0f} / {p99 - pct(base, 0.99):+.0f}"
        out.append([name, kind, p50, p99, added])
    return out


def main() -> None:
    import openai

    header("SDK drop-in: per-call overhead of beluga_sdk against the bare openai SDK, same loopback server")
    proc, url = start_server()
    try:
        load = os.getloadavg()[0]
        kits = {"no plugins": kit_for(url, []), "full chain": kit_for(url, FULL_CHAIN)}
        sync = run_sync(sync_clients(url, kits))
        kits_async = {"no plugins": kit_for(url, []), "full chain": kit_for(url, FULL_CHAIN)}
        asyn = asyncio.run(run_async(async_clients(url, kits_async)))
        for kit in kits.values():
            kit.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    print(f"openai SDK {openai.__version__}; {CALLS} sequential calls per client per round, {ROUNDS} rounds "
          f"interleaved; stream = 20 text chunks + usage, read to the end; load average {load:.2f} before, "
          f"{os.getloadavg()[0]:.2f} after\n")
    headers = ["client", "call", "p50 µs", "p99 µs", "added p50 / p99 µs"]
    print(table(headers, rows(sync, "bare openai.OpenAI")))
    print()
    print(table(headers, rows(asyn, "bare openai.AsyncOpenAI")))


if __name__ == "__main__":
    main()
