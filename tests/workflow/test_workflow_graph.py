"""Graph: routing, determinism, fan-out and join, cycles and step limits, validation, failures."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from beluga_core import ErrorCode
from beluga_workflow import (
    Edge,
    Graph,
    GraphValidationError,
    NodeFailed,
    NodeTimeout,
    Scatter,
    StepLimitExceeded,
    WorkflowError,
    current_step,
)


def support_graph() -> Graph:
    g = Graph("support")
    g.add_node("classify", lambda text: "billing" if "charge" in text else "other")
    g.add_node("billing", lambda label: f"billing team ({label})")
    g.add_node("general", lambda label: f"general queue ({label})")
    g.add_edge(Edge("classify", "billing", lambda label: label == "billing"))
    g.add_edge(Edge("classify", "general"))
    return g.set_entry("classify")


def test_conditional_edges_route_on_the_previous_nodes_output() -> None:
    g = support_graph()
    assert g.invoke("I was charged twice") == "billing team (billing)"
    assert g.invoke("how do I reset my password") == "general queue (other)"


def test_when_several_edges_match_the_first_added_wins_every_time() -> None:
    g = (
        Graph("ties")
        .add_node("start", lambda x: x)
        .add_node("first", lambda x: "first")
        .add_node("second", lambda x: "second")
    )
    g.add_edge(Edge("start", "first", lambda x: x > 0))
    g.add_edge(Edge("start", "second", lambda x: x > 0))
    g.set_entry("start")
    assert {g.invoke(1) for _ in range(20)} == {"first"}


def test_a_node_with_no_matching_edge_ends_the_run_with_its_output() -> None:
    g = Graph().add_node("a", lambda x: x + 1).add_node("b", lambda x: x * 100)
    g.add_edge(Edge("a", "b", lambda x: x > 10)).set_entry("a")
    assert g.invoke(1) == 2
    assert g.invoke(10) == 1100


def test_fan_out_runs_every_matching_branch_concurrently() -> None:
    async def web(q: str) -> str:
        await asyncio.sleep(0.2)
        return f"web:{q}"

    async def docs(q: str) -> str:
        await asyncio.sleep(0.2)
        return f"docs:{q}"

    g = Graph("research").add_node("plan", lambda q: q.upper(), fan_out=True)
    g.add_node("web", web).add_node("docs", docs).add_node("never", lambda q: "never")
    g.add_edge(Edge("plan", "web")).add_edge(Edge("plan", "docs")).add_edge(Edge("plan", "never", lambda q: False))
    g.set_entry("plan")
    t0 = time.perf_counter()
    assert g.invoke("q") == {"web": "web:Q", "docs": "docs:Q"}
    assert time.perf_counter() - t0 < 0.35


def test_fan_out_with_join_continues_at_the_join_with_every_branchs_output() -> None:
    g = Graph("research").add_node("plan", lambda q: q, fan_out=True, join="merge")
    g.add_node("web", lambda q: f"web:{q}").add_node("rank", lambda r: r.upper())
    g.add_node("docs", lambda q: f"docs:{q}")
    g.add_node("merge", lambda parts: " + ".join(f"{k}={v}" for k, v in parts.items()))
    g.add_edge(Edge("plan", "web")).add_edge(Edge("web", "rank")).add_edge(Edge("rank", "merge"))
    g.add_edge(Edge("plan", "docs")).add_edge(Edge("docs", "merge"))
    g.set_entry("plan")
    # Branches keep edge order in the result; the web branch ran two nodes before the join.
    assert g.invoke("x") == "web=WEB:X + docs=docs:x"


def test_a_failing_fan_out_branch_cancels_its_siblings() -> None:
    log: list[str] = []

    async def slow(q: str) -> str:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            log.append("slow cancelled")
            raise
        return q

    def broken(q: str) -> str:
        raise RuntimeError("index offline")

    g = Graph("research").add_node("plan", lambda q: q, fan_out=True).add_node("slow", slow).add_node("broken", broken)
    g.add_edge(Edge("plan", "slow")).add_edge(Edge("plan", "broken")).set_entry("plan")
    t0 = time.perf_counter()
    with pytest.raises(NodeFailed) as info:
        g.invoke("q")
    assert time.perf_counter() - t0 < 1.0
    assert info.value.node == "broken" and log == ["slow cancelled"]


def test_a_cycle_runs_until_its_exit_condition_holds() -> None:
    g = Graph("refine").add_node("draft", lambda n: n + 1).add_node("publish", lambda n: f"published after {n}")
    g.add_edge(Edge("draft", "draft", lambda n: n < 5)).add_edge(Edge("draft", "publish")).set_entry("draft")
    assert g.invoke(0) == "published after 5"


def test_a_cycle_that_never_exits_hits_the_step_limit_with_a_clear_error() -> None:
    g = Graph("spin", max_steps=7).add_node("think", lambda x: x).add_edge(Edge("think", "think")).set_entry("think")
    with pytest.raises(StepLimitExceeded) as info:
        g.invoke(0)
    err = info.value
    assert err.limit == 7 and err.workflow == "spin" and err.next_node == "think"
    assert "step limit of 7" in str(err) and "spin" in str(err) and "max_steps" in str(err)
    assert err.code is ErrorCode.BUDGET_EXHAUSTED


def test_the_step_limit_counts_every_node_run_including_fan_out_branches() -> None:
    g = Graph("wide", max_steps=3).add_node("a", lambda x: x, fan_out=True)
    g.add_node("b", lambda x: x).add_node("c", lambda x: x).add_node("d", lambda x: x)
    g.add_edge("a", "b").add_edge("a", "c").add_edge("a", "d").set_entry("a")
    with pytest.raises(StepLimitExceeded):
        g.invoke(0)


def test_validation_lists_unknown_and_unreachable_nodes_by_name() -> None:
    g = (
        Graph("broken")
        .add_node("classify", lambda x: x)
        .add_node("billing", lambda x: x)
        .add_node("orphan", lambda x: x)
    )
    g.add_edge(Edge("classify", "biling")).add_edge(Edge("classify", "billing")).set_entry("classify")
    with pytest.raises(GraphValidationError) as info:
        g.validate()
    err = info.value
    assert any("'biling'" in i and "did you mean 'billing'" in i for i in err.issues)
    assert any("'orphan'" in i and "unreachable" in i for i in err.issues)
    assert set(err.nodes) == {"biling", "orphan"}


def test_validation_requires_an_entry_that_exists() -> None:
    g = Graph("g").add_node("a", lambda x: x)
    with pytest.raises(GraphValidationError, match="no entry node"):
        g.validate()
    with pytest.raises(GraphValidationError, match="unknown node 'b'"):
        g.set_entry("b").validate()
    with pytest.raises(GraphValidationError, match="no nodes"):
        Graph("empty").validate()


def test_validation_names_an_unknown_join_and_lists_the_nodes_when_no_name_is_close() -> None:
    g = Graph("g").add_node("split", lambda x: x, fan_out=True, join="zzz").add_node("a", lambda x: x)
    g.add_edge("split", "a").set_entry("split")
    with pytest.raises(GraphValidationError) as info:
        g.validate()
    assert info.value.issues == ("join of fan-out node 'split': unknown node 'zzz' (nodes: split, a)",)
    assert info.value.nodes == ("zzz",)


def test_an_invalid_graph_fails_before_any_node_runs() -> None:
    ran: list[str] = []
    g = Graph("g").add_node("a", lambda x: ran.append("a")).add_edge("a", "missing").set_entry("a")
    with pytest.raises(GraphValidationError, match="missing"):
        g.invoke(None)
    assert ran == []


def test_adding_a_node_twice_or_a_join_without_fan_out_is_refused() -> None:
    g = Graph("g").add_node("a", lambda x: x)
    with pytest.raises(GraphValidationError, match="'a' is added twice"):
        g.add_node("a", lambda x: x)
    with pytest.raises(GraphValidationError, match="fan_out"):
        g.add_node("b", lambda x: x, join="a")


def test_a_failing_node_fails_the_graph_naming_the_node() -> None:
    def lookup(x: object) -> None:
        raise ConnectionError("db down")

    g = Graph("orders").add_node("parse", lambda x: x).add_node("lookup", lookup).add_edge("parse", "lookup")
    with pytest.raises(NodeFailed) as info:
        g.set_entry("parse").invoke("order 7")
    assert info.value.node == "lookup" and info.value.workflow == "orders"
    assert isinstance(info.value.__cause__, ConnectionError)


def test_a_condition_that_raises_names_its_edge() -> None:
    g = Graph("g").add_node("a", lambda x: x).add_node("b", lambda x: x)
    g.add_edge(Edge("a", "b", lambda x: x["missing"])).set_entry("a")
    with pytest.raises(WorkflowError, match="'a' -> 'b'") as info:
        g.invoke({})
    assert isinstance(info.value.__cause__, KeyError)


def test_async_conditions_and_nodes_are_awaited() -> None:
    async def is_big(x: int) -> bool:
        await asyncio.sleep(0)
        return x > 3

    async def grow(x: int) -> int:
        return x * 2

    g = Graph("g").add_node("grow", grow).add_node("big", lambda x: f"big {x}")
    g.add_edge(Edge("grow", "big", is_big)).set_entry("grow")
    assert g.invoke(2) == "big 4" and g.invoke(1) == 2


def test_node_timeout_and_call_timeout_stop_a_slow_node() -> None:
    async def slow(x: object) -> None:
        await asyncio.sleep(5)

    g = Graph("g", node_timeout=0.1).add_node("slow", slow).set_entry("slow")
    t0 = time.perf_counter()
    with pytest.raises(NodeTimeout) as info:
        g.invoke(None)
    assert info.value.node == "slow" and time.perf_counter() - t0 < 1.0
    g2 = Graph("g2").add_node("slow", slow).set_entry("slow")
    with pytest.raises(NodeTimeout):
        g2.invoke(None, timeout=0.1)


def test_a_scatter_can_be_a_graph_node_and_inherits_the_deadline() -> None:
    seen: list[Any] = []

    def look(x: object) -> str:
        from beluga_workflow import remaining

        seen.append((current_step(), remaining()))
        return "ok"

    g = Graph("outer").add_node("fan", Scatter(look, name="inner")).add_node("count", len)
    g.add_edge("fan", "count").set_entry("fan")
    assert g.invoke(None, timeout=10) == 1
    step, left = seen[0]
    assert step.workflow == "inner" and left is not None and left <= 10


def test_a_graph_runs_the_same_from_a_plain_script_and_from_async_code() -> None:
    g = support_graph()
    assert g.invoke("charge") == asyncio.run(g.ainvoke("charge"))


def test_every_node_sees_its_own_step_including_in_fan_out_branches() -> None:
    def where(x: Any) -> str:
        step = current_step()
        assert step is not None
        return f"{step.workflow}/{step.node}"

    g = Graph("g").add_node("a", where, fan_out=True, join="d").add_node("b", where).add_node("c", where)
    g.add_node("d", lambda parts: [where(None), *parts.values()])
    g.add_edge("a", "b").add_edge("a", "c").add_edge("b", "d").add_edge("c", "d").set_entry("a")
    assert g.invoke(None) == ["g/d", "g/b", "g/c"]
    assert current_step() is None


def test_a_runnable_is_known_by_its_graph_node_name_in_errors() -> None:
    class Slow:
        name = "model"

        async def ainvoke(self, x: object) -> None:
            await asyncio.sleep(5)

        def invoke(self, x: object) -> None: ...

    g = Graph("g", node_timeout=0.05).add_node("lookup", Slow()).set_entry("lookup")
    with pytest.raises(NodeTimeout) as info:
        g.invoke(None)
    assert info.value.node == "lookup" and info.value.workflow == "g"


def test_a_timeout_inside_a_nested_scatter_names_both_levels() -> None:
    async def slow(x: object) -> None:
        await asyncio.sleep(5)

    g = Graph("g", node_timeout=0.05).add_node("lookup", Scatter(slow, name="inner")).set_entry("lookup")
    with pytest.raises(NodeFailed) as info:
        g.invoke(None)
    assert info.value.node == "lookup" and info.value.code is ErrorCode.TIMEOUT
    inner = info.value.__cause__
    assert isinstance(inner, NodeTimeout) and inner.workflow == "inner" and inner.node == "slow"


def test_a_later_condition_that_raises_names_its_own_edge() -> None:
    g = Graph("g").add_node("a", lambda x: x).add_node("b", lambda x: x).add_node("c", lambda x: x)
    g.add_edge(Edge("a", "b", lambda x: False)).add_edge(Edge("a", "c", lambda x: x["missing"])).set_entry("a")
    with pytest.raises(WorkflowError, match="'a' -> 'c'"):
        g.invoke({})


def test_edges_after_an_unconditional_edge_are_never_tried() -> None:
    tried: list[str] = []

    def never(x: int) -> bool:
        tried.append("never")
        return True

    g = Graph("g").add_node("a", lambda x: x + 1).add_node("b", lambda x: f"b {x}").add_node("c", lambda x: f"c {x}")
    g.add_edge("a", "b").add_edge("a", "c", never).set_entry("a")
    assert g.invoke(1) == "b 2" and tried == []


def test_a_run_with_a_deadline_routes_exactly_like_one_without() -> None:
    # Untimed runs take the compiled fast walk, timed ones the general loop: same routes, same result.
    def graph(seen: list[str]) -> Graph:
        def step(name: str) -> Any:
            def run(x: int) -> int:
                step_now = current_step()
                assert step_now is not None and step_now.node == name
                seen.append(name)
                return x + 1

            return run

        async def is_odd(x: int) -> bool:
            return x % 2 == 1

        g = Graph("loop", max_steps=40)
        for name in ("start", "odd", "even", "check"):
            g.add_node(name, step(name))
        g.add_edge(Edge("start", "odd", is_odd)).add_edge("start", "even")
        g.add_edge("odd", "check").add_edge("even", "check")
        g.add_edge(Edge("check", "start", lambda x: x < 12)).add_edge(Edge("check", "odd", lambda x: x == 99))
        return g.set_entry("start")

    fast: list[str] = []
    timed: list[str] = []
    assert graph(fast).invoke(0) == graph(timed).invoke(0, timeout=30)
    assert fast == timed and fast[:3] == ["start", "odd", "check"]


def test_the_step_limit_error_lists_the_last_steps_on_the_fast_walk() -> None:
    g = Graph("spin", max_steps=12).add_node("a", lambda x: x).add_node("b", lambda x: x)
    g.add_edge("a", "b").add_edge("b", "a").set_entry("a")
    with pytest.raises(StepLimitExceeded) as info:
        g.invoke(0)
    assert info.value.next_node == "a" and info.value.path == ("a", "b") * 4
    # the same error as a timed run (the general loop) gives
    with pytest.raises(StepLimitExceeded) as timed:
        g.invoke(0, timeout=30)
    assert str(timed.value) == str(info.value)


def test_a_chain_longer_than_the_step_limit_stops_at_the_limit() -> None:
    g = Graph("chain", max_steps=3)
    for name in "abcde":
        g.add_node(name, lambda x: x + 1)
    for src, dst in zip("abcd", "bcde", strict=True):
        g.add_edge(src, dst)
    with pytest.raises(StepLimitExceeded) as info:
        g.set_entry("a").invoke(0)
    assert info.value.next_node == "d" and info.value.path == ("a", "b", "c")
    g.max_steps = 5
    assert g.invoke(0) == 5
