"""The path every MCP tool call takes: the allowlist and bounds, then the Kit's tool path
(``on_tool_call`` guards, ``wrap_tool_call`` middleware), then the result's text through the input
guards as tool text. The proxy and the in-process ``GuardedSession`` share it."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import anyio
import mcp.types as types
from mcp import MCPError

from beluga_core import (
    BelugaError,
    CircuitOpenError,
    ErrorCode,
    GuardBlocked,
    GuardResult,
    Kit,
    ProviderError,
    RateLimited,
    ToolFailed,
    get_logger,
    mask_text,
)
from beluga_mcp.plugin import MCPKeySettings, MCPSettings

log = get_logger("beluga.mcp")

#: Longest tool name passed on (MCP asks for 1 to 128 characters); a longer one is refused unread.
MAX_TOOL_NAME = 256

#: Sends one ``tools/call`` to the MCP server: ``send(name, arguments)``.
SendToolCall = Callable[[str, dict[str, Any]], Awaitable[types.CallToolResult]]

#: Errors that mean the connection to the MCP server is gone (the process exited, the socket closed).
_GONE = (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream, ConnectionError, EOFError)


def error_result(message: str) -> types.CallToolResult:
    """A tool result that tells the model the call did not happen (``isError``)."""
    return types.CallToolResult(content=[types.TextContent(type="text", text=message)], is_error=True)


def _reason(result: GuardResult | GuardBlocked) -> str:
    reason = result.reason or "no reason given"
    return mask_text(reason)[:200]


class _Refused(BelugaError):
    """The MCP server answered the call with a protocol error (unknown tool, invalid parameters):
    the caller's fault, so a breaker does not count it and a retry does not repeat it."""

    def __init__(self, error: MCPError) -> None:
        super().__init__(ErrorCode.INVALID_INPUT, "the MCP server refused the call")
        self.error = error


class _Withheld(Exception):
    """A result's text was blocked; carries the guard's name and reason (never the text)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ToolGate:
    """The checks around one MCP server's tools, run with ``kit``'s chain.

    ``server`` names the MCP server in metadata (``metadata["server"]``: what a breaker or a rate
    limit may key on), spans and errors. ``settings`` defaults to the Kit's ``[plugins.mcp]`` section,
    read at each call so a reload applies to the next one.
    """

    def __init__(self, kit: Kit, server: str, *, settings: MCPSettings | None = None) -> None:
        self.kit = kit
        self.server = server
        self._settings = settings

    @property
    def settings(self) -> MCPSettings:
        if self._settings is not None:
            return self._settings
        found = self.kit.config.plugin_settings("mcp")
        return found if isinstance(found, MCPSettings) else MCPSettings()

    # -- listing ---------------------------------------------------------------------------------
    def visible_tools(self, tools: Sequence[types.Tool], key: MCPKeySettings | None = None) -> list[types.Tool]:
        """The tools on the allowlist, at most ``max_tools`` of them."""
        settings = self.settings
        out: list[types.Tool] = []
        for tool in tools:
            if settings.allows(tool.name, key):
                out.append(tool)
                if len(out) >= settings.max_tools:
                    if len(tools) > len(out):
                        log.warning("MCP server %r listed more than %d tools; the rest are left out "
                                    "([plugins.mcp] max_tools)", self.server, settings.max_tools)
                    break
        return out

    # -- tool calls ------------------------------------------------------------------------------
    async def call_tool(
        self,
        name: str,
        arguments: object,
        send: SendToolCall,
        *,
        key: MCPKeySettings | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> types.CallToolResult:
        """Run one tool call through the checks; every refusal is an error result (``isError``) that
        names what refused it and never repeats the call's text. Errors the MCP server answers with
        (an unknown tool, invalid parameters) are raised as the server's ``MCPError``."""
        settings = self.settings
        if len(name) > MAX_TOOL_NAME:  # MCP names are 1-128 characters; never echo a huge one
            return error_result(f"tool name is longer than {MAX_TOOL_NAME} characters")
        if not settings.allows(name, key):
            return error_result(f"tool {name!r} is not allowed through this proxy ([plugins.mcp] tools)")
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            return error_result(f"tool {name!r}: arguments must be a JSON object, not {type(arguments).__name__}")
        size = _json_size(arguments, settings.max_argument_bytes)
        if size > settings.max_argument_bytes:
            return error_result(f"tool {name!r}: arguments are larger than {settings.max_argument_bytes} bytes "
                                "([plugins.mcp] max_argument_bytes)")
        meta: dict[str, Any] = {"server": self.server, "tool_call_source": "mcp"}
        if key is not None:
            meta["project"] = key.project
        meta.update(metadata or {})

        async def run(**args: Any) -> types.CallToolResult:
            return await self._send(name, args, send, settings)

        try:
            result = await self.kit.acall_tool(name, arguments, run, metadata=meta)
        except GuardBlocked as exc:
            return error_result(f"tool call blocked by guard {exc.guard!r} ({_reason(exc)}); the tool did not run")
        except RateLimited as exc:
            after = f"; retry after {exc.retry_after:.0f}s" if exc.retry_after else ""
            return error_result(f"tool {name!r} is rate limited{after}")
        except CircuitOpenError:
            return error_result(f"MCP server {self.server!r} is unavailable (circuit open); the tool did not run")
        except _Refused as exc:
            raise exc.error from None  # the server's own error, as the client would have had it
        except ToolFailed as exc:  # its message names the tool and the error's type, never its text
            return error_result(exc.message)
        except BelugaError as exc:
            return error_result(f"tool {name!r} failed ({exc.code.value}): {mask_text(exc.message)[:200]}")
        if not isinstance(result, types.CallToolResult):  # a middleware answered with something else
            return error_result(f"tool {name!r}: the chain returned {type(result).__name__}, not a tool result")
        if not settings.guard_results:
            return result
        try:
            return await self.guard_result(name, result, settings)
        except _Withheld as exc:
            return error_result(exc.message)

    async def _send(
        self, name: str, args: dict[str, Any], send: SendToolCall, settings: MCPSettings
    ) -> types.CallToolResult:
        """The innermost call: the MCP server, within the timeout; a lost connection is
        ``provider_unavailable`` (retryable), a timeout ``timeout``."""
        try:
            with anyio.fail_after(float(settings.timeout)):
                return await send(name, args)
        except TimeoutError:
            raise ProviderError(ErrorCode.TIMEOUT, f"MCP server {self.server!r} did not answer within "
                                f"{float(settings.timeout):g}s ([plugins.mcp] timeout)") from None
        except _GONE as exc:
            raise ProviderError(ErrorCode.PROVIDER_UNAVAILABLE, f"MCP server {self.server!r} is unavailable: "
                                f"the connection closed ({type(exc).__name__})") from None
        except MCPError as exc:
            if exc.code == types.CONNECTION_CLOSED:
                raise ProviderError(ErrorCode.PROVIDER_UNAVAILABLE,
                                    f"MCP server {self.server!r} is unavailable: the connection closed") from None
            raise _Refused(exc) from None

    # -- results ---------------------------------------------------------------------------------
    async def guard_result(
        self, name: str, result: types.CallToolResult, settings: MCPSettings | None = None
    ) -> types.CallToolResult:
        """``result`` with each text (content blocks, embedded text resources, the strings of
        ``structuredContent``) through the input guards as tool text. Raises ``_Withheld``."""
        settings = settings or self.settings
        total = sum(len(t) for t in _content_texts(result.content)) + _strings_size(result.structured_content)
        if total > settings.max_result_chars:
            raise _Withheld(f"tool {name!r}: result withheld: more than {settings.max_result_chars} characters of "
                            "text, more than the guards read ([plugins.mcp] max_result_chars)")
        meta = {"role": "tool", "tool": name, "server": self.server}
        content = [await self._guard_block(block, meta, f"tool {name!r}") for block in result.content]
        structured = result.structured_content
        if structured is not None:
            structured = await self._guard_value(structured, meta, f"tool {name!r}", "structuredContent")
        return result.model_copy(update={"content": content, "structured_content": structured})

    async def guard_resource(self, uri: str, result: types.ReadResourceResult) -> types.ReadResourceResult:
        """A ``resources/read`` result with its text through the input guards (when
        ``guard_resources``); a blocked text raises ``MCPError`` naming the guard."""
        settings = self.settings
        if not settings.guard_resources:
            return result
        total = sum(len(c.text) for c in result.contents if isinstance(c, types.TextResourceContents))
        if total > settings.max_result_chars:
            raise MCPError(types.INTERNAL_ERROR, f"resource withheld: more than {settings.max_result_chars} "
                           "characters of text ([plugins.mcp] max_result_chars)")
        meta = {"role": "tool", "resource": uri, "server": self.server}
        contents: list[Any] = []
        try:
            for c in result.contents:
                if isinstance(c, types.TextResourceContents):
                    c = c.model_copy(update={"text": await self._guard_text(c.text, meta, "resource")})
                contents.append(c)
        except _Withheld as exc:
            raise MCPError(types.INTERNAL_ERROR, exc.message) from None
        return result.model_copy(update={"contents": contents})

    async def _guard_block(self, block: Any, meta: dict[str, Any], what: str) -> Any:
        if isinstance(block, types.TextContent):
            return block.model_copy(update={"text": await self._guard_text(block.text, meta, what)})
        if isinstance(block, types.EmbeddedResource) and isinstance(block.resource, types.TextResourceContents):
            text = await self._guard_text(block.resource.text, meta, what)
            return block.model_copy(update={"resource": block.resource.model_copy(update={"text": text})})
        return block  # images, audio, blobs and links carry no text the guards read

    async def _guard_value(self, value: Any, meta: dict[str, Any], what: str, path: str) -> Any:
        if isinstance(value, str):
            return await self._guard_text(value, {**meta, "path": path}, what)
        if isinstance(value, dict):
            return {k: await self._guard_value(v, meta, what, f"{path}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [await self._guard_value(v, meta, what, f"{path}[{i}]") for i, v in enumerate(value)]
        return value

    async def _guard_text(self, text: str, meta: dict[str, Any], what: str) -> str:
        if not text:
            return text
        verdict = await self.kit.aguard(text, "input", meta)
        if not verdict.allowed:
            raise _Withheld(f"{what}: result withheld: blocked by guard {verdict.guard!r} ({_reason(verdict)})")
        return verdict.modified if verdict.modified is not None else text


def _json_size(value: Any, limit: int) -> int:
    """The size of ``value`` as JSON, counted up to a little past ``limit`` (huge arguments are
    not encoded whole just to be refused)."""
    size = 0
    for chunk in json.JSONEncoder(ensure_ascii=False, default=str).iterencode(value):
        size += len(chunk.encode())
        if size > limit:
            return size
    return size


def _content_texts(content: Sequence[Any]) -> list[str]:
    out: list[str] = []
    for block in content:
        if isinstance(block, types.TextContent):
            out.append(block.text)
        elif isinstance(block, types.EmbeddedResource) and isinstance(block.resource, types.TextResourceContents):
            out.append(block.resource.text)
    return out


def _strings_size(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return sum(_strings_size(v) for v in value.values())
    if isinstance(value, list):
        return sum(_strings_size(v) for v in value)
    return 0


__all__ = ["MAX_TOOL_NAME", "SendToolCall", "ToolGate", "error_result"]
