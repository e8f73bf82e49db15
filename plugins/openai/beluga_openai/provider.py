"""``OpenAIProvider``: the Chat Completions API over beluga_http, for OpenAI and any compatible server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from beluga_core import (
    AIMessage,
    BaseProvider,
    ErrorCode,
    LLMRequest,
    LLMResponse,
    ProviderConfig,
    ProviderError,
    StreamChunk,
    Usage,
    get_logger,
)
from beluga_http import (
    SHAPE_ERRORS,
    ClientPool,
    Scrubber,
    dumps,
    opt_str,
    shape_error,
    stream_error,
    v1_endpoint,
)
from beluga_openai.options import OpenAIOptions
from beluga_wire.openai_chat import (
    WIRE,
    apply_wire_messages,
    encode_message,
    encode_tool,
    parse_chunk,
    parse_completion,
    parse_embeddings,
    usage_from,
)

log = get_logger("beluga.openai")

DEFAULT_BASE_URL = "https://api.openai.com"



def endpoint(base_url: str | None, path: str) -> str:
    return v1_endpoint(base_url or DEFAULT_BASE_URL, path)


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
                        usage = usage_from(payload["usage"])
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
