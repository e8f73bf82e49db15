"""A provider that counts its calls and answers with text or tool calls, and a Kit with the cache."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from beluga_cache import CachePlugin
from beluga_core import AIMessage, LLMRequest, LLMResponse, StreamChunk, ToolCall, ToolCallDelta, Usage, hookimpl
from beluga_core.builtin import EchoProvider
from beluga_core.testing import kit_with

#: What the ``scripted`` provider was asked, in order, across every instance (reset per test).
CALLS: list[LLMRequest] = []


class Scripted(EchoProvider):
    """Echo, counting every call in ``CALLS``; with tools it answers with a call of the first one."""

    name = "scripted"

    async def complete(self, request: LLMRequest) -> LLMResponse:
        CALLS.append(request)
        if request.tools:
            tool = request.tools[0].name
            return LLMResponse(
                AIMessage("calling", tool_calls=[ToolCall("call_1", tool, {"city": "Oslo", "days": [1, 2]})]),
                model=request.model or "scripted", provider="scripted", usage=Usage(12, 7),
                finish_reason="tool_calls",
            )
        response = await super().complete(request)
        return response.replace(provider="scripted")

    async def stream_chunks(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        if request.tools:
            CALLS.append(request)
            args = json.dumps({"city": "Oslo", "days": [1, 2]})
            yield StreamChunk(text="calling", model=request.model or "scripted")
            yield StreamChunk(tool_calls=(ToolCallDelta(0, "call_1", request.tools[0].name, args[:9]),))
            yield StreamChunk(tool_calls=(ToolCallDelta(0, arguments=args[9:]),))
            yield StreamChunk(usage=Usage(12, 7), finish_reason="tool_calls")
            return
        CALLS.append(request)
        async for chunk in super().stream_chunks(request):
            yield chunk

    async def embed(self, request: LLMRequest) -> LLMResponse:
        CALLS.append(request)
        return await super().embed(request)


class ScriptedPlugin:
    name = "scripted-provider"

    @hookimpl
    def register_providers(self, register: Any) -> None:
        register("scripted", Scripted)


def cache_kit(
    settings: dict[str, Any] | None = None, *plugins: Any, sections: dict[str, Any] | None = None
) -> Any:
    """A Kit with the cache (enabled, memory unless ``settings`` say otherwise) on the scripted
    provider, with ``plugins`` beside it (``sections``: their ``[plugins.<name>]`` settings)."""
    cache = CachePlugin()
    config = {
        "beluga": {"provider": "scripted"},
        "plugins": {"cache": {"enabled": True, **(settings or {})}, **(sections or {})},
    }
    return kit_with(cache, ScriptedPlugin(), *plugins, config=config), cache
