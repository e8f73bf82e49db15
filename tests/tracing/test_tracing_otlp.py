"""The real OTLP/HTTP exporter sends Beluga's spans to a receiver on loopback, which decodes them."""

from __future__ import annotations

import asyncio

from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan
from tracing_support import OTLPReceiver, attributes, run_script

from beluga_core.testing import kit_with
from beluga_tracing import invoke_agent, semconv, use_tracer_provider
from beluga_tracing._runtime import build_provider, resolve_plan
from beluga_tracing.plugin import TracingPlugin


def test_otlp_export_reaches_a_loopback_receiver_with_names_kinds_parents_and_attributes():
    with OTLPReceiver() as rx:
        plan = resolve_plan(exporter="otlp", endpoint=rx.endpoint, service_name="svc-a", sampling_ratio=None, env={})
        provider = build_provider(plan, env={})
        use_tracer_provider(provider)
        try:
            kit = kit_with(TracingPlugin())

            async def main() -> None:
                async with invoke_agent("researcher"):
                    await kit.agenerate("hello", model="gpt-4o", metadata={"request_id": "r-9"})
                    await kit.acall_tool("search", {"q": "x"}, lambda q: q)

            asyncio.run(main())
            assert provider.force_flush(10_000)
        finally:
            use_tracer_provider(None)
            provider.shutdown()
        got = rx.wait_for_spans(3)

    assert set(rx.paths) == {"/v1/traces"}
    assert all(ct == "application/x-protobuf" for ct in rx.content_types)
    spans = {s.name: (resource, s) for resource, s in got}
    assert set(spans) == {"invoke_agent researcher", "chat gpt-4o", "execute_tool search"}
    resource, chat = spans["chat gpt-4o"]
    assert resource["service.name"] == "svc-a"
    assert chat.kind == PbSpan.SPAN_KIND_CLIENT
    a = attributes(chat)
    assert a[semconv.GEN_AI_OPERATION_NAME] == "chat"
    assert a[semconv.GEN_AI_PROVIDER_NAME] == "echo"
    assert a[semconv.GEN_AI_REQUEST_MODEL] == "gpt-4o"
    assert a[semconv.GEN_AI_USAGE_INPUT_TOKENS] > 0
    assert a[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert a["beluga.request.request_id"] == "r-9"
    _, agent = spans["invoke_agent researcher"]
    _, tool = spans["execute_tool search"]
    assert chat.parent_span_id == agent.span_id == tool.parent_span_id
    assert chat.trace_id == agent.trace_id == tool.trace_id
    assert attributes(tool)[semconv.GEN_AI_TOOL_NAME] == "search"


def test_otel_environment_variables_alone_set_up_export_and_spans_are_flushed_at_exit():
    with OTLPReceiver() as rx:
        run_script(
            """
            from beluga_core.testing import kit_with
            from beluga_tracing.plugin import TracingPlugin

            plugin = TracingPlugin()
            kit = kit_with(plugin)
            assert plugin.setup == "installed", plugin.setup
            kit.generate("hello", model="m")
            kit.provider().fail_next(1)
            try:
                kit.generate("again", model="m")
            except Exception:
                pass
            # no explicit flush: the provider flushes its batch at interpreter exit
            """,
            env={
                "OTEL_TRACES_EXPORTER": "otlp",
                "OTEL_EXPORTER_OTLP_ENDPOINT": rx.endpoint,
                "OTEL_SERVICE_NAME": "from-env",
            },
        )
        got = rx.wait_for_spans(2)
    assert {r["service.name"] for r, _ in got} == {"from-env"}
    errors = [attributes(s).get(semconv.ERROR_TYPE) for _, s in got]
    assert errors == [None, "provider_unavailable"]
    assert got[1][1].status.code == got[1][1].status.STATUS_CODE_ERROR


def test_plugins_tracing_config_wins_over_the_environment(tmp_path):
    with OTLPReceiver() as rx:
        config = tmp_path / "beluga.toml"
        config.write_text(
            f'[plugins.tracing]\nexporter = "otlp"\nendpoint = "{rx.endpoint}"\nservice_name = "from-config"\n'
        )
        run_script(
            f"""
            import beluga_tracing
            from beluga_core.testing import kit_with
            from beluga_tracing.plugin import TracingPlugin

            plugin = TracingPlugin()
            kit = kit_with(plugin, config={str(config)!r})
            assert plugin.setup == "installed", plugin.setup
            kit.generate("hello", model="m")
            assert beluga_tracing.flush()
            """,
            env={"OTEL_SERVICE_NAME": "from-env", "OTEL_TRACES_EXPORTER": "console"},
        )
        ((resource, span),) = rx.wait_for_spans(1)
    assert resource["service.name"] == "from-config"
    assert span.name == "chat m"
