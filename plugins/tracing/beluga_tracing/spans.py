"""``start_span`` and ``invoke_agent``: spans as context managers and decorators, sync and async."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, TypeVar, cast

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from beluga_core import BelugaError, mask_text
from beluga_tracing import semconv
from beluga_tracing._runtime import STATE, get_tracer

F = TypeVar("F", bound=Callable[..., Any])
Attributes = Mapping[str, AttributeValue]

_KINDS = {k.name.lower(): k for k in SpanKind}


def _kind(kind: SpanKind | str) -> SpanKind:
    if isinstance(kind, SpanKind):
        return kind
    try:
        return _KINDS[kind.lower()]
    except KeyError:
        raise ValueError(f"span kind must be one of {sorted(_KINDS)}, got {kind!r}") from None


def error_type(exc: BaseException) -> str:
    """``error.type`` for an exception: a Beluga ``ErrorCode`` value, else the exception's class name."""
    if isinstance(exc, BelugaError):
        return exc.code.value
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def record_error(span: Span, exc: BaseException) -> None:
    """Mark ``span`` failed: ``error.type``, status ERROR and an ``exception`` event.

    Only Beluga's own error messages (masked, shortened) are recorded; a foreign exception's message
    may quote user text, so only its type is.
    """
    kind = error_type(exc)
    full = f"{type(exc).__module__}.{type(exc).__qualname__}"
    event: dict[str, AttributeValue] = {semconv.EXCEPTION_TYPE: full}
    if isinstance(exc, BelugaError):
        message = mask_text(exc.message)[:300]
        event[semconv.EXCEPTION_MESSAGE] = message
        description = f"{kind}: {message}"
    else:
        description = kind
    span.set_attribute(semconv.ERROR_TYPE, kind)
    span.add_event("exception", event)
    span.set_status(Status(StatusCode.ERROR, description))


class SpanScope:
    """A span to open with ``with``/``async with`` or to put on a function as a decorator.

    Each ``with`` block and each call of a decorated function gets a new span, current inside it
    (children nest under it, ``inject_headers`` propagates it). An exception ends it with
    ``error.type`` and status ERROR and is re-raised.
    """

    __slots__ = ("_attrs", "_kind", "_name", "_open", "_parent")

    def __init__(
        self,
        name: str,
        attrs: Attributes | None = None,
        kind: SpanKind | str = SpanKind.INTERNAL,
        parent: Context | None = None,
    ) -> None:
        self._name = name
        self._attrs = attrs
        self._kind = _kind(kind)
        self._parent = parent
        self._open: list[tuple[Span, object]] = []

    def _start_attributes(self) -> Attributes | None:
        return self._attrs

    def _start(self) -> Span:
        attributes = self._start_attributes()
        span = get_tracer().start_span(self._name, context=self._parent, kind=self._kind, attributes=attributes)
        token = otel_context.attach(trace.set_span_in_context(span, self._parent))
        self._open.append((span, token))
        return span

    def _end(self, exc: BaseException | None) -> None:
        span, token = self._open.pop()
        try:
            if exc is not None:
                record_error(span, exc)
        finally:
            otel_context.detach(token)  # type: ignore[arg-type]
            span.end()

    def __enter__(self) -> Span:
        return self._start()

    def __exit__(self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._end(exc)

    async def __aenter__(self) -> Span:
        return self._start()

    async def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._end(exc)

    def __call__(self, fn: F) -> F:
        name, attrs, kind, parent = self._name, self._attrs, self._kind, self._parent
        scope = type(self)  # each call opens a new scope of the same kind
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with scope(name, attrs, kind, parent):
                    return await fn(*args, **kwargs)

            return cast(F, async_wrapper)
        if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
            raise TypeError(f"start_span cannot decorate generator function {fn.__qualname__}; use `with` inside it")

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with scope(name, attrs, kind, parent):
                return fn(*args, **kwargs)

        return cast(F, wrapper)

    def __repr__(self) -> str:
        return f"<SpanScope {self._name!r} kind={self._kind.name}>"


def start_span(
    name: str,
    attrs: Attributes | None = None,
    kind: SpanKind | str = SpanKind.INTERNAL,
    *,
    parent: Context | None = None,
) -> SpanScope:
    """A span named ``name`` with attributes ``attrs`` (use the ``semconv`` constants for keys).

    >>> with start_span("retrieve documents", {"db.system": "redis"}) as span:
    ...     span.set_attribute("documents", 3)

    >>> @start_span("plan")
    ... async def plan(question): ...

    ``kind`` is a ``SpanKind`` or its name (``"client"``, ``"server"``, ...); ``parent`` a context
    from ``extract_context`` to continue a trace started elsewhere (default: the current span).
    """
    return SpanScope(name, attrs, kind, parent)


class _AgentScope(SpanScope):
    """An ``invoke_agent`` span: without an explicit ``gen_ai.provider.name`` it gets the configured
    default provider when it starts (a decorator is applied before any config is loaded)."""

    __slots__ = ()

    def _start_attributes(self) -> Attributes | None:
        attrs = self._attrs
        provider = STATE.default_provider
        if attrs is None or not provider or semconv.GEN_AI_PROVIDER_NAME in attrs:
            return attrs
        return {**attrs, semconv.GEN_AI_PROVIDER_NAME: provider}


def invoke_agent(
    name: str,
    *,
    agent_id: str | None = None,
    description: str | None = None,
    provider: str | None = None,
    attrs: Attributes | None = None,
) -> SpanScope:
    """An ``invoke_agent {name}`` span: model calls, tool calls and other agents inside nest under it.
    ``provider`` is its ``gen_ai.provider.name`` (default: the configured ``[beluga] provider``'s kind).

    >>> @invoke_agent("researcher")
    ... async def research(topic): return await kit.agenerate(topic)
    """
    attributes: dict[str, AttributeValue] = {
        semconv.GEN_AI_OPERATION_NAME: semconv.OP_INVOKE_AGENT,
        semconv.GEN_AI_AGENT_NAME: name,
    }
    if provider:
        attributes[semconv.GEN_AI_PROVIDER_NAME] = provider
    if agent_id:
        attributes[semconv.GEN_AI_AGENT_ID] = agent_id
    if description:
        attributes[semconv.GEN_AI_AGENT_DESCRIPTION] = description
    if attrs:
        attributes.update(attrs)
    return _AgentScope(f"{semconv.OP_INVOKE_AGENT} {name}", attributes, SpanKind.INTERNAL)


def current_span() -> Span:
    """The span current in this task (a non-recording one when none is)."""
    return trace.get_current_span()


def trace_id() -> str | None:
    """The current trace id as 32 hex digits (for logs and response headers), or None outside a trace."""
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None
