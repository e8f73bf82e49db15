"""Scatter: concurrency, node order, failure and cancellation, partial results, limits, deadlines."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from beluga_core import ErrorCode, RateLimited, TimeoutBudget
from beluga_workflow import NodeFailed, NodeTimeout, Scatter, ScatterResult, current_step, remaining, runnable


def sleeper(name: str, seconds: float, log: list[str] | None = None) -> object:
    async def node(x: object) -> str:
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            if log is not None:
                log.append(f"{name} cancelled")
            raise
        if log is not None:
            log.append(f"{name} finished")
        return f"{name}:{x}"

    return runnable(node, name=name)


def test_scatter_of_three_sleeping_nodes_takes_about_one_nodes_time() -> None:
    scatter = Scatter(sleeper("a", 0.2), sleeper("b", 0.2), sleeper("c", 0.2))
    t0 = time.perf_counter()
    assert scatter.invoke("q") == ["a:q", "b:q", "c:q"]
    assert time.perf_counter() - t0 < 0.45


def test_results_come_back_in_node_order_not_completion_order() -> None:
    scatter = Scatter(sleeper("slow", 0.15), sleeper("fast", 0.0), sleeper("mid", 0.05))
    assert scatter.invoke(1) == ["slow:1", "fast:1", "mid:1"]


def test_sync_and_async_functions_mix_and_get_the_same_input() -> None:
    async def double(x: int) -> int:
        return x * 2

    def square(x: int) -> int:
        return x * x

    assert Scatter(double, square, lambda x: -x).invoke(7) == [14, 49, -7]


def test_a_failing_node_fails_the_scatter_naming_it_with_its_exception_chained() -> None:
    def parse(x: str) -> int:
        raise ValueError("not a number")

    with pytest.raises(NodeFailed) as info:
        Scatter(sleeper("ok", 0.0), runnable(parse, name="parse"), name="extract").invoke("x")
    err = info.value
    assert err.node == "parse" and err.workflow == "extract"
    assert "parse" in str(err) and "extract" in str(err) and "not a number" in str(err)
    assert isinstance(err.__cause__, ValueError)
    assert err.code is ErrorCode.TOOL_FAILED


def test_a_failing_nodes_beluga_error_code_is_kept_for_retry_policies() -> None:
    def limited(x: object) -> None:
        raise RateLimited(retry_after=2.0)

    with pytest.raises(NodeFailed) as info:
        Scatter(limited).invoke(None)
    assert info.value.code is ErrorCode.RATE_LIMIT and info.value.retryable


def test_a_failure_cancels_the_other_nodes_and_they_really_stop() -> None:
    log: list[str] = []

    async def fail_soon(x: object) -> None:
        await asyncio.sleep(0.05)
        raise RuntimeError("boom")

    scatter = Scatter(sleeper("long1", 5.0, log), runnable(fail_soon, name="fails"), sleeper("long2", 5.0, log))
    t0 = time.perf_counter()
    with pytest.raises(NodeFailed) as info:
        scatter.invoke(None)
    assert time.perf_counter() - t0 < 1.0
    assert info.value.node == "fails"
    # The scatter returns only after the others have observed their cancellation.
    assert sorted(log) == ["long1 cancelled", "long2 cancelled"]


def test_partial_mode_returns_every_value_and_per_node_errors() -> None:
    def broken(x: object) -> None:
        raise KeyError("missing")

    scatter = Scatter(sleeper("a", 0.05), runnable(broken, name="broken"), sleeper("c", 0.0), return_exceptions=True)
    result = scatter.invoke("in")
    assert isinstance(result, ScatterResult)
    assert list(result) == ["a:in", None, "c:in"]
    assert set(result.errors) == {"broken"} and not result.ok
    assert isinstance(result.errors["broken"], NodeFailed)
    assert isinstance(result.errors["broken"].__cause__, KeyError)
    assert result.succeeded == {"a": "a:in", "c": "c:in"}


def test_partial_mode_does_not_cancel_the_other_nodes() -> None:
    log: list[str] = []

    def broken(x: object) -> None:
        raise RuntimeError("x")

    result = Scatter(runnable(broken, name="broken"), sleeper("slow", 0.1, log), return_exceptions=True).invoke(0)
    assert log == ["slow finished"] and result[1] == "slow:0"


def test_concurrency_limit_caps_the_nodes_running_at_once() -> None:
    active = 0
    peak = 0

    async def tracked(x: object) -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.05)
        active -= 1

    nodes = [runnable(tracked, name=f"n{i}") for i in range(6)]
    t0 = time.perf_counter()
    Scatter(*nodes, concurrency=2).invoke(None)
    elapsed = time.perf_counter() - t0
    assert peak == 2
    assert elapsed >= 0.14  # three waves of 0.05 s


def test_node_timeout_fails_the_scatter_with_NodeTimeout_naming_the_node() -> None:
    scatter = Scatter(sleeper("quick", 0.0), sleeper("stuck", 5.0), timeout=0.1, name="lookup")
    t0 = time.perf_counter()
    with pytest.raises(NodeTimeout) as info:
        scatter.invoke(None)
    assert time.perf_counter() - t0 < 1.0
    assert info.value.node == "stuck" and info.value.code is ErrorCode.TIMEOUT
    assert "stuck" in str(info.value) and "lookup" in str(info.value)


def test_each_node_gets_what_is_left_of_the_calls_budget() -> None:
    seen: list[float | None] = []

    async def look(x: object) -> None:
        seen.append(remaining())

    budget = TimeoutBudget(0.5)
    Scatter(look, runnable(look, name="look2")).invoke(None, budget=budget)
    assert len(seen) == 2 and all(s is not None and 0 < s <= 0.5 for s in seen)
    with pytest.raises(NodeTimeout):
        Scatter(sleeper("slow", 5.0)).invoke(None, timeout=0.1)


def test_the_per_node_timeout_is_capped_by_the_call_deadline() -> None:
    seen: list[float | None] = []

    async def look(x: object) -> None:
        seen.append(remaining())

    Scatter(look, timeout=30).invoke(None, timeout=0.3)
    assert seen[0] is not None and seen[0] <= 0.3


def test_an_expired_budget_fails_before_the_nodes_run() -> None:
    ran: list[str] = []
    budget = TimeoutBudget(0.0)
    with pytest.raises(NodeTimeout):
        Scatter(lambda x: ran.append("ran")).invoke(None, budget=budget)
    assert ran == []


def test_nodes_know_which_workflow_step_they_run_in() -> None:
    def where(x: object) -> tuple[str, str]:
        step = current_step()
        assert step is not None
        return step.workflow, step.node

    assert Scatter(runnable(where, name="w"), name="s").invoke(None) == [("s", "w")]
    assert current_step() is None


def test_thread_true_runs_a_blocking_function_in_a_worker_thread() -> None:
    def blocking(x: object) -> str:
        time.sleep(0.15)
        return threading.current_thread().name

    nodes = [runnable(blocking, name=f"b{i}", thread=True) for i in range(3)]
    t0 = time.perf_counter()
    names = Scatter(*nodes).invoke(None)
    assert time.perf_counter() - t0 < 0.4
    assert threading.main_thread().name not in names


def test_two_nodes_with_the_same_name_are_refused() -> None:
    def fetch(x: object) -> None: ...

    with pytest.raises(ValueError, match="fetch"):
        Scatter(fetch, fetch)


def test_sync_invoke_inside_an_event_loop_says_to_await_ainvoke() -> None:
    async def main() -> None:
        with pytest.raises(RuntimeError, match="await its async form"):
            Scatter(lambda x: x).invoke(1)
        assert await Scatter(lambda x: x).ainvoke(1) == [1]

    asyncio.run(main())
