"""A short soak: mixed traffic through a real ``beluga serve`` process leaves it healthy and flat.

The long run is ``python benchmarks/soak.py --seconds 1800``; this one runs 15 seconds with generous
bounds, so a leak of a file descriptor per request or a status no request may get still fails it.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import soak


def test_mixed_traffic_with_reloads_leaves_the_gateway_healthy_and_its_memory_and_fds_flat() -> None:
    r = soak.run(seconds=15, concurrency=6, every=3.0)

    assert r["alive"], r["log"]
    assert r["sent"] > 200
    assert r["reloads"] >= 4
    assert r["unexpected"] == {}, r["statuses"]
    assert r["final_readyz"] == 200
    assert all(s["metrics"] == 200 and s["readyz"] == 200 for s in r["samples"])
    assert r["fd_growth"] < 20
    assert r["rss_growth_mb"] < 40
