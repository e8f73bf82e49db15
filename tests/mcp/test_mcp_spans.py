"""Spans from a real ``beluga mcp-proxy`` process: its tracing plugin exports an ``execute_tool``
span per tool call over OTLP to a receiver on loopback (the tracing tests' receiver)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from mcp_support import BASE_CONFIG, RECORD_SERVER, proxy_command, session_to, write_config

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tracing"))
from tracing_support import OTLPReceiver, attributes

TRACED = BASE_CONFIG.replace('plugins = ["guard-injection"', 'plugins = ["tracing", "guard-injection"')


async def test_the_proxy_exports_an_execute_tool_span_per_call_without_the_text(tmp_path: Path) -> None:
    config = write_config(tmp_path / "beluga.toml", base=TRACED)
    with OTLPReceiver() as rx:
        env = {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": rx.endpoint,
               "OTEL_SERVICE_NAME": "mcp-proxy"}
        async with session_to(proxy_command(config, RECORD_SERVER), env=env) as s:
            await s.call_tool("send_note", {"to": "jane.doe@example.com", "body": "hi"})
            await s.call_tool("fetch_page", {"which": "injected"})
        spans = _wait_for(rx, {"execute_tool send_note", "execute_tool fetch_page", "tools/call send_note",
                               "MCP send tools/call send_note"})
    resource, note = spans["execute_tool send_note"]
    assert resource["service.name"] == "mcp-proxy"
    a = attributes(note)
    assert a["gen_ai.operation.name"] == "execute_tool"
    assert a["gen_ai.tool.name"] == "send_note"
    assert a["gen_ai.tool.call.id"]
    # One trace: the proxy's server span (the SDK's) > execute_tool (Beluga's) > the call upstream (the SDK's).
    _, served = spans["tools/call send_note"]
    _, upstream = spans["MCP send tools/call send_note"]
    assert note.parent_span_id == served.span_id and upstream.parent_span_id == note.span_id
    assert served.trace_id == note.trace_id == upstream.trace_id
    assert b"jane.doe@example.com" not in b"".join(rx.bodies)


def _wait_for(rx: OTLPReceiver, names: set[str], timeout: float = 30.0) -> dict[str, tuple[Any, Any]]:
    """The spans received once every one of ``names`` has arrived, by name."""
    deadline = time.monotonic() + timeout
    rx.wait_for_spans(len(names), timeout)
    while True:
        spans = {span.name: (resource, span) for resource, span in rx.spans()}
        if names <= set(spans) or time.monotonic() > deadline:
            assert names <= set(spans), f"missing spans: {names - set(spans)}"
            return spans
        time.sleep(0.05)
