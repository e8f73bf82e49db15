"""The Anthropic Messages API's wire format, in both directions.

- Requests: :func:`parse_request` (a client's JSON body to an ``LLMRequest``) and
  :func:`encode_request` (an ``LLMRequest`` to the body an upstream takes).
- Responses: :func:`decode_response` (an upstream's ``message`` object to an ``LLMResponse``) and
  :func:`encode_response` (the reverse, for clients).
- Streams: :class:`StreamDecoder` (SSE events to ``StreamChunk``\\ s) and :class:`StreamEncoder`
  (chunks to SSE events: ``message_start``, ``content_block_start``, ``content_block_delta``,
  ``content_block_stop``, ``message_delta``, ``message_stop``).

What Beluga's types do not hold travels in ``LLMRequest.params`` in Anthropic's own words
(``top_p``, ``top_k``, ``stop_sequences``, ``tool_choice``, ``metadata``), and in
``LLMResponse.metadata`` (the raw ``stop_reason``, ``stop_sequence``, ``cache_creation_input_tokens``).
Every problem raises :class:`WireError`, which names the field and never quotes its value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from beluga_core import (
    AIMessage,
    HumanMessage,
    ImagePart,
    LLMRequest,
    LLMResponse,
    Message,
    Part,
    StreamChunk,
    SystemMessage,
    TextPart,
    ToolCall,
    ToolCallDelta,
    ToolMessage,
    ToolSpec,
    Usage,
    estimate_request_tokens,
    estimate_tokens,
)
from beluga_wire.shape import (
    CONTROL,
    WireError,
    count,
    index,
    list_or_none,
    obj,
    opt_bool,
    opt_int,
    opt_number,
    opt_obj,
    opt_str,
    req_str,
)

#: The ``anthropic-version`` this module speaks.
API_VERSION = "2023-06-01"

#: Anthropic's stop reasons in the words the rest of Beluga (and OpenAI) use; the raw one is kept.
STOP_REASONS: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
#: Beluga's finish reasons in Anthropic's words.
FINISH_REASONS: dict[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
_ANTHROPIC_STOPS = frozenset({*STOP_REASONS, "pause_turn"})

#: Image types the Messages API takes.
MEDIA_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
#: Parameters of a request that Beluga's types do not hold; they travel in ``LLMRequest.params``.
PARAMS = ("top_p", "top_k", "stop_sequences", "tool_choice", "metadata")
#: ``tool_choice`` types.
TOOL_CHOICES = ("auto", "any", "tool", "none")
#: What Anthropic allows in a tool's name.
_TOOL_NAME = re.compile("[a-zA-Z0-9_-]{1,128}")
#: Most tool calls one streamed reply may start (bounds the decoder's state).
MAX_STREAM_TOOLS = 1024
#: Longest ``model`` accepted: it ends up in breaker names, logs and metrics.
MAX_MODEL_CHARS = 256

_EPHEMERAL = {"type": "ephemeral"}
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


# -- requests: JSON -> LLMRequest ----------------------------------------------------------------


def _cache_breakpoint(block: Mapping[str, Any], where: str) -> bool:
    control = block.get("cache_control")
    if control is None:
        return False
    control = obj(control, f"{where}.cache_control")
    if control.get("type") != "ephemeral":
        raise WireError(f"{where}.cache_control.type", "must be 'ephemeral'")
    return True


def _text_part(block: Mapping[str, Any], where: str) -> TextPart:
    return TextPart(req_str(block, "text", f"{where}.text"), cache_breakpoint=_cache_breakpoint(block, where))


def _image_part(block: Mapping[str, Any], where: str) -> ImagePart:
    source = obj(block.get("source"), f"{where}.source")
    kind = source.get("type")
    if kind == "base64":
        media_type = req_str(source, "media_type", f"{where}.source.media_type")
        if media_type not in MEDIA_TYPES:
            raise WireError(f"{where}.source.media_type", f"must be one of {', '.join(MEDIA_TYPES)}")
        data = req_str(source, "data", f"{where}.source.data")
        # Kept as a data: URL: neither this gateway nor an OpenAI-compatible upstream needs the bytes.
        return ImagePart(url=f"data:{media_type};base64,{data}", mime_type=media_type)
    if kind == "url":
        url = req_str(source, "url", f"{where}.source.url")
        if not url.startswith(("https://", "http://")):
            raise WireError(f"{where}.source.url", "must be an http(s) URL")
        return ImagePart(url=url)
    if kind == "file":
        raise WireError(f"{where}.source.type", "'file' (the Files API) is not supported; send base64 or url")
    raise WireError(f"{where}.source.type", "must be 'base64' or 'url'")


def _parts(content: Any, where: str, kinds: tuple[str, ...] = ("text", "image")) -> list[Part]:
    if isinstance(content, str):
        return [TextPart(content)]
    if not isinstance(content, list):
        raise WireError(where, "must be a string or an array of content blocks")
    out: list[Part] = []
    for i, block in enumerate(content):
        at = f"{where}[{i}]"
        block = obj(block, at)
        kind = block.get("type")
        if kind not in kinds:
            raise WireError(f"{at}.type", f"must be one of {', '.join(kinds)}")
        out.append(_text_part(block, at) if kind == "text" else _image_part(block, at))
    return out


def _tool_input(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    value = block.get("input")
    if value is None:
        return {}
    return dict(obj(value, where))


_USER_BLOCKS = ("text", "image", "tool_result")
_ASSISTANT_BLOCKS = ("text", "tool_use")
_REFUSED_BLOCKS = {
    "document": "documents are not supported by this gateway",
    "thinking": "thinking blocks are not supported by this gateway (extended thinking is off)",
    "redacted_thinking": "thinking blocks are not supported by this gateway (extended thinking is off)",
    "server_tool_use": "server tools are not supported by this gateway",
    "search_result": "search results are not supported by this gateway",
}


def _turn(m: Any, where: str) -> list[Message]:
    """The Beluga messages of one turn: a user turn's ``tool_result`` blocks become ``ToolMessage``\\ s
    (in order, before the turn's other content), an assistant turn's ``tool_use`` blocks its calls."""
    m = obj(m, where)
    role = m.get("role")
    if role not in ("user", "assistant"):
        raise WireError(f"{where}.role", "must be 'user' or 'assistant' (the system prompt goes in 'system')")
    content = m.get("content")
    if isinstance(content, str):
        return [HumanMessage(content) if role == "user" else AIMessage(content)]
    if not isinstance(content, list):
        raise WireError(f"{where}.content", "is required: a string or an array of content blocks")
    allowed = _USER_BLOCKS if role == "user" else _ASSISTANT_BLOCKS
    parts: list[Part] = []
    calls: list[ToolCall] = []
    results: list[ToolMessage] = []
    for i, block in enumerate(content):
        at = f"{where}.content[{i}]"
        block = obj(block, at)
        kind = block.get("type")
        if kind not in allowed:
            why = _REFUSED_BLOCKS.get(kind) if isinstance(kind, str) else None
            raise WireError(f"{at}.type", why or f"must be one of {', '.join(allowed)} in a {role} turn")
        if kind == "text":
            parts.append(_text_part(block, at))
        elif kind == "image":
            parts.append(_image_part(block, at))
        elif kind == "tool_use":
            name = req_str(block, "name", f"{at}.name")
            calls.append(ToolCall(req_str(block, "id", f"{at}.id"), name, _tool_input(block, f"{at}.input")))
        else:  # tool_result
            call_id = req_str(block, "tool_use_id", f"{at}.tool_use_id")
            opt_bool(block, "is_error", f"{at}.is_error")
            _cache_breakpoint(block, at)
            inner = block.get("content")
            result = [] if inner is None else _parts(inner, f"{at}.content")
            results.append(ToolMessage(result, tool_call_id=call_id))
    out: list[Message] = list(results)
    if role == "assistant":
        out.append(AIMessage(parts, tool_calls=calls))
    elif parts or not results:
        out.append(HumanMessage(parts))
    return out


def _system(value: Any) -> SystemMessage | None:
    if value is None:
        return None
    if isinstance(value, str):
        return SystemMessage(value) if value else None
    if not isinstance(value, list):
        raise WireError("system", "must be a string or an array of text blocks")
    parts = _parts(value, "system", ("text",))
    return SystemMessage(parts) if parts else None


def _tool(t: Any, where: str) -> ToolSpec:
    t = obj(t, where)
    kind = t.get("type")
    if kind not in (None, "custom"):
        raise WireError(f"{where}.type", "server tools (Anthropic-hosted) are not supported; give name and "
                        "input_schema")
    name = req_str(t, "name", f"{where}.name")
    if not _TOOL_NAME.fullmatch(name):
        raise WireError(f"{where}.name", "must be 1 to 128 letters, digits, underscores or dashes")
    schema = obj(t.get("input_schema"), f"{where}.input_schema")
    if schema.get("type") != "object":
        raise WireError(f"{where}.input_schema.type", "must be 'object'")
    _cache_breakpoint(t, where)
    return ToolSpec(name, opt_str(t, "description", f"{where}.description") or "", dict(schema))


def _tool_choice(value: Any) -> dict[str, Any]:
    choice = obj(value, "tool_choice")
    kind = choice.get("type")
    if kind not in TOOL_CHOICES:
        raise WireError("tool_choice.type", f"must be one of {', '.join(TOOL_CHOICES)}")
    out: dict[str, Any] = {"type": kind}
    if kind == "tool":
        out["name"] = req_str(choice, "name", "tool_choice.name")
    parallel = opt_bool(choice, "disable_parallel_tool_use", "tool_choice.disable_parallel_tool_use")
    if parallel is not None and kind != "none":
        out["disable_parallel_tool_use"] = parallel
    return out


def parse_request(
    body: Any, *, max_messages: int | None = None, max_tools: int | None = None
) -> LLMRequest:
    """A Messages API request body as an ``LLMRequest``; :class:`WireError` names the bad field.

    ``model``, ``messages`` and ``max_tokens`` are required, as the API requires them. ``top_p``,
    ``top_k``, ``stop_sequences``, ``tool_choice`` and ``metadata`` go to ``params``; ``thinking``
    other than disabled, ``mcp_servers`` and ``container`` are refused; other fields are ignored.
    """
    body = obj(body, "body")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise WireError("model", "is required (a non-empty string)")
    if len(model) > MAX_MODEL_CHARS or CONTROL.search(model):
        raise WireError("model", f"must be at most {MAX_MODEL_CHARS} characters, without control characters")
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise WireError("messages", "is required: a non-empty array of messages")
    if max_messages is not None and len(raw) > max_messages:
        raise WireError("messages", f"holds {len(raw)} messages; at most {max_messages} are accepted")
    max_tokens = opt_int(body, "max_tokens", "max_tokens", 1)
    if max_tokens is None:
        raise WireError("max_tokens", "is required (an integer, at least 1)")
    messages: list[Message] = []
    system = _system(body.get("system"))
    if system is not None:
        messages.append(system)
    for i, m in enumerate(raw):
        messages.extend(_turn(m, f"messages[{i}]"))
    raw_tools = list_or_none(body, "tools", "tools") or []
    if max_tools is not None and len(raw_tools) > max_tools:
        raise WireError("tools", f"holds {len(raw_tools)} tools; at most {max_tools} are accepted")
    tools = tuple(_tool(t, f"tools[{i}]") for i, t in enumerate(raw_tools))
    params: dict[str, Any] = {}
    top_p = opt_number(body, "top_p", "top_p", 0, 1)
    if top_p is not None:
        params["top_p"] = body["top_p"]
    top_k = opt_int(body, "top_k", "top_k", 0)
    if top_k is not None:
        params["top_k"] = top_k
    stops = list_or_none(body, "stop_sequences", "stop_sequences")
    if stops is not None:
        for i, s in enumerate(stops):
            if not isinstance(s, str):
                raise WireError(f"stop_sequences[{i}]", "is not a string")
        params["stop_sequences"] = list(stops)
    if body.get("tool_choice") is not None:
        params["tool_choice"] = _tool_choice(body["tool_choice"])
    if body.get("metadata") is not None:
        meta = obj(body["metadata"], "metadata")
        opt_str(meta, "user_id", "metadata.user_id")
        params["metadata"] = dict(meta)
    thinking = body.get("thinking")
    if thinking is not None and obj(thinking, "thinking").get("type") != "disabled":
        raise WireError("thinking", "extended thinking is not supported by this gateway")
    for refused in ("mcp_servers", "container"):
        if body.get(refused) is not None:
            raise WireError(refused, "is not supported by this gateway")
    temperature = opt_number(body, "temperature", "temperature", 0, 1)
    stream = opt_bool(body, "stream", "stream") or False
    return LLMRequest(
        messages,
        model=model,
        tools=tools,
        max_tokens=max_tokens,
        temperature=temperature,
        stream=stream,
        params=params,
    )


# -- requests: LLMRequest -> JSON ----------------------------------------------------------------


def _text_block(p: TextPart) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "text", "text": p.text}
    if p.cache_breakpoint:
        block["cache_control"] = _EPHEMERAL
    return block


def _image_block(p: ImagePart) -> dict[str, Any]:
    if p.data is not None:
        import base64

        source = {"type": "base64", "media_type": p.mime_type, "data": base64.b64encode(p.data).decode("ascii")}
    elif p.url is not None and p.url.startswith("data:"):
        head, _, data = p.url.partition(",")
        media_type = head[5:].split(";", 1)[0] or p.mime_type or "image/png"
        source = {"type": "base64", "media_type": media_type, "data": data}
    else:
        source = {"type": "url", "url": p.url}
    return {"type": "image", "source": source}


def _blocks(parts: tuple[Part, ...]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for p in parts:
        if isinstance(p, TextPart):
            if p.text:  # the API rejects empty text blocks
                out.append(_text_block(p))
        elif isinstance(p, ImagePart):
            out.append(_image_block(p))
    return out


def encode_messages(messages: tuple[Message, ...]) -> tuple[str | list[dict[str, Any]] | None, list[dict[str, Any]]]:
    """``(system, messages)`` for the Messages API.

    System messages become the top-level ``system`` (blocks with ``cache_control`` where a part is
    a cache breakpoint); tool results become ``tool_result`` blocks in a user turn; consecutive
    turns of the same role are merged, as the API requires alternating roles.
    """
    system: list[TextPart] = []
    out: list[dict[str, Any]] = []
    for m in messages:
        if isinstance(m, SystemMessage):
            system.extend(p for p in m.parts if isinstance(p, TextPart) and p.text)
            continue
        if isinstance(m, AIMessage):
            role = "assistant"
            blocks = _blocks(m.parts)
            blocks.extend(
                {"type": "tool_use", "id": c.id, "name": c.name, "input": dict(c.arguments)} for c in m.tool_calls
            )
        elif isinstance(m, ToolMessage):
            role = "user"
            result: dict[str, Any] = {"type": "tool_result", "tool_use_id": m.tool_call_id}
            tb = _blocks(m.parts)
            if tb:
                result["content"] = tb
            blocks = [result]
        else:
            role = "user"
            blocks = _blocks(m.parts)
        if not blocks:
            continue
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    sys_value: str | list[dict[str, Any]] | None = None
    if any(p.cache_breakpoint for p in system):
        sys_value = [_text_block(p) for p in system]
    elif system:
        sys_value = "\n".join(p.text for p in system)
    return sys_value, out


def misnamed_tool(tools: tuple[ToolSpec, ...], messages: tuple[Message, ...]) -> tuple[int, int] | None:
    """The first name Anthropic's API would refuse: ``(i, -1)`` for ``tools[i]``, ``(i, k)`` for the
    ``k``-th tool call of ``messages[i]``; None when every name is one it takes. Requests from other
    APIs (an OpenAI client's tools) may use names it does not."""
    for i, t in enumerate(tools):
        if not _TOOL_NAME.fullmatch(t.name):
            return i, -1
    for i, m in enumerate(messages):
        if isinstance(m, AIMessage):
            for k, c in enumerate(m.tool_calls):
                if not _TOOL_NAME.fullmatch(c.name):
                    return i, k
    return None


def encode_tool(t: ToolSpec) -> dict[str, Any]:
    tool: dict[str, Any] = {"name": t.name, "input_schema": dict(t.parameters)}
    if t.description:
        tool["description"] = t.description
    return tool


def encode_request(
    request: LLMRequest, *, model: str | None = None, max_tokens: int | None = None, stream: bool | None = None
) -> dict[str, Any]:
    """The Messages API body for ``request``. ``model`` and ``max_tokens`` are used when the request
    sets none (the API requires both); ``stream`` overrides ``request.stream``. ``params`` (``top_p``,
    ``stop_sequences``, ...) pass through as they are."""
    system, messages = encode_messages(request.messages)
    body: dict[str, Any] = {
        "model": request.model or model,
        "max_tokens": request.max_tokens if request.max_tokens is not None else max_tokens,
        "messages": messages,
    }
    if system:
        body["system"] = system
    if request.tools:
        body["tools"] = [encode_tool(t) for t in request.tools]
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.stream if stream is None else stream:
        body["stream"] = True
    if request.params:
        body.update(request.params)
    return body


# -- responses -----------------------------------------------------------------------------------


def usage_from(data: Any, where: str = "usage") -> Usage:
    """Anthropic counts cache reads and writes apart from ``input_tokens``; Beluga's input is the sum."""
    if data is None:
        return Usage()
    data = obj(data, where)
    read = count(data, "cache_read_input_tokens", f"{where}.cache_read_input_tokens")
    written = count(data, "cache_creation_input_tokens", f"{where}.cache_creation_input_tokens")
    total_in = count(data, "input_tokens", f"{where}.input_tokens") + read + written
    return Usage(total_in, count(data, "output_tokens", f"{where}.output_tokens"), read, written)


def usage_json(usage: Usage, cache_creation: int = 0) -> dict[str, int]:
    """Anthropic's ``usage`` object for Beluga's counts: ``input_tokens`` is what was neither read
    from nor written to the prompt cache."""
    read = usage.cached_input_tokens
    cache_creation = max(0, min(cache_creation or usage.cache_creation_input_tokens, usage.input_tokens - read))
    return {
        "input_tokens": max(0, usage.input_tokens - read - cache_creation),
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": cache_creation,
        "cache_read_input_tokens": read,
    }


def finish_reason(stop_reason: str | None) -> str | None:
    """Beluga's finish reason for an Anthropic stop reason (unknown ones pass as they are)."""
    return STOP_REASONS.get(stop_reason, stop_reason) if stop_reason else None


def stop_reason(finish: str | None, has_tools: bool = False) -> str:
    """Anthropic's stop reason for Beluga's (or OpenAI's) finish reason."""
    if finish in _ANTHROPIC_STOPS:
        return str(finish)
    if finish in FINISH_REASONS:
        return FINISH_REASONS[str(finish)]
    return "tool_use" if has_tools else "end_turn"


def decode_response(data: Any) -> LLMResponse:
    """An LLMResponse of a Messages API ``message`` object; :class:`WireError` names what is wrong.

    ``metadata`` keeps the raw ``stop_reason``, the ``stop_sequence`` that ended the answer and the
    ``cache_creation_input_tokens`` (Beluga's ``Usage`` counts them in ``input_tokens``)."""
    data = obj(data, "the body")
    blocks = data.get("content")
    if not isinstance(blocks, list):
        raise WireError("content", "is not an array")
    texts: list[str] = []
    calls: list[ToolCall] = []
    for i, b in enumerate(blocks):
        at = f"content[{i}]"
        b = obj(b, at)
        kind = b.get("type")
        if kind == "text":
            texts.append(opt_str(b, "text", f"{at}.text") or "")
        elif kind == "tool_use":
            args = b.get("input")
            calls.append(ToolCall(opt_str(b, "id", f"{at}.id") or "", opt_str(b, "name", f"{at}.name") or "",
                                  dict(args) if isinstance(args, Mapping) else {}))
    usage = usage_from(data.get("usage"))
    stop = opt_str(data, "stop_reason", "stop_reason")
    metadata: dict[str, Any] = {}
    if stop:
        metadata["stop_reason"] = stop
    sequence = opt_str(data, "stop_sequence", "stop_sequence")
    if sequence is not None:
        metadata["stop_sequence"] = sequence
    raw_usage = data.get("usage")
    if isinstance(raw_usage, Mapping) and raw_usage.get("cache_creation_input_tokens"):
        metadata["cache_creation_input_tokens"] = count(raw_usage, "cache_creation_input_tokens", "")
    return LLMResponse(
        AIMessage("".join(texts), tool_calls=calls),  # mypy misreads attrs converter=tuple
        model=opt_str(data, "model", "model") or "",
        usage=usage,
        finish_reason=finish_reason(stop),
        metadata=metadata,
    )


def tool_use_id(call_id: str | None, fallback: str) -> str:
    """A ``tool_use`` block's id: the call's own, or ``toolu_`` and ``fallback`` when it has none."""
    return call_id or f"toolu_{fallback}"


def _tool_use(c: ToolCall, fallback: str) -> dict[str, Any]:
    return {"type": "tool_use", "id": tool_use_id(c.id, fallback), "name": c.name, "input": dict(c.arguments)}


def encode_response(resp: LLMResponse, *, id: str, model: str) -> dict[str, Any]:
    """The Messages API ``message`` object for ``resp``; ``id`` and ``model`` are what the client sees."""
    calls = resp.message.tool_calls
    content: list[dict[str, Any]] = []
    if resp.text or not calls:
        content.append({"type": "text", "text": resp.text})
    content.extend(_tool_use(c, f"{id}_{i}") for i, c in enumerate(calls))
    meta = resp.metadata
    raw_stop = meta.get("stop_reason")
    stop = raw_stop if isinstance(raw_stop, str) and raw_stop in _ANTHROPIC_STOPS else None
    sequence = meta.get("stop_sequence")
    creation = meta.get("cache_creation_input_tokens")
    return {
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop or stop_reason(resp.finish_reason, bool(calls)),
        "stop_sequence": sequence if isinstance(sequence, str) else None,
        "usage": usage_json(resp.usage, creation if isinstance(creation, int) else 0),
    }


# -- streams: SSE events -> chunks ---------------------------------------------------------------


class StreamDecoder:
    """What a Messages stream has told so far; :meth:`read` turns one event into a chunk (or None),
    :meth:`final` gives the last chunk (usage, finish reason, model)."""

    __slots__ = ("model", "stop", "tools", "usage")

    def __init__(self) -> None:
        self.usage: dict[str, Any] = {}
        self.stop: str | None = None
        self.model: str | None = None
        self.tools: dict[int, int] = {}  # content block index -> tool call index

    def read(self, event: str, payload: Mapping[str, Any]) -> StreamChunk | None:
        kind = payload.get("type") or event
        if kind == "content_block_delta":
            delta = opt_obj(payload, "delta", "delta")
            dtype = delta.get("type")
            if dtype == "text_delta":
                text = opt_str(delta, "text", "delta.text")
                return StreamChunk(text=text, model=self.model) if text else None
            if dtype == "input_json_delta":
                idx = self.tools.get(index(payload, "index", "index"))
                part = opt_str(delta, "partial_json", "delta.partial_json")
                if idx is not None and part:
                    return StreamChunk(tool_calls=(ToolCallDelta(idx, arguments=part),))
        elif kind == "content_block_start":
            block = opt_obj(payload, "content_block", "content_block")
            btype = block.get("type")
            if btype == "tool_use":
                at = index(payload, "index", "index")
                if at not in self.tools and len(self.tools) >= MAX_STREAM_TOOLS:
                    raise WireError("content_block", "starts more tool calls than a reply holds")
                idx = self.tools[at] = self.tools.get(at, len(self.tools))
                return StreamChunk(
                    tool_calls=(ToolCallDelta(idx, opt_str(block, "id", "content_block.id") or "",
                                              opt_str(block, "name", "content_block.name") or ""),),
                    model=self.model,
                )
            if btype == "text":
                text = opt_str(block, "text", "content_block.text")
                return StreamChunk(text=text, model=self.model) if text else None
        elif kind == "message_start":
            message = opt_obj(payload, "message", "message")
            self.model = opt_str(message, "model", "message.model") or self.model
            if message.get("usage") is not None:
                usage_from(message["usage"], "message.usage")  # checked now, summed at the end
                self.usage.update(message["usage"])
        elif kind == "message_delta":
            delta = opt_obj(payload, "delta", "delta")
            self.stop = opt_str(delta, "stop_reason", "delta.stop_reason") or self.stop
            if payload.get("usage") is not None:
                usage_from(payload["usage"], "usage")
                self.usage.update({k: v for k, v in payload["usage"].items() if v is not None})
        return None

    def final(self) -> StreamChunk:
        """The stream's last chunk: the summed usage, the finish reason and the model."""
        return StreamChunk(usage=usage_from(self.usage), finish_reason=finish_reason(self.stop), model=self.model)


def decode_events(data: bytes) -> Iterator[tuple[str, Any]]:
    """``(event, payload)`` of each event in an SSE body (for tests and simple clients; the
    providers read streams with ``beluga_http``'s incremental parser)."""
    for raw in data.replace(b"\r\n", b"\n").split(b"\n\n"):
        event, lines = "", []
        for line in raw.split(b"\n"):
            if line.startswith(b"event:"):
                event = line[6:].strip().decode()
            elif line.startswith(b"data:"):
                lines.append(line[5:].lstrip(b" "))
        if lines:
            yield event, json.loads(b"\n".join(lines))


# -- streams: chunks -> SSE events ---------------------------------------------------------------


def sse(event: str, payload: Mapping[str, Any]) -> bytes:
    """One SSE event as Anthropic sends them: ``event:`` then ``data:`` with the JSON."""
    return b"event: " + event.encode() + b"\ndata: " + _dumps(payload).encode("utf-8") + b"\n\n"


def error_json(type: str, message: str) -> dict[str, Any]:
    """Anthropic's error body: ``{"type": "error", "error": {"type": ..., "message": ...}}``."""
    return {"type": "error", "error": {"type": type, "message": message}}


class StreamEncoder:
    """Turns Beluga stream chunks into the Messages API's SSE events (bytes).

    Text and each tool call get their own content block, in the order they arrive; a block is
    closed when the next one starts. A delta for a tool call whose block is already closed goes
    to that block's index (the SDKs accumulate by index).
    """

    __slots__ = ("_blocks", "_current", "_id", "_model", "_text_open", "_tools", "saw_tools")

    def __init__(self, id: str, model: str) -> None:
        self._id = id
        self._model = model
        self._blocks = 0  # content blocks started so far
        self._current: int | None = None  # the open block's index
        self._text_open = False
        self._tools: dict[int, int] = {}  # tool call index -> content block index
        self.saw_tools = False

    def start(self, usage: Usage | None = None) -> bytes:
        """``message_start`` (with the input counts if known) and a ``ping``."""
        message: dict[str, Any] = {
            "id": self._id, "type": "message", "role": "assistant", "model": self._model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": usage_json(usage or Usage()),
        }
        return sse("message_start", {"type": "message_start", "message": message}) + sse("ping", {"type": "ping"})

    def _close(self) -> bytes:
        if self._current is None:
            return b""
        index, self._current, self._text_open = self._current, None, False
        return sse("content_block_stop", {"type": "content_block_stop", "index": index})

    def _open(self, block: dict[str, Any]) -> tuple[bytes, int]:
        out = self._close()
        index = self._current = self._blocks
        self._blocks += 1
        return out + sse("content_block_start", {"type": "content_block_start", "index": index,
                                                 "content_block": block}), index

    def chunk(self, c: StreamChunk) -> bytes:
        out = b""
        if c.text:
            if not self._text_open:
                opened, _ = self._open({"type": "text", "text": ""})
                out += opened
                self._text_open = True
            delta = {"type": "text_delta", "text": c.text}
            out += sse("content_block_delta", {"type": "content_block_delta", "index": self._current, "delta": delta})
        for d in c.tool_calls:
            index = self._tools.get(d.index)
            if index is None:
                if len(self._tools) >= MAX_STREAM_TOOLS:
                    continue
                self.saw_tools = True
                block = {"type": "tool_use", "id": tool_use_id(d.id, f"{self._id}_{d.index}"), "name": d.name or "",
                         "input": {}}
                opened, index = self._open(block)
                self._tools[d.index] = index
                out += opened
            if d.arguments:
                delta = {"type": "input_json_delta", "partial_json": d.arguments}
                out += sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
        return out

    def finish(self, finish: str | None, usage: Usage | None, cache_creation: int = 0) -> bytes:
        """The open block's ``content_block_stop``, ``message_delta`` (stop reason and usage) and ``message_stop``."""
        out = self._close()
        if self._blocks == 0:  # an empty answer is still one (empty) text block
            opened, _ = self._open({"type": "text", "text": ""})
            out += opened + self._close()
        delta = {"stop_reason": stop_reason(finish, self.saw_tools), "stop_sequence": None}
        out += sse("message_delta", {"type": "message_delta", "delta": delta,
                                     "usage": usage_json(usage or Usage(), cache_creation)})
        return out + sse("message_stop", {"type": "message_stop"})


def error_event(type: str, message: str) -> bytes:
    """An ``error`` event: how a stream that already started reports a failure."""
    return sse("error", error_json(type, message))


#: Anthropic's error type for each HTTP status an answer may carry.
ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def error_type(status: int) -> tuple[int, str]:
    """The status and Anthropic error ``type`` to answer an error of HTTP ``status`` with: 503 (an
    open breaker, a busy or draining service) is Anthropic's 529 ``overloaded_error``."""
    if status == 503:
        status = 529
    return status, ERROR_TYPES.get(status) or ("api_error" if status >= 500 else "invalid_request_error")


def provider_params(params: Mapping[str, Any], kind: str, passthrough: frozenset[str],
                    has_tools: bool) -> dict[str, Any]:
    """A Messages request's own parameters in the dialect of the provider it goes to: as they are
    for Anthropic; for OpenAI-compatible upstreams ``stop_sequences`` is ``stop``, ``tool_choice``
    OpenAI's, ``metadata.user_id`` is ``user`` (then only the fields ``passthrough`` lets through;
    ``top_k`` has no OpenAI equivalent and is dropped); none for other providers."""
    if kind == "anthropic":
        return dict(params)
    if kind != "openai":
        return {}
    out: dict[str, Any] = {}
    if "top_p" in params:
        out["top_p"] = params["top_p"]
    if params.get("stop_sequences"):
        out["stop"] = list(params["stop_sequences"])
    choice = params.get("tool_choice")
    if choice and has_tools:  # OpenAI refuses tool_choice and parallel_tool_calls without tools
        kind_ = choice["type"]
        if kind_ == "tool":
            out["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
        else:
            out["tool_choice"] = {"auto": "auto", "any": "required", "none": "none"}[kind_]
        if choice.get("disable_parallel_tool_use"):
            out["parallel_tool_calls"] = False
    user = (params.get("metadata") or {}).get("user_id")
    if isinstance(user, str) and user:
        out["user"] = user
    if "*" in passthrough:
        return out
    return {k: v for k, v in out.items() if k in passthrough}


def count_tokens(req: LLMRequest) -> int:
    """An estimate of a request's input tokens (about four characters a token): the messages, the
    tool calls' arguments and the tools' schemas. No upstream is asked."""
    n = estimate_request_tokens(req.messages)
    for m in req.messages:
        for call in getattr(m, "tool_calls", ()):
            n += estimate_tokens(call.name + _compact(dict(call.arguments)))
    for t in req.tools:
        n += estimate_tokens(t.name + t.description + _compact(dict(t.parameters)))
    return n


def _compact(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


__all__ = [
    "API_VERSION",
    "ERROR_TYPES",
    "FINISH_REASONS",
    "MEDIA_TYPES",
    "PARAMS",
    "STOP_REASONS",
    "StreamDecoder",
    "StreamEncoder",
    "WireError",
    "count",
    "count_tokens",
    "decode_events",
    "decode_response",
    "encode_messages",
    "encode_request",
    "encode_response",
    "encode_tool",
    "error_event",
    "error_json",
    "error_type",
    "finish_reason",
    "misnamed_tool",
    "parse_request",
    "provider_params",
    "sse",
    "stop_reason",
    "tool_use_id",
    "usage_from",
    "usage_json",
]
