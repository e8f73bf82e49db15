"""The rate limiter on a three-node Redis Cluster (``redis+cluster://``): exact limits across clients,
keys spread over the nodes, a node going down answered by the failure mode."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from redis.cluster import RedisCluster as ClusterClient

from beluga_core import ErrorCode, ProviderError, RateLimited
from beluga_core.testing import kit_with
from beluga_ratelimit import RateLimiter, StorageUnavailable
from beluga_ratelimit.plugin import RateLimitPlugin

pytestmark = pytest.mark.redis

T0 = 3_600_000.0


def cluster_url(url: str) -> str:
    return url.replace("redis://", "redis+cluster://", 1)


def test_two_limiters_on_the_cluster_admit_exactly_the_limit_from_many_threads(
    redis_cluster: Any, redis_cluster_url: str
) -> None:
    url = cluster_url(redis_cluster_url)
    a, b = RateLimiter(300, 3600, url, clock=lambda: T0 + 1), RateLimiter(300, 3600, url, clock=lambda: T0 + 1)
    admitted: list[int] = []

    def hammer(limiter: RateLimiter) -> None:
        admitted.append(sum(limiter.allow("shared") for _ in range(200)))

    threads = [threading.Thread(target=hammer, args=(lim,)) for lim in (a, b, a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(admitted) == 300  # 800 attempts through two clients, exactly the limit
    assert a.remaining("shared") == 0 and b.remaining("other") == 300
    a.close()
    b.close()


def test_projects_keys_spread_over_the_nodes_and_each_is_limited(redis_cluster: Any, redis_cluster_url: str) -> None:
    limiter = RateLimiter(2, 60, cluster_url(redis_cluster_url), clock=lambda: T0 + 1)
    projects = [f"project-{i}" for i in range(20)]
    for p in projects:
        assert [limiter.allow(p) for _ in range(3)] == [True, True, False]
    direct = ClusterClient.from_url(redis_cluster_url)
    owners = {direct.get_node_from_key(f"beluga:rl:60000:{p}").port for p in projects}
    assert len(owners) == 3
    direct.close()
    limiter.close()


async def test_the_plugin_on_the_cluster_limits_requests_per_project(
    redis_cluster: Any, redis_cluster_url: str
) -> None:
    plugin = RateLimitPlugin(clock=lambda: T0 + 1)
    config = {"plugins": {"ratelimit": {"storage": cluster_url(redis_cluster_url), "requests_per_minute": 2}}}
    kit = kit_with(plugin, config=config)
    try:
        for _ in range(2):
            await kit.agenerate("hi", metadata={"project": "acme"})
        with pytest.raises(RateLimited) as err:
            await kit.agenerate("hi", metadata={"project": "acme"})
        assert err.value.code is ErrorCode.RATE_LIMIT
        await kit.agenerate("hi", metadata={"project": "globex"})
    finally:
        await kit.aclose()


def test_a_cluster_node_down_is_answered_by_the_failure_mode(redis_cluster: Any, redis_cluster_url: str) -> None:
    url = cluster_url(redis_cluster_url)
    direct = ClusterClient.from_url(redis_cluster_url)
    # A project whose key lives on the node that goes down.
    victim = next(f"p{i}" for i in range(200) if direct.get_node_from_key(f"beluga:rl:3600000:p{i}").port
                  == redis_cluster.ports[2])
    direct.close()
    closed = RateLimiter(5, 3600, url, failure_mode="closed", clock=lambda: T0 + 1)
    opened = RateLimiter(5, 3600, url, failure_mode="open", clock=lambda: T0 + 1)
    for lim in (closed, opened):
        lim.storage.recheck_interval = 30  # type: ignore[attr-defined]
        assert lim.allow(victim)
    redis_cluster.stop_node(2)
    with pytest.raises(StorageUnavailable) as err:
        closed.hit(victim)
    assert isinstance(err.value, ProviderError) and "ratelimit: storage redis+cluster://" in str(err.value)
    assert all(opened.allow(victim) for _ in range(10))  # fail open: admitted, unchecked

    async def main() -> bool:
        try:
            return await opened.aallow(victim)
        finally:
            await opened.aclose()

    assert asyncio.run(main())
    closed.close()
