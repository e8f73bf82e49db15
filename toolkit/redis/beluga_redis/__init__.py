"""Redis for Beluga plugins that keep shared state: one server or a Redis Cluster, Lua scripts run
atomically by ``EVALSHA``, and an outage policy (fail open or closed).

>>> from beluga_redis import check_url, mask_url
>>> mask_url("redis://app:s3cret@cache:6379/0")
'redis://app:***@cache:6379/0'
>>> check_url("redis+cluster://10.0.0.5:7000")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from beluga_redis.pending import Pending
from beluga_redis.urls import (
    CLUSTER_SCHEMES,
    REDIS_FORMS,
    REDIS_SCHEMES,
    SERVER_SCHEMES,
    URL_FORMS,
    check_url,
    client_url,
    is_cluster_url,
    mask_url,
    scheme_of,
    storage_setting,
)

if TYPE_CHECKING:
    from beluga_redis.backend import OUTAGE_ERRORS, RedisBackend, Script, hash_tag

#: What a plugin does while its storage cannot be reached: admit (``open``) or deny (``closed``).
FailureMode = Literal["open", "closed"]

_BACKEND = ("OUTAGE_ERRORS", "RedisBackend", "Script", "hash_tag")


def __getattr__(name: str) -> object:
    # The backend imports the redis client; load it only when asked for, so a plugin that keeps its
    # state in memory (and only validates its storage URL) does not import redis.
    if name in _BACKEND:
        from beluga_redis import backend

        return getattr(backend, name)
    raise AttributeError(f"module 'beluga_redis' has no attribute {name!r}")


__all__ = [
    "CLUSTER_SCHEMES",
    "OUTAGE_ERRORS",
    "REDIS_FORMS",
    "REDIS_SCHEMES",
    "SERVER_SCHEMES",
    "URL_FORMS",
    "FailureMode",
    "Pending",
    "RedisBackend",
    "Script",
    "check_url",
    "client_url",
    "hash_tag",
    "is_cluster_url",
    "mask_url",
    "scheme_of",
    "storage_setting",
]
