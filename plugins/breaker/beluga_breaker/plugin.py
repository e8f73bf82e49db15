"""The ``breaker`` plugin: one circuit breaker per provider and model, as ``wrap_llm_call`` middleware.

An outage of one model (or provider) opens only its breaker; calls to the others go on. A
streamed call counts as a success once its first chunk has arrived (the provider is answering);
an error later in the stream is counted as a failure of its own.

A breaker is created on the first failure it would count, not on the first call: a model whose
calls succeed (or fail only in ways a breaker ignores, such as an unknown model's 404) costs no
state (in the failure-rate mode, which counts successes, on the first call). The deployments the
configuration names always get a breaker of their own. Other names share ``max_breakers``: at the
cap the least recently used breaker that is not open (or probing) makes room, and when every one
of them is open a further name gets none (its calls pass uncounted). No breaker is ever shared by
unrelated names, so a flood of made-up names cannot open one that real traffic depends on.

Tool calls (``wrap_tool_call``) that name the server they go to in ``metadata["server"]`` (as
``beluga mcp-proxy`` does) get one breaker per server, named ``tool server NAME``; other tool calls
pass uncounted. A tool that answers with an error result has answered: only raised errors count.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

import attrs

from beluga_breaker.breaker import DEFAULT_IGNORED, CircuitBreaker, CircuitState
from beluga_core import (
    CallNext,
    Duration,
    ErrorCode,
    LLMRequest,
    LLMResponse,
    LLMStream,
    ToolCallNext,
    ToolInvocation,
    hookimpl,
    parse_target,
    setting,
)

if TYPE_CHECKING:
    from beluga_core import Config

Key = tuple[str, str]

#: Longest breaker name used in errors and logs; a longer provider/model is cut (the key is kept whole).
MAX_NAME_CHARS = 200
# Control characters (Unicode Cc), line and paragraph separators, lone surrogates: never written raw to a log line.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


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
        1000, min=1,
        help="most breakers kept for names the configuration does not name (least recently used closed one makes room)",
    )


class _Breaker(CircuitBreaker):
    """A plugin-made breaker that knows when a call last used it (for choosing which one makes room)."""

    used = 0  # a tick of the plugin's counter, written without a lock (one attribute store)


def _name(key: Key) -> str:
    """``provider/model`` for errors and logs: control characters escaped, cut to ``MAX_NAME_CHARS``."""
    name = "/".join(k for k in key if k)
    name = _UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", name)
    return name if len(name) <= MAX_NAME_CHARS else name[: MAX_NAME_CHARS - 3] + "..."


def deployments(config: Config) -> set[tuple[str, str | None]]:
    """Every (provider, model) the configuration names, model None for a provider's default: the
    ``[beluga]`` provider and model, each ``[providers.X]`` section and its model, the fallback
    targets, and the gateway's ``models`` table targets when it has one."""
    beluga = config.beluga
    default_model = beluga.model or config.provider_config(beluga.provider).model
    # Without a configured model the gateway lists the default provider's model under the provider's name.
    found: set[tuple[str, str | None]] = {(beluga.provider, None), (beluga.provider, default_model or beluga.provider)}
    for name, section in config.providers.items():
        found.add((name, None))
        if section.model:
            found.add((name, section.model))
    found.update(parse_target(t) for t in beluga.fallback)
    routes = getattr(config.plugin_settings("gateway"), "models", None)
    if isinstance(routes, Mapping):
        found.update(parse_target(t) for t in routes.values() if isinstance(t, str))
    if beluga.model:  # the Kit asks any provider a call names without a model for [beluga] model
        found.update({(provider, beluga.model) for provider, _ in found})
    return found


class BreakerPlugin:
    """Fails calls fast (``CircuitOpenError`` with ``retry_after``) while their provider/model is down."""

    name = "breaker"
    rank = 500  #: where it goes when [beluga] plugins does not list it (lower: outer)

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock  # injectable for tests
        self._lock = threading.Lock()
        self._ticks = itertools.count(1)
        self._default_provider = ""
        #: Keys of the configured deployments: their breakers are kept outside ``max_breakers``.
        self.reserved: frozenset[Key] = frozenset()
        self._apply(BreakerSettings())

    def _apply(self, settings: BreakerSettings) -> None:
        self.settings = settings
        #: Every breaker kept, by (provider, model): a copy-on-write dict, read without the lock.
        self.breakers: dict[Key, CircuitBreaker] = {}

    @hookimpl
    def config_schema(self) -> type:
        return BreakerSettings

    @hookimpl
    def on_config_change(self, old: Config | None, new: Config) -> None:
        self._default_provider = new.beluga.provider
        settings = new.plugin_settings(self.name)
        if isinstance(settings, BreakerSettings) and settings != self.settings:
            self._apply(settings)  # new settings: fresh, closed breakers
        self.reserved = frozenset(self._key(p, m) for p, m in deployments(new))  # keyed by the settings in force

    def _key(self, provider: str, model: str | None) -> Key:
        return (provider, (model or "") if self.settings.per == "model" else "")

    def breaker_for(self, provider: str, model: str | None = None) -> CircuitBreaker | None:
        """The breaker guarding ``provider`` and ``model`` (the provider alone with ``per = "provider"``),
        created if there is none yet. None when the name is not a configured deployment, ``max_breakers``
        breakers of other names exist and every one of them is open or probing: calls to it pass uncounted."""
        key = self._key(provider, model)
        breaker = self.breakers.get(key)
        if breaker is None:
            with self._lock:
                breaker = self.breakers.get(key)  # again, under the lock: the cap holds under races
                if breaker is None:
                    breaker = self._add(key)
        return breaker

    def _add(self, key: Key) -> CircuitBreaker | None:
        """A new breaker for ``key``, evicting the least recently used capped ones that are neither
        open nor probing to keep within ``max_breakers``. Call with the lock held."""
        kept = self.breakers
        if key not in self.reserved:
            capped = [(b, k) for k, b in kept.items() if k not in self.reserved]
            excess = len(capped) + 1 - self.settings.max_breakers
            if excess > 0:
                idle = sorted((b.used, k) for b, k in capped if isinstance(b, _Breaker) and _idle(b))
                if len(idle) < excess:
                    return None
                gone = {k for _, k in idle[:excess]}
                kept = {k: b for k, b in kept.items() if k not in gone}
        s = self.settings
        breaker = _Breaker(
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
            name=_name(key),
            clock=self.clock,
        )
        breaker.used = next(self._ticks)
        self.breakers = {**kept, key: breaker}
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
        if isinstance(breaker, _Breaker):
            breaker.used = next(self._ticks)
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
                    late = known or self.breaker_for(provider, model)
                    if late is not None:
                        late.on_error(token, error)

            result.on_finish(finished)
        return result


    @hookimpl
    async def wrap_tool_call(self, call: ToolInvocation, call_next: ToolCallNext) -> Any:
        """One breaker per tool server (``call.metadata["server"]``): while a server keeps failing,
        calls to it fail fast with ``CircuitOpenError``. Calls that name no server pass uncounted."""
        server = call.metadata.get("server") if call.metadata else None
        if not isinstance(server, str) or not server:
            return await call_next(call)
        breaker = self.breaker_for(f"tool server {server}")
        if breaker is None:
            return await call_next(call)
        if isinstance(breaker, _Breaker):
            breaker.used = next(self._ticks)
        token = breaker.acquire()
        try:
            result = await call_next(call)
        except Exception as exc:
            breaker.on_error(token, exc)
            raise
        except BaseException:
            breaker.release(token)
            raise
        breaker.on_success(token, None)
        return result


def _idle(breaker: CircuitBreaker) -> bool:
    """Whether dropping ``breaker`` loses no more than a partial failure count: it is closed, or
    half-open (its open time is over) with no probe in flight."""
    state = breaker.state
    return state is CircuitState.CLOSED or (
        state is CircuitState.HALF_OPEN and breaker.stats()["probes_in_flight"] == 0
    )


__all__ = ["BreakerPlugin", "BreakerSettings", "deployments"]
