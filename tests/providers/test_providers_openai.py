"""The OpenAI-compatible provider against a real HTTP server on loopback speaking Chat Completions."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from provider_fakes import OPENAI_KEY, FakeServer, closed_port_url, data, json_reply, raw_reply, slow, sse_reply

import beluga_http as _http
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
    add_header_injector,
    remove_header_injector,
)
from beluga_openai import OpenAIProvider

WEATHER = ToolSpec("get_weather", "Weather for a city", {"type": "object", "properties": {"q": {"type": "string"}}})


def provider(server: FakeServer, **kw: Any) -> OpenAIProvider:
    cfg: dict[str, Any] = {"api_key": OPENAI_KEY, "base_url": server.url, "model": "gpt-4o"}
    cfg.update(kw)
    return OpenAIProvider(ProviderConfig(**cfg))


def run(server: FakeServer, fn: Callable[[OpenAIProvider], Awaitable[Any]], **kw: Any) -> Any:
    """Run ``fn(provider)`` on a fresh loop and close the provider's client on that loop."""

    async def main() -> Any:
        p = provider(server, **kw)
        try:
            return await fn(p)
        finally:
            await p.aclose()

    return asyncio.run(main())


def error_of(server: FakeServer, fn: Callable[[OpenAIProvider], Awaitable[Any]], **kw: Any) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        run(server, fn, **kw)
    return info.value


def gen(text: str = "hello", **kw: Any) -> Callable[[OpenAIProvider], Awaitable[Any]]:
    return lambda p: p.agenerate(LLMRequest(text, **kw))


def stream_all(req: LLMRequest) -> Callable[[OpenAIProvider], Awaitable[tuple[list[StreamChunk], Any]]]:
    async def fn(p: OpenAIProvider) -> tuple[list[StreamChunk], Any]:
        chunks: list[StreamChunk] = []
        s = await LLMStream.start(p.astream(req), provider=p.name)
        async for c in s:
            chunks.append(c)
        return chunks, s.response

    return fn


def partial_stream(req: LLMRequest, seen: list[StreamChunk]) -> Callable[[OpenAIProvider], Awaitable[None]]:
    async def fn(p: OpenAIProvider) -> None:
        async for c in p.astream(req):
            seen.append(c)

    return fn


# -- plain calls -------------------------------------------------------------------------------


def test_generate_returns_text_model_finish_reason_and_usage_with_cached_tokens(openai_fake: FakeServer) -> None:
    openai_fake.cached_tokens = 7
    r = run(openai_fake, gen("hello there"))
    assert r.text == "echo: hello there"
    assert (r.provider, r.model, r.finish_reason) == ("openai", "gpt-4o", "stop")
    assert r.usage.cached_input_tokens == 7 and r.usage.input_tokens > 7 and r.usage.output_tokens > 0
    req = openai_fake.last
    assert req["path"] == "/v1/chat/completions"
    assert req["headers"]["authorization"] == f"Bearer {OPENAI_KEY}"
    assert req["body"] == {"model": "gpt-4o", "messages": [{"role": "user", "content": "hello there"}]}


def test_request_body_carries_roles_tool_history_limits_and_passthrough_params(openai_fake: FakeServer) -> None:
    messages = [
        SystemMessage("be brief"),
        HumanMessage("weather in Oslo?"),
        AIMessage("", tool_calls=[ToolCall("call_9", "get_weather", {"q": "Oslo"})]),
        ToolMessage("rain, 4°C", tool_call_id="call_9", name="get_weather"),
    ]
    params = {"top_p": 0.5, "stop": ["\n"]}
    req = LLMRequest(messages, model="gpt-4o-mini", max_tokens=50, temperature=0.2, params=params)
    r = run(openai_fake, lambda p: p.agenerate(req))
    assert r.text == "the tool said: rain, 4°C"
    body = openai_fake.last["body"]
    assert body["model"] == "gpt-4o-mini" and body["max_tokens"] == 50 and body["temperature"] == 0.2
    assert body["top_p"] == 0.5 and body["stop"] == ["\n"]
    assert body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "weather in Oslo?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_9", "type": "function", "function": {"name": "get_weather", "arguments": '{"q": "Oslo"}'}}]},
        {"role": "tool", "tool_call_id": "call_9", "content": "rain, 4°C"},
    ]


def test_multiple_images_per_message_from_url_and_inline_data_keep_order_and_detail(openai_fake: FakeServer) -> None:
    msg = HumanMessage(parts=[
        TextPart("Compare these."),
        ImagePart(url="https://example.test/a.png", detail="high"),
        ImagePart(data=b"\x89PNG fake", mime_type="image/png", detail="low"),
        ImagePart(url="https://example.test/c.jpg"),
    ])
    r = run(openai_fake, lambda p: p.agenerate(LLMRequest([msg])))
    assert r.text == "I see 3 images (1:url/high, 2:data/low, 3:url/auto). Compare these."
    parts = openai_fake.last["body"]["messages"][0]["content"]
    assert parts[0] == {"type": "text", "text": "Compare these."}
    assert parts[1] == {"type": "image_url", "image_url": {"url": "https://example.test/a.png", "detail": "high"}}
    assert parts[2]["image_url"]["url"].startswith("data:image/png;base64,")
    assert parts[3] == {"type": "image_url", "image_url": {"url": "https://example.test/c.jpg"}}


def test_tools_are_sent_as_functions_and_tool_calls_come_back_parsed(openai_fake: FakeServer) -> None:
    r = run(openai_fake, gen("Oslo", tools=(WEATHER,)))
    assert r.finish_reason == "tool_calls"
    assert r.tool_calls == (ToolCall("call_1", "get_weather", {"q": "Oslo"}),)
    assert openai_fake.last["body"]["tools"] == [{"type": "function", "function": {
        "name": "get_weather", "parameters": dict(WEATHER.parameters), "description": "Weather for a city"}}]


def test_a_base_url_ending_in_v1_is_not_doubled_and_connections_are_pooled(openai_fake: FakeServer) -> None:
    async def two(p: OpenAIProvider) -> None:
        await p.agenerate(LLMRequest("a"))
        await p.agenerate(LLMRequest("b"))

    run(openai_fake, two, base_url=openai_fake.url + "/v1/")
    assert [r["path"] for r in openai_fake.requests] == ["/v1/chat/completions"] * 2
    assert openai_fake.requests[0]["client"] == openai_fake.requests[1]["client"]  # one kept-alive connection


def test_sync_generate_works_from_plain_code(openai_fake: FakeServer) -> None:
    from beluga_core import run_sync

    p = provider(openai_fake)
    try:
        assert p.generate("sync hi").text == "echo: sync hi"
        assert p.generate("again").text == "echo: again"
    finally:
        run_sync(p.aclose())


def test_no_model_anywhere_is_invalid_input_naming_the_key(openai_fake: FakeServer) -> None:
    err = error_of(openai_fake, gen(), model=None)
    assert err.code is ErrorCode.INVALID_INPUT and "providers.openai.model" in err.message
    assert openai_fake.requests == []


# -- streaming ---------------------------------------------------------------------------------


def test_stream_yields_text_as_it_arrives_and_usage_and_finish_in_the_last_chunk(openai_fake: FakeServer) -> None:
    openai_fake.cached_tokens = 3
    chunks, resp = run(openai_fake, stream_all(LLMRequest("one two three", stream=True)))
    assert [c.text for c in chunks if c.text] == ["echo:", " one", " two", " three"]
    assert chunks[-1].usage is not None and chunks[-1].finish_reason == "stop"
    assert all(c.usage is None for c in chunks[:-1])
    assert resp.text == "echo: one two three" and resp.usage.cached_input_tokens == 3
    body = openai_fake.last["body"]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


def test_stream_assembles_a_tool_call_from_streamed_argument_fragments(openai_fake: FakeServer) -> None:
    chunks, resp = run(openai_fake, stream_all(LLMRequest("Bergen", tools=(WEATHER,), stream=True)))
    fragments = [d.arguments for c in chunks for d in c.tool_calls if d.arguments]
    assert len(fragments) > 1 and "".join(fragments) == '{"q": "Bergen"}'
    assert resp.tool_calls == (ToolCall("call_1", "get_weather", {"q": "Bergen"}),)
    assert resp.finish_reason == "tool_calls"


def test_sse_events_split_anywhere_with_crlf_and_comments_are_parsed(openai_fake: FakeServer) -> None:
    base = {"model": "m", "choices": [{"index": 0, "delta": {"content": "héllo wörld"}}]}
    stream = (b": keep-alive\r\n\r\n" + data(base).replace(b"\n", b"\r\n")
              + data({"model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
              + b"data: [DONE]\n\n")
    pieces = [stream[i:i + 7] for i in range(0, len(stream), 7)]  # splits lines, CRLFs and UTF-8 sequences
    openai_fake.push(sse_reply(pieces))
    _chunks, resp = run(openai_fake, stream_all(LLMRequest("x", stream=True)))
    assert resp.text == "héllo wörld" and resp.finish_reason == "stop"


def test_stream_without_usage_support_still_finishes(openai_fake: FakeServer) -> None:
    _, resp = run(openai_fake, stream_all(LLMRequest("hi", stream=True)), options={"stream_usage": False})
    assert "stream_options" not in openai_fake.last["body"]
    assert resp.text == "echo: hi" and resp.usage.total_tokens == 0


# -- errors --------------------------------------------------------------------------------------


def test_429_is_rate_limit_with_retry_after_seconds(openai_fake: FakeServer) -> None:
    openai_fake.push(json_reply(429, {"error": {"message": "Rate limit reached", "type": "requests",
                                                "code": "rate_limit_exceeded"}}, {"Retry-After": "3"}))
    err = error_of(openai_fake, gen())
    assert err.code is ErrorCode.RATE_LIMIT and err.retryable
    assert err.retry_after == 3.0 and err.status_code == 429
    assert "Rate limit reached" in err.message and "retry after 3s" in err.message


def test_retry_after_as_http_date_and_as_milliseconds(openai_fake: FakeServer) -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    body = {"error": {"message": "slow down"}}
    openai_fake.push(json_reply(429, body, {"Retry-After": when}),
                     json_reply(429, body, {"retry-after-ms": "250", "Retry-After": "9"}))
    first = error_of(openai_fake, gen())
    assert first.retry_after is not None and 25 <= first.retry_after <= 31
    assert error_of(openai_fake, gen()).retry_after == 0.25


@pytest.mark.parametrize(("status", "code"), [
    (500, ErrorCode.PROVIDER_UNAVAILABLE),
    (502, ErrorCode.PROVIDER_UNAVAILABLE),
    (503, ErrorCode.PROVIDER_UNAVAILABLE),
    (400, ErrorCode.INVALID_INPUT),
    (422, ErrorCode.INVALID_INPUT),
    (404, ErrorCode.NOT_FOUND),
    (403, ErrorCode.AUTH),
])
def test_http_statuses_map_to_error_codes(openai_fake: FakeServer, status: int, code: ErrorCode) -> None:
    openai_fake.push(json_reply(status, {"error": {"message": f"status {status}", "type": "x"}}))
    err = error_of(openai_fake, gen())
    assert (err.code, err.status_code, err.provider) == (code, status, "openai")
    assert f"status {status}" in err.message


def test_streaming_request_rejected_with_500_raises_before_any_chunk(openai_fake: FakeServer) -> None:
    openai_fake.push(json_reply(500, {"error": {"message": "boom", "type": "server_error"}}))
    seen: list[StreamChunk] = []
    with pytest.raises(ProviderError) as info:
        run(openai_fake, partial_stream(LLMRequest("x", stream=True), seen))
    assert info.value.code is ErrorCode.PROVIDER_UNAVAILABLE and seen == []


def test_401_is_auth_and_the_api_key_never_appears_in_errors_logs_or_reprs(
    openai_fake: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="beluga")
    wrong = "sk-wrong-key-9876543210zyxw"
    err = error_of(openai_fake, gen(), api_key=wrong)  # the fake quotes the key it got back, as OpenAI does
    assert err.code is ErrorCode.AUTH and err.status_code == 401
    assert "Incorrect API key provided" in err.message and "providers.openai.api_key" in err.message
    p = provider(openai_fake, api_key=wrong)
    for text in (str(err), repr(err), err.message, caplog.text, repr(p), repr(p.config), repr(p._pool), repr(p._scrub)):
        assert wrong not in text
    assert caplog.records  # the error was logged (scrubbed)


def test_slow_response_beyond_read_timeout_is_timeout(openai_fake: FakeServer) -> None:
    openai_fake.push(slow(3.0))
    t0 = time.monotonic()
    err = error_of(openai_fake, gen(), read_timeout=0.3)
    assert err.code is ErrorCode.TIMEOUT and err.retryable and "waiting for data" in err.message
    assert time.monotonic() - t0 < 2.5


def test_request_deadline_caps_the_read_timeout(openai_fake: FakeServer) -> None:
    openai_fake.push(slow(3.0))
    err = error_of(openai_fake, gen(deadline=time.monotonic() + 0.3))
    assert err.code is ErrorCode.TIMEOUT and "deadline" in err.message


def test_malformed_json_is_provider_unavailable_with_a_clear_message(openai_fake: FakeServer) -> None:
    openai_fake.push(raw_reply(200, b"<html>Bad gateway</html>"), json_reply(200, {"object": "list"}))
    err = error_of(openai_fake, gen())
    assert err.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert "malformed" in err.message and "not JSON" in err.message
    assert "choices" in error_of(openai_fake, gen()).message


def test_connection_refused_is_provider_unavailable() -> None:
    async def main() -> None:
        p = OpenAIProvider(ProviderConfig(api_key=OPENAI_KEY, base_url=closed_port_url(), model="m", connect_timeout=2))
        try:
            await p.agenerate(LLMRequest("x"))
        finally:
            await p.aclose()

    with pytest.raises(ProviderError) as info:
        asyncio.run(main())
    assert info.value.code is ErrorCode.PROVIDER_UNAVAILABLE and "cannot reach" in info.value.message


def test_stream_cut_off_midway_raises_after_the_chunks_that_arrived(openai_fake: FakeServer) -> None:
    head = [data({"model": "m", "choices": [{"index": 0, "delta": {"content": w}}]}) for w in ("a", "b")]
    openai_fake.push(sse_reply(head, cut=True), sse_reply(head))  # dropped connection; clean end without [DONE]
    for _ in range(2):
        seen: list[StreamChunk] = []
        with pytest.raises(ProviderError) as info:
            run(openai_fake, partial_stream(LLMRequest("x", stream=True), seen))
        assert info.value.code is ErrorCode.PROVIDER_UNAVAILABLE and info.value.retryable
        assert [c.text for c in seen] == ["a", "b"]


def test_error_event_after_200_mid_stream_is_raised_with_its_code(openai_fake: FakeServer) -> None:
    openai_fake.push(sse_reply([
        data({"model": "m", "choices": [{"index": 0, "delta": {"content": "partial"}}]}),
        data({"error": {"message": f"Rate limit hit for {OPENAI_KEY}", "type": "rate_limit_exceeded"}}),
    ]), sse_reply([data({"error": {"message": "The server had an error", "type": "server_error"}})]))
    seen: list[StreamChunk] = []
    with pytest.raises(ProviderError) as info:
        run(openai_fake, partial_stream(LLMRequest("x", stream=True), seen))
    assert info.value.code is ErrorCode.RATE_LIMIT and "error event in the stream" in info.value.message
    assert OPENAI_KEY not in info.value.message and [c.text for c in seen] == ["partial"]
    assert error_of(openai_fake, stream_all(LLMRequest("x", stream=True))).code is ErrorCode.PROVIDER_UNAVAILABLE


def test_malformed_event_in_a_stream_is_provider_unavailable(openai_fake: FakeServer) -> None:
    openai_fake.push(sse_reply([b"data: {not json\n\n"]))
    err = error_of(openai_fake, stream_all(LLMRequest("x", stream=True)))
    assert err.code is ErrorCode.PROVIDER_UNAVAILABLE and "not JSON" in err.message


# -- W3C trace propagation -----------------------------------------------------------------------


def test_headers_from_a_registered_injector_are_sent_and_a_failing_one_never_fails_the_call(
    openai_fake: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

    def inject(headers: dict[str, str]) -> None:
        headers.update({"traceparent": tp})

    add_header_injector(inject)
    try:
        run(openai_fake, gen())
    finally:
        remove_header_injector(inject)
    assert openai_fake.last["headers"]["traceparent"] == tp

    def broken(headers: dict[str, str]) -> None:
        raise RuntimeError("tracing bug")

    add_header_injector(broken)
    try:
        assert run(openai_fake, gen("still works")).text == "echo: still works"
    finally:
        remove_header_injector(broken)
    assert "traceparent" not in openai_fake.last["headers"]


def test_sse_parser_yields_events_incrementally() -> None:
    async def feed() -> AsyncIterator[bytes]:
        yield b"event: a\ndata: 1\n"
        yield b"data: 2\n\nda"
        yield b"ta: 3\r"
        yield b"\n\r\n"
        yield b"data: cut"  # no blank line: never completed

    async def collect() -> list[tuple[str, str]]:
        return [e async for e in _http.sse_events(feed())]

    assert asyncio.run(collect()) == [("a", "1\n2"), ("message", "3")]

    async def cr_only() -> AsyncIterator[bytes]:
        yield b"data: x\r"
        yield b"\r"  # CR-only line ends, the blank line split off into its own read
        yield b"data: y\r\r"

    async def collect_cr() -> list[tuple[str, str]]:
        return [e async for e in _http.sse_events(cr_only())]

    assert asyncio.run(collect_cr()) == [("message", "x"), ("message", "y")]


def test_a_stream_that_stalls_beyond_the_read_timeout_is_timeout(openai_fake: FakeServer) -> None:
    first = data({"model": "m", "choices": [{"index": 0, "delta": {"content": "a"}}]})
    openai_fake.push(sse_reply([first, b": still thinking\n\n"], delay=3.0))
    seen: list[StreamChunk] = []
    t0 = time.monotonic()
    with pytest.raises(ProviderError) as info:
        run(openai_fake, partial_stream(LLMRequest("x", stream=True), seen), read_timeout=0.3)
    assert info.value.code is ErrorCode.TIMEOUT and [c.text for c in seen] == ["a"]
    assert time.monotonic() - t0 < 2.5


def test_connections_are_reused_after_a_complete_stream(openai_fake: FakeServer) -> None:
    async def three(p: OpenAIProvider) -> None:
        for _ in range(2):
            async for _chunk in p.astream(LLMRequest("x", stream=True)):
                pass
        await p.agenerate(LLMRequest("y"))

    run(openai_fake, three)
    assert len({r["client"] for r in openai_fake.requests}) == 1


# -- embeddings ------------------------------------------------------------------------------------


def test_embeddings_post_the_inputs_and_come_back_in_input_order(openai_fake: FakeServer) -> None:
    openai = openai_fake
    p = provider(openai)
    request = LLMRequest([HumanMessage("hello"), HumanMessage("a longer text")], model="text-embedding-3-small",
                         operation="embeddings", params={"dimensions": 3, "encoding_format": "base64"})
    response = asyncio.run(p.embed(request))
    sent = openai.last
    assert sent["path"] == "/v1/embeddings"
    assert sent["body"] == {"model": "text-embedding-3-small", "input": ["hello", "a longer text"], "dimensions": 3,
                            "encoding_format": "float"}
    assert response.embeddings == ((5.0, 0.0, 0.5), (13.0, 1.0, 0.5))  # reordered by "index"
    assert response.model == "text-embedding-3-small" and response.usage.input_tokens == 4


def test_embeddings_refuse_a_malformed_answer_naming_the_provider(openai_fake: FakeServer) -> None:
    openai = openai_fake
    p = provider(openai)
    request = LLMRequest([HumanMessage("a"), HumanMessage("b")], model="m", operation="embeddings")
    openai.push(json_reply(200, {"data": [{"index": 0, "embedding": [0.1]}]}))  # one vector for two inputs
    with pytest.raises(ProviderError) as info:
        asyncio.run(p.embed(request))
    assert "openai" in str(info.value) and "2 embeddings" in str(info.value)
    openai.push(json_reply(200, {"data": [{"index": 5, "embedding": [0.1]}, {"index": 1, "embedding": ["x"]}]}))
    with pytest.raises(ProviderError):
        asyncio.run(p.embed(request))


def test_embeddings_need_a_model() -> None:
    p = OpenAIProvider(ProviderConfig(api_key=OPENAI_KEY, base_url="http://127.0.0.1:9"))
    with pytest.raises(ProviderError, match="no embeddings model"):
        asyncio.run(p.embed(LLMRequest([HumanMessage("a")], operation="embeddings")))
