"""The ``options`` of a ``[providers.<name>]`` section of kind ``openai`` (no HTTP stack imported)."""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from beluga_core import setting
from beluga_http import PoolOptions


@attrs.frozen
class OpenAIOptions(PoolOptions):
    """``[providers.<name>] options`` of an OpenAI-compatible provider."""

    headers: Mapping[str, str] = setting(factory=dict, help="extra request headers, e.g. OpenAI-Organization")
    max_tokens_field: str = setting(
        "max_tokens", choices=("max_tokens", "max_completion_tokens"), help="the body field max_tokens= fills"
    )
    stream_usage: bool = setting(True, help="ask for usage in the last streamed chunk (stream_options)")


__all__ = ["OpenAIOptions"]
