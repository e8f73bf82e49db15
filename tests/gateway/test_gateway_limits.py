"""What a hostile client can hold is bounded: metric series, breakers, slow sockets, connections;
and the operator endpoints can be closed to it."""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from gateway_support import ALPHA, OPENAI_KEY, config_text, make_kit, serving
from provider_fakes import json_reply, openai_default

HELLO = [{"role": "user", "content": "hello gateway"}]
AUTH = {"authorization": f"Bearer {ALPHA}"}


def many_names(server, n: int) -> list[int]:
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as client:
        return [client.post("/v1/chat/completions", json={"model": f"m-{i}", "messages": HELLO}).status_code
                for i in range(n)]


def test_three_thousand_model_names_leave_metrics_readyz_and_breakers_bounded(gateway):
    server = gateway(plugins=("breaker",))  # no models table: every name passes through to echo
    assert set(many_names(server, 1)) == {200}  # the "other" series of each metric now exist
    one = len(httpx.get(server.url + "/metrics").content)
    assert set(many_names(server, 3000)) == {200}
    metrics = httpx.get(server.url + "/metrics").text
    ready = httpx.get(server.url + "/readyz")
    assert "m-2999" not in metrics and 'model="other"' in metrics
    assert 'gen_ai_request_model="other"' in metrics and "m-0" not in metrics
    assert len(metrics) < one + 500  # 3,000 more names add no series (only longer numbers)
    assert len(ready.content) < 500 and ready.json()["checks"]["breakers"]["count"] == 0
    assert server.gateway.kit.plugins.get("breaker").breakers == {}  # calls that succeed cost no breaker


def test_failing_model_names_get_at_most_max_breakers(gateway):
    server = gateway("""
        [plugins.breaker]
        max_breakers = 50

        [providers.echo]
        options = { fail_times = 1000000 }
    """, plugins=("breaker",))
    statuses = many_names(server, 600)
    assert set(statuses) == {502}  # one failure each: no breaker opens, none is shared between names
    breakers = server.gateway.kit.plugins.get("breaker").breakers
    assert len(breakers) == 50 and ("echo", "m-599") in breakers and ("echo", "m-0") not in breakers
    ready = httpx.get(server.url + "/readyz").json()["checks"]["breakers"]
    assert ready["count"] == 50 and ready["open"] == []
    assert httpx.get(server.url + "/metrics").text.count("beluga_gateway_breaker_state{") == 50


def test_a_flood_of_failing_made_up_names_cannot_open_the_default_models_breaker(tmp_path, openai_upstream):
    def reply(h):  # every made-up name is rate limited for 289 s; the configured model answers
        if h.server.last["body"]["model"].startswith("made-up-"):
            json_reply(429, {"error": {"message": "slow down"}}, {"retry-after": "289"})(h)
        else:
            openai_default(h)

    openai_upstream.default = reply
    path = tmp_path / "beluga.toml"
    path.write_text(config_text(f"""
        [providers.openai]
        api_key = "{OPENAI_KEY}"
        base_url = "{openai_upstream.url}"
        model = "gpt-4o-mini"
    """, ("breaker",)).replace('provider = "echo"', 'provider = "openai"'))
    with serving(make_kit(path)) as server, httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as client:
        def chat(model):
            return client.post("/v1/chat/completions", json={"model": model, "messages": HELLO})

        assert chat("gpt-4o-mini").status_code == 200
        with ThreadPoolExecutor(16) as pool:  # the stand-in upstream answers one connection in ~40 ms
            statuses = set(pool.map(lambda i: chat(f"made-up-{i}").status_code, range(1100)))
        assert statuses == {429}
        answer = chat("gpt-4o-mini")
        assert answer.status_code == 200 and answer.json()["choices"][0]["message"]["content"]
        assert chat("made-up-new").status_code == 429  # past the cap, a new name reaches the upstream uncounted
        breakers = server.gateway.kit.plugins.get("breaker").breakers
        assert len(breakers) == 1000 and ("openai", "*") not in breakers
        assert client.get("/readyz").status_code == 200


# -- slow clients --------------------------------------------------------------------------------


def open_socket(server, first: bytes = b"") -> socket.socket:
    s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    if first:
        s.sendall(first)
    return s


def closed_within(s: socket.socket, seconds: float) -> bytes:
    """What the server sent before closing ``s``; fails if it is still open after ``seconds``."""
    s.settimeout(seconds)
    received = b""
    try:
        while chunk := s.recv(65536):
            received += chunk
    except TimeoutError:
        pytest.fail(f"the connection was still open after {seconds}s; received {received[:80]!r}")
    finally:
        s.close()
    return received


SLOW = 'header_timeout = "500ms"\nbody_timeout = "1s"'


def test_a_slow_request_head_is_closed_after_header_timeout(gateway):
    # the deadline covers the whole head from the connection's first byte: a head sent byte by byte
    # does not extend it. Two seconds leave room to open a hundred sockets on a busy machine.
    server = gateway(gw='header_timeout = "2s"\nbody_timeout = "1s"')
    started = time.monotonic()
    silent = [open_socket(server) for _ in range(50)]
    trickle = [open_socket(server, b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n") for _ in range(50)]
    for _ in range(3):  # a header line byte by byte
        for s in trickle:
            try:
                s.sendall(b"x")
            except OSError:  # closed by the server: only allowed once the deadline has passed
                assert time.monotonic() - started >= 2.0
        time.sleep(0.1)
    for s in silent + trickle:
        assert closed_within(s, 15).startswith(b"HTTP/1.1 408 ")


def test_the_next_request_head_on_a_kept_alive_connection_is_timed_too(gateway):
    server = gateway(gw=SLOW)
    s = open_socket(server, b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
    first = b""
    while b'"ok"' not in first:
        first += s.recv(4096)
    s.sendall(b"GET /healthz HTTP/1.1\r\n")  # and then nothing more
    assert closed_within(s, 15).startswith(b"HTTP/1.1 408 ")


def test_a_slow_body_is_408_after_body_timeout(gateway):
    server = gateway(gw=SLOW)
    head = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b"authorization: Bearer " + ALPHA.encode() + b"\r\ncontent-length: 100\r\n\r\n{")
    s = open_socket(server, head)
    reply = closed_within(s, 15)
    assert reply.startswith(b"HTTP/1.1 408 ") and b'"code":"request_timeout"' in reply


def test_a_head_larger_than_64_kib_is_431(gateway):
    server = gateway(gw=SLOW)
    s = open_socket(server, b"GET /healthz HTTP/1.1\r\nx-filler: " + b"a" * 70_000)
    assert closed_within(s, 15).startswith(b"HTTP/1.1 431 ")


def test_requests_are_answered_while_200_slow_sockets_are_open(gateway):
    server = gateway(gw='header_timeout = "60s"')
    slow = [open_socket(server, b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n") for _ in range(200)]
    try:
        with httpx.Client(base_url=server.url, headers=AUTH, timeout=10) as client:
            for _ in range(5):
                resp = client.post("/v1/chat/completions", json={"model": "echo", "messages": HELLO})
                assert resp.status_code == 200 and resp.json()["choices"][0]["message"]["content"]
    finally:
        for s in slow:
            s.close()


def test_connections_beyond_max_connections_are_refused_with_503_and_retry_after(gateway):
    server = gateway(gw="max_connections = 20")
    held = [open_socket(server, b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n") for _ in range(20)]
    try:
        for s in held:  # each answered, so each is an open connection the server counts (kept alive)
            assert s.recv(4096).startswith(b"HTTP/1.1 200 ")
        reply = closed_within(open_socket(server), 15)
        assert reply.startswith(b"HTTP/1.1 503 ") and b"retry-after: 1" in reply.lower()
        assert b'"code":"too_many_connections"' in reply
    finally:
        for s in held:
            s.close()
    deadline = time.monotonic() + 10
    while True:  # once they are gone, new connections are served again
        try:
            if httpx.get(server.url + "/healthz", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the gateway kept refusing after the connections closed"


# -- operator endpoints -------------------------------------------------------------------------


def test_metrics_key_protects_metrics_and_readyz_but_not_healthz(gateway):
    key = "metrics-0123456789abcdef"
    server = gateway(gw=f'metrics_key = "{key}"')
    for path in ("/metrics", "/readyz"):
        assert httpx.get(server.url + path).status_code == 401
        assert httpx.get(server.url + path, headers={"authorization": "Bearer wrong-key-123"}).status_code == 401
        assert httpx.get(server.url + path, headers=AUTH).status_code == 401  # a client key is not enough
        assert httpx.get(server.url + path, headers={"authorization": f"Bearer {key}"}).status_code == 200
    assert httpx.get(server.url + "/healthz").status_code == 200
    assert key not in httpx.get(server.url + "/metrics").text
