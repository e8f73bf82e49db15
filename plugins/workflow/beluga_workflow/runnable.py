"""Runnables: anything with ``invoke``/``ainvoke``; plain functions and model calls made into one."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, overload, runtime_checkable

from beluga_core import LLMResponse, TimeoutBudget, ToolSpec, run_sync
from beluga_workflow.errors import NodeTimeout
from beluga_workflow.prompt import Prompt

if TYPE_CHECKING:
    from beluga_core import Kit


@runtime_checkable
class Runnable(Protocol):
    """A named step: ``await node.ainvoke(input)`` or ``node.invoke(input)`` returns its output."""

    name: str

    async def ainvoke(self, input: Any, /) -> Any: ...

    def invoke(self, input: Any, /) -> Any: ...


class Step(NamedTuple):
    """Where the running code is: workflow, node, and the node's deadline (``time.monotonic()``)."""

    workflow: str
    node: str
    deadline: float | None


# The step context a run keeps in ``_STEP``: ``[workflow, node, deadline]``. A list, not a class:
# a graph walk moves the node along by item assignment instead of setting the context variable at
# every step, and building one costs a third of an instance with __init__ (it is built per run).
_STEP: ContextVar[list[Any] | None] = ContextVar("beluga_workflow_step", default=None)


def current_step() -> Step | None:
    """The workflow step this code runs in, or None outside workflows."""
    where = _STEP.get()
    return None if where is None else Step(where[0], where[1], where[2])


def remaining() -> float | None:
    """Seconds left before the current node's deadline (never negative), or None without one."""
    step = _STEP.get()
    deadline: float | None = None if step is None else step[2]
    if deadline is None:
        return None
    return max(0.0, deadline - time.monotonic())


class FunctionNode:
    """A plain function, sync or async, as a runnable.

    A sync function runs on the event loop (fast, but it blocks it); ``thread=True`` runs it in a
    worker thread instead, for blocking I/O.
    """

    __slots__ = ("fn", "is_async", "name", "thread")

    def __init__(self, fn: Callable[[Any], Any], *, name: str | None = None, thread: bool = False) -> None:
        if not callable(fn):
            raise TypeError(f"runnable() needs a callable, got {type(fn).__name__}")
        self.fn = fn
        self.name = name or getattr(fn, "__name__", None) or type(fn).__name__
        self.is_async = inspect.iscoroutinefunction(fn)
        self.thread = thread and not self.is_async

    async def ainvoke(self, input: Any, /) -> Any:
        if self.is_async:
            return await self.fn(input)
        if self.thread:
            out = await asyncio.to_thread(self.fn, input)
        else:
            out = self.fn(input)
        if inspect.isawaitable(out):
            out = await out
        return out

    def invoke(self, input: Any, /) -> Any:
        if self.is_async:
            return run_sync(self.fn(input), f"node {self.name!r}.invoke")
        out = self.fn(input)
        if inspect.isawaitable(out):
            out = run_sync(_awaited(out), f"node {self.name!r}.invoke")
        return out

    def __call__(self, input: Any) -> Any:
        return self.fn(input)

    def __repr__(self) -> str:
        return f"<FunctionNode {self.name!r} {'async' if self.is_async else 'sync'}>"


async def _awaited(value: Awaitable[Any]) -> Any:
    return await value


@overload
def runnable(fn: Callable[[Any], Any], *, name: str | None = None, thread: bool = False) -> FunctionNode: ...


@overload
def runnable(
    fn: None = None, *, name: str | None = None, thread: bool = False
) -> Callable[[Callable[[Any], Any]], FunctionNode]: ...


def runnable(
    fn: Callable[[Any], Any] | None = None, *, name: str | None = None, thread: bool = False
) -> FunctionNode | Callable[[Callable[[Any], Any]], FunctionNode]:
    """Make a runnable from a function: ``runnable(fn, name="x")`` or as a decorator, ``@runnable``."""
    if fn is None:
        return lambda f: FunctionNode(f, name=name, thread=thread)
    return FunctionNode(fn, name=name, thread=thread)


def as_runnable(obj: Any, name: str | None = None) -> Runnable:
    """A runnable as is, or a callable wrapped in ``FunctionNode``."""
    if isinstance(obj, FunctionNode):
        if name is not None and name != obj.name:
            return FunctionNode(obj.fn, name=name, thread=obj.thread)
        return obj
    if hasattr(obj, "ainvoke") and hasattr(obj, "invoke"):
        return obj  # type: ignore[no-any-return]
    if callable(obj):
        return FunctionNode(obj, name=name)
    raise TypeError(f"a workflow node must be a runnable or a callable, got {type(obj).__name__}")


# (name, callable, is_async): how a Scatter or Graph calls a node without an extra coroutine frame.
NodeCall = tuple[str, Callable[[Any], Any], bool]


def node_call(node: Runnable) -> NodeCall:
    if type(node) is FunctionNode and not node.thread:
        return node.name, node.fn, node.is_async
    return node.name, node.ainvoke, True


def resolve_deadline(timeout: float | None, budget: TimeoutBudget | None) -> float | None:
    """The call's deadline (``time.monotonic()``): the tightest of timeout, budget and enclosing step."""
    deadline: float | None = None
    if timeout is not None:
        deadline = time.monotonic() + timeout
    if budget is not None:
        d = time.monotonic() + budget.remaining()
        deadline = d if deadline is None else min(deadline, d)
    outer = _STEP.get()
    if outer is not None and outer[2] is not None:
        deadline = outer[2] if deadline is None else min(deadline, outer[2])
    return deadline


async def run_node(workflow: str, call: NodeCall, value: Any, deadline: float | None, per_node: float | None) -> Any:
    """Run one node in its own step context, under its deadline; failures are raised as they are."""
    name, fn, is_async = call
    if per_node is not None:
        d = time.monotonic() + per_node
        deadline = d if deadline is None else min(deadline, d)
    token = _STEP.set([workflow, name, deadline])
    try:
        if deadline is None:
            if is_async:
                return await fn(value)
            out = fn(value)
            return await out if inspect.isawaitable(out) else out
        left = deadline - time.monotonic()
        if left <= 0:
            raise NodeTimeout(workflow, name, 0.0)
        try:
            async with asyncio.timeout(left) as scope:
                out = fn(value)
                if inspect.isawaitable(out):
                    out = await out
                return out
        except TimeoutError as exc:
            if scope.expired():
                raise NodeTimeout(workflow, name, left, exc) from exc
            raise
    finally:
        _STEP.reset(token)


def _text(response: LLMResponse) -> Any:
    return response.text


class KitNode:
    """A model call through a ``Kit`` as a workflow node, so guards, limits and traces apply.

    ``build_messages(input)`` turns the node's input into messages (a string, messages, or a
    ``beluga_workflow.prompt.Prompt`` whose tools are passed along); ``parse(response)`` turns the
    response into the node's output (default: the text). The call's timeout is what is left of the
    node's deadline.
    """

    def __init__(
        self,
        kit: Kit,
        build_messages: Callable[[Any], Any] | None = None,
        *,
        name: str = "model",
        parse: Callable[[LLMResponse], Any] = _text,
        tools: Sequence[ToolSpec] = (),
        metadata: Mapping[str, Any] | None = None,
        **generate: Any,
    ) -> None:
        self.kit = kit
        self.name = name
        self.build_messages = build_messages
        self.parse = parse
        self.tools = tuple(tools)
        self.metadata = dict(metadata or {})
        self.generate = generate

    async def ainvoke(self, input: Any, /) -> Any:
        built = self.build_messages(input) if self.build_messages is not None else input
        if inspect.isawaitable(built):
            built = await built
        tools = self.tools
        if isinstance(built, Prompt):
            tools = built.tools or tools
            built = built.messages
        step = _STEP.get()
        metadata = self.metadata
        if step is not None:
            metadata = {"workflow": step[0], "workflow_node": step[1], **metadata}
        response = await self.kit.agenerate(
            built, tools=tools or None, timeout=remaining(), metadata=metadata, **self.generate
        )
        return self.parse(response)

    def invoke(self, input: Any, /) -> Any:
        return run_sync(self.ainvoke(input), f"KitNode {self.name!r}.invoke")

    def __repr__(self) -> str:
        return f"<KitNode {self.name!r}>"


__all__ = [
    "FunctionNode",
    "KitNode",
    "Runnable",
    "Step",
    "as_runnable",
    "current_step",
    "remaining",
    "runnable",
]
