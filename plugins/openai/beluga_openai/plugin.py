"""The ``openai`` plugin: registers the OpenAI-compatible provider."""

from __future__ import annotations

from collections.abc import Callable

from beluga_core import LazyProvider, ProviderFactory, hookimpl
from beluga_openai.options import OpenAIOptions


class OpenAIPlugin:
    """Registers ``openai``: configure it under ``[providers.openai]`` (or any alias with ``type``)."""

    name = "openai"

    @hookimpl
    def register_providers(self, register: Callable[[str, ProviderFactory], None]) -> None:
        # Imported when a provider is created, so listing plugins stays fast.
        register("openai", LazyProvider("beluga_openai.provider:OpenAIProvider", OpenAIOptions))
