"""The ``Kit``'s own configuration: ``[beluga]``, ``[plugins.<name>]`` and ``[providers.<name>]``."""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from beluga_core import config as cfg
from beluga_core.config import Duration, setting
from beluga_core.errors import ConfigError, ConfigIssue
from beluga_core.llm import ProviderConfig

if TYPE_CHECKING:
    from beluga_core.llm import ProviderRegistry
    from beluga_core.plugins import PluginManager


@attrs.frozen
class BelugaSettings:
    """The ``[beluga]`` section."""

    plugins: tuple[str, ...] = setting(
        factory=tuple, help="plugin order: first is outermost in wrap_llm_call and first in guard stages"
    )
    provider: str = setting("echo", help="provider used when a call names none")
    model: str | None = setting(None, help="model used when a call names none (else the provider's)")
    disabled: tuple[str, ...] = setting(factory=tuple, help="plugins never imported (like BELUGA_DISABLE_PLUGINS)")
    load_unlisted: bool = setting(True, help="also load installed plugins not listed in plugins")
    fail_open: tuple[str, ...] = setting(
        factory=tuple, help="guard plugins whose errors let text pass (default: errors block)"
    )
    deadline: Duration | None = setting(None, min=0, help="per-call deadline, e.g. '30s' (none by default)")
    stream_holdback: int = setting(
        128, min=16, max=65536, help="characters of streamed output held so output guards see split entities whole"
    )
    guard_offload_chars: int = setting(
        8192, min=0, help="texts this long or longer are guarded on a worker thread, off the event loop (0: never)"
    )
    guard_threads: int = setting(
        1, min=1, max=64, help="worker threads for guarding long texts (one suits CPython's GIL; see the docs)"
    )
    fallback: tuple[str, ...] = setting(
        factory=tuple, help="providers tried in order when the main one fails with a retryable error"
    )


@attrs.frozen(repr=False)
class Config:
    """A validated Kit configuration. Read-only; a reload builds a new one."""

    beluga: BelugaSettings = attrs.field(factory=BelugaSettings)
    plugins: Mapping[str, Any] = attrs.field(factory=dict)
    providers: Mapping[str, ProviderConfig] = attrs.field(factory=dict)
    source: str | None = attrs.field(default=None, eq=False)
    #: Sections of installed plugins that are not loaded (disabled, deselected, broken): kept as
    #: written but not validated, since their schema comes with the plugin. One note per section.
    unchecked: tuple[ConfigIssue, ...] = attrs.field(default=(), eq=False)

    def plugin_settings(self, name: str, default: Any = None) -> Any:
        """The typed ``[plugins.<name>]`` section (or ``default`` when the plugin has none)."""
        return self.plugins.get(name, default)

    def provider_config(self, name: str) -> ProviderConfig:
        return self.providers.get(name) or ProviderConfig()

    def as_dict(self, *, masked: bool = True) -> dict[str, Any]:
        return {
            "beluga": cfg.to_dict(self.beluga, masked=masked),
            "plugins": {k: cfg.to_dict(v, masked=masked) for k, v in self.plugins.items()},
            "providers": {k: cfg.to_dict(v, masked=masked) for k, v in self.providers.items()},
        }

    def __repr__(self) -> str:
        return f"Config(source={self.source!r}, {self.as_dict()!r})"


_ROOT_KEYS = ("beluga", "plugins", "providers")


def load_config(
    source: str | Path | Mapping[str, Any] | None,
    plugins: PluginManager,
    *,
    env: Mapping[str, str] | None = None,
    registry: ProviderRegistry | None = None,
    text: str | None = None,
) -> Config:
    """Parse and validate a whole Kit config; raises ``ConfigError`` listing every issue.

    ``source`` is a path (TOML or JSON), an already-parsed mapping, or None for the defaults.
    Each loaded plugin's section is checked against the schema from its ``config_schema`` hook.
    """
    env = os.environ if env is None else env
    file: str | None = None
    if source is None:
        data: dict[str, Any] = {}
    elif isinstance(source, Mapping):
        data = cfg.to_dict(dict(source), masked=False)
    else:
        file = str(source)
        if text is None:
            data, text = cfg.read_file(source)
        else:
            data, text = cfg.parse_text(text, file)
    ctx = cfg._Ctx(file, cfg.toml_key_lines(text) if text and not (file or "").endswith(".json") else None)
    cfg.apply_env_overrides(data, env, cfg.ENV_PREFIX, names=plugins.available)
    data = cfg.interpolate(data, env, "", ctx.issues)
    for issue in ctx.issues:
        issue.file = file
        issue.line = ctx.lines.get(issue.key)

    for key in data:
        if key not in _ROOT_KEYS:
            close = difflib.get_close_matches(str(key), _ROOT_KEYS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            ctx.add(key, f"unknown section {key!r}{hint} (known: {', '.join(_ROOT_KEYS)})")

    beluga = cfg.build(BelugaSettings, data.get("beluga", {}), "beluga", ctx)
    if beluga is not cfg._MISSING:
        for issue in plugins.check_listed(beluga.plugins, file=file):
            ctx.add(issue.key, issue.reason)

    providers: dict[str, ProviderConfig] = {}
    raw_providers = data.get("providers", {})
    if not isinstance(raw_providers, dict):
        ctx.add("providers", "expected a table of provider sections")
        raw_providers = {}
    for name, section in raw_providers.items():
        pc = cfg.build(ProviderConfig, section, f"providers.{name}", ctx)
        if pc is not cfg._MISSING:
            providers[name] = pc
    if registry is not None:
        _check_providers(data, beluga, providers, sorted(registry.names()), ctx)

    plugin_settings: dict[str, Any] = {}
    raw_plugins = data.get("plugins", {})
    if not isinstance(raw_plugins, dict):
        ctx.add("plugins", "expected a table of plugin sections")
        raw_plugins = {}
    schemas = plugin_schemas(plugins)
    unchecked: list[ConfigIssue] = []
    for name, section in raw_plugins.items():
        if name not in plugins.available and name not in plugins.loaded:
            close = difflib.get_close_matches(name, plugins.available, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            ctx.add(f"plugins.{name}", f"no installed plugin is named {name!r}{hint}")
            continue
        if name not in plugins.loaded:
            plugin_settings[name] = section  # deselected or broken: kept, not validated
            unchecked.append(_unchecked(name, beluga, plugins, ctx))
            continue
        schema = schemas.get(name)
        if schema is None:
            ctx.add(f"plugins.{name}", f"plugin {name!r} takes no settings")
            continue
        value: Any = cfg.build(schema, section, f"plugins.{name}", ctx)
        if value is not cfg._MISSING:
            plugin_settings[name] = value
    for name, schema in schemas.items():
        if name not in plugin_settings:
            value = cfg.build(schema, {}, f"plugins.{name}", ctx)
            if value is not cfg._MISSING:
                plugin_settings[name] = value

    if ctx.issues:
        raise ConfigError(ctx.issues, file=file)
    assert beluga is not cfg._MISSING
    return Config(beluga, plugin_settings, providers, file, tuple(unchecked))


def _unchecked(name: str, beluga: Any, plugins: PluginManager, ctx: Any) -> ConfigIssue:
    key = f"plugins.{name}"
    if beluga is cfg._MISSING:
        why = "it is not loaded"
    else:
        only = None if beluga.load_unlisted else beluga.plugins
        why = plugins.why_not_loaded(name, disabled=beluga.disabled, only=only)
    reason = f"not checked: plugin {name!r} is not loaded ({why}), so this section was not validated"
    return ConfigIssue(key, reason, file=ctx.file, line=ctx.lines.get(key))


def _check_providers(
    data: Mapping[str, Any], beluga: Any, providers: Mapping[str, ProviderConfig], names: list[str], ctx: Any
) -> None:
    """Every provider named in [beluga] or given a section must be one a plugin registered."""
    raw: dict[str, Any] = data["beluga"] if isinstance(data.get("beluga"), dict) else {}
    if beluga is not cfg._MISSING:
        wanted: list[Any] = [beluga.provider, *beluga.fallback]
    else:  # other keys of [beluga] are wrong; still check what can be checked
        fallback = raw.get("fallback", [])
        wanted = [raw.get("provider", "echo"), *(fallback if isinstance(fallback, list) else [])]
    keys = {
        name.partition(":")[0]: ("beluga.provider" if i == 0 else f"beluga.fallback[{i - 1}]")
        for i, name in reversed(list(enumerate(wanted)))
        if isinstance(name, str)
    }
    for name in providers:
        keys.setdefault(name, f"providers.{name}.type" if providers[name].type else f"providers.{name}")
    for name, key in keys.items():
        kind = providers[name].type or name if name in providers else name
        if kind not in names:
            close = difflib.get_close_matches(kind, names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            ctx.add(key, f"unknown provider {kind!r}{hint} (available: {', '.join(names)})")


def plugin_schemas(plugins: PluginManager) -> dict[str, type]:
    """Each loaded plugin's settings class, from its ``config_schema`` hook."""
    out: dict[str, type] = {}
    for name, result in plugins.call_each("config_schema", plugins.loaded).items():
        if isinstance(result, Exception):
            raise ConfigError(
                [ConfigIssue(f"plugins.{name}", f"config_schema() raised {type(result).__name__}: {result}")]
            )
        if result is not None:
            if not attrs.has(result):
                raise ConfigError([ConfigIssue(f"plugins.{name}", "config_schema() must return an attrs class")])
            out[name] = result
    return out


__all__ = ["BelugaSettings", "Config", "load_config", "plugin_schemas"]
