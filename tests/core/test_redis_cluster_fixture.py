"""The three-node Redis Cluster the storage tests run on is a real cluster: keys spread over nodes,
a hash tag keeps keys on one slot, and redis-py's cluster client follows redirections."""

from __future__ import annotations

from typing import Any

import redis
from redis.cluster import RedisCluster as ClusterClient


def test_the_cluster_spreads_keys_and_hash_tags_keep_them_together(redis_cluster: Any, redis_cluster_url: str) -> None:
    client = ClusterClient.from_url(redis_cluster_url)
    try:
        for i in range(60):
            client.set(f"k{i}", i)
        owners = {client.get_node_from_key(f"k{i}").port for i in range(60)}
        assert len(owners) == 3  # every node holds some keys
        assert client.keyslot("{acme}:day") == client.keyslot("{acme}:month")
        assert int(client.get("k42")) == 42
        direct = redis.Redis(port=redis_cluster.ports[0])
        assert direct.dbsize() < 60  # one node alone does not hold them all
    finally:
        client.close()
