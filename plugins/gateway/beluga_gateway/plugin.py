"""The ``gateway`` plugin: the ``[plugins.gateway]`` settings and the ``beluga serve`` command."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

import attrs

from beluga_core import Duration, hookimpl, setting

if TYPE_CHECKING:
    from beluga_core import CommandRegistry

_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


@attrs.frozen
class KeySettings:
    """One virtual API key: who it belongs to (the project limits and budgets key on) and what it may use.

    Give either ``key_sha256`` (the hex SHA-256 of the key; the key itself never enters the file)
    or ``key`` (usually ``"${ENV_VAR}"``; hashed when the config loads).
    """

    project: str = setting(help="project the key bills to: the rate-limit and budget key")
    key_sha256: str | None = setting(None, help="hex SHA-256 of the key (printf %s KEY | sha256sum)")
    key: str | None = setting(None, secret=True, help="the key itself, usually ${ENV_VAR}; hashed at load")
    models: tuple[str, ...] = setting(
        factory=tuple, help="public model names (or shell-style patterns) this key may use; empty: all"
    )
    name: str = setting("", help="a label for logs and metrics (never the key)")

    def __attrs_post_init__(self) -> None:
        if (self.key_sha256 is None) == (self.key is None):
            raise ValueError("give exactly one of key_sha256 (hex SHA-256 of the key) or key (e.g. \"${GATEWAY_KEY}\")")
        if self.key_sha256 is not None and not _HEX64.match(self.key_sha256):
            raise ValueError("key_sha256 must be 64 hex characters (the output of sha256sum)")
        if self.key is not None and len(self.key) < 8:
            raise ValueError("key is shorter than 8 characters; use a long random key")
        if not self.project:
            raise ValueError("project must not be empty")


@attrs.frozen
class GatewaySettings:
    """The ``[plugins.gateway]`` section."""

    keys: tuple[KeySettings, ...] = setting(
        factory=tuple, help="virtual API keys; none: the gateway accepts any caller as project 'default'"
    )
    models: Mapping[str, str] = setting(
        factory=dict, help="public model name -> 'provider:model' (aliases); empty: any model goes to [beluga] provider"
    )
    default_project: str = setting("default", help="project of callers when no keys are configured")
    max_body_bytes: int = setting(8 * 1024 * 1024, min=1024, help="largest request body accepted (413 beyond)")
    # The defaults are wire.MAX_MESSAGES and wire.MAX_TOOLS (not imported: this module stays light).
    max_messages: int = setting(2048, min=1, help="most messages in one chat request (400 beyond)")
    max_tools: int = setting(128, min=1, help="most tools in one chat request (400 beyond; OpenAI allows 128)")
    timeout: Duration = setting(Duration(120.0), min=0.001, help="per-request deadline passed to the chain (504 after)")
    drain_timeout: Duration = setting(
        Duration(30.0), min=0, help="on shutdown, how long in-flight requests and streams may take to finish"
    )
    reload_interval: Duration = setting(
        Duration(1.0), min=0, help="how often the config file is checked for changes (0: no hot reload)"
    )
    header_timeout: Duration = setting(
        Duration(10.0), min=0.1, help="a request's line and headers must arrive within this (408 and closed after)"
    )
    body_timeout: Duration = setting(
        Duration(60.0), min=0.1, help="a chat request's whole body must arrive within this (408 and closed after)"
    )
    max_connections: int = setting(
        1000, min=1, help="open client connections at most; one more is answered 503 and closed (keep under ulimit -n)"
    )
    metrics_key: str | None = setting(
        None, secret=True, help="bearer key /metrics and /readyz require, usually ${ENV_VAR}; unset: they are open"
    )
    passthrough: tuple[str, ...] = setting(
        factory=lambda: (
            "top_p", "stop", "seed", "presence_penalty", "frequency_penalty", "logit_bias", "tool_choice",
            "parallel_tool_calls", "response_format", "user", "service_tier", "reasoning_effort",
            "logprobs", "top_logprobs", "modalities", "audio", "prediction", "web_search_options", "verbosity",
            "store", "metadata", "prompt_cache_key", "prompt_cache_retention", "safety_identifier",
        ),
        help='OpenAI request fields forwarded as-is to OpenAI-compatible providers ("*": every field)',
    )
    unreadable_content: str = setting(
        "pass", choices=("pass", "refuse"),
        help="content parts the guards cannot read (file, input_audio): pass (named on the span) or refuse (400)",
    )

    def __attrs_post_init__(self) -> None:
        if self.metrics_key is not None and len(self.metrics_key) < 8:
            raise ValueError("metrics_key is shorter than 8 characters; use a long random key")
        for public, target in self.models.items():
            if not target.partition(":")[0]:
                raise ValueError(f"models.{public}: expected 'provider' or 'provider:model', got {target!r}")


class GatewayPlugin:
    """Adds ``beluga serve``; its settings section configures the gateway's keys and limits."""

    name = "gateway"

    def __init__(self) -> None:
        self.settings = GatewaySettings()

    @hookimpl
    def config_schema(self) -> type:
        return GatewaySettings

    @hookimpl
    def on_settings(self, settings: GatewaySettings) -> None:
        self.settings = settings

    @hookimpl
    def register_commands(self, commands: CommandRegistry) -> None:
        from beluga_gateway.serve import configure, run

        commands.add(
            "serve",
            "run the OpenAI-compatible HTTP gateway (or --demo: start it, send one request, stop)",
            configure,
            run,
        )


__all__ = ["GatewayPlugin", "GatewaySettings", "KeySettings"]
