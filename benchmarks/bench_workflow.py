"""Per-node scheduling overhead of beluga_workflow's Scatter and Graph vs hand-written asyncio.

Scatter is compared with ``asyncio.gather`` and a hand-written ``asyncio.TaskGroup`` over the
same coroutines; Graph with hand-written code doing the same routing on each node's output: awaits
and inline if-statements, the same calling the graph's own condition function, and a table loop.
Nodes are trivial (``return x + 1``) or yield once (``await asyncio.sleep(0)``), so the figures are
the frameworks' own cost per node. Rows are measured round-robin so machine load hits all alike.
Target: within 2x of hand-written asyncio.

Run: .venv/bin/python benchmarks/bench_workflow.py
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from beluga_workflow import Edge, Graph, Scatter, runnable

N = 10  # nodes per scatter / steps per graph run
ROUNDS = 5
GRAPH_ROUNDS = 25  # graph rows are cheap: more rounds make their best figure steadier
Node = Callable[[int], Coroutine[Any, Any, int]]


async def trivial(x: int) -> int:
    return x + 1


async def yielding(x: int) -> int:
    await asyncio.sleep(0)
    return x + 1


def best_per_node(
    rows: dict[str, Callable[[], Awaitable[Any]]], iterations: int, nodes: int, rounds: int = ROUNDS
) -> list[tuple[str, float]]:
    """Best of ``rounds`` for each row, in microseconds per node. Rows are measured round-robin in
    one event loop, so load from elsewhere on the (shared) machine hits every row alike."""

    async def timed() -> dict[str, float]:
        for run in rows.values():
            for _ in range(50):  # warm-up
                await run()
        best = dict.fromkeys(rows, float("inf"))
        for _ in range(rounds):
            for name, run in rows.items():
                t0 = time.perf_counter()
                for _ in range(iterations):
                    await run()
                best[name] = min(best[name], time.perf_counter() - t0)
        return best

    return [(name, seconds / iterations / nodes * 1e6) for name, seconds in asyncio.run(timed()).items()]


def scatter_cases(node: Node, iterations: int) -> list[tuple[str, float]]:
    fns = [node] * N
    scatter = Scatter(*(runnable(node, name=f"n{i}") for i in range(N)))
    limited = Scatter(*(runnable(node, name=f"n{i}") for i in range(N)), concurrency=4)
    timed = Scatter(*(runnable(node, name=f"n{i}") for i in range(N)), timeout=30)

    async def by_gather() -> Any:
        return await asyncio.gather(*(f(1) for f in fns))

    async def by_taskgroup() -> Any:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(f(1)) for f in fns]
        return [t.result() for t in tasks]

    async def by_gather_sem() -> Any:
        sem = asyncio.Semaphore(4)

        async def one(f: Node) -> int:
            async with sem:
                return await f(1)

        return await asyncio.gather(*(one(f) for f in fns))

    async def by_gather_timeout() -> Any:
        async def one(f: Node) -> int:
            async with asyncio.timeout(30):
                return await f(1)

        return await asyncio.gather(*(one(f) for f in fns))

    return best_per_node(
        {
            "asyncio.gather": by_gather,
            "asyncio.TaskGroup (hand-written)": by_taskgroup,
            "Scatter": lambda: scatter.ainvoke(1),
            "gather + Semaphore(4)": by_gather_sem,
            "Scatter(concurrency=4)": lambda: limited.ainvoke(1),
            "gather + asyncio.timeout per node": by_gather_timeout,
            "Scatter(timeout=30)": lambda: timed.ainvoke(1),
        },
        iterations,
        N,
    )


def graph_cases(node: Node, iterations: int) -> list[tuple[str, float]]:
    # A chain of N nodes; after each node two conditional edges (one never true) and a default.
    def negative(out: int) -> bool:
        return out < 0

    graph = Graph("bench", max_steps=N + 1)
    for i in range(N):
        graph.add_node(f"n{i}", runnable(node, name=f"n{i}"))
    for i in range(N - 1):
        graph.add_edge(Edge(f"n{i}", f"n{N - 1}", negative))
        graph.add_edge(Edge(f"n{i}", f"n{i + 1}"))
    graph.set_entry("n0").validate()

    async def by_hand() -> Any:
        x = 1
        for _ in range(N - 1):
            x = await node(x)
            if x < 0:
                break
        return await node(x)

    async def by_hand_conditions() -> Any:
        # The same, calling the graph's condition function instead of an inline comparison.
        x = 1
        for _ in range(N - 1):
            x = await node(x)
            if negative(x):
                break
        return await node(x)

    fns = [node] * N

    async def by_hand_table() -> Any:
        # The same routing written as a small table-driven loop, as hand-written code often is.
        i, x = 0, 1
        while True:
            x = await fns[i](x)
            if i == N - 1:
                return x
            i = N - 1 if x < 0 else i + 1

    return best_per_node(
        {
            "hand-written awaits + ifs": by_hand,
            "hand-written, same condition fns": by_hand_conditions,
            "hand-written table loop": by_hand_table,
            "Graph": lambda: graph.ainvoke(1),
        },
        iterations,
        N,
        GRAPH_ROUNDS,
    )


def table(title: str, rows: list[tuple[str, float]], baseline: str) -> None:
    base = dict(rows)[baseline]
    print(f"\n{title}")
    print(f"{'':2}{'implementation':<36}{'µs/node':>10}{'vs ' + baseline:>36}")
    for name, us in rows:
        print(f"{'':2}{name:<36}{us:>10.2f}{us / base:>35.2f}x")


def main() -> None:
    quick = "--quick" in sys.argv
    iterations = 300 if quick else 2000
    print(
        f"beluga_workflow overhead per node (N={N} nodes, best of {ROUNDS} (graphs {GRAPH_ROUNDS}) "
        f"interleaved rounds x {iterations} runs, Python {sys.version.split()[0]})"
    )
    for label, node in (
        ("trivial nodes (return x + 1)", trivial),
        ("yielding nodes (await asyncio.sleep(0))", yielding),
    ):
        rows = scatter_cases(node, iterations)
        table(f"Scatter, {label}", rows, "asyncio.gather")
        pairs = {name: us for name, us in rows}
        print(
            f"  ratios: Scatter/gather {pairs['Scatter'] / pairs['asyncio.gather']:.2f}x, "
            f"Scatter/TaskGroup {pairs['Scatter'] / pairs['asyncio.TaskGroup (hand-written)']:.2f}x, "
            f"limited {pairs['Scatter(concurrency=4)'] / pairs['gather + Semaphore(4)']:.2f}x, "
            f"timeout {pairs['Scatter(timeout=30)'] / pairs['gather + asyncio.timeout per node']:.2f}x"
        )
        grows = graph_cases(node, iterations)
        table(f"Graph, {label}", grows, "hand-written awaits + ifs")
        g = dict(grows)
        print(
            f"  ratios: Graph/awaits {g['Graph'] / g['hand-written awaits + ifs']:.2f}x, "
            f"Graph/same condition fns {g['Graph'] / g['hand-written, same condition fns']:.2f}x, "
            f"Graph/table loop {g['Graph'] / g['hand-written table loop']:.2f}x"
        )
    print("\ncommand: .venv/bin/python benchmarks/bench_workflow.py" + (" --quick" if quick else ""))


if __name__ == "__main__":
    main()
