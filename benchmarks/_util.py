"""Small timing helpers shared by the benchmarks: best-of-N loops, tables, the command line."""

from __future__ import annotations

import asyncio
import statistics
import sys
import sysconfig
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any


def per_call_ns(fn: Callable[[], Any], n: int, repeat: int = 5) -> float:
    """Best (least disturbed) mean nanoseconds per call over ``repeat`` runs of ``n`` calls."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter_ns() - t0) / n)
    return best


def aper_call_ns(make: Callable[[], Awaitable[Any]], n: int, repeat: int = 5) -> float:
    """Like ``per_call_ns`` for an async callable, all runs inside one event loop."""

    async def main() -> float:
        best = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter_ns()
            for _ in range(n):
                await make()
            best = min(best, (time.perf_counter_ns() - t0) / n)
        return best

    return asyncio.run(main())


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(cells[0], widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    for row in cells[1:]:
        lines.append(
            " | ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        )
    return "\n".join(lines)


def _fmt(c: Any) -> str:
    if isinstance(c, float):
        return f"{c:,.2f}" if abs(c) < 1000 else f"{c:,.0f}"
    return str(c)


def header(title: str) -> None:
    print(f"\n## {title}\n")
    print(f"command: {' '.join([sys.executable.rsplit('/', 1)[-1], *sys.argv])}")
    print(f"python {sys.version.split()[0]}, {time.strftime('%Y-%m-%d %H:%M:%S')}\n")


def real_texts(limit: int = 1_000_000) -> dict[str, str]:
    """Real text every Python install has: its documentation's topics (prose with code examples, a large
    vocabulary, which generated prose lacks) and its source, each cut to ``limit`` characters."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    topics = (stdlib / "pydoc_data" / "topics.py").read_text(encoding="utf-8")
    source = "".join(p.read_text(encoding="utf-8", errors="replace") for p in sorted(stdlib.glob("*.py")))
    return {"Python docs (pydoc topics)": topics[:limit], "Python stdlib source": source[:limit]}
