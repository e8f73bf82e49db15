"""OpenAI's Responses API wire format, in both directions.

- Requests: :func:`parse_request` (a client's ``POST /v1/responses`` body to an ``LLMRequest``) and
  :func:`encode_request` (the reverse).
- Responses: :func:`encode_response` (an ``LLMResponse`` to a ``response`` object) and
  :func:`decode_response` (the reverse).
- Streams: :class:`StreamEncoder` (chunks to the SSE events the official SDK reads:
  ``response.created``, ``response.in_progress``, ``response.output_item.added``,
  ``response.content_part.added``, ``response.output_text.delta``/``.done``,
  ``response.content_part.done``, ``response.function_call_arguments.delta``/``.done``,
  ``response.output_item.done``, ``response.completed`` (``response.incomplete`` for a cut answer),
  each with a ``sequence_number``).

The API is stateful at OpenAI (``previous_response_id``, ``store``, ``conversation``); Beluga keeps
no state, so those are refused, as are hosted tools (web search, file search, ...). What Beluga's
types do not hold travels in ``LLMRequest.params`` in the API's own words (``instructions``,
``tool_choice``, ``top_p``, ``parallel_tool_calls``, ``metadata``, ``user``, ``text``). Every problem
raises :class:`~beluga_wire.anthropic.WireError`, which names the field and never quotes its value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from beluga_core import (
    AIMessage,
    HumanMessage,
    ImagePart,
    LLMRequest,
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
from beluga_wire.anthropic import MAX_MODEL_CHARS, MAX_STREAM_TOOLS
from beluga_wire.shape import (
    CONTROL,
    WireError,
    count,
    list_or_none,
    obj,
    opt_bool,
    opt_int,
    opt_number,
    opt_obj,
    opt_str,
    req_str,
)

#: Parameters of a request that Beluga's types do not hold; they travel in ``LLMRequest.params``.
PARAMS = ("instructions", "tool_choice", "top_p", "parallel_tool_calls", "metadata", "user", "text")
#: Fields that need state the gateway does not keep (or a hosted feature): refused when set.
STATEFUL = {
    "previous_response_id": "needs a stored response; this gateway keeps no state, so send the whole conversation "
    "in 'input'",
    "conversation": "needs a stored conversation; this gateway keeps no state, so send the whole conversation in "
    "'input'",
    "prompt": "reusable prompts are stored at OpenAI; send 'instructions' and 'input' instead",
    "background": "background responses need stored state; this gateway answers in the request",
}
#: Most entries of ``metadata`` the API allows (keys up to 64 characters, values up to 512).
MAX_METADATA = 16
_TOOL_CHOICES = ("auto", "none", "required")
_ROLES = ("user", "assistant", "system", "developer")
_DETAILS = ("auto", "low", "high")
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


# -- requests: JSON -> LLMRequest ----------------------------------------------------------------


def _image(p: Mapping[str, Any], where: str) -> ImagePart:
    if p.get("file_id") is not None:
        raise WireError(f"{where}.file_id", "files stored at OpenAI are not supported; send image_url")
    url = req_str(p, "image_url", f"{where}.image_url")
    if not url.startswith(("https://", "http://", "data:")):
        raise WireError(f"{where}.image_url", "must be an http(s) or data: URL")
    detail = p.get("detail") or "auto"
    if detail not in _DETAILS:
        raise WireError(f"{where}.detail", "must be auto, low or high")
    return ImagePart(url=url, detail=detail)  # type: ignore[arg-type]  # checked above


def _parts(content: Any, where: str, role: str) -> list[Part]:
    if isinstance(content, str):
        return [TextPart(content)]
    if not isinstance(content, list):
        raise WireError(where, "must be a string or an array of content parts")
    kinds = ("output_text", "refusal") if role == "assistant" else ("input_text", "input_image")
    out: list[Part] = []
    for j, p in enumerate(content):
        at = f"{where}[{j}]"
        p = obj(p, at)
        kind = p.get("type")
        if kind not in kinds:
            if kind == "input_file":
                raise WireError(f"{at}.type", "'input_file' is not supported by this gateway")
            raise WireError(f"{at}.type", f"must be one of {', '.join(kinds)} in a {role} message")
        if kind == "input_image":
            out.append(_image(p, at))
        else:
            key = "refusal" if kind == "refusal" else "text"
            out.append(TextPart(req_str(p, key, f"{at}.{key}")))
    return out


def arguments(raw: Any, where: str) -> dict[str, Any]:
    """A function call's arguments: the JSON object its text holds; other text is kept as
    ``{"_raw": text}`` (so it goes on unchanged)."""
    if raw is None or raw == "":
        return {}
    if not isinstance(raw, str):
        raise WireError(where, "must be a string holding a JSON object")
    try:
        value = json.loads(raw)
    except ValueError:
        return {"_raw": raw}
    return value if isinstance(value, dict) else {"_raw": raw}


def arguments_json(args: Mapping[str, Any]) -> str:
    """The text of a call's arguments (``{"_raw": text}`` gives the text back)."""
    raw = args.get("_raw")
    if len(args) == 1 and isinstance(raw, str):
        return raw
    return _dumps(dict(args))


def _output(value: Any, where: str) -> list[Part]:
    if isinstance(value, str):
        return [TextPart(value)]
    if not isinstance(value, list):
        raise WireError(where, "must be a string or an array of content parts")
    return _parts(value, where, "user")


def _input(raw: Any, max_messages: int | None) -> list[Message]:
    if isinstance(raw, str):
        return [HumanMessage(raw)]
    if not isinstance(raw, list) or not raw:
        raise WireError("input", "is required: a string or a non-empty array of input items")
    if max_messages is not None and len(raw) > max_messages:
        raise WireError("input", f"holds {len(raw)} items; at most {max_messages} are accepted")
    out: list[Message] = []
    text: list[Part] | None = None  # the assistant turn being gathered (its text, then its calls)
    calls: list[ToolCall] = []

    def flush() -> None:
        nonlocal text, calls
        if text is not None or calls:
            out.append(AIMessage(text or [], tool_calls=calls))
        text, calls = None, []

    for i, item in enumerate(raw):
        at = f"input[{i}]"
        item = obj(item, at)
        kind = item.get("type")
        if kind is None or kind == "message":
            role = item.get("role")
            if role not in _ROLES:
                raise WireError(f"{at}.role", f"must be one of {', '.join(_ROLES)}")
            content = item.get("content")
            if content is None:
                raise WireError(f"{at}.content", "is required: a string or an array of content parts")
            if role == "assistant":
                flush()
                text = _parts(content, f"{at}.content", role)
                continue
            flush()
            if role in ("system", "developer"):
                out.append(SystemMessage(_parts(content, f"{at}.content", "system")))
            else:
                out.append(HumanMessage(_parts(content, f"{at}.content", role)))
        elif kind == "function_call":
            call_id = req_str(item, "call_id", f"{at}.call_id")
            name = req_str(item, "name", f"{at}.name")
            calls.append(ToolCall(call_id, name, arguments(item.get("arguments"), f"{at}.arguments")))
        elif kind == "function_call_output":
            flush()
            call_id = req_str(item, "call_id", f"{at}.call_id")
            if item.get("output") is None:
                raise WireError(f"{at}.output", "is required: a string or an array of content parts")
            out.append(ToolMessage(_output(item["output"], f"{at}.output"), tool_call_id=call_id))
        elif kind == "item_reference":
            raise WireError(f"{at}.type", "'item_reference' needs stored items; this gateway keeps no state")
        elif kind == "reasoning":
            raise WireError(f"{at}.type", "reasoning items are not supported by this gateway")
        else:
            raise WireError(f"{at}.type", "must be message, function_call or function_call_output")
    flush()
    return out


def _tool(t: Any, where: str) -> ToolSpec:
    t = obj(t, where)
    if t.get("type") != "function":
        raise WireError(f"{where}.type", "only 'function' tools are supported (hosted tools run at OpenAI)")
    name = req_str(t, "name", f"{where}.name")
    if not name or len(name) > 128 or CONTROL.search(name):
        raise WireError(f"{where}.name", "must be 1 to 128 characters, without control characters")
    params = t.get("parameters")
    schema = {"type": "object", "properties": {}} if params is None else dict(obj(params, f"{where}.parameters"))
    opt_bool(t, "strict", f"{where}.strict")
    return ToolSpec(name, opt_str(t, "description", f"{where}.description") or "", schema)


def _tool_choice(value: Any) -> str | dict[str, Any]:
    if isinstance(value, str):
        if value not in _TOOL_CHOICES:
            raise WireError("tool_choice", f"must be one of {', '.join(_TOOL_CHOICES)} or a function")
        return value
    choice = obj(value, "tool_choice")
    if choice.get("type") != "function":
        raise WireError("tool_choice.type", "must be 'function' (hosted tools are not supported)")
    return {"type": "function", "name": req_str(choice, "name", "tool_choice.name")}


def _metadata(value: Any) -> dict[str, str]:
    meta = obj(value, "metadata")
    if len(meta) > MAX_METADATA:
        raise WireError("metadata", f"holds more than {MAX_METADATA} entries")
    for k, v in meta.items():
        if not isinstance(v, str) or len(k) > 64 or len(v) > 512:
            raise WireError("metadata", "must map keys of at most 64 characters to strings of at most 512")
    return dict(meta)


def _text_format(value: Any) -> dict[str, Any]:
    text = obj(value, "text")
    fmt = opt_obj(text, "format", "text.format")
    kind = fmt.get("type", "text")
    if kind not in ("text", "json_object", "json_schema"):
        raise WireError("text.format.type", "must be text, json_object or json_schema")
    if kind == "json_schema":
        req_str(fmt, "name", "text.format.name")
        obj(fmt.get("schema"), "text.format.schema")
        opt_bool(fmt, "strict", "text.format.strict")
    return {"format": dict(fmt)} if fmt else {}


def parse_request(body: Any, *, max_messages: int | None = None, max_tools: int | None = None) -> LLMRequest:
    """A Responses API request body as an ``LLMRequest``; :class:`WireError` names the bad field.

    ``model`` and ``input`` are required. ``instructions`` becomes the first (system) message and is
    kept in ``params``; ``max_output_tokens`` is ``max_tokens``. Stateful fields
    (:data:`STATEFUL`, ``store: true``) and hosted tools are refused; other fields are ignored.
    """
    body = obj(body, "body")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise WireError("model", "is required (a non-empty string)")
    if len(model) > MAX_MODEL_CHARS or CONTROL.search(model):
        raise WireError("model", f"must be at most {MAX_MODEL_CHARS} characters, without control characters")
    for field, why in STATEFUL.items():
        if body.get(field) not in (None, False):
            raise WireError(field, why)
    if opt_bool(body, "store", "store"):
        raise WireError("store", "this gateway keeps no state: responses cannot be stored (send store: false "
                        "or leave it out)")
    messages: list[Message] = []
    params: dict[str, Any] = {}
    instructions = opt_str(body, "instructions", "instructions")
    if instructions:
        messages.append(SystemMessage(instructions))
        params["instructions"] = instructions
    messages.extend(_input(body.get("input"), max_messages))
    raw_tools = list_or_none(body, "tools", "tools") or []
    if max_tools is not None and len(raw_tools) > max_tools:
        raise WireError("tools", f"holds {len(raw_tools)} tools; at most {max_tools} are accepted")
    tools = tuple(_tool(t, f"tools[{i}]") for i, t in enumerate(raw_tools))
    if body.get("tool_choice") is not None:
        params["tool_choice"] = _tool_choice(body["tool_choice"])
    top_p = opt_number(body, "top_p", "top_p", 0, 1)
    if top_p is not None:
        params["top_p"] = body["top_p"]
    parallel = opt_bool(body, "parallel_tool_calls", "parallel_tool_calls")
    if parallel is not None:
        params["parallel_tool_calls"] = parallel
    if body.get("metadata") is not None:
        params["metadata"] = _metadata(body["metadata"])
    user = opt_str(body, "user", "user")
    if user:
        params["user"] = user
    if body.get("text") is not None:
        text = _text_format(body["text"])
        if text:
            params["text"] = text
    reasoning = body.get("reasoning")
    if reasoning is not None:
        obj(reasoning, "reasoning")
    return LLMRequest(
        messages,
        model=model,
        tools=tools,
        max_tokens=opt_int(body, "max_output_tokens", "max_output_tokens", 1),
        temperature=opt_number(body, "temperature", "temperature", 0, 2),
        stream=opt_bool(body, "stream", "stream") or False,
        params=params,
    )


# -- requests: LLMRequest -> JSON ----------------------------------------------------------------


def _content_json(parts: tuple[Part, ...], role: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for p in parts:
        if isinstance(p, TextPart):
            out.append({"type": "output_text" if role == "assistant" else "input_text", "text": p.text})
        elif isinstance(p, ImagePart):
            out.append({"type": "input_image", "image_url": p.data_url(), "detail": p.detail})
    return out


def encode_input(messages: tuple[Message, ...] | list[Message]) -> list[dict[str, Any]]:
    """Beluga messages as Responses input items (a tool call is a ``function_call`` item, a tool
    result a ``function_call_output`` item)."""
    items: list[dict[str, Any]] = []
    for m in messages:
        if isinstance(m, ToolMessage):
            items.append({"type": "function_call_output", "call_id": m.tool_call_id,
                          "output": _content_json(m.parts, "user")})
            continue
        role = m.role
        if not isinstance(m, AIMessage) or m.parts or not m.tool_calls:
            items.append({"type": "message", "role": role, "content": _content_json(m.parts, role)})
        if isinstance(m, AIMessage):
            items.extend({"type": "function_call", "call_id": c.id, "name": c.name,
                          "arguments": arguments_json(c.arguments)} for c in m.tool_calls)
    return items


def encode_tool(t: ToolSpec) -> dict[str, Any]:
    return {"type": "function", "name": t.name, "description": t.description, "parameters": dict(t.parameters)}


def encode_request(req: LLMRequest) -> dict[str, Any]:
    """The Responses API body for ``req`` (``params`` in the API's words go in as they are)."""
    messages = list(req.messages)
    params = dict(req.params)
    instructions = params.pop("instructions", None)
    if instructions is not None and messages and isinstance(messages[0], SystemMessage):
        messages = messages[1:]
    body: dict[str, Any] = {"model": req.model, "input": encode_input(messages)}
    if instructions is not None:
        body["instructions"] = instructions
    if req.tools:
        body["tools"] = [encode_tool(t) for t in req.tools]
    if req.max_tokens is not None:
        body["max_output_tokens"] = req.max_tokens
    if req.temperature is not None:
        body["temperature"] = req.temperature
    if req.stream:
        body["stream"] = True
    body.update((k, v) for k, v in params.items() if k in PARAMS)
    return body


# -- responses -----------------------------------------------------------------------------------


def usage_json(usage: Usage) -> dict[str, Any]:
    """The ``usage`` object: input counts the tokens read from and written to the prompt cache,
    output the reasoning tokens."""
    return {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_input_tokens,
                                 "cache_write_tokens": usage.cache_creation_input_tokens},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.input_tokens + usage.output_tokens,
    }


def usage_from(data: Any, where: str = "usage") -> Usage:
    if data is None:
        return Usage()
    data = obj(data, where)
    inp = opt_obj(data, "input_tokens_details", f"{where}.input_tokens_details")
    out = opt_obj(data, "output_tokens_details", f"{where}.output_tokens_details")
    return Usage(
        count(data, "input_tokens", f"{where}.input_tokens"),
        count(data, "output_tokens", f"{where}.output_tokens"),
        cached_input_tokens=count(inp, "cached_tokens", f"{where}.input_tokens_details.cached_tokens"),
        cache_creation_input_tokens=count(inp, "cache_write_tokens",
                                          f"{where}.input_tokens_details.cache_write_tokens"),
        reasoning_tokens=count(out, "reasoning_tokens", f"{where}.output_tokens_details.reasoning_tokens"),
    )


def text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message_item(id: str, text: str, status: str = "completed") -> dict[str, Any]:
    content = [text_part(text)] if status == "completed" else []
    return {"type": "message", "id": id, "status": status, "role": "assistant", "content": content}


def call_item(id: str, call_id: str, name: str, args: str, status: str = "completed") -> dict[str, Any]:
    return {"type": "function_call", "id": id, "call_id": call_id, "name": name, "arguments": args, "status": status}


def _echo(req: LLMRequest | None) -> dict[str, Any]:
    """The request's settings as a ``response`` object repeats them."""
    params: Mapping[str, Any] = req.params if req is not None else {}
    text = params.get("text") or {"format": {"type": "text"}}
    return {
        "instructions": params.get("instructions"),
        "max_output_tokens": req.max_tokens if req is not None else None,
        "metadata": dict(params.get("metadata") or {}),
        "parallel_tool_calls": params.get("parallel_tool_calls", True),
        "previous_response_id": None,
        "reasoning": None,
        "store": False,
        "temperature": req.temperature if req is not None else None,
        "text": text,
        "tool_choice": params.get("tool_choice", "auto"),
        "tools": [{**encode_tool(t), "strict": None} for t in (req.tools if req is not None else ())],
        "top_p": params.get("top_p"),
        "truncation": "disabled",
        "user": params.get("user"),
    }


def response_json(id: str, model: str, created_at: int, status: str, output: list[dict[str, Any]],
                  usage: Usage | None, req: LLMRequest | None, finish: str | None = None) -> dict[str, Any]:
    """A ``response`` object. A finish reason of ``length`` or ``content_filter`` makes it
    ``incomplete`` with the reason in ``incomplete_details``."""
    incomplete = None
    if status == "completed" and finish in ("length", "content_filter"):
        status = "incomplete"
        incomplete = {"reason": "max_output_tokens" if finish == "length" else "content_filter"}
    return {
        "id": id, "object": "response", "created_at": created_at, "status": status, "error": None,
        "incomplete_details": incomplete, "model": model, "output": output,
        "usage": usage_json(usage) if usage is not None else None, **_echo(req),
    }


def encode_response(resp: LLMResponse, *, id: str, model: str, created_at: int,
                    request: LLMRequest | None = None) -> dict[str, Any]:
    """The ``response`` object for ``resp``; ``id`` (``resp_...``) and ``model`` are what the client
    sees, ``request`` the settings it repeats."""
    output: list[dict[str, Any]] = []
    calls = resp.message.tool_calls
    if resp.text or not calls:
        output.append(message_item(f"msg_{id}", resp.text))
    output.extend(call_item(f"fc_{id}_{i}", c.id or f"call_{id}_{i}", c.name, arguments_json(c.arguments))
                  for i, c in enumerate(calls))
    return response_json(id, model, created_at, "completed", output, resp.usage, request, resp.finish_reason)


def decode_response(data: Any) -> LLMResponse:
    """An LLMResponse of a ``response`` object; :class:`WireError` names what is wrong."""
    data = obj(data, "the body")
    output = list_or_none(data, "output", "output") or []
    texts: list[str] = []
    calls: list[ToolCall] = []
    for i, item in enumerate(output):
        at = f"output[{i}]"
        item = obj(item, at)
        if item.get("type") == "message":
            for j, p in enumerate(list_or_none(item, "content", f"{at}.content") or []):
                p = obj(p, f"{at}.content[{j}]")
                if p.get("type") == "output_text":
                    texts.append(opt_str(p, "text", f"{at}.content[{j}].text") or "")
        elif item.get("type") == "function_call":
            calls.append(ToolCall(req_str(item, "call_id", f"{at}.call_id"), req_str(item, "name", f"{at}.name"),
                                  arguments(item.get("arguments"), f"{at}.arguments")))
    finish = "tool_calls" if calls else "stop"
    details = data.get("incomplete_details")
    if data.get("status") == "incomplete" and isinstance(details, Mapping):
        finish = "length" if details.get("reason") == "max_output_tokens" else "content_filter"
    return LLMResponse(AIMessage("".join(texts), tool_calls=calls), model=opt_str(data, "model", "model") or "",
                       usage=usage_from(data.get("usage")), finish_reason=finish)


# -- streams: chunks -> SSE events ---------------------------------------------------------------


def error_json(message: str, type: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    """OpenAI's error body: ``{"error": {"message", "type", "param", "code"}}``."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


class StreamEncoder:
    """Turns Beluga stream chunks into the Responses API's SSE events (bytes).

    The text is one ``message`` output item with one ``output_text`` part; each tool call is a
    ``function_call`` item. An item is closed (its ``.done`` events) when the next one opens; a
    late argument delta for a closed call is dropped from the events but kept in the final
    response. Every event carries the next ``sequence_number``.
    """

    __slots__ = ("_calls", "_created", "_id", "_items", "_model", "_open", "_req", "_seq", "_text")

    def __init__(self, id: str, model: str, created_at: int, request: LLMRequest | None = None) -> None:
        self._id = id
        self._model = model
        self._created = created_at
        self._req = request
        self._seq = 0
        self._items: list[dict[str, Any]] = []  # output items, in order
        self._open: int | None = None  # index of the open item
        self._text: list[str] = []  # the message item's text so far
        self._calls: dict[int, int] = {}  # tool call index -> output index

    def _event(self, kind: str, payload: dict[str, Any]) -> bytes:
        payload = {"type": kind, "sequence_number": self._seq, **payload}
        self._seq += 1
        return b"event: " + kind.encode() + b"\ndata: " + _dumps(payload).encode("utf-8") + b"\n\n"

    def _response(self, status: str, usage: Usage | None = None, finish: str | None = None) -> dict[str, Any]:
        return response_json(self._id, self._model, self._created, status, list(self._items), usage, self._req,
                             finish)

    def start(self) -> bytes:
        """``response.created`` and ``response.in_progress``."""
        snapshot = self._response("in_progress")
        return (self._event("response.created", {"response": snapshot})
                + self._event("response.in_progress", {"response": snapshot}))

    def _close(self) -> bytes:
        if self._open is None:
            return b""
        index, self._open = self._open, None
        item = self._items[index]
        out = b""
        if item["type"] == "message":
            text = "".join(self._text)
            part = text_part(text)
            at = {"item_id": item["id"], "output_index": index, "content_index": 0}
            out += self._event("response.output_text.done", {**at, "text": text, "logprobs": []})
            out += self._event("response.content_part.done", {**at, "part": part})
            item = self._items[index] = {**item, "status": "completed", "content": [part]}
        else:
            out += self._event("response.function_call_arguments.done",
                               {"item_id": item["id"], "output_index": index, "name": item["name"],
                                "arguments": item["arguments"]})
            item = self._items[index] = {**item, "status": "completed"}
        return out + self._event("response.output_item.done", {"output_index": index, "item": item})

    def _add(self, item: dict[str, Any]) -> tuple[bytes, int]:
        out = self._close()
        index = self._open = len(self._items)
        self._items.append(item)
        return out + self._event("response.output_item.added", {"output_index": index, "item": item}), index

    def chunk(self, c: StreamChunk) -> bytes:
        out = b""
        if c.text:
            index = self._open
            if index is None or self._items[index]["type"] != "message":
                opened, index = self._add(message_item(f"msg_{self._id}_{len(self._items)}", "", "in_progress"))
                self._text = []
                out += opened + self._event("response.content_part.added", {
                    "item_id": self._items[index]["id"], "output_index": index, "content_index": 0,
                    "part": text_part("")})
            self._text.append(c.text)
            out += self._event("response.output_text.delta", {
                "item_id": self._items[index]["id"], "output_index": index, "content_index": 0, "delta": c.text,
                "logprobs": []})
        for d in c.tool_calls:
            index = self._calls.get(d.index)
            if index is None:
                if len(self._calls) >= MAX_STREAM_TOOLS:
                    continue
                n = len(self._items)
                opened, index = self._add(call_item(f"fc_{self._id}_{n}", d.id or f"call_{self._id}_{n}",
                                                    d.name or "", "", "in_progress"))
                self._calls[d.index] = index
                out += opened
            if d.arguments:
                item = self._items[index]
                item["arguments"] += d.arguments
                if index == self._open:
                    out += self._event("response.function_call_arguments.delta",
                                       {"item_id": item["id"], "output_index": index, "delta": d.arguments})
        return out

    def finish(self, finish: str | None, usage: Usage | None) -> bytes:
        """The open item's ``.done`` events and ``response.completed`` with the whole response
        (``response.incomplete`` when the answer was cut: a finish reason of ``length`` or
        ``content_filter``)."""
        out = self._close()
        if not self._items:  # an empty answer is still one (empty) message
            self._items.append(message_item(f"msg_{self._id}_0", ""))
        response = self._response("completed", usage or Usage(), finish)
        return out + self._event(f"response.{response['status']}", {"response": response})

    def error(self, message: str, type: str, code: str | None = None) -> bytes:
        """An ``error`` event: how a stream that already started reports a failure (the SDKs raise it)."""
        return self._event("error", {"code": code, "message": message, "param": None,
                                     **error_json(message, type, code)})


def provider_params(params: Mapping[str, Any], kind: str, passthrough: frozenset[str],
                    has_tools: bool) -> dict[str, Any]:
    """A request's own parameters in the dialect of the provider it goes to: Chat Completions'
    words for OpenAI-compatible upstreams (then only the fields ``passthrough`` lets through; ``"*"``:
    all), Anthropic's for Anthropic; none for other providers."""
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
        if "*" in passthrough:
            return out
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


__all__ = [
    "MAX_METADATA",
    "PARAMS",
    "STATEFUL",
    "StreamEncoder",
    "WireError",
    "arguments",
    "arguments_json",
    "call_item",
    "decode_response",
    "encode_input",
    "encode_request",
    "encode_response",
    "encode_tool",
    "error_json",
    "message_item",
    "parse_request",
    "provider_params",
    "response_json",
    "text_part",
    "usage_from",
    "usage_json",
]
