"""OpenTelemetry tracing for Beluga: spans for model calls, tools and agents, W3C propagation.

    from beluga_tracing import start_span, invoke_agent, inject_headers, semconv

Names are imported on first use, so ``import beluga_tracing`` (and ``inject_headers`` in a
provider plugin) costs nothing until tracing is actually used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from beluga_core import add_header_injector
from beluga_tracing import semconv

if TYPE_CHECKING:
    from beluga_tracing._runtime import (
        current_meter_provider,
        current_provider,
        flush,
        use_meter_provider,
        use_tracer_provider,
    )
    from beluga_tracing.plugin import TracingPlugin, TracingSettings
    from beluga_tracing.propagation import TraceMiddleware, extract_context, inject_headers, server_span
    from beluga_tracing.spans import SpanScope, current_span, error_type, invoke_agent, start_span, trace_id
    from beluga_tracing.tree import format_tree, span_dict

_LAZY = {
    "current_meter_provider": "beluga_tracing._runtime",
    "current_provider": "beluga_tracing._runtime",
    "flush": "beluga_tracing._runtime",
    "use_meter_provider": "beluga_tracing._runtime",
    "use_tracer_provider": "beluga_tracing._runtime",
    "TracingPlugin": "beluga_tracing.plugin",
    "TracingSettings": "beluga_tracing.plugin",
    "TraceMiddleware": "beluga_tracing.propagation",
    "extract_context": "beluga_tracing.propagation",
    "inject_headers": "beluga_tracing.propagation",
    "server_span": "beluga_tracing.propagation",
    "SpanScope": "beluga_tracing.spans",
    "current_span": "beluga_tracing.spans",
    "error_type": "beluga_tracing.spans",
    "invoke_agent": "beluga_tracing.spans",
    "start_span": "beluga_tracing.spans",
    "trace_id": "beluga_tracing.spans",
    "format_tree": "beluga_tracing.tree",
    "span_dict": "beluga_tracing.tree",
}


def _inject_trace_context(headers: dict[str, str]) -> Any:
    return importlib.import_module("beluga_tracing.propagation").inject_headers(headers)


# Every provider request made in this process carries the current span's W3C trace context.
add_header_injector(_inject_trace_context)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'beluga_tracing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "SpanScope",
    "TraceMiddleware",
    "TracingPlugin",
    "TracingSettings",
    "current_meter_provider",
    "current_provider",
    "current_span",
    "error_type",
    "extract_context",
    "flush",
    "format_tree",
    "inject_headers",
    "invoke_agent",
    "semconv",
    "server_span",
    "span_dict",
    "start_span",
    "trace_id",
    "use_meter_provider",
    "use_tracer_provider",
]
