"""The budget plugin behind the gateway, in front of a stand-in OpenAI upstream: a project over its
daily budget gets 429 ``insufficient_quota``, spend shows in /metrics, and two gateways sharing a
Redis (or a Redis Cluster) never let a project spend past its budget."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from gateway_support import ALPHA, OPENAI_KEY, sdk, write_config

from beluga_core import HumanMessage, estimate_request_tokens

pytest.importorskip("beluga_budget", reason="needs the budget plugin")

from beluga_budget import Periods, RedisLedger

UPSTREAM = """
    [providers.openai]
    api_key = "{okey}"
    base_url = "{ourl}"

    [plugins.gateway.models]
    small = "openai:gpt-4o-mini"

    [plugins.budget]
    storage = "{storage}"
    usd_per_day = {usd_per_day}
    {budget_extra}

    [plugins.budget.prices."gpt-4o-mini"]
    input_per_mtok = 1000.0
    output_per_mtok = 1000.0
"""
# "hello" is estimated at 6 prompt tokens; with max_tokens = 5 a call reserves 11 tokens, USD 0.011
# at these prices. The stand-in answers "echo: hello" and reports 9 prompt and 2 completion tokens.
RESERVED, COST = 0.011, 0.011


def chat(server: Any, **extra: Any) -> httpx.Response:
    body = {"model": "small", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 5, **extra}
    return httpx.post(server.url + "/v1/chat/completions", json=body, timeout=15,
                      headers={"authorization": f"Bearer {ALPHA}"})


def start(gateway: Any, upstream: Any, storage: str = "memory://", usd_per_day: float = 0.035,
          budget_extra: str = "") -> Any:
    return gateway(UPSTREAM.format(okey=OPENAI_KEY, ourl=upstream.url, storage=storage, usd_per_day=usd_per_day,
                                   budget_extra=budget_extra), plugins=("budget",))


def test_a_project_with_a_tiny_daily_budget_gets_429_insufficient_quota_after_its_first_calls(
    gateway: Any, openai_upstream: Any
) -> None:
    server = start(gateway, openai_upstream, usd_per_day=0.035)
    statuses = [chat(server).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]  # USD 0.033 spent; a fourth could cost 0.011 more
    refused = chat(server)
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["type"] == "insufficient_quota" and error["code"] == "insufficient_quota"
    assert "project 'alpha'" in error["message"] and "daily budget" in error["message"]
    assert "hello" not in error["message"]
    assert 0 < int(refused.headers["retry-after"]) <= 86400  # until the day resets
    assert len(openai_upstream.requests) == 3  # the refused call never reached the upstream
    with pytest.raises(openai.RateLimitError) as err:  # what an SDK user sees
        sdk(server.url).chat.completions.create(model="small", messages=[{"role": "user", "content": "hello"}],
                                                max_tokens=5)
    assert err.value.code == "insufficient_quota"


def test_spend_per_project_and_model_is_in_metrics_for_answers_and_streams(gateway: Any, openai_upstream: Any) -> None:
    server = start(gateway, openai_upstream, usd_per_day=10.0)
    assert chat(server).status_code == 200
    client = sdk(server.url)
    stream = client.chat.completions.create(model="small", messages=[{"role": "user", "content": "hello"}],
                                            max_tokens=5, stream=True, stream_options={"include_usage": True})
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "echo: hello"
    text = httpx.get(server.url + "/metrics", timeout=15).text
    found = re.search(r'beluga_gateway_spend_usd_total\{model="gpt-4o-mini",project="alpha"\} ([0-9.e-]+)', text)
    assert found is not None, text[-2000:]
    assert float(found.group(1)) == pytest.approx(2 * COST)


@pytest.mark.redis
@pytest.mark.parametrize("where", ["redis", "cluster"])
def test_two_gateways_on_one_redis_never_let_a_project_spend_past_its_budget(
    where: str, gateway: Any, openai_upstream: Any, request: pytest.FixtureRequest
) -> None:
    if where == "redis":
        url = request.getfixturevalue("redis_url")
    else:
        request.getfixturevalue("redis_cluster")
        url = request.getfixturevalue("redis_cluster_url").replace("redis://", "redis+cluster://", 1)
    budget = 0.2
    servers = [start(gateway, openai_upstream, storage=url, usd_per_day=budget) for _ in range(2)]
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda i: chat(servers[i % 2]).status_code, range(48)))
    assert set(statuses) == {200, 429}
    ok = statuses.count(200)
    ledger = RedisLedger(url)
    (row,) = ledger.spend(Periods.at(time.time()))
    ledger.close()
    assert row.key == "alpha" and row.day_held == 0
    assert row.day / 1e9 == pytest.approx(ok * COST)
    assert row.day / 1e9 <= budget + RESERVED  # never past the budget by more than one call's reservation
    assert ok >= int(budget / RESERVED)  # and the budget was not left unused by stray holds
    assert len(openai_upstream.requests) == ok


@pytest.mark.redis
def test_readyz_reports_the_budget_storage_on_a_cluster_and_a_dead_one(
    gateway: Any, openai_upstream: Any, redis_cluster: Any, redis_cluster_url: str
) -> None:
    url = redis_cluster_url.replace("redis://", "redis+cluster://", 1)
    server = start(gateway, openai_upstream, storage=url, usd_per_day=1.0)
    ready = httpx.get(server.url + "/readyz", timeout=15)
    assert ready.status_code == 200 and ready.json()["checks"]["redis"] == {"ok": True, "url": url}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"redis://app:s3cret@127.0.0.1:{s.getsockname()[1]}/0"
    server = start(gateway, openai_upstream, storage=dead, usd_per_day=1.0)
    ready = httpx.get(server.url + "/readyz", timeout=15)
    assert ready.status_code == 503 and ready.json()["checks"]["redis"]["ok"] is False
    assert "s3cret" not in ready.text


def test_an_unreachable_budget_storage_failing_closed_is_503_without_its_address(
    gateway: Any, openai_upstream: Any
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"redis://app:s3cret@127.0.0.1:{s.getsockname()[1]}/0"
    server = start(gateway, openai_upstream, storage=dead, usd_per_day=1.0, budget_extra='failure_mode = "closed"')
    refused = chat(server)
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "budget_storage_unavailable"
    assert "retry-after" in refused.headers
    assert "127.0.0.1" not in refused.text and "s3cret" not in refused.text
    assert openai_upstream.requests == []


@pytest.mark.redis
@pytest.mark.skipif(not Path("/proc").exists(), reason="counts worker processes through /proc")
def test_beluga_serve_with_two_workers_holds_a_project_to_one_budget(tmp_path: Path, redis_url: str) -> None:
    from test_gateway_workers import _children

    from beluga_gateway.serve import free_port

    reserved = (estimate_request_tokens([HumanMessage("hi")]) + 20) * 0.001  # prompt estimate + max_tokens
    budget = 2 * reserved
    path = write_config(tmp_path / "beluga.toml", f"""
        [plugins.budget]
        storage = "{redis_url}"
        usd_per_day = {budget}

        [plugins.budget.prices.echo]
        input_per_mtok = 1000.0
        output_per_mtok = 1000.0
    """, plugins=("budget",))
    port = free_port()
    env = {k: v for k, v in {**os.environ, "GW_ALPHA_KEY": ALPHA}.items() if not k.startswith("BELUGA_")}
    beluga = Path(sys.executable).with_name("beluga")
    proc = subprocess.Popen([str(beluga), "serve", "--config", str(path), "--port", str(port), "--workers", "2"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200 and len(_children(proc.pid)) >= 2:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "the gateway did not become ready"
            time.sleep(0.1)
        body = {"model": "echo", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 20}
        with ThreadPoolExecutor(4) as pool:  # a new connection each, spread over both workers
            codes = list(pool.map(lambda _: httpx.post(url + "/v1/chat/completions", json=body, timeout=10,
                                                       headers={"authorization": f"Bearer {ALPHA}"}).status_code,
                                  range(16)))
        ok = codes.count(200)
        assert ok >= 2 and codes.count(429) == 16 - ok  # refused once the budget had no room
        ledger = RedisLedger(redis_url)
        (row,) = ledger.spend(Periods.at(time.time()))
        ledger.close()
        # echo's answer costs less than its reservation, so the spend stays within the budget
        assert row.day_held == 0 and ok * 0.001 < row.day / 1e9 <= budget
        metrics = httpx.get(url + "/metrics", timeout=5).text  # summed over both workers
        found = re.search(r'beluga_gateway_spend_usd_total\{model="echo",project="alpha"\} ([0-9.e-]+)', metrics)
        assert found is not None and float(found.group(1)) == pytest.approx(row.day / 1e9)
    finally:
        proc.terminate()
        proc.wait(20)
