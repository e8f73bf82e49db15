"""The provider toolkit: what a Beluga provider plugin needs to speak HTTP to a model API.

A pooled keep-alive client (``ClientPool``: a lean HTTP/1.1 path on httptools, httpx for proxies and
everything else) that never sends a request twice, SSE parsing, the mapping of HTTP statuses and
vendors' error types to ``ErrorCode``, ``Retry-After``, key scrubbing for error messages, and
helpers that turn a malformed reply into a ``ProviderError`` instead of a crash. Provider authors
test against ``beluga_http.testing``: a scripted loopback server and a contract suite.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from beluga_http.client import (
        SHAPE_ERRORS,
        BadShape,
        ClientPool,
        Scrubber,
        code_for_error_type,
        code_for_status,
        deadline_passed,
        dumps,
        load_json,
        malformed,
        parse_retry_after,
        pool_exhausted,
        shape_error,
        sse_events,
        status_error,
        stream_error,
        transport_error,
        upstream_error,
        v1_endpoint,
    )
    from beluga_http.options import PoolOptions
    from beluga_wire.shape import count, index, obj, opt_list, opt_obj, opt_str

# The readers of a reply's fields are beluga_wire.shape's, shared with the wire modules.
# Names are imported on first use: a provider plugin's options class (from PoolOptions) can be read
# without importing httpx, so listing plugins stays fast.
_LAZY = {**{name: "beluga_http.client" for name in (
    "SHAPE_ERRORS",
    "BadShape",
    "ClientPool",
    "Scrubber",
    "code_for_error_type",
    "code_for_status",
    "deadline_passed",
    "dumps",
    "load_json",
    "malformed",
    "parse_retry_after",
    "pool_exhausted",
    "shape_error",
    "sse_events",
    "status_error",
    "stream_error",
    "transport_error",
    "upstream_error",
    "v1_endpoint",
)}, **{name: "beluga_wire.shape" for name in ("count", "index", "obj", "opt_list", "opt_obj", "opt_str")},
    "PoolOptions": "beluga_http.options"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'beluga_http' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "SHAPE_ERRORS",
    "BadShape",
    "ClientPool",
    "PoolOptions",
    "Scrubber",
    "code_for_error_type",
    "code_for_status",
    "count",
    "deadline_passed",
    "dumps",
    "index",
    "load_json",
    "malformed",
    "obj",
    "opt_list",
    "opt_obj",
    "opt_str",
    "parse_retry_after",
    "pool_exhausted",
    "shape_error",
    "sse_events",
    "status_error",
    "stream_error",
    "transport_error",
    "upstream_error",
    "v1_endpoint",
]
