"""OpenAI's embeddings API wire format: a ``POST /v1/embeddings`` body in, the ``list`` of
``embedding`` objects out (floats, or with ``encoding_format: "base64"``, what the official SDK asks
for, little-endian float32 in base64). Every problem is an :class:`~beluga_wire.openai_chat.APIError`
(400) naming the field and never quoting the input."""

from __future__ import annotations

import base64
import struct
from typing import Any

from beluga_core import LLMResponse
from beluga_wire.openai_chat import APIError, load_json

#: Most inputs in one request (OpenAI's own limit).
MAX_INPUTS = 2048
#: Longest single input, in characters (about OpenAI's 8,192 tokens per input).
MAX_INPUT_CHARS = 32768
#: Most ``dimensions`` a client may ask for.
MAX_DIMENSIONS = 8192
_FORMATS = ("float", "base64")


class EmbeddingsRequest:
    __slots__ = ("dimensions", "encoding", "inputs", "model", "user")

    def __init__(self, model: str, inputs: list[str], encoding: str, dimensions: int | None, user: str | None):
        self.model = model
        self.inputs = inputs
        self.encoding = encoding
        self.dimensions = dimensions
        self.user = user


def _bad(message: str, param: str | None) -> APIError:
    return APIError(400, message, param=param)


def parse_embeddings(body: bytes) -> EmbeddingsRequest:
    """An embeddings request body; every problem is a 400 naming the field (never quoting the input)."""
    try:
        data = load_json(body.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise _bad("The request body is not valid UTF-8.", None) from None
    except ValueError:
        raise _bad("The request body is not valid JSON.", None) from None
    if not isinstance(data, dict):
        raise _bad("The request body must be a JSON object.", None)
    model = data.get("model")
    if not isinstance(model, str) or not model or len(model) > 256:
        raise _bad("model: is required (a string of 1 to 256 characters)", "model")
    raw = data.get("input")
    inputs = [raw] if isinstance(raw, str) else raw
    if not isinstance(inputs, list) or not inputs:
        raise _bad("input: is required (a string or a non-empty array of strings)", "input")
    if len(inputs) > MAX_INPUTS:
        raise _bad(f"input: holds {len(inputs)} inputs; at most {MAX_INPUTS} are accepted", "input")
    for i, text in enumerate(inputs):
        if not isinstance(text, str):
            raise _bad(f"input[{i}]: must be a string; token arrays are not accepted because the gateway's guards "
                       "read text", "input")
        if not text:
            raise _bad(f"input[{i}]: must not be empty", "input")
        if len(text) > MAX_INPUT_CHARS:
            raise _bad(f"input[{i}]: is longer than {MAX_INPUT_CHARS} characters", "input")
    encoding = data.get("encoding_format") or "float"
    if encoding not in _FORMATS:
        raise _bad("encoding_format: must be float or base64", "encoding_format")
    dims = data.get("dimensions")
    if isinstance(dims, float) and dims.is_integer():  # JSON has one number type: 256.0 is 256
        dims = int(dims)
    if dims is not None and (isinstance(dims, bool) or not isinstance(dims, int) or not 1 <= dims <= MAX_DIMENSIONS):
        raise _bad(f"dimensions: must be an integer from 1 to {MAX_DIMENSIONS}", "dimensions")
    user = data.get("user")
    if user is not None and not isinstance(user, str):
        raise _bad("user: must be a string", "user")
    return EmbeddingsRequest(model, inputs, encoding, dims, user or None)


def _vector(values: tuple[float, ...], encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode("ascii")
    return list(values)


def encode(resp: LLMResponse, model: str, encoding: str) -> dict[str, Any]:
    """OpenAI's answer: ``{"object": "list", "data": [...], "model", "usage"}``."""
    data = [{"object": "embedding", "index": i, "embedding": _vector(v, encoding)}
            for i, v in enumerate(resp.embeddings)]
    tokens = resp.usage.input_tokens
    return {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


__all__ = ["MAX_DIMENSIONS", "MAX_INPUTS", "MAX_INPUT_CHARS", "EmbeddingsRequest", "encode", "parse_embeddings"]
