"""Convenience constructors: the official SDK clients, already on a Beluga transport."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx2

from beluga_core import Kit
from beluga_sdk._transport import AsyncTransport, Transport

if TYPE_CHECKING:
    import anthropic
    import openai

#: Keyword arguments that configure the transport; every other one goes to the SDK's client.
TRANSPORT_OPTIONS = ("provider", "metadata", "deadline", "passthrough", "unreadable_content", "sdk_retries")
#: The API key the clients are built with when none is given: the SDKs refuse to start without one,
#: and Beluga's providers carry their own credentials, so the application's key is never used.
PLACEHOLDER_KEY = "beluga-sdk"


def _split(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    if "http_client" in kwargs:
        raise TypeError("beluga_sdk: the client's http_client is Beluga's; to use your own httpx client, pass "
                        "httpx2.Client(transport=beluga_sdk.Transport(kit)) to the SDK yourself")
    options = {k: kwargs.pop(k) for k in TRANSPORT_OPTIONS if k in kwargs}
    kwargs.setdefault("api_key", PLACEHOLDER_KEY)
    return options, kwargs


def openai_client(kit: Kit, **kwargs: Any) -> openai.OpenAI:
    """``openai.OpenAI`` whose every call runs through ``kit``'s chain. Transport options (see
    :class:`Transport`) and the client's own arguments (``max_retries``, ``timeout``...) may be mixed."""
    import openai

    options, client = _split(kwargs)
    return openai.OpenAI(http_client=httpx2.Client(transport=Transport(kit, **options)), **client)


def async_openai_client(kit: Kit, **kwargs: Any) -> openai.AsyncOpenAI:
    """``openai.AsyncOpenAI`` over ``kit``'s chain; the arguments of :func:`openai_client`."""
    import openai

    options, client = _split(kwargs)
    return openai.AsyncOpenAI(http_client=httpx2.AsyncClient(transport=AsyncTransport(kit, **options)), **client)


def anthropic_client(kit: Kit, **kwargs: Any) -> anthropic.Anthropic:
    """``anthropic.Anthropic`` over ``kit``'s chain; the arguments of :func:`openai_client`."""
    import anthropic

    options, client = _split(kwargs)
    return anthropic.Anthropic(http_client=httpx2.Client(transport=Transport(kit, **options)), **client)


def async_anthropic_client(kit: Kit, **kwargs: Any) -> anthropic.AsyncAnthropic:
    """``anthropic.AsyncAnthropic`` over ``kit``'s chain; the arguments of :func:`openai_client`."""
    import anthropic

    options, client = _split(kwargs)
    return anthropic.AsyncAnthropic(http_client=httpx2.AsyncClient(transport=AsyncTransport(kit, **options)),
                                    **client)


__all__ = ["PLACEHOLDER_KEY", "anthropic_client", "async_anthropic_client", "async_openai_client", "openai_client"]
