"""Odd upstream replies are the upstream's fault: whatever a stand-in upstream answers with status 200
(valid JSON of the wrong shape, non-numeric usage, non-object choices, bytes that are not UTF-8),
a provider call either succeeds or raises ``ProviderError`` (which the gateway answers with 502),
and the message says the reply was malformed without quoting it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from provider_fakes import ANTHROPIC_KEY, OPENAI_KEY, FakeServer, event, raw_reply, sse_reply

from beluga_anthropic import AnthropicProvider
from beluga_core import BaseProvider, ErrorCode, LLMRequest, LLMResponse, ProviderConfig, ProviderError
from beluga_openai import OpenAIProvider

SECRET = "user-text-7f3a"  # planted in the odd replies: it must never reach an error message

leaves = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False)
          | st.text(max_size=8) | st.just(SECRET))
json_values = st.recursive(leaves, lambda kids: st.lists(kids, max_size=3) | st.dictionaries(
    st.sampled_from(["choices", "message", "content", "usage", "delta", "index", "type", "text", "tool_calls",
                     "function", "arguments", "prompt_tokens", "input_tokens", "model", "finish_reason", "x"]),
    kids, max_size=4), max_leaves=12)

OPENAI_REPLY = {
    "model": "gpt-4o", "choices": [{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": "hi",
        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 2, "prompt_tokens_details": {"cached_tokens": 0}},
}
OPENAI_CHUNK = {"model": "gpt-4o", "choices": [{"index": 0, "finish_reason": None, "delta": {
    "content": "hi", "tool_calls": [{"index": 0, "id": "c1", "function": {"name": "f", "arguments": "{}"}}]}}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 2}}
ANTHROPIC_REPLY = {
    "type": "message", "model": "claude", "stop_reason": "end_turn",
    "content": [{"type": "text", "text": "hi"}, {"type": "tool_use", "id": "t", "name": "f", "input": {}}],
    "usage": {"input_tokens": 1, "output_tokens": 2, "cache_read_input_tokens": 0},
}
ANTHROPIC_EVENTS = [
    {"type": "message_start", "message": {"model": "claude", "usage": {"input_tokens": 1}}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "t", "name": "f"}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{}"}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "hi"}},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}},
]


@st.composite
def mutated(draw: Any, template: Any) -> Any:
    """``template`` with one value somewhere inside replaced by an arbitrary JSON value."""
    if not isinstance(template, dict | list) or draw(st.integers(0, 3)) == 0:
        return draw(json_values)
    keys = list(template.keys()) if isinstance(template, dict) else list(range(len(template)))
    if not keys:
        return draw(json_values)
    key = draw(st.sampled_from(keys))
    copy: Any = dict(template) if isinstance(template, dict) else list(template)
    copy[key] = draw(mutated(template[key]))
    return copy


def _outcome(provider: BaseProvider, stream: bool) -> LLMResponse | list[Any] | ProviderError:
    async def main() -> Any:
        try:
            if stream:
                return [c async for c in provider.astream(LLMRequest("q", stream=True))]
            return await provider.agenerate(LLMRequest("q"))
        except ProviderError as exc:
            return exc
        finally:
            await provider.aclose()

    return asyncio.run(main())


def _check(result: Any) -> None:
    if isinstance(result, ProviderError):
        assert result.code in (ErrorCode.PROVIDER_UNAVAILABLE, ErrorCode.RATE_LIMIT, ErrorCode.AUTH,
                               ErrorCode.INVALID_INPUT, ErrorCode.TIMEOUT, ErrorCode.NOT_FOUND)
        if "malformed" in result.message:
            assert result.code is ErrorCode.PROVIDER_UNAVAILABLE
            assert SECRET not in result.message


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _openai(server: FakeServer) -> OpenAIProvider:
    return OpenAIProvider(ProviderConfig(api_key=OPENAI_KEY, base_url=server.url, model="gpt-4o"))


def _anthropic(server: FakeServer) -> AnthropicProvider:
    return AnthropicProvider(ProviderConfig(api_key=ANTHROPIC_KEY, base_url=server.url, model="claude"))


@SETTINGS
@given(body=mutated(OPENAI_REPLY) | json_values)
def test_openai_any_json_body_is_a_reply_or_a_provider_error(openai_fake: FakeServer, body: Any) -> None:
    openai_fake.push(raw_reply(200, json.dumps(body).encode()))
    _check(_outcome(_openai(openai_fake), stream=False))


@SETTINGS
@given(events=st.lists(mutated(OPENAI_CHUNK) | json_values, max_size=4))
def test_openai_any_stream_events_are_chunks_or_a_provider_error(openai_fake: FakeServer, events: list[Any]) -> None:
    pieces = [b"data: " + json.dumps(e).encode() + b"\n\n" for e in events] + [b"data: [DONE]\n\n"]
    openai_fake.push(sse_reply(pieces))
    _check(_outcome(_openai(openai_fake), stream=True))


@SETTINGS
@given(body=mutated(ANTHROPIC_REPLY) | json_values)
def test_anthropic_any_json_body_is_a_reply_or_a_provider_error(anthropic_fake: FakeServer, body: Any) -> None:
    anthropic_fake.push(raw_reply(200, json.dumps(body).encode()))
    _check(_outcome(_anthropic(anthropic_fake), stream=False))


@SETTINGS
@given(events=st.lists(st.sampled_from(ANTHROPIC_EVENTS).flatmap(mutated) | json_values, max_size=5))
def test_anthropic_any_stream_events_are_chunks_or_a_provider_error(
    anthropic_fake: FakeServer, events: list[Any]
) -> None:
    pieces = [event(e.get("type") if isinstance(e, dict) and isinstance(e.get("type"), str) else "x", e)
              for e in events] + [event("message_stop", {"type": "message_stop"})]
    anthropic_fake.push(sse_reply(pieces))
    _check(_outcome(_anthropic(anthropic_fake), stream=True))


@pytest.mark.parametrize(("make", "stream", "reply", "field"), [
    ("openai", False, {"choices": [{"message": {"content": "hi"}}], "usage": {"prompt_tokens": "many"}},
     "usage.prompt_tokens is not a number"),
    ("openai", False, {"choices": {"0": 1}}, "choices is not an array"),
    ("openai", False, [1, 2], "the body is not a JSON object"),
    ("openai", True, [b'data: {"choices": [5]}\n\n'], "choices[0] is not a JSON object"),
    ("openai", True, [b'data: {"choices": [{"delta": {"content": "\xff\xfe"}}]}\n\n'], "not UTF-8"),
    ("anthropic", False, {"content": [{"type": "text", "text": 5}]}, "content[0].text is not a string"),
    ("anthropic", False, {"content": [], "usage": {"input_tokens": [1]}}, "usage.input_tokens is not a number"),
    ("anthropic", True, [event("message_delta", {"type": "message_delta", "delta": "x"})],
     "delta is not a JSON object"),
])
def test_each_odd_shape_is_named_in_a_provider_unavailable_error(
    openai_fake: FakeServer, anthropic_fake: FakeServer, make: str, stream: bool, reply: Any, field: str
) -> None:
    server, provider = ((openai_fake, _openai(openai_fake)) if make == "openai"
                        else (anthropic_fake, _anthropic(anthropic_fake)))
    if stream:
        server.push(sse_reply([*reply, b"data: [DONE]\n\n"]))
    else:
        server.push(raw_reply(200, json.dumps(reply).encode()))
    err = _outcome(provider, stream)
    assert isinstance(err, ProviderError), err
    assert err.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert "malformed" in err.message and field in err.message
