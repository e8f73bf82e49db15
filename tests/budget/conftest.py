"""Fixtures for the budget tests (their helpers are in budget_support.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis),
                        pytest.param("cluster", marks=pytest.mark.redis)])
def storage_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """memory://, a real redis-server, and a three-node Redis Cluster."""
    if request.param == "memory":
        yield "memory://"
    elif request.param == "redis":
        yield request.getfixturevalue("redis_url")
    else:
        request.getfixturevalue("redis_cluster")
        yield request.getfixturevalue("redis_cluster_url").replace("redis://", "redis+cluster://", 1)
