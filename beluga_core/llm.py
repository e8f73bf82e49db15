"""Model providers: the ``Provider`` protocol, ``ProviderConfig``, the registry and ``new()``.

Plugins add providers through the ``register_providers`` hook; the core ships ``echo``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import attrs

from beluga_core._sync import run_sync
from beluga_core.config import Duration, setting
from beluga_core.errors import BelugaError, BudgetExhausted, ConfigError, ErrorCode, ProviderError
from beluga_core.schema import AIMessage, HumanMessage, LLMRequest, LLMResponse, Message, StreamChunk, Usage
from beluga_core.stream import LLMStream


@attrs.frozen
class ProviderConfig:
    """How to reach one provider. ``api_key`` never appears in reprs, logs or errors."""

    api_key: str | None = setting(None, secret=True, help="API key; use ${ENV_VAR} interpolation")
    model: str | None = setting(None, help="default model for requests that name none")
    base_url: str | None = setting(None, help="API base URL (OpenAI-compatible servers, proxies)")
    connect_timeout: Duration = setting(Duration(5.0), min=0, help="TCP/TLS connect timeout")
    read_timeout: Duration = setting(Duration(60.0), min=0, help="time allowed between bytes read")
    max_connections: int = setting(20, min=1, help="pooled connections per provider")
    type: str | None = setting(None, help="provider kind when the section name is an alias")
    options: Mapping[str, Any] = setting(factory=dict, help="provider-specific options")


@runtime_checkable
class Provider(Protocol):
    """What a provider plugin implements. ``astream`` yields chunks, the last with usage."""

    name: str

    async def agenerate(self, request: LLMRequest) -> LLMResponse: ...

    def astream(self, request: LLMRequest) -> AsyncIterator[StreamChunk]: ...

    async def aclose(self) -> None: ...


ProviderFactory = Callable[[ProviderConfig], Provider]


class BaseProvider:
    """A convenient base: implement ``agenerate`` and ``astream``; get ``generate``/``stream`` free."""

    name = "provider"

    def __init__(self, config: ProviderConfig | None = None) -> None:
        self.config = config or ProviderConfig()

    async def agenerate(self, request: LLMRequest) -> LLMResponse:
        raise NotImplementedError

    def astream(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None

    def _request(self, messages: Any, kwargs: dict[str, Any]) -> LLMRequest:
        if isinstance(messages, LLMRequest):
            return messages
        kwargs.setdefault("model", self.config.model)
        return LLMRequest(messages, **kwargs)

    def generate(self, messages: Any, **kwargs: Any) -> LLMResponse:
        """Synchronous ``agenerate`` for plain scripts."""
        return run_sync(self.agenerate(self._request(messages, kwargs)), f"{self.name}.generate")

    async def astream_text(self, messages: Any, **kwargs: Any) -> AsyncIterator[str]:
        async for chunk in self.astream(self._request(messages, kwargs)):
            if chunk.text:
                yield chunk.text

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} model={self.config.model!r}>"


def estimate_tokens(text: str) -> int:
    """A fast, deterministic token estimate: about four characters a token, at least one."""
    return max(1, (len(text) + 3) // 4) if text else 0


def estimate_request_tokens(messages: tuple[Message, ...]) -> int:
    return sum(estimate_tokens(m.text) + 4 for m in messages)


class EchoProvider(BaseProvider):
    """The built-in offline provider: answers with the last user message, deterministically.

    Options (``[providers.echo] options = {...}`` or ``ProviderConfig(options=...)``):
    ``prefix`` (text put before the echo), ``latency`` (seconds per call), ``fail_times`` (fail
    the first N calls), ``fail_code`` (an ``ErrorCode``, default ``provider_unavailable``) and
    ``retry_after`` (seconds, carried by the failure). ``fail_next(n, code)`` does the same at run time.
    """

    name = "echo"

    def __init__(self, config: ProviderConfig | None = None) -> None:
        super().__init__(config)
        opts = dict(self.config.options)
        self.prefix = str(opts.get("prefix", ""))
        self.latency = float(opts.get("latency", 0.0))
        self._fail_left = int(opts.get("fail_times", 0))
        self._fail_code = ErrorCode(opts.get("fail_code", "provider_unavailable"))
        self._retry_after = opts.get("retry_after")
        self.calls = 0

    def fail_next(
        self, times: int = 1, code: ErrorCode | str = ErrorCode.PROVIDER_UNAVAILABLE, retry_after: float | None = None
    ) -> None:
        """Make the next ``times`` calls fail with ``code`` (for tests and demos of retry and breaker)."""
        self._fail_left = times
        self._fail_code = ErrorCode(code)
        self._retry_after = retry_after

    async def _begin(self, request: LLMRequest) -> None:
        self.calls += 1
        if self.latency:
            remaining = request.remaining()
            if remaining is not None and remaining < self.latency:
                await asyncio.sleep(max(0.0, remaining))
                raise BudgetExhausted(ErrorCode.BUDGET_EXHAUSTED, "echo: the deadline passed during the call")
            await asyncio.sleep(self.latency)
        if self._fail_left > 0:
            self._fail_left -= 1
            raise ProviderError(
                self._fail_code,
                f"echo: simulated {self._fail_code.value} failure",
                provider="echo",
                retry_after=float(self._retry_after) if self._retry_after is not None else None,
            )

    def _reply(self, request: LLMRequest) -> str:
        for m in reversed(request.messages):
            if isinstance(m, HumanMessage):
                return self.prefix + m.text
        return self.prefix

    async def agenerate(self, request: LLMRequest) -> LLMResponse:
        await self._begin(request)
        text = self._reply(request)
        if request.max_tokens is not None and estimate_tokens(text) > request.max_tokens:
            text = text[: request.max_tokens * 4]
            finish = "length"
        else:
            finish = "stop"
        return LLMResponse(
            AIMessage(text),
            model=request.model or self.config.model or "echo",
            provider="echo",
            usage=Usage(estimate_request_tokens(request.messages), estimate_tokens(text)),
            finish_reason=finish,
        )

    async def astream(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        await self._begin(request)
        text = self._reply(request)
        model = request.model or self.config.model or "echo"
        words = text.split(" ")
        for i, word in enumerate(words):
            yield StreamChunk(text=word if i == 0 else " " + word, model=model)
            await asyncio.sleep(0)
        yield StreamChunk(
            usage=Usage(estimate_request_tokens(request.messages), estimate_tokens(text)), finish_reason="stop"
        )


class ProviderRegistry:
    """Provider factories by name: the built-in ``echo`` plus whatever plugins register."""

    def __init__(self) -> None:
        self._factories: dict[str, tuple[ProviderFactory, str]] = {"echo": (EchoProvider, "beluga-core")}

    def register(self, name: str, factory: ProviderFactory, *, plugin: str = "") -> None:
        if name in self._factories and self._factories[name][1] != plugin:
            raise ConfigError(f"provider {name!r} is registered twice: by {self._factories[name][1]} and by {plugin}")
        self._factories[name] = (factory, plugin)

    def names(self) -> list[str]:
        return sorted(self._factories)

    def create(self, name: str, config: ProviderConfig | None = None) -> Provider:
        config = config or ProviderConfig()
        kind = config.type or name
        entry = self._factories.get(kind)
        if entry is None:
            import difflib

            close = difflib.get_close_matches(kind, self.names(), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"unknown provider {kind!r}{hint} (available: {', '.join(self.names())}; "
                f"install its plugin, e.g. pip install beluga-{kind})"
            )
        return entry[0](config)


_default_registry: ProviderRegistry | None = None


def default_registry() -> ProviderRegistry:
    """The registry of the plugins installed in this environment (loaded on first use)."""
    global _default_registry
    if _default_registry is None:
        from beluga_core.plugins import PluginManager

        _default_registry = registry_for(PluginManager())
    return _default_registry


def registry_for(plugins: Any) -> ProviderRegistry:
    registry = ProviderRegistry()
    for name in plugins.loaded:
        impls = dict(plugins.hookimpls("register_providers", [name]))
        fn = impls.get(name)
        if fn is None:
            continue

        def register(pname: str, factory: ProviderFactory, _plugin: str = name) -> None:
            registry.register(pname, factory, plugin=_plugin)

        try:
            fn(register=register)
        except BelugaError:
            raise
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not break the others
            from beluga_core.plugins import log

            log.error("plugin %r failed in register_providers: %s: %s", name, type(exc).__name__, exc)
    return registry


def new(name: str, config: ProviderConfig | None = None) -> Provider:
    """Create a provider by name: ``new("openai", ProviderConfig(api_key=..., model="gpt-4o"))``."""
    return default_registry().create(name, config)


def deadline_from(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


__all__ = [
    "BaseProvider",
    "EchoProvider",
    "LLMStream",
    "Provider",
    "ProviderConfig",
    "ProviderFactory",
    "ProviderRegistry",
    "default_registry",
    "estimate_request_tokens",
    "estimate_tokens",
    "new",
]
