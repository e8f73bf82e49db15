"""Beluga workflows: ``Scatter`` runs nodes concurrently, ``Graph`` routes between them.

Nodes are runnables (``invoke``/``ainvoke``): plain functions via ``runnable``, model calls
through a Kit via ``KitNode``, or other Scatters and Graphs.
"""

from __future__ import annotations

from beluga_workflow.errors import (
    GraphValidationError,
    NodeFailed,
    NodeTimeout,
    StepLimitExceeded,
    WorkflowError,
)
from beluga_workflow.graph import Edge, Graph
from beluga_workflow.plugin import WorkflowPlugin, WorkflowSettings
from beluga_workflow.runnable import (
    FunctionNode,
    KitNode,
    Runnable,
    Step,
    as_runnable,
    current_step,
    remaining,
    runnable,
)
from beluga_workflow.scatter import Scatter, ScatterResult

__all__ = [
    "Edge",
    "FunctionNode",
    "Graph",
    "GraphValidationError",
    "KitNode",
    "NodeFailed",
    "NodeTimeout",
    "Runnable",
    "Scatter",
    "ScatterResult",
    "Step",
    "StepLimitExceeded",
    "WorkflowError",
    "WorkflowPlugin",
    "WorkflowSettings",
    "as_runnable",
    "current_step",
    "remaining",
    "runnable",
]
