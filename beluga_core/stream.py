"""``LLMStream``: a streamed answer whose end, usage and error middleware can observe."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from beluga_core.masking import get_logger
from beluga_core.types import AIMessage, LLMResponse, StreamChunk, ToolCall, Usage

log = get_logger("beluga.stream")

FinishCallback = Callable[["LLMResponse | None", "BaseException | None"], Any]


class LLMStream:
    """An async iterator of ``StreamChunk`` that assembles the final ``LLMResponse``.

    ``on_finish(cb)`` registers ``cb(response, error)``, called once when the stream ends: with the
    assembled response on success, or with the error (``GeneratorExit`` on early close). Middleware
    uses it to settle token reservations, end spans and count breaker outcomes.
    """

    def __init__(
        self,
        chunks: AsyncIterator[StreamChunk],
        *,
        provider: str = "",
        model: str = "",
        first: StreamChunk | None = None,
    ) -> None:
        self._chunks = chunks
        self._first = first
        self.provider = provider
        self.model = model
        self._text: list[str] = []
        self._tools: dict[int, dict[str, Any]] = {}
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self._callbacks: list[FinishCallback] = []
        self._done = False
        self.response: LLMResponse | None = None
        self.metadata: dict[str, Any] = {}

    @classmethod
    async def start(cls, chunks: AsyncIterator[StreamChunk], *, provider: str = "", model: str = "") -> LLMStream:
        """Open a stream and wait for its first chunk, so failures before any output raise here."""
        try:
            first = await chunks.__anext__()
        except StopAsyncIteration:
            first = None
        stream = cls(chunks, provider=provider, model=model, first=first)
        if first is None:
            stream._first = StreamChunk()
        return stream

    def on_finish(self, callback: FinishCallback) -> None:
        if self._done:
            self._call(callback, self.response, None)
        else:
            self._callbacks.append(callback)

    def __aiter__(self) -> LLMStream:
        return self

    async def __anext__(self) -> StreamChunk:
        if self._first is not None:
            chunk, self._first = self._first, None
        else:
            try:
                chunk = await self._chunks.__anext__()
            except StopAsyncIteration:
                self._finish(None)
                raise
            except BaseException as exc:
                self._finish(exc)
                raise
        self._account(chunk)
        return chunk

    def _account(self, chunk: StreamChunk) -> None:
        if chunk.text:
            self._text.append(chunk.text)
        for d in chunk.tool_calls:
            slot = self._tools.setdefault(d.index, {"id": "", "name": "", "arguments": []})
            if d.id:
                slot["id"] = d.id
            if d.name:
                slot["name"] = d.name
            if d.arguments:
                slot["arguments"].append(d.arguments)
        if chunk.usage is not None:
            self.usage = chunk.usage
        if chunk.finish_reason:
            self.finish_reason = chunk.finish_reason
        if chunk.model:
            self.model = chunk.model

    def _assemble(self) -> LLMResponse:
        calls = []
        for _, slot in sorted(self._tools.items()):
            raw = "".join(slot["arguments"])
            try:
                args = json.loads(raw) if raw else {}
            except ValueError:
                args = {"_raw": raw}
            calls.append(ToolCall(slot["id"], slot["name"], args))
        return LLMResponse(
            AIMessage("".join(self._text), tool_calls=calls),
            model=self.model,
            provider=self.provider,
            usage=self.usage or Usage(),
            finish_reason=self.finish_reason,
            metadata=dict(self.metadata),
        )

    def _finish(self, error: BaseException | None) -> None:
        if self._done:
            return
        self._done = True
        self.response = self._assemble() if error is None else None
        for cb in self._callbacks:
            self._call(cb, self.response, error)
        self._callbacks.clear()

    @staticmethod
    def _call(cb: FinishCallback, response: LLMResponse | None, error: BaseException | None) -> None:
        try:
            cb(response, error)
        except Exception:
            log.exception("stream finish callback %r failed", cb)

    async def aclose(self) -> None:
        """Stop early: closes the provider's stream and reports ``GeneratorExit`` to observers."""
        if not self._done:
            self._finish(GeneratorExit("stream closed before its end"))
        aclose = getattr(self._chunks, "aclose", None)
        if aclose is not None:
            await aclose()

    async def collect(self) -> LLMResponse:
        """Read the whole stream and return the assembled response."""
        async for _ in self:
            pass
        assert self.response is not None
        return self.response

    def wrap(self, transform: Callable[[AsyncIterator[StreamChunk]], AsyncIterator[StreamChunk]]) -> LLMStream:
        """A new stream over ``transform(self)``, keeping this stream's observers informed."""
        outer = LLMStream(transform(self), provider=self.provider, model=self.model)
        return outer
