"""Workflows through a Kit: KitNode model calls with guards and metadata, the plugin, and spans."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from beluga_core import ErrorCode, GuardBlocked, GuardInput, GuardResult, ToolSpec, hookimpl
from beluga_core.testing import Recorder
from beluga_workflow import Edge, Graph, KitNode, NodeFailed, Scatter, runnable
from beluga_workflow.plugin import WorkflowPlugin
from beluga_workflow.prompt import PromptBuilder


class BlockWord:
    """A guard plugin that blocks one word on the way in."""

    name = "blockword"

    @hookimpl
    def on_input(self, guard_input: GuardInput) -> GuardResult | None:
        if "forbidden" in guard_input.text:
            return GuardResult.block("forbidden word")
        return None


def test_a_kit_node_is_a_model_call_through_the_kit(make_kit: Any) -> None:
    recorder = Recorder()
    kit = make_kit(recorder)
    ask = KitNode(kit, lambda topic: f"Tell me about {topic}", name="ask")
    g = Graph("qa").add_node("ask", ask).add_node("shout", str.upper).add_edge("ask", "shout").set_entry("ask")
    assert g.invoke("whales") == "TELL ME ABOUT WHALES"
    (request,) = recorder.requests
    assert request.metadata["workflow"] == "qa" and request.metadata["workflow_node"] == "ask"


def test_guards_apply_to_model_calls_inside_a_scatter(make_kit: Any) -> None:
    kit = make_kit(BlockWord())
    scatter = Scatter(KitNode(kit, name="a"), KitNode(kit, lambda x: f"{x} is forbidden", name="b"))
    with pytest.raises(NodeFailed) as info:
        scatter.invoke("this")
    assert info.value.node == "b"
    assert isinstance(info.value.__cause__, GuardBlocked)
    assert info.value.code is ErrorCode.GUARD_BLOCKED


def test_a_kit_node_passes_the_rest_of_the_deadline_to_the_model_call(make_kit: Any) -> None:
    recorder = Recorder()
    kit = make_kit(recorder)
    Graph("g").add_node("ask", KitNode(kit)).set_entry("ask").invoke("hi", timeout=5)
    request = recorder.requests[0]
    assert request.deadline is not None and 0 < request.remaining() <= 5


def test_a_kit_node_sends_a_built_prompts_messages_and_tools(make_kit: Any) -> None:
    recorder = Recorder()
    kit = make_kit(recorder)
    lookup = ToolSpec("lookup_order", "Find an order by id")
    builder = PromptBuilder().system("You help with orders.").tools(lookup).user("{question}")
    node = KitNode(kit, lambda q: builder.build({"question": q}), parse=lambda r: r)
    response = node.invoke("Where is order 7?")
    assert response.text == "Where is order 7?"
    assert recorder.requests[0].tools == (lookup,)
    assert recorder.requests[0].messages[0].text == "You help with orders."


def test_the_workflow_plugin_tags_model_calls_made_by_plain_function_nodes(make_kit: Any) -> None:
    recorder = Recorder()
    kit = make_kit(WorkflowPlugin(), recorder)

    async def summarize(text: str) -> str:
        return (await kit.agenerate(f"summarize: {text}")).text

    assert Scatter(runnable(summarize, name="sum"), name="digest").invoke("x") == ["summarize: x"]
    assert recorder.requests[0].metadata == {"workflow": "digest", "workflow_node": "sum"}
    kit.generate("outside")
    assert recorder.requests[1].metadata == {}


def test_the_workflow_plugin_can_be_told_not_to_tag(make_kit: Any) -> None:
    recorder = Recorder()
    kit = make_kit(("workflow", WorkflowPlugin()), recorder, config={"plugins": {"workflow": {"tag_requests": False}}})

    async def call(text: str) -> str:
        return (await kit.agenerate(text)).text

    Scatter(call).invoke("x")
    assert recorder.requests[0].metadata == {}


# -- spans -------------------------------------------------------------------------------------


@pytest.fixture
def spans() -> Iterator[Any]:
    """A real OpenTelemetry SDK provider with an in-memory exporter (shared if one is already set)."""
    trace_sdk = pytest.importorskip("opentelemetry.sdk.trace")
    from opentelemetry import trace
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    provider = trace.get_tracer_provider()
    if not isinstance(provider, trace_sdk.TracerProvider):
        provider = trace_sdk.TracerProvider()
        trace.set_tracer_provider(provider)
        provider = trace.get_tracer_provider()
    assert isinstance(provider, trace_sdk.TracerProvider), "another tracer provider is already installed"
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    yield exporter
    exporter.clear()
    processor.shutdown()


def test_a_traced_graph_run_emits_a_workflow_span_and_a_span_per_step(spans: Any) -> None:
    g = Graph("router").add_node("classify", lambda x: x).add_node("answer", lambda x: x)
    g.add_edge(Edge("classify", "answer")).set_entry("classify")
    g.invoke("q")
    finished = {s.name: s for s in spans.get_finished_spans()}
    run = finished["invoke_workflow router"]
    assert run.attributes["gen_ai.operation.name"] == "invoke_workflow"
    for step, node in ((1, "classify"), (2, "answer")):
        span = finished[f"workflow_step {node}"]
        assert span.parent is not None and span.parent.span_id == run.context.span_id
        assert span.attributes["beluga.workflow.step"] == step


def test_a_failing_step_span_records_the_error(spans: Any) -> None:
    from opentelemetry.trace import StatusCode

    def broken(x: object) -> None:
        raise ValueError("bad")

    with pytest.raises(NodeFailed):
        Scatter(broken, name="s").invoke(None)
    finished = {s.name: s for s in spans.get_finished_spans()}
    assert finished["workflow_step broken"].status.status_code is StatusCode.ERROR
    assert finished["invoke_workflow s"].status.status_code is StatusCode.ERROR
