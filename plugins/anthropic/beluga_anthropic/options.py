"""The ``options`` of a ``[providers.<name>]`` section of kind ``anthropic`` (no HTTP stack imported)."""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from beluga_core import setting
from beluga_http import PoolOptions

DEFAULT_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 1024


@attrs.frozen
class AnthropicOptions(PoolOptions):
    """``[providers.<name>] options`` of the Anthropic provider."""

    version: str = setting(DEFAULT_VERSION, help="the anthropic-version header")
    beta: str | None = setting(None, help="the anthropic-beta header")
    max_tokens: int = setting(DEFAULT_MAX_TOKENS, min=1, help="max_tokens when a request sets none (the API needs one)")
    headers: Mapping[str, str] = setting(factory=dict, help="extra request headers")


__all__ = ["AnthropicOptions"]
