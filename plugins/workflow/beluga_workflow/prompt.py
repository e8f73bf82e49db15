"""``PromptBuilder``: prompts assembled in a cache-friendly order, with conditional sections.

The order is fixed whatever order the builder was written in: system prompt, tools, static
context, cache breakpoint, dynamic context, history, user input. Everything before the breakpoint
is the same on every request, so providers with prompt caching can reuse it; the breakpoint is
carried as ``TextPart.cache_breakpoint`` on the last static part (Anthropic maps it to
``cache_control``).

>>> builder = (PromptBuilder()
...     .system("You are the support agent of {product}.")
...     .tools(lookup_order)
...     .static_context(manual, name="manual", template=False)
...     .cache_breakpoint()
...     .dynamic_context("Customer tier: {tier}", when=when_feature("tiers"))
...     .user("{question}"))
>>> prompt = builder.build({"product": "Acme", "tier": "gold", "question": q}, features={"tiers"})
>>> kit.generate(prompt.messages, tools=prompt.tools)
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

import attrs

from beluga_core import BelugaError, ErrorCode, HumanMessage, Message, SystemMessage, TextPart, ToolSpec

Slot = Literal["system", "static_context", "dynamic_context", "user"]


@attrs.frozen(slots=True)
class PromptContext:
    """What section conditions see when a prompt is built."""

    role: str | None = None
    features: frozenset[str] = frozenset()
    context: Mapping[str, Any] = attrs.field(factory=dict)
    variables: Mapping[str, Any] = attrs.field(factory=dict)


class When:
    """A named condition on the ``PromptContext``; combine with ``&``, ``|`` and ``~``."""

    __slots__ = ("label", "test")

    def __init__(self, test: Callable[[PromptContext], bool], label: str) -> None:
        self.test = test
        self.label = label

    def __call__(self, ctx: PromptContext) -> bool:
        return bool(self.test(ctx))

    def __and__(self, other: When) -> When:
        return When(lambda c: self(c) and other(c), f"({self.label} and {other.label})")

    def __or__(self, other: When) -> When:
        return When(lambda c: self(c) or other(c), f"({self.label} or {other.label})")

    def __invert__(self) -> When:
        return When(lambda c: not self(c), f"not {self.label}")

    def __repr__(self) -> str:
        return f"When({self.label})"


def when_role(*roles: str) -> When:
    """Include the section when the prompt is built for one of these roles (``build(role=...)``)."""
    allowed = frozenset(roles)
    return When(lambda c: c.role in allowed, f"role in {sorted(allowed)}")


def when_feature(name: str) -> When:
    """Include the section when this feature flag is on (``build(features={...})``)."""
    return When(lambda c: name in c.features, f"feature {name!r}")


_ANY = object()


def when_context(key: str, value: Any = _ANY, *, test: Callable[[Any], bool] | None = None) -> When:
    """Include the section when ``context[key]`` is present (and equals ``value``, or passes ``test``)."""
    if test is not None:
        return When(lambda c: key in c.context and bool(test(c.context[key])), f"test(context[{key!r}])")
    if value is _ANY:
        return When(lambda c: key in c.context, f"{key!r} in context")
    return When(lambda c: key in c.context and c.context[key] == value, f"context[{key!r}] == {value!r}")


Condition = Callable[[PromptContext], bool]


class PromptVariableError(BelugaError):
    """A template variable has no value; names the variable and the section that needs it."""

    default_code = ErrorCode.INVALID_INPUT

    def __init__(self, variable: str, section: str, given: Iterable[str]) -> None:
        self.variable = variable
        self.section = section
        names = ", ".join(sorted(given)) or "none"
        super().__init__(
            ErrorCode.INVALID_INPUT,
            f"prompt section {section!r} needs variable {variable!r}, which was not given (given: {names})",
        )


@attrs.frozen(slots=True)
class Section:
    """One piece of text in a slot, maybe a template, maybe conditional."""

    slot: Slot
    text: str
    name: str
    when: Condition | None = None
    template: bool = True
    fields: tuple[str, ...] = ()


def _fields(text: str, section: str) -> tuple[str, ...]:
    names: list[str] = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ValueError(
            f"prompt section {section!r}: bad template ({exc}); "
            "write literal braces as {{ }} or pass template=False"
        ) from None
    for _, field, _, _ in parsed:
        if field is None:
            continue
        if not field.isidentifier():
            raise ValueError(
                f"prompt section {section!r}: {{{field}}} is not a plain variable name; use {{name}}, "
                "write literal braces as {{ }} or pass template=False"
            )
        if field not in names:
            names.append(field)
    return tuple(names)


@attrs.frozen(slots=True)
class Prompt:
    """A built prompt: the messages, the tools, and the names of the sections that were included."""

    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...] = ()
    included: tuple[str, ...] = ()

    def static_prefix(self) -> str:
        """The text up to and including the cache breakpoint ("" without one): the cached part."""
        for message in self.messages:
            if not isinstance(message, SystemMessage):
                continue
            texts: list[str] = []
            for part in message.parts:
                if isinstance(part, TextPart):
                    texts.append(part.text)
                    if part.cache_breakpoint:
                        return "\n".join(texts)
        return ""


@attrs.frozen
class PromptBuilder:
    """Sections in slots, built per request into ``Prompt`` (messages and tools).

    A builder is immutable: each method returns a new one, so one builder made at startup can
    serve every request. Sections are ``str.format`` templates (``{name}``) unless
    ``template=False``; ``variables`` are defaults that ``build(variables)`` overrides.
    """

    sections: tuple[Section, ...] = ()
    tool_specs: tuple[tuple[ToolSpec, Condition | None], ...] = ()
    breakpoint: bool = False
    variables: Mapping[str, Any] = attrs.field(factory=dict)
    max_history: int | None = None

    def _add(self, slot: Slot, text: str, name: str | None, when: Condition | None, template: bool) -> PromptBuilder:
        if not isinstance(text, str):
            raise TypeError(f"prompt section text must be a string, got {type(text).__name__}")
        index = sum(1 for s in self.sections if s.slot == slot)
        label = f"{slot}[{name if name is not None else index}]"
        fields = _fields(text, label) if template else ()
        return attrs.evolve(self, sections=(*self.sections, Section(slot, text, label, when, template, fields)))

    def system(
        self, text: str, *, name: str | None = None, when: Condition | None = None, template: bool = True
    ) -> PromptBuilder:
        """Slot 1: system instructions."""
        return self._add("system", text, name, when, template)

    def tools(self, *specs: ToolSpec | Sequence[ToolSpec], when: Condition | None = None) -> PromptBuilder:
        """Slot 2: tools the model may call (returned as ``Prompt.tools``)."""
        flat: list[ToolSpec] = []
        for spec in specs:
            if isinstance(spec, ToolSpec):
                flat.append(spec)
            else:
                flat.extend(spec)
        for spec in flat:
            if not isinstance(spec, ToolSpec):
                raise TypeError(f"tools() takes ToolSpec values, got {type(spec).__name__}")
        return attrs.evolve(self, tool_specs=(*self.tool_specs, *((s, when) for s in flat)))

    def static_context(
        self, text: str, *, name: str | None = None, when: Condition | None = None, template: bool = True
    ) -> PromptBuilder:
        """Slot 3: reference text that is the same across requests (manuals, policies, examples)."""
        return self._add("static_context", text, name, when, template)

    def cache_breakpoint(self, enabled: bool = True) -> PromptBuilder:
        """Mark the end of the static prefix (after system, tools and static context) as cacheable."""
        return attrs.evolve(self, breakpoint=enabled)

    def dynamic_context(
        self, text: str, *, name: str | None = None, when: Condition | None = None, template: bool = True
    ) -> PromptBuilder:
        """Slot 4: per-request text (retrieved documents, the user's profile), after the breakpoint."""
        return self._add("dynamic_context", text, name, when, template)

    def history(self, max_messages: int | None) -> PromptBuilder:
        """Keep only the last ``max_messages`` of the history given to ``build``."""
        if max_messages is not None and max_messages < 0:
            raise ValueError(f"max_messages cannot be negative, got {max_messages!r}")
        return attrs.evolve(self, max_history=max_messages)

    def user(
        self, text: str, *, name: str | None = None, when: Condition | None = None, template: bool = True
    ) -> PromptBuilder:
        """Slot 5: the user's turn, the last message."""
        return self._add("user", text, name, when, template)

    def with_variables(self, **defaults: Any) -> PromptBuilder:
        """Default values for template variables (``build`` values win)."""
        return attrs.evolve(self, variables={**self.variables, **defaults})

    def build(
        self,
        variables: Mapping[str, Any] | None = None,
        *,
        role: str | None = None,
        features: Iterable[str] = (),
        context: Mapping[str, Any] | None = None,
        history: Sequence[Message] = (),
    ) -> Prompt:
        """Render the sections that apply into messages: one system message (the breakpoint on its
        last static part), then the history, then one user message."""
        values: Mapping[str, Any] = {**self.variables, **variables} if variables else self.variables
        ctx = PromptContext(role, frozenset(features), context if context is not None else {}, values)
        parts: dict[Slot, list[TextPart]] = {"system": [], "static_context": [], "dynamic_context": [], "user": []}
        included: list[str] = []
        for section in self.sections:
            if section.when is not None and not section.when(ctx):
                continue
            if section.template and section.fields:
                for field in section.fields:
                    if field not in values:
                        raise PromptVariableError(field, section.name, values)
                text = section.text.format_map(values)
            elif section.template:
                text = section.text.format_map({})  # unescape {{ }}
            else:
                text = section.text
            if text:
                parts[section.slot].append(TextPart(text))
                included.append(section.name)
        system = parts["system"] + parts["static_context"]
        if self.breakpoint and system:
            system[-1] = TextPart(system[-1].text, cache_breakpoint=True)
        system += parts["dynamic_context"]
        messages: list[Message] = []
        if system:
            messages.append(SystemMessage(tuple(system)))
        if history and self.max_history != 0:
            messages.extend(history if self.max_history is None else history[-self.max_history :])
        if parts["user"]:
            messages.append(HumanMessage(tuple(parts["user"])))
        tools = tuple(spec for spec, when in self.tool_specs if when is None or when(ctx))
        return Prompt(tuple(messages), tools, tuple(included))


__all__ = [
    "Prompt",
    "PromptBuilder",
    "PromptContext",
    "PromptVariableError",
    "Section",
    "When",
    "when_context",
    "when_feature",
    "when_role",
]
