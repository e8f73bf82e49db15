"""Anthropic Messages API provider for Beluga: httpx, streaming, tools, images, prompt caching."""

from __future__ import annotations

from typing import TYPE_CHECKING

from beluga_anthropic.options import DEFAULT_VERSION, AnthropicOptions
from beluga_anthropic.plugin import AnthropicPlugin

if TYPE_CHECKING:
    from beluga_anthropic.provider import DEFAULT_BASE_URL, AnthropicProvider

# STOP_REASONS, encode_messages, encode_tool and usage_from stay importable from here; the Messages
# API's translation lives in beluga_wire.anthropic, shared with the gateway's /v1/messages.
_LAZY = {
    "DEFAULT_BASE_URL",
    "STOP_REASONS",
    "AnthropicProvider",
    "encode_messages",
    "encode_tool",
    "usage_from",
}


def __getattr__(name: str) -> object:
    """Provider classes load on first use: importing the plugin must not import httpx."""
    if name in _LAZY:
        from beluga_anthropic import provider

        return getattr(provider, name)
    raise AttributeError(f"module 'beluga_anthropic' has no attribute {name!r}")


__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_VERSION",
    "AnthropicOptions",
    "AnthropicPlugin",
    "AnthropicProvider",
]
