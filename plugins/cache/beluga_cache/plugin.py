"""The ``cache`` plugin: answers identical requests from storage instead of calling the model again."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from beluga_cache import codec
from beluga_cache.keys import namespace_digest, request_digest
from beluga_cache.storage import CacheStorage, MemoryCache
from beluga_core import (
    CallNext,
    Duration,
    LLMRequest,
    LLMResponse,
    LLMStream,
    StorageUnavailable,
    get_logger,
    guard_answer,
    hookimpl,
    note,
    setting,
)
from beluga_redis import Pending, storage_setting

log = get_logger("beluga.cache")

#: The request metadata key whose value carries HTTP-style directives (``no-cache``, ``no-store``).
CONTROL_KEY = "cache_control"
#: The operations the cache knows (a chat answer, embedding vectors).
OPERATIONS = ("chat", "embeddings")



@attrs.frozen
class CacheSettings:
    """The ``[plugins.cache]`` section. Off until ``enabled = true``: an installed plugin joins
    every Kit, and a cache changes what callers get (the same answer again), so it is opted into."""

    enabled: bool = setting(False, help="answer identical requests from the cache (off until set)")
    ttl: Duration = setting(Duration(3600.0), min=1, help="how long a stored answer is served")
    key: str = setting("project", help="request metadata key whose value is the cache's namespace (project, user...)")
    default_key: str = setting(
        "anonymous", help='namespace of requests whose metadata lacks `key`; "" leaves such requests uncached'
    )
    embeddings: bool = setting(True, help="cache embeddings requests too (their vectors), not only chat answers")
    storage: str = storage_setting("shared")
    max_entries: int = setting(10_000, min=1, help="memory://: answers kept at most (least recently used evicted)")
    max_bytes: int = setting(64 << 20, min=4096, help="memory://: bytes kept at most, keys and overhead included")
    max_entry_bytes: int = setting(
        1 << 20, min=256, help="an answer larger than this once encoded is not stored (any storage)"
    )
    failure_mode: str = setting(
        "open", choices=("open", "closed"),
        help="when Redis is down: open answers every request from the model (a miss), closed refuses them",
    )
    key_prefix: str = setting("beluga:cache:", help="prefix of every storage key (to share one Redis between apps)")
    timeout: Duration = setting(Duration(0.25), min=0.001, help="Redis connect and round-trip timeout")
    recheck_interval: Duration = setting(
        Duration(1.0), min=0, help="after a Redis failure, do not try Redis again for this long"
    )


def directives(metadata: Mapping[str, Any]) -> frozenset[str]:
    """The ``cache_control`` directives of a request (``"no-cache, no-store"`` → both), lowercased."""
    value = metadata.get(CONTROL_KEY) if metadata else None
    if not value or not isinstance(value, str):
        return frozenset()
    return frozenset(d.strip().lower().split("=", 1)[0] for d in value[:256].split(","))


@attrs.frozen
class _Policy:
    """One configuration on the request path, built once in ``_apply``."""

    settings: CacheSettings
    storage: CacheStorage
    ttl: float


class CachePlugin:
    """An exact-match response cache per project (or any request metadata key).

    A request whose canonical form (``beluga_cache.keys``) was answered before, within ``ttl``, is
    answered from storage: as a stream when it asks for one. A hit still passes the chain's input
    guards and, on the way out, its output guards for this caller (``beluga_core.guard_answer``).
    Only complete answers are stored: never a blocked call, an error, or a stream closed early.
    ``metadata={"cache_control": "no-cache"}`` skips the lookup, ``"no-store"`` the storing.
    """

    name = "cache"
    rank = 330  #: where it goes when [beluga] plugins does not list it (lower: outer)

    def __init__(self) -> None:
        self._policy: _Policy | None = None
        self._storage: CacheStorage | None = None
        self._storage_spec: tuple[Any, ...] | None = None
        self._pending = Pending()
        self._errors_seen: set[tuple[str, str]] = set()
        self.hits = 0
        self.misses = 0
        self.stored = 0
        self._apply(CacheSettings())

    # -- configuration -------------------------------------------------------------------------
    @hookimpl
    def config_schema(self) -> type:
        return CacheSettings

    @hookimpl
    def on_settings(self, settings: CacheSettings) -> None:
        self._apply(settings)

    def _apply(self, s: CacheSettings) -> None:
        if not s.enabled:
            self._policy = None
            return
        spec = (s.storage, s.max_entries, s.max_bytes, s.failure_mode, float(s.timeout), float(s.recheck_interval))
        storage = self._storage
        if storage is None or spec != self._storage_spec:
            storage = storage_from_settings(s)
            old, self._storage, self._storage_spec = self._storage, storage, spec
            if old is not None:
                old.close()
        self._policy = _Policy(s, storage, float(s.ttl))

    @property
    def storage(self) -> CacheStorage | None:
        """The storage in use (None until the cache is enabled)."""
        return self._storage

    # -- the request path ----------------------------------------------------------------------
    def key_for(self, request: LLMRequest, settings: CacheSettings | None = None) -> str | None:
        """The storage key of a request (None: the request is not cached): the prefix, a hash of
        its namespace and a sha256 of its canonical form, so no prompt text or project is in it."""
        s = settings or (self._policy.settings if self._policy else CacheSettings())
        if request.operation not in OPERATIONS or (request.operation == "embeddings" and not s.embeddings):
            return None
        value = request.metadata.get(s.key) if request.metadata else None
        namespace = s.default_key if value is None or value == "" else str(value)
        if not namespace:
            return None
        digest = request_digest(request)
        if digest is None:
            return None
        return f"{s.key_prefix}{namespace_digest(namespace)}:{digest}"

    @hookimpl
    async def wrap_llm_call(self, request: LLMRequest, call_next: CallNext) -> LLMResponse | LLMStream:
        policy = self._policy
        if policy is None:
            return await call_next(request)
        key = self.key_for(request, policy.settings)
        if key is None:
            return await call_next(request)
        control = directives(request.metadata)
        if "no-cache" not in control:
            try:
                data = await policy.storage.aget(key)
            except StorageUnavailable:
                raise  # failure_mode closed
            except Exception as exc:  # noqa: BLE001 - a broken cache must not break the call: a miss
                self._failed("lookup", exc)
                data = None
            hit = codec.loads(data) if data is not None else None
            if hit is not None:
                answer = codec.as_stream(hit) if request.stream and request.operation == "chat" else hit
                guarded = await guard_answer(request, answer)
                self.hits += 1
                note("cache", "hit")
                return _marked(guarded, "hit")
        self.misses += 1
        note("cache", "miss")
        result = await call_next(request)
        if "no-store" not in control:
            if isinstance(result, LLMStream):
                result.on_finish(self._store_when_done(policy, key))
            else:
                await self._store(policy, key, result)
        return _marked(result, "miss")

    def _encoded(self, policy: _Policy, response: LLMResponse) -> bytes | None:
        """The answer as stored, or None when it is not to be stored."""
        if not codec.storable(response):
            return None
        try:
            data = codec.dumps(response)
        except (TypeError, ValueError):
            return None  # metadata JSON cannot hold: the answer stays unstored
        return data if len(data) <= policy.settings.max_entry_bytes else None

    async def _store(self, policy: _Policy, key: str, response: LLMResponse) -> None:
        data = self._encoded(policy, response)
        if data is None:
            return
        try:
            if await policy.storage.aset(key, data, policy.ttl):
                self.stored += 1
        except StorageUnavailable:
            pass  # failure_mode closed refuses lookups; an answer already made is still given
        except Exception as exc:  # noqa: BLE001 - the answer is given whether or not it could be kept
            self._failed("store", exc)

    def _store_when_done(self, policy: _Policy, key: str) -> Any:
        def done(response: LLMResponse | None, error: BaseException | None) -> None:
            if error is not None or response is None:
                return  # blocked, failed or closed early: a partial answer is never stored
            storage = policy.storage
            if isinstance(storage, MemoryCache):
                data = self._encoded(policy, response)
                if data is not None and storage.set(key, data, policy.ttl):
                    self.stored += 1
                return
            self._pending.start(lambda: self._store(policy, key, response))

        return done

    def _failed(self, what: str, exc: BaseException) -> None:
        """A storage error that is not an outage (a server refusing a command): the call goes on
        uncached; logged once per kind of error, by type only (never a key or a value)."""
        kind = (what, type(exc).__name__)
        if kind not in self._errors_seen and len(self._errors_seen) < 32:
            self._errors_seen.add(kind)
            log.warning("cache: %s failed (%s); answering without the cache", what, type(exc).__name__)

    async def drain(self) -> None:
        """Wait for stores of finished streams still on their way to storage (tests, shutdown)."""
        await self._pending.drain()

    # -- lifecycle -----------------------------------------------------------------------------
    def close(self) -> None:
        """Close the storage (Redis connections). Call it after the Kit is closed."""
        if self._storage is not None:
            self._storage.close()

    @hookimpl
    async def on_close(self) -> None:
        """``Kit.aclose()`` closes the storage."""
        await self.aclose()

    async def aclose(self) -> None:
        await self.drain()
        if self._storage is not None:
            await self._storage.aclose()

    def __repr__(self) -> str:
        policy = self._policy
        return f"<CachePlugin {policy.settings if policy else 'off'}>"


def _marked(result: LLMResponse | LLMStream, outcome: str) -> LLMResponse | LLMStream:
    """``metadata["cache"]`` on the answer (and, for a stream, on the response it assembles)."""
    if isinstance(result, LLMStream):
        result.metadata["cache"] = outcome
        return result
    if result.metadata.get("cache") == outcome:  # a hit the guards passed as it was
        return result
    return result.replace(metadata={**result.metadata, "cache": outcome})


def storage_from_settings(s: CacheSettings) -> CacheStorage:
    """The storage a configuration names: this process's memory, or Redis (a server or a cluster)."""
    if s.storage.startswith("memory://"):
        return MemoryCache(s.max_entries, s.max_bytes)
    from beluga_cache.redis_storage import RedisCache

    return RedisCache(
        s.storage,
        failure_mode=s.failure_mode,  # type: ignore[arg-type]
        timeout=float(s.timeout),
        recheck_interval=float(s.recheck_interval),
    )


__all__ = ["CachePlugin", "CacheSettings", "directives", "storage_from_settings"]
