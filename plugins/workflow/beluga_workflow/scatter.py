"""``Scatter``: the same input to every node, run concurrently, results in node order."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from typing import Any

from beluga_core import TimeoutBudget, run_sync
from beluga_workflow._tracing import active_tracer, step_span, workflow_span
from beluga_workflow.errors import NodeFailed, NodeTimeout
from beluga_workflow.runnable import NodeCall, Runnable, as_runnable, node_call, resolve_deadline, run_node


class ScatterResult(Sequence[Any]):
    """What a partial-mode scatter returns: every node's value in node order (None where it
    failed), and ``errors`` by node name. Reads like a list of the values."""

    __slots__ = ("errors", "names", "values")

    def __init__(self, names: tuple[str, ...], values: list[Any], errors: dict[str, NodeFailed]) -> None:
        self.names = names
        self.values = values
        self.errors = errors

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def succeeded(self) -> dict[str, Any]:
        """Values of the nodes that succeeded, by name, in node order."""
        return {n: v for n, v in zip(self.names, self.values, strict=True) if n not in self.errors}

    def __getitem__(self, index: Any) -> Any:
        return self.values[index]

    def __len__(self) -> int:
        return len(self.values)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.values)

    def __repr__(self) -> str:
        failed = ", ".join(self.errors) or "none"
        return f"ScatterResult({len(self.values)} nodes, failed: {failed})"


class Scatter:
    """Run every node on the same input concurrently; results come back in node order.

    A failing node fails the scatter with ``NodeFailed`` naming it (its exception chained) and the
    other nodes are cancelled; with ``return_exceptions=True`` every node runs to its end and a
    ``ScatterResult`` holds the values and the per-node errors. ``concurrency`` caps how many run
    at once; ``timeout`` caps each node, within what is left of the call's deadline.

    >>> Scatter(search_web, search_docs).invoke("query")   # [web_result, docs_result]
    """

    def __init__(
        self,
        *nodes: Any,
        name: str = "scatter",
        concurrency: int | None = None,
        timeout: float | None = None,
        return_exceptions: bool = False,
    ) -> None:
        if not nodes:
            raise ValueError(f"Scatter {name!r} needs at least one node")
        if concurrency is not None and concurrency < 1:
            raise ValueError(f"Scatter {name!r}: concurrency must be at least 1, got {concurrency!r}")
        if timeout is not None and timeout <= 0:
            raise ValueError(f"Scatter {name!r}: timeout must be positive, got {timeout!r}")
        self.name = name
        self.nodes: tuple[Runnable, ...] = tuple(as_runnable(n) for n in nodes)
        seen: set[str] = set()
        for node in self.nodes:
            if node.name in seen:
                raise ValueError(
                    f"Scatter {name!r}: two nodes are named {node.name!r}; give each a distinct name "
                    "(runnable(fn, name=...), KitNode(..., name=...))"
                )
            seen.add(node.name)
        self.names = tuple(n.name for n in self.nodes)
        self._calls: tuple[NodeCall, ...] = tuple(node_call(n) for n in self.nodes)
        self.concurrency = concurrency
        self.timeout = timeout
        self.return_exceptions = return_exceptions

    async def ainvoke(self, input: Any, /, *, timeout: float | None = None, budget: TimeoutBudget | None = None) -> Any:
        """Run the nodes; ``timeout``/``budget`` set the call's deadline (an enclosing step's applies too)."""
        deadline = resolve_deadline(timeout, budget)
        tracer = active_tracer()
        if tracer is None:
            return await self._run(input, deadline, None)
        with workflow_span(tracer, self.name, "scatter", len(self._calls)):
            return await self._run(input, deadline, tracer)

    def invoke(self, input: Any, /, *, timeout: float | None = None, budget: TimeoutBudget | None = None) -> Any:
        """Synchronous ``ainvoke`` for plain scripts."""
        return run_sync(self.ainvoke(input, timeout=timeout, budget=budget), f"Scatter {self.name!r}.invoke")

    async def _run(self, value: Any, deadline: float | None, tracer: Any) -> Any:
        calls = self._calls
        n = len(calls)
        results: list[Any] = [None] * n
        failures: list[NodeFailed] = []
        errors: dict[str, NodeFailed] = {}
        partial = self.return_exceptions
        per_node = self.timeout
        sem = asyncio.Semaphore(self.concurrency) if self.concurrency is not None and self.concurrency < n else None
        workflow = self.name

        async def one(i: int, call: NodeCall) -> None:
            try:
                if sem is not None:
                    async with sem:
                        results[i] = await _traced(tracer, workflow, call, value, deadline, per_node, i)
                else:
                    results[i] = await _traced(tracer, workflow, call, value, deadline, per_node, i)
            except Exception as exc:  # noqa: BLE001 - a node's failure is reported as NodeFailed
                if isinstance(exc, NodeTimeout) and exc.node == call[0] and exc.workflow == workflow:
                    err: NodeFailed = exc
                else:
                    err = NodeFailed(workflow, call[0], exc)
                    err.__cause__ = exc
                if partial:
                    errors[call[0]] = err
                    return
                failures.append(err)
                raise err from err.__cause__

        try:
            async with asyncio.TaskGroup() as tg:
                for i, call in enumerate(calls):
                    tg.create_task(one(i, call))
        except BaseExceptionGroup:
            if not failures:
                raise
            first = failures[0]
            others = [f.node for f in failures[1:]]
            if others:
                first.add_note(f"also failed before the scatter stopped: {', '.join(others)}")
            raise first from first.__cause__
        if partial:
            return ScatterResult(self.names, results, {n: errors[n] for n in self.names if n in errors})
        return results

    def __repr__(self) -> str:
        return f"<Scatter {self.name!r} nodes={list(self.names)}>"


async def _traced(
    tracer: Any, workflow: str, call: NodeCall, value: Any, deadline: float | None, per_node: float | None, i: int
) -> Any:
    if tracer is None:
        return await run_node(workflow, call, value, deadline, per_node)
    with step_span(tracer, workflow, call[0], i):
        return await run_node(workflow, call, value, deadline, per_node)
