"""State a caller can grow by sending distinct model names: RSS of `beluga serve`, and the sizes of
/metrics and /readyz, before and after N names (default 3,000), with the breaker in the chain.

    .venv/bin/python benchmarks/bench_model_names.py [N] [--failing]

``--failing`` makes the echo provider fail every call, so each name's failure reaches the breaker.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

CONFIG = """
[beluga]
plugins = ["breaker", "gateway"]
load_unlisted = false
provider = "echo"
{failing}
"""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    n = int(next((a for a in sys.argv[1:] if a.isdigit()), "3000"))
    failing = "--failing" in sys.argv
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "beluga.toml"
        fail = '[providers.echo]\noptions = { fail_times = 100000000 }' if failing else ""
        path.write_text(CONFIG.format(failing=fail))
        from beluga_gateway.serve import free_port

        port = free_port()
        beluga = Path(sys.executable).with_name("beluga")
        proc = subprocess.Popen([str(beluga), "serve", "-c", str(path), "--port", str(port), "--no-reload"],
                                env={**os.environ, "BELUGA_CONFIG": ""}, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(base_url=url, timeout=30) as client:
                for _ in range(200):
                    try:
                        client.get("/healthz")
                        break
                    except httpx.HTTPError:
                        time.sleep(0.05)
                hello = [{"role": "user", "content": "hi"}]
                for _ in range(50):  # warm up with one name
                    client.post("/v1/chat/completions", json={"model": "echo", "messages": hello})
                before = (rss_mb(proc.pid), len(client.get("/metrics").content), len(client.get("/readyz").content))
                t0 = time.perf_counter()
                statuses: dict[int, int] = {}
                for i in range(n):
                    r = client.post("/v1/chat/completions", json={"model": f"model-{i}", "messages": hello})
                    statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                took = time.perf_counter() - t0
                after = (rss_mb(proc.pid), len(client.get("/metrics").content), len(client.get("/readyz").content))
        finally:
            proc.terminate()
            proc.wait(30)
    print(f"{n} distinct model names{' (provider failing)' if failing else ''} in {took:.1f}s; statuses {statuses}")
    print(f"RSS      {before[0]:8.1f} MB -> {after[0]:8.1f} MB")
    print(f"/metrics {before[1]:8d} B  -> {after[1]:8d} B")
    print(f"/readyz  {before[2]:8d} B  -> {after[2]:8d} B")


if __name__ == "__main__":
    main()
