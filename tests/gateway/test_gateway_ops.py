"""Operating the gateway: hot reload under load, graceful shutdown mid-stream, client disconnects,
trace continuation, health and readiness, metrics."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest
from gateway_support import ALPHA, Probe, SlowProviders, config_text, sdk

HELLO = [{"role": "user", "content": "hello gateway"}]
SLOW = '[plugins.gateway.models]\nslow = "slow"\necho = "echo"\n\n[providers.slow]\noptions = { delay = 0.1 }\n'


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_hot_reload_under_load_drops_no_request(gateway):
    new_key = "sk-gw-gamma-0123456789abcdef"
    server = gateway('[providers.echo]\noptions = { prefix = "v0: " }\n', gw='reload_interval = "50ms"', watch=True)
    path = server.config_path
    seen: set[str] = set()
    failures: list[str] = []
    done = threading.Event()

    async def load() -> int:
        sent = 0
        async with httpx.AsyncClient(base_url=server.url, timeout=15,
                                     headers={"authorization": f"Bearer {ALPHA}"}) as client:

            async def loop() -> None:
                nonlocal sent
                while not done.is_set():
                    r = await client.post("/v1/chat/completions", json={"model": "echo", "messages": HELLO})
                    sent += 1
                    if r.status_code != 200:
                        failures.append(f"{r.status_code} {r.text}")
                    else:
                        seen.add(r.json()["choices"][0]["message"]["content"].split(":")[0])

            await asyncio.gather(*(loop() for _ in range(4)))
        return sent

    def rewrite() -> None:
        for n in range(1, 9):
            time.sleep(0.15)
            gw = 'reload_interval = "50ms"'
            extra = f'[providers.echo]\noptions = {{ prefix = "v{n}: " }}\n'
            text = config_text(extra, gw=gw)
            if n == 8:
                text = text.replace("keys = [", f'keys = [\n  {{ key = "{new_key}", project = "gamma" }},')
            path.write_text(text)
        time.sleep(0.4)
        done.set()

    writer = threading.Thread(target=rewrite)
    writer.start()
    sent = asyncio.run(load())
    writer.join()
    assert failures == []
    assert sent > 50
    assert len(seen) >= 3  # requests ran on several configurations as they were swapped in
    reply = sdk(server.url, new_key).chat.completions.create(model="echo", messages=HELLO)
    assert reply.choices[0].message.content == "v8: hello gateway"
    assert 'beluga_gateway_config_reloads_total{result="applied"}' in httpx.get(server.url + "/metrics").text


def test_graceful_shutdown_lets_a_stream_in_flight_finish(gateway):
    providers = SlowProviders()
    server = gateway(SLOW, slowprov=providers)
    words = " ".join(f"w{i}" for i in range(12))
    stream = sdk(server.url).chat.completions.create(
        model="slow", messages=[{"role": "user", "content": words}], stream=True
    )
    chunks = iter(stream)
    first = next(chunks)
    stopper = threading.Thread(target=server.stop)
    stopper.start()
    assert wait_for(lambda: server.server.should_exit)
    time.sleep(0.3)
    with pytest.raises(httpx.TransportError):  # no longer accepting new connections
        httpx.get(server.url + "/healthz", timeout=2)
    rest = list(chunks)
    text = "".join(c.choices[0].delta.content or "" for c in [first, *rest] if c.choices)
    assert text == words
    stopper.join(15)
    assert not server.thread.is_alive()
    assert providers.instances[0].finished == 1 and providers.instances[0].cancelled == 0


@pytest.mark.parametrize("stream", [False, True])
def test_client_disconnect_cancels_the_upstream_call(gateway, stream):
    providers, probe = SlowProviders(), Probe()
    server = gateway(SLOW.replace("delay = 0.1", "delay = 1.0"), plugins=("probe",), slowprov=providers, probe=probe)
    body = {"model": "slow", "messages": [{"role": "user", "content": "a b c d e f g h i j"}], "stream": stream}
    headers = {"authorization": f"Bearer {ALPHA}"}
    with pytest.raises(httpx.ReadTimeout):
        with httpx.Client(timeout=httpx.Timeout(15, read=0.3)) as client:
            with client.stream("POST", server.url + "/v1/chat/completions", json=body, headers=headers) as r:
                for _ in r.iter_raw():
                    pass
    slow = providers.instances[0]
    assert wait_for(lambda: slow.cancelled == 1, 5)
    assert slow.finished == 0
    if not stream:
        assert probe.outcomes == ["cancelled"]
    assert wait_for(lambda: "beluga_gateway_client_disconnects_total 1.0" in httpx.get(server.url + "/metrics").text)
    assert server.gateway.in_flight == 0


def test_request_metadata_carries_project_and_request_id(gateway):
    probe = Probe()
    server = gateway(plugins=("probe",), probe=probe)
    r = httpx.post(server.url + "/v1/chat/completions", json={"model": "echo", "messages": HELLO},
                   headers={"authorization": f"Bearer {ALPHA}", "x-request-id": "req-123"})
    assert r.headers["x-request-id"] == "req-123"
    assert probe.metadata == [{"project": "alpha", "request_id": "req-123", "api_key": "alpha-key"}]


def test_traceparent_from_the_client_continues_the_trace(gateway):
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from beluga_tracing import use_tracer_provider

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    use_tracer_provider(provider)
    try:
        server = gateway(plugins=("tracing",))
        trace_id, parent = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
        r = httpx.post(server.url + "/v1/chat/completions", json={"model": "echo", "messages": HELLO},
                       headers={"authorization": f"Bearer {ALPHA}", "traceparent": f"00-{trace_id}-{parent}-01"})
        assert r.status_code == 200
        assert wait_for(lambda: len(exporter.get_finished_spans()) >= 2)
        spans = exporter.get_finished_spans()
    finally:
        use_tracer_provider(None)
        provider.shutdown()
    assert {format(s.context.trace_id, "032x") for s in spans} == {trace_id}
    ids = {s.context.span_id for s in spans}
    roots = [s for s in spans if s.parent is None or s.parent.span_id not in ids]
    assert len(roots) == 1 and format(roots[0].parent.span_id, "016x") == parent
    assert roots[0].name == "POST /v1/chat/completions"


def test_health_ready_and_metrics_endpoints(gateway):
    server = gateway()
    assert httpx.get(server.url + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(server.url + "/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    sdk(server.url).chat.completions.create(model="echo", messages=HELLO)
    text = httpx.get(server.url + "/metrics").text
    assert 'beluga_gateway_requests_total{model="echo",route="/v1/chat/completions",status="200"} 1.0' in text
    assert 'beluga_gateway_tokens_total{kind="output",model="echo",project="alpha"}' in text
    bucket = 'beluga_gateway_request_duration_seconds_bucket{le="0.001",route="/v1/chat/completions",stream="false"}'
    assert bucket in text


def test_readyz_reports_redis_reachability(gateway, redis_server, redis_url):
    pytest.importorskip("beluga_ratelimit")
    server = gateway(f'[plugins.ratelimit]\nstorage = "{redis_url}"\n', plugins=("ratelimit",))
    ready = httpx.get(server.url + "/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["redis"]["ok"] is True
    redis_server.stop()
    ready = httpx.get(server.url + "/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["redis"]["ok"] is False


def test_request_and_completion_ids_are_unique_per_request_and_per_forked_worker() -> None:
    import os

    from beluga_wire.openai_chat import new_id

    ours = {new_id() for _ in range(1000)}
    assert len(ours) == 1000 and all(len(i) == 32 and int(i, 16) >= 0 for i in ours)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # a worker forked from this process draws its own prefix
        os.write(write, "\n".join(new_id() for _ in range(1000)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        theirs = set(f.read().split("\n"))
    os.waitpid(pid, 0)
    assert len(theirs) == 1000 and not ours & theirs


def test_the_readme_run_command_serves_one_request_through_the_whole_chain() -> None:
    """`python3 dev.py run` runs exactly this: its request must come back 200 with the PII redacted."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    beluga = str(Path(sys.executable).with_name("beluga"))
    done = subprocess.run([beluga, "serve", "--demo", "--config", str(root / "examples" / "beluga.toml")],
                          capture_output=True, text=True, timeout=120, cwd=root)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "< HTTP 200" in done.stdout
    assert "[EMAIL]" in done.stdout and "jane.doe@example.com" in done.stdout.split("< HTTP 200")[0]
    assert "jane.doe@example.com" not in done.stdout.split("< HTTP 200")[1]
