"""The hot path: spans around model calls and tool calls, and guard decisions as events.

Imported on the first traced call, so loading the plugin (``beluga plugins``) imports no
OpenTelemetry code. Per call: one dict of start attributes, one span, one context attach.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Tracer
from opentelemetry.util.types import AttributeValue

from beluga_core import (
    AIMessage,
    ErrorCode,
    GuardDecision,
    ImagePart,
    LLMRequest,
    LLMResponse,
    LLMStream,
    Message,
    StreamChunk,
    SystemMessage,
    TextPart,
    ToolInvocation,
    ToolMessage,
    mask_text,
)
from beluga_tracing import semconv as sc
from beluga_tracing._runtime import MODEL_VALUES_MAX, STATE, Instruments, Options, Static, get_instruments, get_tracer
from beluga_tracing.spans import record_error

_CLIENT = SpanKind.CLIENT
_INTERNAL = SpanKind.INTERNAL
_attach = otel_context.attach
_detach = otel_context.detach
_in_context = trace.set_span_in_context
_perf = time.perf_counter
_ERROR_CODES = frozenset(c.value for c in ErrorCode)


def _tracer(opts: Options) -> Tracer:
    return opts.tracer or STATE.tracer or get_tracer()


def _instruments(opts: Options) -> Instruments:
    return opts.instruments or STATE.instruments or get_instruments()


# -- model calls -------------------------------------------------------------------------------


async def llm_call(
    opts: Options, request: LLMRequest, call_next: Callable[[LLMRequest], Awaitable[LLMResponse | LLMStream]]
) -> LLMResponse | LLMStream:
    """One CLIENT span ``chat {model}`` around the whole call (every retry attempt included), and the
    ``gen_ai.client.*`` metrics of the call."""
    static = opts.static.get((request.provider, request.model, request.operation))
    if static is None:
        static = _static(opts, request.provider, request.model, request.operation)
    attributes = static.attributes.copy()  # the SDK copies too, but a sampler may keep or change what it is given
    if request.max_tokens is not None:
        attributes[sc.GEN_AI_REQUEST_MAX_TOKENS] = request.max_tokens
    if request.temperature is not None:
        attributes[sc.GEN_AI_REQUEST_TEMPERATURE] = request.temperature
    if request.stream:
        attributes[sc.GEN_AI_REQUEST_STREAM] = True
    params = request.params
    if params:
        _param_attributes(params, attributes, opts.capture_content)
    meta = request.metadata
    if meta:
        _metadata_attributes(meta, opts.metadata_keys, attributes)
    if opts.capture_content:
        _input_content(request.messages, attributes)
    span = _tracer(opts).start_span(static.name, kind=_CLIENT, attributes=attributes)
    t0 = _perf()
    token = _attach(_in_context(span))
    try:
        result = await call_next(request)
    except BaseException as exc:
        record_error(span, exc)
        attempts = getattr(exc, "attempts", None)
        if attempts is not None:  # the retry plugin gave up: how many attempts, and why
            _record_attempts(span, attempts)
            reason = getattr(exc, "reason", None)
            if isinstance(reason, str) and reason.isidentifier():
                span.set_attribute(sc.BELUGA_RETRY_REASON, reason)
        span.end()
        _measure_failure(opts, static, exc, _perf() - t0)
        raise
    finally:
        _detach(token)
    if isinstance(result, LLMStream):
        return _traced_stream(result, span, opts, static, t0)
    if span.is_recording():
        _finish(span, result, opts, static)
    span.end()
    _measure(opts, static, result, _perf() - t0)
    return result


_STATIC_MAX = 1024  # distinct (provider, model) pairs kept; more are unusual and just rebuild


def _static(opts: Options, pname: str | None, model: str | None, operation: str = sc.OP_CHAT) -> Static:
    """The span name and the attributes every call to this provider and model starts with; a request
    naming no model is recorded with the model its provider is configured with. ``operation`` is
    the request's (``chat`` or ``embeddings``)."""
    name = pname or opts.default_provider
    provider = opts.provider_kinds.get(name, name)
    attributes: dict[str, AttributeValue] = {sc.GEN_AI_OPERATION_NAME: operation, sc.GEN_AI_PROVIDER_NAME: provider}
    metric: dict[str, AttributeValue] = {sc.GEN_AI_OPERATION_NAME: operation, sc.GEN_AI_PROVIDER_NAME: provider}
    requested = model or opts.provider_models.get(name)
    if requested:
        attributes[sc.GEN_AI_REQUEST_MODEL] = requested
        metric[sc.GEN_AI_REQUEST_MODEL] = _model_value(opts, requested)
    server = opts.servers.get(name)
    if server is not None:
        attributes[sc.SERVER_ADDRESS] = metric[sc.SERVER_ADDRESS] = server[0]
        attributes[sc.SERVER_PORT] = metric[sc.SERVER_PORT] = server[1]
    if opts.emit_deprecated:
        attributes["gen_ai.system"] = provider
    static = Static(f"{operation} {requested}" if requested else operation, provider, attributes, metric)
    cache = opts.static
    if len(cache) >= _STATIC_MAX:
        cache.clear()
    cache[(pname, model, operation)] = static
    return static


def _model_value(opts: Options, model: str) -> str:
    """A model name as a metric attribute: names from the config always, others until
    ``MODEL_VALUES_MAX`` distinct ones were seen, then ``_OTHER`` (metric series stay bounded)."""
    if model in opts.known_models:
        return model
    seen = opts.seen_models
    if model in seen:
        return model
    if len(seen) < MODEL_VALUES_MAX and len(model) <= 128 and model.isprintable():
        seen.add(model)
        return model
    return sc.OTHER_MODEL


#: Request parameters (``LLMRequest.params``, e.g. what the gateway passes on) recorded on the span.
_FLOAT_PARAMS = {
    "top_p": sc.GEN_AI_REQUEST_TOP_P,
    "frequency_penalty": sc.GEN_AI_REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": sc.GEN_AI_REQUEST_PRESENCE_PENALTY,
}
_INT_PARAMS = {"seed": sc.GEN_AI_REQUEST_SEED, "top_k": sc.GEN_AI_REQUEST_TOP_K}
_STOP_MAX = 8  # stop sequences recorded at most (each cut at 64 characters)


def _param_attributes(params: Mapping[str, Any], out: dict[str, AttributeValue], content: bool) -> None:
    for key, attr in _FLOAT_PARAMS.items():
        value = params.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[attr] = float(value)
    for key, attr in _INT_PARAMS.items():
        value = params.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            out[attr] = value
    n = params.get("n")
    if isinstance(n, int) and not isinstance(n, bool) and n != 1:
        out[sc.GEN_AI_REQUEST_CHOICE_COUNT] = n
    if not content:  # stop sequences are text the caller wrote: recorded only with message content
        return
    stop = params.get("stop", params.get("stop_sequences"))
    if isinstance(stop, str):
        stop = [stop]
    if isinstance(stop, list | tuple) and stop:
        out[sc.GEN_AI_REQUEST_STOP_SEQUENCES] = tuple(str(s)[:64] for s in stop[:_STOP_MAX])


# -- metrics -----------------------------------------------------------------------------------


def _measure(opts: Options, static: Static, response: LLMResponse, seconds: float) -> None:
    """``gen_ai.client.operation.duration`` and ``gen_ai.client.token.usage`` of a finished call."""
    inst = _instruments(opts)
    attrs = static.metric.copy()
    if response.model:
        attrs[sc.GEN_AI_RESPONSE_MODEL] = _model_value(opts, response.model)
    fallback = response.metadata.get("fallback") if response.metadata else None
    if fallback:
        _fallback_attributes(opts, fallback, attrs)
    inst.duration.record(seconds, attrs)
    usage = response.usage  # a dict of its own per record: the SDK may keep the one it was given
    inst.tokens.record(usage.input_tokens, {**attrs, sc.GEN_AI_TOKEN_TYPE: "input"})
    inst.tokens.record(usage.output_tokens, {**attrs, sc.GEN_AI_TOKEN_TYPE: "output"})


def _fallback_attributes(opts: Options, note: Any, attrs: dict[str, AttributeValue]) -> None:
    """A fallback served the call (``response.metadata["fallback"]``): the provider and upstream that answered."""
    section = note.get("provider") if isinstance(note, Mapping) else None
    if not isinstance(section, str) or not section:
        return
    attrs[sc.GEN_AI_PROVIDER_NAME] = opts.provider_kinds.get(section, section)
    server = opts.servers.get(section)
    if server is None:
        attrs.pop(sc.SERVER_ADDRESS, None)
        attrs.pop(sc.SERVER_PORT, None)
    else:
        attrs[sc.SERVER_ADDRESS], attrs[sc.SERVER_PORT] = server


def _measure_failure(opts: Options, static: Static, exc: BaseException, seconds: float) -> None:
    from beluga_tracing.spans import error_type

    attrs = static.metric.copy()
    attrs[sc.ERROR_TYPE] = error_type(exc)
    _instruments(opts).duration.record(seconds, attrs)


def _metadata_attributes(meta: Mapping[str, Any], keys: tuple[str, ...], out: dict[str, AttributeValue]) -> None:
    for key in keys:
        value = meta.get(key)
        if value is not None:
            out[sc.BELUGA_REQUEST_PREFIX + key] = value if isinstance(value, str | int | float | bool) else str(value)
    conversation = meta.get("conversation_id")
    if conversation is not None:
        out[sc.GEN_AI_CONVERSATION_ID] = str(conversation)


def _finish(span: Span, response: LLMResponse, opts: Options, static: Static) -> None:
    provider = static.provider
    usage = response.usage
    out: dict[str, AttributeValue] = {
        sc.GEN_AI_USAGE_INPUT_TOKENS: usage.input_tokens,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: usage.output_tokens,
    }
    if usage.cached_input_tokens:
        out[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = usage.cached_input_tokens
    if usage.cache_creation_input_tokens:
        out[sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = usage.cache_creation_input_tokens
    if usage.reasoning_tokens:
        out[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = usage.reasoning_tokens
    if response.model:
        out[sc.GEN_AI_RESPONSE_MODEL] = response.model
    if response.provider and response.provider != provider:
        out[sc.GEN_AI_PROVIDER_NAME] = response.provider  # a fallback served the call
    if response.finish_reason:
        out[sc.GEN_AI_RESPONSE_FINISH_REASONS] = (response.finish_reason,)
    if opts.emit_deprecated:
        out["gen_ai.usage.prompt_tokens"] = usage.input_tokens
        out["gen_ai.usage.completion_tokens"] = usage.output_tokens
        if response.provider and response.provider != provider:
            out["gen_ai.system"] = response.provider
    md = response.metadata
    if md:
        response_id = md.get("id") or md.get("response_id")
        if isinstance(response_id, str):
            out[sc.GEN_AI_RESPONSE_ID] = response_id
        attempts = md.get("attempts")
        if attempts is not None:
            _record_attempts(span, attempts)
        cost = md.get("cost_usd")
        if isinstance(cost, int | float) and not isinstance(cost, bool):
            out[sc.BELUGA_BUDGET_COST_USD] = float(cost)
        fallback = md.get("fallback")
        if fallback:
            section = fallback.get("provider") if isinstance(fallback, Mapping) else None
            server = opts.servers.get(section) if isinstance(section, str) else None
            if server is not None:
                out[sc.SERVER_ADDRESS], out[sc.SERVER_PORT] = server
    if opts.capture_content:
        out[sc.GEN_AI_OUTPUT_MESSAGES] = _dumps([_message_json(response.message, response.finish_reason)])
    span.set_attributes(out)


# -- retry attempts ----------------------------------------------------------------------------

_NUMBER_KEYS = ("attempt", "number", "n", "index")
_DELAY_KEYS = ("delay", "backoff", "wait", "sleep", "slept")
_ERROR_KEYS = ("error_type", "error.type", "code", "error_code", "error")
_ELAPSED_KEYS = ("elapsed", "duration", "seconds")


def _record_attempts(span: Span, attempts: Any) -> None:
    """``beluga.retry.attempts`` (the count) and, when the retry plugin gives a list, one
    ``beluga.retry.attempt`` event per attempt with its number, error type and wait: never messages."""
    if isinstance(attempts, bool):
        return
    if isinstance(attempts, int):
        span.set_attribute(sc.BELUGA_RETRY_ATTEMPTS, attempts)
        return
    if not isinstance(attempts, Sequence) or isinstance(attempts, str | bytes):
        return
    span.set_attribute(sc.BELUGA_RETRY_ATTEMPTS, len(attempts))
    for i, item in enumerate(attempts, start=1):
        event: dict[str, AttributeValue] = {sc.ATTEMPT_NUMBER: i}
        if isinstance(item, Mapping):
            _attempt_fields(item, event)
        elif isinstance(item, BaseException):
            from beluga_tracing.spans import error_type

            event[sc.ERROR_TYPE] = error_type(item)
        span.add_event(sc.EVENT_RETRY_ATTEMPT, event)


def _attempt_fields(item: Mapping[str, Any], event: dict[str, AttributeValue]) -> None:
    for key in _NUMBER_KEYS:
        value = item.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            event[sc.ATTEMPT_NUMBER] = value
            break
    for key in _DELAY_KEYS:
        value = item.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            event[sc.ATTEMPT_DELAY] = float(value)
            break
    for key in _ELAPSED_KEYS:
        value = item.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            event["beluga.retry.elapsed"] = float(value)
            break
    for key in _ERROR_KEYS:
        value = item.get(key)
        if value is None:
            continue
        if isinstance(value, BaseException):
            from beluga_tracing.spans import error_type

            event[sc.ERROR_TYPE] = error_type(value)
        else:
            text = getattr(value, "value", value)
            # An ErrorCode or a class-like name only: free text could quote the user.
            if isinstance(text, str) and (text in _ERROR_CODES or (text.isidentifier() and len(text) <= 64)):
                event[sc.ERROR_TYPE] = text
        break
    outcome = item.get("outcome") or item.get("status")
    if isinstance(outcome, str) and outcome.isidentifier():
        event["beluga.retry.outcome"] = outcome


# -- streams -----------------------------------------------------------------------------------


def _traced_stream(stream: LLMStream, span: Span, opts: Options, static: Static, t0: float) -> LLMStream:
    """End the span when the stream ends (with its usage), and keep the span current while the
    consumer pulls chunks, so streamed output guards record their decisions on it."""
    ttfc = _perf() - t0  # the chain hands over a stream once its first chunk has arrived
    span.set_attribute(sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, ttfc)

    def first_chunk(model: str) -> None:  # recorded when the consumer reads it: its model is known then
        attrs = static.metric.copy()
        if model:
            attrs[sc.GEN_AI_RESPONSE_MODEL] = _model_value(opts, model)
        _instruments(opts).first_chunk.record(ttfc, attrs)

    def done(response: LLMResponse | None, error: BaseException | None) -> None:
        if error is None:
            if response is not None:
                if span.is_recording():
                    _finish(span, response, opts, static)
                _measure(opts, static, response, _perf() - t0)
        elif isinstance(error, GeneratorExit):
            span.add_event(sc.EVENT_STREAM_CLOSED)
        else:
            record_error(span, error)
            _measure_failure(opts, static, error, _perf() - t0)
        span.end()

    stream.on_finish(done)
    return _SpanStream(stream, _in_context(span), first_chunk)


class _SpanStream(LLMStream):
    """The same stream, with the call's span current while each chunk is produced (so streamed
    output guards put their decisions on it). Everything else is the wrapped stream's."""

    def __init__(self, inner: LLMStream, ctx: Any, first: Callable[[str], None]) -> None:
        # no super().__init__: all state is inner's
        self._inner = inner
        self._ctx = ctx
        self._on_first: Callable[[str], None] | None = first

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def on_finish(self, callback: Any) -> None:
        self._inner.on_finish(callback)

    async def __anext__(self) -> StreamChunk:
        token = _attach(self._ctx)
        try:
            chunk = await self._inner.__anext__()
        finally:
            _detach(token)
        first = self._on_first
        if first is not None:
            self._on_first = None
            first(chunk.model or self._inner.model)
        return chunk

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def collect(self) -> LLMResponse:
        async for _ in self:
            pass
        assert self._inner.response is not None
        return self._inner.response


# -- tool calls --------------------------------------------------------------------------------


async def tool_call(opts: Options, call: ToolInvocation, call_next: Callable[[ToolInvocation], Awaitable[Any]]) -> Any:
    """An INTERNAL span ``execute_tool {name}`` around the tool (after the on_tool_call guards)."""
    attributes: dict[str, AttributeValue] = {
        sc.GEN_AI_OPERATION_NAME: sc.OP_EXECUTE_TOOL,
        sc.GEN_AI_TOOL_NAME: call.name,
        sc.GEN_AI_TOOL_TYPE: "function",
    }
    meta = call.metadata
    if meta:
        call_id = meta.get("tool_call_id")
        if call_id is not None:
            attributes[sc.GEN_AI_TOOL_CALL_ID] = str(call_id)
        _metadata_attributes(meta, opts.metadata_keys, attributes)
    if opts.capture_content:
        attributes[sc.GEN_AI_TOOL_CALL_ARGUMENTS] = _dumps(call.arguments)
    span = _tracer(opts).start_span(f"execute_tool {call.name}", kind=_INTERNAL, attributes=attributes)
    token = _attach(_in_context(span))
    try:
        result = await call_next(call)
    except BaseException as exc:
        record_error(span, exc)
        span.end()
        raise
    finally:
        _detach(token)
    if opts.capture_content and span.is_recording():
        span.set_attribute(sc.GEN_AI_TOOL_CALL_RESULT, _dumps(result))
    span.end()
    return result


# -- guard decisions ---------------------------------------------------------------------------


def guard_decision(decision: GuardDecision) -> None:
    """A ``beluga.guard.decision`` event on the current span: the verdict and finding counts only."""
    span = trace.get_current_span()
    if not span.is_recording():
        return
    event: dict[str, AttributeValue] = {
        sc.GUARD_NAME: decision.guard,
        sc.GUARD_STAGE: decision.stage,
        sc.GUARD_ALLOWED: decision.allowed,
        sc.GUARD_MODIFIED: decision.modified,
    }
    if decision.reason:
        event[sc.GUARD_REASON] = mask_text(decision.reason)[:200]
    for kind, count in decision.findings.items():
        event[sc.GUARD_FINDINGS_PREFIX + kind] = int(count)
    meta = decision.metadata
    tool = meta.get("tool")
    if isinstance(tool, str):
        event[sc.GEN_AI_TOOL_NAME] = tool
    role = meta.get("role")
    if isinstance(role, str):
        event["beluga.guard.role"] = role
    path = meta.get("path")
    if isinstance(path, str):
        event["beluga.guard.path"] = path
    span.add_event(sc.EVENT_GUARD_DECISION, event)
    _guardrail_events(span, decision, event.get(sc.GUARD_REASON))


def _guardrail_events(span: Span, decision: GuardDecision, reason: AttributeValue | None) -> None:
    """The same decision as the conventions' ``gen_ai.guardrail.result`` events: one with the guard's
    own verdict (``decision``: allowed, modified or blocked), then one per finding category with its
    count. Each names the guard (component) and the stage (source)."""
    base: dict[str, AttributeValue] = {
        sc.GEN_AI_GUARDRAIL_COMPONENT_NAME: decision.guard,
        sc.GEN_AI_GUARDRAIL_SOURCE: decision.stage,
    }
    verdict = "blocked" if not decision.allowed else "modified" if decision.modified else "allowed"
    result = {**base, sc.GEN_AI_GUARDRAIL_RESULT_TYPE: "decision", sc.GEN_AI_GUARDRAIL_RESULT_VALUE: verdict}
    if reason is not None:
        result[sc.GEN_AI_GUARDRAIL_RESULT_REASON] = reason
    span.add_event(sc.EVENT_GUARDRAIL_RESULT, result)
    for kind, count in decision.findings.items():
        span.add_event(sc.EVENT_GUARDRAIL_RESULT, {
            **base,
            sc.GEN_AI_GUARDRAIL_RISK_CATEGORY: kind,
            sc.GEN_AI_GUARDRAIL_RESULT_TYPE: "findings",
            sc.GEN_AI_GUARDRAIL_RESULT_VALUE: str(int(count)),
        })


# -- opt-in content ----------------------------------------------------------------------------


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _parts_json(message: Message) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            parts.append({"type": "text", "content": part.text})
        elif isinstance(part, ImagePart):
            if part.url is not None:
                parts.append({"type": "uri", "modality": "image", "uri": part.url})
            else:  # inline bytes are never copied into a span
                parts.append({"type": "blob", "modality": "image", "mime_type": part.mime_type})
    return parts


def _message_json(message: Message, finish_reason: str | None = None) -> dict[str, Any]:
    parts = _parts_json(message)
    if isinstance(message, AIMessage):
        for tc in message.tool_calls:
            parts.append({"type": "tool_call", "id": tc.id, "name": tc.name, "arguments": dict(tc.arguments)})
    if isinstance(message, ToolMessage):
        parts = [{"type": "tool_call_response", "id": message.tool_call_id, "result": message.text}]
    out: dict[str, Any] = {"role": message.role, "parts": parts}
    if finish_reason:
        out["finish_reason"] = finish_reason
    return out


def _input_content(messages: Sequence[Message], out: dict[str, AttributeValue]) -> None:
    system = [p for m in messages if isinstance(m, SystemMessage) for p in _parts_json(m)]
    if system:
        out[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = _dumps(system)
    out[sc.GEN_AI_INPUT_MESSAGES] = _dumps([_message_json(m) for m in messages if not isinstance(m, SystemMessage)])
