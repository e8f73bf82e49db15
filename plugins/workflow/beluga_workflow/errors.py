"""Workflow errors: each names the workflow and the node that caused it."""

from __future__ import annotations

from collections.abc import Sequence

from beluga_core import BelugaError, ErrorCode


class WorkflowError(BelugaError):
    """Base of every error a Scatter or Graph raises on purpose."""

    default_code = ErrorCode.INVALID_INPUT


class NodeFailed(WorkflowError):
    """A node raised. ``node`` and ``workflow`` name it; the node's exception is ``__cause__``.

    The code is the cause's code when the cause is a ``BelugaError`` (so a retry policy around the
    workflow sees a rate limit as a rate limit), else ``tool_failed``.
    """

    default_code = ErrorCode.TOOL_FAILED

    def __init__(self, workflow: str, node: str, cause: BaseException, *, message: str | None = None) -> None:
        self.workflow = workflow
        self.node = node
        code = cause.code if isinstance(cause, BelugaError) else ErrorCode.TOOL_FAILED
        detail = f"{type(cause).__name__}: {cause}" if str(cause) else type(cause).__name__
        super().__init__(code, message or f"node {node!r} of workflow {workflow!r} failed: {detail}")


class NodeTimeout(NodeFailed):
    """A node ran out of time: its own timeout or what was left of the call's deadline."""

    default_code = ErrorCode.TIMEOUT

    def __init__(self, workflow: str, node: str, seconds: float, cause: BaseException | None = None) -> None:
        self.seconds = seconds
        super().__init__(
            workflow,
            node,
            cause or TimeoutError(),
            message=f"node {node!r} of workflow {workflow!r} timed out after {seconds:.3g}s "
            "(its timeout or the rest of the call's deadline)",
        )
        self.code = ErrorCode.TIMEOUT


class StepLimitExceeded(WorkflowError):
    """A graph ran more steps than ``max_steps`` (usually a cycle whose exit condition never holds)."""

    default_code = ErrorCode.BUDGET_EXHAUSTED

    def __init__(self, workflow: str, limit: int, path: Sequence[str], next_node: str) -> None:
        self.workflow = workflow
        self.limit = limit
        self.path = tuple(path)
        self.next_node = next_node
        trail = " -> ".join(self.path)
        super().__init__(
            ErrorCode.BUDGET_EXHAUSTED,
            f"graph {workflow!r} reached its step limit of {limit} before running node {next_node!r} "
            f"(last steps: {trail}); check the exit condition of the cycle or raise max_steps",
        )


class GraphValidationError(WorkflowError):
    """A graph cannot run: unknown or unreachable nodes, no entry. ``issues`` lists every problem."""

    def __init__(self, workflow: str, issues: Sequence[str], nodes: Sequence[str] = ()) -> None:
        self.workflow = workflow
        self.issues = tuple(issues)
        self.nodes = tuple(nodes)
        head = f"graph {workflow!r} is invalid"
        body = self.issues[0] if len(self.issues) == 1 else "\n  " + "\n  ".join(self.issues)
        super().__init__(ErrorCode.INVALID_INPUT, f"{head}: {body}")


__all__ = ["GraphValidationError", "NodeFailed", "NodeTimeout", "StepLimitExceeded", "WorkflowError"]
