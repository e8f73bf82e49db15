"""``POST /v1/responses``: OpenAI's Responses API in front of the same chain as chat completions.

The request is read with ``beluga_wire.openai_responses``, runs through ``kit.agenerate``/``kit.astream``
with the same keys, limits, body caps, guards, breaker, retry and tracing as ``/v1/chat/completions``,
and goes to whichever provider the model routes to. Answers are ``response`` objects or the API's
SSE events; errors are OpenAI's error bodies. The gateway keeps no state: ``previous_response_id``,
``store: true`` and the like are refused with a 400 naming the field.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Any

from beluga_core import BelugaError, LLMRequest
from beluga_gateway.app import _JSON_HEADERS, _SSE_HEADERS, Receive, Refused, Scope, Send, _Disconnect, _error
from beluga_gateway.keys import Caller
from beluga_gateway.wire import APIError, _load, dumps, new_id
from beluga_wire.openai_responses import StreamEncoder, WireError, encode_response, parse_request

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
        data = _load(text)  # the body-wide rules: lone surrogates, non-finite numbers, nesting
    except ValueError:
        raise APIError(400, "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise APIError(400, "The request body must be a JSON object.")
    try:
        return parse_request(data, max_messages=max_messages, max_tools=max_tools)
    except WireError as exc:
        param = exc.where if exc.where != "body" else None
        raise APIError(400, f"{exc.where}: {exc.what}", param=param) from None


def provider_params(params: Mapping[str, Any], kind: str, passthrough: frozenset[str],
                    has_tools: bool) -> dict[str, Any]:
    """The request's own parameters in the dialect of the provider it goes to: Chat Completions'
    words for OpenAI-compatible upstreams (then only the fields ``passthrough`` lets through),
    Anthropic's for Anthropic; none for other providers."""
    choice = params.get("tool_choice") if has_tools else None  # tool_choice needs tools upstream
    parallel = params.get("parallel_tool_calls") if has_tools else None
    if kind == "openai":
        out: dict[str, Any] = {}
        for key in ("top_p", "user"):
            if key in params:
                out[key] = params[key]
        if choice is not None:
            out["tool_choice"] = choice if isinstance(choice, str) else {
                "type": "function", "function": {"name": choice["name"]}}
        if parallel is not None:
            out["parallel_tool_calls"] = parallel
        fmt = (params.get("text") or {}).get("format")
        if fmt and fmt.get("type") == "json_schema":
            spec = {k: fmt[k] for k in ("name", "schema", "strict", "description") if k in fmt}
            out["response_format"] = {"type": "json_schema", "json_schema": spec}
        elif fmt and fmt.get("type") == "json_object":
            out["response_format"] = {"type": "json_object"}
        return {k: v for k, v in out.items() if k in passthrough}
    if kind == "anthropic":
        out = {"top_p": params["top_p"]} if "top_p" in params else {}
        if choice is not None:
            ant: dict[str, Any] = ({"type": "tool", "name": choice["name"]} if not isinstance(choice, str)
                                   else {"type": {"auto": "auto", "required": "any", "none": "none"}[choice]})
            if parallel is False and ant["type"] != "none":
                ant["disable_parallel_tool_use"] = True
            out["tool_choice"] = ant
        if params.get("user"):
            out["metadata"] = {"user_id": params["user"]}
        return out
    return {}


async def responses(gw: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI handler of ``POST /v1/responses`` (and ``/responses``)."""

    def handler(scope: Scope, receive: Receive, send: Send) -> Awaitable[tuple[int, str, bool]]:
        return _responses(gw, scope, receive, send)

    await gw.serve(RESPONSES_ROUTE, handler, scope, receive, send)


async def _responses(gw: Gateway, scope: Scope, receive: Receive, send: Send) -> tuple[int, str, bool]:
    state = gw.state
    caps = (state.settings.max_messages, state.settings.max_tools)
    try:
        caller, req, rid = await gw.admit(scope, receive, lambda body: _parse(body, *caps))
    except Refused as refused:
        return await refused.answer(send, _error), "-", False
    rid_header = (b"x-request-id", rid.encode())
    model = req.model or ""
    route = state.route(model)
    if route is None or not caller.may_use(model):
        err = APIError(404, f"The model `{model}` does not exist or you do not have access to it.",
                       param="model", code="model_not_found")
        return await _error(send, err, rid_header), "-", req.stream
    label = state.model_label(route.public)
    kwargs = gw.call_kwargs(route, caller, rid)
    kwargs.update(tools=req.tools, max_tokens=req.max_tokens, temperature=req.temperature)
    kwargs.update(provider_params(req.params, route.kind, state.passthrough, bool(req.tools)))

    def work(watch: _Disconnect) -> Awaitable[int]:
        if req.stream:
            return _stream(gw, send, req, kwargs, caller, label, rid_header, watch)
        return _complete(gw, send, req, kwargs, caller, label, rid_header, watch)

    return await gw.run(scope, receive, RESPONSES_ROUTE, rid, work), label, req.stream


async def _complete(
    gw: Gateway, send: Send, req: LLMRequest, kwargs: dict[str, Any], caller: Caller, label: str,
    rid_header: tuple[bytes, bytes], watch: _Disconnect,
) -> int:
    provider, model = gw._genai(req, label)
    t0 = time.perf_counter()
    try:
        resp = await gw.kit.agenerate(req.messages, **kwargs)
    except BelugaError as exc:
        gw.metrics.genai_failed(provider, model, exc.code.value, time.perf_counter() - t0)
        err = gw._failed(exc, caller)
        watch.finished = True
        return await _error(send, err, rid_header)
    gw.metrics.genai_done(resp.provider or provider, model, resp.model, time.perf_counter() - t0, resp.usage)
    gw._count_tokens(caller, label, resp.usage)
    payload = dumps(encode_response(resp, id="resp_" + new_id(), model=req.model or "", created_at=int(time.time()),
                                    request=req))
    watch.finished = True
    await send({
        "type": "http.response.start",
        "status": 200,
        "headers": [*_JSON_HEADERS, (b"content-length", str(len(payload)).encode()), rid_header],
    })
    await send({"type": "http.response.body", "body": payload})
    return 200


async def _stream(
    gw: Gateway, send: Send, req: LLMRequest, kwargs: dict[str, Any], caller: Caller, label: str,
    rid_header: tuple[bytes, bytes], watch: _Disconnect,
) -> int:
    provider, model = gw._genai(req, label)
    t0 = time.perf_counter()
    chunks: Any = gw.kit.astream(req.messages, **kwargs)
    try:
        try:
            first = await chunks.__anext__()
        except StopAsyncIteration:
            first = None
        except BelugaError as exc:
            gw.metrics.genai_failed(provider, model, exc.code.value, time.perf_counter() - t0)
            err = gw._failed(exc, caller)
            watch.finished = True
            return await _error(send, err, rid_header)
        answered = first.model if first is not None and first.model else ""
        if first is not None:
            gw.metrics.genai_first(provider, model, answered, time.perf_counter() - t0)
        writer = StreamEncoder("resp_" + new_id(), req.model or "", int(time.time()), req)
        await send({"type": "http.response.start", "status": 200, "headers": [*_SSE_HEADERS, rid_header]})
        out = writer.start()
        finish: str | None = None
        usage = None
        chunk = first
        try:
            while chunk is not None:
                out += writer.chunk(chunk)
                if chunk.finish_reason:
                    finish = chunk.finish_reason
                if chunk.usage is not None:
                    usage = chunk.usage
                if chunk.model:
                    answered = chunk.model
                if out:
                    await send({"type": "http.response.body", "body": out, "more_body": True})
                    out = b""
                try:
                    chunk = await chunks.__anext__()
                except StopAsyncIteration:
                    chunk = None
        except BelugaError as exc:
            # Headers are gone: the error travels as an ``error`` event, which the SDK raises.
            gw.metrics.genai_failed(provider, model, exc.code.value, time.perf_counter() - t0)
            err = gw._failed(exc, caller)
            watch.finished = True
            await send({"type": "http.response.body", "body": out + writer.error(err.message, err.type, err.code),
                        "more_body": False})
            return err.status
        gw.metrics.genai_done(provider, model, answered, time.perf_counter() - t0, usage)
        if usage is not None:
            gw._count_tokens(caller, label, usage)
        watch.finished = True
        await send({"type": "http.response.body", "body": out + writer.finish(finish, usage), "more_body": False})
        return 200
    finally:
        await chunks.aclose()


__all__ = ["RESPONSES_ROUTE", "provider_params", "responses"]
