"""The ``breaker`` plugin: one circuit breaker per provider and model, as ``wrap_llm_call`` middleware.

An outage of one model (or provider) opens only its breaker; calls to the others go on. A
streamed call counts as a success once its first chunk has arrived (the provider is answering);
an error later in the stream is counted as a failure of its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

import attrs

from beluga_breaker.breaker import DEFAULT_IGNORED, CircuitBreaker
from beluga_core.config import Duration, setting
from beluga_core.errors import ErrorCode
from beluga_core.hookspecs import CallNext, hookimpl
from beluga_core.schema import LLMRequest, LLMResponse
from beluga_core.stream import LLMStream

if TYPE_CHECKING:
    from beluga_core.settings import Config


@attrs.frozen
class BreakerSettings:
    """The ``[plugins.breaker]`` section."""

    # setting() is an attrs field specifier (RUF009 cannot know)
    failure_threshold: int = setting(5, min=1, help="consecutive failures that open a breaker")
    reset_timeout: Duration = setting(Duration(30.0), min=0, help="how long a breaker stays open")
    half_open_max_calls: int = setting(1, min=1, help="probe calls admitted when half-open; all must succeed")
    failure_rate: float | None = setting(
        None, min=0.01, max=1, help="failure-rate mode: open when this share of calls in the window failed"
    )
    window: Duration = setting(Duration(60.0), min=0.1, help="sliding window of the failure-rate mode")
    minimum_calls: int = setting(10, min=1, help="calls in the window before the failure rate is judged")
    slow_call_threshold: Duration | None = setting(
        None, min=0, help="a call slower than this counts as a failure (streams: time to first chunk)"
    )
    ignored: tuple[ErrorCode, ...] = setting(
        tuple(sorted(DEFAULT_IGNORED)), help="error codes that count as neither success nor failure"
    )
    respect_retry_after: bool = setting(True, help="an error with Retry-After opens the breaker for that long")
    max_retry_after: Duration = setting(
        Duration(300.0), min=0, help="longest Retry-After honoured"
    )
    per: Literal["model", "provider"] = setting("model", help="one breaker per provider and model, or per provider")


class BreakerPlugin:
    """Fails calls fast (``CircuitOpenError`` with ``retry_after``) while their provider/model is down."""

    name = "breaker"

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock  # injectable for tests
        self._lock = threading.Lock()
        self._default_provider = ""
        self._apply(BreakerSettings())

    def _apply(self, settings: BreakerSettings) -> None:
        self.settings = settings
        self.breakers: dict[tuple[str, str], CircuitBreaker] = {}

    @hookimpl
    def config_schema(self) -> type:
        return BreakerSettings

    @hookimpl
    def on_config_change(self, old: Config | None, new: Config) -> None:
        self._default_provider = new.beluga.provider
        settings = new.plugin_settings(self.name)
        if isinstance(settings, BreakerSettings) and settings != self.settings:
            self._apply(settings)  # new settings: fresh, closed breakers

    def breaker_for(self, provider: str, model: str | None = None) -> CircuitBreaker:
        """The breaker guarding ``provider`` (and ``model``, unless ``per = "provider"``)."""
        key = (provider, (model or "") if self.settings.per == "model" else "")
        breaker = self.breakers.get(key)
        if breaker is None:
            with self._lock:
                breaker = self.breakers.get(key)
                if breaker is None:
                    s = self.settings
                    breaker = CircuitBreaker(
                        s.failure_threshold,
                        s.reset_timeout,
                        half_open_max_calls=s.half_open_max_calls,
                        failure_rate=s.failure_rate,
                        window=s.window,
                        minimum_calls=s.minimum_calls,
                        slow_call_threshold=s.slow_call_threshold,
                        ignored=s.ignored,
                        respect_retry_after=s.respect_retry_after,
                        max_retry_after=s.max_retry_after,
                        name="/".join(k for k in key if k),
                        clock=self.clock,
                    )
                    self.breakers = {**self.breakers, key: breaker}
        return breaker

    @hookimpl
    async def wrap_llm_call(self, request: LLMRequest, call_next: CallNext) -> LLMResponse | LLMStream:
        breaker = self.breaker_for(request.provider or self._default_provider, request.model)
        token = breaker.acquire()
        timed = breaker.slow_call_threshold is not None
        started = self.clock() if timed else 0.0
        try:
            result = await call_next(request)
        except Exception as exc:
            breaker.on_error(token, exc)
            raise
        except BaseException:
            breaker.release(token)
            raise
        breaker.on_success(token, self.clock() - started if timed else None)
        if isinstance(result, LLMStream):

            def finished(response: LLMResponse | None, error: BaseException | None) -> None:
                if isinstance(error, Exception) and breaker.counts(error):
                    breaker.on_error(token, error)

            result.on_finish(finished)
        return result


__all__ = ["BreakerPlugin", "BreakerSettings"]
