"""The ``mcp`` plugin: the ``[plugins.mcp]`` settings and the ``beluga mcp-proxy`` command."""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import re
from typing import TYPE_CHECKING

import attrs

from beluga_core import Duration, hookimpl, setting

if TYPE_CHECKING:
    from beluga_core import CommandRegistry

_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


@attrs.frozen
class MCPKeySettings:
    """One key a client of ``beluga mcp-proxy --http`` presents (``Authorization: Bearer KEY``), and
    the tools it may see and call. Same form as the gateway's keys: ``key_sha256`` or ``key``."""

    key_sha256: str | None = setting(None, help="hex SHA-256 of the key (printf %s KEY | sha256sum)")
    key: str | None = setting(None, secret=True, help="the key itself, usually ${ENV_VAR}; hashed at load")
    tools: tuple[str, ...] = setting(
        factory=tuple, help="tool names (or shell-style patterns) this key may use, within [plugins.mcp] tools; "
        "empty: all of those"
    )
    project: str = setting("default", help="the project tool calls are made for (the rate-limit key)")
    name: str = setting("", help="a label for logs (never the key)")

    def __attrs_post_init__(self) -> None:
        if (self.key_sha256 is None) == (self.key is None):
            raise ValueError("give exactly one of key_sha256 (hex SHA-256 of the key) or key (e.g. \"${MCP_KEY}\")")
        if self.key_sha256 is not None and not _HEX64.match(self.key_sha256):
            raise ValueError("key_sha256 must be 64 hex characters (the output of sha256sum)")
        if self.key is not None and len(self.key) < 8:
            raise ValueError("key is shorter than 8 characters; use a long random key")

    @property
    def digest(self) -> str:
        if self.key_sha256 is not None:
            return self.key_sha256.lower()
        assert self.key is not None
        return hashlib.sha256(self.key.encode()).hexdigest()

    def matches(self, presented: str) -> bool:
        return hmac.compare_digest(hashlib.sha256(presented.encode()).hexdigest(), self.digest)


@attrs.frozen
class MCPSettings:
    """The ``[plugins.mcp]`` section."""

    tools: tuple[str, ...] = setting(
        factory=tuple, help="tool names (or shell-style patterns) listed and callable through the proxy; empty: all"
    )
    keys: tuple[MCPKeySettings, ...] = setting(
        factory=tuple, help="keys --http clients must present, each with its own tool allowlist; none: no key asked"
    )
    server: str = setting("", help="the upstream's name in spans, metadata and errors; empty: the command's name")
    guard_results: bool = setting(True, help="run each tool result's text through the input guards as tool text")
    guard_resources: bool = setting(True, help="run resources/read text through the input guards as tool text")
    max_argument_bytes: int = setting(
        1024 * 1024, min=64, help="largest tool-call arguments (as JSON) passed on; larger ones get an error result"
    )
    max_result_chars: int = setting(
        4 * 1024 * 1024, min=1024, help="a tool result with more text than this is withheld (error result)"
    )
    max_tools: int = setting(1024, min=1, help="most tools one tools/list answer passes on; the rest are left out")
    timeout: Duration = setting(Duration(60.0), min=0.001, help="how long one request to the upstream may take")
    reload_interval: Duration = setting(
        Duration(1.0), min=0, help="how often beluga mcp-proxy checks its config file for changes (0: no hot reload)"
    )

    def __attrs_post_init__(self) -> None:
        names = [k.name for k in self.keys if k.name]
        if len(names) != len(set(names)):
            raise ValueError("keys: two keys share a name")

    def allows(self, tool: str, key: MCPKeySettings | None = None) -> bool:
        """Whether ``tool`` is on the allowlist (and on ``key``'s, when one is given)."""
        if self.tools and not _matches(tool, self.tools):
            return False
        return key is None or not key.tools or _matches(tool, key.tools)

    def key_for(self, presented: str | None) -> MCPKeySettings | None:
        """The configured key ``presented`` is (None when it is none of them)."""
        if not presented:
            return None
        for k in self.keys:
            if k.matches(presented):
                return k
        return None


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any(name == p or fnmatch.fnmatchcase(name, p) for p in patterns)


class MCPPlugin:
    """Adds ``beluga mcp-proxy``; its settings section holds the allowlists and bounds."""

    name = "mcp"

    def __init__(self) -> None:
        self.settings = MCPSettings()

    @hookimpl
    def config_schema(self) -> type:
        return MCPSettings

    @hookimpl
    def on_settings(self, settings: MCPSettings) -> None:
        self.settings = settings

    @hookimpl
    def register_commands(self, commands: CommandRegistry) -> None:
        from beluga_mcp.cli import configure, run

        commands.add(
            "mcp-proxy",
            "serve MCP (stdio, or --http PORT) in front of an MCP server, its tool calls through the chain",
            configure,
            run,
        )


__all__ = ["MCPKeySettings", "MCPPlugin", "MCPSettings"]
