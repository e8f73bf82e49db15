"""The ``anthropic`` plugin: registers the Anthropic Messages API provider."""

from __future__ import annotations

from collections.abc import Callable

from beluga_anthropic.options import AnthropicOptions
from beluga_core import LazyProvider, ProviderFactory, hookimpl


class AnthropicPlugin:
    """Registers ``anthropic``: configure it under ``[providers.anthropic]``."""

    name = "anthropic"

    @hookimpl
    def register_providers(self, register: Callable[[str, ProviderFactory], None]) -> None:
        # Imported when a provider is created, so listing plugins stays fast.
        register("anthropic", LazyProvider("beluga_anthropic.provider:AnthropicProvider", AnthropicOptions))
