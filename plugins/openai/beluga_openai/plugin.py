"""The ``openai`` plugin: registers the OpenAI-compatible provider."""

from __future__ import annotations

from collections.abc import Callable

from beluga_core import Provider, ProviderConfig, ProviderFactory, hookimpl


class OpenAIPlugin:
    """Registers ``openai``: configure it under ``[providers.openai]`` (or any alias with ``type``)."""

    name = "openai"

    @hookimpl
    def register_providers(self, register: Callable[[str, ProviderFactory], None]) -> None:
        register("openai", _create)


def _create(config: ProviderConfig) -> Provider:
    """Import the provider (and httpx) only when one is created, so listing plugins stays fast."""
    from beluga_openai.provider import OpenAIProvider

    return OpenAIProvider(config)
