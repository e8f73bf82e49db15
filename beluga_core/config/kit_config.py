"""Loading a whole ``Kit`` configuration: every section checked against what is installed.

The plugin side is read through ``PluginCatalog`` (the registry implements it), so this module
imports nothing above the configuration layer.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from beluga_core.config import loader as cfg
from beluga_core.config.model import BelugaSettings, Config, ModelGroup, ProviderConfig
from beluga_core.errors import ConfigError, ConfigIssue


class PluginCatalog(Protocol):
    """What loading a config needs to know about plugins."""

    @property
    def available(self) -> list[str]: ...

    @property
    def loaded(self) -> list[str]: ...

    def schemas(self) -> dict[str, type]: ...

    def check_listed(self, listed: Sequence[str], *, file: str | None = None) -> list[ConfigIssue]: ...

    def why_not_loaded(
        self, name: str, *, disabled: Sequence[str] = (), only: Sequence[str] | None = None
    ) -> str: ...


_ROOT_KEYS = ("beluga", "plugins", "providers", "models")


def load_config(
    source: str | Path | Mapping[str, Any] | None,
    plugins: PluginCatalog,
    *,
    env: Mapping[str, str] | None = None,
    providers: Mapping[str, type | None] | None = None,
    text: str | None = None,
) -> Config:
    """Parse and validate a whole Kit config; raises ``ConfigError`` listing every issue.

    ``source`` is a path (TOML or JSON), an already-parsed mapping, or None for the defaults.
    Each loaded plugin's section is checked against the schema from its ``config_schema`` hook.
    ``providers`` (the registered provider kinds, each with the attrs class of its ``options`` or
    None), when given, checks every provider named and every provider section's ``options``.
    """
    env = os.environ if env is None else env
    data, file, ctx = _read(source, text, env, plugins.available)
    _check_root(data, ctx)
    beluga = cfg.build(BelugaSettings, data.get("beluga", {}), "beluga", ctx)
    if beluga is not cfg._MISSING:
        for issue in plugins.check_listed(beluga.plugins, file=file):
            ctx.add(issue.key, issue.reason)
    provider_configs = _provider_sections(data, ctx, providers or {})
    if providers is not None:
        _check_providers(data, beluga, provider_configs, sorted(providers), ctx)
    plugin_settings, unchecked = _plugin_sections(data, beluga, plugins, ctx)
    models = _model_sections(data, provider_configs, sorted(providers) if providers is not None else None, ctx)
    if ctx.issues:
        raise ConfigError(ctx.issues, file=file)
    assert beluga is not cfg._MISSING
    return Config(beluga, plugin_settings, provider_configs, file, tuple(unchecked), models)


def _read(
    source: str | Path | Mapping[str, Any] | None, text: str | None, env: Mapping[str, str], names: Sequence[str]
) -> tuple[dict[str, Any], str | None, cfg._Ctx]:
    """The source as data, with environment overrides and ``${VAR}`` interpolation applied."""
    file: str | None = None
    if source is None:
        data: dict[str, Any] = {}
    elif isinstance(source, Mapping):
        data = cfg.to_dict(dict(source), masked=False)
    else:
        file = str(source)
        data, text = cfg.read_file(source) if text is None else cfg.parse_text(text, file)
    ctx = cfg._Ctx(file, cfg.toml_key_lines(text) if text and not (file or "").endswith(".json") else None)
    cfg.apply_env_overrides(data, env, cfg.ENV_PREFIX, names=names)
    data = cfg.interpolate(data, env, "", ctx.issues)
    for issue in ctx.issues:
        issue.file = file
        issue.line = ctx.lines.get(issue.key)
    return data, file, ctx


def _check_root(data: Mapping[str, Any], ctx: cfg._Ctx) -> None:
    for key in data:
        if key not in _ROOT_KEYS:
            close = difflib.get_close_matches(str(key), _ROOT_KEYS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            ctx.add(key, f"unknown section {key!r}{hint} (known: {', '.join(_ROOT_KEYS)})")


def _table(data: Mapping[str, Any], key: str, what: str, ctx: cfg._Ctx) -> dict[str, Any]:
    raw = data.get(key, {})
    if not isinstance(raw, dict):
        ctx.add(key, f"expected a table of {what} sections")
        return {}
    return raw


def _provider_sections(
    data: Mapping[str, Any], ctx: cfg._Ctx, options: Mapping[str, type | None]
) -> dict[str, ProviderConfig]:
    """Each ``[providers.<name>]``, its ``options`` checked against its kind's options class."""
    out: dict[str, ProviderConfig] = {}
    for name, section in _table(data, "providers", "provider", ctx).items():
        pc = cfg.build(ProviderConfig, section, f"providers.{name}", ctx)
        if pc is cfg._MISSING:
            continue
        schema = options.get(pc.type or name)
        if schema is None or cfg.build(schema, dict(pc.options), f"providers.{name}.options", ctx) is not cfg._MISSING:
            out[name] = pc
    return out


def _model_sections(
    data: Mapping[str, Any], providers: Mapping[str, ProviderConfig], kinds: list[str] | None, ctx: cfg._Ctx
) -> dict[str, ModelGroup]:
    """Each ``[models.<name>]``; every deployment must name a provider section or a provider kind."""
    out: dict[str, ModelGroup] = {}
    known = sorted({*providers, *(kinds or ())})
    for name, section in _table(data, "models", "model", ctx).items():
        group = cfg.build(ModelGroup, section, f"models.{name}", ctx)
        if group is cfg._MISSING:
            continue
        for i, target in enumerate(group.deployments):
            provider = target.partition(":")[0]
            if provider not in providers and kinds is not None and provider not in kinds:
                close = difflib.get_close_matches(provider, known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                ctx.add(f"models.{name}.deployments[{i}]",
                        f"unknown provider {provider!r}{hint} (configured or available: {', '.join(known)})")
        out[name] = group
    return out


def _plugin_sections(
    data: Mapping[str, Any], beluga: Any, plugins: PluginCatalog, ctx: cfg._Ctx
) -> tuple[dict[str, Any], list[ConfigIssue]]:
    """Each loaded plugin's typed section (its schema's defaults when the file has none); the
    sections of installed plugins that are not loaded are kept as written and noted as unchecked."""
    settings: dict[str, Any] = {}
    unchecked: list[ConfigIssue] = []
    schemas = plugins.schemas()
    for name, section in _table(data, "plugins", "plugin", ctx).items():
        if name not in plugins.available and name not in plugins.loaded:
            close = difflib.get_close_matches(name, plugins.available, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            ctx.add(f"plugins.{name}", f"no installed plugin is named {name!r}{hint}")
        elif name not in plugins.loaded:
            settings[name] = section  # deselected or broken: kept, not validated
            unchecked.append(_unchecked(name, beluga, plugins, ctx))
        elif name not in schemas:
            ctx.add(f"plugins.{name}", f"plugin {name!r} takes no settings")
        else:
            value: Any = cfg.build(schemas[name], section, f"plugins.{name}", ctx)
            if value is not cfg._MISSING:
                settings[name] = value
    for name, schema in schemas.items():
        if name not in settings:
            value = cfg.build(schema, {}, f"plugins.{name}", ctx)
            if value is not cfg._MISSING:
                settings[name] = value
    return settings, unchecked


def _unchecked(name: str, beluga: Any, plugins: PluginCatalog, ctx: Any) -> ConfigIssue:
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


def default_config_path(path: str | None = None) -> str | None:
    """The config file a command uses: ``path``, else $BELUGA_CONFIG, else ./beluga.toml if present."""
    if path:
        return path
    env = os.environ.get("BELUGA_CONFIG")
    if env:
        return env
    return "beluga.toml" if os.path.exists("beluga.toml") else None



def peek_beluga(source: str | Path | Mapping[str, Any] | None) -> BelugaSettings:
    """Just the plugin selection of ``[beluga]`` (``plugins``, ``disabled``, ``load_unlisted``), read
    before any plugin is imported; anything unreadable gives the defaults (the full parse reports it)."""
    if source is None:
        return BelugaSettings()
    try:
        data = dict(source) if isinstance(source, Mapping) else cfg.read_file(source)[0]
        section = data.get("beluga", {})
        return BelugaSettings(
            plugins=tuple(section.get("plugins", ())),
            disabled=tuple(section.get("disabled", ())),
            load_unlisted=bool(section.get("load_unlisted", True)),
        )
    except (ConfigError, TypeError, ValueError, AttributeError):
        return BelugaSettings()


__all__ = ["PluginCatalog", "default_config_path", "load_config", "peek_beluga"]
