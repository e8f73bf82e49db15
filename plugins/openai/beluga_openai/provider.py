"""``OpenAIProvider``: the Chat Completions API over beluga_http, for OpenAI and any compatible server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from beluga_core import (
    AIMessage,
    BaseProvider,
    ErrorCode,
    HumanMessage,
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
    opt_list,
    opt_obj,
    opt_str,
    shape_error,
    stream_error,
    v1_endpoint,
)
from beluga_openai.options import OpenAIOptions

log = get_logger("beluga.openai")

DEFAULT_BASE_URL = "https://api.openai.com"



def endpoint(base_url: str | None, path: str) -> str:
    return v1_endpoint(base_url or DEFAULT_BASE_URL, path)


def _text(parts: tuple[Any, ...]) -> str:
    """Text parts as one string, one part per line (prompt-builder sections stay apart)."""
    return "\n".join(p.text for p in parts if isinstance(p, TextPart) and p.text)


def _content(parts: tuple[Any, ...]) -> str | list[dict[str, Any]]:
    """A plain string for text-only content (what every compatible server accepts), else parts."""
    if all(isinstance(p, TextPart) for p in parts):
        return _text(parts)
    return _parts(parts)


def _parts(parts: tuple[Any, ...]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for p in parts:
        if isinstance(p, TextPart):
            out.append({"type": "text", "text": p.text})
        elif isinstance(p, ImagePart):
            image: dict[str, Any] = {"url": p.data_url()}
            if p.detail != "auto":
                image["detail"] = p.detail
            out.append({"type": "image_url", "image_url": image})
    return out


#: The ``params`` key under which the gateway hands over what the request carried beyond Beluga's:
#: ``{"messages": [...] or None, "tools": [...] or None, "body": {...}}`` (see ``apply_wire_messages``);
#: ``tools``, the tools as the client sent them (custom tools too), replace the encoded ``request.tools``;
#: ``body`` holds fields sent as they are whose names the chain's own arguments take (``metadata``).
WIRE = "beluga_wire"


def apply_wire_messages(out: list[dict[str, Any]], messages: tuple[Message, ...], wire: Any) -> None:
    """Put back, in the encoded ``out``, what each message carried beyond Beluga's message: its
    other fields as sent (a participant's ``name``, ``audio``, custom tool calls, the deprecated
    ``function`` role...) and content parts the chain does not read (``file``, ``input_audio``).

    ``wire`` holds one entry per message as the client sent them (None: nothing beyond), matched
    from the end, so a message the chain put in front does not shift them; an entry whose role no
    longer matches is skipped. Content comes from Beluga's message (what guards read, or redacted);
    a template's None slots take its parts in order."""
    if not isinstance(wire, (list, tuple)):
        return
    offset = len(out) - len(wire)
    for i, entry in enumerate(wire):
        j = i + offset
        if not isinstance(entry, Mapping) or not 0 <= j < len(out) or messages[j].role != entry.get("role"):
            continue
        content = out[j].get("content")
        template = entry.get("content")
        if isinstance(template, list):
            parts = _parts(messages[j].parts)
            slots = sum(1 for t in template if t is None)
            if slots == len(parts):
                filled = iter(parts)
                content = [next(filled) if t is None else t for t in template]
            else:  # the chain changed the parts: Beluga's first, then the unread ones
                content = [*parts, *(t for t in template if t is not None)]
        msg = {**out[j], "content": content, **dict(entry.get("fields") or {})}
        kinds = entry.get("calls")
        m = messages[j]
        if isinstance(m, AIMessage) and isinstance(kinds, list) and len(kinds) == len(m.tool_calls):
            calls: list[dict[str, Any]] = []
            msg.pop("tool_calls", None)
            for kind, call, encoded in zip(kinds, m.tool_calls, out[j].get("tool_calls") or (), strict=True):
                if kind == "custom":
                    calls.append({"id": call.id, "type": "custom",
                                  "custom": {"name": call.name, "input": _raw_arguments(call.arguments)}})
                elif kind == "function_call":
                    msg["function_call"] = {"name": call.name, "arguments": _raw_arguments(call.arguments)}
                else:
                    calls.append(encoded)
            if calls:
                msg["tool_calls"] = calls
        if msg.get("role") == "function":
            msg.pop("tool_call_id", None)
        out[j] = msg


def encode_message(m: Message) -> dict[str, Any]:
    """One Beluga message as a Chat Completions message."""
    if isinstance(m, AIMessage):
        msg: dict[str, Any] = {"role": "assistant", "content": m.text or None}
        if m.tool_calls:
            msg["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
                for c in m.tool_calls
            ]
        return msg
    if isinstance(m, ToolMessage):
        return {"role": "tool", "tool_call_id": m.tool_call_id, "content": m.text}
    if isinstance(m, SystemMessage):
        return {"role": "system", "content": _text(m.parts)}
    assert isinstance(m, HumanMessage)
    return {"role": "user", "content": _content(m.parts)}


def encode_tool(t: ToolSpec) -> dict[str, Any]:
    fn: dict[str, Any] = {"name": t.name, "parameters": dict(t.parameters)}
    if t.description:
        fn["description"] = t.description
    return {"type": "function", "function": fn}


def _usage(data: Any, where: str = "usage") -> Usage:
    data = obj(data, where)
    details = opt_obj(data, "prompt_tokens_details", f"{where}.prompt_tokens_details")
    out_details = opt_obj(data, "completion_tokens_details", f"{where}.completion_tokens_details")
    return Usage(
        count(data, "prompt_tokens", f"{where}.prompt_tokens"),
        count(data, "completion_tokens", f"{where}.completion_tokens"),
        count(details, "cached_tokens", f"{where}.prompt_tokens_details.cached_tokens"),
        reasoning_tokens=count(out_details, "reasoning_tokens", f"{where}.completion_tokens_details.reasoning_tokens"),
    )


def _tool_calls(message: Mapping[str, Any], where: str) -> list[ToolCall]:
    calls = []
    for i, c in enumerate(opt_list(message, "tool_calls", f"{where}.tool_calls")):
        at = f"{where}.tool_calls[{i}]"
        c = obj(c, at)
        fn = opt_obj(c, "function", f"{at}.function")
        args = fn.get("arguments")
        if isinstance(args, Mapping):  # some compatible servers send the object itself
            arguments = dict(args)
        elif args is None or isinstance(args, str):
            arguments = _arguments(args or "")
        else:
            raise BadShape(f"{at}.function.arguments", "is not a string")
        calls.append(ToolCall(opt_str(c, "id", f"{at}.id") or "", opt_str(fn, "name", f"{at}.function.name") or "",
                              arguments))
    return calls


def parse_completion(
    body: bytes, more: list[dict[str, Any]] | None = None
) -> tuple[AIMessage, str | None, Usage, str | None]:
    """``(message, model, usage, finish_reason)`` of a Chat Completions body; ``BadShape`` names what is wrong.

    The first choice is the message; the others (an answer to ``n`` above 1) are appended to ``more``
    as ``{"index", "content", "tool_calls", "finish_reason"}`` (tool calls in the wire's shape)."""
    data = obj(load_json(body), "the body")
    choices = opt_list(data, "choices", "choices")
    if not choices:
        raise BadShape("choices", "is missing or empty")
    choice = obj(choices[0], "choices[0]")
    message = obj(choice.get("message"), "choices[0].message")
    content = message.get("content")
    if isinstance(content, list):  # content parts, as some compatible servers answer
        content = "".join(str(obj(p, "choices[0].message.content[]").get("text") or "") for p in content)
    elif content is not None and not isinstance(content, str):
        raise BadShape("choices[0].message.content", "is not a string")
    calls = _tool_calls(message, "choices[0].message")
    if more is not None:
        for i, other in enumerate(choices[1:], start=1):
            more.append(_other_choice(other, f"choices[{i}]", i))
    usage = _usage(data["usage"]) if data.get("usage") is not None else Usage()
    return (
        AIMessage(content or "", tool_calls=calls),  # mypy misreads attrs converter=tuple
        opt_str(data, "model", "model"),
        usage,
        opt_str(choice, "finish_reason", "choices[0].finish_reason"),
    )


def _other_choice(choice: Any, at: str, i: int) -> dict[str, Any]:
    choice = obj(choice, at)
    message = obj(choice.get("message"), f"{at}.message")
    content = message.get("content")
    if isinstance(content, list):
        content = "".join(str(obj(p, f"{at}.message.content[]").get("text") or "") for p in content)
    elif content is not None and not isinstance(content, str):
        raise BadShape(f"{at}.message.content", "is not a string")
    index_ = choice.get("index")
    calls = [
        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": _raw_arguments(c.arguments)}}
        for c in _tool_calls(message, f"{at}.message")
    ]
    return {
        "index": index_ if isinstance(index_, int) and not isinstance(index_, bool) else i,
        "content": content or "",
        "tool_calls": calls,
        "finish_reason": opt_str(choice, "finish_reason", f"{at}.finish_reason"),
    }


def _raw_arguments(args: Mapping[str, Any]) -> str:
    raw = args.get("_raw")
    return raw if set(args) == {"_raw"} and isinstance(raw, str) else json.dumps(dict(args))


def parse_chunk(payload: Mapping[str, Any]) -> tuple[str, tuple[ToolCallDelta, ...], str | None]:
    """``(text, tool call deltas, finish_reason)`` of choice 0 in one stream chunk."""
    text = ""
    deltas: tuple[ToolCallDelta, ...] = ()
    finish = None
    for i, choice in enumerate(opt_list(payload, "choices", "choices")):
        at = f"choices[{i}]"
        choice = obj(choice, at)
        if index(choice, "index", f"{at}.index") != 0:
            continue
        finish = opt_str(choice, "finish_reason", f"{at}.finish_reason") or finish
        delta = opt_obj(choice, "delta", f"{at}.delta")
        text += opt_str(delta, "content", f"{at}.delta.content") or ""
        found = []
        for j, tc in enumerate(opt_list(delta, "tool_calls", f"{at}.delta.tool_calls")):
            tat = f"{at}.delta.tool_calls[{j}]"
            tc = obj(tc, tat)
            fn = opt_obj(tc, "function", f"{tat}.function")
            found.append(ToolCallDelta(
                index(tc, "index", f"{tat}.index"),
                opt_str(tc, "id", f"{tat}.id"),
                opt_str(fn, "name", f"{tat}.function.name"),
                opt_str(fn, "arguments", f"{tat}.function.arguments") or "",
            ))
        deltas += tuple(found)
    return text, deltas, finish


def parse_embeddings(body: bytes, expected: int) -> tuple[tuple[tuple[float, ...], ...], str | None, Usage]:
    """An embeddings answer: one vector per input, put in input order by each item's ``index``."""
    data = obj(load_json(body), "the body")
    items = opt_list(data, "data", "data")
    vectors: list[tuple[float, ...] | None] = [None] * expected
    for i, raw in enumerate(items):
        item = obj(raw, f"data[{i}]")
        at = index(item, "index", f"data[{i}].index")
        vector = item.get("embedding")
        if at >= expected or not isinstance(vector, list) or not all(
            isinstance(x, int | float) and not isinstance(x, bool) for x in vector
        ):
            raise BadShape(f"data[{i}]", "is not an embedding of one of the inputs")
        vectors[at] = tuple(float(x) for x in vector)
    if any(v is None for v in vectors):
        raise BadShape("data", f"does not hold {expected} embeddings")
    usage = opt_obj(data, "usage", "usage")
    tokens = count(usage, "prompt_tokens", "usage.prompt_tokens")
    return tuple(v for v in vectors if v is not None), opt_str(data, "model", "model"), Usage(tokens, 0)


def _arguments(raw: str) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {"_raw": raw}
    return value if isinstance(value, dict) else {"_raw": raw}


class OpenAIProvider(BaseProvider):
    """Chat Completions (``POST {base_url}/v1/chat/completions``) with streaming, tools and images.

    Options (``[providers.openai] options = {...}``, checked against ``OpenAIOptions``): ``headers``
    (extra request headers, e.g. ``OpenAI-Organization``), ``max_tokens_field`` (``"max_tokens"`` or
    ``"max_completion_tokens"``), ``stream_usage`` (send ``stream_options.include_usage``, default
    true), and the pool's ``fast_backend``, ``trust_env``, ``pool_timeout``.
    """

    name = "openai"
    options_schema = OpenAIOptions

    def __init__(self, config: ProviderConfig | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        opts = dict(cfg.options)
        self.url = endpoint(cfg.base_url, "chat/completions")
        self.embeddings_url = endpoint(cfg.base_url, "embeddings")
        headers = {"content-type": "application/json", "accept": "application/json"}
        if cfg.api_key:
            headers["authorization"] = f"Bearer {cfg.api_key}"
        headers.update({str(k): str(v) for k, v in dict(opts.get("headers") or {}).items()})
        self._pool = ClientPool(cfg, headers)
        self._scrub = Scrubber(cfg.api_key)
        self._max_tokens_field = str(opts.get("max_tokens_field", "max_tokens"))
        self._stream_usage = bool(opts.get("stream_usage", True))

    # -- request -------------------------------------------------------------------------------
    def build_body(self, request: LLMRequest, *, stream: bool) -> dict[str, Any]:
        """The JSON body for ``request`` (``params`` are passed through and win)."""
        model = request.model or self.config.model
        if not model:
            raise ProviderError(
                ErrorCode.INVALID_INPUT,
                "openai: no model given; set providers.openai.model or pass model=...",
                provider=self.name,
            )
        params = request.params
        messages = [encode_message(m) for m in request.messages]
        wire: Mapping[str, Any] = {}
        if WIRE in params:
            params = dict(params)
            wire = params.pop(WIRE) or {}
            apply_wire_messages(messages, request.messages, wire.get("messages"))
        body: dict[str, Any] = {"model": model, "messages": messages}
        if wire.get("tools"):
            body["tools"] = list(wire["tools"])
        elif request.tools:
            body["tools"] = [encode_tool(t) for t in request.tools]
        if request.max_tokens is not None:
            body[self._max_tokens_field] = request.max_tokens
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if stream:
            body["stream"] = True
            if self._stream_usage:
                body["stream_options"] = {"include_usage": True}
        if params:
            body.update(params)
        if wire.get("body"):
            body.update(wire["body"])
        return body

    # -- calls ---------------------------------------------------------------------------------
    async def complete(self, request: LLMRequest) -> LLMResponse:
        content = dumps(self.build_body(request, stream=False))
        resp = await self._pool.post(self.name, self.url, content, request.deadline, self._scrub)
        more: list[dict[str, Any]] = []
        try:
            message, model, usage, finish = parse_completion(resp.content, more)
        except SHAPE_ERRORS as exc:
            raise shape_error(self.name, self.url, exc) from None
        return LLMResponse(
            message,
            model=model or request.model or self.config.model or "",
            provider=self.name,
            usage=usage,
            finish_reason=finish,
            # The other choices of an answer to n > 1, for the gateway to render.
            metadata={"choices": more} if more else {},
        )

    async def stream_chunks(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        content = dumps(self.build_body(request, stream=True))
        name = self.name
        finish: str | None = None
        usage: Usage | None = None
        model: str | None = None
        events = self._pool.stream_json(name, self.url, content, request.deadline, self._scrub, end="[DONE]")
        try:
            async for event, payload in events:
                if event == "error" or "error" in payload:
                    raise stream_error(name, payload, self._scrub)
                try:
                    if payload.get("usage") is not None:
                        usage = _usage(payload["usage"])
                    model = model or opt_str(payload, "model", "model")
                    text, deltas, finished = parse_chunk(payload)
                except SHAPE_ERRORS as exc:
                    raise shape_error(name, self.url, exc) from None
                finish = finished or finish
                if text or deltas:
                    yield StreamChunk(text=text, tool_calls=deltas, model=model)
        finally:
            await events.aclose()  # the connection is closed or pooled now, not when collected
        yield StreamChunk(usage=usage, finish_reason=finish, model=model)

    async def embed(self, request: LLMRequest) -> LLMResponse:
        """Embeddings (``POST {base_url}/v1/embeddings``): one vector per message's text, as floats
        (``params`` such as ``dimensions`` and ``user`` are passed through)."""
        model = request.model or self.config.model
        if not model:
            raise ProviderError(ErrorCode.INVALID_INPUT, "openai: no embeddings model given; pass model=...",
                                provider=self.name)
        texts = [m.text for m in request.messages]
        body = {"model": model, "input": texts, **request.params, "encoding_format": "float"}
        resp = await self._pool.post(self.name, self.embeddings_url, dumps(body), request.deadline, self._scrub)
        try:
            vectors, answered, usage = parse_embeddings(resp.content, len(texts))
        except SHAPE_ERRORS as exc:
            raise shape_error(self.name, self.embeddings_url, exc) from None
        return LLMResponse(AIMessage(""), model=answered or model, provider=self.name, usage=usage, embeddings=vectors)

    async def aclose(self) -> None:
        await self._pool.aclose()
