"""The cache key of a request: a sha256 of its canonical form (never the prompt itself).

Two requests share a key when the model would see the same thing: the provider and model, every
message (role, text and image parts, the history's tool calls and tool results), the tools, and the
sampling parameters (``max_tokens``, ``temperature`` and everything in ``params``: ``top_p``,
``stop``, ``seed``, ``response_format``...). Request metadata (request ids, the caller) is not
part of it; the namespace (the project) keeps callers apart instead.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from beluga_core import AIMessage, ImagePart, LLMRequest, Message, TextPart, ToolMessage

#: Bumped when the canonical form changes, so old entries are never read as new ones.
KEY_VERSION = 1


def _part(part: TextPart | ImagePart) -> list[Any]:
    if isinstance(part, TextPart):
        return ["text", part.text]
    data = hashlib.sha256(part.data).hexdigest() if part.data is not None else None
    return ["image", part.url, data, part.mime_type, part.detail]


def _message(m: Message) -> list[Any]:
    out: list[Any] = [m.role, [_part(p) for p in m.parts]]
    if isinstance(m, AIMessage) and m.tool_calls:
        out.append([[c.id, c.name, dict(c.arguments)] for c in m.tool_calls])
    elif isinstance(m, ToolMessage):
        out += [m.tool_call_id, m.name]
    return out


def canonical(request: LLMRequest) -> bytes:
    """The request's canonical form: compact JSON with sorted keys (raises TypeError or ValueError
    for parameters JSON cannot hold, RecursionError for absurd nesting)."""
    form = {
        "v": KEY_VERSION,
        "operation": request.operation,
        "provider": request.provider,
        "model": request.model,
        "messages": [_message(m) for m in request.messages],
        "tools": [[t.name, t.description, dict(t.parameters)] for t in request.tools],
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "params": dict(request.params),
    }
    text = json.dumps(form, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_plain)
    return text.encode("utf-8", "surrogatepass")


def _plain(value: Any) -> Any:
    """Containers JSON does not know (tuples are lists already; mappings and sets are made plain)."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    raise TypeError(f"{type(value).__name__} is not part of a cacheable request")


def request_digest(request: LLMRequest) -> str | None:
    """sha256 hex of the canonical form, or None when the request cannot be put in canonical form
    (a parameter JSON cannot hold): such a request is not cached."""
    try:
        return hashlib.sha256(canonical(request)).hexdigest()
    except (TypeError, ValueError, RecursionError):
        return None


def namespace_digest(namespace: str) -> str:
    """A short hash of the namespace (the project), so a key names no project either."""
    return hashlib.sha256(namespace.encode("utf-8", "surrogatepass")).hexdigest()[:16]


__all__ = ["KEY_VERSION", "canonical", "namespace_digest", "request_digest"]
