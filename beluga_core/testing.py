"""Helpers for testing Beluga plugins (yours or ours).

Use them directly, or enable the fixtures in a ``conftest.py``::

    pytest_plugins = ["beluga_core.testing"]

    def test_my_guard_blocks(make_kit):
        kit = make_kit(MyGuardPlugin())
        with pytest.raises(GuardBlocked):
            kit.generate("something bad")
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from beluga_core.guard import GuardInput, GuardResult, Stage
from beluga_core.hookspecs import CallNext, hookimpl
from beluga_core.kit import Kit
from beluga_core.stream import LLMStream
from beluga_core.types import LLMRequest, LLMResponse


def kit_with(*plugins: Any, config: Any = None, entry_points: bool = False, **kwargs: Any) -> Kit:
    """A Kit with exactly these plugins (installed entry points ignored unless asked for).

    A plugin may be given as an object or as ``(name, object)``.
    """
    named: dict[str, Any] = {}
    for p in plugins:
        name, obj = p if isinstance(p, tuple) else (None, p)
        if name is None:
            name = getattr(obj, "name", None) or getattr(obj, "__name__", None) or type(obj).__name__
        named[name] = obj
    return Kit(config, plugins=named, entry_points=entry_points, **kwargs)


@attrs.define
class Recorder:
    """A middleware plugin that records the requests it sees and the responses it returns."""

    name: str = "recorder"
    requests: list[LLMRequest] = attrs.field(factory=list)
    responses: list[Any] = attrs.field(factory=list)

    @hookimpl
    async def wrap_llm_call(self, request: LLMRequest, call_next: CallNext) -> LLMResponse | LLMStream:
        self.requests.append(request)
        response = await call_next(request)
        self.responses.append(response)
        return response


def guard_once(
    plugin: Any, text: str, stage: Stage = "input", metadata: Mapping[str, Any] | None = None
) -> GuardResult:
    """Run one plugin's guard hook for ``stage`` over ``text``, the way the chain would."""
    kit = kit_with(plugin)
    try:
        return kit.guard(text, stage, metadata)
    finally:
        kit.close()


def guard_input(text: str, stage: Stage = "input", **metadata: Any) -> GuardInput:
    return GuardInput(text, stage, metadata)


def _make_kit() -> Iterator[Any]:
    """A factory like ``kit_with`` whose kits are closed after the test."""
    kits: list[Kit] = []

    def factory(*plugins: Any, **kwargs: Any) -> Kit:
        kit = kit_with(*plugins, **kwargs)
        kits.append(kit)
        return kit

    yield factory
    for kit in kits:
        kit.close()


try:  # pytest is optional for users of this module: without it there is no fixture
    import pytest  # type: ignore[import-not-found, unused-ignore]
except ImportError:  # pragma: no cover
    pass
else:
    make_kit = pytest.fixture(_make_kit, name="make_kit")


__all__ = ["Recorder", "guard_input", "guard_once", "kit_with"]
