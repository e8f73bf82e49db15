"""A request the upstream may have read is never sent twice: model calls are not idempotent.

The upstream is a raw asyncio server on loopback that answers the first request of a kept-alive
connection, then reads the second one, waits a second and closes without answering. One ``Kit``
call (no retry plugin) must reach it exactly once and fail with a ``ProviderError``.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from provider_fakes import OPENAI_KEY, ScriptedServer, read_request

from beluga_core import ErrorCode, Kit, ProviderError
from beluga_openai import OpenAIPlugin

ANSWER = json.dumps({
    "id": "c1", "object": "chat.completion", "model": "gpt-4o",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1},
}).encode()
STREAM = (
    b'data: {"choices":[{"index":0,"delta":{"content":"hello"}}]}\n\n'
    b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
)


class ReadThenHangUp(ScriptedServer):
    """Answers each connection's first request; reads the next, waits ``wait`` s, closes unanswered."""

    def __init__(self, wait: float = 1.0) -> None:
        super().__init__(self.answer_then_hang_up)
        self.wait = wait
        self.requests: list[bytes] = []

    async def answer_then_hang_up(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        body = (await read_request(reader))[1]
        self.requests.append(body)
        stream = b'"stream":true' in body
        payload, ctype = (STREAM, b"text/event-stream") if stream else (ANSWER, b"application/json")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: %s\r\ncontent-length: %d\r\n\r\n%s"
                     % (ctype, len(payload), payload))
        await writer.drain()
        self.requests.append((await read_request(reader))[1])
        await asyncio.sleep(self.wait)


def _kit(url: str) -> Kit:
    return Kit(
        {"beluga": {"provider": "openai"},
         "providers": {"openai": {"api_key": OPENAI_KEY, "base_url": url, "model": "gpt-4o"}}},
        plugins={"openai": OpenAIPlugin()}, entry_points=False,
    )


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_a_request_the_upstream_read_is_not_sent_again(stream: bool) -> None:
    async with ReadThenHangUp() as upstream:
        kit = _kit(upstream.url)
        try:
            if stream:
                assert "".join([c.text async for c in kit.astream("first")]) == "hello"
            else:
                assert (await kit.agenerate("first")).text == "hello"
            with pytest.raises(ProviderError) as info:
                if stream:
                    async for _ in kit.astream("second"):
                        pass
                else:
                    await kit.agenerate("second")
            # give a resent request time to arrive before counting
            await asyncio.sleep(0.3)
        finally:
            await kit.aclose()
    assert len(upstream.requests) == 2, "one Kit call reached the upstream more than once"
    err = info.value
    assert err.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert "closed the connection" in err.message or "disconnected" in err.message
    assert OPENAI_KEY not in str(err)
