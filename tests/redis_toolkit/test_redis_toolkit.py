"""beluga_redis: storage URLs, scripts on one server and on a three-node Redis Cluster, and the outage policy."""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

import pytest
import redis
from redis.cluster import RedisCluster as ClusterClient

from beluga_core import ErrorCode, StorageUnavailable
from beluga_redis import RedisBackend, Script, check_url, client_url, hash_tag, is_cluster_url, mask_url

# Adds ARGV[1] to two counters that share a hash tag and answers both: a two-key script, which a
# cluster runs only when both keys hash to one slot.
TWO_KEYS = Script(
    "local a = redis.call('INCRBY', KEYS[1], ARGV[1]) "
    "local b = redis.call('INCRBY', KEYS[2], ARGV[1]) "
    "return {a, b}"
)


def cluster_url(url: str) -> str:
    return url.replace("redis://", "redis+cluster://", 1)


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    "url",
    ["memory://", "redis://h:6379/0", "rediss://u:p@h:6380/1", "unix:///tmp/r.sock",
     "redis+cluster://10.0.0.5:7000", "rediss+cluster://u:p@h:7000", "redis+cluster://h:7000/0"],
)
def test_accepted_storage_urls(url: str) -> None:
    check_url(url)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("memcached://h:1", "must be 'memory://' or 'redis://"),
        ("redis+cluster://h", r"names one node as redis\+cluster://host:port"),
        ("redis+cluster://h:7000/3", "only database 0"),
        ("redis://h:port/0", "is not a number"),
    ],
)
def test_refused_storage_urls_say_what_is_accepted(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_url(url)


def test_a_refused_url_never_shows_its_password() -> None:
    with pytest.raises(ValueError) as err:
        check_url("redis+cluster://app:s3cret@h/5")
    assert "s3cret" not in str(err.value) and "app:***@h" in str(err.value)
    with pytest.raises(ValueError) as err:
        check_url("memory://", memory=False)
    assert "memory" not in str(err.value).split("got")[0]


def test_cluster_urls_are_recognised_and_handed_to_redis_py_in_its_own_form() -> None:
    assert is_cluster_url("redis+cluster://h:1") and is_cluster_url("REDISS+CLUSTER://h:1")
    assert not is_cluster_url("redis://h:1")
    assert client_url("rediss+cluster://u:p@h:7000") == "rediss://u:p@h:7000"
    assert client_url("redis://h:1/0") == "redis://h:1/0"
    assert mask_url("redis+cluster://u:p@h:7000") == "redis+cluster://u:***@h:7000"


def test_hash_tags_keep_a_value_s_keys_on_one_slot_without_showing_the_value() -> None:
    tag = hash_tag("acme corp")
    assert tag.startswith("{") and tag.endswith("}") and "acme" not in tag
    assert hash_tag("acme corp") == tag != hash_tag("acme")
    from redis.crc import key_slot

    assert key_slot(f"b:{tag}:day".encode()) == key_slot(f"b:{tag}:month".encode())


@pytest.mark.redis
def test_a_two_key_script_runs_on_the_cluster_sync_and_async(redis_cluster: Any, redis_cluster_url: str) -> None:
    backend = RedisBackend(cluster_url(redis_cluster_url), plugin="test")
    owners = set()
    direct = ClusterClient.from_url(redis_cluster_url)
    for i in range(12):
        tag = hash_tag(f"project-{i}")
        keys = (f"t:{tag}:a", f"t:{tag}:b")
        assert backend.run(TWO_KEYS, keys, 2) == [2, 2]
        owners.add(direct.get_node_from_key(keys[0]).port)

    async def main() -> Any:
        try:
            return await backend.arun(TWO_KEYS, (f"t:{hash_tag('project-0')}:a", f"t:{hash_tag('project-0')}:b"), 3)
        finally:
            await backend.aclose()

    assert asyncio.run(main()) == [5, 5]
    assert len(owners) > 1  # the projects' keys live on different nodes, each script on its owner
    direct.close()
    backend.close()


@pytest.mark.redis
def test_a_flushed_script_cache_on_a_cluster_node_is_reloaded(redis_cluster: Any, redis_cluster_url: str) -> None:
    backend = RedisBackend(cluster_url(redis_cluster_url), plugin="test")
    keys = (f"t:{hash_tag('acme')}:a", f"t:{hash_tag('acme')}:b")
    assert backend.run(TWO_KEYS, keys, 1) == [1, 1]
    for port in redis_cluster.ports:
        redis.Redis(port=port).script_flush()
    assert backend.run(TWO_KEYS, keys, 1) == [2, 2]  # NOSCRIPT -> EVAL on the owning node
    assert any(redis.Redis(port=p).script_exists(TWO_KEYS.sha) == [True] for p in redis_cluster.ports)
    backend.close()


def test_fail_closed_raises_storage_unavailable_naming_the_plugin_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="beluga.budget")
    backend = RedisBackend(
        f"redis+cluster://app:s3cret@127.0.0.1:{_dead_port()}", plugin="budget", failure_mode="closed",
        timeout=0.2, recheck_interval=30,
    )
    for _ in range(3):
        with pytest.raises(StorageUnavailable) as err:
            backend.run(TWO_KEYS, ("a", "b"), 1)
    assert err.value.code is ErrorCode.PROVIDER_UNAVAILABLE and err.value.plugin == "budget"
    assert "[plugins.budget] failure_mode" in str(err.value) and err.value.retry_after == 30
    assert "s3cret" not in str(err.value) + caplog.text
    warnings = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(warnings) == 1 and "budget: storage redis+cluster://app:***@127.0.0.1" in warnings[0].getMessage()
    assert backend.outage_decisions == 3 and not backend.available


def test_fail_open_answers_none_and_bookkeeping_is_dropped_quietly() -> None:
    backend = RedisBackend(f"redis://127.0.0.1:{_dead_port()}/0", plugin="cache", timeout=0.2)
    assert backend.run(TWO_KEYS, ("a", "b"), 1) is None
    assert backend.run(TWO_KEYS, ("a", "b"), 1, decides=False) is None
    assert backend.outage_decisions == 1
    backend.close()


def test_an_unknown_failure_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="failure_mode must be 'open' or 'closed'"):
        RedisBackend("redis://h:1/0", plugin="x", failure_mode="maybe")  # type: ignore[arg-type]
