"""Slow clients against `beluga serve` with its default limits: N sockets that send a request head
(or a chat body) byte by byte, how long the gateway holds them, and a normal request meanwhile.

    .venv/bin/python benchmarks/bench_slow_clients.py [N]
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

CONFIG = '[beluga]\nplugins = ["gateway"]\nload_unlisted = false\nprovider = "echo"\n'
GIVE_UP = 90.0  # seconds after which a client stops dripping (the server never closed it)
HEAD = b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    from beluga_gateway.serve import free_port

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "beluga.toml"
        path.write_text(CONFIG)
        port = free_port()
        beluga = Path(sys.executable).with_name("beluga")
        proc = subprocess.Popen([str(beluga), "serve", "-c", str(path), "--port", str(port), "--no-reload"],
                                env={**os.environ, "BELUGA_CONFIG": ""}, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    httpx.get(url + "/healthz", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.05)
            half = n // 2
            socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
            for s in socks[:half]:  # the first half sends a head that never ends, byte by byte
                s.sendall(HEAD + b"x-slow: ")
            for s in socks[half:]:  # the second half sends a whole head, then a body byte by byte
                s.sendall(HEAD + b"content-length: 100000\r\n\r\n")
            held: list[float] = [0.0] * n
            t0 = time.monotonic()

            def drip(i: int, s: socket.socket) -> None:
                s.settimeout(0.2)
                try:
                    while time.monotonic() - t0 < GIVE_UP:
                        try:
                            if not s.recv(4096):
                                break
                        except TimeoutError:
                            s.sendall(b"x")
                except OSError:
                    pass
                held[i] = time.monotonic() - t0

            threads = [threading.Thread(target=drip, args=(i, s), daemon=True) for i, s in enumerate(socks)]
            for t in threads:
                t.start()
            time.sleep(1.0)
            r0 = time.perf_counter()
            resp = httpx.post(url + "/v1/chat/completions", timeout=30,
                              json={"model": "echo", "messages": [{"role": "user", "content": "hi"}]})
            normal = time.perf_counter() - r0
            for t in threads:
                t.join(120)
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:  # still draining connections it never closed
                proc.kill()
                proc.wait(30)
    heads, bodies = sorted(held[:half]), sorted(held[half:])
    print(f"{n} slow sockets ({half} slow heads, {n - half} slow bodies) against beluga serve (defaults)")
    print(f"normal request meanwhile: HTTP {resp.status_code} in {normal * 1000:.1f} ms")
    print(f"slow heads held: min {heads[0]:.1f}s, max {heads[-1]:.1f}s (the client gives up at {GIVE_UP:g}s)")
    print(f"slow bodies held: min {bodies[0]:.1f}s, max {bodies[-1]:.1f}s")


if __name__ == "__main__":
    main()
