"""The ``ratelimit`` plugin: request and token limits per project (or any request metadata key)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from beluga_core import (
    BelugaError,
    CallNext,
    Duration,
    ErrorCode,
    LLMRequest,
    LLMResponse,
    LLMStream,
    ToolCallNext,
    ToolInvocation,
    estimate_request_tokens,
    get_logger,
    hookimpl,
    setting,
)
from beluga_ratelimit.limiter import RateLimiter, Reservation
from beluga_ratelimit.storage import MemoryStorage, Storage, storage_from_url
from beluga_redis import Pending, storage_setting

log = get_logger("beluga.ratelimit")



@attrs.frozen
class RateLimitSettings:
    """The ``[plugins.ratelimit]`` section. A limit of 0 turns that limit off; all are off by default,
    so installing the plugin changes nothing until a limit is configured."""

    key: str = setting("project", help="request metadata key whose value limits are kept by (project, user, ...)")
    default_key: str = setting(
        "anonymous", help='key used for requests whose metadata lacks `key`; "" rejects such requests instead'
    )
    requests_per_minute: int = setting(
        0, min=0, help="requests per key per minute (0: no limit; every limit is off until you set it)"
    )
    requests_per_hour: int = setting(0, min=0, help="requests per key per hour (0: no limit)")
    requests_per_day: int = setting(0, min=0, help="requests per key per day (0: no limit)")
    tokens_per_minute: int = setting(0, min=0, help="input + output tokens per key per minute (0: no limit)")
    tool_calls_per_minute: int = setting(
        0, min=0, help="tool calls (Kit.call_tool, beluga mcp-proxy) per key per minute, apart from requests (0: off)"
    )
    default_max_tokens: int = setting(
        1024, min=1, help="output tokens reserved for a request that sets no max_tokens (tokens_per_minute)"
    )
    strategy: str = setting("fixed", choices=("fixed", "sliding"), help="fixed windows, or a sliding-window counter")
    storage: str = storage_setting("shared")
    failure_mode: str = setting(
        "open", choices=("open", "closed"), help="when Redis is down: open admits requests, closed denies them"
    )
    key_prefix: str = setting("beluga:rl:", help="prefix of every storage key (to share one Redis between apps)")
    timeout: Duration = setting(Duration(0.5), min=0.001, help="Redis connect and round-trip timeout")
    recheck_interval: Duration = setting(
        Duration(1.0), min=0, help="after a Redis failure, use failure_mode without trying Redis for this long"
    )


@attrs.frozen
class _Policy:
    """Everything one configuration needs on the request path, built once in ``_apply``."""

    settings: RateLimitSettings
    storage: Storage
    requests: tuple[tuple[str, RateLimiter], ...]
    tokens: RateLimiter | None
    tools: RateLimiter | None = None


_WINDOWS = (("requests_per_minute", 60.0), ("requests_per_hour", 3600.0), ("requests_per_day", 86400.0))


class RateLimitPlugin:
    """Limits requests (and tokens) per value of a request metadata key, e.g. ``metadata={"project": "acme"}``.

    Denials raise ``RateLimited`` with ``retry_after``. Token limits reserve the prompt estimate plus
    ``max_tokens`` before the call and settle to the provider's reported usage after it (for
    streams, when the stream ends). ``clock`` (seconds) replaces the storage clock, for tests.
    """

    name = "ratelimit"
    rank = 200  #: where it goes when [beluga] plugins does not list it (lower: outer)

    def __init__(self, *, clock: Callable[[], float] | None = None) -> None:
        self._clock = clock
        self._policy: _Policy | None = None
        self._storage_spec: tuple[Any, ...] | None = None
        self._storage: Storage | None = None
        self._pending = Pending()
        self._apply(RateLimitSettings())

    # -- configuration -------------------------------------------------------------------------
    @hookimpl
    def config_schema(self) -> type:
        return RateLimitSettings

    @hookimpl
    def on_settings(self, settings: RateLimitSettings) -> None:
        self._apply(settings)

    def _apply(self, s: RateLimitSettings) -> None:
        spec = (s.storage, s.failure_mode, float(s.timeout), float(s.recheck_interval))
        storage = self._storage
        if storage is None or spec != self._storage_spec:
            if s.storage.startswith("memory://"):
                storage = MemoryStorage() if self._clock is None else MemoryStorage(clock=self._clock)
            else:
                storage = storage_from_url(
                    s.storage,
                    failure_mode=s.failure_mode,  # type: ignore[arg-type]
                    timeout=float(s.timeout),
                    recheck_interval=float(s.recheck_interval),
                )
            old, self._storage, self._storage_spec = self._storage, storage, spec
            if old is not None and not isinstance(old, MemoryStorage):
                old.close()

        def limiter(limit: int, window: float, kind: str) -> RateLimiter:
            return RateLimiter(
                limit,
                window,
                storage,
                strategy=s.strategy,  # type: ignore[arg-type]
                key_prefix=f"{s.key_prefix}{kind}:",
                clock=self._clock,
                name=kind,
            )

        requests = tuple(
            (field, limiter(getattr(s, field), window, "req"))
            for field, window in _WINDOWS
            if getattr(s, field) > 0
        )
        tokens = limiter(s.tokens_per_minute, 60.0, "tok") if s.tokens_per_minute > 0 else None
        tools = limiter(s.tool_calls_per_minute, 60.0, "tool") if s.tool_calls_per_minute > 0 else None
        self._policy = _Policy(s, storage, requests, tokens, tools) if requests or tokens or tools else None

    # -- the request path ----------------------------------------------------------------------
    def key_of(self, metadata: Any, settings: RateLimitSettings | None = None) -> str:
        """The limit key for a request's metadata (the default key, or an error, when it has none)."""
        s = settings or (self._policy.settings if self._policy else RateLimitSettings())
        value = metadata.get(s.key) if metadata else None
        if value is None or value == "":
            if not s.default_key:
                raise BelugaError(
                    ErrorCode.INVALID_INPUT,
                    f"ratelimit: the request has no {s.key!r} in its metadata; pass metadata={{{s.key!r}: ...}} "
                    "or set [plugins.ratelimit] default_key to limit such requests together",
                )
            return s.default_key
        return str(value)

    @hookimpl
    async def wrap_llm_call(self, request: LLMRequest, call_next: CallNext) -> LLMResponse | LLMStream:
        policy = self._policy
        if policy is None:
            return await call_next(request)
        s = policy.settings
        key = self.key_of(request.metadata, s)
        taken: list[tuple[RateLimiter, Reservation]] = []
        tokens = policy.tokens
        reservation: Reservation | None = None
        try:
            for _, lim in policy.requests:
                d = await lim.aacquire(key)
                if not d.allowed:
                    raise lim.denial(f"{s.key}={key}", 1, d, "requests")
                taken.append((lim, Reservation(key, 1, d.bucket, d.remaining)))
            if tokens is not None:
                estimate = estimate_request_tokens(request.messages) + (request.max_tokens or s.default_max_tokens)
                d = await tokens.aacquire(key, estimate)
                if not d.allowed:
                    raise tokens.denial(f"{s.key}={key}", estimate, d, "tokens")
                reservation = Reservation(key, estimate, d.bucket, d.remaining)
        except BaseException:
            for lim, r in taken:  # a request that was not let through does not use up the others
                await lim.arefund(r)
            raise
        if tokens is None or reservation is None:
            return await call_next(request)
        try:
            result = await call_next(request)
        except BaseException:
            await tokens.arefund(reservation)  # the provider did not answer: nothing to bill
            raise
        if isinstance(result, LLMStream):
            result.on_finish(self._stream_settler(tokens, reservation, result))
        else:
            used = result.usage.total_tokens
            if used:
                await tokens.asettle(reservation, used)
        return result

    @hookimpl
    async def wrap_tool_call(self, call: ToolInvocation, call_next: ToolCallNext) -> Any:
        """``tool_calls_per_minute`` per key (the call's metadata, as for requests)."""
        policy = self._policy
        if policy is None or policy.tools is None:
            return await call_next(call)
        key = self.key_of(call.metadata, policy.settings)
        d = await policy.tools.aacquire(key)
        if not d.allowed:
            raise policy.tools.denial(f"{policy.settings.key}={key}", 1, d, "tool calls")
        return await call_next(call)

    def _stream_settler(
        self, tokens: RateLimiter, reservation: Reservation, stream: LLMStream
    ) -> Callable[[LLMResponse | None, BaseException | None], None]:
        def settle(response: LLMResponse | None, error: BaseException | None) -> None:
            usage = response.usage if response is not None else stream.usage
            used = usage.total_tokens if usage is not None else 0
            if not used:
                return  # no usage reported: the estimate stays charged
            if isinstance(tokens.storage, MemoryStorage):
                tokens.settle(reservation, used)
                return
            self._pending.start(lambda: tokens.asettle(reservation, used), lambda: tokens.settle(reservation, used))

        return settle

    async def drain(self) -> None:
        """Wait for stream settlements still on their way to storage (tests, graceful shutdown)."""
        await self._pending.drain()

    # -- introspection -------------------------------------------------------------------------
    def remaining(self, key: str) -> dict[str, int]:
        """What ``key`` may still use now, per configured limit (e.g. for ``X-RateLimit-Remaining``)."""
        policy = self._policy
        if policy is None:
            return {}
        out = {field: lim.remaining(key) for field, lim in policy.requests}
        if policy.tokens is not None:
            out["tokens_per_minute"] = policy.tokens.remaining(key)
        return out

    async def aremaining(self, key: str) -> dict[str, int]:
        policy = self._policy
        if policy is None:
            return {}
        out = {field: await lim.aremaining(key) for field, lim in policy.requests}
        if policy.tokens is not None:
            out["tokens_per_minute"] = await policy.tokens.aremaining(key)
        return out

    # -- lifecycle -----------------------------------------------------------------------------
    def close(self) -> None:
        """Close the storage's connections (Redis). Call it after the Kit is closed."""
        if self._storage is not None:
            self._storage.close()

    @hookimpl
    async def on_close(self) -> None:
        """``Kit.aclose()`` closes the storage's connections."""
        await self.aclose()

    async def aclose(self) -> None:
        await self.drain()
        if self._storage is not None:
            await self._storage.aclose()

    def __repr__(self) -> str:
        policy = self._policy
        return f"<RateLimitPlugin {policy.settings if policy else 'off'}>"


__all__ = ["RateLimitPlugin", "RateLimitSettings"]
