"""The values that travel through the chain: messages, content parts, tool calls, requests, responses.

All are frozen attrs classes; change one with ``attrs.evolve`` (or the ``with_*`` helpers).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, Literal, TypeAlias

import attrs

ImageDetail = Literal["auto", "low", "high"]


@attrs.frozen(slots=True)
class TextPart:
    """A piece of text content."""

    text: str
    #: Marks the end of the cacheable prefix (the prompt builder's cache breakpoint).
    cache_breakpoint: bool = False
    kind: ClassVar[str] = "text"


def _check_image(instance: ImagePart, attribute: attrs.Attribute[Any], value: Any) -> None:
    if (instance.url is None) == (instance.data is None):
        raise ValueError("ImagePart needs exactly one of url= or data=")
    if instance.data is not None and not instance.mime_type:
        raise ValueError("ImagePart with inline data= needs mime_type= (e.g. 'image/png')")


_DETAILS = ("auto", "low", "high")


def _check_detail(value: Any) -> None:
    if value not in _DETAILS:
        raise ValueError(f"ImagePart detail must be one of {', '.join(map(repr, _DETAILS))}, got {value!r}")


@attrs.frozen(slots=True)
class ImagePart:
    """An image, given by URL or inline bytes, with a mime type and the detail the model should use."""

    url: str | None = None
    data: bytes | None = attrs.field(default=None, validator=_check_image)
    mime_type: str | None = None
    detail: ImageDetail = attrs.field(default="auto", validator=lambda _, __, v: _check_detail(v))
    kind: ClassVar[str] = "image"

    def data_url(self) -> str:
        """The image as a URL: the URL itself, or a ``data:`` URL of the inline bytes."""
        if self.url is not None:
            return self.url
        assert self.data is not None
        return f"data:{self.mime_type};base64,{base64.b64encode(self.data).decode('ascii')}"

    def __repr__(self) -> str:
        src = f"url={self.url!r}" if self.url is not None else f"data=<{len(self.data or b'')} bytes>"
        return f"ImagePart({src}, mime_type={self.mime_type!r}, detail={self.detail!r})"


Part: TypeAlias = TextPart | ImagePart


def _to_parts(value: str | Part | Iterable[Part] | None) -> tuple[Part, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (TextPart(value),)
    if isinstance(value, TextPart | ImagePart):
        return (value,)
    parts = tuple(value)
    for p in parts:
        if not isinstance(p, TextPart | ImagePart):
            raise TypeError(f"message parts must be TextPart or ImagePart, not {type(p).__name__}")
    return parts


class _Content:
    """Shared reading helpers for messages (``parts`` holds the content)."""

    __slots__ = ()
    parts: tuple[Part, ...]

    @property
    def text(self) -> str:
        """All text parts joined: what most code wants to read."""
        return "".join(p.text for p in self.parts if isinstance(p, TextPart))


@attrs.frozen(slots=True)
class SystemMessage(_Content):
    parts: tuple[Part, ...] = attrs.field(default=(), converter=_to_parts)
    role: ClassVar[str] = "system"


@attrs.frozen(slots=True)
class HumanMessage(_Content):
    parts: tuple[Part, ...] = attrs.field(default=(), converter=_to_parts)
    role: ClassVar[str] = "user"


@attrs.frozen(slots=True)
class ToolCall:
    """A model's request to run a tool; ``arguments`` is the parsed JSON object."""

    id: str
    name: str
    arguments: Mapping[str, Any] = attrs.field(factory=dict)


def _to_calls(value: Iterable[ToolCall]) -> tuple[ToolCall, ...]:
    return tuple(value)


@attrs.frozen(slots=True)
class AIMessage(_Content):
    parts: tuple[Part, ...] = attrs.field(default=(), converter=_to_parts)
    tool_calls: tuple[ToolCall, ...] = attrs.field(default=(), converter=_to_calls)
    role: ClassVar[str] = "assistant"


@attrs.frozen(slots=True)
class ToolMessage(_Content):
    """A tool's result going back to the model."""

    parts: tuple[Part, ...] = attrs.field(default=(), converter=_to_parts)
    tool_call_id: str = ""
    name: str | None = None
    role: ClassVar[str] = "tool"


Message: TypeAlias = SystemMessage | HumanMessage | AIMessage | ToolMessage

_ROLES: dict[str, type[Message]] = {
    "system": SystemMessage,
    "developer": SystemMessage,
    "user": HumanMessage,
    "human": HumanMessage,
    "assistant": AIMessage,
    "ai": AIMessage,
    "tool": ToolMessage,
}


def to_messages(
    value: str | Message | Mapping[str, Any] | Iterable[Message | Mapping[str, Any]],
) -> tuple[Message, ...]:
    """Normalise what users pass to ``generate``: a string, a message, dicts or a list of those."""
    if isinstance(value, str):
        return (HumanMessage(value),)
    if isinstance(value, SystemMessage | HumanMessage | AIMessage | ToolMessage):
        return (value,)
    if isinstance(value, Mapping):
        return (_message_from_dict(value),)
    out: list[Message] = []
    for i, item in enumerate(value):
        if isinstance(item, SystemMessage | HumanMessage | AIMessage | ToolMessage):
            out.append(item)
        elif isinstance(item, Mapping):
            out.append(_message_from_dict(item, index=i))
        else:
            raise TypeError(f"messages[{i}]: expected a message or a dict, got {type(item).__name__}")
    return tuple(out)


def _message_from_dict(d: Mapping[str, Any], index: int = 0) -> Message:
    role = d.get("role")
    cls = _ROLES.get(str(role))
    if cls is None:
        raise ValueError(f"messages[{index}]: unknown role {role!r} (expected one of {sorted(_ROLES)})")
    content = d.get("content")
    if cls is ToolMessage:
        return ToolMessage(content, tool_call_id=str(d.get("tool_call_id", "")), name=d.get("name"))
    return cls(content)


@attrs.frozen(slots=True)
class ToolSpec:
    """A tool the model may call: name, description and a JSON-schema for its arguments."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = attrs.field(factory=lambda: {"type": "object", "properties": {}})


@attrs.frozen(slots=True)
class Usage:
    """Token counts of one call. ``cached_input_tokens`` is the part of input served from a prompt cache,
    ``cache_creation_input_tokens`` the part written to it; both are included in ``input_tokens``.
    ``reasoning_tokens`` is the part of ``output_tokens`` the model spent reasoning."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cached_input_tokens + other.cached_input_tokens,
            self.cache_creation_input_tokens + other.cache_creation_input_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
        )


def _to_tools(value: Iterable[ToolSpec]) -> tuple[ToolSpec, ...]:
    return value if isinstance(value, tuple) else tuple(value)


@attrs.frozen(slots=True)
class LLMRequest:
    """One model call as middleware sees it.

    ``metadata`` carries the caller's context (project, user, request id) that plugins key on;
    ``deadline`` is an absolute ``time.monotonic()`` instant, or None for no deadline.
    """

    messages: tuple[Message, ...] = attrs.field(converter=to_messages)
    model: str | None = None
    provider: str | None = None
    tools: tuple[ToolSpec, ...] = attrs.field(default=(), converter=_to_tools)
    max_tokens: int | None = None
    temperature: float | None = None
    stream: bool = False
    metadata: Mapping[str, Any] = attrs.field(factory=dict)
    deadline: float | None = None
    #: Provider-specific parameters passed through untouched (``top_p``, ``stop``, ...).
    params: Mapping[str, Any] = attrs.field(factory=dict)
    #: ``"chat"`` (answer the messages) or ``"embeddings"`` (one vector per message's text).
    operation: str = "chat"

    def replace(self, **changes: Any) -> LLMRequest:
        """A copy with some fields changed (``attrs.evolve``)."""
        return attrs.evolve(self, **changes)

    def remaining(self) -> float | None:
        """Seconds left before the deadline (may be negative), or None without one."""
        if self.deadline is None:
            return None
        return self.deadline - time.monotonic()


@attrs.frozen(slots=True)
class LLMResponse:
    """A model's complete answer."""

    message: AIMessage
    model: str = ""
    provider: str = ""
    usage: Usage = Usage()
    finish_reason: str | None = None
    #: What happened on the way (attempts, fallbacks, plugin notes); free-form, JSON-serialisable.
    metadata: Mapping[str, Any] = attrs.field(factory=dict)
    #: For an ``"embeddings"`` request: one vector per input message, in order.
    embeddings: tuple[tuple[float, ...], ...] = ()

    @property
    def text(self) -> str:
        return self.message.text

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        return self.message.tool_calls

    def replace(self, **changes: Any) -> LLMResponse:
        return attrs.evolve(self, **changes)


@attrs.frozen(slots=True)
class ToolCallDelta:
    """A fragment of a streamed tool call: ``index`` identifies the call; text arrives in pieces."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@attrs.frozen(slots=True)
class StreamChunk:
    """One piece of a streamed answer. The last chunk carries ``usage`` and ``finish_reason``."""

    text: str = ""
    tool_calls: tuple[ToolCallDelta, ...] = ()
    usage: Usage | None = None
    finish_reason: str | None = None
    model: str | None = None


@attrs.frozen(slots=True)
class ToolInvocation:
    """A tool call on its way through ``wrap_tool_call`` middleware."""

    name: str
    arguments: Mapping[str, Any]
    fn: Callable[..., Any]
    metadata: Mapping[str, Any] = attrs.field(factory=dict)


__all__ = [
    "AIMessage",
    "HumanMessage",
    "ImageDetail",
    "ImagePart",
    "LLMRequest",
    "LLMResponse",
    "Message",
    "Part",
    "StreamChunk",
    "SystemMessage",
    "TextPart",
    "ToolCall",
    "ToolCallDelta",
    "ToolInvocation",
    "ToolMessage",
    "ToolSpec",
    "Usage",
    "to_messages",
]
