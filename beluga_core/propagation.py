"""Headers every outgoing provider request carries, such as the W3C trace context.

A plugin that propagates context adds an injector (``add_header_injector``); a provider's HTTP client
asks for the headers of each request (``outgoing_headers``). The injectors are kept per process, as
OpenTelemetry keeps its propagators: the context they read (the current span) is per process too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from beluga_core.masking import get_logger

log = get_logger("beluga.propagation")

#: Called with a dict of headers to fill in place (or returning a mapping of headers to add).
HeaderInjector = Callable[[dict[str, str]], Any]

_injectors: tuple[HeaderInjector, ...] = ()


def add_header_injector(injector: HeaderInjector) -> None:
    """Have every outgoing provider request carry what ``injector`` adds (added once however often
    this is called with the same function)."""
    global _injectors
    if injector not in _injectors:
        _injectors = (*_injectors, injector)


def remove_header_injector(injector: HeaderInjector) -> None:
    global _injectors
    _injectors = tuple(i for i in _injectors if i is not injector)


def outgoing_headers() -> dict[str, str] | None:
    """The headers the injectors give for a request made now (None when there are none). An
    injector that fails is logged at debug level and skipped: it never fails the request."""
    if not _injectors:
        return None
    headers: dict[str, str] = {}
    for injector in _injectors:
        try:
            out = injector(headers)
        except Exception:
            log.debug("header injector %r failed", injector, exc_info=True)
            continue
        if isinstance(out, Mapping) and out is not headers:
            headers.update({str(k): str(v) for k, v in out.items()})
    return headers or None


__all__ = ["HeaderInjector", "add_header_injector", "outgoing_headers", "remove_header_injector"]
