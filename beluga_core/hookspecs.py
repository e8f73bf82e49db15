"""The hooks a Beluga plugin may implement.

A plugin is a module, an object or a class (instantiated once per ``Kit``) whose methods carry
``@beluga_core.hookimpl``. Implementations may be ``def`` or ``async def`` where the hook says so.
pluggy finds and validates them; the core calls them in the user's order (``[beluga] plugins``, then
unlisted plugins by the ``rank`` they declare), compiled once per configuration into a plain async
chain. pluggy's ``hookwrapper``, ``wrapper``, ``tryfirst`` and ``trylast`` options are refused at load.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pluggy

from beluga_core.commands import CommandRegistry
from beluga_core.config import Config
from beluga_core.guard import GuardDecision, GuardInput, GuardResult
from beluga_core.providers import ProviderFactory
from beluga_core.stream import LLMStream
from beluga_core.types import LLMRequest, LLMResponse, ToolInvocation

hookspec = pluggy.HookspecMarker("beluga")
hookimpl = pluggy.HookimplMarker("beluga")

CallNext = Callable[["LLMRequest"], Awaitable["LLMResponse | LLMStream"]]
ToolCallNext = Callable[["ToolInvocation"], Awaitable[Any]]


@hookspec
def on_input(guard_input: GuardInput) -> GuardResult | Awaitable[GuardResult | None] | None:
    """Inspect one text segment going to the model: the text of every message (user, system, tool
    results, the history's assistant turns) and each string in the history's tool-call arguments.
    ``guard_input.metadata["role"]`` says whose text it is.

    Runs inside the model call (after ``wrap_llm_call`` middleware, before the provider), once per
    text part, in plugin order. Return ``None`` or ``GuardResult.allow()`` to pass,
    ``GuardResult.modify(text)`` to replace the text for the guards after you and the model, or
    ``GuardResult.block(reason)`` to stop the call with ``GuardBlocked``.
    Raising blocks the call (fail closed) unless the plugin is configured fail-open.
    """


@hookspec
def on_output(guard_input: GuardInput) -> GuardResult | Awaitable[GuardResult | None] | None:
    """Inspect one text segment coming from the model, streamed text included.

    Same contract as ``on_input``; ``guard_input.state`` is the dict the input stage saw, so a guard
    can restore what it pseudonymised on the way in.
    """


@hookspec
def on_tool_call(guard_input: GuardInput) -> GuardResult | Awaitable[GuardResult | None] | None:
    """Inspect one string in a tool call's arguments before the tool runs (``Kit.call_tool``).

    ``guard_input.metadata`` has ``tool`` (the tool's name) and ``path`` (e.g. ``args.items[0].q``).
    Every string is visited, nested ones included. Same contract as ``on_input``.
    """


@hookspec
def wrap_llm_call(request: LLMRequest, call_next: CallNext) -> Awaitable[LLMResponse | LLMStream]:
    """Middleware around every model call: an async onion, first listed plugin outermost.

    Await ``call_next(request)`` zero times (answer yourself or raise), once, or several times
    (retry, fallback). For ``request.stream`` calls it returns an ``LLMStream``: the first chunk has
    already arrived, and ``stream.on_finish(callback)`` reports the end, usage or error.
    Exceptions propagate to the caller like any middleware's.
    """
    raise NotImplementedError


@hookspec
def wrap_tool_call(call: ToolInvocation, call_next: ToolCallNext) -> Awaitable[Any]:
    """Middleware around every ``Kit.call_tool``, after the ``on_tool_call`` guards; same shape as
    ``wrap_llm_call``. Returns the tool's result."""
    raise NotImplementedError


@hookspec
def on_config_change(old: Config | None, new: Config) -> None:
    """Called once when a ``Kit`` starts (``old`` is None) and after every applied reload, with the
    whole configuration (a plugin that needs only its own section implements ``on_settings``).

    Called after the new chain is in place; an exception is logged with the plugin's name and
    recorded in ``kit.reload_errors``; the other plugins are still called.
    """


@hookspec
def on_settings(settings: Any) -> None:
    """Receive this plugin's typed ``[plugins.<name>]`` section (an instance of the class its
    ``config_schema`` returns; the schema's defaults when the file has no section).

    Called when a ``Kit`` starts (or the plugin is registered) and after every applied reload that
    changes the section, before ``on_config_change``. Errors are handled as for ``on_config_change``.
    """


@hookspec
def on_close() -> Awaitable[None] | None:
    """Called once by ``Kit.aclose()``/``Kit.close()``: release connections, flush exporters.

    May be ``def`` or ``async def``. An exception is logged with the plugin's name and ignored, so
    every plugin gets its chance to close.
    """


@hookspec
def on_guard_decision(decision: GuardDecision) -> None:
    """Observer: a guard returned a verdict (allowed, modified or blocked).

    ``decision`` has the guard, stage, verdict, reason and finding counts, never the text.
    Exceptions are logged and ignored.
    """


@hookspec
def register_providers(register: Callable[[str, ProviderFactory], None]) -> None:
    """Register model providers: ``register("openai", factory)``, where ``factory(ProviderConfig)``
    returns a ``Provider`` (a factory may carry ``options_schema``, the attrs class of its options).
    Called each time a Kit builds its chain (start, reload, registration), so keep it cheap."""


@hookspec
def register_commands(commands: CommandRegistry) -> None:
    """Add subcommands to the ``beluga`` CLI: ``commands.add(name, help, configure, run)``; or answer
    a flag a command declares: ``commands.provide("run", "--trace", run)``."""


@hookspec
def config_schema() -> type | None:
    """Return the attrs class of this plugin's ``[plugins.<name>]`` section (or None for none).

    The core validates every section against its schema before anything is applied.
    """


__all__ = ["CallNext", "ToolCallNext", "hookimpl", "hookspec"]
