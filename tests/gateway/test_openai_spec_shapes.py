"""What OpenAI's description allows reaches an OpenAI-compatible upstream as it was sent (the deprecated
function role and functions, file and audio parts, custom tools, participant names, n above 1);
guards still read the text; other providers refuse it naming the field and the provider; the
``unreadable_content`` policy decides about parts the guards cannot read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fuzz_support import any_chat_upstream
from gateway_support import ALPHA, ANTHROPIC_KEY, OPENAI_KEY, FakeServer, sdk

UPSTREAM = """
    [providers.openai]
    api_key = "{key}"
    base_url = "{url}"

    [plugins.gateway.models]
    gpt = "openai:gpt-4o-mini"
"""
HELLO = [{"role": "user", "content": "hello gateway"}]
FILE = {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0="}}
AUDIO = {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}


@pytest.fixture
def upstream() -> Iterator[FakeServer]:
    """An OpenAI-compatible stand-in that answers any body (``n`` choices)."""
    server = FakeServer(any_chat_upstream, OPENAI_KEY).start()
    yield server
    server.stop()


def post(server: Any, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(server.url + "/v1/chat/completions", json={"model": "gpt", **body},
                      headers={"authorization": f"Bearer {ALPHA}"}, timeout=30)


def sent(upstream: FakeServer) -> dict[str, Any]:
    body: dict[str, Any] = upstream.last["body"]
    return body


def test_the_function_role_and_legacy_functions_reach_the_upstream_as_sent(gateway, upstream):
    server = gateway(UPSTREAM.format(key=OPENAI_KEY, url=upstream.url))
    functions = [{"name": "lookup", "description": "look up", "parameters": {"type": "object", "properties": {}}}]
    messages = [
        {"role": "user", "content": "what is it?"},
        {"role": "assistant", "content": None, "function_call": {"name": "lookup", "arguments": '{"q": "it"}'}},
        {"role": "function", "name": "lookup", "content": "42"},
    ]
    resp = post(server, {"messages": messages, "functions": functions, "function_call": "auto"})
    assert resp.status_code == 200, resp.text
    body = sent(upstream)
    assert body["messages"] == messages
    assert body["functions"] == functions and body["function_call"] == "auto"


def test_file_and_audio_parts_reach_the_upstream_as_sent_beside_the_text(gateway, upstream):
    server = gateway(UPSTREAM.format(key=OPENAI_KEY, url=upstream.url))
    image = {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "low"}}
    content = [{"type": "text", "text": "what is in"}, FILE, {"type": "text", "text": "and"}, AUDIO, image]
    resp = post(server, {"messages": [{"role": "user", "content": content}]})
    assert resp.status_code == 200, resp.text
    assert sent(upstream)["messages"] == [{"role": "user", "content": content}]


def test_custom_tools_and_custom_tool_calls_reach_the_upstream_as_sent(gateway, upstream):
    server = gateway(UPSTREAM.format(key=OPENAI_KEY, url=upstream.url))
    tools = [
        {"type": "custom", "custom": {"name": "sql", "description": "run SQL", "format": {"type": "text"}}},
        {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}, "strict": True}},
    ]
    calls = [
        {"id": "c1", "type": "custom", "custom": {"name": "sql", "input": "select 1"}},
        {"id": "c2", "type": "function", "function": {"name": "f", "arguments": "{}"}},
    ]
    messages = [*HELLO, {"role": "assistant", "content": None, "tool_calls": calls},
                {"role": "tool", "tool_call_id": "c1", "content": "1"}, {"role": "tool", "tool_call_id": "c2",
                                                                         "content": "ok"}]
    resp = post(server, {"messages": messages, "tools": tools,
                         "tool_choice": {"type": "custom", "custom": {"name": "sql"}}})
    assert resp.status_code == 200, resp.text
    body = sent(upstream)
    assert body["tools"] == tools and body["tool_choice"] == {"type": "custom", "custom": {"name": "sql"}}
    assert body["messages"] == messages


def test_names_refusals_audio_references_and_empty_tool_call_ids_are_passed_on(gateway, upstream):
    server = gateway(UPSTREAM.format(key=OPENAI_KEY, url=upstream.url))
    messages = [
        {"role": "developer", "content": "be brief", "name": "ops"},
        {"role": "user", "content": "hi", "name": "alice"},
        {"role": "assistant", "content": None, "refusal": "no", "audio": {"id": "audio_1"}, "name": "bot"},
        {"role": "user", "content": "again"},
    ]
    resp = post(server, {"messages": messages, "modalities": ["text"], "prediction": {"type": "content",
                                                                                      "content": "x"}})
    assert resp.status_code == 200, resp.text
    body = sent(upstream)
    assert body["messages"] == [{"role": "system", "content": "be brief", "name": "ops"}, *messages[1:]]
    assert body["modalities"] == ["text"] and body["prediction"] == {"type": "content", "content": "x"}


def test_guards_read_the_text_beside_unread_parts_and_in_custom_and_legacy_calls(gateway, upstream):
    server = gateway(UPSTREAM.format(key=OPENAI_KEY, url=upstream.url), plugins=("guard-pii",))
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "mail bob@example.com"}, FILE]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "custom", "custom": {"name": "sql", "input": "where mail = 'jane@example.com'"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "none"},
        {"role": "assistant", "content": None,
         "function_call": {"name": "mail", "arguments": json.dumps({"to": "joe@example.com"})}},
        {"role": "function", "name": "mail", "content": "sent to ann@example.com"},
    ]
    assert post(server, {"messages": messages}).status_code == 200
    body = sent(upstream)
    text = json.dumps(body)
    for secret in ("bob@example.com", "jane@example.com", "joe@example.com", "ann@example.com"):
        assert secret not in text
    first, custom, _, legacy, function = body["messages"]
    assert first["content"][1] == FILE and first["content"][0]["type"] == "text"
    assert custom["tool_calls"][0]["type"] == "custom" and custom["tool_calls"][0]["custom"]["name"] == "sql"
    assert legacy["function_call"]["name"] == "mail" and "tool_calls" not in legacy
    assert function["role"] == "function" and function["name"] == "mail" and "tool_call_id" not in function


def test_unreadable_content_refuse_is_400_naming_the_part(gateway, upstream):
    server = gateway(UPSTREAM.format(key=OPENAI_KEY, url=upstream.url), gw='unreadable_content = "refuse"')
    content = [{"type": "text", "text": "secret words"}, AUDIO]
    resp = post(server, {"messages": [*HELLO, {"role": "user", "content": content}]})
    assert resp.status_code == 400
    err = resp.json()["error"]
    assert err["param"] == "messages[1].content[1]" and err["code"] == "unreadable_content"
    assert "input_audio" in err["message"] and "secret words" not in err["message"]
    assert not upstream.requests
    assert post(server, {"messages": HELLO}).status_code == 200  # text alone passes


def test_unreadable_content_passes_by_default_named_on_the_span(gateway, upstream):
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from beluga_tracing import use_tracer_provider

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    use_tracer_provider(provider)
    try:
        server = gateway(UPSTREAM.format(key=OPENAI_KEY, url=upstream.url), plugins=("tracing",))
        resp = post(server, {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}, FILE, AUDIO]}]})
        assert resp.status_code == 200, resp.text
        server.stop()  # every span has ended
        spans = exporter.get_finished_spans()
    finally:
        use_tracer_provider(None)
        provider.shutdown()
    (root,) = [s for s in spans if s.name == "POST /v1/chat/completions"]
    assert tuple(root.attributes["beluga.request.unread_content_types"]) == ("file", "input_audio")


def test_n_above_1_returns_every_choice_with_the_openai_sdk(gateway, upstream):
    server = gateway(UPSTREAM.format(key=OPENAI_KEY, url=upstream.url))
    client = sdk(server.url)
    resp = client.chat.completions.create(model="gpt", messages=HELLO, n=3)
    assert [c.index for c in resp.choices] == [0, 1, 2]
    assert [c.message.content for c in resp.choices] == ["answer 0", "answer 1", "answer 2"]
    assert sent(upstream)["n"] == 3
    texts: dict[int, str] = {}
    finished = set()
    for chunk in client.chat.completions.create(model="gpt", messages=HELLO, n=2, stream=True,
                                                stream_options={"include_usage": True}):
        for c in chunk.choices:
            texts[c.index] = texts.get(c.index, "") + (c.delta.content or "")
            if c.finish_reason:
                finished.add(c.index)
    assert texts == {0: "answer 0", 1: "answer 1"} and finished == {0, 1}
    assert sent(upstream)["n"] == 2


def test_every_choice_of_n_above_1_passes_the_output_guards(gateway, upstream):
    def answer(h: Any) -> None:
        choices = [{"index": i, "message": {"role": "assistant", "content": f"write to u{i}@example.com"},
                    "finish_reason": "stop"} for i in range(2)]
        h.send_json(200, {"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": choices})

    server = gateway(UPSTREAM.format(key=OPENAI_KEY, url=upstream.url), plugins=("guard-pii",))
    upstream.push(answer)
    resp = post(server, {"messages": HELLO, "n": 2})
    assert resp.status_code == 200, resp.text
    choices = resp.json()["choices"]
    assert len(choices) == 2 and "@example.com" not in json.dumps(choices)


ANTHROPIC = """
    [providers.anthropic]
    api_key = "{key}"
    base_url = "{url}"

    [plugins.gateway.models]
    claude = "anthropic:claude-3-5-haiku-latest"
"""


@pytest.mark.parametrize(("fields", "param"), [
    ({"n": 2}, "n"),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}, FILE]}]}, "messages[0].content[1]"),
    ({"messages": [*HELLO, {"role": "function", "name": "f", "content": "1"}]}, "messages[1].role"),
    ({"tools": [{"type": "custom", "custom": {"name": "sql"}}]}, "tools[0]"),
    ({"functions": [{"name": "f"}]}, "functions"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"tools": [{"type": "function", "function": {"name": "get weather"}}]}, "tools[0].function.name"),
    ({"messages": [*HELLO, {"role": "assistant", "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "server.tool", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "ok"}]}, "messages[1].tool_calls[0].function.name"),
])
def test_a_provider_that_cannot_take_a_shape_refuses_it_naming_field_and_provider(gateway, anthropic_upstream,
                                                                                  fields, param):
    server = gateway(ANTHROPIC.format(key=ANTHROPIC_KEY, url=anthropic_upstream.url))
    resp = post(server, {"messages": HELLO, **fields, "model": "claude"})
    assert resp.status_code == 400
    err = resp.json()["error"]
    assert err["param"] == param and err["code"] == "unsupported_by_provider"
    assert "'anthropic'" in err["message"]
    assert "OpenAI-compatible" in err["message"] or "tool names" in err["message"]
    assert "weather" not in err["message"] and "server.tool" not in err["message"]  # the name is not quoted
    assert not anthropic_upstream.requests


def test_the_anthropic_provider_refuses_a_tool_name_its_api_cannot_take_before_sending(anthropic_upstream):
    """The same rule for a Kit user (no gateway in front): Beluga's refusal, naming the field."""
    from beluga_anthropic.provider import AnthropicProvider
    from beluga_core import BelugaError, LLMRequest, ProviderConfig, ProviderError, ToolSpec

    config = ProviderConfig(api_key=ANTHROPIC_KEY, base_url=anthropic_upstream.url, model="claude-x")
    provider = AnthropicProvider(config)
    request = LLMRequest(HELLO, tools=[ToolSpec("ok"), ToolSpec("get weather")])
    with pytest.raises(BelugaError) as info:
        provider.build_body(request, stream=False)
    assert not isinstance(info.value, ProviderError) and info.value.code == "invalid_input"
    assert "tools[1].name" in info.value.message and "weather" not in info.value.message
    assert provider.build_body(request.replace(tools=[ToolSpec("get_weather")]), stream=False)["tools"]


def test_a_token_limit_below_1_reaches_an_openai_upstream_as_sent_and_reserves_nothing_of_its_own(gateway, upstream):
    from gateway_support import Probe

    probe = Probe()
    server = gateway(UPSTREAM.format(key=OPENAI_KEY, url=upstream.url), plugins=("probe",), probe=probe)
    for fields in ({"max_tokens": 0}, {"max_completion_tokens": -3, "max_tokens": 50}):
        resp = post(server, {"messages": HELLO, **fields})
        assert resp.status_code == 200, resp.text
        body = sent(upstream)
        assert all(body[k] == v for k, v in fields.items())  # the upstream judges the value
    assert [r.max_tokens for r in probe.requests] == [None, 50]  # the chain never sees a limit below 1


def test_free_form_integers_beyond_64_bits_pass_and_fields_the_chain_reads_keep_their_range(gateway, upstream):
    server = gateway(UPSTREAM.format(key=OPENAI_KEY, url=upstream.url))
    schema = {"type": "object", "properties": {"n": {"type": "integer", "maximum": 2**70}}}
    tools = [{"type": "function", "function": {"name": "f", "parameters": schema}}]
    assert post(server, {"messages": HELLO, "tools": tools}).status_code == 200
    assert sent(upstream)["tools"][0]["function"]["parameters"] == schema
    for fields, param in (({"seed": 2**63}, "seed"), ({"max_tokens": 2**64}, "max_tokens"),
                          ({"x_vendor": {"a": [10**101]}}, "x_vendor.a[0]")):
        resp = post(server, {"messages": HELLO, **fields})
        assert resp.status_code == 400 and resp.json()["error"]["param"] == param, fields


def test_openais_metadata_reaches_the_upstream_and_never_replaces_the_chains(gateway, upstream):
    from gateway_support import Probe

    probe = Probe()
    server = gateway(UPSTREAM.format(key=OPENAI_KEY, url=upstream.url), gw='passthrough = ["*"]',
                     plugins=("probe",), probe=probe)
    wire = {"messages": [{"role": "user", "fields": {"content": "injected"}}]}
    resp = post(server, {"messages": HELLO, "metadata": {"project": "other"}, "top_k": 5, "provider": "x",
                         "beluga_wire": wire})
    assert resp.status_code == 200, resp.text
    body = sent(upstream)
    assert body["metadata"] == {"project": "other"} and body["top_k"] == 5 and body["provider"] == "x"
    assert body["messages"] == HELLO and "beluga_wire" not in body  # a client cannot speak for the gateway
    assert probe.metadata[-1]["project"] == "alpha"


def test_the_openai_provider_puts_wire_fields_back_on_the_right_messages_when_the_chain_adds_one():
    from beluga_core import LLMRequest, ProviderConfig, SystemMessage
    from beluga_openai import OpenAIProvider
    from beluga_wire.openai_chat import WIRE, parse_chat, provider_params

    messages = [{"role": "user", "content": [{"type": "text", "text": "see"}, FILE], "name": "ann"},
                {"role": "assistant", "content": "ok"}]
    req = parse_chat(json.dumps({"model": "m", "messages": messages}).encode())
    params = provider_params(req, "openai", frozenset())
    assert set(params) == {WIRE}
    # A middleware put a system prompt in front: the wire fields still land on the client's messages.
    request = LLMRequest((SystemMessage("house rules"), *req.messages), model="m", params=params)
    body = OpenAIProvider(ProviderConfig(api_key="k")).build_body(request, stream=False)
    assert body["messages"] == [{"role": "system", "content": "house rules"}, *messages]
    assert WIRE not in body
