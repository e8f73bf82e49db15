"""Run Beluga's async code from plain synchronous scripts.

Each thread gets one long-lived event loop, so pooled connections opened by one sync call are
reused by the next. Calling a sync twin from inside a running event loop is a mistake we name.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
_local = threading.local()


def run_sync(coro: Coroutine[Any, Any, T], name: str = "this call") -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        coro.close()
        raise RuntimeError(f"{name} is the synchronous twin and cannot run inside an event loop; await its async form")
    runner: asyncio.Runner | None = getattr(_local, "runner", None)
    if runner is None:
        runner = _local.runner = asyncio.Runner()
    # Run in a copy of the caller's context, so contextvars (the current span, a request id) set
    # around a sync call are seen inside it, as they would be for the async form.
    return runner.run(coro, context=contextvars.copy_context())


def iterate_sync(agen: AsyncIterator[T], name: str = "this call") -> Iterator[T]:
    """Iterate an async iterator from synchronous code, one ``run_sync`` per item; closed at the end."""

    async def step() -> T:
        return await agen.__anext__()

    try:
        while True:
            try:
                item = run_sync(step(), name)
            except StopAsyncIteration:
                return
            yield item
    finally:
        close = getattr(agen, "aclose", None)
        if close is not None:
            with contextlib.suppress(RuntimeError):  # inside a running loop: nothing was started
                run_sync(close(), name)
