"""Model groups: one model name served by several deployments (``[models.<name>]``).

A call whose ``model`` names a group goes to one of the group's deployments, picked by the group's
``strategy``; when that deployment fails with a retryable error (rate limit, timeout, unavailable,
open breaker), it is left alone for ``cooldown`` and the call moves on to the next deployment, so a
failing deployment's traffic moves to the healthy ones. A deployment at its ``rpm`` or
``max_in_flight`` is passed over; when every deployment is, the call is refused with ``RateLimited``.

Deployments are ``provider`` or ``provider:model`` targets, each provider its own instance (a
``[providers.<name>]`` section), so each has its own connection pool and, with the breaker plugin,
its own breaker. State (counts, latencies, cool-downs) lives in the process and starts afresh when
a reload changes the configuration.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from beluga_core.config import Config, ModelGroup
from beluga_core.errors import BelugaError, RateLimited
from beluga_core.masking import get_logger
from beluga_core.stream import LLMStream
from beluga_core.types import LLMRequest

log = get_logger("beluga.routing")

#: Where model routing sits in the onion, on the plugins' ``rank`` scale: inside the retry plugin
#: (400), outside ``[beluga] fallback`` (450) and the breaker (500), so each attempt is one
#: deployment's, checked by that deployment's breaker.
ROUTING_RANK = 440
LATENCY_SMOOTHING = 0.2  #: weight of the newest call in a deployment's moving average latency


class Deployment:
    """One deployment's live state."""

    __slots__ = ("calls", "cool_until", "failures", "in_flight", "latency", "max_in_flight", "model", "provider",
                 "recent", "rpm", "target", "weight")

    def __init__(self, target: str, weight: float, rpm: int | None, max_in_flight: int | None) -> None:
        provider, _, model = target.partition(":")
        self.target = target
        self.provider = provider
        self.model = model or None
        self.weight = weight
        self.rpm = rpm
        self.max_in_flight = max_in_flight
        self.in_flight = 0
        self.calls = 0
        self.failures = 0
        self.latency: float | None = None
        self.cool_until = 0.0
        self.recent: deque[float] = deque()  # start times within the last minute, when rpm is set

    def has_room(self, now: float) -> bool:
        if self.max_in_flight is not None and self.in_flight >= self.max_in_flight:
            return False
        if self.rpm is not None:
            while self.recent and now - self.recent[0] >= 60.0:
                self.recent.popleft()
            if len(self.recent) >= self.rpm:
                return False
        return True

    def snapshot(self, now: float) -> dict[str, Any]:
        return {
            "target": self.target,
            "healthy": now >= self.cool_until,
            "in_flight": self.in_flight,
            "calls": self.calls,
            "failures": self.failures,
            "latency_ms": None if self.latency is None else round(self.latency * 1000, 1),
        }


class Router:
    """Picks the order in which one group's deployments are tried, and keeps their state."""

    def __init__(self, name: str, group: ModelGroup, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.strategy = group.strategy
        self.cooldown = float(group.cooldown)
        self.deployments = [
            Deployment(t, float(group.weights.get(t, 1.0)), group.rpm.get(t), group.max_in_flight.get(t))
            for t in group.deployments
        ]
        self._clock = clock
        self._lock = threading.Lock()
        self._turn = 0
        self._credit = [0.0] * len(self.deployments)  # smooth weighted round-robin

    def order(self) -> list[Deployment]:
        """The deployments to try, first choice first: the healthy ones with room, ranked by the
        strategy, then the cooling ones (a group with none healthy still tries them); never one
        without room."""
        with self._lock:
            now = self._clock()
            roomy = [i for i, d in enumerate(self.deployments) if d.has_room(now)]
            healthy = [i for i in roomy if now >= self.deployments[i].cool_until]
            cooling = [i for i in roomy if now < self.deployments[i].cool_until]
            turn = self._turn
            self._turn += 1
            return [self.deployments[i] for i in (*self._ranked(healthy, turn), *self._ranked(cooling, turn))]

    def _ranked(self, indexes: list[int], turn: int) -> list[int]:
        n = len(indexes)
        if n <= 1:
            return indexes
        ds = self.deployments
        rotated = [indexes[(turn + k) % n] for k in range(n)]
        if self.strategy == "round-robin":
            return rotated
        if self.strategy == "least-busy":
            return sorted(rotated, key=lambda i: ds[i].in_flight)
        if self.strategy == "latency":  # unmeasured first, so that each gets measured
            return sorted(rotated, key=lambda i: _latency(ds[i]))
        # weighted: nginx's smooth weighted round-robin picks the first; the rest follow by weight
        total = sum(ds[i].weight for i in indexes)
        for i in indexes:
            self._credit[i] += ds[i].weight
        first = max(indexes, key=lambda i: self._credit[i])
        self._credit[first] -= total
        return [first, *sorted((i for i in indexes if i != first), key=lambda i: -ds[i].weight)]

    def started(self, d: Deployment) -> float:
        with self._lock:
            now = self._clock()
            d.in_flight += 1
            d.calls += 1
            if d.rpm is not None:
                d.recent.append(now)
            return now

    def finished(self, d: Deployment, began: float, failed: bool) -> None:
        with self._lock:
            now = self._clock()
            d.in_flight -= 1
            if failed:
                d.failures += 1
                d.cool_until = now + self.cooldown
            else:
                took = now - began
                old = took if d.latency is None else d.latency
                d.latency = (1 - LATENCY_SMOOTHING) * old + LATENCY_SMOOTHING * took

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            now = self._clock()
            return {"strategy": self.strategy, "deployments": [d.snapshot(now) for d in self.deployments]}


def _latency(d: Deployment) -> float:
    return -1.0 if d.latency is None else d.latency


def routers_for(config: Config) -> dict[str, Router]:
    return {name: Router(name, group) for name, group in config.models.items()}


Middleware = Callable[[LLMRequest, Callable[[LLMRequest], Awaitable[Any]]], Awaitable[Any]]


def routing_layer(routers: Mapping[str, Router]) -> Middleware:
    """Middleware that sends a call naming a model group to its deployments (see the module doc)."""

    async def route(request: LLMRequest, call_next: Callable[[LLMRequest], Awaitable[Any]]) -> Any:
        router = routers.get(request.model or "")
        if router is None:
            return await call_next(request)
        order = router.order()
        if not order:
            raise RateLimited(f"model {router.name!r}: every deployment is at its rpm or max_in_flight limit",
                              retry_after=1.0)
        failures: list[dict[str, str]] = []
        for i, d in enumerate(order):
            attempt = request.replace(provider=d.provider, model=d.model)
            began = router.started(d)
            try:
                result = await call_next(attempt)
            except BelugaError as exc:
                router.finished(d, began, failed=exc.retryable)
                if not exc.retryable or i == len(order) - 1:
                    raise
                failures.append({"deployment": d.target, "error": exc.code.value})
                log.warning("model %r: deployment %r failed (%s); trying %r", router.name, d.target,
                            exc.code.value, order[i + 1].target)
                continue
            except BaseException:
                router.finished(d, began, failed=False)
                raise
            router.finished(d, began, failed=False)
            note = {"model": router.name, "deployment": d.target, **({"failed": failures} if failures else {})}
            if isinstance(result, LLMStream):
                result.metadata["routing"] = note
                return result
            return result.replace(metadata={**result.metadata, "routing": note})
        raise AssertionError("unreachable")

    return route


__all__ = ["ROUTING_RANK", "Deployment", "Router", "routers_for", "routing_layer"]
