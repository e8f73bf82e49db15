"""The ``breaker`` plugin: one circuit breaker per provider and model, as ``wrap_llm_call`` middleware.

An outage of one model (or provider) opens only its breaker; calls to the others go on. A
streamed call counts as a success once its first chunk has arrived (the provider is answering);
an error later in the stream is counted as a failure of its own.

A breaker is created on the first failure it would count, not on the first call: a model whose
calls succeed (or fail only in ways a breaker ignores, such as an unknown model's 404) costs no
state (in the failure-rate mode, which counts successes, on the first call). At most
``max_breakers`` per-model breakers exist; further models share one more, ``provider/*``.
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
    max_breakers: int = setting(
        1000, min=1, help="most per-model breakers kept; further models share one more per provider ('provider/*')"
    )


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

    def _key(self, provider: str, model: str | None) -> tuple[str, str]:
        key = (provider, (model or "") if self.settings.per == "model" else "")
        if key[1] and key not in self.breakers and len(self.breakers) >= self.settings.max_breakers:
            return (provider, "*")  # full: the model shares one overflow breaker of its provider
        return key

    def breaker_for(self, provider: str, model: str | None = None) -> CircuitBreaker:
        """The breaker guarding ``provider`` and ``model`` (the provider alone with ``per = "provider"``;
        the provider's shared ``provider/*`` once ``max_breakers`` exist), created if there is none yet."""
        key = self._key(provider, model)
        breaker = self.breakers.get(key)
        if breaker is None:
            with self._lock:
                key = self._key(provider, model)  # again, under the lock: the cap holds under races
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

    def _counts(self, error: BaseException) -> bool:
        code = getattr(error, "code", None)
        return not (isinstance(code, ErrorCode) and code in self.settings.ignored)

    @hookimpl
    async def wrap_llm_call(self, request: LLMRequest, call_next: CallNext) -> LLMResponse | LLMStream:
        provider = request.provider or self._default_provider
        model = request.model
        # No breaker yet means closed with nothing counted: the call goes through with epoch 0, the
        # token a fresh breaker hands out, and one is made only if the outcome counts as a failure.
        # (The failure-rate mode counts successes too, so there every call needs its breaker.)
        breaker = self.breakers.get(self._key(provider, model))
        if breaker is None and self.settings.failure_rate is not None:
            breaker = self.breaker_for(provider, model)
        token = breaker.acquire() if breaker is not None else 0
        threshold = self.settings.slow_call_threshold
        started = self.clock() if threshold is not None else 0.0
        try:
            result = await call_next(request)
        except Exception as exc:
            if breaker is None and self._counts(exc):
                breaker = self.breaker_for(provider, model)
            if breaker is not None:
                breaker.on_error(token, exc)
            raise
        except BaseException:
            if breaker is not None:
                breaker.release(token)
            raise
        elapsed = self.clock() - started if threshold is not None else None
        if breaker is None and elapsed is not None and threshold is not None and elapsed > threshold:
            breaker = self.breaker_for(provider, model)
        if breaker is not None:
            breaker.on_success(token, elapsed)
        if isinstance(result, LLMStream):
            known = breaker

            def finished(response: LLMResponse | None, error: BaseException | None) -> None:
                if isinstance(error, Exception) and self._counts(error):
                    (known or self.breaker_for(provider, model)).on_error(token, error)

            result.on_finish(finished)
        return result


__all__ = ["BreakerPlugin", "BreakerSettings"]
