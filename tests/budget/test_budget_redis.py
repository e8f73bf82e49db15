"""Budget records on a real redis-server and a three-node Redis Cluster: their keys, outages, and
``beluga spend``."""

from __future__ import annotations

import json
import logging
import socket
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from budget_support import NOON, PRICES, budget_kit
from redis.cluster import RedisCluster as ClusterClient

from beluga_budget import Hold, Periods, RedisLedger
from beluga_core import ErrorCode, HumanMessage, QuotaExceeded, StorageUnavailable, estimate_request_tokens
from beluga_core.cli import main

pytestmark = pytest.mark.redis


def cluster_url(url: str) -> str:
    return url.replace("redis://", "redis+cluster://", 1)


def test_records_are_named_by_a_hash_tag_not_the_project_and_expire_after_their_period(redis_url: str) -> None:
    ledger = RedisLedger(redis_url, clock=lambda: NOON)
    periods = Periods.at(NOON)
    assert ledger.reserve("acme corp", 5, -1, -1, periods).allowed
    raw = redis.Redis.from_url(redis_url)
    names = sorted(k.decode() for k in raw.keys("*"))
    assert len(names) == 2 and not any("acme" in n for n in names)
    tag = names[0].split(":")[2]
    assert names == [f"beluga:budget:{tag}:d:20261206", f"beluga:budget:{tag}:m:202612"]
    assert raw.hgetall(names[0]) == {b"k": b"acme corp", b"h": b"5"}
    assert 12 * 3600_000 < raw.pttl(names[0]) <= 36 * 3600_000  # the rest of the day, and a day more
    assert 25 * 86400_000 < raw.pttl(names[1]) <= 27 * 86400_000  # the rest of December, and a day more
    raw.close()
    ledger.close()


def test_on_the_cluster_a_project_s_records_share_a_slot_and_projects_spread(
    redis_cluster: Any, redis_cluster_url: str
) -> None:
    ledger = RedisLedger(cluster_url(redis_cluster_url), clock=lambda: NOON)
    periods = Periods.at(NOON)
    client = ClusterClient.from_url(redis_cluster_url)
    owners = set()
    for i in range(20):
        day, month = ledger.keys(f"project-{i}", periods)
        assert client.keyslot(day) == client.keyslot(month)
        owners.add(client.get_node_from_key(day).port)
        assert ledger.reserve(f"project-{i}", 7, 100, 100, periods).allowed
    assert len(owners) == 3
    assert [r.day_held for r in ledger.spend(periods)] == [7] * 20  # read back from every node
    client.close()
    ledger.close()


async def test_fail_closed_refuses_calls_while_redis_is_down_naming_the_budget_storage(
    redis_server: Any, redis_url: str
) -> None:
    kit, _plugin, standin = budget_kit({"storage": redis_url, "usd_per_day": 1.0, "failure_mode": "closed",
                                       "recheck_interval": "50ms"})
    try:
        await kit.agenerate("hi", metadata={"project": "acme"}, max_tokens=5)
        redis_server.stop()
        with pytest.raises(StorageUnavailable) as err:
            await kit.agenerate("hi", metadata={"project": "acme"}, max_tokens=5)
        e = err.value
        assert e.plugin == "budget" and e.code is ErrorCode.PROVIDER_UNAVAILABLE and e.retry_after == 0.05
        assert "budget: storage redis://127.0.0.1" in e.message and "[plugins.budget] failure_mode" in e.message
        assert standin.calls == 1
    finally:
        redis_server.start()
        await kit.aclose()


async def test_fail_open_admits_unchecked_while_redis_is_down_then_enforces_again(
    redis_server: Any, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="beluga.budget")
    per_call = (estimate_request_tokens([HumanMessage("hi")]) + 10) * 0.001  # each call settles to this
    kit, _, standin = budget_kit({"storage": redis_url, "usd_per_day": per_call * 2.5, "recheck_interval": "0s"})
    try:
        await kit.agenerate("hi", metadata={"project": "acme"}, max_tokens=10)
        redis_server.stop()
        for _ in range(5):  # over the budget, but nothing can check it
            await kit.agenerate("hi", metadata={"project": "acme"}, max_tokens=10)
        redis_server.start()
        for _ in range(2):  # the restarted server counts from zero again
            await kit.agenerate("hi", metadata={"project": "acme"}, max_tokens=10)
        with pytest.raises(QuotaExceeded):
            await kit.agenerate("hi", metadata={"project": "acme"}, max_tokens=10)
        outages = [r for r in caplog.records if "unreachable" in r.getMessage()]
        assert len(outages) == 1 and "budget: storage" in outages[0].getMessage()
        assert "fail open" in outages[0].getMessage()
        assert standin.calls == 1 + 5 + 2
    finally:
        await kit.aclose()


def _config(tmp_path: Path, storage: str, extra: str = "") -> Path:
    prices = "\n".join(f'[plugins.budget.prices."{m}"]\ninput_per_mtok = {p["input_per_mtok"]}\n'
                       f'output_per_mtok = {p["output_per_mtok"]}\n' for m, p in PRICES.items())
    path = tmp_path / "beluga.toml"
    path.write_text(f"""
[beluga]
plugins = ["budget"]
load_unlisted = false

[plugins.budget]
storage = "{storage}"
usd_per_day = 5.0
{extra}

[plugins.budget.projects.vip]
usd_per_day = 50.0

{prices}
""")
    return path


@pytest.mark.parametrize("where", ["redis", "cluster"])
def test_beluga_spend_prints_today_and_this_month_per_project(
    where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    if where == "redis":
        url = request.getfixturevalue("redis_url")
    else:
        request.getfixturevalue("redis_cluster")
        url = cluster_url(request.getfixturevalue("redis_cluster_url"))
    ledger = RedisLedger(url)
    periods = Periods.at(time.time())
    for key, nano in (("acme", 1_250_000_000), ("vip", 20_000_000), ("globex", 0)):
        assert ledger.reserve(key, 1000, -1, -1, periods).allowed
        ledger.settle(Hold(key, 1000, periods), nano)
    ledger.close()
    path = _config(tmp_path, url)
    assert main(["spend", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line.split()[1:] for line in out.splitlines()[2:]}
    assert lines["acme"] == ["1.250000", "1.250000", "5.00", "-"]
    assert lines["vip"] == ["0.020000", "0.020000", "50.00", "-"]
    assert lines["globex"][:2] == ["0.000000", "0.000000"]
    assert main(["spend", "--config", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["day"] == periods.day and report["key"] == "project"
    assert {r["project"]: r["today_usd"] for r in report["spend"]} == {"acme": 1.25, "vip": 0.02, "globex": 0.0}


def test_beluga_spend_explains_that_memory_storage_cannot_be_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["spend", "--config", str(_config(tmp_path, "memory://"))]) == 1
    assert "memory://" in capsys.readouterr().err


def test_beluga_spend_names_an_unreachable_storage_without_its_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["spend", "--config", str(_config(tmp_path, f"redis://app:s3cret@127.0.0.1:{port}/0"))]) == 1
    err = capsys.readouterr().err
    assert "app:***@127.0.0.1" in err and "s3cret" not in err
