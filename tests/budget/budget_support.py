"""What the budget tests share: a stand-in model that reports chosen usage, and Kits with the budget."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from beluga_budget import BudgetPlugin
from beluga_core import (
    AIMessage,
    CallNext,
    ErrorCode,
    Kit,
    LLMRequest,
    LLMResponse,
    LLMStream,
    ProviderError,
    StreamChunk,
    Usage,
    estimate_request_tokens,
    hookimpl,
)
from beluga_core.testing import kit_with

#: 2026-12-06 12:00 UTC: half a day before the day's budget resets.
NOON = 1_796_558_400.0
#: A price that keeps the arithmetic easy: 1000 USD per million tokens, so one token costs USD 0.001.
PRICES = {"model-a": {"input_per_mtok": 1000.0, "output_per_mtok": 1000.0, "cached_input_per_mtok": 100.0}}


class StandIn:
    """Answers every call itself (inner to the budget) with usage it is told to report: by default
    the prompt's estimate and all of ``max_tokens``, i.e. exactly what the budget reserved."""

    name = "standin"

    def __init__(self) -> None:
        self.delay = 0.0
        self.usage: Usage | None = None  # None: estimate + max_tokens
        self.fail = False
        self.cache_hit = False
        self.model = "model-a"
        self.fail_mid_stream = False
        self.calls = 0

    def _usage(self, request: LLMRequest) -> Usage:
        if self.usage is not None:
            return self.usage
        n = estimate_request_tokens(request.messages)
        return Usage(n, request.max_tokens or 0, n if self.cache_hit else 0)

    @hookimpl
    async def wrap_llm_call(self, request: LLMRequest, call_next: CallNext) -> LLMResponse | LLMStream:
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail:
            raise ProviderError(ErrorCode.PROVIDER_UNAVAILABLE, "upstream down", provider="standin")
        metadata = {"cache": "hit"} if self.cache_hit else {}
        usage = self._usage(request)
        if not request.stream:
            return LLMResponse(AIMessage("ok"), model=self.model, usage=usage, metadata=metadata)

        async def chunks() -> AsyncIterator[StreamChunk]:
            yield StreamChunk(text="o", model=self.model)
            yield StreamChunk(text="k")
            if self.fail_mid_stream:
                raise ProviderError(ErrorCode.PROVIDER_UNAVAILABLE, "connection reset", provider="standin")
            yield StreamChunk(usage=usage, finish_reason="stop")

        stream = await LLMStream.start(chunks(), provider="standin", model=self.model)
        stream.metadata.update(metadata)
        return stream


def budget_kit(settings: dict[str, Any], *, clock: float | Callable[[], float] = NOON,
               standin: StandIn | None = None, extra: tuple[Any, ...] = ()) -> tuple[Kit, BudgetPlugin, StandIn]:
    plugin = BudgetPlugin(clock=clock if callable(clock) else lambda: clock)
    standin = standin or StandIn()
    order = ["budget", *[getattr(p, "name", "") for p in extra], "standin"]
    config = {"beluga": {"plugins": order, "model": "model-a"}, "plugins": {"budget": {"prices": PRICES, **settings}}}
    return kit_with(plugin, *extra, standin, config=config), plugin, standin
