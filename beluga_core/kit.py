"""``Kit``: the plugins, composed in the user's order into one chain, with a config that reloads.

The chain is compiled once per configuration into an immutable ``Chain`` snapshot. A call reads
``kit._chain`` once (an attribute read, no lock) and runs on that snapshot to its end, so a reload
that swaps in a new chain never tears a call in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs

from beluga_core._sync import run_sync
from beluga_core.errors import BelugaError, BudgetExhausted, ConfigError, ErrorCode, GuardBlocked, ToolFailed
from beluga_core.guard import GuardInput, GuardResult, Offload, Stage, StageGuard, arun_stage, run_stage
from beluga_core.llm import Provider, ProviderConfig, ProviderRegistry, registry_for
from beluga_core.masking import get_logger
from beluga_core.plugins import PluginManager, Selection
from beluga_core.schema import (
    AIMessage,
    LLMRequest,
    LLMResponse,
    Message,
    StreamChunk,
    TextPart,
    ToolSpec,
)
from beluga_core.settings import Config, load_config
from beluga_core.stream import LLMStream

log = get_logger("beluga.kit")

_RECORDING: contextvars.ContextVar[list[ChainEvent] | None] = contextvars.ContextVar("beluga_recording", default=None)


@attrs.define
class ChainEvent:
    """One thing a plugin did during a recorded call (``beluga run`` prints these)."""

    plugin: str
    hook: str
    outcome: str
    ms: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)

    def describe(self) -> str:
        took = f" ({self.ms:.3f} ms incl. inner)" if self.ms is not None else ""
        return f"{self.plugin:<18} {self.hook:<14} {self.outcome}{took}"


@contextlib.contextmanager
def recording() -> Iterator[list[ChainEvent]]:
    """Record what each plugin does in the calls made inside this block (for demos and debugging)."""
    events: list[ChainEvent] = []
    token = _RECORDING.set(events)
    try:
        yield events
    finally:
        _RECORDING.reset(token)


_GUARD_HOOKS: dict[Stage, str] = {"input": "on_input", "output": "on_output", "tool": "on_tool_call"}


@attrs.frozen(slots=True)
class GuardDecision:
    """What ``on_guard_decision`` observers see: never the text itself."""

    guard: str
    stage: Stage
    allowed: bool
    modified: bool
    reason: str | None
    findings: Mapping[str, int]
    metadata: Mapping[str, Any]


@attrs.frozen(slots=True)
class ToolInvocation:
    """A tool call on its way through ``wrap_tool_call`` middleware."""

    name: str
    arguments: Mapping[str, Any]
    fn: Callable[..., Any]
    metadata: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class ReloadResult:
    """What a reload did: whether it was applied, which keys changed, and the error if not."""

    applied: bool
    changed: tuple[str, ...] = ()
    error: BaseException | None = None
    plugin_errors: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen(slots=True)
class Chain:
    """One compiled configuration: ordered guards, the middleware onion and the providers."""

    config: Config
    order: tuple[str, ...]
    guards: Mapping[Stage, tuple[StageGuard, ...]]
    llm_call: Callable[[LLMRequest], Awaitable[LLMResponse | LLMStream]]
    tool_call: Callable[[ToolInvocation], Awaitable[Any]]
    providers: Mapping[str, Provider]
    registry: ProviderRegistry
    observers: tuple[tuple[str, Callable[..., Any]], ...]
    recorded_llm_call: Callable[[LLMRequest], Awaitable[LLMResponse | LLMStream]]
    #: Tells ``on_guard_decision`` observers about a verdict (None when there are none).
    notify: Callable[[str, GuardInput, GuardResult], None] | None = None
    #: Where sync guards over long texts run (None: always on the caller's thread).
    offload: Offload | None = None

    def call(self, request: LLMRequest) -> Awaitable[LLMResponse | LLMStream]:
        if _RECORDING.get() is None:
            return self.llm_call(request)
        return self.recorded_llm_call(request)


class Kit:
    """The composed middleware chain.

    >>> kit = Kit.from_config("beluga.toml")
    >>> kit.generate("Hello").text
    """

    def __init__(
        self,
        config: Config | Mapping[str, Any] | str | Path | None = None,
        *,
        plugins: Iterable[Any] | Mapping[str, Any] = (),
        entry_points: bool = True,
        env: Mapping[str, str] | None = None,
        strict: bool | None = None,
    ) -> None:
        import os

        self._env = dict(os.environ if env is None else env)
        self._source: str | None = None if config is None or isinstance(config, Mapping | Config) else str(config)
        self._raw_config = config
        env_sel = Selection.from_env(self._env)
        from beluga_core.plugins import strict_from_env

        strict = strict_from_env(self._env) if strict is None else strict
        self.plugins = PluginManager(selection=env_sel, strict=strict, entry_points=False)
        if entry_points:
            self.plugins._scan()
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
        pre = config if isinstance(config, Config) else None
        self._load_for(pre.beluga if pre else self._peek_beluga(config))
        for name, obj in extra:
            self.plugins.register(obj, name)
        new = config if isinstance(config, Config) else self._parse(config)
        self._swap(self._compile(new))
        self._notify_config(None, new)

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def from_config(cls, path: str | Path | None = None, **kwargs: Any) -> Kit:
        """Build a Kit from a TOML/JSON file (None: the embedded defaults)."""
        return cls(path, **kwargs)

    def _peek_beluga(self, source: Any) -> Any:
        """Read just ``[beluga]`` for plugin selection before any plugin is imported."""
        from beluga_core.settings import BelugaSettings

        if source is None:
            return BelugaSettings()
        try:
            if isinstance(source, Mapping):
                data = dict(source)
            else:
                from beluga_core import config as cfg

                data, _ = cfg.read_file(source)
            section = data.get("beluga", {})
            return BelugaSettings(
                plugins=tuple(section.get("plugins", ())),
                disabled=tuple(section.get("disabled", ())),
                load_unlisted=bool(section.get("load_unlisted", True)),
            )
        except (ConfigError, TypeError, ValueError, AttributeError):
            return BelugaSettings()  # the full parse reports it properly

    def _selection(self, beluga: Any) -> Selection:
        sel = self.plugins.selection.narrowed(disabled=beluga.disabled)
        if not beluga.load_unlisted:
            sel = sel.narrowed(only=beluga.plugins)
        return sel

    def _load_for(self, beluga: Any) -> None:
        if self._entry_points:
            self.plugins.load_selected(self._selection(beluga))

    def _parse(self, source: Config | Mapping[str, Any] | str | Path | None, text: str | None = None) -> Config:
        if isinstance(source, Config):
            return source
        return load_config(source, self.plugins, env=self._env, registry=registry_for(self.plugins), text=text)

    # -- compiling the chain -----------------------------------------------------------------
    def _compile(self, config: Config) -> Chain:
        sel = self._selection(config.beluga)
        order = tuple(self.plugins.order(config.beluga.plugins, sel))
        fail_open = set(config.beluga.fail_open)
        guards: dict[Stage, tuple[StageGuard, ...]] = {}
        for stage, hook in _GUARD_HOOKS.items():
            guards[stage] = tuple(
                StageGuard.of(name, fn, fail_open=name in fail_open) for name, fn in self.plugins.hookimpls(hook, order)
            )
        observers = tuple(self.plugins.hookimpls("on_guard_decision", order))
        registry = registry_for(self.plugins)
        providers = self._providers_for(config, registry)
        wraps = self.plugins.hookimpls("wrap_llm_call", order)
        if config.beluga.fallback:
            # Outside the breaker (so an open breaker moves on to the next provider), inside retry.
            names = [n for n, _ in wraps]
            at = names.index("breaker") if "breaker" in names else len(wraps)
            wraps.insert(at, ("fallback", _fallback_layer(config)))
        offload = self._offload(config, guards)
        llm_call = _provider_call(config, guards, providers, observers, offload)
        for _, fn in reversed(wraps):
            llm_call = _layer(fn, llm_call)
        recorded = _provider_call(config, guards, providers, (*observers, ("<recording>", _record_decision)), offload)
        for name, fn in reversed(wraps):
            recorded = _recorded(name, "wrap_llm_call", _layer(fn, recorded))
        tool_call: Callable[[ToolInvocation], Awaitable[Any]] = _run_tool
        for _, fn in reversed(self.plugins.hookimpls("wrap_tool_call", order)):
            tool_call = _layer(fn, tool_call)
        return Chain(
            config,
            order,
            guards,
            llm_call,
            tool_call,
            providers,
            registry,
            observers,
            recorded,
            _decision_listener(observers),
            offload,
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
        names = {config.beluga.provider, *(parse_target(t)[0] for t in config.beluga.fallback), *config.providers}
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
            self._swap(self._compile(self._reparse()))
        except Exception:
            self.plugins.unregister(name)
            raise
        self._call_config_change(name, None, self._chain.config)
        return name

    def unregister(self, name: str) -> None:
        self.plugins.unregister(name)
        self._swap(self._compile(self._reparse()))

    def _reparse(self) -> Config:
        current = self._chain.config if hasattr(self, "_chain") else None
        if isinstance(self._raw_config, Config):
            return self._raw_config
        source = self._source if self._source else self._raw_config
        try:
            return self._parse(source)
        except ConfigError:
            if current is not None:
                return current
            raise

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

    def provider(self, name: str | None = None) -> Provider:
        chain = self._chain
        return chain.providers[name or chain.config.beluga.provider]

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
        guards = chain.guards["tool"]
        if guards:
            state: dict[str, Any] = {}
            offload = chain.offload
            if offload is not None:  # the characters the guards will read, all of the call's strings
                offload = offload.covering(sum(len(t) for _, t in _strings(arguments, ())))
            arguments = await _guard_value(arguments, "args", guards, name, meta, state, chain.notify, offload)
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
            peek = src.beluga if isinstance(src, Config) else self._peek_beluga(src if text is None else None)
            self._load_for(peek)
            new_config = self._parse(src, text=text)
            new_chain = self._compile(new_config)
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
        res = self.plugins.call_each("on_config_change", [name], old=old, new=new).get(name)
        if isinstance(res, Exception):
            msg = f"{type(res).__name__}: {res}"
            log.error("plugin %r failed to apply the new config: %s", name, msg)
            return msg
        return None

    def watch_config(self, interval: float = 1.0, path: str | Path | None = None) -> Any:
        """Start polling the config file; every change is applied with ``reload``. Returns the watcher."""
        from beluga_core.reload import FileWatcher

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
        for name, result in self.plugins.call_each("on_close", list(self.plugins.loaded)).items():
            try:
                if inspect.isawaitable(result):
                    await result
                elif isinstance(result, Exception):
                    raise result
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


# -- chain building blocks ---------------------------------------------------------------------


def parse_target(entry: str) -> tuple[str, str | None]:
    """``"anthropic:claude-3-5-haiku"`` → ``("anthropic", "claude-3-5-haiku")``; no model → None."""
    provider, _, model = entry.partition(":")
    return provider, (model or None)


def _fallback_layer(config: Config) -> Callable[..., Awaitable[Any]]:
    """Middleware that hands a call to the next provider in ``[beluga] fallback`` when one fails
    with a retryable error (rate limit, timeout, unavailable, open breaker)."""
    targets = [parse_target(t) for t in config.beluga.fallback]
    default = config.beluga.provider

    async def fallback(request: LLMRequest, call_next: Callable[[LLMRequest], Awaitable[Any]]) -> Any:
        primary = request.provider or default
        chain = [(primary, request.model)] + [t for t in targets if t != (primary, request.model)]
        failures: list[dict[str, str]] = []
        for i, (provider, model) in enumerate(chain):
            attempt = request if i == 0 else request.replace(provider=provider, model=model)
            try:
                result = await call_next(attempt)
            except BelugaError as exc:
                if not exc.retryable or i == len(chain) - 1:
                    raise
                failures.append({"provider": provider, "model": model or "", "error": exc.code.value})
                log.warning("provider %r failed (%s); falling back to %r", provider, exc.code.value, chain[i + 1][0])
                continue
            if failures:
                note = {"provider": provider, "model": model, "failed": failures}
                if isinstance(result, LLMStream):
                    result.metadata["fallback"] = note
                else:
                    result = result.replace(metadata={**result.metadata, "fallback": note})
            return result
        raise AssertionError("unreachable")

    return fallback


def _recorded(name: str, hook: str, layer: Callable[[Any], Awaitable[Any]]) -> Callable[[Any], Awaitable[Any]]:
    async def recorded(value: Any) -> Any:
        events = _RECORDING.get()
        t0 = time.perf_counter()
        try:
            result = await layer(value)
        except BaseException as exc:
            if events is not None:
                code = getattr(exc, "code", None)
                what = f"raised {type(exc).__name__}" + (f" [{code}]" if code else "")
                events.append(ChainEvent(name, hook, what, (time.perf_counter() - t0) * 1000))
            raise
        if events is not None:
            events.append(ChainEvent(name, hook, "passed", (time.perf_counter() - t0) * 1000))
        return result

    return recorded


def _record_decision(decision: GuardDecision) -> None:
    events = _RECORDING.get()
    if events is None:
        return
    hook = _GUARD_HOOKS[decision.stage]
    if not decision.allowed:
        outcome = f"blocked: {decision.reason}"
    elif decision.modified:
        outcome = "modified"
    else:
        outcome = "allowed"
    if decision.findings:
        outcome += " (" + ", ".join(f"{k}×{v}" for k, v in sorted(decision.findings.items())) + ")"
    events.append(ChainEvent(decision.guard, hook, outcome))


def _layer(fn: Callable[..., Any], inner: Callable[[Any], Awaitable[Any]]) -> Callable[[Any], Awaitable[Any]]:
    if inspect.iscoroutinefunction(fn):
        # A lambda returning the coroutine adds no frame of its own: cheaper than partial(**kw).
        return lambda value: fn(value, inner)

    async def layer(value: Any) -> Any:
        result = fn(value, inner)
        return await result if inspect.isawaitable(result) else result

    return layer


async def _run_tool(inv: ToolInvocation) -> Any:
    try:
        result = inv.fn(**inv.arguments)
        if inspect.isawaitable(result):
            result = await result
    except BelugaError:
        raise
    except Exception as exc:
        raise ToolFailed(ErrorCode.TOOL_FAILED, f"tool {inv.name!r} failed: {type(exc).__name__}") from exc
    return result


def _decision_listener(
    observers: Sequence[tuple[str, Callable[..., Any]]],
) -> Callable[[str, GuardInput, GuardResult], None] | None:
    if not observers:
        return None

    def notify(guard: str, gi: GuardInput, result: GuardResult) -> None:
        counts: dict[str, int] = {}
        for f in result.findings:
            counts[f.type] = counts.get(f.type, 0) + 1
        meta = {k: v for k, v in gi.metadata.items() if k != "request"}
        decision = GuardDecision(
            guard, gi.stage, result.allowed, result.modified is not None, result.reason, counts, meta
        )
        for name, fn in observers:
            try:
                fn(decision=decision)
            except Exception:
                log.exception("observer %r failed in on_guard_decision", name)

    return notify


#: Where an input text sits in a request: a part's index, or ("call", k, *path) for a string in the
#: arguments of an assistant message's k-th tool call (path: the keys and indexes down to it).
Segment = int | tuple[Any, ...]


def _input_segments(request: LLMRequest) -> Iterator[tuple[int, Segment, str, dict[str, Any]]]:
    """Every non-empty text the input guards see: the text of every message (user, system, tool
    results and the assistant turns of the history, which a client may write as it likes) and every
    string in the arguments of the history's tool calls."""
    for i, m in enumerate(request.messages):
        for j, part in enumerate(m.parts):
            if part.kind == "text" and part.text:  # type: ignore[union-attr]
                meta = {"role": m.role, "message_index": i, "part_index": j, "request": request.metadata}
                if m.role == "tool":
                    meta["tool"] = m.name  # type: ignore[union-attr]
                yield i, j, part.text, meta  # type: ignore[union-attr]
        if m.role == "assistant":
            for k, call in enumerate(m.tool_calls):  # type: ignore[union-attr]
                for path, text in _strings(call.arguments, ()):
                    meta = {"role": "assistant", "message_index": i, "tool_call_index": k, "tool": call.name,
                            "path": "args" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path),
                            "request": request.metadata}
                    yield i, ("call", k, *path), text, meta


def _strings(value: Any, path: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Every non-empty string in a JSON-like value, with the keys and indexes that lead to it."""
    if isinstance(value, str):
        if value:
            yield path, value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _strings(v, (*path, k))
    elif isinstance(value, list | tuple):
        for n, v in enumerate(value):
            yield from _strings(v, (*path, n))


def _replaced(value: Any, path: tuple[Any, ...], text: str) -> Any:
    """``value`` with the string at ``path`` replaced by ``text`` (containers copied, never mutated)."""
    if not path:
        return text
    head, rest = path[0], path[1:]
    if isinstance(value, Mapping):
        return {**value, head: _replaced(value[head], rest, text)}
    items = list(value)
    items[head] = _replaced(items[head], rest, text)
    return items


def _apply_edits(request: LLMRequest, edits: list[tuple[int, Segment, str]]) -> LLMRequest:
    messages = list(request.messages)
    for i, at, text in edits:
        m = messages[i]
        if isinstance(at, int):
            parts = list(m.parts)
            part = parts[at]
            assert isinstance(part, TextPart)
            parts[at] = attrs.evolve(part, text=text)
            messages[i] = attrs.evolve(m, parts=tuple(parts))
        else:
            assert isinstance(m, AIMessage)
            calls = list(m.tool_calls)
            call = calls[at[1]]
            calls[at[1]] = attrs.evolve(call, arguments=_replaced(call.arguments, at[2:], text))
            messages[i] = attrs.evolve(m, tool_calls=tuple(calls))
    return attrs.evolve(request, messages=tuple(messages))


def _provider_call(
    config: Config,
    guards: Mapping[Stage, tuple[StageGuard, ...]],
    providers: Mapping[str, Provider],
    observers: Sequence[tuple[str, Callable[..., Any]]],
    offload: Offload | None = None,
) -> Callable[[LLMRequest], Awaitable[LLMResponse | LLMStream]]:
    """The innermost link: input guards, the provider (within the deadline), output guards.

    Stages run inline when every guard is sync and every text is short; otherwise through
    ``arun_stage``, which awaits async guards and hands long texts to ``offload``'s threads."""
    in_guards, out_guards = guards["input"], guards["output"]
    in_async = any(g.is_async for g in in_guards)
    out_async = any(g.is_async for g in out_guards)
    notify = _decision_listener(observers)
    default = config.beluga.provider
    holdback = config.beluga.stream_holdback

    def blocked(res: GuardResult, stage: Stage) -> GuardBlocked:
        return GuardBlocked(res.guard or "?", res.reason or "blocked", stage=stage)

    def guard_messages(request: LLMRequest, segments: list[Any], state: dict[str, Any]) -> LLMRequest:
        edits = []
        for i, j, text, meta in segments:
            res = run_stage(in_guards, GuardInput(text, "input", meta, state), notify)
            if not res.allowed:
                raise blocked(res, "input")
            if res.modified is not None:
                edits.append((i, j, res.modified))
        return _apply_edits(request, edits) if edits else request

    async def aguard_messages(
        request: LLMRequest, segments: list[Any], state: dict[str, Any], offload: Offload | None
    ) -> LLMRequest:
        edits = []
        for i, j, text, meta in segments:
            res = await arun_stage(in_guards, GuardInput(text, "input", meta, state), notify, offload)
            if not res.allowed:
                raise blocked(res, "input")
            if res.modified is not None:
                edits.append((i, j, res.modified))
        return _apply_edits(request, edits) if edits else request

    async def guard_text(text: str, request: LLMRequest, state: dict[str, Any]) -> str:
        gi = GuardInput(text, "output", {"role": "assistant", "request": request.metadata}, state)
        if out_async or (offload is not None and offload.wants(text)):
            res = await arun_stage(out_guards, gi, notify, offload)
        else:
            res = run_stage(out_guards, gi, notify)
        if not res.allowed:
            raise blocked(res, "output")
        return text if res.modified is None else res.modified

    async def guard_stream_text(text: str, request: LLMRequest, state: dict[str, Any]) -> GuardResult:
        gi = GuardInput(text, "output", {"role": "assistant", "request": request.metadata, "stream": True}, state)
        res = await arun_stage(out_guards, gi, notify, offload)
        if not res.allowed:
            raise blocked(res, "output")
        return res

    async def call(request: LLMRequest) -> LLMResponse | LLMStream:
        state: dict[str, Any] = {}
        if in_guards:
            segments = list(_input_segments(request))
            total = sum(len(t) for _, _, t, _ in segments) if offload is not None else 0
            if offload is not None and total >= offload.min_chars:
                request = await aguard_messages(request, segments, state, offload.covering(total))
            elif in_async:
                request = await aguard_messages(request, segments, state, None)
            else:
                request = guard_messages(request, segments, state)
        provider = providers.get(request.provider or default)
        if provider is None:
            raise ConfigError(
                f"provider {request.provider!r} is not configured (configured: {', '.join(sorted(providers))})"
            )
        if request.stream:
            opening = LLMStream.start(
                provider.astream(request), provider=getattr(provider, "name", ""), model=request.model or ""
            )
            stream = await (opening if request.deadline is None else _within(request.deadline, opening))
            if out_guards:
                return _guarded_stream(stream, lambda t: guard_stream_text(t, request, state), holdback)
            return stream
        if request.deadline is None:
            response = await provider.agenerate(request)
        else:
            response = await _within(request.deadline, provider.agenerate(request))
        if out_guards:
            text = response.message.text
            if text:
                new = await guard_text(text, request, state)
                if new is not text:
                    response = attrs.evolve(response, message=attrs.evolve(response.message, parts=(TextPart(new),)))
        return response

    return call


async def _within(deadline: float | None, awaitable: Awaitable[Any]) -> Any:
    if deadline is None:
        return await awaitable
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        if inspect.iscoroutine(awaitable):
            awaitable.close()
        raise BudgetExhausted(ErrorCode.BUDGET_EXHAUSTED, "deadline passed before the provider was called")
    try:
        async with asyncio.timeout_at(asyncio.get_running_loop().time() + remaining):
            return await awaitable
    except TimeoutError:
        raise BudgetExhausted(
            ErrorCode.BUDGET_EXHAUSTED, f"deadline passed during the provider call ({remaining:.3f}s allowed)"
        ) from None


#: Characters of streamed text held back so a pattern split across chunks is seen whole.
STREAM_HOLDBACK = 128
#: Text released at a time, at least: fewer, larger releases cost fewer guard runs.
_MIN_RELEASE = 16


def _guarded_stream(
    stream: LLMStream, guard: Callable[[str], Awaitable[GuardResult]], holdback: int = STREAM_HOLDBACK
) -> LLMStream:
    """Output guards over a stream, with a hold-back buffer.

    The last ``holdback`` characters are always held. Each time more arrives, the whole buffer is
    guarded (so anything up to ``holdback`` long is seen whole: a block stops the stream); then the
    text before a cut point is guarded on its own and released. The cut is at least ``holdback``
    characters from the end, at whitespace, and never inside a finding. Nothing unguarded is
    ever yielded; the rest is guarded and released when the stream ends.
    """

    async def release(text: str) -> str:
        result = await guard(text)
        return text if result.modified is None else result.modified

    async def chunks() -> AsyncIterator[StreamChunk]:
        buf = ""
        model: str | None = None
        try:
            async for chunk in stream:
                model = chunk.model or model
                if chunk.tool_calls:
                    yield StreamChunk(tool_calls=chunk.tool_calls)
                if not chunk.text:
                    continue
                buf += chunk.text
                if len(buf) < holdback + _MIN_RELEASE:
                    continue
                whole = await guard(buf)  # raises GuardBlocked on a block
                cut = _cut_point(buf, len(buf) - holdback, whole.findings)
                if cut > 0:
                    out = await release(buf[:cut])
                    buf = buf[cut:]
                    if out:
                        yield StreamChunk(text=out, model=model)
            tail = await release(buf) if buf else ""
        finally:
            await stream.aclose()
        yield StreamChunk(text=tail, usage=stream.usage, finish_reason=stream.finish_reason, model=model)

    return LLMStream(chunks(), provider=stream.provider, model=stream.model)


def _cut_point(text: str, limit: int, findings: Sequence[Any]) -> int:
    """The largest index <= ``limit`` at whitespace and outside every finding (0: none)."""
    cut = limit
    while cut > 0:
        inside = next((f for f in findings if f.start < cut < f.end), None)
        if inside is not None:
            cut = inside.start
            continue
        if text[cut - 1].isspace():
            return cut
        cut -= 1
    return 0


async def _guard_value(
    value: Any,
    path: str,
    guards: tuple[StageGuard, ...],
    tool: str,
    meta: Mapping[str, Any],
    state: dict[str, Any],
    notify: Any,
    offload: Offload | None = None,
) -> Any:
    if isinstance(value, str):
        gi = GuardInput(value, "tool", {"tool": tool, "path": path, "request": meta}, state)
        res = await arun_stage(guards, gi, notify, offload)
        if not res.allowed:
            raise GuardBlocked(res.guard or "?", f"{res.reason} (tool {tool!r}, argument {path})", stage="tool")
        return value if res.modified is None else res.modified
    if isinstance(value, Mapping):
        return {
            k: await _guard_value(v, f"{path}.{k}", guards, tool, meta, state, notify, offload)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        items = [
            await _guard_value(v, f"{path}[{i}]", guards, tool, meta, state, notify, offload)
            for i, v in enumerate(value)
        ]
        return items if isinstance(value, list) else tuple(items)
    return value


def _config_key(pc: ProviderConfig) -> str:
    import json

    from beluga_core.config import to_dict

    return json.dumps(to_dict(pc, masked=False), sort_keys=True, default=str)


def _changed(old: Config, new: Config) -> list[str]:
    from beluga_core.config import diff

    return diff(old.as_dict(masked=False), new.as_dict(masked=False))


__all__ = ["Chain", "ChainEvent", "GuardDecision", "Kit", "ReloadResult", "ToolInvocation", "recording"]
