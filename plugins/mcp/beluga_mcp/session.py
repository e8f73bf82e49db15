"""In process: an ``mcp.ClientSession`` whose tool calls take the same path as through the proxy."""

from __future__ import annotations

from typing import Any

import mcp.types as types
from mcp import ClientSession

from beluga_core import Kit
from beluga_mcp.gate import ToolGate
from beluga_mcp.plugin import MCPKeySettings, MCPSettings


class GuardedSession:
    """Wraps an initialized ``ClientSession``: ``call_tool`` runs through ``kit``'s chain
    (allowlist, ``on_tool_call`` guards, ``wrap_tool_call`` middleware, result guards),
    ``list_tools`` shows only the allowed tools and ``read_resource`` guards the text. Every other
    attribute is the session's own.

    >>> tools = guarded(session, kit, server="search")
    >>> result = await tools.call_tool("search", {"q": "otters"})
    """

    def __init__(
        self,
        session: ClientSession,
        kit: Kit,
        *,
        server: str = "mcp",
        settings: MCPSettings | None = None,
        key: MCPKeySettings | None = None,
    ) -> None:
        self.session = session
        self.gate = ToolGate(kit, server, settings=settings)
        self.key = key

    async def call_tool(
        self, name: str, arguments: dict[str, Any] | None = None, **kwargs: Any
    ) -> types.CallToolResult:
        """``ClientSession.call_tool`` through the checks; a refusal is an error result (``isError``)."""

        async def send(tool: str, args: dict[str, Any]) -> types.CallToolResult:
            result = await self.session.call_tool(tool, args, **kwargs)
            assert isinstance(result, types.CallToolResult)
            return result

        return await self.gate.call_tool(name, arguments, send, key=self.key)

    async def list_tools(self, *, params: types.PaginatedRequestParams | None = None) -> types.ListToolsResult:
        result = await self.session.list_tools(params=params)
        return result.model_copy(update={"tools": self.gate.visible_tools(result.tools, self.key)})

    async def read_resource(self, uri: Any, **kwargs: Any) -> types.ReadResourceResult:
        result = await self.session.read_resource(uri, **kwargs)
        assert isinstance(result, types.ReadResourceResult)
        return await self.gate.guard_resource(str(uri), result)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.session, name)


def guarded(
    session: ClientSession,
    kit: Kit,
    *,
    server: str = "mcp",
    settings: MCPSettings | None = None,
    key: MCPKeySettings | None = None,
) -> GuardedSession:
    """``session`` with its tool calls through ``kit``'s chain (see ``GuardedSession``)."""
    return GuardedSession(session, kit, server=server, settings=settings, key=key)


__all__ = ["GuardedSession", "guarded"]
