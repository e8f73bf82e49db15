"""Stored answers: an ``LLMResponse`` as compact JSON, and back as a hit (whole or as a stream)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from beluga_core import AIMessage, LLMResponse, LLMStream, StreamChunk, ToolCall, ToolCallDelta, Usage

#: Bumped when the stored shape changes; an entry of another version reads as a miss.
FORMAT_VERSION = 1
#: The answer's metadata that is part of the answer (the other choices of ``n`` > 1); the rest
#: (attempts, fallbacks, provider ids) describes the call that made it and is not stored.
KEPT_METADATA = ("choices",)
#: Finish reasons of answers that are never stored: a provider's refusal or failure.
UNSTORED_FINISH = frozenset({"content_filter", "error"})
#: Text per chunk when a stored answer is streamed back.
CHUNK_CHARS = 1024


def storable(response: LLMResponse) -> bool:
    """Whether an answer may be stored: it says something (text, a tool call or vectors) and did
    not finish with a refusal or an error."""
    if response.finish_reason in UNSTORED_FINISH:
        return False
    return bool(response.message.text or response.message.tool_calls or response.embeddings)


def dumps(response: LLMResponse) -> bytes:
    """The answer as stored (raises TypeError/ValueError for what JSON cannot hold)."""
    u = response.usage
    body: dict[str, Any] = {
        "v": FORMAT_VERSION,
        "text": response.message.text,
        "model": response.model,
        "provider": response.provider,
        "usage": [u.input_tokens, u.output_tokens, u.reasoning_tokens],
        "finish_reason": response.finish_reason,
    }
    if response.message.tool_calls:
        body["tool_calls"] = [[c.id, c.name, dict(c.arguments)] for c in response.message.tool_calls]
    if response.embeddings:
        body["embeddings"] = [list(v) for v in response.embeddings]
    kept = {k: response.metadata[k] for k in KEPT_METADATA if k in response.metadata}
    if kept:
        body["metadata"] = kept
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")


def loads(data: bytes) -> LLMResponse | None:
    """A stored answer as a cache hit: ``metadata["cache"] == "hit"`` and its whole input counted as
    cached (``usage.cached_input_tokens == usage.input_tokens``), so spending and traces see a
    call that cost no new input. None for an entry that does not parse (it reads as a miss)."""
    try:
        body = json.loads(data)
        if not isinstance(body, dict) or body.get("v") != FORMAT_VERSION:
            return None
        inp, out, reasoning = (int(n) for n in body["usage"])
        calls = [ToolCall(str(i), str(n), a if isinstance(a, dict) else {}) for i, n, a in body.get("tool_calls", ())]
        return LLMResponse(
            AIMessage(str(body["text"]), tool_calls=calls),
            model=str(body.get("model") or ""),
            provider=str(body.get("provider") or ""),
            usage=Usage(inp, out, cached_input_tokens=inp, reasoning_tokens=reasoning),
            finish_reason=body.get("finish_reason"),
            metadata={**body.get("metadata", {}), "cache": "hit"},
            embeddings=tuple(tuple(float(x) for x in v) for v in body.get("embeddings", ())),
        )
    except (ValueError, TypeError, KeyError):
        return None


def _arguments(arguments: Any) -> str:
    # A stream's unparsable arguments were kept as {"_raw": text}: give back the text itself.
    if isinstance(arguments, dict) and set(arguments) == {"_raw"} and isinstance(arguments["_raw"], str):
        return arguments["_raw"]
    return json.dumps(arguments, separators=(",", ":"), ensure_ascii=False)


def as_stream(response: LLMResponse) -> LLMStream:
    """A stored answer streamed back: its text in pieces, then its tool calls, then the end (usage,
    finish reason), the chunks a provider's stream of the same answer would assemble into."""

    async def chunks() -> AsyncIterator[StreamChunk]:
        text = response.message.text
        model = response.model or None
        for at in range(0, len(text), CHUNK_CHARS):
            yield StreamChunk(text=text[at:at + CHUNK_CHARS], model=model)
        for i, call in enumerate(response.message.tool_calls):
            yield StreamChunk(tool_calls=(ToolCallDelta(i, call.id, call.name, _arguments(call.arguments)),))
        yield StreamChunk(usage=response.usage, finish_reason=response.finish_reason, model=model)

    stream = LLMStream(chunks(), provider=response.provider, model=response.model)
    stream.metadata.update(response.metadata)
    return stream


__all__ = ["as_stream", "dumps", "loads", "storable"]
