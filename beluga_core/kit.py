"""``Kit``: the plugins, composed in the user's order into one chain, with a config that reloads.

The chain is compiled once per configuration into an immutable ``Chain`` snapshot. A call reads
``kit._chain`` once (an attribute read, no lock) and runs on that snapshot to its end, so a reload
that swaps in a new chain never tears a call in flight.
"""

from __future__ import annotations

import inspect
import json
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs

from beluga_core._sync import iterate_sync, run_sync
from beluga_core.chain import Chain, compile_chain, parse_target
from beluga_core.config import BelugaSettings, Config, ProviderConfig, diff, load_config, peek_beluga, to_dict
from beluga_core.config.watch import FileWatcher
from beluga_core.errors import ConfigError
from beluga_core.guard import GuardInput, GuardResult, Offload, Stage, StageGuard, arun_stage
from beluga_core.masking import get_logger
from beluga_core.providers import Provider, ProviderRegistry
from beluga_core.registry import PluginManager, Selection, strict_from_env
from beluga_core.stream import LLMStream
from beluga_core.types import HumanMessage, LLMRequest, LLMResponse, Message, StreamChunk, ToolInvocation, ToolSpec

log = get_logger("beluga.kit")

@attrs.frozen
class ReloadResult:
    """What a reload did: whether it was applied, which keys changed, and the error if not."""

    applied: bool
    changed: tuple[str, ...] = ()
    error: BaseException | None = None
    plugin_errors: Mapping[str, str] = attrs.field(factory=dict)


class Kit:
    """The composed middleware chain.

    >>> kit = Kit.from_config("beluga.toml")
    >>> kit.generate("Hello").text

    ``plugins`` adds in-process plugins (objects, or ``{name: object}``); ``entry_points=False``
    ignores the installed ones. ``plugin_manager`` builds the Kit on an existing manager (the CLI
    does, so plugins load once); Kits built on one manager share its plugin objects.
    """

    def __init__(
        self,
        config: Config | Mapping[str, Any] | str | Path | None = None,
        *,
        plugins: Iterable[Any] | Mapping[str, Any] = (),
        entry_points: bool = True,
        env: Mapping[str, str] | None = None,
        strict: bool | None = None,
        plugin_manager: PluginManager | None = None,
    ) -> None:
        self._env = dict(os.environ if env is None else env)
        self._source: str | None = None if config is None or isinstance(config, Mapping | Config) else str(config)
        self._raw_config = config
        if plugin_manager is not None:  # the CLI's: its plugins are loaded once per process
            self.plugins = plugin_manager
        else:
            strict = strict_from_env(self._env) if strict is None else strict
            self.plugins = PluginManager(selection=Selection.from_env(self._env), strict=strict, entry_points=False)
            if entry_points:
                self.plugins.scan()
        self._entry_points = entry_points
        self.reload_errors: dict[str, str] = {}
        self.last_reload_error: BaseException | None = None
        self._reload_listeners: list[Callable[[ReloadResult], Any]] = []
        self._provider_cache: dict[tuple[str, str], Provider] = {}
        self._watcher: Any = None
        self._closed = False
        self._guard_pool: ThreadPoolExecutor | None = None
        self._guard_pool_size = 0
        self._guard_pool_lock = threading.Lock()
        extra = plugins.items() if isinstance(plugins, Mapping) else ((None, p) for p in plugins)
        # Load entry points the config allows, then in-process plugins, then validate and compile.
        self._load_for(config.beluga if isinstance(config, Config) else peek_beluga(config))
        for name, obj in extra:
            self.plugins.register(obj, name)
        registry = self.plugins.providers()
        new = config if isinstance(config, Config) else self._parse(config, registry)
        self._swap(self._compile(new, registry))
        self._notify_config(None, new)

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def from_config(cls, path: str | Path | None = None, **kwargs: Any) -> Kit:
        """Build a Kit from a TOML/JSON file (None: the embedded defaults)."""
        return cls(path, **kwargs)

    def _load_for(self, beluga: BelugaSettings) -> None:
        if self._entry_points:
            self.plugins.load_selected(self.plugins.selection_for(beluga))

    def _parse(
        self,
        source: Config | Mapping[str, Any] | str | Path | None,
        registry: ProviderRegistry,
        text: str | None = None,
    ) -> Config:
        """Validate ``source`` against the loaded plugins and the providers ``registry`` knows."""
        if isinstance(source, Config):
            return source
        return load_config(source, self.plugins, env=self._env, providers=registry.options(), text=text)

    # -- compiling the chain -----------------------------------------------------------------
    def _compile(self, config: Config, registry: ProviderRegistry) -> Chain:
        order = self.plugins.order(config.beluga.plugins, self.plugins.selection_for(config.beluga))
        return compile_chain(
            config,
            order,
            lambda hook: self.plugins.hookimpls(hook, order),
            self.plugins.rank,
            self._providers_for(config, registry),
            registry,
            lambda guards: self._offload(config, guards),
        )

    def _offload(self, config: Config, guards: Mapping[Stage, tuple[StageGuard, ...]]) -> Offload | None:
        chars, threads = config.beluga.guard_offload_chars, config.beluga.guard_threads
        if chars <= 0 or not any(not g.is_async for stage in guards.values() for g in stage):
            return None
        return Offload(chars, lambda: self._guard_executor(threads))

    def _guard_executor(self, threads: int) -> ThreadPoolExecutor:
        """The worker threads that guard long texts: started on first use, resized by a reload
        (work already queued on the old pool finishes there)."""
        pool = self._guard_pool
        if pool is not None and self._guard_pool_size == threads:
            return pool
        with self._guard_pool_lock:
            if self._guard_pool is None or self._guard_pool_size != threads:
                old = self._guard_pool
                self._guard_pool = ThreadPoolExecutor(threads, thread_name_prefix="beluga-guard")
                self._guard_pool_size = threads
                if old is not None:
                    old.shutdown(wait=False)
            return self._guard_pool

    def _providers_for(self, config: Config, registry: ProviderRegistry) -> dict[str, Provider]:
        names = {config.beluga.provider, *(parse_target(t)[0] for t in config.beluga.fallback), *config.providers,
                 *(parse_target(t)[0] for group in config.models.values() for t in group.deployments)}
        out: dict[str, Provider] = {}
        for name in sorted(names):
            pc = config.provider_config(name)
            if config.beluga.model and name == config.beluga.provider and pc.model is None:
                pc = attrs.evolve(pc, model=config.beluga.model)
            key = (name, _config_key(pc))
            provider = self._provider_cache.get(key)
            if provider is None:
                provider = self._provider_cache[key] = registry.create(name, pc)
            out[name] = provider
        return out

    # -- plugins -----------------------------------------------------------------------------
    def register(self, plugin: Any, name: str | None = None) -> str:
        """Register a plugin object in-process and recompile the chain. Returns its name."""
        name = self.plugins.register(plugin, name)
        try:
            self._swap(self._recompile())
        except Exception:
            self.plugins.unregister(name)
            raise
        self._call_config_change(name, None, self._chain.config)
        return name

    def unregister(self, name: str) -> None:
        self.plugins.unregister(name)
        self._swap(self._recompile())

    def _recompile(self) -> Chain:
        """The chain for the current plugins: the config source parsed again (a plugin's section
        may now be checked), or the running config when the source no longer parses."""
        registry = self.plugins.providers()
        if isinstance(self._raw_config, Config):
            config = self._raw_config
        else:
            try:
                config = self._parse(self._source or self._raw_config, registry)
            except ConfigError:
                if not hasattr(self, "_chain"):
                    raise
                config = self._chain.config
        return self._compile(config, registry)

    def _swap(self, chain: Chain) -> None:
        """Put a compiled chain in force. Each assignment is atomic; a call reads ``_chain`` once,
        and ``config`` is a plain attribute, so reading it is as cheap as Python allows."""
        self._chain = chain
        self.config: Config = chain.config

    @property
    def order(self) -> tuple[str, ...]:
        """The effective plugin order of the current chain."""
        return self._chain.order

    @property
    def call_path(self) -> tuple[str, ...]:
        """The plugins a model call passes through (middleware and guards), in order."""
        hooks = ("wrap_llm_call", "on_input", "on_output")
        on_path = {n for h in hooks for n, _ in self.plugins.hookimpls(h, self._chain.order)}
        return tuple(n for n in self._chain.order if n in on_path)

    @property
    def provider_registry(self) -> ProviderRegistry:
        """The provider kinds the current chain was built with (``kinds()``, ``create()``)."""
        return self._chain.registry

    def provider(self, name: str | None = None) -> Provider:
        """The configured provider ``name`` (the default provider when None)."""
        chain = self._chain
        return chain.providers[name or chain.config.beluga.provider]

    def deployments(self) -> dict[str, Any]:
        """Each ``[models.<name>]`` group's strategy and deployments: target, healthy (not cooling
        down after a failure), calls in flight, calls, failures, moving average latency."""
        return {name: router.snapshot() for name, router in self._chain.routers.items()}

    # -- model calls -------------------------------------------------------------------------
    def _request(
        self,
        chain: Chain,
        messages: Any,
        model: str | None,
        provider: str | None,
        metadata: Mapping[str, Any] | None,
        timeout: float | None,
        tools: Sequence[ToolSpec] | None,
        max_tokens: int | None,
        temperature: float | None,
        stream: bool,
        params: dict[str, Any],
    ) -> LLMRequest:
        if isinstance(messages, LLMRequest):
            return messages
        beluga = chain.config.beluga
        if timeout is None:
            timeout = beluga.deadline
        return LLMRequest(
            messages,
            model or beluga.model,
            provider or beluga.provider,
            tuple(tools or ()),
            max_tokens,
            temperature,
            stream,
            metadata if metadata is not None else {},
            None if timeout is None else time.monotonic() + timeout,
            params,
        )

    async def agenerate(
        self,
        messages: str | Message | Iterable[Message | Mapping[str, Any]] | LLMRequest,
        *,
        model: str | None = None,
        provider: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        tools: Sequence[ToolSpec] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        **params: Any,
    ) -> LLMResponse:
        """Run one model call through the chain: middleware, input guards, provider, output guards."""
        chain = self._chain
        request = self._request(
            chain, messages, model, provider, metadata, timeout, tools, max_tokens, temperature, False, params
        )
        result = await chain.call(request)
        if isinstance(result, LLMStream):  # a middleware turned it into a stream; read it whole
            return await result.collect()
        return result

    def generate(self, messages: Any, **kwargs: Any) -> LLMResponse:
        """Synchronous ``agenerate`` for plain scripts."""
        return run_sync(self.agenerate(messages, **kwargs), "Kit.generate")

    async def astream(
        self,
        messages: Any,
        *,
        model: str | None = None,
        provider: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        tools: Sequence[ToolSpec] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        **params: Any,
    ) -> AsyncIterator[StreamChunk]:
        """Stream a model call through the chain; output guards see the text before you do."""
        chain = self._chain
        request = self._request(
            chain, messages, model, provider, metadata, timeout, tools, max_tokens, temperature, True, params
        )
        result = await chain.call(request)
        if isinstance(result, LLMResponse):
            yield StreamChunk(
                text=result.text, usage=result.usage, finish_reason=result.finish_reason, model=result.model
            )
            return
        try:
            async for chunk in result:
                yield chunk
        finally:
            await result.aclose()

    def stream(self, messages: Any, **kwargs: Any) -> Iterator[StreamChunk]:
        """Synchronous ``astream`` for plain scripts: the chunks as they arrive."""
        return iterate_sync(self.astream(messages, **kwargs), "Kit.stream")

    async def aembed(
        self,
        inputs: str | Sequence[str],
        *,
        model: str | None = None,
        provider: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        **params: Any,
    ) -> LLMResponse:
        """Embed ``inputs`` through the chain (middleware, input guards, the provider's ``embed``):
        ``response.embeddings`` holds one vector per input, in order. Input guards read each input as
        a user message, so a redacting guard's replacement is what gets embedded."""
        texts = [inputs] if isinstance(inputs, str) else list(inputs)
        if not texts or not all(isinstance(t, str) for t in texts):
            raise ValueError("embeddings need one or more strings as inputs")
        chain = self._chain
        request = self._request(chain, [HumanMessage(t) for t in texts], model, provider, metadata, timeout, None,
                                None, None, False, params).replace(operation="embeddings")
        result = await chain.call(request)
        assert isinstance(result, LLMResponse)
        return result

    def embed(self, inputs: str | Sequence[str], **kwargs: Any) -> LLMResponse:
        """Synchronous ``aembed`` for plain scripts."""
        return run_sync(self.aembed(inputs, **kwargs), "Kit.embed")

    # -- tool calls --------------------------------------------------------------------------
    async def acall_tool(
        self,
        name: str,
        arguments: Mapping[str, Any],
        fn: Callable[..., Any],
        *,
        metadata: Mapping[str, Any] | None = None,
    ) -> Any:
        """Guard every string in ``arguments`` (``on_tool_call``), then run ``fn(**arguments)``
        through ``wrap_tool_call`` middleware. Raises ``GuardBlocked`` or ``ToolFailed``."""
        chain = self._chain
        meta = dict(metadata or {})
        if chain.guards["tool"]:
            arguments = await chain.guard_arguments(name, arguments, meta)
        return await chain.tool_call(ToolInvocation(name, arguments, fn, meta))

    def call_tool(self, name: str, arguments: Mapping[str, Any], fn: Callable[..., Any], **kwargs: Any) -> Any:
        """Synchronous ``acall_tool``."""
        return run_sync(self.acall_tool(name, arguments, fn, **kwargs), "Kit.call_tool")

    # -- guards standalone -------------------------------------------------------------------
    async def aguard(self, text: str, stage: Stage = "input", metadata: Mapping[str, Any] | None = None) -> GuardResult:
        """Run one guard stage of the current chain over ``text`` (what ``beluga guard`` does)."""
        chain = self._chain
        gi = GuardInput(text, stage, dict(metadata or {}))
        return await arun_stage(chain.guards[stage], gi, chain.notify, chain.offload)

    def guard(self, text: str, stage: Stage = "input", metadata: Mapping[str, Any] | None = None) -> GuardResult:
        return run_sync(self.aguard(text, stage, metadata), "Kit.guard")

    # -- configuration -----------------------------------------------------------------------
    def reload(
        self, source: Config | Mapping[str, Any] | str | Path | None = None, *, text: str | None = None
    ) -> ReloadResult:
        """Parse, validate and compile a new configuration, then swap it in atomically.

        Any failure keeps the running configuration and chain; the error is returned, kept in
        ``last_reload_error``, logged once and passed to ``on_reload`` listeners.
        """
        old = self._chain
        src = source if source is not None else (self._source or self._raw_config)
        try:
            peek = src.beluga if isinstance(src, Config) else peek_beluga(src if text is None else None)
            self._load_for(peek)
            registry = self.plugins.providers()
            new_config = self._parse(src, registry, text=text)
            new_chain = self._compile(new_config, registry)
        except Exception as exc:  # noqa: BLE001 - a bad reload must never take the kit down
            self.last_reload_error = exc
            log.error("config reload rejected, keeping the running config: %s", exc)
            result = ReloadResult(False, (), exc)
            self._tell(result)
            return result
        self._swap(new_chain)
        self.last_reload_error = None
        changed = tuple(_changed(old.config, new_config))
        if isinstance(src, str | Path):
            self._source = str(src)
        errors = self._notify_config(old.config, new_config)
        if changed:
            log.info("config reloaded; changed keys: %s", ", ".join(changed))
        result = ReloadResult(True, changed, None, errors)
        self._tell(result)
        return result

    def on_reload(self, listener: Callable[[ReloadResult], Any]) -> None:
        """Call ``listener(ReloadResult)`` after every reload attempt, applied or not."""
        self._reload_listeners.append(listener)

    def _tell(self, result: ReloadResult) -> None:
        for listener in self._reload_listeners:
            try:
                listener(result)
            except Exception:
                log.exception("reload listener %r failed", listener)

    def _notify_config(self, old: Config | None, new: Config) -> dict[str, str]:
        errors: dict[str, str] = {}
        for name in self._chain.order:
            err = self._call_config_change(name, old, new)
            if err:
                errors[name] = err
        self.reload_errors = errors
        return errors

    def _call_config_change(self, name: str, old: Config | None, new: Config) -> str | None:
        """Hand plugin ``name`` its settings (``on_settings``, when they are new to it), then the
        whole config (``on_config_change``); returns the first error, after logging it."""
        settings = new.plugin_settings(name)
        calls: list[tuple[str, dict[str, Any]]] = [("on_config_change", {"old": old, "new": new})]
        if old is None or settings != old.plugin_settings(name):
            calls.insert(0, ("on_settings", {"settings": settings}))
        for hook, kwargs in calls:
            _, errors = self.plugins.call_each(hook, [name], **kwargs)
            if name in errors:
                msg = f"{type(errors[name]).__name__}: {errors[name]}"
                log.error("plugin %r failed to apply the new config (%s): %s", name, hook, msg)
                return msg
        return None

    def watch_config(self, interval: float = 1.0, path: str | Path | None = None) -> Any:
        """Start polling the config file; every change is applied with ``reload``. Returns the watcher."""
        target = Path(path or self._source or "")
        if not str(target):
            raise ConfigError("watch_config() needs a config file; this Kit was built without one")
        self._source = str(target)

        def apply(data: bytes) -> None:
            result = self.reload(target, text=data.decode("utf-8", errors="replace"))
            if not result.applied and result.error is not None:
                raise result.error

        if self._watcher is not None:
            self._watcher.stop()
        self._watcher = FileWatcher(target, interval, on_change=apply, initial=True)
        self._watcher.start()
        return self._watcher

    @property
    def watcher(self) -> Any:
        """The running config watcher (``watch_config``), or None."""
        return self._watcher

    def stop_watching(self) -> None:
        """Stop polling the config file (the running config stays in force)."""
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None

    # -- lifecycle ---------------------------------------------------------------------------
    async def aclose(self) -> None:
        """Stop the watcher and close every provider's connections."""
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None
        results, errors = self.plugins.call_each("on_close", list(self.plugins.loaded))
        for name, exc in errors.items():
            log.error("plugin %r failed in on_close", name, exc_info=exc)
        for name, result in results.items():
            try:
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("plugin %r failed in on_close", name)
        for provider in list(self._provider_cache.values()):
            try:
                await provider.aclose()
            except Exception:
                log.exception("closing provider %r failed", provider)
        with self._guard_pool_lock:
            pool, self._guard_pool = self._guard_pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        self._closed = True

    def close(self) -> None:
        run_sync(self.aclose(), "Kit.close")

    async def __aenter__(self) -> Kit:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __enter__(self) -> Kit:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Kit plugins={list(self._chain.order)} provider={self._chain.config.beluga.provider!r}>"


def _config_key(pc: ProviderConfig) -> str:
    return json.dumps(to_dict(pc, masked=False), sort_keys=True, default=str)


def _changed(old: Config, new: Config) -> list[str]:
    return diff(old.as_dict(masked=False), new.as_dict(masked=False))


__all__ = ["Kit", "ReloadResult", "parse_target"]
