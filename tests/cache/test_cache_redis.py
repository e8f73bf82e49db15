"""The cache on a real redis-server and on a three-node Redis Cluster: shared by two Kits (two
workers), keys that hold no prompt text, stored streams, and the outage policy."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from cache_support import CALLS, cache_kit
from redis.cluster import RedisCluster as ClusterClient

from beluga_core import LLMRequest, StorageUnavailable

pytestmark = pytest.mark.redis

ACME = {"project": "acme"}
PROMPT = "the quarterly numbers for project falcon"
#: Round trips on a loaded test machine (and a cluster client's first topology read) can exceed the
#: 0.25 s default, which would read as an outage (a miss) and fail the test for the wrong reason.
GENEROUS = {"timeout": "3s"}


def cluster_url(url: str) -> str:
    return url.replace("redis://", "redis+cluster://", 1)


def _keys_and_ttls(client: Any) -> list[tuple[str, int]]:
    return [(k.decode(), client.pttl(k)) for k in client.scan_iter("*")]


@pytest.mark.parametrize("where", ["server", "cluster"])
def test_two_workers_share_one_cache_and_its_keys_hold_no_prompt_text(
    where: str, request: pytest.FixtureRequest
) -> None:
    if where == "server":
        url = request.getfixturevalue("redis_url")
        direct: Any = redis.Redis.from_url(url)
    else:
        plain = request.getfixturevalue("redis_cluster_url")
        url, direct = cluster_url(plain), ClusterClient.from_url(plain)
    settings = {"storage": url, "ttl": "10m", **GENEROUS}
    (one, _), (two, cache_two) = cache_kit(settings), cache_kit(settings)
    first = one.generate(PROMPT, metadata=ACME)
    second = two.generate(PROMPT, metadata=ACME)  # another worker, another connection: a hit
    assert len(CALLS) == 1
    assert (first.metadata["cache"], second.metadata["cache"], second.text) == ("miss", "hit", first.text)
    assert second.usage.cached_input_tokens == second.usage.input_tokens
    assert two.generate(PROMPT, metadata={"project": "globex"}).metadata["cache"] == "miss"
    stored = _keys_and_ttls(direct)
    assert len(stored) == 2
    for key, ttl in stored:
        assert key.startswith("beluga:cache:") and "falcon" not in key and "acme" not in key
        assert 590_000 < ttl <= 600_000
    assert all(b"falcon" not in k for k in direct.scan_iter("*"))
    assert cache_two.stored == 1  # globex's answer, stored by the second worker
    one.close()
    two.close()
    direct.close()


def test_many_projects_spread_over_the_cluster_nodes(redis_cluster: Any, redis_cluster_url: str) -> None:
    kit, cache = cache_kit({"storage": cluster_url(redis_cluster_url), **GENEROUS})
    for i in range(30):
        kit.generate(f"question {i}", metadata={"project": f"p{i % 5}"})
        assert kit.generate(f"question {i}", metadata={"project": f"p{i % 5}"}).metadata["cache"] == "hit"
    assert len(CALLS) == 30 and cache.hits == 30
    holding = [redis.Redis(port=p).dbsize() for p in redis_cluster.ports]
    assert sum(holding) == 30 and all(n > 0 for n in holding)  # every node holds some answers
    kit.close()


async def test_a_stream_stored_on_redis_is_streamed_back_to_another_worker(redis_url: str) -> None:
    settings = {"storage": redis_url, **GENEROUS}
    (one, cache_one), (two, _) = cache_kit(settings), cache_kit(settings)
    original = [c async for c in one.astream("a b c d", metadata=ACME)]
    await cache_one.drain()  # the store of a finished stream runs as a task
    again = [c async for c in two.astream("a b c d", metadata=ACME)]
    assert "".join(c.text for c in again) == "".join(c.text for c in original) == "a b c d"
    assert [c.finish_reason for c in again if c.finish_reason] == ["stop"]
    assert len(CALLS) == 1
    await one.aclose()
    await two.aclose()


def test_with_redis_down_failing_open_answers_from_the_model(redis_server: Any, redis_url: str) -> None:
    kit, cache = cache_kit({"storage": redis_url, "recheck_interval": "0s", **GENEROUS})
    kit.generate(PROMPT, metadata=ACME)
    redis_server.stop()
    try:
        down = [kit.generate(PROMPT, metadata=ACME) for _ in range(2)]
        assert [r.metadata["cache"] for r in down] == ["miss", "miss"] and len(CALLS) == 3
    finally:
        redis_server.start()
    back = [kit.generate(PROMPT, metadata=ACME).metadata["cache"] for _ in range(2)]
    assert back == ["miss", "hit"]  # the restarted server kept nothing; the cache fills again
    assert cache.stored == 2
    kit.close()


def test_with_redis_down_failing_closed_refuses_without_showing_the_password(redis_server: Any) -> None:
    url = f"redis://:hunter2@127.0.0.1:{redis_server.port}/0"
    kit, _ = cache_kit({"storage": url, "failure_mode": "closed"})
    redis_server.stop()
    try:
        with pytest.raises(StorageUnavailable) as err:
            kit.generate(PROMPT, metadata=ACME)
    finally:
        redis_server.start()
    assert err.value.plugin == "cache" and "hunter2" not in str(err.value)
    assert len(CALLS) == 0
    kit.close()


def test_a_storage_error_that_is_not_an_outage_is_a_miss_logged_once(redis_url: str, caplog: Any) -> None:
    kit, cache = cache_kit({"storage": redis_url, **GENEROUS})
    direct = redis.Redis.from_url(redis_url)
    key = cache.key_for(LLMRequest(PROMPT, provider="scripted", metadata=ACME))
    assert key is not None
    direct.hset(key, "not", "a string")  # GET on it fails with WRONGTYPE; SET replaces it
    answers = [kit.generate(PROMPT, metadata=ACME) for _ in range(2)]
    assert [a.text for a in answers] == [PROMPT, PROMPT]
    assert [a.metadata["cache"] for a in answers] == ["miss", "hit"] and len(CALLS) == 1
    warnings = [r.getMessage() for r in caplog.records if r.name == "beluga.cache"]
    assert len(warnings) == 1 and "ResponseError" in warnings[0] and PROMPT not in warnings[0]
    direct.close()
    kit.close()


def test_a_cluster_node_going_down_is_an_outage_answered_by_the_model(
    redis_cluster: Any, redis_cluster_url: str
) -> None:
    kit, _ = cache_kit({"storage": cluster_url(redis_cluster_url), "timeout": "1s", "recheck_interval": "0s"})
    prompts = [f"question {i}" for i in range(12)]  # spread over the three nodes
    for p in prompts:
        kit.generate(p, metadata=ACME)
    redis_cluster.stop_node(1)
    try:
        down = [kit.generate(p, metadata=ACME) for p in prompts]  # fail open: never an error
        assert [r.text for r in down] == prompts
        # Answers on the stopped node are misses the model answers (those on the others may still be
        # hits, until the cluster marks itself down).
        assert any(r.metadata["cache"] == "miss" for r in down) and len(CALLS) > len(prompts)
    finally:
        redis_cluster.start_node(1)
    redis_cluster._wait(redis_cluster.ready, "the cluster did not recover")
    again = [kit.generate(p, metadata=ACME).metadata["cache"] for p in prompts for _ in range(2)]
    assert again.count("hit") >= len(prompts)  # once the cluster is back, answers are served again
    kit.close()
