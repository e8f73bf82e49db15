"""Typed configuration: attrs classes loaded from TOML or JSON, validated all at once, reloaded live.

``load(Schema, path)`` reads a file into an attrs class: defaults, ``setting(min=, max=,
choices=)`` validators, nested sections, durations (``"30s"``, ``"5m"``), ``${ENV}`` and
``${ENV:-default}`` interpolation, and environment overrides (``BELUGA__SECTION__KEY=value``).
Every problem is collected into one ``ConfigError`` naming file, key path, line and reason.
``ConfigWatcher`` keeps such a config current as its file changes.
"""

from __future__ import annotations

from beluga_core.config.fields import Duration, setting
from beluga_core.config.kit_config import PluginCatalog, default_config_path, load_config, peek_beluga
from beluga_core.config.loader import (
    ENV_PREFIX,
    apply_env_overrides,
    build,
    check_options,
    describe,
    diff,
    from_dict,
    interpolate,
    load,
    parse_text,
    read_file,
    to_dict,
    validate,
)
from beluga_core.config.model import STRATEGIES, BelugaSettings, Config, ModelGroup, ProviderConfig
from beluga_core.config.watch import ConfigWatcher, FileWatcher

__all__ = [
    "ENV_PREFIX",
    "STRATEGIES",
    "BelugaSettings",
    "Config",
    "ConfigWatcher",
    "Duration",
    "FileWatcher",
    "ModelGroup",
    "PluginCatalog",
    "ProviderConfig",
    "apply_env_overrides",
    "build",
    "check_options",
    "default_config_path",
    "describe",
    "diff",
    "from_dict",
    "interpolate",
    "load",
    "load_config",
    "parse_text",
    "peek_beluga",
    "read_file",
    "setting",
    "to_dict",
    "validate",
]
