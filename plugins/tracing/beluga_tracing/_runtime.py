"""Where Beluga's spans go: the TracerProvider rule, and building one from settings and ``OTEL_*``.

The rule (docs/tracing.md):
1. ``use_tracer_provider(tp)`` (tests, ``beluga trace``, apps that keep Beluga's spans apart) wins.
2. Else the application's global TracerProvider, if it set one: Beluga never replaces it and
   ignores its own exporter and sampling settings.
3. Else, when an exporter is configured, Beluga builds an SDK TracerProvider and installs it as the
   global one, once per process; later reloads swap its exporter and sampling ratio in place.
4. Else (exporter ``none``) nothing is installed and spans cost next to nothing (the no-op tracer).

Metrics follow the same rule with a MeterProvider (``use_meter_provider``, the application's global
one, one Beluga installs for ``metrics_exporter``, else the no-op meter).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from beluga_core import get_logger

if TYPE_CHECKING:
    from opentelemetry.metrics import Histogram, Meter
    from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
    from opentelemetry.sdk.trace.sampling import Sampler
    from opentelemetry.trace import Tracer

log = get_logger("beluga.tracing")

INSTRUMENTATION_NAME = "beluga_tracing"
VERSION = "0.1.0"
EXPORTERS = ("console", "otlp", "none")


class _State:
    """Process-wide: the provider overrides, the resolved tracer and instruments, what Beluga installed."""

    __slots__ = (
        "default_provider", "installed", "instruments", "lock", "meter_installed", "meter_override", "override",
        "tracer",
    )

    def __init__(self) -> None:
        self.override: Any = None
        self.tracer: Tracer | None = None
        self.installed: _Installed | None = None
        self.meter_override: Any = None
        self.instruments: Instruments | None = None
        #: (MeterProvider, its swappable exporter, exporter names, endpoint) Beluga installed
        self.meter_installed: tuple[Any, Any, tuple[str, ...], str | None] | None = None
        #: gen_ai.provider.name of the last applied config's default provider (for invoke_agent spans).
        self.default_provider: str | None = None
        self.lock = threading.Lock()


STATE = _State()


def get_tracer() -> Tracer:
    """The tracer Beluga's spans are made with (resolved once, again after the provider changes)."""
    tracer = STATE.tracer
    if tracer is None:
        from opentelemetry import trace

        provider = STATE.override if STATE.override is not None else trace.get_tracer_provider()
        tracer = STATE.tracer = provider.get_tracer(INSTRUMENTATION_NAME, VERSION)
    return tracer


def use_tracer_provider(provider: Any) -> None:
    """Send Beluga's spans (middleware, ``start_span``, ``invoke_agent``) to ``provider``.

    ``None`` goes back to the global provider. Meant for tests, ``beluga trace`` and applications
    that want Beluga's spans in a pipeline of their own without touching the global one.
    """
    STATE.override = provider
    STATE.tracer = None


def current_provider() -> Any:
    """The TracerProvider Beluga's spans go to right now (the override, else the global one)."""
    from opentelemetry import trace

    return STATE.override if STATE.override is not None else trace.get_tracer_provider()


def flush(timeout_millis: int = 30_000) -> bool:
    """Export every finished span and metric now (e.g. before a short script exits). True when all went out."""
    ok = True
    for provider in (current_provider(), current_meter_provider()):
        force_flush = getattr(provider, "force_flush", None)
        if force_flush is not None:
            ok = bool(force_flush(timeout_millis)) and ok
    return ok


# -- metrics -----------------------------------------------------------------------------------


class Instruments:
    """The three GenAI client histograms, made once per meter."""

    __slots__ = ("duration", "first_chunk", "tokens")

    def __init__(self, meter: Meter) -> None:
        from beluga_tracing import semconv as sc

        self.duration: Histogram = meter.create_histogram(
            sc.METRIC_OPERATION_DURATION, unit="s", description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=sc.DURATION_BUCKETS,
        )
        self.tokens: Histogram = meter.create_histogram(
            sc.METRIC_TOKEN_USAGE, unit="{token}", description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=sc.TOKEN_BUCKETS,
        )
        self.first_chunk: Histogram = meter.create_histogram(
            sc.METRIC_TIME_TO_FIRST_CHUNK, unit="s",
            description="Time to receive the first chunk of a streamed response.",
            explicit_bucket_boundaries_advisory=sc.FIRST_CHUNK_BUCKETS,
        )


def instruments_of(provider: Any) -> Instruments:
    return Instruments(provider.get_meter(INSTRUMENTATION_NAME, VERSION))


def get_instruments() -> Instruments:
    """The instruments Beluga's metrics are recorded with (made once, again after the provider changes)."""
    found = STATE.instruments
    if found is None:
        found = STATE.instruments = instruments_of(current_meter_provider())
    return found


def use_meter_provider(provider: Any) -> None:
    """Send Beluga's metrics to ``provider`` (``None``: back to the global one). Like ``use_tracer_provider``."""
    STATE.meter_override = provider
    STATE.instruments = None


def current_meter_provider() -> Any:
    """The MeterProvider Beluga's metrics go to right now (the override, else the global one)."""
    from opentelemetry import metrics

    return STATE.meter_override if STATE.meter_override is not None else metrics.get_meter_provider()


def resolve_metrics_exporters(
    metrics_exporter: str | None, traces: ExportPlan, env: Mapping[str, str]
) -> tuple[str, ...]:
    """``metrics_exporter``, else ``OTEL_METRICS_EXPORTER``, else what spans are exported with."""
    if metrics_exporter is not None:
        return () if metrics_exporter == "none" else (metrics_exporter,)
    raw = env.get("OTEL_METRICS_EXPORTER")
    if raw is None:
        return traces.exporters
    names = [n.strip().lower() for n in raw.split(",") if n.strip()]
    unknown = [n for n in names if n not in EXPORTERS]
    if unknown:
        log.warning("OTEL_METRICS_EXPORTER: ignoring %s (beluga-tracing knows console, otlp, none)", unknown)
    return tuple(n for n in dict.fromkeys(names) if n in ("console", "otlp"))


def make_metric_exporters(exporters: tuple[str, ...], endpoint: str | None) -> tuple[Any, ...]:
    from opentelemetry.sdk.metrics.export import ConsoleMetricExporter

    out: list[Any] = []
    for name in exporters:
        if name == "console":
            out.append(ConsoleMetricExporter(out=sys.stderr))
        elif name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

            url = None  # then the exporter reads OTEL_EXPORTER_OTLP_[METRICS_]ENDPOINT itself
            if endpoint:
                base = endpoint.rstrip("/")
                url = base if base.endswith("/v1/metrics") else base + "/v1/metrics"
            out.append(OTLPMetricExporter(endpoint=url))
    return tuple(out)


def _swappable_metric_exporter(inner: tuple[Any, ...]) -> Any:
    from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult

    class SwappableMetricExporter(MetricExporter):
        """Delegates to exporters a reload may replace (a MeterProvider's readers are fixed)."""

        def __init__(self, inner: tuple[Any, ...]) -> None:
            super().__init__()
            self.inner = inner

        def export(self, metrics_data: Any, timeout_millis: float = 10_000, **kwargs: Any) -> Any:
            results = [e.export(metrics_data, timeout_millis=timeout_millis) for e in self.inner]
            ok = all(r is MetricExportResult.SUCCESS for r in results)
            return MetricExportResult.SUCCESS if ok else MetricExportResult.FAILURE

        def force_flush(self, timeout_millis: float = 10_000) -> bool:
            return all(e.force_flush(timeout_millis) for e in self.inner)

        def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
            for e in self.inner:
                e.shutdown()

    return SwappableMetricExporter(inner)


def configure_metrics(
    *,
    metrics_exporter: str | None,
    exporter: str | None,
    endpoint: str | None,
    service_name: str | None,
    sampling_ratio: float | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """The MeterProvider half of ``configure``: ``disabled``, ``application``, ``none``, ``installed``,
    ``reconfigured`` or ``unchanged``. One periodic reader (``OTEL_METRIC_EXPORT_INTERVAL``, default
    60 s) exports through exporters a reload swaps in place."""
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return "disabled"
    traces = resolve_plan(
        exporter=exporter, endpoint=endpoint, service_name=service_name, sampling_ratio=sampling_ratio, env=env
    )
    exporters = resolve_metrics_exporters(metrics_exporter, traces, env)
    with STATE.lock:
        ours = STATE.meter_installed
        if ours is None and not exporters:
            return "none"
        from opentelemetry import metrics

        current = metrics.get_meter_provider()
        if ours is not None and current is ours[0]:
            if (exporters, endpoint) == ours[2:]:
                return "unchanged"
            old = ours[1].inner
            ours[1].inner = make_metric_exporters(exporters, endpoint)
            STATE.meter_installed = (ours[0], ours[1], exporters, endpoint)
            _shutdown_later(old)
            return "reconfigured"
        from opentelemetry.metrics import NoOpMeterProvider
        from opentelemetry.sdk.metrics import MeterProvider

        if isinstance(current, MeterProvider | NoOpMeterProvider):
            if exporters:
                log.info("the application set its own MeterProvider; [plugins.tracing] metrics exporter unused")
            return "application"
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        exporter_ = _swappable_metric_exporter(make_metric_exporters(exporters, endpoint))
        provider = MeterProvider(
            metric_readers=[PeriodicExportingMetricReader(exporter_)], resource=make_resource(service_name, env)
        )
        metrics.set_meter_provider(provider)
        if metrics.get_meter_provider() is not provider:  # another provider was set first
            provider.shutdown()
            return "application"
        STATE.meter_installed = (provider, exporter_, exporters, endpoint)
        STATE.instruments = None
        return "installed"


@attrs.frozen(slots=True)
class Options:
    """What the middleware needs from ``[plugins.tracing]`` and ``[beluga]``, derived once per config."""

    default_provider: str = "echo"
    provider_kinds: Mapping[str, str] = attrs.field(factory=dict)
    capture_content: bool = False
    emit_deprecated: bool = False
    metadata_keys: tuple[str, ...] = ("request_id",)
    tracer: Tracer | None = None  # a plugin built with tracer_provider= keeps its own
    instruments: Instruments | None = None  # a plugin built with meter_provider= keeps its own
    #: provider section -> the model it uses when a request names none (from the config)
    provider_models: Mapping[str, str] = attrs.field(factory=dict)
    #: provider section -> (server.address, server.port) of its upstream, when known
    servers: Mapping[str, tuple[str, int]] = attrs.field(factory=dict)
    #: model names from the config: always a metric value of their own
    known_models: frozenset[str] = frozenset()
    #: other model names seen, each a metric value of its own until MODEL_VALUES_MAX of them
    seen_models: set[str] = attrs.field(factory=set, init=False, eq=False, repr=False)
    #: (request.provider, request.model) -> (span name, provider kind, static start attributes),
    #: filled by the middleware on first use; a new config makes a new Options, so a new cache.
    static: dict[tuple[str | None, str | None, str], Static] = attrs.field(
        factory=dict, init=False, eq=False, repr=False
    )


#: Distinct model names outside the config that get a metric value of their own (later ones: _OTHER).
MODEL_VALUES_MAX = 64


@attrs.frozen(slots=True)
class Static:
    """What every call to one (provider, model) starts with, built once per config."""

    name: str  # the span name
    provider: str  # gen_ai.provider.name
    attributes: dict[str, Any]  # the span's start attributes
    metric: dict[str, Any]  # the metrics' attributes (bounded model name, no response model yet)



#: Where the provider kinds Beluga ships send requests when ``base_url`` is unset.
DEFAULT_SERVERS = {"openai": ("api.openai.com", 443), "anthropic": ("api.anthropic.com", 443)}


def server_of(base_url: str | None, kind: str) -> tuple[str, int] | None:
    """``(server.address, server.port)`` of a provider: its ``base_url``, else its kind's default."""
    if not base_url:
        return DEFAULT_SERVERS.get(kind)
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(base_url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not host:
        return None
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    return host, port


# -- what to build -----------------------------------------------------------------------------


@attrs.frozen
class ExportPlan:
    """The resolved setup: config values first, then ``OTEL_*`` variables, then defaults."""

    exporters: tuple[str, ...]
    endpoint: str | None
    service_name: str | None
    sampler: tuple[str, float | None]


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on", "span_only", "span_and_event")


def resolve_plan(
    *,
    exporter: str | None,
    endpoint: str | None,
    service_name: str | None,
    sampling_ratio: float | None,
    env: Mapping[str, str],
) -> ExportPlan:
    if exporter is not None:
        exporters: tuple[str, ...] = () if exporter == "none" else (exporter,)
    else:
        names = [n.strip().lower() for n in env.get("OTEL_TRACES_EXPORTER", "none").split(",") if n.strip()]
        unknown = [n for n in names if n not in EXPORTERS]
        if unknown:
            log.warning("OTEL_TRACES_EXPORTER: ignoring %s (beluga-tracing knows console, otlp, none)", unknown)
        exporters = tuple(n for n in dict.fromkeys(names) if n in ("console", "otlp"))
    if endpoint:
        base = endpoint.rstrip("/")
        endpoint = base if base.endswith("/v1/traces") else base + "/v1/traces"
    if sampling_ratio is not None:
        sampler: tuple[str, float | None] = ("parentbased_traceidratio", float(sampling_ratio))
    else:
        name = env.get("OTEL_TRACES_SAMPLER", "parentbased_always_on").strip().lower()
        arg: float | None = None
        if "traceidratio" in name:
            try:
                arg = float(env.get("OTEL_TRACES_SAMPLER_ARG", "1.0"))
            except ValueError:
                log.warning("OTEL_TRACES_SAMPLER_ARG is not a number; sampling everything")
                arg = 1.0
        sampler = (name, arg)
    return ExportPlan(exporters, endpoint, service_name, sampler)


def make_sampler(spec: tuple[str, float | None]) -> Sampler:
    from opentelemetry.sdk.trace import sampling

    name, arg = spec
    ratio = 1.0 if arg is None else min(1.0, max(0.0, arg))
    table: dict[str, Sampler] = {
        "always_on": sampling.ALWAYS_ON,
        "always_off": sampling.ALWAYS_OFF,
        "traceidratio": sampling.TraceIdRatioBased(ratio),
        "parentbased_always_on": sampling.ParentBased(sampling.ALWAYS_ON),
        "parentbased_always_off": sampling.ParentBased(sampling.ALWAYS_OFF),
        "parentbased_traceidratio": sampling.ParentBased(sampling.TraceIdRatioBased(ratio)),
    }
    if name not in table:
        log.warning("OTEL_TRACES_SAMPLER=%s is not supported here; using parentbased_always_on", name)
        name = "parentbased_always_on"
    return table[name]


def make_processors(plan: ExportPlan) -> tuple[SpanProcessor, ...]:
    """One processor per exporter. The OTLP exporter is imported only here (it is slow to import)."""
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor

    out: list[SpanProcessor] = []
    for name in plan.exporters:
        if name == "console":
            out.append(SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stderr)))
        elif name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            out.append(BatchSpanProcessor(OTLPSpanExporter(endpoint=plan.endpoint)))
    return tuple(out)


def make_resource(service_name: str | None, env: Mapping[str, str]) -> Any:
    from opentelemetry.sdk.resources import Resource

    attributes: dict[str, Any] = {}
    if service_name:
        attributes["service.name"] = service_name
    elif not env.get("OTEL_SERVICE_NAME") and "service.name=" not in env.get("OTEL_RESOURCE_ATTRIBUTES", ""):
        attributes["service.name"] = "beluga"
    return Resource.create(attributes)


def build_provider(plan: ExportPlan, env: Mapping[str, str] | None = None) -> TracerProvider:
    """A new SDK TracerProvider for ``plan`` (not installed anywhere)."""
    from opentelemetry.sdk.trace import TracerProvider

    env = os.environ if env is None else env
    provider = TracerProvider(resource=make_resource(plan.service_name, env), sampler=make_sampler(plan.sampler))
    for processor in make_processors(plan):
        provider.add_span_processor(processor)
    return provider


# -- the provider Beluga installs --------------------------------------------------------------


def _swappable_classes() -> tuple[type, type]:
    from opentelemetry.sdk.trace import SpanProcessor
    from opentelemetry.sdk.trace.sampling import Sampler

    class SwappableProcessor(SpanProcessor):
        """Delegates to processors a reload may replace (the SDK cannot remove processors)."""

        def __init__(self, inner: tuple[SpanProcessor, ...]) -> None:
            self.inner = inner

        def on_start(self, span: Span, parent_context: Any = None) -> None:
            for p in self.inner:
                p.on_start(span, parent_context=parent_context)

        def on_end(self, span: ReadableSpan) -> None:
            for p in self.inner:
                p.on_end(span)

        def shutdown(self) -> None:
            for p in self.inner:
                p.shutdown()

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return all(p.force_flush(timeout_millis) for p in self.inner)

    class SwappableSampler(Sampler):
        """Delegates to a sampler a reload may replace (the SDK fixes it at construction)."""

        def __init__(self, inner: Sampler) -> None:
            self.inner = inner

        def should_sample(self, *args: Any, **kwargs: Any) -> Any:
            return self.inner.should_sample(*args, **kwargs)

        def get_description(self) -> str:
            return f"Beluga({self.inner.get_description()})"

    return SwappableProcessor, SwappableSampler


@attrs.define
class _Installed:
    provider: Any
    processor: Any
    sampler: Any
    plan: ExportPlan


def configure(
    *,
    exporter: str | None,
    endpoint: str | None,
    service_name: str | None,
    sampling_ratio: float | None,
    env: Mapping[str, str] | None = None,
) -> str:
    """Apply ``[plugins.tracing]`` by the rule in this module's docstring. Returns what was done:
    ``disabled``, ``application``, ``none``, ``installed``, ``reconfigured`` or ``unchanged``."""
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return "disabled"
    plan = resolve_plan(
        exporter=exporter, endpoint=endpoint, service_name=service_name, sampling_ratio=sampling_ratio, env=env
    )
    with STATE.lock:
        ours = STATE.installed
        if ours is None and not plan.exporters:
            return "none"  # nothing to export: do not even import the SDK
        from opentelemetry import trace

        current = trace.get_tracer_provider()
        if ours is not None and current is ours.provider:
            return _reconfigure(ours, plan)
        if not isinstance(current, trace.ProxyTracerProvider):
            if plan.exporters:
                log.info("the application set its own TracerProvider; [plugins.tracing] exporter and sampling unused")
            return "application"
        processor_cls, sampler_cls = _swappable_classes()
        from opentelemetry.sdk.trace import TracerProvider

        sampler = sampler_cls(make_sampler(plan.sampler))
        processor = processor_cls(make_processors(plan))
        provider = TracerProvider(resource=make_resource(plan.service_name, env), sampler=sampler)
        provider.add_span_processor(processor)
        trace.set_tracer_provider(provider)
        if trace.get_tracer_provider() is not provider:  # another thread won the race
            provider.shutdown()
            return "application"
        STATE.installed = _Installed(provider, processor, sampler, plan)
        STATE.tracer = None
        return "installed"


def _reconfigure(ours: _Installed, plan: ExportPlan) -> str:
    if plan == ours.plan:
        return "unchanged"
    if plan.service_name != ours.plan.service_name:
        log.warning("[plugins.tracing] service_name changes take effect after a restart")
    if plan.sampler != ours.plan.sampler:
        ours.sampler.inner = make_sampler(plan.sampler)
    if (plan.exporters, plan.endpoint) != (ours.plan.exporters, ours.plan.endpoint):
        old = ours.processor.inner
        ours.processor.inner = make_processors(plan)
        _shutdown_later(old)
    ours.plan = plan
    return "reconfigured"


def _shutdown_later(processors: Sequence[Any]) -> None:
    """Flush and close replaced exporters off the reload path (an unreachable collector may take seconds)."""
    if not processors:
        return

    def run() -> None:
        for p in processors:
            try:
                p.shutdown()
            except Exception:
                log.debug("shutting down a replaced span processor failed", exc_info=True)

    threading.Thread(target=run, name="beluga-tracing-shutdown", daemon=True).start()
