"""What the transports answer: an SDK's HTTP request run through a Kit's chain, as the API would answer it.

Requests are read, and answers, streams and errors written, by ``beluga_wire`` (the modules the
gateway speaks too); the chain runs through ``kit.agenerate``/``kit.astream``/``kit.aembed``.
"""

from __future__ import annotations

import functools
import math
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

import httpx2

from beluga_core import BelugaError, Kit, LLMRequest, StreamChunk, Usage, get_logger
from beluga_wire import anthropic as messages_wire
from beluga_wire import openai_responses as responses_wire
from beluga_wire.openai_chat import (
    APIError,
    ChunkWriter,
    completion,
    dumps,
    error_event,
    from_beluga,
    guarded_choices,
    load_json,
    new_id,
    parse_chat,
    root_cause,
    unreadable_refused,
    whole_chunks,
)
from beluga_wire.openai_chat import provider_params as chat_params
from beluga_wire.openai_embeddings import encode as encode_embeddings
from beluga_wire.openai_embeddings import parse_embeddings

log = get_logger("beluga.sdk")

#: Statuses the official SDKs retry on their own (unless told otherwise by ``x-should-retry``).
_SDK_RETRIED = frozenset({408, 409, 429})
_JSON = ("content-type", "application/json")
_SSE = (("content-type", "text/event-stream; charset=utf-8"), ("cache-control", "no-cache"))
UNREADABLE_CHOICES = ("pass", "refuse")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_INTERNAL = APIError(500, "Beluga's chain failed unexpectedly; see the application's log.", type="server_error",
                     code="internal_error")


class Answer:
    """An HTTP answer: status, headers, and a whole ``body`` or a ``stream`` of SSE bytes produced
    as the chain yields (closing it closes the chain's stream)."""

    __slots__ = ("body", "headers", "status", "stream")

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes = b"",
                 stream: AsyncIterator[bytes] | None = None) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.stream = stream


class _Writer(Protocol):
    """An API's SSE dialect: opening events, each chunk's, closing ones, and a failure's event."""

    def start(self) -> bytes: ...

    def chunk(self, c: StreamChunk) -> bytes: ...

    def finish(self, finish: str | None, usage: Usage | None) -> bytes: ...

    def failure(self, err: APIError) -> bytes: ...


class _ChatWriter(ChunkWriter):
    __slots__ = ()

    def start(self) -> bytes:
        return self.opening()

    def finish(self, finish: str | None, usage: Usage | None) -> bytes:
        return self.closing(finish, usage)

    def failure(self, err: APIError) -> bytes:
        return error_event(err)


class _MessagesWriter(messages_wire.StreamEncoder):
    __slots__ = ()

    def failure(self, err: APIError) -> bytes:
        return messages_wire.error_event(messages_wire.error_type(err.status)[1], err.message)


class _ResponsesWriter(responses_wire.StreamEncoder):
    __slots__ = ()

    def failure(self, err: APIError) -> bytes:
        return self.error(err.message, err.type, err.code)


class Dispatch:
    """Answers the OpenAI and Anthropic SDKs' requests through ``kit``'s chain. See
    :class:`beluga_sdk.Transport` for the options."""

    def __init__(
        self,
        kit: Kit,
        *,
        provider: str | None = None,
        metadata: Mapping[str, Any] | Callable[[httpx2.Request], Mapping[str, Any]] | None = None,
        deadline: float | None = None,
        passthrough: Sequence[str] = ("*",),
        unreadable_content: str = "pass",
        sdk_retries: bool | None = None,
    ) -> None:
        if not isinstance(kit, Kit):
            raise TypeError(f"beluga_sdk: expected a beluga_core.Kit, got {type(kit).__name__}")
        if provider is not None:
            try:
                kit.provider(provider)
            except KeyError:
                raise ValueError(f"beluga_sdk: provider={provider!r} is not a provider of this Kit; configure "
                                 f"[providers.{provider}] or leave provider unset for the default") from None
        if unreadable_content not in UNREADABLE_CHOICES:
            raise ValueError(f"beluga_sdk: unreadable_content must be 'pass' or 'refuse', got {unreadable_content!r}")
        if deadline is not None and not deadline > 0:
            raise ValueError(f"beluga_sdk: deadline must be a positive number of seconds, got {deadline!r}")
        if isinstance(passthrough, str):
            raise TypeError("beluga_sdk: passthrough is a list of field names (['*'] for every field)")
        self.kit = kit
        self.provider = provider
        self.metadata = metadata
        self.deadline = deadline
        self.passthrough = frozenset(passthrough)
        self.unreadable_content = unreadable_content
        self.sdk_retries = sdk_retries

    # -- the request ---------------------------------------------------------------------------
    async def answer(self, request: httpx2.Request, body: bytes) -> Answer:
        """The answer to one SDK request (never raises for anything the chain or the request did wrong)."""
        path = request.url.path
        anthropic = path.endswith(("/messages", "/messages/count_tokens")) or "anthropic-version" in request.headers
        rid = request.headers.get("x-request-id") or ""
        if not _REQUEST_ID.match(rid):  # the application's own id when it sent a sane one
            rid = new_id()
        try:
            handler = self._handler(path)
            if handler is None:
                raise APIError(404, f"Beluga's SDK transport does not serve {path}; it serves /chat/completions, "
                               "/responses, /embeddings, /v1/messages and /v1/messages/count_tokens.",
                               code="not_found")
            if request.method != "POST":
                raise APIError(405, f"Beluga's SDK transport does not serve {request.method} {path}.",
                               code="method_not_allowed")
            return await handler(request, body, rid)
        except APIError as refused:
            return self._error(refused, rid, anthropic)
        except BelugaError as exc:
            return self._error(self._failed(exc), rid, anthropic)
        except Exception as exc:  # a plugin's bug reaches the app as an API error, not a crash
            log.error("the chain raised %s answering %s", type(exc).__name__, path)
            log.debug("the chain raised", exc_info=True)
            return self._error(_INTERNAL, rid, anthropic)

    def _handler(self, path: str) -> Callable[[httpx2.Request, bytes, str], Awaitable[Answer]] | None:
        if path.endswith("/chat/completions"):
            return self._chat
        if path.endswith("/responses"):
            return self._responses
        if path.endswith("/embeddings"):
            return self._embeddings
        if path.endswith("/messages"):
            return self._messages
        if path.endswith("/messages/count_tokens"):
            return self._count_tokens
        return None

    def _kwargs(self, request: httpx2.Request, rid: str, model: str | None, stream: bool = False) -> dict[str, Any]:
        meta = self.metadata(request) if callable(self.metadata) else self.metadata
        return {
            "model": model or None,
            "provider": self.provider,
            "metadata": {"request_id": rid, **(meta or {})},
            "timeout": self._deadline(request, stream),
        }

    def _deadline(self, request: httpx2.Request, stream: bool) -> float | None:
        """The call's deadline: the transport's ``deadline`` (else ``[beluga] deadline``), and for a
        whole answer no later than the SDK's read timeout (the time it would wait for the reply). A
        stream is not held to it: the SDK's read timeout bounds the gap between two chunks, not the
        whole stream."""
        deadline = self.deadline if self.deadline is not None else self.kit.config.beluga.deadline
        if stream:
            return None if deadline is None else float(deadline)
        timeout = request.extensions.get("timeout")
        read = timeout.get("read") if isinstance(timeout, Mapping) else None
        if isinstance(read, int | float) and read > 0:
            deadline = read if deadline is None else min(float(deadline), read)
        return None if deadline is None else float(deadline)

    def _kind(self) -> str:
        """The provider type (openai, anthropic, echo, ...) requests go to: decides which fields pass."""
        config = self.kit.config
        name = self.provider or config.beluga.provider
        pc = config.providers.get(name)
        return (pc.type if pc is not None and pc.type else name) or name

    # -- OpenAI: chat completions, responses, embeddings ---------------------------------------
    async def _chat(self, request: httpx2.Request, body: bytes, rid: str) -> Answer:
        req = parse_chat(body)
        if req.unreadable and self.unreadable_content == "refuse":
            raise unreadable_refused(req)
        kwargs = self._kwargs(request, rid, req.model, req.stream)
        kwargs.update(tools=req.tools, max_tokens=req.max_tokens, temperature=req.temperature)
        provider = self.provider or self.kit.config.beluga.provider
        kwargs.update(chat_params(req, self._kind(), self.passthrough, provider))
        if req.stream and req.n == 1:
            writer = _ChatWriter("chatcmpl-" + new_id(), int(time.time()), req.model, req.include_usage)
            return await self._stream(req.messages, kwargs, writer, rid, False)
        resp = await self.kit.agenerate(req.messages, **kwargs)
        output_guard = functools.partial(self.kit.aguard, stage="output", metadata=kwargs["metadata"])
        more = await guarded_choices(resp, output_guard) if req.n > 1 else ()
        cid, created = "chatcmpl-" + new_id(), int(time.time())
        if req.stream:  # n above 1, streamed: the whole choices, one after the other, as chunks
            return Answer(200, [*_SSE, ("x-request-id", rid)],
                          whole_chunks(cid, created, req.model, resp, more, req.include_usage))
        return self._json(completion(cid, created, req.model, resp, more), rid, False)

    async def _responses(self, request: httpx2.Request, body: bytes, rid: str) -> Answer:
        try:
            req = responses_wire.parse_request(_object(body))
        except messages_wire.WireError as exc:
            raise APIError(400, f"{exc.where}: {exc.what}", param=exc.where if exc.where != "body" else None) from None
        model = req.model or ""
        kwargs = self._kwargs(request, rid, model, req.stream)
        kwargs.update(tools=req.tools, max_tokens=req.max_tokens, temperature=req.temperature)
        kwargs.update(responses_wire.provider_params(req.params, self._kind(), self.passthrough, bool(req.tools)))
        if req.stream:
            writer = _ResponsesWriter("resp_" + new_id(), model, int(time.time()), req)
            return await self._stream(req.messages, kwargs, writer, rid, False)
        resp = await self.kit.agenerate(req.messages, **kwargs)
        return self._json(responses_wire.encode_response(resp, id="resp_" + new_id(), model=model,
                                                          created_at=int(time.time()), request=req), rid, False)

    async def _embeddings(self, request: httpx2.Request, body: bytes, rid: str) -> Answer:
        req = parse_embeddings(body)
        kwargs = self._kwargs(request, rid, req.model)
        if req.dimensions is not None:
            kwargs["dimensions"] = req.dimensions
        kind = self._kind()
        if req.user is not None and kind == "openai":
            kwargs["user"] = req.user
        try:
            resp = await self.kit.aembed(req.inputs, **kwargs)
        except BelugaError as exc:
            if "does not offer embeddings" in getattr(root_cause(exc), "message", ""):
                raise APIError(400, "The provider behind this model does not offer embeddings.", param="model",
                               code="embeddings_unsupported") from None
            raise
        if len(resp.embeddings) != len(req.inputs) or not all(math.isfinite(x) for v in resp.embeddings for x in v):
            raise APIError(502, "The upstream provider sent embeddings Beluga could not use.", type="upstream_error",
                           code="upstream_unavailable")
        return self._json(encode_embeddings(resp, req.model, req.encoding), rid, False)

    # -- Anthropic: messages, count_tokens -----------------------------------------------------
    def _parse_messages(self, body: bytes, count_only: bool = False) -> LLMRequest:
        data = _object(body)
        if count_only and "max_tokens" not in data:  # count_tokens takes a request without max_tokens
            data["max_tokens"] = 1
        try:
            return messages_wire.parse_request(data)
        except messages_wire.WireError as exc:
            raise APIError(400, f"{exc.where}: {exc.what}") from None

    async def _messages(self, request: httpx2.Request, body: bytes, rid: str) -> Answer:
        req = self._parse_messages(body)
        model = req.model or ""
        kwargs = self._kwargs(request, rid, model, req.stream)
        kwargs.update(tools=req.tools, max_tokens=req.max_tokens, temperature=req.temperature)
        kwargs.update(messages_wire.provider_params(req.params, self._kind(), self.passthrough, bool(req.tools)))
        if req.stream:
            return await self._stream(req.messages, kwargs, _MessagesWriter("msg_" + new_id(), model), rid, True)
        resp = await self.kit.agenerate(req.messages, **kwargs)
        return self._json(messages_wire.encode_response(resp, id="msg_" + new_id(), model=model), rid, True)

    async def _count_tokens(self, request: httpx2.Request, body: bytes, rid: str) -> Answer:
        return self._json({"input_tokens": messages_wire.count_tokens(self._parse_messages(body, True))}, rid, True)

    # -- answers -------------------------------------------------------------------------------
    def _json(self, obj: Any, rid: str, anthropic: bool) -> Answer:
        headers = [_JSON, ("x-request-id", rid)]
        if anthropic:
            headers.append(("request-id", rid))
        return Answer(200, headers, dumps(obj))

    async def _stream(self, messages: Any, kwargs: dict[str, Any], writer: _Writer, rid: str,
                      anthropic: bool) -> Answer:
        """The chain's stream as SSE. The first chunk is awaited here, so a refusal before the answer
        starts (a guard, a limit, an open breaker) is an error status; a failure after is the API's
        error event, which the SDKs raise."""
        chunks: Any = self.kit.astream(messages, **kwargs)  # an async generator: closed early with aclose()
        try:
            first: StreamChunk | None = await chunks.__anext__()
        except StopAsyncIteration:
            first = None
        except BaseException:
            await chunks.aclose()
            raise
        headers = [*_SSE, ("x-request-id", rid)]
        if anthropic:
            headers.append(("request-id", rid))
        return Answer(200, headers, stream=self._events(chunks, first, writer))

    async def _events(self, chunks: Any, first: StreamChunk | None,
                      writer: _Writer) -> AsyncIterator[bytes]:
        out = b""
        try:
            out = writer.start()
            finish: str | None = None
            usage: Usage | None = None
            chunk = first
            while chunk is not None:
                out += writer.chunk(chunk)
                if chunk.finish_reason:
                    finish = chunk.finish_reason
                if chunk.usage is not None:
                    usage = chunk.usage
                if out:
                    yield out
                    out = b""
                try:
                    chunk = await chunks.__anext__()
                except StopAsyncIteration:
                    chunk = None
            yield out + writer.finish(finish, usage)
        except BelugaError as exc:
            yield out + writer.failure(self._failed(exc))
        except Exception as exc:  # reported to the app as the API's error event
            log.error("the chain's stream raised %s", type(exc).__name__)
            log.debug("the chain's stream raised", exc_info=True)
            yield out + writer.failure(_INTERNAL)
        finally:
            await chunks.aclose()

    def _failed(self, exc: BelugaError) -> APIError:
        err = from_beluga(exc)
        if err.status >= 500 and err.status != 503:
            # The app sees only what failed; the details (an upstream URL, its message) stay in the log.
            log.warning("call failed: [%s] %s", exc.code.value, exc.message)
        return err

    def _should_retry(self, status: int) -> str | None:
        """The ``x-should-retry`` header both SDKs obey: never for a refusal the chain made (a guard's
        block, a bad request); for a 429 or 5xx, "false" when the chain already had its own retry
        policy run (the retry plugin is in it) or ``sdk_retries=False``; else the SDK's own rules."""
        if status < 500 and status not in _SDK_RETRIED:
            return "false"
        if self.sdk_retries is None:
            return "false" if "retry" in self.kit.order else None
        return None if self.sdk_retries else "false"

    def _error(self, err: APIError, rid: str, anthropic: bool) -> Answer:
        headers = [_JSON, ("x-request-id", rid), *err.headers.items()]
        retry = self._should_retry(err.status)
        if retry is not None:
            headers.append(("x-should-retry", retry))
        if anthropic:
            status, kind = messages_wire.error_type(err.status)
            headers.append(("request-id", rid))
            return Answer(status, headers, dumps({**messages_wire.error_json(kind, err.message), "request_id": rid}))
        return Answer(err.status, headers, dumps(err.body()))


def _object(body: bytes) -> dict[str, Any]:
    """A request body as a JSON object; anything else is a 400."""
    try:
        data = load_json(body.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise APIError(400, "The request body is not valid UTF-8.") from None
    except ValueError:
        raise APIError(400, "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise APIError(400, "The request body must be a JSON object.")
    return data
