"""``Graph``: named nodes joined by conditional edges, walked from an entry node."""

from __future__ import annotations

import asyncio
import difflib
import inspect
from collections.abc import Callable
from inspect import isawaitable
from typing import Any, NamedTuple

import attrs

from beluga_core import TimeoutBudget, run_sync
from beluga_workflow._tracing import _API, _MOVED, active_tracer, step_span, workflow_span
from beluga_workflow.errors import GraphValidationError, NodeFailed, NodeTimeout, StepLimitExceeded, WorkflowError
from beluga_workflow.runnable import (
    _STEP,
    NodeCall,
    Runnable,
    as_runnable,
    node_call,
    resolve_deadline,
    run_node,
)

Condition = Callable[[Any], Any]


@attrs.frozen(slots=True)
class Edge:
    """A route from one node to another, taken when ``condition(output_of_from_node)`` is true
    (no condition: always). The next node's input is the output of ``from_``."""

    from_: str
    to: str
    condition: Condition | None = None


_Edges = tuple[tuple[str, Condition | None, bool], ...]


class _Node(NamedTuple):
    call: NodeCall
    fn: Callable[[Any], Any]
    is_async: bool
    edges: _Edges
    fan_out: bool
    join: str | None


# A node compiled for the fast walk: [name, fn, is_async, cond, target, more, default, slow], a
# list so that records can point at each other (cycles). The node's sync conditional edges before
# its first unconditional one are ``cond`` -> ``target`` (the first; None if there is none) then
# ``more``, a tuple of (condition, target record); ``default`` is the target record of the first
# unconditional edge (None: the run ends there). ``slow`` is the node's edges when one of its
# conditions is async (then routed by the general loop), else None.
_Rec = list[Any]


class _Plan(NamedTuple):
    entry: str
    nodes: dict[str, _Node]
    recs: dict[str, _Rec]
    entry_rec: _Rec
    fast: bool  # no fan-out node and no node_timeout: a run without deadline or tracer takes the inlined walk
    counting: bool  # the step limit can be reached (a cycle, or more nodes than max_steps): count steps


class _Run:
    __slots__ = ("deadline", "steps", "tracer", "trail")

    def __init__(self, deadline: float | None, tracer: Any) -> None:
        self.deadline = deadline
        self.tracer = tracer
        self.steps = 0
        self.trail: list[str] = []


def _acyclic(names: list[str], edges: list[Edge]) -> bool:
    """True when the edges form no cycle (Kahn's algorithm)."""
    indegree = dict.fromkeys(names, 0)
    out: dict[str, list[str]] = {}
    for e in edges:
        out.setdefault(e.from_, []).append(e.to)
        indegree[e.to] += 1
    todo = [n for n, d in indegree.items() if d == 0]
    seen = 0
    while todo:
        seen += 1
        for nxt in out.get(todo.pop(), ()):
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                todo.append(nxt)
    return seen == len(names)


def _did_you_mean(name: str, names: list[str]) -> str:
    """The hint after an unknown node's name: the closest node name, else every node's."""
    close = difflib.get_close_matches(name, names, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (nodes: {', '.join(names) or 'none'})"


def _records(nodes: dict[str, _Node]) -> dict[str, _Rec]:
    """The fast walk's records (``_Rec``), one per node, pointing at each other."""
    recs: dict[str, _Rec] = {name: [name, n.fn, n.is_async, None, None, (), None, None] for name, n in nodes.items()}
    for name, n in nodes.items():
        rec = recs[name]
        if any(cond_async for _, _, cond_async in n.edges):
            rec[7] = n.edges
            continue
        conds: list[tuple[Condition, _Rec]] = []
        for to, cond, _ in n.edges:
            if cond is None:
                rec[6] = recs[to]
                break
            conds.append((cond, recs[to]))
        if conds:
            rec[3], rec[4] = conds[0]
            rec[5] = tuple(conds[1:])
    return recs


class Graph:
    """Nodes and conditional edges, walked from the entry node until a node has no matching edge.

    Routing: a node's outgoing edges are tried in the order they were added and the first whose
    condition holds is taken (so a condition-less edge added last is the default). A node added
    with ``fan_out=True`` takes every matching edge at once, runs the branches concurrently and,
    with ``join="name"``, continues at that node with ``{branch: output}``. Cycles are allowed;
    more than ``max_steps`` node runs raise ``StepLimitExceeded``. The graph is validated before
    its first run (``validate()`` does it on demand): unknown or unreachable nodes, no entry.
    """

    def __init__(self, name: str = "graph", *, max_steps: int = 50, node_timeout: float | None = None) -> None:
        self.name = name
        self._plan: _Plan | None = None
        self.max_steps = max_steps
        self.node_timeout = node_timeout
        self._nodes: dict[str, Runnable] = {}
        self._edges: list[Edge] = []
        self._fan_out: set[str] = set()
        self._join: dict[str, str] = {}
        self._entry: str | None = None

    @property
    def max_steps(self) -> int:
        """Node runs allowed per run (cycles); one more raises ``StepLimitExceeded``."""
        return self._max_steps

    @max_steps.setter
    def max_steps(self, value: int) -> None:
        if value < 1:
            raise ValueError(f"Graph {self.name!r}: max_steps must be at least 1, got {value!r}")
        self._max_steps = value
        self._plan = None

    @property
    def node_timeout(self) -> float | None:
        """Seconds each node may run (None: only the call's deadline applies)."""
        return self._node_timeout

    @node_timeout.setter
    def node_timeout(self, value: float | None) -> None:
        if value is not None and value <= 0:
            raise ValueError(f"Graph {self.name!r}: node_timeout must be positive, got {value!r}")
        self._node_timeout = value
        self._plan = None

    # -- building ----------------------------------------------------------------------------
    def add_node(self, name: str, node: Any, *, fan_out: bool = False, join: str | None = None) -> Graph:
        """Add a node (a runnable or a plain function). ``fan_out=True`` follows every matching edge."""
        if not isinstance(name, str) or not name:
            raise GraphValidationError(self.name, [f"a node name must be a non-empty string, got {name!r}"])
        if name in self._nodes:
            raise GraphValidationError(self.name, [f"node {name!r} is added twice"], [name])
        if join is not None and not fan_out:
            raise GraphValidationError(self.name, [f"node {name!r} has join={join!r} but not fan_out=True"], [name])
        self._nodes[name] = as_runnable(node, name)
        if fan_out:
            self._fan_out.add(name)
        if join is not None:
            self._join[name] = join
        self._plan = None
        return self

    def add_edge(self, edge: Edge | str, to: str | None = None, condition: Condition | None = None) -> Graph:
        """Add ``Edge(from_, to, condition)`` (or ``add_edge(from_, to, condition)``)."""
        if not isinstance(edge, Edge):
            if to is None:
                raise TypeError("add_edge() takes an Edge, or from_ and to node names")
            edge = Edge(edge, to, condition)
        self._edges.append(edge)
        self._plan = None
        return self

    def set_entry(self, name: str) -> Graph:
        """Name the node every run starts at."""
        self._entry = name
        self._plan = None
        return self

    @property
    def nodes(self) -> tuple[str, ...]:
        return tuple(self._nodes)

    @property
    def edges(self) -> tuple[Edge, ...]:
        return tuple(self._edges)

    def validate(self) -> Graph:
        """Check the graph and prepare it to run; raises ``GraphValidationError`` listing every problem."""
        self._compile()
        return self

    def _compile(self) -> _Plan:
        """Check the graph (``GraphValidationError`` lists every problem) and build the plan its runs
        walk, kept until the graph changes."""
        names = list(self._nodes)
        issues, bad = self._problems(names)
        if issues:
            raise GraphValidationError(self.name, issues, bad)
        assert self._entry is not None
        nodes = self._compiled_nodes()
        recs = _records(nodes)
        plan = _Plan(
            self._entry, nodes, recs, recs[self._entry],
            not self._fan_out and self._node_timeout is None,
            not _acyclic(names, self._edges) or len(names) > self._max_steps,
        )
        self._plan = plan
        return plan

    def _problems(self, names: list[str]) -> tuple[list[str], list[str]]:
        """What keeps the graph from running (no nodes, no entry, unknown or unreachable nodes), one
        message each, and the node names at fault."""
        issues: list[str] = []
        bad: list[str] = []
        if not names:
            issues.append("it has no nodes; add some with add_node(name, node)")
        if self._entry is None and names:
            issues.append(f"it has no entry node; call set_entry(name) with one of: {', '.join(names)}")
        for what, name in self._unknown_references():
            issues.append(f"{what}: unknown node {name!r}{_did_you_mean(name, names)}")
            bad.append(name)
        for name in self._unreachable(names):
            issues.append(f"node {name!r} is unreachable from entry {self._entry!r}; add an edge to it or remove it")
            bad.append(name)
        return issues, bad

    def _unknown_references(self) -> list[tuple[str, str]]:
        """(where, name) of each reference to a node that was never added: the entry, then the edges'
        ends, then the fan-out joins."""
        out: list[tuple[str, str]] = []
        if self._entry is not None and self._entry not in self._nodes:
            out.append(("set_entry()", self._entry))
        for e in self._edges:
            for end in (e.from_, e.to):
                if end not in self._nodes:
                    out.append((f"edge {e.from_!r} -> {e.to!r}", end))
        for src, join in self._join.items():
            if join not in self._nodes:
                out.append((f"join of fan-out node {src!r}", join))
        return out

    def _unreachable(self, names: list[str]) -> list[str]:
        """The nodes no edge or join leads to from the entry, in the order they were added (none when
        the entry is not a node: that is reported as unknown)."""
        if self._entry not in self._nodes:
            return []
        out: dict[str, list[str]] = {}
        for e in self._edges:
            out.setdefault(e.from_, []).append(e.to)
        for src, join in self._join.items():
            out.setdefault(src, []).append(join)
        reach = {self._entry}
        todo = [self._entry]
        while todo:
            for nxt in out.get(todo.pop(), ()):
                if nxt not in reach:
                    reach.add(nxt)
                    todo.append(nxt)
        return [name for name in names if name not in reach]

    def _compiled_nodes(self) -> dict[str, _Node]:
        """Each node with its call, its outgoing edges in the order they were added (each condition
        marked async or not) and its fan-out settings."""
        edges: dict[str, list[tuple[str, Condition | None, bool]]] = {}
        for e in self._edges:
            cond_async = e.condition is not None and inspect.iscoroutinefunction(e.condition)
            edges.setdefault(e.from_, []).append((e.to, e.condition, cond_async))
        compiled: dict[str, _Node] = {}
        for name, node in self._nodes.items():
            _, fn, is_async = node_call(node)
            call = (name, fn, is_async)  # the graph's name for the node, whatever the runnable calls itself
            compiled[name] = _Node(call, fn, is_async, tuple(edges.get(name, ())), name in self._fan_out,
                                   self._join.get(name))
        return compiled

    # -- running -----------------------------------------------------------------------------
    async def ainvoke(self, input: Any, /, *, timeout: float | None = None, budget: TimeoutBudget | None = None) -> Any:
        """Walk the graph from its entry with ``input``; returns the last node's output."""
        plan = self._plan or self._compile()
        outer = _STEP.get()
        if timeout is None and budget is None and (outer is None or outer[2] is None):
            deadline = None
        else:
            deadline = resolve_deadline(timeout, budget)
        tracer = None if _API.get("_TRACER_PROVIDER", _MOVED) is None else active_tracer()
        if tracer is None and deadline is None and plan.fast:
            # The fast walk, inlined here to save coroutine frames: no spans, no deadlines, no
            # fan-out; one step context per run whose node moves along.
            workflow = self.name
            max_steps = self._max_steps
            trail_from = max_steps - 8
            trail: list[str] | None = None
            steps = 0
            counting = plan.counting
            rec = plan.entry_rec
            value = input
            where = [workflow, plan.entry, None]
            token = _STEP.set(where)
            try:
                while True:
                    node, fn, is_async, cond, target, more, nxt, slow = rec
                    if counting:  # an acyclic graph cannot run into its step limit
                        steps += 1
                        if steps > trail_from:  # only the last steps before the limit are kept, for its error
                            if trail is None:
                                trail = []
                            if steps > max_steps:
                                raise StepLimitExceeded(workflow, max_steps, trail[-8:], node)
                            trail.append(node)
                    where[1] = node
                    try:
                        if is_async:
                            out = await fn(value)
                        else:
                            out = fn(value)
                            if isawaitable(out):
                                out = await out
                    except NodeTimeout as exc:
                        if exc.workflow == workflow and exc.node == node:
                            raise
                        raise NodeFailed(workflow, node, exc) from exc
                    except Exception as exc:
                        raise NodeFailed(workflow, node, exc) from exc
                    if cond is not None:
                        try:
                            if cond(out):
                                nxt = target
                            elif more:
                                for cond, target in more:
                                    if cond(out):
                                        nxt = target
                                        break
                        except Exception as exc:
                            raise self._condition_failed(node, target[0], exc) from exc
                    elif slow is not None:
                        found = await self._matching(slow, out, node, every=False)
                        nxt = plan.recs[found[0]] if found else None  # type: ignore[index]
                    if nxt is None:
                        return out
                    rec = nxt
                    value = out
            finally:
                _STEP.reset(token)
        run = _Run(deadline, tracer)
        if run.tracer is None:
            return await self._walk(plan, plan.entry, input, run, None)
        with workflow_span(run.tracer, self.name, "graph", len(plan.nodes)):
            return await self._walk(plan, plan.entry, input, run, None)

    def invoke(self, input: Any, /, *, timeout: float | None = None, budget: TimeoutBudget | None = None) -> Any:
        """Synchronous ``ainvoke`` for plain scripts."""
        return run_sync(self.ainvoke(input, timeout=timeout, budget=budget), f"Graph {self.name!r}.invoke")

    async def _walk(self, plan: _Plan, node: str, value: Any, run: _Run, stop_at: str | None) -> Any:
        where = [self.name, node, None]
        token = _STEP.set(where)
        try:
            return await self._steps(plan, node, value, run, stop_at, where)
        finally:
            _STEP.reset(token)

    async def _steps(self, plan: _Plan, node: str, value: Any, run: _Run, stop_at: str | None, where: list[Any]) -> Any:
        nodes = plan.nodes
        workflow = self.name
        per_node = self._node_timeout
        max_steps = self._max_steps
        trail_from = max_steps - 8
        plain = run.tracer is None and run.deadline is None and per_node is None
        while True:
            steps = run.steps = run.steps + 1
            if steps > trail_from:  # only the last steps before the limit are kept, for its error
                if steps > max_steps:
                    raise StepLimitExceeded(workflow, max_steps, run.trail[-8:], node)
                run.trail.append(node)
            call, fn, is_async, edges, fan_out, join = nodes[node]
            try:
                if plain:
                    where[1] = node
                    if is_async:
                        out = await fn(value)
                    else:
                        out = fn(value)
                        if inspect.isawaitable(out):
                            out = await out
                elif run.tracer is None:
                    out = await run_node(workflow, call, value, run.deadline, per_node)
                else:
                    with step_span(run.tracer, workflow, node, steps):
                        out = await run_node(workflow, call, value, run.deadline, per_node)
            except NodeTimeout as exc:
                if exc.workflow == workflow and exc.node == node:
                    raise
                raise NodeFailed(workflow, node, exc) from exc
            except Exception as exc:
                raise NodeFailed(workflow, node, exc) from exc
            if not edges:
                return out
            if fan_out:
                targets = [to for to in await self._matching(edges, out, node, every=True) if to is not None]
                if not targets:
                    return out
                merged = await self._branches(plan, targets, out, run, join)
                if join is None or join == stop_at:
                    return merged
                node, value = join, merged
                continue
            to = None
            try:
                for to, cond, cond_async in edges:  # noqa: B007 - `to` is the edge taken after break
                    if cond is None or (await cond(out) if cond_async else cond(out)):
                        break
                else:
                    return out
            except Exception as exc:
                raise self._condition_failed(node, str(to), exc) from exc
            node = to
            value = out
            if node == stop_at:
                return value

    async def _matching(self, edges: _Edges, out: Any, src: str, *, every: bool) -> list[str | None]:
        found: list[str | None] = []
        for to, cond, cond_async in edges:
            if to in found:
                continue
            try:
                ok = cond is None or (await cond(out) if cond_async else cond(out))
            except Exception as exc:
                raise self._condition_failed(src, to, exc) from exc
            if ok:
                found.append(to)
                if not every:
                    break
        return found

    def _condition_failed(self, src: str, dst: str, exc: Exception) -> WorkflowError:
        return WorkflowError(
            None, f"graph {self.name!r}: the condition of edge {src!r} -> {dst!r} raised {type(exc).__name__}: {exc}"
        )

    async def _branches(
        self, plan: _Plan, targets: list[str], value: Any, run: _Run, join: str | None
    ) -> dict[str, Any]:
        results: dict[str, Any] = {}
        failures: list[BaseException] = []

        async def branch(target: str) -> None:
            try:
                results[target] = await self._walk(plan, target, value, run, join)
            except Exception as exc:
                failures.append(exc)
                raise

        try:
            async with asyncio.TaskGroup() as tg:
                for target in targets:
                    tg.create_task(branch(target))
        except BaseExceptionGroup:
            if not failures:
                raise
            raise failures[0] from failures[0].__cause__
        return {t: results[t] for t in targets}

    def __repr__(self) -> str:
        return f"<Graph {self.name!r} nodes={list(self._nodes)} entry={self._entry!r}>"


__all__ = ["Edge", "Graph"]
