"""``AnthropicProvider``: the Messages API (over beluga_http) with streaming, tools, images, prompt caching."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from beluga_anthropic.options import DEFAULT_MAX_TOKENS, DEFAULT_VERSION, AnthropicOptions
from beluga_core import (
    BaseProvider,
    BelugaError,
    ErrorCode,
    LLMRequest,
    LLMResponse,
    ProviderConfig,
    ProviderError,
    StreamChunk,
    get_logger,
)
from beluga_http import (
    SHAPE_ERRORS,
    ClientPool,
    Scrubber,
    dumps,
    load_json,
    obj,
    shape_error,
    stream_error,
    v1_endpoint,
)
from beluga_wire.anthropic import (
    STOP_REASONS,
    StreamDecoder,
    decode_response,
    encode_messages,
    encode_request,
    encode_tool,
    misnamed_tool,
    usage_from,
)

log = get_logger("beluga.anthropic")

DEFAULT_BASE_URL = "https://api.anthropic.com"


def endpoint(base_url: str | None, path: str) -> str:
    return v1_endpoint(base_url or DEFAULT_BASE_URL, path)


def _check_tool_names(request: LLMRequest) -> None:
    """A request from another API (an OpenAI client through the gateway) may name tools in ways
    Anthropic's API refuses; say which field before anything is sent (the name is not quoted)."""
    bad = misnamed_tool(request.tools, request.messages)
    if bad is not None:
        i, k = bad
        where = f"tools[{i}].name" if k < 0 else f"messages[{i}].tool_calls[{k}].name"
        # Beluga's own refusal, not the upstream's (a ProviderError would read as an upstream failure).
        raise BelugaError(
            ErrorCode.INVALID_INPUT,
            f"anthropic: {where} is not a tool name Anthropic's API takes (1 to 128 letters, digits, "
            "underscores or dashes); rename the tool or route the model to another provider",
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
        _check_tool_names(request)
        return encode_request(request, model=model, max_tokens=self._max_tokens, stream=stream)

    async def complete(self, request: LLMRequest) -> LLMResponse:
        content = dumps(self.build_body(request, stream=False))
        resp = await self._pool.post(self.name, self.url, content, request.deadline, self._scrub)
        try:
            data = obj(load_json(resp.content), "the body")
            if data.get("type") == "error":
                raise stream_error(self.name, data, self._scrub)
            answer = decode_response(data)
        except SHAPE_ERRORS as exc:
            raise shape_error(self.name, self.url, exc) from None
        return answer.replace(model=answer.model or model_of(request, self.config), provider=self.name)

    async def stream_chunks(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        content = dumps(self.build_body(request, stream=True))
        name = self.name
        state = StreamDecoder()
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
            last = state.final()
        except SHAPE_ERRORS as exc:
            raise shape_error(name, self.url, exc) from None
        yield last

    async def aclose(self) -> None:
        await self._pool.aclose()


def model_of(request: LLMRequest, config: ProviderConfig) -> str:
    return request.model or config.model or ""


__all__ = ["DEFAULT_BASE_URL", "STOP_REASONS", "AnthropicProvider", "encode_messages", "encode_tool", "usage_from"]
