"""The chain: plugins' hooks compiled, for one configuration, into one immutable ``Chain``.

``compile_chain`` turns the hook implementations (in the effective order) into plain async
callables: the ``wrap_llm_call`` onion around the innermost link (input guards, the provider within
the deadline, output guards over whole replies or held-back streams), and the ``wrap_tool_call``
onion around the tool. Nothing here looks plugins up at call time.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any

import attrs

from beluga_core.config import Config
from beluga_core.errors import (
    BelugaError,
    BudgetExhausted,
    ConfigError,
    ErrorCode,
    GuardBlocked,
    ToolFailed,
)
from beluga_core.guard import GuardDecision, GuardInput, GuardResult, Offload, Stage, StageGuard, arun_stage, run_stage
from beluga_core.masking import get_logger
from beluga_core.providers import BaseProvider, Provider, ProviderRegistry, no_embeddings
from beluga_core.routing import ROUTING_RANK, Router, routers_for, routing_layer
from beluga_core.stream import LLMStream
from beluga_core.types import AIMessage, LLMRequest, LLMResponse, StreamChunk, TextPart, ToolInvocation

log = get_logger("beluga.chain")

_RECORDING: contextvars.ContextVar[list[ChainEvent] | None] = contextvars.ContextVar("beluga_recording", default=None)
_STAGES: contextvars.ContextVar[_Stages | None] = contextvars.ContextVar("beluga_stages", default=None)
_NOTES: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("beluga_notes", default=None)


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


@contextlib.contextmanager
def call_notes() -> Iterator[dict[str, Any]]:
    """Collect what middleware notes (``note(key, value)``) about the calls made inside this block,
    e.g. the response cache's ``"cache": "hit"``: readable as soon as a call returns, before a
    stream's first chunk is read, so a server can put it in its response headers."""
    notes: dict[str, Any] = {}
    token = _NOTES.set(notes)
    try:
        yield notes
    finally:
        _NOTES.reset(token)


def note(key: str, value: Any) -> None:
    """Tell the caller something about this call (see ``call_notes``); nothing happens outside one."""
    notes = _NOTES.get()
    if notes is not None:
        notes[key] = value


async def guard_answer(request: LLMRequest, answer: LLMResponse | LLMStream) -> LLMResponse | LLMStream:
    """Put an answer a middleware gives itself (a response cache's, instead of calling on) through
    the current chain's guards, as the provider's answer would go: the input guards over
    ``request`` (a block raises ``GuardBlocked``), then the output guards over ``answer`` (a stream
    comes back wrapped, guarded as it is read). Outside a chain, or with no guards, ``answer`` is
    returned as it is."""
    stages = _STAGES.get()
    if stages is None:
        return answer
    state: dict[str, Any] = {}
    if stages.input is not None:
        request = await stages.input(request, state)
    if stages.output is None or request.operation == EMBEDDINGS:
        return answer
    return await stages.output(request, answer, state)


GUARD_HOOKS: dict[Stage, str] = {"input": "on_input", "output": "on_output", "tool": "on_tool_call"}


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
    #: The ``[models.<name>]`` groups' routers, by model name.
    routers: Mapping[str, Router] = attrs.field(factory=dict)

    def call(self, request: LLMRequest) -> Awaitable[LLMResponse | LLMStream]:
        if _RECORDING.get() is None:
            return self.llm_call(request)
        return self.recorded_llm_call(request)

    async def guard_arguments(self, tool: str, arguments: Mapping[str, Any], meta: Mapping[str, Any]) -> Any:
        """``arguments`` after the ``on_tool_call`` guards: every string, nested ones included."""
        offload = self.offload
        if offload is not None:  # the characters the guards will read, all of the call's strings
            offload = offload.covering(sum(len(t) for _, t in _strings(arguments, ())))
        return await _guard_value(arguments, "args", self.guards["tool"], tool, meta, {}, self.notify, offload)


#: Where ``[beluga] fallback`` sits in the onion, on the same scale as plugins' ``rank``: inside
#: the plugins ranked 450 or lower (retry), outside those ranked higher (the breaker), so an open
#: breaker moves the call on to the next provider.
FALLBACK_RANK = 450

HookImpls = Callable[[str], list[tuple[str, Callable[..., Any]]]]


def compile_chain(
    config: Config,
    order: Sequence[str],
    hookimpls: HookImpls,
    rank: Callable[[str], int | None],
    providers: Mapping[str, Provider],
    registry: ProviderRegistry,
    offload_for: Callable[[Mapping[Stage, tuple[StageGuard, ...]]], Offload | None],
) -> Chain:
    """One configuration's chain. ``hookimpls(hook)`` gives ``(plugin, function)`` in ``order``;
    ``rank(plugin)`` is the rank a plugin declares (None when it declares none); ``offload_for``
    says where the guards' long texts go (None: on the caller's thread)."""
    fail_open = set(config.beluga.fail_open)
    guards: dict[Stage, tuple[StageGuard, ...]] = {
        stage: tuple(StageGuard.of(name, fn, fail_open=name in fail_open) for name, fn in hookimpls(hook))
        for stage, hook in GUARD_HOOKS.items()
    }
    observers = tuple(hookimpls("on_guard_decision"))
    wraps = hookimpls("wrap_llm_call")
    if config.beluga.fallback:
        at = next((i for i, (n, _) in enumerate(wraps) if (rank(n) or 0) > FALLBACK_RANK), len(wraps))
        wraps.insert(at, ("fallback", _fallback_layer(config)))
    routers = routers_for(config)
    if routers:
        at = next((i for i, (n, _) in enumerate(wraps) if n == "fallback" or (rank(n) or 0) > ROUTING_RANK),
                  len(wraps))
        wraps.insert(at, ("routing", routing_layer(routers)))
    offload = offload_for(guards)
    llm_call, stages = _provider_call(config, guards, providers, observers, offload)
    for _, fn in reversed(wraps):
        llm_call = _layer(fn, llm_call)
    llm_call = _with_stages(stages, llm_call)
    recorded, recorded_stages = _provider_call(
        config, guards, providers, (*observers, ("<recording>", _record_decision)), offload
    )
    for name, fn in reversed(wraps):
        recorded = _recorded(name, "wrap_llm_call", _layer(fn, recorded))
    recorded = _with_stages(recorded_stages, recorded)
    tool_call: Callable[[ToolInvocation], Awaitable[Any]] = _run_tool
    for _, fn in reversed(hookimpls("wrap_tool_call")):
        tool_call = _layer(fn, tool_call)
    return Chain(
        config,
        tuple(order),
        guards,
        llm_call,
        tool_call,
        providers,
        registry,
        observers,
        recorded,
        _decision_listener(observers),
        offload,
        routers,
    )




@attrs.frozen(slots=True)
class _Stages:
    """One chain's guard stages, for ``guard_answer``: None where the stage has no guards."""

    input: Callable[[LLMRequest, dict[str, Any]], Awaitable[LLMRequest]] | None
    output: Callable[[LLMRequest, LLMResponse | LLMStream, dict[str, Any]], Awaitable[LLMResponse | LLMStream]] | None


def _with_stages(
    stages: _Stages, call: Callable[[LLMRequest], Awaitable[LLMResponse | LLMStream]]
) -> Callable[[LLMRequest], Awaitable[LLMResponse | LLMStream]]:
    """``call`` with its chain's guard stages current, for middleware calling ``guard_answer``
    (without guards there is nothing to make current, and no cost)."""
    if stages.input is None and stages.output is None:
        return call

    async def entry(request: LLMRequest) -> LLMResponse | LLMStream:
        token = _STAGES.set(stages)
        try:
            return await call(request)
        finally:
            _STAGES.reset(token)

    return entry


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
    hook = GUARD_HOOKS[decision.stage]
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
) -> tuple[Callable[[LLMRequest], Awaitable[LLMResponse | LLMStream]], _Stages]:
    """The innermost link: input guards, the provider (within the deadline), output guards; and
    its guard stages on their own (for ``guard_answer``).

    Stages run inline when every guard is sync and every text is short; otherwise through
    ``arun_stage``, which awaits async guards and hands long texts to ``offload``'s threads."""
    in_guards, out_guards = guards["input"], guards["output"]
    in_async = any(g.is_async for g in in_guards)
    out_async = any(g.is_async for g in out_guards)
    notify = _decision_listener(observers)
    default = config.beluga.provider
    holdback = config.beluga.stream_holdback
    entries = {name: _entry(p) for name, p in providers.items()}

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

    async def input_stage(request: LLMRequest, state: dict[str, Any]) -> LLMRequest:
        segments = list(_input_segments(request))
        total = sum(len(t) for _, _, t, _ in segments) if offload is not None else 0
        if offload is not None and total >= offload.min_chars:
            return await aguard_messages(request, segments, state, offload.covering(total))
        if in_async:
            return await aguard_messages(request, segments, state, None)
        return guard_messages(request, segments, state)

    async def output_stage(
        request: LLMRequest, answer: LLMResponse | LLMStream, state: dict[str, Any]
    ) -> LLMResponse | LLMStream:
        if isinstance(answer, LLMStream):
            return _guarded_stream(answer, lambda t: guard_stream_text(t, request, state), holdback)
        text = answer.message.text
        if text:
            new = await guard_text(text, request, state)
            if new is not text:
                answer = attrs.evolve(answer, message=attrs.evolve(answer.message, parts=(TextPart(new),)))
        return answer

    async def call(request: LLMRequest) -> LLMResponse | LLMStream:
        state: dict[str, Any] = {}
        if in_guards:
            if offload is None and not in_async:  # inline: no coroutine of its own
                request = guard_messages(request, list(_input_segments(request)), state)
            else:
                request = await input_stage(request, state)
        entry = entries.get(request.provider or default)
        if entry is None:
            raise ConfigError(
                f"provider {request.provider!r} is not configured (configured: {', '.join(sorted(providers))})"
            )
        name, generate, stream_chunks, embed = entry
        if request.operation == EMBEDDINGS:  # vectors: no text for output guards to read
            return await (embed(request) if request.deadline is None else _within(request.deadline, embed(request)))
        if request.stream:
            opening = LLMStream.start(stream_chunks(request), provider=name, model=request.model or "")
            stream = await (opening if request.deadline is None else _within(request.deadline, opening))
            return await output_stage(request, stream, state) if out_guards else stream
        if request.deadline is None:
            response = await generate(request)
        else:
            response = await _within(request.deadline, generate(request))
        return await output_stage(request, response, state) if out_guards else response

    return call, _Stages(input_stage if in_guards else None, output_stage if out_guards else None)


ProviderEntry = tuple[
    str,
    Callable[[LLMRequest], Awaitable[LLMResponse]],
    Callable[[LLMRequest], Any],
    Callable[[LLMRequest], Awaitable[LLMResponse]],
]
#: ``LLMRequest.operation`` of an embeddings call.
EMBEDDINGS = "embeddings"


def _entry(provider: Provider) -> ProviderEntry:
    """What the chain calls on ``provider``: a ``BaseProvider`` that keeps the base's
    ``agenerate``/``astream`` is called at ``complete``/``stream_chunks``, the request being an
    ``LLMRequest`` already (the twins' argument handling is for callers outside the chain)."""
    cls = type(provider)
    generate: Callable[[LLMRequest], Awaitable[LLMResponse]] = provider.agenerate
    stream: Callable[[LLMRequest], Any] = provider.astream
    if isinstance(provider, BaseProvider):
        if cls.agenerate is BaseProvider.agenerate:
            generate = provider.complete
        if cls.astream is BaseProvider.astream:
            stream = provider.stream_chunks
    name = getattr(provider, "name", "")
    embed = getattr(provider, "embed", None) or _no_embeddings(name)
    return name, generate, stream, embed


def _no_embeddings(name: str) -> Callable[[LLMRequest], Awaitable[LLMResponse]]:
    async def refuse(request: LLMRequest) -> LLMResponse:
        raise no_embeddings(name)

    return refuse


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


__all__ = [
    "FALLBACK_RANK",
    "GUARD_HOOKS",
    "STREAM_HOLDBACK",
    "Chain",
    "ChainEvent",
    "call_notes",
    "compile_chain",
    "guard_answer",
    "note",
    "parse_target",
    "recording",
]
