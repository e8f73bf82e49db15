"""The httpx transports: ``Transport`` (sync) and ``AsyncTransport``, over :class:`Dispatch`.

The official SDKs send their requests through ``httpx2`` (openai 3, anthropic 2), the continuation
of httpx; openai also still takes a client of the original ``httpx`` package. The transports serve
both: an answer is built from the classes of whichever package the request came from.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import sys
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import httpx2

from beluga_core import Kit, run_sync
from beluga_sdk._dispatch import Answer, Dispatch

Metadata = Mapping[str, Any] | Callable[[Any], Mapping[str, Any]] | None
T = TypeVar("T")
Runner = Callable[[Coroutine[Any, Any, Any]], Any]


class _LoopThread:
    """An event loop on a daemon thread of its own, started on first use: where the sync client is
    called with an event loop already running in the caller's thread (a notebook, an async app), its
    calls run here while the caller waits, in the caller's context (its current span)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def _started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="beluga-sdk-loop", daemon=True).start()
                self._loop = loop
            return self._loop

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        loop = self._started()
        done: concurrent.futures.Future[T] = concurrent.futures.Future()

        def finished(task: asyncio.Task[T]) -> None:
            if task.cancelled():
                done.cancel()
            elif (exc := task.exception()) is not None:
                done.set_exception(exc)
            else:
                done.set_result(task.result())

        def start() -> None:  # runs in a copy of the caller's context, which the task inherits
            loop.create_task(coro).add_done_callback(finished)

        loop.call_soon_threadsafe(start, context=contextvars.copy_context())
        return done.result()


_LOOP_THREAD = _LoopThread()


def _runner() -> Runner:
    """How a sync call runs its coroutines: on the calling thread's own loop (``beluga_core.run_sync``,
    as ``Kit.generate`` does), or on the SDK loop thread when a loop already runs in this thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return lambda coro: run_sync(coro, "beluga_sdk.Transport")
    return _LOOP_THREAD.run


class _Parts:
    """An answer's SSE bytes, as the chain yields them; closing it closes the chain's stream. The
    sync side produces each part with ``run``, on the loop the answer was started on."""

    def __init__(self, events: AsyncIterator[bytes], run: Runner | None = None) -> None:
        self._events = events
        self._run = run

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self._events:
            yield part

    async def aclose(self) -> None:
        await self._events.aclose()  # type: ignore[attr-defined]

    def __iter__(self) -> Iterator[bytes]:
        events = self._events

        async def step() -> bytes:
            return await events.__anext__()

        run = self._run or _runner()
        while True:
            try:
                part = run(step())
            except StopAsyncIteration:
                return
            yield part

    def close(self) -> None:
        (self._run or _runner())(self.aclose())


class _Httpx2Stream(_Parts, httpx2.SyncByteStream, httpx2.AsyncByteStream):
    pass


_STREAMS: dict[str, type[_Parts]] = {"httpx2": _Httpx2Stream}


def _stream_class(package: Any) -> type[_Parts]:
    """``_Parts`` as a byte stream of ``package`` (httpx2, or the original httpx)."""
    cls = _STREAMS.get(package.__name__)
    if cls is None:
        cls = _STREAMS[package.__name__] = type(f"_{package.__name__}Stream",
                                                (_Parts, package.SyncByteStream, package.AsyncByteStream), {})
    return cls


def _response(answer: Answer, request: Any, run: Runner | None = None) -> Any:
    """``answer`` as a ``Response`` of the package ``request`` is from (a stream's parts made with ``run``)."""
    if isinstance(request, httpx2.Request):
        package: Any = httpx2
    else:
        package = sys.modules[type(request).__module__.split(".")[0]]
    if answer.stream is not None:
        stream = _stream_class(package)(answer.stream, run)
        return package.Response(answer.status, headers=answer.headers, stream=stream, request=request)
    return package.Response(answer.status, headers=answer.headers, content=answer.body, request=request)


class AsyncTransport(httpx2.AsyncBaseTransport):
    """An httpx transport that answers the official SDKs' requests through ``kit``'s chain, for
    ``AsyncOpenAI`` and ``AsyncAnthropic`` (``httpx2.AsyncClient(transport=AsyncTransport(kit))``;
    ``httpx.AsyncClient`` too).

    - ``provider``: the Kit's provider every call goes to (default: ``[beluga] provider``); the model
      is the one the application asks for (a ``[models.<name>]`` group routes it as usual).
    - ``metadata``: the request metadata the chain sees (``{"project": ...}`` keys rate limits), or
      a function of the ``Request`` returning it; ``request_id`` is added.
    - ``deadline``: seconds a call may take through the chain (default: ``[beluga] deadline``).
    - ``passthrough``: OpenAI request fields forwarded to OpenAI-compatible providers (``["*"]``: all).
    - ``unreadable_content``: ``"pass"`` or ``"refuse"`` content parts guards cannot read (file, audio).
    - ``sdk_retries``: whether the SDK may retry a 429 or 5xx answer (``x-should-retry``): None
      (default) lets it unless the chain has the retry plugin; a refusal (4xx) is never retried.

    The Kit is the application's: closing the transport does not close it.
    """

    def __init__(
        self,
        kit: Kit,
        *,
        provider: str | None = None,
        metadata: Metadata = None,
        deadline: float | None = None,
        passthrough: Sequence[str] = ("*",),
        unreadable_content: str = "pass",
        sdk_retries: bool | None = None,
    ) -> None:
        self.dispatch = Dispatch(kit, provider=provider, metadata=metadata, deadline=deadline,
                                 passthrough=passthrough, unreadable_content=unreadable_content,
                                 sdk_retries=sdk_retries)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        answer = await self.dispatch.answer(request, await request.aread())
        response: httpx2.Response = _response(answer, request)
        return response


class Transport(httpx2.BaseTransport):
    """The synchronous twin of :class:`AsyncTransport`, for ``OpenAI`` and ``Anthropic``
    (``httpx2.Client(transport=Transport(kit))``; ``httpx.Client`` too); the same options. Each call
    runs on the calling thread's event loop, as ``Kit.generate`` does; called where an event loop
    already runs (a notebook, an async app), on a loop thread of its own while the caller waits."""

    def __init__(
        self,
        kit: Kit,
        *,
        provider: str | None = None,
        metadata: Metadata = None,
        deadline: float | None = None,
        passthrough: Sequence[str] = ("*",),
        unreadable_content: str = "pass",
        sdk_retries: bool | None = None,
    ) -> None:
        self.dispatch = Dispatch(kit, provider=provider, metadata=metadata, deadline=deadline,
                                 passthrough=passthrough, unreadable_content=unreadable_content,
                                 sdk_retries=sdk_retries)

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        run = _runner()
        answer: Answer = run(self.dispatch.answer(request, request.read()))
        response: httpx2.Response = _response(answer, request, run)
        return response


__all__ = ["AsyncTransport", "Transport"]
