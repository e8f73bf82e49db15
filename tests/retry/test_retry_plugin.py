"""The ``retry`` plugin in a real Kit, over the echo provider failing on purpose."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from beluga_core import (
    BaseProvider,
    BudgetExhausted,
    ConfigError,
    ErrorCode,
    Kit,
    LLMRequest,
    LLMResponse,
    ProviderConfig,
    ProviderError,
    StreamChunk,
    hookimpl,
)
from beluga_core.builtin import EchoProvider
from beluga_core.testing import Recorder, kit_with
from beluga_retry import RetryDeadlineExceeded, RetryExhausted
from beluga_retry.plugin import RetryPlugin

NO_WAIT = {"plugins": {"retry": {"initial_backoff": 0, "max_backoff": 0}}}


class SleepLog:
    """An async sleep that records waits and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def echo(kit: Kit) -> EchoProvider:
    provider = kit.provider("echo")
    assert isinstance(provider, EchoProvider)
    return provider


def test_echo_failing_twice_succeeds_on_the_third_attempt_and_records_it(make_kit: Any) -> None:
    kit = make_kit(RetryPlugin(), config=NO_WAIT)
    echo(kit).fail_next(2)
    response = kit.generate("hello")
    assert response.text == "hello"
    assert response.metadata["attempts"] == 3
    assert echo(kit).calls == 3


def test_a_first_time_success_records_one_attempt(make_kit: Any) -> None:
    kit = make_kit(RetryPlugin(), config=NO_WAIT)
    assert kit.generate("hi").metadata["attempts"] == 1


def test_failing_more_often_than_max_attempts_raises_retry_exhausted(make_kit: Any) -> None:
    kit = make_kit(RetryPlugin(), config=NO_WAIT)
    echo(kit).fail_next(10)
    with pytest.raises(RetryExhausted) as info:
        kit.generate("hello")
    assert info.value.attempts == 3
    assert isinstance(info.value.__cause__, ProviderError)
    assert info.value.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert echo(kit).calls == 3


@pytest.mark.parametrize(
    ("code", "calls"),
    [("rate_limit", 3), ("timeout", 3), ("provider_unavailable", 3), ("auth", 1), ("invalid_input", 1)],
)
def test_calls_per_error_code_through_the_kit(make_kit: Any, code: str, calls: int) -> None:
    kit = make_kit(RetryPlugin(), config=NO_WAIT)
    echo(kit).fail_next(10, code)
    with pytest.raises((RetryExhausted, ProviderError)) as info:
        kit.generate("hello")
    assert echo(kit).calls == calls
    assert info.value.code is ErrorCode(code)


def test_max_attempts_comes_from_the_config(make_kit: Any) -> None:
    kit = make_kit(RetryPlugin(), config={"plugins": {"retry": {"max_attempts": 5, "initial_backoff": "0ms"}}})
    echo(kit).fail_next(4)
    assert kit.generate("hi").metadata["attempts"] == 5


def test_a_reload_changes_the_policy(make_kit: Any) -> None:
    kit = make_kit(RetryPlugin(), config=NO_WAIT)
    result = kit.reload({"plugins": {"retry": {"max_attempts": 1}}})
    assert result.applied
    echo(kit).fail_next(1)
    with pytest.raises(RetryExhausted):
        kit.generate("hi")
    assert echo(kit).calls == 1


def test_provider_retry_after_is_waited_for(make_kit: Any) -> None:
    sleep = SleepLog()
    kit = make_kit(RetryPlugin(sleep=sleep), config={"plugins": {"retry": {"initial_backoff": "100ms", "jitter": 0}}})
    echo(kit).fail_next(1, "rate_limit", retry_after=2.5)
    assert kit.generate("hi").metadata["attempts"] == 2
    assert sleep.waits == [2.5]


def test_backoff_waits_come_from_the_config(make_kit: Any) -> None:
    sleep = SleepLog()
    section = {"max_attempts": 4, "initial_backoff": "250ms", "max_backoff": "600ms", "jitter": 0}
    config = {"plugins": {"retry": section}}
    kit = make_kit(RetryPlugin(sleep=sleep), config=config)
    echo(kit).fail_next(3)
    kit.generate("hi")
    assert sleep.waits == pytest.approx([0.25, 0.5, 0.6])


def test_no_wait_starts_past_the_request_deadline(make_kit: Any) -> None:
    sleep = SleepLog()
    kit = make_kit(RetryPlugin(sleep=sleep), config={"beluga": {"deadline": "2s"}})
    echo(kit).fail_next(3, "rate_limit", retry_after=5)
    started = time.monotonic()
    with pytest.raises(RetryDeadlineExceeded) as info:
        kit.generate("hi")
    assert time.monotonic() - started < 1.5
    assert sleep.waits == []
    assert echo(kit).calls == 1
    assert "time ran out" in str(info.value)
    assert isinstance(info.value, BudgetExhausted)
    assert info.value.__cause__ is not None and info.value.__cause__.code is ErrorCode.RATE_LIMIT


def test_a_slow_provider_ends_at_the_per_call_timeout_without_a_retry(make_kit: Any) -> None:
    kit = make_kit(RetryPlugin(), config={"providers": {"echo": {"options": {"latency": 1.0}}}})
    started = time.monotonic()
    with pytest.raises(BudgetExhausted, match=r"deadline passed|time ran out"):
        asyncio.run(kit.agenerate("hi", timeout=0.05))
    assert time.monotonic() - started < 0.9
    assert echo(kit).calls == 1


def test_streams_are_retried_until_the_first_chunk(make_kit: Any) -> None:
    recorder = Recorder()
    kit = make_kit(recorder, RetryPlugin(), config={**NO_WAIT, "beluga": {"plugins": ["recorder", "retry"]}})
    echo(kit).fail_next(2)

    async def read() -> str:
        return "".join([chunk.text async for chunk in kit.astream("streamed words here")])

    assert asyncio.run(read()) == "streamed words here"
    assert echo(kit).calls == 3
    stream = recorder.responses[0]
    assert stream.metadata["attempts"] == 3
    assert stream.response is not None and stream.response.metadata["attempts"] == 3


class MidStreamProvider(BaseProvider):
    """Sends one chunk, then loses the connection."""

    name = "midstream"

    def __init__(self, config: ProviderConfig | None = None) -> None:
        super().__init__(config)
        self.calls = 0

    async def complete(self, request: LLMRequest) -> LLMResponse:
        raise NotImplementedError

    async def stream_chunks(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        self.calls += 1
        yield StreamChunk(text="partial ")
        raise ProviderError(ErrorCode.PROVIDER_UNAVAILABLE, "connection dropped", provider="midstream")


class MidStreamPlugin:
    name = "midstream-provider"

    @hookimpl
    def register_providers(self, register: Any) -> None:
        register("midstream", MidStreamProvider)


def test_a_failure_after_the_first_chunk_is_not_retried(make_kit: Any) -> None:
    kit = make_kit(RetryPlugin(), MidStreamPlugin(), config={**NO_WAIT, "beluga": {"provider": "midstream"}})
    seen: list[str] = []

    async def read() -> None:
        async for chunk in kit.astream("hi"):
            seen.append(chunk.text)

    with pytest.raises(ProviderError, match="connection dropped"):
        asyncio.run(read())
    assert seen == ["partial "]
    provider = kit.provider("midstream")
    assert isinstance(provider, MidStreamProvider)
    assert provider.calls == 1


def test_an_unknown_retryable_code_is_a_config_error_naming_the_key() -> None:
    with pytest.raises(ConfigError) as info:
        kit_with(RetryPlugin(), config={"plugins": {"retry": {"retryable": ["rate_limit", "rate-limited"]}}})
    assert "plugins.retry.retryable[1]" in str(info.value)
    assert "rate_limit" in str(info.value)


def test_out_of_range_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"plugins\.retry\.max_attempts"):
        kit_with(RetryPlugin(), config={"plugins": {"retry": {"max_attempts": 0}}})
    with pytest.raises(ConfigError, match=r"plugins\.retry\.initial_backoff"):
        kit_with(RetryPlugin(), config={"plugins": {"retry": {"initial_backoff": "soon"}}})


def test_time_running_out_during_a_retry_says_so_and_chains_the_cause(make_kit: Any) -> None:
    config = {
        "providers": {"echo": {"options": {"latency": 0.3}}},
        "plugins": {"retry": {"initial_backoff": "1ms"}},
    }
    kit = make_kit(RetryPlugin(), config=config)
    echo(kit).fail_next(1)
    with pytest.raises(RetryDeadlineExceeded, match=r"time ran out (during|after) (attempt )?2 of 3") as info:
        kit.generate("hi", timeout=0.5)
    assert isinstance(info.value.__cause__, BudgetExhausted | ProviderError)
    assert info.value.attempts == 2
    assert echo(kit).calls == 2
