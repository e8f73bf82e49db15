"""The ``Kit``'s own configuration: ``[beluga]``, ``[plugins.<name>]`` and ``[providers.<name>]``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from beluga_core.config.fields import Duration, setting
from beluga_core.config.loader import to_dict
from beluga_core.errors import ConfigIssue


@attrs.frozen
class ProviderConfig:
    """How to reach one provider. ``api_key`` never appears in reprs, logs or errors."""

    api_key: str | None = setting(None, secret=True, help="API key; use ${ENV_VAR} interpolation")
    model: str | None = setting(None, help="default model for requests that name none")
    base_url: str | None = setting(None, help="API base URL (OpenAI-compatible servers, proxies)")
    connect_timeout: Duration = setting(Duration(5.0), min=0, help="TCP/TLS connect timeout")
    read_timeout: Duration = setting(Duration(60.0), min=0, help="time allowed between bytes read")
    max_connections: int = setting(20, min=1, help="pooled connections per provider")
    type: str | None = setting(None, help="provider kind when the section name is an alias")
    options: Mapping[str, Any] = setting(factory=dict, help="provider-specific options")




#: How a model group picks the deployment a call goes to first.
STRATEGIES = ("round-robin", "weighted", "least-busy", "latency")


@attrs.frozen
class ModelGroup:
    """A ``[models.<name>]`` section: one model name served by several deployments."""

    deployments: tuple[str, ...] = setting(
        help="'provider' or 'provider:model' targets, each a [providers.<name>] section or a provider kind"
    )
    strategy: str = setting("round-robin", choices=STRATEGIES, help="how the first deployment of a call is picked")
    weights: Mapping[str, float] = setting(factory=dict, help="weighted: each deployment's share (default 1)")
    rpm: Mapping[str, int] = setting(factory=dict, help="calls per minute a deployment takes at most, in this process")
    max_in_flight: Mapping[str, int] = setting(
        factory=dict, help="calls a deployment has open at most, in this process"
    )
    cooldown: Duration = setting(
        Duration(10.0), min=0, help="a deployment that failed with a retryable error is skipped this long"
    )
    def __attrs_post_init__(self) -> None:
        if not self.deployments:
            raise ValueError("deployments: list at least one 'provider' or 'provider:model'")
        if len(set(self.deployments)) != len(self.deployments):
            raise ValueError(f"deployments: {list(self.deployments)!r} lists one twice")
        for field in ("rpm", "max_in_flight"):
            for d, n in getattr(self, field).items():
                if not isinstance(n, int) or isinstance(n, bool) or n < 1:
                    raise ValueError(f"{field}.{d}: must be a whole number of at least 1, got {n!r}")
        for d, w in self.weights.items():
            if isinstance(w, bool) or not isinstance(w, int | float) or w < 0:
                raise ValueError(f"weights.{d}: must be a number of at least 0, got {w!r}")
        for field in ("weights", "rpm", "max_in_flight"):
            extra = sorted(set(getattr(self, field)) - set(self.deployments))
            if extra:
                raise ValueError(f"{field} names {extra!r}, not among the deployments {list(self.deployments)!r}")
        if self.strategy == "weighted" and not any(self.weights.get(d, 1.0) > 0 for d in self.deployments):
            raise ValueError("weights: every deployment has weight 0")


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
    #: ``[models.<name>]``: model names served by several deployments.
    models: Mapping[str, ModelGroup] = attrs.field(factory=dict)

    def plugin_settings(self, name: str, default: Any = None) -> Any:
        """The typed ``[plugins.<name>]`` section (or ``default`` when the plugin has none)."""
        return self.plugins.get(name, default)

    def provider_config(self, name: str) -> ProviderConfig:
        return self.providers.get(name) or ProviderConfig()

    def as_dict(self, *, masked: bool = True) -> dict[str, Any]:
        return {
            "beluga": to_dict(self.beluga, masked=masked),
            "plugins": {k: to_dict(v, masked=masked) for k, v in self.plugins.items()},
            "providers": {k: to_dict(v, masked=masked) for k, v in self.providers.items()},
            "models": {k: to_dict(v, masked=masked) for k, v in self.models.items()},
        }

    def __repr__(self) -> str:
        return f"Config(source={self.source!r}, {self.as_dict()!r})"


__all__ = ["STRATEGIES", "BelugaSettings", "Config", "ModelGroup", "ProviderConfig"]
