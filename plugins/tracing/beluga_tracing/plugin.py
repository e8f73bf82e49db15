"""The ``tracing`` plugin: spans for model calls, tool calls and guard decisions; ``beluga trace``.

Loading it imports no OpenTelemetry code; the middleware module is imported on the first call.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from beluga_core import CallNext, ToolCallNext, get_logger, hookimpl, setting
from beluga_tracing import _runtime

if TYPE_CHECKING:
    from beluga_core import CommandRegistry, Config, GuardDecision, LLMRequest, LLMResponse, LLMStream, ToolInvocation

log = get_logger("beluga.tracing")


@attrs.frozen
class TracingSettings:
    """The ``[plugins.tracing]`` section. Unset keys fall back to the standard ``OTEL_*`` variables."""

    service_name: str | None = setting(None, help="service.name of the spans (default: OTEL_SERVICE_NAME, else beluga)")
    exporter: str | None = setting(
        None, choices=_runtime.EXPORTERS, help="console, otlp or none (default: OTEL_TRACES_EXPORTER, else none)"
    )
    endpoint: str | None = setting(
        None, help="OTLP/HTTP base URL, e.g. http://127.0.0.1:4318 (default: OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT)"
    )
    metrics_exporter: str | None = setting(
        None, choices=_runtime.EXPORTERS,
        help="console, otlp or none for the gen_ai.client.* metrics (default: OTEL_METRICS_EXPORTER, else exporter)",
    )
    sampling_ratio: float | None = setting(
        None, min=0, max=1, help="share of new traces recorded, 0..1 (default: OTEL_TRACES_SAMPLER[_ARG], else all)"
    )
    capture_content: bool | None = setting(
        None, help="record message text in spans (default: OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT)"
    )
    emit_deprecated: bool = setting(
        False, help="also write deprecated names (gen_ai.system, gen_ai.usage.prompt_tokens, ...) for old dashboards"
    )
    metadata_attributes: tuple[str, ...] = setting(
        factory=lambda: ("request_id",), help="request metadata keys recorded as beluga.request.<key> span attributes"
    )


_mw: Any = None


def _middleware() -> Any:
    global _mw
    if _mw is None:
        from beluga_tracing import _middleware as mw

        _mw = mw
    return _mw


class TracingPlugin:
    """OpenTelemetry spans around every model call and tool call, guard decisions as events.

    ``tracer_provider=`` (``meter_provider=``) keeps this plugin's spans (metrics) in a provider of its
    own (tests); by default they go where ``beluga_tracing.use_tracer_provider``
    (``use_meter_provider``) or the global provider says (docs/tracing.md).
    """

    name = "tracing"
    rank = 100  #: where it goes when [beluga] plugins does not list it (lower: outer)

    def __init__(
        self, *, tracer_provider: Any = None, meter_provider: Any = None, env: Mapping[str, str] | None = None
    ) -> None:
        self._provider = tracer_provider
        self._meter_provider = meter_provider
        self._instruments: Any = None
        self._env = env
        self._options = _runtime.Options()
        #: What the last config did to the global provider: installed, reconfigured, application, none, ...
        self.setup: str = "none"
        #: The same for the global MeterProvider.
        self.metrics_setup: str = "none"
        self._apply(TracingSettings(), None)

    @hookimpl
    def config_schema(self) -> type:
        return TracingSettings

    @hookimpl
    def on_close(self) -> None:
        """Export what is buffered before the Kit goes away (short scripts lose nothing)."""
        _runtime.flush(5_000)

    @hookimpl
    def on_config_change(self, old: Config | None, new: Config) -> None:
        self._apply(new.plugin_settings(self.name) or TracingSettings(), new)

    def _apply(self, settings: TracingSettings, config: Config | None) -> None:
        env = os.environ if self._env is None else self._env
        if config is not None and self._provider is None:
            self.setup = _runtime.configure(
                exporter=settings.exporter,
                endpoint=settings.endpoint,
                service_name=settings.service_name,
                sampling_ratio=settings.sampling_ratio,
                env=env,
            )
        if config is not None and self._meter_provider is None:
            self.metrics_setup = _runtime.configure_metrics(
                metrics_exporter=settings.metrics_exporter,
                exporter=settings.exporter,
                endpoint=settings.endpoint,
                service_name=settings.service_name,
                sampling_ratio=settings.sampling_ratio,
                env=env,
            )
        capture = settings.capture_content
        if capture is None:
            capture = _runtime.truthy(env.get("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"))
        kinds: dict[str, str] = {}
        models: dict[str, str] = {}
        servers: dict[str, tuple[str, int]] = {}
        known: set[str] = set()
        default = "echo"
        if config is not None:
            default = config.beluga.provider
            kinds = {name: pc.type for name, pc in config.providers.items() if pc.type}
            for name in {default, *config.providers}:
                pc = config.provider_config(name)
                if pc.model:  # what the provider asks for when a request names no model
                    models[name] = pc.model
                server = _runtime.server_of(pc.base_url, kinds.get(name, name))
                if server is not None:
                    servers[name] = server
            known.update(models.values())
            if config.beluga.model:
                known.add(config.beluga.model)
            known.update(m for _, _, m in (t.partition(":") for t in config.beluga.fallback) if m)
        _runtime.STATE.default_provider = kinds.get(default, default)
        own = self._provider.get_tracer(_runtime.INSTRUMENTATION_NAME, _runtime.VERSION) if self._provider else None
        if self._meter_provider is not None and self._instruments is None:
            self._instruments = _runtime.instruments_of(self._meter_provider)
        self._options = _runtime.Options(
            default_provider=default,
            provider_kinds=kinds,
            capture_content=capture,
            emit_deprecated=settings.emit_deprecated,
            metadata_keys=tuple(settings.metadata_attributes),
            tracer=own,
            instruments=self._instruments,
            provider_models=models,
            servers=servers,
            known_models=frozenset(known),
        )

    @hookimpl
    async def wrap_llm_call(self, request: LLMRequest, call_next: CallNext) -> LLMResponse | LLMStream:
        return await (_mw or _middleware()).llm_call(self._options, request, call_next)  # type: ignore[no-any-return]

    @hookimpl
    async def wrap_tool_call(self, call: ToolInvocation, call_next: ToolCallNext) -> Any:
        return await _middleware().tool_call(self._options, call, call_next)

    @hookimpl
    def on_guard_decision(self, decision: GuardDecision) -> None:
        _middleware().guard_decision(decision)

    @hookimpl
    def register_commands(self, commands: CommandRegistry) -> None:
        from beluga_tracing import cli

        commands.add("trace", cli.HELP, cli.configure, cli.run)
        commands.provide("run", "--trace", cli.run)
