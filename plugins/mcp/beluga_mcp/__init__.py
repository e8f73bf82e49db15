"""MCP through Beluga's chain: ``beluga mcp-proxy`` in front of any MCP server, and ``guarded`` for
an ``mcp.ClientSession`` in process. Every tool call's arguments pass the ``on_tool_call`` guards,
the call the ``wrap_tool_call`` middleware, and the result's text the input guards as tool text.

>>> from beluga_mcp import guarded
>>> tools = guarded(session, kit, server="search")
"""

from __future__ import annotations

from beluga_mcp.gate import SendToolCall, ToolGate, error_result
from beluga_mcp.plugin import MCPKeySettings, MCPPlugin, MCPSettings
from beluga_mcp.proxy import UpstreamError, build_server, connect, http_app, serve_http, serve_stdio, server_name
from beluga_mcp.session import GuardedSession, guarded

__all__ = [
    "GuardedSession",
    "MCPKeySettings",
    "MCPPlugin",
    "MCPSettings",
    "SendToolCall",
    "ToolGate",
    "UpstreamError",
    "build_server",
    "connect",
    "error_result",
    "guarded",
    "http_app",
    "serve_http",
    "serve_stdio",
    "server_name",
]
