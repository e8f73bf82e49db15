"""OpenAI's Chat Completions wire format: requests in, ``chat.completion`` and chunk objects out,
and Beluga's errors as OpenAI-style error bodies with the right HTTP status.

The gateway's ``/v1/chat/completions`` speaks it to clients; the openai provider speaks it to
upstreams (:func:`encode_request`, :func:`decode_response`, :class:`StreamDecoder`)."""

from __future__ import annotations

import itertools
import json
import math
import os
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import attrs

from beluga_core import (
    AIMessage,
    BelugaError,
    CircuitOpenError,
    ConfigError,
    ErrorCode,
    GuardBlocked,
    GuardResult,
    HumanMessage,
    ImagePart,
    LLMResponse,
    Message,
    Part,
    ProviderError,
    QuotaExceeded,
    RateLimited,
    StorageUnavailable,
    StreamChunk,
    SystemMessage,
    TextPart,
    ToolCall,
    ToolCallDelta,
    ToolMessage,
    ToolSpec,
    Usage,
)
from beluga_wire import shape
from beluga_wire.anthropic import misnamed_tool
from beluga_wire.shape import WireError, count, load, obj, opt_list, opt_obj, opt_str

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
    #: Choices asked for (``n``).
    n: int = 1
    #: What only an OpenAI-compatible upstream can take, as ``(field, what)``: refused for other providers.
    unmodelled: tuple[tuple[str, str], ...] = ()
    #: Per message, what it holds beyond Beluga's message (None: nothing), for OpenAI-compatible providers.
    wire_messages: tuple[Mapping[str, Any] | None, ...] | None = None
    #: Content part types the guards cannot read (``file``, ``input_audio``), and the first such part's field.
    unreadable: tuple[str, ...] = ()
    unreadable_at: str | None = None


#: Deepest nesting of arrays and objects accepted in a request body (and in tool-call arguments).
MAX_DEPTH = 64
#: Defaults of ``[plugins.gateway] max_messages`` and ``max_tools``: the most messages and tools in one
#: request (OpenAI documents at most 128 functions).
MAX_MESSAGES = 2048
MAX_TOOLS = 128
#: Longest ``model`` and other names (tool calls, tool choice, message ``name``) accepted. Model
#: ids are short; the name ends up in breaker names, logs and ``/readyz``.
MAX_NAME_CHARS = 256
# Control characters (Unicode Cc) and the line and paragraph separators: never in a name, which
# would otherwise forge log lines or break the metrics exposition format.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: What OpenAI requires of a function's name in ``tools``: ``^[a-zA-Z0-9_-]{1,64}$``.
#: Integer fields the gateway reads keep to 64 bits (OpenAI's own range for ``seed``).
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1
#: Longest integer accepted anywhere (in free-form objects such as a tool's JSON schema); longer
#: digit strings are not even converted.
MAX_INT_DIGITS = 100
# Escaped backslashes, and surrogate escapes with the low half that pairs them if it follows: read
# left to right, a lone surrogate escape is a match of six characters. Pairs, as writers with
# ``ensure_ascii`` send every emoji, are twelve.
_SURROGATE_ESCAPES = re.compile(r"\\\\|\\u[dD][89a-fA-F][0-9a-fA-F]{2}(?:\\u[dD][c-fC-F][0-9a-fA-F]{2})?")


def _lone_surrogate_escape(text: str) -> bool:
    """Whether JSON ``text`` escapes a lone surrogate: the only way one gets into a strictly decoded body."""
    # One-character search is memchr; most prompts hold no backslash at all.
    return "\\" in text and "\\u" in text and any(len(m.group()) == 6 for m in _SURROGATE_ESCAPES.finditer(text))


class _BadNumber:
    """What the decoder makes of ``NaN``, ``Infinity``, ``1e400`` or a 400-digit integer: a marker
    the check that follows reports with the field holding it. It never leaves this module."""

    __slots__ = ()
    made = 0  # how many were made: the full check runs only when a decode made one

    def __init__(self) -> None:
        _BadNumber.made += 1


def _parse_float(text: str) -> float | _BadNumber:
    value = float(text)
    return value if math.isfinite(value) else _BadNumber()


def _parse_int(text: str) -> int | _BadNumber:
    return int(text) if len(text) <= MAX_INT_DIGITS else _BadNumber()


_DECODER = json.JSONDecoder(
    parse_float=_parse_float, parse_int=_parse_int, parse_constant=lambda _: _BadNumber()
)


def _is_text(s: str) -> bool:
    """True unless ``s`` holds a lone surrogate (which no UTF-8 encoder, ours or an upstream's, accepts)."""
    if s.isascii():
        return True
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _shown(key: str) -> str:
    """A body key as it may appear in an error: surrogates escaped, long keys cut."""
    key = key.encode("utf-8", "backslashreplace").decode("utf-8")
    return key if len(key) <= 64 else key[:61] + "..."


def _check(node: Any, path: str, depth: int) -> None:
    """Refuse what the decoder let through but nothing downstream may see: lone surrogates (in keys
    and values), non-finite or oversized numbers, nesting deeper than ``MAX_DEPTH``."""
    if isinstance(node, dict):
        if depth > MAX_DEPTH:
            raise bad_request(f"The request nests arrays and objects deeper than {MAX_DEPTH} levels.", path or None)
        for key, value in node.items():
            where = f"{path}.{_shown(key)}" if path else _shown(key)
            if not _is_text(key):
                raise bad_request(f"{where}: the key is not valid Unicode (it holds a lone surrogate)", where)
            _check(value, where, depth + 1)
    elif isinstance(node, list):
        if depth > MAX_DEPTH:
            raise bad_request(f"The request nests arrays and objects deeper than {MAX_DEPTH} levels.", path or None)
        for i, value in enumerate(node):
            _check(value, f"{path}[{i}]", depth + 1)
    elif isinstance(node, str):
        if not _is_text(node):
            raise bad_request(f"{path or 'body'}: the string is not valid Unicode (it holds a lone surrogate)",
                              path or None)
    elif isinstance(node, _BadNumber):
        raise bad_request(
            f"{path or 'body'}: numbers must be finite and integers at most {MAX_INT_DIGITS} digits long "
            "(NaN, Infinity and out-of-range values are not JSON numbers this API accepts)",
            path or None,
        )


def _too_deep(node: Any, room: int) -> bool:
    """Whether arrays and objects nest in ``node`` more than ``room`` levels deep."""
    if isinstance(node, dict):
        children: Any = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return False
    return room <= 0 or any(_too_deep(child, room - 1) for child in children)


def load_json(text: str) -> Any:
    """``json.loads`` within the gateway's limits: ``ValueError`` if ``text`` is not JSON, ``APIError``
    (400, naming the field) if it holds what :func:`_check` refuses."""
    made = _BadNumber.made
    try:
        value = _DECODER.decode(text)
    except RecursionError:
        raise bad_request(f"The request nests arrays and objects deeper than {MAX_DEPTH} levels.") from None
    # The full walk (which names the field) only when something is or may be wrong: a bad number
    # was made, a lone surrogate escape appears, or the nesting passes the cap (looked for in a
    # short text only when it has enough brackets; in a long one, counting them costs more than
    # walking its arrays and objects).
    if (
        _BadNumber.made != made
        or _lone_surrogate_escape(text)
        or ((len(text) > 16384 or text.count("[") + text.count("{") > MAX_DEPTH) and _too_deep(value, MAX_DEPTH))
    ):
        _check(value, "", 1)
    return value


def parse_chat(raw: bytes, *, max_messages: int = MAX_MESSAGES, max_tools: int = MAX_TOOLS) -> ChatRequest:
    """Parse and check a Chat Completions body; raises ``APIError`` (400) naming the bad field.

    Fields are checked against OpenAI's published description of the request (types, ranges,
    enumerations); fields the gateway does not know are only held to the body-wide rules:
    valid Unicode, finite 64-bit-safe numbers, nesting within ``MAX_DEPTH``. ``model`` and other
    names are at most ``MAX_NAME_CHARS`` long without control characters; at most ``max_messages``
    messages and ``max_tools`` tools are accepted.
    """
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise bad_request("We could not parse the JSON body of your request: it is not valid UTF-8.") from None
    try:
        body = load_json(text)
    except ValueError:
        raise bad_request("We could not parse the JSON body of your request: it is not valid JSON.") from None
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad_request("you must provide a model parameter", "model")
    _name(model, "model")
    raw_messages = body.get("messages")
    if not isinstance(raw_messages, list) or not raw_messages:
        raise bad_request("'messages' must be a non-empty array of messages", "messages")
    if len(raw_messages) > max_messages:
        raise bad_request(f"'messages' holds {len(raw_messages)} messages; this gateway accepts at most "
                          f"{max_messages} in one request", "messages")
    found = _Found()
    messages = tuple(_message(m, i, found) for i, m in enumerate(raw_messages))
    stream = _opt(body, "stream", bool, "a boolean") or False
    opts = _opt(body, "stream_options", dict, "an object")
    include_usage = False
    if opts is not None:
        for flag in ("include_usage", "include_obfuscation"):
            _opt(opts, flag, bool, "a boolean", "stream_options.")
        include_usage = bool(opts.get("include_usage"))
    n = _integer(body, "n", 1, 128) or 1
    if n > 1:
        found.unmodelled.append(("n", "more than one choice"))
    # A token limit below 1 (the spec gives none) means nothing to the chain, which reserves what
    # a call may use: the chain sees no limit, and only an OpenAI-compatible upstream gets the value
    # as sent, to judge.
    max_completion = _integer(body, "max_completion_tokens", None, None)
    max_tokens = _integer(body, "max_tokens", None, None)
    for name, limit in (("max_completion_tokens", max_completion), ("max_tokens", max_tokens)):
        if limit is not None and limit < 1:
            found.unmodelled.append((name, "a token limit below 1"))
    max_completion = max_completion if max_completion is None or max_completion >= 1 else None
    max_tokens = max_tokens if max_tokens is None or max_tokens >= 1 else None
    temperature = _number(body, "temperature", 0, 2)
    _check_options(body)
    raw_tools = _opt(body, "tools", list, "an array of tools")
    if raw_tools is not None and len(raw_tools) > max_tools:
        raise bad_request(f"'tools' holds {len(raw_tools)} tools; this gateway accepts at most {max_tools} "
                          "in one request", "tools")
    tools = tuple(spec for i, t in enumerate(raw_tools or ()) if (spec := _tool(t, i, found)) is not None)
    if body.get("functions") is not None or body.get("function_call") is not None:
        _functions(body, max_tools, found)
    wire_messages = tuple(found.wire) if found.any_wire else None
    return ChatRequest(
        model,
        messages,
        stream,
        include_usage,
        tools,
        max_completion if max_completion is not None else max_tokens,
        temperature,
        body,
        n,
        tuple(found.unmodelled) if found.unmodelled else (),
        wire_messages,
        tuple(sorted(found.unreadable)) if found.unreadable else (),
        found.unreadable_at,
    )


class _Found:
    """What parsing a body found beyond Beluga's own request: the shapes only an OpenAI-compatible
    upstream takes, each message's extra fields, the content parts guards cannot read."""

    __slots__ = ("any_wire", "unmodelled", "unreadable", "unreadable_at", "wire")

    def __init__(self) -> None:
        self.any_wire = False
        self.unmodelled: list[tuple[str, str]] = []
        self.wire: list[Mapping[str, Any] | None] = []
        self.unreadable: set[str] = set()
        self.unreadable_at: str | None = None


def _functions(body: Mapping[str, Any], max_tools: int, found: _Found) -> None:
    """The deprecated ``functions`` and ``function_call``: checked, then passed on as they are."""
    functions = _opt(body, "functions", list, "an array of functions")
    if functions is not None:
        if not 1 <= len(functions) <= max_tools:
            raise bad_request(f"'functions' must hold 1 to {max_tools} functions", "functions")
        for i, fn in enumerate(functions):
            _function(fn, f"functions[{i}]")
        found.unmodelled.append(("functions", "the deprecated functions"))
    call = body.get("function_call")
    if call is not None:
        if isinstance(call, dict):
            if not isinstance(call.get("name"), str):
                raise bad_request("'function_call.name' must be a string", "function_call.name")
            _data_name(call["name"], "function_call.name")
        elif call not in ("none", "auto"):
            raise bad_request("'function_call' must be none, auto or an object naming a function", "function_call")
        found.unmodelled.append(("function_call", "the deprecated function_call"))


def _opt(obj: Mapping[str, Any], name: str, kind: type | tuple[type, ...], what: str, prefix: str = "") -> Any:
    """``obj[name]`` if absent, null or of ``kind`` (``bool`` never counts as a number), else a 400."""
    value = obj.get(name)
    if value is None:
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise bad_request(f"'{prefix}{name}' must be {what}", prefix + name)
    return value


def _number(obj: Mapping[str, Any], name: str, lo: float, hi: float, prefix: str = "") -> float | None:
    value = _opt(obj, name, (int, float), "a number", prefix)
    if value is None:
        return None
    if not lo <= value <= hi:
        raise bad_request(f"'{prefix}{name}' must be between {lo} and {hi}", prefix + name)
    return float(value)


def _integer(obj: Mapping[str, Any], name: str, lo: int | None, hi: int | None, prefix: str = "") -> int | None:
    """An integer field; ``16.0`` counts as 16, as in JSON Schema (and JavaScript, which writes it as 16)."""
    value = _opt(obj, name, (int, float), "an integer", prefix)
    if value is None:
        return None
    if isinstance(value, float):
        if not value.is_integer():
            raise bad_request(f"'{prefix}{name}' must be an integer", prefix + name)
        value = int(value)
    if not _INT_MIN <= value <= _INT_MAX:
        raise bad_request(f"'{prefix}{name}' must fit in 64 bits", prefix + name)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        span = f"between {lo} and {hi}" if lo is not None and hi is not None else f"at least {lo}"
        raise bad_request(f"'{prefix}{name}' must be {span}", prefix + name)
    return int(value)


def _choice(obj: Mapping[str, Any], name: str, allowed: tuple[str, ...], prefix: str = "") -> str | None:
    value = obj.get(name)
    if value is None:
        return None
    if value not in allowed:
        raise bad_request(f"'{prefix}{name}' must be one of {', '.join(allowed)}", prefix + name)
    return str(value)


_OPTIONS = frozenset({
    "top_p", "frequency_penalty", "presence_penalty", "top_logprobs", "seed", "logprobs", "store",
    "parallel_tool_calls", "user", "prompt_cache_key", "service_tier", "reasoning_effort", "verbosity",
    "prompt_cache_retention", "safety_identifier", "modalities", "stop", "logit_bias", "metadata", "tool_choice",
    "response_format",
})


def _check_options(body: Mapping[str, Any]) -> None:
    """The sampling and output options of OpenAI's request that the gateway forwards or ignores:
    each must have the type and range OpenAI documents (null means unset)."""
    if _OPTIONS.isdisjoint(body):
        return
    _number(body, "top_p", 0, 1)
    _number(body, "frequency_penalty", -2, 2)
    _number(body, "presence_penalty", -2, 2)
    _integer(body, "top_logprobs", 0, 20)
    _integer(body, "seed", _INT_MIN, _INT_MAX)
    for flag in ("logprobs", "store", "parallel_tool_calls"):
        _opt(body, flag, bool, "a boolean")
    for name in ("user", "prompt_cache_key", "service_tier", "reasoning_effort", "verbosity",
                 "prompt_cache_retention"):
        _opt(body, name, str, "a string")
    ident = _opt(body, "safety_identifier", str, "a string")
    if ident is not None and len(ident) > 64:
        raise bad_request("'safety_identifier' must be at most 64 characters", "safety_identifier")
    modalities = _opt(body, "modalities", list, "an array of strings")
    if modalities is not None and not all(isinstance(m, str) for m in modalities):
        raise bad_request("'modalities' must be an array of strings", "modalities")
    stop = body.get("stop")
    if stop is not None and not isinstance(stop, str) and (
        not isinstance(stop, list) or not 1 <= len(stop) <= 4 or not all(isinstance(s, str) for s in stop)
    ):
        raise bad_request("'stop' must be a string or an array of 1 to 4 strings", "stop")
    # logit_bias: integers, as the schema says; the -100..100 range of OpenAI's prose and the token
    # ids are the upstream's to judge (the chain reads neither).
    bias = _opt(body, "logit_bias", dict, "an object mapping token ids to integers")
    for token, value in (bias or {}).items():
        integral = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        if isinstance(value, bool) or not integral:
            raise bad_request("'logit_bias' values must be integers", f"logit_bias.{_shown(token)}")
    metadata = _opt(body, "metadata", dict, "an object of strings")
    if metadata is not None:
        if len(metadata) > 16:
            raise bad_request("'metadata' holds at most 16 pairs", "metadata")
        for key, value in metadata.items():
            if len(key) > 64 or not isinstance(value, str) or len(value) > 512:
                raise bad_request("'metadata' keys must be at most 64 characters and values strings of at most 512",
                                  f"metadata.{_shown(key)}")
    _tool_choice(body.get("tool_choice"))
    _response_format(body.get("response_format"))


def _data_name(value: str, param: str) -> None:
    """A name that is data for the upstream (a participant's, a tool's, a tool call's): any character
    the spec allows passes (OpenAI's spec gives tool-call names no pattern, and OpenAI-compatible
    servers differ on tool names, so the upstream decides); its length is capped. Where the chain
    shows such a name (a guard's block reason, an ``execute_tool`` span) it quotes it with ``repr``
    or as a span attribute, never as a raw log line. The model's name keeps ``_name``'s rules: it
    becomes metric labels and log fields."""
    if len(value) > MAX_NAME_CHARS:
        raise bad_request(f"'{param}' must be at most {MAX_NAME_CHARS} characters", param)


def _name(value: str, param: str) -> None:
    """The model's name: at most ``MAX_NAME_CHARS`` characters, no control characters."""
    if len(value) > MAX_NAME_CHARS:
        raise bad_request(f"'{param}' must be at most {MAX_NAME_CHARS} characters", param)
    if _CONTROL.search(value):
        raise bad_request(f"'{param}' must not contain control characters or line breaks", param)


def _named(obj: Any, field: str, where: str) -> None:
    """``obj[field]`` must be ``{"name": "..."}``."""
    inner = obj.get(field)
    if not isinstance(inner, dict) or not isinstance(inner.get("name"), str):
        raise bad_request(f"'{where}.{field}.name' must be a string", f"{where}.{field}")
    _data_name(inner["name"], f"{where}.{field}.name")


def _tool_choice(choice: Any) -> None:
    if choice is None or choice in ("none", "auto", "required"):
        return
    if not isinstance(choice, dict):
        raise bad_request("'tool_choice' must be none, auto, required or an object naming a tool", "tool_choice")
    kind = choice.get("type")
    if kind in ("function", "custom"):
        _named(choice, kind, "tool_choice")
    elif kind == "allowed_tools":
        allowed = choice.get("allowed_tools")
        if not isinstance(allowed, dict):
            raise bad_request("'tool_choice.allowed_tools' must be an object", "tool_choice.allowed_tools")
        _choice(allowed, "mode", ("auto", "required"), "tool_choice.allowed_tools.")
        tools = allowed.get("tools")
        if allowed.get("mode") is None or not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
            raise bad_request("'tool_choice.allowed_tools' needs a mode (auto, required) and an array of tools",
                              "tool_choice.allowed_tools")
    else:
        raise bad_request("'tool_choice.type' must be function, custom or allowed_tools", "tool_choice.type")


def _response_format(fmt: Any) -> None:
    if fmt is None:
        return
    if not isinstance(fmt, dict):
        raise bad_request("'response_format' must be an object", "response_format")
    kind = fmt.get("type")
    if kind == "json_schema":
        spec = fmt.get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise bad_request(
                "'response_format.json_schema' must be an object with a name", "response_format.json_schema"
            )
        _opt(spec, "schema", dict, "an object (a JSON schema)", "response_format.json_schema.")
        _opt(spec, "description", str, "a string", "response_format.json_schema.")
        _opt(spec, "strict", bool, "a boolean", "response_format.json_schema.")
    elif kind not in ("text", "json_object"):
        raise bad_request("'response_format.type' must be text, json_object or json_schema", "response_format.type")


def _part_text(p: Any, j: int, where: str, kinds: tuple[str, ...]) -> str:
    """The text of a text (or refusal) content part."""
    kind = p.get("type") if isinstance(p, dict) else None
    if kind not in kinds:
        raise bad_request(
            f"{where}[{j}]: only {' and '.join(kinds)} parts are accepted in this message", f"{where}[{j}]"
        )
    value = p.get(kind)  # "text" carries "text", "refusal" carries "refusal"
    if not isinstance(value, str):
        raise bad_request(f"{where}[{j}].{kind} must be a string", f"{where}[{j}].{kind}")
    return value


def _text_of(content: Any, where: str, *, required: bool = True, kinds: tuple[str, ...] = ("text",)) -> str:
    if content is None:
        if required:
            raise bad_request(f"{where} is required for this message role", where)
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        if not content and required:
            raise bad_request(f"{where} must not be an empty array", where)
        return "".join(_part_text(p, j, where, kinds) for j, p in enumerate(content))
    raise bad_request(f"{where}: content must be a string or an array of content parts", where)


#: Content parts the gateway passes on without reading them (guards read text), and the object each carries.
UNREADABLE_PARTS = {"input_audio": "input_audio", "file": "file"}


def _user_parts(content: Any, where: str, found: _Found) -> tuple[tuple[Part, ...] | str, list[Any] | None]:
    """A user message's parts, and (when it holds parts Beluga does not model) the content as a
    template: the parts as sent, with None where each of Beluga's parts goes back."""
    if isinstance(content, str):
        return content, None
    if content is None:
        raise bad_request(f"{where} is required for this message role", where)
    if not isinstance(content, list):
        raise bad_request(f"{where}: content must be a string or an array of content parts", where)
    if not content:
        raise bad_request(f"{where} must not be an empty array", where)
    parts: list[Part] = []
    template: list[Any] = []
    unread = False
    for j, p in enumerate(content):
        kind = p.get("type") if isinstance(p, dict) and isinstance(p.get("type"), str) else None
        if kind == "text":
            parts.append(TextPart(_part_text(p, j, where, ("text",))))
            template.append(None)
        elif kind == "image_url":
            image = p.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if not isinstance(url, str) or not url:
                raise bad_request(f"{where}[{j}].image_url.url is required", f"{where}[{j}].image_url")
            detail = image.get("detail", "auto") if isinstance(image, dict) else "auto"
            if detail not in ("auto", "low", "high"):
                raise bad_request(f"{where}[{j}].image_url.detail must be auto, low or high", f"{where}[{j}]")
            parts.append(ImagePart(url=url, detail=detail))  # type: ignore[arg-type]  # checked above
            template.append(None)
        elif kind in UNREADABLE_PARTS:
            if not isinstance(p.get(UNREADABLE_PARTS[kind]), dict):
                raise bad_request(f"{where}[{j}].{kind} must be an object", f"{where}[{j}].{kind}")
            found.unreadable.add(kind)
            if found.unreadable_at is None:
                found.unreadable_at = f"{where}[{j}]"
            found.unmodelled.append((f"{where}[{j}]", f"{kind!r} content parts"))
            template.append(p)
            unread = True
        else:
            raise bad_request(f"{where}[{j}]: unsupported content part type {kind!r} (text, image_url, "
                              "input_audio, file)", where)
    return tuple(parts), template if unread else None


#: The fields of each role's message that Beluga's own message carries; others are passed on to
#: OpenAI-compatible providers as they are (a participant's ``name``, an assistant's ``refusal``...).
_MODELLED_FIELDS = {
    "system": frozenset({"role", "content"}),
    "developer": frozenset({"role", "content"}),
    "user": frozenset({"role", "content"}),
    "assistant": frozenset({"role", "content", "tool_calls"}),
    "tool": frozenset({"role", "content", "tool_call_id", "name"}),
}


#: Fields Beluga's message gives back (guards read them, and may have redacted them).
_FROM_BELUGA = ("role", "content", "tool_calls", "function_call", "tool_call_id")


def _wire(
    m: Mapping[str, Any], role: str, template: list[Any] | None = None, calls: list[str] | None = None
) -> Mapping[str, Any] | None:
    """What a message carries beyond Beluga's message, for OpenAI-compatible providers: its other
    fields as sent (``fields``), the ``content`` template (unread parts as sent, None where Beluga's
    parts go), and ``calls``, the kind of each of Beluga's tool calls (``function``, ``custom``, or
    ``function_call``: the deprecated field). None if the message holds nothing beyond."""
    if template is None and calls is None:
        modelled = _MODELLED_FIELDS[role]
        if m.keys() <= modelled or all(v is None for k, v in m.items() if k not in modelled):
            return None
    fields = {k: v for k, v in m.items() if k not in _FROM_BELUGA}
    out: dict[str, Any] = {"role": "system" if role == "developer" else role, "fields": fields}
    if template is not None:
        out["content"] = template
    if calls is not None:
        out["calls"] = calls
    return out


def _message(m: Any, i: int, found: _Found) -> Message:
    where = f"messages[{i}]"
    if not isinstance(m, dict):
        raise bad_request(f"{where} must be an object", where)
    role = m.get("role")
    content = m.get("content")
    name = _opt(m, "name", str, "a string", where + ".")
    if name is not None:
        _data_name(name, f"{where}.name")
    message: Message
    wire = None
    if role in ("system", "developer"):
        message = SystemMessage(_text_of(content, f"{where}.content"))
        wire = _wire(m, role)
    elif role == "user":
        parts, template = _user_parts(content, f"{where}.content", found)
        message = HumanMessage(parts)
        wire = _wire(m, role, template)
    elif role == "assistant":
        _opt(m, "refusal", str, "a string", where + ".")
        raw_calls = _opt(m, "tool_calls", list, "an array of tool calls", where + ".")
        # Custom tool calls and the deprecated function_call become Beluga tool calls too, so guards
        # read (and may redact) their input; OpenAI-compatible providers put them back in their shape.
        kinds: list[str] = []
        calls = [_tool_call(c, f"{where}.tool_calls[{j}]", found, kinds) for j, c in enumerate(raw_calls or ())]
        call = m.get("function_call")
        if call is not None:
            at = f"{where}.function_call"
            if not isinstance(call, dict) or not isinstance(call.get("name"), str):
                raise bad_request(f"{at}.name is required (a string)", f"{at}.name")
            _data_name(call["name"], f"{at}.name")
            _opt(call, "arguments", str, "a string", f"{at}.")
            calls.append(ToolCall("", call["name"], _arguments(call.get("arguments"), f"{at}.arguments")))
            kinds.append("function_call")
            found.unmodelled.append((at, "the deprecated function_call"))
        if _opt(m, "audio", dict, "an object", where + ".") is not None:
            found.unmodelled.append((f"{where}.audio", "earlier audio answers"))
        text = _text_of(content, f"{where}.content", required=False, kinds=("text", "refusal"))
        message = AIMessage(text, tool_calls=calls)
        wire = _wire(m, role, None, kinds if any(k != "function" for k in kinds) else None)
    elif role == "tool":
        call_id = m.get("tool_call_id")
        if not isinstance(call_id, str):
            raise bad_request(f"{where}.tool_call_id is required for tool messages (a string)", f"{where}.tool_call_id")
        message = ToolMessage(_text_of(content, f"{where}.content"), tool_call_id=call_id, name=name)
        wire = _wire(m, role)
    elif role == "function":
        # The deprecated function result: guards read it as a tool result; it is passed on as sent.
        if name is None:
            raise bad_request(f"{where}.name is required for function messages", f"{where}.name")
        message = ToolMessage(_text_of(content, f"{where}.content", required=False), name=name)
        wire = {"role": "tool", "fields": {"role": "function", "name": name}}
        found.unmodelled.append((f"{where}.role", "the deprecated function role"))
    else:
        raise bad_request(f"{where}.role must be system, developer, user, assistant, tool or function",
                          f"{where}.role")
    found.wire.append(wire)
    if wire is not None:
        found.any_wire = True
    return message


def _tool_call(c: Any, where: str, found: _Found, kinds: list[str]) -> ToolCall:
    """A tool call as Beluga's ``ToolCall`` (its kind appended to ``kinds``): a function call, or a
    custom tool call whose free-form ``input`` becomes the text of ``{"_raw": input}``."""
    if not isinstance(c, dict):
        raise bad_request(f"{where} must be an object", where)
    call_id = _opt(c, "id", str, "a string", where + ".")
    kind = c.get("type", "function")
    if kind == "custom":
        custom = c.get("custom")
        if not isinstance(custom, dict) or not isinstance(custom.get("name"), str):
            raise bad_request(f"{where}.custom.name is required (a string)", f"{where}.custom.name")
        _data_name(custom["name"], f"{where}.custom.name")
        text = _opt(custom, "input", str, "a string", where + ".custom.")
        found.unmodelled.append((where, "custom tool calls"))
        kinds.append("custom")
        return ToolCall(call_id or "", custom["name"], {"_raw": text or ""})
    kinds.append("function")
    if kind != "function":
        raise bad_request(f"{where}.type must be function or custom", f"{where}.type")
    fn = c.get("function")
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
        raise bad_request(f"{where}.function.name is required (a string)", f"{where}.function.name")
    _data_name(fn["name"], f"{where}.function.name")
    return ToolCall(call_id or "", fn["name"], _arguments(fn.get("arguments"), f"{where}.function.arguments"))


def _arguments(raw: Any, where: str) -> dict[str, Any]:
    """Tool-call arguments: a JSON object (or its text, as OpenAI sends it). Text that is not a
    JSON object is kept as ``{"_raw": text}``; text that is JSON but breaks the body-wide rules
    (lone surrogates, non-finite numbers, nesting) is refused like the body itself."""
    if isinstance(raw, dict):
        return raw
    if raw is None or raw == "":
        return {}
    if not isinstance(raw, str):
        raise bad_request(f"{where} must be a string holding a JSON object", where)
    try:
        value = load_json(raw)
    except ValueError:
        return {"_raw": raw}
    except APIError as bad:
        raise bad_request(f"{where}: {bad.message}", where) from None
    return value if isinstance(value, dict) else {"_raw": raw}


def _function(fn: Any, where: str) -> ToolSpec:
    """A function definition (of ``tools[i].function`` or the deprecated ``functions[i]``)."""
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
        raise bad_request(f"'{where}.name' is required (a string)", f"{where}.name")
    _data_name(fn["name"], f"{where}.name")
    prefix = where + "."
    params = _opt(fn, "parameters", dict, "a JSON schema object", prefix) or {"type": "object", "properties": {}}
    description = _opt(fn, "description", str, "a string", prefix)
    _opt(fn, "strict", bool, "a boolean", prefix)
    return ToolSpec(fn["name"], description or "", params)


def _tool(t: Any, i: int, found: _Found) -> ToolSpec | None:
    """A function tool as Beluga's ``ToolSpec``; a custom tool (None) is checked and passed on as it is."""
    where = f"tools[{i}]"
    kind = t.get("type", "function") if isinstance(t, dict) else None
    if kind == "custom":
        custom = t.get("custom")
        if not isinstance(custom, dict) or not isinstance(custom.get("name"), str):
            raise bad_request(f"'{where}.custom.name' is required (a string)", f"{where}.custom.name")
        _data_name(custom["name"], f"{where}.custom.name")
        _opt(custom, "description", str, "a string", where + ".custom.")
        _opt(custom, "format", dict, "an object", where + ".custom.")
        found.unmodelled.append((where, "custom tools"))
        return None
    fn = t.get("function") if kind == "function" else None
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
        raise bad_request(f"{where}: expected {{'type': 'function', 'function': {{'name': ...}}}} or "
                          "{'type': 'custom', 'custom': {'name': ...}}", where)
    return _function(fn, where + ".function")


#: The ``params`` key that carries what OpenAI-compatible providers put back as it was sent: ``messages``
#: (``ChatRequest.wire_messages``: each message's other fields and unread content parts), ``tools``
#: (custom tools, and what ``ToolSpec`` leaves out such as ``strict``) and ``body`` (forwarded fields
#: named like an argument of the chain's call: ``metadata``...). It never reaches an upstream as such.
WIRE = "beluga_wire"
#: Fields of the request the gateway reads itself: ``passthrough = ["*"]`` forwards every other one.
_READ_FIELDS = frozenset({
    "model", "messages", "stream", "stream_options", "n", "max_tokens", "max_completion_tokens", "temperature",
    "tools", "functions", "function_call", WIRE,
})
#: Forwarded fields that would otherwise stand for the chain's own arguments (OpenAI's ``metadata`` is
#: not the request metadata rate limits key on): they travel in the wire params' ``body``.
_CHAIN_ARGUMENTS = ("metadata", "provider", "timeout")


def provider_params(
    req: ChatRequest, kind: str, passthrough: frozenset[str], provider: str | None = None
) -> dict[str, Any]:
    """Fields beyond Beluga's own that the provider should see, in its own dialect.

    OpenAI-compatible providers also get what only they can take (``n``, custom tools, the deprecated
    ``functions``, content parts guards do not read...) as it was sent; for any other provider such
    a request is refused (400 naming the field and the provider)."""
    extra = req.extra
    if kind == "openai":
        if "*" in passthrough:
            out = {k: v for k, v in extra.items() if k not in _READ_FIELDS}
        else:
            out = {k: extra[k] for k in passthrough if k in extra and k not in _READ_FIELDS}
        if req.unmodelled:
            if req.n > 1:
                out["n"] = req.n
            for name in ("functions", "function_call"):
                if extra.get(name) is not None:
                    out[name] = extra[name]
        tools = extra.get("tools") or None
        fields = {k: out.pop(k) for k in _CHAIN_ARGUMENTS if k in out}
        for name in ("max_completion_tokens", "max_tokens"):  # a limit below 1, for the upstream to judge
            if any(field == name for field, _ in req.unmodelled):
                fields[name] = extra[name]
        if tools is not None or req.wire_messages is not None or fields:
            out[WIRE] = {"messages": req.wire_messages, "tools": tools, "body": fields}
        return out
    if req.unmodelled:
        field, what = req.unmodelled[0]
        raise bad_request(f"'{field}': {what} can only be sent to an OpenAI-compatible provider; the provider "
                          f"{provider or kind!r} ({kind}) cannot take them", field, "unsupported_by_provider")
    if kind == "anthropic":
        bad = misnamed_tool(req.tools, req.messages)
        if bad is not None:
            i, k = bad
            field = f"tools[{i}].function.name" if k < 0 else f"messages[{i}].tool_calls[{k}].function.name"
            raise bad_request(f"'{field}': the provider {provider or kind!r} ({kind}) takes only tool names of 1 to "
                              "128 letters, digits, underscores or dashes", field, "unsupported_by_provider")
        out = {}
        if "top_p" in extra:
            out["top_p"] = extra["top_p"]
        stop = extra.get("stop")
        if stop:
            out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
        return out
    return {}


# -- the provider's side: Beluga's request to an upstream, the upstream's reply to Beluga's --------

def _joined_text(parts: tuple[Any, ...]) -> str:
    """Text parts as one string, one part per line (prompt-builder sections stay apart)."""
    return "\n".join(p.text for p in parts if isinstance(p, TextPart) and p.text)


def _content_json(parts: tuple[Any, ...]) -> str | list[dict[str, Any]]:
    """A plain string for text-only content (what every compatible server accepts), else parts."""
    if all(isinstance(p, TextPart) for p in parts):
        return _joined_text(parts)
    return _parts_json(parts)


def _parts_json(parts: tuple[Any, ...]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for p in parts:
        if isinstance(p, TextPart):
            out.append({"type": "text", "text": p.text})
        elif isinstance(p, ImagePart):
            image: dict[str, Any] = {"url": p.data_url()}
            if p.detail != "auto":
                image["detail"] = p.detail
            out.append({"type": "image_url", "image_url": image})
    return out




def apply_wire_messages(out: list[dict[str, Any]], messages: tuple[Message, ...], wire: Any) -> None:
    """Put back, in the encoded ``out``, what each message carried beyond Beluga's message: its
    other fields as sent (a participant's ``name``, ``audio``, custom tool calls, the deprecated
    ``function`` role...) and content parts the chain does not read (``file``, ``input_audio``).

    ``wire`` holds one entry per message as the client sent them (None: nothing beyond), matched
    from the end, so a message the chain put in front does not shift them; an entry whose role no
    longer matches is skipped. Content comes from Beluga's message (what guards read, or redacted);
    a template's None slots take its parts in order."""
    if not isinstance(wire, (list, tuple)):
        return
    offset = len(out) - len(wire)
    for i, entry in enumerate(wire):
        j = i + offset
        if not isinstance(entry, Mapping) or not 0 <= j < len(out) or messages[j].role != entry.get("role"):
            continue
        content = out[j].get("content")
        template = entry.get("content")
        if isinstance(template, list):
            parts = _parts_json(messages[j].parts)
            slots = sum(1 for t in template if t is None)
            if slots == len(parts):
                filled = iter(parts)
                content = [next(filled) if t is None else t for t in template]
            else:  # the chain changed the parts: Beluga's first, then the unread ones
                content = [*parts, *(t for t in template if t is not None)]
        msg = {**out[j], "content": content, **dict(entry.get("fields") or {})}
        kinds = entry.get("calls")
        m = messages[j]
        if isinstance(m, AIMessage) and isinstance(kinds, list) and len(kinds) == len(m.tool_calls):
            calls: list[dict[str, Any]] = []
            msg.pop("tool_calls", None)
            for kind, call, encoded in zip(kinds, m.tool_calls, out[j].get("tool_calls") or (), strict=True):
                if kind == "custom":
                    calls.append({"id": call.id, "type": "custom",
                                  "custom": {"name": call.name, "input": arguments_text(call.arguments)}})
                elif kind == "function_call":
                    msg["function_call"] = {"name": call.name, "arguments": arguments_text(call.arguments)}
                else:
                    calls.append(encoded)
            if calls:
                msg["tool_calls"] = calls
        if msg.get("role") == "function":
            msg.pop("tool_call_id", None)
        out[j] = msg


def encode_message(m: Message) -> dict[str, Any]:
    """One Beluga message as a Chat Completions message."""
    if isinstance(m, AIMessage):
        msg: dict[str, Any] = {"role": "assistant", "content": m.text or None}
        if m.tool_calls:
            msg["tool_calls"] = [_call_json(c) for c in m.tool_calls]
        return msg
    if isinstance(m, ToolMessage):
        return {"role": "tool", "tool_call_id": m.tool_call_id, "content": m.text}
    if isinstance(m, SystemMessage):
        return {"role": "system", "content": _joined_text(m.parts)}
    assert isinstance(m, HumanMessage)
    return {"role": "user", "content": _content_json(m.parts)}


def encode_tool(t: ToolSpec) -> dict[str, Any]:
    fn: dict[str, Any] = {"name": t.name, "parameters": dict(t.parameters)}
    if t.description:
        fn["description"] = t.description
    return {"type": "function", "function": fn}


def usage_from(data: Any, where: str = "usage") -> Usage:
    data = obj(data, where)
    details = opt_obj(data, "prompt_tokens_details", f"{where}.prompt_tokens_details")
    out_details = opt_obj(data, "completion_tokens_details", f"{where}.completion_tokens_details")
    return Usage(
        count(data, "prompt_tokens", f"{where}.prompt_tokens"),
        count(data, "completion_tokens", f"{where}.completion_tokens"),
        count(details, "cached_tokens", f"{where}.prompt_tokens_details.cached_tokens"),
        reasoning_tokens=count(out_details, "reasoning_tokens", f"{where}.completion_tokens_details.reasoning_tokens"),
    )


def _reply_calls(message: Mapping[str, Any], where: str) -> list[ToolCall]:
    calls = []
    for i, c in enumerate(opt_list(message, "tool_calls", f"{where}.tool_calls")):
        at = f"{where}.tool_calls[{i}]"
        c = obj(c, at)
        fn = opt_obj(c, "function", f"{at}.function")
        args = fn.get("arguments")
        if isinstance(args, Mapping):  # some compatible servers send the object itself
            arguments = dict(args)
        elif args is None or isinstance(args, str):
            arguments = _reply_arguments(args or "")
        else:
            raise WireError(f"{at}.function.arguments", "is not a string")
        calls.append(ToolCall(opt_str(c, "id", f"{at}.id") or "", opt_str(fn, "name", f"{at}.function.name") or "",
                              arguments))
    return calls


def parse_completion(
    body: bytes, more: list[dict[str, Any]] | None = None
) -> tuple[AIMessage, str | None, Usage, str | None]:
    """``(message, model, usage, finish_reason)`` of a Chat Completions body; ``WireError`` names what is wrong.

    The first choice is the message; the others (an answer to ``n`` above 1) are appended to ``more``
    as ``{"index", "content", "tool_calls", "finish_reason"}`` (tool calls in the wire's shape)."""
    data = obj(load(body), "the body")
    choices = opt_list(data, "choices", "choices")
    if not choices:
        raise WireError("choices", "is missing or empty")
    choice = obj(choices[0], "choices[0]")
    message = obj(choice.get("message"), "choices[0].message")
    content = message.get("content")
    if isinstance(content, list):  # content parts, as some compatible servers answer
        content = "".join(str(obj(p, "choices[0].message.content[]").get("text") or "") for p in content)
    elif content is not None and not isinstance(content, str):
        raise WireError("choices[0].message.content", "is not a string")
    calls = _reply_calls(message, "choices[0].message")
    if more is not None:
        for i, other in enumerate(choices[1:], start=1):
            more.append(_other_choice(other, f"choices[{i}]", i))
    usage = usage_from(data["usage"]) if data.get("usage") is not None else Usage()
    return (
        AIMessage(content or "", tool_calls=calls),  # mypy misreads attrs converter=tuple
        opt_str(data, "model", "model"),
        usage,
        opt_str(choice, "finish_reason", "choices[0].finish_reason"),
    )


def _other_choice(choice: Any, at: str, i: int) -> dict[str, Any]:
    choice = obj(choice, at)
    message = obj(choice.get("message"), f"{at}.message")
    content = message.get("content")
    if isinstance(content, list):
        content = "".join(str(obj(p, f"{at}.message.content[]").get("text") or "") for p in content)
    elif content is not None and not isinstance(content, str):
        raise WireError(f"{at}.message.content", "is not a string")
    index_ = choice.get("index")
    calls = [_call_json(c) for c in _reply_calls(message, f"{at}.message")]
    return {
        "index": index_ if isinstance(index_, int) and not isinstance(index_, bool) else i,
        "content": content or "",
        "tool_calls": calls,
        "finish_reason": opt_str(choice, "finish_reason", f"{at}.finish_reason"),
    }


def arguments_text(args: Mapping[str, Any]) -> str:
    raw = args.get("_raw")
    return raw if set(args) == {"_raw"} and isinstance(raw, str) else json.dumps(dict(args))


def parse_chunk(payload: Mapping[str, Any]) -> tuple[str, tuple[ToolCallDelta, ...], str | None]:
    """``(text, tool call deltas, finish_reason)`` of choice 0 in one stream chunk."""
    text = ""
    deltas: tuple[ToolCallDelta, ...] = ()
    finish = None
    for i, choice in enumerate(opt_list(payload, "choices", "choices")):
        at = f"choices[{i}]"
        choice = obj(choice, at)
        if shape.index(choice, "index", f"{at}.index") != 0:
            continue
        finish = opt_str(choice, "finish_reason", f"{at}.finish_reason") or finish
        delta = opt_obj(choice, "delta", f"{at}.delta")
        text += opt_str(delta, "content", f"{at}.delta.content") or ""
        found = []
        for j, tc in enumerate(opt_list(delta, "tool_calls", f"{at}.delta.tool_calls")):
            tat = f"{at}.delta.tool_calls[{j}]"
            tc = obj(tc, tat)
            fn = opt_obj(tc, "function", f"{tat}.function")
            found.append(ToolCallDelta(
                shape.index(tc, "index", f"{tat}.index"),
                opt_str(tc, "id", f"{tat}.id"),
                opt_str(fn, "name", f"{tat}.function.name"),
                opt_str(fn, "arguments", f"{tat}.function.arguments") or "",
            ))
        deltas += tuple(found)
    return text, deltas, finish


def parse_embeddings(body: bytes, expected: int) -> tuple[tuple[tuple[float, ...], ...], str | None, Usage]:
    """An embeddings answer: one vector per input, put in input order by each item's ``index``."""
    data = obj(load(body), "the body")
    items = opt_list(data, "data", "data")
    vectors: list[tuple[float, ...] | None] = [None] * expected
    for i, raw in enumerate(items):
        item = obj(raw, f"data[{i}]")
        at = shape.index(item, "index", f"data[{i}].index")
        vector = item.get("embedding")
        if at >= expected or not isinstance(vector, list) or not all(
            isinstance(x, int | float) and not isinstance(x, bool) for x in vector
        ):
            raise WireError(f"data[{i}]", "is not an embedding of one of the inputs")
        vectors[at] = tuple(float(x) for x in vector)
    if any(v is None for v in vectors):
        raise WireError("data", f"does not hold {expected} embeddings")
    usage = opt_obj(data, "usage", "usage")
    tokens = count(usage, "prompt_tokens", "usage.prompt_tokens")
    return tuple(v for v in vectors if v is not None), opt_str(data, "model", "model"), Usage(tokens, 0)


def _reply_arguments(raw: str) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {"_raw": raw}
    return value if isinstance(value, dict) else {"_raw": raw}


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
    return {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": arguments_text(c.arguments)}}


def _choices(resp: LLMResponse, more: Sequence[Mapping[str, Any]]) -> list[tuple[int, str, list[Any], str]]:
    """``(index, text, tool calls as on the wire, finish reason)`` of the first choice and the ``more``
    that follow it (an answer to ``n`` above 1, as the OpenAI provider hands them over)."""
    calls = resp.message.tool_calls
    out = [(0, resp.text, [_call_json(c) for c in calls], finish_reason(resp.finish_reason, bool(calls)))]
    for i, c in enumerate(more, start=1):
        index = c.get("index")
        other = list(c.get("tool_calls") or ())
        out.append((index if isinstance(index, int) else i, str(c.get("content") or ""), other,
                    finish_reason(c.get("finish_reason"), bool(other))))
    return out


async def guarded_choices(
    resp: LLMResponse, guard: Callable[[str], Awaitable[GuardResult]]
) -> list[dict[str, Any]]:
    """The choices after the first of an answer to ``n`` > 1 (``resp.metadata["choices"]``), each
    text through ``guard`` (a ``Kit.aguard`` at the output stage) as the first went through the
    chain's output guards: a block raises ``GuardBlocked``, a redaction is applied."""
    out = []
    for choice in resp.metadata.get("choices") or ():
        text = choice.get("content") or ""
        if text:
            verdict = await guard(text)
            if not verdict.allowed:
                raise GuardBlocked(verdict.guard or "?", verdict.reason or "blocked", stage="output")
            if verdict.modified is not None:
                choice = {**choice, "content": verdict.modified}
        out.append(choice)
    return out


def completion(
    rid: str, created: int, model: str, resp: LLMResponse, more: Sequence[Mapping[str, Any]] = ()
) -> dict[str, Any]:
    """A ``chat.completion`` object for a whole answer (``more``: the choices after the first)."""
    choices = []
    for index, text, calls, finish in _choices(resp, more):
        message: dict[str, Any] = {"role": "assistant", "content": text or (None if calls else ""), "refusal": None}
        if calls:
            message["tool_calls"] = calls
        choices.append({"index": index, "message": message, "logprobs": None, "finish_reason": finish})
    return {
        "id": rid,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": choices,
        "usage": usage_dict(resp.usage),
        "system_fingerprint": None,
    }


def whole_chunks(
    rid: str, created: int, model: str, resp: LLMResponse, more: Sequence[Mapping[str, Any]], include_usage: bool
) -> bytes:
    """A whole answer as a ``chat.completion.chunk`` stream: each choice in one chunk (text and tool
    calls), then its finish, then usage if asked, then ``[DONE]``. How ``n`` above 1 is streamed."""
    head = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model,
            "system_fingerprint": None}
    tail = {"usage": None} if include_usage else {}
    out = b""
    for index, text, calls, finish in _choices(resp, more):
        delta: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
        if calls:
            delta["tool_calls"] = [{"index": k, **c} for k, c in enumerate(calls)]
        for d, f in ((delta, None), ({}, finish)):
            chunk = {**head, "choices": [{"index": index, "delta": d, "logprobs": None, "finish_reason": f}], **tail}
            out += b"data: " + dumps(chunk) + b"\n\n"
    if include_usage:
        out += b"data: " + dumps({**head, "choices": [], "usage": usage_dict(resp.usage)}) + b"\n\n"
    return out + b"data: [DONE]\n\n"


def unreadable_refused(req: ChatRequest) -> APIError:
    """The 400 for content the guards cannot read when ``unreadable_content = "refuse"``."""
    kinds = ", ".join(repr(k) for k in req.unreadable)
    return bad_request(f"{req.unreadable_at}: this gateway refuses content its guards cannot read ({kinds} parts; "
                       'its setting unreadable_content = "refuse")', req.unreadable_at, "unreadable_content")


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
    if isinstance(root, QuotaExceeded):
        return APIError(429, root.message, type="insufficient_quota", code="insufficient_quota",
                        headers=retry_headers(root.retry_after) if root.retry_after is not None else None)
    if isinstance(root, StorageUnavailable):
        what = "rate-limit" if root.plugin == "ratelimit" else root.plugin
        return APIError(
            503,
            f"The gateway's {what} storage is unreachable, so requests are refused until it returns. "
            "Retry after the time in Retry-After.",
            type="service_unavailable",
            code="rate_limit_storage_unavailable" if what == "rate-limit" else f"{root.plugin}_storage_unavailable",
            headers=retry_headers(root.retry_after),
        )
    if isinstance(root, ConfigError) or isinstance(exc, ConfigError):
        return APIError(500, "The gateway is misconfigured for this request; see its log.", type="server_error",
                        code="gateway_misconfigured")
    if isinstance(root, ProviderError) and root.local:
        # This process's own limit (every pooled upstream connection busy), not the upstream's fault.
        return APIError(
            503,
            "The gateway is busy: no connection to the upstream provider came free in time. Retry after the "
            "time in Retry-After.",
            type="service_unavailable",
            code="gateway_busy",
            headers=retry_headers(None),
        )
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
    "WIRE",
    "APIError",
    "ChatRequest",
    "ChunkWriter",
    "WireError",
    "apply_wire_messages",
    "arguments_text",
    "completion",
    "dumps",
    "encode_message",
    "encode_tool",
    "error_event",
    "from_beluga",
    "guarded_choices",
    "load_json",
    "new_id",
    "parse_chat",
    "parse_chunk",
    "parse_completion",
    "parse_embeddings",
    "provider_params",
    "retry_headers",
    "root_cause",
    "unreadable_refused",
    "usage_from",
    "whole_chunks",
]
