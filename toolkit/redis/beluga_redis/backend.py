"""One Redis server or Redis Cluster that runs a plugin's Lua scripts, with the plugin's outage policy.

A plugin's storage (rate-limit counters, budget ledgers, cached answers) keeps its state in a few keys
per decision and changes it with one Lua script run atomically on the server: ``EVALSHA`` of the
script's digest, and on ``NOSCRIPT`` (after a restart or a failover) ``EVAL`` once, which caches it
again. On a Redis Cluster every script's keys must hash to one slot: give them a common hash tag
(``hash_tag``); redis-py's cluster client routes each script to the node that owns the slot and
follows ``MOVED``/``ASK`` redirections and failovers.

While the storage cannot be reached, ``failure_mode`` decides: ``"open"`` lets the plugin go on
without it (one warning per outage), ``"closed"`` raises ``StorageUnavailable``. After a failure the
server is left alone for ``recheck_interval`` seconds (decisions are the failure mode's, without
waiting on a socket), then tried again; the first success logs the recovery.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.cluster
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, ReadOnlyError
from redis.retry import Retry

from beluga_core import StorageUnavailable, get_logger
from beluga_redis.urls import check_url, client_url, is_cluster_url, mask_url

if TYPE_CHECKING:
    from beluga_redis import FailureMode

#: Errors that mean "the storage is not there right now" (as opposed to a bug in a request).
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.ClusterError,  # CLUSTERDOWN, a failover in progress
    redis.exceptions.MasterDownError,
    redis.exceptions.TryAgainError,
    redis.exceptions.RedisClusterException,  # no reachable node, a slot no node serves
    ReadOnlyError,
    OSError,  # TimeoutError included: asyncio.timeout bounds the async round trips
)


class Script:
    """A Lua script and its SHA-1 digest (what ``EVALSHA`` names it by)."""

    __slots__ = ("sha", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.sha = hashlib.sha1(text.encode()).hexdigest()

    def __repr__(self) -> str:
        return f"<Script {self.sha[:12]}>"


def hash_tag(value: str) -> str:
    """``{<16 hex digits of SHA-256(value)>}``: the part of a key Redis Cluster hashes to pick a slot.

    Keys that carry the same tag live on one slot, so one script may touch them all; the value itself
    (a project name, a cache key) never appears in the key.
    """
    return "{" + hashlib.sha256(value.encode()).hexdigest()[:16] + "}"


class RedisBackend:
    """A Redis server (``redis://``, ``rediss://``, ``unix://``) or Redis Cluster (``redis+cluster://``,
    ``rediss+cluster://``) that runs one plugin's scripts, sync and async.

    ``plugin`` names the plugin in the outage warnings (logger ``beluga.<plugin>``) and in
    ``StorageUnavailable``. ``timeout`` bounds connecting and each round trip. ``url`` is shown masked.
    """

    def __init__(
        self,
        url: str,
        *,
        plugin: str,
        failure_mode: FailureMode = "open",
        timeout: float = 0.5,
        recheck_interval: float = 1.0,
        **client_options: Any,
    ) -> None:
        if failure_mode not in ("open", "closed"):
            raise ValueError(f"failure_mode must be 'open' or 'closed', got {failure_mode!r}")
        check_url(url, memory=False)
        self._url = url
        self.url = mask_url(url)
        self.plugin = plugin
        self.cluster = is_cluster_url(url)
        self.failure_mode: FailureMode = failure_mode
        self.recheck_interval = recheck_interval
        self.timeout = timeout
        self._log = get_logger(f"beluga.{plugin}")
        self._options: dict[str, Any] = {
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            **client_options,
        }
        self._sync: Any = None
        self._local = threading.local()
        self._held: list[Any] = []
        self._afree: dict[Any, list[Any]] = {}
        self._async: dict[asyncio.AbstractEventLoop, Any] = {}
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._outage = False
        self._outage_since = 0.0
        self._outage_decisions = 0  # decisions made by the failure mode during the current outage

    # -- clients -------------------------------------------------------------------------------
    def client(self) -> Any:
        """The sync client (``redis.Redis`` or ``redis.cluster.RedisCluster``), made on first use."""
        client = self._sync
        if client is None:
            with self._lock:
                if self._sync is None:
                    if self.cluster:
                        self._sync = redis.cluster.RedisCluster.from_url(client_url(self._url), **self._options)
                    else:
                        retry = Retry(NoBackoff(), 1, supported_errors=(redis.exceptions.ConnectionError,))
                        self._sync = redis.Redis.from_url(self._url, retry=retry, **self._options)
                client = self._sync
        return client

    def aclient(self) -> Any:
        """This event loop's async client (``redis.asyncio.Redis`` or its ``RedisCluster``)."""
        loop = asyncio.get_running_loop()
        client = self._async.get(loop)
        if client is None:
            if self.cluster:
                client = redis.asyncio.cluster.RedisCluster.from_url(client_url(self._url), **self._options)
            else:
                retry = AsyncRetry(NoBackoff(), 1, supported_errors=(redis.exceptions.ConnectionError,))
                options = {**self._options, "socket_timeout": None}  # aeval bounds each round trip itself
                client = redis.asyncio.Redis.from_url(self._url, retry=retry, **options)
            with self._lock:
                for old in [lp for lp in self._async if lp.is_closed()]:
                    self._afree.pop(self._async.pop(old), None)
                self._async[loop] = client
        return client

    def _conn(self) -> Any:
        # Each thread keeps one connection for its scripts: no pool checkout per round trip.
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self.client().connection_pool.get_connection()
            self._local.conn = conn
            with self._lock:
                self._held.append(conn)
        return conn

    # -- scripts -------------------------------------------------------------------------------
    def eval(self, script: Script, keys: Sequence[str], *args: str | int | float) -> Any:
        """Run ``script`` on ``keys`` (one slot on a cluster) and return its reply; outages raise."""
        if self.cluster:
            client = self.client()
            try:
                return client.evalsha(script.sha, len(keys), *keys, *args)
            except NoScriptError:
                return client.eval(script.text, len(keys), *keys, *args)
        conn = self._conn()
        try:
            try:
                conn.send_command("EVALSHA", script.sha, len(keys), *keys, *args, check_health=False)
                return conn.read_response()
            except redis.exceptions.ConnectionError:
                # A connection the server dropped (e.g. it restarted): reconnect once.
                conn.disconnect()
                conn.send_command("EVALSHA", script.sha, len(keys), *keys, *args, check_health=False)
                return conn.read_response()
        except NoScriptError:
            conn.send_command("EVAL", script.text, len(keys), *keys, *args, check_health=False)
            return conn.read_response()

    async def aeval(self, script: Script, keys: Sequence[str], *args: str | int | float) -> Any:
        """``eval`` on this event loop, the whole round trip bounded by ``timeout``."""
        client = self.aclient()
        if self.cluster:
            async with asyncio.timeout(self.timeout):
                try:
                    return await client.evalsha(script.sha, len(keys), *keys, *args)
                except NoScriptError:
                    return await client.eval(script.text, len(keys), *keys, *args)
        # Connections of this loop's client are kept on a free list: no pool checkout per round trip,
        # and as many connections as there are scripts in flight at once. One asyncio.timeout bounds
        # the round trip (the client's own socket_timeout would wrap every read and write in a task).
        free = self._afree.setdefault(client, [])
        conn = free.pop() if free else await client.connection_pool.get_connection()
        try:
            async with asyncio.timeout(self.timeout):
                try:
                    try:
                        await conn.send_command("EVALSHA", script.sha, len(keys), *keys, *args, check_health=False)
                        reply = await conn.read_response()
                    except redis.exceptions.ConnectionError:
                        await conn.disconnect()  # dropped by the server (e.g. a restart): reconnect once
                        await conn.send_command("EVALSHA", script.sha, len(keys), *keys, *args, check_health=False)
                        reply = await conn.read_response()
                except NoScriptError:
                    await conn.send_command("EVAL", script.text, len(keys), *keys, *args, check_health=False)
                    reply = await conn.read_response()
        except BaseException:
            # A reply may still be on its way: never reuse this connection as it is.
            await conn.disconnect(nowait=True)
            await client.connection_pool.release(conn)
            raise
        free.append(conn)
        return reply

    def run(self, script: Script, keys: Sequence[str], *args: str | int | float, decides: bool = True) -> Any:
        """``eval`` under the outage policy: the reply, or None while the storage is down.

        For a deciding script (``decides``) an outage counts as a decision by the failure mode and,
        failing closed, raises ``StorageUnavailable``; a bookkeeping script (a refund, a settlement)
        is dropped quietly.
        """
        if self._outage and self._skipping():
            return self._fallback("still down", decides)
        try:
            reply = self.eval(script, keys, *args)
        except OUTAGE_ERRORS as exc:
            self._failed(exc)
            return self._fallback(type(exc).__name__, decides)
        if self._outage:
            self._recovered()
        return reply

    async def arun(self, script: Script, keys: Sequence[str], *args: str | int | float, decides: bool = True) -> Any:
        """``run`` on this event loop."""
        if self._outage and self._skipping():
            return self._fallback("still down", decides)
        try:
            reply = await self.aeval(script, keys, *args)
        except OUTAGE_ERRORS as exc:
            self._failed(exc)
            return self._fallback(type(exc).__name__, decides)
        if self._outage:
            self._recovered()
        return reply

    # -- outages -------------------------------------------------------------------------------
    def _skipping(self) -> bool:
        return self._down_until != 0.0 and time.monotonic() < self._down_until

    def _failed(self, exc: BaseException) -> None:
        reason = f"{type(exc).__name__}: {exc}"
        with self._lock:
            self._down_until = time.monotonic() + self.recheck_interval
            first = not self._outage
            self._outage = True
            if first:
                self._outage_since = time.monotonic()
                self._outage_decisions = 0
        if first:
            action = "admitting" if self.failure_mode == "open" else "denying"
            self._log.warning(
                "%s: storage %s is unreachable (%s); %s requests (fail %s) until it returns, retrying every %gs",
                self.plugin,
                self.url,
                reason,
                action,
                self.failure_mode,
                self.recheck_interval,
            )

    def _recovered(self) -> None:
        with self._lock:
            was, self._outage, self._down_until = self._outage, False, 0.0
            count, lasted = self._outage_decisions, time.monotonic() - self._outage_since
        if was:
            self._log.warning(
                "%s: storage %s is reachable again after %.1fs; %d request(s) were %s meanwhile; "
                "limits are enforced",
                self.plugin,
                self.url,
                lasted,
                count,
                "admitted unchecked" if self.failure_mode == "open" else "denied",
            )

    def _fallback(self, reason: str, decides: bool) -> None:
        if not decides:
            return
        self._outage_decisions += 1  # under the GIL; a count for the log, not an exact ledger
        if self.failure_mode == "closed":
            raise StorageUnavailable(self.url, reason, plugin=self.plugin, retry_after=self.recheck_interval)

    @property
    def outage_decisions(self) -> int:
        """Requests decided by the failure mode (admitted or denied) in the current or last outage."""
        return self._outage_decisions

    @property
    def available(self) -> bool:
        """False while an outage is known (the last attempt failed)."""
        return not self._outage

    # -- lifecycle -----------------------------------------------------------------------------
    def close(self) -> None:
        """Close the sync client, and the async clients of event loops that are not running.

        Call it from the thread that used the backend (an idle loop is run briefly to close its client).
        """
        with self._lock:
            client, self._sync = self._sync, None
            held, self._held = self._held, []
            self._local = threading.local()
            idle = [(lp, c) for lp, c in self._async.items() if not lp.is_running()]
            for lp, _ in idle:
                del self._async[lp]
        for conn in held:
            conn.disconnect()
        if client is not None:
            client.close()
        for lp, aclient in idle:
            free = self._afree.pop(aclient, [])
            if not lp.is_closed():
                lp.run_until_complete(_aclose(aclient, free))

    async def aclose(self) -> None:
        """Close this loop's async client, then what ``close`` closes."""
        loop = asyncio.get_running_loop()
        with self._lock:
            aclient = self._async.pop(loop, None)
        if aclient is not None:
            await _aclose(aclient, self._afree.pop(aclient, []))
        self.close()

    def __repr__(self) -> str:
        return f"<RedisBackend {self.url} plugin={self.plugin} failure_mode={self.failure_mode}>"


async def _aclose(client: Any, held: list[Any]) -> None:
    for conn in held:
        await client.connection_pool.release(conn)
    await client.aclose()


__all__ = ["OUTAGE_ERRORS", "RedisBackend", "Script", "hash_tag"]
