"""Light requests' latency through ``beluga serve`` while guards work on large hostile messages.

A real gateway (``beluga_gateway.ServerThread``, the echo provider, guard-injection and guard-pii in
the chain) runs in its own process. One client sends light chat requests one after another for the
whole run and times each; meanwhile ``HOSTILE`` clients each send one large message at the same
moment (1 MB of phone numbers: tens of thousands of PII findings; or 1 MB of random words), and
again as soon as the previous one is answered. Printed: the light requests' p50/p99/max while
nothing else runs, and while the hostile messages are being guarded, plus how long each hostile
message took. Each configuration gets a fresh server: the offload off (``guard_offload_chars =
0``: every guard runs on the event loop), the defaults (texts of 8,192 characters or more guarded on
one worker thread), and four worker threads.

Run: .venv/bin/python benchmarks/bench_guard_stall.py
(BENCH_SECONDS=N sets each window, default 5; BENCH_HOSTILE=N the concurrent hostile clients,
default 4; BENCH_SIZE=N the hostile message's characters, default 1,000,000; BENCH_ONLY=default
runs only the configurations whose label contains it; BENCH_SWITCH=seconds sets the server's
``sys.setswitchinterval``, how long a thread that wants the GIL waits before the holder must
yield it: 0.005 by default)

The server runs in a child process, so the clients' own Python work does not share its GIL.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import header, table

KEY = "sk-bench-stall-0123456789abcdef"
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
HOSTILE = int(os.environ.get("BENCH_HOSTILE", "4"))
SIZE = int(os.environ.get("BENCH_SIZE", "1000000"))
ONLY = os.environ.get("BENCH_ONLY", "")
SWITCH = os.environ.get("BENCH_SWITCH")
#: (label, extra [beluga] settings) per server.
CONFIGS = [
    ("offload off", "guard_offload_chars = 0"),
    ("default (1 thread)", ""),
    ("4 threads", "guard_threads = 4"),
]
LIGHT = json.dumps({"model": "echo", "messages": [{"role": "user", "content": "Hello, how are you today?"}]}).encode()

CONFIG = """
[beluga]
plugins = ["guard-injection", "guard-pii", "gateway"]
load_unlisted = false
provider = "echo"
{extra}

[plugins.gateway]
keys = [{{ key = "{key}", project = "bench" }}]
max_body_bytes = 16777216
"""


def phones(n: int, rng: random.Random) -> str:
    out: list[str] = []
    size = 0
    while size < n:
        s = f"call {rng.randint(200, 999)}-{rng.randint(200, 999)}-{rng.randint(1000, 9999)} now "
        out.append(s)
        size += len(s)
    return "".join(out)[:n]


def random_words(n: int, rng: random.Random) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = ["".join(rng.choice(letters) for _ in range(rng.randint(2, 9))) for _ in range(5000)]
    return " ".join(rng.choice(vocab) for _ in range(n // 5))[:n]


# -- the server process -------------------------------------------------------------------------


def serve(extra: str) -> None:
    from beluga_core import Kit
    from beluga_gateway import Gateway, ServerThread

    if SWITCH:
        sys.setswitchinterval(float(SWITCH))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "beluga.toml"
        path.write_text(CONFIG.format(key=KEY, extra=extra))
        server = ServerThread(Gateway(Kit(path), owns_kit=True)).start()
        print(server.port, flush=True)
        sys.stdin.read()  # until the parent closes our stdin
        server.stop()


# -- the clients ----------------------------------------------------------------------------------


def post(conn: http.client.HTTPConnection, body: bytes) -> int:
    conn.request(
        "POST", "/v1/chat/completions", body, {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    )
    resp = conn.getresponse()
    resp.read()
    return resp.status


def light_window(port: int, seconds: float) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times: list[float] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.perf_counter()
        status = post(conn, LIGHT)
        times.append(time.perf_counter() - t0)
        assert status == 200, status
        time.sleep(0.005)
    conn.close()
    return times


def hostile_client(port: int, body: bytes, stop: threading.Event, start: threading.Barrier, took: list[float]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    start.wait()
    while not stop.is_set():
        t0 = time.perf_counter()
        status = post(conn, body)
        took.append(time.perf_counter() - t0)
        assert status == 200, status
    conn.close()


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(p * len(s)))] * 1000


def run(port: int, label: str, text: str) -> list[Any]:
    body = json.dumps({"model": "echo", "messages": [{"role": "user", "content": text}]}).encode()
    stop = threading.Event()
    start = threading.Barrier(HOSTILE + 1)
    took: list[float] = []
    threads = [
        threading.Thread(target=hostile_client, args=(port, body, stop, start, took), daemon=True)
        for _ in range(HOSTILE)
    ]
    for t in threads:
        t.start()
    start.wait()
    times = light_window(port, SECONDS)
    stop.set()
    for t in threads:
        t.join(120)
    hostile = f"{len(took)} done, {statistics.median(took):.2f} s median" if took else "none finished"
    return [label, len(times), pct(times, 0.5), pct(times, 0.99), max(times) * 1000, hostile]


def measure(label: str, extra: str, texts: dict[str, str]) -> list[list[Any]]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", extra], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        light_window(port, 1.0)  # warm up (the guards build their engines on first use)
        idle = light_window(port, SECONDS)
        rows: list[list[Any]] = [[label, "idle", len(idle), pct(idle, 0.5), pct(idle, 0.99), max(idle) * 1000, "-"]]
        rows += [[label, *run(port, f"{HOSTILE} x {name}", text)] for name, text in texts.items()]
        return rows
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.wait(60)


def main() -> None:
    if "--serve" in sys.argv:
        serve(sys.argv[-1] if sys.argv[-1] != "--serve" else "")
        return
    header("Light-request latency while guards work on large hostile messages")
    print(f"{HOSTILE} hostile clients, {SIZE:,} characters each; server switch interval {SWITCH or 'default'}")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    rng = random.Random(14)
    texts = {"phone numbers": phones(SIZE, rng), "random words": random_words(SIZE, rng)}
    rows = [row for label, extra in CONFIGS if ONLY in label for row in measure(label, extra, texts)]
    headers = ["server", "light requests during", "n", "p50 ms", "p99 ms", "max ms", "hostile messages"]
    print(table(headers, rows))
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
