"""``beluga mcp-proxy`` over streamable HTTP: serving it (``--http PORT``, with per-key tool
allowlists) and speaking it to the upstream (``--upstream URL``)."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import httpx
import httpx2
import pytest
from mcp import ClientSession, MCPError
from mcp.client.streamable_http import streamable_http_client
from mcp_support import PROXY, RECORD_SERVER, free_port, http_process, received, session_to, text_of, write_config

KEYS = """
[[plugins.mcp.keys]]
key = "echo-only-key-1234"
name = "echo-only"
tools = ["echo"]

[[plugins.mcp.keys]]
key = "every-tool-key-5678"
name = "everything"
"""


@asynccontextmanager
async def http_session(url: str, key: str | None = None) -> AsyncIterator[ClientSession]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as client,
        streamable_http_client(url, http_client=client) as (read, write),
        ClientSession(read, write) as session,
    ):
        with anyio.fail_after(60):
            await session.initialize()
        yield session


async def test_http_clients_need_a_key_and_see_only_its_tools(tmp_path: Path, record_file: Path) -> None:
    config = write_config(tmp_path / "beluga.toml", KEYS)
    port = free_port()
    command = [*PROXY, "--config", str(config), "--http", str(port), "--", *RECORD_SERVER]
    with http_process(command, port, env={"RECORD_FILE": str(record_file)}, log=tmp_path / "proxy.log"):
        url = f"http://127.0.0.1:{port}/mcp"
        for headers in ({}, {"Authorization": "Bearer not-a-key-at-all"}):
            refused = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers=headers, timeout=30)
            assert refused.status_code == 401
            assert refused.json()["error"]["code"] == "auth"
        async with http_session(url, "echo-only-key-1234") as s:
            assert [t.name for t in (await s.list_tools()).tools] == ["echo"]
            refused_call = await s.call_tool("fetch_page", {"which": "clean"})
            echoed = await s.call_tool("echo", {"value": "ok"})
        async with http_session(url, "every-tool-key-5678") as s:
            assert len((await s.list_tools()).tools) == 5
            sent = await s.call_tool("send_note", {"to": "jane.doe@example.com", "body": "hi"})
    assert refused_call.is_error and "not allowed" in text_of(refused_call)
    assert not echoed.is_error and not sent.is_error
    assert [(r["tool"], r["arguments"]) for r in received(record_file)] == [
        ("echo", {"value": "ok"}), ("send_note", {"to": "[EMAIL]", "body": "hi"})]
    assert "echo-only-key-1234" not in (tmp_path / "proxy.log").read_text()


async def test_a_streamable_http_upstream_behind_the_stdio_proxy(tmp_path: Path, record_file: Path) -> None:
    port = free_port()
    env = {"RECORD_FILE": str(record_file)}
    with http_process([*RECORD_SERVER, "--http", str(port)], port, env=env):
        config = write_config(tmp_path / "beluga.toml")
        command = [*PROXY, "--config", str(config), "--upstream", f"http://127.0.0.1:{port}/mcp"]
        async with session_to(command) as s:
            names = {t.name for t in (await s.list_tools()).tools}
            sent = await s.call_tool("send_note", {"to": "jane.doe@example.com", "body": "hi"})
            injected = await s.call_tool("fetch_page", {"which": "injected"})
    assert {"echo", "send_note", "fetch_page"} <= names
    assert not sent.is_error
    assert injected.is_error and "guard-injection" in text_of(injected)
    assert received(record_file)[0]["arguments"] == {"to": "[EMAIL]", "body": "hi"}


async def test_an_http_upstream_that_goes_away_gives_error_results_and_a_clear_log_line(tmp_path: Path) -> None:
    port = free_port()
    errlog = tmp_path / "proxy.err"
    config = write_config(tmp_path / "beluga.toml")
    command = [*PROXY, "--config", str(config), "--upstream", f"http://127.0.0.1:{port}/mcp"]
    with http_process([*RECORD_SERVER, "--http", str(port)], port) as upstream:
        async with session_to(command, errlog=errlog) as s:
            assert not (await s.call_tool("echo", {"value": 1})).is_error
            upstream.terminate()
            upstream.wait(30)
            with anyio.fail_after(30):
                lost = await s.call_tool("echo", {"value": 2})
                after = await s.call_tool("echo", {"value": 3})
                with pytest.raises(MCPError) as listing:
                    await s.list_tools()
    assert lost.is_error and after.is_error
    assert f"MCP server '127.0.0.1:{port}' is unavailable" in text_of(after)
    assert "unavailable" in listing.value.message
    log = errlog.read_text()
    assert f"the connection to MCP server http://127.0.0.1:{port}/mcp failed" in log
    assert "Traceback" not in log


def test_an_http_upstream_that_is_not_there_is_a_clear_error(tmp_path: Path) -> None:
    config = write_config(tmp_path / "beluga.toml")
    port = free_port()
    proc = subprocess.run([*PROXY, "--config", str(config), "--upstream", f"http://127.0.0.1:{port}/mcp"],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert f"the connection to MCP server http://127.0.0.1:{port}/mcp failed (ConnectError)" in proc.stderr
    assert "Traceback" not in proc.stderr
