"""Per-tool-call overhead of ``beluga mcp-proxy``: the same MCP client (the SDK's stdio
``ClientSession``) calls the same MCP server (tests/mcp/record_server.py, the ``echo`` tool)
directly, through the proxy with no guards, through the proxy with the guards on arguments and
results, and in process through ``guarded(session, kit)``.

    .venv/bin/python benchmarks/bench_mcp.py [--calls N]

Calls run one after another (the latency an agent waits per tool call); p50 and p99 are over the
timed calls after a warm-up, calls/s is their count over their total time. Printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
from mcp import ClientSession, StdioServerParameters, stdio_client

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import header, table

from beluga_core import Kit
from beluga_mcp import guarded

ROOT = Path(__file__).resolve().parent.parent
SERVER = [sys.executable, str(ROOT / "tests" / "mcp" / "record_server.py")]
PROXY = [sys.executable, "-m", "beluga_core.cli", "mcp-proxy"]
ARGUMENTS = {"value": "Otters hold hands while they sleep, so they do not drift apart."}
CONFIGS = {
    "no plugins": '[beluga]\nplugins = ["mcp"]\nload_unlisted = false\n',
    "guard-injection + guard-pii": (
        '[beluga]\nplugins = ["guard-injection", "guard-pii", "mcp"]\nload_unlisted = false\n'
    ),
}
WARMUP = 20


async def _timed(call: Callable[[], Awaitable[Any]], n: int) -> list[float]:
    for _ in range(WARMUP):
        await call()
    out = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        result = await call()
        out.append((time.perf_counter_ns() - t0) / 1e6)
        assert not result.is_error, result
    return out


async def _session_run(command: list[str], n: int, kit: Kit | None = None) -> list[float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "BELUGA_"))}
    params = StdioServerParameters(command=command[0], args=command[1:], env=env)
    with open(os.devnull, "w") as err:
        async with stdio_client(params, errlog=err) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            target: Any = session if kit is None else guarded(session, kit, server="record")
            return await _timed(lambda: target.call_tool("echo", ARGUMENTS), n)


def _row(name: str, ms: list[float], direct: float | None) -> list[Any]:
    p50 = statistics.median(ms)
    p99 = sorted(ms)[max(0, int(len(ms) * 0.99) - 1)]
    rate = len(ms) / (sum(ms) / 1000)
    overhead = "" if direct is None else f"{(p50 - direct) * 1000:,.0f}"
    return [name, p50, p99, rate, overhead]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300, help="timed calls per row (default 300)")
    n = parser.parse_args().calls
    header(f"MCP tool call: direct vs through beluga mcp-proxy ({n} sequential calls per row, "
           f"{WARMUP} warm-up calls first)")
    rows = []
    direct = anyio.run(_session_run, SERVER, n)
    base = statistics.median(direct)
    rows.append(_row("direct (client -> server)", direct, None))
    with tempfile.TemporaryDirectory() as tmp:
        for label, text in CONFIGS.items():
            config = Path(tmp) / f"{len(rows)}.toml"
            config.write_text(text)
            ms = anyio.run(_session_run, [*PROXY, "--config", str(config), "--", *SERVER], n)
            rows.append(_row(f"beluga mcp-proxy, {label}", ms, base))
        config = Path(tmp) / "inprocess.toml"
        config.write_text(CONFIGS["guard-injection + guard-pii"])
        kit = Kit.from_config(config)
        ms = anyio.run(_session_run, SERVER, n, kit)
        rows.append(_row("in process guarded(session, kit), guards", ms, base))
    print(table(["path", "p50 ms", "p99 ms", "calls/s", "p50 overhead µs"], rows))


if __name__ == "__main__":
    main()
