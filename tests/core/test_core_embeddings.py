"""Embeddings through the chain: ``Kit.embed`` with the echo provider, guards and middleware on the way."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable

import pytest

from beluga_core import (
    BaseProvider,
    ErrorCode,
    GuardBlocked,
    GuardInput,
    GuardResult,
    Kit,
    LLMRequest,
    LLMResponse,
    ProviderError,
    StreamChunk,
    hookimpl,
)
from beluga_core.testing import kit_with

NO_PLUGINS = {"beluga": {"load_unlisted": False}}


def test_echo_embeddings_are_deterministic_unit_vectors_one_per_input() -> None:
    with Kit(NO_PLUGINS) as kit:
        first = kit.embed(["hello", "world", "hello"])
        again = kit.embed("hello")
        sized = kit.embed(["hello"], dimensions=5)
    assert len(first.embeddings) == 3 and all(len(v) == 16 for v in first.embeddings)
    assert first.embeddings[0] == first.embeddings[2] == again.embeddings[0] != first.embeddings[1]
    assert all(math.isclose(math.sqrt(sum(x * x for x in v)), 1.0, abs_tol=1e-5) for v in first.embeddings)
    assert len(sized.embeddings[0]) == 5
    assert first.provider == "echo" and first.usage.input_tokens > 0 and first.text == ""


def test_bad_inputs_and_dimensions_are_refused_with_a_reason() -> None:
    with Kit(NO_PLUGINS) as kit:
        with pytest.raises(ValueError, match="one or more strings"):
            kit.embed([])
        with pytest.raises(ProviderError, match="dimensions") as info:
            kit.embed("x", dimensions=10**9)
    assert info.value.code is ErrorCode.INVALID_INPUT


class Redact:
    name = "redact"

    @hookimpl
    def on_input(self, guard_input: GuardInput) -> GuardResult | None:
        if "secret" in guard_input.text:
            return GuardResult(True, guard_input.text.replace("secret", "[REDACTED]"), "redacted", (), self.name)
        if "forbidden" in guard_input.text:
            return GuardResult(False, None, "forbidden word", (), self.name)
        return None


def test_input_guards_read_each_input_and_the_redacted_text_is_embedded() -> None:
    with kit_with(Redact()) as kit:
        redacted = kit.embed(["my secret plan", "plain"])
        with pytest.raises(GuardBlocked) as info:
            kit.embed(["fine", "a forbidden thing"])
    with Kit(NO_PLUGINS) as bare:
        expected = bare.embed(["my [REDACTED] plan", "plain"])
    assert redacted.embeddings == expected.embeddings
    assert info.value.guard == "redact" and info.value.stage == "input"


class ChatOnly(BaseProvider):
    name = "chat-only"

    async def complete(self, request: LLMRequest) -> LLMResponse:
        raise AssertionError("not called")

    async def stream_chunks(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        raise AssertionError("not called")
        yield StreamChunk()


class ChatOnlyPlugin:
    name = "chat-only-plugin"

    @hookimpl
    def register_providers(self, register: Callable[[str, object], None]) -> None:
        register("chat-only", ChatOnly)


def test_a_provider_without_embeddings_refuses_naming_itself() -> None:
    with kit_with(ChatOnlyPlugin(), config={"beluga": {"provider": "chat-only", "load_unlisted": False}}) as kit:
        with pytest.raises(ProviderError, match="'chat-only' does not offer embeddings") as info:
            kit.embed("hello")
    assert info.value.code is ErrorCode.INVALID_INPUT and not info.value.retryable


def test_middleware_applies_to_embeddings_a_retry_rides_out_a_failure() -> None:
    pytest.importorskip("beluga_retry")
    from beluga_retry import RetryPlugin

    config = {"plugins": {"retry": {"max_attempts": 3, "initial_backoff": "1ms", "max_backoff": "2ms"}}}
    with kit_with(RetryPlugin(), config=config) as kit:
        kit.provider().fail_next(1)  # type: ignore[attr-defined]
        response = kit.embed("hello")
    assert len(response.embeddings) == 1
