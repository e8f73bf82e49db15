"""The gateway's ASGI application: OpenAI's HTTP API in front of a ``beluga_core.Kit``.

``POST /v1/chat/completions`` is a plain ASGI handler (it reads the body under a size limit,
watches for the client going away and streams SSE itself); ``/v1/messages``, ``/v1/responses``
and ``/v1/embeddings`` (their own modules) share its steps (``admit``, ``run``, ``complete``,
``stream``, ``serve``); the small endpoints are Starlette routes. Every model call goes through
``kit.agenerate``/``kit.astream`` (``kit.aembed`` for embeddings), so the configured chain (guards,
limits, breaker, retry, fallback, tracing) applies to each request.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import hashlib
import hmac
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from beluga_core import (
    BelugaError,
    ConfigError,
    GuardBlocked,
    Kit,
    LLMResponse,
    RateLimited,
    ReloadResult,
    StreamChunk,
    Usage,
    call_notes,
    get_logger,
    parse_target,
)
from beluga_gateway.keys import OTHER_LABEL, Caller, GatewayState, StateCache
from beluga_gateway.keys import Route as ModelRoute
from beluga_gateway.metrics import Metrics, printable
from beluga_wire.openai_chat import (
    APIError,
    ChunkWriter,
    completion,
    dumps,
    error_event,
    from_beluga,
    guarded_choices,
    new_id,
    parse_chat,
    retry_headers,
    root_cause,
    unreadable_refused,
    whole_chunks,
)
from beluga_wire.openai_chat import provider_params as _provider_params

log = get_logger("beluga.gateway")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

CHAT_ROUTE = "/v1/chat/completions"
#: Span attribute naming the content part types that passed unread by the guards (``file``, ``input_audio``).
UNREADABLE_ATTRIBUTE = "beluga.request.unread_content_types"
RESPONSES_ROUTE = "/v1/responses"
#: Request bodies at least this large are decoded and checked off the event loop.
PARSE_OFF_LOOP_BYTES = 256 * 1024
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_JSON_HEADERS = [(b"content-type", b"application/json")]
_SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class StreamWriter(Protocol):
    """An endpoint's SSE dialect: the opening events, each chunk's events, the closing events, and
    the error event (with the status to record) for a failure once the answer has started."""

    def start(self) -> bytes: ...

    def chunk(self, c: StreamChunk) -> bytes: ...

    def finish(self, finish: str | None, usage: Usage | None) -> bytes: ...

    def failure(self, err: APIError) -> tuple[bytes, int]: ...


#: Sends a refusal in an endpoint's error shape; answers the status sent.
ErrorSender = Callable[[Send, APIError, tuple[bytes, bytes]], Awaitable[int]]


class _ChatWriter(ChunkWriter):
    """Chat completion chunks; a failure is a ``data: {"error": ...}`` event."""

    __slots__ = ()

    def start(self) -> bytes:
        return self.opening()

    def finish(self, finish: str | None, usage: Usage | None) -> bytes:
        return self.closing(finish, usage)

    def failure(self, err: APIError) -> tuple[bytes, int]:
        return error_event(err), err.status


class _ClientGone(Exception):
    """The client hung up before its request body arrived."""


class Refused(Exception):
    """An endpoint's request refused before its work began: ``err`` to answer (None: the client
    went away), with the request's id and whether it asked for a stream."""

    def __init__(self, err: APIError | None, rid: str, stream: bool = False) -> None:
        self.err = err
        self.rid = rid
        self.stream = stream

    async def answer(self, send: Send, error: ErrorSender) -> int:
        """Send the refusal with ``error`` (the endpoint's error shape); the status sent (499: none)."""
        if self.err is None:
            return 499
        return await error(send, self.err, (b"x-request-id", self.rid.encode()))


class _Endpoint:
    """A bound handler that Starlette must treat as a raw ASGI app (not a request/response function)."""

    __slots__ = ("handler",)

    def __init__(self, handler: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.handler = handler

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        return self.handler(scope, receive, send)


class _Disconnect:
    """Watches ``receive`` for ``http.disconnect`` and cancels the request's task when it comes."""

    __slots__ = ("disconnected", "finished", "task")

    def __init__(self, receive: Receive, task: asyncio.Task[Any]) -> None:
        self.disconnected = False
        self.finished = False
        self.task = asyncio.get_running_loop().create_task(self._watch(receive, task))

    async def _watch(self, receive: Receive, task: asyncio.Task[Any]) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                if not self.finished:
                    self.disconnected = True
                    task.cancel()
                return

    def stop(self) -> None:
        self.finished = True
        self.task.cancel()


class Gateway:
    """An OpenAI-compatible HTTP gateway over ``kit``. The ASGI app is ``gateway.app`` (or the
    gateway itself); ``owns_kit`` closes the Kit on shutdown; ``watch`` hot-reloads its config file.
    """

    def __init__(
        self, kit: Kit, *, watch: bool = True, owns_kit: bool = True, registry: Any = None, freeze_gc: bool = False
    ) -> None:
        self.kit = kit
        self.freeze_gc = freeze_gc
        self.watch = watch
        self.owns_kit = owns_kit
        self._states = StateCache()
        self.metrics = Metrics(self.breaker_states, registry)
        self.in_flight = 0
        self.draining = False
        self._idle: asyncio.Event | None = None
        self._redis: dict[str, Any] = {}
        if self.state.unvalidated:
            raise ConfigError(
                "[plugins.gateway] is set but the gateway plugin is not loaded, so its keys cannot be read; "
                'add "gateway" to [beluga] plugins (or set load_unlisted = true)',
                file=kit.config.source,
            )
        kit.on_reload(self._reloaded)
        # Spend per project and model in /metrics, when the budget plugin prices the calls.
        budget = kit.plugins.get("budget") if "budget" in kit.order else None
        self._budget = budget if callable(getattr(budget, "add_listener", None)) else None
        if self._budget is not None:
            self._budget.add_listener(self.metrics.spent)
        routes = [
            Route(CHAT_ROUTE, _Endpoint(self.chat_completions), methods=["POST"]),
            Route("/chat/completions", _Endpoint(self.chat_completions), methods=["POST"]),
            Route("/v1/messages", _Endpoint(self.messages), methods=["POST"]),
            Route("/messages", _Endpoint(self.messages), methods=["POST"]),
            Route("/v1/messages/count_tokens", _Endpoint(self.count_tokens), methods=["POST"]),
            Route(RESPONSES_ROUTE, _Endpoint(self.responses), methods=["POST"]),
            Route("/responses", _Endpoint(self.responses), methods=["POST"]),
            Route("/v1/embeddings", _Endpoint(self.embeddings), methods=["POST"]),
            Route("/embeddings", _Endpoint(self.embeddings), methods=["POST"]),
            Route("/v1/models", self.models, methods=["GET"]),
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/readyz", self.readyz, methods=["GET"]),
            Route("/metrics", self.metrics_endpoint, methods=["GET"]),
            Route("/openapi.json", self.openapi, methods=["GET"]),
        ]
        self.app = Starlette(
            routes=routes,
            lifespan=self._lifespan,
            exception_handlers={404: _not_found, 405: _not_allowed},
        )
        # A trailing slash is a 404 like any unknown path, not a redirect to the client's own Host header.
        self.app.router.redirect_slashes = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The hot endpoints skip Starlette's middleware and router (they handle their own errors).
        if scope["type"] == "http" and scope["method"] == "POST":
            if scope["path"] == CHAT_ROUTE:
                await self.chat_completions(scope, receive, send)
                return
            if scope["path"] == "/v1/messages":
                await self.messages(scope, receive, send)
                return
            if scope["path"] == RESPONSES_ROUTE:
                await self.responses(scope, receive, send)
                return
        await self.app(scope, receive, send)

    @classmethod
    def from_config(cls, path: str | Path | None = None, **kwargs: Any) -> Gateway:
        """A gateway over ``Kit.from_config(path)`` (None: the embedded defaults)."""
        return cls(Kit.from_config(path), **kwargs)

    @property
    def state(self) -> GatewayState:
        """The gateway settings of the config in force (rebuilt after each reload)."""
        return self._states.get(self.kit.config)

    # -- lifecycle -----------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Any) -> AsyncIterator[None]:
        self._idle = asyncio.Event()
        self._idle.set()
        interval = float(self.state.settings.reload_interval)
        if self.watch and self.kit.config.source and interval > 0:
            self.kit.watch_config(interval)
            log.info("watching %s for changes every %gs", self.kit.config.source, interval)
        # Let guards build what they build lazily (compiled patterns) before the first request.
        for stage in ("input", "output", "tool"):
            try:
                await self.kit.aguard("warm-up", stage)
            except Exception:  # a guard that fails here fails the same way on each request
                log.debug("guard warm-up at %s stage raised", stage, exc_info=True)
        if self.freeze_gc:
            # Everything loaded so far lives as long as the process: keep it out of the collector's
            # full passes, which otherwise scan it all and show up as multi-millisecond p99 stalls.
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            await self.drain()
            await self.close()

    async def drain(self, timeout: float | None = None) -> bool:
        """Stop taking requests and wait for those in flight (streams included) to finish."""
        self.draining = True
        limit = float(self.state.settings.drain_timeout) if timeout is None else timeout
        if self._idle is None or self.in_flight == 0:
            return True
        log.info("draining %d in-flight request(s), up to %gs", self.in_flight, limit)
        try:
            await asyncio.wait_for(self._idle.wait(), limit)
        except TimeoutError:
            log.warning("%d request(s) still in flight after %gs; closing anyway", self.in_flight, limit)
            return False
        return True

    async def close(self) -> None:
        if self._budget is not None:
            self._budget.remove_listener(self.metrics.spent)
        for client in self._redis.values():
            with contextlib.suppress(Exception):
                await client.aclose()
        self._redis.clear()
        if self.owns_kit:
            await self.kit.aclose()  # plugins close through their on_close hooks
        else:
            self.kit.stop_watching()

    def _reloaded(self, result: ReloadResult) -> None:
        self.metrics.reloads.labels("applied" if result.applied else "rejected").inc()

    def _enter(self) -> None:
        self.in_flight += 1
        self.metrics.in_flight.inc()
        if self._idle is not None:
            self._idle.clear()

    def _leave(self) -> None:
        self.in_flight -= 1
        self.metrics.in_flight.dec()
        if self.in_flight == 0 and self._idle is not None:
            self._idle.set()

    async def messages(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /v1/messages``: Anthropic's Messages API over the same chain (beluga_gateway.messages)."""
        from beluga_gateway.messages import messages

        await messages(self, scope, receive, send)

    async def responses(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /v1/responses``: OpenAI's Responses API over the same chain (beluga_gateway.responses)."""
        from beluga_gateway.responses import responses

        await responses(self, scope, receive, send)

    async def embeddings(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /v1/embeddings``: ``kit.aembed`` through the input guards (beluga_gateway.embeddings)."""
        from beluga_gateway.embeddings import embeddings

        await embeddings(self, scope, receive, send)

    async def count_tokens(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /v1/messages/count_tokens``: an estimate of a Messages request's input tokens."""
        from beluga_gateway.messages import messages

        await messages(self, scope, receive, send, count_only=True)

    # -- chat completions ----------------------------------------------------------------------
    async def chat_completions(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.serve(CHAT_ROUTE, self._chat, scope, receive, send)

    async def serve(
        self, route: str, handler: Callable[[Scope, Receive, Send], Awaitable[tuple[int, str, bool]]],
        scope: Scope, receive: Receive, send: Send,
    ) -> None:
        """Run an endpoint's ``handler`` (which answers ``(status, model label, streamed)``) as one
        in-flight request, counted and timed under ``route``."""
        t0 = time.perf_counter()
        self._enter()
        stream = False
        label = "-"
        status = 500
        try:
            status, label, stream = await handler(scope, receive, send)
        finally:
            self._leave()
            self.metrics.requests.labels(route, label, str(status)).inc()
            self.metrics.latency.labels(route, "true" if stream else "false").observe(time.perf_counter() - t0)

    async def admit(
        self, scope: Scope, receive: Receive, parse: Callable[[bytes], Any], *, anthropic: bool = False,
        check: Callable[[Mapping[bytes, bytes]], APIError | None] | None = None,
    ) -> tuple[Caller, Any, str, ModelRoute]:
        """What every endpoint does before its work: the request id, the drain check, the caller's
        key (``Authorization: Bearer`` or ``x-api-key``; with ``anthropic``, ``x-api-key`` first and
        named in the hint), ``check(headers)`` (an endpoint's own header rules), the body read under
        the size and time limits, ``parse(body)`` (on a worker thread for a large body), and the
        route of its ``model`` (404 if not served or not the caller's). Returns ``(caller, parsed,
        request id, route)``; raises :class:`Refused` with the error to answer."""
        state = self.state
        headers = dict(scope["headers"])  # the last of a repeated header wins, as it did
        rid_raw = headers.get(b"x-request-id")
        rid = rid_raw.decode("latin-1") if rid_raw is not None else None
        if rid is None or not _REQUEST_ID.match(rid):
            rid = new_id()
        if self.draining:
            raise Refused(APIError(503, "The gateway is shutting down; retry.", type="service_unavailable",
                                   code="shutting_down", headers=retry_headers(None)), rid)
        caller, key = state.authenticate_headers(headers, prefer_api_key=anthropic)
        if caller is None:
            where = "in the 'x-api-key' header" if anthropic else "as 'Authorization: Bearer YOUR_KEY'"
            err = APIError(401, "Incorrect API key provided." if key else f"You didn't provide an API key. Send it "
                           f"{where}.", code="invalid_api_key")
            raise Refused(err, rid)
        if check is not None and (bad := check(headers)) is not None:
            raise Refused(bad, rid)
        length = headers.get(b"content-length")
        try:
            async with asyncio.timeout(state.body_timeout):  # a body sent byte by byte must not hold a slot
                body = await _read_body(receive, length, state.max_body)
            # A large body is decoded and checked on a worker thread: on the loop, megabytes of JSON
            # would hold every other request (and the health endpoints) for as long as that takes.
            if len(body) < PARSE_OFF_LOOP_BYTES:
                parsed = parse(body)
            else:
                parsed = await asyncio.to_thread(parse, body)
        except TimeoutError:
            err = APIError(408, f"The request body did not arrive within {state.body_timeout:g}s.",
                           code="request_timeout", headers={"connection": "close"})
            raise Refused(err, rid) from None
        except APIError as bad:
            raise Refused(bad, rid) from None
        except _ClientGone:
            self.metrics.disconnects.inc()
            raise Refused(None, rid) from None
        route = state.route(parsed.model)
        if route is None or not caller.may_use(parsed.model):
            err = APIError(404, f"The model `{parsed.model}` does not exist or you do not have access to it.",
                           param="model", code="model_not_found")
            raise Refused(err, rid, bool(getattr(parsed, "stream", False)))
        return caller, parsed, rid, route

    async def run(
        self, scope: Scope, receive: Receive, route: str, rid: str, work: Callable[[_Disconnect], Awaitable[int]],
        span_attrs: dict[str, Any] | None = None,
    ) -> int:
        """Run ``work(watch)`` in the request's trace span (with ``span_attrs``) while watching for the
        client to go away (then it is cancelled and the answer is 499)."""
        task = asyncio.current_task()
        assert task is not None
        watch = _Disconnect(receive, task)
        try:
            with self._trace(scope, span_attrs, route=route):
                return await work(watch)
        except asyncio.CancelledError:
            if not watch.disconnected:
                raise
            task.uncancel()
            self.metrics.disconnects.inc()
            log.info("client went away; request %s cancelled", rid)
            return 499
        finally:
            watch.stop()

    def call_kwargs(self, route: Any, caller: Caller, rid: str, headers: Any = ()) -> dict[str, Any]:
        """The Kit call's arguments every endpoint passes: the route's model and provider, the
        caller's context (with the request's ``Cache-Control``, for a response cache) and the
        gateway's timeout."""
        metadata = {"project": caller.project, "request_id": rid, "api_key": caller.name}
        for name, value in headers:
            if name.lower() == b"cache-control":
                metadata["cache_control"] = value[:256].decode("latin-1")
        return {
            "model": route.model,
            "provider": route.provider,
            "metadata": metadata,
            "timeout": self.state.timeout,
        }

    async def _chat(self, scope: Scope, receive: Receive, send: Send) -> tuple[int, str, bool]:
        state = self.state
        caps = {"max_messages": state.settings.max_messages, "max_tools": state.settings.max_tools}
        try:
            caller, req, rid, route = await self.admit(scope, receive, lambda body: parse_chat(body, **caps))
        except Refused as refused:
            return await refused.answer(send, _error), "-", refused.stream
        rid_header = (b"x-request-id", rid.encode())
        label = state.model_label(route.public)
        kwargs = self.call_kwargs(route, caller, rid, scope["headers"])
        kwargs["tools"] = req.tools
        kwargs["max_tokens"] = req.max_tokens
        kwargs["temperature"] = req.temperature
        try:
            if req.unreadable and state.settings.unreadable_content == "refuse":
                raise unreadable_refused(req)
            params = _provider_params(req, route.kind, state.passthrough, route.provider)
        except APIError as bad:
            return await _error(send, bad, rid_header), label, req.stream
        if params:
            kwargs.update(params)

        def whole(resp: LLMResponse, more: Any) -> bytes:
            rid_, created = "chatcmpl-" + new_id(), int(time.time())
            if req.stream:  # n above 1, streamed: the whole choices, one after the other, as chunks
                return whole_chunks(rid_, created, req.model, resp, more, req.include_usage)
            return dumps(completion(rid_, created, req.model, resp, more))

        def work(watch: _Disconnect) -> Awaitable[int]:
            if req.stream and req.n == 1:
                return self.stream(send, req, kwargs, caller, label, rid_header, watch,
                                   lambda: _ChatWriter("chatcmpl-" + new_id(), int(time.time()), req.model,
                                                       req.include_usage))
            return self.complete(send, req, kwargs, caller, label, rid_header, watch, whole)

        # Content the guards cannot read passes (unreadable_content = "pass"): the span says which.
        span_attrs = {UNREADABLE_ATTRIBUTE: list(req.unreadable)} if req.unreadable else None
        return await self.run(scope, receive, CHAT_ROUTE, rid, work, span_attrs), label, req.stream

    async def complete(
        self, send: Send, req: Any, kwargs: dict[str, Any], caller: Caller, label: str,
        rid_header: tuple[bytes, bytes], watch: _Disconnect, body: Callable[[LLMResponse, Any], bytes],
        error: ErrorSender | None = None, headers: tuple[tuple[bytes, bytes], ...] = (),
    ) -> int:
        """Ask the chain for a whole answer and send ``body(response, other_choices)`` as JSON (SSE for
        a streamed chat request with ``n`` above 1; ``error`` sends a failure in the endpoint's shape;
        ``headers`` go on the answer too)."""
        provider, model = self._genai(req, label)
        t0 = time.perf_counter()
        try:
            resp = await self.kit.agenerate(req.messages, **kwargs)
            output_guard = functools.partial(self.kit.aguard, stage="output", metadata=kwargs["metadata"])
            more = await guarded_choices(resp, output_guard) if getattr(req, "n", 1) > 1 else ()
        except BelugaError as exc:
            self.metrics.genai_failed(provider, model, exc.code.value, time.perf_counter() - t0)
            err = self._failed(exc, caller)
            watch.finished = True
            return await (error or _error)(send, err, rid_header)
        self.metrics.genai_done(resp.provider or provider, model, resp.model, time.perf_counter() - t0, resp.usage)
        self._count_tokens(caller, label, resp.usage)
        payload = body(resp, more)
        watch.finished = True
        headers = (*headers, *cache_header(resp.metadata.get("cache")))
        if getattr(req, "stream", False):  # a streamed request answered whole (chat with n above 1)
            await send({"type": "http.response.start", "status": 200,
                        "headers": [*_SSE_HEADERS, rid_header, *headers]})
            await send({"type": "http.response.body", "body": payload})
            return 200
        await send({
            "type": "http.response.start",
            "status": 200,
            "headers": [*_JSON_HEADERS, (b"content-length", str(len(payload)).encode()), rid_header, *headers],
        })
        await send({"type": "http.response.body", "body": payload})
        return 200

    async def stream(
        self, send: Send, req: Any, kwargs: dict[str, Any], caller: Caller, label: str,
        rid_header: tuple[bytes, bytes], watch: _Disconnect, writer: Callable[[], StreamWriter],
        error: ErrorSender | None = None, headers: tuple[tuple[bytes, bytes], ...] = (),
    ) -> int:
        """Stream the chain's answer as SSE through ``writer()`` (made once the first chunk is in).
        A failure before then is sent by ``error`` (the endpoint's shape, a status of its own);
        one after the headers went out is the writer's error event."""
        provider, model = self._genai(req, label)
        t0 = time.perf_counter()
        chunks: Any = self.kit.astream(req.messages, **kwargs)
        try:
            try:
                with call_notes() as notes:  # what the chain says of the call, known before the headers
                    first = await chunks.__anext__()
            except StopAsyncIteration:
                first = None
            except BelugaError as exc:
                self.metrics.genai_failed(provider, model, exc.code.value, time.perf_counter() - t0)
                err = self._failed(exc, caller)
                watch.finished = True
                return await (error or _error)(send, err, rid_header)
            answered = first.model if first is not None and first.model else ""
            if first is not None:
                self.metrics.genai_first(provider, model, answered, time.perf_counter() - t0)
            out_writer = writer()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [*_SSE_HEADERS, rid_header, *headers, *cache_header(notes.get("cache"))]})
            out = out_writer.start()
            finish: str | None = None
            usage = None
            chunk = first
            try:
                while chunk is not None:
                    out += out_writer.chunk(chunk)
                    if chunk.finish_reason:
                        finish = chunk.finish_reason
                    if chunk.usage is not None:
                        usage = chunk.usage
                    if chunk.model:
                        answered = chunk.model
                    if out:
                        await send({"type": "http.response.body", "body": out, "more_body": True})
                        out = b""
                    try:
                        chunk = await chunks.__anext__()
                    except StopAsyncIteration:
                        chunk = None
            except BelugaError as exc:
                # Headers are gone: the error travels as an SSE event, which the SDKs raise.
                self.metrics.genai_failed(provider, model, exc.code.value, time.perf_counter() - t0)
                event, status = out_writer.failure(self._failed(exc, caller))
                watch.finished = True
                await send({"type": "http.response.body", "body": out + event, "more_body": False})
                return status
            self.metrics.genai_done(provider, model, answered, time.perf_counter() - t0, usage)
            if usage is not None:
                self._count_tokens(caller, label, usage)
            watch.finished = True
            await send({"type": "http.response.body", "body": out + out_writer.finish(finish, usage),
                        "more_body": False})
            return 200
        finally:
            await chunks.aclose()

    def _failed(self, exc: BelugaError, caller: Caller) -> APIError:
        root = root_cause(exc)
        if isinstance(root, GuardBlocked):
            guard = root.guard if root.guard in self.kit.order else OTHER_LABEL
            self.metrics.guard_blocks.labels(guard, root.stage).inc()
        elif isinstance(root, RateLimited):
            self.metrics.rate_limited.labels(caller.project).inc()
        err = from_beluga(exc)
        if err.status == 503:
            # An open breaker or an unreachable limiter storage: each is logged once when it starts
            # (by the breaker and the limiter), not once per refused request.
            log.debug("request refused: [%s] %s", exc.code.value, exc.message)
        elif err.status >= 500:
            # The client sees only what failed; the details (upstream URL, its message) stay here.
            log.warning("request failed: [%s] %s", exc.code.value, exc.message)
        return err

    def _genai(self, req: Any, label: str) -> tuple[str, str]:
        """The ``gen_ai_provider_name`` and ``gen_ai_request_model`` labels of a request: the route's
        provider kind, and the model asked of it (the route's, else the provider's configured one),
        bounded like the ``model`` label (a name outside the configuration is ``other``)."""
        state = self.state
        route = state.route(req.model)
        if route is None:
            return "", OTHER_LABEL
        if label == OTHER_LABEL:
            return route.kind, OTHER_LABEL
        return route.kind, route.model or state.config.provider_config(route.provider).model or label

    def _count_tokens(self, caller: Caller, label: str, usage: Any) -> None:
        if usage.input_tokens:
            self.metrics.tokens.labels(caller.project, label, "input").inc(usage.input_tokens)
        if usage.output_tokens:
            self.metrics.tokens.labels(caller.project, label, "output").inc(usage.output_tokens)

    def _trace(
        self, scope: Scope, extra: dict[str, Any] | None = None, route: str = CHAT_ROUTE
    ) -> contextlib.AbstractContextManager[Any]:
        """A SERVER span continuing the caller's ``traceparent`` when tracing is on (named for
        ``route``, with the ``extra`` attributes); else the caller's context alone (so provider calls
        still propagate it), else nothing."""
        if "tracing" in self.kit.order:
            try:
                from beluga_tracing import server_span  # type: ignore[import-untyped,import-not-found,unused-ignore]
            except ImportError:
                pass
            else:
                attrs = {"http.request.method": "POST", "url.path": scope.get("path", "")}
                if extra:
                    attrs.update(extra)
                span: contextlib.AbstractContextManager[Any] = server_span(
                    scope["headers"], f"POST {route}", attrs
                )
                return span
        for k, _ in scope["headers"]:
            if k == b"traceparent":
                return _attached(scope["headers"])
        return contextlib.nullcontext()

    # -- small endpoints -----------------------------------------------------------------------
    async def models(self, request: Request) -> Response:
        state = self.state
        header = request.headers.get("authorization", "")
        key = header[7:].strip() if header[:7].lower() == "bearer " else request.headers.get("x-api-key")
        caller = state.authenticate(key)
        if caller is None:
            err = APIError(401, "Incorrect API key provided.", code="invalid_api_key")
            return JSONResponse(err.body(), err.status)
        names = state.model_names(caller)
        data = [{"id": name, "object": "model", "created": 0, "owned_by": owner} for name, owner in names]
        return JSONResponse({"object": "list", "data": data})

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    def _operator_only(self, request: Request) -> Response | None:
        """None when ``request`` may read an operator endpoint (``metrics_key`` unset, or presented
        as a bearer token); else the 401 to answer."""
        digest = self.state.metrics_key_digest
        if digest is None:
            return None
        header = request.headers.get("authorization", "")
        presented = header[7:].strip() if header[:7].lower() == "bearer " else ""
        presented_digest = hashlib.sha256(presented.encode("utf-8", "surrogatepass")).digest()
        if presented and hmac.compare_digest(presented_digest, digest):
            return None
        err = APIError(401, "This endpoint needs the gateway's metrics key: send 'Authorization: Bearer METRICS_KEY'.",
                       code="invalid_api_key")
        return JSONResponse(err.body(), err.status, headers={"www-authenticate": "Bearer"})

    async def readyz(self, request: Request) -> Response:
        """Ready unless shutting down, the shared Redis of the rate limiter is unreachable, or every
        configured deployment a request could go to has its breaker open. Reports each check."""
        if (refused := self._operator_only(request)) is not None:
            return refused
        checks: dict[str, Any] = {}
        ready = not self.draining
        if self.draining:
            checks["shutdown"] = "draining"
        states = self.breaker_states()
        open_ = sorted(n for n, s in states.items() if s == "open")
        half_open = sorted(n for n, s in states.items() if s == "half_open")
        # The configured deployments a request can end on: the `models` table's targets (without one,
        # the default provider's model), then each fallback. Breakers of other names (whatever
        # callers asked for) never make the replica unready.
        config = self.kit.config
        beluga = config.beluga
        routes = self.state.routes
        if routes:
            candidates = list(dict.fromkeys((r.provider, r.model) for r in routes.values()))
        else:
            candidates = [(beluga.provider, beluga.model or config.provider_config(beluga.provider).model
                           or beluga.provider)]
        candidates += [parse_target(t) for t in beluga.fallback]
        names = [(p, p if m is None else f"{p}/{m}") for p, m in candidates]
        open_set = set(open_)
        down = [name for p, name in names if name in open_set or p in open_set]
        # Closed breakers are only counted, and at most 50 names are listed per state: the answer
        # stays small however many models were called.
        checks["breakers"] = {
            "open": open_[:50], "half_open": half_open[:50], "count": len(states), "open_count": len(open_),
        }
        if len(down) == len(candidates):
            ready = False
            checks["providers"] = {"unavailable": down}
        if deployments := self.kit.deployments():  # [models.<name>] groups: each deployment's health
            checks["deployments"] = deployments
        for check, url in self._redis_urls().items():
            ok, detail = await self._ping(url)
            checks[check] = {"ok": ok, "url": mask_url(url), **({"error": detail} if detail else {})}
            ready = ready and ok
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", "in_flight": self.in_flight, "checks": checks},
            200 if ready else 503,
        )

    async def openapi(self, request: Request) -> Response:
        """The OpenAPI 3.1 description of what this gateway accepts and answers."""
        from beluga_gateway.openapi import document_bytes

        return Response(document_bytes(), media_type="application/json")

    async def metrics_endpoint(self, request: Request) -> Response:
        if (refused := self._operator_only(request)) is not None:
            return refused
        return Response(self.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    # -- introspection of other plugins --------------------------------------------------------
    def breaker_states(self) -> dict[str, str]:
        """``{"provider/model": "closed" | "half_open" | "open"}`` from the breaker plugin, if loaded."""
        if "breaker" not in self.kit.order:
            return {}
        plugin = self.kit.plugins.get("breaker")
        breakers = getattr(plugin, "breakers", None) or {}
        out: dict[str, str] = {}
        for key, breaker in list(breakers.items()):
            name = "/".join(k for k in key if k) if isinstance(key, tuple) else str(key)
            out[printable(name)] = str(getattr(breaker.state, "value", breaker.state))
        return out

    def _redis_urls(self) -> dict[str, str]:
        """The Redis storages of the rate limiter and the budget plugin, if loaded, by readiness
        check name: ``redis`` for the first, ``budget_redis`` for a budget on another Redis."""
        found: dict[str, str] = {}
        for plugin in ("ratelimit", "budget"):
            if plugin not in self.kit.order:
                continue
            url = getattr(self.kit.config.plugin_settings(plugin), "storage", "") or ""
            scheme = url.split("://", 1)[0].lower()
            if scheme.removesuffix("+cluster") in ("redis", "rediss", "unix") and url not in found.values():
                found["redis" if not found else f"{plugin}_redis"] = url
        return found

    async def _ping(self, url: str) -> tuple[bool, str]:
        try:
            import redis.asyncio as aioredis
        except ImportError:
            return False, "the redis package is not installed"
        client = self._redis.get(url)
        if client is None:
            scheme, _, rest = url.partition("://")
            if scheme.lower().endswith("+cluster"):  # redis+cluster://host:port: any node; the client finds the rest
                from redis.asyncio.cluster import RedisCluster

                client = RedisCluster.from_url(f"{scheme.lower().removesuffix('+cluster')}://{rest}",
                                               socket_timeout=0.5, socket_connect_timeout=0.5)
            else:
                client = aioredis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
            self._redis[url] = client
        try:
            await client.ping()  # type: ignore[misc,unused-ignore]
        except Exception as exc:  # noqa: BLE001 - any failure means not reachable
            return False, type(exc).__name__
        return True, ""


def cache_header(outcome: Any) -> tuple[tuple[bytes, bytes], ...]:
    """``x-beluga-cache: hit`` or ``miss`` on an answer a response cache looked up (none otherwise)."""
    return ((b"x-beluga-cache", outcome.encode()),) if outcome in ("hit", "miss") else ()


@contextlib.contextmanager
def _attached(headers: Any) -> Iterator[None]:
    try:
        from opentelemetry import context, propagate
    except ImportError:
        yield
        return
    carrier = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in headers}
    token = context.attach(propagate.extract(carrier))
    try:
        yield
    finally:
        context.detach(token)


async def _read_body(receive: Receive, length: bytes | None, limit: int) -> bytes:
    if length is not None:
        try:
            declared = int(length)
        except ValueError:
            raise APIError(400, "Content-Length is not a number.") from None
        if declared > limit:
            raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone()
        part = message.get("body", b"")
        if part:
            size += len(part)
            if size > limit:
                raise _too_large(limit)
            chunks.append(part)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def mask_url(url: str) -> str:
    """A storage URL with its password hidden."""
    return re.sub(r"//([^:@/]*):[^@/]*@", r"//\1:***@", url)


def _too_large(limit: int) -> APIError:
    return APIError(413, f"The request body is larger than this gateway accepts ({limit} bytes).",
                    code="request_too_large")


async def _error(send: Send, err: APIError, rid_header: tuple[bytes, bytes]) -> int:
    payload = dumps(err.body())
    headers = [*_JSON_HEADERS, (b"content-length", str(len(payload)).encode()), rid_header]
    headers += [(k.encode(), v.encode()) for k, v in err.headers.items()]
    await send({"type": "http.response.start", "status": err.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
    return err.status


async def _not_found(request: Request, exc: Exception) -> Response:
    err = APIError(404, f"Unknown path {request.url.path}; this gateway serves /v1/chat/completions, /v1/messages, "
                   "/v1/responses, /v1/embeddings and /v1/models.", code="not_found")
    return JSONResponse(err.body(), 404)


async def _not_allowed(request: Request, exc: Exception) -> Response:
    err = APIError(405, f"Method {request.method} is not allowed on {request.url.path}.", code="method_not_allowed")
    return JSONResponse(err.body(), 405)


def create_app(config: str | Path | None = None, *, kit: Kit | None = None, watch: bool = True) -> Gateway:
    """The gateway as an ASGI app: over ``kit`` if given (not closed on shutdown), else over
    ``Kit.from_config(config)``."""
    if kit is not None:
        return Gateway(kit, watch=watch, owns_kit=False)
    return Gateway(Kit.from_config(config), watch=watch)


__all__ = ["CHAT_ROUTE", "Gateway", "create_app"]
