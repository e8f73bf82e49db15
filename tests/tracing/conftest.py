"""Fixtures for the tracing tests: an in-memory span exporter, and a check that no span of any test
carries a secret or raw PII (tests that opt into content capture are exempt)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tracing_support import FORBIDDEN, span_texts

from beluga_tracing import use_tracer_provider


@pytest.fixture(autouse=True)
def _no_otel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in list(os.environ):
        if var.startswith("OTEL_"):
            monkeypatch.delenv(var, raising=False)


@pytest.fixture
def exporter(request: pytest.FixtureRequest) -> Iterator[InMemorySpanExporter]:
    """Beluga's spans go to this in-memory exporter during the test."""
    exp = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exp))
    use_tracer_provider(provider)
    yield exp
    use_tracer_provider(None)
    spans = exp.get_finished_spans()
    provider.shutdown()
    if request.node.get_closest_marker("captures_content") is None:
        leaked = [t for t in span_texts(spans) if any(f in t for f in FORBIDDEN)]
        assert not leaked, f"a secret or raw PII reached a span: {leaked}"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "captures_content: the test turns on message content capture")
