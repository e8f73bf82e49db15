"""The chain's spans for calls made through the SDK drop-in: one per call, in the application's trace."""

from __future__ import annotations

import pytest
from sdk_support import kit_over

import beluga_sdk

openai = pytest.importorskip("openai")
pytest.importorskip("opentelemetry.sdk")

from opentelemetry import trace  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

from beluga_tracing import use_tracer_provider  # noqa: E402

HELLO = [{"role": "user", "content": "hello there sdk"}]


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    use_tracer_provider(provider)
    yield exporter, provider.get_tracer("app")
    use_tracer_provider(None)
    provider.shutdown()


def _chain_spans(exporter, model):
    return [s for s in exporter.get_finished_spans() if (s.attributes or {}).get("gen_ai.request.model") == model]


def test_sync_calls_and_streams_are_traced_inside_the_applications_span(spans):
    exporter, tracer = spans
    client = beluga_sdk.openai_client(kit_over("echo", plugins=("tracing",)), max_retries=0)
    with tracer.start_as_current_span("app request") as parent:
        client.chat.completions.create(model="model-a", messages=HELLO)
        list(client.chat.completions.create(model="model-b", messages=HELLO, stream=True))
    trace_id = parent.get_span_context().trace_id
    for model in ("model-a", "model-b"):
        (span,) = [s for s in _chain_spans(exporter, model) if s.parent is not None and
                   s.parent.span_id == parent.get_span_context().span_id]
        assert span.context.trace_id == trace_id


async def test_async_calls_are_traced_inside_the_applications_span(spans):
    exporter, tracer = spans
    kit = kit_over("echo", plugins=("tracing",))
    client = beluga_sdk.async_openai_client(kit, max_retries=0)
    with tracer.start_as_current_span("app request") as parent:
        await client.chat.completions.create(model="model-c", messages=HELLO)
    (span,) = _chain_spans(exporter, "model-c")
    assert span.context.trace_id == parent.get_span_context().trace_id
    assert trace.get_current_span() is not parent
    await kit.aclose()
