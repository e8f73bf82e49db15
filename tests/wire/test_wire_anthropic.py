"""beluga_wire.anthropic: the Messages API's wire format, both directions, as round trips and field errors."""

from __future__ import annotations

from typing import Any

import attrs
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
from beluga_wire.anthropic import (
    StreamDecoder,
    StreamEncoder,
    WireError,
    decode_events,
    decode_response,
    encode_request,
    encode_response,
    parse_request,
    stop_reason,
)

arguments = st.dictionaries(st.text(min_size=1, max_size=6), json_values, max_size=3)
images = st.one_of(
    st.builds(lambda d, m: ImagePart(url=f"data:{m};base64,{d}", mime_type=m),
              st.from_regex(r"[A-Za-z0-9+/]{4,16}", fullmatch=True),
              st.sampled_from(["image/png", "image/jpeg", "image/gif", "image/webp"])),
    st.builds(lambda p: ImagePart(url=f"https://example.com/{p}.png"), names),
)
text_parts = st.builds(TextPart, text, st.booleans())
parts = st.lists(st.one_of(text_parts, images), min_size=1, max_size=3)


@st.composite
def user_turns(draw: Any, call_ids: list[str]) -> list[Message]:
    out: list[Message] = [ToolMessage(draw(st.lists(st.one_of(text_parts, images), max_size=2)), tool_call_id=i)
                          for i in call_ids]
    if not out or draw(st.booleans()):
        out.append(HumanMessage(draw(parts)))
    return out


@st.composite
def assistant_turns(draw: Any) -> AIMessage:
    calls = draw(st.lists(st.builds(ToolCall, names, names, arguments), max_size=2, unique_by=lambda c: c.id))
    body = draw(st.lists(text_parts, min_size=0 if calls else 1, max_size=2))
    return AIMessage(body, tool_calls=calls)


@st.composite
def requests(draw: Any) -> LLMRequest:
    messages: list[Message] = []
    system = draw(st.one_of(
        st.none(),
        st.builds(lambda t: SystemMessage(TextPart(t)), text),
        st.builds(lambda a, b: SystemMessage([TextPart(a, True), TextPart(b)]), text, text),
    ))
    if system is not None:
        messages.append(system)
    calls: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        messages.extend(draw(user_turns(calls)))
        ai = draw(assistant_turns())
        messages.append(ai)
        calls = [c.id for c in ai.tool_calls]
    messages.extend(draw(user_turns(calls)))
    params: dict[str, Any] = {}
    if draw(st.booleans()):
        params["top_p"] = draw(st.floats(0, 1))
    if draw(st.booleans()):
        params["top_k"] = draw(st.integers(0, 500))
    if draw(st.booleans()):
        params["stop_sequences"] = draw(st.lists(text, max_size=3))
    if draw(st.booleans()):
        kind = draw(st.sampled_from(["auto", "any", "tool", "none"]))
        choice: dict[str, Any] = {"type": kind}
        if kind == "tool":
            choice["name"] = draw(names)
        if kind != "none" and draw(st.booleans()):
            choice["disable_parallel_tool_use"] = draw(st.booleans())
        params["tool_choice"] = choice
    if draw(st.booleans()):
        params["metadata"] = {"user_id": draw(names)}
    tools = draw(st.lists(st.builds(lambda n, d: ToolSpec(n, d, {"type": "object", "properties": {}}), names,
                                    st.text(max_size=10)), max_size=2))
    return LLMRequest(
        messages,
        model=draw(names),
        tools=tools,
        max_tokens=draw(st.integers(1, 100000)),
        temperature=draw(st.one_of(st.none(), st.floats(0, 1))),
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


usages = st.builds(lambda i, c, o, r: Usage(i + c + r, o, r), st.integers(0, 10**6), st.integers(0, 10**4),
                   st.integers(0, 10**6), st.integers(0, 10**4))


@FAST
@given(st.text(max_size=30), st.lists(st.builds(ToolCall, names, names, arguments), max_size=3,
                                       unique_by=lambda c: c.id),
       usages, st.integers(0, 50), st.sampled_from(["stop", "length", "tool_calls", "content_filter"]))
def test_response_round_trips_through_the_message_object(
    body: str, calls: list[ToolCall], usage: Usage, creation: int, finish: str
) -> None:
    creation = min(creation, usage.input_tokens - usage.cached_input_tokens)
    usage = attrs.evolve(usage, cache_creation_input_tokens=creation)  # cache writes travel in Usage
    resp = LLMResponse(AIMessage(body, tool_calls=calls), model="m", usage=usage, finish_reason=finish)
    data = encode_response(resp, id="msg_1", model="m")
    back = decode_response(data)
    assert back.text == body
    assert back.tool_calls == tuple(calls)
    assert back.usage == usage
    assert back.finish_reason == finish
    assert back.metadata.get("cache_creation_input_tokens", 0) == creation
    assert data["stop_reason"] == stop_reason(finish)


@FAST
@given(streams(), usages, st.sampled_from(["stop", "length", "tool_calls"]))
def test_stream_round_trips_through_sse_events(chunks: list[StreamChunk], usage: Usage, finish: str) -> None:
    enc = StreamEncoder("msg_1", "m")
    raw = enc.start() + b"".join(enc.chunk(c) for c in chunks) + enc.finish(finish, usage)
    events = list(decode_events(raw))
    kinds = [e for e, _ in events]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    assert kinds.count("content_block_start") == kinds.count("content_block_stop")
    dec = StreamDecoder()
    got = [c for e, p in events if (c := dec.read(e, p)) is not None]
    got.append(dec.final())
    assert "".join(c.text for c in got) == "".join(c.text for c in chunks)

    def calls(cs: list[StreamChunk]) -> dict[int, tuple[str, str, str]]:
        acc: dict[int, list[str]] = {}
        for c in cs:
            for d in c.tool_calls:
                item = acc.setdefault(d.index, ["", "", ""])
                item[0] = d.id or item[0]
                item[1] = d.name or item[1]
                item[2] += d.arguments
        return {k: (v[0], v[1], v[2]) for k, v in acc.items()}

    assert calls(got) == calls(chunks)
    assert got[-1].usage == usage
    assert got[-1].finish_reason == ("stop" if finish == "stop" else finish)


def _body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    body.update(over)
    return {k: v for k, v in body.items() if v is not None}


@pytest.mark.parametrize(("body", "where"), [
    (_body(model=None), "model"),
    (_body(model="m\nforged log line"), "model"),
    (_body(model="m" * 300), "model"),
    (_body(max_tokens=None), "max_tokens"),
    (_body(max_tokens=0), "max_tokens"),
    (_body(messages=[]), "messages"),
    (_body(messages=[{"role": "system", "content": "x"}]), "messages[0].role"),
    (_body(messages=[{"role": "user", "content": [{"type": "document", "source": {}}]}]),
     "messages[0].content[0].type"),
    (_body(messages=[{"role": "user", "content": [{"type": "image", "source": {"type": "base64",
                                                                               "media_type": "image/tiff",
                                                                               "data": "AA=="}}]}]),
     "messages[0].content[0].source.media_type"),
    (_body(messages=[{"role": "assistant", "content": [{"type": "tool_use", "name": "f", "input": {}}]}]),
     "messages[0].content[0].id"),
    (_body(messages=[{"role": "user", "content": [{"type": "tool_result"}]}]), "messages[0].content[0].tool_use_id"),
    (_body(system=5), "system"),
    (_body(temperature=1.5), "temperature"),
    (_body(top_k=-1), "top_k"),
    (_body(stop_sequences=["a", 1]), "stop_sequences[1]"),
    (_body(tools=[{"name": "f"}]), "tools[0].input_schema"),
    (_body(tools=[{"type": "web_search_20250305", "name": "web_search"}]), "tools[0].type"),
    (_body(tool_choice={"type": "sometimes"}), "tool_choice.type"),
    (_body(tool_choice={"type": "tool"}), "tool_choice.name"),
    (_body(thinking={"type": "enabled", "budget_tokens": 1024}), "thinking"),
    (_body(stream="yes"), "stream"),
])
def test_a_bad_request_names_the_field(body: dict[str, Any], where: str) -> None:
    with pytest.raises(WireError) as info:
        parse_request(body)
    assert info.value.where == where


def test_parse_reads_system_blocks_images_and_tool_results() -> None:
    req = parse_request(_body(
        system=[{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}],
        messages=[
            {"role": "user", "content": [
                {"type": "text", "text": "look"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw=="}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
            ]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {"q": 1}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": "42"},
                {"type": "text", "text": "and?"},
            ]},
        ],
        top_k=5, metadata={"user_id": "u1"}, tool_choice={"type": "any"},
    ))
    system, user, ai, tool, user2 = req.messages
    assert system == SystemMessage([TextPart("be brief", cache_breakpoint=True)])
    assert user.parts[1] == ImagePart(url="data:image/png;base64,iVBORw==", mime_type="image/png")
    assert user.parts[2] == ImagePart(url="https://example.com/a.png")
    assert ai == AIMessage((), tool_calls=[ToolCall("t1", "f", {"q": 1})])
    assert tool == ToolMessage("42", tool_call_id="t1")
    assert user2 == HumanMessage("and?")
    assert req.params == {"top_k": 5, "metadata": {"user_id": "u1"}, "tool_choice": {"type": "any"}}


def test_usage_keeps_cache_reads_and_writes_apart() -> None:
    resp = decode_response({"content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn", "usage": {
        "input_tokens": 10, "output_tokens": 3, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 5}})
    assert resp.usage == Usage(115, 3, 100, 5)
    assert encode_response(resp, id="msg_1", model="m")["usage"] == {
        "input_tokens": 10, "output_tokens": 3, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 5}


def test_a_bad_reply_names_the_field() -> None:
    with pytest.raises(WireError, match=r"content\[0\]\.text is not a string"):
        decode_response({"content": [{"type": "text", "text": 5}]})
    with pytest.raises(WireError, match=r"usage\.input_tokens is not a number"):
        decode_response({"content": [], "usage": {"input_tokens": [1]}})
