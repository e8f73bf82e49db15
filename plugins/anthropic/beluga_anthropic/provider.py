"""``AnthropicProvider``: the Messages API (over beluga_http) with streaming, tools, images, prompt caching."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from beluga_anthropic.options import DEFAULT_MAX_TOKENS, DEFAULT_VERSION, AnthropicOptions
from beluga_core import (
    AIMessage,
    BaseProvider,
    ErrorCode,
    ImagePart,
    LLMRequest,
    LLMResponse,
    Message,
    ProviderConfig,
    ProviderError,
    StreamChunk,
    SystemMessage,
    TextPart,
    ToolCall,
    ToolCallDelta,
    ToolMessage,
    ToolSpec,
    Usage,
    get_logger,
)
from beluga_http import (
    SHAPE_ERRORS,
    BadShape,
    ClientPool,
    Scrubber,
    count,
    dumps,
    index,
    load_json,
    obj,
    opt_obj,
    opt_str,
    shape_error,
    stream_error,
    v1_endpoint,
)

log = get_logger("beluga.anthropic")

DEFAULT_BASE_URL = "https://api.anthropic.com"

#: Anthropic's stop reasons in the words the rest of Beluga (and OpenAI) use; the raw one is kept.
STOP_REASONS: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

_EPHEMERAL = {"type": "ephemeral"}



def endpoint(base_url: str | None, path: str) -> str:
    return v1_endpoint(base_url or DEFAULT_BASE_URL, path)


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


def _blocks(parts: tuple[Any, ...]) -> list[dict[str, Any]]:
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


def encode_tool(t: ToolSpec) -> dict[str, Any]:
    tool: dict[str, Any] = {"name": t.name, "input_schema": dict(t.parameters)}
    if t.description:
        tool["description"] = t.description
    return tool


def usage_from(data: Any, where: str = "usage") -> Usage:
    """Anthropic counts cache reads and writes apart from ``input_tokens``; Beluga's input is the sum."""
    if data is None:
        return Usage()
    data = obj(data, where)
    read = count(data, "cache_read_input_tokens", f"{where}.cache_read_input_tokens")
    written = count(data, "cache_creation_input_tokens", f"{where}.cache_creation_input_tokens")
    total_in = count(data, "input_tokens", f"{where}.input_tokens") + read + written
    return Usage(total_in, count(data, "output_tokens", f"{where}.output_tokens"), read, written)


def parse_message(data: Mapping[str, Any]) -> tuple[AIMessage, str | None, Usage, str | None]:
    """``(message, model, usage, stop_reason)`` of a Messages API body; ``BadShape`` names what is wrong."""
    blocks = data.get("content")
    if not isinstance(blocks, list):
        raise BadShape("content", "is not a list")
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
    return (
        AIMessage("".join(texts), tool_calls=calls),  # mypy misreads attrs converter=tuple
        opt_str(data, "model", "model"),
        usage_from(data.get("usage")),
        opt_str(data, "stop_reason", "stop_reason"),
    )


class AnthropicProvider(BaseProvider):
    """Messages API (``POST {base_url}/v1/messages``) with streaming, tools, images and cache_control.

    Options (checked against ``AnthropicOptions``): ``version`` (the ``anthropic-version`` header,
    default ``2023-06-01``), ``beta`` (``anthropic-beta``), ``max_tokens`` (default when a request
    sets none: the API requires one), ``headers`` (extra request headers), and the pool's
    ``fast_backend``, ``trust_env``, ``pool_timeout``.
    """

    name = "anthropic"
    options_schema = AnthropicOptions

    def __init__(self, config: ProviderConfig | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        opts = dict(cfg.options)
        self.url = endpoint(cfg.base_url, "messages")
        headers = {
            "content-type": "application/json",
            "accept": "application/json",
            "anthropic-version": str(opts.get("version", DEFAULT_VERSION)),
        }
        if cfg.api_key:
            headers["x-api-key"] = cfg.api_key
        if opts.get("beta"):
            headers["anthropic-beta"] = str(opts["beta"])
        headers.update({str(k): str(v) for k, v in dict(opts.get("headers") or {}).items()})
        self._pool = ClientPool(cfg, headers)
        self._scrub = Scrubber(cfg.api_key)
        self._max_tokens = int(opts.get("max_tokens", DEFAULT_MAX_TOKENS))

    def build_body(self, request: LLMRequest, *, stream: bool) -> dict[str, Any]:
        """The JSON body for ``request`` (``params`` such as ``top_p`` or ``stop_sequences`` pass through)."""
        model = request.model or self.config.model
        if not model:
            raise ProviderError(
                ErrorCode.INVALID_INPUT,
                "anthropic: no model given; set providers.anthropic.model or pass model=...",
                provider=self.name,
            )
        system, messages = encode_messages(request.messages)
        body: dict[str, Any] = {
            "model": model,
            "max_tokens": request.max_tokens if request.max_tokens is not None else self._max_tokens,
            "messages": messages,
        }
        if system:
            body["system"] = system
        if request.tools:
            body["tools"] = [encode_tool(t) for t in request.tools]
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if stream:
            body["stream"] = True
        if request.params:
            body.update(request.params)
        return body

    async def complete(self, request: LLMRequest) -> LLMResponse:
        content = dumps(self.build_body(request, stream=False))
        resp = await self._pool.post(self.name, self.url, content, request.deadline, self._scrub)
        try:
            data = obj(load_json(resp.content), "the body")
            if data.get("type") == "error":
                raise stream_error(self.name, data, self._scrub)
            message, model, usage, stop = parse_message(data)
        except SHAPE_ERRORS as exc:
            raise shape_error(self.name, self.url, exc) from None
        return LLMResponse(
            message,
            model=model or model_of(request, self.config),
            provider=self.name,
            usage=usage,
            finish_reason=STOP_REASONS.get(stop, stop) if stop else None,
            metadata={"stop_reason": stop} if stop else {},
        )

    async def stream_chunks(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        content = dumps(self.build_body(request, stream=True))
        name = self.name
        state = _StreamState()
        events = self._pool.stream_json(
            name, self.url, content, request.deadline, self._scrub, end="message_stop", skip=("ping",)
        )
        try:
            async for event, payload in events:
                if (payload.get("type") or event) == "error":
                    raise stream_error(name, payload, self._scrub)
                try:
                    chunk = state.read(event, payload)
                except SHAPE_ERRORS as exc:
                    raise shape_error(name, self.url, exc) from None
                if chunk is not None:
                    yield chunk
        finally:
            await events.aclose()  # the connection is closed or pooled now, not when collected
        try:
            usage = usage_from(state.usage)
        except SHAPE_ERRORS as exc:
            raise shape_error(name, self.url, exc) from None
        stop = state.stop
        yield StreamChunk(usage=usage, finish_reason=STOP_REASONS.get(stop, stop) if stop else None, model=state.model)

    async def aclose(self) -> None:
        await self._pool.aclose()


class _StreamState:
    """What a Messages stream has told so far; ``read`` turns one event into a chunk (or None)."""

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
                if at not in self.tools and len(self.tools) >= 1024:
                    raise BadShape("content_block", "starts more tool calls than a reply holds")
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


def model_of(request: LLMRequest, config: ProviderConfig) -> str:
    return request.model or config.model or ""
