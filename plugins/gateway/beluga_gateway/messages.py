"""``POST /v1/messages``: Anthropic's Messages API in front of the same chain as chat completions.

The request is read with ``beluga_wire.anthropic`` (the module the anthropic provider speaks too),
runs through ``kit.agenerate``/``kit.astream`` with the same keys, limits, body caps, guards,
breaker, retry and tracing as ``/v1/chat/completions``, and goes to whichever provider the model
routes to: an OpenAI-compatible upstream answers a Messages request as well as Anthropic does.
Answers are Messages API objects or its SSE events; errors are Anthropic's error bodies.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING

from beluga_core import LLMRequest, get_logger
from beluga_gateway.app import (
    _JSON_HEADERS,
    Receive,
    Refused,
    Scope,
    Send,
    _Disconnect,
)
from beluga_wire.anthropic import (
    ERROR_TYPES,
    StreamEncoder,
    WireError,
    count_tokens,
    encode_response,
    error_event,
    error_json,
    error_type,
    parse_request,
    provider_params,
)
from beluga_wire.openai_chat import APIError, dumps, load_json, new_id

if TYPE_CHECKING:
    from beluga_gateway.app import Gateway

log = get_logger("beluga.gateway")

MESSAGES_ROUTE = "/v1/messages"
COUNT_TOKENS_ROUTE = "/v1/messages/count_tokens"

_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def anthropic_status(err: APIError) -> tuple[int, str]:
    """The status and Anthropic error type for a gateway error: 503 (an open breaker, a busy or
    draining gateway) is Anthropic's 529 ``overloaded_error``."""
    return error_type(err.status)


async def _error(send: Send, err: APIError, rid_header: tuple[bytes, bytes]) -> int:
    status, kind = anthropic_status(err)
    payload = dumps({**error_json(kind, err.message), "request_id": rid_header[1].decode()})
    headers = [*_JSON_HEADERS, (b"content-length", str(len(payload)).encode()), rid_header,
               (b"request-id", rid_header[1])]
    headers += [(k.encode(), v.encode()) for k, v in err.headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
    return status


def _bad(message: str) -> APIError:
    return APIError(400, message)


def _parse(body: bytes, max_messages: int, max_tools: int, count_only: bool = False) -> LLMRequest:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _bad("The request body is not valid UTF-8.") from None
    try:
        data = load_json(text)
    except ValueError:
        raise _bad("The request body is not valid JSON.") from None
    except APIError as bad:  # the body-wide rules: lone surrogates, non-finite numbers, nesting
        raise _bad(bad.message) from None
    if not isinstance(data, dict):
        raise _bad("The request body must be a JSON object.")
    if count_only and "max_tokens" not in data:  # count_tokens takes a request without max_tokens
        data["max_tokens"] = 1
    try:
        return parse_request(data, max_messages=max_messages, max_tools=max_tools)
    except WireError as exc:
        raise _bad(f"{exc.where}: {exc.what}") from None


async def messages(gw: Gateway, scope: Scope, receive: Receive, send: Send, count_only: bool = False) -> None:
    """The ASGI handler of ``POST /v1/messages`` (and ``/messages``); with ``count_only``, of
    ``POST /v1/messages/count_tokens``."""
    route = COUNT_TOKENS_ROUTE if count_only else MESSAGES_ROUTE
    await gw.serve(route, functools.partial(_messages, gw, count_only=count_only), scope, receive, send)


def _version_check(headers: Mapping[bytes, bytes]) -> APIError | None:
    """``anthropic-version`` is optional; given, it must be a date."""
    version = headers.get(b"anthropic-version")
    if version is not None and not _VERSION.match(version.decode("latin-1")):
        return _bad("anthropic-version header: must be a date such as 2023-06-01")
    return None


async def _messages(
    gw: Gateway, scope: Scope, receive: Receive, send: Send, count_only: bool = False
) -> tuple[int, str, bool]:
    state = gw.state
    caps = (state.settings.max_messages, state.settings.max_tools, count_only)
    try:
        caller, req, rid, route = await gw.admit(scope, receive, lambda body: _parse(body, *caps), anthropic=True,
                                                 check=_version_check)
    except Refused as refused:
        return await refused.answer(send, _error), "-", refused.stream
    rid_header = (b"x-request-id", rid.encode())
    model = req.model
    label = state.model_label(route.public)
    if count_only:
        payload = dumps({"input_tokens": count_tokens(req)})
        headers = [*_JSON_HEADERS, (b"content-length", str(len(payload)).encode()), rid_header,
                   (b"request-id", rid_header[1])]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        return 200, label, False
    kwargs = gw.call_kwargs(route, caller, rid, scope["headers"])
    kwargs.update(tools=req.tools, max_tokens=req.max_tokens, temperature=req.temperature)
    kwargs.update(provider_params(req.params, route.kind, state.passthrough, bool(req.tools)))
    also = ((b"request-id", rid_header[1]),)

    def work(watch: _Disconnect) -> Awaitable[int]:
        if req.stream:
            return gw.stream(send, req, kwargs, caller, label, rid_header, watch,
                             lambda: _Writer("msg_" + new_id(), model), _error, also)
        return gw.complete(send, req, kwargs, caller, label, rid_header, watch,
                           lambda resp, _more: dumps(encode_response(resp, id="msg_" + new_id(), model=model)),
                           _error, also)

    return await gw.run(scope, receive, MESSAGES_ROUTE, rid, work), label, req.stream


class _Writer(StreamEncoder):
    """Messages API events (``start``, ``chunk``, ``finish``); a failure is an ``error`` event in
    Anthropic's shape."""

    __slots__ = ()

    def failure(self, err: APIError) -> tuple[bytes, int]:
        status, kind = anthropic_status(err)
        return error_event(kind, err.message), status


__all__ = [
    "COUNT_TOKENS_ROUTE", "ERROR_TYPES", "MESSAGES_ROUTE", "anthropic_status", "count_tokens", "messages",
    "provider_params",
]
