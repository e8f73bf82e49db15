"""``beluga serve --workers 2``: two processes share one project's limit through Redis, exactly."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from gateway_support import ALPHA, BETA, write_config

from beluga_gateway.serve import free_port

pytest.importorskip("beluga_ratelimit", reason="needs the ratelimit plugin for shared limits")
pytestmark = pytest.mark.redis


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


@pytest.mark.skipif(not Path("/proc").exists(), reason="counts worker processes through /proc")
def test_two_workers_enforce_one_projects_limit_exactly(tmp_path, redis_url):
    limit = 7
    path = write_config(tmp_path / "beluga.toml", f"""
        [plugins.ratelimit]
        requests_per_minute = {limit}
        storage = "{redis_url}"
        failure_mode = "closed"
    """, plugins=("ratelimit",))
    port = free_port()
    env = {**os.environ, "GW_ALPHA_KEY": ALPHA, "PYTHONUNBUFFERED": "1"}
    env = {k: v for k, v in env.items() if not k.startswith("BELUGA_")}
    beluga = Path(sys.executable).with_name("beluga")
    proc = subprocess.Popen([str(beluga), "serve", "--config", str(path), "--port", str(port), "--workers", "2"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200 and len(_children(proc.pid)) >= 2:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            assert time.monotonic() < deadline, "the gateway did not become ready"
            time.sleep(0.1)
        assert len(_children(proc.pid)) >= 2
        codes = []
        for _ in range(3 * limit):  # a new connection each time, so the kernel spreads them over both workers
            r = httpx.post(url + "/v1/chat/completions", json={"model": "echo", "messages": [{"role": "user",
                           "content": "hi"}]}, headers={"authorization": f"Bearer {ALPHA}"}, timeout=10)
            codes.append(r.status_code)
        assert codes.count(200) == limit
        assert codes.count(429) == 2 * limit
        assert codes[:limit] == [200] * limit
        other = httpx.post(url + "/v1/chat/completions", json={"model": "echo", "messages": [{"role": "user",
                           "content": "hi"}]}, headers={"authorization": f"Bearer {BETA}"}, timeout=10)
        assert other.status_code == 200  # another project keeps its own allowance
        metrics = httpx.get(url + "/metrics", timeout=5).text  # summed over both workers
        assert f'beluga_gateway_rate_limited_total{{project="alpha"}} {2.0 * limit}' in metrics
    finally:
        proc.terminate()
        proc.wait(20)
    assert proc.returncode == 0
