"""Per-call overhead of Beluga's OpenAI provider vs the official ``openai`` SDK, same loopback server.

    .venv/bin/python benchmarks/bench_providers.py

A canned Chat Completions server runs in a subprocess on 127.0.0.1 (keep-alive, answers instantly,
JSON or 20-chunk SSE), so the figures are client-side cost: building the request, HTTP, parsing.
Rows: raw httpx (the floor), ``beluga_openai.OpenAIProvider``, the same through a ``Kit`` with no
plugins (the chain's own cost), and ``openai.AsyncOpenAI`` (max_retries=0). Streaming rows give the
whole stream and the time to the first text chunk. BENCH_BACKENDS="h1,httpx" adds the provider and
the full chain once per provider HTTP client (the lean pool, httpx's client).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import header, table

MODEL = "gpt-4o-mini"
KEY = "sk-bench-0000000000000000"
N_CALLS = 300
#: BENCH_BACKENDS names: the provider options that select each HTTP client.
CLIENTS: dict[str, dict[str, Any]] = {"h1": {"fast_backend": True}, "httpx": {"fast_backend": False}}
REPEAT = 5


# -- the loopback server (runs in a subprocess) -------------------------------------------------


def _canned() -> tuple[bytes, bytes]:
    body = json.dumps({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello! How can I help you today?"},
                     "finish_reason": "stop", "logprobs": None}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21,
                  "prompt_tokens_details": {"cached_tokens": 0}},
    }).encode()
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": MODEL}
    events = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}]
    events += [{**base, "choices": [{"index": 0, "delta": {"content": f" word{i}"}, "finish_reason": None}]}
               for i in range(20)]
    events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    events.append({**base, "choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 20, "total_tokens": 32}})
    sse = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + b"data: [DONE]\n\n"
    json_resp = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
    sse_resp = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: %d\r\n\r\n%s" % (len(sse), sse)
    return json_resp, sse_resp


async def _serve(port: int) -> None:
    json_resp, sse_resp = _canned()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                body = await reader.readexactly(length)
                writer.write(sse_resp if b'"stream":true' in body.replace(b" ", b"") else json_resp)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


def start_server() -> tuple[subprocess.Popen[str], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc, f"http://127.0.0.1:{port}"


# -- clients -------------------------------------------------------------------------------------


async def best_us(fn: Callable[[], Awaitable[Any]], n: int = N_CALLS, repeat: int = REPEAT) -> float:
    for _ in range(20):  # warm up: open the pooled connection, fill caches
        await fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(n):
            await fn()
        best = min(best, (time.perf_counter() - t0) / n)
    return best * 1e6


async def ttfc_us(stream: Callable[[], Any], n: int = N_CALLS, repeat: int = REPEAT) -> float:
    """Median-of-best time from starting a stream to its first text chunk (the stream is then drained)."""
    samples: list[float] = []
    for r in range(repeat + 1):
        run: list[float] = []
        for _ in range(n // 3):
            t0 = time.perf_counter()
            first = None
            async for text in stream():
                if first is None and text:
                    first = time.perf_counter() - t0
            run.append(first or 0.0)
        if r:  # the first round is a warm-up
            samples.append(sorted(run)[len(run) // 2])
    return min(samples) * 1e6


async def measure(url: str) -> list[list[Any]]:
    import httpx
    import openai

    from beluga_core import Kit, LLMRequest, ProviderConfig
    from beluga_openai import OpenAIPlugin, OpenAIProvider

    messages: Any = [{"role": "user", "content": "Hello, how are you today?"}]
    raw = httpx.AsyncClient(headers={"authorization": f"Bearer {KEY}", "content-type": "application/json"})
    beluga = OpenAIProvider(ProviderConfig(api_key=KEY, base_url=url, model=MODEL))
    kit = Kit({"beluga": {"provider": "openai"}, "providers": {"openai": {"api_key": KEY, "base_url": url,
                                                                          "model": MODEL}}},
              plugins={"openai": OpenAIPlugin()}, entry_points=False)
    # The whole chain as the README configures it (every installed plugin; tracing exports nowhere):
    # what a call through Beluga costs in production, guards' stream hold-back included.
    full = Kit({"beluga": {"provider": "openai", "plugins": [
        "tracing", "ratelimit", "guard-injection", "guard-pii", "retry", "breaker"]},
        "providers": {"openai": {"api_key": KEY, "base_url": url, "model": MODEL}}})
    # BENCH_BACKENDS="h1,httpx": the same provider and full chain on each HTTP client, side by side.
    backends = [b for b in os.environ.get("BENCH_BACKENDS", "").split(",") if b]
    per_backend = {
        b: (OpenAIProvider(ProviderConfig(api_key=KEY, base_url=url, model=MODEL, options=CLIENTS[b])),
            Kit({"beluga": {"provider": "openai", "plugins": [
                "tracing", "ratelimit", "guard-injection", "guard-pii", "retry", "breaker"]},
                "providers": {"openai": {"api_key": KEY, "base_url": url, "model": MODEL, "options": CLIENTS[b]}}}))
        for b in backends
    }
    sdk = openai.AsyncOpenAI(api_key=KEY, base_url=url + "/v1", max_retries=0)
    request = LLMRequest("Hello, how are you today?", model=MODEL)
    srequest = request.replace(stream=True)
    endpoint = url + "/v1/chat/completions"
    body = {"model": MODEL, "messages": messages}
    sbody = {**body, "stream": True, "stream_options": {"include_usage": True}}

    async def raw_json() -> Any:
        r = await raw.post(endpoint, content=json.dumps(body).encode())
        return json.loads(r.content)["choices"][0]["message"]["content"]

    async def raw_stream() -> Any:
        async with raw.stream("POST", endpoint, content=json.dumps(sbody).encode()) as r:
            async for line in r.aiter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    delta = (json.loads(line[6:])["choices"] or [{}])[0].get("delta", {})
                    yield delta.get("content") or ""

    async def beluga_stream() -> Any:
        async for c in beluga.astream(srequest):
            yield c.text

    async def kit_stream() -> Any:
        async for c in kit.astream("Hello, how are you today?"):
            yield c.text

    async def full_stream() -> Any:
        async for c in full.astream("Hello, how are you today?"):
            yield c.text

    async def sdk_stream() -> Any:
        s = await sdk.chat.completions.create(model=MODEL, messages=messages, stream=True,
                                              stream_options={"include_usage": True})
        async for c in s:
            yield (c.choices[0].delta.content or "") if c.choices else ""

    async def drain(gen: Callable[[], Any]) -> None:
        async for _ in gen():
            pass

    results: dict[str, dict[str, float]] = {}
    clients: list[tuple[str, Callable[[], Awaitable[Any]], Callable[[], Any]]] = [
        ("raw httpx + json (floor)", raw_json, raw_stream),
        ("beluga OpenAIProvider", lambda: beluga.agenerate(request), beluga_stream),
        ("beluga Kit (no plugins) -> openai", lambda: kit.agenerate("Hello, how are you today?"), kit_stream),
        ("beluga Kit, full chain -> openai", lambda: full.agenerate("Hello, how are you today?"), full_stream),
        ("openai SDK AsyncOpenAI", lambda: sdk.chat.completions.create(model=MODEL, messages=messages),
         sdk_stream),
    ]
    for b, (prov, fkit) in per_backend.items():

        async def prov_stream(prov: Any = prov) -> Any:
            async for c in prov.astream(srequest):
                yield c.text

        async def fkit_stream(fkit: Any = fkit) -> Any:
            async for c in fkit.astream("Hello, how are you today?"):
                yield c.text

        clients.append((f"OpenAIProvider [{b}]", lambda prov=prov: prov.agenerate(request), prov_stream))
        clients.append((f"Kit, full chain [{b}]", lambda fkit=fkit: fkit.agenerate("Hello, how are you today?"),
                        fkit_stream))
    # Interleave rounds so drift on a shared machine hits every client alike.
    for _ in range(2):
        for name, fn, stream in clients:
            r = results.setdefault(name, {"json": float("inf"), "stream": float("inf"), "ttfc": float("inf")})
            r["json"] = min(r["json"], await best_us(fn))
            r["stream"] = min(r["stream"], await best_us(lambda s=stream: drain(s), n=N_CALLS // 2))  # type: ignore[misc]
            r["ttfc"] = min(r["ttfc"], await ttfc_us(stream))
    await raw.aclose()
    await beluga.aclose()
    await kit.aclose()
    await full.aclose()
    await sdk.close()
    for prov, fkit in per_backend.values():
        await prov.aclose()
        await fkit.aclose()
    sdk_row = results["openai SDK AsyncOpenAI"]
    rows = []
    for name, r in results.items():
        rows.append([name, r["json"], r["json"] / sdk_row["json"], r["stream"], r["stream"] / sdk_row["stream"],
                     r["ttfc"]])
    return rows


def main() -> None:
    import openai

    header("Providers: per-call client overhead against a loopback Chat Completions server")
    proc, url = start_server()
    try:
        rows = asyncio.run(measure(url))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    print(f"openai SDK {openai.__version__}; {N_CALLS} sequential calls per round, best of {REPEAT} rounds x 2; "
          "stream = 20 text chunks + usage; ratio < 1 means faster than the SDK\n")
    print(table(["client", "JSON µs/call", "vs SDK", "stream µs/call", "vs SDK", "first chunk µs"], rows))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        asyncio.run(_serve(int(sys.argv[2])))
    else:
        main()
