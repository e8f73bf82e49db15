"""The shipped providers pass the contract beluga_http.testing offers every provider author."""

from __future__ import annotations

import pytest
from provider_fakes import anthropic_default, openai_default

from beluga_anthropic import AnthropicProvider
from beluga_core import Provider, ProviderConfig, ProviderError
from beluga_http.testing import CONTRACT_KEY, check_provider
from beluga_openai import OpenAIProvider

EXPECTED = [
    "answers",
    "rate limit with Retry-After",
    "unavailable, not resent",
    "auth, key not echoed",
    "malformed reply",
    "unreachable host",
    "deadline",
    "streams",
]


@pytest.mark.parametrize("fast_backend", [True, False], ids=["lean pool", "httpx"])
def test_the_openai_provider_keeps_the_provider_contract(fast_backend: bool) -> None:
    def make(url: str) -> Provider:
        options = {"fast_backend": fast_backend}
        return OpenAIProvider(ProviderConfig(api_key=CONTRACT_KEY, base_url=url, model="m", options=options))

    assert check_provider(make, openai_default, openai_default) == EXPECTED


def test_the_anthropic_provider_keeps_the_provider_contract() -> None:
    def make(url: str) -> Provider:
        return AnthropicProvider(ProviderConfig(api_key=CONTRACT_KEY, base_url=url, model="claude-x"))

    assert check_provider(make, anthropic_default, anthropic_default) == EXPECTED


def test_the_contract_fails_a_provider_that_resends_and_names_the_check() -> None:
    class Resending(OpenAIProvider):
        async def complete(self, request):  # type: ignore[no-untyped-def]
            try:
                return await super().complete(request)
            except ProviderError:
                return await super().complete(request)  # sends the request a second time

    def make(url: str) -> Provider:
        return Resending(ProviderConfig(api_key=CONTRACT_KEY, base_url=url, model="m"))

    # The second send answers, so the first failure the caller should have seen is lost.
    with pytest.raises(AssertionError, match="provider contract, rate limit with Retry-After: expected ProviderError"):
        check_provider(make, openai_default)


def test_pool_timeout_is_read_as_a_duration_as_the_options_schema_says() -> None:
    for written, seconds in (("5s", 5.0), ("250ms", 0.25), (2, 2.0)):
        provider = OpenAIProvider(ProviderConfig(api_key=CONTRACT_KEY, model="m", options={"pool_timeout": written}))
        assert provider._pool.timeout.pool == seconds
