"""``beluga_cache``: what a hit costs next to a miss, in memory and on Redis, through the chain and the gateway.

    .venv/bin/python benchmarks/bench_cache.py

Through the chain (``Kit.agenerate`` on the offline echo provider, which answers at once, so the
figures are the cache's own work): a call without the cache, a miss (the lookup, the provider, the
store; every prompt new) and a hit (the lookup, decoding, the guards), in memory and on a
redis-server started here on a free loopback port (skipped without one). Through the gateway (memory):
the same three, as sequential HTTP requests from one client. A real model answers in hundreds of
milliseconds; a hit is worth it when its added time is a small fraction of that.
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

import httpx
from _util import header, table

from beluga_cache import CachePlugin
from beluga_core import Kit
from beluga_gateway import Gateway, ServerThread

CHAIN_N = 2_000
HTTP_N = 300
ROUNDS = 3
PROMPT = "Summarise the quarterly report for the board in three sentences, please. " * 8


@contextmanager
def redis_server() -> Iterator[str | None]:
    """A redis-server on a free loopback port for the run (None without the binary)."""
    binary = shutil.which("redis-server") or shutil.which("valkey-server")
    if binary is None:
        yield None
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
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


def _kit(storage: str | None) -> tuple[Kit, CachePlugin]:
    cache = CachePlugin()
    settings: dict[str, Any] = {"enabled": storage is not None}
    if storage is not None:
        settings["storage"] = storage
    config = {"beluga": {"plugins": ["cache"], "load_unlisted": False}, "plugins": {"cache": settings}}
    return Kit(config, plugins={"cache": cache}, entry_points=False), cache


def _interleaved_us(fns: dict[str, Callable[[], Any]], n: int) -> dict[str, float]:
    """Best mean µs per call of each, in alternating rounds (a burst of load lands on all alike)."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(ROUNDS):
        for name, fn in fns.items():
            t0 = time.perf_counter_ns()
            for _ in range(n):
                fn()
            best[name] = min(best[name], (time.perf_counter_ns() - t0) / n / 1000)
    return best


def _rows(label: str, us: dict[str, float]) -> list[list[Any]]:
    none = us["none"]
    return [
        [f"{label}: no cache", none, 0.0],
        [f"{label}: miss (lookup, provider, store)", us["miss"], us["miss"] - none],
        [f"{label}: hit (lookup, decode, guards)", us["hit"], us["hit"] - none],
    ]


def chain_rows(storage: str, label: str) -> list[list[Any]]:
    """µs per ``Kit.agenerate``: no cache, miss, hit."""

    async def main() -> list[list[Any]]:
        plain, _ = _kit(None)
        kit, cache = _kit(storage)
        meta = {"project": "bench"}
        fresh = itertools.count()
        await kit.agenerate(PROMPT, metadata=meta)  # the answer the hits are served from
        await cache.drain()
        calls = {
            "none": lambda: plain.agenerate(PROMPT, metadata=meta),
            "miss": lambda: kit.agenerate(f"{next(fresh)} {PROMPT}", metadata=meta),
            "hit": lambda: kit.agenerate(PROMPT, metadata=meta),
        }
        best = dict.fromkeys(calls, float("inf"))
        for _ in range(ROUNDS):
            for name, call in calls.items():
                t0 = time.perf_counter_ns()
                for _ in range(CHAIN_N):
                    await call()
                best[name] = min(best[name], (time.perf_counter_ns() - t0) / CHAIN_N / 1000)
        assert (await kit.agenerate(PROMPT, metadata=meta)).metadata["cache"] == "hit"
        await kit.aclose()
        await plain.aclose()
        return _rows(label, best)

    return asyncio.run(main())


def gateway_rows() -> list[list[Any]]:
    """µs per sequential request through the gateway (memory): no cache, miss, hit."""
    servers = {name: ServerThread(Gateway(_kit(storage)[0], owns_kit=True)).start()
               for name, storage in (("none", None), ("cache", "memory://"))}
    try:
        with httpx.Client(timeout=10) as client:
            fresh = itertools.count()

            def post(server: str, text: str) -> httpx.Response:
                body = {"model": "echo", "messages": [{"role": "user", "content": text}]}
                return client.post(f"{servers[server].url}/v1/chat/completions", json=body)

            post("none", PROMPT)
            post("cache", PROMPT)
            us = _interleaved_us({
                "none": lambda: post("none", PROMPT),
                "miss": lambda: post("cache", f"{next(fresh)} {PROMPT}"),
                "hit": lambda: post("cache", PROMPT),
            }, HTTP_N)
            assert post("cache", PROMPT).headers["x-beluga-cache"] == "hit"
    finally:
        for server in servers.values():
            server.stop()
    return _rows("gateway, memory", us)


def main() -> None:
    header("beluga_cache: a hit's added latency next to a miss")
    rows = chain_rows("memory://", "chain, memory")
    with redis_server() as url:
        if url is None:
            print("redis-server not installed: Redis rows skipped (apt-get install redis-server)")
        else:
            rows += chain_rows(url, "chain, Redis")
    rows += gateway_rows()
    print(table(["path", "µs per call", "µs vs no cache"], rows))
    print(f"\nchain: best of {ROUNDS} runs of {CHAIN_N:,} calls; gateway: best of {ROUNDS} runs of "
          f"{HTTP_N} sequential requests, one client; prompt {len(PROMPT)} characters")


if __name__ == "__main__":
    main()
