"""The cache behind the gateway, in front of a stand-in OpenAI upstream: identical requests reach the
upstream once, ``x-beluga-cache`` says hit or miss (on streams too, before the first byte), the
client's ``Cache-Control`` is obeyed, two gateway workers share one Redis, and the caller's output
guards still apply to a hit."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from beluga_core import GuardInput, GuardResult, hookimpl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "gateway"))
from gateway_support import ALPHA, make_kit, serving, write_config
from provider_fakes import OPENAI_KEY, FakeServer, json_reply, openai_server

KID = "sk-gw-kid-0123456789abcdef"  # a second key of project alpha, for a caller whose output is guarded
TOOLS = [{"type": "function", "function": {"name": "lookup", "description": "look a thing up",
                                           "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}}]


def _extra(upstream: FakeServer, cache: str = "") -> str:
    return f"""
        [providers.openai]
        api_key = "{OPENAI_KEY}"
        base_url = "{upstream.url}"

        [plugins.gateway.models]
        "gpt-4o-mini" = "openai:gpt-4o-mini"

        [plugins.cache]
        enabled = true
        {cache}
    """


class KidGuard:
    """Blocks answers mentioning a spoiler, for the kid key only."""

    name = "kidguard"

    @hookimpl
    def on_output(self, guard_input: GuardInput) -> GuardResult | None:
        if "spoiler" in guard_input.text and guard_input.metadata["request"].get("api_key") == "kid-key":
            return GuardResult.block("no spoilers for this key")
        return None


@pytest.fixture
def upstream() -> Iterator[FakeServer]:
    server = openai_server(OPENAI_KEY)
    yield server
    server.stop()


@pytest.fixture
def gateway(tmp_path: Path, upstream: FakeServer) -> Iterator[Callable[..., Any]]:
    stack: list[Any] = []

    def start(cache: str = "", **plugins: Any) -> Any:
        path = write_config(tmp_path / f"beluga{len(stack)}.toml", _extra(upstream, cache), ("cache", *plugins))
        kid = f'  {{ key = "{KID}", project = "alpha", name = "kid-key" }},\n'
        path.write_text(path.read_text().replace("keys = [\n", "keys = [\n" + kid, 1))
        cm = serving(make_kit(path, **plugins))
        stack.append(cm)
        return cm.__enter__()

    yield start
    for cm in reversed(stack):
        cm.__exit__(None, None, None)


def chat(url: str, body: dict[str, Any], key: str = ALPHA, **headers: str) -> httpx.Response:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello cache"}], **body}
    return httpx.post(f"{url}/v1/chat/completions", json=body, timeout=10,
                      headers={"authorization": f"Bearer {key}", **headers})


def stream_text(resp: httpx.Response) -> tuple[str, list[Any]]:
    text, calls = "", []
    for line in resp.text.splitlines():
        if line.startswith("data: {"):
            for choice in json.loads(line[6:])["choices"]:
                text += choice["delta"].get("content") or ""
                calls += choice["delta"].get("tool_calls") or []
    return text, calls


def test_identical_requests_reach_the_upstream_once_and_say_so(gateway: Any, upstream: FakeServer) -> None:
    server = gateway()
    first, second = chat(server.url, {}), chat(server.url, {})
    assert (first.status_code, second.status_code) == (200, 200)
    assert (first.headers["x-beluga-cache"], second.headers["x-beluga-cache"]) == ("miss", "hit")
    assert second.json()["choices"] == first.json()["choices"]
    usage = second.json()["usage"]
    assert usage["prompt_tokens_details"]["cached_tokens"] == usage["prompt_tokens"] > 0
    assert len(upstream.requests) == 1
    other = chat(server.url, {"temperature": 0.2})
    assert other.headers["x-beluga-cache"] == "miss" and len(upstream.requests) == 2


def test_a_streamed_request_is_answered_from_the_cache_as_a_stream(gateway: Any, upstream: FakeServer) -> None:
    server = gateway()
    body = {"stream": True, "tools": TOOLS}
    first = chat(server.url, body)
    second = chat(server.url, body)
    assert (first.headers["x-beluga-cache"], second.headers["x-beluga-cache"]) == ("miss", "hit")
    assert second.headers["content-type"].startswith("text/event-stream")
    (text1, calls1), (text2, calls2) = stream_text(first), stream_text(second)
    assert text2 == text1

    def merged(calls: list[Any]) -> tuple[str, Any]:
        name = next(c["function"]["name"] for c in calls if c.get("function", {}).get("name"))
        return name, json.loads("".join(c.get("function", {}).get("arguments") or "" for c in calls))

    assert merged(calls2) == merged(calls1) == ("lookup", {"q": "hello cache"})
    whole = chat(server.url, {"tools": TOOLS})  # the stored stream answers a whole request too
    assert whole.headers["x-beluga-cache"] == "hit"
    assert json.loads(whole.json()["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]) == {
        "q": "hello cache"}
    assert len(upstream.requests) == 1


def test_cache_control_no_cache_goes_to_the_upstream_and_no_store_keeps_nothing(
    gateway: Any, upstream: FakeServer
) -> None:
    server = gateway()
    assert chat(server.url, {}, **{"cache-control": "no-store"}).headers["x-beluga-cache"] == "miss"
    assert chat(server.url, {}).headers["x-beluga-cache"] == "miss"  # nothing was kept
    assert chat(server.url, {}, **{"cache-control": "no-cache"}).headers["x-beluga-cache"] == "miss"
    assert chat(server.url, {}).headers["x-beluga-cache"] == "hit"
    assert len(upstream.requests) == 3


def test_an_upstream_error_is_never_stored(gateway: Any, upstream: FakeServer) -> None:
    server = gateway()
    upstream.push(json_reply(400, {"error": {"message": "bad", "type": "invalid_request_error"}}))
    assert chat(server.url, {}).status_code == 400
    assert chat(server.url, {}).headers["x-beluga-cache"] == "miss"
    assert chat(server.url, {}).headers["x-beluga-cache"] == "hit"
    assert len(upstream.requests) == 2


def test_a_hit_is_still_blocked_by_the_output_guard_of_the_caller(gateway: Any, upstream: FakeServer) -> None:
    server = gateway(kidguard=KidGuard())
    body = {"messages": [{"role": "user", "content": "the spoiler please"}]}
    assert chat(server.url, body).status_code == 200
    refused = chat(server.url, body, key=KID)  # same project, same request, answer in the cache
    assert refused.status_code == 400 and "x-beluga-cache" not in refused.headers
    streamed = chat(server.url, {**body, "stream": True}, key=KID)
    assert streamed.status_code == 400 and "echo: the spoiler" not in streamed.text
    assert chat(server.url, body).headers["x-beluga-cache"] == "hit"
    assert len(upstream.requests) == 1


def test_the_messages_endpoint_says_hit_or_miss_too(gateway: Any, upstream: FakeServer) -> None:
    server = gateway()
    body = {"model": "gpt-4o-mini", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
    headers = {"x-api-key": ALPHA, "anthropic-version": "2023-06-01"}
    got = [httpx.post(f"{server.url}/v1/messages", json=body, headers=headers, timeout=10) for _ in range(2)]
    assert [r.status_code for r in got] == [200, 200]
    assert [r.headers["x-beluga-cache"] for r in got] == ["miss", "hit"]
    assert got[1].json()["content"] == got[0].json()["content"]
    assert len(upstream.requests) == 1


@pytest.mark.redis
@pytest.mark.parametrize("where", ["server", "cluster"])
def test_two_gateway_workers_share_the_cache_on_redis(
    where: str, gateway: Any, upstream: FakeServer, request: pytest.FixtureRequest
) -> None:
    if where == "server":
        url = request.getfixturevalue("redis_url")
    else:
        url = request.getfixturevalue("redis_cluster_url").replace("redis://", "redis+cluster://", 1)
    settings = f'storage = "{url}"\n        timeout = "3s"'  # generous: a loaded machine is not an outage
    one, two = gateway(settings), gateway(settings)
    assert chat(one.url, {}).headers["x-beluga-cache"] == "miss"
    assert chat(two.url, {}).headers["x-beluga-cache"] == "hit"
    assert chat(one.url, {}).headers["x-beluga-cache"] == "hit"
    assert len(upstream.requests) == 1


def test_the_responses_and_embeddings_endpoints_say_hit_or_miss_too(gateway: Any, upstream: FakeServer) -> None:
    server = gateway()
    auth = {"authorization": f"Bearer {ALPHA}"}
    body = {"model": "gpt-4o-mini", "input": "hello responses"}
    whole = [httpx.post(f"{server.url}/v1/responses", json=body, headers=auth, timeout=10) for _ in range(2)]
    streamed = httpx.post(f"{server.url}/v1/responses", json={**body, "stream": True}, headers=auth, timeout=10)
    assert [r.status_code for r in (*whole, streamed)] == [200, 200, 200]
    assert [r.headers["x-beluga-cache"] for r in (*whole, streamed)] == ["miss", "hit", "hit"]
    assert "hello responses" in streamed.text
    emb = {"model": "gpt-4o-mini", "input": ["one", "two"]}
    vectors = [httpx.post(f"{server.url}/v1/embeddings", json=emb, headers=auth, timeout=10) for _ in range(2)]
    assert [r.headers["x-beluga-cache"] for r in vectors] == ["miss", "hit"]
    assert vectors[1].json()["data"] == vectors[0].json()["data"]
    assert len(upstream.requests) == 2
