"""The ``retry`` plugin: ``wrap_llm_call`` middleware that retries failed model calls.

Streaming calls are retried only until the provider's first chunk arrives (``call_next`` returns
the ``LLMStream``); after that, text has reached the caller and a retry would repeat it.

Tool calls (``wrap_tool_call``) are retried only with ``tool_calls = true``: a tool that failed
may have acted already, so repeating it is the user's choice.
"""

from __future__ import annotations

import asyncio
import random as _random
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import attrs

from beluga_core import (
    RETRYABLE_BY_DEFAULT,
    CallNext,
    Duration,
    ErrorCode,
    LLMRequest,
    LLMResponse,
    LLMStream,
    ToolCallNext,
    ToolInvocation,
    hookimpl,
    setting,
)
from beluga_retry.policy import RetryPolicy
from beluga_retry.runner import _arun

if TYPE_CHECKING:
    pass


@attrs.frozen
class RetrySettings:
    """The ``[plugins.retry]`` section."""

    max_attempts: int = setting(3, min=1, max=20, help="attempts per call, the first included")
    # setting() is an attrs field specifier (RUF009 cannot know)
    initial_backoff: Duration = setting(Duration(1.0), min=0, help="wait before the first retry")
    max_backoff: Duration = setting(Duration(30.0), min=0, help="no wait is longer, jitter included")
    backoff_factor: float = setting(2.0, min=1, max=10, help="each wait is this many times the previous")
    jitter: float = setting(0.1, min=0, max=1, help="spread of each wait, as a fraction (0.1 is ±10%)")
    retryable: tuple[ErrorCode, ...] = setting(
        tuple(sorted(RETRYABLE_BY_DEFAULT)), help="error codes that are retried; every other error fails at once"
    )
    honor_retry_after: bool = setting(True, help="wait at least as long as an error's Retry-After asks")
    max_retry_after: Duration = setting(
        Duration(60.0), min=0, help="give up instead of waiting when Retry-After asks for more than this"
    )
    tool_calls: bool = setting(
        False, help="retry tool calls too (Kit.call_tool, beluga mcp-proxy); only for tools safe to run twice"
    )

    def policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self.max_attempts,
            initial_backoff=self.initial_backoff,
            max_backoff=self.max_backoff,
            backoff_factor=self.backoff_factor,
            jitter=self.jitter,
            retryable=self.retryable,
            honor_retry_after=self.honor_retry_after,
            max_retry_after=self.max_retry_after,
        )


class RetryPlugin:
    """Retries a model call on retryable errors, within the request's deadline.

    The response's ``metadata["attempts"]`` says how many calls it took.
    """

    name = "retry"
    rank = 400  #: where it goes when [beluga] plugins does not list it (lower: outer)

    def __init__(
        self,
        *,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        random: Callable[[], float] = _random.random,
    ) -> None:
        # Settings come from [plugins.retry]; sleep, clock and random are injectable for tests.
        self.sleep = sleep
        self.clock = clock
        self.random = random
        self._apply(RetrySettings())

    def _apply(self, settings: RetrySettings) -> None:
        self.settings = settings
        self.policy = settings.policy()

    @hookimpl
    def config_schema(self) -> type:
        return RetrySettings

    @hookimpl
    def on_settings(self, settings: RetrySettings) -> None:
        self._apply(settings)

    @hookimpl
    async def wrap_llm_call(self, request: LLMRequest, call_next: CallNext) -> LLMResponse | LLMStream:
        result, attempts = await _arun(
            self.policy, lambda: call_next(request), request.deadline, None, self.sleep, self.clock, self.random, False
        )
        if isinstance(result, LLMStream):
            result.metadata["attempts"] = attempts
            return result
        return result.replace(metadata={**result.metadata, "attempts": attempts})

    @hookimpl
    async def wrap_tool_call(self, call: ToolInvocation, call_next: ToolCallNext) -> Any:
        if not self.settings.tool_calls:
            return await call_next(call)
        result, _ = await _arun(
            self.policy, lambda: call_next(call), None, None, self.sleep, self.clock, self.random, False
        )
        return result


__all__ = ["RetryPlugin", "RetrySettings"]
