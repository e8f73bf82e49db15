"""Setup from [plugins.tracing] and OTEL_* variables, and the rule that the app's provider wins."""

from __future__ import annotations

import json

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tracing_support import run_script

from beluga_core import ConfigError
from beluga_core.testing import kit_with
from beluga_tracing import start_span, use_tracer_provider
from beluga_tracing._runtime import build_provider, configure, resolve_plan
from beluga_tracing.plugin import TracingPlugin


def plan(env=None, **kw):
    args = {"exporter": None, "endpoint": None, "service_name": None, "sampling_ratio": None, **kw}
    return resolve_plan(env=env or {}, **args)


def test_nothing_is_exported_unless_configured():
    assert plan().exporters == ()


def test_otel_traces_exporter_is_read_when_the_config_names_none():
    p = plan({"OTEL_TRACES_EXPORTER": "otlp,console,zipkin", "OTEL_TRACES_SAMPLER": "traceidratio",
              "OTEL_TRACES_SAMPLER_ARG": "0.25"})
    assert p.exporters == ("otlp", "console")
    assert p.sampler == ("traceidratio", 0.25)


def test_config_values_win_over_otel_variables():
    p = plan({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER": "always_off"}, exporter="none", sampling_ratio=0.5)
    assert p.exporters == ()
    assert p.sampler == ("parentbased_traceidratio", 0.5)


@pytest.mark.parametrize(
    ("endpoint", "url"),
    [("http://127.0.0.1:4318", "http://127.0.0.1:4318/v1/traces"),
     ("http://c:4318/", "http://c:4318/v1/traces"),
     ("http://c:4318/v1/traces", "http://c:4318/v1/traces")],
)
def test_endpoint_is_a_base_url_like_otel_exporter_otlp_endpoint(endpoint, url):
    assert plan(exporter="otlp", endpoint=endpoint).endpoint == url


def test_bad_settings_are_reported_by_key_before_anything_is_applied():
    config = {"plugins": {"tracing": {"exporter": "jaeger", "sampling_ratio": 1.5}}}
    with pytest.raises(ConfigError) as info:
        kit_with(TracingPlugin(), config=config)
    keys = {issue.key for issue in info.value.issues}
    assert keys == {"plugins.tracing.exporter", "plugins.tracing.sampling_ratio"}


def test_otel_sdk_disabled_turns_setup_off():
    assert configure(exporter="otlp", endpoint=None, service_name=None, sampling_ratio=None,
                     env={"OTEL_SDK_DISABLED": "true"}) == "disabled"


def test_exporter_none_installs_nothing():
    plugin = TracingPlugin(env={})
    kit_with(plugin)
    assert plugin.setup == "none"
    assert plugin.metrics_setup == "none"


@pytest.mark.parametrize(("ratio", "recorded"), [(0.0, 0), (1.0, 20)])
def test_the_sampling_ratio_decides_how_many_traces_are_recorded(ratio, recorded):
    provider = build_provider(plan(sampling_ratio=ratio), env={})
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    use_tracer_provider(provider)
    try:
        for _ in range(20):
            with start_span("work"):
                pass
    finally:
        use_tracer_provider(None)
    assert len(memory.get_finished_spans()) == recorded


def test_an_application_tracer_provider_is_never_replaced():
    out, err = run_script(
        """
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        from beluga_core.testing import kit_with
        from beluga_tracing.plugin import TracingPlugin

        memory = InMemorySpanExporter()
        app_provider = TracerProvider()
        app_provider.add_span_processor(SimpleSpanProcessor(memory))
        trace.set_tracer_provider(app_provider)

        plugin = TracingPlugin()
        kit = kit_with(plugin, config={"plugins": {"tracing": {"exporter": "console", "sampling_ratio": 0.0}}})
        assert plugin.setup == "application", plugin.setup
        assert trace.get_tracer_provider() is app_provider
        with trace.get_tracer("app").start_as_current_span("app request"):
            kit.generate("hi", model="m")
        names = sorted(s.name for s in memory.get_finished_spans())
        assert names == ["app request", "chat m"], names
        print("ok")
        """
    )
    assert out.strip() == "ok"
    assert '"name": "chat m"' not in err  # Beluga's console exporter was not installed


def test_a_reload_swaps_the_exporter_and_sampling_of_the_provider_beluga_installed(tmp_path):
    config = tmp_path / "beluga.toml"
    out, err = run_script(
        f"""
        from pathlib import Path
        from opentelemetry import trace
        from beluga_core.testing import kit_with
        from beluga_tracing.plugin import TracingPlugin

        path = Path({str(config)!r})
        path.write_text('[plugins.tracing]\\nexporter = "console"\\nservice_name = "svc-1"\\n')
        plugin = TracingPlugin()
        kit = kit_with(plugin, config=str(path))
        assert plugin.setup == "installed", plugin.setup
        installed = trace.get_tracer_provider()
        kit.generate("first", model="before-reload")

        path.write_text('[plugins.tracing]\\nexporter = "none"\\nservice_name = "svc-1"\\n')
        assert kit.reload().applied
        assert plugin.setup == "reconfigured", plugin.setup
        assert trace.get_tracer_provider() is installed
        kit.generate("second", model="after-reload")
        print("ok")
        """
    )
    assert out.strip() == "ok"
    printed = json.loads(err[err.index("{"): err.rindex("}") + 1])
    assert printed["name"] == "chat before-reload"
    assert printed["resource"]["attributes"]["service.name"] == "svc-1"
    assert "after-reload" not in err


def test_loading_the_plugin_imports_no_opentelemetry_and_inject_headers_no_sdk():
    out, _ = run_script(
        """
        import sys
        import beluga_tracing.plugin
        assert not [m for m in sys.modules if m.startswith("opentelemetry")], "plugin import loaded OTel"
        from beluga_core.testing import kit_with
        kit_with(beluga_tracing.plugin.TracingPlugin())
        assert not [m for m in sys.modules if m.startswith("opentelemetry")], "Kit setup loaded OTel"
        from beluga_tracing import inject_headers
        assert not [m for m in sys.modules if m.startswith("opentelemetry")]
        assert inject_headers({}) == {}
        assert "opentelemetry.sdk" not in sys.modules
        print("ok")
        """
    )
    assert out.strip() == "ok"
