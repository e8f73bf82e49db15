"""beluga_wire.openai_responses: the Responses API's wire format, as round trips, shapes the official
SDK's types accept, and field errors."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from wire_strategies import FAST, json_values, names, streams, text

from beluga_core import (
    AIMessage,
    HumanMessage,
    ImagePart,
    LLMRequest,
    LLMResponse,
    Message,
    StreamChunk,
    SystemMessage,
    TextPart,
    ToolCall,
    ToolMessage,
    ToolSpec,
    Usage,
)
from beluga_wire.anthropic import decode_events
from beluga_wire.openai_responses import (
    StreamEncoder,
    WireError,
    decode_response,
    encode_request,
    encode_response,
    parse_request,
)

arguments = st.dictionaries(st.text(min_size=1, max_size=6).filter(lambda k: k != "_raw"), json_values, max_size=3)
images = st.builds(lambda p, d: ImagePart(url=f"https://example.com/{p}.png", detail=d), names,
                   st.sampled_from(["auto", "low", "high"]))
text_parts = st.builds(TextPart, text)
parts = st.lists(st.one_of(text_parts, images), min_size=1, max_size=3)
calls = st.lists(st.builds(ToolCall, names, names, arguments), max_size=2, unique_by=lambda c: c.id)


@st.composite
def requests(draw: Any) -> LLMRequest:
    messages: list[Message] = []
    params: dict[str, Any] = {}
    instructions = draw(st.one_of(st.none(), text))
    if instructions is not None:
        messages.append(SystemMessage(instructions))
        params["instructions"] = instructions
    if draw(st.booleans()):
        messages.append(SystemMessage(draw(st.lists(text_parts, min_size=1, max_size=2))))
    pending: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        messages.extend(ToolMessage(draw(st.lists(st.one_of(text_parts, images), max_size=2)), tool_call_id=i)
                        for i in pending)
        messages.append(HumanMessage(draw(parts)))
        made = draw(calls)
        messages.append(AIMessage(draw(st.lists(text_parts, min_size=0 if made else 1, max_size=2)), tool_calls=made))
        pending = [c.id for c in made]
    if draw(st.booleans()):
        params["top_p"] = draw(st.floats(0, 1))
    if draw(st.booleans()):
        params["tool_choice"] = draw(st.one_of(st.sampled_from(["auto", "none", "required"]),
                                               st.builds(lambda n: {"type": "function", "name": n}, names)))
    if draw(st.booleans()):
        params["parallel_tool_calls"] = draw(st.booleans())
    if draw(st.booleans()):
        params["metadata"] = draw(st.dictionaries(names, st.text(max_size=10), max_size=3))
    if draw(st.booleans()):
        params["user"] = draw(names)
    tools = draw(st.lists(st.builds(lambda n, d: ToolSpec(n, d, {"type": "object", "properties": {}}), names,
                                    st.text(max_size=10)), max_size=2))
    return LLMRequest(
        messages,
        model=draw(names),
        tools=tools,
        max_tokens=draw(st.one_of(st.none(), st.integers(1, 100000))),
        temperature=draw(st.one_of(st.none(), st.floats(0, 2))),
        stream=draw(st.booleans()),
        params=params,
    )


@FAST
@given(requests())
def test_request_round_trips_through_the_json_body(req: LLMRequest) -> None:
    assert parse_request(encode_request(req)) == req


@FAST
@given(requests())
def test_a_parsed_body_encodes_to_itself(req: LLMRequest) -> None:
    body = encode_request(req)
    assert encode_request(parse_request(body)) == body


usages = st.builds(lambda i, c, w, o, r: Usage(i + c + w, o + r, c, w, r), st.integers(0, 10**6),
                   st.integers(0, 10**4), st.integers(0, 10**4), st.integers(0, 10**6), st.integers(0, 10**4))
openai_types = pytest.importorskip("openai.types.responses", reason="the SDK's types check the shapes")
pydantic = pytest.importorskip("pydantic")
RESPONSE = pydantic.TypeAdapter(openai_types.Response)
EVENT = pydantic.TypeAdapter(openai_types.ResponseStreamEvent)


@FAST
@given(st.text(max_size=30), st.lists(st.builds(ToolCall, names, names, arguments), max_size=3,
                                       unique_by=lambda c: c.id), usages, st.booleans())
def test_response_round_trips_through_the_response_object(
    body: str, made: list[ToolCall], usage: Usage, cut: bool
) -> None:
    finish = "length" if cut else "tool_calls" if made else "stop"
    resp = LLMResponse(AIMessage(body, tool_calls=made), model="m", usage=usage, finish_reason=finish)
    data = encode_response(resp, id="resp_1", model="m", created_at=1)
    RESPONSE.validate_python(data)  # the official SDK's own model of a response takes it
    back = decode_response(data)
    assert (back.text, back.tool_calls, back.usage, back.finish_reason, back.model) == (
        body, tuple(made), usage, finish, "m")
    assert data["status"] == ("incomplete" if cut else "completed")
    assert data["usage"]["total_tokens"] == usage.input_tokens + usage.output_tokens


@FAST
@given(streams(), usages)
def test_stream_events_are_the_sdks_and_add_up_to_the_final_response(chunks: list[StreamChunk], usage: Usage) -> None:
    enc = StreamEncoder("resp_1", "m", 1)
    raw = enc.start() + b"".join(enc.chunk(c) for c in chunks) + enc.finish("stop", usage)
    events = list(decode_events(raw))
    for name, payload in events:
        assert EVENT.validate_python(payload).type == name  # each event is one the official SDK knows
    assert [p["sequence_number"] for _, p in events] == list(range(len(events)))
    kinds = [e for e, _ in events]
    assert kinds[:2] == ["response.created", "response.in_progress"] and kinds[-1] == "response.completed"
    assert kinds.count("response.output_item.added") == kinds.count("response.output_item.done")
    deltas = "".join(p["delta"] for e, p in events if e == "response.output_text.delta")
    assert deltas == "".join(c.text for c in chunks)
    final = events[-1][1]["response"]
    back = decode_response(final)
    assert back.text == deltas and back.usage == usage
    sent: dict[int, list[str]] = {}
    for c in chunks:
        for d in c.tool_calls:
            acc = sent.setdefault(d.index, ["", "", ""])
            acc[0], acc[1], acc[2] = d.id or acc[0], d.name or acc[1], acc[2] + d.arguments
    items = [i for i in final["output"] if i["type"] == "function_call"]
    assert [(i["call_id"], i["name"], i["arguments"]) for i in items] == [tuple(v) for v in sent.values()]
    assert all(i["status"] == "completed" for i in final["output"])


@pytest.mark.parametrize(("finish", "last", "reason"), [
    ("stop", "response.completed", None),
    ("length", "response.incomplete", "max_output_tokens"),
    ("content_filter", "response.incomplete", "content_filter"),
])
def test_a_cut_stream_ends_with_response_incomplete(finish: str, last: str, reason: str | None) -> None:
    enc = StreamEncoder("resp_1", "m", 1)
    events = list(decode_events(enc.start() + enc.chunk(StreamChunk(text="par")) + enc.finish(finish, Usage(3, 1))))
    name, payload = events[-1]
    assert name == last and EVENT.validate_python(payload).type == last
    assert (payload["response"]["incomplete_details"] or {}).get("reason") == reason
    assert decode_response(payload["response"]).finish_reason == finish


def test_instructions_and_items_become_messages_in_order() -> None:
    req = parse_request({
        "model": "m", "instructions": "Be brief.", "max_output_tokens": 20, "temperature": 0.5,
        "input": [
            {"role": "developer", "content": "Use tools."},
            {"role": "user", "content": [
                {"type": "input_text", "text": "weather?"},
                {"type": "input_image", "image_url": "https://x.test/a.png", "detail": "low"}]},
            {"type": "function_call", "call_id": "c1", "name": "lookup", "arguments": '{"q": "weather"}'},
            {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
        ],
        "tools": [{"type": "function", "name": "lookup", "parameters": {"type": "object", "properties": {}}}],
        "tool_choice": {"type": "function", "name": "lookup"},
    })
    assert [m.role for m in req.messages] == ["system", "system", "user", "assistant", "tool"]
    assert req.messages[0].text == "Be brief." and req.max_tokens == 20 and req.temperature == 0.5
    assert req.messages[3] == AIMessage([], tool_calls=[ToolCall("c1", "lookup", {"q": "weather"})])
    assert req.messages[4] == ToolMessage("sunny", tool_call_id="c1")
    assert req.params["tool_choice"] == {"type": "function", "name": "lookup"}
    assert req.tools[0].name == "lookup"


@pytest.mark.parametrize(("body", "where"), [
    ({"input": "x"}, "model"),
    ({"model": "m"}, "input"),
    ({"model": "m", "input": []}, "input"),
    ({"model": "m", "input": "x", "previous_response_id": "resp_1"}, "previous_response_id"),
    ({"model": "m", "input": "x", "store": True}, "store"),
    ({"model": "m", "input": "x", "conversation": "conv_1"}, "conversation"),
    ({"model": "m", "input": "x", "background": True}, "background"),
    ({"model": "m", "input": "x", "tools": [{"type": "web_search"}]}, "tools[0].type"),
    ({"model": "m", "input": [{"role": "tool", "content": "x"}]}, "input[0].role"),
    ({"model": "m", "input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type"),
    ({"model": "m", "input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]},
     "input[0].content[0].type"),
    ({"model": "m", "input": [{"type": "function_call_output", "call_id": "c"}]}, "input[0].output"),
    ({"model": "m", "input": "x", "temperature": 3}, "temperature"),
    ({"model": "m", "input": "x", "max_output_tokens": 0}, "max_output_tokens"),
    ({"model": "m", "input": "x", "tool_choice": "any"}, "tool_choice"),
    ({"model": "m", "input": "x", "metadata": {"k": 1}}, "metadata"),
])
def test_a_bad_field_is_named(body: dict[str, Any], where: str) -> None:
    with pytest.raises(WireError) as info:
        parse_request(body)
    assert info.value.where == where


def test_store_false_is_what_the_gateway_does_anyway() -> None:
    assert parse_request({"model": "m", "input": "x", "store": False}).messages == (HumanMessage("x"),)


def test_a_secret_in_a_bad_field_is_not_quoted() -> None:
    with pytest.raises(WireError) as info:
        parse_request({"model": "m", "input": "x", "tool_choice": "sk-secret-123"})
    assert "sk-secret-123" not in str(info.value)
