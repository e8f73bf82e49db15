"""Helpers for the MCP tests: real MCP servers over stdio (tests/mcp/record_server.py, written on
the SDK's MCPServer, and the published mcp-server-time) behind a real ``beluga mcp-proxy`` process,
spoken to by the SDK's own stdio client."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
from mcp import ClientSession, StdioServerParameters, stdio_client

HERE = Path(__file__).resolve().parent
RECORD_SERVER = [sys.executable, str(HERE / "record_server.py")]
TIME_SERVER = [sys.executable, "-m", "mcp_server_time", "--local-timezone", "UTC"]
PROXY = [sys.executable, "-m", "beluga_core.cli", "mcp-proxy"]
#: The guards the proxy runs in these tests, and nothing else installed (no tracing, no limits).
BASE_CONFIG = """
[beluga]
plugins = ["guard-injection", "guard-pii", "mcp"]
load_unlisted = false
"""


def write_config(path: Path, extra: str = "", base: str = BASE_CONFIG) -> Path:
    path.write_text(base + extra)
    return path


def received(record_file: Path) -> list[dict[str, Any]]:
    if not record_file.exists():
        return []
    return [json.loads(line) for line in record_file.read_text().splitlines()]


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "BELUGA_"))}
    env.update(extra or {})
    return env


@asynccontextmanager
async def session_to(
    command: Sequence[str], *, env: dict[str, str] | None = None, errlog: Path | None = None
) -> AsyncIterator[ClientSession]:
    """The SDK's stdio client, initialized, on the MCP server ``command`` starts."""
    params = StdioServerParameters(command=command[0], args=list(command[1:]), env=_env(env))
    with open(errlog or os.devnull, "w") as err:
        async with stdio_client(params, errlog=err) as (read, write), ClientSession(read, write) as session:
            with anyio.fail_after(60):
                await session.initialize()
            yield session


def proxy_command(config: Path, upstream: Sequence[str]) -> list[str]:
    return [*PROXY, "--config", str(config), "--", *upstream]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def http_process(command: Sequence[str], port: int, *, env: dict[str, str] | None = None,
                 log: Path | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``command`` (a server listening on ``port``), wait until it accepts connections, stop it."""
    with open(log or os.devnull, "wb") as out:
        proc = subprocess.Popen(list(command), env=_env(env), stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"{command[:4]} exited with {proc.returncode}"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, f"nothing listens on port {port}"
                time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def text_of(result: Any) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)
