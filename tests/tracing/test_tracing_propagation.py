"""W3C trace context across a real HTTP hop on 127.0.0.1: one trace spans both services."""

from __future__ import annotations

import asyncio
import http.server
import json
import re
import threading
from collections.abc import Iterator

import httpx
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from beluga_core.testing import kit_with
from beluga_tracing import (
    TraceMiddleware,
    extract_context,
    inject_headers,
    semconv,
    server_span,
    start_span,
    trace_id,
)
from beluga_tracing.plugin import TracingPlugin

TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")  # flags: sampled, maybe random


@pytest.fixture
def answer_service() -> Iterator[str]:
    """Service B: answers POST /answer through its own Kit, continuing the caller's trace."""
    kit = kit_with(TracingPlugin())

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            question = self.rfile.read(int(self.headers["content-length"])).decode()
            with server_span(self.headers, "POST /answer", {semconv.URL_PATH: self.path}):
                request_id = self.headers.get("x-request-id")
                reply = asyncio.run(kit.agenerate(question, model="m", metadata={"request_id": request_id}))
                body = json.dumps({"trace_id": trace_id(), "reply": reply.text}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_traceparent_round_trip_through_a_real_http_server_makes_one_trace(exporter, answer_service):
    with httpx.Client(timeout=10) as client, start_span("ask service B", kind="client") as span:
        headers = inject_headers({"x-request-id": "req-123"})
        assert TRACEPARENT.match(headers["traceparent"])
        response = client.post(f"{answer_service}/answer", content=b"what is up", headers=headers)
        caller_trace = format(span.get_span_context().trace_id, "032x")
    assert response.status_code == 200
    assert response.json() == {"trace_id": caller_trace, "reply": "what is up"}

    spans = {s.name: s for s in exporter.get_finished_spans()}
    client_span, server, chat = spans["ask service B"], spans["POST /answer"], spans["chat m"]
    assert server.kind is SpanKind.SERVER
    assert server.parent.span_id == client_span.context.span_id
    assert server.parent.is_remote
    assert chat.parent.span_id == server.context.span_id
    assert len({s.context.trace_id for s in spans.values()}) == 1
    assert chat.attributes["beluga.request.request_id"] == "req-123"


def test_inject_headers_adds_nothing_outside_a_trace_and_returns_the_same_mapping(exporter):
    headers = {"accept": "application/json"}
    assert inject_headers(headers) is headers
    assert headers == {"accept": "application/json"}
    assert inject_headers() == {}


def test_inject_headers_writes_into_httpx_headers(exporter):
    with start_span("outer"):
        headers = inject_headers(httpx.Headers({"accept": "*/*"}))
    assert TRACEPARENT.match(headers["traceparent"])


def test_extract_context_reads_any_header_case_and_asgi_byte_pairs(exporter):
    with start_span("origin") as origin:
        carried = inject_headers({})
    expected = origin.get_span_context().trace_id
    for headers in (
        {"Traceparent": carried["traceparent"]},
        [(b"traceparent", carried["traceparent"].encode())],
    ):
        with start_span("continued", parent=extract_context(headers)) as span:
            assert span.get_span_context().trace_id == expected


def test_asgi_trace_middleware_continues_the_trace_and_records_the_status(exporter):
    seen: dict[str, object] = {}

    async def app(scope, receive, send):
        seen["trace_id"] = trace_id()
        await send({"type": "http.response.start", "status": 503, "headers": []})
        await send({"type": "http.response.body", "body": b"busy"})

    with start_span("gateway client") as caller:
        carried = inject_headers({})
    sent: list[dict[str, object]] = []

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1/chat",
             "headers": [(b"traceparent", carried["traceparent"].encode())]}
    asyncio.run(TraceMiddleware(app)(scope, receive, send))

    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert seen["trace_id"] == format(caller.get_span_context().trace_id, "032x")
    server = next(s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER)
    assert server.name == "POST"
    assert server.attributes[semconv.URL_PATH] == "/v1/chat"
    assert server.attributes[semconv.HTTP_RESPONSE_STATUS_CODE] == 503
    assert server.attributes[semconv.ERROR_TYPE] == "503"
    assert server.status.status_code is StatusCode.ERROR
