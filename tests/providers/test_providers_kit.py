"""The providers through a Kit: config, entry points, generate, astream, tools and the chain."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from provider_fakes import ANTHROPIC_KEY, OPENAI_KEY, FakeServer, json_reply, sse_reply

from beluga_anthropic import AnthropicPlugin
from beluga_core import (
    AIMessage,
    BelugaError,
    CallNext,
    ErrorCode,
    GuardInput,
    GuardResult,
    HumanMessage,
    Kit,
    LLMRequest,
    LLMResponse,
    LLMStream,
    ProviderError,
    ToolMessage,
    ToolSpec,
    hookimpl,
)
from beluga_core.testing import kit_with
from beluga_openai import OpenAIPlugin, OpenAIProvider

WEATHER = ToolSpec("get_weather", "Weather for a city", {"type": "object", "properties": {"q": {"type": "string"}}})


def openai_config(server: FakeServer, **beluga: Any) -> dict[str, Any]:
    return {
        "beluga": {"provider": "openai", **beluga},
        "providers": {"openai": {"api_key": OPENAI_KEY, "base_url": server.url, "model": "gpt-4o"}},
    }


def test_kit_from_config_finds_the_openai_entry_point_and_generates(openai_fake: FakeServer) -> None:
    kit = Kit(openai_config(openai_fake), env={"BELUGA_LOAD_PLUGINS": "openai"})
    try:
        assert isinstance(kit.provider(), OpenAIProvider)
        r = kit.generate("hello kit")
        assert r.text == "echo: hello kit" and r.provider == "openai"
        assert OPENAI_KEY not in repr(kit) and OPENAI_KEY not in repr(kit.config)
    finally:
        kit.close()


def test_kit_astream_streams_text_and_usage(openai_fake: FakeServer) -> None:
    async def main() -> tuple[list[str], Any]:
        async with kit_with(OpenAIPlugin(), config=openai_config(openai_fake)) as kit:
            texts, last = [], None
            async for chunk in kit.astream("a b c"):
                texts.append(chunk.text)
                last = chunk
            return texts, last

    texts, last = asyncio.run(main())
    assert "".join(texts) == "echo: a b c"
    assert last is not None and last.usage is not None and last.usage.output_tokens > 0


def test_kit_tool_round_trip_generate_call_tool_and_answer(openai_fake: FakeServer) -> None:
    kit = kit_with(OpenAIPlugin(), config=openai_config(openai_fake))
    try:
        first = kit.generate("Oslo", tools=[WEATHER])
        (call,) = first.tool_calls
        result = kit.call_tool(call.name, call.arguments, lambda q: f"rain in {q}")
        final = kit.generate([HumanMessage("Oslo"), first.message, ToolMessage(result, tool_call_id=call.id)])
        assert final.text == "the tool said: rain in Oslo"
    finally:
        kit.close()


def test_provider_alias_with_type_reaches_a_compatible_server(openai_fake: FakeServer) -> None:
    config = {"beluga": {"provider": "local"},
              "providers": {"local": {"type": "openai", "api_key": OPENAI_KEY, "base_url": openai_fake.url,
                                      "model": "llama3", "options": {"max_tokens_field": "max_completion_tokens"}}}}
    kit = kit_with(OpenAIPlugin(), config=config)
    try:
        assert kit.generate("hi", max_tokens=5).text == "echo: hi"
        assert openai_fake.last["body"]["model"] == "llama3" and openai_fake.last["body"]["max_completion_tokens"] == 5
    finally:
        kit.close()


def test_kit_with_anthropic_generates_and_streams_tools(anthropic_fake: FakeServer) -> None:
    config = {"beluga": {"provider": "anthropic"},
              "providers": {"anthropic": {"api_key": ANTHROPIC_KEY, "base_url": anthropic_fake.url,
                                          "model": "claude-sonnet-4-5"}}}

    async def main() -> tuple[LLMResponse, list[Any]]:
        async with kit_with(AnthropicPlugin(), config=config) as kit:
            r = await kit.agenerate("hi")
            chunks = [c async for c in kit.astream("Oslo", tools=[WEATHER])]
            return r, chunks

    r, chunks = asyncio.run(main())
    assert r.text == "echo: hi"
    args = "".join(d.arguments for c in chunks for d in c.tool_calls)
    assert args == '{"q": "Oslo"}' and chunks[-1].finish_reason == "tool_calls"


# -- the chain over a real provider --------------------------------------------------------------


class Redact:
    """An output guard: replaces the word 'secret'."""

    name = "redact"

    @hookimpl
    def on_output(self, guard_input: GuardInput) -> GuardResult | None:
        if "secret" in guard_input.text:
            return GuardResult.modify(guard_input.text.replace("secret", "[redacted]"))
        return None


class RetryOnce:
    """A tiny retry middleware: one more attempt on a retryable error, recording what it saw."""

    name = "retry-once"

    def __init__(self) -> None:
        self.errors: list[BelugaError] = []

    @hookimpl
    async def wrap_llm_call(self, request: LLMRequest, call_next: CallNext) -> LLMResponse | LLMStream:
        try:
            return await call_next(request)
        except BelugaError as exc:
            if not exc.retryable:
                raise
            self.errors.append(exc)
            return await call_next(request)


class Usage:
    """An observer middleware: sees the end of streams and their usage."""

    name = "usage"

    def __init__(self) -> None:
        self.finished: list[tuple[Any, Any]] = []

    @hookimpl
    async def wrap_llm_call(self, request: LLMRequest, call_next: CallNext) -> LLMResponse | LLMStream:
        result = await call_next(request)
        if isinstance(result, LLMStream):
            result.on_finish(lambda resp, err: self.finished.append((resp, err)))
        else:
            self.finished.append((result, None))
        return result


def test_chain_retries_a_429_then_guards_output_streaming_and_not(openai_fake: FakeServer) -> None:
    retry, usage = RetryOnce(), Usage()
    limited = json_reply(429, {"error": {"message": "slow down", "type": "rate_limit_exceeded"}}, {"Retry-After": "0"})
    openai_fake.push(limited)

    async def main() -> tuple[LLMResponse, str]:
        async with kit_with(usage, retry, Redact(), OpenAIPlugin(),
                            config=openai_config(openai_fake, plugins=["usage", "retry-once", "redact"])) as kit:
            r = await kit.agenerate("my secret plan")
            openai_fake.push(limited)
            streamed = "".join([c.text async for c in kit.astream("another secret here")])
            return r, streamed

    r, streamed = asyncio.run(main())
    assert r.text == "echo: my [redacted] plan"
    assert streamed == "echo: another [redacted] here"
    assert [(e.code, e.retry_after) for e in retry.errors] == [(ErrorCode.RATE_LIMIT, 0.0)] * 2
    assert len(usage.finished) == 2 and all(err is None for _, err in usage.finished)
    assert usage.finished[1][0].usage.output_tokens > 0


def test_mid_stream_error_reaches_the_caller_and_stream_observers(openai_fake: FakeServer) -> None:
    usage = Usage()
    openai_fake.push(sse_reply([b'data: {"model":"m","choices":[{"index":0,"delta":{"content":"par"}}]}\n\n',
                                b'data: {"error":{"message":"overloaded","type":"server_error"}}\n\n']))

    async def main() -> list[str]:
        got: list[str] = []
        async with kit_with(usage, OpenAIPlugin(), config=openai_config(openai_fake)) as kit:
            with pytest.raises(ProviderError) as info:
                async for c in kit.astream("x"):
                    got.append(c.text)
            assert info.value.code is ErrorCode.PROVIDER_UNAVAILABLE
        return got

    assert asyncio.run(main()) == ["par"]
    (resp, err), = usage.finished
    assert resp is None and isinstance(err, ProviderError)


def test_messages_given_as_dicts_work_through_the_kit(openai_fake: FakeServer) -> None:
    kit = kit_with(OpenAIPlugin(), config=openai_config(openai_fake))
    try:
        r = kit.generate([{"role": "system", "content": "s"}, {"role": "user", "content": "dict hi"}])
        assert r.text == "echo: dict hi" and isinstance(r.message, AIMessage)
    finally:
        kit.close()


def test_prompt_builder_output_keeps_sections_apart_and_marks_the_cache_breakpoint(
    openai_fake: FakeServer, anthropic_fake: FakeServer
) -> None:
    from beluga_anthropic import AnthropicProvider
    from beluga_core import ProviderConfig
    from beluga_workflow.prompt import PromptBuilder

    prompt = (PromptBuilder().system("You are the agent of {product}.").static_context("Manual: reboot it.")
              .cache_breakpoint().dynamic_context("Tier: {tier}").user("{q}")
              .build({"product": "Acme", "tier": "gold", "q": "It hangs."}))

    async def main() -> None:
        oa = OpenAIProvider(ProviderConfig(api_key=OPENAI_KEY, base_url=openai_fake.url, model="gpt-4o"))
        an = AnthropicProvider(ProviderConfig(api_key=ANTHROPIC_KEY, base_url=anthropic_fake.url, model="c"))
        try:
            await oa.agenerate(LLMRequest(prompt.messages))
            await an.agenerate(LLMRequest(prompt.messages))
        finally:
            await oa.aclose()
            await an.aclose()

    asyncio.run(main())
    system = openai_fake.last["body"]["messages"][0]
    assert system == {"role": "system", "content": "You are the agent of Acme.\nManual: reboot it.\nTier: gold"}
    assert system["content"].startswith(prompt.static_prefix())  # OpenAI's automatic caching keys on the prefix
    assert anthropic_fake.last["body"]["system"] == [
        {"type": "text", "text": "You are the agent of Acme."},
        {"type": "text", "text": "Manual: reboot it.", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "Tier: gold"},
    ]
