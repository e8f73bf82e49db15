"""Prometheus metrics of one gateway, in a registry of its own (several gateways may share a process)."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_BREAKER_VALUE = {"closed": 0.0, "half_open": 1.0, "open": 2.0}

#: Latency buckets (seconds) fine enough to see the gateway's own sub-millisecond overhead.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class _BreakerCollector(Collector):
    """``beluga_gateway_breaker_state``, read from the breaker plugin when scraped."""

    def __init__(self, breakers: Callable[[], dict[str, str]]) -> None:
        self._breakers = breakers

    def collect(self) -> Iterator[GaugeMetricFamily]:
        g = GaugeMetricFamily(
            "beluga_gateway_breaker_state", "Circuit breaker state per provider/model: 0 closed, 1 half-open, 2 open",
            labels=["breaker"],
        )
        for name, state in sorted(self._breakers().items()):
            g.add_metric([printable(name)], _BREAKER_VALUE.get(state, -1.0))
        yield g


class Metrics:
    """The gateway's counters and histograms (labels kept to bounded sets: routes, models, projects)."""

    def __init__(self, breakers: Callable[[], dict[str, str]], registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "beluga_gateway_requests", "HTTP requests answered", ["route", "model", "status"], registry=r
        )
        self.latency = Histogram(
            "beluga_gateway_request_duration_seconds",
            "Time to the full response (streams: to the last byte)",
            ["route", "stream"],
            buckets=BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            "beluga_gateway_tokens", "Tokens reported by providers", ["project", "model", "kind"], registry=r
        )
        self.guard_blocks = Counter(
            "beluga_gateway_guard_blocks", "Requests stopped by a guard", ["guard", "stage"], registry=r
        )
        self.rate_limited = Counter(
            "beluga_gateway_rate_limited", "Requests denied by a rate limit", ["project"], registry=r
        )
        self.in_flight = Gauge(
            "beluga_gateway_in_flight", "Requests and streams in progress", registry=r, multiprocess_mode="livesum"
        )
        self.disconnects = Counter(
            "beluga_gateway_client_disconnects", "Requests whose client went away before the answer", registry=r
        )
        self.reloads = Counter("beluga_gateway_config_reloads", "Config reload attempts", ["result"], registry=r)
        self._breakers = _BreakerCollector(breakers)
        r.register(self._breakers)

    def render(self) -> bytes:
        shared = multiprocess_registry()
        if shared is None:
            return _latest(self.registry)
        own = CollectorRegistry()
        own.register(self._breakers)  # breaker state is this worker's view; counters are summed
        return _latest(shared) + _latest(own)


#: Longest label value rendered; a longer one is cut and ends in "..." and 8 hex digits of its
#: SHA-256, so distinct values stay distinct.
MAX_LABEL_CHARS = 256


def printable(value: str) -> str:
    """``value`` fit for a label (and a JSON or log line): control characters (Unicode Cc, U+2028,
    U+2029) and lone surrogates replaced by U+FFFD, cut to ``MAX_LABEL_CHARS``."""
    if len(value) > MAX_LABEL_CHARS:
        digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        value = value[: MAX_LABEL_CHARS - 11] + "..." + digest
    if _UNPRINTABLE.search(value) is None:
        return value
    return _UNPRINTABLE.sub("\ufffd", value)


class _Printable(Collector):
    """Another registry's metrics with every label value made :func:`printable`."""

    def __init__(self, source: CollectorRegistry) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        for family in self._source.collect():
            family.samples = [
                s._replace(labels={k: printable(v) for k, v in s.labels.items()}) for s in family.samples
            ]
            yield family


def _latest(registry: CollectorRegistry) -> bytes:
    """The exposition text, every label value made :func:`printable` on the way: the gateway keeps
    label values to configured names, and should another slip through (a control character, a lone
    surrogate, a huge name), it cannot break the format or fail the scrape."""
    clean = CollectorRegistry(auto_describe=False)
    clean.register(_Printable(registry))
    return generate_latest(clean)


def multiprocess_registry() -> Any:
    """With ``PROMETHEUS_MULTIPROC_DIR`` set (``beluga serve --workers N`` sets it), a registry that
    adds up every worker's counters; else None."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return None
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


__all__ = ["BUCKETS", "MAX_LABEL_CHARS", "Metrics", "multiprocess_registry", "printable"]
