"""The ``workflow`` plugin: tags model calls made inside workflow steps with the step's names."""

from __future__ import annotations

import attrs

from beluga_core import CallNext, LLMRequest, LLMResponse, LLMStream, hookimpl, setting
from beluga_workflow.runnable import _STEP


@attrs.frozen
class WorkflowSettings:
    """The ``[plugins.workflow]`` section."""

    tag_requests: bool = setting(
        True, help="add 'workflow' and 'workflow_node' to the metadata of model calls made inside a workflow step"
    )


class WorkflowPlugin:
    """Model calls made inside a Scatter or Graph node carry ``workflow`` and ``workflow_node``
    metadata, so rate limits, traces and logs can tell which step made them."""

    name = "workflow"

    def __init__(self) -> None:
        self._apply(WorkflowSettings())

    def _apply(self, settings: WorkflowSettings) -> None:
        self.settings = settings
        self.tag = settings.tag_requests

    @hookimpl
    def config_schema(self) -> type:
        return WorkflowSettings

    @hookimpl
    def on_settings(self, settings: WorkflowSettings) -> None:
        self._apply(settings)

    @hookimpl
    async def wrap_llm_call(self, request: LLMRequest, call_next: CallNext) -> LLMResponse | LLMStream:
        step = _STEP.get()
        if step is None or not self.tag or "workflow_node" in request.metadata:
            return await call_next(request)
        metadata = {"workflow": step[0], "workflow_node": step[1], **request.metadata}
        return await call_next(request.replace(metadata=metadata))
