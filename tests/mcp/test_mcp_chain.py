"""The ``wrap_tool_call`` middleware on an MCP tool call (``ToolGate``, with a stand-in for the
server's ``tools/call``): retry, a breaker per server, tool-call rate limits, the timeout, and the
server's own protocol errors passed back as they were."""

from __future__ import annotations

from typing import Any

import anyio
import mcp.types as types
import pytest
from mcp import MCPError

from beluga_breaker import BreakerPlugin
from beluga_core import Kit
from beluga_core.testing import kit_with
from beluga_mcp import MCPKeySettings, MCPSettings, ToolGate
from beluga_ratelimit import RateLimitPlugin
from beluga_retry import RetryPlugin


class Server:
    """A stand-in for an MCP server's ``tools/call``: raises the queued errors first, then answers."""

    def __init__(self, *errors: BaseException, delay: float = 0.0) -> None:
        self.errors = list(errors)
        self.delay = delay
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def send(self, name: str, arguments: dict[str, Any]) -> types.CallToolResult:
        self.calls.append((name, arguments))
        if self.delay:
            await anyio.sleep(self.delay)
        if self.errors:
            raise self.errors.pop(0)
        return types.CallToolResult(content=[types.TextContent(type="text", text="done")])


async def _no_sleep(_: float) -> None:
    return None


def _kit(config: dict[str, Any]) -> Kit:
    return kit_with(RateLimitPlugin(), RetryPlugin(sleep=_no_sleep), BreakerPlugin(),
                    config={"beluga": {"plugins": ["ratelimit", "retry", "breaker"]}, "plugins": config})


def _text(result: types.CallToolResult) -> str:
    return " ".join(getattr(b, "text", "") for b in result.content)


async def test_a_lost_connection_is_retried_only_when_tool_calls_are_retried() -> None:
    on = ToolGate(_kit({"retry": {"tool_calls": True}}), "search")
    server = Server(anyio.BrokenResourceError())
    result = await on.call_tool("find", {"q": "otters"}, server.send)
    assert not result.is_error and len(server.calls) == 2

    off = ToolGate(_kit({}), "search")
    server = Server(anyio.BrokenResourceError())
    result = await off.call_tool("find", {"q": "otters"}, server.send)
    assert result.is_error and "MCP server 'search' is unavailable" in _text(result)
    assert len(server.calls) == 1


async def test_the_breaker_opens_for_one_server_and_not_the_others() -> None:
    kit = _kit({"breaker": {"failure_threshold": 2, "reset_timeout": "60s"}})
    down, up = ToolGate(kit, "down"), ToolGate(kit, "up")
    failing = Server(*(anyio.ClosedResourceError() for _ in range(10)))
    first = [await down.call_tool("t", {}, failing.send) for _ in range(2)]
    assert all(r.is_error and "unavailable" in _text(r) for r in first)
    refused = await down.call_tool("t", {}, failing.send)
    assert refused.is_error and "circuit open" in _text(refused)
    assert len(failing.calls) == 2  # the open breaker kept the third call from the server
    healthy = Server()
    assert not (await up.call_tool("t", {}, healthy.send)).is_error


async def test_the_servers_protocol_errors_come_back_as_they_were_and_open_no_breaker() -> None:
    kit = _kit({"breaker": {"failure_threshold": 1}, "retry": {"tool_calls": True}})
    gate = ToolGate(kit, "strict")
    server = Server(*(MCPError(types.INVALID_PARAMS, "timezone is required") for _ in range(3)))
    for _ in range(3):
        with pytest.raises(MCPError) as caught:
            await gate.call_tool("get_time", {}, server.send)
        assert caught.value.code == types.INVALID_PARAMS and caught.value.message == "timezone is required"
    assert len(server.calls) == 3  # not retried, and the breaker never opened


async def test_tool_calls_per_minute_are_limited_per_key() -> None:
    kit = _kit({"ratelimit": {"tool_calls_per_minute": 2}})
    gate = ToolGate(kit, "search")
    acme = MCPKeySettings(key="acme-key-123456", project="acme")
    other = MCPKeySettings(key="other-key-123456", project="other")
    server = Server()
    results = [await gate.call_tool("find", {}, server.send, key=acme) for _ in range(3)]
    assert [r.is_error for r in results] == [False, False, True]
    assert "rate limited" in _text(results[2]) and "retry after" in _text(results[2])
    assert not (await gate.call_tool("find", {}, server.send, key=other)).is_error
    assert len(server.calls) == 3


async def test_a_server_that_does_not_answer_in_time_gives_an_error_result() -> None:
    gate = ToolGate(_kit({}), "slow", settings=MCPSettings(timeout=0.05))  # type: ignore[arg-type]
    result = await gate.call_tool("wait", {}, Server(delay=30).send)
    assert result.is_error and "did not answer within 0.05s" in _text(result)


async def test_non_object_arguments_are_refused_in_process() -> None:
    server = Server()
    result = await ToolGate(_kit({}), "s").call_tool("t", ["a", "b"], server.send)
    assert result.is_error and "arguments must be a JSON object, not list" in _text(result)
    assert server.calls == []


async def test_a_huge_tool_name_is_refused_without_being_echoed() -> None:
    server = Server()
    result = await ToolGate(_kit({}), "s").call_tool("x" * 100_000, {}, server.send)
    assert result.is_error and _text(result) == "tool name is longer than 256 characters"
    assert server.calls == []


async def test_a_result_with_more_text_than_the_guards_read_is_withheld() -> None:
    settings = MCPSettings(max_result_chars=2048)

    async def big(name: str, arguments: dict[str, Any]) -> types.CallToolResult:
        text = "otters " * int(arguments["n"])
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)],
                                    structured_content={"result": text})

    gate = ToolGate(_kit({}), "s", settings=settings)
    small = await gate.call_tool("read", {"n": 100}, big)  # 700 characters, twice
    large = await gate.call_tool("read", {"n": 1000}, big)
    assert not small.is_error
    assert large.is_error and "more than 2048 characters" in _text(large) and "otters" not in _text(large)
