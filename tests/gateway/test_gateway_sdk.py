"""The official openai SDK, pointed at the gateway, works unchanged: sync, async, streaming, tools, images."""

from __future__ import annotations

import json

import httpx
from gateway_support import ALPHA, ANTHROPIC_KEY, BETA, OPENAI_KEY, async_sdk, sdk

HELLO = [{"role": "user", "content": "hello gateway"}]


def test_sync_completion_returns_the_echo_in_openai_shape(gateway):
    server = gateway()
    resp = sdk(server.url).chat.completions.create(model="echo", messages=HELLO)
    assert resp.object == "chat.completion"
    assert resp.id.startswith("chatcmpl-")
    assert resp.model == "echo"
    assert resp.choices[0].message.role == "assistant"
    assert resp.choices[0].message.content == "hello gateway"
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage.prompt_tokens > 0 and resp.usage.completion_tokens > 0
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens


async def test_async_client_gets_the_same_answer(gateway):
    server = gateway()
    async with async_sdk(server.url) as client:
        resp = await client.chat.completions.create(model="echo", messages=HELLO)
    assert resp.choices[0].message.content == "hello gateway"


def test_streaming_yields_chunks_then_a_usage_chunk(gateway):
    server = gateway()
    stream = sdk(server.url).chat.completions.create(
        model="echo", messages=[{"role": "user", "content": "one two three four"}], stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three four"
    assert chunks[0].choices[0].delta.role == "assistant"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])


def test_stream_wire_format_is_server_sent_events_ending_in_done(gateway):
    server = gateway()
    body = {"model": "echo", "messages": HELLO, "stream": True}
    with httpx.stream("POST", server.url + "/v1/chat/completions", json=body,
                      headers={"authorization": f"Bearer {ALPHA}"}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        raw = r.read().decode()
    events = [e for e in raw.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    payloads = [json.loads(e[6:]) for e in events[:-1]]
    assert "usage" not in payloads[0]  # only sent when stream_options.include_usage asks for it
    assert payloads[-1]["choices"][0]["finish_reason"] == "stop"


def test_models_lists_the_configured_aliases_a_key_may_use(gateway):
    server = gateway("""
        [plugins.gateway.models]
        echo = "echo"
        "echo-shouty" = "echo:shouty"
    """)
    assert sorted(m.id for m in sdk(server.url).models.list()) == ["echo", "echo-shouty"]
    assert [m.id for m in sdk(server.url, BETA).models.list()] == ["echo"]


def _openai_extra(upstream) -> str:
    return f"""
        [providers.openai]
        api_key = "{OPENAI_KEY}"
        base_url = "{upstream.url}"

        [plugins.gateway.models]
        "gpt-4o-mini" = "openai:gpt-4o-mini"
        fast = "openai:gpt-4o-mini-2024-07-18"
    """


def test_openai_upstream_receives_the_mapped_model_and_passthrough_fields(gateway, openai_upstream):
    server = gateway(_openai_extra(openai_upstream))
    resp = sdk(server.url).chat.completions.create(model="fast", messages=HELLO, top_p=0.5, stop=["END"], seed=7)
    assert resp.choices[0].message.content == "echo: hello gateway"
    assert resp.model == "fast"
    sent = openai_upstream.last
    assert sent["body"]["model"] == "gpt-4o-mini-2024-07-18"
    assert sent["body"]["top_p"] == 0.5 and sent["body"]["stop"] == ["END"] and sent["body"]["seed"] == 7
    assert sent["headers"]["authorization"] == f"Bearer {OPENAI_KEY}"  # the upstream key, never the caller's
    assert ALPHA not in json.dumps(sent["headers"])


TOOLS = [{
    "type": "function",
    "function": {"name": "lookup", "description": "look a thing up",
                 "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}},
}]


def test_tools_round_trip_through_an_openai_upstream(gateway, openai_upstream):
    server = gateway(_openai_extra(openai_upstream))
    client = sdk(server.url)
    first = client.chat.completions.create(model="gpt-4o-mini", messages=HELLO, tools=TOOLS, tool_choice="auto")
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "lookup" and json.loads(call.function.arguments) == {"q": "hello gateway"}
    assert openai_upstream.last["body"]["tools"][0]["function"]["name"] == "lookup"
    assert openai_upstream.last["body"]["tool_choice"] == "auto"
    messages = [*HELLO, first.choices[0].message.model_dump(exclude_none=True),
                {"role": "tool", "tool_call_id": call.id, "content": "42"}]
    second = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=TOOLS)
    assert second.choices[0].message.content == "the tool said: 42"


def test_streamed_tool_calls_arrive_as_openai_deltas(gateway, openai_upstream):
    server = gateway(_openai_extra(openai_upstream))
    chunks = list(sdk(server.url).chat.completions.create(model="gpt-4o-mini", messages=HELLO, tools=TOOLS,
                                                          stream=True))
    deltas = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert deltas[0].id == "call_1" and deltas[0].function.name == "lookup"
    args = "".join(d.function.arguments or "" for d in deltas)
    assert json.loads(args) == {"q": "hello gateway"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]


def test_image_parts_reach_the_upstream(gateway, openai_upstream):
    server = gateway(_openai_extra(openai_upstream))
    content = [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "high"}},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
    ]
    resp = sdk(server.url).chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": content}])
    assert resp.choices[0].message.content == "I see 2 images (1:url/high, 2:data/auto). what is this?"


def _anthropic_extra(upstream) -> str:
    return f"""
        [providers.anthropic]
        api_key = "{ANTHROPIC_KEY}"
        base_url = "{upstream.url}"

        [plugins.gateway.models]
        claude = "anthropic:claude-3-5-haiku-latest"
    """


def test_anthropic_upstream_answers_openai_clients(gateway, anthropic_upstream):
    server = gateway(_anthropic_extra(anthropic_upstream))
    client = sdk(server.url)
    system = [{"role": "system", "content": "be brief"}, *HELLO]
    resp = client.chat.completions.create(model="claude", messages=system, max_tokens=100, stop="END")
    assert resp.choices[0].message.content == "echo: hello gateway"
    assert resp.choices[0].finish_reason == "stop"
    sent = anthropic_upstream.last["body"]
    assert sent["model"] == "claude-3-5-haiku-latest" and sent["system"] and sent["stop_sequences"] == ["END"]
    chunks = list(client.chat.completions.create(model="claude", messages=HELLO, stream=True,
                                                 stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "echo: hello gateway"
    assert chunks[-1].usage.prompt_tokens >= 10  # the fake reports 10 input tokens (+ cache writes)


def test_anthropic_tool_use_becomes_openai_tool_calls(gateway, anthropic_upstream):
    server = gateway(_anthropic_extra(anthropic_upstream))
    resp = sdk(server.url).chat.completions.create(model="claude", messages=HELLO, tools=TOOLS)
    call = resp.choices[0].message.tool_calls[0]
    assert resp.choices[0].finish_reason == "tool_calls"
    assert call.id == "toolu_1" and json.loads(call.function.arguments) == {"q": "hello gateway"}
