"""The connection pool under more streams than connections: callers wait, local limits never open a breaker,
and a stream holds its connection no longer than it must."""

from __future__ import annotations

import asyncio
from typing import Any

from provider_fakes import OPENAI_KEY, ScriptedServer, read_request

from beluga_breaker.breaker import CircuitState
from beluga_breaker.plugin import BreakerPlugin
from beluga_core import ErrorCode, Kit, ProviderError
from beluga_openai import OpenAIPlugin

EVENT = b'data: {"choices":[{"index":0,"delta":{"content":"w "}}]}\n\n'
DONE = b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'


class SlowStreams(ScriptedServer):
    """A healthy upstream whose every answer is a chunked SSE stream of ``events`` events ``gap`` s apart."""

    def __init__(self, events: int = 4, gap: float = 0.05) -> None:
        super().__init__(self.stream_slowly)
        self.events, self.gap = events, gap
        self.open = self.most_open = self.requests = 0

    async def stream_slowly(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            while True:
                await read_request(reader)
                self.requests += 1
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                             b"transfer-encoding: chunked\r\n\r\n")
                for _ in range(self.events):
                    writer.write(b"%x\r\n%s\r\n" % (len(EVENT), EVENT))
                    await writer.drain()
                    await asyncio.sleep(self.gap)
                writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(DONE), DONE))
                await writer.drain()
        finally:
            self.open -= 1


def _kit(url: str, breaker: BreakerPlugin, **provider: Any) -> Kit:
    return Kit(
        {"beluga": {"provider": "openai", "plugins": ["openai", "breaker"]},
         "plugins": {"breaker": {"failure_threshold": 3}},
         "providers": {"openai": {"api_key": OPENAI_KEY, "base_url": url, "model": "gpt-4o", **provider}}},
        plugins={"openai": OpenAIPlugin(), "breaker": breaker}, entry_points=False,
    )


async def _stream(kit: Kit) -> str | BaseException:
    try:
        return "".join([c.text async for c in kit.astream("hi")])
    except ProviderError as exc:  # anything else (a CircuitOpenError) fails the test
        return exc


async def test_fifty_streams_on_twenty_connections_wait_their_turn() -> None:
    breaker = BreakerPlugin()
    async with SlowStreams() as upstream:
        kit = _kit(upstream.url, breaker)  # the default pool: max_connections = 20
        try:
            results = await asyncio.gather(*(_stream(kit) for _ in range(50)))
        finally:
            await kit.aclose()
    assert [r for r in results if not isinstance(r, str)] == []
    assert all(r == "w w w w " for r in results)
    assert upstream.requests == 50
    assert upstream.most_open <= 20
    assert breaker.breaker_for("openai", "gpt-4o").state is CircuitState.CLOSED


async def test_a_busy_pool_is_a_local_error_that_never_opens_the_breaker() -> None:
    breaker = BreakerPlugin()
    async with SlowStreams(events=4, gap=0.1) as upstream:
        kit = _kit(upstream.url, breaker, max_connections=2, options={"pool_timeout": 0.05})
        try:
            results = await asyncio.gather(*(_stream(kit) for _ in range(12)))
            after = await _stream(kit)  # the upstream is healthy: the next call goes through
        finally:
            await kit.aclose()
    errors = [r for r in results if not isinstance(r, str)]
    assert errors, "expected callers beyond the pool to give up waiting"
    for err in errors:
        assert isinstance(err, ProviderError), repr(err)
        assert err.local is True and err.code is ErrorCode.TIMEOUT
        assert "max_connections" in err.message and "not an upstream failure" in err.message
    assert breaker.breaker_for("openai", "gpt-4o").state is CircuitState.CLOSED
    assert after == "w w w w "
    assert upstream.requests == 12 - len(errors) + 1


async def test_a_stream_the_caller_leaves_gives_its_connection_back() -> None:
    breaker = BreakerPlugin()
    async with SlowStreams(events=200, gap=0.05) as upstream:  # each stream would take 10 s to finish
        kit = _kit(upstream.url, breaker, max_connections=1, options={"pool_timeout": 3.0})
        texts = []
        try:
            for _ in range(4):  # one connection: each call needs the one before to have let go of it
                stream = kit.astream("hi")
                async for chunk in stream:
                    if chunk.text:
                        texts.append(chunk.text)
                        break
                await stream.aclose()  # type: ignore[attr-defined]
        finally:
            await kit.aclose()
    assert texts == ["w "] * 4
    assert upstream.requests == 4
