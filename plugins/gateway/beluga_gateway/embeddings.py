"""``POST /v1/embeddings``: OpenAI's embeddings API in front of the chain (``kit.aembed``).

Each input runs through the input guards (a redacting guard's replacement is what gets embedded;
a blocking guard refuses the request), the limits and tracing, then to the provider the model
routes to. Answers are OpenAI's ``list`` of ``embedding`` objects, as floats or, with
``encoding_format: "base64"`` (what the official SDK asks for), little-endian float32 in base64.
"""

from __future__ import annotations

import base64
import functools
import math
import struct
import time
from typing import TYPE_CHECKING, Any

from beluga_core import BelugaError, LLMResponse
from beluga_gateway.app import _JSON_HEADERS, Receive, Refused, Scope, Send, _Disconnect, _error, cache_header
from beluga_wire.openai_chat import APIError, dumps, load_json

if TYPE_CHECKING:
    from beluga_gateway.app import Gateway

EMBEDDINGS_ROUTE = "/v1/embeddings"
#: Most inputs in one request (OpenAI's own limit).
MAX_INPUTS = 2048
#: Longest single input, in characters (about OpenAI's 8,192 tokens per input).
MAX_INPUT_CHARS = 32768
#: Most ``dimensions`` a client may ask for.
MAX_DIMENSIONS = 8192
_FORMATS = ("float", "base64")


class EmbeddingsRequest:
    __slots__ = ("dimensions", "encoding", "inputs", "model", "user")

    def __init__(self, model: str, inputs: list[str], encoding: str, dimensions: int | None, user: str | None):
        self.model = model
        self.inputs = inputs
        self.encoding = encoding
        self.dimensions = dimensions
        self.user = user


def _bad(message: str, param: str | None) -> APIError:
    return APIError(400, message, param=param)


def parse_embeddings(body: bytes) -> EmbeddingsRequest:
    """An embeddings request body; every problem is a 400 naming the field (never quoting the input)."""
    try:
        data = load_json(body.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise _bad("The request body is not valid UTF-8.", None) from None
    except ValueError:
        raise _bad("The request body is not valid JSON.", None) from None
    if not isinstance(data, dict):
        raise _bad("The request body must be a JSON object.", None)
    model = data.get("model")
    if not isinstance(model, str) or not model or len(model) > 256:
        raise _bad("model: is required (a string of 1 to 256 characters)", "model")
    raw = data.get("input")
    inputs = [raw] if isinstance(raw, str) else raw
    if not isinstance(inputs, list) or not inputs:
        raise _bad("input: is required (a string or a non-empty array of strings)", "input")
    if len(inputs) > MAX_INPUTS:
        raise _bad(f"input: holds {len(inputs)} inputs; at most {MAX_INPUTS} are accepted", "input")
    for i, text in enumerate(inputs):
        if not isinstance(text, str):
            raise _bad(f"input[{i}]: must be a string; token arrays are not accepted because the gateway's guards "
                       "read text", "input")
        if not text:
            raise _bad(f"input[{i}]: must not be empty", "input")
        if len(text) > MAX_INPUT_CHARS:
            raise _bad(f"input[{i}]: is longer than {MAX_INPUT_CHARS} characters", "input")
    encoding = data.get("encoding_format") or "float"
    if encoding not in _FORMATS:
        raise _bad("encoding_format: must be float or base64", "encoding_format")
    dims = data.get("dimensions")
    if dims is not None and (isinstance(dims, bool) or not isinstance(dims, int) or not 1 <= dims <= MAX_DIMENSIONS):
        raise _bad(f"dimensions: must be an integer from 1 to {MAX_DIMENSIONS}", "dimensions")
    user = data.get("user")
    if user is not None and not isinstance(user, str):
        raise _bad("user: must be a string", "user")
    return EmbeddingsRequest(model, inputs, encoding, dims, user or None)


def _vector(values: tuple[float, ...], encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode("ascii")
    return list(values)


def encode(resp: LLMResponse, model: str, encoding: str) -> dict[str, Any]:
    """OpenAI's answer: ``{"object": "list", "data": [...], "model", "usage"}``."""
    data = [{"object": "embedding", "index": i, "embedding": _vector(v, encoding)}
            for i, v in enumerate(resp.embeddings)]
    tokens = resp.usage.input_tokens
    return {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


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


__all__ = ["EMBEDDINGS_ROUTE", "MAX_DIMENSIONS", "MAX_INPUTS", "MAX_INPUT_CHARS", "embeddings", "parse_embeddings"]
