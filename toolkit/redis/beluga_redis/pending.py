"""Storage writes that finish after the caller has its answer (a stream's settlement or store, run
when the stream ends): started on the running loop, kept referenced until done, awaited by ``drain``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any


class Pending:
    """The writes a plugin started and nobody awaits. ``start`` runs ``work()`` as a task on the
    running loop; without one (a sync caller) it runs ``fallback()`` instead, if given."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def start(self, work: Callable[[], Coroutine[Any, Any, Any]], fallback: Callable[[], Any] | None = None) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            if fallback is not None:
                fallback()
            return
        task = loop.create_task(work())
        self._tasks.add(task)  # referenced until done: a task only the loop holds may be collected
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for every write started so far, and any they start (tests, graceful shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def __len__(self) -> int:
        return len(self._tasks)


__all__ = ["Pending"]
