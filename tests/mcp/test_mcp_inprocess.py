"""In process: ``guarded(session, kit)`` gives agent code the proxy's checks on its own
``ClientSession``, and the proxy's server (``build_server``) records an ``execute_tool`` span per
call, exported by the OpenTelemetry SDK."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import mcp.types as types
import pytest
from mcp import ClientSession
from mcp.shared.memory import create_client_server_memory_streams
from mcp_support import RECORD_SERVER, received, session_to, text_of
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from beluga_core import Kit, hookimpl
from beluga_core.testing import kit_with
from beluga_guard_injection import InjectionPlugin
from beluga_guard_pii import PIIPlugin
from beluga_mcp import MCPSettings, ToolGate, build_server, guarded
from beluga_tracing import TracingPlugin, semconv, use_tracer_provider


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    exp = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exp))
    use_tracer_provider(provider)
    yield exp
    use_tracer_provider(None)
    provider.shutdown()


def _kit(*extra: object) -> Kit:
    return kit_with(TracingPlugin(), *extra, InjectionPlugin(), PIIPlugin())


def _all_span_text(exporter: InMemorySpanExporter) -> str:
    parts = []
    for span in exporter.get_finished_spans():
        parts += [span.name, *map(str, (span.attributes or {}).values())]
        for event in span.events:
            parts += [event.name, *map(str, (event.attributes or {}).values())]
    return "\n".join(parts)


async def test_a_guarded_session_redacts_arguments_withholds_injections_and_records_spans(
    record_file: Path, exporter: InMemorySpanExporter
) -> None:
    kit = _kit()
    settings = MCPSettings(tools=("send_note", "fetch_page"))
    async with session_to(RECORD_SERVER, env={"RECORD_FILE": str(record_file)}) as raw:
        tools = guarded(raw, kit, server="records", settings=settings)
        listed = sorted(t.name for t in (await tools.list_tools()).tools)
        sent = await tools.call_tool("send_note", {"to": "jane.doe@example.com", "body": "hi"})
        injected = await tools.call_tool("fetch_page", {"which": "injected"})
        refused = await tools.call_tool("delete_all")
        assert tools.server_info is not None  # everything else is the session's own
    assert listed == ["fetch_page", "send_note"]
    assert not sent.is_error
    assert injected.is_error and "guard-injection" in text_of(injected)
    assert refused.is_error and "not allowed" in text_of(refused)
    assert [r["arguments"] for r in received(record_file)] == [{"to": "[EMAIL]", "body": "hi"}, {"which": "injected"}]

    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert set(spans) == {"execute_tool send_note", "execute_tool fetch_page"}
    attrs = spans["execute_tool send_note"].attributes or {}
    assert attrs[semconv.GEN_AI_OPERATION_NAME] == "execute_tool"
    assert attrs[semconv.GEN_AI_TOOL_NAME] == "send_note"
    assert attrs[semconv.GEN_AI_TOOL_TYPE] == "function"
    text = _all_span_text(exporter)
    assert "jane.doe@example.com" not in text and "Ignore all previous" not in text


class _Recorder:
    """A wrap_tool_call middleware that records each call it sees, then calls on."""

    name = "recorder"

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, object]]] = []

    @hookimpl
    async def wrap_tool_call(self, call, call_next):  # type: ignore[no-untyped-def]
        self.calls.append((call.name, dict(call.metadata)))
        return await call_next(call)


async def test_the_proxy_server_runs_each_call_through_wrap_tool_call_with_its_metadata(
    record_file: Path, exporter: InMemorySpanExporter
) -> None:
    """``build_server`` served over the SDK's memory streams, in front of the real stdio server."""
    observer = _Recorder()
    kit = _kit(observer)
    async with session_to(RECORD_SERVER, env={"RECORD_FILE": str(record_file)}) as upstream:
        server = build_server(upstream, ToolGate(kit, "records"))
        async with create_client_server_memory_streams() as (client_streams, server_streams), \
                anyio.create_task_group() as tg:
            tg.start_soon(lambda: server.run(*server_streams, server.create_initialization_options()))
            async with ClientSession(*client_streams) as client:
                await client.initialize()
                result = await client.call_tool("send_note", {"to": "+1 415 555 0132", "body": "hi"})
            tg.cancel_scope.cancel()
    assert isinstance(result, types.CallToolResult) and not result.is_error
    ((name, meta),) = observer.calls
    assert name == "send_note" and meta["server"] == "records" and "tool_call_id" in meta
    assert received(record_file)[0]["arguments"] == {"to": "[PHONE]", "body": "hi"}
    (span,) = exporter.get_finished_spans()
    assert span.name == "execute_tool send_note"
    assert (span.attributes or {})[semconv.GEN_AI_TOOL_CALL_ID] == meta["tool_call_id"]
