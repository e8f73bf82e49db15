"""Faults of the gateway's dependencies reach clients as the documented status and code, with
Retry-After on every refusal, and without the upstream's address or its own words."""

from __future__ import annotations

import logging
import threading
import time

import httpx
import pytest
from gateway_support import ALPHA, config_text, make_kit, serving
from provider_fakes import closed_port_url, json_reply, openai_default, raw_reply, slow, sse_reply

HELLO = [{"role": "user", "content": "hello gateway"}]
UPSTREAM_WORDS = "UPSTREAM-OWN-TEXT db=10.9.8.7:5432"


def post(server, body, **kwargs):
    return httpx.post(server.url + "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {ALPHA}"},
                      timeout=30, **kwargs)


def streamed(server, body):
    """(status, headers, text) of a streamed request, read to the end."""
    with httpx.stream("POST", server.url + "/v1/chat/completions", json={**body, "stream": True},
                      headers={"authorization": f"Bearer {ALPHA}"}, timeout=30) as resp:
        return resp.status_code, resp.headers, resp.read().decode()


def failing(upstream, reply=None):
    """Make the stand-in upstream answer every request with ``reply`` (default: a 503)."""
    upstream.default = reply or json_reply(503, {"error": {"message": UPSTREAM_WORDS}})


OPENAI_ROUTE = """
    [providers.openai]
    api_key = "sk-test-0123456789abcdef"
    base_url = "{url}"

    [plugins.gateway.models]
    gpt = "openai:gpt-4o-mini"
"""

RETRY_BEFORE_BREAKER = """
    [plugins.retry]
    max_attempts = 3
    initial_backoff = "10ms"

    [plugins.breaker]
    failure_threshold = 1
    reset_timeout = "{reset}"
"""


@pytest.fixture
def served(tmp_path):
    """``served(config_text)``: a gateway over that exact config text, stopped after the test."""
    stack = []

    def start(text: str):
        path = tmp_path / f"beluga{len(stack)}.toml"
        path.write_text(text)
        cm = serving(make_kit(path))
        stack.append(cm)
        return cm.__enter__()

    yield start
    for cm in reversed(stack):
        cm.__exit__(None, None, None)


@pytest.mark.parametrize("fallback", [False, True], ids=["alone", "with-fallback"])
def test_an_open_breaker_behind_retry_is_503_circuit_open_with_retry_after(served, openai_upstream, fallback):
    failing(openai_upstream)
    extra = OPENAI_ROUTE.format(url=openai_upstream.url) + RETRY_BEFORE_BREAKER.format(reset="60s")
    if fallback:  # a second deployment on the same failing upstream: its breaker opens too
        extra += f"""
        [providers.backup]
        type = "openai"
        api_key = "sk-test-0123456789abcdef"
        base_url = "{openai_upstream.url}"
        """
    text = config_text(extra, ("retry", "breaker"), 'timeout = "5s"')
    if fallback:
        text = text.replace('provider = "echo"\n', 'provider = "echo"\nfallback = ["backup:gpt-4o-mini"]\n', 1)
    server = served(text)
    answers = []
    for i in range(20):
        body = {"model": "gpt", "messages": HELLO}
        if i % 2:
            status, headers, text = streamed(server, body)
        else:
            resp = post(server, body)
            status, headers, text = resp.status_code, resp.headers, resp.text
        answers.append((status, '"code":"circuit_open"' in text, int(headers.get("retry-after", 0)) >= 1))
    assert answers == [(503, True, True)] * 20
    assert len(openai_upstream.requests) == (2 if fallback else 1)  # the breakers stopped the rest


def test_half_open_refusals_carry_retry_after_too(gateway, openai_upstream):
    failing(openai_upstream)
    extra = OPENAI_ROUTE.format(url=openai_upstream.url) + "[plugins.breaker]\nfailure_threshold = 1\n"
    server = gateway(extra + 'reset_timeout = "200ms"\n', plugins=("breaker",))
    assert post(server, {"model": "gpt", "messages": HELLO}).status_code == 502  # the breaker opens
    failing(openai_upstream, slow(2.0, json_reply(503, {"error": {"message": UPSTREAM_WORDS}})))
    deadline = time.monotonic() + 10
    while httpx.get(server.url + "/readyz").json()["checks"]["breakers"]["half_open"] != ["openai/gpt-4o-mini"]:
        assert time.monotonic() < deadline, "the breaker did not become half-open"
    answers: list[httpx.Response] = []

    def one() -> None:
        answers.append(post(server, {"model": "gpt", "messages": HELLO}))

    threads = [threading.Thread(target=one) for _ in range(12)]
    for t in threads:  # one becomes the probe (held 2 s by the upstream); the others are refused
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status_code for r in answers) == [502] + [503] * 11
    refused = [r for r in answers if r.status_code == 503]
    assert all(int(r.headers["retry-after"]) >= 1 and r.json()["error"]["code"] == "circuit_open" for r in refused)


KINDS = {
    "5xx": (json_reply(500, {"error": {"message": UPSTREAM_WORDS}}), 502, "upstream_unavailable"),
    "4xx": (json_reply(400, {"error": {"message": UPSTREAM_WORDS}}), 400, "invalid_input"),
    "404": (json_reply(404, {"error": {"message": UPSTREAM_WORDS}}), 404, "not_found"),
    "429": (json_reply(429, {"error": {"message": UPSTREAM_WORDS}}, {"retry-after": "7"}), 429,
            "upstream_rate_limited"),
    "401": (json_reply(401, {"error": {"message": UPSTREAM_WORDS}}), 502, "upstream_auth_failed"),
    "not-json": (raw_reply(200, UPSTREAM_WORDS.encode()), 502, "upstream_unavailable"),
    "bad-sse": (sse_reply([b"data: " + UPSTREAM_WORDS.encode() + b"\n\n"]), 502, "upstream_unavailable"),
    "slow": (slow(3.0), 504, "timeout"),
}


@pytest.mark.parametrize("kind", [*KINDS, "refused"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_upstream_failures_never_show_the_upstream_address_or_its_words(gateway, openai_upstream, kind, stream):
    url = closed_port_url() if kind == "refused" else openai_upstream.url
    server = gateway(OPENAI_ROUTE.format(url=url), gw='timeout = "1s"')
    if kind != "refused":
        failing(openai_upstream, KINDS[kind][0])
    body = {"model": "gpt", "messages": HELLO}
    if stream:
        status, headers, text = streamed(server, body)
    else:
        resp = post(server, body)
        status, headers, text = resp.status_code, resp.headers, resp.text
    hostport = url.removeprefix("http://")
    assert hostport not in text and "127.0.0.1" not in text and "UPSTREAM-OWN-TEXT" not in text
    assert "10.9.8.7" not in text and "/v1/chat" not in text
    want_status, want_code = KINDS[kind][1:] if kind != "refused" else (502, "upstream_unavailable")
    if status == 200:  # the stream had started: the error is its last event
        assert f'"code":"{want_code}"' in text
    else:
        assert (status, f'"code":"{want_code}"' in text) == (want_status, True)
        if status in (429, 503):
            assert "retry-after" in headers


def test_rate_limit_storage_down_fail_closed_is_503_naming_it_and_logged_once(gateway, redis_server, redis_url, caplog):
    pytest.importorskip("beluga_ratelimit")
    server = gateway(f"""
        [plugins.ratelimit]
        requests_per_minute = 1000
        storage = "{redis_url}"
        failure_mode = "closed"
        recheck_interval = "100ms"
    """, plugins=("ratelimit",))
    assert post(server, {"model": "echo", "messages": HELLO}).status_code == 200
    redis_server.stop()
    caplog.set_level(logging.INFO, logger="beluga")
    answers = [post(server, {"model": "echo", "messages": HELLO}) for _ in range(6)]
    assert {r.status_code for r in answers} == {503}
    for r in answers:
        err = r.json()["error"]
        assert err["code"] == "rate_limit_storage_unavailable" and "rate-limit storage" in err["message"]
        assert int(r.headers["retry-after"]) >= 1
        assert str(redis_server.port) not in r.text and "redis" not in r.text.lower()
    warnings = [rec for rec in caplog.records if rec.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "unreachable" in warnings[0].getMessage()
    redis_server.start()
    for _ in range(50):  # the storage is tried again once recheck_interval has passed
        if post(server, {"model": "echo", "messages": HELLO}).status_code == 200:
            break
    else:
        pytest.fail("the gateway did not admit requests after the storage came back")
    back = [rec.getMessage() for rec in caplog.records if "reachable again" in rec.getMessage()]
    assert len(back) == 1 and "request(s) were denied" in back[0]
    assert int(back[0].split(" request(s)")[0].rsplit(" ", 1)[1]) >= 6


def test_readyz_is_503_when_every_models_table_deployment_has_an_open_breaker(gateway, openai_upstream):
    failing(openai_upstream)
    extra = OPENAI_ROUTE.format(url=openai_upstream.url) + '[plugins.breaker]\nfailure_threshold = 1\n'
    server = gateway(extra, plugins=("breaker",))
    assert httpx.get(server.url + "/readyz").status_code == 200
    assert post(server, {"model": "gpt", "messages": HELLO}).status_code == 502  # its breaker opens
    ready = httpx.get(server.url + "/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["providers"]["unavailable"] == ["openai/gpt-4o-mini"]


def test_a_busy_upstream_pool_is_503_gateway_busy_and_never_opens_the_breaker(gateway, openai_upstream):
    """Every pooled connection held by a slow answer: the callers beyond the pool get this gateway's
    own 503 with Retry-After, the upstream is not blamed, and it answers the next request."""
    openai_upstream.default = slow(1.5, openai_default)
    extra = OPENAI_ROUTE.format(url=openai_upstream.url).replace(
        "[providers.openai]\n", "[providers.openai]\n    max_connections = 1\n    options = { pool_timeout = 0.1 }\n", 1
    )
    server = gateway(extra + "[plugins.breaker]\nfailure_threshold = 1\n", plugins=("breaker",))
    answers: list[httpx.Response] = []

    def one() -> None:
        answers.append(post(server, {"model": "gpt", "messages": HELLO}))

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status_code for r in answers) == [200] + [503] * 3
    busy = [r for r in answers if r.status_code == 503]
    assert all(r.json()["error"]["code"] == "gateway_busy" and int(r.headers["retry-after"]) >= 1 for r in busy)
    assert httpx.get(server.url + "/readyz").json()["checks"]["breakers"]["open"] == []
    openai_upstream.default = openai_default
    assert post(server, {"model": "gpt", "messages": HELLO}).status_code == 200
