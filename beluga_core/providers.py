"""Model providers: the ``Provider`` protocol, ``BaseProvider`` and the ``ProviderRegistry``.

Plugins add providers through the ``register_providers`` hook; the built-in ``echo`` comes in the
same way (``beluga_core.builtin``).
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, ClassVar, Protocol, runtime_checkable

from beluga_core._sync import iterate_sync, run_sync
from beluga_core.config import ProviderConfig, check_options
from beluga_core.errors import ConfigError, ErrorCode, ProviderError
from beluga_core.types import LLMRequest, LLMResponse, Message, StreamChunk


@runtime_checkable
class Provider(Protocol):
    """What the chain calls: ``agenerate`` and ``astream`` with an ``LLMRequest`` (``astream``
    yields chunks, the last with usage), and ``aclose`` when the Kit closes."""

    name: str

    async def agenerate(self, request: LLMRequest) -> LLMResponse: ...

    def astream(self, request: LLMRequest) -> AsyncIterator[StreamChunk]: ...

    async def aclose(self) -> None: ...


ProviderFactory = Callable[[ProviderConfig], Provider]


class BaseProvider:
    """A base for providers: implement ``complete(request)`` and ``stream_chunks(request)``.

    It gives the ``Provider`` the chain calls and, for scripts, twins that take the same
    arguments: ``agenerate``/``generate`` and ``astream``/``stream`` each take an ``LLMRequest``, or
    messages (a string, messages, or OpenAI-style dicts) plus ``LLMRequest`` fields as keywords
    (``model`` defaults to the provider's): ``provider.generate("Hi", max_tokens=50)``.
    """

    name = "provider"
    #: The attrs class of ``[providers.<name>] options`` (None: any table). The configuration is
    #: checked against it, so a misspelt option is an error naming its key and line.
    options_schema: ClassVar[type | None] = None

    def __init__(self, config: ProviderConfig | None = None) -> None:
        self.config = config or ProviderConfig()

    # -- what a provider implements ----------------------------------------------------------
    async def complete(self, request: LLMRequest) -> LLMResponse:
        """Answer ``request`` whole."""
        raise NotImplementedError(f"{type(self).__name__} does not implement complete()")

    def stream_chunks(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        """Answer ``request`` as chunks, the last carrying usage and the finish reason."""
        raise NotImplementedError(f"{type(self).__name__} does not implement stream_chunks()")

    async def embed(self, request: LLMRequest) -> LLMResponse:
        """Embed ``request`` (``operation == "embeddings"``): one vector per message's text, in
        ``LLMResponse.embeddings``. A provider without embeddings keeps this default, which refuses."""
        raise no_embeddings(self.name)

    async def aclose(self) -> None:
        """Release connections (called once by ``Kit.aclose``)."""
        return None

    # -- what callers use --------------------------------------------------------------------
    def request(self, request: Any, **fields: Any) -> LLMRequest:
        """``request`` as an ``LLMRequest``: one is returned as it is; messages (a string, messages,
        or OpenAI-style dicts) are made into one with ``fields``."""
        if isinstance(request, LLMRequest):
            if fields:
                raise TypeError("pass either an LLMRequest or messages with keyword fields, not both")
            return request
        fields.setdefault("model", self.config.model)
        return LLMRequest(request, **fields)

    def agenerate(self, request: Any, **fields: Any) -> Coroutine[Any, Any, LLMResponse]:
        """``complete`` for an ``LLMRequest``, or for messages and ``LLMRequest`` fields."""
        return self.complete(self.request(request, **fields))

    def generate(self, request: Any, **fields: Any) -> LLMResponse:
        """Synchronous ``agenerate`` for plain scripts."""
        return run_sync(self.agenerate(request, **fields), f"{self.name}.generate")

    def astream(self, request: Any, **fields: Any) -> AsyncIterator[StreamChunk]:
        """``stream_chunks`` for an ``LLMRequest``, or for messages and ``LLMRequest`` fields."""
        return self.stream_chunks(self.request(request, **fields))

    def stream(self, request: Any, **fields: Any) -> Iterator[StreamChunk]:
        """Synchronous ``astream`` for plain scripts."""
        return iterate_sync(self.astream(request, **fields), f"{self.name}.stream")

    async def astream_text(self, request: Any, **fields: Any) -> AsyncIterator[str]:
        """Only the text of ``astream``."""
        async for chunk in self.astream(request, **fields):
            if chunk.text:
                yield chunk.text

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} model={self.config.model!r}>"


def no_embeddings(name: str) -> ProviderError:
    """The refusal of a provider that offers no embeddings (not retryable: another try cannot help)."""
    return ProviderError(ErrorCode.INVALID_INPUT, f"provider {name!r} does not offer embeddings", provider=name)


class LazyProvider:
    """A provider factory that imports its class on first use, so loading the plugin (``beluga
    plugins``, a Kit that never calls it) does not import the provider's HTTP stack:
    ``register("openai", LazyProvider("beluga_openai.provider:OpenAIProvider", OpenAIOptions))``.

    ``options_schema`` is the attrs class of the provider's ``options``, checked with the config.
    """

    def __init__(self, target: str, options_schema: type | None = None) -> None:
        self._module, _, self._attr = target.partition(":")
        if not self._module or not self._attr:
            raise ValueError(f"target must be 'module:Class', got {target!r}")
        self.target = target
        self.options_schema = options_schema

    def __call__(self, config: ProviderConfig) -> Provider:
        cls = getattr(importlib.import_module(self._module), self._attr)
        return cls(config)  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"LazyProvider({self.target!r})"


def estimate_tokens(text: str) -> int:
    """A fast, deterministic token estimate: about four characters a token, at least one."""
    return max(1, (len(text) + 3) // 4) if text else 0


def estimate_request_tokens(messages: tuple[Message, ...]) -> int:
    """``estimate_tokens`` over every message, plus four a message for its framing."""
    return sum(estimate_tokens(m.text) + 4 for m in messages)


class ProviderRegistry:
    """Provider factories by name, as plugins registered them (``register_providers``)."""

    def __init__(self) -> None:
        self._factories: dict[str, tuple[ProviderFactory, str]] = {}

    def register(self, name: str, factory: ProviderFactory, *, plugin: str = "") -> None:
        if name in self._factories and self._factories[name][1] != plugin:
            raise ConfigError(f"provider {name!r} is registered twice: by {self._factories[name][1]} and by {plugin}")
        self._factories[name] = (factory, plugin)

    def names(self) -> list[str]:
        return sorted(self._factories)

    def kinds(self) -> dict[str, str]:
        """Each registered kind with the plugin that registered it, by kind."""
        return {kind: plugin for kind, (_, plugin) in sorted(self._factories.items())}

    def options(self) -> dict[str, type | None]:
        """Each kind with the attrs class of its ``options`` (a factory's ``options_schema``), or None."""
        return {kind: getattr(factory, "options_schema", None) for kind, (factory, _) in self._factories.items()}

    def create(self, name: str, config: ProviderConfig | None = None) -> Provider:
        config = config or ProviderConfig()
        kind = config.type or name
        entry = self._factories.get(kind)
        if entry is None:
            close = difflib.get_close_matches(kind, self.names(), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"unknown provider {kind!r}{hint} (available: {', '.join(self.names())}; "
                f"install its plugin, e.g. pip install beluga-{kind})"
            )
        schema = getattr(entry[0], "options_schema", None)
        if schema is not None:  # a ProviderConfig built in code has not been through the loader
            check_options(schema, config.options, f"providers.{name}.options")
        return entry[0](config)


__all__ = [
    "BaseProvider",
    "LazyProvider",
    "Provider",
    "ProviderFactory",
    "ProviderRegistry",
    "estimate_request_tokens",
    "estimate_tokens",
]
