"""The OpenAPI 3.1 description the gateway serves at ``GET /openapi.json``: what it accepts (the
checks of ``wire.parse_chat``, written as JSON Schema) and what it answers, errors included."""

from __future__ import annotations

import functools
from typing import Any

from beluga_wire.openai_chat import MAX_DEPTH, MAX_INT_DIGITS, MAX_MESSAGES, MAX_NAME_CHARS, MAX_TOOLS, dumps

INT64 = {"minimum": -(2**63), "maximum": 2**63 - 1}


def _null(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` or null (the gateway reads a null field as unset)."""
    return {"anyOf": [schema, {"type": "null"}]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_TEXT_PART = {
    "type": "object",
    "required": ["type", "text"],
    "properties": {"type": {"const": "text"}, "text": {"type": "string"}},
}
_REFUSAL_PART = {
    "type": "object",
    "required": ["type", "refusal"],
    "properties": {"type": {"const": "refusal"}, "refusal": {"type": "string"}},
}
_IMAGE_PART = {
    "type": "object",
    "required": ["type", "image_url"],
    "properties": {
        "type": {"const": "image_url"},
        "image_url": {
            "anyOf": [
                {
                    "type": "object",
                    "required": ["url"],
                    "properties": {
                        "url": {"type": "string", "minLength": 1},
                        "detail": {"enum": ["auto", "low", "high"]},
                    },
                },
                {"type": "string", "minLength": 1, "description": "The URL alone (detail: auto)."},
            ]
        },
    },
}


_OPAQUE_NOTE = ("Passed on unread by the guards to OpenAI-compatible providers ([plugins.gateway] unreadable_content "
                "decides); refused for other providers.")
_AUDIO_PART = {
    "type": "object",
    "required": ["type", "input_audio"],
    "description": _OPAQUE_NOTE,
    "properties": {"type": {"const": "input_audio"}, "input_audio": {"type": "object"}},
}
_FILE_PART = {
    "type": "object",
    "required": ["type", "file"],
    "description": _OPAQUE_NOTE,
    "properties": {"type": {"const": "file"}, "file": {"type": "object"}},
}
_OPENAI_ONLY = "Sent on to OpenAI-compatible providers as it is; refused for other providers."


def _content(*parts: dict[str, Any], required: bool = True) -> dict[str, Any]:
    array: dict[str, Any] = {"type": "array", "items": parts[0] if len(parts) == 1 else {"oneOf": list(parts)}}
    if required:
        array["minItems"] = 1
        return {"anyOf": [{"type": "string"}, array]}
    return {"anyOf": [{"type": "string"}, array, {"type": "null"}]}


#: A name that is data for the upstream (a participant's, a tool's, a tool call's): any characters, capped.
_NAME_TEXT = {"type": "string", "maxLength": MAX_NAME_CHARS}
#: The model's name: it becomes metric labels and log fields, so no control characters, line or
#: paragraph separators.
_NAMED = {**_NAME_TEXT, "minLength": 1, "pattern": "^[^\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029]*$"}
#: OpenAI's description allows an empty name wherever a name is not a model's.
_NAME_ANY = _NAME_TEXT
#: A function's name in ``tools``: OpenAI's own servers take ``^[a-zA-Z0-9_-]{1,64}$``; other
#: compatible servers differ, so the gateway passes any name on and the upstream decides.
_FUNCTION_NAME = _NAME_TEXT

_NAME = _null(_NAME_TEXT)

MESSAGES = {
    "SystemMessage": {
        "type": "object",
        "required": ["role", "content"],
        "properties": {"role": {"enum": ["system", "developer"]}, "content": _content(_TEXT_PART), "name": _NAME},
    },
    "UserMessage": {
        "type": "object",
        "required": ["role", "content"],
        "properties": {"role": {"const": "user"}, "content": _content(_TEXT_PART, _IMAGE_PART, _AUDIO_PART, _FILE_PART),
                       "name": _NAME},
    },
    "AssistantMessage": {
        "type": "object",
        "required": ["role"],
        "properties": {
            "role": {"const": "assistant"},
            "content": _content(_TEXT_PART, _REFUSAL_PART, required=False),
            "refusal": _null({"type": "string"}),
            "name": _NAME,
            "tool_calls": _null({"type": "array", "items": _ref("ToolCall")}),
            "function_call": _null({
                "type": "object", "required": ["name"], "description": _OPENAI_ONLY,
                "properties": {"name": _NAME_ANY, "arguments": {"type": "string"}},
            }),
            "audio": _null({"type": "object", "description": _OPENAI_ONLY}),
        },
    },
    "ToolMessage": {
        "type": "object",
        "required": ["role", "content", "tool_call_id"],
        "properties": {
            "role": {"const": "tool"},
            "content": _content(_TEXT_PART),
            "tool_call_id": {"type": "string"},
            "name": _NAME,
        },
    },
    "FunctionMessage": {
        "type": "object",
        "required": ["role", "content", "name"],
        "description": "The deprecated function result. " + _OPENAI_ONLY,
        "properties": {
            "role": {"const": "function"},
            "content": {"type": ["string", "null"]},
            "name": _NAME_TEXT,
        },
    },
}

REQUEST_SCHEMAS: dict[str, Any] = {
    **MESSAGES,
    "Message": {"oneOf": [_ref(name) for name in MESSAGES]},
    "ToolCall": {"anyOf": [_ref("FunctionToolCall"), _ref("CustomToolCall")]},
    "CustomToolCall": {
        "type": "object",
        "required": ["type", "custom"],
        "description": _OPENAI_ONLY,
        "properties": {
            "id": _null({"type": "string"}),
            "type": {"const": "custom"},
            "custom": {"type": "object", "required": ["name"],
                       "properties": {"name": _NAME_ANY, "input": {"type": "string"}}},
        },
    },
    "FunctionToolCall": {
        "type": "object",
        "required": ["function"],
        "properties": {
            "id": _null({"type": "string"}),
            "type": {"const": "function"},
            "function": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": _NAME_ANY,
                    "arguments": {
                        "description": "A JSON object as text (as OpenAI sends it) or as an object.",
                        "anyOf": [{"type": "string"}, {"type": "object"}, {"type": "null"}],
                    },
                },
            },
        },
    },
    "Function": {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": _FUNCTION_NAME,
            "description": _null({"type": "string"}),
            "parameters": _null({"type": "object", "description": "A JSON schema of the arguments."}),
            "strict": _null({"type": "boolean"}),
        },
    },
    "Tool": {
        "anyOf": [
            {"type": "object", "required": ["function"],
             "properties": {"type": {"const": "function"}, "function": _ref("Function")}},
            {
                "type": "object",
                "required": ["type", "custom"],
                "description": _OPENAI_ONLY,
                "properties": {
                    "type": {"const": "custom"},
                    "custom": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {"name": _NAME_ANY, "description": _null({"type": "string"}),
                                       "format": _null({"type": "object"})},
                    },
                },
            },
        ]
    },
    "ToolChoice": {
        "anyOf": [
            {"enum": ["none", "auto", "required"]},
            {
                "type": "object",
                "required": ["type", "function"],
                "properties": {
                    "type": {"const": "function"},
                    "function": {"type": "object", "required": ["name"], "properties": {"name": _NAME_ANY}},
                },
            },
            {
                "type": "object",
                "required": ["type", "custom"],
                "properties": {
                    "type": {"const": "custom"},
                    "custom": {"type": "object", "required": ["name"], "properties": {"name": _NAME_ANY}},
                },
            },
            {
                "type": "object",
                "required": ["type", "allowed_tools"],
                "properties": {
                    "type": {"const": "allowed_tools"},
                    "allowed_tools": {
                        "type": "object",
                        "required": ["mode", "tools"],
                        "properties": {
                            "mode": {"enum": ["auto", "required"]},
                            "tools": {"type": "array", "items": {"type": "object"}},
                        },
                    },
                },
            },
            {"type": "null"},
        ]
    },
    "ResponseFormat": {
        "anyOf": [
            {"type": "object", "required": ["type"], "properties": {"type": {"enum": ["text", "json_object"]}}},
            {
                "type": "object",
                "required": ["type", "json_schema"],
                "properties": {
                    "type": {"const": "json_schema"},
                    "json_schema": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string"},
                            "description": _null({"type": "string"}),
                            "schema": _null({"type": "object"}),
                            "strict": _null({"type": "boolean"}),
                        },
                    },
                },
            },
            {"type": "null"},
        ]
    },
    "ChatCompletionRequest": {
        "type": "object",
        "description": (
            "OpenAI's Chat Completions request. Fields not listed here are accepted and held only to the "
            f"body-wide rules: strings are valid Unicode (no lone surrogates), numbers are finite and "
            f"integers have at most {MAX_INT_DIGITS} digits, arrays and objects nest at most {MAX_DEPTH} levels deep. "
            "What only OpenAI-compatible providers take (n above 1, custom tools, input_audio and file parts, the "
            "deprecated function role, functions and function_call) is refused with a 400 for other providers."
        ),
        "required": ["model", "messages"],
        "properties": {
            "model": _NAMED,
            "messages": {"type": "array", "minItems": 1, "maxItems": MAX_MESSAGES, "items": _ref("Message"),
                         "description": "At most [plugins.gateway] max_messages (2048 by default)."},
            "stream": _null({"type": "boolean"}),
            "stream_options": _null({
                "type": "object",
                "properties": {"include_usage": _null({"type": "boolean"}),
                               "include_obfuscation": _null({"type": "boolean"})},
            }),
            "n": _null({"type": "integer", "minimum": 1, "maximum": 128,
                        "description": "Above 1: " + _OPENAI_ONLY}),
            "max_tokens": _null({"type": "integer", "minimum": 1, "maximum": 2**63 - 1}),
            "max_completion_tokens": _null({"type": "integer", "minimum": 1, "maximum": 2**63 - 1}),
            "temperature": _null({"type": "number", "minimum": 0, "maximum": 2}),
            "top_p": _null({"type": "number", "minimum": 0, "maximum": 1}),
            "frequency_penalty": _null({"type": "number", "minimum": -2, "maximum": 2}),
            "presence_penalty": _null({"type": "number", "minimum": -2, "maximum": 2}),
            "top_logprobs": _null({"type": "integer", "minimum": 0, "maximum": 20}),
            "seed": _null({"type": "integer", **INT64}),
            "logprobs": _null({"type": "boolean"}),
            "store": _null({"type": "boolean"}),
            "parallel_tool_calls": _null({"type": "boolean"}),
            "user": _null({"type": "string"}),
            "prompt_cache_key": _null({"type": "string"}),
            "prompt_cache_retention": _null({"type": "string"}),
            "service_tier": _null({"type": "string"}),
            "reasoning_effort": _null({"type": "string"}),
            "verbosity": _null({"type": "string"}),
            "safety_identifier": _null({"type": "string", "maxLength": 64}),
            "modalities": _null({"type": "array", "items": {"type": "string"}}),
            "stop": _null({"anyOf": [
                {"type": "string"},
                {"type": "array", "minItems": 1, "maxItems": 4, "items": {"type": "string"}},
            ]}),
            "logit_bias": _null({
                "type": "object",
                "additionalProperties": {"type": "integer"},
            }),
            "metadata": _null({
                "type": "object",
                "maxProperties": 16,
                "propertyNames": {"maxLength": 64},
                "additionalProperties": {"type": "string", "maxLength": 512},
            }),
            "tools": _null({"type": "array", "maxItems": MAX_TOOLS, "items": _ref("Tool"),
                            "description": "At most [plugins.gateway] max_tools (128 by default)."}),
            "tool_choice": _ref("ToolChoice"),
            "response_format": _ref("ResponseFormat"),
            "functions": _null({"type": "array", "minItems": 1, "maxItems": MAX_TOOLS, "items": _ref("Function"),
                                "description": "Deprecated. " + _OPENAI_ONLY}),
            "function_call": _null({
                "description": "Deprecated. " + _OPENAI_ONLY,
                "anyOf": [{"enum": ["none", "auto"]},
                          {"type": "object", "required": ["name"], "properties": {"name": _NAME_ANY}}],
            }),
        },
        "additionalProperties": True,
    },
}

RESPONSE_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "additionalProperties": False,
        "properties": {
            "error": {
                "type": "object",
                "required": ["message", "type", "param", "code"],
                "additionalProperties": False,
                "properties": {
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                    "param": {
                        "type": ["string", "null"],
                        "description": "The request field at fault, as a path (messages[0].content); "
                                       "null when the fault is the body as a whole.",
                    },
                    "code": {"type": ["string", "null"]},
                },
            }
        },
    },
    "Usage": {
        "type": "object",
        "required": ["prompt_tokens", "completion_tokens", "total_tokens"],
        "properties": {
            "prompt_tokens": {"type": "integer", "minimum": 0},
            "completion_tokens": {"type": "integer", "minimum": 0},
            "total_tokens": {"type": "integer", "minimum": 0},
            "prompt_tokens_details": {"type": "object", "properties": {"cached_tokens": {"type": "integer"}}},
        },
    },
    "ChatCompletion": {
        "type": "object",
        "required": ["id", "object", "created", "model", "choices"],
        "properties": {
            "id": {"type": "string"},
            "object": {"const": "chat.completion"},
            "created": {"type": "integer"},
            "model": {"type": "string"},
            "system_fingerprint": {"type": ["string", "null"]},
            "usage": _ref("Usage"),
            "choices": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["index", "message", "finish_reason"],
                    "properties": {
                        "index": {"type": "integer"},
                        "finish_reason": {"type": "string"},
                        "logprobs": {"type": "null"},
                        "message": {
                            "type": "object",
                            "required": ["role", "content"],
                            "properties": {
                                "role": {"const": "assistant"},
                                "content": {"type": ["string", "null"]},
                                "refusal": {"type": ["string", "null"]},
                                "tool_calls": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["id", "type", "function"],
                                        "properties": {
                                            "id": {"type": "string"},
                                            "type": {"const": "function"},
                                            "function": {
                                                "type": "object",
                                                "required": ["name", "arguments"],
                                                "properties": {"name": {"type": "string"},
                                                               "arguments": {"type": "string"}},
                                            },
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
    "ModelList": {
        "type": "object",
        "required": ["object", "data"],
        "properties": {
            "object": {"const": "list"},
            "data": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "object", "created", "owned_by"],
                    "properties": {
                        "id": {"type": "string"},
                        "object": {"const": "model"},
                        "created": {"type": "integer"},
                        "owned_by": {"type": "string"},
                    },
                },
            },
        },
    },
    "Readiness": {
        "type": "object",
        "required": ["status", "in_flight", "checks"],
        "properties": {
            "status": {"enum": ["ready", "unavailable"]},
            "in_flight": {"type": "integer", "minimum": 0},
            "checks": {"type": "object"},
        },
    },
}

_ERROR = _ref("Error")
_CHAT_ERRORS = {
    "400": "The body is malformed (not JSON, not UTF-8, a field of the wrong type or out of range, nested too "
           "deep, a non-finite number) or a guard blocked it; `param` names the field.",
    "401": "No API key, or an unknown one.",
    "404": "The model does not exist or the key may not use it.",
    "413": "The body is larger than `max_body_bytes`.",
    "429": "A rate limit (the gateway's or the upstream's); see Retry-After.",
    "500": "The gateway is misconfigured for this request.",
    "502": "The upstream provider failed or answered something unusable.",
    "503": "The gateway is shutting down, or a circuit breaker is open; see Retry-After.",
    "504": "The request did not finish within its deadline.",
}


def _get(summary: str, responses: dict[str, Any], *, auth: bool = False, op_id: str | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if op_id:
        op["operationId"] = op_id
    if not auth:
        op["security"] = []
    return {"get": op}


@functools.cache
def document() -> dict[str, Any]:
    """The description, as a JSON-ready dict (built once)."""
    chat_responses: dict[str, Any] = {
        "200": {
            "description": "The answer: a chat.completion object, or with `stream: true` server-sent events of "
                           "chat.completion.chunk objects ending with `data: [DONE]`.",
            "content": {
                "application/json": {"schema": _ref("ChatCompletion")},
                "text/event-stream": {"schema": {
                    "type": "object",
                    "description": "One server-sent event: a chat.completion.chunk object (or an error object) "
                                   "as JSON text, then `[DONE]`.",
                    "required": ["data"],
                    "properties": {"data": {"type": "string", "minLength": 1}},
                }},
            },
        },
        **{status: _json(_ERROR, text) for status, text in _CHAT_ERRORS.items()},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Beluga gateway",
            "version": "1",
            "description": "An OpenAI-compatible gateway in front of a Beluga middleware chain.",
        },
        "security": [{"bearer": []}],
        "paths": {
            "/v1/chat/completions": {
                "post": {
                    "operationId": "createChatCompletion",
                    "summary": "Create a chat completion (also served at /chat/completions)",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("ChatCompletionRequest")}},
                    },
                    "responses": chat_responses,
                }
            },
            "/v1/models": _get(
                "The models the caller's key may use",
                {"200": _json(_ref("ModelList"), "The models."), "401": _json(_ERROR, _CHAT_ERRORS["401"])},
                auth=True,
                op_id="listModels",
            ),
            "/healthz": _get("Liveness", {"200": _json(
                {"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}}, "Alive."
            )}),
            "/readyz": _get("Readiness: not draining, rate-limit storage reachable, some provider's breaker closed", {
                "200": _json(_ref("Readiness"), "Ready."),
                "503": _json(_ref("Readiness"), "Not ready; `checks` says why."),
            }),
            "/metrics": _get("Prometheus metrics", {"200": {
                "description": "The exposition text.",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }}),
            "/openapi.json": _get("This description", {"200": _json({"type": "object"}, "OpenAPI 3.1.")}),
        },
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A gateway key, as `Authorization: Bearer KEY` (or as `x-api-key: KEY`). "
                                   "A gateway configured without keys accepts every caller.",
                },
            },
            "schemas": {**REQUEST_SCHEMAS, **RESPONSE_SCHEMAS},
        },
    }


@functools.cache
def document_bytes() -> bytes:
    return dumps(document())


__all__ = ["document", "document_bytes"]
