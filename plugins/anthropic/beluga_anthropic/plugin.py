"""The ``anthropic`` plugin: registers the Anthropic Messages API provider."""

from __future__ import annotations

from collections.abc import Callable

from beluga_core import Provider, ProviderConfig, ProviderFactory, hookimpl


class AnthropicPlugin:
    """Registers ``anthropic``: configure it under ``[providers.anthropic]``."""

    name = "anthropic"

    @hookimpl
    def register_providers(self, register: Callable[[str, ProviderFactory], None]) -> None:
        register("anthropic", _create)


def _create(config: ProviderConfig) -> Provider:
    """Import the provider (and httpx) only when one is created, so listing plugins stays fast."""
    from beluga_anthropic.provider import AnthropicProvider

    return AnthropicProvider(config)
