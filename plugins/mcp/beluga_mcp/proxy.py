"""``beluga mcp-proxy``'s machinery: connect to the upstream MCP server (a command over stdio, or
a streamable HTTP URL), and serve MCP in front of it (stdio, or streamable HTTP) with every tool
call through a ``ToolGate``."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, nullcontext
from typing import Any, TextIO, TypeVar

import anyio
import httpx2
import mcp.types as types
from anyio.abc import TaskStatus
from mcp import ClientSession, MCPError, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

from beluga_core import Kit, get_logger
from beluga_mcp.gate import ToolGate
from beluga_mcp.plugin import MCPKeySettings, MCPSettings

log = get_logger("beluga.mcp")

Upstream = Sequence[str] | str
T = TypeVar("T")


class UpstreamError(Exception):
    """The upstream MCP server could not be started or did not complete the handshake."""


def is_url(upstream: Upstream) -> bool:
    return isinstance(upstream, str) and upstream.startswith(("http://", "https://"))


def server_name(upstream: Upstream, settings: MCPSettings) -> str:
    """The upstream's name in metadata and errors: ``[plugins.mcp] server``, else the command's
    file name (or the URL's host)."""
    if settings.server:
        return settings.server
    if is_url(upstream):
        assert isinstance(upstream, str)
        return upstream.split("://", 1)[1].split("/", 1)[0]
    command = [upstream] if isinstance(upstream, str) else list(upstream)
    return os.path.basename(command[0]) if command and command[0] else "mcp"


@asynccontextmanager
async def connect(
    upstream: Upstream, *, timeout: float = 30.0, errlog: TextIO | None = None
) -> AsyncIterator[ClientSession]:
    """An initialized ``ClientSession`` to the upstream: ``upstream`` is a command line (its
    process is started and stopped with the session) or a streamable HTTP URL."""
    if is_url(upstream):
        assert isinstance(upstream, str)
        transport = streamable_http_client(upstream)
        what = upstream
    else:
        command = [upstream] if isinstance(upstream, str) else list(upstream)
        if not command or not command[0]:
            raise UpstreamError("no MCP server command given (beluga mcp-proxy -- COMMAND [ARGS...])")
        # The command runs as it would from this shell: with this process's environment (the SDK
        # passes only a few safe variables unless told).
        params = StdioServerParameters(command=command[0], args=command[1:], env=dict(os.environ))
        transport = stdio_client(params, errlog=errlog or sys.stderr)
        what = repr(command[0])
    try:
        async with AsyncExitStack() as stack:
            try:
                read, write = await stack.enter_async_context(transport)
            except OSError as exc:
                raise UpstreamError(f"cannot start MCP server {what}: {exc.strerror or type(exc).__name__}") from None
            session = await stack.enter_async_context(ClientSession(read, write))
            try:
                with anyio.fail_after(timeout):
                    await session.initialize()
            except TimeoutError:
                raise UpstreamError(f"MCP server {what} did not complete the handshake within {timeout:g}s") from None
            except MCPError as exc:
                raise UpstreamError(f"MCP server {what} ended before the handshake completed ({exc.message})") from None
            yield session
    except Exception as exc:
        found = upstream_error(exc)
        if found is not None:
            raise found from None
        lost = _transport_error(exc)
        if lost is None:
            raise
        # An HTTP transport's failed request ends its whole task group: the connection is gone.
        raise UpstreamError(f"the connection to MCP server {what} failed ({type(lost).__name__})") from None


def upstream_error(exc: BaseException) -> UpstreamError | None:
    """The ``UpstreamError`` in ``exc`` (task groups wrap it in exception groups)."""
    if isinstance(exc, UpstreamError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = upstream_error(inner)
            if found is not None:
                return found
    return None


def _transport_error(exc: BaseException) -> BaseException | None:
    """The network or stream error in ``exc``, if that is what it is."""
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _transport_error(inner)
            if found is not None:
                return found
        return None
    lost = (httpx2.HTTPError, OSError, anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream)
    return exc if isinstance(exc, lost) else None


class UpstreamLink:
    """The proxy's connection to the upstream, held in a task of its own (``run``), so that losing
    it (an HTTP upstream that went away ends its transport's task group) ends only the link: the
    proxy keeps serving, and every request after that is answered with an error naming the server.
    """

    def __init__(self, upstream: Upstream, name: str, *, timeout: float = 60.0) -> None:
        self.upstream = upstream
        self.name = name
        self.timeout = timeout
        #: Why the connection ended (None while it is up).
        self.lost: str | None = None
        self._closed = anyio.Event()
        self._gone = anyio.Event()

    async def run(self, *, task_status: TaskStatus[ClientSession] = anyio.TASK_STATUS_IGNORED) -> None:
        """Connect (raising ``UpstreamError`` if that fails), report the session through
        ``task_status``, and hold the connection until ``close()`` or until it is lost."""
        started = False
        try:
            async with connect(self.upstream, timeout=self.timeout) as session:
                task_status.started(session)
                started = True
                await self._closed.wait()
        except Exception as exc:
            found = upstream_error(exc)
            if not started or found is None:
                raise
            self.lost = str(found)
            log.error("%s; requests get errors from now on (restart beluga mcp-proxy to reconnect)", found)
        finally:
            self._gone.set()

    def close(self) -> None:
        self._closed.set()

    async def call(self, fn: Callable[[], Awaitable[T]], *, timeout: float | None = None) -> T:
        """``await fn()`` on the session, given up as soon as the connection is lost (raising
        ``ConnectionError``) or after ``timeout`` seconds (``TimeoutError``)."""
        if self._gone.is_set():
            raise ConnectionError(self.lost or "the connection closed")
        done: list[T] = []
        try:
            async with anyio.create_task_group() as tg:

                async def watch() -> None:
                    await self._gone.wait()
                    tg.cancel_scope.cancel()

                tg.start_soon(watch)
                with anyio.fail_after(timeout) if timeout is not None else nullcontext():
                    done.append(await fn())
                tg.cancel_scope.cancel()
        except BaseExceptionGroup as group:  # the call's own error, in the watcher's task group
            raise _single(group) from None
        if not done:
            raise ConnectionError(self.lost or "the connection closed")
        return done[0]


def _single(exc: BaseException) -> BaseException:
    """The one exception inside nested one-member exception groups (``exc`` itself otherwise)."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def _headers(ctx: ServerRequestContext[Any, Any]) -> Any:
    """The HTTP request's headers (None on stdio)."""
    return getattr(ctx.request, "headers", None)


def bearer(headers: Any) -> str | None:
    """The key in ``Authorization: Bearer KEY`` (None when there is none)."""
    if headers is None:
        return None
    value = headers.get("authorization") or ""
    scheme, _, key = value.partition(" ")
    return key.strip() or None if scheme.lower() == "bearer" else None


def build_server(session: ClientSession, gate: ToolGate, *, link: UpstreamLink | None = None) -> Server[Any]:
    """A lowlevel MCP ``Server`` that answers from ``session``: the capabilities the upstream has,
    tools filtered and called through ``gate``, resources (their text guarded) and prompts as they
    are. With ``link`` (the session's ``UpstreamLink``), a lost connection fails requests at once."""
    caps = session.server_capabilities or types.ServerCapabilities()

    async def relay(fn: Callable[[], Awaitable[T]]) -> T:
        """A request other than tools/call, within the timeout; a lost server is an MCP error."""
        timeout = float(gate.settings.timeout)
        try:
            if link is not None:
                return await link.call(fn, timeout=timeout)
            with anyio.fail_after(timeout):
                answer: T = await fn()
                return answer
        except TimeoutError:
            raise MCPError(types.INTERNAL_ERROR, f"MCP server {gate.server!r} did not answer within "
                           f"{timeout:g}s ([plugins.mcp] timeout)") from None
        except ConnectionError:
            raise MCPError(types.INTERNAL_ERROR, f"MCP server {gate.server!r} is unavailable: "
                           "the connection closed") from None

    info = session.server_info
    server: Server[Any] = Server(
        info.name if info is not None else gate.server,
        version=info.version if info is not None else "",
        instructions=session.instructions,
    )

    def key_of(ctx: ServerRequestContext[Any, Any]) -> MCPKeySettings | None:
        return gate.settings.key_for(bearer(_headers(ctx)))

    if caps.tools is not None:
        async def list_tools(
            ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
        ) -> types.ListToolsResult:
            result: types.ListToolsResult = await relay(lambda: session.list_tools(params=params))
            return types.ListToolsResult(tools=gate.visible_tools(result.tools, key_of(ctx)),
                                         next_cursor=result.next_cursor)

        async def call_tool(
            ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
        ) -> types.CallToolResult:
            async def send(name: str, arguments: dict[str, Any]) -> types.CallToolResult:
                if link is not None:
                    return await link.call(lambda: session.call_tool(name, arguments))
                return await session.call_tool(name, arguments)

            meta = {} if ctx.request_id is None else {"tool_call_id": str(ctx.request_id)}
            return await gate.call_tool(params.name, params.arguments, send, key=key_of(ctx), metadata=meta)

        server.add_request_handler("tools/list", types.PaginatedRequestParams, list_tools)
        server.add_request_handler("tools/call", types.CallToolRequestParams, call_tool)

    if caps.resources is not None:
        async def list_resources(
            ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
        ) -> types.ListResourcesResult:
            return await relay(lambda: session.list_resources(params=params))

        async def list_resource_templates(
            ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
        ) -> types.ListResourceTemplatesResult:
            return await relay(lambda: session.list_resource_templates(params=params))

        async def read_resource(
            ctx: ServerRequestContext[Any, Any], params: types.ReadResourceRequestParams
        ) -> types.ReadResourceResult:
            result: types.ReadResourceResult = await relay(lambda: session.read_resource(params.uri))
            assert isinstance(result, types.ReadResourceResult)
            return await gate.guard_resource(str(params.uri), result)

        server.add_request_handler("resources/list", types.PaginatedRequestParams, list_resources)
        server.add_request_handler("resources/templates/list", types.PaginatedRequestParams, list_resource_templates)
        server.add_request_handler("resources/read", types.ReadResourceRequestParams, read_resource)

    if caps.prompts is not None:
        async def list_prompts(
            ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
        ) -> types.ListPromptsResult:
            return await relay(lambda: session.list_prompts(params=params))

        async def get_prompt(
            ctx: ServerRequestContext[Any, Any], params: types.GetPromptRequestParams
        ) -> types.GetPromptResult:
            result: types.GetPromptResult = await relay(lambda: session.get_prompt(params.name, params.arguments))
            assert isinstance(result, types.GetPromptResult)
            return result

        server.add_request_handler("prompts/list", types.PaginatedRequestParams, list_prompts)
        server.add_request_handler("prompts/get", types.GetPromptRequestParams, get_prompt)

    return server


async def serve_stdio(kit: Kit, upstream: Upstream, *, settings: MCPSettings | None = None) -> None:
    """Serve MCP on this process's stdin/stdout in front of ``upstream`` until stdin closes."""
    settings = settings or _settings(kit)
    gate = ToolGate(kit, server_name(upstream, settings))
    link = UpstreamLink(upstream, gate.server, timeout=float(settings.timeout))
    async with anyio.create_task_group() as tg:
        session = await tg.start(link.run)
        try:
            server = build_server(session, gate, link=link)
            async with stdio_server() as (read, write):
                await server.run(read, write, server.create_initialization_options())
        finally:
            link.close()


def http_app(kit: Kit, session: ClientSession, gate: ToolGate, host: str, *, link: UpstreamLink | None = None) -> Any:
    """The streamable HTTP app (``/mcp``) in front of ``session``; with ``[plugins.mcp] keys``,
    a request without one of them is answered 401."""
    app = build_server(session, gate, link=link).streamable_http_app(host=host)

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and gate.settings.keys:
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}
            if gate.settings.key_for(bearer(headers)) is None:
                body = json.dumps({"error": {"code": "auth", "message": "a valid key is required: "
                                             "Authorization: Bearer KEY ([plugins.mcp] keys)"}}).encode()
                await send({"type": "http.response.start", "status": 401, "headers": [
                    (b"content-type", b"application/json"), (b"www-authenticate", b"Bearer"),
                    (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await app(scope, receive, send)

    return asgi


async def serve_http(
    kit: Kit, upstream: Upstream, *, host: str, port: int, settings: MCPSettings | None = None,
    started: Callable[[], None] | None = None,
) -> None:
    """Serve streamable HTTP MCP on ``http://host:port/mcp`` in front of ``upstream``."""
    import uvicorn

    settings = settings or _settings(kit)
    gate = ToolGate(kit, server_name(upstream, settings))
    link = UpstreamLink(upstream, gate.server, timeout=float(settings.timeout))
    async with anyio.create_task_group() as tg:
        session = await tg.start(link.run)
        try:
            app = http_app(kit, session, gate, host, link=link)
            config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
            server = uvicorn.Server(config)
            if started is not None:
                started()
            await server.serve()
        finally:
            link.close()


def _settings(kit: Kit) -> MCPSettings:
    found = kit.config.plugin_settings("mcp")
    return found if isinstance(found, MCPSettings) else MCPSettings()


__all__ = [
    "UpstreamError",
    "UpstreamLink",
    "build_server",
    "connect",
    "http_app",
    "serve_http",
    "serve_stdio",
    "server_name",
    "upstream_error",
]
