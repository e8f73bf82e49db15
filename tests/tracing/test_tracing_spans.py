"""Spans of model calls, tools, agents and guards, checked with the SDK's in-memory exporter."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from tracing_support import EMAIL, PHONE, SECRET

from beluga_core import BelugaError, GuardBlocked, GuardInput, GuardResult, ProviderError, ToolFailed, hookimpl
from beluga_core.testing import kit_with
from beluga_tracing import invoke_agent, semconv, start_span
from beluga_tracing.plugin import TracingPlugin


def by_name(exporter: InMemorySpanExporter) -> dict[str, Any]:
    return {s.name: s for s in exporter.get_finished_spans()}


class EmailGuard:
    """A test guard: replaces e-mail addresses and reports how many it found."""

    name = "email-guard"

    @hookimpl
    def on_input(self, guard_input: GuardInput) -> GuardResult | None:
        return self._check(guard_input)

    @hookimpl
    def on_output(self, guard_input: GuardInput) -> GuardResult | None:
        return self._check(guard_input)

    def _check(self, gi: GuardInput) -> GuardResult | None:
        if EMAIL not in gi.text:
            return GuardResult.allow()
        from beluga_core import Finding

        count = gi.text.count(EMAIL)
        findings = [Finding("email", 0, len(EMAIL)) for _ in range(count)]
        return GuardResult.modify(gi.text.replace(EMAIL, "<EMAIL>"), findings=findings)


class PhoneBlocker:
    name = "phone-blocker"

    @hookimpl
    def on_input(self, guard_input: GuardInput) -> GuardResult | None:
        if PHONE in guard_input.text:
            return GuardResult.block("phone number in input")
        return None


def test_model_call_span_is_named_operation_and_model_with_kind_client_and_genai_attributes(exporter):
    kit = kit_with(TracingPlugin())
    response = kit.generate("hello there", model="gpt-4o", max_tokens=50, temperature=0.2)

    (span,) = exporter.get_finished_spans()
    assert span.name == "chat gpt-4o"
    assert span.kind is SpanKind.CLIENT
    a = span.attributes
    assert a[semconv.GEN_AI_OPERATION_NAME] == "chat"
    assert a[semconv.GEN_AI_PROVIDER_NAME] == "echo"
    assert a[semconv.GEN_AI_REQUEST_MODEL] == "gpt-4o"
    assert a[semconv.GEN_AI_RESPONSE_MODEL] == "gpt-4o"
    assert a[semconv.GEN_AI_REQUEST_MAX_TOKENS] == 50
    assert a[semconv.GEN_AI_REQUEST_TEMPERATURE] == 0.2
    assert a[semconv.GEN_AI_USAGE_INPUT_TOKENS] == response.usage.input_tokens > 0
    assert a[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == response.usage.output_tokens > 0
    assert a[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert span.status.status_code is StatusCode.UNSET
    assert "gen_ai.system" not in a  # deprecated names only on request


def test_a_call_without_a_model_is_named_after_the_operation_alone(exporter):
    kit_with(TracingPlugin()).generate("hi")
    (span,) = exporter.get_finished_spans()
    assert span.name == "chat"
    assert semconv.GEN_AI_REQUEST_MODEL not in span.attributes
    assert span.attributes[semconv.GEN_AI_RESPONSE_MODEL] == "echo"


def test_provider_alias_section_reports_the_provider_kind(exporter):
    config = {"beluga": {"provider": "fast"}, "providers": {"fast": {"type": "echo", "model": "m1"}}}
    kit_with(TracingPlugin(), config=config).generate("hi")
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.GEN_AI_PROVIDER_NAME] == "echo"


def test_provider_failure_records_error_type_from_the_error_code_and_status_error(exporter):
    kit = kit_with(TracingPlugin())
    kit.provider().fail_next(1, "rate_limit")
    with pytest.raises(ProviderError):
        kit.generate("hi", model="m")
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.ERROR_TYPE] == "rate_limit"
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description.startswith("rate_limit")
    (event,) = span.events
    assert event.name == "exception"
    assert event.attributes[semconv.EXCEPTION_TYPE] == "beluga_core.errors.ProviderError"


class Explodes:
    name = "explodes"

    @hookimpl
    async def wrap_llm_call(self, request, call_next):
        raise KeyError("the user's secret question")


def test_a_foreign_exception_records_its_class_name_and_never_its_message(exporter):
    kit = kit_with(TracingPlugin(), Explodes(), config={"beluga": {"plugins": ["tracing", "explodes"]}})
    with pytest.raises(KeyError):
        kit.generate("hi")
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.ERROR_TYPE] == "KeyError"
    assert "secret question" not in json.dumps([str(e.attributes) for e in span.events] + [span.status.description])


def test_tool_call_gets_an_execute_tool_span_with_the_tool_name(exporter):
    kit = kit_with(TracingPlugin())
    assert kit.call_tool("add", {"a": 2, "b": 3}, lambda a, b: a + b, metadata={"tool_call_id": "call_1"}) == 5
    (span,) = exporter.get_finished_spans()
    assert span.name == "execute_tool add"
    assert span.kind is SpanKind.INTERNAL
    assert span.attributes[semconv.GEN_AI_OPERATION_NAME] == "execute_tool"
    assert span.attributes[semconv.GEN_AI_TOOL_NAME] == "add"
    assert span.attributes[semconv.GEN_AI_TOOL_CALL_ID] == "call_1"
    assert semconv.GEN_AI_TOOL_CALL_ARGUMENTS not in span.attributes


def test_a_failing_tool_records_error_type_tool_failed(exporter):
    def lookup(q: str) -> str:
        raise RuntimeError(f"cannot find {q}")

    kit = kit_with(TracingPlugin())
    with pytest.raises(ToolFailed):
        kit.call_tool("lookup", {"q": EMAIL}, lookup)
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.ERROR_TYPE] == "tool_failed"
    assert span.status.status_code is StatusCode.ERROR


def test_a_multi_agent_run_forms_one_tree_request_agents_model_calls_and_tools(exporter):
    kit = kit_with(TracingPlugin())

    async def agent(name: str, question: str) -> str:
        async with invoke_agent(name, agent_id=f"id-{name}"):
            answer = await kit.agenerate(question, model="small")
            await kit.acall_tool("search", {"q": question}, lambda q: q.upper())
            return answer.text

    @invoke_agent("coordinator")
    async def coordinator() -> list[str]:
        return list(await asyncio.gather(agent("researcher", "find facts"), agent("writer", "write it")))

    async def main() -> list[str]:
        with start_span("POST /ask", kind="server"):
            return await coordinator()

    assert asyncio.run(main()) == ["find facts", "write it"]

    spans = exporter.get_finished_spans()
    assert len(spans) == 8
    assert len({s.context.trace_id for s in spans}) == 1
    ids = {s.context.span_id: s for s in spans}
    parent = {s.name + "/" + str(s.attributes.get(semconv.GEN_AI_AGENT_NAME, "")): s for s in spans}
    root = parent["POST /ask/"]
    assert root.parent is None and root.kind is SpanKind.SERVER
    coord = parent["invoke_agent coordinator/coordinator"]
    assert coord.parent.span_id == root.context.span_id
    for name in ("researcher", "writer"):
        agent_span = parent[f"invoke_agent {name}/{name}"]
        assert agent_span.parent.span_id == coord.context.span_id
        assert agent_span.attributes[semconv.GEN_AI_AGENT_ID] == f"id-{name}"
        kids = sorted(s.name for s in spans if s.parent and s.parent.span_id == agent_span.context.span_id)
        assert kids == ["chat small", "execute_tool search"]
    for s in spans:
        if s.parent is not None:
            assert s.parent.span_id in ids


def test_start_span_works_as_context_manager_and_as_sync_and_async_decorator(exporter):
    @start_span("sync step", {"step": 1})
    def sync_step(x: int) -> int:
        return x + 1

    @start_span("async step")
    async def async_step(x: int) -> int:
        await asyncio.sleep(0)
        return x * 2

    with start_span("outer", {"k": "v"}) as outer:
        outer.set_attribute("extra", True)
        assert sync_step(1) == 2
        assert asyncio.run(async_step(3)) == 6

    spans = by_name(exporter)
    assert set(spans) == {"outer", "sync step", "async step"}
    assert spans["outer"].attributes == {"k": "v", "extra": True}
    assert spans["sync step"].attributes == {"step": 1}
    assert spans["sync step"].parent.span_id == spans["outer"].context.span_id
    assert spans["async step"].parent.span_id == spans["outer"].context.span_id
    assert sync_step.__name__ == "sync_step"


def test_start_span_records_an_exception_and_reraises_it(exporter):
    with pytest.raises(ValueError), start_span("work"):
        raise ValueError("bad")
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.ERROR_TYPE] == "ValueError"
    assert span.status.status_code is StatusCode.ERROR


def test_start_span_refuses_to_decorate_a_generator_function():
    def gen():
        yield 1

    with pytest.raises(TypeError, match="generator"):
        start_span("x")(gen)


def test_start_span_rejects_an_unknown_kind():
    with pytest.raises(ValueError, match="span kind"):
        start_span("x", kind="sideways")


def test_guard_decisions_are_span_events_with_counts_never_the_text(exporter):
    kit = kit_with(TracingPlugin(), EmailGuard())
    response = kit.generate(f"write to {EMAIL} and {EMAIL}", model="m")
    assert EMAIL not in response.text

    (span,) = exporter.get_finished_spans()
    decisions = [e for e in span.events if e.name == semconv.EVENT_GUARD_DECISION]
    stages = {e.attributes[semconv.GUARD_STAGE]: e.attributes for e in decisions}
    assert set(stages) == {"input", "output"}
    inp = stages["input"]
    assert inp[semconv.GUARD_NAME] == "email-guard"
    assert inp[semconv.GUARD_ALLOWED] is True
    assert inp[semconv.GUARD_MODIFIED] is True
    assert inp[semconv.GUARD_FINDINGS_PREFIX + "email"] == 2
    assert inp["beluga.guard.role"] == "user"


def test_a_blocking_guard_is_an_event_and_the_call_fails_with_guard_blocked(exporter):
    kit = kit_with(TracingPlugin(), PhoneBlocker())
    with pytest.raises(GuardBlocked):
        kit.generate(f"call me on {PHONE}")
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.ERROR_TYPE] == "guard_blocked"
    (decision,) = [e for e in span.events if e.name == semconv.EVENT_GUARD_DECISION]
    assert decision.attributes[semconv.GUARD_ALLOWED] is False
    assert decision.attributes[semconv.GUARD_REASON] == "phone number in input"


def test_tool_argument_guard_decision_names_the_tool_and_argument_path(exporter):
    kit = kit_with(TracingPlugin(), PhoneBlocker())

    class ToolGuard:
        name = "tool-guard"

        @hookimpl
        def on_tool_call(self, guard_input: GuardInput) -> GuardResult | None:
            return GuardResult.allow()

    kit.register(ToolGuard())

    async def main() -> None:
        async with invoke_agent("a"):
            await kit.acall_tool("send", {"to": {"addr": "x"}}, lambda to: "ok")

    asyncio.run(main())
    agent = by_name(exporter)["invoke_agent a"]
    (decision,) = [e for e in agent.events if e.name == semconv.EVENT_GUARD_DECISION]
    assert decision.attributes[semconv.GEN_AI_TOOL_NAME] == "send"
    assert decision.attributes["beluga.guard.path"] == "args.to.addr"
    assert decision.attributes[semconv.GUARD_STAGE] == "tool"


def test_a_streamed_call_span_ends_with_the_stream_and_carries_usage(exporter):
    kit = kit_with(TracingPlugin())

    async def main() -> str:
        parts = [c.text async for c in kit.astream("one two three four", model="m")]
        return "".join(parts)

    assert asyncio.run(main()) == "one two three four"
    (span,) = exporter.get_finished_spans()
    a = span.attributes
    assert span.name == "chat m"
    assert a[semconv.GEN_AI_REQUEST_STREAM] is True
    assert a[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] > 0
    assert a[semconv.GEN_AI_USAGE_INPUT_TOKENS] > 0
    assert a[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert a[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] >= 0
    assert span.end_time is not None


def test_streamed_output_guard_decisions_land_on_the_call_span(exporter):
    kit = kit_with(TracingPlugin(), EmailGuard())

    async def main() -> str:
        async with invoke_agent("streamer"):
            return "".join([c.text async for c in kit.astream(f"mail {EMAIL}", model="m")])

    assert EMAIL not in asyncio.run(main())
    spans = by_name(exporter)
    call, agent = spans["chat m"], spans["invoke_agent streamer"]
    stages = [e.attributes[semconv.GUARD_STAGE] for e in call.events if e.name == semconv.EVENT_GUARD_DECISION]
    assert stages == ["input", "output"]
    assert not agent.events


def test_a_stream_closed_early_still_ends_its_span_with_an_event(exporter):
    kit = kit_with(TracingPlugin())

    async def main() -> None:
        stream = kit.astream("a b c d e f g", model="m")
        async for _ in stream:
            break
        await stream.aclose()

    asyncio.run(main())
    (span,) = exporter.get_finished_spans()
    assert [e.name for e in span.events] == [semconv.EVENT_STREAM_CLOSED]
    assert span.status.status_code is StatusCode.UNSET


def test_a_stream_failing_before_its_first_chunk_records_the_error(exporter):
    kit = kit_with(TracingPlugin())
    kit.provider().fail_next(1, "timeout")

    async def main() -> None:
        async for _ in kit.astream("hi", model="m"):
            pass

    with pytest.raises(ProviderError):
        asyncio.run(main())
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.ERROR_TYPE] == "timeout"


class CountingRetry:
    """A retry-style middleware: calls on until success and records the attempts like beluga-retry."""

    name = "test-retry"

    def __init__(self, detailed: bool = False) -> None:
        self.detailed = detailed

    @hookimpl
    async def wrap_llm_call(self, request, call_next):
        log: list[dict[str, Any]] = []
        for attempt in range(1, 5):
            try:
                response = await call_next(request)
            except ProviderError as exc:
                log.append({"attempt": attempt, "code": exc.code, "delay": 0.0, "error": f"msg {EMAIL}"})
                continue
            log.append({"attempt": attempt, "outcome": "ok"})
            return response.replace(metadata={**response.metadata, "attempts": log if self.detailed else attempt})
        raise AssertionError("unreachable")


@pytest.mark.parametrize("detailed", [False, True], ids=["count", "list"])
def test_retry_attempts_inside_the_call_span_are_visible(exporter, detailed):
    config = {"beluga": {"plugins": ["tracing", "test-retry"]}}
    kit = kit_with(TracingPlugin(), CountingRetry(detailed), config=config)
    kit.provider().fail_next(2, "provider_unavailable")
    kit.generate("hi", model="m")

    (span,) = exporter.get_finished_spans()  # one span for the logical call
    assert span.attributes[semconv.BELUGA_RETRY_ATTEMPTS] == 3
    assert span.status.status_code is StatusCode.UNSET
    events = [e.attributes for e in span.events if e.name == semconv.EVENT_RETRY_ATTEMPT]
    if detailed:
        assert [e[semconv.ATTEMPT_NUMBER] for e in events] == [1, 2, 3]
        assert [e.get(semconv.ERROR_TYPE) for e in events] == ["provider_unavailable", "provider_unavailable", None]
        assert events[2]["beluga.retry.outcome"] == "ok"
    else:
        assert events == []


def test_the_real_retry_plugin_reports_its_attempts_on_the_call_span(exporter):
    retry_plugin = pytest.importorskip("beluga_retry.plugin")
    config = {"beluga": {"plugins": ["tracing", "retry"]}, "plugins": {"retry": {"initial_backoff": 0}}}

    async def no_sleep(_: float) -> None:
        return None

    kit = kit_with(TracingPlugin(), retry_plugin.RetryPlugin(sleep=no_sleep), config=config)
    kit.provider().fail_next(2)
    kit.generate("hi", model="m")
    kit.provider().fail_next(5)
    with pytest.raises(BelugaError):
        kit.generate("hi", model="m")
    ok, failed = exporter.get_finished_spans()
    assert ok.attributes[semconv.BELUGA_RETRY_ATTEMPTS] == 3
    assert failed.attributes[semconv.BELUGA_RETRY_ATTEMPTS] == 3
    assert failed.attributes[semconv.BELUGA_RETRY_REASON] == "attempts"
    assert failed.attributes[semconv.ERROR_TYPE] == "provider_unavailable"


def test_emit_deprecated_also_writes_the_old_attribute_names(exporter):
    config = {"plugins": {"tracing": {"emit_deprecated": True}}}
    kit_with(TracingPlugin(), config=config).generate("hello", model="m")
    (span,) = exporter.get_finished_spans()
    a = span.attributes
    assert a["gen_ai.system"] == a[semconv.GEN_AI_PROVIDER_NAME] == "echo"
    assert a["gen_ai.usage.prompt_tokens"] == a[semconv.GEN_AI_USAGE_INPUT_TOKENS]
    assert a["gen_ai.usage.completion_tokens"] == a[semconv.GEN_AI_USAGE_OUTPUT_TOKENS]
    assert set(semconv.DEPRECATED_ALIASES) <= set(a)


def test_message_content_is_not_recorded_by_default(exporter):
    kit = kit_with(TracingPlugin())
    kit.generate([{"role": "system", "content": "be brief"}, {"role": "user", "content": f"hi {EMAIL}"}])
    kit.call_tool("t", {"q": EMAIL}, lambda q: q)
    for span in exporter.get_finished_spans():
        assert not {semconv.GEN_AI_INPUT_MESSAGES, semconv.GEN_AI_OUTPUT_MESSAGES, semconv.GEN_AI_SYSTEM_INSTRUCTIONS,
                    semconv.GEN_AI_TOOL_CALL_ARGUMENTS, semconv.GEN_AI_TOOL_CALL_RESULT} & set(span.attributes)


@pytest.mark.captures_content
def test_capture_content_setting_records_messages_in_the_genai_format(exporter):
    kit = kit_with(TracingPlugin(), config={"plugins": {"tracing": {"capture_content": True}}})
    kit.generate([{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi there"}], model="m")
    kit.call_tool("t", {"q": "x"}, lambda q: q * 2)
    chat, tool = exporter.get_finished_spans()
    assert json.loads(chat.attributes[semconv.GEN_AI_SYSTEM_INSTRUCTIONS]) == [{"type": "text", "content": "be brief"}]
    assert json.loads(chat.attributes[semconv.GEN_AI_INPUT_MESSAGES]) == [
        {"role": "user", "parts": [{"type": "text", "content": "hi there"}]}
    ]
    assert json.loads(chat.attributes[semconv.GEN_AI_OUTPUT_MESSAGES]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "hi there"}], "finish_reason": "stop"}
    ]
    assert json.loads(tool.attributes[semconv.GEN_AI_TOOL_CALL_ARGUMENTS]) == {"q": "x"}
    assert json.loads(tool.attributes[semconv.GEN_AI_TOOL_CALL_RESULT]) == "xx"


@pytest.mark.captures_content
@pytest.mark.parametrize(("value", "captured"), [("true", True), ("SPAN_ONLY", True), ("false", False), ("", False)])
def test_the_otel_genai_content_capture_variable_turns_capture_on(exporter, value, captured):
    kit = kit_with(TracingPlugin(env={semconv.CAPTURE_CONTENT_ENV: value}))
    kit.generate("hi")
    (span,) = exporter.get_finished_spans()
    assert (semconv.GEN_AI_INPUT_MESSAGES in span.attributes) is captured


def test_the_config_setting_overrides_the_content_capture_variable(exporter):
    plugin = TracingPlugin(env={semconv.CAPTURE_CONTENT_ENV: "true"})
    kit_with(plugin, config={"plugins": {"tracing": {"capture_content": False}}}).generate(f"hi {EMAIL}")
    (span,) = exporter.get_finished_spans()
    assert semconv.GEN_AI_INPUT_MESSAGES not in span.attributes


def test_request_id_and_conversation_id_from_metadata_become_attributes(exporter):
    kit = kit_with(TracingPlugin())
    kit.generate("hi", metadata={"request_id": "req-42", "conversation_id": "conv-7", "user_email": EMAIL})
    (span,) = exporter.get_finished_spans()
    assert span.attributes["beluga.request.request_id"] == "req-42"
    assert span.attributes[semconv.GEN_AI_CONVERSATION_ID] == "conv-7"
    assert not any("user_email" in k for k in span.attributes)


def test_metadata_attributes_setting_chooses_the_recorded_keys(exporter):
    config = {"plugins": {"tracing": {"metadata_attributes": ["project", "tier"]}}}
    kit_with(TracingPlugin(), config=config).generate("hi", metadata={"project": "p1", "tier": 2, "request_id": "r"})
    (span,) = exporter.get_finished_spans()
    assert span.attributes["beluga.request.project"] == "p1"
    assert span.attributes["beluga.request.tier"] == 2
    assert "beluga.request.request_id" not in span.attributes


def test_a_provider_api_key_never_reaches_a_span_even_on_failure(exporter):
    config = {"providers": {"echo": {"api_key": SECRET, "options": {"fail_times": 1, "fail_code": "auth"}}}}
    kit = kit_with(TracingPlugin(), config=config)
    with pytest.raises(ProviderError):
        kit.generate(f"my key is {SECRET}", model="m")
    kit.generate("again", model="m")
    assert len(exporter.get_finished_spans()) == 2  # the fixture checks no span holds the key


def test_a_plugin_built_with_its_own_provider_keeps_its_spans_there(exporter):
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    own = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(own))
    kit_with(TracingPlugin(tracer_provider=provider)).generate("hi")
    assert [s.name for s in own.get_finished_spans()] == ["chat"]
    assert exporter.get_finished_spans() == ()


def test_tracing_placed_inside_retry_gives_one_span_per_attempt(exporter):
    config = {"beluga": {"plugins": ["test-retry", "tracing"]}}
    kit = kit_with(TracingPlugin(), CountingRetry(), config=config)
    kit.provider().fail_next(2)
    kit.generate("hi", model="m")
    spans = exporter.get_finished_spans()
    errors = [s.attributes.get(semconv.ERROR_TYPE) for s in spans]
    assert errors == ["provider_unavailable", "provider_unavailable", None]


def test_sync_generate_nests_under_the_span_current_at_the_call(exporter):
    kit = kit_with(TracingPlugin())
    with start_span("first request"):
        kit.generate("a", model="one")
    with start_span("second request"):
        kit.generate("b", model="two")
    spans = by_name(exporter)
    assert spans["chat one"].parent.span_id == spans["first request"].context.span_id
    assert spans["chat two"].parent.span_id == spans["second request"].context.span_id


def test_repeated_calls_each_get_their_own_request_attributes_and_model_names(exporter):
    # The per-(provider, model) start attributes are cached: one call's extras never leak into the next.
    kit = kit_with(TracingPlugin())
    kit.generate("hi", model="m1", max_tokens=5, metadata={"request_id": "r-1"})
    kit.generate("hi", model="m1")
    kit.generate("hi", model="m2", temperature=0.5)
    first, second, third = exporter.get_finished_spans()
    assert (first.name, second.name, third.name) == ("chat m1", "chat m1", "chat m2")
    assert first.attributes[semconv.GEN_AI_REQUEST_MAX_TOKENS] == 5
    assert first.attributes["beluga.request.request_id"] == "r-1"
    assert semconv.GEN_AI_REQUEST_MAX_TOKENS not in second.attributes
    assert "beluga.request.request_id" not in second.attributes
    assert third.attributes[semconv.GEN_AI_REQUEST_MODEL] == "m2"
    assert semconv.GEN_AI_REQUEST_TEMPERATURE not in second.attributes


def test_a_config_reload_changes_the_provider_and_deprecated_names_of_later_spans(exporter):
    kit = kit_with(TracingPlugin())
    kit.generate("hi", model="m")
    config = {
        "beluga": {"provider": "fast"},
        "providers": {"fast": {"type": "echo", "model": "m"}},
        "plugins": {"tracing": {"emit_deprecated": True}},
    }
    assert kit.reload(config).applied
    kit.generate("hi", model="m")
    before, after = exporter.get_finished_spans()
    assert "gen_ai.system" not in before.attributes
    assert after.attributes["gen_ai.system"] == after.attributes[semconv.GEN_AI_PROVIDER_NAME] == "echo"
