"""What the core ships as plugins: the ``echo`` provider, registered through ``register_providers``
like any provider. Every plugin manager has these; they take no place in the chain's order."""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections.abc import AsyncIterator, Callable

import attrs

from beluga_core.config import Duration, ProviderConfig, setting
from beluga_core.errors import BudgetExhausted, ErrorCode, ProviderError
from beluga_core.hookspecs import hookimpl
from beluga_core.providers import BaseProvider, ProviderFactory, estimate_request_tokens, estimate_tokens
from beluga_core.types import AIMessage, HumanMessage, LLMRequest, LLMResponse, StreamChunk, Usage


@attrs.frozen
class EchoOptions:
    """``[providers.echo] options``: what the offline provider answers and how it fails."""

    prefix: str = setting("", help="text put before the echo")
    latency: Duration = setting(Duration(0), min=0, help="time each call takes, e.g. '50ms'")
    fail_times: int = setting(0, min=0, help="fail the first N calls")
    fail_code: str = setting(
        ErrorCode.PROVIDER_UNAVAILABLE.value, choices=tuple(c.value for c in ErrorCode), help="the failures' code"
    )
    retry_after: float | None = setting(None, min=0, help="seconds the failures ask the caller to wait")


ECHO_DIMENSIONS = 16  #: the echo provider's embedding size when the request sets none


def _vector(text: str, dims: int) -> tuple[float, ...]:
    raw: list[float] = []
    block = 0
    while len(raw) < dims:
        digest = hashlib.sha256(f"{block}:{text}".encode("utf-8", "surrogatepass")).digest()
        raw.extend((b - 127.5) / 127.5 for b in digest)
        block += 1
    raw = raw[:dims]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return tuple(round(x / norm, 6) for x in raw)


class EchoProvider(BaseProvider):
    """The built-in offline provider: answers with the last user message, deterministically.

    Options (``[providers.echo] options = {...}`` or ``ProviderConfig(options=...)``):
    ``prefix`` (text put before the echo), ``latency`` (seconds per call), ``fail_times`` (fail
    the first N calls), ``fail_code`` (an ``ErrorCode``, default ``provider_unavailable``) and
    ``retry_after`` (seconds, carried by the failure). ``fail_next(n, code)`` does the same at run time.
    """

    name = "echo"
    options_schema = EchoOptions

    def __init__(self, config: ProviderConfig | None = None) -> None:
        super().__init__(config)
        opts = dict(self.config.options)
        self.prefix = str(opts.get("prefix", ""))
        self.latency = float(opts.get("latency", 0.0))
        self._fail_left = int(opts.get("fail_times", 0))
        self._fail_code = ErrorCode(opts.get("fail_code", "provider_unavailable"))
        self._retry_after = opts.get("retry_after")
        self.calls = 0

    def fail_next(
        self, times: int = 1, code: ErrorCode | str = ErrorCode.PROVIDER_UNAVAILABLE, retry_after: float | None = None
    ) -> None:
        """Make the next ``times`` calls fail with ``code`` (for tests and demos of retry and breaker)."""
        self._fail_left = times
        self._fail_code = ErrorCode(code)
        self._retry_after = retry_after

    async def _begin(self, request: LLMRequest) -> None:
        self.calls += 1
        if self.latency:
            remaining = request.remaining()
            if remaining is not None and remaining < self.latency:
                await asyncio.sleep(max(0.0, remaining))
                raise BudgetExhausted(ErrorCode.BUDGET_EXHAUSTED, "echo: the deadline passed during the call")
            await asyncio.sleep(self.latency)
        if self._fail_left > 0:
            self._fail_left -= 1
            raise ProviderError(
                self._fail_code,
                f"echo: simulated {self._fail_code.value} failure",
                provider="echo",
                retry_after=float(self._retry_after) if self._retry_after is not None else None,
            )

    def _reply(self, request: LLMRequest) -> str:
        for m in reversed(request.messages):
            if isinstance(m, HumanMessage):
                return self.prefix + m.text
        return self.prefix

    async def complete(self, request: LLMRequest) -> LLMResponse:
        await self._begin(request)
        text = self._reply(request)
        if request.max_tokens is not None and estimate_tokens(text) > request.max_tokens:
            text = text[: request.max_tokens * 4]
            finish = "length"
        else:
            finish = "stop"
        return LLMResponse(
            AIMessage(text),
            model=request.model or self.config.model or "echo",
            provider="echo",
            usage=Usage(estimate_request_tokens(request.messages), estimate_tokens(text)),
            finish_reason=finish,
        )

    async def embed(self, request: LLMRequest) -> LLMResponse:
        """Deterministic unit vectors from the text's SHA-256 (``dimensions`` param, default 16):
        the same text always gives the same vector, different texts different ones."""
        await self._begin(request)
        dims = request.params.get("dimensions") or ECHO_DIMENSIONS
        if not isinstance(dims, int) or not 1 <= dims <= 8192:
            raise ProviderError(ErrorCode.INVALID_INPUT, "echo: dimensions must be an integer from 1 to 8192",
                                provider="echo")
        vectors = tuple(_vector(m.text, dims) for m in request.messages)
        return LLMResponse(
            AIMessage(""),
            model=request.model or self.config.model or "echo",
            provider="echo",
            usage=Usage(estimate_request_tokens(request.messages), 0),
            embeddings=vectors,
        )

    async def stream_chunks(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        await self._begin(request)
        text = self._reply(request)
        model = request.model or self.config.model or "echo"
        words = text.split(" ")
        for i, word in enumerate(words):
            yield StreamChunk(text=word if i == 0 else " " + word, model=model)
            await asyncio.sleep(0)
        yield StreamChunk(
            usage=Usage(estimate_request_tokens(request.messages), estimate_tokens(text)), finish_reason="stop"
        )


class EchoPlugin:
    """Registers the ``echo`` provider."""

    name = "echo"

    @hookimpl
    def register_providers(self, register: Callable[[str, ProviderFactory], None]) -> None:
        register("echo", EchoProvider)


#: The plugins every plugin manager registers, by name.
BUILTIN: dict[str, Callable[[], object]] = {"echo": EchoPlugin}

__all__ = ["BUILTIN", "EchoOptions", "EchoPlugin", "EchoProvider"]
