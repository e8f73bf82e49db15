"""OpenAI's Chat Completions wire format: requests in, ``chat.completion`` and chunk objects out,
and Beluga's errors as OpenAI-style error bodies with the right HTTP status."""

from __future__ import annotations

import functools
import itertools
import json
import math
import os
from collections.abc import Mapping
from typing import Any

import attrs

from beluga_core.errors import (
    BelugaError,
    CircuitOpenError,
    ConfigError,
    ErrorCode,
    GuardBlocked,
    ProviderError,
    RateLimited,
)
from beluga_core.schema import (
    AIMessage,
    HumanMessage,
    ImagePart,
    LLMResponse,
    Message,
    Part,
    StreamChunk,
    SystemMessage,
    TextPart,
    ToolCall,
    ToolMessage,
    ToolSpec,
    Usage,
)

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class _Ids:
    """Unique ids for requests and completions: 16 random hex digits per process, then a counter.

    Cheaper than ``uuid.uuid4()`` (an ``os.urandom`` call each) on every request; ids need to be
    unique, not unguessable. A forked worker draws a new prefix.
    """

    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        self.prefix = os.urandom(8).hex()
        self.count = itertools.count(1)

    def __call__(self) -> str:
        return f"{self.prefix}{next(self.count):016x}"


new_id = _Ids()


def dumps(obj: Any) -> bytes:
    return _dumps(obj).encode("utf-8")


class APIError(Exception):
    """An error the gateway answers with: HTTP status plus OpenAI's ``{"error": {...}}`` body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def bad_request(message: str, param: str | None = None, code: str | None = None) -> APIError:
    return APIError(400, message, param=param, code=code)


# -- requests ----------------------------------------------------------------------------------


@attrs.frozen(slots=True)
class ChatRequest:
    """A validated ``POST /v1/chat/completions`` body, in Beluga's terms."""

    model: str
    messages: tuple[Message, ...]
    stream: bool = False
    include_usage: bool = False
    tools: tuple[ToolSpec, ...] = ()
    max_tokens: int | None = None
    temperature: float | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict)


def parse_chat(raw: bytes) -> ChatRequest:
    """Parse and check a Chat Completions body; raises ``APIError`` (400) naming the bad field."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("We could not parse the JSON body of your request: it is not valid JSON.") from None
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad_request("you must provide a model parameter", "model")
    raw_messages = body.get("messages")
    if not isinstance(raw_messages, list) or not raw_messages:
        raise bad_request("'messages' must be a non-empty array of messages", "messages")
    messages = tuple(_message(m, i) for i, m in enumerate(raw_messages))
    stream = body.get("stream") or False
    if not isinstance(stream, bool):
        raise bad_request("'stream' must be a boolean", "stream")
    opts = body.get("stream_options")
    include_usage = False
    if opts is not None:
        if not isinstance(opts, dict):
            raise bad_request("'stream_options' must be an object", "stream_options")
        include_usage = bool(opts.get("include_usage"))
    n = body.get("n")
    if n not in (None, 1):
        raise bad_request("this gateway returns one choice per request; 'n' must be 1", "n")
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is not None and (not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1):
        raise bad_request("'max_tokens' must be a positive integer", "max_tokens")
    temperature = body.get("temperature")
    if temperature is not None and (isinstance(temperature, bool) or not isinstance(temperature, int | float)):
        raise bad_request("'temperature' must be a number", "temperature")
    tools = tuple(_tool(t, i) for i, t in enumerate(body.get("tools") or ()))
    return ChatRequest(
        model,
        messages,
        stream,
        include_usage,
        tools,
        max_tokens,
        None if temperature is None else float(temperature),
        body,
    )


def _text_of(content: Any, where: str) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = []
        for j, p in enumerate(content):
            if not isinstance(p, dict) or p.get("type") not in ("text", "refusal"):
                raise bad_request(f"{where}[{j}]: only text parts are accepted in this message", where)
            out.append(str(p.get("text") or p.get("refusal") or ""))
        return "".join(out)
    raise bad_request(f"{where}: content must be a string or an array of content parts", where)


def _user_parts(content: Any, where: str) -> tuple[Part, ...] | str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise bad_request(f"{where}: content must be a string or an array of content parts", where)
    parts: list[Part] = []
    for j, p in enumerate(content):
        kind = p.get("type") if isinstance(p, dict) else None
        if kind == "text":
            parts.append(TextPart(str(p.get("text") or "")))
        elif kind == "image_url":
            image = p.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if not isinstance(url, str) or not url:
                raise bad_request(f"{where}[{j}].image_url.url is required", f"{where}[{j}].image_url")
            detail = image.get("detail", "auto") if isinstance(image, dict) else "auto"
            if detail not in ("auto", "low", "high"):
                raise bad_request(f"{where}[{j}].image_url.detail must be auto, low or high", f"{where}[{j}]")
            parts.append(ImagePart(url=url, detail=detail))  # type: ignore[arg-type]  # checked above
        else:
            raise bad_request(f"{where}[{j}]: unsupported content part type {kind!r} (text, image_url)", where)
    return tuple(parts)


def _message(m: Any, i: int) -> Message:
    where = f"messages[{i}]"
    if not isinstance(m, dict):
        raise bad_request(f"{where} must be an object", where)
    role = m.get("role")
    content = m.get("content")
    if role in ("system", "developer"):
        return SystemMessage(_text_of(content, f"{where}.content"))
    if role == "user":
        return HumanMessage(_user_parts(content, f"{where}.content"))
    if role == "assistant":
        calls = []
        for j, c in enumerate(m.get("tool_calls") or ()):
            fn = c.get("function") if isinstance(c, dict) else None
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                raise bad_request(f"{where}.tool_calls[{j}].function.name is required", f"{where}.tool_calls")
            calls.append(ToolCall(str(c.get("id") or ""), fn["name"], _arguments(fn.get("arguments"))))
        return AIMessage(_text_of(content, f"{where}.content"), tool_calls=calls)
    if role == "tool":
        call_id = m.get("tool_call_id")
        if not isinstance(call_id, str) or not call_id:
            raise bad_request(f"{where}.tool_call_id is required for tool messages", f"{where}.tool_call_id")
        return ToolMessage(_text_of(content, f"{where}.content"), tool_call_id=call_id, name=m.get("name"))
    raise bad_request(f"{where}.role must be system, developer, user, assistant or tool, got {role!r}", where)


def _arguments(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, TypeError):
        return {"_raw": str(raw)}
    return value if isinstance(value, dict) else {"_raw": str(raw)}


def _tool(t: Any, i: int) -> ToolSpec:
    where = f"tools[{i}]"
    fn = t.get("function") if isinstance(t, dict) and t.get("type", "function") == "function" else None
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
        raise bad_request(f"{where}: expected {{'type': 'function', 'function': {{'name': ...}}}}", where)
    params = fn.get("parameters") or {"type": "object", "properties": {}}
    if not isinstance(params, dict):
        raise bad_request(f"{where}.function.parameters must be a JSON schema object", where)
    return ToolSpec(fn["name"], str(fn.get("description") or ""), params)


def provider_params(req: ChatRequest, kind: str, passthrough: frozenset[str]) -> dict[str, Any]:
    """Fields beyond Beluga's own that the provider should see, in its own dialect."""
    extra = req.extra
    if kind == "openai":
        return {k: extra[k] for k in passthrough if k in extra}
    if kind == "anthropic":
        out: dict[str, Any] = {}
        if "top_p" in extra:
            out["top_p"] = extra["top_p"]
        stop = extra.get("stop")
        if stop:
            out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
        return out
    return {}


# -- responses ---------------------------------------------------------------------------------

_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls"}


def finish_reason(reason: str | None, has_tools: bool) -> str:
    if reason:
        return _FINISH.get(reason, reason)
    return "tool_calls" if has_tools else "stop"


def usage_dict(u: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.input_tokens + u.output_tokens,
        "prompt_tokens_details": {"cached_tokens": u.cached_input_tokens},
    }


def _call_json(c: ToolCall) -> dict[str, Any]:
    args = c.arguments
    raw = args["_raw"] if set(args) == {"_raw"} and isinstance(args.get("_raw"), str) else json.dumps(dict(args))
    return {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": raw}}


def completion(rid: str, created: int, model: str, resp: LLMResponse) -> dict[str, Any]:
    """A ``chat.completion`` object for a whole answer."""
    calls = resp.message.tool_calls
    message: dict[str, Any] = {"role": "assistant", "content": resp.text or (None if calls else ""), "refusal": None}
    if calls:
        message["tool_calls"] = [_call_json(c) for c in calls]
    return {
        "id": rid,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason(resp.finish_reason, bool(calls)),
            }
        ],
        "usage": usage_dict(resp.usage),
        "system_fingerprint": None,
    }


class ChunkWriter:
    """Turns Beluga stream chunks into ``chat.completion.chunk`` SSE events (bytes)."""

    __slots__ = ("_head", "_tail", "include_usage", "saw_tools")

    def __init__(self, rid: str, created: int, model: str, include_usage: bool) -> None:
        self.include_usage = include_usage
        self.saw_tools = False
        # Every chunk shares these fields; they are serialised once.
        self._head = (
            b'data: {"id":' + dumps(rid) + b',"object":"chat.completion.chunk","created":' + str(created).encode()
            + b',"model":' + dumps(model) + b',"system_fingerprint":null,"choices":'
        )
        self._tail = b',"usage":null}\n\n' if include_usage else b"}\n\n"

    def _event(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return self._head + b"[" + dumps(choice) + b"]" + self._tail

    def opening(self) -> bytes:
        return self._event({"role": "assistant", "content": "", "refusal": None})

    def chunk(self, c: StreamChunk) -> bytes:
        out = b""
        if c.text:
            out += self._event({"content": c.text})
        if c.tool_calls:
            self.saw_tools = True
            deltas = []
            for d in c.tool_calls:
                item: dict[str, Any] = {"index": d.index}
                fn: dict[str, Any] = {"arguments": d.arguments}
                if d.id:
                    item["id"] = d.id
                    item["type"] = "function"
                if d.name:
                    fn["name"] = d.name
                item["function"] = fn
                deltas.append(item)
            out += self._event({"tool_calls": deltas})
        return out

    def closing(self, reason: str | None, usage: Usage | None) -> bytes:
        out = self._event({}, finish_reason(reason, self.saw_tools))
        if self.include_usage:
            out += self._head + b"[]," + b'"usage":' + dumps(usage_dict(usage or Usage())) + b"}\n\n"
        return out + b"data: [DONE]\n\n"


def error_event(err: APIError) -> bytes:
    return b"data: " + dumps(err.body()) + b"\n\n"


# -- errors ------------------------------------------------------------------------------------


#: Retry-After (seconds) on a 429 or 503 whose cause did not say when to come back.
DEFAULT_RETRY_AFTER = 1.0


def retry_headers(seconds: float | None) -> dict[str, str]:
    if seconds is None or not seconds >= 0:  # also NaN
        seconds = DEFAULT_RETRY_AFTER
    seconds = min(seconds, 86400.0)
    return {"retry-after": str(max(1, math.ceil(seconds))), "retry-after-ms": str(int(seconds * 1000))}


def root_cause(exc: BaseException) -> BaseException:
    """The error behind wrappers that keep the last attempt's error as ``last_error`` (retry's
    give-up errors): an open breaker seen through a retry is still an open breaker."""
    seen = {id(exc)}
    while isinstance(inner := getattr(exc, "last_error", None), BaseException) and id(inner) not in seen:
        seen.add(id(inner))
        exc = inner
    return exc


@functools.cache
def _storage_error() -> type[BaseException] | tuple[()]:
    try:
        from beluga_ratelimit.storage import StorageUnavailable  # type: ignore[import-untyped,unused-ignore]
    except ImportError:  # the plugin is not installed: its error cannot occur
        return ()
    error: type[BaseException] = StorageUnavailable
    return error


def _storage_outage(exc: BaseException) -> bool:
    """The rate limiter's shared storage is down and it fails closed (beluga-ratelimit's error)."""
    return isinstance(exc, _storage_error())


def _upstream(exc: BaseException) -> str:
    """How an upstream failure is described to clients: the provider's section name and its HTTP
    status, never its URL or its own message text (those go to the log)."""
    provider = getattr(exc, "provider", "") or "upstream"
    status = getattr(exc, "status_code", None)
    return f"The upstream provider {provider!r}" + (f" (HTTP {status})" if isinstance(status, int) else "")


def from_beluga(exc: BelugaError) -> APIError:
    """The OpenAI-style answer for a Beluga error.

    Messages say what failed in the client's terms. Upstream URLs and the upstream's own message
    text never reach the client (they may name internal hosts or quote keys); the gateway logs them.
    Every 429 and 503 carries ``Retry-After``.
    """
    root = root_cause(exc)
    if isinstance(root, GuardBlocked):
        code = "guard_blocked" if root.stage == "input" else f"guard_blocked_{root.stage}"
        return APIError(
            400,
            f"Your request was blocked by the {root.guard!r} guard ({root.stage}): {root.reason}",
            type="invalid_request_error",
            code=code,
            param="messages" if root.stage == "input" else None,
        )
    if isinstance(root, RateLimited):
        return APIError(
            429,
            root.message,
            type="rate_limit_error",
            code="rate_limit_exceeded",
            headers=retry_headers(root.retry_after),
        )
    if isinstance(root, CircuitOpenError):
        return APIError(
            503,
            "The upstream provider is unavailable: its circuit breaker is open after repeated failures. "
            "Retry after the time in Retry-After.",
            type="service_unavailable",
            code="circuit_open",
            headers=retry_headers(root.retry_after),
        )
    if _storage_outage(root):
        return APIError(
            503,
            "The gateway's rate-limit storage is unreachable, so requests are refused until it returns. "
            "Retry after the time in Retry-After.",
            type="service_unavailable",
            code="rate_limit_storage_unavailable",
            headers=retry_headers(getattr(root, "retry_after", None)),
        )
    if isinstance(root, ConfigError) or isinstance(exc, ConfigError):
        return APIError(500, "The gateway is misconfigured for this request; see its log.", type="server_error",
                        code="gateway_misconfigured")
    code = exc.code
    if code in (ErrorCode.TIMEOUT, ErrorCode.BUDGET_EXHAUSTED):
        slow = " (the upstream provider did not answer in time)" if isinstance(root, ProviderError) else ""
        return APIError(504, f"The request did not finish within its deadline{slow}.", type="timeout",
                        code="timeout")
    if not isinstance(root, ProviderError):
        if code is ErrorCode.PROVIDER_UNAVAILABLE:
            return APIError(502, "The upstream provider failed.", type="upstream_error", code="upstream_unavailable",
                            headers=retry_headers(exc.retry_after) if exc.retry_after is not None else None)
        # The chain's own refusal (a plugin's or the kit's check): its message is Beluga's, not an upstream's.
        status = 404 if code is ErrorCode.NOT_FOUND else 400
        return APIError(status, exc.message, type="invalid_request_error", code=code.value)
    who = _upstream(root)
    if code is ErrorCode.AUTH:
        return APIError(
            502,
            f"{who} rejected the gateway's credentials. This is the gateway's configuration, not your key; "
            "tell its operator.",
            type="upstream_error",
            code="upstream_auth_failed",
        )
    if code is ErrorCode.RATE_LIMIT:
        return APIError(429, f"{who} is rate limiting; retry later.", type="rate_limit_error",
                        code="upstream_rate_limited", headers=retry_headers(root.retry_after))
    if code is ErrorCode.NOT_FOUND:
        return APIError(404, f"{who} does not know the requested model or resource.", type="invalid_request_error",
                        code="not_found")
    if code is ErrorCode.INVALID_INPUT:
        return APIError(400, f"{who} rejected the request as invalid; check the request's fields and size.",
                        type="invalid_request_error", code="invalid_input")
    return APIError(502, f"{who} failed or sent a reply the gateway could not use.", type="upstream_error",
                    code="upstream_unavailable",
                    headers=retry_headers(root.retry_after) if root.retry_after is not None else None)


__all__ = [
    "APIError",
    "ChatRequest",
    "ChunkWriter",
    "completion",
    "dumps",
    "error_event",
    "from_beluga",
    "parse_chat",
    "provider_params",
    "retry_headers",
    "root_cause",
]
