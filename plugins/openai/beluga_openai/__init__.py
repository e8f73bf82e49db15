"""OpenAI-compatible Chat Completions provider for Beluga: httpx, streaming, tools, images."""

from __future__ import annotations

from typing import TYPE_CHECKING

from beluga_openai.options import OpenAIOptions
from beluga_openai.plugin import OpenAIPlugin

if TYPE_CHECKING:
    from beluga_openai.provider import DEFAULT_BASE_URL, OpenAIProvider
    from beluga_wire.openai_chat import encode_message, encode_tool

# The wire translation lives in beluga_wire.openai_chat (shared with the gateway); its encoders are
# named here too, as they always were.
_LAZY = {"DEFAULT_BASE_URL", "OpenAIProvider", "encode_message", "encode_tool"}


def __getattr__(name: str) -> object:
    """Provider classes load on first use: importing the plugin must not import httpx."""
    if name in _LAZY:
        from beluga_openai import provider

        return getattr(provider, name)
    raise AttributeError(f"module 'beluga_openai' has no attribute {name!r}")


__all__ = ["DEFAULT_BASE_URL", "OpenAIOptions", "OpenAIPlugin", "OpenAIProvider", "encode_message", "encode_tool"]
