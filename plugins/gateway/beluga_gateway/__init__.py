"""Beluga's OpenAI-compatible HTTP gateway: ``beluga serve`` puts the configured chain (guards,
limits, breaker, retry, fallback, tracing) in front of any provider, for any OpenAI client.

>>> from beluga_gateway import Gateway
>>> app = Gateway.from_config("beluga.toml")      # an ASGI app: uvicorn, hypercorn, ...
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from beluga_gateway.plugin import GatewayPlugin, GatewaySettings, KeySettings

if TYPE_CHECKING:
    from beluga_gateway.app import CHAT_ROUTE, Gateway, create_app
    from beluga_gateway.keys import Caller, GatewayState, hash_key
    from beluga_gateway.serve import ServerThread, demo
    from beluga_wire.openai_chat import APIError, from_beluga

# The server stack (starlette, uvicorn, prometheus) loads on first use, not when plugins are listed.
_LAZY = {
    "CHAT_ROUTE": "app", "Gateway": "app", "create_app": "app",
    "Caller": "keys", "GatewayState": "keys", "hash_key": "keys",
    "ServerThread": "serve", "demo": "serve",
    "APIError": "beluga_wire.openai_chat", "from_beluga": "beluga_wire.openai_chat",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'beluga_gateway' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module if "." in module else f"beluga_gateway.{module}"), name)


__all__ = [
    "CHAT_ROUTE",
    "APIError",
    "Caller",
    "Gateway",
    "GatewayPlugin",
    "GatewaySettings",
    "GatewayState",
    "KeySettings",
    "ServerThread",
    "create_app",
    "demo",
    "from_beluga",
    "hash_key",
]
