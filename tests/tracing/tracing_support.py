"""Constants and helpers shared by the tracing tests."""

from __future__ import annotations

#: Strings the tests feed in that must never reach a span: an API key and PII.
SECRET = "sk-test-Zq8x7SECRETkey0123456789"
EMAIL = "jane.doe@example.com"
PHONE = "+1 415 555 0100"
FORBIDDEN = (SECRET, EMAIL, PHONE, "Zq8x7SECRET")


def span_texts(spans: object) -> list[str]:
    """Every name, attribute value and event attribute value of the spans, as text."""
    out: list[str] = []
    for s in spans:  # type: ignore[attr-defined]
        out.append(s.name)
        out.append(str(s.status.description or ""))
        out.extend(f"{k}={v}" for k, v in (s.attributes or {}).items())
        for e in s.events:
            out.append(e.name)
            out.extend(f"{k}={v}" for k, v in (e.attributes or {}).items())
        out.extend(f"{k}={v}" for k, v in s.resource.attributes.items())
    return out


class OTLPReceiver:
    """A tiny OTLP/HTTP collector on 127.0.0.1: accepts ``POST /v1/traces`` and ``/v1/metrics`` and
    keeps the bodies."""

    def __init__(self) -> None:
        import http.server
        import threading

        self.bodies: list[bytes] = []
        self.paths: list[str] = []
        self.content_types: list[str] = []
        self._got = threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                if self.headers.get("content-encoding") == "gzip":
                    import gzip

                    body = gzip.decompress(body)
                with receiver._got:
                    receiver.paths.append(self.path)
                    receiver.content_types.append(self.headers.get("content-type", ""))
                    receiver.bodies.append(body)
                    receiver._got.notify_all()
                ok = self.path in ("/v1/traces", "/v1/metrics")
                self.send_response(200 if ok else 404)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> OTLPReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for_spans(self, count: int, timeout: float = 20.0) -> list[tuple[dict[str, object], object]]:
        """Wait until ``count`` spans arrived; returns (resource attributes, protobuf span) pairs."""
        import time

        deadline = time.monotonic() + timeout
        with self._got:
            while len(spans := self.spans()) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"the receiver got {len(spans)} spans, expected {count}")
                self._got.wait(left)
        return spans

    def spans(self) -> list[tuple[dict[str, object], object]]:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        out: list[tuple[dict[str, object], object]] = []
        for path, body in zip(self.paths, self.bodies, strict=True):
            if path != "/v1/traces":
                continue
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            for rs in request.resource_spans:
                resource = {kv.key: any_value(kv.value) for kv in rs.resource.attributes}
                for ss in rs.scope_spans:
                    out.extend((resource, span) for span in ss.spans)
        return out


    def metrics(self) -> dict[str, list[tuple[dict[str, object], object]]]:
        """Metric name -> (data point attributes, protobuf data point) of every ``/v1/metrics`` body."""
        from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

        out: dict[str, list[tuple[dict[str, object], object]]] = {}
        for path, body in zip(self.paths, self.bodies, strict=True):
            if path != "/v1/metrics":
                continue
            request = ExportMetricsServiceRequest()
            request.ParseFromString(body)
            for rm in request.resource_metrics:
                for sm in rm.scope_metrics:
                    for m in sm.metrics:
                        kind = m.WhichOneof("data")
                        for point in getattr(m, kind).data_points:
                            attrs = {kv.key: any_value(kv.value) for kv in point.attributes}
                            out.setdefault(m.name, []).append((attrs, point))
        return out


def any_value(value: object) -> object:
    """A protobuf ``AnyValue`` as a Python value."""
    kind = value.WhichOneof("value")  # type: ignore[attr-defined]
    if kind == "array_value":
        return tuple(any_value(v) for v in value.array_value.values)  # type: ignore[attr-defined]
    return getattr(value, kind) if kind else None


def attributes(span: object) -> dict[str, object]:
    return {kv.key: any_value(kv.value) for kv in span.attributes}  # type: ignore[attr-defined]


def run_script(code: str, env: dict[str, str] | None = None, timeout: float = 60) -> tuple[str, str]:
    """Run ``code`` in a fresh interpreter (a process of its own, so its global TracerProvider is
    its own); fails with its output if it exits non-zero. Returns (stdout, stderr)."""
    import os
    import subprocess
    import sys
    import textwrap

    base = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "BELUGA_"))}
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"script failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout, proc.stderr
