"""Helpers for the SDK drop-in tests: Kits over stand-in upstreams, a streaming provider that records
how its stream ended, and a counter of the requests an SDK client sends."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2

from beluga_core import BaseProvider, Kit, LLMRequest, LLMResponse, LLMStream, ProviderConfig, StreamChunk, hookimpl

# The providers' stand-in OpenAI and Anthropic servers (real HTTP servers on loopback).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "providers"))
from provider_fakes import (
    ANTHROPIC_KEY,
    OPENAI_KEY,
    FakeServer,
    anthropic_server,
    data,
    event,
    openai_server,
    sse_reply,
)


def kit_over(
    provider: str = "echo", upstream: FakeServer | None = None, plugins: tuple[str, ...] = (),
    settings: dict[str, Any] | None = None, options: dict[str, Any] | None = None, **in_process: Any,
) -> Kit:
    """A Kit whose default provider is ``provider`` (a stand-in ``upstream`` for openai/anthropic),
    with ``plugins`` in that order and their ``settings``; ``in_process`` plugins are registered."""
    config: dict[str, Any] = {
        "beluga": {"plugins": [*plugins, *in_process], "provider": provider, "load_unlisted": False},
        "plugins": settings or {},
        "providers": {},
    }
    if provider in ("openai", "anthropic"):
        assert upstream is not None
        key = OPENAI_KEY if provider == "openai" else ANTHROPIC_KEY
        config["beluga"]["plugins"].append(provider)
        config["providers"][provider] = {"api_key": key, "base_url": upstream.url}
    elif options is not None:
        config["providers"][provider] = {"options": options}
    return Kit(config, plugins=in_process, env={})


class Requests:
    """An httpx event hook counting the requests a client sends (an SDK's retries included)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, request: httpx2.Request) -> None:
        self.count += 1

    async def arecord(self, request: httpx2.Request) -> None:
        self.count += 1


class TrickleProvider(BaseProvider):
    """Streams ``words`` numbered words, ``delay`` seconds apart; records whether its stream was
    closed before the end and how many words it produced."""

    name = "trickle"

    def __init__(self, config: ProviderConfig | None = None) -> None:
        super().__init__(config)
        self.words = 200
        self.delay = 0.01
        self.produced = 0
        self.closed_early = False
        self.finished = False

    async def complete(self, request: LLMRequest) -> LLMResponse:
        return await LLMStream(self.stream_chunks(request)).collect()

    async def stream_chunks(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        try:
            for i in range(self.words):
                await asyncio.sleep(self.delay)
                self.produced += 1
                yield StreamChunk(text=f"w{i} ")
        except (asyncio.CancelledError, GeneratorExit):
            self.closed_early = True
            raise
        self.finished = True
        yield StreamChunk(finish_reason="stop")


class Trickle:
    """A plugin registering the ``trickle`` provider; ``instances`` keeps each one created."""

    name = "trickleprov"

    def __init__(self) -> None:
        self.instances: list[TrickleProvider] = []

    @hookimpl
    def register_providers(self, register: Any) -> None:
        def factory(config: ProviderConfig) -> TrickleProvider:
            p = TrickleProvider(config)
            self.instances.append(p)
            return p

        register("trickle", factory)


__all__ = [
    "ANTHROPIC_KEY", "OPENAI_KEY", "FakeServer", "Requests", "Trickle", "TrickleProvider", "anthropic_server",
    "data", "event", "kit_over", "openai_server", "sse_reply",
]
