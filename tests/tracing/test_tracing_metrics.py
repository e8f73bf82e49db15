"""The gen_ai.client.* metrics and the newer chat span attributes, read back from the real
OpenTelemetry SDK (InMemoryMetricReader, InMemorySpanExporter)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from tracing_support import EMAIL, FORBIDDEN, PHONE, SECRET, OTLPReceiver, run_script

from beluga_core import GuardInput, GuardResult, LLMStream, ProviderError, Usage, hookimpl
from beluga_core.testing import kit_with
from beluga_tracing import invoke_agent, semconv, use_meter_provider
from beluga_tracing.plugin import TracingPlugin

DURATION = "gen_ai.client.operation.duration"
TOKENS = "gen_ai.client.token.usage"
FIRST_CHUNK = "gen_ai.client.operation.time_to_first_chunk"


@pytest.fixture
def reader() -> Iterator[InMemoryMetricReader]:
    """Beluga's metrics go to this in-memory reader during the test; no attribute may carry user text."""
    rd = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[rd])
    use_meter_provider(provider)
    yield rd
    use_meter_provider(None)
    leaked = [f"{k}={v}" for _, attrs, _ in points(rd) for k, v in attrs.items() if any(f in str(v) for f in FORBIDDEN)]
    provider.shutdown()
    assert not leaked, f"user text reached a metric attribute: {leaked}"


def points(rd: InMemoryMetricReader) -> list[tuple[str, dict[str, Any], Any]]:
    """(metric name, attributes, histogram data point) of everything recorded so far."""
    data = rd.get_metrics_data()
    out: list[tuple[str, dict[str, Any], Any]] = []
    for rm in data.resource_metrics if data else ():
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                for p in m.data.data_points:
                    out.append((m.name, dict(p.attributes), p))
    return out


def metric(rd: InMemoryMetricReader, name: str) -> list[tuple[dict[str, Any], Any]]:
    return [(a, p) for n, a, p in points(rd) if n == name]


def test_a_plain_call_records_duration_and_token_usage_with_the_genai_attributes(exporter, reader):
    kit = kit_with(TracingPlugin())
    response = kit.generate("hello there", model="gpt-4o")

    ((attrs, point),) = metric(reader, DURATION)
    assert attrs == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "echo",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o",
    }
    assert point.count == 1 and point.sum > 0
    assert tuple(point.explicit_bounds) == semconv.DURATION_BUCKETS
    tokens = {a["gen_ai.token.type"]: p for a, p in metric(reader, TOKENS)}
    assert tokens["input"].sum == response.usage.input_tokens > 0
    assert tokens["output"].sum == response.usage.output_tokens > 0
    assert {k for a, _ in metric(reader, TOKENS) for k in a} == {*attrs, "gen_ai.token.type"}
    assert not metric(reader, FIRST_CHUNK)  # only streams report it
    # the instruments are the conventions' names and units
    data = reader.get_metrics_data()
    units = {m.name: m.unit for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert units == {DURATION: "s", TOKENS: "{token}"}


def test_a_streamed_call_records_time_to_first_chunk_duration_and_tokens(exporter, reader):
    kit = kit_with(TracingPlugin())

    async def main() -> str:
        return "".join([c.text async for c in kit.astream("one two three four", model="m")])

    assert asyncio.run(main()) == "one two three four"
    ((attrs, first),) = metric(reader, FIRST_CHUNK)
    assert attrs["gen_ai.request.model"] == "m" and attrs["gen_ai.provider.name"] == "echo"
    assert first.count == 1
    ((_, duration),) = metric(reader, DURATION)
    assert duration.count == 1 and duration.sum >= first.sum
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] == pytest.approx(first.sum)
    tokens = {a["gen_ai.token.type"]: p.sum for a, p in metric(reader, TOKENS)}
    assert tokens["output"] == span.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] > 0


def test_a_failed_call_records_its_duration_with_error_type_and_no_tokens(exporter, reader):
    kit = kit_with(TracingPlugin())
    kit.provider().fail_next(1, "rate_limit")
    with pytest.raises(ProviderError):
        kit.generate("hi", model="m")
    ((attrs, point),) = metric(reader, DURATION)
    assert attrs["error.type"] == "rate_limit"
    assert point.count == 1
    assert not metric(reader, TOKENS)


def test_a_stream_failing_before_its_first_chunk_records_error_type(exporter, reader):
    kit = kit_with(TracingPlugin())
    kit.provider().fail_next(1, "timeout")

    async def main() -> None:
        async for _ in kit.astream("hi", model="m"):
            pass

    with pytest.raises(ProviderError):
        asyncio.run(main())
    ((attrs, _),) = metric(reader, DURATION)
    assert attrs["error.type"] == "timeout"
    assert not metric(reader, FIRST_CHUNK)


class BreaksMidStream:
    """Inside tracing: the stream fails after its first chunk."""

    name = "breaks"

    @hookimpl
    async def wrap_llm_call(self, request, call_next):
        async def chunks():
            from beluga_core import StreamChunk

            yield StreamChunk(text="partial ", model="m-2024")
            raise ProviderError("provider_unavailable", "upstream went away")

        return await LLMStream.start(chunks(), provider="echo", model="m")


def test_a_stream_failing_after_its_first_chunk_records_first_chunk_and_error_type(exporter, reader):
    kit = kit_with(TracingPlugin(), BreaksMidStream(), config={"beluga": {"plugins": ["tracing", "breaks"]}})

    async def main() -> None:
        async for _ in kit.astream("hi", model="m"):
            pass

    with pytest.raises(ProviderError):
        asyncio.run(main())
    ((first, _),) = metric(reader, FIRST_CHUNK)
    assert first["gen_ai.response.model"] == "m-2024"
    ((attrs, _),) = metric(reader, DURATION)
    assert attrs["error.type"] == "provider_unavailable"


def test_a_configured_model_names_the_span_and_fills_request_model(exporter, reader):
    config = {"beluga": {"provider": "fast"}, "providers": {"fast": {"type": "echo", "model": "conf-model"}}}
    kit_with(TracingPlugin(), config=config).generate("hi")
    (span,) = exporter.get_finished_spans()
    assert span.name == "chat conf-model"
    assert span.attributes[semconv.GEN_AI_REQUEST_MODEL] == "conf-model"
    ((attrs, _),) = metric(reader, DURATION)
    assert attrs["gen_ai.request.model"] == "conf-model"


def test_the_upstream_server_address_and_port_are_on_the_span_and_the_metrics(exporter, reader):
    config = {
        "beluga": {"provider": "up"},
        "providers": {"up": {"type": "echo", "base_url": "http://10.1.2.3:8081/v1"}},
    }
    kit_with(TracingPlugin(), config=config).generate("hi", model="m")
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.SERVER_ADDRESS] == "10.1.2.3"
    assert span.attributes[semconv.SERVER_PORT] == 8081
    ((attrs, _),) = metric(reader, DURATION)
    assert (attrs["server.address"], attrs["server.port"]) == ("10.1.2.3", 8081)


def test_provider_kinds_without_base_url_report_their_public_endpoint():
    from beluga_tracing._runtime import server_of

    assert server_of(None, "openai") == ("api.openai.com", 443)
    assert server_of(None, "anthropic") == ("api.anthropic.com", 443)
    assert server_of(None, "echo") is None
    assert server_of("https://llm.internal/v1", "openai") == ("llm.internal", 443)


@pytest.mark.captures_content
def test_request_parameters_passed_on_are_span_attributes(exporter, reader):
    kit = kit_with(TracingPlugin(), config={"plugins": {"tracing": {"capture_content": True}}})
    kit.generate(
        "hi", model="m", max_tokens=20, temperature=0.3, top_p=0.9, stop=["END", "STOP"], seed=7,
        frequency_penalty=0.1, presence_penalty=-0.2, n=3,
    )
    a = exporter.get_finished_spans()[0].attributes
    assert a[semconv.GEN_AI_REQUEST_MAX_TOKENS] == 20
    assert a[semconv.GEN_AI_REQUEST_TEMPERATURE] == 0.3
    assert a[semconv.GEN_AI_REQUEST_TOP_P] == 0.9
    assert a[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] == ("END", "STOP")
    assert a[semconv.GEN_AI_REQUEST_SEED] == 7
    assert a[semconv.GEN_AI_REQUEST_FREQUENCY_PENALTY] == 0.1
    assert a[semconv.GEN_AI_REQUEST_PRESENCE_PENALTY] == -0.2
    assert a[semconv.GEN_AI_REQUEST_CHOICE_COUNT] == 3
    # parameters are never metric attributes (they would multiply the series)
    assert {k for a, _ in metric(reader, DURATION) for k in a}.isdisjoint({semconv.GEN_AI_REQUEST_TOP_P})


@pytest.mark.captures_content
def test_one_choice_and_a_single_stop_string_are_recorded_as_the_conventions_say(exporter):
    kit_with(TracingPlugin(), config={"plugins": {"tracing": {"capture_content": True}}}).generate(
        "hi", model="m", stop="END", n=1
    )
    a = exporter.get_finished_spans()[0].attributes
    assert a[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] == ("END",)
    assert semconv.GEN_AI_REQUEST_CHOICE_COUNT not in a  # only when not 1


def test_stop_sequences_are_caller_text_and_left_out_without_content_capture(exporter):
    kit_with(TracingPlugin()).generate("hi", model="m", stop=[EMAIL], top_p=0.5)
    a = exporter.get_finished_spans()[0].attributes
    assert semconv.GEN_AI_REQUEST_STOP_SEQUENCES not in a
    assert a[semconv.GEN_AI_REQUEST_TOP_P] == 0.5


class CachedUsage:
    """Inside tracing: reports the usage a caching, reasoning provider would."""

    name = "cached-usage"

    @hookimpl
    async def wrap_llm_call(self, request, call_next):
        response = await call_next(request)
        usage = Usage(100, 40, cached_input_tokens=60, cache_creation_input_tokens=30, reasoning_tokens=25)
        return response.replace(usage=usage)


def test_cache_creation_cache_read_and_reasoning_tokens_are_span_attributes(exporter, reader):
    config = {"beluga": {"plugins": ["tracing", "cached-usage"]}}
    kit_with(TracingPlugin(), CachedUsage(), config=config).generate("hi", model="m")
    a = exporter.get_finished_spans()[0].attributes
    assert a[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 100
    assert a[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 60
    assert a[semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] == 30
    assert a[semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 25
    tokens = {at["gen_ai.token.type"]: p.sum for at, p in metric(reader, TOKENS)}
    assert tokens == {"input": 100, "output": 40}


def test_no_cache_or_reasoning_attributes_when_the_provider_reports_none(exporter):
    kit_with(TracingPlugin()).generate("hi", model="m")
    a = exporter.get_finished_spans()[0].attributes
    assert semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS not in a
    assert semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS not in a


def test_the_providers_report_cache_writes_and_reasoning_tokens_in_usage():
    from beluga_anthropic import usage_from
    from beluga_wire.openai_chat import parse_completion

    u = usage_from({"input_tokens": 10, "cache_read_input_tokens": 50, "cache_creation_input_tokens": 30,
                    "output_tokens": 5})
    assert (u.input_tokens, u.cached_input_tokens, u.cache_creation_input_tokens) == (90, 50, 30)
    body = {
        "model": "o3", "choices": [{"index": 0, "message": {"role": "assistant", "content": "x"},
                                    "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 40, "prompt_tokens_details": {"cached_tokens": 4},
                  "completion_tokens_details": {"reasoning_tokens": 32}},
    }
    _, _, usage, _ = parse_completion(json.dumps(body).encode())
    assert (usage.input_tokens, usage.output_tokens, usage.cached_input_tokens, usage.reasoning_tokens) == (
        12, 40, 4, 32)
    assert (usage + usage).reasoning_tokens == 64


def test_invoke_agent_spans_carry_the_configured_provider_or_the_given_one(exporter):
    config = {"beluga": {"provider": "fast"}, "providers": {"fast": {"type": "echo"}}}
    kit = kit_with(TracingPlugin(), config=config)

    @invoke_agent("planner")  # decorated before the call: the provider is looked up when the span starts
    async def plan() -> None:
        await kit.agenerate("hi", model="m")

    async def main() -> None:
        await plan()
        async with invoke_agent("critic", provider="anthropic"):
            pass

    asyncio.run(main())
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert spans["invoke_agent planner"].attributes[semconv.GEN_AI_PROVIDER_NAME] == "echo"
    assert spans["invoke_agent critic"].attributes[semconv.GEN_AI_PROVIDER_NAME] == "anthropic"


class EmailGuard:
    name = "email-guard"

    @hookimpl
    def on_input(self, guard_input: GuardInput) -> GuardResult | None:
        from beluga_core import Finding

        if EMAIL in guard_input.text:
            return GuardResult.modify(guard_input.text.replace(EMAIL, "<EMAIL>"), findings=[Finding("email", 0, 5)])
        if PHONE in guard_input.text:
            return GuardResult.block("phone number in input")
        return GuardResult.allow()


def test_guard_decisions_are_also_guardrail_result_events(exporter, reader):
    kit = kit_with(TracingPlugin(), EmailGuard())
    kit.generate(f"write to {EMAIL}", model="m")
    with pytest.raises(Exception, match="guard"):
        kit.generate(f"call {PHONE}", model="m")
    kit.generate("nothing here", model="m")

    modified, blocked, allowed = exporter.get_finished_spans()
    names = [e.name for e in modified.events]
    assert names == [semconv.EVENT_GUARD_DECISION, "gen_ai.guardrail.result", "gen_ai.guardrail.result"]
    verdict, finding = (dict(e.attributes) for e in modified.events[1:])
    assert verdict == {
        "gen_ai.guardrail.component.name": "email-guard",
        "gen_ai.guardrail.source": "input",
        "gen_ai.guardrail.result.type": "decision",
        "gen_ai.guardrail.result.value": "modified",
    }
    assert finding["gen_ai.guardrail.risk.category"] == "email"
    assert (finding["gen_ai.guardrail.result.type"], finding["gen_ai.guardrail.result.value"]) == ("findings", "1")
    (blocked_result,) = [e for e in blocked.events if e.name == "gen_ai.guardrail.result"]
    assert blocked_result.attributes["gen_ai.guardrail.result.value"] == "blocked"
    assert blocked_result.attributes["gen_ai.guardrail.result.reason"] == "phone number in input"
    (allowed_result,) = [e for e in allowed.events if e.name == "gen_ai.guardrail.result"]
    assert allowed_result.attributes["gen_ai.guardrail.result.value"] == "allowed"
    assert [a["error.type"] for a, _ in metric(reader, DURATION) if "error.type" in a] == ["guard_blocked"]


def test_no_user_text_or_key_in_any_metric_attribute(exporter, reader):
    config = {"providers": {"echo": {"api_key": SECRET}}}
    kit = kit_with(TracingPlugin(), config=config)
    kit.generate(f"mail {EMAIL} or call {PHONE}, key {SECRET}", model="m",
                 metadata={"request_id": "r-1", "user": EMAIL}, stop=[EMAIL])

    async def main() -> None:
        async for _ in kit.astream(f"again {EMAIL}", model="m"):
            pass

    asyncio.run(main())
    allowed = {"gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model", "gen_ai.response.model",
               "gen_ai.token.type", "error.type", "server.address", "server.port"}
    seen = {k for _, a, _ in points(reader) for k in a}
    assert seen and seen <= allowed
    # (the reader fixture also checks that no value carries the e-mail, the phone or the key)


def test_model_names_outside_the_config_are_bounded_in_metrics_but_kept_on_spans(exporter, reader):
    config = {"providers": {"echo": {"model": "configured"}}}
    kit = kit_with(TracingPlugin(), config=config)
    for i in range(80):
        kit.generate("hi", model=f"model-{i}")
    kit.generate("hi", model="configured")
    values = {a["gen_ai.request.model"] for a, _ in metric(reader, DURATION)}
    assert "configured" in values and "_OTHER" in values
    assert len(values) <= 64 + 2
    assert {s.name for s in exporter.get_finished_spans()} >= {"chat model-79", "chat configured"}


def test_a_plugin_built_with_its_own_meter_provider_keeps_its_metrics_there(exporter, reader):
    own = InMemoryMetricReader()
    kit_with(TracingPlugin(meter_provider=MeterProvider(metric_readers=[own]))).generate("hi", model="m")
    assert [n for n, _, _ in points(own)].count(DURATION) == 1
    assert not points(reader)


def test_otel_environment_alone_exports_metrics_over_otlp_at_exit():
    with OTLPReceiver() as rx:
        run_script(
            """
            from beluga_core.testing import kit_with
            from beluga_tracing.plugin import TracingPlugin

            plugin = TracingPlugin()
            kit = kit_with(plugin)
            assert plugin.metrics_setup == "installed", plugin.metrics_setup
            kit.generate("hello", model="m")
            # no explicit flush: the MeterProvider exports at interpreter exit
            """,
            env={"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": rx.endpoint},
        )
        got = rx.metrics()
    ((attrs, point),) = got[DURATION]
    assert attrs["gen_ai.request.model"] == "m" and point.count == 1
    assert {a["gen_ai.token.type"] for a, _ in got[TOKENS]} == {"input", "output"}


def test_the_applications_own_meter_provider_is_never_replaced():
    out, _ = run_script(
        """
        from opentelemetry import metrics
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from beluga_core.testing import kit_with
        from beluga_tracing.plugin import TracingPlugin

        reader = InMemoryMetricReader()
        app = MeterProvider(metric_readers=[reader])
        metrics.set_meter_provider(app)
        plugin = TracingPlugin()
        kit = kit_with(plugin, config={"plugins": {"tracing": {"exporter": "console", "metrics_exporter": "otlp"}}})
        assert plugin.metrics_setup == "application", plugin.metrics_setup
        assert metrics.get_meter_provider() is app
        kit.generate("hello", model="m")
        names = [m.name for rm in reader.get_metrics_data().resource_metrics for sm in rm.scope_metrics
                 for m in sm.metrics]
        assert "gen_ai.client.operation.duration" in names, names
        print("ok")
        """
    )
    assert out.strip() == "ok"


def test_metrics_exporter_none_installs_no_meter_provider_even_when_spans_are_exported():
    out, _ = run_script(
        """
        from opentelemetry import metrics
        from opentelemetry.sdk.metrics import MeterProvider
        from beluga_core.testing import kit_with
        from beluga_tracing.plugin import TracingPlugin

        plugin = TracingPlugin()
        kit_with(plugin, config={"plugins": {"tracing": {"exporter": "console", "metrics_exporter": "none"}}})
        assert plugin.setup == "installed" and plugin.metrics_setup == "none", (plugin.setup, plugin.metrics_setup)
        assert not isinstance(metrics.get_meter_provider(), MeterProvider)
        print("ok")
        """
    )
    assert out.strip() == "ok"


def test_embeddings_are_spans_and_metrics_of_their_own_operation(exporter, reader):
    kit = kit_with(TracingPlugin())
    kit.embed(["first text", "second text"], model="embed-small")
    (span,) = [s for s in exporter.get_finished_spans() if s.attributes.get("gen_ai.operation.name") == "embeddings"]
    assert span.name == "embeddings embed-small"
    assert span.attributes["gen_ai.request.model"] == "embed-small"
    assert "first text" not in str(dict(span.attributes))
    ((attrs, point),) = metric(reader, DURATION)
    assert attrs["gen_ai.operation.name"] == "embeddings" and point.count == 1
    tokens = {a["gen_ai.token.type"]: p for a, p in metric(reader, TOKENS)}
    assert tokens["input"].sum > 0
