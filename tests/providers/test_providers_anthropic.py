"""The Anthropic provider against a real HTTP server on loopback speaking the Messages API."""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from provider_fakes import ANTHROPIC_KEY, FakeServer, event, json_reply, raw_reply, slow, sse_reply

from beluga_anthropic import AnthropicProvider
from beluga_core import (
    AIMessage,
    ErrorCode,
    HumanMessage,
    ImagePart,
    LLMRequest,
    LLMStream,
    ProviderConfig,
    ProviderError,
    StreamChunk,
    SystemMessage,
    TextPart,
    ToolCall,
    ToolMessage,
    ToolSpec,
)

WEATHER = ToolSpec("get_weather", "Weather for a city", {"type": "object", "properties": {"q": {"type": "string"}}})


def provider(server: FakeServer, **kw: Any) -> AnthropicProvider:
    cfg: dict[str, Any] = {"api_key": ANTHROPIC_KEY, "base_url": server.url, "model": "claude-sonnet-4-5"}
    cfg.update(kw)
    return AnthropicProvider(ProviderConfig(**cfg))


def run(server: FakeServer, fn: Callable[[AnthropicProvider], Awaitable[Any]], **kw: Any) -> Any:
    async def main() -> Any:
        p = provider(server, **kw)
        try:
            return await fn(p)
        finally:
            await p.aclose()

    return asyncio.run(main())


def error_of(server: FakeServer, fn: Callable[[AnthropicProvider], Awaitable[Any]], **kw: Any) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        run(server, fn, **kw)
    return info.value


def gen(messages: Any = "hello", **kw: Any) -> Callable[[AnthropicProvider], Awaitable[Any]]:
    return lambda p: p.agenerate(LLMRequest(messages, **kw))


def stream_all(req: LLMRequest, seen: list[StreamChunk] | None = None) -> Callable[[AnthropicProvider], Awaitable[Any]]:
    async def fn(p: AnthropicProvider) -> Any:
        s = await LLMStream.start(p.astream(req), provider=p.name)
        async for c in s:
            if seen is not None:
                seen.append(c)
        return s.response

    return fn


def test_generate_sends_key_version_and_max_tokens_and_reads_text_and_usage(anthropic_fake: FakeServer) -> None:
    anthropic_fake.cached_tokens = 40
    r = run(anthropic_fake, gen("hello there"))
    assert r.text == "echo: hello there"
    assert (r.provider, r.model, r.finish_reason) == ("anthropic", "claude-sonnet-4-5", "stop")
    assert r.metadata["stop_reason"] == "end_turn"
    # input_tokens 10 + cache read 40 + cache write 5: Beluga's input counts all prompt tokens
    assert (r.usage.input_tokens, r.usage.cached_input_tokens) == (55, 40)
    req = anthropic_fake.last
    assert req["path"] == "/v1/messages"
    assert req["headers"]["x-api-key"] == ANTHROPIC_KEY and req["headers"]["anthropic-version"] == "2023-06-01"
    assert "authorization" not in req["headers"]
    assert req["body"] == {"model": "claude-sonnet-4-5", "max_tokens": 1024,
                           "messages": [{"role": "user", "content": [{"type": "text", "text": "hello there"}]}]}


def test_system_goes_top_level_with_cache_control_on_the_breakpoint_block(anthropic_fake: FakeServer) -> None:
    messages = [
        SystemMessage(parts=[TextPart("You are terse."), TextPart("Long static context...", cache_breakpoint=True)]),
        SystemMessage("Today is Monday."),
        HumanMessage("hi"),
    ]
    run(anthropic_fake, gen(messages, max_tokens=99, temperature=0.1, params={"top_k": 5}))
    body = anthropic_fake.last["body"]
    assert body["system"] == [
        {"type": "text", "text": "You are terse."},
        {"type": "text", "text": "Long static context...", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "Today is Monday."},
    ]
    assert body["max_tokens"] == 99 and body["temperature"] == 0.1 and body["top_k"] == 5
    assert [m["role"] for m in body["messages"]] == ["user"]


def test_system_without_breakpoint_is_a_string_and_user_breakpoints_are_marked(anthropic_fake: FakeServer) -> None:
    run(anthropic_fake, gen([SystemMessage("be kind"), HumanMessage(parts=[TextPart("doc", cache_breakpoint=True),
                                                                          TextPart("question")])]))
    body = anthropic_fake.last["body"]
    assert body["system"] == "be kind"
    assert body["messages"][0]["content"][0] == {"type": "text", "text": "doc", "cache_control": {"type": "ephemeral"}}


def test_images_become_base64_and_url_sources(anthropic_fake: FakeServer) -> None:
    png = b"\x89PNG fake bytes"
    msg = HumanMessage(parts=[
        TextPart("Compare."),
        ImagePart(data=png, mime_type="image/png"),
        ImagePart(url="https://example.test/b.jpg", detail="high"),
        ImagePart(url="data:image/webp;base64," + base64.b64encode(b"webp").decode()),
    ])
    r = run(anthropic_fake, gen([msg]))
    assert r.text == "I see 3 images (base64, url, base64). Compare."
    blocks = anthropic_fake.last["body"]["messages"][0]["content"]
    assert blocks[1] == {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                     "data": base64.b64encode(png).decode()}}
    assert blocks[2] == {"type": "image", "source": {"type": "url", "url": "https://example.test/b.jpg"}}
    webp = base64.b64encode(b"webp").decode()
    assert blocks[3]["source"] == {"type": "base64", "media_type": "image/webp", "data": webp}


def test_tool_use_comes_back_as_a_tool_call_and_results_go_back_as_tool_result(anthropic_fake: FakeServer) -> None:
    r = run(anthropic_fake, gen("Oslo", tools=(WEATHER,)))
    assert r.text == "Let me check." and r.finish_reason == "tool_calls"
    assert r.tool_calls == (ToolCall("toolu_1", "get_weather", {"q": "Oslo"}),)
    assert anthropic_fake.last["body"]["tools"] == [
        {"name": "get_weather", "input_schema": dict(WEATHER.parameters), "description": "Weather for a city"}]
    history = [
        HumanMessage("Oslo and Bergen?"),
        AIMessage("Checking.", tool_calls=[ToolCall("toolu_1", "get_weather", {"q": "Oslo"}),
                                           ToolCall("toolu_2", "get_weather", {"q": "Bergen"})]),
        ToolMessage("rain", tool_call_id="toolu_1"),
        ToolMessage("sun", tool_call_id="toolu_2"),
    ]
    r2 = run(anthropic_fake, gen(history))
    assert r2.text == "the tool said: rain"
    msgs = anthropic_fake.last["body"]["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]  # two tool results merged in one turn
    assert msgs[1]["content"][1] == {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"q": "Oslo"}}
    assert msgs[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "rain"}]},
        {"type": "tool_result", "tool_use_id": "toolu_2", "content": [{"type": "text", "text": "sun"}]},
    ]


def test_stream_yields_text_deltas_ignores_pings_and_ends_with_usage(anthropic_fake: FakeServer) -> None:
    anthropic_fake.cached_tokens = 2
    seen: list[StreamChunk] = []
    resp = run(anthropic_fake, stream_all(LLMRequest("one two", stream=True), seen))
    assert [c.text for c in seen if c.text] == ["echo:", " one", " two"]
    assert seen[-1].usage is not None and seen[-1].finish_reason == "stop"
    assert resp.text == "echo: one two" and resp.model == "claude-sonnet-4-5"
    assert resp.usage.input_tokens == 17 and resp.usage.cached_input_tokens == 2 and resp.usage.output_tokens > 1
    assert anthropic_fake.last["body"]["stream"] is True


def test_stream_assembles_tool_use_from_input_json_deltas(anthropic_fake: FakeServer) -> None:
    seen: list[StreamChunk] = []
    resp = run(anthropic_fake, stream_all(LLMRequest("Bergen", tools=(WEATHER,), stream=True), seen))
    fragments = [d.arguments for c in seen for d in c.tool_calls if d.arguments]
    assert len(fragments) > 1 and "".join(fragments) == '{"q": "Bergen"}'
    assert [d.index for c in seen for d in c.tool_calls] == [0] * (len(fragments) + 1)  # first tool call is 0
    assert resp.tool_calls == (ToolCall("toolu_1", "get_weather", {"q": "Bergen"}),)
    assert resp.text == "Let me check." and resp.finish_reason == "tool_calls"


# -- errors --------------------------------------------------------------------------------------


def _err(etype: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": etype, "message": message}}


@pytest.mark.parametrize(("status", "etype", "code"), [
    (529, "overloaded_error", ErrorCode.PROVIDER_UNAVAILABLE),
    (500, "api_error", ErrorCode.PROVIDER_UNAVAILABLE),
    (400, "invalid_request_error", ErrorCode.INVALID_INPUT),
    (403, "permission_error", ErrorCode.AUTH),
    (404, "not_found_error", ErrorCode.NOT_FOUND),
    (413, "request_too_large", ErrorCode.INVALID_INPUT),
])
def test_http_statuses_map_to_error_codes(anthropic_fake: FakeServer, status: int, etype: str, code: ErrorCode) -> None:
    anthropic_fake.push(json_reply(status, _err(etype, "nope")))
    err = error_of(anthropic_fake, gen())
    assert (err.code, err.status_code, err.provider) == (code, status, "anthropic")
    assert f"nope ({etype})" in err.message


def test_429_is_rate_limit_with_retry_after(anthropic_fake: FakeServer) -> None:
    anthropic_fake.push(json_reply(429, _err("rate_limit_error", "Number of request tokens has exceeded your limit"),
                                   {"retry-after": "12"}))
    err = error_of(anthropic_fake, gen())
    assert err.code is ErrorCode.RATE_LIMIT and err.retry_after == 12.0


def test_bad_key_is_auth_and_the_key_is_scrubbed_from_the_quoted_message(
    anthropic_fake: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="beluga")
    wrong = "sk-ant-wrong-0000111122223333"
    err = error_of(anthropic_fake, gen(), api_key=wrong)
    assert err.code is ErrorCode.AUTH and "invalid x-api-key" in err.message
    p = provider(anthropic_fake, api_key=wrong)
    for text in (str(err), repr(err), caplog.text, repr(p), repr(p.config)):
        assert wrong not in text


def test_slow_response_is_timeout(anthropic_fake: FakeServer) -> None:
    anthropic_fake.push(slow(3.0))
    err = error_of(anthropic_fake, gen(), read_timeout=0.3)
    assert err.code is ErrorCode.TIMEOUT


def test_malformed_json_is_provider_unavailable(anthropic_fake: FakeServer) -> None:
    anthropic_fake.push(raw_reply(200, b'{"content": [truncated'))
    err = error_of(anthropic_fake, gen())
    assert err.code is ErrorCode.PROVIDER_UNAVAILABLE and "not JSON" in err.message


def test_error_event_mid_stream_is_raised_with_its_code(anthropic_fake: FakeServer) -> None:
    start = event("message_start", {"type": "message_start", "message": {"model": "m", "usage": {"input_tokens": 3}}})
    text = event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                         "delta": {"type": "text_delta", "text": "partial"}})
    anthropic_fake.push(sse_reply([start, text, event("error", _err("overloaded_error", "Overloaded"))]))
    seen: list[StreamChunk] = []
    with pytest.raises(ProviderError) as info:
        run(anthropic_fake, stream_all(LLMRequest("x", stream=True), seen))
    assert info.value.code is ErrorCode.PROVIDER_UNAVAILABLE and "Overloaded" in info.value.message
    assert [c.text for c in seen] == ["partial"]


def test_stream_without_message_stop_is_cut_off(anthropic_fake: FakeServer) -> None:
    start = event("message_start", {"type": "message_start", "message": {"model": "m", "usage": {"input_tokens": 3}}})
    text = event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                         "delta": {"type": "text_delta", "text": "partial"}})
    anthropic_fake.push(sse_reply([start, text]), sse_reply([start, text], cut=True))
    for _ in range(2):
        err = error_of(anthropic_fake, stream_all(LLMRequest("x", stream=True)))
        assert err.code is ErrorCode.PROVIDER_UNAVAILABLE


def test_529_on_a_streaming_request_raises_before_any_chunk(anthropic_fake: FakeServer) -> None:
    anthropic_fake.push(json_reply(529, _err("overloaded_error", "Overloaded")))
    err = error_of(anthropic_fake, stream_all(LLMRequest("x", stream=True)))
    assert err.code is ErrorCode.PROVIDER_UNAVAILABLE and err.status_code == 529


def test_request_deadline_caps_the_read_timeout(anthropic_fake: FakeServer) -> None:
    anthropic_fake.push(slow(3.0))
    t0 = time.monotonic()
    err = error_of(anthropic_fake, gen(deadline=time.monotonic() + 0.3))
    assert err.code is ErrorCode.TIMEOUT and time.monotonic() - t0 < 2.5


def test_connections_are_reused_after_a_complete_stream(anthropic_fake: FakeServer) -> None:
    async def three(p: AnthropicProvider) -> None:
        for _ in range(2):
            async for _chunk in p.astream(LLMRequest("x", stream=True)):
                pass
        await p.agenerate(LLMRequest("y"))

    run(anthropic_fake, three)
    assert len({r["client"] for r in anthropic_fake.requests}) == 1


def test_an_error_object_in_a_200_body_is_mapped_by_its_type(anthropic_fake: FakeServer) -> None:
    anthropic_fake.push(json_reply(200, _err("overloaded_error", "Overloaded")), json_reply(200, {"id": "x"}))
    assert error_of(anthropic_fake, gen()).code is ErrorCode.PROVIDER_UNAVAILABLE
    err = error_of(anthropic_fake, gen())
    assert err.code is ErrorCode.PROVIDER_UNAVAILABLE and "content is not an array" in err.message
