"""``POST /v1/embeddings``: OpenAI's embeddings API in front of the chain (``kit.aembed``).

Each input runs through the input guards (a redacting guard's replacement is what gets embedded;
a blocking guard refuses the request), the limits and tracing, then to the provider the model
routes to. Answers are OpenAI's ``list`` of ``embedding`` objects, as floats or, with
``encoding_format: "base64"`` (what the official SDK asks for), little-endian float32 in base64.
"""

from __future__ import annotations

import functools
import math
import time
from typing import TYPE_CHECKING

from beluga_core import BelugaError
from beluga_gateway.app import _JSON_HEADERS, Receive, Refused, Scope, Send, _Disconnect, _error, cache_header
from beluga_wire.openai_chat import APIError, dumps
from beluga_wire.openai_embeddings import (
    MAX_DIMENSIONS,
    MAX_INPUT_CHARS,
    MAX_INPUTS,
    EmbeddingsRequest,
    encode,
    parse_embeddings,
)

if TYPE_CHECKING:
    from beluga_gateway.app import Gateway

EMBEDDINGS_ROUTE = "/v1/embeddings"


async def embeddings(gw: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI handler of ``POST /v1/embeddings`` (and ``/embeddings``)."""
    await gw.serve(EMBEDDINGS_ROUTE, functools.partial(_embeddings, gw), scope, receive, send)


async def _embeddings(gw: Gateway, scope: Scope, receive: Receive, send: Send) -> tuple[int, str, bool]:
    state = gw.state
    try:
        caller, req, rid, route = await gw.admit(scope, receive, parse_embeddings)
    except Refused as refused:
        return await refused.answer(send, _error), "-", False
    rid_header = (b"x-request-id", rid.encode())
    label = state.model_label(route.public)
    kwargs = gw.call_kwargs(route, caller, rid, scope["headers"])
    if req.dimensions is not None:
        kwargs["dimensions"] = req.dimensions
    if req.user is not None and route.kind == "openai":
        kwargs["user"] = req.user

    async def work(watch: _Disconnect) -> int:
        provider, model = gw._genai(req, label)
        t0 = time.perf_counter()
        try:
            resp = await gw.kit.aembed(req.inputs, **kwargs)
        except BelugaError as exc:
            gw.metrics.genai_failed(provider, model, exc.code.value, time.perf_counter() - t0, "embeddings")
            err = _no_embeddings(exc, route.provider) or gw._failed(exc, caller)
            watch.finished = True
            return await _error(send, err, rid_header)
        gw.metrics.genai_done(resp.provider or provider, model, resp.model, time.perf_counter() - t0,
                              resp.usage, "embeddings")
        gw._count_tokens(caller, label, resp.usage)
        if len(resp.embeddings) != len(req.inputs) or not all(math.isfinite(x) for v in resp.embeddings for x in v):
            err = APIError(502, f"The upstream provider {route.provider!r} sent embeddings the gateway could not use.",
                           type="upstream_error", code="upstream_unavailable")
            watch.finished = True
            return await _error(send, err, rid_header)
        payload = dumps(encode(resp, req.model, req.encoding))
        watch.finished = True
        await send({"type": "http.response.start", "status": 200,
                    "headers": [*_JSON_HEADERS, (b"content-length", str(len(payload)).encode()), rid_header,
                                *cache_header(resp.metadata.get("cache"))]})
        await send({"type": "http.response.body", "body": payload})
        return 200

    return await gw.run(scope, receive, EMBEDDINGS_ROUTE, rid, work), label, False


def _no_embeddings(exc: BelugaError, provider: str) -> APIError | None:
    """The 400 for a provider that offers no embeddings (its own refusal names it)."""
    from beluga_wire.openai_chat import root_cause

    root = root_cause(exc)
    if "does not offer embeddings" in getattr(root, "message", ""):
        return APIError(400, f"The provider {provider!r} behind this model does not offer embeddings.",
                        param="model", code="embeddings_unsupported")
    return None


__all__ = [
    "EMBEDDINGS_ROUTE", "MAX_DIMENSIONS", "MAX_INPUTS", "MAX_INPUT_CHARS", "EmbeddingsRequest", "embeddings", "encode",
    "parse_embeddings",
]
