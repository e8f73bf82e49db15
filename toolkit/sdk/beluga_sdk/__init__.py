"""Beluga under the official OpenAI and Anthropic SDKs.

:class:`Transport` and :class:`AsyncTransport` are httpx transports that answer the SDKs' requests
by running them through a :class:`beluga_core.Kit`'s chain (guards, limits, retry, breaker,
tracing; streams included), so an application keeps its code and changes only how it builds the
client::

    client = openai.OpenAI(http_client=httpx2.Client(transport=beluga_sdk.Transport(kit)), api_key="-")
    client = beluga_sdk.openai_client(kit)           # the same, built for you

Errors reach the application as the SDK's own exceptions (``BadRequestError`` for a guard's block,
``RateLimitError``, ``InternalServerError``...), with the API's error bodies.
"""

from __future__ import annotations

from beluga_sdk._clients import (
    PLACEHOLDER_KEY,
    TRANSPORT_OPTIONS,
    anthropic_client,
    async_anthropic_client,
    async_openai_client,
    openai_client,
)
from beluga_sdk._transport import AsyncTransport, Transport

__all__ = [
    "PLACEHOLDER_KEY",
    "TRANSPORT_OPTIONS",
    "AsyncTransport",
    "Transport",
    "anthropic_client",
    "async_anthropic_client",
    "async_openai_client",
    "openai_client",
]
