"""``POST /v1/responses``: OpenAI's Responses API in front of the same chain as chat completions.

The request is read with ``beluga_wire.openai_responses``, runs through ``kit.agenerate``/``kit.astream``
with the same keys, limits, body caps, guards, breaker, retry and tracing as ``/v1/chat/completions``,
and goes to whichever provider the model routes to. Answers are ``response`` objects or the API's
SSE events; errors are OpenAI's error bodies. The gateway keeps no state: ``previous_response_id``,
``store: true`` and the like are refused with a 400 naming the field.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from beluga_core import LLMRequest
from beluga_gateway.app import Receive, Refused, Scope, Send, _Disconnect, _error
from beluga_wire.openai_chat import APIError, dumps, load_json, new_id
from beluga_wire.openai_responses import StreamEncoder, WireError, encode_response, parse_request, provider_params

if TYPE_CHECKING:
    from beluga_gateway.app import Gateway

RESPONSES_ROUTE = "/v1/responses"


def _parse(body: bytes, max_messages: int, max_tools: int) -> LLMRequest:
    """The body as an ``LLMRequest``; every problem is a 400 naming the field."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise APIError(400, "The request body is not valid UTF-8.") from None
    try:
        data = load_json(text)  # the body-wide rules: lone surrogates, non-finite numbers, nesting
    except ValueError:
        raise APIError(400, "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise APIError(400, "The request body must be a JSON object.")
    try:
        return parse_request(data, max_messages=max_messages, max_tools=max_tools)
    except WireError as exc:
        param = exc.where if exc.where != "body" else None
        raise APIError(400, f"{exc.where}: {exc.what}", param=param) from None


async def responses(gw: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI handler of ``POST /v1/responses`` (and ``/responses``)."""
    await gw.serve(RESPONSES_ROUTE, functools.partial(_responses, gw), scope, receive, send)


async def _responses(gw: Gateway, scope: Scope, receive: Receive, send: Send) -> tuple[int, str, bool]:
    state = gw.state
    caps = (state.settings.max_messages, state.settings.max_tools)
    try:
        caller, req, rid, route = await gw.admit(scope, receive, lambda body: _parse(body, *caps))
    except Refused as refused:
        return await refused.answer(send, _error), "-", refused.stream
    rid_header = (b"x-request-id", rid.encode())
    model = req.model or ""
    label = state.model_label(route.public)
    kwargs = gw.call_kwargs(route, caller, rid, scope["headers"])
    kwargs.update(tools=req.tools, max_tokens=req.max_tokens, temperature=req.temperature)
    kwargs.update(provider_params(req.params, route.kind, state.passthrough, bool(req.tools)))

    def work(watch: _Disconnect) -> Awaitable[int]:
        if req.stream:
            return gw.stream(send, req, kwargs, caller, label, rid_header, watch,
                             lambda: _Writer("resp_" + new_id(), model, int(time.time()), req))
        return gw.complete(send, req, kwargs, caller, label, rid_header, watch,
                           lambda resp, _more: dumps(encode_response(resp, id="resp_" + new_id(), model=model,
                                                              created_at=int(time.time()), request=req)))

    return await gw.run(scope, receive, RESPONSES_ROUTE, rid, work), label, req.stream


class _Writer(StreamEncoder):
    """Responses API events; a failure is an ``error`` event (OpenAI's error inside), which the SDK raises."""

    __slots__ = ()

    def failure(self, err: APIError) -> tuple[bytes, int]:
        return self.error(err.message, err.type, err.code), err.status


__all__ = ["RESPONSES_ROUTE", "provider_params", "responses"]
