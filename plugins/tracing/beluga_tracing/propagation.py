"""W3C trace context across services: inject into outgoing requests, extract from incoming ones.

Importing this module is free (OpenTelemetry is imported on the first call), so provider plugins
can call ``inject_headers`` on every request without paying for tracing they do not use. The
propagators are OpenTelemetry's global ones: ``tracecontext,baggage`` unless ``OTEL_PROPAGATORS``
says otherwise.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, TypeVar, overload

if TYPE_CHECKING:
    from opentelemetry.context import Context

    from beluga_tracing.spans import Attributes, SpanScope

H = TypeVar("H", bound=MutableMapping[str, str])

_propagate: Any = None


def _propagator() -> Any:
    global _propagate
    if _propagate is None:
        from opentelemetry import propagate

        _propagate = propagate
    return _propagate


@overload
def inject_headers(headers: None = None, context: Context | None = None) -> dict[str, str]: ...
@overload
def inject_headers(headers: H, context: Context | None = None) -> H: ...
def inject_headers(headers: MutableMapping[str, str] | None = None, context: Context | None = None) -> Any:
    """Add ``traceparent`` (and ``tracestate``, ``baggage``) for the current span to ``headers``.

    Returns the same mapping (a new dict when ``headers`` is None). Adds nothing outside a trace.

    >>> httpx_client.post(url, json=body, headers=inject_headers({"authorization": ...}))
    """
    carrier: MutableMapping[str, str] = {} if headers is None else headers
    _propagator().inject(carrier, context=context)
    return carrier


def _lowered(headers: Any) -> dict[str, str]:
    items: Iterable[Any] = headers.items() if hasattr(headers, "items") else headers
    out: dict[str, str] = {}
    for key, value in items:
        k = key.decode("latin-1") if isinstance(key, bytes) else str(key)
        v = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        out.setdefault(k.lower(), v)
    return out


def extract_context(headers: Mapping[str, str] | Iterable[tuple[str | bytes, str | bytes]] | Any) -> Context:
    """The trace context carried by incoming ``headers`` (a dict, ``httpx.Headers``,
    ``http.server`` headers or ASGI ``(bytes, bytes)`` pairs); header names match in any case.

    Pass it as ``start_span(..., parent=ctx)``, or use ``server_span`` which does both.
    """
    return _propagator().extract(_lowered(headers))  # type: ignore[no-any-return]


def server_span(headers: Any, name: str, attrs: Attributes | None = None) -> SpanScope:
    """A SERVER span continuing the trace of an incoming request (context manager or decorator).

    >>> with server_span(self.headers, "POST /answer"):
    ...     kit.generate(question)   # its spans join the caller's trace
    """
    from opentelemetry.trace import SpanKind

    from beluga_tracing.spans import SpanScope

    return SpanScope(name, attrs, SpanKind.SERVER, extract_context(headers))


ASGIApp = Callable[[dict[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


class TraceMiddleware:
    """ASGI middleware: every HTTP request runs in a SERVER span that continues the caller's trace.

    The span is named after the method (``GET``), as the HTTP conventions ask when the route
    template is unknown; the path and status are attributes. Status >= 500 marks it failed.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(
        self, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Callable[[Any], Awaitable[None]]
    ) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        from opentelemetry.trace import Status, StatusCode

        from beluga_tracing import semconv

        method = str(scope.get("method", "GET"))
        attrs = {semconv.HTTP_REQUEST_METHOD: method, semconv.URL_PATH: str(scope.get("path", ""))}
        with server_span(scope.get("headers", ()), method, attrs) as span:

            async def traced_send(message: Any) -> None:
                if message.get("type") == "http.response.start":
                    status = int(message.get("status", 0))
                    span.set_attribute(semconv.HTTP_RESPONSE_STATUS_CODE, status)
                    if status >= 500:
                        span.set_attribute(semconv.ERROR_TYPE, str(status))
                        span.set_status(Status(StatusCode.ERROR))
                await send(message)

            await self.app(scope, receive, traced_send)


__all__ = ["TraceMiddleware", "extract_context", "inject_headers", "server_span"]
