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

# The OpenTelemetry GenAI client metrics, named by the OpenTelemetry-to-Prometheus rules (dots to
# underscores, the unit "s" as a _seconds suffix, the annotation "{token}" dropped), with the
# conventions' advisory bucket boundaries.
GENAI_LABELS = ("gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model", "gen_ai_response_model")
GENAI_DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
GENAI_TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
GENAI_FIRST_CHUNK_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
#: Distinct upstream-reported model names that get a label value of their own; later ones are "other".
MAX_RESPONSE_MODELS = 64
#: Distinct budget keys (projects) that get a spend label value of their own; later ones are "other".
MAX_SPEND_PROJECTS = 1000


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
        self.spend = Counter(
            "beluga_gateway_spend_usd", "USD spent on model calls, priced by the budget plugin", ["project", "model"],
            registry=r,
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
        self.genai_duration = Histogram(
            "gen_ai_client_operation_duration_seconds", "GenAI operation duration (gen_ai.client.operation.duration)",
            [*GENAI_LABELS, "error_type"], buckets=GENAI_DURATION_BUCKETS, registry=r,
        )
        self.genai_tokens = Histogram(
            "gen_ai_client_token_usage", "Number of input and output tokens used (gen_ai.client.token.usage)",
            [*GENAI_LABELS, "gen_ai_token_type"], buckets=GENAI_TOKEN_BUCKETS, registry=r,
        )
        self.genai_first_chunk = Histogram(
            "gen_ai_client_operation_time_to_first_chunk_seconds",
            "Time to the first chunk of a streamed response (gen_ai.client.operation.time_to_first_chunk)",
            GENAI_LABELS, buckets=GENAI_FIRST_CHUNK_BUCKETS, registry=r,
        )
        self._response_models: set[str] = set()
        self._spend_projects: set[str] = set()
        self._breakers = _BreakerCollector(breakers)
        r.register(self._breakers)

    def response_model(self, name: str, request_model: str) -> str:
        """The ``gen_ai_response_model`` label of an upstream-reported model name: the request's own
        label when they match, else one of at most ``MAX_RESPONSE_MODELS`` names, then ``other``.
        A request for a name outside the configuration (``other``) gets ``other`` here too: the
        upstream may echo the caller's name back."""
        if not name:
            return ""
        if name == request_model or request_model == "other":
            return request_model
        seen = self._response_models
        if name in seen:
            return name
        if len(seen) < MAX_RESPONSE_MODELS:
            seen.add(name)
            return name
        return "other"

    def spent(self, project: str, model: str, usd: float) -> None:
        """A settled call's cost (the budget plugin's listener): per project (at most
        ``MAX_SPEND_PROJECTS`` values, then ``other``) and answering model (bounded as
        ``gen_ai_response_model``)."""
        if usd <= 0:
            return
        seen = self._spend_projects
        if project not in seen:
            if len(seen) < MAX_SPEND_PROJECTS:
                seen.add(project)
            else:
                project = "other"
        self.spend.labels(project, self.response_model(model, "") or "-").inc(usd)

    def genai_done(
        self, provider: str, request_model: str, response_model: str, seconds: float, usage: Any,
        operation: str = "chat",
    ) -> None:
        """A call that answered: its duration, and its token counts when the provider reported usage
        (an embeddings call has input tokens only)."""
        labels = (operation, provider, request_model, self.response_model(response_model, request_model))
        self.genai_duration.labels(*labels, "").observe(seconds)
        if usage is not None:
            self.genai_tokens.labels(*labels, "input").observe(usage.input_tokens)
            if operation != "embeddings":
                self.genai_tokens.labels(*labels, "output").observe(usage.output_tokens)

    def genai_failed(
        self, provider: str, request_model: str, error_type: str, seconds: float, operation: str = "chat"
    ) -> None:
        self.genai_duration.labels(operation, provider, request_model, "", error_type).observe(seconds)

    def genai_first(self, provider: str, request_model: str, response_model: str, seconds: float) -> None:
        labels = ("chat", provider, request_model, self.response_model(response_model, request_model))
        self.genai_first_chunk.labels(*labels).observe(seconds)

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


__all__ = ["BUCKETS", "MAX_LABEL_CHARS", "MAX_SPEND_PROJECTS", "Metrics", "multiprocess_registry", "printable"]
