"""Beluga's wire formats: vendor APIs to and from ``beluga_core``'s types, one module per API.

``beluga_wire.anthropic`` is the Anthropic Messages API in both directions (requests, responses,
SSE streams). The gateway uses it to speak the API to clients, the anthropic provider to speak it
to upstreams, so a field is translated in one place. ``beluga_wire.openai_chat`` is OpenAI's Chat
Completions API (the gateway's ``/v1/chat/completions``, and Beluga's errors as OpenAI error bodies);
``beluga_wire.openai_responses`` is OpenAI's Responses API (the gateway's ``/v1/responses``);
``beluga_wire.openai_embeddings`` is OpenAI's embeddings API. The SDK drop-in (``beluga_sdk``)
speaks all four to the official SDKs.
"""

from __future__ import annotations

from beluga_wire.anthropic import WireError

__all__ = ["WireError"]
