"""Hostile request bodies against a real gateway: each is refused with a 400 naming the field, none
answers 500, none poisons what later requests or scrapes see, none reaches the upstream."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import pytest
from gateway_support import ALPHA, OPENAI_KEY, finite

from beluga_gateway.metrics import Metrics

HELLO = [{"role": "user", "content": "hello gateway"}]
ERROR_KEYS = {"message", "type", "param", "code"}


def post(server: Any, body: bytes | dict[str, Any]) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"authorization": f"Bearer {ALPHA}", "content-type": "application/json"}
    return httpx.post(server.url + "/v1/chat/completions", content=raw, headers=headers, timeout=15)


def refused(resp: httpx.Response) -> dict[str, Any]:
    """The error of a 400 in OpenAI's shape (``param`` always present)."""
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert set(body) == {"error"} and set(body["error"]) == ERROR_KEYS
    assert body["error"]["type"] == "invalid_request_error"
    return body["error"]


def chat(**fields: Any) -> bytes:
    """A valid body with ``fields`` added; values that are ``bytes`` are spliced in as raw JSON."""
    body: dict[str, Any] = {"model": "echo", "messages": HELLO}
    raw = {k: v for k, v in fields.items() if isinstance(v, bytes)}
    body.update({k: v for k, v in fields.items() if not isinstance(v, bytes)})
    text = json.dumps(body).encode()
    for key, value in raw.items():
        text = text[:-1] + b', "' + key.encode() + b'": ' + value + b"}"
    return text


def healthy(server: Any) -> None:
    assert httpx.get(server.url + "/metrics", timeout=15).status_code == 200
    assert httpx.get(server.url + "/readyz", timeout=15).status_code == 200
    assert post(server, {"model": "echo", "messages": HELLO}).status_code == 200


# -- strings that are not valid Unicode --------------------------------------------------------

SURROGATES = [
    (b'{"model": "echo\\ud800", "messages": [{"role": "user", "content": "hi"}]}', "model"),
    (b'{"model": "echo", "messages": [{"role": "system", "content": "be \\udc00 nice"}, '
     b'{"role": "user", "content": "hi"}]}', "messages[0].content"),
    (b'{"model": "echo", "messages": [{"role": "user", "content": [{"type": "text", "text": "\\ud83d"}]}]}',
     "messages[0].content[0].text"),
    (b'{"model": "echo", "messages": [{"role": "user", "content": "hi", "name": "\\udfff"}]}', "messages[0].name"),
    (chat(tools=[{"type": "function", "function": {"name": "f\ud800"}}]),
     "tools[0].function.name"),
    (b'{"model": "echo", "messages": [{"role": "assistant", "content": null, "tool_calls": [{"id": "c1", '
     b'"type": "function", "function": {"name": "f", "arguments": "{\\"q\\": \\"\\\\ud800\\"}"}}]}, '
     b'{"role": "tool", "tool_call_id": "c1", "content": "ok"}]}',
     "messages[0].tool_calls[0].function.arguments"),
    (b'{"model": "echo", "messages": [{"role": "user", "content": "hi"}], "x_vendor": {"a": ["ok", "\\ud800"]}}',
     "x_vendor.a[1]"),
    # An escaped backslash, then "ud800" as text, then a real lone low surrogate: not a pair.
    (b'{"model": "echo", "messages": [{"role": "user", "content": "a\\\\ud800\\udc00"}]}', "messages[0].content"),
    (b'{"model": "echo", "messages": [{"role": "user", "content": "\\ude00\\ud83d"}]}', "messages[0].content"),
    (b'{"model": "echo", "messages": [{"role": "user", "content": "hi"}], "metadata": {"\\ud800": "v"}}',
     "metadata.\\ud800"),
]


@pytest.mark.parametrize(("body", "param"), SURROGATES, ids=[p for _, p in SURROGATES])
def test_lone_surrogates_anywhere_are_400_naming_the_field(gateway: Any, body: bytes, param: str) -> None:
    server = gateway()
    assert refused(post(server, body))["param"] == param


def test_a_surrogate_model_name_leaves_metrics_and_readiness_healthy(gateway: Any) -> None:
    server = gateway(plugins=("breaker",))
    bad = b'{"model": "echo\\ud800", "messages": [{"role": "user", "content": "hi"}]}'
    for _ in range(3):
        assert refused(post(server, bad))["param"] == "model"
    healthy(server)


def test_label_values_that_are_not_unicode_still_render() -> None:
    """Defence in depth: whatever reaches a label or a breaker name, a scrape never fails on it."""
    metrics = Metrics(lambda: {"echo/\ud800": "open"})
    metrics.requests.labels("/v1/chat/completions", "echo\udc00", "200").inc()
    text = metrics.render().decode("utf-8")
    assert 'model="echo\ufffd"' in text and 'breaker="echo/\ufffd"' in text


def test_state_made_through_the_kit_with_a_surrogate_name_does_not_break_scrapes(gateway: Any) -> None:
    server = gateway(plugins=("breaker",))
    # A Kit user (not the gateway) can name any model; a breaker made for it must not break scrapes.
    server.gateway.kit.plugins.get("breaker").breaker_for("echo", "echo\ud800")
    assert any("\ud800" in name or "\ufffd" in name for name in server.gateway.breaker_states())
    healthy(server)
    assert "\ufffd" in httpx.get(server.url + "/metrics", timeout=15).text


# -- numbers -----------------------------------------------------------------------------------

NUMBERS = [
    (chat(temperature=b"NaN"), "temperature"),
    (chat(top_p=b"Infinity"), "top_p"),
    (chat(presence_penalty=b"-Infinity"), "presence_penalty"),
    (chat(temperature=b"1e400"), "temperature"),
    (chat(temperature=b"9" * 400), "temperature"),
    (chat(seed=str(2**63).encode()), "seed"),
    (chat(x_vendor=b'{"deep": [1, 2, -1e999]}'), "x_vendor.deep[2]"),
    (b'{"model": "echo", "messages": [{"role": "assistant", "content": null, "tool_calls": [{"id": "c1", '
     b'"type": "function", "function": {"name": "f", "arguments": "{\\"q\\": NaN}"}}]}, '
     b'{"role": "tool", "tool_call_id": "c1", "content": "ok"}]}',
     "messages[0].tool_calls[0].function.arguments"),
]


@pytest.mark.parametrize(("body", "param"), NUMBERS, ids=[f"{i}-{p}" for i, (_, p) in enumerate(NUMBERS)])
def test_non_finite_and_oversized_numbers_are_400_naming_the_field(gateway: Any, body: bytes, param: str) -> None:
    server = gateway()
    err = refused(post(server, body))
    assert err["param"] == param
    assert "9" * 50 not in err["message"]  # the value is not echoed back


def test_the_largest_64_bit_integers_are_accepted(gateway: Any) -> None:
    server = gateway()
    assert post(server, chat(seed=str(2**63 - 1).encode())).status_code == 200
    assert post(server, chat(seed=str(-(2**63)).encode())).status_code == 200


# -- nesting -----------------------------------------------------------------------------------


def test_nesting_thousands_deep_is_400(gateway: Any) -> None:
    server = gateway()
    for depth in (100, 5_000, 200_000):
        body = chat(x_vendor=b"[" * depth + b"]" * depth)
        err = refused(post(server, body))
        assert "deeper than 64" in err["message"]
    healthy(server)


@pytest.mark.parametrize("padding", [0, 40_000], ids=["short body", "long body"])
def test_nesting_within_the_cap_is_accepted_and_the_first_level_beyond_it_is_named(gateway: Any, padding: int) -> None:
    server = gateway()
    messages = [{"role": "user", "content": "x" * padding or "hi"}]
    # The body object is level 1, so x_vendor may hold 63 levels.
    assert post(server, chat(messages=messages, x_vendor=b"[" * 63 + b"]" * 63)).status_code == 200
    err = refused(post(server, chat(messages=messages, x_vendor=b"[" * 64 + b"]" * 64)))
    assert err["param"] == "x_vendor" + "[0]" * 63
    nested = b'{"a": ' * 64 + b"1" + b"}" * 64
    assert refused(post(server, chat(messages=messages, x_vendor=nested)))["param"] == "x_vendor" + ".a" * 63


# -- malformed fields --------------------------------------------------------------------------

MALFORMED: list[tuple[dict[str, Any], str]] = [
    ({"tools": 5}, "tools"),
    ({"tools": True}, "tools"),
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": 5}}]}, "tools[0].function.parameters"),
    ({"tools": [{"type": "function", "function": {"name": "f", "description": ["x"]}}]},
     "tools[0].function.description"),
    ({"messages": [{"role": "assistant", "content": "x", "tool_calls": 5}, *HELLO]}, "messages[0].tool_calls"),
    ({"messages": [{"role": "assistant", "content": "x", "tool_calls": [5]}, *HELLO]}, "messages[0].tool_calls[0]"),
    ({"messages": [{"role": "assistant", "tool_calls": [{"id": 5, "type": "function",
                                                          "function": {"name": "f", "arguments": "{}"}}]}, *HELLO]},
     "messages[0].tool_calls[0].id"),
    ({"messages": [{"role": "assistant", "tool_calls": [{"id": "c", "type": "function",
                                                          "function": {"name": "f", "arguments": 5}}]}, *HELLO]},
     "messages[0].tool_calls[0].function.arguments"),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}, "messages[0].content[0].text"),
    ({"messages": [{"role": "user", "content": []}]}, "messages[0].content"),
    ({"messages": [{"role": "user"}]}, "messages[0].content"),
    ({"messages": [{"role": "system", "content": 5}, *HELLO]}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": "hi", "name": 5}]}, "messages[0].name"),
    ({"messages": [{"role": "tool", "tool_call_id": "c", "content": "x"}, "hi"]}, "messages[1]"),
    ({"n": True}, "n"),
    ({"n": 0}, "n"),
    ({"n": 129}, "n"),
    ({"stream": {}}, "stream"),
    ({"stream": "yes"}, "stream"),
    ({"stream_options": {"include_usage": "yes"}}, "stream_options.include_usage"),
    ({"stream_options": 5}, "stream_options"),
    ({"max_tokens": -5, "max_completion_tokens": None}, "max_tokens"),
    ({"max_completion_tokens": 0}, "max_completion_tokens"),
    ({"max_tokens": 1.5}, "max_tokens"),
    ({"temperature": 2.5}, "temperature"),
    ({"temperature": "1"}, "temperature"),
    ({"temperature": True}, "temperature"),
    ({"top_p": 1.01}, "top_p"),
    ({"frequency_penalty": -3}, "frequency_penalty"),
    ({"top_logprobs": 21}, "top_logprobs"),
    ({"logprobs": "yes"}, "logprobs"),
    ({"seed": 1.5}, "seed"),
    ({"stop": 5}, "stop"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
    ({"stop": [5]}, "stop"),
    ({"logit_bias": {"50256": 1.5}}, "logit_bias.50256"),
    ({"logit_bias": []}, "logit_bias"),
    ({"tool_choice": "sometimes"}, "tool_choice"),
    ({"tool_choice": {"type": "function"}}, "tool_choice.function"),
    ({"tool_choice": {"type": "magic"}}, "tool_choice.type"),
    ({"response_format": "json"}, "response_format"),
    ({"response_format": {"type": "yaml"}}, "response_format.type"),
    ({"response_format": {"type": "json_schema", "json_schema": {"schema": {}}}}, "response_format.json_schema"),
    ({"parallel_tool_calls": "no"}, "parallel_tool_calls"),
    ({"user": 5}, "user"),
    ({"safety_identifier": "x" * 65}, "safety_identifier"),
    ({"metadata": {"k": 5}}, "metadata.k"),
]


@pytest.mark.parametrize(("fields", "param"), MALFORMED, ids=[f"{i}-{p}" for i, (_, p) in enumerate(MALFORMED)])
def test_malformed_fields_are_400_naming_the_field(gateway: Any, fields: dict[str, Any], param: str) -> None:
    server = gateway()
    assert refused(post(server, {"model": "echo", "messages": HELLO, **fields}))["param"] == param


def test_shapes_openai_allows_are_still_accepted(gateway: Any) -> None:
    server = gateway()
    ok = {
        "n": 1, "stream": None, "max_tokens": None, "max_completion_tokens": 5, "temperature": 0, "top_p": 1,
        "stop": ["a", "b", "c", "d"], "seed": -1, "logit_bias": {"50256": -100}, "tool_choice": "none",
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
        "metadata": {"k": "v"}, "user": "u", "stream_options": None, "logprobs": False, "top_logprobs": 0,
        "x_vendor": {"anything": [1, 2.5, None, "é😀"]},
    }
    assert post(server, {"model": "echo", "messages": HELLO, **ok}).status_code == 200
    assert post(server, chat(messages=[{"role": "user", "content": "😀 \ud83d\ude00 ok"}])).status_code == 200
    escaped = b'{"model": "echo", "messages": [{"role": "user", "content": "pair \\ud83d\\ude00 ok"}]}'
    assert post(server, escaped).status_code == 200  # a surrogate pair, as ensure_ascii JSON writers send it
    text = b'{"model": "echo", "messages": [{"role": "user", "content": "C:\\\\ud800 is a path"}]}'
    assert post(server, text).status_code == 200  # an escaped backslash before "ud800" is plain text


def test_bodies_that_are_not_json_text_are_400(gateway: Any) -> None:
    server = gateway()
    for raw in (b"\xff\xfe{}", b'{"model": "\xed\xa0\x80"}', b"", b"{", b'{"model": "echo"} x'):
        assert refused(post(server, raw))["param"] is None


# -- what the upstream receives ----------------------------------------------------------------


def test_an_openai_upstream_never_receives_non_finite_numbers(gateway: Any, openai_upstream: Any) -> None:
    server = gateway(f"""
        [providers.openai]
        api_key = "{OPENAI_KEY}"
        base_url = "{openai_upstream.url}"
        [plugins.gateway.models]
        gpt = "openai:gpt-4o-mini"
    """)
    hostile = [
        chat(model="gpt", top_p=b"NaN"),
        chat(model="gpt", presence_penalty=b"Infinity"),
        chat(model="gpt", seed=b"1e400"),
        chat(model="gpt", logit_bias=b'{"1": -Infinity}'),
        chat(model="gpt", response_format=b'{"type": "json_schema", "json_schema": {"name": "x", '
                                          b'"schema": {"maximum": NaN}}}'),
        b'{"model": "gpt", "messages": [{"role": "assistant", "content": null, "tool_calls": [{"id": "c1", '
        b'"type": "function", "function": {"name": "f", "arguments": "{\\"q\\": Infinity}"}}]}, '
        b'{"role": "tool", "tool_call_id": "c1", "content": "ok"}]}',
    ]
    for body in hostile:
        refused(post(server, body))
    assert openai_upstream.requests == []
    assert post(server, chat(model="gpt", top_p=0.5, seed=2**63 - 1)).status_code == 200
    assert len(openai_upstream.requests) == 1
    sent = openai_upstream.last["body"]
    assert sent is not None and finite(sent) and sent["top_p"] == 0.5


# -- names and counts --------------------------------------------------------------------------


def fn(name: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name}}


def called(name: str) -> list[dict[str, Any]]:
    """An assistant turn calling ``name``, and the tool's answer."""
    call = {"id": "c1", "type": "function", "function": {"name": name, "arguments": "{}"}}
    return [*HELLO, {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "c1", "content": "ok"}]


BAD_NAMES: list[tuple[str, dict[str, Any], str]] = [
    ("model-257-chars", {"model": "m" * 257}, "model"),
    ("model-1mb", {"model": "m" * 1_000_000}, "model"),
    ("model-newline", {"model": "echo\nWARNING forged log line"}, "model"),
    ("model-crlf", {"model": "echo\r\n"}, "model"),
    ("model-nul", {"model": "echo\x00"}, "model"),
    ("model-tab", {"model": "echo\t"}, "model"),
    ("model-del", {"model": "echo\x7f"}, "model"),
    ("model-c1-nel", {"model": "echo\x85"}, "model"),
    ("model-line-separator", {"model": "echo\u2028"}, "model"),
    ("model-paragraph-separator", {"model": "echo\u2029"}, "model"),
    ("tool-257-chars", {"tools": [fn("f" * 257)]}, "tools[0].function.name"),
    ("call-257-chars", {"messages": called("f" * 257)}, "messages[1].tool_calls[0].function.name"),
    ("message-name-257", {"messages": [{"role": "user", "content": "hi", "name": "b" * 257}]}, "messages[0].name"),
    ("tool-choice-257", {"tools": [fn("f")], "tool_choice": {"type": "function", "function": {"name": "f" * 257}}},
     "tool_choice.function.name"),
]


def test_names_too_long_or_with_control_characters_are_400_naming_the_field(gateway: Any) -> None:
    server = gateway()
    for case, fields, param in BAD_NAMES:
        err = refused(post(server, {"model": "echo", "messages": HELLO, **fields}))
        assert err["param"] == param, case
        assert "mmmmmmmmmm" not in err["message"] and "\n" not in err["message"], case  # the name is not echoed
    healthy(server)


def test_names_within_the_rules_are_accepted(gateway: Any) -> None:
    server = gateway()
    good: list[dict[str, Any]] = [
        {"model": "m" * 256},
        {"model": "модель-ü 😀/v1:latest"},
        {"tools": [fn("get_weather-2"), fn("f" * 64), fn("_")]},
        {"messages": called("server.tool:v2 with spaces")},  # a call's name has no pattern in OpenAI's spec
        # tool and call names are data for the upstream (which decides): any character, at most 256
        {"tools": [fn("get weather"), fn("server.tool"), fn("f" * 256), fn("f\n"), fn("wetter_é"), fn("")]},
        {"messages": called("f\nx\x00\u2028")},
        {"tools": [fn("f\x00")], "tool_choice": {"type": "function", "function": {"name": "f\x00"}}},
        {"messages": [{"role": "user", "content": "hi", "name": "Bob Smith"}]},
        # a participant's name is data for the upstream only: any character the spec allows
        {"messages": [{"role": "user", "content": "hi", "name": "bob\r\nx\x00"}]},
    ]
    for fields in good:
        assert post(server, {"model": "echo", "messages": HELLO, **fields}).status_code == 200, fields


def test_messages_and_tools_beyond_the_caps_are_400(gateway: Any) -> None:
    server = gateway()
    many = [{"role": "user", "content": "x"}] * 2049
    err = refused(post(server, {"model": "echo", "messages": many}))
    assert err["param"] == "messages" and "2048" in err["message"]
    assert post(server, {"model": "echo", "messages": many[:2048]}).status_code == 200
    flood = b'{"model": "echo", "messages": [' + b",".join([b'{"role":"user","content":"x"}'] * 220_000) + b"]}"
    assert len(flood) > 6_000_000 and refused(post(server, flood))["param"] == "messages"
    tools = [fn(f"f{i}") for i in range(129)]
    err = refused(post(server, {"model": "echo", "messages": HELLO, "tools": tools}))
    assert err["param"] == "tools" and "128" in err["message"]
    assert post(server, {"model": "echo", "messages": HELLO, "tools": tools[:128]}).status_code == 200


def test_parse_chat_takes_the_caps_as_arguments() -> None:
    from beluga_wire.openai_chat import APIError, parse_chat

    body = json.dumps({"model": "echo", "messages": HELLO * 3, "tools": [fn("a"), fn("b")]}).encode()
    assert len(parse_chat(body, max_messages=3, max_tools=2).messages) == 3
    with pytest.raises(APIError) as info:
        parse_chat(body, max_messages=2)
    assert info.value.param == "messages"
    with pytest.raises(APIError) as info:
        parse_chat(body, max_tools=1)
    assert info.value.param == "tools"


def test_max_messages_and_max_tools_are_settings(gateway: Any) -> None:
    server = gateway(gw="max_messages = 2\nmax_tools = 1")
    assert refused(post(server, {"model": "echo", "messages": HELLO * 3}))["param"] == "messages"
    assert refused(post(server, {"model": "echo", "messages": HELLO, "tools": [fn("a"), fn("b")]}))["param"] == "tools"
    assert post(server, {"model": "echo", "messages": HELLO * 2, "tools": [fn("a")]}).status_code == 200


HOSTILE_NAMES = ["a\r\nb", "nul\x00here", "sep\u2028x", 'quote"and\\backslash', "nel\x85", "n" * 100_000,
                 "n" * 100_000 + "2"]


def test_hostile_names_given_to_the_kit_cannot_break_metrics_or_readyz(gateway: Any) -> None:
    """Defence in depth: the gateway refuses such names, but a Kit user may name any model."""
    server = gateway(plugins=("breaker",))
    kit = server.gateway.kit
    echo = kit.provider("echo")
    for name in HOSTILE_NAMES:  # a counted failure makes each a breaker
        echo.fail_next(1)
        with pytest.raises(Exception, match="simulated"):
            kit.generate("hi", model=name)
    from prometheus_client.parser import text_string_to_metric_families

    resp = httpx.get(server.url + "/metrics", timeout=15)
    assert resp.status_code == 200 and len(resp.content) < 20_000
    families = {f.name: f for f in text_string_to_metric_families(resp.text)}
    labels = [s.labels["breaker"] for s in families["beluga_gateway_breaker_state"].samples]
    assert len(labels) == len(set(labels)) == len(HOSTILE_NAMES)  # distinct names stay distinct when cut
    assert all(len(v) <= 256 and not any(c in v for c in "\r\n\x00\u2028\x85") for v in labels)
    assert 'echo/quote"and\\backslash' in labels  # escaped by the format, read back whole
    ready = httpx.get(server.url + "/readyz", timeout=15)
    assert ready.status_code == 200 and ready.json()["checks"]["breakers"]["count"] == len(HOSTILE_NAMES)
    assert len(ready.content) < 2_000
    healthy(server)


def test_printable_replaces_control_characters_and_cuts_long_values() -> None:
    from beluga_gateway.metrics import MAX_LABEL_CHARS, printable

    assert printable("gpt-4o-mini") == "gpt-4o-mini" and printable("модель 😀") == "модель 😀"
    assert printable("a\r\nb\x00\x7f\x85\u2028\u2029\ud800") == "a\ufffd\ufffdb" + "\ufffd" * 6
    long_a, long_b = printable("x" * 10_000), printable("x" * 10_000 + "y")
    assert len(long_a) == len(long_b) == MAX_LABEL_CHARS and long_a != long_b and long_a.startswith("x" * 200)


# -- large bodies and odd paths ------------------------------------------------------------------


def test_a_large_body_is_checked_off_the_event_loop(gateway: Any) -> None:
    """Megabytes of JSON in an unknown field: while they are decoded and checked, the health endpoint
    keeps answering (on the loop it waited for the whole check)."""
    server = gateway()
    body = json.dumps({"model": "echo", "messages": HELLO, "x": [[1] * 10] * 200_000}).encode()
    done = threading.Event()
    took: list[float] = []

    def big() -> None:
        for _ in range(3):
            t0 = time.perf_counter()
            post(server, body)
            took.append(time.perf_counter() - t0)
        done.set()

    waits: list[float] = []
    worker = threading.Thread(target=big)
    worker.start()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        while not done.is_set():
            t0 = time.perf_counter()
            assert client.get("/healthz").status_code == 200
            waits.append(time.perf_counter() - t0)
    worker.join()
    assert len(waits) >= 3
    # On the loop, each of the three checks would hold a health request for about its whole length;
    # off it, at most one pause (a collection of the decoded megabytes, which holds the GIL) may.
    assert sorted(waits)[-2] < 0.5 * min(took), (sorted(waits)[-3:], took)


def test_a_trailing_slash_is_a_404_not_a_redirect_to_the_callers_host(gateway: Any) -> None:
    server = gateway()
    resp = httpx.post(server.url + "/v1/chat/completions/", json={"model": "echo", "messages": HELLO},
                      headers={"authorization": f"Bearer {ALPHA}", "host": "evil.example"}, timeout=15)
    assert resp.status_code == 404 and "location" not in resp.headers
    assert resp.json()["error"]["code"] == "not_found"
